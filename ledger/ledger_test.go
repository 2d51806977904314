package ledger_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/ledger"
)

const credit = billow.MicroCreditsPerCredit

func TestSpend(t *testing.T) {
	const now = int64(1_000_000)
	free := ledger.GrantState{ID: "free", Kind: billow.GrantFree, CreatedAtMicros: 50, ExpiresAtMicros: now + 900, RemainingUcr: 5 * credit}
	promoLate := ledger.GrantState{ID: "promo-late", Kind: billow.GrantPromotional, CreatedAtMicros: 10, ExpiresAtMicros: now + 500, RemainingUcr: 2 * credit}
	promoSoon := ledger.GrantState{ID: "promo-soon", Kind: billow.GrantPromotional, CreatedAtMicros: 20, ExpiresAtMicros: now + 100, RemainingUcr: 1 * credit}
	paidOld := ledger.GrantState{ID: "paid-old", Kind: billow.GrantPaid, CreatedAtMicros: 1, RemainingUcr: 3 * credit}
	paidNew := ledger.GrantState{ID: "paid-new", Kind: billow.GrantPaid, CreatedAtMicros: 2, RemainingUcr: 3 * credit}
	expired := ledger.GrantState{ID: "expired", Kind: billow.GrantFree, CreatedAtMicros: 0, ExpiresAtMicros: now, RemainingUcr: 9 * credit}
	all := []ledger.GrantState{paidNew, expired, promoLate, paidOld, free, promoSoon}
	od := ledger.OverdraftAccount("acct")
	g := ledger.GrantAccount
	for _, tc := range []struct {
		name      string
		grants    []ledger.GrantState
		overdraft ledger.Balance
		amount    int64
		want      []billow.Entry
		err       error
	}{
		{name: "free first", grants: all, amount: 4 * credit, want: []billow.Entry{
			{LedgerAccount: g("free"), AmountUcr: -4 * credit}, {LedgerAccount: ledger.UsageRevenue, AmountUcr: 4 * credit}}},
		{name: "then promotional by soonest expiry, then paid oldest first; the expired grant is skipped", grants: all, amount: 10*credit + 1, want: []billow.Entry{
			{LedgerAccount: g("free"), AmountUcr: -5 * credit}, {LedgerAccount: g("promo-soon"), AmountUcr: -1 * credit},
			{LedgerAccount: g("promo-late"), AmountUcr: -2 * credit}, {LedgerAccount: g("paid-old"), AmountUcr: -2*credit - 1},
			{LedgerAccount: ledger.UsageRevenue, AmountUcr: 10*credit + 1}}},
		{name: "priority comes before kind", grants: []ledger.GrantState{free, {ID: "vip", Kind: billow.GrantPaid, Priority: 1, RemainingUcr: credit}}, amount: 2 * credit,
			want: []billow.Entry{{LedgerAccount: g("vip"), AmountUcr: -credit}, {LedgerAccount: g("free"), AmountUcr: -credit}, {LedgerAccount: ledger.UsageRevenue, AmountUcr: 2 * credit}}},
		{name: "the grace buffer pays the rest", grants: []ledger.GrantState{paidOld}, overdraft: ledger.Balance{FloorUcr: -2 * credit}, amount: 5 * credit,
			want: []billow.Entry{{LedgerAccount: g("paid-old"), AmountUcr: -3 * credit}, {LedgerAccount: od, AmountUcr: -2 * credit}, {LedgerAccount: ledger.UsageRevenue, AmountUcr: 5 * credit}}},
		{name: "beyond the buffer: refused", grants: []ledger.GrantState{paidOld}, overdraft: ledger.Balance{FloorUcr: -2 * credit}, amount: 5*credit + 1, err: ledger.ErrInsufficient},
		{name: "an overdrawn wallet has less buffer left", grants: nil, overdraft: ledger.Balance{Ucr: -credit, FloorUcr: -2 * credit}, amount: credit + 1, err: ledger.ErrInsufficient},
		{name: "no buffer, no grants", grants: []ledger.GrantState{expired}, amount: 1, err: ledger.ErrInsufficient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ledger.Spend(tc.grants, tc.overdraft, od, ledger.UsageRevenue, tc.amount, now)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			if err == nil {
				if err := ledger.Check(got); err != nil {
					t.Errorf("the entries do not balance: %v", err)
				}
			}
		})
	}
}

