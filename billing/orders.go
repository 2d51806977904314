package billing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/billowhq/billow"
)

// orderRequest is what an order applies once paid. It never holds payment details: the
// card number of a new method goes to the gateway and nowhere else.
type orderRequest struct {
	Subscribe *billow.CreateSubscriptionInput `json:"subscribe,omitempty"`
	Change    *billow.ChangeSubscriptionInput `json:"change,omitempty"`
	Credits   int64                           `json:"credits,omitempty"`
	// The subscription the order creates or changes, and the period it bills.
	Subscription string    `json:"subscription,omitempty"`
	PeriodStart  time.Time `json:"period_start"`
	PeriodEnd    time.Time `json:"period_end"`
	AnchorAt     time.Time `json:"anchor_at"`
}

// SubmitOrder is seed 000's Submit Order: it takes the billing information and a payment
// method, prices what is bought, charges it, and applies it only once paid. A decline
// answers payment_declined with the failed order and activates nothing; a card that
// needs an OTP or a PayPal approval leaves the order requires_action (ConfirmOrder); a
// wire transfer leaves it pending_payment until the operator clears it (ClearPayment).
//
// A subscription with a trial, a downgrade and an interval change cost nothing now and
// complete at once without an invoice.
//
// Errors: validation_failed, not_found, billing_info_missing, subscription_exists,
// no_subscription, outstanding_invoice, unknown_plan, plan_not_for_account_type,
// unknown_interval, unknown_add_on, add_on_quantity, no_trial, transition_refused,
// payment_method_missing, payment_declined.
func (s *Service) SubmitOrder(ctx context.Context, accountRef string, in billow.SubmitOrderInput) (*billow.Order, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	st, err := s.load(ctx, accountRef)
	if err != nil {
		return nil, err
	}
	if in.BillingContact != nil {
		a, err := s.store.UpdateAccount(ctx, st.account.ID, billow.UpdateAccountInput{BillingContact: in.BillingContact})
		if err != nil {
			return nil, err
		}
		st.account = a
	}
	if st.account.BillingContact.Name == "" || st.account.BillingContact.Email == "" {
		return nil, billow.FieldErrorf(billow.CodeBillingInfoMissing, "billing_contact", "an order needs the billing name and email; give billing_contact")
	}
	now, err := s.Now(ctx, st.account)
	if err != nil {
		return nil, err
	}
	order := &billow.Order{ID: billow.NewID(billow.PrefixOrder, now), Account: st.account.ID, Currency: st.account.Currency,
		Status: billow.OrderPendingPayment, CreatedAt: now}
	kind, req, lines, err := s.priceOrder(ctx, st, in, now)
	if err != nil {
		return nil, err
	}
	order.Kind = kind
	if lines == nil {
		// Nothing to charge: apply at once.
		order.Status = billow.OrderCompleted
		order.CompletedAt = &now
		w := &billow.BillingWrite{Orders: []billow.OrderWrite{{Order: order, Request: mustJSON(req), Insert: true}}}
		if err := s.applyOrder(ctx, st, order, req, now, w); err != nil {
			return nil, err
		}
		if err := s.store.WriteBilling(ctx, w); err != nil {
			return nil, err
		}
		return order, nil
	}
	if order.Kind != billow.OrderCredits && collectedOutside(st.account) {
		// The operator collects the subscription's invoices under the contract.
		return s.completeOutside(ctx, st, order, req, lines, now)
	}
	method, err := s.orderMethod(ctx, st.account, in)
	if err != nil {
		return nil, err
	}
	order.PaymentMethod = method.ID
	inv, err := newInvoice(st, req.Subscription, order.ID, lines, now, req.PeriodStart, req.PeriodEnd)
	if err != nil {
		return nil, err
	}
	inv.PaymentMethod = method.Label()
	order.Invoice, order.AmountMinor = inv.ID, inv.TotalMinor
	if inv.TotalMinor <= 0 {
		// A change whose credits outweigh its charges: nothing to take now.
		return s.completeUnpaid(ctx, st, order, req, inv, now)
	}
	pay := newPayment(inv, order, method, s.gateway.Name(), now)
	first := &billow.BillingWrite{
		Invoices: []billow.InvoiceWrite{{Invoice: inv, Insert: true, CycleKey: "order:" + order.ID}},
		Orders:   []billow.OrderWrite{{Order: order, Request: mustJSON(req), Insert: true}},
		Payments: []billow.PaymentWrite{{Payment: pay, Insert: true}},
	}
	if err := s.store.WriteBilling(ctx, first); err != nil {
		return nil, err
	}
	return s.settleOrder(ctx, st, order, req, inv, pay, s.chargeOrder(ctx, order, pay, method.Token), now)
}

