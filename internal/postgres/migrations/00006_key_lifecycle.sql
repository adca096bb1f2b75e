-- What living with a key needs, as the SQLite store's 00006: the secret a
-- rotation replaced and the end of its grace period (both NULL or both
-- set), the allowlist (canonical CIDRs; empty means anywhere), the rate
-- limit (both 0: none) and the address of the last recorded use. Constant
-- defaults make each ALTER a catalogue change only: no table rewrite.

-- +goose Up
ALTER TABLE api_keys ADD COLUMN previous_secret_hash BYTEA
    CHECK (previous_secret_hash IS NULL OR length(previous_secret_hash) = 32);
ALTER TABLE api_keys ADD COLUMN previous_secret_expires_at TIMESTAMPTZ;
ALTER TABLE api_keys ADD COLUMN allowed_ips TEXT[] NOT NULL DEFAULT '{}';
ALTER TABLE api_keys ADD COLUMN rate_limit BIGINT NOT NULL DEFAULT 0 CHECK (rate_limit >= 0);
ALTER TABLE api_keys ADD COLUMN rate_limit_window_seconds BIGINT NOT NULL DEFAULT 0 CHECK (rate_limit_window_seconds >= 0);
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
