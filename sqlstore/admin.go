package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/billowhq/billow"
)

// The admin console's operators, their sign-in state and sessions (migration
// 00018_admin.sql), and the operator-wide reads of its pages that no other part of
// Billow needs. The rules of sign-in (limits, stages) are the root package's
// (admin_user.go); hashing passwords and checking TOTP codes are package admin's.

// adminTouchInterval is how stale a session's last_seen_at may get before a request
// writes it again: the idle expiry is kept to within a minute, and a page does not cost a
// write per request.
const adminTouchInterval = time.Minute

// AdminListMax bounds every operator-wide list of this file.
const AdminListMax = 1000

const adminUserColumns = `id, email, name, password_hash, totp_secret, totp_last_step, failed_count, failed_since,
	locked_until, created_at`

const adminSessionColumns = `id, user_id, stage, csrf_token, created_at, last_seen_at, expires_at`

// CreateAdminUser stores a new operator; it sets u.ID and u.CreatedAt. The caller has
// hashed the password and made the TOTP secret (package admin).
//
// Errors: email_taken.
func (db *DB) CreateAdminUser(ctx context.Context, u *billow.AdminUser) error {
	if u.Email == "" || u.PasswordHash == "" || u.TOTPSecret == "" {
		return errors.New("sqlstore: an operator needs an email, a password hash and a TOTP secret")
	}
	now := db.now()
	u.ID, u.CreatedAt = billow.NewID(billow.PrefixAdminUser, now), now
	u.Email = strings.ToLower(u.Email)
	_, err := db.write.ExecContext(ctx, `INSERT INTO admin_users (id, email, name, password_hash, totp_secret, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, u.ID, u.Email, u.Name, u.PasswordHash, u.TOTPSecret, billow.TimeMicros(now))
	if isUniqueViolation(err) {
		return billow.FieldErrorf(billow.CodeEmailTaken, "email", "there is an operator with the email %s already", u.Email)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: create operator: %w", err)
	}
	return nil
}

// AdminUser returns an operator by id.
//
// Errors: not_found.
func (db *DB) AdminUser(ctx context.Context, id string) (*billow.AdminUser, error) {
	return adminUserWhere(ctx, db.read, `id = $1`, id)
}

// AdminUserByEmail returns the operator who signs in with email, whatever its case.
//
// Errors: not_found.
func (db *DB) AdminUserByEmail(ctx context.Context, email string) (*billow.AdminUser, error) {
	return adminUserWhere(ctx, db.read, `email = $1`, strings.ToLower(strings.TrimSpace(email)))
}

// RecordAdminLoginFailure counts a wrong password or code of the operator and returns the
// operator as it now stands: the count starts again when the last window
// (billow.AdminLoginFailureWindow) is over, and reaching billow.AdminLoginFailuresMax
// locks the operator out for billow.AdminLockoutDuration. Concurrent failures are
// counted one by one (the row is locked for the update).
//
// Errors: not_found.
func (db *DB) RecordAdminLoginFailure(ctx context.Context, userID string) (*billow.AdminUser, error) {
	var out *billow.AdminUser
	err := db.tx(ctx, func(tx *sql.Tx) error {
		u, err := adminUserWhere(ctx, tx, `id = $1`+db.forUpdate(), userID)
		if err != nil {
			return err
		}
		now := db.now()
		if u.FailedSince == nil || now.Sub(*u.FailedSince) >= billow.AdminLoginFailureWindow {
			u.FailedCount, u.FailedSince = 0, &now
		}
		u.FailedCount++
		if u.FailedCount >= billow.AdminLoginFailuresMax {
			// Locked: the count starts afresh after the lockout.
			until := now.Add(billow.AdminLockoutDuration)
			u.LockedUntil, u.FailedCount, u.FailedSince = &until, 0, nil
		}
		_, err = tx.ExecContext(ctx, `UPDATE admin_users SET failed_count = $2, failed_since = $3, locked_until = $4 WHERE id = $1`,
			u.ID, u.FailedCount, optMicros(u.FailedSince), optMicros(u.LockedUntil))
		out = u
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// StartAdminLogin records a right password: it returns a session in the TOTP stage, which
// may only send a code, for billow.AdminLoginPendingTTL, with its cookie secret. Only the
// secret's hash is stored.
func (db *DB) StartAdminLogin(ctx context.Context, userID string) (*billow.AdminSession, string, error) {
	var out *billow.AdminSession
	var secret string
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		out, secret, err = db.insertAdminSession(ctx, tx, userID, billow.AdminStageTOTP, billow.AdminLoginPendingTTL)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return out, secret, nil
}

// CompleteAdminLogin signs in after a right TOTP code of time step totpStep: in one
// transaction it records the step as used (a code of that step or an earlier one is
// refused from now on), clears the operator's failures, deletes the TOTP-stage session
// pendingID and starts a new active session, with a new id, secret and CSRF token, for
// billow.AdminSessionTTL.
//
// Errors: unauthorized (the pending session is gone, ended or expired), admin_locked,
// admin_totp_replayed.
func (db *DB) CompleteAdminLogin(ctx context.Context, pendingID string, totpStep int64) (*billow.AdminSession, string, error) {
	gone := billow.Errorf(billow.KindUnauthorized, billow.CodeUnauthorized, "the sign-in has expired; start again")
	var out *billow.AdminSession
	var secret string
	err := db.tx(ctx, func(tx *sql.Tx) error {
		now := db.now()
		pending, err := adminSessionWhere(ctx, tx, `id = $1 AND ended_at IS NULL`+db.forUpdate(), pendingID)
		if billow.ErrorCode(err) == billow.CodeNotFound {
			return gone
		}
		if err != nil {
			return err
		}
		if pending.Stage != billow.AdminStageTOTP || !now.Before(pending.ExpiresAt) {
			return gone
		}
		u, err := adminUserWhere(ctx, tx, `id = $1`+db.forUpdate(), pending.UserID)
		if err != nil {
			return err
		}
		if u.Locked(now) {
			return adminLocked(u)
		}
		if totpStep <= u.TOTPLastStep {
			return billow.Errorf(billow.KindUnauthorized, billow.CodeAdminTOTPReplayed, "this code was used already; wait for the next one")
		}
		// The step only grows: the condition repeats the check against a concurrent
		// sign-in on PostgreSQL, and the row count says who won.
		res, err := tx.ExecContext(ctx, `UPDATE admin_users SET totp_last_step = $2, failed_count = 0, failed_since = NULL
			WHERE id = $1 AND totp_last_step < $2`, u.ID, totpStep)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return billow.Errorf(billow.KindUnauthorized, billow.CodeAdminTOTPReplayed, "this code was used already; wait for the next one")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM admin_sessions WHERE id = $1`, pending.ID); err != nil {
			return err
		}
		out, secret, err = db.insertAdminSession(ctx, tx, u.ID, billow.AdminStageActive, billow.AdminSessionTTL)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return out, secret, nil
}

