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
    events                     TEXT[] NOT NULL,
    enabled                    BOOLEAN NOT NULL,
    secret                     TEXT    NOT NULL,
    previous_secret            TEXT    NOT NULL DEFAULT '',
    previous_secret_expires_at TIMESTAMPTZ,
    created_at                 TIMESTAMPTZ NOT NULL,
    created_by_type            TEXT    NOT NULL,
    created_by_id              TEXT    NOT NULL,
    created_by_name            TEXT    NOT NULL,
    updated_at                 TIMESTAMPTZ NOT NULL
);

CREATE INDEX webhooks_org ON webhooks (org_id, created_at, id);

CREATE TABLE webhook_deliveries (
    id              TEXT    NOT NULL PRIMARY KEY,
    webhook_id      TEXT    NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    org_id          TEXT    NOT NULL,
    event_id        TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    payload         BYTEA    NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    lease_until     TIMESTAMPTZ,
    last_status     BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    last_latency_us BIGINT NOT NULL DEFAULT 0,
    delivered_at    TIMESTAMPTZ,
    UNIQUE (webhook_id, event_id)
);

-- The claim's scan: pending deliveries by when they are due.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, created_at, id);

CREATE TABLE webhook_attempts (
    delivery_id TEXT    NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt     BIGINT NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    status      BIGINT NOT NULL,
    error       TEXT    NOT NULL,
    latency_us  BIGINT NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);

-- Queued from the log's current end: what was logged before webhooks
-- existed concerns no webhook.
CREATE TABLE webhook_cursor (
    id  BIGINT NOT NULL PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO webhook_cursor (id, seq) SELECT 1, coalesce(max(seq), 0) FROM key_changes;

-- Expiry reminders already given: one per key and threshold ('14d',
-- '7d', '1d', 'expired'), so that however many nodes look, each is given
-- once (the primary key refuses a second).
CREATE TABLE key_expiry_notices (
    key_id    TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    threshold TEXT NOT NULL,
    at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (key_id, threshold)
);

CREATE INDEX api_keys_expires_at ON api_keys (expires_at);

-- +goose Down
DROP INDEX api_keys_expires_at;
DROP TABLE key_expiry_notices;
DROP TABLE webhook_cursor;
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
