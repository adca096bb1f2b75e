-- Webhooks and their durable queue. A webhook belongs to an organization;
-- its signing secret is sealed by the server (internal/secretbox) before it
-- is stored. A delivery is one event on its way to one webhook, with its
-- body fixed when it was queued; a node claims it with a lease, so that a
-- delivery is tried by one node at a time and one whose node died is tried
-- again. webhook_cursor is how far the key change log has been queued: the
-- one row every node's enqueuer locks, so that each entry is queued once.

-- +goose Up
CREATE TABLE webhooks (
    id                         TEXT    NOT NULL PRIMARY KEY,
    org_id                     TEXT    NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    url                        TEXT    NOT NULL,
    description                TEXT    NOT NULL DEFAULT '',
    events                     TEXT NOT NULL CHECK (json_valid(events)),
    enabled                    INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    secret                     TEXT    NOT NULL,
    previous_secret            TEXT    NOT NULL DEFAULT '',
    previous_secret_expires_at INTEGER,
    created_at                 INTEGER NOT NULL,
    created_by_type            TEXT    NOT NULL,
    created_by_id              TEXT    NOT NULL,
    created_by_name            TEXT    NOT NULL,
    updated_at                 INTEGER NOT NULL
) STRICT;

CREATE INDEX webhooks_org ON webhooks (org_id, created_at, id);

CREATE TABLE webhook_deliveries (
    id              TEXT    NOT NULL PRIMARY KEY,
    webhook_id      TEXT    NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    org_id          TEXT    NOT NULL,
    event_id        TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    payload         BLOB    NOT NULL,
    created_at      INTEGER NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    last_latency_us INTEGER NOT NULL DEFAULT 0,
    delivered_at    INTEGER,
    UNIQUE (webhook_id, event_id)
) STRICT;

-- The claim's scan: pending deliveries by when they are due.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, created_at, id);

CREATE TABLE webhook_attempts (
    delivery_id TEXT    NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    status      INTEGER NOT NULL,
    error       TEXT    NOT NULL,
    latency_us  INTEGER NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
) STRICT;

-- Queued from the log's current end: what was logged before webhooks
-- existed concerns no webhook.
CREATE TABLE webhook_cursor (
    id  INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
) STRICT;
INSERT INTO webhook_cursor (id, seq) SELECT 1, coalesce(max(seq), 0) FROM key_changes;

-- Expiry reminders already given: one per key and threshold ('14d',
-- '7d', '1d', 'expired'), so that however many nodes look, each is given
-- once (the primary key refuses a second).
CREATE TABLE key_expiry_notices (
    key_id    TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    threshold TEXT NOT NULL,
    at        INTEGER NOT NULL,
    PRIMARY KEY (key_id, threshold)
) STRICT;

CREATE INDEX api_keys_expires_at ON api_keys (expires_at);

-- +goose Down
DROP INDEX api_keys_expires_at;
DROP TABLE key_expiry_notices;
DROP TABLE webhook_cursor;
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
