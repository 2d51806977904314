-- Usage events: immutable facts, deduplicated by (account, source, id) in the same
-- transaction that stores them.

-- +goose Up
CREATE TABLE events (
    account_id   TEXT    NOT NULL REFERENCES accounts (id),
    source       TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    type         TEXT    NOT NULL,
    time         BIGINT NOT NULL,
    app_id       TEXT,
    -- The key that groups the event for its meter: the conversation, the API client, the
    -- agent or the call; empty when the type has none.
    stream       TEXT    NOT NULL DEFAULT '',
    data         TEXT    NOT NULL,
    content_hash TEXT    NOT NULL,
    received_at  BIGINT NOT NULL,
    -- Set when the event arrived for a period whose invoice was already final; billing
    -- bills it as an adjustment on the next invoice and clears the mark.
    late         BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (account_id, source, id)
);
CREATE INDEX events_account_time ON events (account_id, time);
CREATE INDEX events_account_stream ON events (account_id, type, stream, time);

-- Usage before this time (microseconds) belongs to periods whose invoices are final.
ALTER TABLE accounts ADD COLUMN usage_closed_before BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE accounts DROP COLUMN usage_closed_before;
DROP TABLE events;
