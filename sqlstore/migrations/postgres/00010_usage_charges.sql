-- What charging (package charging) has moved in the ledger for each rated line of an
-- account's month. A movement is first claimed on its line (pending_id), then posted to
-- the ledger under that id, then recorded: its transfer id is kept once in
-- usage_charge_transfers and its amount added to the line's totals in the same
-- transaction, so that a movement posted twice (after a crash, or by two processes)
-- counts once. A claim left pending by a crash is posted again with the same id, which
-- the ledger answers with the first transfer.

-- +goose Up
CREATE TABLE usage_charges (
    account_id   TEXT    NOT NULL REFERENCES accounts (id),
    month        TEXT    NOT NULL, -- "2026-11", in the account's time zone
    line_key     TEXT    NOT NULL, -- rating.Selection.Key: meter{filters}
    debited_ucr  BIGINT NOT NULL DEFAULT 0 CHECK (debited_ucr >= 0),  -- spent for the line, in total
    credited_ucr BIGINT NOT NULL DEFAULT 0 CHECK (credited_ucr >= 0), -- given back as corrections, in total
    pending_id   TEXT    NOT NULL DEFAULT '', -- the claimed movement's transfer id; '' when none
    pending_ucr  BIGINT NOT NULL DEFAULT 0,  -- its amount: + a spend, - a correction
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (account_id, month, line_key),
    CHECK ((pending_id = '') = (pending_ucr = 0))
);

-- Every movement recorded on a line, once: the ledger's transfer id (each account's own).
CREATE TABLE usage_charge_transfers (
    account_id  TEXT    NOT NULL REFERENCES accounts (id),
    transfer_id TEXT    NOT NULL,
    month       TEXT    NOT NULL,
    line_key    TEXT    NOT NULL,
    amount_ucr  BIGINT NOT NULL CHECK (amount_ucr <> 0), -- + a spend, - a correction
    recorded_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, transfer_id)
);

-- +goose Down
DROP TABLE usage_charge_transfers;
DROP TABLE usage_charges;
