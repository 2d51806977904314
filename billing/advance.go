package billing

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/rating"
)

// Work on a subscription is decided from its stored state, one step at a time, each step
// at the time it fell due and committed whole: a renewal, the charge of an open invoice,
// a retry, a suspension, the end of a trial or of an unpaid period. Advance repeats
// steps until nothing is due. A step read stale (another process took it) is read again,
// so running Advance twice, or in two processes at once, does the work once.

// stepKind orders steps that fall due at the same time.
type stepKind int

const (
	stepCharge    stepKind = iota // first attempt at an open invoice (auto-billing)
	stepReconcile                 // an attempt the gateway did not answer
	stepRetry                     // a dunning retry
	stepUnpaid                    // an open invoice passed its due date (auto-billing off)
	stepSuspend                   // the grace period ended unpaid
	stepPeriodEnd                 // renewal, trial end, scheduled cancellation, expiry
)

// ReconcileAfter is how long an attempt may stay without an answer before the gateway
// is asked what became of it.
const ReconcileAfter = time.Minute

// ChargeReplayWindow is how long after an attempt was made an attempt the gateway has no
// record of may be sent again under its idempotency key: gateways keep keys at least
// this long (Stripe: 24 hours), so within it a replay cannot charge twice. After it, an
// unanswered attempt is only looked up, and an operator settles it.
const ChargeReplayWindow = 24 * time.Hour

// replayable reports whether an attempt the gateway has no record of may be sent again.
func replayable(pay *billow.Payment, now time.Time) bool {
	open := pay.Status == billow.AttemptProcessing || pay.Status == billow.AttemptUnknown
	return open && now.Before(pay.CreatedAt.Add(ChargeReplayWindow))
}

type step struct {
	kind stepKind
	at   time.Time
	inv  *billow.Invoice
	pay  *billow.Payment
}

// DueSubscriptions returns subscriptions with work due at or before now, for the job
// queue (accounts on a test clock are left to their clock).
func (s *Service) DueSubscriptions(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return s.store.DueSubscriptions(ctx, now, limit)
}

// AdvanceSubscription runs a subscription's due work up to now, or up to its account's
// test clock when it has one (now is then ignored).
func (s *Service) AdvanceSubscription(ctx context.Context, id string, now time.Time) error {
	sub, err := s.store.Subscription(ctx, id)
	if err != nil {
		return err
	}
	st, err := s.load(ctx, sub.Account)
	if err != nil {
		return err
	}
	if st.account.TestClock != "" {
		if now, err = s.Now(ctx, st.account); err != nil {
			return err
		}
	}
	return s.advance(ctx, st, sub, now)
}

// advance runs sub's due steps up to now, sub as just read. A step that commits leaves
// sub as it stored it (every step writes the subscription under its version), so the next
// step starts from it; a step read stale reads it again.
func (s *Service) advance(ctx context.Context, st *accountState, sub *billow.Subscription, now time.Time) error {
	id := sub.ID
	stale := false
	for range AdvanceStepsMax {
		if stale {
			var err error
			if sub, err = s.store.Subscription(ctx, id); err != nil {
				return err
			}
			stale = false
		}
		if sub.Status.Ended() {
			return nil
		}
		open, err := s.openInvoicesOf(ctx, sub)
		if err != nil {
			return err
		}
		next, err := s.nextStep(ctx, st, sub, open, now)
		if err != nil {
			return err
		}
		if next == nil {
			return nil
		}
		err = s.runStep(ctx, st, sub, open, *next)
		if isConflict(err) {
			// Another process took this step: read again and go on from where it left.
			stale = true
			continue
		}
		if err != nil {
			return fmt.Errorf("billing: subscription %s at %s: %w", id, next.at.Format(time.RFC3339), err)
		}
	}
	return nil
}

func (s *Service) openInvoicesOf(ctx context.Context, sub *billow.Subscription) ([]*billow.Invoice, error) {
	all, err := s.store.OutstandingInvoices(ctx, sub.Account)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, inv := range all {
		if inv.Subscription == sub.ID {
			out = append(out, inv)
		}
	}
	return out, nil
}

