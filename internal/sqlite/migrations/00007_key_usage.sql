-- How often each key is used: per key and per hour (the start of a UTC
-- hour, in the INTEGER microseconds of 00001), how many authentications
-- succeeded and how many failed (a wrong secret, an expired key). Each node
-- adds its counts in the background (internal/usage), so a row is the sum
-- of every node's; rows of hours more than 90 days ago are pruned. A key's
-- rows go with it.
--
-- The primary key serves a key's hours in order (the usage API) and the
-- cascade from api_keys; api_key_usage_hour serves the pruning. The
-- conventions of 00001 hold: STRICT, times as INTEGER microseconds.

-- +goose Up
CREATE TABLE api_key_usage (
    key_id    TEXT    NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    hour      INTEGER NOT NULL,
    succeeded INTEGER NOT NULL DEFAULT 0 CHECK (succeeded >= 0),
    failed    INTEGER NOT NULL DEFAULT 0 CHECK (failed >= 0),
    PRIMARY KEY (key_id, hour)
) STRICT, WITHOUT ROWID;

CREATE INDEX api_key_usage_hour ON api_key_usage (hour);

-- +goose Down
DROP TABLE api_key_usage;
