package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/billowhq/billow"
)

// Holds and expiries are ledger movements like grants and spends: they go through the
// same group commit (ledger.go), so that a hold, a spend and a capture of one wallet are
// decided in one order against one set of balances, in every process.

// CreateHold reserves credits of an account's wallet: they move from its grants (in
// spending order, then its grace buffer) to the hold's own ledger account, and leave the
// balance until the hold is captured, released or expires. The same id again returns the
// first hold.
//
// Errors: validation_failed, not_found, insufficient_credits, idempotency_key_reused.
func (db *DB) CreateHold(ctx context.Context, in billow.CreateHoldInput) (*billow.Hold, *billow.Transfer, error) {
	in.Normalize()
	if err := in.Validate(); err != nil {
		return nil, nil, err
	}
	t, err := db.postLedger(ctx, &ledgerOp{hold: &in, accountRef: in.Account})
	if err != nil {
		return nil, nil, err
	}
	h, err := db.Hold(ctx, t.HoldID)
	return h, t, err
}

// CaptureHold charges what the work a hold reserved for actually cost: less than held
// gives the rest back to the grants it came from; more spends the difference from the
// wallet, down to its grace buffer, and what even the buffer cannot pay is recorded as
// uncollected rather than taken below it. A hold is resolved once: every capture or
// release after the first is refused.
//
// Errors: validation_failed, not_found, hold_resolved, hold_expired (its time ran out:
// the expiry sweep gives its credits back).
func (db *DB) CaptureHold(ctx context.Context, in billow.CaptureHoldInput) (*billow.Hold, *billow.Transfer, error) {
	if err := in.Validate(); err != nil {
		return nil, nil, err
	}
	return db.settleHold(ctx, holdSettlement{holdID: in.Hold, to: billow.HoldCaptured, captured: in.AmountUcr})
}

// ReleaseHold gives all a hold reserved back to the wallet.
//
// Errors: not_found, hold_resolved.
func (db *DB) ReleaseHold(ctx context.Context, holdID string) (*billow.Hold, *billow.Transfer, error) {
	return db.settleHold(ctx, holdSettlement{holdID: holdID, to: billow.HoldReleased})
}

func (db *DB) settleHold(ctx context.Context, s holdSettlement) (*billow.Hold, *billow.Transfer, error) {
	h, err := db.Hold(ctx, s.holdID)
	if err != nil {
		return nil, nil, err
	}
	t, err := db.postLedger(ctx, &ledgerOp{settle: &s, accountRef: h.AccountID})
	if err != nil {
		return nil, nil, err
	}
	h, err = db.Hold(ctx, s.holdID)
	return h, t, err
}

// Hold returns a hold.
//
// Errors: not_found.
func (db *DB) Hold(ctx context.Context, id string) (*billow.Hold, error) {
	if !billow.IsID(id, billow.PrefixHold) {
		return nil, billow.NotFound("hold", id)
	}
	var h billow.Hold
	var expires, created int64
	var resolved sql.NullInt64
	err := db.read.QueryRowContext(ctx, `SELECT id, account_id, amount_ucr, status, description, expires_at, created_at, resolved_at,
		captured_ucr, uncollected_ucr FROM holds WHERE id = $1`, id).Scan(&h.ID, &h.AccountID, &h.AmountUcr, &h.Status, &h.Description,
		&expires, &created, &resolved, &h.CapturedUcr, &h.UncollectedUcr)
	if err == sql.ErrNoRows {
		return nil, billow.NotFound("hold", id)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: hold: %w", err)
	}
	h.ExpiresAt, h.CreatedAt = billow.FromMicros(expires), billow.FromMicros(created)
	if resolved.Valid {
		t := billow.FromMicros(resolved.Int64)
		h.ResolvedAt = &t
	}
	return &h, nil
}

// sweepBatchMax bounds the holds or grants one sweep call expires.
const sweepBatchMax = 500

// notOnTestClock leaves out the rows of table that belong to accounts on a test clock:
// their clock, not the real one, expires their holds and grants (ExpireHoldsAt,
// ExpireGrantsAt).
func notOnTestClock(table string) string {
	return `NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = ` + table + `.account_id AND a.test_clock_id IS NOT NULL)`
}

