// Package ledger owns the rules of the credit ledger, with no I/O: the order a wallet's
// grants are spent in, how a debit is split over them and the grace buffer, the floors no
// ledger account may cross, and the hash chain that makes the log tamper-evident. The
// store (sqlstore) keeps balances and the log and applies these rules in its transactions.
package ledger

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/billowhq/billow"
)

// Names of ledger accounts. A wallet is its grants plus its overdraft account; the
// operator's accounts are the other side of every movement, and may go negative.
const (
	IssuedPrefix  = "issued:" // issued:free, issued:promotional, issued:paid: where granted credits come from
	UsageRevenue  = "revenue:usage"
	Expired       = "expired"
	grantPrefix   = "grant:"
	overdraftPref = "overdraft:"
	holdPrefix    = "hold:"
)

// GrantAccount names the ledger account holding a grant's credits.
func GrantAccount(grantID string) string { return grantPrefix + grantID }

// IsGrantAccount says whether a ledger account holds a grant's credits.
func IsGrantAccount(name string) bool { return strings.HasPrefix(name, grantPrefix) }

// GrantOf returns the grant whose credits a ledger account holds, if it holds a grant's.
func GrantOf(name string) (string, bool) { return strings.CutPrefix(name, grantPrefix) }

// OverdraftAccount names the ledger account of an account's grace buffer.
func OverdraftAccount(accountID string) string { return overdraftPref + accountID }

// HoldAccount names the ledger account holding the credits a hold reserves.
func HoldAccount(holdID string) string { return holdPrefix + holdID }

// IssuedAccount names the operator's account that issues grants of a kind.
func IssuedAccount(kind billow.GrantKind) string { return IssuedPrefix + string(kind) }

// Unbounded is the floor of the operator's accounts: they are the source and sink of
// credits and may go as far negative as int64 allows.
const Unbounded = math.MinInt64

// Balance is a ledger account's balance and the floor it may not go below.
type Balance struct {
	Ucr      int64
	FloorUcr int64
}

// GrantState is what spending needs to know of a grant.
type GrantState struct {
	ID              string
	Kind            billow.GrantKind
	Priority        int
	ExpiresAtMicros int64 // 0: never
	CreatedAtMicros int64
	RemainingUcr    int64
}

// kindRank orders kinds in the standard spending order.
var kindRank = map[billow.GrantKind]int{billow.GrantFree: 0, billow.GrantPromotional: 1, billow.GrantPaid: 2}

// SpendingOrder sorts grants in the order they are spent: higher priority first; then free
// credits, then promotional ones by soonest expiry, then paid ones oldest first; a grant
// that expires sooner goes first among equals of any kind, and the id settles what is
// left, so the order never depends on how the grants were read.
func SpendingOrder(grants []GrantState) {
	slices.SortFunc(grants, func(a, b GrantState) int {
		return cmp.Or(
			cmp.Compare(b.Priority, a.Priority),
			cmp.Compare(kindRank[a.Kind], kindRank[b.Kind]),
			cmp.Compare(expiryKey(a), expiryKey(b)),
			cmp.Compare(a.CreatedAtMicros, b.CreatedAtMicros),
			cmp.Compare(a.ID, b.ID),
		)
	})
}

func expiryKey(g GrantState) int64 {
	if g.ExpiresAtMicros == 0 {
		return math.MaxInt64
	}
	return g.ExpiresAtMicros
}

// ErrInsufficient is returned when a wallet cannot pay an amount.
var ErrInsufficient = errors.New("ledger: insufficient credits")

// Spend splits a debit of amount over a wallet's grants in spending order, skipping those
// expired at nowMicros, and takes what they cannot pay from the overdraft account, whose
// balance may go down to its floor (minus the grace buffer). It returns the entries of
// the transfer, the credit to sink included; grants and the overdraft balance are not
// changed (Apply does that). ErrInsufficient when even the buffer cannot cover it.
func Spend(grants []GrantState, overdraft Balance, overdraftAccount, sink string, amount, nowMicros int64) ([]billow.Entry, error) {
	order := slices.Clone(grants)
	SpendingOrder(order)
	left := amount
	var entries []billow.Entry
	for _, g := range order {
		if left == 0 {
			break
		}
		if g.RemainingUcr <= 0 || (g.ExpiresAtMicros != 0 && g.ExpiresAtMicros <= nowMicros) {
			continue
		}
		take := min(left, g.RemainingUcr)
		entries = append(entries, billow.Entry{LedgerAccount: GrantAccount(g.ID), AmountUcr: -take})
		left -= take
	}
	if left > 0 {
		if overdraft.Ucr-left < overdraft.FloorUcr {
			return nil, ErrInsufficient
		}
		entries = append(entries, billow.Entry{LedgerAccount: overdraftAccount, AmountUcr: -left})
	}
	return append(entries, billow.Entry{LedgerAccount: sink, AmountUcr: amount}), nil
}

