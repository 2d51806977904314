package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/billowhq/billow"
)

// Billing storage: subscriptions, payment methods, invoices, orders, payments, test clocks
// and billing events. The billing service decides; the store reads and commits each
// decision whole in one transaction (WriteBilling), refusing a write made from a stale
// read, so that two processes never apply the same transition twice.

const invoiceNumberScope = "operator"

// InvoiceNumberFormat turns the gapless counter into an invoice number.
const InvoiceNumberFormat = "INV-%06d"

// --- test clocks ---

// CreateTestClock stores a new test clock.
func (db *DB) CreateTestClock(ctx context.Context, in billow.CreateTestClockInput) (*billow.TestClock, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	now := db.now()
	c := &billow.TestClock{ID: billow.NewID(billow.PrefixTestClock, now), Name: strings.TrimSpace(in.Name),
		FrozenTime: in.FrozenTime.UTC().Truncate(time.Microsecond), CreatedAt: now}
	_, err := db.write.ExecContext(ctx, `INSERT INTO test_clocks (id, name, frozen_time, created_at) VALUES ($1, $2, $3, $4)`,
		c.ID, c.Name, billow.TimeMicros(c.FrozenTime), billow.TimeMicros(now))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: create test clock: %w", err)
	}
	return c, nil
}

// TestClock returns a test clock.
func (db *DB) TestClock(ctx context.Context, id string) (*billow.TestClock, error) {
	var c billow.TestClock
	var frozen, created int64
	err := db.read.QueryRowContext(ctx, `SELECT id, name, frozen_time, created_at FROM test_clocks WHERE id = $1`, id).
		Scan(&c.ID, &c.Name, &frozen, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, billow.NotFound("test clock", id)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: test clock: %w", err)
	}
	c.FrozenTime, c.CreatedAt = billow.FromMicros(frozen), billow.FromMicros(created)
	return &c, nil
}

// SetTestClockTime moves a test clock to t, forward only.
//
// Errors: not_found, test_clock_backwards.
func (db *DB) SetTestClockTime(ctx context.Context, id string, t time.Time) (*billow.TestClock, error) {
	t = t.UTC().Truncate(time.Microsecond)
	res, err := db.write.ExecContext(ctx, `UPDATE test_clocks SET frozen_time = $2 WHERE id = $1 AND frozen_time <= $2`, id, billow.TimeMicros(t))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: advance test clock: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		c, err := db.TestClock(ctx, id)
		if err != nil {
			return nil, err
		}
		return nil, billow.FieldErrorf(billow.CodeTestClockBackwards, "frozen_time", "the test clock is at %s; it only moves forward", c.FrozenTime.Format(time.RFC3339))
	}
	return db.TestClock(ctx, id)
}

// TestClockAccounts returns the ids of the accounts on a test clock.
func (db *DB) TestClockAccounts(ctx context.Context, id string) ([]string, error) {
	return queryAll(ctx, db.read, "test clock accounts", scanString, `SELECT id FROM accounts WHERE test_clock_id = $1 ORDER BY id`, id)
}

func scanString(s scanner) (string, error) {
	var v string
	err := s.Scan(&v)
	return v, err
}

// --- subscriptions ---

const subscriptionColumns = `id, account_id, plan, interval, add_ons, seats, status, anchor_at, current_period_start,
	current_period_end, trial_end, cancel_at_period_end, pending_change, past_due_since, next_retry_at, retry_count,
	suspend_at, ended_at, created_at, updated_at, version`

func scanSubscription(s scanner) (*billow.Subscription, error) {
	var (
		sub                                              billow.Subscription
		addOns, seats, status                            string
		pending                                          sql.NullString
		anchor, start, end, created, updated             int64
		trialEnd, pastDue, nextRetry, suspendAt, endedAt sql.NullInt64
	)
	err := s.Scan(&sub.ID, &sub.Account, &sub.Plan, &sub.Interval, &addOns, &seats, &status, &anchor, &start, &end,
		&trialEnd, &sub.CancelAtPeriodEnd, &pending, &pastDue, &nextRetry, &sub.RetryCount, &suspendAt, &endedAt,
		&created, &updated, &sub.Version)
	if err != nil {
		return nil, err
	}
	sub.Status = billow.SubscriptionStatus(status)
	sub.StoredStatus = sub.Status
	sub.AnchorAt, sub.CurrentPeriodStart, sub.CurrentPeriodEnd = billow.FromMicros(anchor), billow.FromMicros(start), billow.FromMicros(end)
	sub.CreatedAt, sub.UpdatedAt = billow.FromMicros(created), billow.FromMicros(updated)
	sub.TrialEnd, sub.PastDueSince, sub.NextRetryAt = optTime(trialEnd), optTime(pastDue), optTime(nextRetry)
	sub.SuspendAt, sub.EndedAt = optTime(suspendAt), optTime(endedAt)
	if err := json.Unmarshal([]byte(addOns), &sub.AddOns); err != nil {
		return nil, fmt.Errorf("sqlstore: subscription %s add-ons: %w", sub.ID, err)
	}
	if err := json.Unmarshal([]byte(seats), &sub.Seats); err != nil {
		return nil, fmt.Errorf("sqlstore: subscription %s seats: %w", sub.ID, err)
	}
	if pending.Valid {
		sub.Pending = &billow.PendingChange{}
		if err := json.Unmarshal([]byte(pending.String), sub.Pending); err != nil {
			return nil, fmt.Errorf("sqlstore: subscription %s pending change: %w", sub.ID, err)
		}
	}
	return &sub, nil
}

