package billing_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/billing"
	"github.com/billowhq/billow/payment/sandbox"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// failingStore fails every read of one subscription.
type failingStore struct {
	*sqlstore.DB
	failing string
}

var errUnreadable = errors.New("unreadable subscription")

func (s failingStore) Subscription(ctx context.Context, id string) (*billow.Subscription, error) {
	if id == s.failing {
		return nil, errUnreadable
	}
	return s.DB.Subscription(ctx, id)
}

// An invoice run renews every due subscription once, many at once; one that fails is
// counted, reported and postponed, and the others go on. A second run finds nothing due.
func TestRunDue(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		const n = 12
		svc, err := billing.New(billing.Config{Store: env.DB, Gateway: sandbox.New(env.Clock), Clock: env.Clock})
		if err != nil {
			t.Fatal(err)
		}
		subs := make([]string, n)
		for i := range subs {
			a, err := env.DB.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: fmt.Sprintf("run-%02d", i), Name: "Run",
				Catalog: "ai-for-service", BillingContact: billow.BillingContact{Name: "R", Email: "r@run.test"}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.AddPaymentMethod(ctx, a.ID, billow.AddPaymentMethodInput{Kind: billow.MethodCard, Default: true,
				Card: &billow.CardDetails{Number: sandbox.CardVisa, ExpMonth: 12, ExpYear: 2030, CVC: "123"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.SubmitOrder(ctx, a.ID, subscribe("essential")); err != nil {
				t.Fatal(err)
			}
			sub, err := env.DB.LiveSubscription(ctx, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			subs[i] = sub.ID
		}
		failing := subs[3]
		runner, err := billing.New(billing.Config{Store: failingStore{DB: env.DB, failing: failing}, Gateway: sandbox.New(env.Clock), Clock: env.Clock})
		if err != nil {
			t.Fatal(err)
		}
		at := storetest.Start.AddDate(0, 1, 1)
		var (
			mu       sync.Mutex
			progress []int
		)
		res, err := runner.RunDue(ctx, at, billing.RunInput{Workers: 5, Progress: func(r billing.RunResult) {
			mu.Lock()
			progress = append(progress, r.Advanced+r.Failed)
			mu.Unlock()
		}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Advanced != n-1 || res.Failed != 1 || len(res.Errors) != 1 || !errors.Is(res.Errors[0], errUnreadable) {
			t.Fatalf("run = %+v, want %d advanced and the one failure", res, n-1)
		}
		if !errors.Is(res.Err(), errUnreadable) {
			t.Errorf("Err() = %v, want the failure", res.Err())
		}
		if len(progress) != n || progress[n-1] != n {
			t.Errorf("progress %v, want one call per subscription up to %d", progress, n)
		}
		for _, id := range subs {
			sub, err := env.DB.Subscription(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			invs, err := env.DB.Invoices(ctx, sqlstore.InvoiceFilter{AccountID: sub.Account, From: storetest.Start.AddDate(0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			want := 1
			if id == failing {
				want = 0
			}
			if len(invs) != want {
				t.Errorf("subscription %s: %d renewal invoices, want %d", id, len(invs), want)
			}
			// The events about an invoice name its number, given in the same transaction.
			evs, err := env.DB.BillingEvents(ctx, sub.Account, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range evs {
				if e.Type == "invoice.finalized" || e.Type == "invoice.paid" {
					inv, err := env.DB.Invoice(ctx, e.Subject)
					if err != nil {
						t.Fatal(err)
					}
					if e.Data["number"] != inv.Number || inv.Number == "" {
						t.Errorf("%s of %s names number %v, want %q", e.Type, inv.ID, e.Data["number"], inv.Number)
					}
				}
			}
		}
		// The failed one waits RunFailureDelay; nothing else is due.
		if due, err := env.DB.DueSubscriptions(ctx, at, n); err != nil || len(due) != 0 {
			t.Errorf("due right after the run: %v, %v; want none", due, err)
		}
		if due, err := env.DB.DueSubscriptions(ctx, at.Add(billing.RunFailureDelay), n); err != nil || len(due) != 1 || due[0] != failing {
			t.Errorf("due after the delay: %v, %v; want [%s]", due, err, failing)
		}
		res, err = runner.RunDue(ctx, at.Add(time.Second), billing.RunInput{})
		if err != nil || res.Advanced != 0 || res.Failed != 0 {
			t.Errorf("second run = %+v, %v; want nothing done", res, err)
		}
		// With the fault gone, the next run renews it.
		res, err = svc.RunDue(ctx, at.Add(billing.RunFailureDelay), billing.RunInput{SubscriptionsMax: n})
		if err != nil || res.Advanced != 1 || res.Failed != 0 {
			t.Errorf("run after the delay = %+v, %v; want the postponed one renewed", res, err)
		}
		if _, err := svc.RunDue(ctx, at, billing.RunInput{Workers: billing.RunWorkersMax + 1}); err == nil {
			t.Error("a run with too many workers was accepted")
		}
	})
}
