package sqlstore_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

const credit = billow.MicroCreditsPerCredit

// walletAccount makes an account on a copy of the credits-platform catalog whose grace
// buffer is graceCredits.
func walletAccount(t *testing.T, env *storetest.Env, external string, graceCredits int) *billow.Account {
	t.Helper()
	data, err := catalog.Example("credits-platform")
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("grace-%d", graceCredits)
	text := strings.Replace(string(data), "grace_buffer_credits: 0", fmt.Sprintf("grace_buffer_credits: %d", graceCredits), 1)
	if _, _, err := env.DB.SyncCatalog(ctx, name, []byte(text)); err != nil {
		t.Fatal(err)
	}
	a, err := env.DB.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: external, Name: external, Catalog: name, Plan: "free"})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func grant(t *testing.T, env *storetest.Env, in billow.CreateGrantInput) *billow.Grant {
	t.Helper()
	g, _, err := env.DB.CreateGrant(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func verifyLedger(t *testing.T, env *storetest.Env) *sqlstore.LedgerReport {
	t.Helper()
	r, err := env.DB.VerifyLedger(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Problems) > 0 {
		t.Fatalf("the ledger does not verify: %v", r.Problems)
	}
	return r
}

func TestWalletSpendingOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		a := walletAccount(t, env, "acme", 0)
		in30, in60 := env.Clock.Now().Add(30*24*time.Hour), env.Clock.Now().Add(60*24*time.Hour)
		paid := grant(t, env, billow.CreateGrantInput{Account: "acme", Kind: billow.GrantPaid, AmountUcr: 10 * credit, ID: "buy-1", Description: "1,000 credit pack"})
		env.Clock.Advance(time.Second)
		promoLate := grant(t, env, billow.CreateGrantInput{Account: a.ID, Kind: billow.GrantPromotional, AmountUcr: 2 * credit, ExpiresAt: &in60, ID: "promo-60"})
		promoSoon := grant(t, env, billow.CreateGrantInput{Account: a.ID, Kind: billow.GrantPromotional, AmountUcr: 2 * credit, ExpiresAt: &in30, ID: "promo-30"})
		free := grant(t, env, billow.CreateGrantInput{Account: a.ID, Kind: billow.GrantFree, AmountUcr: 5 * credit, ExpiresAt: &in30, ID: "free-jan"})

		w, err := env.DB.Wallet(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		var order []string
		for _, g := range w.Grants {
			order = append(order, g.ID)
		}
		if want := []string{free.ID, promoSoon.ID, promoLate.ID, paid.ID}; fmt.Sprint(order) != fmt.Sprint(want) || w.BalanceUcr != 19*credit || w.BalanceCredits != "19" {
			t.Fatalf("wallet %+v, grants %v; want 19 credits in the order %v", w, order, want)
		}

		// 8.5 credits: all the free ones, the promotional one expiring first, half of the other.
		tr, err := env.DB.Spend(ctx, billow.SpendInput{Account: "acme", AmountUcr: 8*credit + credit/2, ID: "usage-1", Cause: billow.CauseUsage, Description: "Conversations"})
		if err != nil {
			t.Fatal(err)
		}
		if tr.WalletDeltaUcr != -(8*credit+credit/2) || tr.WalletAfterUcr != 10*credit+credit/2 || len(tr.Entries) != 4 {
			t.Fatalf("transfer %+v", tr)
		}
		w, err = env.DB.Wallet(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		if w.BalanceCredits != "10.5" || len(w.Grants) != 2 || w.Grants[0].ID != promoLate.ID || w.Grants[0].RemainingUcr != credit/2 {
			t.Fatalf("after spending: %+v", w)
		}

		// The same id again is the same transfer; with another amount, an error; nothing moves.
		again, err := env.DB.Spend(ctx, billow.SpendInput{Account: "acme", AmountUcr: 8*credit + credit/2, ID: "usage-1", Cause: billow.CauseUsage, Description: "Conversations"})
		if err != nil || again.Seq != tr.Seq || again.Hash != tr.Hash || len(again.Entries) != 4 {
			t.Fatalf("resent: %+v, %v; want transfer %d again", again, err, tr.Seq)
		}
		if _, err := env.DB.Spend(ctx, billow.SpendInput{Account: "acme", AmountUcr: credit, ID: "usage-1", Cause: billow.CauseUsage, Description: "Conversations"}); billow.ErrorCode(err) != billow.CodeIdempotencyReused {
			t.Fatalf("reused id with another amount: %v, want %s", err, billow.CodeIdempotencyReused)
		}
		if _, err := env.DB.Spend(ctx, billow.SpendInput{Account: "acme", AmountUcr: 11 * credit, ID: "usage-2", Cause: billow.CauseUsage}); billow.ErrorCode(err) != billow.CodeInsufficientCredits {
			t.Fatalf("spending more than the wallet holds: %v, want %s", err, billow.CodeInsufficientCredits)
		}

		// Bad input: a clear answer, nothing written.
		for name, spend := range map[string]billow.SpendInput{
			"zero":     {Account: "acme", AmountUcr: 0, ID: "bad-1", Cause: billow.CauseUsage},
			"negative": {Account: "acme", AmountUcr: -5, ID: "bad-2", Cause: billow.CauseUsage},
			"no id":    {Account: "acme", AmountUcr: 5, Cause: billow.CauseUsage},
			"a cause":  {Account: "acme", AmountUcr: 5, ID: "bad-3", Cause: "gift"},
		} {
			if _, err := env.DB.Spend(ctx, spend); billow.ErrorCode(err) != billow.CodeValidationFailed {
				t.Errorf("%s: %v, want validation_failed", name, err)
			}
		}
		if _, err := env.DB.Spend(ctx, billow.SpendInput{Account: "nobody", AmountUcr: 5, ID: "bad-4", Cause: billow.CauseUsage}); billow.ErrorCode(err) != billow.CodeNotFound {
			t.Errorf("unknown account: %v", err)
		}
		for name, g := range map[string]billow.CreateGrantInput{
			"kind":             {Account: "acme", Kind: "bonus", AmountUcr: 5, ID: "g-bad-1"},
			"promo, no expiry": {Account: "acme", Kind: billow.GrantPromotional, AmountUcr: 5, ID: "g-bad-2"},
			"past expiry":      {Account: "acme", Kind: billow.GrantFree, AmountUcr: 5, ID: "g-bad-3", ExpiresAt: ptr(env.Clock.Now().Add(-time.Hour))},
			"amount":           {Account: "acme", Kind: billow.GrantPaid, AmountUcr: billow.TransferMaxUcr + 1, ID: "g-bad-4"},
		} {
			if _, _, err := env.DB.CreateGrant(ctx, g); billow.ErrorCode(err) != billow.CodeValidationFailed {
				t.Errorf("grant with a bad %s: %v, want validation_failed", name, err)
			}
		}

		page, err := env.DB.Transactions(ctx, "acme", billow.PageInput{Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Data) != 3 || !page.HasMore || page.Data[0].ID != "usage-1" || page.Data[0].BalanceAfterUcr != 10*credit+credit/2 ||
			page.Data[1].ID != "free-jan" || page.Data[1].BalanceAfterUcr != 19*credit || page.Data[1].CreditsUcr != 5*credit ||
			page.Data[0].Credits != "-8.5" || page.Data[0].Value != "-0.0085" || page.Data[1].Value != "0.005" || page.Data[1].Currency != "USD" {
			t.Fatalf("transactions: %+v", page.Data)
		}
		rest, err := env.DB.Transactions(ctx, "acme", billow.PageInput{Limit: 3, StartingAfter: fmt.Sprint(page.Data[2].Seq)})
		if err != nil || len(rest.Data) != 2 || rest.HasMore || rest.Data[1].ID != "buy-1" {
			t.Fatalf("second page: %+v, %v", rest, err)
		}
		if r := verifyLedger(t, env); r.Transfers != 5 {
			t.Fatalf("%d transfers in the log, want 5", r.Transfers)
		}
	})
}

// TestConcurrentSpends sends 1,000 spends of one credit at once against a wallet of 500:
// exactly 500 succeed, and no balance after any of them is below zero.
func TestConcurrentSpends(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		a := walletAccount(t, env, "acme", 0)
		grant(t, env, billow.CreateGrantInput{Account: a.ID, Kind: billow.GrantPaid, AmountUcr: 500 * credit, ID: "buy"})
		var ok, refused atomic.Int64
		var wg sync.WaitGroup
		for i := range 1000 {
			wg.Go(func() {
				_, err := env.DB.Spend(ctx, billow.SpendInput{Account: a.ID, AmountUcr: credit, ID: fmt.Sprintf("spend-%d", i), Cause: billow.CauseUsage})
				switch {
				case err == nil:
					ok.Add(1)
				case billow.ErrorCode(err) == billow.CodeInsufficientCredits:
					refused.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 500 || refused.Load() != 500 {
			t.Fatalf("%d spends succeeded and %d were refused, want 500 and 500", ok.Load(), refused.Load())
		}
		w, err := env.DB.Wallet(ctx, a.ID)
		if err != nil || w.BalanceUcr != 0 {
			t.Fatalf("wallet %+v, %v; want 0", w, err)
		}
		for after := ""; ; {
			page, err := env.DB.Transactions(ctx, a.ID, billow.PageInput{Limit: billow.PageLimitMax, StartingAfter: after})
			if err != nil {
				t.Fatal(err)
			}
			for _, tr := range page.Data {
				if tr.BalanceAfterUcr < 0 {
					t.Fatalf("transfer %d left the wallet at %d", tr.Seq, tr.BalanceAfterUcr)
				}
			}
			if !page.HasMore {
				break
			}
			after = fmt.Sprint(page.Data[len(page.Data)-1].Seq)
		}
		verifyLedger(t, env)
	})
}

func TestGraceBuffer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		a := walletAccount(t, env, "acme", 100)
		grant(t, env, billow.CreateGrantInput{Account: a.ID, Kind: billow.GrantPaid, AmountUcr: 50 * credit, ID: "buy-1"})
		tr, err := env.DB.Spend(ctx, billow.SpendInput{Account: a.ID, AmountUcr: 120 * credit, ID: "u-1", Cause: billow.CauseUsage})
		if err != nil || tr.WalletAfterUcr != -70*credit {
			t.Fatalf("spending into the buffer: %+v, %v", tr, err)
		}
		if _, err := env.DB.Spend(ctx, billow.SpendInput{Account: a.ID, AmountUcr: 30*credit + 1, ID: "u-2", Cause: billow.CauseUsage}); billow.ErrorCode(err) != billow.CodeInsufficientCredits {
			t.Fatalf("beyond the buffer: %v", err)
		}
		if _, err := env.DB.Spend(ctx, billow.SpendInput{Account: a.ID, AmountUcr: 30 * credit, ID: "u-3", Cause: billow.CauseUsage}); err != nil {
			t.Fatalf("down to the buffer's end: %v", err)
		}
		// A purchase pays the buffer back before its credits show.
		g, tr, err := env.DB.CreateGrant(ctx, billow.CreateGrantInput{Account: a.ID, Kind: billow.GrantPaid, AmountUcr: 150 * credit, ID: "buy-2"})
		if err != nil {
			t.Fatal(err)
		}
		w, err := env.DB.Wallet(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if g.RemainingUcr != 50*credit || w.BalanceUcr != 50*credit || w.OverdrawnUcr != 0 || tr.WalletAfterUcr != 50*credit || tr.WalletDeltaUcr != 150*credit {
			t.Fatalf("grant %+v, wallet %+v, transfer %+v", g, w, tr)
		}
		verifyLedger(t, env)
	})
}

// TestLedgerVerifyFindsTampering changes, removes and adds rows behind the store's back:
// each is found.
func TestLedgerVerifyFindsTampering(t *testing.T) {
	for name, tamper := range map[string]string{
		"an amount changed":       `UPDATE ledger_entries SET amount_ucr = amount_ucr - 1 WHERE seq = 2 AND pos = 0`,
		"a description changed":   `UPDATE ledger_transfers SET description = 'nothing to see' WHERE seq = 2`,
		"a transfer removed":      `DELETE FROM ledger_entries WHERE seq = 2; DELETE FROM ledger_transfers WHERE seq = 2`,
		"the last one removed":    `DELETE FROM ledger_entries WHERE seq = 3; DELETE FROM ledger_transfers WHERE seq = 3`,
		"a balance changed":       `UPDATE ledger_accounts SET balance_ucr = balance_ucr + 1 WHERE name = 'revenue:usage'`,
		"an entry moved accounts": `UPDATE ledger_entries SET ledger_account = 'expired' WHERE seq = 2 AND ledger_account = 'revenue:usage'`,
	} {
		t.Run(name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, env *storetest.Env) {
				a := walletAccount(t, env, "acme", 0)
				grant(t, env, billow.CreateGrantInput{Account: a.ID, Kind: billow.GrantPaid, AmountUcr: 10 * credit, ID: "buy"})
				for i := range 2 {
					if _, err := env.DB.Spend(ctx, billow.SpendInput{Account: a.ID, AmountUcr: credit, ID: fmt.Sprint("u-", i), Cause: billow.CauseUsage}); err != nil {
						t.Fatal(err)
					}
				}
				verifyLedger(t, env)
				for _, stmt := range strings.Split(tamper, "; ") {
					if err := sqlstore.ExecRaw(env.DB, stmt); err != nil {
						t.Fatal(err)
					}
				}
				r, err := env.DB.VerifyLedger(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				if len(r.Problems) == 0 {
					t.Fatal("the tampering went unnoticed")
				}
				t.Log(r.Problems)
			})
		})
	}
}