func optTime(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := billow.FromMicros(v.Int64)
	return &t
}

func optMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: billow.TimeMicros(*t), Valid: true}
}

// Subscription returns a subscription by id.
func (db *DB) Subscription(ctx context.Context, id string) (*billow.Subscription, error) {
	sub, err := scanSubscription(db.read.QueryRowContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, billow.NotFound("subscription", id)
	}
	return sub, err
}

// LiveSubscription returns the account's subscription that has not ended.
//
// Errors: no_subscription (KindNotFound) when the account has none.
func (db *DB) LiveSubscription(ctx context.Context, accountID string) (*billow.Subscription, error) {
	sub, err := scanSubscription(db.read.QueryRowContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE account_id = $1 AND status NOT IN ('canceled', 'expired')`, accountID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, billow.Errorf(billow.KindNotFound, billow.CodeNoSubscription, "the account has no subscription")
	}
	return sub, err
}

// Subscriptions returns all of an account's subscriptions, newest first.
func (db *DB) Subscriptions(ctx context.Context, accountID string) ([]*billow.Subscription, error) {
	return queryAll(ctx, db.read, "subscriptions", scanSubscription, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE account_id = $1 ORDER BY id DESC`, accountID)
}

// DueSubscriptions returns up to limit ids of subscriptions with work due at or before
// now, oldest due first. Accounts on a test clock are left out: their clock moves them.
func (db *DB) DueSubscriptions(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return queryAll(ctx, db.read, "due subscriptions", scanString, `SELECT s.id FROM subscriptions s JOIN accounts a ON a.id = s.account_id
		WHERE s.next_action_at <= $1 AND a.test_clock_id IS NULL ORDER BY s.next_action_at, s.id LIMIT $2`,
		billow.TimeMicros(now), limit)
}

// PostponeSubscription moves a subscription's next action to until, if it is due sooner:
// a subscription whose pass failed waits before the next try, and a later time another
// process wrote is kept.
func (db *DB) PostponeSubscription(ctx context.Context, id string, until time.Time) error {
	_, err := db.write.ExecContext(ctx, `UPDATE subscriptions SET next_action_at = $2 WHERE id = $1 AND next_action_at < $2`,
		id, billow.TimeMicros(until))
	if err != nil {
		return fmt.Errorf("sqlstore: postpone subscription %s: %w", id, err)
	}
	return nil
}

// --- payment methods ---

const paymentMethodColumns = `id, account_id, kind, gateway, token, brand, last4, exp_month, exp_year, holder_name,
	paypal_email, is_default, created_at`

func scanPaymentMethod(s scanner) (*billow.PaymentMethod, error) {
	var m billow.PaymentMethod
	var kind string
	var created int64
	if err := s.Scan(&m.ID, &m.Account, &kind, &m.Gateway, &m.Token, &m.Brand, &m.Last4, &m.ExpMonth, &m.ExpYear,
		&m.HolderName, &m.PayPalEmail, &m.Default, &created); err != nil {
		return nil, err
	}
	m.Kind = billow.PaymentMethodKind(kind)
	m.CreatedAt = billow.FromMicros(created)
	return &m, nil
}

// AddPaymentMethod stores a tokenized payment method. The first method of an account,
// or one asked to be, becomes the default.
//
// Errors: validation_failed (too many methods).
func (db *DB) AddPaymentMethod(ctx context.Context, m *billow.PaymentMethod) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := db.lockAccount(ctx, tx, m.Account); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM payment_methods WHERE account_id = $1 AND removed_at IS NULL`, m.Account).Scan(&n); err != nil {
			return err
		}
		if n >= billow.PaymentMethodsPerAccountMax {
			return billow.Errorf(billow.KindInvalid, billow.CodeValidationFailed, "an account has at most %d payment methods; remove one first", billow.PaymentMethodsPerAccountMax)
		}
		if n == 0 {
			m.Default = true
		}
		if m.Default {
			if _, err := tx.ExecContext(ctx, `UPDATE payment_methods SET is_default = $2 WHERE account_id = $1`, m.Account, false); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO payment_methods (`+paymentMethodColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			m.ID, m.Account, string(m.Kind), m.Gateway, m.Token, m.Brand, m.Last4, m.ExpMonth, m.ExpYear, m.HolderName,
			m.PayPalEmail, m.Default, billow.TimeMicros(m.CreatedAt))
		return err
	})
}

// PaymentMethods returns an account's payment methods, default first.
func (db *DB) PaymentMethods(ctx context.Context, accountID string) ([]*billow.PaymentMethod, error) {
	return queryAll(ctx, db.read, "payment methods", scanPaymentMethod, `SELECT `+paymentMethodColumns+` FROM payment_methods
		WHERE account_id = $1 AND removed_at IS NULL ORDER BY is_default DESC, id`, accountID)
}

// PaymentMethod returns one of an account's payment methods.
func (db *DB) PaymentMethod(ctx context.Context, accountID, id string) (*billow.PaymentMethod, error) {
	m, err := scanPaymentMethod(db.read.QueryRowContext(ctx, `SELECT `+paymentMethodColumns+` FROM payment_methods
		WHERE account_id = $1 AND id = $2 AND removed_at IS NULL`, accountID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, billow.NotFound("payment method", id)
	}
	return m, err
}

// DefaultPaymentMethod returns the account's default payment method.
//
// Errors: payment_method_missing (KindConflict) when it has none.
func (db *DB) DefaultPaymentMethod(ctx context.Context, accountID string) (*billow.PaymentMethod, error) {
	m, err := scanPaymentMethod(db.read.QueryRowContext(ctx, `SELECT `+paymentMethodColumns+` FROM payment_methods
		WHERE account_id = $1 AND is_default = $2 AND removed_at IS NULL`, accountID, true))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, billow.Errorf(billow.KindConflict, billow.CodePaymentMethodMissing, "the account has no default payment method")
	}
	return m, err
}

