-- Where each consumer of billing_events (emails, outbound webhooks) has read to. A
-- consumer reads the events after its position in seq order, makes what they cause
-- (messages, deliveries) idempotently by event id, then moves its position: a crash in
-- between repeats the reads, never the messages. On PostgreSQL the writers of
-- billing_events take one advisory lock, so seq order is commit order and no event can
-- appear behind a position already passed (sqlstore/feed.go).

-- +goose Up
CREATE TABLE event_consumers (
    name       TEXT   PRIMARY KEY,
    after_seq  INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE event_consumers;
