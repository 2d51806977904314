-- Foundation: catalogs, accounts, apps, members, API keys, idempotency keys.
-- Times are int64 microseconds UTC; ids are prefixed text.

-- +goose Up
CREATE TABLE catalog_versions (
    catalog    TEXT    NOT NULL,
    version    INTEGER NOT NULL CHECK (version >= 1),
    hash       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    source     BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (catalog, version)
);

CREATE TABLE accounts (
    id              TEXT    PRIMARY KEY,
    external_id     TEXT    NOT NULL UNIQUE,
    name            TEXT    NOT NULL,
    type            TEXT    NOT NULL CHECK (type IN ('standard', 'enterprise')),
    currency        TEXT    NOT NULL CHECK (length(currency) = 3),
    timezone        TEXT    NOT NULL,
    catalog         TEXT    NOT NULL,
    catalog_version INTEGER NOT NULL,
    plan            TEXT    NOT NULL DEFAULT '',
    billing_contact TEXT    NOT NULL,
    metadata        TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    FOREIGN KEY (catalog, catalog_version) REFERENCES catalog_versions (catalog, version)
);

CREATE TABLE apps (
    id            TEXT    PRIMARY KEY,
    account_id    TEXT    NOT NULL REFERENCES accounts (id),
    external_id   TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    parent_app_id TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (account_id, external_id),
    UNIQUE (account_id, id),
    -- A parent app belongs to the same account: the database holds the tenancy line too.
    FOREIGN KEY (account_id, parent_app_id) REFERENCES apps (account_id, id)
);

CREATE TABLE members (
    id          TEXT    PRIMARY KEY,
    account_id  TEXT    NOT NULL REFERENCES accounts (id),
    external_id TEXT,
    email       TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    role        TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'billing', 'developer')),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (account_id, email),
    UNIQUE (account_id, external_id)
);

CREATE TABLE api_keys (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    account_id  TEXT    REFERENCES accounts (id),
    secret_hash TEXT    NOT NULL UNIQUE,
    prefix      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

CREATE TABLE idempotency_keys (
    principal       TEXT    NOT NULL,
    key             TEXT    NOT NULL,
    request_hash    TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('in_progress', 'done')),
    response_status INTEGER NOT NULL DEFAULT 0,
    content_type    TEXT    NOT NULL DEFAULT '',
    response_body   BLOB,
    created_at      INTEGER NOT NULL,
    locked_until    INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE api_keys;
DROP TABLE members;
DROP TABLE apps;
DROP TABLE accounts;
DROP TABLE catalog_versions;
