-- How often each key is used, as the SQLite store's 00007: per key and per
-- hour (the start of a UTC hour), how many authentications succeeded and
-- how many failed (a wrong secret, an expired key). Every node adds its
-- counts in the background (internal/usage) with an upsert, so a row is
-- the sum of all nodes'; rows of hours more than 90 days ago are pruned. A
-- key's rows go with it.
--
-- The primary key serves a key's hours in order (the usage API) and the
-- cascade from api_keys; api_key_usage_hour serves the pruning.

-- +goose Up
CREATE TABLE api_key_usage (
    key_id    TEXT COLLATE "C" NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    hour      TIMESTAMPTZ      NOT NULL,
    succeeded BIGINT           NOT NULL DEFAULT 0 CHECK (succeeded >= 0),
    failed    BIGINT           NOT NULL DEFAULT 0 CHECK (failed >= 0),
    PRIMARY KEY (key_id, hour)
);

CREATE INDEX api_key_usage_hour ON api_key_usage (hour);

-- +goose Down
DROP TABLE api_key_usage;