// priceOrder prices what an order buys at now: its kind, the request it applies once
// paid, and the lines of its invoice (nil: nothing to charge now). It writes nothing.
// SubmitOrder and PreviewOrder both price with it, so that a preview is the order's
// price to the minor unit.
func (s *Service) priceOrder(ctx context.Context, st *accountState, in billow.SubmitOrderInput, now time.Time) (billow.OrderKind, orderRequest, []billow.InvoiceLine, error) {
	req := orderRequest{Subscribe: in.Subscribe, Change: in.Change, Credits: in.Credits}
	var lines []billow.InvoiceLine
	var err error
	switch {
	case in.Subscribe != nil:
		lines, err = s.priceSubscribe(ctx, st, &req, now)
		return billow.OrderSubscribe, req, lines, err
	case in.Change != nil:
		lines, err = s.priceChange(ctx, st, &req, now)
		return billow.OrderChange, req, lines, err
	}
	lines, err = priceCredits(st, in.Credits, now)
	req.PeriodStart, req.PeriodEnd = now, now
	return billow.OrderCredits, req, lines, err
}

// chargeOrder sends a recorded attempt at an order's invoice to the gateway, on session
// (the customer is there to confirm an OTP or send a transfer), under the attempt's id as
// idempotency key. An operating error is an unknown answer, looked up later under the
// same key.
func (s *Service) chargeOrder(ctx context.Context, order *billow.Order, pay *billow.Payment, token string) billow.ChargeResult {
	res, err := s.gateway.Charge(ctx, billow.ChargeRequest{IdempotencyKey: pay.ID, Token: token,
		AmountMinor: pay.AmountMinor, Currency: pay.Currency, Description: "Order " + order.ID})
	if err != nil {
		return billow.ChargeResult{Status: billow.ChargeUnknown, Message: err.Error()}
	}
	return res
}

// reconcileOrdersBatchMax bounds the orders one ReconcileOrders call looks at.
const reconcileOrdersBatchMax = 100

// ReconcileOrders settles the orders whose charge got no answer: the process stopped
// between recording the attempt and recording the gateway's answer, or the gateway did
// not answer. Each attempt is looked up at the gateway by its idempotency key after
// ReconcileAfter; an attempt the gateway has no record of is sent again under the same
// key (within ChargeReplayWindow), so an order is charged once either way; one still
// without an answer is looked at again later. It returns how many orders it settled; a failure of one order does not stop
// the others.
func (s *Service) ReconcileOrders(ctx context.Context, now time.Time) (int, error) {
	orders, err := s.store.OrdersToReconcile(ctx, now.Add(-ReconcileAfter), reconcileOrdersBatchMax)
	if err != nil {
		return 0, err
	}
	settled := 0
	var errs []error
	for _, o := range orders {
		done, err := s.reconcileOrder(ctx, o)
		if err != nil {
			errs = append(errs, fmt.Errorf("order %s: %w", o.ID, err))
			continue
		}
		if done {
			settled++
		}
	}
	return settled, errors.Join(errs...)
}

// reconcileOrder looks up an order's unanswered attempt and records the answer; it
// reports whether the order has one now.
func (s *Service) reconcileOrder(ctx context.Context, o *billow.Order) (bool, error) {
	st, order, req, err := s.loadOrder(ctx, o.Account, o.ID)
	if err != nil {
		return false, err
	}
	now, err := s.Now(ctx, st.account)
	if err != nil {
		return false, err
	}
	inv, pay, err := s.openPayment(ctx, order.Invoice)
	if billow.ErrorCode(err) == billow.CodeOrderNotPending {
		return false, nil // answered meanwhile
	}
	if err != nil {
		return false, err
	}
	if (pay.Status != billow.AttemptProcessing && pay.Status != billow.AttemptUnknown) || now.Before(pay.UpdatedAt.Add(ReconcileAfter)) {
		return false, nil
	}
	res, err := s.gateway.Lookup(ctx, pay.ID)
	if err != nil {
		return false, err
	}
	if res.Status == billow.ChargeUnknown && replayable(pay, now) {
		method, err := s.store.PaymentMethod(ctx, pay.Account, pay.Method)
		if err != nil {
			return false, err
		}
		res = s.chargeOrder(ctx, order, pay, method.Token)
	}
	if res.Reference == "" {
		res.Reference = pay.Reference
	}
	// An unknown answer is recorded too: the attempt is marked unknown and touched, so
	// the next look is ReconcileAfter from now and other orders get their turn.
	if _, err := s.settleOrder(ctx, st, order, req, inv, pay, res, now); err != nil && billow.ErrorCode(err) != billow.CodePaymentDeclined {
		return false, err
	}
	return res.Status != billow.ChargeUnknown, nil
}

