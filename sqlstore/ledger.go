package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/ledger"
)

// ledgerBatchOpsMax bounds the movements one ledger transaction commits together.
const ledgerBatchOpsMax = 1000

// ledgerBatchTimeout bounds how long one batch may take, waits for locks and connections
// included; its movements fail after it, nothing written.
const ledgerBatchTimeout = 30 * time.Second

// ledgerOp is one movement asked of the ledger, and its answer once written. Exactly one
// of grant, spend, hold, settle and expire is set.
type ledgerOp struct {
	grant  *billow.CreateGrantInput
	spend  *billow.SpendInput
	hold   *billow.CreateHoldInput
	settle *holdSettlement
	expire string // a grant whose remaining credits expire

	// accountRef is the account as asked (id or external id); the batch resolves it,
	// with the others of the batch in one query, to accountID and the catalog's buffer.
	accountRef string
	accountID  string
	graceUcr   int64
	inputHash  string

	transfer *billow.Transfer
	err      error
}

// holdSettlement resolves a hold: captured with an amount, released, or expired.
type holdSettlement struct {
	holdID   string
	to       billow.HoldStatus
	captured int64
}

// CreateGrant adds credits to an account's wallet as a grant, with its ledger transfer
// from the operator's issuing account. Credits an overdrawn wallet owes its grace buffer
// are paid back first. The same id again returns the first grant.
//
// Errors: validation_failed, not_found (the account), idempotency_key_reused (the id was
// used for another movement).
func (db *DB) CreateGrant(ctx context.Context, in billow.CreateGrantInput) (*billow.Grant, *billow.Transfer, error) {
	t, err := db.PostGrant(ctx, in)
	if err != nil {
		return nil, nil, err
	}
	g, err := db.grant(ctx, t.GrantID)
	return g, t, err
}

// PostGrant is CreateGrant for a caller that needs only the transfer (an invoice run
// granting each period's credits): the grant is not read back.
func (db *DB) PostGrant(ctx context.Context, in billow.CreateGrantInput) (*billow.Transfer, error) {
	if err := in.Validate(db.now()); err != nil {
		return nil, err
	}
	return db.postLedger(ctx, &ledgerOp{grant: &in, accountRef: in.Account})
}

// Spend debits an account's wallet: its grants in spending order (package ledger), then
// its grace buffer. The same id again returns the first transfer.
//
// Errors: validation_failed, not_found, insufficient_credits, idempotency_key_reused.
func (db *DB) Spend(ctx context.Context, in billow.SpendInput) (*billow.Transfer, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	return db.postLedger(ctx, &ledgerOp{spend: &in, accountRef: in.Account})
}

