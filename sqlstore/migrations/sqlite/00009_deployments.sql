-- Deployment approval (seed 000, Deployment Flow): a member asks for an app to be
-- deployed; an owner or admin approves or rejects the request once. Rows are never
-- deleted: who asked, who decided and why stay listed.

-- +goose Up
CREATE TABLE deployments (
    id           TEXT    PRIMARY KEY,
    account_id   TEXT    NOT NULL REFERENCES accounts (id),
    app_id       TEXT    NOT NULL,
    -- Member ids without a foreign key: a member may be removed later, and the record of
    -- what they asked or decided stays.
    requested_by TEXT    NOT NULL,
    note         TEXT    NOT NULL DEFAULT '',
    status       TEXT    NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    decided_by   TEXT,
    reason       TEXT    NOT NULL DEFAULT '',
    requested_at INTEGER NOT NULL,
    decided_at   INTEGER,
    -- The app belongs to the same account: the database holds the tenancy line too.
    FOREIGN KEY (account_id, app_id) REFERENCES apps (account_id, id),
    -- A decision names who made it and when; a pending request has neither.
    CHECK ((status = 'pending') = (decided_by IS NULL AND decided_at IS NULL))
);
CREATE INDEX deployments_account ON deployments (account_id, id);
CREATE INDEX deployments_account_app ON deployments (account_id, app_id, id);

-- +goose Down
DROP TABLE deployments;