// nextStep returns the earliest step due at or before now, nil when none.
func (s *Service) nextStep(ctx context.Context, st *accountState, sub *billow.Subscription, open []*billow.Invoice, now time.Time) (*step, error) {
	var best *step
	consider := func(c step) {
		if c.at.After(now) {
			return
		}
		if best == nil || c.at.Before(best.at) || (c.at.Equal(best.at) && c.kind < best.kind) {
			best = &c
		}
	}
	live := sub.Status == billow.SubscriptionTrialing || sub.Status == billow.SubscriptionActive ||
		sub.Status == billow.SubscriptionPastDue || sub.Status == billow.SubscriptionSuspended
	if !live {
		return nil, nil
	}
	for _, inv := range open {
		switch inv.PaymentStatus {
		case billow.PaymentNone:
			if st.account.AutoBilling && sub.Status != billow.SubscriptionSuspended && sub.PastDueSince == nil {
				consider(step{kind: stepCharge, at: inv.BillingDate, inv: inv})
			} else if !st.account.AutoBilling && sub.PastDueSince == nil {
				consider(step{kind: stepUnpaid, at: inv.DueAt, inv: inv})
			}
		case billow.PaymentUnknown:
			pays, err := s.store.Payments(ctx, inv.ID)
			if err != nil {
				return nil, err
			}
			for _, p := range pays {
				if p.Status == billow.AttemptUnknown || p.Status == billow.AttemptProcessing {
					consider(step{kind: stepReconcile, at: p.UpdatedAt.Add(ReconcileAfter), inv: inv, pay: p})
				}
			}
		}
	}
	if sub.Status == billow.SubscriptionPastDue {
		if sub.NextRetryAt != nil && len(open) > 0 && st.account.AutoBilling {
			consider(step{kind: stepRetry, at: *sub.NextRetryAt, inv: open[0]})
		}
		if sub.SuspendAt != nil {
			consider(step{kind: stepSuspend, at: *sub.SuspendAt})
		}
	}
	consider(step{kind: stepPeriodEnd, at: sub.CurrentPeriodEnd})
	return best, nil
}

// nextAction is when work on sub is next due, for the job queue's sweep: extra is a
// time the caller knows of (an invoice to charge).
func nextAction(sub *billow.Subscription, extra *time.Time) *time.Time {
	if sub.Status.Ended() || sub.Status == billow.SubscriptionIncomplete {
		return nil
	}
	t := sub.CurrentPeriodEnd
	for _, c := range []*time.Time{sub.NextRetryAt, sub.SuspendAt, extra} {
		if c != nil && c.Before(t) {
			t = *c
		}
	}
	return &t
}

