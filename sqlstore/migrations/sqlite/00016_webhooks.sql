-- Outbound webhooks (issue 7): the operator's endpoints, one delivery per (endpoint,
-- billing event) its filter matches, and every attempt of each delivery. Times are
-- microseconds UTC. docs/webhooks.md is the receiver's guide; package webhook runs them.
--
-- The fan-out follows billing_events (feed consumer "webhooks") and may hand the same
-- events twice: UNIQUE (endpoint_id, event_id) makes the second time create nothing.
--
-- A worker claims due deliveries by setting lease_until and lease_token in one UPDATE
-- (on PostgreSQL over rows locked with SKIP LOCKED; on SQLite the one writer serializes
-- claims), so two workers never send the same delivery at once; an attempt is recorded
-- only while its claim's token is still on the row. A worker that dies leaves a lease
-- that runs out, and another sends the delivery again with the same webhook-id.
--
-- Signing secrets are stored as they are: Billow must sign with them. The previous one is
-- kept during the grace after a rotation.

-- +goose Up
CREATE TABLE webhook_endpoints (
    id                         TEXT    PRIMARY KEY,
    url                        TEXT    NOT NULL,
    description                TEXT    NOT NULL DEFAULT '',
    event_types                TEXT    NOT NULL, -- JSON array: ["*"], types, prefix wildcards
    enabled                    INTEGER NOT NULL,
    disabled_reason            TEXT    NOT NULL DEFAULT '' CHECK (disabled_reason IN ('', 'gone', 'failing')),
    secret                     TEXT    NOT NULL,
    previous_secret            TEXT    NOT NULL DEFAULT '',
    previous_secret_expires_at INTEGER,
    -- The first failed attempt since the last 2xx: after 72 hours of failures the
    -- endpoint is disabled.
    failing_since              INTEGER,
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL,
    CHECK ((previous_secret = '') = (previous_secret_expires_at IS NULL))
);

CREATE TABLE webhook_deliveries (
    id               TEXT    PRIMARY KEY, -- msg_…: the webhook-id of every attempt
    endpoint_id      TEXT    NOT NULL REFERENCES webhook_endpoints (id),
    event_id         TEXT    NOT NULL,    -- the billing event; a generated id for a test
    event_type       TEXT    NOT NULL,
    account_id       TEXT    NOT NULL DEFAULT '',
    status           TEXT    NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    series           INTEGER NOT NULL DEFAULT 0, -- replays so far
    attempts         INTEGER NOT NULL DEFAULT 0, -- attempts of the current series
    next_attempt_at  INTEGER,
    lease_until      INTEGER,
    lease_token      TEXT    NOT NULL DEFAULT '',
    last_attempt_at  INTEGER,
    last_status_code INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT    NOT NULL DEFAULT '',
    payload          TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (endpoint_id, event_id),
    -- Only a pending delivery has a next attempt.
    CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL))
);
-- The worker's scan: pending deliveries by when they are due.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
-- The retention purge: finished deliveries by age.
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (updated_at) WHERE status <> 'pending';

CREATE TABLE webhook_attempts (
    id           TEXT    PRIMARY KEY,
    delivery_id  TEXT    NOT NULL REFERENCES webhook_deliveries (id),
    series       INTEGER NOT NULL,
    number       INTEGER NOT NULL,
    attempted_at INTEGER NOT NULL,
    status_code  INTEGER NOT NULL DEFAULT 0, -- 0: no answer came
    duration_ms  INTEGER NOT NULL,
    succeeded    INTEGER NOT NULL,
    error        TEXT    NOT NULL DEFAULT '',
    response     TEXT    NOT NULL DEFAULT '', -- at most 4 KiB of the answer's body
    UNIQUE (delivery_id, series, number)
);

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
