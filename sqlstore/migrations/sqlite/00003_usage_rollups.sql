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

-- +goose Down
DROP TABLE usage_rollups;