// ExpireHolds gives back the credits of up to sweepBatchMax active holds whose time has
// run out, each in its own movement (a hold captured meanwhile is left alone), and
// returns how many it expired. Several processes may sweep at once: each hold expires
// once. Accounts on a test clock are left out.
func (db *DB) ExpireHolds(ctx context.Context) (int, error) {
	return db.sweep(ctx, "expire holds", `SELECT id, account_id FROM holds WHERE status = 'active' AND expires_at <= $1
		AND `+notOnTestClock("holds")+` ORDER BY expires_at LIMIT $2`, billow.CodeHoldResolved, expireHold, db.now())
}

// ExpireHoldsAt is ExpireHolds for one account, as of at: the upkeep of an account on a
// test clock, at the clock's time.
func (db *DB) ExpireHoldsAt(ctx context.Context, accountID string, at time.Time) (int, error) {
	return db.sweep(ctx, "expire holds", `SELECT id, account_id FROM holds WHERE status = 'active' AND expires_at <= $1
		AND account_id = $3 ORDER BY expires_at LIMIT $2`, billow.CodeHoldResolved, expireHold, at, accountID)
}

func expireHold(id, account string) *ledgerOp {
	return &ledgerOp{settle: &holdSettlement{holdID: id, to: billow.HoldExpired}, accountRef: account}
}

// ExpireGrants moves what is left of up to sweepBatchMax grants past their expiry to the
// expired ledger account, and returns how many grants it settled. Several processes may
// sweep at once: each grant expires once. Accounts on a test clock are left out.
func (db *DB) ExpireGrants(ctx context.Context) (int, error) {
	return db.sweep(ctx, "expire grants", `SELECT id, account_id FROM grants WHERE expiry_pending AND expires_at <= $1
		AND `+notOnTestClock("grants")+` ORDER BY expires_at LIMIT $2`, "", expireGrant, db.now())
}

// ExpireGrantsAt is ExpireGrants for one account, as of at: the upkeep of an account on
// a test clock, at the clock's time. Its expiry transfers bear the time they are
// written, as every transfer does.
func (db *DB) ExpireGrantsAt(ctx context.Context, accountID string, at time.Time) (int, error) {
	return db.sweep(ctx, "expire grants", `SELECT id, account_id FROM grants WHERE expiry_pending AND expires_at <= $1
		AND account_id = $3 ORDER BY expires_at LIMIT $2`, "", expireGrant, at, accountID)
}

func expireGrant(id, account string) *ledgerOp {
	return &ledgerOp{expire: id, accountRef: account}
}

// sweep reads up to sweepBatchMax (id, account) rows due at at by query ($1 at, $2 the
// limit, then args) and posts the movement op makes of each.
func (db *DB) sweep(ctx context.Context, what, query, benign string, op func(id, account string) *ledgerOp, at time.Time, args ...any) (int, error) {
	rows, err := db.read.QueryContext(ctx, query, append([]any{at.UnixMicro(), sweepBatchMax}, args...)...)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: %s: %w", what, err)
	}
	var ops []*ledgerOp
	for rows.Next() {
		var id, account string
		if err := rows.Scan(&id, &account); err != nil {
			rows.Close()
			return 0, err
		}
		ops = append(ops, op(id, account))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	return db.postAll(ctx, ops, benign)
}

// postAll posts movements concurrently, so that they share batches, and returns how
// many were done; an error whose code is benign (another process did it first) is not one.
func (db *DB) postAll(ctx context.Context, ops []*ledgerOp, benign string) (int, error) {
	errs := make(chan error, len(ops))
	for _, op := range ops {
		go func() {
			_, err := db.postLedger(ctx, op)
			errs <- err
		}()
	}
	done := 0
	var first error
	for range ops {
		err := <-errs
		switch {
		case err == nil:
			done++
		case benign != "" && billow.ErrorCode(err) == benign:
		case first == nil:
			first = err
		}
	}
	return done, first
}

// heldState is a hold a batch makes or settles.
type heldState struct {
	hold       *billow.Hold
	accountID  string
	holdSeq    int64
	taken      []billow.Entry // the entries of the transfer that made it
	heldUcr    int64          // what its ledger account holds
	resolveSeq int64
}

