package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/notify"
)

// The outbox of emails (package notify): messages, one per email and recipient, and their
// delivery log. See migrations/*/00015_emails.sql.

// messagesInsertMax bounds the messages one InsertMessages call queues.
const messagesInsertMax = 1_000

// emailsLock is the first key of the transaction-scoped PostgreSQL advisory locks that
// serialize the rate-limited sends to one address (the second key is a hash of it).
const emailsLock = 0x656d6c31 // "eml1"

const messageColumns = `id, dedupe_key, account_id, template, email_group, locale, event_id, invoice_id, to_email, to_name,
	subject, body_html, body_text, secret, status, attempts, next_attempt_at, lease_token, last_error, created_at, updated_at, sent_at`

// messageListColumns are messageColumns without the bodies, which lists do not show.
const messageListColumns = `id, dedupe_key, account_id, template, email_group, locale, event_id, invoice_id, to_email, to_name,
	subject, '', '', secret, status, attempts, next_attempt_at, lease_token, last_error, created_at, updated_at, sent_at`

// InsertMessages queues messages, each once per dedupe key: a message whose key is
// already stored is not inserted again, and the stored one is returned in its place. The
// result is in the order of msgs. With limit.Max above zero, the new messages to one
// address may not make more than limit.Max product messages queued for it within
// limit.Window (counted up to the CreatedAt of the messages): then nothing is inserted.
//
// Errors: rate_limited (*notify.RateLimitedError), validation_failed.
func (db *DB) InsertMessages(ctx context.Context, msgs []*notify.Message, limit notify.RateLimit) ([]*notify.Message, error) {
	if len(msgs) > messagesInsertMax {
		return nil, billow.FieldErrorf(billow.CodeValidationFailed, "messages", "at most %d messages at once, not %d", messagesInsertMax, len(msgs))
	}
	out := make([]*notify.Message, len(msgs))
	err := db.tx(ctx, func(tx *sql.Tx) error {
		fresh := map[string][]int{} // to_email → indexes of messages not stored yet
		for i, m := range msgs {
			stored, err := scanMessage(tx.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM messages WHERE dedupe_key = $1`, m.DedupeKey))
			switch {
			case err == nil:
				out[i] = stored
			case errors.Is(err, sql.ErrNoRows):
				fresh[m.ToEmail] = append(fresh[m.ToEmail], i)
			default:
				return err
			}
		}
		if limit.Max > 0 {
			if err := db.checkRateLimit(ctx, tx, msgs, fresh, limit); err != nil {
				return err
			}
		}
		for _, idx := range fresh {
			for _, i := range idx {
				m := msgs[i]
				res, err := tx.ExecContext(ctx, `INSERT INTO messages (`+messageColumns+`)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
					ON CONFLICT (dedupe_key) DO NOTHING`,
					m.ID, m.DedupeKey, nullString(m.Account), m.Template, m.Group, m.Locale, nullString(m.Event), nullString(m.Invoice),
					m.ToEmail, m.ToName, m.Subject, m.HTML, m.Text, m.Secret, string(m.Status), m.Attempts,
					billow.TimeMicros(m.NextAttemptAt), m.LeaseToken, m.LastError, billow.TimeMicros(m.CreatedAt), billow.TimeMicros(m.UpdatedAt), optMicros(m.SentAt))
				if err != nil {
					return err
				}
				if n, err := res.RowsAffected(); err != nil {
					return err
				} else if n == 1 {
					out[i] = m
					continue
				}
				// A concurrent insert of the same key (PostgreSQL) won: its message is the one.
				stored, err := scanMessage(tx.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM messages WHERE dedupe_key = $1`, m.DedupeKey))
				if err != nil {
					return err
				}
				out[i] = stored
			}
		}
		return nil
	})
	if err != nil {
		if billow.ErrorKindOf(err) == billow.KindInternal {
			return nil, fmt.Errorf("sqlstore: insert messages: %w", err)
		}
		return nil, err
	}
	return out, nil
}