// Fund returns the entries that put amount into a new grant, from the issuing account:
// first paying back what the wallet has overdrawn, so that a wallet in its grace buffer
// comes back to zero before credits show as available.
func Fund(source, grantAccount string, overdraft Balance, overdraftAccount string, amount int64) []billow.Entry {
	entries := []billow.Entry{{LedgerAccount: source, AmountUcr: -amount}}
	if owed := -overdraft.Ucr; owed > 0 {
		repay := min(owed, amount)
		entries = append(entries, billow.Entry{LedgerAccount: overdraftAccount, AmountUcr: repay})
		amount -= repay
	}
	if amount > 0 {
		entries = append(entries, billow.Entry{LedgerAccount: grantAccount, AmountUcr: amount})
	}
	return entries
}

// Settle returns the entries that resolve a hold holding held µcr in holdAccount, whose
// reserving transfer took credits from the wallet as taken says (its debits). captured
// goes to sink. What the hold holds beyond it goes back where it came from, last taken
// first, except that credits of a grant expired at nowMicros go to expiredAccount, since
// they would have expired unspent. What captured exceeds the hold by is spent from the
// wallet as Spend would, down to its grace buffer; the part even the buffer cannot pay is
// returned as uncollected and not charged. A release is a settlement capturing 0.
func Settle(held int64, taken []billow.Entry, holdAccount string, grants []GrantState, overdraft Balance, overdraftAccount, sink, expiredAccount string,
	captured, nowMicros int64) (entries []billow.Entry, uncollected int64) {
	sums := map[string]int64{holdAccount: -held}
	var order []string // the order entries are first named in, so the result is deterministic
	add := func(account string, amount int64) {
		if _, ok := sums[account]; !ok {
			order = append(order, account)
		}
		sums[account] += amount
	}
	order = append(order, holdAccount)
	add(sink, min(captured, held))
	if back := held - captured; back > 0 {
		expiresAt := map[string]int64{}
		for _, g := range grants {
			expiresAt[GrantAccount(g.ID)] = g.ExpiresAtMicros
		}
		for i := len(taken) - 1; i >= 0 && back > 0; i-- {
			e := taken[i]
			if e.AmountUcr >= 0 || e.LedgerAccount == holdAccount {
				continue
			}
			give := min(back, -e.AmountUcr)
			to := e.LedgerAccount
			if at := expiresAt[to]; at != 0 && at <= nowMicros {
				to = expiredAccount
			}
			add(to, give)
			back -= give
		}
		if back > 0 { // the hold's own transfer always accounts for all it holds
			panic(fmt.Sprintf("ledger: hold %s holds %d µcr more than its transfer took", holdAccount, back))
		}
	} else if extra := captured - held; extra > 0 {
		// What the wallet can pay of the extra: its live grants, then its buffer.
		can := overdraft.Ucr - overdraft.FloorUcr
		for _, g := range grants {
			if g.RemainingUcr > 0 && (g.ExpiresAtMicros == 0 || g.ExpiresAtMicros > nowMicros) {
				can += g.RemainingUcr
			}
		}
		pay := min(extra, max(can, 0))
		uncollected = extra - pay
		if pay > 0 {
			spent, err := Spend(grants, overdraft, overdraftAccount, sink, pay, nowMicros)
			if err != nil { // pay is what the wallet can pay
				panic("ledger: a settlement spent more than the wallet can pay: " + err.Error())
			}
			for _, e := range spent {
				add(e.LedgerAccount, e.AmountUcr)
			}
		}
	}
	for _, account := range order {
		if v := sums[account]; v != 0 {
			entries = append(entries, billow.Entry{LedgerAccount: account, AmountUcr: v})
		}
	}
	return entries, uncollected
}

