package billing

import (
	"context"
	"slices"
	"time"

	"github.com/billowhq/billow"
)

// The upcoming-invoice preview answers "what will my next renewal invoice be if nothing
// changes?" at any time, without writing anything. It is the invoice renew would issue
// when the current period ends, built from the stored state as it is now with the
// same function renew builds its invoice with (nextInvoice), not with a second pricing
// that could drift from the real one.

// UpcomingInvoice returns the invoice the account's subscription will be renewed with
// when its current period ends, if nothing changes until then. Nothing is written: no
// invoice, no billed usage, no credits of the next period, no event.
//
// It is the invoice renew would build at sub.CurrentPeriodEnd, line for line: the plan,
// interval and add-ons of a pending change (a scheduled downgrade shows the new plan),
// the fees of the next period in advance, the postpaid usage and seats of every month
// that will have ended by then with late-usage adjustments, and the tax. A month that has
// not ended yet now (the month the period ends in is never billed; the one before it may
// still be running) is rated as far as it has gone: usage that arrives before the period
// ends changes the real invoice. A trialing subscription's upcoming invoice is its first
// paid one, at trial end.
//
// The invoice has status draft, no id, no number and no order: it is not stored, and the
// renewal's invoice gets its own when it is issued. Its billing date, created_at and
// (with auto-billing) due date are the end of the current period; its payment_status is
// what the renewal would start with ("external" for a contract invoiced outside Billow).
// Enterprise invoices are the operator's (Hidden is set as on the real one); keeping them
// from the account is the caller's job, as for stored invoices.
//
// Errors: not_found, no_subscription (no subscription that has not ended),
// no_upcoming_invoice (the subscription will not renew: see noRenewal).
func (s *Service) UpcomingInvoice(ctx context.Context, accountRef string) (*billow.Invoice, error) {
	st, err := s.load(ctx, accountRef)
	if err != nil {
		return nil, err
	}
	sub, err := s.store.LiveSubscription(ctx, st.account.ID)
	if err != nil {
		return nil, err
	}
	if err := s.noRenewal(ctx, sub); err != nil {
		return nil, err
	}
	return s.upcoming(ctx, st, sub)
}

// noRenewal returns no_upcoming_invoice when the end of sub's current period will not
// renew it as sub stands now: the cases endPeriod handles before it calls renew, and the
// statuses advance never ends a period for. It returns nil when the period end renews.
// Steps due before the period end are not foreseen: an open invoice that falls past due
// first (auto-billing off) still previews the renewal, which paying it would give.
func (s *Service) noRenewal(ctx context.Context, sub *billow.Subscription) error {
	none := func(format string, args ...any) error {
		return billow.Errorf(billow.KindNotFound, billow.CodeNoUpcomingInvoice, format, args...)
	}
	switch {
	case sub.Status.Ended():
		return none("the subscription has ended")
	case sub.Status == billow.SubscriptionIncomplete:
		// advance leaves it alone until its first payment completes the order.
		return none("the subscription waits for its first payment; its order's invoice is the one to pay")
	case sub.CancelAtPeriodEnd:
		return none("the subscription is set to cancel at the end of its period, %s; resume it to renew", sub.CurrentPeriodEnd.UTC().Format(time.RFC3339))
	case sub.Status == billow.SubscriptionPastDue || sub.Status == billow.SubscriptionSuspended:
		return none("the subscription is %s: unless its open invoice is paid, it ends unrenewed at the end of its period", sub.Status)
	case sub.Status == billow.SubscriptionTrialing:
		if _, err := s.store.DefaultPaymentMethod(ctx, sub.Account); isCode(err, billow.CodePaymentMethodMissing) {
			return none("the trial ends without a default payment method and expires; add one to continue on a paid plan")
		} else if err != nil {
			return err
		}
	}
	return nil
}

// upcoming builds the invoice renew would issue at the end of sub's current period.
//
// It is renew's nextInvoice on a copy of sub, without what renew writes (grantCycle's
// credits, the billed usage, the subscription's new period, the events).
// TestUpcomingInvoiceIsTheRenewal holds the two to the same lines and amounts.
func (s *Service) upcoming(ctx context.Context, st *accountState, stored *billow.Subscription) (*billow.Invoice, error) {
	sub := *stored
	sub.AddOns = slices.Clone(stored.AddOns)
	// The billed-usage map is what renew would write; a preview drops it.
	inv, _, err := s.nextInvoice(ctx, st, &sub, stored.CurrentPeriodEnd)
	if err != nil {
		return nil, err
	}
	// Not an invoice yet: an id here would name nothing a client could read.
	inv.ID, inv.OrderID = "", ""
	inUTC(inv)
	return inv, nil
}

// inUTC sets an unstored invoice's own times in UTC, as the store reads them back
// (PeriodOf gives times in the account's zone), so that the preview and the invoice it
// previews print alike. Lines are left as built: the store keeps them as written, a fee's
// period with the zone's offset.
func inUTC(inv *billow.Invoice) {
	for _, t := range []*time.Time{&inv.BillingDate, &inv.DueAt, &inv.PeriodStart, &inv.PeriodEnd, &inv.CreatedAt} {
		*t = t.UTC()
	}
}
