-- Audit events keep the client's User-Agent header beside its address, as
-- the SQLite store's 00005 (keywarden.CleanUserAgent: valid UTF-8, at most
-- 512 bytes). Events written before this migration, and those of the
-- command line, have ''. A constant default makes the ALTER a catalogue
-- change only: no table rewrite, however long the log.

-- +goose Up
ALTER TABLE audit_events ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE audit_events DROP COLUMN user_agent;
