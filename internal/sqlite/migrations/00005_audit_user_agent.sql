-- Audit events keep the client's User-Agent header beside its address
-- (keywarden.CleanUserAgent: valid UTF-8, at most 512 bytes). Events written
-- before this migration, and those of the command line, have ''. The
-- conventions of 00002 hold: an empty string, not NULL, for an absent field.

-- +goose Up
ALTER TABLE audit_events ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE audit_events DROP COLUMN user_agent;
