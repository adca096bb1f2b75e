-- Keywarden's first PostgreSQL schema: the same tables, columns and
-- constraints as the SQLite store's 00001, in PostgreSQL's types.
--
-- Conventions:
--   * IDs are the 32-hex-character random IDs of keywarden.NewID, as TEXT.
--     Columns that lists are ordered or joined by are COLLATE "C": they sort
--     byte by byte, as SQLite sorts, whatever the database's locale.
--   * Times are TIMESTAMPTZ, which PostgreSQL keeps to the microsecond: a Go
--     time.Time round-trips exactly to the microsecond. The store reads them
--     back in UTC.
--   * api_keys.scopes is a TEXT[] of scope names, in the key's order.

-- +goose Up
CREATE TABLE organizations (
    id                       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name                     TEXT             NOT NULL UNIQUE,
    max_key_lifetime_seconds BIGINT           NOT NULL CHECK (max_key_lifetime_seconds >= 0),
    created_at               TIMESTAMPTZ      NOT NULL
);

CREATE INDEX organizations_created_at ON organizations (created_at, id);

CREATE TABLE users (
    id            TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    email         TEXT COLLATE "C" NOT NULL UNIQUE,
    password_hash TEXT             NOT NULL,
    created_at    TIMESTAMPTZ      NOT NULL
);

CREATE TABLE memberships (
    org_id  TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    TEXT             NOT NULL CHECK (role IN ('owner', 'admin', 'user')),
    PRIMARY KEY (org_id, user_id)
);

CREATE INDEX memberships_user_id ON memberships (user_id);

CREATE TABLE processes (
    id              TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    org_id          TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            TEXT             NOT NULL,
    process_type_id TEXT             NOT NULL,
    created_at      TIMESTAMPTZ      NOT NULL,
    updated_at      TIMESTAMPTZ      NOT NULL,
    -- The parent key of api_keys' (org_id, process_id) foreign key.
    UNIQUE (org_id, id)
);

CREATE INDEX processes_org_created_at ON processes (org_id, created_at, id);

-- An organization key has a NULL process_id. A process key's (org_id,
-- process_id) must name a process of that same organization, so the schema
-- itself refuses a key that would cross tenants, and deleting the process
-- deletes its keys. (A foreign key with a NULL column is not checked: MATCH
-- SIMPLE, as in SQLite.)
CREATE TABLE api_keys (
    id              TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    org_id          TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    process_id      TEXT COLLATE "C",
    name            TEXT             NOT NULL,
    "user"          TEXT             NOT NULL UNIQUE,
    -- SHA-256 of the secret; the secret itself is never stored.
    secret_hash     BYTEA            NOT NULL CHECK (octet_length(secret_hash) = 32),
    -- A flat list of names: no NULL element, no second dimension.
    scopes          TEXT[]           NOT NULL CHECK (array_position(scopes, NULL) IS NULL AND (cardinality(scopes) = 0 OR array_ndims(scopes) = 1)),
    created_at      TIMESTAMPTZ      NOT NULL,
    created_by_type TEXT             NOT NULL,
    created_by_id   TEXT             NOT NULL,
    created_by_name TEXT             NOT NULL,
    expires_at      TIMESTAMPTZ      NOT NULL,
    last_used_at    TIMESTAMPTZ,
    FOREIGN KEY (org_id, process_id) REFERENCES processes (org_id, id) ON DELETE CASCADE
);

-- Serves both list queries (process_id IS NULL for organization keys,
-- process_id = $n for process keys) in created_at, id order, and the foreign
-- key's cascade from processes.
CREATE INDEX api_keys_org_process_created_at ON api_keys (org_id, process_id, created_at, id);

-- +goose Down
DROP TABLE api_keys;
DROP TABLE processes;
DROP TABLE memberships;
DROP TABLE users;
DROP TABLE organizations;
