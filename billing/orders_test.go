package billing_test

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/billing"
	"github.com/billowhq/billow/checks"
	"github.com/billowhq/billow/payment/sandbox"
	"github.com/billowhq/billow/sqlstore/storetest"
)

var jan15 = time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC)

func subscribe(plan string) billow.SubmitOrderInput {
	return billow.SubmitOrderInput{Subscribe: &billow.CreateSubscriptionInput{Plan: plan}}
}

// A decline gives a clear error and activates nothing (seed 004 troubleshooting).
func TestDeclinedOrderActivatesNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env, jan15, "0")
		f.card(t, sandbox.CardInsufficientFunds, true)
		order, err := f.svc.SubmitOrder(f.ctx, f.acct.ID, subscribe("essential"))
		wantCode(t, err, billow.CodePaymentDeclined)
		if order == nil || order.Status != billow.OrderFailed || order.FailureCode != "insufficient_funds" {
			t.Fatalf("order %+v", order)
		}
		if _, err := env.DB.LiveSubscription(f.ctx, f.acct.ID); err == nil {
			t.Fatal("a declined order started a subscription")
		}
		// Nothing numbered: a voided draft keeps no invoice number.
		if got := f.invoices(t); len(got) != 1 || got[0].Number != "" || got[0].Status != "void" {
			t.Fatalf("invoices %+v", got)
		}
		if a, _ := env.DB.Account(f.ctx, f.acct.ID); a.Plan != "" {
			t.Fatalf("account on plan %q after a decline", a.Plan)
		}
	})
}

func TestOTPOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env, jan15, "0")
		f.card(t, sandbox.CardOTP, true)
		order, err := f.svc.SubmitOrder(f.ctx, f.acct.ID, subscribe("essential"))
		if err != nil || order.Status != billow.OrderRequiresAction || order.Action != billow.ActionOTP {
			t.Fatalf("order %+v, %v", order, err)
		}
		if _, err := env.DB.LiveSubscription(f.ctx, f.acct.ID); err == nil {
			t.Fatal("a subscription started before the OTP")
		}
		_, err = f.svc.ConfirmOrder(f.ctx, f.acct.ID, order.ID, billow.ConfirmOrderInput{OTP: "000000"})
		wantCode(t, err, billow.CodeOTPInvalid)
		order, err = f.svc.ConfirmOrder(f.ctx, f.acct.ID, order.ID, billow.ConfirmOrderInput{OTP: sandbox.OTP})
		if err != nil || order.Status != billow.OrderCompleted {
			t.Fatalf("confirmed order %+v, %v", order, err)
		}
		wantStatus(t, f.sub(t), billow.SubscriptionActive)
		_, err = f.svc.ConfirmOrder(f.ctx, f.acct.ID, order.ID, billow.ConfirmOrderInput{OTP: sandbox.OTP})
		wantCode(t, err, billow.CodeOrderNotPending)
	})
}

func TestOTPAttemptsAreBounded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env, jan15, "0")
		f.card(t, sandbox.CardOTP, true)
		order, err := f.svc.SubmitOrder(f.ctx, f.acct.ID, subscribe("essential"))
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < billow.OTPAttemptsMax; i++ {
			_, err = f.svc.ConfirmOrder(f.ctx, f.acct.ID, order.ID, billow.ConfirmOrderInput{OTP: "999999"})
			wantCode(t, err, billow.CodeOTPInvalid)
		}
		order, err = f.svc.ConfirmOrder(f.ctx, f.acct.ID, order.ID, billow.ConfirmOrderInput{OTP: "999999"})
		wantCode(t, err, billow.CodePaymentDeclined)
		if order.Status != billow.OrderFailed || order.FailureCode != billow.CodeOTPAttemptsExceeded {
			t.Fatalf("order %+v", order)
		}
	})
}