// orderMethod is the method an order pays with: a stored one, a new one, or the default.
func (s *Service) orderMethod(ctx context.Context, a *billow.Account, in billow.SubmitOrderInput) (*billow.PaymentMethod, error) {
	switch {
	case in.NewPaymentMethod != nil:
		return s.addPaymentMethod(ctx, a, *in.NewPaymentMethod)
	case in.PaymentMethod != "":
		return s.store.PaymentMethod(ctx, a.ID, in.PaymentMethod)
	}
	return s.store.DefaultPaymentMethod(ctx, a.ID)
}

func newPayment(inv *billow.Invoice, order *billow.Order, m *billow.PaymentMethod, gateway string, now time.Time) *billow.Payment {
	orderID := ""
	if order != nil {
		orderID = order.ID
	}
	return &billow.Payment{ID: billow.NewID(billow.PrefixPayment, now), Account: inv.Account, Invoice: inv.ID, Order: orderID,
		Method: m.ID, AmountMinor: inv.TotalMinor, Currency: inv.Currency, Status: billow.AttemptProcessing,
		Gateway: gateway, CreatedAt: now, UpdatedAt: now}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("billing: cannot encode " + err.Error())
	}
	return b
}

// priceSubscribe checks a new subscription and returns the lines of its first period, or
// nil for a trial, which costs nothing until it ends.
func (s *Service) priceSubscribe(ctx context.Context, st *accountState, req *orderRequest, now time.Time) ([]billow.InvoiceLine, error) {
	in := req.Subscribe
	if _, err := s.store.LiveSubscription(ctx, st.account.ID); err == nil {
		return nil, billow.Errorf(billow.KindConflict, billow.CodeSubscriptionExists, "the account already has a subscription; change it instead")
	} else if !isCode(err, billow.CodeNoSubscription) {
		return nil, err
	}
	r, err := priceOf(st.cat, st.account, in.Plan, in.Interval, in.AddOns)
	if err != nil {
		return nil, err
	}
	if err := checkSeats(st, r, in.Seats); err != nil {
		return nil, err
	}
	req.Subscription = billow.NewID(billow.PrefixSubscription, now)
	if in.Trial {
		if r.plan.TrialDays == 0 {
			return nil, billow.FieldErrorf(billow.CodeNoTrial, "trial", "plan %q has no trial", in.Plan)
		}
		req.PeriodStart = now
		req.PeriodEnd = now.AddDate(0, 0, int(r.plan.TrialDays))
		req.AnchorAt = req.PeriodEnd
		return nil, nil
	}
	req.AnchorAt = now
	if in.AnchorAt != nil {
		req.AnchorAt = in.AnchorAt.UTC().Truncate(time.Microsecond)
	}
	// The first period runs from now to the next anchor date; when that is shorter than a
	// whole period it is prorated by the day, against the whole period it is part of (an
	// anchor ahead: against the period that follows the anchor).
	var fullStart, fullEnd, end time.Time
	if req.AnchorAt.After(now) {
		end = req.AnchorAt
		fullStart, fullEnd = req.AnchorAt, PeriodStart(req.AnchorAt, in.Interval, 1, st.loc)
	} else {
		_, fullStart, end = PeriodOf(req.AnchorAt, in.Interval, now, st.loc)
		fullEnd = end
	}
	req.PeriodStart, req.PeriodEnd = now, end
	lines := recurringLines(r, now, end)
	if !fullStart.Equal(now) {
		for i := range lines {
			p := Prorate(0, lines[i].AmountMinor, fullStart, fullEnd, fullEnd.Add(-end.Sub(now)), st.loc)
			lines[i].AmountMinor = p.AmountMinor
			lines[i].Kind, lines[i].UnitAmount = billow.LineProration, ""
			lines[i].Description = fmt.Sprintf("%s (%d of %d days)", lines[i].Description, p.DaysRemaining, p.DaysInPeriod)
		}
	}
	return lines, nil
}

func checkSeats(st *accountState, r recurring, seats []billow.SubscriptionSeat) error {
	for i, seat := range seats {
		found := false
		for _, ps := range r.plan.Seats {
			if ps.Product == seat.Product && ((seat.Mode == billow.SeatsNamed && ps.Named != nil) || (seat.Mode == billow.SeatsConcurrent && ps.Concurrent != nil)) {
				found = true
			}
		}
		if !found {
			return billow.FieldErrorf(billow.CodeValidationFailed, fmt.Sprintf("seats[%d]", i), "plan %q has no %s seats for product %q", r.plan.Key, seat.Mode, seat.Product)
		}
	}
	return nil
}