// holdsToSettle reads the holds a batch settles, with the entries of the transfers that
// made them and what their ledger accounts hold, under the batch's lock of the head.
func (db *DB) holdsToSettle(ctx context.Context, tx *sql.Tx, ops []*ledgerOp) (map[string]*heldState, error) {
	var ids [][]any
	for _, op := range ops {
		if op.settle != nil {
			ids = append(ids, []any{op.settle.holdID})
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	set, args := db.rowSet(1, []rowSetColumn{{"id", "TEXT"}}, ids)
	rows, err := tx.QueryContext(ctx, `SELECT h.id, h.account_id, h.amount_ucr, h.status, h.description, h.expires_at, h.created_at, h.hold_seq, l.balance_ucr
		FROM holds h JOIN ledger_accounts l ON l.name = 'hold:' || h.id WHERE h.id IN (SELECT id FROM `+set+` AS s)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]*heldState{}
	var seqs []int64
	for rows.Next() {
		h := &heldState{hold: &billow.Hold{}}
		var expires, created int64
		if err := rows.Scan(&h.hold.ID, &h.accountID, &h.hold.AmountUcr, &h.hold.Status, &h.hold.Description, &expires, &created, &h.holdSeq, &h.heldUcr); err != nil {
			return nil, err
		}
		h.hold.AccountID, h.hold.ExpiresAt, h.hold.CreatedAt = h.accountID, billow.FromMicros(expires), billow.FromMicros(created)
		out[h.hold.ID] = h
		seqs = append(seqs, h.holdSeq)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(seqs) == 0 {
		return out, nil
	}
	entries, err := db.entriesOf(ctx, tx, seqs)
	if err != nil {
		return nil, err
	}
	for _, h := range out {
		h.taken = entries[h.holdSeq]
	}
	return out, nil
}

func (db *DB) insertHolds(ctx context.Context, tx *sql.Tx, holds []*heldState) error {
	if len(holds) == 0 {
		return nil
	}
	rows := make([][]any, len(holds))
	for i, h := range holds {
		rows[i] = []any{h.hold.ID, h.accountID, h.hold.AmountUcr, string(h.hold.Status), h.hold.Description,
			h.hold.ExpiresAt.UnixMicro(), h.hold.CreatedAt.UnixMicro(), h.holdSeq}
	}
	set, args := db.rowSet(1, []rowSetColumn{{"id", "TEXT"}, {"account_id", "TEXT"}, {"amount_ucr", "BIGINT"}, {"status", "TEXT"},
		{"description", "TEXT"}, {"expires_at", "BIGINT"}, {"created_at", "BIGINT"}, {"hold_seq", "BIGINT"}}, rows)
	_, err := tx.ExecContext(ctx, `INSERT INTO holds (id, account_id, amount_ucr, status, description, expires_at, created_at, hold_seq)
		SELECT id, account_id, amount_ucr, status, description, expires_at, created_at, hold_seq FROM `+set+` AS h`, args...)
	return err
}

// updateSettledHolds records the holds a batch resolved. Only an active hold changes: the
// batch read them under the head's lock, so this is a check of what it decided.
func (db *DB) updateSettledHolds(ctx context.Context, tx *sql.Tx, holds []*heldState) error {
	for _, h := range holds {
		res, err := tx.ExecContext(ctx, `UPDATE holds SET status = $1, resolved_at = $2, resolve_seq = $3, captured_ucr = $4, uncollected_ucr = $5
			WHERE id = $6 AND status = 'active'`, string(h.hold.Status), h.hold.ResolvedAt.UnixMicro(), h.resolveSeq,
			h.hold.CapturedUcr, h.hold.UncollectedUcr, h.hold.ID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("hold %s was resolved outside the ledger's lock (%d rows, %v)", h.hold.ID, n, err)
		}
	}
	return nil
}

// markGrantsExpired records that the expiry of grants is done.
func (db *DB) markGrantsExpired(ctx context.Context, tx *sql.Tx, grantIDs []string) error {
	if len(grantIDs) == 0 {
		return nil
	}
	rows := make([][]any, len(grantIDs))
	for i, id := range grantIDs {
		rows[i] = []any{id}
	}
	set, args := db.rowSet(1, []rowSetColumn{{"id", "TEXT"}}, rows)
	_, err := tx.ExecContext(ctx, `UPDATE grants SET expiry_pending = (1 = 0) WHERE id IN (SELECT id FROM `+set+` AS g)`, args...)
	return err
}

// heldUcr is what an account's active holds reserve.
func heldUcr(ctx context.Context, q querier, accountID string) (int64, error) {
	var held int64
	err := q.QueryRowContext(ctx, `SELECT COALESCE(SUM(l.balance_ucr), 0) FROM holds h JOIN ledger_accounts l ON l.name = 'hold:' || h.id
		WHERE h.account_id = $1 AND h.status = 'active'`, accountID).Scan(&held)
	return held, err
}