// TestLedgerReviewCases: an expired grant is neither counted nor spent; transfer ids are
// each account's own; and an account whose overdraft is already below a floor raised since
// can still be paid back, without failing other accounts' movements.
func TestLedgerReviewCases(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		a := walletAccount(t, env, "acme", 0)
		b := walletAccount(t, env, "globex", 0)
		soon := env.Clock.Now().Add(time.Hour)
		grant(t, env, billow.CreateGrantInput{Account: a.ID, Kind: billow.GrantPromotional, AmountUcr: 5 * credit, ExpiresAt: &soon, ID: "promo"})
		env.Clock.Advance(2 * time.Hour)
		w, err := env.DB.Wallet(ctx, a.ID)
		if err != nil || w.BalanceUcr != 0 || len(w.Grants) != 0 {
			t.Fatalf("wallet with an expired grant: %+v, %v", w, err)
		}
		if _, err := env.DB.Spend(ctx, billow.SpendInput{Account: a.ID, AmountUcr: 1, ID: "u", Cause: billow.CauseUsage}); billow.ErrorCode(err) != billow.CodeInsufficientCredits {
			t.Fatalf("spending an expired grant: %v", err)
		}
		// Another account may use the same id.
		if _, _, err := env.DB.CreateGrant(ctx, billow.CreateGrantInput{Account: b.ID, Kind: billow.GrantPaid, AmountUcr: credit, ID: "promo"}); err != nil {
			t.Fatalf("globex reusing acme's id: %v", err)
		}
		// initech owes 70 credits of a 100-credit buffer; its catalog's next version has none.
		c := walletAccount(t, env, "initech", 100)
		if _, err := env.DB.Spend(ctx, billow.SpendInput{Account: c.ID, AmountUcr: 70 * credit, ID: "u1", Cause: billow.CauseUsage}); err != nil {
			t.Fatal(err)
		}
		data, err := catalog.Example("credits-platform")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := env.DB.SyncCatalog(ctx, "grace-100", data); err != nil { // version 2: no buffer
			t.Fatal(err)
		}
		if _, err := env.DB.MigrateAccountCatalog(ctx, c.ID, billow.MigrateCatalogInput{ToVersion: 2, Plan: "free"}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var others atomic.Int64
		for i := range 50 {
			wg.Go(func() {
				if _, err := env.DB.Spend(ctx, billow.SpendInput{Account: b.ID, AmountUcr: 1, ID: fmt.Sprint("b-", i), Cause: billow.CauseUsage}); err == nil {
					others.Add(1)
				}
			})
		}
		_, tr, err := env.DB.CreateGrant(ctx, billow.CreateGrantInput{Account: c.ID, Kind: billow.GrantPaid, AmountUcr: 10 * credit, ID: "pay-back"})
		wg.Wait()
		if err != nil || tr.WalletAfterUcr != -60*credit {
			t.Fatalf("paying back below a raised floor: %+v, %v", tr, err)
		}
		if others.Load() != 50 {
			t.Fatalf("%d of 50 spends of another account succeeded", others.Load())
		}
		if _, err := env.DB.Spend(ctx, billow.SpendInput{Account: c.ID, AmountUcr: 1, ID: "u2", Cause: billow.CauseUsage}); billow.ErrorCode(err) != billow.CodeInsufficientCredits {
			t.Fatalf("spending beyond the new buffer: %v", err)
		}
		verifyLedger(t, env)
	})
}