// adminLocked is the refusal of a locked-out operator, saying until when.
func adminLocked(u *billow.AdminUser) error {
	return billow.Errorf(billow.KindUnauthorized, billow.CodeAdminLocked,
		"too many failed sign-in attempts: this operator is locked until %s", u.LockedUntil.UTC().Format("15:04 MST"))
}

func (db *DB) insertAdminSession(ctx context.Context, tx *sql.Tx, userID string, stage billow.AdminSessionStage, ttl time.Duration) (*billow.AdminSession, string, error) {
	now := db.now()
	secret := billow.NewPortalToken()
	s := &billow.AdminSession{ID: billow.NewID(billow.PrefixAdminSession, now), UserID: userID, Stage: stage,
		CSRFToken: billow.NewPortalToken(), CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(ttl)}
	_, err := tx.ExecContext(ctx, `INSERT INTO admin_sessions (id, user_id, stage, session_hash, csrf_token, created_at,
			last_seen_at, expires_at, purge_after)
		VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $7)`,
		s.ID, userID, string(stage), billow.HashSecret(secret), s.CSRFToken, billow.TimeMicros(now), billow.TimeMicros(s.ExpiresAt))
	if err != nil {
		return nil, "", fmt.Errorf("sqlstore: start admin session: %w", err)
	}
	return s, secret, nil
}

