-- Hourly usage rollups: what usage queries read instead of raw events. Units are the
-- meter's quantity times 10^scale (see package usage), so sums are exact integers.

-- +goose Up
CREATE TABLE usage_rollups (
    account_id TEXT    NOT NULL REFERENCES accounts (id),
    meter      TEXT    NOT NULL,
    app_id     TEXT    NOT NULL DEFAULT '',
    grp        TEXT    NOT NULL DEFAULT '',
    hour       INTEGER NOT NULL,
    units      INTEGER NOT NULL,
    PRIMARY KEY (account_id, meter, hour, app_id, grp)
);

-- The clusters of each session stream: runs of events with no gap longer than the
-- meter's idle timeout. Sessions of a cluster depend on a few of its events only (its
-- first and last, the first naming an app, its routings), so ingest finds the clusters
-- a batch touches here instead of reading a stream's whole history.
CREATE TABLE session_clusters (
    account_id TEXT    NOT NULL REFERENCES accounts (id),
    meter      TEXT    NOT NULL,
    kind       INTEGER NOT NULL, -- 0: a conversation; 1: the API activity of a client on an app
    stream     TEXT    NOT NULL, -- the conversation id, or the API client
    app_id     TEXT    NOT NULL, -- '' for conversations
    first_us   INTEGER NOT NULL,
    last_us    INTEGER NOT NULL,
    PRIMARY KEY (account_id, meter, kind, stream, app_id, first_us)
);

-- +goose Down
DROP TABLE session_clusters;
DROP TABLE usage_rollups;