// priceChange checks a change and returns its prorated lines, or nil when it takes effect
// at period end (a downgrade or an interval change) or costs nothing (a trial).
func (s *Service) priceChange(ctx context.Context, st *accountState, req *orderRequest, now time.Time) ([]billow.InvoiceLine, error) {
	sub, err := s.store.LiveSubscription(ctx, st.account.ID)
	if err != nil {
		return nil, err
	}
	if _, err := Next(sub.Status, EventChanged); err != nil {
		if sub.Status == billow.SubscriptionPastDue || sub.Status == billow.SubscriptionSuspended {
			return nil, billow.Errorf(billow.KindConflict, billow.CodeOutstandingInvoice, "the plan cannot change while an invoice is unpaid; pay it first")
		}
		return nil, err
	}
	open, err := s.store.OutstandingInvoices(ctx, st.account.ID)
	if err != nil {
		return nil, err
	}
	if len(open) > 0 {
		return nil, billow.Errorf(billow.KindConflict, billow.CodeOutstandingInvoice, "invoice %s is unpaid; the plan can change once it is paid", open[0].ID)
	}
	ch := req.Change
	plan, interval, addOns := sub.Plan, sub.Interval, sub.AddOns
	if ch.Plan != "" {
		plan = ch.Plan
	}
	if ch.Interval != "" {
		interval = ch.Interval
	}
	if ch.AddOns != nil {
		addOns = *ch.AddOns
	}
	newPrice, err := priceOf(st.cat, st.account, plan, interval, addOns)
	if err != nil {
		return nil, err
	}
	if ch.Seats != nil {
		if err := checkSeats(st, newPrice, ch.Seats); err != nil {
			return nil, err
		}
	}
	oldPrice, err := priceOf(st.cat, st.account, sub.Plan, sub.Interval, sub.AddOns)
	if err != nil {
		return nil, err
	}
	req.Subscription = sub.ID
	req.PeriodStart, req.PeriodEnd = now, sub.CurrentPeriodEnd
	if sub.Status == billow.SubscriptionTrialing || (interval == sub.Interval && newPrice.total() >= oldPrice.total()) {
		if sub.Status == billow.SubscriptionTrialing {
			return nil, nil
		}
		lines := prorationLines(oldPrice, newPrice, sub.CurrentPeriodStart, sub.CurrentPeriodEnd, now, st.loc)
		return lines, nil
	}
	return nil, nil
}

// prorationLines credit the unused time of each old item and charge the remaining time of
// each new one, by the day: an item whose price does not change gives no line.
func prorationLines(old, new recurring, start, end, at time.Time, loc *time.Location) []billow.InvoiceLine {
	type item struct {
		key, name string
		minor     int64
	}
	items := func(r recurring) []item {
		out := []item{{"fee:" + r.plan.Key, r.plan.Name + " plan", r.fee}}
		for _, a := range r.addOns {
			out = append(out, item{fmt.Sprintf("add_on:%s:%d", a.addOn.Key, a.quantity), fmt.Sprintf("%s × %d", a.addOn.Name, a.quantity), a.fee})
		}
		return out
	}
	oldItems, newItems := items(old), items(new)
	same := func(list []item, it item) bool {
		return slices.ContainsFunc(list, func(o item) bool { return o.key == it.key && o.minor == it.minor })
	}
	lines := []billow.InvoiceLine{}
	for _, it := range oldItems {
		if same(newItems, it) {
			continue
		}
		p := Prorate(it.minor, 0, start, end, at, loc)
		lines = append(lines, billow.InvoiceLine{Kind: billow.LineProration, Quantity: "1", AmountMinor: p.AmountMinor,
			Description: fmt.Sprintf("Unused time on %s (%d of %d days)", it.name, p.DaysRemaining, p.DaysInPeriod),
			PeriodStart: at, PeriodEnd: end, Ref: "proration:" + it.key})
	}
	for _, it := range newItems {
		if same(oldItems, it) {
			continue
		}
		p := Prorate(0, it.minor, start, end, at, loc)
		lines = append(lines, billow.InvoiceLine{Kind: billow.LineProration, Quantity: "1", AmountMinor: p.AmountMinor,
			Description: fmt.Sprintf("Remaining time on %s (%d of %d days)", it.name, p.DaysRemaining, p.DaysInPeriod),
			PeriodStart: at, PeriodEnd: end, Ref: "proration:" + it.key})
	}
	if len(lines) == 0 {
		return nil
	}
	return lines
}