// TestUnknownAccountInABatch: movements of an unknown account, by id or external id,
// fail alone with not_found; the others of their batch are posted.
func TestUnknownAccountInABatch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		a := walletAccount(t, env, "acme", 0)
		grant(t, env, billow.CreateGrantInput{Account: a.ID, Kind: billow.GrantPaid, AmountUcr: 1000 * credit, ID: "buy"})
		refs := []string{"acme", a.ID, "nobody", billow.NewID(billow.PrefixAccount, env.Clock.Now())}
		var ok, missing atomic.Int64
		var wg sync.WaitGroup
		for i := range 200 {
			wg.Go(func() {
				_, err := env.DB.Spend(ctx, billow.SpendInput{Account: refs[i%len(refs)], AmountUcr: credit, ID: fmt.Sprintf("s-%d", i), Cause: billow.CauseUsage})
				switch {
				case err == nil:
					ok.Add(1)
				case billow.ErrorCode(err) == billow.CodeNotFound:
					missing.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 100 || missing.Load() != 100 {
			t.Fatalf("%d posted and %d not found, want 100 and 100", ok.Load(), missing.Load())
		}
		if w, err := env.DB.Wallet(ctx, "acme"); err != nil || w.BalanceUcr != 900*credit {
			t.Fatalf("wallet %+v, %v; want 900 credits", w, err)
		}
		verifyLedger(t, env)
	})
}

// TestVerifyLedgerWhileWriting: a verification that runs while spends commit reads one
// snapshot and finds nothing wrong; reading the log, the head and the balances at
// different instants once reported postings made meanwhile as problems.
func TestVerifyLedgerWhileWriting(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		a := walletAccount(t, env, "acme", 0)
		grant(t, env, billow.CreateGrantInput{Account: a.ID, Kind: billow.GrantPaid, AmountUcr: 10_000 * credit, ID: "buy"})
		var writers sync.WaitGroup
		for w := range 8 {
			writers.Go(func() {
				for i := range 100 {
					if _, err := env.DB.Spend(ctx, billow.SpendInput{Account: a.ID, AmountUcr: credit, ID: fmt.Sprintf("w%d-%d", w, i), Cause: billow.CauseUsage}); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		done := make(chan struct{})
		go func() { writers.Wait(); close(done) }()
		defer func() { <-done }() // the writers report to t: they must end first
		for verified := 0; ; verified++ {
			r, err := env.DB.VerifyLedger(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Problems) > 0 {
				t.Fatalf("verification %d during writes: %v", verified, r.Problems)
			}
			select {
			case <-done:
				verifyLedger(t, env)
				return
			default:
			}
		}
	})
}
