-- The admin console's operators and their sessions (issue 8). An operator signs in with a
-- password, kept as an argon2id PHC string, and a TOTP code; the TOTP secret is kept as
-- it is, because checking a code needs it (docs/admin.md: protect the database).
-- totp_last_step is the time step of the last code accepted: it only grows, by a
-- statement that checks it is smaller, so a code is never accepted twice. failed_count
-- counts wrong passwords and codes since failed_since; reaching the limit sets
-- locked_until. Sessions store only the SHA-256 of their cookie secret; a session in the
-- totp stage is the short state between the password and the code, replaced by a new
-- active session, with a new id and secret, when the code is right. purge_after is when
-- a session can no longer be used.

-- +goose Up
CREATE TABLE admin_users (
    id             TEXT    PRIMARY KEY,
    email          TEXT    NOT NULL UNIQUE,
    name           TEXT    NOT NULL,
    password_hash  TEXT    NOT NULL,
    totp_secret    TEXT    NOT NULL,
    totp_last_step INTEGER NOT NULL DEFAULT 0,
    failed_count   INTEGER NOT NULL DEFAULT 0,
    failed_since   INTEGER,
    locked_until   INTEGER,
    created_at     INTEGER NOT NULL
);

CREATE TABLE admin_sessions (
    id           TEXT    PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES admin_users (id),
    stage        TEXT    NOT NULL CHECK (stage IN ('totp', 'active')),
    session_hash TEXT    NOT NULL UNIQUE,
    csrf_token   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    ended_at     INTEGER,
    purge_after  INTEGER NOT NULL
);
CREATE INDEX admin_sessions_user ON admin_sessions (user_id);
CREATE INDEX admin_sessions_purge ON admin_sessions (purge_after);

-- The console's lists of wire orders awaiting clearance and of declined payments read
-- these few rows of tables that only grow.
CREATE INDEX orders_pending_payment ON orders (id) WHERE status = 'pending_payment';
CREATE INDEX payments_declined ON payments (updated_at) WHERE status = 'declined';

-- +goose Down
DROP INDEX payments_declined;
DROP INDEX orders_pending_payment;
DROP TABLE admin_sessions;
DROP TABLE admin_users;
