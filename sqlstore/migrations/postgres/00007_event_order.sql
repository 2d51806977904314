-- Rebuilding an account's rollups reads its events in (stream, time, source, id) order, a
-- page at a time; without an index in that order every page sorted all the account's
-- events. The (account_id, time) index it replaces served only the late-event list, which
-- a partial index over the few late events serves better: ingest keeps as many indexes
-- as before.

-- +goose Up
DROP INDEX events_account_time;
CREATE INDEX events_account_stream_order ON events (account_id, stream, time, source, id);
CREATE INDEX events_account_late ON events (account_id, time, source, id) WHERE late;

-- +goose Down
DROP INDEX events_account_late;
DROP INDEX events_account_stream_order;
CREATE INDEX events_account_time ON events (account_id, time);
