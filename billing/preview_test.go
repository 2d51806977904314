package billing_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/ingest"
	"github.com/billowhq/billow/payment/sandbox"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// sendVoice stores n voice interactions of the app "bot" at the given time through
// ingest, as the API would, each with an id under name. Like sendAgents, ingest reads a
// clock of its own past every event.
func sendVoice(t *testing.T, f *fixture, name string, at time.Time, n int) {
	t.Helper()
	batch := make([]ingest.CloudEvent, 0, n)
	for i := range n {
		batch = append(batch, ingest.CloudEvent{SpecVersion: "1.0", ID: fmt.Sprintf("%s-%d", name, i), Source: "test",
			Type: "voice.interaction", Subject: f.acct.ExternalID, Time: at.Add(time.Duration(i) * time.Minute).UTC().Format(time.RFC3339),
			Data: []byte(`{"app":"bot","kind":"stt","seconds":30}`)})
	}
	res, err := ingest.New(f.env.DB, storetest.NewClock(time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC))).
		Ingest(f.ctx, billow.Principal{KeyID: "t"}, batch)
	if err != nil || len(res.Rejected) > 0 || res.Accepted != n {
		t.Fatalf("ingest: %+v, %v", res, err)
	}
}

// invoiceView is what a preview promises of the renewal's invoice: everything but its id,
// number, order, status and payment, which only issuing it gives.
type invoiceView struct {
	Account, Subscription, Currency, TaxRate, AccountName string
	BillingDate, DueAt, PeriodStart, PeriodEnd            time.Time
	Lines                                                 []billow.InvoiceLine
	Subtotal, Tax, Total                                  int64
	BillTo                                                billow.BillingContact
	Hidden                                                bool
}

func viewOf(inv *billow.Invoice) invoiceView {
	return invoiceView{Account: inv.Account, Subscription: inv.Subscription, Currency: inv.Currency, TaxRate: inv.TaxRate,
		AccountName: inv.AccountName, BillingDate: inv.BillingDate, DueAt: inv.DueAt, PeriodStart: inv.PeriodStart,
		PeriodEnd: inv.PeriodEnd, Lines: inv.Lines, Subtotal: inv.SubtotalMinor, Tax: inv.TaxMinor, Total: inv.TotalMinor,
		BillTo: inv.BillTo, Hidden: inv.Hidden}
}

// state is what a preview must leave as it found it: the invoices, what was billed of
// usage, the billing events, the subscription and the wallet.
type state struct {
	Invoices     []invoiceRow
	Billed       map[string]billow.BilledLine
	Events       []string
	Subscription billow.Subscription
	Movements    []string
}

