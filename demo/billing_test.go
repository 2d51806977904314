package demo_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/demo"
	"github.com/billowhq/billow/payment/sandbox"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// The demo's billing history has what the issue lists for each standard paid account:
// paid invoices, one open invoice, a renewal that failed and recovered, a credit top-up
// and a wire order pending clearance; loading it again adds nothing.
func TestDemoBillingHistory(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		ext := demo.Billing(env.DB, sandbox.New(env.Clock), env.Clock, slog.New(slog.DiscardHandler))
		for range 2 {
			if _, err := demo.Load(ctx, env.DB, slog.New(slog.DiscardHandler), ext); err != nil {
				t.Fatal(err)
			}
		}
		for _, ref := range []string{"northwind", "acme-bots"} {
			a, err := env.DB.Account(ctx, ref)
			if err != nil {
				t.Fatal(err)
			}
			invs, err := env.DB.Invoices(ctx, sqlstore.InvoiceFilter{AccountID: a.ID})
			if err != nil {
				t.Fatal(err)
			}
			var paid, open, wire int
			for _, inv := range invs {
				switch {
				case inv.Status == billow.InvoicePaid:
					paid++
				case inv.Status == billow.InvoiceOpen && inv.PaymentStatus == billow.PaymentPending:
					wire++
				case inv.Status == billow.InvoiceOpen:
					open++
				}
			}
			if paid < 5 || open != 1 || wire != 1 {
				t.Errorf("%s: %d paid, %d open, %d wire invoices of %d", ref, paid, open, wire, len(invs))
			}
			evs, err := env.DB.BillingEvents(ctx, a.ID, 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, e := range evs {
				types = append(types, e.Type)
			}
			for _, want := range []string{"subscription.renewal_failed", "subscription.recovered", "credits.purchased", "order.pending_payment"} {
				if !slices.Contains(types, want) {
					t.Errorf("%s: no %s event in %v", ref, want, types)
				}
			}
			sub, err := env.DB.LiveSubscription(ctx, a.ID)
			if err != nil || sub.Status != billow.SubscriptionActive {
				t.Errorf("%s: subscription %+v, %v", ref, sub, err)
			}
			subs, _ := env.DB.Subscriptions(ctx, a.ID)
			if len(subs) != 1 {
				t.Errorf("%s: %d subscriptions after two loads", ref, len(subs))
			}
		}
		if _, err := env.DB.VerifyLedger(ctx, nil); err != nil {
			t.Fatal(err)
		}
	})
}