// checkRateLimit refuses the fresh messages when one address would get more than
// limit.Max product messages within limit.Window. On PostgreSQL it first locks each
// address, in order, until the transaction ends, so that two concurrent sends to one
// address count each other; on SQLite the one writer already serializes them.
func (db *DB) checkRateLimit(ctx context.Context, tx *sql.Tx, msgs []*notify.Message, fresh map[string][]int, limit notify.RateLimit) error {
	emails := make([]string, 0, len(fresh))
	for email := range fresh {
		emails = append(emails, email)
	}
	slices.Sort(emails)
	for _, email := range emails {
		if db.dialect == Postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, emailsLock, email); err != nil {
				return err
			}
		}
		idx := fresh[email]
		product := 0
		now := msgs[idx[0]].CreatedAt
		for _, i := range idx {
			if msgs[i].Group == "product" {
				product++
			}
			if msgs[i].CreatedAt.After(now) {
				now = msgs[i].CreatedAt
			}
		}
		if product == 0 {
			continue
		}
		since := now.Add(-limit.Window)
		var count int
		var oldest sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT COUNT(*), MIN(created_at) FROM messages
			WHERE to_email = $1 AND email_group = 'product' AND created_at > $2`, email, billow.TimeMicros(since)).Scan(&count, &oldest)
		if err != nil {
			return err
		}
		if count+product <= limit.Max {
			continue
		}
		retry := limit.Window
		if oldest.Valid {
			retry = billow.FromMicros(oldest.Int64).Add(limit.Window).Sub(now)
		}
		return notify.NewRateLimitedError(limit, retry)
	}
	return nil
}

// ClaimMessages leases up to limit due messages to the caller, token naming the lease:
// queued messages whose next attempt is due, and sending ones whose lease ran out (their
// worker died). Each becomes sending until now+leaseFor. Two callers never claim the same
// message: on PostgreSQL the rows are locked as they are picked and locked rows skipped;
// on SQLite the one writer serializes the claims.
func (db *DB) ClaimMessages(ctx context.Context, now time.Time, leaseFor time.Duration, token string, limit int) ([]*notify.Message, error) {
	if token == "" || limit < 1 || leaseFor <= 0 {
		return nil, errors.New("sqlstore: claim messages: a token, a positive limit and a positive lease are required")
	}
	skipLocked := ""
	if db.dialect == Postgres {
		skipLocked = " FOR UPDATE SKIP LOCKED"
	}
	nowUS := billow.TimeMicros(now)
	var out []*notify.Message
	err := db.tx(ctx, func(tx *sql.Tx) error {
		// The due rows are picked once, in a materialized CTE: as a plain IN (subquery),
		// PostgreSQL may run the subquery again while updating and claim past the limit
		// (as the webhook claim found).
		rows, err := tx.QueryContext(ctx, `WITH due AS MATERIALIZED (
				SELECT id FROM messages WHERE status IN ('queued', 'sending') AND next_attempt_at <= $3
				ORDER BY next_attempt_at, id LIMIT $4`+skipLocked+`)
			UPDATE messages SET status = 'sending', lease_token = $1, next_attempt_at = $2, updated_at = $3
			WHERE id IN (SELECT id FROM due) AND status IN ('queued', 'sending') AND next_attempt_at <= $3
			RETURNING `+messageColumns, token, billow.TimeMicros(now.Add(leaseFor)), nowUS, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m, err := scanMessage(rows)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: claim messages: %w", err)
	}
	// RETURNING keeps no order: oldest due first, as picked.
	slices.SortFunc(out, func(a, b *notify.Message) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// RecordAttempt writes the outcome of a claimed message's attempt and its delivery log
// row, in one transaction, if the caller still holds the lease.
//
// Errors: concurrent_update (the lease was lost: another worker claimed the message).
func (db *DB) RecordAttempt(ctx context.Context, r notify.AttemptRecord) error {
	at := billow.TimeMicros(r.Attempt.At)
	var sentAt sql.NullInt64
	if r.Status == notify.StatusSent {
		sentAt = sql.NullInt64{Int64: at, Valid: true}
	}
	wipe := 0
	if r.WipeBody {
		wipe = 1
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var attempt int64
		err := tx.QueryRowContext(ctx, `UPDATE messages SET status = $3, attempts = attempts + 1, next_attempt_at = $4, last_error = $5,
				lease_token = '', updated_at = $6, sent_at = COALESCE($7, sent_at),
				body_html = CASE WHEN $8 = 1 THEN '' ELSE body_html END, body_text = CASE WHEN $8 = 1 THEN '' ELSE body_text END
			WHERE id = $1 AND lease_token = $2 AND status = 'sending'
			RETURNING attempts`,
			r.Message, r.LeaseToken, string(r.Status), billow.TimeMicros(r.NextAttemptAt), r.LastError, at, sentAt, wipe).Scan(&attempt)
		if errors.Is(err, sql.ErrNoRows) {
			return stale("message", r.Message)
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO message_attempts (message_id, attempt, attempted_at, outcome, reply_code, reply_text, duration_us)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			r.Message, attempt, at, string(r.Attempt.Outcome), r.Attempt.ReplyCode, r.Attempt.ReplyText, r.Attempt.Duration.Microseconds())
		return err
	})
	if err != nil && billow.ErrorKindOf(err) == billow.KindInternal {
		return fmt.Errorf("sqlstore: record attempt of %s: %w", r.Message, err)
	}
	return err
}

// DeferMessage gives a claimed message back, queued until until, without counting an
// attempt: a billing email over its recipient's delivery limit waits for the window.
//
// Errors: concurrent_update (the lease was lost).
func (db *DB) DeferMessage(ctx context.Context, id, token string, until, now time.Time) error {
	res, err := db.write.ExecContext(ctx, `UPDATE messages SET status = 'queued', next_attempt_at = $3, lease_token = '', updated_at = $4
		WHERE id = $1 AND lease_token = $2 AND status = 'sending'`, id, token, billow.TimeMicros(until), billow.TimeMicros(now))
	if err != nil {
		return fmt.Errorf("sqlstore: defer message %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return stale("message", id)
	}
	return nil
}

// RecentDeliveries counts the messages sent to an address after since.
func (db *DB) RecentDeliveries(ctx context.Context, toEmail string, since time.Time) (int, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM messages WHERE to_email = $1 AND sent_at > $2`,
		toEmail, billow.TimeMicros(since)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: recent deliveries: %w", err)
	}
	return n, nil
}

