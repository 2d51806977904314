package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/billowhq/billow"
)

// Outbound webhooks: endpoints, deliveries and their attempts (migration 00016). Package
// webhook decides; this file stores, claims and keeps the log.

// webhookInsertRowsMax bounds the rows of one multi-row INSERT of deliveries: 11
// parameters a row stay far below SQLite's 32,766 bound parameters.
const webhookInsertRowsMax = 500

const webhookEndpointColumns = `id, url, description, event_types, enabled, disabled_reason, secret, previous_secret,
	previous_secret_expires_at, failing_since, created_at, updated_at`

const webhookDeliveryColumns = `id, endpoint_id, event_id, event_type, account_id, status, series, attempts, next_attempt_at,
	lease_until, last_attempt_at, last_status_code, last_error, payload, created_at, updated_at`

const webhookAttemptColumns = `id, delivery_id, series, number, attempted_at, status_code, duration_ms, succeeded, error, response`

// CreateWebhookEndpoint stores a new endpoint, made whole by package webhook (id,
// secret, times), unless the operator has billow.WebhookEndpointsMax already.
//
// Errors: webhook_endpoint_limit.
func (db *DB) CreateWebhookEndpoint(ctx context.Context, e *billow.WebhookEndpoint) error {
	types, err := json.Marshal(e.EventTypes)
	if err != nil {
		return err
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		if db.dialect == Postgres {
			// Two creates counting at once would both see room for one more: the lock
			// makes them count one after the other. SQLite's one writer already does.
			if _, err := tx.ExecContext(ctx, `LOCK TABLE webhook_endpoints IN SHARE ROW EXCLUSIVE MODE`); err != nil {
				return fmt.Errorf("sqlstore: create webhook endpoint: %w", err)
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM webhook_endpoints`).Scan(&n); err != nil {
			return fmt.Errorf("sqlstore: count webhook endpoints: %w", err)
		}
		if n >= billow.WebhookEndpointsMax {
			return billow.Errorf(billow.KindConflict, billow.CodeWebhookEndpointLimit,
				"there are %d webhook endpoints already, the most allowed; delete one first", n)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO webhook_endpoints (`+webhookEndpointColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			e.ID, e.URL, e.Description, string(types), e.Enabled, e.DisabledReason, e.Secret, e.PreviousSecret,
			optMicros(e.PreviousSecretExpiresAt), optMicros(e.FailingSince), billow.TimeMicros(e.CreatedAt), billow.TimeMicros(e.UpdatedAt))
		if err != nil {
			return fmt.Errorf("sqlstore: create webhook endpoint: %w", err)
		}
		return nil
	})
}

// WebhookEndpoint returns an endpoint by id.
//
// Errors: not_found.
func (db *DB) WebhookEndpoint(ctx context.Context, id string) (*billow.WebhookEndpoint, error) {
	return webhookEndpointByID(ctx, db.read, id, "")
}

// ListWebhookEndpoints lists the endpoints, newest first.
func (db *DB) ListWebhookEndpoints(ctx context.Context, page billow.PageInput) (billow.Page[*billow.WebhookEndpoint], error) {
	page.Normalize()
	rows, err := db.read.QueryContext(ctx, `SELECT `+webhookEndpointColumns+` FROM webhook_endpoints
		WHERE ($1 = '' OR id < $1) ORDER BY id DESC LIMIT $2`, page.StartingAfter, page.Limit+1)
	if err != nil {
		return billow.Page[*billow.WebhookEndpoint]{}, fmt.Errorf("sqlstore: list webhook endpoints: %w", err)
	}
	return collectPage(rows, page.Limit, scanWebhookEndpoint)
}

