package sqlstore_test

import (
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// The balances the auto-charge runner reads in one query are the wallets' balances:
// expired grants left out, holds taken out, an overdraft counted below zero.
func TestAutoChargeBalancesAreWalletBalances(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		const cr = billow.MicroCreditsPerCredit
		a := walletAccount(t, env, "a", 50)
		b := walletAccount(t, env, "b", 50)
		c := walletAccount(t, env, "c", 50) // no settings: never read
		for _, acc := range []*billow.Account{a, b} {
			if _, err := env.DB.SetAutoCharge(ctx, acc.ID, billow.AutoChargeSettings{ThresholdCredits: 100}); err != nil {
				t.Fatal(err)
			}
		}
		soon := env.Clock.Now().Add(time.Hour)
		grant(t, env, billow.CreateGrantInput{Account: a.ID, Kind: billow.GrantPaid, AmountUcr: 1000 * cr, ID: "paid"})
		grant(t, env, billow.CreateGrantInput{Account: a.ID, Kind: billow.GrantPromotional, AmountUcr: 300 * cr, ExpiresAt: &soon, ID: "promo"})
		grant(t, env, billow.CreateGrantInput{Account: b.ID, Kind: billow.GrantPaid, AmountUcr: 10 * cr, ID: "paid"})
		grant(t, env, billow.CreateGrantInput{Account: c.ID, Kind: billow.GrantPaid, AmountUcr: 10 * cr, ID: "paid"})
		hold(t, env, billow.CreateHoldInput{Account: a.ID, AmountUcr: 100 * cr, ID: "h"})
		if _, err := env.DB.Spend(ctx, billow.SpendInput{Account: a.ID, AmountUcr: 50 * cr, ID: "s", Cause: billow.CauseUsage}); err != nil {
			t.Fatal(err)
		}
		if _, err := env.DB.Spend(ctx, billow.SpendInput{Account: b.ID, AmountUcr: 40 * cr, ID: "s", Cause: billow.CauseUsage}); err != nil {
			t.Fatal(err)
		}
		check := func(want map[string]int64) {
			t.Helper()
			got := map[string]int64{}
			after := ""
			for {
				page, err := env.DB.AutoChargeAccounts(ctx, after, 1)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) == 0 {
					break
				}
				got[page[0].Account] = page[0].BalanceUcr
				after = page[0].Account
			}
			for id, balance := range want {
				w, err := env.DB.Wallet(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if w.BalanceUcr != balance || got[id] != balance {
					t.Errorf("account %s: runner reads %d, wallet %d, want %d", id, got[id], w.BalanceUcr, balance)
				}
			}
			if len(got) != len(want) {
				t.Errorf("runner read %v, want %v", got, want)
			}
		}
		check(map[string]int64{a.ID: 1150 * cr, b.ID: -30 * cr}) // the promotional grant is spent first
		env.Clock.Advance(2 * time.Hour)                         // it expired: it leaves the balance at once
		check(map[string]int64{a.ID: 1000 * cr, b.ID: -30 * cr})
	})
}

// A decision is stored only over the version it read, and its events with it; an
// attempt's outcome only while its attempt is the one in flight.
func TestAutoChargeCompareAndSet(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		a := mustAccount(t, env.DB, "a")
		c, err := env.DB.SetAutoCharge(ctx, a.ID, billow.AutoChargeSettings{ThresholdCredits: 100})
		if err != nil {
			t.Fatal(err)
		}
		if c.Version != 1 || c.Enabled || c.InFlight {
			t.Fatalf("new auto-charge %+v", c)
		}
		now := env.Clock.Now().Truncate(time.Microsecond)
		claim := billow.AutoChargeState{Attempt: "topup_1", AttemptAt: now, AttemptCredits: 1000, LowBalanceNotified: true}
		notice := func() []*billow.BillingEvent {
			return []*billow.BillingEvent{{Account: a.ID, Type: billow.EventCreditsLowBalance, Subject: a.ID, OccurredAt: now, Data: map[string]any{}}}
		}
		for i, want := range []bool{true, false} { // the second process read the same version
			ok, err := env.DB.WriteAutoCharge(ctx, billow.AutoChargeWrite{Account: a.ID, State: claim, ExpectVersion: c.Version, Events: notice()})
			if err != nil || ok != want {
				t.Fatalf("write %d: %v, %v; want %v", i, ok, err, want)
			}
		}
		evs, err := env.DB.BillingEvents(ctx, a.ID, 0, 10)
		if err != nil || len(evs) != 1 {
			t.Fatalf("events %v, %v: want the winner's one", evs, err)
		}
		got, err := env.DB.AutoCharge(ctx, a.ID)
		if err != nil || got.Attempt != "topup_1" || !got.AttemptAt.Equal(now) || !got.LowBalanceNotified || !got.InFlight || got.Version != 2 {
			t.Fatalf("claimed %+v, %v", got, err)
		}

		// New settings keep the claim and move the version.
		if got, err = env.DB.SetAutoCharge(ctx, a.ID, billow.AutoChargeSettings{ThresholdCredits: 200}); err != nil || got.Attempt != "topup_1" || got.Version != 3 {
			t.Fatalf("set over a claim: %+v, %v", got, err)
		}
		// The outcome of another attempt is refused; that of this one is stored, and keeps
		// the notices as they are stored.
		done := billow.AutoChargeState{AttemptAt: now, LastOrder: "ord_1", LastOutcome: billow.AutoChargeSucceeded}
		for _, attempt := range []string{"topup_other", "topup_1", "topup_1"} {
			ok, err := env.DB.WriteAutoCharge(ctx, billow.AutoChargeWrite{Account: a.ID, State: done, ExpectAttempt: attempt})
			if err != nil || ok != (attempt == "topup_1" && got.Attempt != "") {
				t.Fatalf("outcome of %s: %v, %v", attempt, ok, err)
			}
			if got, err = env.DB.AutoCharge(ctx, a.ID); err != nil {
				t.Fatal(err)
			}
		}
		if got.InFlight || got.LastOrder != "ord_1" || got.LastOutcome != billow.AutoChargeSucceeded || !got.LowBalanceNotified || got.ThresholdCredits != 200 {
			t.Fatalf("after the outcome %+v", got)
		}
		if _, err := env.DB.AutoCharge(ctx, mustAccount(t, env.DB, "b").ID); billow.ErrorCode(err) != billow.CodeNotFound {
			t.Fatalf("auto-charge of an account without one: %v", err)
		}
	})
}