// Expire returns the entries that move what is left of a grant to expiredAccount.
func Expire(grantID string, remaining int64, expiredAccount string) []billow.Entry {
	return []billow.Entry{{LedgerAccount: GrantAccount(grantID), AmountUcr: -remaining}, {LedgerAccount: expiredAccount, AmountUcr: remaining}}
}

// BelowFloorError says which ledger account a transfer would take below its floor.
type BelowFloorError struct {
	LedgerAccount string
	BalanceUcr    int64
	FloorUcr      int64
}

func (e *BelowFloorError) Error() string {
	return fmt.Sprintf("ledger: %s would go to %d µcr, below its floor %d", e.LedgerAccount, e.BalanceUcr, e.FloorUcr)
}

// Check verifies a transfer's entries on their own: at least two, none zero, each ledger
// account once, adding up to zero without overflow.
func Check(entries []billow.Entry) error {
	if len(entries) < 2 {
		return fmt.Errorf("ledger: a transfer needs two entries or more, not %d", len(entries))
	}
	var sum int64
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		if e.AmountUcr == 0 {
			return fmt.Errorf("ledger: a zero entry on %s", e.LedgerAccount)
		}
		if e.AmountUcr > billow.TransferMaxUcr || e.AmountUcr < -billow.TransferMaxUcr {
			return fmt.Errorf("ledger: entry of %d µcr on %s is beyond the transfer limit", e.AmountUcr, e.LedgerAccount)
		}
		if seen[e.LedgerAccount] {
			return fmt.Errorf("ledger: %s appears twice in one transfer", e.LedgerAccount)
		}
		seen[e.LedgerAccount] = true
		sum += e.AmountUcr
	}
	if sum != 0 {
		return fmt.Errorf("ledger: entries add up to %d µcr, not 0", sum)
	}
	return nil
}

// Apply adds a transfer's entries to the balances, all or none: a *BelowFloorError when
// one would go below its floor (or past int64), the balances then unchanged. Every
// ledger account named must be in balances.
func Apply(balances map[string]*Balance, entries []billow.Entry) error {
	if err := Check(entries); err != nil {
		return err
	}
	for _, e := range entries {
		b, ok := balances[e.LedgerAccount]
		if !ok {
			return fmt.Errorf("ledger: no balance for %s", e.LedgerAccount)
		}
		next := b.Ucr + e.AmountUcr
		// Only a debit can cross the floor: a credit to an account already below it (its
		// floor raised since) brings it closer, and must go through.
		if (e.AmountUcr > 0 && next < b.Ucr) || (e.AmountUcr < 0 && (next > b.Ucr || next < b.FloorUcr)) {
			return &BelowFloorError{LedgerAccount: e.LedgerAccount, BalanceUcr: next, FloorUcr: b.FloorUcr}
		}
	}
	for _, e := range entries {
		balances[e.LedgerAccount].Ucr += e.AmountUcr
	}
	return nil
}

// Record is what the hash chain covers of a transfer: everything that says what moved,
// when and why.
type Record struct {
	Seq         int64
	ID          string
	AccountID   string
	Cause       billow.TransferCause
	AmountUcr   int64
	Description string
	AtMicros    int64
	Entries     []billow.Entry
}

// Hash returns the hash of a record chained to the hash of the one before it ("" for the
// first): SHA-256 over the previous hash and the record's fields, each length-prefixed
// so that no two records encode alike. A changed, removed or reordered row changes every
// hash after it.
func Hash(prev string, r Record) string {
	h := sha256.New()
	var n [8]byte
	field := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	num := func(v int64) {
		binary.BigEndian.PutUint64(n[:], uint64(v))
		h.Write(n[:])
	}
	field([]byte(prev))
	num(r.Seq)
	field([]byte(r.ID))
	field([]byte(r.AccountID))
	field([]byte(r.Cause))
	num(r.AmountUcr)
	field([]byte(r.Description))
	num(r.AtMicros)
	num(int64(len(r.Entries)))
	for _, e := range r.Entries {
		field([]byte(e.LedgerAccount))
		num(e.AmountUcr)
	}
	return hex.EncodeToString(h.Sum(nil))
}