// A wire order is pending payment clearance; credits load and the subscription starts
// only when the operator clears it (seed 000).
func TestWireOrdersWaitForClearance(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env, jan15, "0")
		wire := &billow.AddPaymentMethodInput{Kind: billow.MethodWire}
		subOrder, err := f.svc.SubmitOrder(f.ctx, f.acct.ID, billow.SubmitOrderInput{NewPaymentMethod: wire,
			Subscribe: &billow.CreateSubscriptionInput{Plan: "essential"}})
		if err != nil || subOrder.Status != billow.OrderPendingPayment {
			t.Fatalf("order %+v, %v", subOrder, err)
		}
		wantStatus(t, f.sub(t), billow.SubscriptionIncomplete)
		wallet := func(want int64) {
			t.Helper()
			w, err := env.DB.Wallet(f.ctx, f.acct.ID)
			if err != nil || w.BalanceUcr != want {
				t.Fatalf("wallet %d µcr, %v; want %d", w.BalanceUcr, err, want)
			}
		}
		wallet(0) // the plan's included credits come with its first period, once paid
		inv, err := env.DB.Invoice(f.ctx, subOrder.Invoice)
		if err != nil || inv.Status != billow.InvoiceOpen || inv.PaymentStatus != billow.PaymentPending || inv.Number == "" {
			t.Fatalf("wire invoice %+v, %v", inv, err)
		}
		if _, err := f.svc.ClearPayment(f.ctx, f.acct.ID, subOrder.ID); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, f.sub(t), billow.SubscriptionActive)
		wallet(5000 * billow.MicroCreditsPerCredit) // Essential's included credits

		credits, err := f.svc.SubmitOrder(f.ctx, f.acct.ID, billow.SubmitOrderInput{Credits: 10_000})
		if err != nil || credits.Status != billow.OrderPendingPayment || credits.AmountMinor != 1000 {
			t.Fatalf("credits order %+v, %v", credits, err)
		}
		wallet(5000 * billow.MicroCreditsPerCredit) // nothing bought before clearance
		if _, err := f.svc.ClearPayment(f.ctx, f.acct.ID, credits.ID); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.ClearPayment(f.ctx, f.acct.ID, credits.ID)
		wantCode(t, err, billow.CodeOrderNotPending)
		wallet(15_000 * billow.MicroCreditsPerCredit)
		if _, err := env.DB.VerifyLedger(f.ctx, nil); err != nil {
			t.Fatal(err)
		}
	})
}

// Unpaid through the grace period: suspended; unpaid at period end: expired, and the
// invoice is uncollectible. Paying while suspended reactivates.
func TestSuspensionAndExpiry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env, jan15, "0")
		f.card(t, sandbox.CardVisa, true)
		if _, err := f.svc.SubmitOrder(f.ctx, f.acct.ID, subscribe("essential")); err != nil {
			t.Fatal(err)
		}
		f.card(t, sandbox.CardDeclined, true)
		renewal := f.sub(t).CurrentPeriodEnd
		f.advance(t, renewal.Add(time.Hour))
		wantStatus(t, f.sub(t), billow.SubscriptionPastDue)
		f.advance(t, renewal.AddDate(0, 0, 7).Add(time.Hour))
		sub := f.sub(t)
		wantStatus(t, sub, billow.SubscriptionSuspended)
		// Services stop: a fresh checker (as after a poll) refuses the suspended account.
		checker := checks.New(checks.Config{Store: env.DB, Clock: env.Clock})
		res, err := checker.Check(f.ctx, billow.CheckInput{Account: f.acct.ID, Action: billow.ActionCreateApp, Quantity: 1})
		if err != nil || res.Allowed || res.Code != billow.CodeAccountSuspended {
			t.Fatalf("check of a suspended account: %+v, %v", res, err)
		}
		if sub.RetryCount != 4 { // the retries of days 1, 3, 5 and 7 all failed
			t.Fatalf("retry count %d", sub.RetryCount)
		}
		// Paying by hand reactivates.
		good := f.card(t, sandbox.CardVisa, false)
		open, err := env.DB.OutstandingInvoices(f.ctx, f.acct.ID)
		if err != nil || len(open) != 1 {
			t.Fatalf("open invoices %d, %v", len(open), err)
		}
		if _, err := f.svc.PayInvoice(f.ctx, f.acct.ID, open[0].ID, payWith(good.ID)); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, f.sub(t), billow.SubscriptionActive)

		// Next period: never paid, so past due, suspended, then expired at period end.
		end := f.sub(t).CurrentPeriodEnd
		f.advance(t, end.Add(time.Hour))
		next := f.sub(t).CurrentPeriodEnd
		f.advance(t, next.Add(time.Hour))
		sub = f.sub(t)
		wantStatus(t, sub, billow.SubscriptionExpired)
		got := f.invoices(t)
		if last := got[len(got)-1]; last.Status != "uncollectible" {
			t.Fatalf("last invoice %+v", last)
		}
		events, _ := f.events(t, 0)
		want := []string{"subscription.renewal_failed", "subscription.suspended", "subscription.reactivated", "subscription.expired"}
		if diff := cmp.Diff(want, only(events, want)); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
	})
}

