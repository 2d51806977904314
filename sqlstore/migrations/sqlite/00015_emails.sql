-- The outbox of emails (issue 7): one message per email and recipient, rendered when it
-- is queued, and its delivery log, one row per SMTP attempt. A message is made once per
-- dedupe key ("<event id>:<template>:<email>" for an email a billing event causes, derived
-- from the Idempotency-Key or the message id for one asked for by API), so a billing event
-- handled twice makes no second message. A worker claims a due message by setting it
-- sending with a lease token and the lease's end in next_attempt_at; only the token's
-- holder records the outcome, and a lease that runs out (its worker died) makes the
-- message due again. The body of a message that holds a secret (a one-time code, a reset
-- link) is wiped once it is sent or given up; nothing else ever holds it.

-- +goose Up
CREATE TABLE messages (
    id              TEXT    PRIMARY KEY,
    dedupe_key      TEXT    NOT NULL UNIQUE,
    account_id      TEXT    REFERENCES accounts (id),
    template        TEXT    NOT NULL,
    email_group     TEXT    NOT NULL CHECK (email_group IN ('product', 'pricing', 'credits')),
    locale          TEXT    NOT NULL,
    event_id        TEXT,
    invoice_id      TEXT,
    to_email        TEXT    NOT NULL,
    to_name         TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    body_html       TEXT    NOT NULL,
    body_text       TEXT    NOT NULL,
    secret          INTEGER NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_token     TEXT    NOT NULL DEFAULT '',
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
-- The delivery worker's scan: due messages only.
CREATE INDEX messages_due ON messages (next_attempt_at) WHERE status IN ('queued', 'sending');
CREATE INDEX messages_account ON messages (account_id, id);
-- Per-recipient rate limits: product emails queued, and emails sent, in a window.
CREATE INDEX messages_recipient ON messages (to_email, created_at);
CREATE INDEX messages_recipient_sent ON messages (to_email, sent_at) WHERE sent_at IS NOT NULL;

CREATE TABLE message_attempts (
    message_id   TEXT    NOT NULL REFERENCES messages (id),
    attempt      INTEGER NOT NULL,
    attempted_at INTEGER NOT NULL,
    outcome      TEXT    NOT NULL CHECK (outcome IN ('sent', 'retry', 'failed')),
    reply_code   INTEGER NOT NULL,
    reply_text   TEXT    NOT NULL,
    duration_us  INTEGER NOT NULL,
    PRIMARY KEY (message_id, attempt)
);

-- +goose Down
DROP TABLE message_attempts;
DROP TABLE messages;
