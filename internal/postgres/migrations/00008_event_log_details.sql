-- The ordered log of key changes says whose key changed — its
-- organization, object ID and name at the time — so that what follows
-- the log beyond the caches (webhooks) can tell an organization what
-- happened to its keys, even to a key that has since been deleted. Entries
-- written before this migration have ''; so does a process's deletion,
-- which names the process (process_id) and not a key. detail is what an
-- entry says beyond its kind, as JSON (an expiry reminder's threshold).

-- +goose Up
ALTER TABLE key_changes ADD COLUMN org_id TEXT NOT NULL DEFAULT '';
ALTER TABLE key_changes ADD COLUMN key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE key_changes ADD COLUMN key_name TEXT NOT NULL DEFAULT '';
ALTER TABLE key_changes ADD COLUMN detail TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE key_changes DROP COLUMN detail;
ALTER TABLE key_changes DROP COLUMN key_name;
ALTER TABLE key_changes DROP COLUMN key_id;
ALTER TABLE key_changes DROP COLUMN org_id;
