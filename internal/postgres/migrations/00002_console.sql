-- The console: members and their access to processes, invites, sessions and
-- the audit log, as the SQLite store's 00002. The conventions of 00001 hold.

-- +goose Up

-- Added, backfilled, then made NOT NULL, so that this migration is right on
-- a database that already has memberships: the only ones 00001 could make
-- (the owners') were made when their organization was.
ALTER TABLE memberships ADD COLUMN created_at TIMESTAMPTZ;

UPDATE memberships
SET created_at = organizations.created_at
FROM organizations
WHERE organizations.id = memberships.org_id;

ALTER TABLE memberships ALTER COLUMN created_at SET NOT NULL;

-- Lists an organization's members oldest first.
CREATE INDEX memberships_org_created_at ON memberships (org_id, created_at, user_id);

-- id is the SHA-256 (hex) of the invite link's token; the token itself is
-- never stored. Accepting an invite deletes it.
CREATE TABLE invites (
    id              TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    org_id          TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email           TEXT             NOT NULL,
    role            TEXT             NOT NULL CHECK (role IN ('owner', 'admin', 'user')),
    created_at      TIMESTAMPTZ      NOT NULL,
    expires_at      TIMESTAMPTZ      NOT NULL,
    created_by_type TEXT             NOT NULL,
    created_by_id   TEXT             NOT NULL,
    created_by_name TEXT             NOT NULL
);

CREATE INDEX invites_org_id ON invites (org_id);

-- A grant ties a member to a process of the same organization: both foreign
-- keys include org_id, so the schema itself refuses a grant that would cross
-- tenants, and deleting the process or the membership deletes the grant.
CREATE TABLE process_grants (
    org_id     TEXT COLLATE "C" NOT NULL,
    process_id TEXT COLLATE "C" NOT NULL,
    user_id    TEXT COLLATE "C" NOT NULL,
    role       TEXT             NOT NULL CHECK (role IN ('manager', 'user')),
    PRIMARY KEY (org_id, process_id, user_id),
    FOREIGN KEY (org_id, process_id) REFERENCES processes (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, user_id) REFERENCES memberships (org_id, user_id) ON DELETE CASCADE
);

-- Serves a member's grants and the cascade from memberships; the primary key
-- serves a process's grants and the cascade from processes.
CREATE INDEX process_grants_org_user ON process_grants (org_id, user_id);

-- id is the SHA-256 (hex) of the session cookie's token, so a copy of the
-- database does not yield live sessions.
CREATE TABLE sessions (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id     TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    csrf_token TEXT             NOT NULL,
    created_at TIMESTAMPTZ      NOT NULL,
    expires_at TIMESTAMPTZ      NOT NULL
);

CREATE INDEX sessions_expires_at ON sessions (expires_at);
-- Serves removing a member's sessions of one organization and the cascade
-- from users.
CREATE INDEX sessions_user_org ON sessions (user_id, org_id);
CREATE INDEX sessions_org_id ON sessions (org_id);

-- The audit log. It has no foreign key to what an event mentions (keys,
-- processes, members), because the record of a deletion must outlive what
-- was deleted. Empty strings, not NULLs, stand for absent fields, so that an
-- event reads back exactly as it was written.
CREATE TABLE audit_events (
    id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    org_id      TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    at          TIMESTAMPTZ      NOT NULL,
    actor_type  TEXT             NOT NULL,
    actor_id    TEXT             NOT NULL,
    actor_name  TEXT             NOT NULL,
    action      TEXT             NOT NULL,
    target_type TEXT             NOT NULL,
    target_id   TEXT             NOT NULL,
    target_name TEXT             NOT NULL,
    process_id  TEXT             NOT NULL,
    remote_addr TEXT             NOT NULL
);

-- Lists an organization's events newest first.
CREATE INDEX audit_events_org_at ON audit_events (org_id, at DESC, id DESC);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE sessions;
DROP TABLE process_grants;
DROP TABLE invites;
DROP INDEX memberships_org_created_at;
ALTER TABLE memberships DROP COLUMN created_at;