// priceCredits prices a credit purchase: credits / per_currency_unit in minor units,
// which must be whole.
func priceCredits(st *accountState, credits int64, now time.Time) ([]billow.InvoiceLine, error) {
	cr := st.cat.Credits
	if credits < cr.PurchaseMinCredits || credits > cr.PurchaseMaxCredits {
		return nil, billow.FieldErrorf(billow.CodeValidationFailed, "credits", "a purchase is %d to %d credits", cr.PurchaseMinCredits, cr.PurchaseMaxCredits)
	}
	scale := int64(1)
	for range st.cat.CurrencyDigits {
		scale *= 10
	}
	if (credits*scale)%cr.PerCurrencyUnit != 0 {
		return nil, billow.FieldErrorf(billow.CodeValidationFailed, "credits", "%d credits would cost a fraction of a minor unit; buy a multiple of %d", credits, cr.PerCurrencyUnit/gcd(cr.PerCurrencyUnit, scale))
	}
	minor := credits * scale / cr.PerCurrencyUnit
	return []billow.InvoiceLine{{Kind: billow.LineCredits, Description: fmt.Sprintf("%d credits", credits), Quantity: fmt.Sprint(credits),
		AmountMinor: minor, PeriodStart: now, PeriodEnd: now, Ref: "credits"}}, nil
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// settleOrder records the gateway's answer to an order's charge and applies the order if
// it was paid.
func (s *Service) settleOrder(ctx context.Context, st *accountState, order *billow.Order, req orderRequest, inv *billow.Invoice, pay *billow.Payment, res billow.ChargeResult, now time.Time) (*billow.Order, error) {
	w := &billow.BillingWrite{}
	prevPay, prevOrder := pay.Status, order.Status
	prevInv := inv.Status
	applyResult(pay, res, now)
	switch res.Status {
	case billow.ChargeSucceeded:
		inv.Status, inv.PaymentStatus, inv.PaidAt = billow.InvoicePaid, billow.PaymentSucceeded, &now
		order.Status, order.CompletedAt, order.Action, order.ApproveURL = billow.OrderCompleted, &now, "", ""
		if err := s.applyOrder(ctx, st, order, req, now, w); err != nil {
			return nil, err
		}
		w.Events = append(w.Events, event(st.account, "invoice.paid", inv.ID, now, invoiceData(inv)),
			event(st.account, "order.completed", order.ID, now, map[string]any{"order": order.ID, "kind": string(order.Kind), "invoice": inv.ID}))
	case billow.ChargeDeclined:
		inv.Status, inv.PaymentStatus = billow.InvoiceVoid, billow.PaymentFailed
		order.Status, order.FailureCode, order.FailureMessage = billow.OrderFailed, res.DeclineCode, declineMessage(res)
		order.Action, order.ApproveURL = "", ""
		w.Events = append(w.Events, event(st.account, "order.failed", order.ID, now, map[string]any{"order": order.ID, "decline_code": res.DeclineCode}))
	case billow.ChargeRequiresAction:
		order.Status, order.Action, order.ApproveURL = billow.OrderRequiresAction, res.Action, res.ApproveURL
	case billow.ChargePending:
		// A wire transfer: the invoice is final and open until the transfer clears.
		inv.Status, inv.PaymentStatus = billow.InvoiceOpen, billow.PaymentPending
		inv.DueAt = now.AddDate(0, 0, int(st.cat.Billing.PaymentTermsDays))
		order.Status = billow.OrderPendingPayment
		if order.Kind == billow.OrderSubscribe {
			sub, e, err := newSubscription(st, req, EventStartPending, now)
			if err != nil {
				return nil, err
			}
			w.Subscription, w.NewSubscription = sub, true
			w.NextActionAt = nil
			w.Events = append(w.Events, e)
		}
		w.Events = append(w.Events, event(st.account, "order.pending_payment", order.ID, now, map[string]any{"order": order.ID, "invoice": inv.ID}))
	default: // unknown: left for reconciliation under the same key
		inv.PaymentStatus = billow.PaymentUnknown
		order.Status = billow.OrderPendingPayment
	}
	finalize := inv.Status == billow.InvoicePaid || inv.Status == billow.InvoiceOpen
	if finalize {
		w.Events = append(w.Events, event(st.account, "invoice.finalized", inv.ID, now, invoiceData(inv)))
	}
	w.Invoices = append(w.Invoices, billow.InvoiceWrite{Invoice: inv, ExpectStatus: prevInv, Finalize: finalize && inv.Number == ""})
	w.Orders = append(w.Orders, billow.OrderWrite{Order: order, ExpectStatus: prevOrder})
	w.Payments = append(w.Payments, billow.PaymentWrite{Payment: pay, ExpectStatus: prevPay})
	if err := s.store.WriteBilling(ctx, w); err != nil {
		return nil, err
	}
	if res.Status == billow.ChargeDeclined {
		return order, &billow.Error{Kind: billow.KindPaymentRequired, Code: billow.CodePaymentDeclined,
			Message: fmt.Sprintf("order %s: %s; nothing was activated", order.ID, order.FailureMessage)}
	}
	return order, nil
}

func declineMessage(res billow.ChargeResult) string {
	if res.Message != "" {
		return res.Message
	}
	return "the payment was declined (" + res.DeclineCode + ")"
}

func applyResult(p *billow.Payment, res billow.ChargeResult, now time.Time) {
	p.Reference = cmpOr(res.Reference, p.Reference)
	p.DeclineCode, p.Message, p.UpdatedAt = res.DeclineCode, res.Message, now
	switch res.Status {
	case billow.ChargeSucceeded:
		p.Status = billow.AttemptSucceeded
	case billow.ChargeDeclined:
		p.Status = billow.AttemptDeclined
	case billow.ChargeRequiresAction:
		p.Status = billow.AttemptRequiresAction
	case billow.ChargePending:
		p.Status = billow.AttemptPending
	default:
		p.Status = billow.AttemptUnknown
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func invoiceData(inv *billow.Invoice) map[string]any {
	return map[string]any{"invoice": inv.ID, "number": inv.Number, "total_minor": inv.TotalMinor, "currency": inv.Currency,
		"status": string(inv.Status), "payment_status": string(inv.PaymentStatus)}
}

// completeUnpaid completes an order whose invoice totals zero or less: it is finalized
// paid at once.
func (s *Service) completeUnpaid(ctx context.Context, st *accountState, order *billow.Order, req orderRequest, inv *billow.Invoice, now time.Time) (*billow.Order, error) {
	inv.Status, inv.PaymentStatus, inv.PaidAt = billow.InvoicePaid, billow.PaymentSucceeded, &now
	order.Status, order.CompletedAt = billow.OrderCompleted, &now
	w := &billow.BillingWrite{
		Invoices: []billow.InvoiceWrite{{Invoice: inv, Insert: true, CycleKey: "order:" + order.ID, Finalize: true}},
		Orders:   []billow.OrderWrite{{Order: order, Request: mustJSON(req), Insert: true}},
	}
	if err := s.applyOrder(ctx, st, order, req, now, w); err != nil {
		return nil, err
	}
	if err := s.store.WriteBilling(ctx, w); err != nil {
		return nil, err
	}
	return order, nil
}

// newSubscription is the subscription an order creates.
func newSubscription(st *accountState, req orderRequest, ev Event, now time.Time) (*billow.Subscription, *billow.BillingEvent, error) {
	in := req.Subscribe
	sub := &billow.Subscription{ID: req.Subscription, Account: st.account.ID, Plan: in.Plan, Interval: in.Interval,
		AddOns: nonNil(in.AddOns), Seats: nonNilSeats(in.Seats), AnchorAt: req.AnchorAt, CurrentPeriodStart: req.PeriodStart,
		CurrentPeriodEnd: req.PeriodEnd, CreatedAt: now, UpdatedAt: now}
	if ev == EventStartTrial {
		end := req.PeriodEnd
		sub.TrialEnd = &end
	}
	e, err := transition(st.account, sub, ev, now, map[string]any{"current_period_end": req.PeriodEnd})
	if err != nil {
		return nil, nil, err
	}
	return sub, e, nil
}

func nonNil(a []billow.SubscriptionAddOn) []billow.SubscriptionAddOn {
	if a == nil {
		return []billow.SubscriptionAddOn{}
	}
	return a
}

func nonNilSeats(a []billow.SubscriptionSeat) []billow.SubscriptionSeat {
	if a == nil {
		return []billow.SubscriptionSeat{}
	}
	return a
}

// applyOrder adds to w what a paid (or free) order changes: a subscription started or
// changed, or credits loaded. Credits are granted before w commits, under an id derived
// from the order, so a retry after a failed commit grants them once.
func (s *Service) applyOrder(ctx context.Context, st *accountState, order *billow.Order, req orderRequest, now time.Time, w *billow.BillingWrite) error {
	switch order.Kind {
	case billow.OrderSubscribe:
		sub, err := s.store.Subscription(ctx, req.Subscription)
		var e *billow.BillingEvent
		switch {
		case err == nil: // created incomplete by a wire order: now paid
			e, err = transition(st.account, sub, EventPaid, now, nil)
			if err != nil {
				return err
			}
		case isCode(err, billow.CodeNotFound):
			ev := EventStartPaid
			if req.Subscribe.Trial {
				ev = EventStartTrial
			}
			sub, e, err = newSubscription(st, req, ev, now)
			if err != nil {
				return err
			}
			w.NewSubscription = true
		default:
			return err
		}
		// Its first period (or trial) begins: the plan's included credits for it.
		if err := s.grantCycle(ctx, st, sub.Plan, sub.Interval, sub.CurrentPeriodStart, sub.CurrentPeriodEnd); err != nil {
			return err
		}
		w.Subscription = sub
		w.NextActionAt = nextAction(sub, nil)
		plan := sub.Plan
		w.AccountPlan = &plan
		// What the activation email states: the order's invoice and what it charged.
		e.Data["invoice"], e.Data["amount_minor"] = order.Invoice, order.AmountMinor
		w.Events = append(w.Events, e)
	case billow.OrderChange:
		sub, err := s.store.Subscription(ctx, req.Subscription)
		if err != nil {
			return err
		}
		ch := req.Change
		plan, interval, addOns := sub.Plan, sub.Interval, sub.AddOns
		if ch.Plan != "" {
			plan = ch.Plan
		}
		if ch.Interval != "" {
			interval = ch.Interval
		}
		if ch.AddOns != nil {
			addOns = nonNil(*ch.AddOns)
		}
		if ch.Seats != nil {
			sub.Seats = ch.Seats
		}
		// The add-on emails name the add-ons a change adds or increases.
		data := map[string]any{"old_plan": sub.Plan, "new_plan": plan, "old_add_ons": sub.AddOns, "add_ons": addOns,
			"amount_minor": order.AmountMinor}
		atOnce := order.Invoice != "" || sub.Status == billow.SubscriptionTrialing
		if atOnce {
			from := sub.Plan
			sub.Plan, sub.Interval, sub.AddOns = plan, interval, addOns
			sub.Pending = nil
			if err := s.grantChange(ctx, st, from, sub, now); err != nil {
				return err
			}
		} else {
			sub.Pending = &billow.PendingChange{Plan: plan, Interval: interval, AddOns: addOns}
			data["effective_at"] = sub.CurrentPeriodEnd
		}
		e, err := transition(st.account, sub, EventChanged, now, data)
		if err != nil {
			return err
		}
		w.Subscription = sub
		w.NextActionAt = nextAction(sub, nil)
		p := sub.Plan
		w.AccountPlan = &p
		w.Events = append(w.Events, e)
	case billow.OrderCredits:
		ucr := req.Credits * 1_000_000
		_, err := s.store.PostGrant(ctx, billow.CreateGrantInput{Account: st.account.ID, Kind: billow.GrantPaid,
			AmountUcr: ucr, ID: "purchase:" + order.ID, Description: fmt.Sprintf("Purchase of %d credits (order %s)", req.Credits, order.ID), System: true})
		if err != nil {
			return err
		}
		w.Events = append(w.Events, event(st.account, "credits.purchased", order.ID, now, map[string]any{"order": order.ID, "credits": req.Credits}))
	}
	return nil
}

func isCode(err error, code string) bool {
	var e *billow.Error
	return errors.As(err, &e) && e.Code == code
}

// ConfirmOrder finishes an order that requires an action: the OTP of a card, or the
// approval of a PayPal buyer. A wrong OTP leaves the order waiting, up to
// billow.OTPAttemptsMax attempts; then the order fails.
//
// Errors: not_found, order_not_pending, otp_invalid, otp_attempts_exceeded,
// payment_declined.
func (s *Service) ConfirmOrder(ctx context.Context, accountRef, orderID string, in billow.ConfirmOrderInput) (*billow.Order, error) {
	st, order, req, err := s.loadOrder(ctx, accountRef, orderID)
	if err != nil {
		return nil, err
	}
	if order.Status != billow.OrderRequiresAction {
		return nil, billow.Errorf(billow.KindConflict, billow.CodeOrderNotPending, "order %s is %s, not waiting for an action", order.ID, order.Status)
	}
	inv, pay, err := s.openPayment(ctx, order.Invoice)
	if err != nil {
		return nil, err
	}
	now, err := s.Now(ctx, st.account)
	if err != nil {
		return nil, err
	}
	res, err := s.gateway.Confirm(ctx, pay.Reference, in.OTP)
	if err != nil {
		return nil, err
	}
	if res.Status == billow.ChargeDeclined && res.DeclineCode == billow.CodeOTPInvalid {
		prev := pay.Status
		pay.OTPAttempts++
		pay.UpdatedAt = now
		if pay.OTPAttempts < billow.OTPAttemptsMax {
			if err := s.store.WriteBilling(ctx, &billow.BillingWrite{Payments: []billow.PaymentWrite{{Payment: pay, ExpectStatus: prev}}}); err != nil {
				return nil, err
			}
			return nil, billow.FieldErrorf(billow.CodeOTPInvalid, "otp", "the OTP is wrong; %d attempts left", billow.OTPAttemptsMax-pay.OTPAttempts)
		}
		res.DeclineCode, res.Message = billow.CodeOTPAttemptsExceeded, fmt.Sprintf("%d wrong OTPs", billow.OTPAttemptsMax)
	}
	if res.Reference == "" {
		res.Reference = pay.Reference
	}
	return s.settleOrder(ctx, st, order, req, inv, pay, res, now)
}

func (s *Service) loadOrder(ctx context.Context, accountRef, orderID string) (*accountState, *billow.Order, orderRequest, error) {
	var req orderRequest
	st, err := s.load(ctx, accountRef)
	if err != nil {
		return nil, nil, req, err
	}
	order, raw, err := s.store.Order(ctx, orderID)
	if err != nil {
		return nil, nil, req, err
	}
	if order.Account != st.account.ID {
		return nil, nil, req, billow.NotFound("order", orderID)
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, nil, req, fmt.Errorf("billing: order %s request: %w", order.ID, err)
	}
	return st, order, req, nil
}

// openPayment returns an invoice and its attempt in flight.
func (s *Service) openPayment(ctx context.Context, invoiceID string) (*billow.Invoice, *billow.Payment, error) {
	inv, err := s.store.Invoice(ctx, invoiceID)
	if err != nil {
		return nil, nil, err
	}
	pays, err := s.store.Payments(ctx, invoiceID)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range pays {
		if p.Status.Open() {
			return inv, p, nil
		}
	}
	return nil, nil, billow.Errorf(billow.KindConflict, billow.CodeOrderNotPending, "invoice %s has no payment in flight", invoiceID)
}

// ClearPayment records that a wire transfer arrived (the operator's bank statement): the
// invoice is paid and its order applied, so a wire subscription activates and wire
// credits load only now (seed 000).
//
// Errors: not_found, order_not_pending.
func (s *Service) ClearPayment(ctx context.Context, accountRef, orderID string) (*billow.Order, error) {
	st, order, req, err := s.loadOrder(ctx, accountRef, orderID)
	if err != nil {
		return nil, err
	}
	if order.Status != billow.OrderPendingPayment {
		return nil, billow.Errorf(billow.KindConflict, billow.CodeOrderNotPending, "order %s is %s, not pending payment", order.ID, order.Status)
	}
	inv, pay, err := s.openPayment(ctx, order.Invoice)
	if err != nil {
		return nil, err
	}
	if pay.Status != billow.AttemptPending {
		return nil, billow.Errorf(billow.KindConflict, billow.CodeOrderNotPending, "order %s is not a wire transfer awaiting clearance", order.ID)
	}
	now, err := s.Now(ctx, st.account)
	if err != nil {
		return nil, err
	}
	return s.settleOrder(ctx, st, order, req, inv, pay, billow.ChargeResult{Status: billow.ChargeSucceeded, Reference: pay.Reference}, now)
}

// CancelSubscription cancels at period end (the default: the paid period is used up) or
// at once (nothing is refunded). A scheduled cancellation can be undone by
// ResumeSubscription until the period ends.
//
// Errors: not_found, no_subscription, transition_refused.
func (s *Service) CancelSubscription(ctx context.Context, accountRef string, in billow.CancelSubscriptionInput) (*billow.Subscription, error) {
	return s.changeSubscription(ctx, accountRef, func(st *accountState, sub *billow.Subscription, now time.Time, w *billow.BillingWrite) error {
		if !in.AtOnce && sub.Status != billow.SubscriptionSuspended && sub.Status != billow.SubscriptionIncomplete {
			e, err := transition(st.account, sub, EventCancelScheduled, now, map[string]any{"ends_at": sub.CurrentPeriodEnd})
			if err != nil {
				return err
			}
			sub.CancelAtPeriodEnd = true
			w.Events = append(w.Events, e)
			return nil
		}
		return cancelNow(st, sub, now, w)
	})
}

func cancelNow(st *accountState, sub *billow.Subscription, now time.Time, w *billow.BillingWrite) error {
	e, err := transition(st.account, sub, EventCanceled, now, nil)
	if err != nil {
		return err
	}
	sub.EndedAt = &now
	none := ""
	w.AccountPlan = &none
	w.Events = append(w.Events, e)
	return nil
}

// ResumeSubscription undoes a scheduled cancellation.
//
// Errors: not_found, no_subscription, transition_refused.
func (s *Service) ResumeSubscription(ctx context.Context, accountRef string) (*billow.Subscription, error) {
	return s.changeSubscription(ctx, accountRef, func(st *accountState, sub *billow.Subscription, now time.Time, w *billow.BillingWrite) error {
		if !sub.CancelAtPeriodEnd {
			return billow.Errorf(billow.KindConflict, billow.CodeTransitionRefused, "the subscription is not scheduled to cancel")
		}
		e, err := transition(st.account, sub, EventCancelUnscheduled, now, nil)
		if err != nil {
			return err
		}
		sub.CancelAtPeriodEnd = false
		w.Events = append(w.Events, e)
		return nil
	})
}

func (s *Service) changeSubscription(ctx context.Context, accountRef string, fn func(*accountState, *billow.Subscription, time.Time, *billow.BillingWrite) error) (*billow.Subscription, error) {
	st, err := s.load(ctx, accountRef)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		sub, err := s.store.LiveSubscription(ctx, st.account.ID)
		if err != nil {
			return nil, err
		}
		now, err := s.Now(ctx, st.account)
		if err != nil {
			return nil, err
		}
		w := &billow.BillingWrite{Subscription: sub}
		if err := fn(st, sub, now, w); err != nil {
			return nil, err
		}
		w.NextActionAt = nextAction(sub, nil)
		err = s.store.WriteBilling(ctx, w)
		if isConflict(err) && attempt < conflictRetriesMax {
			continue
		}
		if err != nil {
			return nil, err
		}
		return sub, nil
	}
}
