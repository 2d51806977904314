package billing_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/billing"
	"github.com/billowhq/billow/payment/sandbox"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// newEnterpriseFixture is newFixture with an enterprise account, "bigco", with no tax.
func newEnterpriseFixture(t *testing.T, env *storetest.Env, start time.Time) *fixture {
	t.Helper()
	f := &fixture{env: env, ctx: t.Context()}
	var err error
	if f.svc, err = billing.New(billing.Config{Store: env.DB, Gateway: sandbox.New(env.Clock), Clock: env.Clock}); err != nil {
		t.Fatal(err)
	}
	if f.clock, err = env.DB.CreateTestClock(f.ctx, billow.CreateTestClockInput{Name: "contract", FrozenTime: start}); err != nil {
		t.Fatal(err)
	}
	f.acct, err = env.DB.CreateAccount(f.ctx, billow.CreateAccountInput{ExternalID: "bigco", Name: "BigCo", Type: billow.AccountEnterprise,
		Catalog: "ai-for-service", Timezone: "America/New_York", TestClock: f.clock.ID,
		BillingContact: billow.BillingContact{Name: "Bea Big", Email: "ap@bigco.test"}})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// voiceSessions stores n voice interactions of the account's app "bot" at at.
func (f *fixture) voiceSessions(t *testing.T, n int, at time.Time) {
	t.Helper()
	app, err := f.env.DB.CreateApp(f.ctx, f.acct.ID, billow.CreateAppInput{ExternalID: "bot", Name: "Bot"})
	if err != nil {
		t.Fatal(err)
	}
	events := make([]billow.UsageEvent, n)
	for i := range events {
		events[i] = billow.UsageEvent{AccountID: f.acct.ID, Source: "test", ID: fmt.Sprint("v", i), Type: "voice.interaction", Time: at,
			AppID: app.ID, Data: []byte(`{"app":"bot","kind":"stt","seconds":30}`), ContentHash: fmt.Sprint("h", i), ReceivedAt: at}
	}
	if _, _, err := f.env.DB.InsertEvents(f.ctx, events); err != nil {
		t.Fatal(err)
	}
}

// An enterprise account's contract prices its plan: the subscription and its renewal
// are invoiced at the contract's fee of 3,000.00 instead of the catalog's 5,000.00, and
// January's voice sessions at the contract's 0.05 instead of 0.02.
func TestContractPricesTheRenewal(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newEnterpriseFixture(t, env, jan15)
		if _, err := env.DB.SetContract(f.ctx, f.acct.ID, billow.ContractTerms{Reference: "ENT-2026-001", Plan: "enterprise",
			Fees:  map[string]string{"month": "3000.00"},
			Rates: []billow.ContractRate{{Meter: "voice_sessions", Model: "per_unit", UnitPrice: "0.05"}}}); err != nil {
			t.Fatal(err)
		}
		f.card(t, sandbox.CardVisa, true)
		if _, err := f.svc.SubmitOrder(f.ctx, f.acct.ID, subscribe("enterprise")); err != nil {
			t.Fatal(err)
		}
		f.voiceSessions(t, 100, jan15.Add(3*time.Hour))
		f.advance(t, jan15.AddDate(0, 1, 0).Add(time.Hour))

		wantStatus(t, f.sub(t), billow.SubscriptionActive)
		want := []invoiceRow{
			{Number: "INV-000001", Status: "paid", Payment: "succeeded", Total: 300_000, Lines: []string{"Enterprise plan 300000"}},
			{Number: "INV-000002", Status: "paid", Payment: "succeeded", Total: 300_500, Lines: []string{"Enterprise plan 300000", "Voice sessions, 2026-01 500"}},
		}
		if diff := cmp.Diff(want, f.invoices(t)); diff != "" {
			t.Errorf("invoices (-want +got):\n%s", diff)
		}
	})
}

