package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/billowhq/billow"
)

// The feed of billing events: billing_events is the outbox of billing, written in the
// transaction of each change, and its consumers (emails, outbound webhooks) follow it by
// seq with a position each (event_consumers). A position is only safe if no event can
// commit behind it: on SQLite one writer commits at a time; on PostgreSQL seq values are
// taken when rows are inserted, not when they commit, so every transaction that writes
// billing events first takes billingEventsLock (tryBillingPipeline) and holds it to its
// commit. Seq order is then commit order, and a reader that saw seq n will never later
// see an event below n appear.

// billingEventsLock is the key of the transaction-scoped PostgreSQL advisory lock that
// serializes the writers of billing_events.
const billingEventsLock = 0x62696c6c6f770001 // "billow" + 1

// ConsumerPosition returns the seq of the last billing event a consumer has handled: 0
// for a consumer that has not started.
func (db *DB) ConsumerPosition(ctx context.Context, consumer string) (int64, error) {
	var seq int64
	err := db.read.QueryRowContext(ctx, `SELECT after_seq FROM event_consumers WHERE name = $1`, consumer).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sqlstore: consumer %s: %w", consumer, err)
	}
	return seq, nil
}

// AdvanceConsumer moves a consumer's position from `from` (what ConsumerPosition
// returned) to `to`. Two processes may follow the feed at once; the one that moves a
// position second is told, and reads again from the new position.
//
// Errors: concurrent_update (the position is no longer from), validation_failed (to
// before from).
func (db *DB) AdvanceConsumer(ctx context.Context, consumer string, from, to int64) error {
	if to < from {
		return billow.FieldErrorf(billow.CodeValidationFailed, "to", "a position moves forward: %d is before %d", to, from)
	}
	now := billow.TimeMicros(db.now())
	var res sql.Result
	var err error
	if from == 0 {
		res, err = db.write.ExecContext(ctx, `INSERT INTO event_consumers (name, after_seq, updated_at) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO UPDATE SET after_seq = excluded.after_seq, updated_at = excluded.updated_at
			WHERE event_consumers.after_seq = 0`, consumer, to, now)
	} else {
		res, err = db.write.ExecContext(ctx, `UPDATE event_consumers SET after_seq = $2, updated_at = $3 WHERE name = $1 AND after_seq = $4`,
			consumer, to, now, from)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: advance consumer %s: %w", consumer, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return stale("event consumer", consumer)
	}
	return nil
}
