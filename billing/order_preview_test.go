package billing_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/payment/sandbox"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// stored counts what an order writes: orders, invoices, payment methods and billing
// events of the account.
type stored struct{ Orders, Invoices, Methods, Events int }

func (f *fixture) stored(t *testing.T) stored {
	t.Helper()
	orders, err := f.env.DB.Orders(f.ctx, f.acct.ID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	invs, err := f.env.DB.Invoices(f.ctx, sqlstore.InvoiceFilter{AccountID: f.acct.ID, IncludeHidden: true})
	if err != nil {
		t.Fatal(err)
	}
	methods, err := f.env.DB.PaymentMethods(f.ctx, f.acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	evs, _ := f.events(t, 0)
	return stored{Orders: len(orders), Invoices: len(invs), Methods: len(methods), Events: len(evs)}
}

// lines writes an invoice's lines as the tests compare them.
func lines(inv *billow.Invoice) []string {
	out := []string{}
	for _, l := range inv.Lines {
		out = append(out, fmt.Sprintf("%s | %s | %d", l.Kind, l.Description, l.AmountMinor))
	}
	return append(out, fmt.Sprintf("subtotal %d tax %d total %d", inv.SubtotalMinor, inv.TaxMinor, inv.TotalMinor))
}

// previewThenSubmit previews an order, checks that the preview wrote nothing, submits
// the same order at the same instant and checks that its invoice is the preview's to
// the minor unit. It returns the preview and the submitted order.
func (f *fixture) previewThenSubmit(t *testing.T, in func() billow.SubmitOrderInput) (*billow.OrderPreview, *billow.Order) {
	t.Helper()
	before := f.stored(t)
	p, err := f.svc.PreviewOrder(f.ctx, f.acct.ID, in())
	if err != nil {
		t.Fatalf("preview: %v", err)
	}
	if after := f.stored(t); after != before {
		t.Fatalf("the preview wrote: before %+v, after %+v", before, after)
	}
	if p.Invoice.ID != "" || p.Invoice.Number != "" || p.Invoice.OrderID != "" || p.Invoice.Status != billow.InvoiceDraft {
		t.Fatalf("the preview's invoice looks stored: %+v", p.Invoice)
	}
	order, err := f.svc.SubmitOrder(f.ctx, f.acct.ID, in())
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	if order.Invoice == "" {
		if p.Invoice.TotalMinor != 0 || len(p.Invoice.Lines) != 0 || p.ChargeMinor != 0 {
			t.Fatalf("the order has no invoice; the preview %v charges %d", lines(p.Invoice), p.ChargeMinor)
		}
		return p, order
	}
	inv, err := f.env.DB.Invoice(f.ctx, order.Invoice)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(lines(inv), lines(p.Invoice)); diff != "" {
		t.Fatalf("preview differs from the submitted order's invoice (-invoice +preview):\n%s", diff)
	}
	if p.ChargeMinor != order.AmountMinor || p.ChargeMinor != inv.TotalMinor {
		t.Fatalf("preview charges %d; the order %d, its invoice %d", p.ChargeMinor, order.AmountMinor, inv.TotalMinor)
	}
	if !p.Invoice.PeriodStart.Equal(inv.PeriodStart) || !p.Invoice.PeriodEnd.Equal(inv.PeriodEnd) || p.Invoice.TaxRate != inv.TaxRate {
		t.Fatalf("preview period %s–%s tax %s; invoice %s–%s tax %s", p.Invoice.PeriodStart, p.Invoice.PeriodEnd, p.Invoice.TaxRate,
			inv.PeriodStart, inv.PeriodEnd, inv.TaxRate)
	}
	return p, order
}

// The preview of an order is the invoice the order gets when submitted right after, to
// the minor unit, tax included: a first period prorated up to an anchor, an upgrade in
// the middle of a period with an add-on, a credit purchase; and it writes nothing.
func TestPreviewOrderIsTheOrdersInvoice(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env, jan15, "8.25")
		f.card(t, sandbox.CardVisa, true)

		// Subscribe on 15 January anchored on 1 February: 17 of 31 days of Essential
		// and of Advanced RAG, prorated, plus 8.25% tax.
		anchor := time.Date(2026, 2, 1, 0, 0, 0, 0, ny(t))
		p, order := f.previewThenSubmit(t, func() billow.SubmitOrderInput {
			return billow.SubmitOrderInput{Subscribe: &billow.CreateSubscriptionInput{Plan: "essential", AnchorAt: &anchor,
				AddOns: []billow.SubscriptionAddOn{{AddOn: "advanced_rag", Quantity: 1}}}}
		})
		if order.Status != billow.OrderCompleted || !p.Immediate || len(p.Invoice.Lines) != 2 ||
			p.Invoice.Lines[0].Kind != billow.LineProration || p.Invoice.TaxMinor == 0 || p.TrialEnd != nil {
			t.Fatalf("prorated subscription: %v, order %s", lines(p.Invoice), order.Status)
		}
		wantStatus(t, f.sub(t), billow.SubscriptionActive)

		// Upgrade on 20 January to Advanced, Advanced RAG kept: the unused time of
		// Essential credited, the rest of the period on Advanced charged.
		f.advance(t, time.Date(2026, 1, 20, 15, 0, 0, 0, time.UTC))
		p, order = f.previewThenSubmit(t, func() billow.SubmitOrderInput {
			return billow.SubmitOrderInput{Change: &billow.ChangeSubscriptionInput{Plan: "advanced"}}
		})
		if order.Status != billow.OrderCompleted || !p.Immediate || p.ChargeMinor <= 0 || len(p.Invoice.Lines) != 2 ||
			p.Invoice.Lines[0].AmountMinor >= 0 {
			t.Fatalf("upgrade: %v", lines(p.Invoice))
		}
		if got := f.sub(t); got.Plan != "advanced" || got.Pending != nil {
			t.Fatalf("after the upgrade: %s, pending %+v", got.Plan, got.Pending)
		}

		// Credits: the package's price and its tax.
		p, order = f.previewThenSubmit(t, func() billow.SubmitOrderInput { return billow.SubmitOrderInput{Credits: 25_000} })
		if order.Kind != billow.OrderCredits || p.Invoice.SubtotalMinor != 2500 || p.Invoice.TaxMinor != 206 || p.ChargeMinor != 2706 {
			t.Fatalf("credits: %v charge %d", lines(p.Invoice), p.ChargeMinor)
		}

		// A downgrade charges nothing and waits for the end of the period.
		sub := f.sub(t)
		p, order = f.previewThenSubmit(t, func() billow.SubmitOrderInput {
			return billow.SubmitOrderInput{Change: &billow.ChangeSubscriptionInput{Plan: "essential"}}
		})
		if p.Immediate || !p.EffectiveAt.Equal(sub.CurrentPeriodEnd) || p.ChargeMinor != 0 || order.Status != billow.OrderCompleted {
			t.Fatalf("downgrade: immediate %v at %s (period ends %s), charge %d", p.Immediate, p.EffectiveAt, sub.CurrentPeriodEnd, p.ChargeMinor)
		}
		if got := f.sub(t); got.Plan != "advanced" || got.Pending == nil || got.Pending.Plan != "essential" {
			t.Fatalf("after the downgrade: %s, pending %+v", got.Plan, got.Pending)
		}
	})
}

