-- What the meters that are not plain sums keep, and session clusters that carry the
-- events their sessions depend on, so ingest never reads a stream's history again.

-- +goose Up
-- The representative events of each cluster (JSON, see package usage) and the app
-- serving the conversation when the cluster ends. Clusters stored before this migration
-- have none: `billow meters rebuild` recomputes them, and ingest refuses to guess.
ALTER TABLE session_clusters ADD COLUMN reps TEXT NOT NULL DEFAULT '';
ALTER TABLE session_clusters ADD COLUMN end_app TEXT NOT NULL DEFAULT '';

-- For latest meters: the time of the value a cell holds, so a later event wins. The table
-- is made anew WITHOUT ROWID: a usage query reads a range of cells in key order, and with
-- the cells stored in the primary key's B-tree that is one sequential scan instead of an
-- index lookup and a table lookup per cell (a 90-day trends query reads ~17,000 cells).
CREATE TABLE usage_rollups_keyed (
    account_id TEXT    NOT NULL REFERENCES accounts (id),
    meter      TEXT    NOT NULL,
    app_id     TEXT    NOT NULL DEFAULT '',
    grp        TEXT    NOT NULL DEFAULT '',
    hour       INTEGER NOT NULL,
    units      INTEGER NOT NULL,
    at_us      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, meter, hour, app_id, grp)
) WITHOUT ROWID;
INSERT INTO usage_rollups_keyed (account_id, meter, app_id, grp, hour, units)
    SELECT account_id, meter, app_id, grp, hour, units FROM usage_rollups;
DROP TABLE usage_rollups;
ALTER TABLE usage_rollups_keyed RENAME TO usage_rollups;

-- For unique_count meters (named seats): each distinct value seen in an hour, so the
-- distinct count of any period is read without raw events.
CREATE TABLE usage_uniques (
    account_id TEXT    NOT NULL REFERENCES accounts (id),
    meter      TEXT    NOT NULL,
    app_id     TEXT    NOT NULL DEFAULT '',
    grp        TEXT    NOT NULL DEFAULT '',
    hour       INTEGER NOT NULL,
    value      TEXT    NOT NULL,
    PRIMARY KEY (account_id, meter, hour, app_id, grp, value)
) WITHOUT ROWID;

-- Sessions no longer read events by stream; concurrency meters read a window of the
-- events of their types.
DROP INDEX events_account_stream;
CREATE INDEX events_account_type_time ON events (account_id, type, time);

-- +goose Down
DROP INDEX events_account_type_time;
CREATE INDEX events_account_stream ON events (account_id, type, stream, time);
DROP TABLE usage_uniques;
ALTER TABLE usage_rollups DROP COLUMN at_us; -- the table stays WITHOUT ROWID
ALTER TABLE session_clusters DROP COLUMN end_app;
ALTER TABLE session_clusters DROP COLUMN reps;