func TestFundPaysBackTheBufferFirst(t *testing.T) {
	od, g, src := ledger.OverdraftAccount("acct"), ledger.GrantAccount("new"), ledger.IssuedAccount(billow.GrantPaid)
	for _, tc := range []struct {
		name      string
		overdrawn int64
		amount    int64
		want      []billow.Entry
	}{
		{"nothing owed", 0, 5, []billow.Entry{{LedgerAccount: src, AmountUcr: -5}, {LedgerAccount: g, AmountUcr: 5}}},
		{"part owed", 2, 5, []billow.Entry{{LedgerAccount: src, AmountUcr: -5}, {LedgerAccount: od, AmountUcr: 2}, {LedgerAccount: g, AmountUcr: 3}}},
		{"more owed than funded", 9, 5, []billow.Entry{{LedgerAccount: src, AmountUcr: -5}, {LedgerAccount: od, AmountUcr: 5}}},
	} {
		got := ledger.Fund(src, g, ledger.Balance{Ucr: -tc.overdrawn, FloorUcr: -10}, od, tc.amount)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
		if err := ledger.Check(got); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestApplyIsAllOrNothing(t *testing.T) {
	balances := map[string]*ledger.Balance{
		"a":    {Ucr: 5},
		"b":    {Ucr: 1},
		"sink": {Ucr: 0, FloorUcr: ledger.Unbounded},
	}
	if err := ledger.Apply(balances, []billow.Entry{{LedgerAccount: "a", AmountUcr: -5}, {LedgerAccount: "b", AmountUcr: -2}, {LedgerAccount: "sink", AmountUcr: 7}}); err == nil {
		t.Fatal("b would go below its floor: want an error")
	} else if e := (*ledger.BelowFloorError)(nil); !errors.As(err, &e) || e.LedgerAccount != "b" {
		t.Fatalf("error %v, want b below its floor", err)
	}
	if balances["a"].Ucr != 5 || balances["b"].Ucr != 1 || balances["sink"].Ucr != 0 {
		t.Fatalf("a refused transfer changed balances: %+v %+v %+v", *balances["a"], *balances["b"], *balances["sink"])
	}
	if err := ledger.Apply(balances, []billow.Entry{{LedgerAccount: "a", AmountUcr: -5}, {LedgerAccount: "sink", AmountUcr: 5}}); err != nil {
		t.Fatal(err)
	}
	if balances["a"].Ucr != 0 || balances["sink"].Ucr != 5 {
		t.Fatalf("balances after: %+v %+v", *balances["a"], *balances["sink"])
	}
	for name, entries := range map[string][]billow.Entry{
		"one entry":        {{LedgerAccount: "a", AmountUcr: 1}},
		"unbalanced":       {{LedgerAccount: "a", AmountUcr: 1}, {LedgerAccount: "sink", AmountUcr: -2}},
		"a zero entry":     {{LedgerAccount: "a", AmountUcr: 0}, {LedgerAccount: "sink", AmountUcr: 0}},
		"an account twice": {{LedgerAccount: "sink", AmountUcr: 1}, {LedgerAccount: "sink", AmountUcr: -1}},
		"unknown account":  {{LedgerAccount: "nope", AmountUcr: 1}, {LedgerAccount: "sink", AmountUcr: -1}},
	} {
		if err := ledger.Apply(balances, entries); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

func TestHashCoversEveryField(t *testing.T) {
	base := ledger.Record{Seq: 7, ID: "t-1", AccountID: "acct", Cause: billow.CauseUsage, AmountUcr: 10, Description: "calls", AtMicros: 99,
		Entries: []billow.Entry{{LedgerAccount: "a", AmountUcr: -10}, {LedgerAccount: "b", AmountUcr: 10}}}
	h := ledger.Hash("prev", base)
	if h != ledger.Hash("prev", base) || len(h) != 64 {
		t.Fatalf("hash %q is not a stable SHA-256", h)
	}
	changes := map[string]func(r *ledger.Record){
		"seq":         func(r *ledger.Record) { r.Seq++ },
		"id":          func(r *ledger.Record) { r.ID = "t-2" },
		"account":     func(r *ledger.Record) { r.AccountID = "acct2" },
		"cause":       func(r *ledger.Record) { r.Cause = billow.CauseRefund },
		"amount":      func(r *ledger.Record) { r.AmountUcr = 11 },
		"description": func(r *ledger.Record) { r.Description = "call" },
		"time":        func(r *ledger.Record) { r.AtMicros++ },
		"entry": func(r *ledger.Record) {
			r.Entries = []billow.Entry{{LedgerAccount: "a", AmountUcr: -9}, {LedgerAccount: "b", AmountUcr: 9}}
		},
		"field split": func(r *ledger.Record) { r.ID, r.AccountID = "t-1a", "cct" },
	}
	for name, change := range changes {
		r := base
		change(&r)
		if ledger.Hash("prev", r) == h {
			t.Errorf("changing the %s leaves the hash as it was", name)
		}
	}
	if ledger.Hash("other", base) == h {
		t.Error("the previous hash is not covered")
	}
}

// TestApplyCreditBelowFloor: an account already below its floor (the floor raised since)
// takes credits, and takes no further debit.
func TestApplyCreditBelowFloor(t *testing.T) {
	balances := map[string]*ledger.Balance{"od": {Ucr: -70, FloorUcr: 0}, "src": {FloorUcr: ledger.Unbounded}}
	if err := ledger.Apply(balances, []billow.Entry{{LedgerAccount: "src", AmountUcr: -10}, {LedgerAccount: "od", AmountUcr: 10}}); err != nil {
		t.Fatalf("a credit towards the floor: %v", err)
	}
	if balances["od"].Ucr != -60 {
		t.Fatalf("balance %d, want -60", balances["od"].Ucr)
	}
	if err := ledger.Apply(balances, []billow.Entry{{LedgerAccount: "od", AmountUcr: -1}, {LedgerAccount: "src", AmountUcr: 1}}); err == nil {
		t.Fatal("a debit below the floor went through")
	}
}

func TestSettle(t *testing.T) {
	const now = int64(1_000_000)
	hold := ledger.HoldAccount("h")
	od := ledger.OverdraftAccount("acct")
	g := ledger.GrantAccount
	free := ledger.GrantState{ID: "free", Kind: billow.GrantFree, ExpiresAtMicros: now + 10, RemainingUcr: 0}
	gone := ledger.GrantState{ID: "gone", Kind: billow.GrantPromotional, ExpiresAtMicros: now, RemainingUcr: 0}
	paid := ledger.GrantState{ID: "paid", Kind: billow.GrantPaid, RemainingUcr: 4 * credit}
	// The hold took 3 free credits, then 2 of an overdraft: 5 held.
	taken := []billow.Entry{{LedgerAccount: g("free"), AmountUcr: -3 * credit}, {LedgerAccount: od, AmountUcr: -2 * credit}, {LedgerAccount: hold, AmountUcr: 5 * credit}}
	for _, tc := range []struct {
		name        string
		taken       []billow.Entry
		grants      []ledger.GrantState
		overdraft   ledger.Balance
		captured    int64
		want        []billow.Entry
		uncollected int64
	}{
		{name: "all captured", taken: taken, captured: 5 * credit, want: []billow.Entry{
			{LedgerAccount: hold, AmountUcr: -5 * credit}, {LedgerAccount: ledger.UsageRevenue, AmountUcr: 5 * credit}}},
		{name: "less: the rest goes back last taken first", taken: taken, grants: []ledger.GrantState{free}, captured: 2 * credit, want: []billow.Entry{
			{LedgerAccount: hold, AmountUcr: -5 * credit}, {LedgerAccount: ledger.UsageRevenue, AmountUcr: 2 * credit},
			{LedgerAccount: od, AmountUcr: 2 * credit}, {LedgerAccount: g("free"), AmountUcr: credit}}},
		{name: "release", taken: taken, grants: []ledger.GrantState{free}, captured: 0, want: []billow.Entry{
			{LedgerAccount: hold, AmountUcr: -5 * credit}, {LedgerAccount: od, AmountUcr: 2 * credit}, {LedgerAccount: g("free"), AmountUcr: 3 * credit}}},
		{name: "credits of an expired grant go to expired", grants: []ledger.GrantState{gone},
			taken:    []billow.Entry{{LedgerAccount: g("gone"), AmountUcr: -5 * credit}, {LedgerAccount: hold, AmountUcr: 5 * credit}},
			captured: credit, want: []billow.Entry{
				{LedgerAccount: hold, AmountUcr: -5 * credit}, {LedgerAccount: ledger.UsageRevenue, AmountUcr: credit}, {LedgerAccount: ledger.Expired, AmountUcr: 4 * credit}}},
		{name: "more: the wallet pays the difference", taken: taken, grants: []ledger.GrantState{paid}, captured: 8 * credit, want: []billow.Entry{
			{LedgerAccount: hold, AmountUcr: -5 * credit}, {LedgerAccount: ledger.UsageRevenue, AmountUcr: 8 * credit}, {LedgerAccount: g("paid"), AmountUcr: -3 * credit}}},
		{name: "more than the wallet and its buffer: the rest is uncollected", taken: taken, grants: []ledger.GrantState{paid},
			overdraft: ledger.Balance{Ucr: -2 * credit, FloorUcr: -3 * credit}, captured: 20 * credit, uncollected: 10 * credit, want: []billow.Entry{
				{LedgerAccount: hold, AmountUcr: -5 * credit}, {LedgerAccount: ledger.UsageRevenue, AmountUcr: 10 * credit},
				{LedgerAccount: g("paid"), AmountUcr: -4 * credit}, {LedgerAccount: od, AmountUcr: -credit}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, uncollected := ledger.Settle(5*credit, tc.taken, hold, tc.grants, tc.overdraft, od, ledger.UsageRevenue, ledger.Expired, tc.captured, now)
			if diff := cmp.Diff(tc.want, got); diff != "" || uncollected != tc.uncollected {
				t.Fatalf("entries (-want +got):\n%s\nuncollected %d, want %d", diff, uncollected, tc.uncollected)
			}
			if err := ledger.Check(got); err != nil {
				t.Fatal(err)
			}
		})
	}
}
