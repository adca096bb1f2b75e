-- Keywarden's first schema.
--
-- Conventions:
--   * IDs are the 32-hex-character random IDs of keywarden.NewID, as TEXT.
--   * Times are INTEGER microseconds since the Unix epoch, UTC. Integers sort
--     and compare correctly, round-trip a Go time.Time exactly to the
--     microsecond, and carry no time zone to get wrong.
--   * api_keys.scopes is a JSON array of scope names, in the key's order.
--   * Tables are STRICT, so a value of the wrong type is an error instead of
--     being stored silently.

-- +goose Up
CREATE TABLE organizations (
    id                       TEXT    NOT NULL PRIMARY KEY,
    name                     TEXT    NOT NULL UNIQUE,
    max_key_lifetime_seconds INTEGER NOT NULL CHECK (max_key_lifetime_seconds >= 0),
    created_at               INTEGER NOT NULL
) STRICT;

CREATE INDEX organizations_created_at ON organizations (created_at, id);

CREATE TABLE users (
    id            TEXT    NOT NULL PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE memberships (
    org_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'user')),
    PRIMARY KEY (org_id, user_id)
) STRICT;

CREATE INDEX memberships_user_id ON memberships (user_id);

CREATE TABLE processes (
    id              TEXT    NOT NULL PRIMARY KEY,
    org_id          TEXT    NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            TEXT    NOT NULL,
    process_type_id TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    -- The parent key of api_keys' (org_id, process_id) foreign key.
    UNIQUE (org_id, id)
) STRICT;

CREATE INDEX processes_org_created_at ON processes (org_id, created_at, id);

-- An organization key has a NULL process_id. A process key's (org_id,
-- process_id) must name a process of that same organization, so the schema
-- itself refuses a key that would cross tenants, and deleting the process
-- deletes its keys.
CREATE TABLE api_keys (
    id              TEXT    NOT NULL PRIMARY KEY,
    org_id          TEXT    NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    process_id      TEXT,
    name            TEXT    NOT NULL,
    "user"          TEXT    NOT NULL UNIQUE,
    -- SHA-256 of the secret; the secret itself is never stored.
    secret_hash     BLOB    NOT NULL CHECK (length(secret_hash) = 32),
    scopes          TEXT    NOT NULL CHECK (json_valid(scopes)),
    created_at      INTEGER NOT NULL,
    created_by_type TEXT    NOT NULL,
    created_by_id   TEXT    NOT NULL,
    created_by_name TEXT    NOT NULL,
    expires_at      INTEGER NOT NULL,
    last_used_at    INTEGER,
    FOREIGN KEY (org_id, process_id) REFERENCES processes (org_id, id) ON DELETE CASCADE
) STRICT;

-- Serves both list queries (process_id IS NULL for organization keys,
-- process_id = ? for process keys) in created_at, id order, and the foreign
-- key's cascade from processes.
CREATE INDEX api_keys_org_process_created_at ON api_keys (org_id, process_id, created_at, id);

-- +goose Down
DROP TABLE api_keys;
DROP TABLE processes;
DROP TABLE memberships;
DROP TABLE users;
DROP TABLE organizations;