// Invoicing outside Billow: the operator collects the invoices itself. The subscription
// starts without a payment method; each renewal is invoiced (hidden from the account,
// open, payment_status external) and never charged: no payment attempt, no dunning, the
// subscription stays active. Once the contract ends, Billow charges again.
func TestInvoicingOutsideBillow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newEnterpriseFixture(t, env, jan15)
		if _, err := env.DB.SetContract(f.ctx, f.acct.ID, billow.ContractTerms{Plan: "enterprise", InvoicingOutsideBillow: true}); err != nil {
			t.Fatal(err)
		}
		order, err := f.svc.SubmitOrder(f.ctx, f.acct.ID, subscribe("enterprise"))
		if err != nil || order.Status != billow.OrderCompleted || order.Invoice == "" || order.PaymentMethod != "" {
			t.Fatalf("order %+v, %v", order, err)
		}
		wantStatus(t, f.sub(t), billow.SubscriptionActive)
		f.advance(t, time.Date(2026, 4, 20, 0, 0, 0, 0, time.UTC)) // renewals on 15 February, March and April

		sub := f.sub(t)
		wantStatus(t, sub, billow.SubscriptionActive)
		if sub.PastDueSince != nil || sub.RetryCount != 0 || !sub.CurrentPeriodEnd.Equal(time.Date(2026, 5, 15, 4, 0, 0, 0, ny(t))) {
			t.Fatalf("subscription %+v", sub)
		}
		external := func(n int) invoiceRow {
			return invoiceRow{Number: fmt.Sprintf("INV-%06d", n), Status: "open", Payment: "external", Total: 500_000, Lines: []string{"Enterprise plan 500000"}}
		}
		if diff := cmp.Diff([]invoiceRow{external(1), external(2), external(3), external(4)}, f.invoices(t)); diff != "" {
			t.Errorf("invoices (-want +got):\n%s", diff)
		}
		invs, err := env.DB.Invoices(f.ctx, sqlstore.InvoiceFilter{AccountID: f.acct.ID, IncludeHidden: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, inv := range invs {
			pays, err := env.DB.Payments(f.ctx, inv.ID)
			if err != nil || len(pays) != 0 {
				t.Fatalf("invoice %s has payments %v (%v)", inv.Number, pays, err)
			}
			if !inv.Hidden || inv.PaidAt != nil || !inv.DueAt.Equal(inv.BillingDate.AddDate(0, 0, 14)) {
				t.Fatalf("invoice %s: hidden %v, paid %v, due %s", inv.Number, inv.Hidden, inv.PaidAt, inv.DueAt)
			}
		}
		// Nothing is outstanding in Billow: no charge waits, no plan change is blocked,
		// and the invoice cannot be paid here.
		if open, err := env.DB.OutstandingInvoices(f.ctx, f.acct.ID); err != nil || len(open) != 0 {
			t.Fatalf("outstanding %d, %v", len(open), err)
		}
		f.card(t, sandbox.CardVisa, true)
		_, err = f.svc.PayInvoice(f.ctx, f.acct.ID, invs[3].ID, billing.PayInvoiceInput{})
		wantCode(t, err, billow.CodeInvoiceNotPayable)
		events, _ := f.events(t, 0)
		wantEvents := []string{"subscription.activated", "invoice.finalized", "order.completed"}
		for range 3 {
			wantEvents = append(wantEvents, "invoice.finalized", "subscription.renewed")
		}
		if diff := cmp.Diff(wantEvents, events); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}

		// The contract ends: the next renewal is Billow's to collect, and is charged.
		if _, err := env.DB.DeleteContract(f.ctx, f.acct.ID); err != nil {
			t.Fatal(err)
		}
		f.advance(t, time.Date(2026, 5, 16, 0, 0, 0, 0, time.UTC))
		got := f.invoices(t)
		if last := got[len(got)-1]; len(got) != 5 || last.Status != "paid" || last.Payment != "succeeded" || last.Total != 500_000 {
			t.Fatalf("invoices after the contract %+v", got)
		}
		wantStatus(t, f.sub(t), billow.SubscriptionActive)
	})
}
