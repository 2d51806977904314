-- Subscriptions, invoices, orders and payments (issue 5). Times are microseconds UTC,
-- money is minor units, and a finalized invoice is frozen: its content hash is stored at
-- finalization and checked on every read.

-- +goose Up
CREATE TABLE test_clocks (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    frozen_time BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Auto-billing (seed 004) is on unless the account turns it off; the tax rate is a
-- percentage as a decimal string; an account on a test clock follows it, not the real time.
ALTER TABLE accounts ADD COLUMN auto_billing BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE accounts ADD COLUMN tax_rate TEXT NOT NULL DEFAULT '0';
ALTER TABLE accounts ADD COLUMN test_clock_id TEXT REFERENCES test_clocks (id);
ALTER TABLE accounts ADD COLUMN contract TEXT NOT NULL DEFAULT '{}';
-- The status of the latest subscription, read by checks with the account.
ALTER TABLE accounts ADD COLUMN subscription_status TEXT NOT NULL DEFAULT '';
CREATE INDEX accounts_test_clock ON accounts (test_clock_id) WHERE test_clock_id IS NOT NULL;

CREATE TABLE subscriptions (
    id                   TEXT    PRIMARY KEY,
    account_id           TEXT    NOT NULL REFERENCES accounts (id),
    plan                 TEXT    NOT NULL,
    interval             TEXT    NOT NULL CHECK (interval IN ('month', 'year')),
    add_ons              TEXT    NOT NULL,
    seats                TEXT    NOT NULL,
    status               TEXT    NOT NULL CHECK (status IN ('incomplete', 'trialing', 'active', 'past_due', 'suspended', 'canceled', 'expired')),
    anchor_at            BIGINT NOT NULL,
    current_period_start BIGINT NOT NULL,
    current_period_end   BIGINT NOT NULL,
    trial_end            BIGINT,
    cancel_at_period_end BOOLEAN NOT NULL DEFAULT FALSE,
    pending_change       TEXT,
    past_due_since       BIGINT,
    next_retry_at        BIGINT,
    retry_count          BIGINT NOT NULL DEFAULT 0,
    suspend_at           BIGINT,
    ended_at             BIGINT,
    -- The earliest time work is due (renewal, trial end, retry, suspension); NULL when
    -- the subscription has ended. The job queue sweeps it.
    next_action_at       BIGINT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    version              BIGINT NOT NULL,
    CHECK (current_period_start < current_period_end)
);
-- An account has at most one subscription that has not ended.
CREATE UNIQUE INDEX subscriptions_one_live ON subscriptions (account_id) WHERE status NOT IN ('canceled', 'expired');
CREATE INDEX subscriptions_account ON subscriptions (account_id, id);
CREATE INDEX subscriptions_due ON subscriptions (next_action_at) WHERE next_action_at IS NOT NULL;

CREATE TABLE payment_methods (
    id           TEXT    PRIMARY KEY,
    account_id   TEXT    NOT NULL REFERENCES accounts (id),
    kind         TEXT    NOT NULL CHECK (kind IN ('card', 'paypal', 'wire')),
    gateway      TEXT    NOT NULL,
    token        TEXT    NOT NULL,
    brand        TEXT    NOT NULL DEFAULT '',
    last4        TEXT    NOT NULL DEFAULT '',
    exp_month    BIGINT NOT NULL DEFAULT 0,
    exp_year     BIGINT NOT NULL DEFAULT 0,
    holder_name  TEXT    NOT NULL DEFAULT '',
    paypal_email TEXT    NOT NULL DEFAULT '',
    is_default   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   BIGINT NOT NULL,
    removed_at   BIGINT
);
CREATE INDEX payment_methods_account ON payment_methods (account_id, id);
CREATE UNIQUE INDEX payment_methods_one_default ON payment_methods (account_id) WHERE is_default AND removed_at IS NULL;

-- Gapless invoice numbers: the counter moves in the transaction that finalizes.
CREATE TABLE invoice_counters (
    scope TEXT    PRIMARY KEY,
    last  BIGINT NOT NULL
);

CREATE TABLE invoices (
    id              TEXT    PRIMARY KEY,
    number          TEXT    UNIQUE,
    order_id        TEXT    NOT NULL,
    account_id      TEXT    NOT NULL REFERENCES accounts (id),
    subscription_id TEXT    NOT NULL DEFAULT '',
    status          TEXT    NOT NULL CHECK (status IN ('draft', 'open', 'paid', 'void', 'uncollectible')),
    currency        TEXT    NOT NULL,
    currency_digits BIGINT NOT NULL,
    billing_date    BIGINT NOT NULL,
    due_at          BIGINT NOT NULL,
    period_start    BIGINT NOT NULL,
    period_end      BIGINT NOT NULL,
    lines           TEXT    NOT NULL,
    subtotal        BIGINT NOT NULL,
    tax_rate        TEXT    NOT NULL,
    tax             BIGINT NOT NULL,
    total           BIGINT NOT NULL,
    bill_to         TEXT    NOT NULL,
    account_name    TEXT    NOT NULL,
    hidden          BOOLEAN NOT NULL,
    payment_method  TEXT    NOT NULL DEFAULT '',
    payment_status  TEXT    NOT NULL,
    finalized_at    BIGINT,
    paid_at         BIGINT,
    hash            TEXT    NOT NULL DEFAULT '',
    -- What the invoice bills once only: a subscription's period ("renewal:sub_…:<start>"),
    -- an order. A renewal run twice finds its invoice already there.
    cycle_key       TEXT    NOT NULL UNIQUE,
    created_at      BIGINT NOT NULL,
    -- A number is given at finalization and only then, with the hash.
    CHECK ((number IS NULL) = (finalized_at IS NULL)),
    CHECK ((number IS NULL) = (hash = ''))
);
CREATE INDEX invoices_account ON invoices (account_id, billing_date, id);
CREATE INDEX invoices_open ON invoices (account_id) WHERE status = 'open';

-- Postpaid usage billed so far per month and rated line: a later invoice bills only the
-- difference, as a labelled late-usage adjustment.
CREATE TABLE billed_usage (
    account_id   TEXT    NOT NULL REFERENCES accounts (id),
    ref          TEXT    NOT NULL,
    amount_minor BIGINT NOT NULL,
    PRIMARY KEY (account_id, ref)
);

CREATE TABLE orders (
    id              TEXT    PRIMARY KEY,
    account_id      TEXT    NOT NULL REFERENCES accounts (id),
    kind            TEXT    NOT NULL CHECK (kind IN ('subscribe', 'change', 'credits', 'renewal')),
    status          TEXT    NOT NULL CHECK (status IN ('requires_action', 'pending_payment', 'completed', 'failed')),
    invoice_id      TEXT    NOT NULL,
    payment_method  TEXT    NOT NULL DEFAULT '',
    amount          BIGINT NOT NULL,
    currency        TEXT    NOT NULL,
    request         TEXT    NOT NULL,
    action          TEXT    NOT NULL DEFAULT '',
    approve_url     TEXT    NOT NULL DEFAULT '',
    failure_code    TEXT    NOT NULL DEFAULT '',
    failure_message TEXT    NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    completed_at    BIGINT
);
CREATE INDEX orders_account ON orders (account_id, id);

-- A payment attempt is recorded before the gateway is called; its id is the gateway's
-- idempotency key, so a timeout is reconciled under the same key, never retried anew.
CREATE TABLE payments (
    id             TEXT    PRIMARY KEY,
    account_id     TEXT    NOT NULL REFERENCES accounts (id),
    invoice_id     TEXT    NOT NULL REFERENCES invoices (id),
    order_id       TEXT    NOT NULL,
    method_id      TEXT    NOT NULL,
    amount         BIGINT NOT NULL CHECK (amount > 0),
    currency       TEXT    NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('processing', 'succeeded', 'declined', 'requires_action', 'pending', 'unknown')),
    gateway        TEXT    NOT NULL,
    reference      TEXT    NOT NULL DEFAULT '',
    decline_code   TEXT    NOT NULL DEFAULT '',
    message        TEXT    NOT NULL DEFAULT '',
    otp_attempts   BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX payments_invoice ON payments (invoice_id, id);
-- At most one attempt per invoice is in flight.
CREATE UNIQUE INDEX payments_one_open ON payments (invoice_id) WHERE status IN ('processing', 'requires_action', 'pending', 'unknown');

-- Domain events of billing, written in the transaction of the change they report: the
-- outbox emails and webhooks are sent from.
CREATE TABLE billing_events (
    seq         BIGSERIAL PRIMARY KEY,
    id          TEXT    NOT NULL UNIQUE,
    account_id  TEXT    NOT NULL REFERENCES accounts (id),
    type        TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    data        TEXT    NOT NULL,
    occurred_at BIGINT NOT NULL
);
CREATE INDEX billing_events_account ON billing_events (account_id, seq);

-- +goose Down
DROP TABLE billing_events;
DROP TABLE payments;
DROP TABLE orders;
DROP TABLE billed_usage;
DROP TABLE invoices;
DROP TABLE invoice_counters;
DROP TABLE payment_methods;
DROP TABLE subscriptions;
DROP INDEX accounts_test_clock;
ALTER TABLE accounts DROP COLUMN subscription_status;
ALTER TABLE accounts DROP COLUMN contract;
ALTER TABLE accounts DROP COLUMN test_clock_id;
ALTER TABLE accounts DROP COLUMN tax_rate;
ALTER TABLE accounts DROP COLUMN auto_billing;
DROP TABLE test_clocks;
