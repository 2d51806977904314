package notify

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/emails"
)

// Limits of the fan-out, named with their unit last.
const (
	// insertBatchMax bounds the messages queued in one transaction.
	insertBatchMax = 500
	// membersScanMax bounds the members read of one account.
	membersScanMax = 1_000
)

// Catalog products and add-ons the subscription emails are chosen by (the ai-for-service
// catalog's; seed 000 has an email for each product and for both).
const (
	productAutomationAI    = "automation_ai"
	productContactCenterAI = "contact_center_ai"
	addOnVoiceGateway      = "voice_gateway"
)

// Portal pages the links of billing emails point to, under the public URL.
const (
	pathPaymentMethods = "/portal/payment-methods"
	pathPlans          = "/portal/plans"
	pathCredits        = "/portal/credits"
	pathInvoices       = "/portal/invoices/"
)

// HandleEvents makes the messages billing events cause: for each event, the catalogue's
// emails it triggers, one message per recipient (the account's members having the
// email's roles). It is idempotent by event id: a message's dedupe key is
// "<event id>:<template>:<email>" ("<invoice id>:…" for the invoice emails, sent once per
// invoice), so events handed over again make no second message. An email whose data
// cannot be gathered or rendered (a missing subscription, wire details not configured)
// is logged and skipped; an operating error returns, and the feed hands the same events
// again.
func (s *Service) HandleEvents(ctx context.Context, events []*billow.BillingEvent) error {
	now := s.clock.Now()
	accounts := map[string]*accountState{}
	var msgs []*Message
	for _, e := range events {
		if len(triggered(e.Type)) == 0 {
			continue
		}
		st, ok := accounts[e.Account]
		if !ok {
			var err error
			st, err = s.accountState(ctx, e.Account)
			if billow.ErrorKindOf(err) == billow.KindNotFound {
				s.logger.WarnContext(ctx, "email skipped: no such account", eventAttrs(e))
				continue
			}
			if err != nil {
				return err
			}
			accounts[e.Account] = st
		}
		ems, err := s.emailsFor(ctx, e, st)
		if billow.ErrorKindOf(err) == billow.KindNotFound {
			s.logger.WarnContext(ctx, "email skipped: what it reports is gone", eventAttrs(e), "error", err)
			continue
		}
		if err != nil {
			return err
		}
		for _, em := range ems {
			made, err := s.messagesFor(e, st, em, now)
			if err != nil {
				if billow.ErrorKindOf(err) == billow.KindInternal {
					return err
				}
				// Rendering errors name fields, never values.
				s.logger.ErrorContext(ctx, "email skipped: it cannot be rendered", eventAttrs(e), "template", em.template, "error", err)
				continue
			}
			msgs = append(msgs, made...)
		}
	}
	for chunk := range slices.Chunk(msgs, insertBatchMax) {
		if _, err := s.store.InsertMessages(ctx, chunk, RateLimit{}); err != nil {
			return err
		}
	}
	if len(msgs) > 0 {
		s.logger.InfoContext(ctx, "billing emails queued", "messages", len(msgs), "events", len(events))
	}
	return nil
}

func eventAttrs(e *billow.BillingEvent) slog.Attr {
	return slog.Group("event", "id", e.ID, "type", e.Type, "account", e.Account)
}

// triggered returns the catalogue's templates an event type triggers.
func triggered(eventType string) []emails.Template {
	var out []emails.Template
	for _, t := range emails.Catalogue() {
		if slices.Contains(t.Triggers, eventType) {
			out = append(out, t)
		}
	}
	return out
}

// email is one email an event causes, before it is addressed.
type email struct {
	template string
	data     map[string]any
	invoice  string // attached as a PDF
	// once names what the email is sent once for, in place of the event: billing states
	// an invoice's finalization again when a wire transfer pays it, and the invoice is
	// announced once.
	once string
}

// accountState is what the emails of one account read, once per batch.
type accountState struct {
	account   *billow.Account
	cat       *catalog.Catalog
	loc       *time.Location
	poweredBy bool
	members   []*billow.Member
}

