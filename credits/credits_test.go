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

func TestCycleAndUpgradeGrants(t *testing.T) {
	cat, err := catalog.ParseExample("ai-for-service")
	if err != nil {
		t.Fatal(err)
	}
	essential, _ := cat.Plan("essential") // 5,000 credits a cycle
	advanced, _ := cat.Plan("advanced")   // 20,000
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 29, 9, 0, 0, 0, time.UTC)
	end := time.Date(2026, 2, 28, 9, 0, 0, 0, time.UTC)

	g := credits.CycleGrant("acct_1", essential, catalog.IntervalMonth, start, end, ny)
	if g == nil || g.ID != "included:essential:2026-01-29T09:00:00Z" || g.AmountUcr != 5000*credit || g.Kind != billow.GrantFree ||
		!g.ExpiresAt.Equal(end) || g.Description != "Free credits included with Essential, 29 January 2026 to 28 February 2026" {
		t.Errorf("cycle grant %+v", g)
	}
	if err := g.Validate(start); err != nil {
		t.Errorf("cycle grant invalid: %v", err)
	}
	// Microseconds tell two starts apart, as the store keeps them.
	if g := credits.CycleGrant("acct_1", essential, catalog.IntervalMonth, start.Add(1500*time.Nanosecond), end, ny); g.ID != "included:essential:2026-01-29T09:00:00.000001Z" {
		t.Errorf("id %s", g.ID)
	}

	at := time.Date(2026, 2, 13, 17, 0, 0, 0, time.UTC)
	up := credits.UpgradeGrant("acct_1", essential, advanced, catalog.IntervalMonth, start, at, end, ny)
	if up == nil || up.ID != "included:advanced:2026-01-29T09:00:00Z" || up.AmountUcr != 15_000*credit || !up.ExpiresAt.Equal(end) ||
		up.Description != "Free credits added by the change to Advanced, 13 February 2026 to 28 February 2026" {
		t.Errorf("upgrade grant %+v", up)
	}
	if g := credits.UpgradeGrant("acct_1", advanced, essential, catalog.IntervalMonth, start, at, end, ny); g != nil {
		t.Errorf("a downgrade grants %+v", g)
	}
	if g := credits.UpgradeGrant("acct_1", nil, advanced, catalog.IntervalMonth, start, at, end, ny); g == nil || g.AmountUcr != 20_000*credit {
		t.Errorf("from a plan without credits: %+v", g)
	}

	// A plan refreshing by month is cycled on a monthly subscription only.
	monthly := *essential
	monthly.IncludedCredits = &catalog.IncludedCredits{Credits: 5000, Refresh: catalog.RefreshMonth}
	for _, tc := range []struct {
		plan     *catalog.Plan
		interval string
		want     bool
	}{
		{essential, catalog.IntervalMonth, true}, {essential, catalog.IntervalYear, true},
		{&monthly, catalog.IntervalMonth, true}, {&monthly, catalog.IntervalYear, false}, {nil, catalog.IntervalYear, true},
	} {
		if got := credits.Cycled(tc.plan, tc.interval); got != tc.want {
			t.Errorf("Cycled(%v, %s) = %v", tc.plan != nil && tc.plan.IncludedCredits.Refresh == catalog.RefreshMonth, tc.interval, got)
		}
	}
	if g := credits.CycleGrant("acct_1", &monthly, catalog.IntervalYear, start, start.AddDate(1, 0, 0), ny); g != nil {
		t.Errorf("a yearly cycle grants the monthly refresh: %+v", g)
	}
	for _, s := range []billow.SubscriptionStatus{"", billow.SubscriptionIncomplete, billow.SubscriptionCanceled, billow.SubscriptionExpired} {
		if credits.Subscribed(s) {
			t.Errorf("Subscribed(%q)", s)
		}
	}
	for _, s := range []billow.SubscriptionStatus{billow.SubscriptionTrialing, billow.SubscriptionActive, billow.SubscriptionPastDue, billow.SubscriptionSuspended} {
		if !credits.Subscribed(s) {
			t.Errorf("!Subscribed(%q)", s)
		}
	}
}
