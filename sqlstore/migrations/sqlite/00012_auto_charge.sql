-- Auto-charge and low-balance notices (issue 4): an account's threshold and top-up, the
-- attempt in flight, and which crossings it has been told of. Only accounts that set a
-- threshold have a row, and the runner scans only these. Times are microseconds UTC on
-- the account's clock (its test clock's when it has one).
--
-- One attempt at a time across processes: an attempt is claimed by an UPDATE that applies
-- only over the version the decision read (attempt_id goes from '' to the claim), before
-- its order is submitted; its outcome is written only while attempt_id is still that
-- claim. A notice is written to billing_events in the transaction that sets its flag, so
-- it is emitted once per crossing.

-- +goose Up
CREATE TABLE auto_charges (
    account_id           TEXT    PRIMARY KEY REFERENCES accounts (id),
    enabled              INTEGER NOT NULL DEFAULT 0,
    threshold_credits    INTEGER NOT NULL CHECK (threshold_credits > 0),
    top_up_credits       INTEGER NOT NULL DEFAULT 0 CHECK (top_up_credits >= 0),
    attempt_id           TEXT    NOT NULL DEFAULT '', -- the claim of the attempt in flight; '' when none
    attempt_at           INTEGER,                     -- when the latest attempt was claimed; the cooldown counts from it
    attempt_credits      INTEGER NOT NULL DEFAULT 0,  -- what the attempt in flight buys
    attempt_order        TEXT    NOT NULL DEFAULT '', -- its order once submitted and pending payment
    failures             INTEGER NOT NULL DEFAULT 0,  -- attempts failed in a row
    last_order           TEXT    NOT NULL DEFAULT '',
    last_outcome         TEXT    NOT NULL DEFAULT '' CHECK (last_outcome IN ('', 'succeeded', 'failed')),
    last_failure_code    TEXT    NOT NULL DEFAULT '',
    low_balance_notified INTEGER NOT NULL DEFAULT 0,
    exhausted_notified   INTEGER NOT NULL DEFAULT 0,
    version              INTEGER NOT NULL,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    CHECK (enabled = 0 OR top_up_credits > 0),
    CHECK (attempt_id = '' OR attempt_at IS NOT NULL),
    CHECK (attempt_order = '' OR attempt_id <> '')
);

-- +goose Down
DROP TABLE auto_charges;
