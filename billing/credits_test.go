package billing_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/billing"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/credits"
	"github.com/billowhq/billow/payment/sandbox"
	"github.com/billowhq/billow/sqlstore/storetest"
)

const credit = billow.MicroCreditsPerCredit

var ctx = context.Background()

// movements lists an account's wallet transfers, oldest first, as "id credits" (an
// expiry's id names a grant id, which changes from run to run: it is "expire").
func movements(t *testing.T, env *storetest.Env, account string) []string {
	t.Helper()
	txs, err := env.DB.TransactionsBetween(ctx, account, time.Unix(0, 0), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, tx := range txs {
		id := tx.ID
		if tx.Cause == billow.CauseExpiry {
			id = "expire"
		}
		out = append(out, fmt.Sprintf("%s %s", id, tx.Credits))
	}
	return out
}

func balance(t *testing.T, env *storetest.Env, account string, want int64) *billow.Wallet {
	t.Helper()
	w, err := env.DB.Wallet(ctx, account)
	if err != nil || w.BalanceUcr != want {
		t.Fatalf("wallet of %s: %+v, %v; want %d µcr", account, w, err, want)
	}
	return w
}

// Under a test clock a Pay-as-you-go subscription's free credits follow its cycle: granted
// at its start, expired at the period's end when the clock passes it, the next granted at
// the renewal, each once however often the clock is advanced. The real-time upkeep leaves
// accounts on a test clock alone, and still grants calendar months to accounts without
// a subscription; the clock grants those of its own accounts.
func TestIncludedCreditsFollowTheCycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		svc, err := billing.New(billing.Config{Store: env.DB, Gateway: sandbox.New(env.Clock), Clock: env.Clock})
		if err != nil {
			t.Fatal(err)
		}
		keeper := credits.NewKeeper(env.DB, env.Clock, slog.New(slog.NewTextHandler(io.Discard, nil)), 0)
		pass := func(want credits.Pass) {
			t.Helper()
			got, err := keeper.RunOnce(ctx)
			if err != nil || got != want {
				t.Fatalf("upkeep pass %+v, %v; want %+v", got, err, want)
			}
		}
		start := time.Date(2026, 1, 20, 10, 0, 0, 0, time.UTC) // after the store's clock: the grants expire in its future
		tc, err := env.DB.CreateTestClock(ctx, billow.CreateTestClockInput{Name: "credits", FrozenTime: start})
		if err != nil {
			t.Fatal(err)
		}
		advance := func(to time.Time) {
			t.Helper()
			if _, err := svc.AdvanceTestClock(ctx, tc.ID, billow.AdvanceTestClockInput{FrozenTime: to}); err != nil {
				t.Fatalf("advance to %s: %v", to, err)
			}
		}
		account := func(external, plan, clock string) *billow.Account {
			t.Helper()
			a, err := env.DB.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: external, Name: external, Catalog: "credits-platform",
				Plan: plan, Timezone: "UTC", TestClock: clock, BillingContact: billow.BillingContact{Name: "Ada", Email: "ada@" + external + ".test"}})
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
		subscribe := func(a *billow.Account) {
			t.Helper()
			card := &billow.AddPaymentMethodInput{Kind: billow.MethodCard, Default: true,
				Card: &billow.CardDetails{Number: sandbox.CardVisa, ExpMonth: 12, ExpYear: 2030, CVC: "123"}}
			if _, err := svc.SubmitOrder(ctx, a.ID, billow.SubmitOrderInput{NewPaymentMethod: card,
				Subscribe: &billow.CreateSubscriptionInput{Plan: "pay_as_you_go"}}); err != nil {
				t.Fatal(err)
			}
		}
		payg := account("payg", "", tc.ID)                  // subscribes on the test clock
		direct := account("direct", "pay_as_you_go", tc.ID) // a plan without a subscription, on the test clock
		hobby := account("hobby", "pay_as_you_go", "")      // a plan without a subscription, in real time
		realSub := account("real", "", "")                  // a subscription in real time
		subscribe(realSub)

		// The subscription's first period brings its free credits at once.
		subscribe(payg)
		w := balance(t, env, payg.ID, 5000*credit)
		if g := w.Grants[0]; len(w.Grants) != 1 || g.Kind != billow.GrantFree || !g.ExpiresAt.Equal(start.AddDate(0, 1, 0)) ||
			g.Description != "Free credits included with Pay as you go, 20 January 2026 to 20 February 2026" {
			t.Fatalf("grants %+v", w.Grants)
		}
		balance(t, env, realSub.ID, 5000*credit)

		// The real-time upkeep grants the calendar month to the account without a
		// subscription, and nothing to the others.
		pass(credits.Pass{IncludedGrants: 1})
		balance(t, env, hobby.ID, 5000*credit)
		balance(t, env, direct.ID, 0)
		if _, err := env.DB.Spend(ctx, billow.SpendInput{Account: payg.ID, AmountUcr: 1200 * credit, ID: "use", Cause: billow.CauseUsage}); err != nil {
			t.Fatal(err)
		}

		// Just before the period ends nothing moves; the direct plan gets its month.
		advance(time.Date(2026, 2, 20, 9, 0, 0, 0, time.UTC))
		balance(t, env, payg.ID, 3800*credit)
		balance(t, env, direct.ID, 5000*credit)
		// The period ends at 10:00: its 3,800 unused credits expire, then the renewal
		// grants 5,000 for the next. Again at the same time, or the subscription advanced
		// on its own, moves nothing more.
		advance(time.Date(2026, 2, 20, 11, 0, 0, 0, time.UTC))
		advance(time.Date(2026, 2, 20, 11, 0, 0, 0, time.UTC))
		if err := svc.AdvanceSubscription(ctx, liveSub(t, env, payg.ID).ID, time.Time{}); err != nil {
			t.Fatal(err)
		}
		w = balance(t, env, payg.ID, 5000*credit)
		if len(w.Grants) != 1 || !w.Grants[0].ExpiresAt.Equal(time.Date(2026, 3, 20, 10, 0, 0, 0, time.UTC)) {
			t.Fatalf("grants %+v", w.Grants)
		}
		// Two more renewals, the unspent credits of each period expiring before the next.
		advance(time.Date(2026, 4, 21, 0, 0, 0, 0, time.UTC))
		balance(t, env, payg.ID, 5000*credit)
		want := []string{
			"included:pay_as_you_go:2026-01-20T10:00:00Z 5000", "use -1200",
			"expire -3800", "included:pay_as_you_go:2026-02-20T10:00:00Z 5000",
			"expire -5000", "included:pay_as_you_go:2026-03-20T10:00:00Z 5000",
			"expire -5000", "included:pay_as_you_go:2026-04-20T10:00:00Z 5000",
		}
		if diff := cmp.Diff(want, movements(t, env, payg.ID)); diff != "" {
			t.Errorf("movements of payg (-want +got):\n%s", diff)
		}
		want = []string{
			"included:pay_as_you_go:2026-01 5000",
			"expire -5000", "included:pay_as_you_go:2026-02 5000",
			"expire -5000", "included:pay_as_you_go:2026-03 5000",
			"expire -5000", "included:pay_as_you_go:2026-04 5000",
		}
		if diff := cmp.Diff(want, movements(t, env, direct.ID)); diff != "" {
			t.Errorf("movements of direct (-want +got):\n%s", diff)
		}

		// A hold of an account on the clock expires by the clock, not by the real time: it
		// ends a minute from now in real time, long before the clock's time.
		hold, _, err := env.DB.CreateHold(ctx, billow.CreateHoldInput{Account: payg.ID, AmountUcr: 100 * credit, TTLSeconds: 60, ID: "call"})
		if err != nil {
			t.Fatal(err)
		}

		// June in real time: the real-time upkeep expires the other accounts' grants and
		// grants June to the one without a subscription, but leaves the clock's accounts
		// alone, though their grants (until 20 May and 1 May) and the hold are past in
		// real time.
		env.Clock.Advance(time.Date(2026, 6, 1, 0, 0, 1, 0, time.UTC).Sub(env.Clock.Now()))
		before := map[string][]string{payg.ID: movements(t, env, payg.ID), direct.ID: movements(t, env, direct.ID)}
		pass(credits.Pass{GrantsExpired: 2, IncludedGrants: 1})
		pass(credits.Pass{})
		for id, b := range before {
			if diff := cmp.Diff(b, movements(t, env, id)); diff != "" {
				t.Errorf("the real-time upkeep moved %s (-before +after):\n%s", id, diff)
			}
		}
		if h, err := env.DB.Hold(ctx, hold.ID); err != nil || h.Status != billow.HoldActive {
			t.Fatalf("hold %+v, %v after the real-time upkeep", h, err)
		}
		advance(time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC))
		if h, err := env.DB.Hold(ctx, hold.ID); err != nil || h.Status != billow.HoldExpired {
			t.Fatalf("hold %+v, %v after the clock passed it", h, err)
		}
		// The hold gave its 100 credits back to April's grant before it expired on 20 May;
		// May's period has its own 5,000. June's month for the direct plan (May's ended
		// in real time before the clock reached it: nothing could spend it).
		balance(t, env, payg.ID, 5000*credit)
		balance(t, env, direct.ID, 5000*credit)
		r, err := env.DB.VerifyLedger(ctx, nil)
		if err != nil || len(r.Problems) > 0 {
			t.Fatalf("ledger: %+v, %v", r, err)
		}
	})
}

