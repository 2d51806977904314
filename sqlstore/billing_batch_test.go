package sqlstore_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// Billing decisions written at once are group committed, each under its own savepoint: a
// decision refused by its checks is refused alone, takes no invoice number with it, and
// the others of its batch are committed.
func TestBillingWritesGroupCommitted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		const accounts = 40
		at := storetest.Start
		subs := make([]*billow.Subscription, accounts)
		for i := range subs {
			a := mustAccount(t, env.DB, fmt.Sprintf("batch-%02d", i))
			subs[i] = &billow.Subscription{ID: fmt.Sprintf("sub_batch_%02d", i), Account: a.ID, Plan: "pay_as_you_go", Interval: "month",
				AddOns: []billow.SubscriptionAddOn{}, Status: billow.SubscriptionActive, AnchorAt: at, CurrentPeriodStart: at,
				CurrentPeriodEnd: at.AddDate(0, 1, 0), CreatedAt: at, UpdatedAt: at, Version: 1}
		}
		invoice := func(i int, key string) billow.InvoiceWrite {
			inv := &billow.Invoice{ID: fmt.Sprintf("inv_%s_%02d", key, i), OrderID: "ord_" + key, Account: subs[i].Account, Subscription: subs[i].ID,
				Status: billow.InvoiceOpen, Currency: "USD", CurrencyDigits: 2, BillingDate: at, DueAt: at, PeriodStart: at,
				PeriodEnd: at.AddDate(0, 1, 0), Lines: []billow.InvoiceLine{{Kind: billow.LineFee, Description: "Fee", Quantity: "1", AmountMinor: 100}},
				SubtotalMinor: 100, TotalMinor: 100, TaxRate: "0", PaymentStatus: billow.PaymentNone, CreatedAt: at}
			return billow.InvoiceWrite{Invoice: inv, Insert: true, Finalize: true, CycleKey: fmt.Sprintf("test:%s:%02d", key, i)}
		}
		// Each account's subscription and first invoice, all at once: every third decision
		// also updates a payment that does not exist, after its invoice took a number, and
		// is refused.
		errs := make([]error, accounts)
		var wg sync.WaitGroup
		for i := range subs {
			wg.Go(func() {
				w := &billow.BillingWrite{Subscription: subs[i], NewSubscription: true, Invoices: []billow.InvoiceWrite{invoice(i, "first")}}
				if i%3 == 0 {
					w.Payments = []billow.PaymentWrite{{Payment: &billow.Payment{ID: "pay_missing", Status: billow.AttemptSucceeded, UpdatedAt: at},
						ExpectStatus: billow.AttemptProcessing}}
				}
				errs[i] = env.DB.WriteBilling(ctx, w)
			})
		}
		wg.Wait()
		committed := 0
		for i, err := range errs {
			if i%3 == 0 {
				wantCode(t, err, billow.CodeConcurrentUpdate)
				if _, err := env.DB.Subscription(ctx, subs[i].ID); billow.ErrorCode(err) != billow.CodeNotFound {
					t.Errorf("refused decision %d: its subscription was written (%v)", i, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("decision %d: %v", i, err)
			}
			committed++
		}
		// The numbers of the committed invoices are 1 … committed: the refused decisions
		// gave theirs back.
		invs, err := env.DB.Invoices(ctx, sqlstore.InvoiceFilter{IncludeHidden: true})
		if err != nil {
			t.Fatal(err)
		}
		numbers := map[string]bool{}
		for _, inv := range invs {
			numbers[inv.Number] = true
		}
		for n := 1; n <= committed; n++ {
			if !numbers[fmt.Sprintf(sqlstore.InvoiceNumberFormat, n)] {
				t.Errorf("invoice number %d is missing: numbers %v", n, numbers)
			}
		}
		if len(invs) != committed || len(numbers) != committed {
			t.Errorf("%d invoices with %d numbers, want %d", len(invs), len(numbers), committed)
		}

		// Stale and fresh updates at once: a subscription read stale is refused alone, and
		// a second subscription for an account is subscription_exists.
		for i := range subs {
			if i%3 == 0 {
				continue
			}
			wg.Go(func() {
				sub := *subs[i]
				sub.Version = 2
				if i%2 == 0 {
					sub.Version = 7 // read stale
				}
				errs[i] = env.DB.WriteBilling(ctx, &billow.BillingWrite{Subscription: &sub, NextActionAt: &at})
			})
		}
		var dupErr error
		wg.Go(func() {
			dup := *subs[1]
			dup.ID = "sub_batch_dup"
			dupErr = env.DB.WriteBilling(ctx, &billow.BillingWrite{Subscription: &dup, NewSubscription: true})
		})
		wg.Wait()
		wantCode(t, dupErr, billow.CodeSubscriptionExists)
		fresh := 0
		for i := range subs {
			if i%3 == 0 {
				continue
			}
			got, err := env.DB.Subscription(ctx, subs[i].ID)
			if err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 {
				wantCode(t, errs[i], billow.CodeConcurrentUpdate)
				if got.Version != 1 {
					t.Errorf("stale update %d was written: version %d", i, got.Version)
				}
			} else if errs[i] != nil || got.Version != 2 {
				t.Errorf("update %d: %v, version %d; want nil, 2", i, errs[i], got.Version)
			} else {
				fresh++
			}
		}
		due, err := env.DB.DueSubscriptions(ctx, at.Add(time.Second), accounts)
		if err != nil {
			t.Fatal(err)
		}
		if len(due) != fresh {
			t.Errorf("%d subscriptions due after the updates, want the %d updated with a next action", len(due), fresh)
		}
	})
}