// EnabledWebhookEndpoints returns every enabled endpoint (at most
// billow.WebhookEndpointsMax): those the fan-out copies events to.
func (db *DB) EnabledWebhookEndpoints(ctx context.Context) ([]*billow.WebhookEndpoint, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+webhookEndpointColumns+` FROM webhook_endpoints WHERE enabled ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: enabled webhook endpoints: %w", err)
	}
	defer rows.Close()
	var out []*billow.WebhookEndpoint
	for rows.Next() {
		e, err := scanWebhookEndpoint(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// UpdateWebhookEndpoint changes an endpoint as in says (billow.WebhookEndpoint.Apply).
// The input is checked by package webhook.
//
// Errors: not_found.
func (db *DB) UpdateWebhookEndpoint(ctx context.Context, id string, in billow.UpdateWebhookEndpointInput, now time.Time) (*billow.WebhookEndpoint, error) {
	var e *billow.WebhookEndpoint
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		e, err = webhookEndpointByID(ctx, tx, id, db.forUpdate())
		if err != nil {
			return err
		}
		e.Apply(in, now)
		return db.writeWebhookEndpoint(ctx, tx, e)
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// RotateWebhookSecret makes secret the endpoint's signing secret; the one it replaces
// keeps signing beside it until now + billow.WebhookSecretGrace. A secret in its grace
// from an earlier rotation is dropped.
//
// Errors: not_found.
func (db *DB) RotateWebhookSecret(ctx context.Context, id, secret string, now time.Time) (*billow.WebhookEndpoint, error) {
	var e *billow.WebhookEndpoint
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		e, err = webhookEndpointByID(ctx, tx, id, db.forUpdate())
		if err != nil {
			return err
		}
		until := now.Add(billow.WebhookSecretGrace)
		e.PreviousSecret, e.PreviousSecretExpiresAt, e.Secret, e.UpdatedAt = e.Secret, &until, secret, now
		return db.writeWebhookEndpoint(ctx, tx, e)
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

func (db *DB) writeWebhookEndpoint(ctx context.Context, tx *sql.Tx, e *billow.WebhookEndpoint) error {
	types, err := json.Marshal(e.EventTypes)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE webhook_endpoints SET url = $2, description = $3, event_types = $4, enabled = $5,
		disabled_reason = $6, secret = $7, previous_secret = $8, previous_secret_expires_at = $9, failing_since = $10, updated_at = $11
		WHERE id = $1`,
		e.ID, e.URL, e.Description, string(types), e.Enabled, e.DisabledReason, e.Secret, e.PreviousSecret,
		optMicros(e.PreviousSecretExpiresAt), optMicros(e.FailingSince), billow.TimeMicros(e.UpdatedAt))
	if err != nil {
		return fmt.Errorf("sqlstore: update webhook endpoint: %w", err)
	}
	return nil
}