func (s *Service) runStep(ctx context.Context, st *accountState, sub *billow.Subscription, open []*billow.Invoice, stp step) error {
	switch stp.kind {
	case stepCharge, stepRetry:
		return s.chargeInvoice(ctx, st, sub, stp.inv, nil, stp.at)
	case stepReconcile:
		res, err := s.gateway.Lookup(ctx, stp.pay.ID)
		if err != nil {
			return err
		}
		if res.Status == billow.ChargeUnknown && replayable(stp.pay, stp.at) {
			// The gateway has no record of the attempt: the process stopped before or
			// while it called the gateway, or the call failed on the way. The charge is
			// sent again under the same idempotency key, which the gateway answers with
			// the first charge if there was one, so the invoice is charged once either way.
			method, err := s.store.PaymentMethod(ctx, stp.pay.Account, stp.pay.Method)
			if err != nil {
				return err
			}
			res = s.sendCharge(ctx, stp.inv, stp.pay, method.Token)
		}
		if res.Status == billow.ChargeUnknown {
			// Still no answer: look again later, never charge anew.
			prev := stp.pay.Status
			stp.pay.Status, stp.pay.UpdatedAt = billow.AttemptUnknown, stp.at
			w := &billow.BillingWrite{Subscription: sub, NextActionAt: nextAction(sub, ptr(stp.at.Add(ReconcileAfter))),
				Payments: []billow.PaymentWrite{{Payment: stp.pay, ExpectStatus: prev}}}
			sub.Version++
			return s.store.WriteBilling(ctx, w)
		}
		return s.settleCharge(ctx, st, sub, stp.inv, stp.pay, res, stp.at)
	case stepUnpaid:
		return s.failRenewal(ctx, st, sub, stp.inv, nil, billow.ChargeResult{Status: billow.ChargeDeclined, DeclineCode: "unpaid", Message: "the invoice was not paid by its due date"}, stp.at)
	case stepSuspend:
		e, err := transition(st.account, sub, EventGraceExpired, stp.at, map[string]any{"past_due_since": sub.PastDueSince})
		if err != nil {
			return err
		}
		sub.NextRetryAt = nil
		return s.store.WriteBilling(ctx, &billow.BillingWrite{Subscription: sub, NextActionAt: nextAction(sub, nil), Events: []*billow.BillingEvent{e}})
	case stepPeriodEnd:
		return s.endPeriod(ctx, st, sub, open, stp.at)
	}
	panic(fmt.Sprintf("billing: unknown step %d", stp.kind))
}

func ptr[T any](v T) *T { return &v }

// endPeriod handles the end of the current period: a scheduled cancellation, an unpaid
// period expiring, the end of a trial, or a renewal with its invoice.
func (s *Service) endPeriod(ctx context.Context, st *accountState, sub *billow.Subscription, open []*billow.Invoice, at time.Time) error {
	w := &billow.BillingWrite{Subscription: sub}
	switch {
	case sub.CancelAtPeriodEnd:
		if err := cancelNow(st, sub, at, w); err != nil {
			return err
		}
		w.NextActionAt = nil
		return s.store.WriteBilling(ctx, w)
	case sub.Status == billow.SubscriptionPastDue || sub.Status == billow.SubscriptionSuspended:
		e, err := transition(st.account, sub, EventPeriodEndUnpaid, at, nil)
		if err != nil {
			return err
		}
		sub.EndedAt, sub.NextRetryAt = &at, nil
		none := ""
		w.AccountPlan = &none
		w.Events = append(w.Events, e)
		for _, inv := range open {
			inv.Status = billow.InvoiceUncollectible
			w.Invoices = append(w.Invoices, billow.InvoiceWrite{Invoice: inv, ExpectStatus: billow.InvoiceOpen})
			w.Events = append(w.Events, event(st.account, "invoice.uncollectible", inv.ID, at, invoiceData(inv)))
		}
		return s.store.WriteBilling(ctx, w)
	case sub.Status == billow.SubscriptionTrialing:
		if _, err := s.store.DefaultPaymentMethod(ctx, sub.Account); isCode(err, billow.CodePaymentMethodMissing) {
			e, err := transition(st.account, sub, EventTrialNoMethod, at, nil)
			if err != nil {
				return err
			}
			sub.EndedAt = &at
			none := ""
			w.AccountPlan = &none
			w.Events = append(w.Events, e)
			return s.store.WriteBilling(ctx, w)
		} else if err != nil {
			return err
		}
	}
	return s.renew(ctx, st, sub, at, w)
}