func liveSub(t *testing.T, env *storetest.Env, account string) *billow.Subscription {
	t.Helper()
	sub, err := env.DB.LiveSubscription(ctx, account)
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

// A yearly subscription's included credits follow its cycle too (refresh: cycle): the
// real-time upkeep, which sees yearly subscriptions, grants them nothing. A plan that
// refreshes by month is the exception: on a yearly subscription its credits come every
// calendar month from the upkeep, and the billing cycle grants none.
func TestYearlyIncludedCredits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		svc, err := billing.New(billing.Config{Store: env.DB, Gateway: sandbox.New(env.Clock), Clock: env.Clock})
		if err != nil {
			t.Fatal(err)
		}
		data, err := catalog.Example("ai-for-service")
		if err != nil {
			t.Fatal(err)
		}
		monthly := strings.Replace(string(data), "included_credits: {credits: 5000, refresh: cycle}", "included_credits: {credits: 5000, refresh: month}", 1)
		if monthly == string(data) {
			t.Fatal("the example no longer has Essential's included credits")
		}
		if _, _, err := env.DB.SyncCatalog(ctx, "monthly-credits", []byte(monthly)); err != nil {
			t.Fatal(err)
		}
		keeper := credits.NewKeeper(env.DB, env.Clock, slog.New(slog.NewTextHandler(io.Discard, nil)), 0)
		subscribeYear := func(external, cat string) *billow.Account {
			t.Helper()
			a, err := env.DB.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: external, Name: external, Catalog: cat,
				Timezone: "UTC", BillingContact: billow.BillingContact{Name: "Ada", Email: "ada@" + external + ".test"}})
			if err != nil {
				t.Fatal(err)
			}
			card := &billow.AddPaymentMethodInput{Kind: billow.MethodCard, Default: true,
				Card: &billow.CardDetails{Number: sandbox.CardVisa, ExpMonth: 12, ExpYear: 2030, CVC: "123"}}
			if _, err := svc.SubmitOrder(ctx, a.ID, billow.SubmitOrderInput{NewPaymentMethod: card,
				Subscribe: &billow.CreateSubscriptionInput{Plan: "essential", Interval: "year"}}); err != nil {
				t.Fatal(err)
			}
			return a
		}
		cycle := subscribeYear("cycle", "ai-for-service")
		month := subscribeYear("month", "monthly-credits")
		if w := balance(t, env, cycle.ID, 5000*credit); !w.Grants[0].ExpiresAt.Equal(liveSub(t, env, cycle.ID).CurrentPeriodEnd) {
			t.Fatalf("grant %+v, want it to expire with the year", w.Grants[0])
		}
		balance(t, env, month.ID, 0)
		got, err := keeper.RunOnce(ctx)
		if err != nil || got != (credits.Pass{IncludedGrants: 1}) {
			t.Fatalf("upkeep pass %+v, %v; want the monthly refresh's grant only", got, err)
		}
		balance(t, env, cycle.ID, 5000*credit)
		if w := balance(t, env, month.ID, 5000*credit); !w.Grants[0].ExpiresAt.Equal(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("grant %+v, want it to expire with January", w.Grants[0])
		}
	})
}
