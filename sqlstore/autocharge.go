package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/ledger"
)

// Auto-charge storage (package autocharge): each account's settings and state in
// auto_charges, read with the wallet's balance for the runner's passes, and decisions
// written by compare-and-set together with the events they emit.

// AutoChargeAccountsMax bounds one page of AutoChargeAccounts.
const AutoChargeAccountsMax = 1000

const autoChargeColumns = `c.account_id, c.enabled, c.threshold_credits, c.top_up_credits, c.attempt_id, c.attempt_at,
	c.attempt_credits, c.attempt_order, c.failures, c.last_order, c.last_outcome, c.last_failure_code,
	c.low_balance_notified, c.exhausted_notified, c.version, c.updated_at`

func scanAutoCharge(s scanner, extra ...any) (*billow.AutoCharge, error) {
	var (
		c         billow.AutoCharge
		attemptAt sql.NullInt64
		outcome   string
		updated   int64
	)
	dest := []any{&c.Account, &c.Enabled, &c.ThresholdCredits, &c.TopUpCredits, &c.Attempt, &attemptAt,
		&c.AttemptCredits, &c.AttemptOrder, &c.Failures, &c.LastOrder, &outcome, &c.LastFailureCode,
		&c.LowBalanceNotified, &c.ExhaustedNotified, &c.Version, &updated}
	if err := s.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	if attemptAt.Valid {
		c.AttemptAt = billow.FromMicros(attemptAt.Int64)
	}
	c.LastOutcome = billow.AutoChargeOutcome(outcome)
	c.InFlight = c.Attempt != ""
	c.UpdatedAt = billow.FromMicros(updated)
	return &c, nil
}