// only keeps the events of the listed types, in order, once each in the order they came.
func only(events, types []string) []string {
	keep := map[string]bool{}
	for _, t := range types {
		keep[t] = true
	}
	out := []string{}
	seen := map[string]bool{}
	for _, e := range events {
		if keep[e] && !seen[e] {
			out = append(out, e)
			seen[e] = true
		}
	}
	return out
}

func TestTrialWithoutPaymentMethodExpires(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env, jan15, "0")
		if _, err := f.svc.SubmitOrder(f.ctx, f.acct.ID, billow.SubmitOrderInput{Subscribe: &billow.CreateSubscriptionInput{Plan: "essential", Trial: true}}); err != nil {
			t.Fatal(err)
		}
		f.advance(t, jan15.AddDate(0, 0, 15))
		wantStatus(t, f.sub(t), billow.SubscriptionExpired)
		if got := f.invoices(t); len(got) != 0 {
			t.Fatalf("invoices %+v", got)
		}
		events, _ := f.events(t, 0)
		if diff := cmp.Diff([]string{"subscription.trial_started", "subscription.trial_expired"}, events); diff != "" {
			t.Error(diff)
		}
	})
}

// A renewal run twice, and by two processes at once, makes one invoice and one charge.
func TestRenewalRunsOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env, jan15, "0")
		f.card(t, sandbox.CardVisa, true)
		if _, err := f.svc.SubmitOrder(f.ctx, f.acct.ID, subscribe("essential")); err != nil {
			t.Fatal(err)
		}
		sub := f.sub(t)
		if _, err := env.DB.SetTestClockTime(f.ctx, f.clock.ID, sub.CurrentPeriodEnd.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- f.svc.AdvanceSubscription(f.ctx, sub.ID, time.Time{})
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		got := f.invoices(t)
		if len(got) != 2 || got[1].Status != "paid" {
			t.Fatalf("invoices %+v", got)
		}
		invs, _ := env.DB.OutstandingInvoices(f.ctx, f.acct.ID)
		if len(invs) != 0 {
			t.Fatalf("open invoices %d", len(invs))
		}
		all, err := env.DB.Subscriptions(f.ctx, f.acct.ID)
		if err != nil {
			t.Fatal(err)
		}
		renewals := 0
		events, _ := f.events(t, 0)
		for _, e := range events {
			if e == "subscription.renewed" {
				renewals++
			}
		}
		if renewals != 1 || len(all) != 1 {
			t.Fatalf("%d renewals, %d subscriptions", renewals, len(all))
		}
	})
}

// An anchor on the 31st renews on the last day of shorter months, and 29 February on a
// leap year.
func TestAnchorOnThe31st(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		start := time.Date(2027, 12, 31, 15, 0, 0, 0, time.UTC)
		f := newFixture(t, env, start, "0")
		f.card(t, sandbox.CardVisa, true)
		if _, err := f.svc.SubmitOrder(f.ctx, f.acct.ID, subscribe("essential")); err != nil {
			t.Fatal(err)
		}
		loc := ny(t)
		wantEnds := []time.Time{
			time.Date(2028, 1, 31, 10, 0, 0, 0, loc), time.Date(2028, 2, 29, 10, 0, 0, 0, loc),
			time.Date(2028, 3, 31, 10, 0, 0, 0, loc), time.Date(2028, 4, 30, 10, 0, 0, 0, loc),
		}
		for i, want := range wantEnds {
			sub := f.sub(t)
			if !sub.CurrentPeriodEnd.Equal(want) {
				t.Fatalf("period %d ends %s, want %s", i, sub.CurrentPeriodEnd.In(loc), want)
			}
			f.advance(t, want.Add(time.Minute))
		}
		if got := len(f.invoices(t)); got != 5 {
			t.Fatalf("%d invoices, want 5", got)
		}
	})
}

func payWith(id string) billing.PayInvoiceInput { return billing.PayInvoiceInput{PaymentMethod: id} }