// resolveLedgerOps resolves the accounts of a batch's movements in one query and gives each
// movement its account, grace buffer and input hash; a movement of an unknown account gets
// its not_found error. It returns the movements that go on.
func (db *DB) resolveLedgerOps(ctx context.Context, tx *sql.Tx, ops []*ledgerOp) ([]*ledgerOp, error) {
	var ids, externals []any
	seen := map[string]bool{}
	for _, op := range ops {
		if !seen[op.accountRef] {
			seen[op.accountRef] = true
			if billow.IsID(op.accountRef, billow.PrefixAccount) { // as db.Account tells them apart
				ids = append(ids, op.accountRef)
			} else {
				externals = append(externals, op.accountRef)
			}
		}
	}
	// An empty list matches nothing: '' is neither an id nor an external id.
	in := func(from int, refs []any) string {
		if len(refs) == 0 {
			return "''"
		}
		return db.params(from, len(refs))
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, external_id, catalog, catalog_version FROM accounts
		WHERE id IN (`+in(1, ids)+`) OR external_id IN (`+in(len(ids)+1, externals)+`)`, append(ids, externals...)...)
	if err != nil {
		return nil, err
	}
	type resolved struct {
		id       string
		graceUcr int64
	}
	byRef := map[string]resolved{}
	for rows.Next() {
		var id, external, catalogKey string
		var version int64
		if err := rows.Scan(&id, &external, &catalogKey, &version); err != nil {
			rows.Close()
			return nil, err
		}
		cat, _, err := db.Catalog(ctx, catalogKey, version)
		if err != nil {
			rows.Close()
			return nil, err
		}
		r := resolved{id: id, graceUcr: graceUcr(cat)}
		if seen[id] {
			byRef[id] = r
		}
		if seen[external] {
			byRef[external] = r
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	live := ops[:0:0]
	for _, op := range ops {
		r, ok := byRef[op.accountRef]
		if !ok {
			op.err = billow.NotFound("account", op.accountRef)
			continue
		}
		op.accountID, op.graceUcr = r.id, r.graceUcr
		op.inputHash = op.hashInput()
		live = append(live, op)
	}
	return live, nil
}

// hashInput is the hash of what a movement asks, so that an id reused for another
// movement is told apart from the same movement asked again.
func (op *ledgerOp) hashInput() string {
	h := sha256.New()
	switch {
	case op.grant != nil:
		g := op.grant
		expires := ""
		if g.ExpiresAt != nil {
			expires = g.ExpiresAt.UTC().Format(time.RFC3339Nano)
		}
		fmt.Fprintf(h, "grant\x00%s\x00%s\x00%d\x00%s\x00%d\x00%s", op.accountID, g.Kind, g.AmountUcr, expires, g.Priority, g.Description)
	case op.spend != nil:
		s := op.spend
		fmt.Fprintf(h, "spend\x00%s\x00%s\x00%d\x00%s", op.accountID, s.Cause, s.AmountUcr, s.Description)
	case op.hold != nil:
		o := op.hold
		fmt.Fprintf(h, "hold\x00%s\x00%d\x00%d\x00%s", op.accountID, o.AmountUcr, o.TTLSeconds, o.Description)
	case op.settle != nil:
		o := op.settle
		fmt.Fprintf(h, "settle\x00%s\x00%s\x00%s\x00%d", op.accountID, o.holdID, o.to, o.captured)
	default:
		fmt.Fprintf(h, "expire\x00%s\x00%s", op.accountID, op.expire)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// postLedger queues a movement and returns once the batch holding it is committed.
// Ledger movements are group committed (groupCommit), so that many postings share one
// transaction, one lock of the chain's head and one fsync.
func (db *DB) postLedger(ctx context.Context, op *ledgerOp) (*billow.Transfer, error) {
	db.ledgerQueue.do(ctx, op)
	return op.transfer, op.err
}

// writeLedgerBatch decides and writes a batch of movements in one transaction, and
// answers each. A movement the rules refuse is answered with its error and the others go
// on; an error of the database, or a panic, fails them all, nothing written.
func (db *DB) writeLedgerBatch(ctx context.Context, ops []*ledgerOp) {
	err := errors.New("the batch was abandoned")
	defer func() {
		for _, op := range ops {
			if err != nil {
				op.transfer, op.err = nil, fmt.Errorf("sqlstore: ledger: %w", err)
			}
		}
	}()
	err = db.tx(ctx, func(tx *sql.Tx) error { return db.decideLedgerBatch(ctx, tx, ops) })
}

// walletState is an account's wallet as a batch sees it: its grants with a balance and
// its overdraft account.
type walletState struct {
	grants    []ledger.GrantState
	overdraft string
	newOver   bool // the overdraft account is not stored yet
}

// transferKey is a transfer's idempotency id, which is the account's own.
type transferKey struct{ accountID, id string }

// decideLedgerBatch applies the rules to each movement in turn, against the balances as
// the movements before it left them, and writes those accepted.
func (db *DB) decideLedgerBatch(ctx context.Context, tx *sql.Tx, ops []*ledgerOp) error {
	// Accounts first, outside the lock below that serializes every writer: accounts are
	// never deleted, so what this reads stays true.
	ops, err := db.resolveLedgerOps(ctx, tx, ops)
	if err != nil || len(ops) == 0 {
		return err
	}
	lock := db.forUpdate() // one writer of the chain at a time, across processes
	var headSeq int64
	var headHash string
	if err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM ledger_head WHERE id = 1`+lock).Scan(&headSeq, &headHash); err != nil {
		return err
	}

	// Ids already in the log answer with their first transfer.
	keys := make([]transferKey, len(ops))
	for i, op := range ops {
		keys[i] = transferKey{op.accountID, op.id()}
	}
	stored, err := db.transfersByID(ctx, tx, keys)
	if err != nil {
		return err
	}

	// The holds the batch settles, with what their transfers took, and the wallets it
	// touches with every balance it may change.
	holds, err := db.holdsToSettle(ctx, tx, ops)
	if err != nil {
		return err
	}
	accountIDs := map[string]bool{}
	var extraGrants []string // grants a movement names whatever their balance or expiry
	for _, op := range ops {
		accountIDs[op.accountID] = true
		if op.expire != "" {
			extraGrants = append(extraGrants, op.expire)
		}
	}
	for _, h := range holds {
		for _, e := range h.taken {
			if id, ok := ledger.GrantOf(e.LedgerAccount); ok {
				extraGrants = append(extraGrants, id)
			}
		}
	}
	now := db.now() // one instant for the whole batch
	nowMicros := now.UnixMicro()
	wallets, balances, err := db.loadWallets(ctx, tx, accountIDs, extraGrants, now)
	if err != nil {
		return err
	}
	for id, h := range holds {
		balances[ledger.HoldAccount(id)] = &ledger.Balance{Ucr: h.heldUcr}
	}
	var (
		transfers  []*billow.Transfer
		newGrants  []*billow.Grant
		newHolds   []*heldState
		settled    []*heldState
		expired    []string // grants whose expiry is done
		changed    = map[string]bool{}
		inBatch    = map[transferKey]*ledgerOp{}
		newLedgers []newLedgerAccount
	)
	for _, op := range ops {
		id := op.id()
		key := transferKey{op.accountID, id}
		var h *heldState
		if op.settle != nil {
			// A hold is resolved once: every later settlement is refused, whatever it asks.
			h = holds[op.settle.holdID]
			switch {
			case h == nil || h.accountID != op.accountID:
				op.err = billow.NotFound("hold", op.settle.holdID)
				continue
			case h.hold.Status != billow.HoldActive:
				op.err = billow.Errorf(billow.KindConflict, billow.CodeHoldResolved, "hold %s is already %s", h.hold.ID, h.hold.Status)
				continue
			case op.settle.to == billow.HoldCaptured && !h.hold.ExpiresAt.After(now):
				op.err = billow.Errorf(billow.KindConflict, billow.CodeHoldExpired,
					"hold %s expired at %s; its credits go back to the wallet", h.hold.ID, h.hold.ExpiresAt.Format(time.RFC3339))
				continue
			}
		}
		if t, ok := stored[key]; ok {
			if t.inputHash != op.inputHash {
				op.err = reusedTransferID(id)
			} else {
				op.transfer = t.Transfer
			}
			continue
		}
		if first, ok := inBatch[key]; ok {
			if first.inputHash != op.inputHash {
				op.err = reusedTransferID(id)
			} else {
				op.transfer = first.transfer
			}
			continue
		}
		w := wallets[op.accountID]
		od := balances[w.overdraft]
		// The catalog's buffer may have shrunk below what the wallet already owes: the
		// floor then stays at the balance, so nothing more is overdrawn and the wallet can
		// still be paid back.
		od.FloorUcr = min(-op.graceUcr, od.Ucr)
		var entries []billow.Entry
		t := &billow.Transfer{ID: id, AccountID: op.accountID, At: now}
		var grant *billow.Grant
		var hold *billow.Hold
		insufficient := func(amount int64) {
			op.err = billow.Errorf(billow.KindConflict, billow.CodeInsufficientCredits,
				"the wallet of account %s cannot pay %s credits", op.accountID, billow.CreditsText(amount))
		}
		switch {
		case op.grant != nil:
			g := op.grant
			grant = &billow.Grant{ID: billow.NewID(billow.PrefixGrant, now), AccountID: op.accountID, Kind: g.Kind, AmountUcr: g.AmountUcr,
				Priority: g.Priority, ExpiresAt: g.ExpiresAt, Description: g.Description, CreatedAt: now}
			name := ledger.GrantAccount(grant.ID)
			balances[name] = &ledger.Balance{}
			entries = ledger.Fund(ledger.IssuedAccount(g.Kind), name, *od, w.overdraft, g.AmountUcr)
			t.Cause, t.AmountUcr, t.Description, t.GrantID = billow.CauseGrant, g.AmountUcr, g.Description, grant.ID
		case op.spend != nil:
			s := op.spend
			entries, err = ledger.Spend(w.grants, *od, w.overdraft, ledger.UsageRevenue, s.AmountUcr, nowMicros)
			if errors.Is(err, ledger.ErrInsufficient) {
				insufficient(s.AmountUcr)
				continue
			}
			if err != nil {
				return err
			}
			t.Cause, t.AmountUcr, t.Description = s.Cause, s.AmountUcr, s.Description
		case op.hold != nil:
			o := op.hold
			hold = &billow.Hold{ID: billow.NewID(billow.PrefixHold, now), AccountID: op.accountID, AmountUcr: o.AmountUcr,
				Status: billow.HoldActive, Description: o.Description, CreatedAt: now, ExpiresAt: now.Add(time.Duration(o.TTLSeconds) * time.Second)}
			name := ledger.HoldAccount(hold.ID)
			// A hold reserves credits the wallet has, never its grace buffer: the buffer is
			// for what running work costs beyond its hold, charged at the capture. (Credits
			// held from the buffer and later released would also come back as credits that
			// no longer owe anything, if a grant had paid the buffer back meanwhile.)
			noBuffer := ledger.Balance{Ucr: od.Ucr, FloorUcr: od.Ucr}
			entries, err = ledger.Spend(w.grants, noBuffer, w.overdraft, name, o.AmountUcr, nowMicros)
			if errors.Is(err, ledger.ErrInsufficient) {
				insufficient(o.AmountUcr)
				continue
			}
			if err != nil {
				return err
			}
			balances[name] = &ledger.Balance{}
			t.Cause, t.AmountUcr, t.Description, t.HoldID = billow.CauseHold, o.AmountUcr, o.Description, hold.ID
		case op.settle != nil:
			o := op.settle
			name := ledger.HoldAccount(h.hold.ID)
			held := balances[name].Ucr
			var uncollected int64
			entries, uncollected = ledger.Settle(held, h.taken, name, w.grants, *od, w.overdraft, ledger.UsageRevenue, ledger.Expired, o.captured, nowMicros)
			h.hold.Status, h.hold.CapturedUcr, h.hold.UncollectedUcr = o.to, o.captured-uncollected, uncollected
			h.hold.ResolvedAt = &now
			t.HoldID = h.hold.ID
			if o.to == billow.HoldCaptured && o.captured > 0 {
				t.Cause, t.AmountUcr = billow.CauseUsage, o.captured-uncollected
				t.Description = "Hold " + h.hold.ID + " captured"
			} else {
				t.Cause, t.AmountUcr = billow.CauseHold, held
				t.Description = "Hold " + h.hold.ID + " " + string(o.to)
			}
			if h.hold.Description != "" {
				t.Description += ": " + h.hold.Description
			}
			if t.AmountUcr == 0 { // a capture the wallet could not pay at all, of a hold that held nothing more
				t.AmountUcr = held
			}
		default:
			b := balances[ledger.GrantAccount(op.expire)]
			expired = append(expired, op.expire)
			if b == nil || b.Ucr == 0 {
				continue // nothing left to expire: the grant is done, with no transfer
			}
			entries = ledger.Expire(op.expire, b.Ucr, ledger.Expired)
			t.Cause, t.AmountUcr, t.Description = billow.CauseExpiry, b.Ucr, "Credits expired unspent"
		}
		if err := ledger.Apply(balances, entries); err != nil {
			// The rules made these entries from these balances: a refusal here is a bug.
			return fmt.Errorf("ledger rules broke their own floor: %w", err)
		}
		if grant != nil {
			newGrants = append(newGrants, grant)
			newLedgers = append(newLedgers, newLedgerAccount{name: ledger.GrantAccount(grant.ID), accountID: op.accountID, floor: 0})
			w.grants = append(w.grants, ledger.GrantState{ID: grant.ID, Kind: grant.Kind, Priority: grant.Priority,
				ExpiresAtMicros: microsOrZero(grant.ExpiresAt), CreatedAtMicros: grant.CreatedAt.UnixMicro()})
		}
		if hold != nil {
			newLedgers = append(newLedgers, newLedgerAccount{name: ledger.HoldAccount(hold.ID), accountID: op.accountID, floor: 0})
		}
		if h != nil {
			settled = append(settled, h)
		}
		for _, e := range entries {
			changed[e.LedgerAccount] = true
			if e.LedgerAccount == w.overdraft || ledger.IsGrantAccount(e.LedgerAccount) { // the wallet's own: a transfer touches one wallet
				t.WalletDeltaUcr += e.AmountUcr
			}
		}
		t.WalletAfterUcr = balances[w.overdraft].Ucr
		for i := range w.grants { // spending reads remaining credits from the balances
			g := &w.grants[i]
			g.RemainingUcr = balances[ledger.GrantAccount(g.ID)].Ucr
			if g.ExpiresAtMicros == 0 || g.ExpiresAtMicros > nowMicros {
				t.WalletAfterUcr += g.RemainingUcr
			}
		}
		headSeq++
		t.Seq, t.Entries = headSeq, entries
		t.Hash = ledger.Hash(headHash, ledger.Record{Seq: t.Seq, ID: t.ID, AccountID: t.AccountID, Cause: t.Cause, AmountUcr: t.AmountUcr,
			Description: t.Description, AtMicros: t.At.UnixMicro(), Entries: t.Entries})
		headHash = t.Hash
		op.transfer = t
		// Only an accepted movement holds its id: a refused one wrote nothing, so the id
		// stays free, in this batch as in the next.
		inBatch[key] = op
		transfers = append(transfers, t)
		if h != nil {
			h.resolveSeq = t.Seq
		}
		if hold != nil {
			newHolds = append(newHolds, &heldState{hold: hold, accountID: op.accountID, holdSeq: t.Seq})
		}
	}
	if err := db.markGrantsExpired(ctx, tx, expired); err != nil {
		return err
	}
	if len(transfers) == 0 {
		return nil
	}
	for accountID, w := range wallets {
		if w.newOver && changed[w.overdraft] {
			newLedgers = append(newLedgers, newLedgerAccount{name: w.overdraft, accountID: accountID, floor: balances[w.overdraft].FloorUcr})
		}
	}
	if err := db.insertLedgerAccounts(ctx, tx, newLedgers); err != nil {
		return err
	}
	if err := db.insertGrants(ctx, tx, newGrants); err != nil {
		return err
	}
	if err := db.insertTransfers(ctx, tx, transfers, ops); err != nil {
		return err
	}
	if err := db.insertHolds(ctx, tx, newHolds); err != nil {
		return err
	}
	if err := db.updateSettledHolds(ctx, tx, settled); err != nil {
		return err
	}
	if err := db.updateBalances(ctx, tx, changed, balances); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE ledger_head SET seq = $1, hash = $2 WHERE id = 1`, headSeq, headHash)
	return err
}

// id is the movement's idempotency id: the caller's, or one derived from what it
// resolves, so that a hold is settled and a grant expires once.
func (op *ledgerOp) id() string {
	switch {
	case op.grant != nil:
		return op.grant.ID
	case op.spend != nil:
		return op.spend.ID
	case op.hold != nil:
		return op.hold.ID
	case op.settle != nil:
		return billow.TransferIDSettle + op.settle.holdID
	default:
		return billow.TransferIDExpire + op.expire
	}
}

func reusedTransferID(id string) error {
	return billow.Errorf(billow.KindConflict, billow.CodeIdempotencyReused,
		"transfer id %q was used for another movement; choose a new id for a new movement", id)
}

func microsOrZero(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return t.UnixMicro()
}

// storedTransfer is a transfer read back for an id asked again, with its input's hash.
type storedTransfer struct {
	*billow.Transfer
	inputHash string
}

// transfersByID reads the transfers of the given accounts' ids that are already in the log.
func (db *DB) transfersByID(ctx context.Context, tx *sql.Tx, keys []transferKey) (map[transferKey]storedTransfer, error) {
	rows := make([][]any, len(keys))
	for i, k := range keys {
		rows[i] = []any{k.accountID, k.id}
	}
	set, args := db.rowSet(1, []rowSetColumn{{"account_id", "TEXT"}, {"id", "TEXT"}}, rows)
	res, err := tx.QueryContext(ctx, `SELECT `+transferColumns+`, t.input_hash FROM ledger_transfers t
		WHERE (t.account_id, t.id) IN (SELECT account_id, id FROM `+set+` AS i)`, args...)
	if err != nil {
		return nil, err
	}
	defer res.Close()
	out := map[transferKey]storedTransfer{}
	var seqs []int64
	for res.Next() {
		var s storedTransfer
		t, err := scanTransfer(res, &s.inputHash)
		if err != nil {
			return nil, err
		}
		s.Transfer = t
		out[transferKey{t.AccountID, t.ID}] = s
		seqs = append(seqs, t.Seq)
	}
	if err := res.Err(); err != nil {
		return nil, err
	}
	if len(seqs) == 0 {
		return out, nil
	}
	entries, err := db.entriesOf(ctx, tx, seqs)
	if err != nil {
		return nil, err
	}
	for _, s := range out {
		s.Entries = entries[s.Seq]
	}
	return out, nil
}

const transferColumns = `t.seq, t.id, COALESCE(t.account_id, ''), t.cause, t.amount_ucr, t.description, t.at, t.grant_id, t.hold_id, t.wallet_delta_ucr, t.wallet_after_ucr, t.hash`

func scanTransfer(s interface{ Scan(...any) error }, extra ...any) (*billow.Transfer, error) {
	var t billow.Transfer
	var at int64
	if err := s.Scan(append([]any{&t.Seq, &t.ID, &t.AccountID, &t.Cause, &t.AmountUcr, &t.Description, &at, &t.GrantID, &t.HoldID,
		&t.WalletDeltaUcr, &t.WalletAfterUcr, &t.Hash}, extra...)...); err != nil {
		return nil, err
	}
	t.At = billow.FromMicros(at)
	return &t, nil
}

// entriesOf reads the entries of transfers, in their order.
func (db *DB) entriesOf(ctx context.Context, q querier, seqs []int64) (map[int64][]billow.Entry, error) {
	rows := make([][]any, len(seqs))
	for i, s := range seqs {
		rows[i] = []any{s}
	}
	set, args := db.rowSet(1, []rowSetColumn{{"seq", "BIGINT"}}, rows)
	res, err := q.QueryContext(ctx, `SELECT e.seq, e.ledger_account, e.amount_ucr FROM ledger_entries e
		WHERE e.seq IN (SELECT seq FROM `+set+` AS s) ORDER BY e.seq, e.pos`, args...)
	if err != nil {
		return nil, err
	}
	defer res.Close()
	out := map[int64][]billow.Entry{}
	for res.Next() {
		var seq int64
		var e billow.Entry
		if err := res.Scan(&seq, &e.LedgerAccount, &e.AmountUcr); err != nil {
			return nil, err
		}
		out[seq] = append(out[seq], e)
	}
	return out, res.Err()
}

// loadWallets reads the wallets of the accounts a batch touches (grants with credits
// left that have not expired at now, and the overdraft account), and the balances of
// every ledger account the batch may post to.
func (db *DB) loadWallets(ctx context.Context, tx *sql.Tx, accountIDs map[string]bool, extraGrants []string, now time.Time) (map[string]*walletState, map[string]*ledger.Balance, error) {
	wallets := map[string]*walletState{}
	names := []string{ledger.UsageRevenue, ledger.Expired}
	for _, k := range []billow.GrantKind{billow.GrantFree, billow.GrantPromotional, billow.GrantPaid} {
		names = append(names, ledger.IssuedAccount(k))
	}
	idRows := make([][]any, 0, len(accountIDs))
	for id := range accountIDs {
		wallets[id] = &walletState{overdraft: ledger.OverdraftAccount(id)}
		names = append(names, ledger.OverdraftAccount(id))
		idRows = append(idRows, []any{id})
	}
	set, args := db.rowSet(1, []rowSetColumn{{"id", "TEXT"}}, idRows)
	args = append(args, now.UnixMicro())
	live := `l.balance_ucr > 0 AND (g.expires_at IS NULL OR g.expires_at > $` + strconv.Itoa(len(args)) + `)`
	if len(extraGrants) > 0 {
		// Grants a movement names are read whatever their balance or expiry: a hold gives
		// credits back to the grants it took them from, and an expiry empties its grant.
		// Only then: the plain condition keeps the planner on its index for spends.
		extraRows := make([][]any, len(extraGrants))
		for i, id := range extraGrants {
			extraRows[i] = []any{id}
		}
		extraSet, extraArgs := db.rowSet(len(args)+1, []rowSetColumn{{"id", "TEXT"}}, extraRows)
		args = append(args, extraArgs...)
		live = `((` + live + `) OR g.id IN (SELECT id FROM ` + extraSet + ` AS x))`
	}
	res, err := tx.QueryContext(ctx, `SELECT g.id, g.account_id, g.kind, g.priority, COALESCE(g.expires_at, 0), g.created_at, l.balance_ucr
		FROM grants g JOIN ledger_accounts l ON l.name = 'grant:' || g.id
		WHERE g.account_id IN (SELECT id FROM `+set+` AS a) AND `+live, args...)
	if err != nil {
		return nil, nil, err
	}
	balances := map[string]*ledger.Balance{}
	for res.Next() {
		var g ledger.GrantState
		var account string
		if err := res.Scan(&g.ID, &account, &g.Kind, &g.Priority, &g.ExpiresAtMicros, &g.CreatedAtMicros, &g.RemainingUcr); err != nil {
			res.Close()
			return nil, nil, err
		}
		wallets[account].grants = append(wallets[account].grants, g)
		balances[ledger.GrantAccount(g.ID)] = &ledger.Balance{Ucr: g.RemainingUcr}
	}
	res.Close()
	if err := res.Err(); err != nil {
		return nil, nil, err
	}
	nameRows := make([][]any, len(names))
	for i, n := range names {
		nameRows[i] = []any{n}
	}
	set, args = db.rowSet(1, []rowSetColumn{{"name", "TEXT"}}, nameRows)
	res, err = tx.QueryContext(ctx, `SELECT name, balance_ucr, floor_ucr FROM ledger_accounts WHERE name IN (SELECT name FROM `+set+` AS n)`, args...)
	if err != nil {
		return nil, nil, err
	}
	defer res.Close()
	for res.Next() {
		var name string
		var b ledger.Balance
		if err := res.Scan(&name, &b.Ucr, &b.FloorUcr); err != nil {
			return nil, nil, err
		}
		balances[name] = &b
	}
	for _, w := range wallets {
		if balances[w.overdraft] == nil {
			balances[w.overdraft], w.newOver = &ledger.Balance{}, true
		}
	}
	return wallets, balances, res.Err()
}

type newLedgerAccount struct {
	name      string
	accountID string
	floor     int64
}

func (db *DB) insertLedgerAccounts(ctx context.Context, tx *sql.Tx, accounts []newLedgerAccount) error {
	if len(accounts) == 0 {
		return nil
	}
	rows := make([][]any, len(accounts))
	for i, a := range accounts {
		rows[i] = []any{a.name, a.accountID, a.floor}
	}
	set, args := db.rowSet(1, []rowSetColumn{{"name", "TEXT"}, {"account_id", "TEXT"}, {"floor_ucr", "BIGINT"}}, rows)
	_, err := tx.ExecContext(ctx, `INSERT INTO ledger_accounts (name, account_id, floor_ucr, balance_ucr) SELECT name, account_id, floor_ucr, 0 FROM `+set+` AS a`, args...)
	return err
}

func (db *DB) insertGrants(ctx context.Context, tx *sql.Tx, grants []*billow.Grant) error {
	if len(grants) == 0 {
		return nil
	}
	rows := make([][]any, len(grants))
	for i, g := range grants {
		rows[i] = []any{g.ID, g.AccountID, string(g.Kind), g.AmountUcr, int64(g.Priority), microsOrZero(g.ExpiresAt), g.Description, g.CreatedAt.UnixMicro()}
	}
	set, args := db.rowSet(1, []rowSetColumn{{"id", "TEXT"}, {"account_id", "TEXT"}, {"kind", "TEXT"}, {"amount_ucr", "BIGINT"},
		{"priority", "BIGINT"}, {"expires_at", "BIGINT"}, {"description", "TEXT"}, {"created_at", "BIGINT"}}, rows)
	_, err := tx.ExecContext(ctx, `INSERT INTO grants (id, account_id, kind, amount_ucr, priority, expires_at, description, created_at, expiry_pending)
		SELECT id, account_id, kind, amount_ucr, priority, NULLIF(expires_at, 0), description, created_at, expires_at <> 0 FROM `+set+` AS g`, args...)
	return err
}

func (db *DB) insertTransfers(ctx context.Context, tx *sql.Tx, transfers []*billow.Transfer, ops []*ledgerOp) error {
	hashes := map[*billow.Transfer]string{}
	for _, op := range ops {
		if op.transfer != nil {
			hashes[op.transfer] = op.inputHash
		}
	}
	rows := make([][]any, len(transfers))
	var entryRows [][]any
	for i, t := range transfers {
		rows[i] = []any{t.Seq, t.ID, t.AccountID, string(t.Cause), t.AmountUcr, t.Description, t.At.UnixMicro(), t.GrantID, t.HoldID,
			t.WalletDeltaUcr, t.WalletAfterUcr, hashes[t], t.Hash}
		for pos, e := range t.Entries {
			entryRows = append(entryRows, []any{t.Seq, int64(pos), e.LedgerAccount, e.AmountUcr})
		}
	}
	set, args := db.rowSet(1, []rowSetColumn{{"seq", "BIGINT"}, {"id", "TEXT"}, {"account_id", "TEXT"}, {"cause", "TEXT"}, {"amount_ucr", "BIGINT"},
		{"description", "TEXT"}, {"at", "BIGINT"}, {"grant_id", "TEXT"}, {"hold_id", "TEXT"}, {"wallet_delta_ucr", "BIGINT"}, {"wallet_after_ucr", "BIGINT"},
		{"input_hash", "TEXT"}, {"hash", "TEXT"}}, rows)
	if _, err := tx.ExecContext(ctx, `INSERT INTO ledger_transfers (seq, id, account_id, cause, amount_ucr, description, at, grant_id, hold_id,
		wallet_delta_ucr, wallet_after_ucr, input_hash, hash)
		SELECT seq, id, NULLIF(account_id, ''), cause, amount_ucr, description, at, grant_id, hold_id, wallet_delta_ucr, wallet_after_ucr, input_hash, hash
		FROM `+set+` AS t`, args...); err != nil {
		return err
	}
	set, args = db.rowSet(1, []rowSetColumn{{"seq", "BIGINT"}, {"pos", "BIGINT"}, {"ledger_account", "TEXT"}, {"amount_ucr", "BIGINT"}}, entryRows)
	_, err := tx.ExecContext(ctx, `INSERT INTO ledger_entries (seq, pos, ledger_account, amount_ucr)
		SELECT seq, pos, ledger_account, amount_ucr FROM `+set+` AS e`, args...)
	return err
}

func (db *DB) updateBalances(ctx context.Context, tx *sql.Tx, changed map[string]bool, balances map[string]*ledger.Balance) error {
	rows := make([][]any, 0, len(changed))
	for name := range changed {
		b := balances[name]
		rows = append(rows, []any{name, b.Ucr, b.FloorUcr})
	}
	set, args := db.rowSet(1, []rowSetColumn{{"name", "TEXT"}, {"balance_ucr", "BIGINT"}, {"floor_ucr", "BIGINT"}}, rows)
	_, err := tx.ExecContext(ctx, `UPDATE ledger_accounts SET balance_ucr = b.balance_ucr, floor_ucr = b.floor_ucr
		FROM `+set+` AS b WHERE ledger_accounts.name = b.name`, args...)
	return err
}

// grant reads a grant with its remaining credits.
func (db *DB) grant(ctx context.Context, id string) (*billow.Grant, error) {
	grants, err := db.grants(ctx, db.read, `g.id = $1`, id)
	if err != nil {
		return nil, err
	}
	if len(grants) == 0 {
		return nil, billow.NotFound("grant", id)
	}
	return grants[0], nil
}

func (db *DB) grants(ctx context.Context, q querier, where string, args ...any) ([]*billow.Grant, error) {
	rows, err := q.QueryContext(ctx, `SELECT g.id, g.account_id, g.kind, g.amount_ucr, l.balance_ucr, g.priority, g.expires_at, g.description, g.created_at
		FROM grants g JOIN ledger_accounts l ON l.name = 'grant:' || g.id WHERE `+where+` ORDER BY g.created_at, g.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: grants: %w", err)
	}
	defer rows.Close()
	var out []*billow.Grant
	for rows.Next() {
		var g billow.Grant
		var expires sql.NullInt64
		var created int64
		if err := rows.Scan(&g.ID, &g.AccountID, &g.Kind, &g.AmountUcr, &g.RemainingUcr, &g.Priority, &expires, &g.Description, &created); err != nil {
			return nil, err
		}
		if expires.Valid {
			t := billow.FromMicros(expires.Int64)
			g.ExpiresAt = &t
		}
		g.CreatedAt = billow.FromMicros(created)
		out = append(out, &g)
	}
	return out, rows.Err()
}