// DeleteWebhookEndpoint deletes an endpoint with its deliveries and their attempts, and
// returns it. A delivery being sent meanwhile is not recorded.
//
// Errors: not_found.
func (db *DB) DeleteWebhookEndpoint(ctx context.Context, id string) (*billow.WebhookEndpoint, error) {
	var e *billow.WebhookEndpoint
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		e, err = webhookEndpointByID(ctx, tx, id, db.forUpdate())
		if err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE endpoint_id = $1)`,
			`DELETE FROM webhook_deliveries WHERE endpoint_id = $1`,
			`DELETE FROM webhook_endpoints WHERE id = $1`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return fmt.Errorf("sqlstore: delete webhook endpoint: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

func webhookEndpointByID(ctx context.Context, q queryRower, id, lock string) (*billow.WebhookEndpoint, error) {
	e, err := scanWebhookEndpoint(q.QueryRowContext(ctx, `SELECT `+webhookEndpointColumns+` FROM webhook_endpoints WHERE id = $1`+lock, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, billow.NotFound("webhook endpoint", id)
	}
	return e, err
}

func scanWebhookEndpoint(s scanner) (*billow.WebhookEndpoint, error) {
	var (
		e                billow.WebhookEndpoint
		types            string
		expires, failing sql.NullInt64
		created, updated int64
	)
	if err := s.Scan(&e.ID, &e.URL, &e.Description, &types, &e.Enabled, &e.DisabledReason, &e.Secret, &e.PreviousSecret,
		&expires, &failing, &created, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(types), &e.EventTypes); err != nil {
		return nil, fmt.Errorf("sqlstore: webhook endpoint %s: event types: %w", e.ID, err)
	}
	e.PreviousSecretExpiresAt, e.FailingSince = optTime(expires), optTime(failing)
	e.CreatedAt, e.UpdatedAt = billow.FromMicros(created), billow.FromMicros(updated)
	return &e, nil
}

// CreateWebhookDeliveries stores new deliveries and returns how many were new: a
// delivery for an (endpoint, event) already stored is skipped, so the fan-out may hand
// the same events twice and create each delivery once.
func (db *DB) CreateWebhookDeliveries(ctx context.Context, ds []*billow.WebhookDelivery) (int, error) {
	created := 0
	err := db.tx(ctx, func(tx *sql.Tx) error {
		for start := 0; start < len(ds); start += webhookInsertRowsMax {
			chunk := ds[start:min(start+webhookInsertRowsMax, len(ds))]
			var q strings.Builder
			q.WriteString(`INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, account_id, status, next_attempt_at,
				payload, created_at, updated_at, series) VALUES `)
			args := make([]any, 0, len(chunk)*11)
			for i, d := range chunk {
				if i > 0 {
					q.WriteString(", ")
				}
				n := len(args)
				fmt.Fprintf(&q, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9, n+10, n+11)
				args = append(args, d.ID, d.Endpoint, d.Event, d.EventType, d.Account, string(d.Status), optMicros(d.NextAttemptAt),
					string(d.Payload), billow.TimeMicros(d.CreatedAt), billow.TimeMicros(d.UpdatedAt), d.Series)
			}
			q.WriteString(` ON CONFLICT (endpoint_id, event_id) DO NOTHING`)
			res, err := tx.ExecContext(ctx, q.String(), args...)
			if err != nil {
				return fmt.Errorf("sqlstore: create webhook deliveries: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			created += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return created, nil
}

// webhookDue selects, as d, the deliveries due at $1 that no claim holds, of enabled
// endpoints.
const webhookDue = `webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
	WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND (d.lease_until IS NULL OR d.lease_until <= $1) AND e.enabled`

// ClaimWebhookDeliveries claims up to limit pending deliveries of enabled endpoints due
// at now, oldest due first, until now + lease, and returns them with their endpoints. A
// delivery claimed by one worker is claimed by no other until its lease runs out: on
// PostgreSQL the rows are locked and skipped by concurrent claims (SKIP LOCKED) and the
// UPDATE checks the lease again; on SQLite the one writer makes claims take turns.
func (db *DB) ClaimWebhookDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*billow.WebhookClaim, error) {
	if limit < 1 {
		return nil, nil
	}
	lock := ""
	if db.dialect == Postgres {
		lock = " FOR UPDATE OF d SKIP LOCKED"
	}
	token := "lease_" + rand.Text()
	nowUs := billow.TimeMicros(now)
	// Workers poll every second: a read first spares an idle store a write transaction
	// (on SQLite, the one writer) per poll and process.
	var one int
	err := db.read.QueryRowContext(ctx, `SELECT 1 FROM `+webhookDue+` LIMIT 1`, nowUs).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: due webhook deliveries: %w", err)
	}
	var claims []*billow.WebhookClaim
	err = db.tx(ctx, func(tx *sql.Tx) error {
		// The due rows are picked once, in a materialized CTE: as a plain IN (subquery),
		// PostgreSQL may run the subquery again while updating and claim past the limit.
		rows, err := tx.QueryContext(ctx, `WITH due AS MATERIALIZED (
				SELECT d.id FROM `+webhookDue+` ORDER BY d.next_attempt_at, d.id LIMIT $4`+lock+`)
			UPDATE webhook_deliveries SET lease_until = $2, lease_token = $3
			WHERE id IN (SELECT id FROM due) AND status = 'pending' AND (lease_until IS NULL OR lease_until <= $1)
			RETURNING `+webhookDeliveryColumns,
			nowUs, billow.TimeMicros(now.Add(lease)), token, limit)
		if err != nil {
			return fmt.Errorf("sqlstore: claim webhook deliveries: %w", err)
		}
		endpoints := map[string]*billow.WebhookEndpoint{}
		for rows.Next() {
			d, err := scanWebhookDelivery(rows)
			if err != nil {
				rows.Close()
				return err
			}
			claims = append(claims, &billow.WebhookClaim{Delivery: d, Token: token})
			endpoints[d.Endpoint] = nil
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for id := range endpoints {
			e, err := webhookEndpointByID(ctx, tx, id, "")
			if err != nil {
				return err
			}
			endpoints[id] = e
		}
		for _, c := range claims {
			c.Endpoint = endpoints[c.Delivery.Endpoint]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return claims, nil
}

// RecordWebhookAttempt records an attempt and the delivery's next state, and keeps the
// endpoint's failing_since (cleared by a success, set by the first failure after one),
// in one transaction, only while the worker's claim holds.
//
// Errors: concurrent_update (the claim ran out and another worker took the delivery, or
// the endpoint was deleted).
func (db *DB) RecordWebhookAttempt(ctx context.Context, w billow.WebhookAttemptWrite) error {
	a := w.Attempt
	at := billow.TimeMicros(a.At)
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET status = $3, attempts = attempts + 1, next_attempt_at = $4,
			last_attempt_at = $5, last_status_code = $6, last_error = $7, lease_until = NULL, lease_token = '', updated_at = $5
			WHERE id = $1 AND lease_token = $2`,
			a.Delivery, w.Token, string(w.Status), optMicros(w.NextAttemptAt), at, a.StatusCode, a.Error)
		if err != nil {
			return fmt.Errorf("sqlstore: record webhook attempt: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return stale("webhook delivery", a.Delivery)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO webhook_attempts (`+webhookAttemptColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			a.ID, a.Delivery, a.Series, a.Number, at, a.StatusCode, a.DurationMs, a.Succeeded, a.Error, a.Response)
		if err != nil {
			return fmt.Errorf("sqlstore: record webhook attempt: %w", err)
		}
		if a.Succeeded {
			_, err = tx.ExecContext(ctx, `UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL`, w.Endpoint)
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE webhook_endpoints SET failing_since = $2 WHERE id = $1 AND failing_since IS NULL`, w.Endpoint, at)
		}
		if err != nil {
			return fmt.Errorf("sqlstore: record webhook attempt: %w", err)
		}
		if w.DisableEndpoint != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET enabled = $2, disabled_reason = $3, updated_at = $4 WHERE id = $1 AND enabled`,
				w.Endpoint, false, w.DisableEndpoint, at); err != nil {
				return fmt.Errorf("sqlstore: disable webhook endpoint: %w", err)
			}
		}
		return nil
	})
}

