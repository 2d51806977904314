-- Credit holds, the expiry of grants, the included credits of each period, and what real-time checks poll for changes.

-- +goose Up
-- A hold reserves credits: its ledger account hold:<id> holds them from the transfer
-- that made it (hold_seq) until it is resolved, exactly once, by the transfer resolve_seq.
CREATE TABLE holds (
    id              TEXT    PRIMARY KEY,
    account_id      TEXT    NOT NULL REFERENCES accounts (id),
    amount_ucr      INTEGER  NOT NULL,
    status          TEXT    NOT NULL,
    description     TEXT    NOT NULL DEFAULT '',
    expires_at      INTEGER  NOT NULL,
    created_at      INTEGER  NOT NULL,
    hold_seq        INTEGER  NOT NULL REFERENCES ledger_transfers (seq),
    resolved_at     INTEGER,
    resolve_seq     INTEGER  REFERENCES ledger_transfers (seq),
    captured_ucr    INTEGER  NOT NULL DEFAULT 0,
    uncollected_ucr INTEGER  NOT NULL DEFAULT 0
);
CREATE INDEX holds_account ON holds (account_id, created_at);
-- The expiry sweep reads the active holds due, and nothing else.
CREATE INDEX holds_active_expiry ON holds (expires_at) WHERE status = 'active';
-- A wallet sums its account's active holds, not every hold it ever had.
CREATE INDEX holds_account_active ON holds (account_id) WHERE status = 'active';

ALTER TABLE ledger_transfers ADD COLUMN hold_id TEXT NOT NULL DEFAULT '';

-- A grant with an expiry is pending until its expiry transfer is written; the sweep
-- reads the pending ones due, not every grant that ever expired.
ALTER TABLE grants ADD COLUMN expiry_pending INTEGER NOT NULL DEFAULT 0;
UPDATE grants SET expiry_pending = (expires_at IS NOT NULL);
CREATE INDEX grants_expiry_pending ON grants (expires_at) WHERE expiry_pending;

-- The end of the period the account's included credits were last granted for; the
-- upkeep grants the next ones once it has passed (0: never granted).
ALTER TABLE accounts ADD COLUMN included_credits_until INTEGER NOT NULL DEFAULT 0;
CREATE INDEX accounts_included_due ON accounts (included_credits_until);

-- Real-time checks poll for accounts and apps changed since their last look.
CREATE INDEX accounts_updated ON accounts (updated_at);
CREATE INDEX apps_updated ON apps (updated_at);

-- +goose Down
DROP INDEX apps_updated;
DROP INDEX accounts_updated;
DROP INDEX accounts_included_due;
ALTER TABLE accounts DROP COLUMN included_credits_until;
DROP INDEX grants_expiry_pending;
ALTER TABLE grants DROP COLUMN expiry_pending;
ALTER TABLE ledger_transfers DROP COLUMN hold_id;
DROP INDEX holds_account_active;
DROP TABLE holds;
