package billing

import (
	"context"

	"github.com/billowhq/billow"
)

// PreviewOrder answers "what would this order cost if I submitted it now?" without
// writing anything: no order, no invoice, no payment method, no billing information, no
// event. It is the checkout's proration preview (seed 000's Submit Order shows what is
// charged before the customer submits).
//
// The order is priced by SubmitOrder's own pricing (priceOrder: priceSubscribe,
// priceChange, priceCredits) and its invoice built by the same newInvoice, at the
// account's clock, so the preview's lines, tax and total are those of the order's
// invoice submitted at the same instant, to the minor unit. The same checks refuse the
// same orders: a plan change while an invoice is outstanding is outstanding_invoice, a
// second subscription subscription_exists, and so on.
//
// What submitting also needs is not checked: the billing information (the preview's
// invoice is billed to in.BillingContact when given, else to the account's contact) and
// the payment method. An order that charges nothing now (a trial, a downgrade, an
// interval change) previews as an invoice without lines whose total is 0, with when it
// takes effect. The invoice has status draft and no id, number or order.
//
// Errors: validation_failed, not_found, subscription_exists, no_subscription,
// outstanding_invoice, unknown_plan, plan_not_for_account_type, unknown_interval,
// unknown_add_on, add_on_quantity, no_trial, transition_refused.
func (s *Service) PreviewOrder(ctx context.Context, accountRef string, in billow.SubmitOrderInput) (*billow.OrderPreview, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	st, err := s.load(ctx, accountRef)
	if err != nil {
		return nil, err
	}
	if in.BillingContact != nil {
		// The invoice names the contact the order would store first; the account is a
		// copy, and nothing is written.
		a := *st.account
		a.BillingContact = *in.BillingContact
		st = &accountState{account: &a, cat: st.cat, loc: st.loc}
	}
	now, err := s.Now(ctx, st.account)
	if err != nil {
		return nil, err
	}
	kind, req, lines, err := s.priceOrder(ctx, st, in, now)
	if err != nil {
		return nil, err
	}
	// SubmitOrder's invoice, lines and all; nil lines give one without lines, total 0.
	inv, err := newInvoice(st, req.Subscription, "", lines, now, req.PeriodStart, req.PeriodEnd)
	if err != nil {
		return nil, err
	}
	if inv.Lines == nil {
		inv.Lines = []billow.InvoiceLine{} // a list in JSON, as every invoice's
	}
	p := &billow.OrderPreview{Invoice: inv, Immediate: true, EffectiveAt: now}
	if lines != nil && inv.TotalMinor > 0 && (kind == billow.OrderCredits || !collectedOutside(st.account)) {
		p.ChargeMinor = inv.TotalMinor
	}
	switch kind {
	case billow.OrderSubscribe:
		if in.Subscribe.Trial {
			end := req.PeriodEnd.UTC()
			p.TrialEnd = &end
		}
		// The id priceSubscribe chose is not the one a submitted order gets.
		inv.Subscription = ""
	case billow.OrderChange:
		if lines == nil {
			// applyOrder's rule: a change without an invoice applies at once only
			// during a trial; otherwise it waits for the end of the period.
			sub, err := s.store.Subscription(ctx, req.Subscription)
			if err != nil {
				return nil, err
			}
			if sub.Status != billow.SubscriptionTrialing {
				p.Immediate, p.EffectiveAt = false, sub.CurrentPeriodEnd
			}
		}
	}
	// Not an invoice yet: an id here would name nothing a client could read.
	inv.ID = ""
	inUTC(inv)
	p.EffectiveAt = p.EffectiveAt.UTC()
	return p, nil
}