// --- invoices ---

const invoiceColumns = `id, COALESCE(number, ''), order_id, account_id, subscription_id, status, currency, currency_digits,
	billing_date, due_at, period_start, period_end, lines, subtotal, tax_rate, tax, total, bill_to, account_name, hidden,
	payment_method, payment_status, finalized_at, paid_at, hash, created_at`

func scanInvoice(s scanner) (*billow.Invoice, error) {
	var (
		inv                                 billow.Invoice
		status, lines, billTo, payStatus    string
		billing, due, pstart, pend, created int64
		finalized, paid                     sql.NullInt64
	)
	err := s.Scan(&inv.ID, &inv.Number, &inv.OrderID, &inv.Account, &inv.Subscription, &status, &inv.Currency,
		&inv.CurrencyDigits, &billing, &due, &pstart, &pend, &lines, &inv.SubtotalMinor, &inv.TaxRate, &inv.TaxMinor,
		&inv.TotalMinor, &billTo, &inv.AccountName, &inv.Hidden, &inv.PaymentMethod, &payStatus, &finalized, &paid,
		&inv.Hash, &created)
	if err != nil {
		return nil, err
	}
	inv.Status, inv.PaymentStatus = billow.InvoiceStatus(status), billow.PaymentStatus(payStatus)
	inv.BillingDate, inv.DueAt = billow.FromMicros(billing), billow.FromMicros(due)
	inv.PeriodStart, inv.PeriodEnd, inv.CreatedAt = billow.FromMicros(pstart), billow.FromMicros(pend), billow.FromMicros(created)
	inv.FinalizedAt, inv.PaidAt = optTime(finalized), optTime(paid)
	if err := json.Unmarshal([]byte(lines), &inv.Lines); err != nil {
		return nil, fmt.Errorf("sqlstore: invoice %s lines: %w", inv.ID, err)
	}
	if err := json.Unmarshal([]byte(billTo), &inv.BillTo); err != nil {
		return nil, fmt.Errorf("sqlstore: invoice %s bill-to: %w", inv.ID, err)
	}
	// A finalized invoice is frozen: its content must still hash to what finalization stored.
	if inv.Number != "" && inv.ContentHash() != inv.Hash {
		return nil, billow.Errorf(billow.KindInternal, billow.CodeInvoiceTampered, "invoice %s no longer matches the hash stored at finalization", inv.ID)
	}
	return &inv, nil
}