func (f *fixture) state(t *testing.T) state {
	t.Helper()
	billed, err := f.env.DB.BilledUsage(f.ctx, f.acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	evs, _ := f.events(t, 0)
	return state{Invoices: f.invoices(t), Billed: billed, Events: evs, Subscription: *f.sub(t), Movements: movements(t, f.env, f.acct.ID)}
}

// upcoming previews the account's upcoming invoice and checks that doing so wrote nothing
// and that the preview is a draft without id or number.
func (f *fixture) upcoming(t *testing.T) *billow.Invoice {
	t.Helper()
	before := f.state(t)
	inv, err := f.svc.UpcomingInvoice(f.ctx, f.acct.ExternalID)
	if err != nil {
		t.Fatalf("upcoming invoice: %v", err)
	}
	if diff := cmp.Diff(before, f.state(t)); diff != "" {
		t.Fatalf("the preview wrote (-before +after):\n%s", diff)
	}
	if inv.Status != billow.InvoiceDraft || inv.ID != "" || inv.Number != "" || inv.OrderID != "" || inv.FinalizedAt != nil || inv.Hash != "" {
		t.Fatalf("preview %+v is not an unstored draft", inv)
	}
	return inv
}

// lastInvoice is the account's newest invoice.
func (f *fixture) lastInvoice(t *testing.T) *billow.Invoice {
	t.Helper()
	invs, err := f.env.DB.Invoices(f.ctx, sqlstore.InvoiceFilter{AccountID: f.acct.ID, IncludeHidden: true})
	if err != nil || len(invs) == 0 {
		t.Fatalf("invoices: %v (%d)", err, len(invs))
	}
	return invs[len(invs)-1]
}

// renewsAs advances the clock past the end of the current period and checks that the
// renewal's invoice is the preview, line for line, amount for amount.
func (f *fixture) renewsAs(t *testing.T, preview *billow.Invoice) *billow.Invoice {
	t.Helper()
	n := len(f.invoices(t))
	f.advance(t, f.sub(t).CurrentPeriodEnd.Add(time.Hour))
	if got := len(f.invoices(t)); got != n+1 {
		t.Fatalf("%d invoices after the renewal, want %d", got, n+1)
	}
	renewal := f.lastInvoice(t)
	if diff := cmp.Diff(viewOf(preview), viewOf(renewal)); diff != "" {
		t.Errorf("the renewal is not the preview (-preview +renewal):\n%s", diff)
	}
	return renewal
}

type previewLine struct {
	Kind        billow.InvoiceLineKind
	Description string
	Quantity    string
	Amount      int64
}

func previewLines(inv *billow.Invoice) []previewLine {
	out := []previewLine{}
	for _, l := range inv.Lines {
		out = append(out, previewLine{l.Kind, l.Description, l.Quantity, l.AmountMinor})
	}
	return out
}

// TestUpcomingInvoiceIsTheRenewal previews an Advanced subscription with two add-ons and
// postpaid voice usage, then lets the test clock renew it: the renewal's invoice is the
// preview (lines, amounts, tax, total). A month still running is previewed as far as it
// has gone. A downgrade scheduled for period end shows in the preview as the new plan,
// and the renewal bills it so. No preview writes anything; a cancellation at period end
// leaves no upcoming invoice until it is undone.
func TestUpcomingInvoiceIsTheRenewal(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		loc := ny(t)
		f := newFixture(t, env, jan15, "8.25")
		f.card(t, sandbox.CardVisa, true)
		if _, err := env.DB.CreateApp(f.ctx, f.acct.ID, billow.CreateAppInput{ExternalID: "bot", Name: "Bot"}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SubmitOrder(f.ctx, f.acct.ID, billow.SubmitOrderInput{Subscribe: &billow.CreateSubscriptionInput{Plan: "advanced",
			AddOns: []billow.SubscriptionAddOn{{AddOn: "advanced_rag", Quantity: 1}, {AddOn: "voice_gateway", Quantity: 1}}}}); err != nil {
			t.Fatal(err)
		}
		periodEnd := f.sub(t).CurrentPeriodEnd // 15 February, 04:00 in New York

		// 25 January: 30 voice sessions so far. January ends before the period does, so the
		// preview bills it, as far as it has gone.
		f.advance(t, time.Date(2026, 1, 25, 12, 0, 0, 0, loc))
		sendVoice(t, f, "jan-a", time.Date(2026, 1, 20, 10, 0, 0, 0, loc), 30)
		early := f.upcoming(t)
		if got := early.Lines[len(early.Lines)-1]; got.Description != "Voice sessions, 2026-01" || got.Quantity != "30" {
			t.Fatalf("January so far previewed as %+v", got)
		}

		// 29 January: ten more. The preview follows; the renewal will be this one.
		f.advance(t, time.Date(2026, 1, 29, 12, 0, 0, 0, loc))
		sendVoice(t, f, "jan-b", time.Date(2026, 1, 28, 10, 0, 0, 0, loc), 10)
		preview := f.upcoming(t)
		want := []previewLine{
			{billow.LineFee, "Advanced plan", "1", 50000},
			{billow.LineAddOn, "Advanced RAG", "1", 20000},
			{billow.LineAddOn, "Voice Gateway with ASR and TTS", "1", 10000},
			{billow.LineUsage, "Voice sessions, 2026-01", "40", 100}, // 40 × $0.025
		}
		if diff := cmp.Diff(want, previewLines(preview)); diff != "" {
			t.Errorf("preview lines (-want +got):\n%s", diff)
		}
		// 8.25% of $801.00 is $66.0825: $66.08.
		if preview.SubtotalMinor != 80100 || preview.TaxMinor != 6608 || preview.TotalMinor != 86708 ||
			!preview.BillingDate.Equal(periodEnd) || !preview.PeriodStart.Equal(periodEnd) {
			t.Fatalf("preview %+v", preview)
		}
		if r := f.renewsAs(t, preview); r.Status != billow.InvoicePaid || r.Number == "" {
			t.Fatalf("renewal %+v", r)
		}

		// 20 February: a downgrade to Essential with Advanced RAG only, for the end of the
		// period; February's voice sessions, and one late for January.
		f.advance(t, time.Date(2026, 2, 20, 12, 0, 0, 0, loc))
		if _, err := f.svc.SubmitOrder(f.ctx, f.acct.ID, billow.SubmitOrderInput{Change: &billow.ChangeSubscriptionInput{Plan: "essential",
			AddOns: &[]billow.SubscriptionAddOn{{AddOn: "advanced_rag", Quantity: 1}}}}); err != nil {
			t.Fatal(err)
		}
		if sub := f.sub(t); sub.Plan != "advanced" || sub.Pending == nil || sub.Pending.Plan != "essential" {
			t.Fatalf("the downgrade is not pending: %+v", sub)
		}
		sendVoice(t, f, "feb", time.Date(2026, 2, 18, 10, 0, 0, 0, loc), 20)
		sendVoice(t, f, "jan-late", time.Date(2026, 1, 30, 10, 0, 0, 0, loc), 1)
		f.advance(t, time.Date(2026, 3, 5, 12, 0, 0, 0, loc))
		preview = f.upcoming(t)
		got := previewLines(preview)
		if len(got) < 2 || got[0] != (previewLine{billow.LineFee, "Essential plan", "1", 5000}) ||
			got[1] != (previewLine{billow.LineAddOn, "Advanced RAG", "1", 20000}) {
			t.Fatalf("the preview does not show the downgrade: %+v", got)
		}
		kinds := map[billow.InvoiceLineKind]int{}
		for _, l := range got {
			kinds[l.Kind]++
		}
		if kinds[billow.LineAddOn] != 1 || kinds[billow.LineUsage] != 1 || kinds[billow.LineUsageAdjustment] != 1 {
			t.Fatalf("preview lines %+v: want one add-on, February's usage and January's adjustment", got)
		}
		f.renewsAs(t, preview)
		if sub := f.sub(t); sub.Plan != "essential" || sub.Pending != nil {
			t.Fatalf("after the renewal: %+v", sub)
		}

		// Set to cancel at period end: nothing to preview, until the cancellation is undone.
		if _, err := f.svc.CancelSubscription(f.ctx, f.acct.ID, billow.CancelSubscriptionInput{}); err != nil {
			t.Fatal(err)
		}
		before := f.state(t)
		_, err := f.svc.UpcomingInvoice(f.ctx, f.acct.ID)
		wantCode(t, err, billow.CodeNoUpcomingInvoice)
		if diff := cmp.Diff(before, f.state(t)); diff != "" {
			t.Fatalf("a refused preview wrote (-before +after):\n%s", diff)
		}
		if _, err := f.svc.ResumeSubscription(f.ctx, f.acct.ID); err != nil {
			t.Fatal(err)
		}
		f.renewsAs(t, f.upcoming(t))
	})
}