// renew starts the next period and bills it: the fixed fees in advance, the postpaid
// usage of the months that have ended, and the tax.
func (s *Service) renew(ctx context.Context, st *accountState, sub *billow.Subscription, at time.Time, w *billow.BillingWrite) error {
	data := map[string]any{}
	if p := sub.Pending; p != nil {
		data["old_plan"], data["new_plan"] = sub.Plan, p.Plan
		plan := p.Plan
		w.AccountPlan = &plan
	}
	inv, billed, err := s.nextInvoice(ctx, st, sub, at)
	if err != nil {
		return err
	}
	start, end := inv.PeriodStart, inv.PeriodEnd
	// What the renewal emails state: the invoice and its total, usage and tax included,
	// whichever way the period is then paid.
	data["invoice"], data["amount_minor"] = inv.ID, inv.TotalMinor
	// The new period's included credits, granted before it is written: a retry grants
	// them once, under the same id.
	if err := s.grantCycle(ctx, st, sub.Plan, sub.Interval, start, end); err != nil {
		return err
	}
	outside := inv.PaymentStatus == billow.PaymentExternal
	inv.Status = billow.InvoiceOpen
	sub.CurrentPeriodStart, sub.CurrentPeriodEnd, sub.UpdatedAt = start, end, at
	sub.Version++
	w.Invoices = append(w.Invoices, billow.InvoiceWrite{Invoice: inv, Insert: true, Finalize: true,
		CycleKey: fmt.Sprintf("renewal:%s:%d", sub.ID, billow.TimeMicros(start))})
	w.BilledUsage = billed
	w.Events = append(w.Events, event(st.account, "invoice.finalized", inv.ID, at, invoiceData(inv)))
	if inv.TotalMinor <= 0 || outside {
		// Nothing to collect, or nothing for Billow to collect: renewed at once.
		if !outside {
			inv.Status, inv.PaymentStatus, inv.PaidAt = billow.InvoicePaid, billow.PaymentSucceeded, &at
		}
		ev := EventRenewed
		if sub.Status == billow.SubscriptionTrialing {
			ev = EventTrialConverted
		}
		sub.Version--
		e, err := transition(st.account, sub, ev, at, withPeriod(data, sub))
		if err != nil {
			return err
		}
		w.Events = append(w.Events, e)
		w.NextActionAt = nextAction(sub, nil)
		return s.store.WriteBilling(ctx, w)
	}
	if !st.account.AutoBilling && sub.Status == billow.SubscriptionTrialing {
		// The trial ends into an open invoice the customer pays by hand.
		sub.Version--
		e, err := transition(st.account, sub, EventTrialConverted, at, withPeriod(data, sub))
		if err != nil {
			return err
		}
		w.Events = append(w.Events, e)
	}
	if st.account.AutoBilling {
		method, err := s.store.DefaultPaymentMethod(ctx, sub.Account)
		if err == nil {
			// The renewal and the attempt at its charge are one decision: an invoice run
			// commits once per renewal before it calls the gateway, not twice.
			pay := s.newAttempt(inv, method, at)
			w.Payments = append(w.Payments, billow.PaymentWrite{Payment: pay, Insert: true})
			w.NextActionAt = nextAction(sub, ptr(at.Add(ReconcileAfter)))
			if err := s.store.WriteBilling(ctx, w); err != nil {
				return err
			}
			return s.settleCharge(ctx, st, sub, inv, pay, s.sendCharge(ctx, inv, pay, method.Token), at)
		}
		if !isCode(err, billow.CodePaymentMethodMissing) {
			return err
		}
		// Without a method the charge step fails the renewal, as dunning says.
	}
	due := inv.BillingDate
	if !st.account.AutoBilling {
		due = inv.DueAt
	}
	w.NextActionAt = nextAction(sub, &due)
	return s.store.WriteBilling(ctx, w)
}

