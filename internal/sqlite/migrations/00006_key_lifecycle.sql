-- What living with a key needs (rotation, allowlists, rate limits, where it
-- was last used from), on the key's own row so that the verification path
-- still reads one row:
--   * previous_secret_hash and previous_secret_expires_at: the secret a
--     rotation replaced, which keeps working until the grace period ends.
--     Both NULL, or both set: at most two live secrets per key.
--   * allowed_ips: a JSON array of CIDRs in canonical form; empty means
--     anywhere.
--   * rate_limit and rate_limit_window_seconds: at most rate_limit requests
--     per window; both 0 means no limit.
--   * last_used_from: the client address of the last recorded use; '' when
--     never used.
-- The conventions of 00002 hold: an empty value, not NULL, for an absent
-- field, except where NULL pairs with another column.

-- +goose Up
ALTER TABLE api_keys ADD COLUMN previous_secret_hash BLOB
    CHECK (previous_secret_hash IS NULL OR length(previous_secret_hash) = 32);
ALTER TABLE api_keys ADD COLUMN previous_secret_expires_at INTEGER;
ALTER TABLE api_keys ADD COLUMN allowed_ips TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(allowed_ips));
ALTER TABLE api_keys ADD COLUMN rate_limit INTEGER NOT NULL DEFAULT 0 CHECK (rate_limit >= 0);
ALTER TABLE api_keys ADD COLUMN rate_limit_window_seconds INTEGER NOT NULL DEFAULT 0 CHECK (rate_limit_window_seconds >= 0);
ALTER TABLE api_keys ADD COLUMN last_used_from TEXT NOT NULL DEFAULT '';

-- The grace periods still running, for the sweep that ends them: small,
-- whatever the number of keys.
CREATE INDEX api_keys_previous_secret_expires_at ON api_keys (previous_secret_expires_at)
    WHERE previous_secret_expires_at IS NOT NULL;

-- +goose Down
DROP INDEX api_keys_previous_secret_expires_at;
ALTER TABLE api_keys DROP COLUMN last_used_from;
ALTER TABLE api_keys DROP COLUMN rate_limit_window_seconds;
ALTER TABLE api_keys DROP COLUMN rate_limit;
ALTER TABLE api_keys DROP COLUMN allowed_ips;
ALTER TABLE api_keys DROP COLUMN previous_secret_expires_at;
ALTER TABLE api_keys DROP COLUMN previous_secret_hash;