// AutoCharge returns an account's auto-charge.
//
// Errors: not_found when the account never set one.
func (db *DB) AutoCharge(ctx context.Context, accountID string) (*billow.AutoCharge, error) {
	c, err := scanAutoCharge(db.read.QueryRowContext(ctx, `SELECT `+autoChargeColumns+` FROM auto_charges c WHERE c.account_id = $1`, accountID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, billow.NotFound("auto-charge of account", accountID)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: auto-charge: %w", err)
	}
	return c, nil
}

// SetAutoCharge stores an account's settings, keeping the state (an attempt in flight
// goes on). Saving resumes an auto-charge paused by failures: their count starts again.
// The caller has checked the settings against the account (autocharge.Service.Set).
//
// Errors: validation_failed.
func (db *DB) SetAutoCharge(ctx context.Context, accountID string, s billow.AutoChargeSettings) (*billow.AutoCharge, error) {
	in := billow.SetAutoChargeInput{Enabled: s.Enabled, ThresholdCredits: s.ThresholdCredits, TopUpCredits: s.TopUpCredits}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	now := billow.TimeMicros(db.now())
	var out *billow.AutoCharge
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO auto_charges (account_id, enabled, threshold_credits, top_up_credits, version, created_at, updated_at)
			VALUES ($1, $2, $3, $4, 1, $5, $5)
			ON CONFLICT (account_id) DO UPDATE SET enabled = excluded.enabled, threshold_credits = excluded.threshold_credits,
				top_up_credits = excluded.top_up_credits, failures = 0, version = auto_charges.version + 1, updated_at = excluded.updated_at`,
			accountID, s.Enabled, s.ThresholdCredits, s.TopUpCredits, now); err != nil {
			return err
		}
		var err error
		out, err = scanAutoCharge(tx.QueryRowContext(ctx, `SELECT `+autoChargeColumns+` FROM auto_charges c WHERE c.account_id = $1`, accountID))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: set auto-charge: %w", err)
	}
	return out, nil
}

// AutoChargeAccounts returns up to limit accounts with auto-charge settings, in id order
// after the given id ("" for the first), each with its wallet's balance as Wallet counts
// it (the grants with credits left that have not expired, plus the overdraft account) and
// its test clock. The balances are summed in the query: one round trip for a page, not
// one wallet read per account.
//
// Errors: validation_failed (limit).
func (db *DB) AutoChargeAccounts(ctx context.Context, after string, limit int) ([]*billow.AutoChargeAccount, error) {
	if limit < 1 || limit > AutoChargeAccountsMax {
		return nil, billow.FieldErrorf(billow.CodeValidationFailed, "limit", "must be between 1 and %d", AutoChargeAccountsMax)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+autoChargeColumns+`, COALESCE(a.test_clock_id, ''),
			CAST(COALESCE((SELECT SUM(l.balance_ucr) FROM grants g JOIN ledger_accounts l ON l.name = CAST($4 AS TEXT) || g.id
				WHERE g.account_id = c.account_id AND l.balance_ucr > 0 AND (g.expires_at IS NULL OR g.expires_at > $3)), 0)
			+ COALESCE((SELECT o.balance_ucr FROM ledger_accounts o WHERE o.name = CAST($5 AS TEXT) || c.account_id), 0) AS BIGINT)
		FROM auto_charges c JOIN accounts a ON a.id = c.account_id
		WHERE c.account_id > $1 ORDER BY c.account_id LIMIT $2`,
		after, limit, billow.TimeMicros(db.now()), ledger.GrantAccount(""), ledger.OverdraftAccount(""))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: auto-charge accounts: %w", err)
	}
	defer rows.Close()
	out := []*billow.AutoChargeAccount{}
	for rows.Next() {
		var acc billow.AutoChargeAccount
		c, err := scanAutoCharge(rows, &acc.TestClock, &acc.BalanceUcr)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: auto-charge accounts: %w", err)
		}
		acc.AutoCharge = *c
		out = append(out, &acc)
	}
	return out, rows.Err()
}

// WriteAutoCharge stores a decision and its events in one transaction if the stored row
// is still as the decision read it (AutoChargeWrite says how that is checked), and
// reports whether it was stored. Not stored, nothing was written: another process decided
// first, and the next pass reads again.
func (db *DB) WriteAutoCharge(ctx context.Context, w billow.AutoChargeWrite) (bool, error) {
	if (w.ExpectAttempt == "") == (w.ExpectVersion == 0) {
		return false, fmt.Errorf("sqlstore: auto-charge write for %s names neither or both of a version and an attempt", w.Account)
	}
	st := w.State
	attemptAt := sql.NullInt64{Int64: billow.TimeMicros(st.AttemptAt), Valid: !st.AttemptAt.IsZero()}
	now := db.now()
	written := false
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var res sql.Result
		var err error
		if w.ExpectAttempt != "" {
			res, err = tx.ExecContext(ctx, `UPDATE auto_charges SET attempt_id = $3, attempt_at = $4, attempt_credits = $5,
				attempt_order = $6, failures = $7, last_order = $8, last_outcome = $9, last_failure_code = $10,
				version = version + 1, updated_at = $11
				WHERE account_id = $1 AND attempt_id = $2`,
				w.Account, w.ExpectAttempt, st.Attempt, attemptAt, st.AttemptCredits, st.AttemptOrder, st.Failures,
				st.LastOrder, string(st.LastOutcome), st.LastFailureCode, billow.TimeMicros(now))
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE auto_charges SET attempt_id = $3, attempt_at = $4, attempt_credits = $5,
				attempt_order = $6, failures = $7, last_order = $8, last_outcome = $9, last_failure_code = $10,
				low_balance_notified = $11, exhausted_notified = $12, version = version + 1, updated_at = $13
				WHERE account_id = $1 AND version = $2`,
				w.Account, w.ExpectVersion, st.Attempt, attemptAt, st.AttemptCredits, st.AttemptOrder, st.Failures,
				st.LastOrder, string(st.LastOutcome), st.LastFailureCode, st.LowBalanceNotified, st.ExhaustedNotified,
				billow.TimeMicros(now))
		}
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil || n == 0 {
			return err
		}
		written = true
		// The events go to the billing outbox as the billing service writes them.
		return db.writeBilling(ctx, tx, &billow.BillingWrite{Events: w.Events}, now)
	})
	if err != nil {
		return false, fmt.Errorf("sqlstore: write auto-charge of %s: %w", w.Account, err)
	}
	return written, nil
}