// nextInvoice builds the invoice that renews sub at at, and moves sub to the plan it renews
// on (its pending change) and the anchor of its next period: the months that ended, rated
// with the plan they were used under, then the next period's fees in advance, then the tax.
// It returns what the invoice bills of each usage ref. The renewal and the upcoming-invoice
// preview both build their invoice here.
func (s *Service) nextInvoice(ctx context.Context, st *accountState, sub *billow.Subscription, at time.Time) (*billow.Invoice, map[string]billow.BilledLine, error) {
	usage, billed, err := s.usageLines(ctx, st, sub, at)
	if err != nil {
		return nil, nil, err
	}
	if p := sub.Pending; p != nil {
		if p.Interval != sub.Interval {
			sub.AnchorAt = at // a new interval starts a new cycle
		}
		sub.Plan, sub.Interval, sub.AddOns, sub.Pending = p.Plan, p.Interval, nonNil(slices.Clone(p.AddOns)), nil
	}
	if sub.Status == billow.SubscriptionTrialing {
		sub.AnchorAt = at
	}
	_, start, end := PeriodOf(sub.AnchorAt, sub.Interval, at, st.loc)
	if !start.Equal(at) {
		// The period ended on a date the anchor no longer gives (the zone changed): the
		// new period starts where the old one ended.
		start = at
	}
	price, err := priceOf(st.cat, st.account, sub.Plan, sub.Interval, sub.AddOns)
	if err != nil {
		return nil, nil, err
	}
	lines := append(recurringLines(price, start, end), usage...)
	inv, err := newInvoice(st, sub.ID, billow.NewID(billow.PrefixOrder, at), lines, at, start, end)
	if err != nil {
		return nil, nil, err
	}
	outside := collectedOutside(st.account) && inv.TotalMinor > 0
	if !st.account.AutoBilling || outside {
		inv.DueAt = at.AddDate(0, 0, int(st.cat.Billing.PaymentTermsDays))
	}
	if outside {
		// The contract has the operator collect this invoice: it is issued, open, for the
		// operator's records, and Billow neither charges it nor dunns it (billing/contract.go).
		inv.PaymentStatus = billow.PaymentExternal
	}
	return inv, billed, nil
}

func withPeriod(data map[string]any, sub *billow.Subscription) map[string]any {
	data["current_period_start"] = sub.CurrentPeriodStart
	data["next_billing_date"] = sub.CurrentPeriodEnd
	return data
}

// usageLines bills the postpaid usage of the months that ended by at, within the last
// UsageMonthsBack: a month not yet billed gives usage lines, a month billed before whose
// usage changed since (late events) gives a labelled adjustment of the change in
// quantity only, at today's prices (usageMonth, settleMonth in billed.go): a new price
// alone never bills a month again. Agent seats are billed the same way, a line per
// product before the month's usage (seatLines).
func (s *Service) usageLines(ctx context.Context, st *accountState, sub *billow.Subscription, at time.Time) ([]billow.InvoiceLine, map[string]billow.BilledLine, error) {
	p, ok := st.cat.Plan(sub.Plan)
	if !ok || (len(rating.Needs(p, catalog.BilledInCurrency)) == 0 && len(p.Seats) == 0) {
		return nil, nil, nil
	}
	billed, err := s.store.BilledUsage(ctx, sub.Account)
	if err != nil {
		return nil, nil, err
	}
	first := rating.MonthOf(sub.CreatedAt, st.loc)
	month := rating.MonthOf(at, st.loc).Previous()
	var lines []billow.InvoiceLine
	add := map[string]billow.BilledLine{}
	for i := 0; i < UsageMonthsBack && !month.To.Before(first.To); i++ {
		if !month.To.After(at) {
			// Seats first, as an invoice lists them before usage (billow.LineSeats).
			seats, seatsBilled, err := s.seatLines(ctx, st, sub, p, month, billed)
			if err != nil {
				return nil, nil, err
			}
			lines = append(lines, seats...)
			maps.Copy(add, seatsBilled)
			qs, err := s.store.RatingQuantities(ctx, sub.Account, month.From, month.To, rating.Needs(p, catalog.BilledInCurrency))
			if err != nil {
				return nil, nil, err
			}
			usage, usageBilled, err := usageMonth(st.cat, p, month, qs, billed)
			if err != nil {
				return nil, nil, err
			}
			lines = append(lines, usage...)
			maps.Copy(add, usageBilled)
		}
		month = month.Previous()
	}
	return lines, add, nil
}

// UsageMonthsBack is how many ended months a renewal looks back at for postpaid usage.
const UsageMonthsBack = 3