// AdminSession returns the live session a cookie secret belongs to, in either stage, and
// records that it was used now (at most once an adminTouchInterval).
//
// Errors: unauthorized (no such session, ended, idle longer than
// billow.AdminSessionIdleTTL, or past its absolute expiry).
func (db *DB) AdminSession(ctx context.Context, secret string) (*billow.AdminSession, error) {
	gone := billow.Errorf(billow.KindUnauthorized, billow.CodeUnauthorized, "the admin session has ended")
	if secret == "" {
		return nil, gone
	}
	s, err := adminSessionWhere(ctx, db.read, `session_hash = $1 AND ended_at IS NULL`, billow.HashSecret(secret))
	if billow.ErrorCode(err) == billow.CodeNotFound {
		return nil, gone
	}
	if err != nil {
		return nil, err
	}
	now := db.now()
	if !now.Before(s.ExpiresAt) || !now.Before(s.IdleUntil()) {
		return nil, gone
	}
	if s.Stage == billow.AdminStageActive && now.Sub(s.LastSeenAt) >= adminTouchInterval {
		// The idle check is repeated in the statement: a session that timed out between
		// the read and this write stays ended.
		res, err := db.write.ExecContext(ctx, `UPDATE admin_sessions SET last_seen_at = $2
			WHERE id = $1 AND ended_at IS NULL AND last_seen_at > $3`,
			s.ID, billow.TimeMicros(now), billow.TimeMicros(now.Add(-billow.AdminSessionIdleTTL)))
		if err != nil {
			return nil, fmt.Errorf("sqlstore: touch admin session: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return nil, fmt.Errorf("sqlstore: touch admin session: %w", err)
		} else if n != 1 {
			return nil, gone
		}
		s.LastSeenAt = now
	}
	return s, nil
}

// EndAdminSession ends a session (sign out, or a sign-in given up). Ending an ended
// session changes nothing.
func (db *DB) EndAdminSession(ctx context.Context, id string) error {
	now := billow.TimeMicros(db.now())
	_, err := db.write.ExecContext(ctx, `UPDATE admin_sessions SET ended_at = $2, purge_after = $2 WHERE id = $1 AND ended_at IS NULL`, id, now)
	if err != nil {
		return fmt.Errorf("sqlstore: end admin session: %w", err)
	}
	return nil
}

// PurgeAdminSessions deletes up to limit sessions that can no longer be used (past their
// absolute expiry, or ended) and returns how many it deleted.
func (db *DB) PurgeAdminSessions(ctx context.Context, limit int) (int, error) {
	res, err := db.write.ExecContext(ctx, `DELETE FROM admin_sessions WHERE id IN (
		SELECT id FROM admin_sessions WHERE purge_after <= $1 ORDER BY purge_after LIMIT $2)`, billow.TimeMicros(db.now()), limit)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: purge admin sessions: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func adminUserWhere(ctx context.Context, q queryRower, where string, args ...any) (*billow.AdminUser, error) {
	var (
		u                      billow.AdminUser
		created                int64
		failedSince, lockedTil sql.NullInt64
	)
	err := q.QueryRowContext(ctx, `SELECT `+adminUserColumns+` FROM admin_users WHERE `+where, args...).
		Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &u.TOTPSecret, &u.TOTPLastStep, &u.FailedCount, &failedSince,
			&lockedTil, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, billow.NotFound("operator", "")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: operator: %w", err)
	}
	u.FailedSince, u.LockedUntil, u.CreatedAt = optTime(failedSince), optTime(lockedTil), billow.FromMicros(created)
	return &u, nil
}

func adminSessionWhere(ctx context.Context, q queryRower, where string, args ...any) (*billow.AdminSession, error) {
	var (
		s                      billow.AdminSession
		stage                  string
		created, seen, expires int64
	)
	err := q.QueryRowContext(ctx, `SELECT `+adminSessionColumns+` FROM admin_sessions WHERE `+where, args...).
		Scan(&s.ID, &s.UserID, &stage, &s.CSRFToken, &created, &seen, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, billow.NotFound("admin session", "")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: admin session: %w", err)
	}
	s.Stage = billow.AdminSessionStage(stage)
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = billow.FromMicros(created), billow.FromMicros(seen), billow.FromMicros(expires)
	return &s, nil
}

// --- the console's operator-wide reads ---

// AccountOrder is an order with the names of its account, as the console lists it.
type AccountOrder struct {
	Order             *billow.Order
	AccountName       string
	AccountExternalID string
	// CurrencyDigits are those of the order's invoice, to write its amount.
	CurrencyDigits int64
	InvoiceNumber  string
}

// PendingWireOrders returns up to limit (at most AdminListMax) orders paid by wire
// transfer that wait for the operator to record the money's arrival
// (billing.Service.ClearPayment), the longest waiting first.
func (db *DB) PendingWireOrders(ctx context.Context, limit int) ([]AccountOrder, error) {
	return queryAll(ctx, db.read, "pending wire orders", func(s scanner) (AccountOrder, error) {
		var ao AccountOrder
		o, err := scanOrder(scanAlso{s, []any{&ao.AccountName, &ao.AccountExternalID, &ao.CurrencyDigits, &ao.InvoiceNumber}})
		ao.Order = o
		return ao, err
	}, `SELECT `+prefixed("o.", orderColumns)+`, a.name, a.external_id, i.currency_digits, i.number FROM orders o
		JOIN payment_methods m ON m.id = o.payment_method JOIN accounts a ON a.id = o.account_id
		JOIN invoices i ON i.id = o.invoice_id
		WHERE o.status = $1 AND m.kind = $2 ORDER BY o.id LIMIT $3`,
		string(billow.OrderPendingPayment), string(billow.MethodWire), clampAdminLimit(limit))
}

// FailedPayment is a declined payment attempt with what the console shows beside it.
type FailedPayment struct {
	Payment           *billow.Payment
	AccountName       string
	AccountExternalID string
	InvoiceNumber     string // "" for an invoice not finalized
	InvoiceStatus     billow.InvoiceStatus
	CurrencyDigits    int64
	// MethodLabel names the payment method as invoices do ("Visa •••• 0002").
	MethodLabel string
}

// FailedPayments returns up to limit (at most AdminListMax) declined payment attempts,
// the latest first, with their accounts and invoices: whether each invoice was paid
// since is its status.
func (db *DB) FailedPayments(ctx context.Context, limit int) ([]FailedPayment, error) {
	return queryAll(ctx, db.read, "failed payments", func(s scanner) (FailedPayment, error) {
		var (
			fp                  FailedPayment
			status, kind        string
			brand, last4, email sql.NullString
		)
		p, err := scanPayment(scanAlso{s, []any{&fp.AccountName, &fp.AccountExternalID, &fp.InvoiceNumber, &status, &fp.CurrencyDigits, &kind, &brand, &last4, &email}})
		if err != nil {
			return fp, err
		}
		fp.Payment, fp.InvoiceStatus = p, billow.InvoiceStatus(status)
		if kind != "" {
			m := billow.PaymentMethod{Kind: billow.PaymentMethodKind(kind), Brand: brand.String, Last4: last4.String, PayPalEmail: email.String}
			fp.MethodLabel = m.Label()
		}
		return fp, nil
	}, `SELECT `+prefixed("p.", paymentColumns)+`, a.name, a.external_id, i.number, i.status, i.currency_digits,
			COALESCE(m.kind, ''), m.brand, m.last4, m.paypal_email
		FROM payments p JOIN accounts a ON a.id = p.account_id JOIN invoices i ON i.id = p.invoice_id
		LEFT JOIN payment_methods m ON m.id = p.method_id
		WHERE p.status = $1 ORDER BY p.updated_at DESC, p.id DESC LIMIT $2`,
		string(billow.AttemptDeclined), clampAdminLimit(limit))
}

func clampAdminLimit(limit int) int {
	if limit <= 0 || limit > AdminListMax {
		return AdminListMax
	}
	return limit
}