func (s *Service) accountState(ctx context.Context, accountID string) (*accountState, error) {
	a, err := s.store.Account(ctx, accountID)
	if err != nil {
		return nil, err
	}
	cat, err := s.store.AccountCatalog(ctx, a)
	if err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation(a.Timezone)
	if err != nil {
		loc = time.UTC
	}
	powered, err := s.poweredBy(ctx, a, cat)
	if err != nil {
		return nil, err
	}
	st := &accountState{account: a, cat: cat, loc: loc, poweredBy: powered}
	page := billow.PageInput{Limit: billow.PageLimitMax}
	for len(st.members) < membersScanMax {
		members, err := s.store.ListMembers(ctx, a.ID, "", page)
		if err != nil {
			return nil, err
		}
		st.members = append(st.members, members.Data...)
		if !members.HasMore || len(members.Data) == 0 {
			break
		}
		page.StartingAfter = members.Data[len(members.Data)-1].ID
	}
	return st, nil
}

// recipients returns the members having one of roles, one per address, at most
// RecipientsPerEmailMax.
func (st *accountState) recipients(roles []billow.Role) []recipient {
	var out []recipient
	seen := map[string]bool{}
	for _, m := range st.members {
		if !slices.Contains(roles, m.Role) || seen[m.Email] {
			continue
		}
		seen[m.Email] = true
		out = append(out, recipient{email: m.Email, name: m.Name})
		if len(out) == RecipientsPerEmailMax {
			break
		}
	}
	return out
}

func (st *accountState) money(minor int64) string {
	return money(minor, st.account.Currency, st.cat.CurrencyDigits)
}

func (st *accountState) date(t time.Time) string { return date(t, st.loc) }

func (st *accountState) planName(key string) string {
	if p, ok := st.cat.Plan(key); ok {
		return p.Name
	}
	return key
}

func (st *accountState) addOnName(key string) string {
	if a, ok := st.cat.AddOn(key); ok {
		return a.Name
	}
	return key
}

// price is what a subscription's period costs by the catalog: the plan's fee and each
// add-on's, for the interval. It stands in for the amount an event did not state.
func (st *accountState) price(plan, interval string, addOns []billow.SubscriptionAddOn) int64 {
	var total int64
	if p, ok := st.cat.Plan(plan); ok {
		if f, ok := p.Fee(interval); ok {
			total += f.AmountMinorUnits
		}
	}
	for _, ao := range addOns {
		total += st.addOnFee(ao.AddOn, interval) * ao.Quantity
	}
	return total
}

func (st *accountState) addOnFee(key, interval string) int64 {
	if a, ok := st.cat.AddOn(key); ok {
		if f, ok := a.Fee(interval); ok {
			return f.AmountMinorUnits
		}
	}
	return 0
}

// messagesFor renders an email for each of its recipients.
func (s *Service) messagesFor(e *billow.BillingEvent, st *accountState, em email, now time.Time) ([]*Message, error) {
	t, ok := emails.Lookup(em.template)
	if !ok {
		return nil, fmt.Errorf("notify: no template %s in the catalogue", em.template)
	}
	var out []*Message
	for _, r := range st.recipients(t.Recipients) {
		m, err := s.newMessage(t, "", st.poweredBy, r, em.data, now)
		if err != nil {
			return nil, err
		}
		once := e.ID
		if em.once != "" {
			once = em.once
		}
		m.DedupeKey = once + ":" + t.Key + ":" + r.email
		m.Account, m.Event, m.Invoice = st.account.ID, e.ID, em.invoice
		out = append(out, m)
	}
	return out, nil
}