// TestUpcomingInvoiceOfATrial: a trial's upcoming invoice is its first paid one, at trial
// end, once the account has a payment method; without one the trial expires and nothing
// is invoiced. An account without a live subscription has none to preview.
func TestUpcomingInvoiceOfATrial(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env, jan15, "10")
		_, err := f.svc.UpcomingInvoice(f.ctx, f.acct.ID)
		wantCode(t, err, billow.CodeNoSubscription)
		_, err = f.svc.UpcomingInvoice(f.ctx, "nobody")
		wantCode(t, err, billow.CodeNotFound)

		if _, err := f.svc.SubmitOrder(f.ctx, f.acct.ID, billow.SubmitOrderInput{Subscribe: &billow.CreateSubscriptionInput{Plan: "essential", Trial: true}}); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.UpcomingInvoice(f.ctx, f.acct.ID)
		wantCode(t, err, billow.CodeNoUpcomingInvoice)

		f.card(t, sandbox.CardVisa, true)
		preview := f.upcoming(t)
		trialEnd := f.sub(t).CurrentPeriodEnd
		// A new cycle starts at trial end, 29 January at 04:00 in New York: February has no
		// 29th, so the first paid period ends on the 28th.
		if diff := cmp.Diff([]previewLine{{billow.LineFee, "Essential plan", "1", 5000}}, previewLines(preview)); diff != "" ||
			preview.TotalMinor != 5500 || !preview.PeriodStart.Equal(trialEnd) || !preview.PeriodEnd.Equal(time.Date(2026, 2, 28, 4, 0, 0, 0, ny(t))) {
			t.Fatalf("trial preview %+v %s", preview, diff)
		}
		if r := f.renewsAs(t, preview); r.Status != billow.InvoicePaid {
			t.Fatalf("first paid invoice %+v", r)
		}
		wantStatus(t, f.sub(t), billow.SubscriptionActive)

		if _, err := f.svc.CancelSubscription(f.ctx, f.acct.ID, billow.CancelSubscriptionInput{AtOnce: true}); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.UpcomingInvoice(f.ctx, f.acct.ID)
		wantCode(t, err, billow.CodeNoSubscription)
	})
}