// A preview is refused as the order would be, and writes nothing then either: a plan
// change while an invoice is outstanding (seed 004), a second subscription, an unknown
// plan; a trial previews as nothing to pay until it ends.
func TestPreviewOrderRefusesAsSubmitDoes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env, jan15, "0")
		f.card(t, sandbox.CardVisa, true)

		p, err := f.svc.PreviewOrder(f.ctx, f.acct.ID, billow.SubmitOrderInput{Subscribe: &billow.CreateSubscriptionInput{Plan: "essential", Trial: true}})
		if err != nil || p.TrialEnd == nil || !p.TrialEnd.Equal(jan15.AddDate(0, 0, 14)) || p.ChargeMinor != 0 || len(p.Invoice.Lines) != 0 {
			t.Fatalf("trial preview %+v, %v", p, err)
		}
		_, err = f.svc.PreviewOrder(f.ctx, f.acct.ID, billow.SubmitOrderInput{Subscribe: &billow.CreateSubscriptionInput{Plan: "platinum"}})
		wantCode(t, err, billow.CodeUnknownPlan)
		_, err = f.svc.PreviewOrder(f.ctx, f.acct.ID, billow.SubmitOrderInput{Change: &billow.ChangeSubscriptionInput{Plan: "advanced"}})
		wantCode(t, err, billow.CodeNoSubscription)

		if _, err := f.svc.SubmitOrder(f.ctx, f.acct.ID, subscribe("essential")); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.PreviewOrder(f.ctx, f.acct.ID, subscribe("advanced"))
		wantCode(t, err, billow.CodeSubscriptionExists)

		// Auto-billing off: the renewal's invoice stays open, and the plan cannot change.
		off := false
		if _, err := env.DB.UpdateAccount(f.ctx, f.acct.ID, billow.UpdateAccountInput{AutoBilling: &off}); err != nil {
			t.Fatal(err)
		}
		f.advance(t, jan15.AddDate(0, 1, 1))
		before := f.stored(t)
		change := billow.SubmitOrderInput{Change: &billow.ChangeSubscriptionInput{Plan: "advanced"}}
		_, err = f.svc.PreviewOrder(f.ctx, f.acct.ID, change)
		wantCode(t, err, billow.CodeOutstandingInvoice)
		_, err = f.svc.SubmitOrder(f.ctx, f.acct.ID, change)
		wantCode(t, err, billow.CodeOutstandingInvoice)
		if after := f.stored(t); after != before {
			t.Fatalf("a refused order wrote: before %+v, after %+v", before, after)
		}
	})
}