// emailsFor gathers the data of the emails an event causes.
func (s *Service) emailsFor(ctx context.Context, e *billow.BillingEvent, st *accountState) ([]email, error) {
	switch e.Type {
	case "subscription.activated":
		return s.activated(ctx, e, st)
	case "subscription.changed":
		return s.changed(ctx, e, st)
	case "subscription.renewed", "subscription.recovered":
		sub, err := s.store.Subscription(ctx, e.Subject)
		if err != nil {
			return nil, err
		}
		data := map[string]any{"plan_name": st.planName(eventPlan(e, sub)), "amount": s.amount(e, st, sub),
			"next_billing_date": st.date(nextBilling(e, sub))}
		if err := s.invoiceNumber(ctx, e, st, data); err != nil {
			return nil, err
		}
		return []email{{template: emails.RenewalSucceeded, data: data}}, nil
	case "subscription.renewal_failed", "subscription.retry_failed":
		sub, err := s.store.Subscription(ctx, e.Subject)
		if err != nil {
			return nil, err
		}
		days, ok := dataInt(e.Data, "days_before_suspension")
		if !ok || days <= 0 {
			days = sub.DaysBeforeSuspension(e.OccurredAt)
		}
		stop := e.OccurredAt.AddDate(0, 0, int(days))
		if sub.SuspendAt != nil && sub.PastDueSince != nil && !sub.PastDueSince.After(e.OccurredAt) {
			stop = *sub.SuspendAt // the past-due episode this event belongs to
		}
		return []email{{template: emails.RenewalFailed, data: map[string]any{"plan_name": st.planName(eventPlan(e, sub)),
			"amount": s.amount(e, st, sub), "days_until_stop": days, "stop_date": st.date(stop), "pay_url": s.link(pathPaymentMethods)}}}, nil
	case "subscription.trial_expired", "subscription.expired", "subscription.suspended", "subscription.canceled":
		sub, err := s.store.Subscription(ctx, e.Subject)
		if err != nil {
			return nil, err
		}
		name := st.planName(eventPlan(e, sub))
		switch e.Type {
		case "subscription.trial_expired":
			return []email{{template: emails.TrialExpired, data: map[string]any{"plan_name": name, "upgrade_url": s.link(pathPlans)}}}, nil
		case "subscription.canceled":
			return []email{{template: emails.SubscriptionCanceled, data: map[string]any{"plan_name": name, "canceled_on": st.date(e.OccurredAt)}}}, nil
		}
		return []email{{template: emails.SubscriptionExpired, data: map[string]any{"plan_name": name, "renew_url": s.link(pathPlans)}}}, nil
	case billow.EventCreditsLowBalance:
		balance, _ := dataInt(e.Data, "balance_ucr")
		threshold, _ := dataInt(e.Data, "threshold_credits")
		return []email{{template: emails.CreditsLow, data: map[string]any{"balance_credits": count(balance / billow.MicroCreditsPerCredit),
			"threshold_credits": count(threshold), "buy_url": s.link(pathCredits)}}}, nil
	case billow.EventCreditsExhausted:
		return []email{{template: emails.CreditsExhausted, data: map[string]any{"buy_url": s.link(pathCredits)}}}, nil
	case "order.pending_payment":
		return s.wireInstructions(ctx, e, st)
	case "invoice.paid", "invoice.finalized":
		inv, err := s.store.Invoice(ctx, e.Subject)
		if err != nil {
			return nil, err
		}
		// Enterprise invoices are the operator's, not shown to the account (seed 000), and
		// an invoice of nothing to pay announces nothing.
		if inv.Hidden || st.account.Type == billow.AccountEnterprise || inv.TotalMinor <= 0 {
			return nil, nil
		}
		amount := money(inv.TotalMinor, inv.Currency, inv.CurrencyDigits)
		if e.Type == "invoice.paid" {
			data := map[string]any{"amount": amount, "invoice_number": inv.Number}
			if inv.PaymentMethod != "" {
				data["payment_method"] = inv.PaymentMethod
			}
			return []email{{template: emails.PaymentReceived, data: data, once: inv.ID}}, nil
		}
		data := map[string]any{"invoice_number": inv.Number, "amount": amount, "billing_date": st.date(inv.BillingDate),
			"invoice_url": s.link(pathInvoices + inv.ID)}
		if inv.DueAt.After(inv.BillingDate) {
			data["due_date"] = st.date(inv.DueAt)
		}
		return []email{{template: emails.InvoiceAvailable, data: data, invoice: inv.ID, once: inv.ID}}, nil
	}
	return nil, nil
}

