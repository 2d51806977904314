-- Billing portal sessions (issue 8). The platform's backend asks for a one-time link for
-- a member of an account; opening the link turns the row into a session held in a
-- cookie. Only SHA-256 hashes of the link token and of the cookie secret are stored: a
-- copy of the database opens no portal. A link opens once (entered_at is set in the
-- same statement that checks it is NULL). The session's role is read from members on
-- every request, so there is no foreign key to members: removing a member, which
-- deletes its row, ends its sessions instead of being refused. purge_after is when the
-- row can no longer be used: the link's expiry, then the session's absolute expiry, then
-- the moment it was ended.

-- +goose Up
CREATE TABLE portal_sessions (
    id              TEXT    PRIMARY KEY,
    account_id      TEXT    NOT NULL REFERENCES accounts (id),
    member_id       TEXT    NOT NULL,
    -- The role when the link was made, for the record; the session uses the current one.
    role_at_start   TEXT    NOT NULL,
    return_url      TEXT    NOT NULL DEFAULT '',
    link_hash       TEXT    NOT NULL UNIQUE,
    link_expires_at INTEGER NOT NULL,
    session_hash    TEXT    UNIQUE,
    csrf_token      TEXT,
    entered_at      INTEGER,
    last_seen_at    INTEGER,
    expires_at      INTEGER,
    ended_at        INTEGER,
    created_at      INTEGER NOT NULL,
    purge_after     INTEGER NOT NULL,
    -- An entered session has its secret, its CSRF token and its times; a waiting link
    -- has none of them.
    CHECK ((entered_at IS NULL) = (session_hash IS NULL AND csrf_token IS NULL AND last_seen_at IS NULL AND expires_at IS NULL))
);
CREATE INDEX portal_sessions_purge ON portal_sessions (purge_after);

-- +goose Down
DROP TABLE portal_sessions;
