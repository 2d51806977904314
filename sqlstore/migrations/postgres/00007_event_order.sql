-- The list of late events (usage that arrived for a period already invoiced) reads them
-- in time order; a partial index holds just those few rows, so ingest pays nothing for it.

-- +goose Up
CREATE INDEX events_account_late ON events (account_id, time, source, id) WHERE late;

-- +goose Down
DROP INDEX events_account_late;