// activated: seed 000's subscription email by the products of the plan (Automation AI,
// Contact Center AI, both, or neither), then the add-on emails of its add-ons.
func (s *Service) activated(ctx context.Context, e *billow.BillingEvent, st *accountState) ([]email, error) {
	sub, err := s.store.Subscription(ctx, e.Subject)
	if err != nil {
		return nil, err
	}
	planKey := eventPlan(e, sub)
	var products []any
	var automation, contactCenter bool
	if p, ok := st.cat.Plan(planKey); ok {
		for _, key := range p.Products {
			automation = automation || key == productAutomationAI
			contactCenter = contactCenter || key == productContactCenterAI
			name := key
			if prod, ok := st.cat.Product(key); ok {
				name = prod.Name
			}
			products = append(products, name)
		}
	}
	template := emails.SubscriptionActivated
	switch {
	case automation && contactCenter:
		template = emails.SubscriptionBoth
	case automation:
		template = emails.SubscriptionAutomationAI
	case contactCenter:
		template = emails.SubscriptionContactCenterAI
	}
	data := map[string]any{"plan_name": st.planName(planKey), "amount": s.amount(e, st, sub),
		"next_billing_date": st.date(nextBilling(e, sub))}
	if len(products) > 0 {
		data["products"] = products
	}
	if err := s.invoiceNumber(ctx, e, st, data); err != nil {
		return nil, err
	}
	out := []email{{template: template, data: data}}
	return append(out, s.addOnEmails(st, sub.Interval, sub.AddOns, true)...), nil
}

// changed: the add-on emails of the add-ons a change added or increased, when it takes
// effect now. A change scheduled for the period's end (effective_at) adds nothing yet.
func (s *Service) changed(ctx context.Context, e *billow.BillingEvent, st *accountState) ([]email, error) {
	if _, scheduled := e.Data["effective_at"]; scheduled {
		return nil, nil
	}
	before, ok1 := addOnList(e.Data, "old_add_ons")
	after, ok2 := addOnList(e.Data, "add_ons")
	if !ok1 || !ok2 {
		return nil, nil // written before billing stated the add-ons of a change
	}
	had := map[string]int64{}
	for _, ao := range before {
		had[ao.AddOn] += ao.Quantity
	}
	var added []billow.SubscriptionAddOn
	for _, ao := range after {
		if ao.Quantity > had[ao.AddOn] {
			added = append(added, ao)
		}
	}
	if len(added) == 0 {
		return nil, nil
	}
	sub, err := s.store.Subscription(ctx, e.Subject)
	if err != nil {
		return nil, err
	}
	// A change prorates: what one add-on costs now is not the period's fee. The amount is
	// stated only when the order charged for nothing but one added add-on.
	ems := s.addOnEmails(st, sub.Interval, added, false)
	if minor, ok := dataInt(e.Data, "amount_minor"); ok && minor > 0 && len(ems) == 1 &&
		dataString(e.Data, "old_plan") == dataString(e.Data, "new_plan") {
		ems[0].data["amount"] = st.money(minor)
	}
	return ems, nil
}

// addOnEmails: the Voice Gateway add-on has its own email (seed 000); of the others, one
// has the single add-on email, several the multiple add-ons email. withFees states the
// period's fees, which is what an activation charges.
func (s *Service) addOnEmails(st *accountState, interval string, addOns []billow.SubscriptionAddOn, withFees bool) []email {
	var out []email
	var rest []billow.SubscriptionAddOn
	one := func(template string, ao billow.SubscriptionAddOn) email {
		data := map[string]any{"add_on_name": st.addOnName(ao.AddOn), "quantity": ao.Quantity}
		if fee := st.addOnFee(ao.AddOn, interval) * ao.Quantity; withFees && fee > 0 {
			data["amount"] = st.money(fee)
		}
		return email{template: template, data: data}
	}
	for _, ao := range addOns {
		if ao.AddOn == addOnVoiceGateway {
			out = append(out, one(emails.AddOnVoiceGateway, ao))
		} else {
			rest = append(rest, ao)
		}
	}
	switch {
	case len(rest) == 1:
		out = append(out, one(emails.AddOnSingle, rest[0]))
	case len(rest) > 1:
		var list []any
		var total int64
		for _, ao := range rest {
			list = append(list, map[string]any{"name": st.addOnName(ao.AddOn), "quantity": ao.Quantity})
			total += st.addOnFee(ao.AddOn, interval) * ao.Quantity
		}
		data := map[string]any{"add_ons": list}
		if withFees && total > 0 {
			data["amount"] = st.money(total)
		}
		out = append(out, email{template: emails.AddOnMultiple, data: data})
	}
	return out
}