// WebhookDeliveries lists an endpoint's deliveries, newest first, of one status when the
// filter says so.
//
// Errors: not_found (the endpoint), validation_failed.
func (db *DB) WebhookDeliveries(ctx context.Context, endpointID string, f billow.WebhookDeliveryFilter, page billow.PageInput) (billow.Page[*billow.WebhookDelivery], error) {
	if err := f.Validate(); err != nil {
		return billow.Page[*billow.WebhookDelivery]{}, err
	}
	if _, err := webhookEndpointByID(ctx, db.read, endpointID, ""); err != nil {
		return billow.Page[*billow.WebhookDelivery]{}, err
	}
	page.Normalize()
	rows, err := db.read.QueryContext(ctx, `SELECT `+webhookDeliveryColumns+` FROM webhook_deliveries
		WHERE endpoint_id = $1 AND ($2 = '' OR id < $2) AND ($3 = '' OR status = $3) ORDER BY id DESC LIMIT $4`,
		endpointID, page.StartingAfter, string(f.Status), page.Limit+1)
	if err != nil {
		return billow.Page[*billow.WebhookDelivery]{}, fmt.Errorf("sqlstore: list webhook deliveries: %w", err)
	}
	return collectPage(rows, page.Limit, scanWebhookDelivery)
}

// WebhookDelivery returns a delivery with its latest billow.WebhookAttemptsListMax
// attempts, newest first.
//
// Errors: not_found.
func (db *DB) WebhookDelivery(ctx context.Context, id string) (*billow.WebhookDeliveryDetail, error) {
	d, err := webhookDeliveryByID(ctx, db.read, id, "")
	if err != nil {
		return nil, err
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+webhookAttemptColumns+` FROM webhook_attempts WHERE delivery_id = $1
		ORDER BY series DESC, number DESC LIMIT $2`, id, billow.WebhookAttemptsListMax)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: webhook attempts: %w", err)
	}
	defer rows.Close()
	out := &billow.WebhookDeliveryDetail{WebhookDelivery: d, AttemptLog: []*billow.WebhookAttempt{}}
	for rows.Next() {
		var (
			a  billow.WebhookAttempt
			at int64
		)
		if err := rows.Scan(&a.ID, &a.Delivery, &a.Series, &a.Number, &at, &a.StatusCode, &a.DurationMs, &a.Succeeded, &a.Error, &a.Response); err != nil {
			return nil, err
		}
		a.At = billow.FromMicros(at)
		out.AttemptLog = append(out.AttemptLog, &a)
	}
	return out, rows.Err()
}

