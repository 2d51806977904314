package demo

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/billing"
)

// Test cards of the sandbox gateway (payment/sandbox, docs/payments.md) the history pays with.
const (
	demoCardGood     = "4242424242424242"
	demoCardDeclined = "4000000000009995" // insufficient funds
)

// BillingHistoryMonths is how far back the demo's billing history starts.
const BillingHistoryMonths = 4

// historyClock is the clock the history is written at: it walks from the past to now.
type historyClock struct {
	mu sync.Mutex // protects the following field
	t  time.Time
}

func (c *historyClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *historyClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t.UTC().Truncate(time.Microsecond)
}

// BillingStore is what the history needs besides the billing service's own store.
type BillingStore interface {
	billing.Store
	Subscriptions(ctx context.Context, accountID string) ([]*billow.Subscription, error)
}

// Billing gives each standard demo account on a paid plan months of billing history,
// written through the billing service as it would have happened, at a clock walking from
// BillingHistoryMonths ago to now: paid invoices, a renewal that failed and recovered, a
// credit top-up, one open invoice (auto-billing off) and a wire order pending clearance.
// An account that already has a subscription is left alone, so a restart adds nothing.
func Billing(store BillingStore, gateway billow.PaymentGateway, clock billow.Clock, logger *slog.Logger) Extension {
	return func(ctx context.Context, d *Data) error {
		for _, a := range d.Accounts {
			if a.Type != billow.AccountStandard || a.Plan == "" || a.Plan == "free" {
				continue
			}
			subs, err := store.Subscriptions(ctx, a.ID)
			if err != nil {
				return err
			}
			if len(subs) > 0 {
				continue
			}
			hc := &historyClock{}
			svc, err := billing.New(billing.Config{Store: store, Gateway: gateway, Clock: hc, Logger: logger})
			if err != nil {
				return err
			}
			h := &history{svc: svc, store: store, clock: hc, account: a, now: clock.Now()}
			if err := h.write(ctx); err != nil {
				return fmt.Errorf("demo billing history of %s: %w", a.ExternalID, err)
			}
			logger.Info("demo billing history written", "account", a.ExternalID, "months", BillingHistoryMonths)
		}
		return nil
	}
}

type history struct {
	svc     *billing.Service
	store   BillingStore
	clock   *historyClock
	account *billow.Account
	now     time.Time
}

func (h *history) card(ctx context.Context, number string) error {
	_, err := h.svc.AddPaymentMethod(ctx, h.account.ID, billow.AddPaymentMethodInput{Kind: billow.MethodCard, Default: true,
		Card: &billow.CardDetails{Number: number, ExpMonth: 12, ExpYear: int64(h.now.Year() + 3), CVC: "123", HolderName: h.account.BillingContact.Name}})
	return err
}

// advance runs the subscription's billing up to t.
func (h *history) advance(ctx context.Context, sub string, t time.Time) error {
	h.clock.set(t)
	return h.svc.AdvanceSubscription(ctx, sub, t)
}

func (h *history) write(ctx context.Context) error {
	start := h.now.AddDate(0, -BillingHistoryMonths, -5)
	h.clock.set(start)
	if err := h.card(ctx, demoCardGood); err != nil {
		return err
	}
	if _, err := h.svc.SubmitOrder(ctx, h.account.ID, billow.SubmitOrderInput{Subscribe: &billow.CreateSubscriptionInput{Plan: h.account.Plan}}); err != nil {
		return err
	}
	subs, err := h.store.Subscriptions(ctx, h.account.ID)
	if err != nil {
		return err
	}
	sub := subs[0].ID
	topUp := func(at time.Time, n int64, wire bool) error {
		h.clock.set(at)
		in := billow.SubmitOrderInput{Credits: n}
		if wire {
			in.NewPaymentMethod = &billow.AddPaymentMethodInput{Kind: billow.MethodWire}
		}
		_, err := h.svc.SubmitOrder(ctx, h.account.ID, in)
		return err
	}
	cat, err := h.store.AccountCatalog(ctx, h.account)
	if err != nil {
		return err
	}
	pack := cat.Credits.PurchaseMinCredits

	// Month one renews and is paid; a credit top-up by card.
	month1 := start.AddDate(0, 1, 0)
	if err := h.advance(ctx, sub, month1.Add(time.Hour)); err != nil {
		return err
	}
	if err := topUp(month1.AddDate(0, 0, 3), pack, false); err != nil {
		return err
	}
	// Month two: the card on file is declined; dunning retries; a new card recovers it.
	h.clock.set(month1.AddDate(0, 0, 10))
	if err := h.card(ctx, demoCardDeclined); err != nil {
		return err
	}
	month2 := start.AddDate(0, 2, 0)
	if err := h.advance(ctx, sub, month2.AddDate(0, 0, 2)); err != nil {
		return err
	}
	h.clock.set(month2.AddDate(0, 0, 2).Add(time.Hour))
	if err := h.card(ctx, demoCardGood); err != nil {
		return err
	}
	if err := h.advance(ctx, sub, month2.AddDate(0, 0, 3).Add(time.Hour)); err != nil {
		return err
	}
	// From here the account pays its invoices by hand (auto-billing off): the renewals
	// are paid in the portal, but the latest one is still open.
	if _, err := h.store.UpdateAccount(ctx, h.account.ID, billow.UpdateAccountInput{AutoBilling: ptr(false)}); err != nil {
		return err
	}
	for m := 3; m <= BillingHistoryMonths; m++ {
		renewal := start.AddDate(0, m, 0)
		if err := h.advance(ctx, sub, renewal.Add(time.Hour)); err != nil {
			return err
		}
		if m == BillingHistoryMonths {
			break // the open invoice
		}
		open, err := h.store.OutstandingInvoices(ctx, h.account.ID)
		if err != nil {
			return err
		}
		h.clock.set(renewal.AddDate(0, 0, 2))
		for _, inv := range open {
			if _, err := h.svc.PayInvoice(ctx, h.account.ID, inv.ID, billing.PayInvoiceInput{}); err != nil {
				return err
			}
		}
	}
	// A wire transfer ordered yesterday, pending clearance.
	if err := topUp(h.now.AddDate(0, 0, -1), 2*pack, true); err != nil {
		return err
	}
	return h.advance(ctx, sub, h.now)
}

func ptr[T any](v T) *T { return &v }
