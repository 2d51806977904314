-- Day cells: the rollups again, per local day of the account's time zone, so that a
-- query by day or month reads one cell per day instead of 24 (package usage, Days).

-- +goose Up
-- hour is the first UTC hour of the local day: where a day bucket begins.
CREATE TABLE usage_days (
    account_id TEXT    NOT NULL REFERENCES accounts (id),
    meter      TEXT    NOT NULL,
    app_id     TEXT    NOT NULL DEFAULT '',
    grp        TEXT    NOT NULL DEFAULT '',
    hour       INTEGER NOT NULL,
    units      INTEGER NOT NULL,
    at_us      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, meter, hour, app_id, grp)
) WITHOUT ROWID;

CREATE TABLE usage_day_uniques (
    account_id TEXT    NOT NULL REFERENCES accounts (id),
    meter      TEXT    NOT NULL,
    app_id     TEXT    NOT NULL DEFAULT '',
    grp        TEXT    NOT NULL DEFAULT '',
    hour       INTEGER NOT NULL,
    value      TEXT    NOT NULL,
    PRIMARY KEY (account_id, meter, hour, app_id, grp, value)
) WITHOUT ROWID;

-- The time zone an account's day cells follow. Empty until they are built: usage stored
-- before this migration is in hourly cells only, queries read those, and
-- `billow meters rebuild` builds the day cells. A new account's are built from the start.
ALTER TABLE accounts ADD COLUMN usage_days_zone TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE accounts DROP COLUMN usage_days_zone;
DROP TABLE usage_day_uniques;
DROP TABLE usage_days;
