package credits_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/credits"
	"github.com/billowhq/billow/sqlstore/storetest"
)

var ctx = context.Background()

const credit = billow.MicroCreditsPerCredit

func TestIncludedGrantPeriod(t *testing.T) {
	cat, err := catalog.ParseExample("credits-platform")
	if err != nil {
		t.Fatal(err)
	}
	payg, _ := cat.Plan("pay_as_you_go")
	free, _ := cat.Plan("free")
	la := &billow.Account{ID: "acct_1", Timezone: "America/Los_Angeles"}
	utc := &billow.Account{ID: "acct_2", Timezone: "UTC"}
	for _, tc := range []struct {
		name    string
		account *billow.Account
		plan    *catalog.Plan
		now     time.Time
		id      string
		until   time.Time
	}{
		{name: "mid-month", account: utc, plan: payg, now: time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC),
			id: "included:pay_as_you_go:2026-01", until: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)},
		{name: "the first instant of a month", account: utc, plan: payg, now: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC),
			id: "included:pay_as_you_go:2026-02", until: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		{name: "still January in Los Angeles", account: la, plan: payg, now: time.Date(2026, 2, 1, 5, 0, 0, 0, time.UTC),
			id: "included:pay_as_you_go:2026-01", until: time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC)},
		{name: "December ends the year", account: utc, plan: payg, now: time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC),
			id: "included:pay_as_you_go:2026-12", until: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{name: "a plan without included credits", account: utc, plan: free, now: time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC),
			until: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, until, err := credits.IncludedGrant(tc.account, tc.plan, tc.now)
			if err != nil {
				t.Fatal(err)
			}
			if !until.Equal(tc.until) {
				t.Errorf("period ends %s, want %s", until, tc.until)
			}
			switch {
			case tc.id == "" && in != nil:
				t.Errorf("grant %+v, want none", in)
			case tc.id != "" && (in == nil || in.ID != tc.id || in.AmountUcr != 5000*credit || in.Kind != billow.GrantFree || !in.ExpiresAt.Equal(tc.until)):
				t.Errorf("grant %+v, want %s of 5,000 free credits until %s", in, tc.id, tc.until)
			}
		})
	}
}

func TestKeeperGrantsAndExpires(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		k := credits.NewKeeper(env.DB, env.Clock, slog.New(slog.NewTextHandler(io.Discard, nil)), 0)
		payg, err := env.DB.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: "payg", Name: "PAYG", Catalog: "credits-platform", Plan: "pay_as_you_go"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := env.DB.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: "hobby", Name: "Hobby", Catalog: "credits-platform", Plan: "free"}); err != nil {
			t.Fatal(err)
		}
		pass := func(want credits.Pass) {
			t.Helper()
			got, err := k.RunOnce(ctx)
			if err != nil || got != want {
				t.Fatalf("pass %+v, %v; want %+v", got, err, want)
			}
		}
		balance := func(want int64) *billow.Wallet {
			t.Helper()
			w, err := env.DB.Wallet(ctx, payg.ID)
			if err != nil || w.BalanceUcr != want {
				t.Fatalf("wallet %+v, %v; want %d µcr", w, err, want)
			}
			return w
		}
		pass(credits.Pass{IncludedGrants: 1}) // the free plan has none
		pass(credits.Pass{})
		balance(5000 * credit)
		if _, err := env.DB.Spend(ctx, billow.SpendInput{Account: payg.ID, AmountUcr: 1200 * credit, ID: "use", Cause: billow.CauseUsage}); err != nil {
			t.Fatal(err)
		}

		// February: January's 3,800 unused free credits expire, and 5,000 new ones arrive.
		env.Clock.Advance(time.Date(2026, 2, 1, 0, 0, 1, 0, time.UTC).Sub(env.Clock.Now()))
		pass(credits.Pass{GrantsExpired: 1, IncludedGrants: 1})
		w := balance(5000 * credit)
		if len(w.Grants) != 1 || w.Grants[0].Description != "Free credits included with Pay as you go, February 2026" {
			t.Fatalf("grants %+v", w.Grants)
		}
		pass(credits.Pass{})
		r, err := env.DB.VerifyLedger(ctx, nil)
		if err != nil || len(r.Problems) > 0 {
			t.Fatalf("ledger: %+v, %v", r, err)
		}
	})
}
