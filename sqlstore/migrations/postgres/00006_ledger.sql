-- The credit ledger (package ledger): double-entry transfers between ledger accounts,
-- append-only and hash-chained, and the grants that make up each wallet.

-- +goose Up
-- Every ledger account with its balance, kept in the transaction that posts to it. The
-- floor is how low it may go: 0 for a grant, minus the grace buffer for a wallet's
-- overdraft account, unbounded (the smallest int64) for the operator's accounts.
CREATE TABLE ledger_accounts (
    name        TEXT    PRIMARY KEY,
    account_id  TEXT    REFERENCES accounts (id), -- the wallet's account; NULL for the operator's
    floor_ucr   BIGINT NOT NULL,
    balance_ucr BIGINT NOT NULL DEFAULT 0,
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
    amount_ucr  BIGINT NOT NULL,
    priority    BIGINT NOT NULL DEFAULT 0,
    expires_at  BIGINT,
    description TEXT    NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL
);
CREATE INDEX grants_account ON grants (account_id, created_at);

-- The log: seq is gapless from 1, hash chains each row to the one before it, and
-- input_hash is what the caller asked, so that a reused id with other content is refused.
CREATE TABLE ledger_transfers (
    seq              BIGINT PRIMARY KEY,
    id               TEXT    NOT NULL, -- the caller's idempotency id, one account's own
    account_id       TEXT    REFERENCES accounts (id),
    cause            TEXT    NOT NULL,
    amount_ucr       BIGINT NOT NULL,
    description      TEXT    NOT NULL DEFAULT '',
    at               BIGINT NOT NULL,
    grant_id         TEXT    NOT NULL DEFAULT '',
    wallet_delta_ucr BIGINT NOT NULL DEFAULT 0,
    wallet_after_ucr BIGINT NOT NULL DEFAULT 0,
    input_hash       TEXT    NOT NULL,
    hash             TEXT    NOT NULL
);
CREATE UNIQUE INDEX ledger_transfers_id ON ledger_transfers (account_id, id);
CREATE INDEX ledger_transfers_account ON ledger_transfers (account_id, seq);
CREATE INDEX ledger_transfers_account_at ON ledger_transfers (account_id, at); -- exports by date

CREATE TABLE ledger_entries (
    seq            BIGINT NOT NULL REFERENCES ledger_transfers (seq),
    pos            BIGINT NOT NULL,
    ledger_account TEXT    NOT NULL REFERENCES ledger_accounts (name),
    amount_ucr     BIGINT NOT NULL,
    PRIMARY KEY (seq, pos)
);

-- The head of the chain: the last seq and its hash. Writers lock this one row, so the
-- log stays gapless and chained across processes sharing PostgreSQL.
CREATE TABLE ledger_head (
    id   BIGINT PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT    NOT NULL
);
INSERT INTO ledger_head (id, seq, hash) VALUES (1, 0, '');

-- +goose Down
DROP TABLE ledger_head;
DROP TABLE ledger_entries;
DROP TABLE ledger_transfers;
DROP TABLE grants;
DROP TABLE ledger_accounts;
