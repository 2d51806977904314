package billing_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/billing"
	"github.com/billowhq/billow/payment/sandbox"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// BenchmarkRenewal measures one renewal of one subscription: the invoice built,
// finalized and charged, the subscription moved on. b.N subscriptions are renewed, each
// once and one after another, on SQLite (and on PostgreSQL with BILLOW_TEST_POSTGRES_URL).
func BenchmarkRenewal(b *testing.B) {
	for _, engine := range []sqlstore.Dialect{sqlstore.SQLite, sqlstore.Postgres} {
		b.Run(string(engine), func(b *testing.B) {
			svc, subs := benchSubscriptions(b, engine, b.N)
			at := storetest.Start.AddDate(0, 1, 1)
			b.ResetTimer()
			for _, id := range subs {
				if err := svc.AdvanceSubscription(context.Background(), id, at); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "renewals/s")
		})
	}
}

// BenchmarkInvoiceRun measures an invoice run: b.N subscriptions due at once, renewed by
// RunDue with its default concurrency, their decisions group committed.
func BenchmarkInvoiceRun(b *testing.B) {
	for _, engine := range []sqlstore.Dialect{sqlstore.SQLite, sqlstore.Postgres} {
		b.Run(string(engine), func(b *testing.B) {
			svc, _ := benchSubscriptions(b, engine, b.N)
			at := storetest.Start.AddDate(0, 1, 1)
			b.ResetTimer()
			res, err := svc.RunDue(context.Background(), at, billing.RunInput{})
			if err == nil {
				err = res.Err()
			}
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if res.Advanced != b.N {
				b.Fatalf("the run advanced %d subscriptions, want %d", res.Advanced, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "renewals/s")
		})
	}
}

// benchSubscriptions makes n accounts with a card and an Advanced subscription with two
// add-ons, renewing a month after storetest.Start.
func benchSubscriptions(b *testing.B, engine sqlstore.Dialect, n int) (*billing.Service, []string) {
	env := storetest.Open(b, engine)
	ctx := context.Background()
	svc, err := billing.New(billing.Config{Store: env.DB, Gateway: sandbox.New(env.Clock), Clock: env.Clock})
	if err != nil {
		b.Fatal(err)
	}
	subs := make([]string, n)
	for i := range n {
		a, err := env.DB.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: fmt.Sprintf("bench-%d", i), Name: "Bench",
			Catalog: "ai-for-service", BillingContact: billow.BillingContact{Name: "B", Email: "b@bench.test"}})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := svc.AddPaymentMethod(ctx, a.ID, billow.AddPaymentMethodInput{Kind: billow.MethodCard,
			Card: &billow.CardDetails{Number: sandbox.CardVisa, ExpMonth: 12, ExpYear: 2030, CVC: "123"}}); err != nil {
			b.Fatal(err)
		}
		addOns := []billow.SubscriptionAddOn{{AddOn: "voice_gateway", Quantity: 1}, {AddOn: "advanced_rag", Quantity: 1}}
		if _, err := svc.SubmitOrder(ctx, a.ID, billow.SubmitOrderInput{Subscribe: &billow.CreateSubscriptionInput{Plan: "advanced", AddOns: addOns}}); err != nil {
			b.Fatal(err)
		}
		sub, err := env.DB.LiveSubscription(ctx, a.ID)
		if err != nil {
			b.Fatal(err)
		}
		subs[i] = sub.ID
	}
	return svc, subs
}
