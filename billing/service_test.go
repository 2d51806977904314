package billing_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/billing"
	"github.com/billowhq/billow/payment/sandbox"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

type fixture struct {
	env   *storetest.Env
	svc   *billing.Service
	clock *billow.TestClock
	acct  *billow.Account
	ctx   context.Context
}

// newFixture opens a store and an account of the ai-for-service catalog in New York
// on a test clock starting at start.
func newFixture(t *testing.T, env *storetest.Env, start time.Time, taxRate string) *fixture {
	t.Helper()
	ctx := context.Background()
	svc, err := billing.New(billing.Config{Store: env.DB, Gateway: sandbox.New(env.Clock), Clock: env.Clock})
	if err != nil {
		t.Fatal(err)
	}
	tc, err := env.DB.CreateTestClock(ctx, billow.CreateTestClockInput{Name: "year", FrozenTime: start})
	if err != nil {
		t.Fatal(err)
	}
	a, err := env.DB.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: "acme", Name: "Acme", Catalog: "ai-for-service",
		Timezone: "America/New_York", TaxRate: taxRate, TestClock: tc.ID,
		BillingContact: billow.BillingContact{Name: "Ada Acme", Email: "billing@acme.test"}})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{env: env, svc: svc, clock: tc, acct: a, ctx: ctx}
}

func (f *fixture) advance(t *testing.T, to time.Time) {
	t.Helper()
	if _, err := f.svc.AdvanceTestClock(f.ctx, f.clock.ID, billow.AdvanceTestClockInput{FrozenTime: to}); err != nil {
		t.Fatalf("advance to %s: %v", to, err)
	}
}

func (f *fixture) card(t *testing.T, number string, isDefault bool) *billow.PaymentMethod {
	t.Helper()
	m, err := f.svc.AddPaymentMethod(f.ctx, f.acct.ID, billow.AddPaymentMethodInput{Kind: billow.MethodCard, Default: isDefault,
		Card: &billow.CardDetails{Number: number, ExpMonth: 12, ExpYear: 2030, CVC: "123"}})
	if err != nil {
		t.Fatalf("add card %s: %v", number, err)
	}
	return m
}

func (f *fixture) sub(t *testing.T) *billow.Subscription {
	t.Helper()
	subs, err := f.env.DB.Subscriptions(f.ctx, f.acct.ID)
	if err != nil || len(subs) == 0 {
		t.Fatalf("subscriptions: %v (%d)", err, len(subs))
	}
	return subs[0]
}

// invoiceRow is what the tests compare of an invoice.
type invoiceRow struct {
	Number, Status, Payment string
	Total                   int64
	Lines                   []string
}

func (f *fixture) invoices(t *testing.T) []invoiceRow {
	t.Helper()
	invs, err := f.env.DB.Invoices(f.ctx, sqlstore.InvoiceFilter{AccountID: f.acct.ID, IncludeHidden: true})
	if err != nil {
		t.Fatal(err)
	}
	out := []invoiceRow{}
	for _, inv := range invs {
		r := invoiceRow{Number: inv.Number, Status: string(inv.Status), Payment: string(inv.PaymentStatus), Total: inv.TotalMinor}
		for _, l := range inv.Lines {
			r.Lines = append(r.Lines, fmt.Sprintf("%s %d", l.Description, l.AmountMinor))
		}
		out = append(out, r)
	}
	return out
}

func (f *fixture) events(t *testing.T, after int64) ([]string, int64) {
	t.Helper()
	evs, err := f.env.DB.BillingEvents(f.ctx, f.acct.ID, after, 1000)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, e := range evs {
		out = append(out, e.Type)
		after = e.Seq
	}
	return out, after
}