// Invoice returns an invoice by id, checking a finalized one against its hash.
//
// Errors: not_found, invoice_tampered.
func (db *DB) Invoice(ctx context.Context, id string) (*billow.Invoice, error) {
	inv, err := scanInvoice(db.read.QueryRowContext(ctx, `SELECT `+invoiceColumns+` FROM invoices WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, billow.NotFound("invoice", id)
	}
	return inv, err
}

// InvoiceFilter selects an account's invoices.
type InvoiceFilter struct {
	AccountID string // empty: every account's (for the operator)
	// IncludeHidden lists enterprise invoices too: for the operator only.
	IncludeHidden bool
	// IncludeDrafts lists drafts (orders awaiting payment) too.
	IncludeDrafts bool
	// From and To bound the billing date, [From, To); zero means unbounded.
	From, To time.Time
	// Limit caps the number returned; 0 is InvoicesListMax.
	Limit int
}

// InvoicesListMax bounds one list of invoices.
const InvoicesListMax = 10_000

// Invoices returns an account's invoices, or every account's when f.AccountID is empty,
// in chronological order (seed 000: oldest first).
func (db *DB) Invoices(ctx context.Context, f InvoiceFilter) ([]*billow.Invoice, error) {
	q := `SELECT ` + invoiceColumns + ` FROM invoices WHERE TRUE`
	var args []any
	if f.AccountID != "" {
		args = append(args, f.AccountID)
		q += fmt.Sprintf(` AND account_id = $%d`, len(args))
	}
	if !f.IncludeHidden {
		args = append(args, false)
		q += fmt.Sprintf(` AND hidden = $%d`, len(args))
	}
	if !f.IncludeDrafts {
		q += ` AND status <> 'draft'`
	}
	if !f.From.IsZero() {
		args = append(args, billow.TimeMicros(f.From))
		q += fmt.Sprintf(` AND billing_date >= $%d`, len(args))
	}
	if !f.To.IsZero() {
		args = append(args, billow.TimeMicros(f.To))
		q += fmt.Sprintf(` AND billing_date < $%d`, len(args))
	}
	limit := f.Limit
	if limit <= 0 || limit > InvoicesListMax {
		limit = InvoicesListMax
	}
	args = append(args, limit)
	q += fmt.Sprintf(` ORDER BY billing_date, id LIMIT $%d`, len(args))
	return queryAll(ctx, db.read, "invoices", scanInvoice, q, args...)
}

// OutstandingInvoices returns the account's open invoices Billow collects, oldest first:
// not those the operator collects outside Billow (payment_status external), which no
// charge, dunning or plan change waits for.
func (db *DB) OutstandingInvoices(ctx context.Context, accountID string) ([]*billow.Invoice, error) {
	return queryAll(ctx, db.read, "open invoices", scanInvoice, `SELECT `+invoiceColumns+` FROM invoices WHERE account_id = $1 AND status = 'open'
		AND payment_status <> $2 ORDER BY billing_date, id`, accountID, string(billow.PaymentExternal))
}

// BilledUsage returns what postpaid usage and seats the account has been invoiced so
// far, by line ref ("usage:2026-10:<rate key>", "seats:2026-10:<product>:<mode>"), with
// the quantities each was last rated from (nil for a row written before they were kept).
func (db *DB) BilledUsage(ctx context.Context, accountID string) (map[string]billow.BilledLine, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT ref, amount_minor, quantities FROM billed_usage WHERE account_id = $1`, accountID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: billed usage: %w", err)
	}
	defer rows.Close()
	out := map[string]billow.BilledLine{}
	for rows.Next() {
		var ref string
		var l billow.BilledLine
		var quantities sql.NullString
		if err := rows.Scan(&ref, &l.AmountMinor, &quantities); err != nil {
			return nil, err
		}
		if quantities.Valid {
			if err := json.Unmarshal([]byte(quantities.String), &l.Quantities); err != nil {
				return nil, fmt.Errorf("sqlstore: billed usage %s: quantities: %w", ref, err)
			}
		}
		out[ref] = l
	}
	return out, rows.Err()
}

// --- orders and payments ---

const orderColumns = `id, account_id, kind, status, invoice_id, payment_method, amount, currency, action, approve_url,
	failure_code, failure_message, created_at, completed_at`

func scanOrder(s scanner) (*billow.Order, error) {
	var o billow.Order
	var kind, status, action string
	var created int64
	var completed sql.NullInt64
	if err := s.Scan(&o.ID, &o.Account, &kind, &status, &o.Invoice, &o.PaymentMethod, &o.AmountMinor, &o.Currency,
		&action, &o.ApproveURL, &o.FailureCode, &o.FailureMessage, &created, &completed); err != nil {
		return nil, err
	}
	o.Kind, o.Status, o.Action = billow.OrderKind(kind), billow.OrderStatus(status), billow.ActionKind(action)
	o.CreatedAt, o.CompletedAt = billow.FromMicros(created), optTime(completed)
	return &o, nil
}

// Order returns an order and the request it was submitted with.
func (db *DB) Order(ctx context.Context, id string) (*billow.Order, []byte, error) {
	var request string
	row := db.read.QueryRowContext(ctx, `SELECT `+orderColumns+`, request FROM orders WHERE id = $1`, id)
	o, err := scanOrder(scannerFunc(func(dest ...any) error { return row.Scan(append(dest, &request)...) }))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, billow.NotFound("order", id)
	}
	if err != nil {
		return nil, nil, err
	}
	return o, []byte(request), nil
}

// Orders returns an account's orders, newest first.
func (db *DB) Orders(ctx context.Context, accountID string, limit int) ([]*billow.Order, error) {
	return queryAll(ctx, db.read, "orders", scanOrder, `SELECT `+orderColumns+` FROM orders WHERE account_id = $1 ORDER BY id DESC LIMIT $2`, accountID, limit)
}

// OrdersToReconcile returns up to limit orders still waiting on a payment attempt that got
// no answer (processing: the process stopped around the gateway call; unknown: the gateway
// did not answer), oldest attempt first: those of accounts on the system clock last
// touched at or before before, and every such order of an account on a test clock, whose
// time the caller reads from the clock.
func (db *DB) OrdersToReconcile(ctx context.Context, before time.Time, limit int) ([]*billow.Order, error) {
	return queryAll(ctx, db.read, "orders to reconcile", scanOrder, `SELECT `+prefixed("o.", orderColumns)+` FROM orders o
		JOIN payments p ON p.invoice_id = o.invoice_id JOIN accounts a ON a.id = o.account_id
		WHERE o.status = $1 AND p.status IN ($2, $3) AND (p.updated_at <= $4 OR a.test_clock_id IS NOT NULL)
		ORDER BY p.updated_at, o.id LIMIT $5`,
		string(billow.OrderPendingPayment), string(billow.AttemptProcessing), string(billow.AttemptUnknown), billow.TimeMicros(before), limit)
}

