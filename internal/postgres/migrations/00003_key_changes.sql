-- The key change feed: one row per deletion of a key ("user") or of a
-- process's keys (process_id), written in the deletion's transaction, as the
-- SQLite store's 00003. Every node reads it to drop deleted keys from its
-- verification cache; a NOTIFY on the keywarden_key_changes channel, sent in
-- the same transaction and so delivered only at its commit, wakes them.
--
-- Writers append under a lock on the table (see recordKeyChange), so that
-- seq order is commit order: a reader that has seen seq n has seen every
-- change before it. Rows older than a day are pruned by the writers, by the
-- database's clock, which all nodes share.

-- +goose Up
CREATE TABLE key_changes (
    seq        BIGSERIAL   NOT NULL PRIMARY KEY,
    "user"     TEXT        NOT NULL DEFAULT '',
    process_id TEXT        NOT NULL DEFAULT '',
    at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Serves the pruning.
CREATE INDEX key_changes_at ON key_changes (at);

-- +goose Down
DROP TABLE key_changes;