// Wallet returns an account's wallet: its grants with credits left that have not expired,
// in spending order, and its balance.
//
// Errors: not_found.
func (db *DB) Wallet(ctx context.Context, accountRef string) (*billow.Wallet, error) {
	a, cat, err := db.accountAndCatalog(ctx, accountRef)
	if err != nil {
		return nil, err
	}
	// Grants and overdraft as of one instant: a grant paying back the overdraft between
	// two separate reads would show a balance that never was.
	var grants []*billow.Grant
	var overdraft int64
	var held int64
	err = db.readSnapshot(ctx, func(q querier) error {
		var err error
		grants, err = db.grants(ctx, q, `g.account_id = $1 AND l.balance_ucr > 0 AND (g.expires_at IS NULL OR g.expires_at > $2)`, a.ID, db.now().UnixMicro())
		if err != nil {
			return err
		}
		if held, err = heldUcr(ctx, q, a.ID); err != nil {
			return fmt.Errorf("sqlstore: wallet: %w", err)
		}
		err = q.QueryRowContext(ctx, `SELECT balance_ucr FROM ledger_accounts WHERE name = $1`, ledger.OverdraftAccount(a.ID)).Scan(&overdraft)
		if err != nil && err != sql.ErrNoRows {
			return fmt.Errorf("sqlstore: wallet: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	states := make([]ledger.GrantState, len(grants))
	byID := map[string]*billow.Grant{}
	for i, g := range grants {
		states[i] = ledger.GrantState{ID: g.ID, Kind: g.Kind, Priority: g.Priority, ExpiresAtMicros: microsOrZero(g.ExpiresAt), CreatedAtMicros: g.CreatedAt.UnixMicro()}
		byID[g.ID] = g
	}
	ledger.SpendingOrder(states)
	w := &billow.Wallet{AccountID: a.ID, BalanceUcr: overdraft, OverdrawnUcr: -overdraft,
		GraceUcr: graceUcr(cat), HeldUcr: held, Grants: make([]billow.Grant, 0, len(grants))}
	for _, s := range states {
		w.Grants = append(w.Grants, *byID[s.ID])
		w.BalanceUcr += byID[s.ID].RemainingUcr
	}
	w.BalanceCredits = billow.CreditsText(w.BalanceUcr)
	return w, nil
}

// Transactions lists the movements of an account's wallet, newest first; StartingAfter
// is the seq of the last one of the previous page.
//
// Errors: validation_failed, not_found.
func (db *DB) Transactions(ctx context.Context, accountRef string, page billow.PageInput) (*billow.Page[*billow.WalletTransaction], error) {
	page.Normalize()
	after := int64(math.MaxInt64)
	if page.StartingAfter != "" {
		var err error
		if after, err = strconv.ParseInt(page.StartingAfter, 10, 64); err != nil || after < 1 {
			return nil, billow.FieldErrorf(billow.CodeValidationFailed, "starting_after", "must be the seq of a transaction")
		}
	}
	txs, err := db.walletTransactions(ctx, accountRef, `t.seq < $2 ORDER BY t.seq DESC LIMIT $3`, after, page.Limit+1)
	if err != nil {
		return nil, err
	}
	out := &billow.Page[*billow.WalletTransaction]{Data: txs}
	if len(txs) > page.Limit {
		out.Data, out.HasMore = txs[:page.Limit], true
	}
	return out, nil
}

// TransactionsExportRowsMax bounds the movements one export holds.
const TransactionsExportRowsMax = 100_000

// TransactionsBetween returns the movements of an account's wallet in [from, to), oldest
// first, for an export.
//
// Errors: not_found, request_too_large (more than TransactionsExportRowsMax).
func (db *DB) TransactionsBetween(ctx context.Context, accountRef string, from, to time.Time) ([]*billow.WalletTransaction, error) {
	txs, err := db.walletTransactions(ctx, accountRef, `t.at >= $2 AND t.at < $3 ORDER BY t.seq LIMIT $4`,
		from.UnixMicro(), to.UnixMicro(), TransactionsExportRowsMax+1)
	if err != nil {
		return nil, err
	}
	if len(txs) > TransactionsExportRowsMax {
		return nil, billow.Errorf(billow.KindTooLarge, billow.CodeRequestTooLarge,
			"more than %d transactions in the range; export a shorter one", TransactionsExportRowsMax)
	}
	return txs, nil
}

// walletTransactions reads an account's transfers ($1 is the account id; where holds the
// rest) and values them at the catalog's rate.
func (db *DB) walletTransactions(ctx context.Context, accountRef, where string, args ...any) ([]*billow.WalletTransaction, error) {
	a, cat, err := db.accountAndCatalog(ctx, accountRef)
	if err != nil {
		return nil, err
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+transferColumns+` FROM ledger_transfers t WHERE t.account_id = $1 AND `+where,
		append([]any{a.ID}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: transactions: %w", err)
	}
	defer rows.Close()
	perUnit := decimal.NewFromInt(cat.Credits.PerCurrencyUnit)
	out := []*billow.WalletTransaction{}
	for rows.Next() {
		t, err := scanTransfer(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, &billow.WalletTransaction{Seq: t.Seq, ID: t.ID, At: t.At, Cause: t.Cause, Description: t.Description,
			CreditsUcr: t.WalletDeltaUcr, Credits: billow.CreditsText(t.WalletDeltaUcr),
			// Credits per currency unit is a whole number: 18 decimals keep any quotient of
			// micro-credits exact enough to show every digit a person reads.
			Value: decimal.New(t.WalletDeltaUcr, -6).DivRound(perUnit, 18).String(), Currency: a.Currency,
			BalanceAfterUcr: t.WalletAfterUcr, BalanceAfter: billow.CreditsText(t.WalletAfterUcr)})
	}
	return out, rows.Err()
}

// LedgerReport is what VerifyLedger found. A ledger is sound when Problems is empty.
type LedgerReport struct {
	Transfers int64
	Entries   int64
	Problems  []string // at most ledgerProblemsMax, the first found
}

// ledgerProblemsMax bounds the problems a report lists: the first says where to look.
const ledgerProblemsMax = 100

// ledgerVerifyPageTransfers bounds the transfers VerifyLedger holds in memory at once.
const ledgerVerifyPageTransfers = 10_000

func (r *LedgerReport) problem(format string, args ...any) {
	if len(r.Problems) < ledgerProblemsMax {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

// VerifyLedger reads the whole log in order and checks it: seqs without a gap from 1,
// each hash chained to the one before, each transfer's entries adding up to zero, the
// stored balances equal to the sum of their entries and not below their floors, all
// balances adding up to zero, and the head naming the last transfer. progress, when
// set, is called with the transfers read so far after each page.
func (db *DB) VerifyLedger(ctx context.Context, progress func(transfers int64)) (*LedgerReport, error) {
	var report *LedgerReport
	err := db.readSnapshot(ctx, func(q querier) (err error) {
		report, err = db.verifyLedger(ctx, q, progress)
		return err
	})
	return report, err
}

// verifyLedger is VerifyLedger within one snapshot q: the log, the head and the balances
// are read as of one instant, so that postings committed meanwhile are not half counted.
func (db *DB) verifyLedger(ctx context.Context, q querier, progress func(transfers int64)) (*LedgerReport, error) {
	r := &LedgerReport{}
	sums := map[string]int64{}
	var prevSeq int64
	prevHash := ""
	for {
		rows, err := q.QueryContext(ctx, `SELECT `+transferColumns+` FROM ledger_transfers t WHERE t.seq > $1 ORDER BY t.seq LIMIT $2`,
			prevSeq, ledgerVerifyPageTransfers)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: verify ledger: %w", err)
		}
		var page []*billow.Transfer
		for rows.Next() {
			t, err := scanTransfer(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			page = append(page, t)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if len(page) == 0 {
			break
		}
		seqs := make([]int64, len(page))
		for i, t := range page {
			seqs[i] = t.Seq
		}
		entries, err := db.entriesOf(ctx, q, seqs)
		if err != nil {
			return nil, err
		}
		for _, t := range page {
			r.Transfers++
			if t.Seq != prevSeq+1 {
				r.problem("transfers %d to %d are missing", prevSeq+1, t.Seq-1)
			}
			t.Entries = entries[t.Seq]
			r.Entries += int64(len(t.Entries))
			if err := ledger.Check(t.Entries); err != nil {
				r.problem("transfer %d (%s): %v", t.Seq, t.ID, err)
			}
			for _, e := range t.Entries {
				sums[e.LedgerAccount] += e.AmountUcr
			}
			want := ledger.Hash(prevHash, ledger.Record{Seq: t.Seq, ID: t.ID, AccountID: t.AccountID, Cause: t.Cause, AmountUcr: t.AmountUcr,
				Description: t.Description, AtMicros: t.At.UnixMicro(), Entries: t.Entries})
			if want != t.Hash {
				r.problem("transfer %d (%s): its hash does not follow from its content and the transfer before it: changed, or one before it was", t.Seq, t.ID)
			}
			prevSeq, prevHash = t.Seq, t.Hash
		}
		if progress != nil {
			progress(r.Transfers)
		}
	}
	var headSeq int64
	var headHash string
	if err := q.QueryRowContext(ctx, `SELECT seq, hash FROM ledger_head WHERE id = 1`).Scan(&headSeq, &headHash); err != nil {
		return nil, fmt.Errorf("sqlstore: verify ledger: %w", err)
	}
	if headSeq != prevSeq || headHash != prevHash {
		r.problem("the head names transfer %d, the log ends at %d: the last transfers are missing or the head was changed", headSeq, prevSeq)
	}
	rows, err := q.QueryContext(ctx, `SELECT name, balance_ucr, floor_ucr FROM ledger_accounts ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: verify ledger: %w", err)
	}
	defer rows.Close()
	var total int64
	for rows.Next() {
		var name string
		var balance, floor int64
		if err := rows.Scan(&name, &balance, &floor); err != nil {
			return nil, err
		}
		if balance != sums[name] {
			r.problem("ledger account %s holds %d µcr; its entries add up to %d", name, balance, sums[name])
		}
		if balance < floor {
			r.problem("ledger account %s holds %d µcr, below its floor %d", name, balance, floor)
		}
		delete(sums, name)
		total += balance
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for name := range sums {
		r.problem("entries name ledger account %s, which does not exist", name)
	}
	if total != 0 {
		r.problem("the balances add up to %d µcr, not 0", total)
	}
	return r, nil
}

// querier runs queries: *sql.DB or *sql.Tx.
type querier interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

// readSnapshot runs fn in one read transaction, so that its queries see one state of the
// store while writes go on: repeatable read on PostgreSQL; on SQLite a read transaction
// in WAL mode keeps the snapshot of its first read.
func (db *DB) readSnapshot(ctx context.Context, fn func(q querier) error) error {
	var opts *sql.TxOptions
	if db.dialect == Postgres {
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	tx, err := db.read.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer tx.Rollback() // nothing was written
	return fn(tx)
}

// graceUcr is how far below zero the catalog lets a wallet go.
func graceUcr(cat *catalog.Catalog) int64 {
	return cat.Credits.GraceBufferCredits * billow.MicroCreditsPerCredit
}

// RawWallet is a wallet RawInsertTransfers writes to: its account and the ledger account
// its transfers take credits from.
type RawWallet struct{ AccountID, From string }

// RawInsertTransfers writes n spend-shaped transfers, the k-th of wallets[k % len], each
// with its two entries (From → to), straight into the ledger tables, batchSize to a
// transaction: no rule, balance, lock or chain. It is the physical limit `billow bench
// ledger` measures postings against, and leaves a ledger that does not verify: for
// benchmark stores only.
func (db *DB) RawInsertTransfers(ctx context.Context, wallets []RawWallet, to string, n, batchSize int) error {
	var seq int64
	if err := db.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM ledger_transfers`).Scan(&seq); err != nil {
		return err
	}
	at := db.now()
	for done := 0; done < n; {
		batch := make([]*billow.Transfer, min(batchSize, n-done))
		for i := range batch {
			seq++
			w := wallets[(done+i)%len(wallets)]
			batch[i] = &billow.Transfer{Seq: seq, ID: "raw-" + strconv.FormatInt(seq, 10), AccountID: w.AccountID, Cause: billow.CauseUsage,
				AmountUcr: billow.MicroCreditsPerCredit, At: at, Hash: fmt.Sprintf("%064x", seq),
				Entries: []billow.Entry{{LedgerAccount: w.From, AmountUcr: -billow.MicroCreditsPerCredit}, {LedgerAccount: to, AmountUcr: billow.MicroCreditsPerCredit}}}
		}
		if err := db.tx(ctx, func(tx *sql.Tx) error { return db.insertTransfers(ctx, tx, batch, nil) }); err != nil {
			return err
		}
		done += len(batch)
	}
	return nil
}
