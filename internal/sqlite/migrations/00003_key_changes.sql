-- The key change feed: one row per deletion of a key (user) or of a
-- process's keys (process_id), written in the deletion's transaction. Other
-- processes on the same database (the command line, a second server) read
-- it to drop deleted keys from their verification caches. Rows older than a
-- day are pruned by the writers.

-- +goose Up
CREATE TABLE key_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    "user"     TEXT    NOT NULL DEFAULT '',
    process_id TEXT    NOT NULL DEFAULT '',
    at         INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE key_changes;