// ReplayWebhookDelivery starts a new series of attempts of a delivery, its first due at
// now, with the same message id and body. Any status may be replayed, a pending one
// too (its retries start again from the first), but not while a worker is sending it,
// not to a disabled endpoint, and at most billow.WebhookReplaysMax times.
//
// Errors: not_found, webhook_delivery_in_flight, webhook_endpoint_disabled,
// webhook_replay_limit.
func (db *DB) ReplayWebhookDelivery(ctx context.Context, id string, now time.Time) (*billow.WebhookDelivery, error) {
	var d *billow.WebhookDelivery
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		d, err = webhookDeliveryByID(ctx, tx, id, db.forUpdate())
		if err != nil {
			return err
		}
		if d.LeaseUntil != nil && d.LeaseUntil.After(now) {
			return billow.Errorf(billow.KindConflict, billow.CodeWebhookDeliveryInFlight, "delivery %s is being sent; replay it once the attempt is recorded", id)
		}
		if d.Series >= billow.WebhookReplaysMax {
			return billow.Errorf(billow.KindConflict, billow.CodeWebhookReplayLimit, "delivery %s was replayed %d times, the most allowed", id, d.Series)
		}
		e, err := webhookEndpointByID(ctx, tx, d.Endpoint, "")
		if err != nil {
			return err
		}
		if !e.Enabled {
			return disabledEndpoint(e)
		}
		d.Status, d.Series, d.Attempts, d.NextAttemptAt, d.LeaseUntil, d.UpdatedAt = billow.WebhookPending, d.Series+1, 0, &now, nil, now
		_, err = tx.ExecContext(ctx, `UPDATE webhook_deliveries SET status = 'pending', series = $2, attempts = 0, next_attempt_at = $3,
			lease_until = NULL, lease_token = '', updated_at = $3 WHERE id = $1`, id, d.Series, billow.TimeMicros(now))
		if err != nil {
			return fmt.Errorf("sqlstore: replay webhook delivery: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

func disabledEndpoint(e *billow.WebhookEndpoint) error {
	return billow.Errorf(billow.KindConflict, billow.CodeWebhookEndpointDisabled, "webhook endpoint %s is disabled; enable it first", e.ID)
}

// PurgeWebhookDeliveries deletes up to limit finished (succeeded or failed) deliveries
// last changed before `before`, with their attempts, and returns how many it deleted:
// the delivery log's retention.
func (db *DB) PurgeWebhookDeliveries(ctx context.Context, before time.Time, limit int) (int, error) {
	n := 0
	err := db.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id FROM webhook_deliveries WHERE status <> 'pending' AND updated_at < $1
			ORDER BY updated_at LIMIT $2`, billow.TimeMicros(before), limit)
		if err != nil {
			return fmt.Errorf("sqlstore: purge webhook deliveries: %w", err)
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_attempts WHERE delivery_id = $1`, id); err != nil {
				return fmt.Errorf("sqlstore: purge webhook deliveries: %w", err)
			}
			// Only if still finished: a replay may have made it pending meanwhile.
			res, err := tx.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE id = $1 AND status <> 'pending'`, id)
			if err != nil {
				return fmt.Errorf("sqlstore: purge webhook deliveries: %w", err)
			}
			k, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += int(k)
		}
		return nil
	})
	return n, err
}

func webhookDeliveryByID(ctx context.Context, q queryRower, id, lock string) (*billow.WebhookDelivery, error) {
	d, err := scanWebhookDelivery(q.QueryRowContext(ctx, `SELECT `+webhookDeliveryColumns+` FROM webhook_deliveries WHERE id = $1`+lock, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, billow.NotFound("webhook delivery", id)
	}
	return d, err
}

func scanWebhookDelivery(s scanner) (*billow.WebhookDelivery, error) {
	var (
		d                        billow.WebhookDelivery
		status, payload          string
		next, lease, lastAttempt sql.NullInt64
		created, updated         int64
	)
	if err := s.Scan(&d.ID, &d.Endpoint, &d.Event, &d.EventType, &d.Account, &status, &d.Series, &d.Attempts, &next,
		&lease, &lastAttempt, &d.LastStatusCode, &d.LastError, &payload, &created, &updated); err != nil {
		return nil, err
	}
	d.Status, d.Payload = billow.WebhookDeliveryStatus(status), json.RawMessage(payload)
	d.NextAttemptAt, d.LeaseUntil, d.LastAttemptAt = optTime(next), optTime(lease), optTime(lastAttempt)
	d.CreatedAt, d.UpdatedAt = billow.FromMicros(created), billow.FromMicros(updated)
	return &d, nil
}