// wireInstructions: the bank details and the reference of a wire transfer order.
func (s *Service) wireInstructions(ctx context.Context, e *billow.BillingEvent, st *accountState) ([]email, error) {
	order, _, err := s.store.Order(ctx, e.Subject)
	if err != nil {
		return nil, err
	}
	if s.wire.Beneficiary == "" || s.wire.IBAN == "" || s.wire.BIC == "" {
		s.logger.ErrorContext(ctx, "wire transfer instructions skipped: set BILLOW_WIRE_BENEFICIARY, BILLOW_WIRE_IBAN and BILLOW_WIRE_BIC", eventAttrs(e))
		return nil, nil
	}
	var inv *billow.Invoice
	var pays []*billow.Payment
	if order.Invoice != "" {
		if inv, err = s.store.Invoice(ctx, order.Invoice); err != nil {
			return nil, err
		}
		if pays, err = s.store.Payments(ctx, order.Invoice); err != nil {
			return nil, err
		}
	}
	reference := billow.WireReference(order, inv, pays)
	data := map[string]any{"amount": money(order.AmountMinor, order.Currency, st.cat.CurrencyDigits), "reference": reference,
		"beneficiary": s.wire.Beneficiary, "iban": s.wire.IBAN, "bic": s.wire.BIC, "clearance_days": s.wire.Clearance, "order": order.ID}
	if s.wire.Bank != "" {
		data["bank_name"] = s.wire.Bank
	}
	return []email{{template: emails.WireTransferInstructions, data: data}}, nil
}

// amount is what an event charged, formatted: its amount_minor (billing states it with
// every activation, renewal and failed charge), else the period's price by the catalog.
func (s *Service) amount(e *billow.BillingEvent, st *accountState, sub *billow.Subscription) string {
	if minor, ok := dataInt(e.Data, "amount_minor"); ok {
		return st.money(minor)
	}
	return st.money(st.price(eventPlan(e, sub), sub.Interval, sub.AddOns))
}

// invoiceNumber adds the number of the invoice the event names, unless it is hidden from
// the account.
func (s *Service) invoiceNumber(ctx context.Context, e *billow.BillingEvent, st *accountState, data map[string]any) error {
	id := dataString(e.Data, "invoice")
	if id == "" {
		return nil
	}
	inv, err := s.store.Invoice(ctx, id)
	if billow.ErrorKindOf(err) == billow.KindNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	if inv.Number != "" && !inv.Hidden && st.account.Type != billow.AccountEnterprise {
		data["invoice_number"] = inv.Number
	}
	return nil
}

// eventPlan is the plan the event was about (billing writes it with every transition),
// else the subscription's plan now.
func eventPlan(e *billow.BillingEvent, sub *billow.Subscription) string {
	if p := dataString(e.Data, "plan"); p != "" {
		return p
	}
	return sub.Plan
}

// nextBilling is the next renewal the event states, else the subscription's period end.
func nextBilling(e *billow.BillingEvent, sub *billow.Subscription) time.Time {
	for _, key := range []string{"next_billing_date", "current_period_end"} {
		if t, ok := dataTime(e.Data, key); ok {
			return t
		}
	}
	return sub.CurrentPeriodEnd
}

// addOnList reads a list of {add_on, quantity}, as billing writes a subscription's
// add-ons into event data, keeping its order.
func addOnList(data map[string]any, key string) ([]billow.SubscriptionAddOn, bool) {
	v, present := data[key]
	if present && v == nil {
		return nil, true // a subscription without add-ons
	}
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := []billow.SubscriptionAddOn{}
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, false
		}
		q, ok := dataInt(m, "quantity")
		if dataString(m, "add_on") == "" || !ok {
			return nil, false
		}
		out = append(out, billow.SubscriptionAddOn{AddOn: dataString(m, "add_on"), Quantity: q})
	}
	return out, true
}
