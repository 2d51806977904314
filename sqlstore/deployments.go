package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/billowhq/billow"
)

const deploymentColumns = `id, account_id, app_id, requested_by, note, status, decided_by, reason, requested_at, decided_at`

// RequestDeployment records a member's request to deploy an app of the account, pending
// until an owner or admin decides it. Any member may ask.
//
// Errors: validation_failed, unknown_app, unknown_member.
func (db *DB) RequestDeployment(ctx context.Context, accountID string, in billow.RequestDeploymentInput) (*billow.Deployment, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	now := db.now()
	d := &billow.Deployment{ID: billow.NewID(billow.PrefixDeployment, now), AccountID: accountID, Note: in.Note,
		Status: billow.DeploymentPending, RequestedAt: now}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		app, err := appByRef(ctx, tx, accountID, in.App)
		if billow.ErrorCode(err) == billow.CodeNotFound {
			return billow.FieldErrorf(billow.CodeUnknownApp, "app", "this account has no app %q", in.App)
		}
		if err != nil {
			return err
		}
		m, err := memberByRef(ctx, tx, accountID, in.RequestedBy)
		if billow.ErrorCode(err) == billow.CodeNotFound {
			return unknownMember("requested_by", in.RequestedBy)
		}
		if err != nil {
			return err
		}
		d.AppID, d.RequestedBy = app.ID, m.ID
		_, err = tx.ExecContext(ctx, `INSERT INTO deployments (id, account_id, app_id, requested_by, note, status, reason, requested_at)
			VALUES ($1, $2, $3, $4, $5, $6, '', $7)`,
			d.ID, accountID, d.AppID, d.RequestedBy, d.Note, string(d.Status), billow.TimeMicros(now))
		return err
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Deployment returns a deployment request of the account by id.
//
// Errors: not_found.
func (db *DB) Deployment(ctx context.Context, accountID, id string) (*billow.Deployment, error) {
	return deploymentByID(ctx, db.read, accountID, id)
}

// ListDeployments lists the deployment requests of an account, newest first, of one
// status or one app when the filter says so.
//
// Errors: validation_failed, unknown_app.
func (db *DB) ListDeployments(ctx context.Context, accountID string, f billow.DeploymentFilter, page billow.PageInput) (billow.Page[*billow.Deployment], error) {
	if err := f.Validate(); err != nil {
		return billow.Page[*billow.Deployment]{}, err
	}
	page.Normalize()
	var appID string
	if f.App != "" {
		app, err := appByRef(ctx, db.read, accountID, f.App)
		if billow.ErrorCode(err) == billow.CodeNotFound {
			return billow.Page[*billow.Deployment]{}, billow.FieldErrorf(billow.CodeUnknownApp, "app", "this account has no app %q", f.App)
		}
		if err != nil {
			return billow.Page[*billow.Deployment]{}, err
		}
		appID = app.ID
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+deploymentColumns+` FROM deployments
		WHERE account_id = $1 AND ($2 = '' OR id < $2) AND ($3 = '' OR status = $3) AND ($4 = '' OR app_id = $4)
		ORDER BY id DESC LIMIT $5`,
		accountID, page.StartingAfter, string(f.Status), appID, page.Limit+1)
	if err != nil {
		return billow.Page[*billow.Deployment]{}, fmt.Errorf("sqlstore: list deployments: %w", err)
	}
	return collectPage(rows, page.Limit, scanDeployment)
}

// ApproveDeployment approves a pending deployment request. The approver must be an owner
// or admin of the account, and the account's wallet must allow a deployment now
// (billow.CanDeploy). A request is decided once: of concurrent decisions one wins and the
// others get deployment_already_decided.
//
// Errors: validation_failed, not_found (the request), unknown_member,
// member_role_not_allowed, deployment_already_decided, credits_exhausted.
func (db *DB) ApproveDeployment(ctx context.Context, accountID, id string, in billow.ApproveDeploymentInput) (*billow.Deployment, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	return db.decideDeployment(ctx, accountID, id, billow.DeploymentApproved, in.DecidedBy, in.Reason)
}

// RejectDeployment rejects a pending deployment request with a reason. The member
// rejecting must be an owner or admin of the account; the wallet does not matter.
//
// Errors: validation_failed, not_found (the request), unknown_member,
// member_role_not_allowed, deployment_already_decided.
func (db *DB) RejectDeployment(ctx context.Context, accountID, id string, in billow.RejectDeploymentInput) (*billow.Deployment, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	return db.decideDeployment(ctx, accountID, id, billow.DeploymentRejected, in.DecidedBy, in.Reason)
}

// decideDeployment moves a pending request to status. The UPDATE only matches a request
// still pending, so that whichever decision commits first is the only one: on PostgreSQL
// a concurrent UPDATE of the same row waits for the first to commit and then no longer
// matches; on SQLite the one writer connection serializes them.
func (db *DB) decideDeployment(ctx context.Context, accountID, id string, status billow.DeploymentStatus, decidedBy, reason string) (*billow.Deployment, error) {
	// Answers that need no write come first, so that a decision on an unknown or decided
	// request, or by a member who may not decide, is told that rather than what the
	// wallet holds.
	d, err := deploymentByID(ctx, db.read, accountID, id)
	if err != nil {
		return nil, err
	}
	if d.Status != billow.DeploymentPending {
		return nil, alreadyDecided(d)
	}
	if _, err := decidingMember(ctx, db.read, accountID, decidedBy); err != nil {
		return nil, err
	}
	if status == billow.DeploymentApproved {
		// The wallet is read before the write transaction begins: Wallet reads through
		// its own connection, and on PostgreSQL transactions each holding a connection
		// of the pool while waiting for another would starve it under concurrent
		// approvals. Approval reserves no credits, so a spend committed between this read
		// and the decision is no different from one committed just after it.
		w, err := db.Wallet(ctx, accountID)
		if err != nil {
			return nil, err
		}
		if err := billow.CanDeploy(w, db.now()); err != nil {
			return nil, err
		}
	}
	now := db.now()
	err = db.tx(ctx, func(tx *sql.Tx) error {
		// Again, in the transaction: the member may have been removed or lost the role since.
		m, err := decidingMember(ctx, tx, accountID, decidedBy)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE deployments SET status = $3, decided_by = $4, reason = $5, decided_at = $6
			WHERE account_id = $1 AND id = $2 AND status = 'pending'`,
			accountID, d.ID, string(status), m.ID, reason, billow.TimeMicros(now))
		if err != nil {
			return fmt.Errorf("sqlstore: decide deployment: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlstore: decide deployment: %w", err)
		}
		if n == 0 { // another decision committed since the read above
			current, err := deploymentByID(ctx, tx, accountID, d.ID)
			if err != nil {
				return err
			}
			return alreadyDecided(current)
		}
		d.Status, d.DecidedBy, d.Reason, d.DecidedAt = status, m.ID, reason, &now
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// decidingMember returns the member a decision names, who must be an owner or admin of
// the account.
func decidingMember(ctx context.Context, q queryRower, accountID, ref string) (*billow.Member, error) {
	m, err := memberByRef(ctx, q, accountID, ref)
	if billow.ErrorCode(err) == billow.CodeNotFound {
		return nil, unknownMember("decided_by", ref)
	}
	if err != nil {
		return nil, err
	}
	if !m.Role.CanDecideDeployments() {
		return nil, &billow.Error{Kind: billow.KindInvalid, Code: billow.CodeMemberRoleNotAllowed,
			Message: fmt.Sprintf("member %q has the role %s; only an owner or admin may approve or reject deployments", ref, m.Role),
			Fields:  []billow.FieldError{{Field: "decided_by", Message: "must be an owner or admin of the account"}}}
	}
	return m, nil
}

func deploymentByID(ctx context.Context, q queryRower, accountID, id string) (*billow.Deployment, error) {
	d, err := scanDeployment(q.QueryRowContext(ctx, `SELECT `+deploymentColumns+` FROM deployments WHERE account_id = $1 AND id = $2`, accountID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, billow.NotFound("deployment", id)
	}
	return d, err
}

func scanDeployment(s scanner) (*billow.Deployment, error) {
	var (
		d         billow.Deployment
		status    string
		decidedBy sql.NullString
		requested int64
		decided   sql.NullInt64
	)
	if err := s.Scan(&d.ID, &d.AccountID, &d.AppID, &d.RequestedBy, &d.Note, &status, &decidedBy, &d.Reason, &requested, &decided); err != nil {
		return nil, err
	}
	d.Status, d.DecidedBy, d.RequestedAt = billow.DeploymentStatus(status), decidedBy.String, billow.FromMicros(requested)
	if decided.Valid {
		t := billow.FromMicros(decided.Int64)
		d.DecidedAt = &t
	}
	return &d, nil
}

func alreadyDecided(d *billow.Deployment) error {
	return billow.Errorf(billow.KindConflict, billow.CodeDeploymentDecided, "deployment %s was already %s by %s", d.ID, d.Status, d.DecidedBy)
}

func unknownMember(field, ref string) error {
	return billow.FieldErrorf(billow.CodeUnknownMember, field, "this account has no member %q", ref)
}
