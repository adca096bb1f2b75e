-- The key change feed becomes the ordered log of changes to keys: each row
-- says what happened (kind: api_key.created, api_key.deleted,
-- process.deleted), and creations are recorded too, so that every process on
-- the database learns of keys created elsewhere. Rows written before this
-- migration have kind '' and were all deletions.

-- +goose Up
ALTER TABLE key_changes ADD COLUMN kind TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE key_changes DROP COLUMN kind;
