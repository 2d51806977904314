package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// On PostgreSQL a batch of billing decisions is sent as one pipeline: its statements go
// out together and their answers come back together, so a batch costs a few round trips
// instead of one per statement (a renewal is about a dozen statements; one round trip
// each made the one writer of a group commit wait on the network for most of a batch).
// A pipeline cannot roll one decision back on its own when its check fails, so a batch
// in which a decision fails is rolled back whole and sent again without it; the others
// are committed in the next try. Stale decisions are rare (two processes taking the same
// step), so a batch is nearly always sent once.

// writeBillingBatchPostgres commits ops in one transaction, answering each.
func (db *DB) writeBillingBatchPostgres(ctx context.Context, ops []*billingWriteOp, now time.Time) {
	pending := ops
	// Each try either commits the batch, or answers at least one decision and tries the
	// rest again: the loop ends after len(ops) tries at most.
	for len(pending) > 0 {
		failed, err := db.tryBillingPipeline(ctx, pending, now)
		if failed < 0 {
			for _, op := range pending {
				op.err = err
			}
			return
		}
		pending[failed].err = billingWriteError(pending[failed].write, err)
		pending = append(pending[:failed:failed], pending[failed+1:]...)
	}
}

// tryBillingPipeline writes ops in one transaction through one pipeline. It returns the
// index of a decision that failed and its error (nothing committed); or -1 with the
// batch's outcome: nil when committed, or an error of the database that fails them all.
func (db *DB) tryBillingPipeline(ctx context.Context, ops []*billingWriteOp, now time.Time) (int, error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return -1, fmt.Errorf("sqlstore: begin: %w", err)
	}
	defer tx.Rollback(ctx) // after Commit, a no-op

	// The batch's invoice numbers are taken from the counter at once, in order, before
	// the pipeline that needs them: a batch rolled back gives them back with the rest.
	finalized := int64(0)
	for _, op := range ops {
		for _, iw := range op.write.Invoices {
			if iw.Finalize {
				finalized++
			}
		}
	}
	var next int64
	if finalized > 0 {
		var last int64
		if err := tx.QueryRow(ctx, invoiceCounterSQL, invoiceNumberScope, finalized).Scan(&last); err != nil {
			return -1, fmt.Errorf("sqlstore: invoice numbers: %w", err)
		}
		next = last - finalized + 1
	}
	number := func() (int64, error) {
		next++
		return next - 1, nil
	}

	var batch pgx.Batch
	type queued struct {
		op   int
		stmt billingStmt
	}
	var sent []queued
	// Writers of billing events commit one at a time, so that seq order is commit order
	// for the feed's consumers (sqlstore/feed.go).
	for _, op := range ops {
		if len(op.write.Events) > 0 {
			batch.Queue(`SELECT pg_advisory_xact_lock($1)`, int64(billingEventsLock))
			sent = append(sent, queued{op: -1})
			break
		}
	}
	for i, op := range ops {
		stmts, err := billingStatements(op.write, now, number)
		if err != nil {
			return i, err
		}
		for _, st := range stmts {
			batch.Queue(st.query, st.args...)
			sent = append(sent, queued{op: i, stmt: st})
		}
	}
	results := tx.SendBatch(ctx, &batch)
	for _, q := range sent {
		tag, err := results.Exec()
		if err != nil {
			results.Close()
			if q.op >= 0 && (isUniqueViolation(err) || isPgDataError(err)) {
				return q.op, err
			}
			return -1, err
		}
		if q.stmt.staleIf != "" && tag.RowsAffected() != 1 {
			results.Close()
			return q.op, stale(q.stmt.staleIf, q.stmt.id)
		}
	}
	if err := results.Close(); err != nil {
		return -1, err
	}
	if err := tx.Commit(ctx); err != nil {
		return -1, fmt.Errorf("sqlstore: commit: %w", err)
	}
	return -1, nil
}

// isPgDataError reports whether err is PostgreSQL refusing one statement's data (a
// constraint, a value out of range), which fails that decision rather than the batch.
func isPgDataError(err error) bool {
	code := pgErrorCode(err)
	return len(code) == 5 && (code[:2] == "22" || code[:2] == "23")
}

func pgErrorCode(err error) string {
	var pgErr interface{ SQLState() string }
	if errors.As(err, &pgErr) {
		return pgErr.SQLState()
	}
	return ""
}