func meterName(cat *catalog.Catalog, key string) string {
	if m, ok := cat.Meter(key); ok {
		return m.Name
	}
	return key
}

// chargeInvoice charges an open invoice to the account's default method (or the given
// one) and moves the subscription by the result.
func (s *Service) chargeInvoice(ctx context.Context, st *accountState, sub *billow.Subscription, inv *billow.Invoice, method *billow.PaymentMethod, at time.Time) error {
	if method == nil {
		m, err := s.store.DefaultPaymentMethod(ctx, sub.Account)
		if isCode(err, billow.CodePaymentMethodMissing) {
			return s.failRenewal(ctx, st, sub, inv, nil, billow.ChargeResult{Status: billow.ChargeDeclined,
				DeclineCode: billow.CodePaymentMethodMissing, Message: "the account has no default payment method"}, at)
		}
		if err != nil {
			return err
		}
		method = m
	}
	// The subscription's version moves with the attempt: of two processes charging the
	// same invoice one records, one stops.
	sub.Version++
	sub.UpdatedAt = at
	prevStatus, prevMethod := inv.PaymentStatus, inv.PaymentMethod
	pay := s.newAttempt(inv, method, at)
	if err := s.store.WriteBilling(ctx, &billow.BillingWrite{Subscription: sub, NextActionAt: nextAction(sub, ptr(at.Add(ReconcileAfter))),
		Invoices: []billow.InvoiceWrite{{Invoice: inv, ExpectStatus: billow.InvoiceOpen}},
		Payments: []billow.PaymentWrite{{Payment: pay, Insert: true}}}); err != nil {
		inv.PaymentStatus, inv.PaymentMethod = prevStatus, prevMethod
		return err
	}
	return s.settleCharge(ctx, st, sub, inv, pay, s.sendCharge(ctx, inv, pay, method.Token), at)
}

// newAttempt makes an attempt at charging inv to method, to be recorded before the
// gateway is called. The invoice's payment is unknown until the answer is recorded, so
// that if the process stops in between, the next pass reconciles the attempt instead of
// charging anew.
func (s *Service) newAttempt(inv *billow.Invoice, method *billow.PaymentMethod, at time.Time) *billow.Payment {
	pay := newPayment(inv, nil, method, s.gateway.Name(), at)
	pay.Order = inv.OrderID
	inv.PaymentStatus, inv.PaymentMethod = billow.PaymentUnknown, method.Label()
	return pay
}

// sendCharge sends a recorded attempt at an invoice to the gateway, off session, under
// the attempt's id as idempotency key. An operating error is an unknown answer, looked up
// later under the same key.
func (s *Service) sendCharge(ctx context.Context, inv *billow.Invoice, pay *billow.Payment, token string) billow.ChargeResult {
	res, err := s.gateway.Charge(ctx, billow.ChargeRequest{IdempotencyKey: pay.ID, Token: token,
		AmountMinor: pay.AmountMinor, Currency: pay.Currency, Description: "Invoice " + inv.Number})
	if err != nil {
		return billow.ChargeResult{Status: billow.ChargeUnknown, Message: err.Error()}
	}
	if res.Status == billow.ChargeRequiresAction || res.Status == billow.ChargePending {
		// Off session a renewal cannot wait for an OTP or a transfer: it counts as failed,
		// and the customer pays the open invoice by hand.
		res = billow.ChargeResult{Status: billow.ChargeDeclined, Reference: res.Reference, DeclineCode: "authentication_required",
			Message: "the payment method needs the customer; pay the invoice in the portal"}
	}
	return res
}