// Message returns a message with its delivery log, oldest attempt first.
//
// Errors: not_found.
func (db *DB) Message(ctx context.Context, id string) (*notify.Message, []notify.Attempt, error) {
	m, err := scanMessage(db.read.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM messages WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, billow.NotFound("message", id)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("sqlstore: message %s: %w", id, err)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT attempt, attempted_at, outcome, reply_code, reply_text, duration_us
		FROM message_attempts WHERE message_id = $1 ORDER BY attempt`, id)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlstore: message attempts %s: %w", id, err)
	}
	defer rows.Close()
	attempts := []notify.Attempt{}
	for rows.Next() {
		var a notify.Attempt
		var at, us int64
		var outcome string
		if err := rows.Scan(&a.Number, &at, &outcome, &a.ReplyCode, &a.ReplyText, &us); err != nil {
			return nil, nil, err
		}
		a.At, a.Outcome, a.Duration = billow.FromMicros(at), notify.Outcome(outcome), time.Duration(us)*time.Microsecond
		attempts = append(attempts, a)
	}
	return m, attempts, rows.Err()
}

// ListMessages lists messages newest first, without their bodies.
func (db *DB) ListMessages(ctx context.Context, f notify.MessageFilter, page billow.PageInput) (billow.Page[*notify.Message], error) {
	page.Normalize()
	rows, err := db.read.QueryContext(ctx, `SELECT `+messageListColumns+` FROM messages
		WHERE ($1 = '' OR account_id = $1) AND ($2 = '' OR status = $2) AND ($3 = '' OR to_email = $3) AND ($4 = '' OR id < $4)
		ORDER BY id DESC LIMIT $5`, f.Account, string(f.Status), f.ToEmail, page.StartingAfter, page.Limit+1)
	if err != nil {
		return billow.Page[*notify.Message]{}, fmt.Errorf("sqlstore: list messages: %w", err)
	}
	return collectPage(rows, page.Limit, scanMessage)
}

func scanMessage(s scanner) (*notify.Message, error) {
	var m notify.Message
	var account, event, invoice sql.NullString
	var status string
	var next, created, updated int64
	var sent sql.NullInt64
	err := s.Scan(&m.ID, &m.DedupeKey, &account, &m.Template, &m.Group, &m.Locale, &event, &invoice, &m.ToEmail, &m.ToName,
		&m.Subject, &m.HTML, &m.Text, &m.Secret, &status, &m.Attempts, &next, &m.LeaseToken, &m.LastError, &created, &updated, &sent)
	if err != nil {
		return nil, err
	}
	m.Account, m.Event, m.Invoice, m.Status = account.String, event.String, invoice.String, notify.Status(status)
	m.NextAttemptAt, m.CreatedAt, m.UpdatedAt = billow.FromMicros(next), billow.FromMicros(created), billow.FromMicros(updated)
	m.SentAt = optTime(sent)
	return &m, nil
}

// ConsumerStarted reports whether a consumer of the billing events has a position (it
// has started, even if still at 0).
func (db *DB) ConsumerStarted(ctx context.Context, consumer string) (bool, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM event_consumers WHERE name = $1`, consumer).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("sqlstore: consumer %s: %w", consumer, err)
	}
	return n > 0, nil
}

// BillingEventsHead returns the seq of the last billing event, 0 when there is none.
func (db *DB) BillingEventsHead(ctx context.Context) (int64, error) {
	var head int64
	if err := db.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM billing_events`).Scan(&head); err != nil {
		return 0, fmt.Errorf("sqlstore: billing events head: %w", err)
	}
	return head, nil
}