func wantStatus(t *testing.T, sub *billow.Subscription, want billow.SubscriptionStatus) {
	t.Helper()
	if sub.Status != want {
		t.Fatalf("subscription is %s, want %s", sub.Status, want)
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var e *billow.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
}

func ny(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestYearOfOneAccount runs one account through a year under a test clock: trial → paid
// → upgrade mid-cycle → failed renewal → dunning → recovery → add-on → cancel, asserting
// every invoice and every state on the way, across the March daylight-saving change.
func TestYearOfOneAccount(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		loc := ny(t)
		start := time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC) // 04:00 in New York
		f := newFixture(t, env, start, "10")

		// Trial: nothing is charged, no invoice.
		order, err := f.svc.SubmitOrder(f.ctx, f.acct.ID, billow.SubmitOrderInput{Subscribe: &billow.CreateSubscriptionInput{Plan: "essential", Trial: true}})
		if err != nil {
			t.Fatal(err)
		}
		if order.Status != billow.OrderCompleted || order.Invoice != "" {
			t.Fatalf("trial order %+v", order)
		}
		sub := f.sub(t)
		wantStatus(t, sub, billow.SubscriptionTrialing)
		balance(t, env, f.acct.ID, 5000*credit) // the trial comes with Essential's included credits
		trialEnd := start.AddDate(0, 0, 14)
		if !sub.CurrentPeriodEnd.Equal(trialEnd) {
			t.Fatalf("trial ends %s, want %s", sub.CurrentPeriodEnd, trialEnd)
		}
		f.card(t, sandbox.CardVisa, true)

		// Trial ends on 29 January with a card: the first period is charged, $50 + 10% tax.
		f.advance(t, trialEnd.Add(time.Hour))
		sub = f.sub(t)
		wantStatus(t, sub, billow.SubscriptionActive)
		// Anchored on the 29th at 04:00 local: February has no 29th in 2026.
		if want := time.Date(2026, 2, 28, 4, 0, 0, 0, loc); !sub.CurrentPeriodEnd.Equal(want) {
			t.Fatalf("first period ends %s, want %s", sub.CurrentPeriodEnd.In(loc), want)
		}
		// The trial's credits expired with it; the first period has its own, until its end.
		if w := balance(t, env, f.acct.ID, 5000*credit); len(w.Grants) != 1 || !w.Grants[0].ExpiresAt.Equal(sub.CurrentPeriodEnd) {
			t.Fatalf("grants %+v after the trial", w.Grants)
		}

		// Mid-cycle upgrade on 13 February: 15 of 30 days remain.
		f.advance(t, time.Date(2026, 2, 13, 12, 0, 0, 0, loc))
		if _, err := f.svc.SubmitOrder(f.ctx, f.acct.ID, billow.SubmitOrderInput{Change: &billow.ChangeSubscriptionInput{Plan: "advanced"}}); err != nil {
			t.Fatal(err)
		}
		sub = f.sub(t)
		if sub.Plan != "advanced" {
			t.Fatalf("plan %s after upgrade", sub.Plan)
		}
		// The period now has Advanced's 20,000 credits: Essential's 5,000 and the 15,000
		// more that Advanced includes.
		balance(t, env, f.acct.ID, 20_000*credit)

		// The renewal on 28 February is declined: past due, retries on days 1, 3, 5, 7.
		f.card(t, sandbox.CardInsufficientFunds, true)
		f.advance(t, time.Date(2026, 2, 28, 5, 0, 0, 0, loc))
		sub = f.sub(t)
		wantStatus(t, sub, billow.SubscriptionPastDue)
		balance(t, env, f.acct.ID, 20_000*credit) // the new period's credits, unpaid as it is
		if got := sub.DaysBeforeSuspension(time.Date(2026, 2, 28, 5, 0, 0, 0, loc)); got != 7 {
			t.Fatalf("days before suspension %d, want 7", got)
		}
		// A plan change waits for the open invoice (seed 004).
		_, err = f.svc.SubmitOrder(f.ctx, f.acct.ID, billow.SubmitOrderInput{Change: &billow.ChangeSubscriptionInput{Plan: "essential"}})
		wantCode(t, err, billow.CodeOutstandingInvoice)

		// Retries on 1 and 3 March fail too.
		f.advance(t, time.Date(2026, 3, 3, 12, 0, 0, 0, loc))
		sub = f.sub(t)
		wantStatus(t, sub, billow.SubscriptionPastDue)
		if sub.RetryCount != 2 {
			t.Fatalf("retry count %d, want 2", sub.RetryCount)
		}

		// A good card before the retry of 5 March: recovered.
		f.card(t, sandbox.CardMastercard, true)
		f.advance(t, time.Date(2026, 3, 5, 12, 0, 0, 0, loc))
		sub = f.sub(t)
		wantStatus(t, sub, billow.SubscriptionActive)
		// The period runs across the daylight-saving change of 8 March: 04:00 EDT.
		if want := time.Date(2026, 3, 29, 4, 0, 0, 0, loc); !sub.CurrentPeriodEnd.Equal(want) {
			t.Fatalf("period ends %s, want %s", sub.CurrentPeriodEnd.In(loc), want)
		}
		if got := sub.CurrentPeriodEnd.UTC().Hour(); got != 8 {
			t.Fatalf("period ends at %d:00 UTC, want 8:00 (04:00 EDT)", got)
		}

		// An add-on on 14 March: 15 of 29 days of $100 remain.
		f.advance(t, time.Date(2026, 3, 14, 12, 0, 0, 0, loc))
		addOns := []billow.SubscriptionAddOn{{AddOn: "voice_gateway", Quantity: 1}}
		if _, err := f.svc.SubmitOrder(f.ctx, f.acct.ID, billow.SubmitOrderInput{Change: &billow.ChangeSubscriptionInput{AddOns: &addOns}}); err != nil {
			t.Fatal(err)
		}

		// Renewals through the year, then a cancellation at the end of the period.
		f.advance(t, time.Date(2026, 11, 1, 0, 0, 0, 0, loc))
		if _, err := f.svc.CancelSubscription(f.ctx, f.acct.ID, billow.CancelSubscriptionInput{}); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, f.sub(t), billow.SubscriptionActive)
		f.advance(t, time.Date(2027, 1, 15, 0, 0, 0, 0, loc))
		sub = f.sub(t)
		wantStatus(t, sub, billow.SubscriptionCanceled)
		if want := time.Date(2026, 11, 29, 4, 0, 0, 0, loc); sub.EndedAt == nil || !sub.EndedAt.Equal(want) {
			t.Fatalf("ended %v, want %s", sub.EndedAt, want)
		}
		a, err := env.DB.Account(f.ctx, f.acct.ID)
		if err != nil || a.Plan != "" {
			t.Fatalf("account plan %q after cancel (%v)", a.Plan, err)
		}
		// Every period had its free credits, granted once and expired at its end: the
		// trial, the first period, the upgrade's difference and nine renewals, the last
		// period's expiring with the subscription.
		balance(t, env, f.acct.ID, 0)
		granted, expired := 0, 0
		for _, m := range movements(t, env, f.acct.ID) {
			switch {
			case strings.HasPrefix(m, billow.TransferIDIncluded):
				granted++
			case strings.HasPrefix(m, "expire "):
				expired++
			}
		}
		if granted != 12 || expired != 12 {
			t.Errorf("%d included grants and %d expiries, want 12 and 12", granted, expired)
		}

		renewal := func(n int) invoiceRow {
			return invoiceRow{Number: fmt.Sprintf("INV-%06d", n), Status: "paid", Payment: "succeeded", Total: 66000,
				Lines: []string{"Advanced plan 50000", "Voice Gateway with ASR and TTS 10000"}}
		}
		want := []invoiceRow{
			{Number: "INV-000001", Status: "paid", Payment: "succeeded", Total: 5500, Lines: []string{"Essential plan 5000"}},
			{Number: "INV-000002", Status: "paid", Payment: "succeeded", Total: 24750, Lines: []string{
				"Unused time on Essential plan (15 of 30 days) -2500", "Remaining time on Advanced plan (15 of 30 days) 25000"}},
			{Number: "INV-000003", Status: "paid", Payment: "succeeded", Total: 55000, Lines: []string{"Advanced plan 50000"}},
			{Number: "INV-000004", Status: "paid", Payment: "succeeded", Total: 5689, Lines: []string{
				"Remaining time on Voice Gateway with ASR and TTS × 1 (15 of 29 days) 5172"}},
		}
		for n := 5; n <= 12; n++ { // 29 March … 29 October
			want = append(want, renewal(n))
		}
		if diff := cmp.Diff(want, f.invoices(t)); diff != "" {
			t.Errorf("invoices (-want +got):\n%s", diff)
		}

		events, _ := f.events(t, 0)
		wantEvents := []string{"subscription.trial_started", "invoice.finalized", "invoice.paid", "subscription.activated",
			"subscription.changed", "invoice.paid", "order.completed", "invoice.finalized", // upgrade
			"invoice.finalized", "subscription.renewal_failed", "subscription.retry_failed", "subscription.retry_failed",
			"invoice.paid", "subscription.recovered",
			"subscription.changed", "invoice.paid", "order.completed", "invoice.finalized"}
		for range 7 {
			wantEvents = append(wantEvents, "invoice.finalized", "invoice.paid", "subscription.renewed")
		}
		wantEvents = append(wantEvents, "invoice.finalized", "invoice.paid", "subscription.renewed",
			"subscription.cancel_scheduled", "subscription.canceled")
		if diff := cmp.Diff(wantEvents, events); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
	})
}