// settleCharge records the answer to an invoice's charge.
func (s *Service) settleCharge(ctx context.Context, st *accountState, sub *billow.Subscription, inv *billow.Invoice, pay *billow.Payment, res billow.ChargeResult, at time.Time) error {
	switch res.Status {
	case billow.ChargeSucceeded:
		prevPay := pay.Status
		applyResult(pay, res, at)
		inv.Status, inv.PaymentStatus, inv.PaidAt = billow.InvoicePaid, billow.PaymentSucceeded, &at
		w := &billow.BillingWrite{Subscription: sub,
			Invoices: []billow.InvoiceWrite{{Invoice: inv, ExpectStatus: billow.InvoiceOpen}},
			Payments: []billow.PaymentWrite{{Payment: pay, ExpectStatus: prevPay}},
			Events:   []*billow.BillingEvent{event(st.account, "invoice.paid", inv.ID, at, invoiceData(inv))}}
		ev := EventRenewed
		switch sub.Status {
		case billow.SubscriptionTrialing:
			ev = EventTrialConverted
		case billow.SubscriptionPastDue, billow.SubscriptionSuspended:
			ev = EventPaid
		}
		e, err := transition(st.account, sub, ev, at, withPeriod(map[string]any{"invoice": inv.ID, "amount_minor": inv.TotalMinor}, sub))
		if err != nil {
			return err
		}
		sub.PastDueSince, sub.NextRetryAt, sub.SuspendAt, sub.RetryCount = nil, nil, nil, 0
		w.Events = append(w.Events, e)
		w.NextActionAt = nextAction(sub, nil)
		return s.store.WriteBilling(ctx, w)
	case billow.ChargeDeclined:
		return s.failRenewal(ctx, st, sub, inv, pay, res, at)
	}
	// Unknown: recorded as such and looked up later under the same key.
	prevPay := pay.Status
	applyResult(pay, res, at)
	inv.PaymentStatus = billow.PaymentUnknown
	sub.Version++
	return s.store.WriteBilling(ctx, &billow.BillingWrite{Subscription: sub, NextActionAt: nextAction(sub, ptr(at.Add(ReconcileAfter))),
		Invoices: []billow.InvoiceWrite{{Invoice: inv, ExpectStatus: billow.InvoiceOpen}},
		Payments: []billow.PaymentWrite{{Payment: pay, ExpectStatus: prevPay}}})
}

// failRenewal records a failed charge: the first failure makes the subscription past due
// with the catalog's retry schedule and grace period; a failed retry moves to the next
// retry day.
func (s *Service) failRenewal(ctx context.Context, st *accountState, sub *billow.Subscription, inv *billow.Invoice, pay *billow.Payment, res billow.ChargeResult, at time.Time) error {
	w := &billow.BillingWrite{Subscription: sub}
	if pay != nil {
		prev := pay.Status
		applyResult(pay, res, at)
		w.Payments = append(w.Payments, billow.PaymentWrite{Payment: pay, ExpectStatus: prev})
	}
	inv.PaymentStatus = billow.PaymentFailed
	w.Invoices = append(w.Invoices, billow.InvoiceWrite{Invoice: inv, ExpectStatus: billow.InvoiceOpen})
	days := st.cat.Billing.RetryDays
	ev := EventRenewalFailed
	if sub.Status == billow.SubscriptionPastDue {
		ev = EventRetryFailed
		sub.RetryCount++
	} else {
		sub.PastDueSince = &at
		sub.RetryCount = 0
		suspend := at.AddDate(0, 0, int(st.cat.Billing.GracePeriodDays))
		sub.SuspendAt = &suspend
	}
	sub.NextRetryAt = nil
	if st.account.AutoBilling && int(sub.RetryCount) < len(days) {
		next := sub.PastDueSince.AddDate(0, 0, int(days[sub.RetryCount]))
		sub.NextRetryAt = &next
	}
	data := map[string]any{"invoice": inv.ID, "amount_minor": inv.TotalMinor, "decline_code": res.DeclineCode, "next_retry_at": sub.NextRetryAt}
	e, err := transition(st.account, sub, ev, at, data)
	if err != nil {
		return err
	}
	// What the renewal-failed email states (seed 000): the days before services stop.
	data["days_before_suspension"] = sub.DaysBeforeSuspension(at)
	w.Events = append(w.Events, e)
	w.NextActionAt = nextAction(sub, nil)
	return s.store.WriteBilling(ctx, w)
}