// prefixed qualifies each of a list of columns with prefix.
func prefixed(prefix, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// queryAll runs a query and scans every row with scan; what names the rows in errors.
func queryAll[T any](ctx context.Context, q querier, what string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %s: %w", what, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

type scannerFunc func(dest ...any) error

func (f scannerFunc) Scan(dest ...any) error { return f(dest...) }

const paymentColumns = `id, account_id, invoice_id, order_id, method_id, amount, currency, status, gateway, reference,
	decline_code, message, otp_attempts, created_at, updated_at`

func scanPayment(s scanner) (*billow.Payment, error) {
	var p billow.Payment
	var status string
	var created, updated int64
	if err := s.Scan(&p.ID, &p.Account, &p.Invoice, &p.Order, &p.Method, &p.AmountMinor, &p.Currency, &status, &p.Gateway,
		&p.Reference, &p.DeclineCode, &p.Message, &p.OTPAttempts, &created, &updated); err != nil {
		return nil, err
	}
	p.Status = billow.PaymentAttemptStatus(status)
	p.CreatedAt, p.UpdatedAt = billow.FromMicros(created), billow.FromMicros(updated)
	return &p, nil
}

// Payments returns the payment attempts of an invoice, oldest first.
func (db *DB) Payments(ctx context.Context, invoiceID string) ([]*billow.Payment, error) {
	return queryAll(ctx, db.read, "payments", scanPayment, `SELECT `+paymentColumns+` FROM payments WHERE invoice_id = $1 ORDER BY id`, invoiceID)
}

// Payment returns a payment attempt.
func (db *DB) Payment(ctx context.Context, id string) (*billow.Payment, error) {
	p, err := scanPayment(db.read.QueryRowContext(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, billow.NotFound("payment", id)
	}
	return p, err
}

// BillingEvents returns up to limit of an account's billing events after seq, in order;
// with accountID "" those of every account.
func (db *DB) BillingEvents(ctx context.Context, accountID string, afterSeq int64, limit int) ([]*billow.BillingEvent, error) {
	q := `SELECT seq, id, account_id, type, subject, data, occurred_at FROM billing_events WHERE seq > $1`
	args := []any{afterSeq, limit}
	if accountID != "" {
		q += ` AND account_id = $3`
		args = append(args, accountID)
	}
	rows, err := db.read.QueryContext(ctx, q+` ORDER BY seq LIMIT $2`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: billing events: %w", err)
	}
	defer rows.Close()
	out := []*billow.BillingEvent{}
	for rows.Next() {
		var e billow.BillingEvent
		var data string
		var at int64
		if err := rows.Scan(&e.Seq, &e.ID, &e.Account, &e.Type, &e.Subject, &data, &at); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(data), &e.Data); err != nil {
			return nil, fmt.Errorf("sqlstore: billing event %s: %w", e.ID, err)
		}
		e.OccurredAt = billow.FromMicros(at)
		out = append(out, &e)
	}
	return out, rows.Err()
}

// --- the unit of work ---

func stale(what, id string) error {
	return billow.Errorf(billow.KindConflict, billow.CodeConcurrentUpdate, "%s %s was changed by another request; read it again", what, id)
}

// WriteBilling commits w in one transaction. Finalized invoices get gapless numbers from
// one counter, taken in the same transaction.
//
// Errors: concurrent_update (a stale subscription, invoice, order or payment, or an
// invoice for the same cycle already written), subscription_exists.
func (db *DB) WriteBilling(ctx context.Context, w *billow.BillingWrite) error {
	op := &billingWriteOp{write: w}
	db.billingQueue.do(ctx, op)
	if op.err == nil && w.Subscription != nil {
		w.Subscription.StoredStatus = w.Subscription.Status
	}
	return op.err
}

// Billing decisions are group committed (groupCommit): an invoice run's renewals share
// transactions and fsyncs, each decision under its own savepoint so that one read stale
// is refused alone.
const (
	// billingBatchWritesMax bounds the decisions one transaction commits together.
	billingBatchWritesMax = 256
	// billingBatchTimeout bounds one batch; its decisions fail after it, nothing written.
	billingBatchTimeout = 30 * time.Second
)

// billingWriteOp is one decision queued for a batch, and its answer once committed.
type billingWriteOp struct {
	write *billow.BillingWrite
	err   error
}

// writeBillingBatch commits a batch of decisions in one transaction. A decision refused
// by its checks (a stale version, a taken cycle) is rolled back to its savepoint and
// answered alone; an error of the database fails them all, nothing written.
func (db *DB) writeBillingBatch(ctx context.Context, ops []*billingWriteOp) {
	now := db.now() // one instant for the whole batch
	if db.dialect == Postgres {
		db.writeBillingBatchPostgres(ctx, ops, now)
		return
	}
	if len(ops) == 1 {
		// Alone, a decision needs no savepoint: its transaction is its own.
		op := ops[0]
		op.err = billingWriteError(op.write, db.tx(ctx, func(tx *sql.Tx) error { return db.writeBilling(ctx, tx, op.write, now) }))
		return
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		for _, op := range ops {
			if _, err := tx.ExecContext(ctx, `SAVEPOINT billing_write`); err != nil {
				return err
			}
			if op.err = db.writeBilling(ctx, tx, op.write, now); op.err != nil {
				if _, err := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT billing_write`); err != nil {
					return err
				}
				op.err = billingWriteError(op.write, op.err)
			}
			if _, err := tx.ExecContext(ctx, `RELEASE SAVEPOINT billing_write`); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		for _, op := range ops {
			op.err = err
		}
	}
}

// billingWriteError names what a unique violation means for a decision.
func billingWriteError(w *billow.BillingWrite, err error) error {
	if isUniqueViolation(err) {
		if w.NewSubscription {
			return billow.Errorf(billow.KindConflict, billow.CodeSubscriptionExists, "the account already has a subscription")
		}
		return stale("billing state of account", accountOf(w))
	}
	return err
}

// billingStmt is one statement of a decision. A statement with staleIf set must change
// exactly one row: one that changes none finds what it names read stale.
type billingStmt struct {
	query   string
	args    []any
	staleIf string // what the statement checks ("subscription", "invoice", …), with id
	id      string
}

// writeBilling writes one decision within tx, statement after statement, numbering its
// invoices from the counter as it goes.
func (db *DB) writeBilling(ctx context.Context, tx *sql.Tx, w *billow.BillingWrite, now time.Time) error {
	stmts, err := billingStatements(w, now, func() (int64, error) {
		var last int64
		err := tx.QueryRowContext(ctx, invoiceCounterSQL, invoiceNumberScope, 1).Scan(&last)
		return last, err
	})
	if err != nil {
		return err
	}
	for _, st := range stmts {
		res, err := tx.ExecContext(ctx, st.query, st.args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); st.staleIf != "" && n != 1 {
			return stale(st.staleIf, st.id)
		}
	}
	return nil
}

// invoiceCounterSQL takes $2 invoice numbers from the counter and returns the last.
const invoiceCounterSQL = `INSERT INTO invoice_counters (scope, last) VALUES ($1, $2)
	ON CONFLICT (scope) DO UPDATE SET last = invoice_counters.last + excluded.last RETURNING last`

// billingStatements returns the statements that write w, in order. A finalized invoice
// takes the next number from number and is hashed with it.
func billingStatements(w *billow.BillingWrite, now time.Time, number func() (int64, error)) ([]billingStmt, error) {
	var out []billingStmt
	if s := w.Subscription; s != nil {
		st, err := subscriptionStatement(s, w.NewSubscription, w.NextActionAt)
		if err != nil {
			return nil, err
		}
		// The account mirrors its subscription's status (and plan) and is stamped
		// changed, so that the checks of every process pick it up on their next poll; a
		// decision that changes neither (a charge attempt, most renewals) leaves it be,
		// without a statement when the status is known unchanged.
		out = append(out, st)
		if w.NewSubscription || w.AccountPlan != nil || s.StoredStatus == "" || s.Status != s.StoredStatus {
			plan := sql.NullString{}
			if w.AccountPlan != nil {
				plan = sql.NullString{String: *w.AccountPlan, Valid: true}
			}
			out = append(out, billingStmt{query: `UPDATE accounts SET subscription_status = $2, plan = COALESCE($3, plan), updated_at = $4
			WHERE id = $1 AND (subscription_status <> $2 OR plan <> COALESCE($3, plan))`,
				args: []any{s.Account, string(s.Status), plan, billow.TimeMicros(now)}})
		}
	}
	for _, iw := range w.Invoices {
		st, err := invoiceStatement(iw, now, number)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	for _, ow := range w.Orders {
		out = append(out, orderStatement(ow))
	}
	for _, pw := range w.Payments {
		out = append(out, paymentStatement(pw))
	}
	if len(w.BilledUsage) > 0 {
		// The amount adds up; the quantities are the latest the month was settled at
		// (JSON of selection key → decimal string), kept when a write has none. One
		// statement for all of a renewal's refs, in a stable order.
		refs := slices.Sorted(maps.Keys(w.BilledUsage))
		var args []any
		for _, ref := range refs {
			l := w.BilledUsage[ref]
			quantities := sql.NullString{}
			if l.Quantities != nil {
				b, err := json.Marshal(l.Quantities)
				if err != nil {
					return nil, err
				}
				quantities = sql.NullString{String: string(b), Valid: true}
			}
			args = append(args, w.Subscription.Account, ref, l.AmountMinor, quantities)
		}
		out = append(out, billingStmt{query: `INSERT INTO billed_usage (account_id, ref, amount_minor, quantities) VALUES ` +
			valuesList(len(refs), 4) + `
			ON CONFLICT (account_id, ref) DO UPDATE SET amount_minor = billed_usage.amount_minor + excluded.amount_minor,
			quantities = COALESCE(excluded.quantities, billed_usage.quantities)`, args: args})
	}
	// An invoice is numbered here, after the events about it were made: they carry the
	// number (an email names it) from the same transaction.
	numbers := map[string]string{}
	for _, iw := range w.Invoices {
		numbers[iw.Invoice.ID] = iw.Invoice.Number
	}
	var events []any
	for _, e := range w.Events {
		if e.ID == "" {
			e.ID = billow.NewID(billow.PrefixBillingEvent, now)
		}
		if n, ok := e.Data["number"]; ok && n == "" {
			if id, ok := e.Data["invoice"].(string); ok && numbers[id] != "" {
				e.Data["number"] = numbers[id]
			}
		}
		data, err := json.Marshal(e.Data)
		if err != nil {
			return nil, err
		}
		events = append(events, e.ID, e.Account, e.Type, e.Subject, string(data), billow.TimeMicros(e.OccurredAt))
	}
	if len(events) > 0 {
		out = append(out, billingStmt{query: `INSERT INTO billing_events (id, account_id, type, subject, data, occurred_at) VALUES ` +
			valuesList(len(w.Events), 6), args: events})
	}
	return out, nil
}

// valuesList returns the VALUES rows of a multi-row statement: rows rows of cols
// parameters each, numbered from $1.
func valuesList(rows, cols int) string {
	var b strings.Builder
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range cols {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteString("$" + strconv.Itoa(r*cols+c+1))
		}
		b.WriteByte(')')
	}
	return b.String()
}

func accountOf(w *billow.BillingWrite) string {
	if w.Subscription != nil {
		return w.Subscription.Account
	}
	for _, iw := range w.Invoices {
		return iw.Invoice.Account
	}
	return ""
}

func subscriptionStatement(s *billow.Subscription, insert bool, next *time.Time) (billingStmt, error) {
	addOns, err := json.Marshal(s.AddOns)
	if err != nil {
		return billingStmt{}, err
	}
	seats, err := json.Marshal(s.Seats)
	if err != nil {
		return billingStmt{}, err
	}
	var pending sql.NullString
	if s.Pending != nil {
		b, err := json.Marshal(s.Pending)
		if err != nil {
			return billingStmt{}, err
		}
		pending = sql.NullString{String: string(b), Valid: true}
	}
	args := []any{s.ID, s.Account, s.Plan, s.Interval, string(addOns), string(seats), string(s.Status),
		billow.TimeMicros(s.AnchorAt), billow.TimeMicros(s.CurrentPeriodStart), billow.TimeMicros(s.CurrentPeriodEnd),
		optMicros(s.TrialEnd), s.CancelAtPeriodEnd, pending, optMicros(s.PastDueSince), optMicros(s.NextRetryAt),
		s.RetryCount, optMicros(s.SuspendAt), optMicros(s.EndedAt), billow.TimeMicros(s.CreatedAt),
		billow.TimeMicros(s.UpdatedAt), s.Version, optMicros(next)}
	if insert {
		return billingStmt{query: `INSERT INTO subscriptions (` + subscriptionColumns + `, next_action_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)`, args: args}, nil
	}
	return billingStmt{query: `UPDATE subscriptions SET plan = $3, interval = $4, add_ons = $5, seats = $6,
		status = $7, anchor_at = $8, current_period_start = $9, current_period_end = $10, trial_end = $11,
		cancel_at_period_end = $12, pending_change = $13, past_due_since = $14, next_retry_at = $15, retry_count = $16,
		suspend_at = $17, ended_at = $18, created_at = $19, updated_at = $20, version = $21, next_action_at = $22
		WHERE id = $1 AND account_id = $2 AND version = $21 - 1`, args: args, staleIf: "subscription", id: s.ID}, nil
}

func invoiceStatement(iw billow.InvoiceWrite, now time.Time, next func() (int64, error)) (billingStmt, error) {
	inv := iw.Invoice
	if iw.Finalize {
		last, err := next()
		if err != nil {
			return billingStmt{}, fmt.Errorf("sqlstore: invoice number: %w", err)
		}
		inv.Number = fmt.Sprintf(InvoiceNumberFormat, last)
		t := now
		if inv.FinalizedAt != nil {
			t = *inv.FinalizedAt
		}
		inv.FinalizedAt = &t
		inv.Hash = inv.ContentHash()
	}
	lines, err := json.Marshal(inv.Lines)
	if err != nil {
		return billingStmt{}, err
	}
	billTo, err := json.Marshal(inv.BillTo)
	if err != nil {
		return billingStmt{}, err
	}
	number := sql.NullString{String: inv.Number, Valid: inv.Number != ""}
	if iw.Insert {
		return billingStmt{query: `INSERT INTO invoices (id, number, order_id, account_id, subscription_id, status, currency,
			currency_digits, billing_date, due_at, period_start, period_end, lines, subtotal, tax_rate, tax, total, bill_to,
			account_name, hidden, payment_method, payment_status, finalized_at, paid_at, hash, cycle_key, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27)`,
			args: []any{inv.ID, number, inv.OrderID, inv.Account, inv.Subscription, string(inv.Status), inv.Currency, inv.CurrencyDigits,
				billow.TimeMicros(inv.BillingDate), billow.TimeMicros(inv.DueAt), billow.TimeMicros(inv.PeriodStart),
				billow.TimeMicros(inv.PeriodEnd), string(lines), inv.SubtotalMinor, inv.TaxRate, inv.TaxMinor, inv.TotalMinor,
				string(billTo), inv.AccountName, inv.Hidden, inv.PaymentMethod, string(inv.PaymentStatus),
				optMicros(inv.FinalizedAt), optMicros(inv.PaidAt), inv.Hash, iw.CycleKey, billow.TimeMicros(inv.CreatedAt)}}, nil
	}
	if !iw.Finalize && inv.Number != "" {
		// Numbered before: only its status and payment move, and its content is not sent.
		return billingStmt{query: `UPDATE invoices SET status = $2, payment_method = $3, payment_status = $4, paid_at = $5
			WHERE id = $1 AND status = $6 AND number = $7`,
			args: []any{inv.ID, string(inv.Status), inv.PaymentMethod, string(inv.PaymentStatus), optMicros(inv.PaidAt),
				string(iw.ExpectStatus), inv.Number}, staleIf: "invoice", id: inv.ID}, nil
	}
	// Content columns change only while a draft: once numbered they are frozen, and the
	// stored hash would expose any change.
	return billingStmt{query: `UPDATE invoices SET number = COALESCE(number, $2), status = $3, lines = CASE WHEN number IS NULL THEN $4 ELSE lines END,
		subtotal = CASE WHEN number IS NULL THEN $5 ELSE subtotal END, tax = CASE WHEN number IS NULL THEN $6 ELSE tax END,
		total = CASE WHEN number IS NULL THEN $7 ELSE total END, billing_date = CASE WHEN number IS NULL THEN $8 ELSE billing_date END,
		due_at = CASE WHEN number IS NULL THEN $9 ELSE due_at END, bill_to = CASE WHEN number IS NULL THEN $10 ELSE bill_to END,
		account_name = CASE WHEN number IS NULL THEN $11 ELSE account_name END,
		payment_method = $12, payment_status = $13, finalized_at = COALESCE(finalized_at, $14), paid_at = $15,
		hash = CASE WHEN hash = '' THEN $16 ELSE hash END
		WHERE id = $1 AND status = $17`,
		args: []any{inv.ID, number, string(inv.Status), string(lines), inv.SubtotalMinor, inv.TaxMinor, inv.TotalMinor,
			billow.TimeMicros(inv.BillingDate), billow.TimeMicros(inv.DueAt), string(billTo), inv.AccountName,
			inv.PaymentMethod, string(inv.PaymentStatus), optMicros(inv.FinalizedAt), optMicros(inv.PaidAt), inv.Hash,
			string(iw.ExpectStatus)}, staleIf: "invoice", id: inv.ID}, nil
}

func orderStatement(ow billow.OrderWrite) billingStmt {
	o := ow.Order
	if ow.Insert {
		return billingStmt{query: `INSERT INTO orders (` + orderColumns + `, request)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
			args: []any{o.ID, o.Account, string(o.Kind), string(o.Status), o.Invoice, o.PaymentMethod, o.AmountMinor, o.Currency,
				string(o.Action), o.ApproveURL, o.FailureCode, o.FailureMessage, billow.TimeMicros(o.CreatedAt),
				optMicros(o.CompletedAt), string(ow.Request)}}
	}
	return billingStmt{query: `UPDATE orders SET status = $2, payment_method = $3, action = $4, approve_url = $5,
		failure_code = $6, failure_message = $7, completed_at = $8 WHERE id = $1 AND status = $9`,
		args: []any{o.ID, string(o.Status), o.PaymentMethod, string(o.Action), o.ApproveURL, o.FailureCode, o.FailureMessage,
			optMicros(o.CompletedAt), string(ow.ExpectStatus)}, staleIf: "order", id: o.ID}
}

func paymentStatement(pw billow.PaymentWrite) billingStmt {
	p := pw.Payment
	if pw.Insert {
		return billingStmt{query: `INSERT INTO payments (` + paymentColumns + `)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
			args: []any{p.ID, p.Account, p.Invoice, p.Order, p.Method, p.AmountMinor, p.Currency, string(p.Status), p.Gateway,
				p.Reference, p.DeclineCode, p.Message, p.OTPAttempts, billow.TimeMicros(p.CreatedAt), billow.TimeMicros(p.UpdatedAt)}}
	}
	return billingStmt{query: `UPDATE payments SET status = $2, reference = $3, decline_code = $4, message = $5,
		otp_attempts = $6, updated_at = $7 WHERE id = $1 AND status = $8`,
		args: []any{p.ID, string(p.Status), p.Reference, p.DeclineCode, p.Message, p.OTPAttempts, billow.TimeMicros(p.UpdatedAt),
			string(pw.ExpectStatus)}, staleIf: "payment", id: p.ID}
}

// RawInsertInvoices inserts copies of invoices (new ids, numbers and cycle keys) straight
// into the invoices table, batchSize to a statement and a transaction: the physical limit
// an invoice run is compared with in `billow bench invoices`.
func (db *DB) RawInsertInvoices(ctx context.Context, invoices []*billow.Invoice, batchSize int) error {
	cols := []rowSetColumn{{"id", "TEXT"}, {"number", "TEXT"}, {"order_id", "TEXT"}, {"account_id", "TEXT"},
		{"subscription_id", "TEXT"}, {"status", "TEXT"}, {"currency", "TEXT"}, {"currency_digits", "BIGINT"},
		{"billing_date", "BIGINT"}, {"due_at", "BIGINT"}, {"period_start", "BIGINT"}, {"period_end", "BIGINT"},
		{"lines", "TEXT"}, {"subtotal", "BIGINT"}, {"tax_rate", "TEXT"}, {"tax", "BIGINT"}, {"total", "BIGINT"},
		{"bill_to", "TEXT"}, {"account_name", "TEXT"}, {"hidden", "BIGINT"}, {"payment_method", "TEXT"},
		{"payment_status", "TEXT"}, {"finalized_at", "BIGINT"}, {"paid_at", "BIGINT"}, {"hash", "TEXT"},
		{"cycle_key", "TEXT"}, {"created_at", "BIGINT"}}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	list := strings.Join(names, ", ")
	sel := strings.Replace(list, "hidden,", "hidden = 1,", 1)
	for done := 0; done < len(invoices); {
		batch := invoices[done:min(done+batchSize, len(invoices))]
		rows := make([][]any, len(batch))
		for i, inv := range batch {
			lines, err := json.Marshal(inv.Lines)
			if err != nil {
				return err
			}
			billTo, err := json.Marshal(inv.BillTo)
			if err != nil {
				return err
			}
			var hidden, paidAt int64
			if inv.Hidden {
				hidden = 1
			}
			if inv.PaidAt != nil {
				paidAt = billow.TimeMicros(*inv.PaidAt)
			}
			n := strconv.Itoa(done + i)
			rows[i] = []any{"raw-" + n, "RAW-" + n, inv.OrderID, inv.Account, inv.Subscription, string(inv.Status), inv.Currency,
				int64(inv.CurrencyDigits), billow.TimeMicros(inv.BillingDate), billow.TimeMicros(inv.DueAt),
				billow.TimeMicros(inv.PeriodStart), billow.TimeMicros(inv.PeriodEnd), string(lines), inv.SubtotalMinor,
				inv.TaxRate, inv.TaxMinor, inv.TotalMinor, string(billTo), inv.AccountName, hidden, inv.PaymentMethod,
				string(inv.PaymentStatus), billow.TimeMicros(*inv.FinalizedAt), paidAt, inv.Hash, "raw:" + n,
				billow.TimeMicros(inv.CreatedAt)}
		}
		set, args := db.rowSet(1, cols, rows)
		if err := db.tx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO invoices (`+list+`) SELECT `+sel+` FROM `+set+` AS r`, args...)
			return err
		}); err != nil {
			return fmt.Errorf("sqlstore: raw invoices: %w", err)
		}
		done += len(batch)
	}
	return nil
}
