-- The credit ledger (package ledger): double-entry transfers between ledger accounts,
-- append-only and hash-chained, and the grants that make up each wallet.

-- +goose Up
-- Every ledger account with its balance, kept in the transaction that posts to it. The
-- floor is how low it may go: 0 for a grant, minus the grace buffer for a wallet's
-- overdraft account, unbounded (the smallest int64) for the operator's accounts.
CREATE TABLE ledger_accounts (
    name        TEXT    PRIMARY KEY,
    account_id  TEXT    REFERENCES accounts (id), -- the wallet's account; NULL for the operator's
    floor_ucr   INTEGER NOT NULL,
    balance_ucr INTEGER NOT NULL DEFAULT 0,
    CHECK (balance_ucr >= floor_ucr)
);
INSERT INTO ledger_accounts (name, floor_ucr) VALUES
    ('issued:free', -9223372036854775808), ('issued:promotional', -9223372036854775808),
    ('issued:paid', -9223372036854775808), ('revenue:usage', -9223372036854775808),
    ('expired', -9223372036854775808);

CREATE TABLE grants (
    id          TEXT    PRIMARY KEY,
    account_id  TEXT    NOT NULL REFERENCES accounts (id),
    kind        TEXT    NOT NULL,
    amount_ucr  INTEGER NOT NULL,
    priority    INTEGER NOT NULL DEFAULT 0,
    expires_at  INTEGER,
    description TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
);
CREATE INDEX grants_account ON grants (account_id, created_at);

-- The log: seq is gapless from 1, hash chains each row to the one before it, and
-- input_hash is what the caller asked, so that a reused id with other content is refused.
CREATE TABLE ledger_transfers (
    seq              INTEGER PRIMARY KEY,
    id               TEXT    NOT NULL, -- the caller's idempotency id, one account's own
    account_id       TEXT    REFERENCES accounts (id),
    cause            TEXT    NOT NULL,
    amount_ucr       INTEGER NOT NULL,
    description      TEXT    NOT NULL DEFAULT '',
    at               INTEGER NOT NULL,
    grant_id         TEXT    NOT NULL DEFAULT '',
    wallet_delta_ucr INTEGER NOT NULL DEFAULT 0,
    wallet_after_ucr INTEGER NOT NULL DEFAULT 0,
    input_hash       TEXT    NOT NULL,
    hash             TEXT    NOT NULL
);
CREATE UNIQUE INDEX ledger_transfers_id ON ledger_transfers (account_id, id);
CREATE INDEX ledger_transfers_account ON ledger_transfers (account_id, seq);
CREATE INDEX ledger_transfers_account_at ON ledger_transfers (account_id, at); -- exports by date

CREATE TABLE ledger_entries (
    seq            INTEGER NOT NULL REFERENCES ledger_transfers (seq),
    pos            INTEGER NOT NULL,
    ledger_account TEXT    NOT NULL REFERENCES ledger_accounts (name),
    amount_ucr     INTEGER NOT NULL,
    PRIMARY KEY (seq, pos)
);

-- The head of the chain: the last seq and its hash. Writers lock this one row, so the
-- log stays gapless and chained across processes sharing PostgreSQL.
CREATE TABLE ledger_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT    NOT NULL
);
INSERT INTO ledger_head (id, seq, hash) VALUES (1, 0, '');

-- +goose Down
DROP TABLE ledger_head;
DROP TABLE ledger_entries;
DROP TABLE ledger_transfers;
DROP TABLE grants;
DROP TABLE ledger_accounts;