// PayInvoiceInput pays an open invoice by hand: the portal's Pay now, or recovery from
// dunning.
type PayInvoiceInput struct {
	PaymentMethod string `json:"payment_method,omitempty" maxLength:"40" doc:"A stored method's id; the default when empty."`
}

// PayInvoice charges an open invoice now. Paid, it reactivates a past-due or suspended
// subscription.
//
// Errors: not_found, invoice_not_payable, payment_method_missing, payment_declined,
// concurrent_update.
func (s *Service) PayInvoice(ctx context.Context, accountRef, invoiceID string, in PayInvoiceInput) (*billow.Invoice, error) {
	st, err := s.load(ctx, accountRef)
	if err != nil {
		return nil, err
	}
	inv, err := s.store.Invoice(ctx, invoiceID)
	if err != nil {
		return nil, err
	}
	if inv.Account != st.account.ID {
		return nil, billow.NotFound("invoice", invoiceID)
	}
	if inv.Status != billow.InvoiceOpen || inv.PaymentStatus == billow.PaymentPending || inv.PaymentStatus == billow.PaymentUnknown ||
		inv.PaymentStatus == billow.PaymentExternal {
		return nil, billow.Errorf(billow.KindConflict, billow.CodeInvoiceNotPayable, "invoice %s is %s (payment %s) and cannot be paid now", inv.ID, inv.Status, inv.PaymentStatus)
	}
	var method *billow.PaymentMethod
	if in.PaymentMethod != "" {
		method, err = s.store.PaymentMethod(ctx, st.account.ID, in.PaymentMethod)
	} else {
		method, err = s.store.DefaultPaymentMethod(ctx, st.account.ID)
	}
	if err != nil {
		return nil, err
	}
	now, err := s.Now(ctx, st.account)
	if err != nil {
		return nil, err
	}
	sub, err := s.store.Subscription(ctx, inv.Subscription)
	if err != nil {
		return nil, err
	}
	if err := s.chargeInvoice(ctx, st, sub, inv, method, now); err != nil {
		return nil, err
	}
	paid, err := s.store.Invoice(ctx, inv.ID)
	if err != nil {
		return nil, err
	}
	if paid.Status != billow.InvoicePaid {
		return paid, billow.Errorf(billow.KindPaymentRequired, billow.CodePaymentDeclined, "the payment of invoice %s was declined", inv.ID)
	}
	return paid, nil
}

// AdvanceTestClock moves a test clock forward and runs the billing of its accounts up to
// the new time, step by step, as it would have run in real time, with their credit
// upkeep in time order between the steps (advanceOnClock).
//
// Errors: not_found, test_clock_backwards, validation_failed (more than
// billow.TestClockAdvanceDaysMax days at once).
func (s *Service) AdvanceTestClock(ctx context.Context, id string, in billow.AdvanceTestClockInput) (*billow.TestClock, error) {
	c, err := s.store.TestClock(ctx, id)
	if err != nil {
		return nil, err
	}
	to := in.FrozenTime.UTC().Truncate(time.Microsecond)
	// Backwards is refused by the store, which moves the clock forward only.
	if to.Sub(c.FrozenTime) > billow.TestClockAdvanceDaysMax*24*time.Hour {
		return nil, billow.FieldErrorf(billow.CodeValidationFailed, "frozen_time", "a test clock moves at most %d days at once", billow.TestClockAdvanceDaysMax)
	}
	accounts, err := s.store.TestClockAccounts(ctx, id)
	if err != nil {
		return nil, err
	}
	from := c.FrozenTime
	c, err = s.store.SetTestClockTime(ctx, id, to)
	if err != nil {
		return nil, err
	}
	for _, acct := range accounts {
		if err := s.advanceOnClock(ctx, acct, from, to); err != nil {
			return nil, err
		}
	}
	return c, nil
}
