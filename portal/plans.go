package portal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
)

// Subscribe / Modify: seed 000's "Subscribe or Modify a Plan" and seed 004's plans and
// add-ons. GET /portal/plans shows the account's catalog's plans side by side; a plan's
// Subscribe or Change plan button opens the order form, GET /portal/plans/checkout
// (billing information, payment method, and the proration preview of
// billing.Service.PreviewOrder); Submit Order posts to /portal/orders
// (billing.Service.SubmitOrder). An order that needs the customer (a card's OTP, a
// PayPal approval) or waits for a wire transfer is shown at /portal/orders/{order},
// whose OTP form posts to /portal/orders/{order}/confirm (billing.Service.ConfirmOrder).
//
// The pages, forms and actions of the flow are in this file, in that order.

// plansStore is what the Subscribe / Modify pages read besides the portal's Store.
type plansStore interface {
	// OutstandingInvoices are the open invoices a plan change waits for (seed 004).
	OutstandingInvoices(ctx context.Context, accountID string) ([]*billow.Invoice, error)
	// Order returns an order and the request it applies; the request is billing's.
	Order(ctx context.Context, id string) (*billow.Order, []byte, error)
	// Payments are the attempts at an invoice: a wire transfer's reference is its
	// pending attempt's.
	Payments(ctx context.Context, invoiceID string) ([]*billow.Payment, error)
}

// plansBilling is what the Subscribe / Modify pages ask of billing.
type plansBilling interface {
	PreviewOrder(ctx context.Context, accountRef string, in billow.SubmitOrderInput) (*billow.OrderPreview, error)
	SubmitOrder(ctx context.Context, accountRef string, in billow.SubmitOrderInput) (*billow.Order, error)
	ConfirmOrder(ctx context.Context, accountRef, orderID string, in billow.ConfirmOrderInput) (*billow.Order, error)
}

// errNoBilling is a wiring fault: the portal was started without a billing service.
var errNoBilling = errors.New("portal: no billing service to order with")

// Limits of the order form, named with their unit last.
const (
	// otpMaxBytes bounds the code of the OTP form, as billow.ConfirmOrderInput does.
	otpMaxBytes = 12
	// wireClearance is how long a wire transfer takes to clear (seed 000).
	wireClearance = "4–8 business days"
)

// ---- GET /portal/plans ----

// plansPage is the plans side by side, in the catalog's order, priced for one interval,
// and the add-ons.
type plansPage struct {
	Enterprise bool
	Operator   string
	Interval   string // "month" or "year": the prices shown
	Intervals  []menuItem
	Plans      []planCard
	AddOns     []addOnCard
	Subscribed bool   // a live subscription: the buttons change it
	Current    string // the current plan's name, or ""
	// Outstanding is the total of the open invoices a change waits for (seed 004).
	Outstanding string
	Pending     string // a change already scheduled for the period's end
}

// menuItem is one option of a segmented control or a select.
type menuItem struct {
	Value, Label, URL string
	Selected          bool
}

type planCard struct {
	Key, Name, Description string
	Price, Per             string // "$50.00", "month"; Price empty when not offered for the interval
	Other                  string // the other interval's price: "or $540.00 a year, 10% less"
	Products               []string
	Features               []string
	Credits                string // "5,000 free credits every month"
	Current                bool
	CurrentNote            string // "Your plan, billed monthly"
	Action, URL            string // the button, or "" for none
}

type addOnCard struct {
	Name, Description string
	Price             string // "$200.00 / month"
	Quantity          int64  // on the current subscription
	Max               int64
	Plans             string // "Essential and Advanced", or "" for every plan
}

func (h *Handler) plans(w http.ResponseWriter, r *http.Request, v *visit) {
	ctx := r.Context()
	a := v.account
	l := layout{Title: "Plans", Section: "plan"}
	p := &plansPage{Enterprise: a.Type == billow.AccountEnterprise, Operator: h.brand.Name}
	l.Content = p
	if p.Enterprise {
		h.render(w, r, http.StatusOK, "plans.html", v, l)
		return
	}
	cat, sub, err := h.planState(ctx, a)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	loc, err := h.zone(a.Timezone)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	p.Subscribed = sub != nil
	current := a.Plan
	var currentAddOns []billow.SubscriptionAddOn
	p.Interval = catalog.IntervalMonth
	if sub != nil {
		current, currentAddOns, p.Interval = sub.Plan, sub.AddOns, sub.Interval
	}
	if iv := r.URL.Query().Get("interval"); iv == catalog.IntervalMonth || iv == catalog.IntervalYear {
		p.Interval = iv
	}
	offered := map[string]bool{}
	for i := range cat.Plans {
		for _, f := range cat.Plans[i].Fees {
			offered[f.Interval] = slices.Contains(cat.Plans[i].AccountTypes, string(a.Type)) || offered[f.Interval]
		}
	}
	if !offered[p.Interval] {
		p.Interval = catalog.IntervalMonth
	}
	for _, iv := range []string{catalog.IntervalMonth, catalog.IntervalYear} {
		// A choice only where the catalog sells both.
		if offered[iv] && offered[catalog.IntervalMonth] && offered[catalog.IntervalYear] {
			p.Intervals = append(p.Intervals, menuItem{Value: iv, Label: intervalAdjective(iv), URL: "/portal/plans?interval=" + iv,
				Selected: iv == p.Interval})
		}
	}
	for i := range cat.Plans {
		plan := &cat.Plans[i]
		if !slices.Contains(plan.AccountTypes, string(a.Type)) {
			continue
		}
		if plan.Key == current {
			p.Current = plan.Name
		}
		p.Plans = append(p.Plans, planCardOf(cat, plan, p.Interval, current, currentAddOns, sub))
	}
	for i := range cat.AddOns {
		ao := &cat.AddOns[i]
		card := addOnCard{Name: ao.Name, Description: ao.Description, Max: ao.MaxQuantity}
		if fee, ok := ao.Fee(p.Interval); ok {
			card.Price = money(fee.AmountMinorUnits, cat.Currency, cat.CurrencyDigits) + " / " + p.Interval
		}
		for _, sa := range currentAddOns {
			if sa.AddOn == ao.Key {
				card.Quantity = sa.Quantity
			}
		}
		var names []string
		for _, key := range ao.Plans {
			if pl, ok := cat.Plan(key); ok && slices.Contains(pl.AccountTypes, string(a.Type)) {
				names = append(names, pl.Name)
			}
		}
		card.Plans = joinWithAnd(names)
		p.AddOns = append(p.AddOns, card)
	}
	if sub != nil {
		open, err := h.store.OutstandingInvoices(ctx, a.ID)
		if err != nil {
			h.fail(w, r, v, err)
			return
		}
		p.Outstanding = outstandingTotal(open)
		if sub.Pending != nil {
			p.Pending = planInformation(a, cat, nil, sub, nil, loc).Pending
		}
	}
	h.render(w, r, http.StatusOK, "plans.html", v, l)
}

// planState reads the account's catalog and live subscription (nil when it has none).
func (h *Handler) planState(ctx context.Context, a *billow.Account) (*catalog.Catalog, *billow.Subscription, error) {
	cat, err := h.store.AccountCatalog(ctx, a)
	if err != nil {
		return nil, nil, err
	}
	sub, err := h.store.LiveSubscription(ctx, a.ID)
	if billow.ErrorKindOf(err) == billow.KindNotFound {
		sub, err = nil, nil
	}
	return cat, sub, err
}

// planCardOf describes a plan for the interval, and what its button does: subscribe,
// change to it, or nothing for the plan the account is on.
func planCardOf(cat *catalog.Catalog, plan *catalog.Plan, interval, current string, addOns []billow.SubscriptionAddOn,
	sub *billow.Subscription) planCard {
	c := planCard{Key: plan.Key, Name: plan.Name, Description: plan.Description, Per: interval, Features: features(cat, plan)}
	for _, key := range plan.Products {
		if prod, ok := cat.Product(key); ok {
			c.Products = append(c.Products, prod.Name)
		}
	}
	fee, ok := plan.Fee(interval)
	if ok {
		c.Price = money(fee.AmountMinorUnits, cat.Currency, cat.CurrencyDigits)
	}
	other := catalog.IntervalYear
	if interval == catalog.IntervalYear {
		other = catalog.IntervalMonth
	}
	if of, ok2 := plan.Fee(other); ok2 && of.AmountMinorUnits > 0 {
		c.Other = "or " + money(of.AmountMinorUnits, cat.Currency, cat.CurrencyDigits) + " a " + other
		if m, ok3 := plan.Fee(catalog.IntervalMonth); ok3 && other == catalog.IntervalYear && m.AmountMinorUnits > 0 {
			if pct := (12*m.AmountMinorUnits - of.AmountMinorUnits) * 100 / (12 * m.AmountMinorUnits); pct > 0 {
				c.Other += fmt.Sprintf(", %d%% less", pct)
			}
		}
	}
	if ic := plan.IncludedCredits; ic != nil && ic.Credits > 0 {
		every := interval
		if ic.Refresh == catalog.RefreshMonth {
			every = catalog.IntervalMonth
		}
		c.Credits = groupDigits(strconv.FormatInt(ic.Credits, 10)) + " free credits every " + every
	}
	c.Current = plan.Key == current
	switch {
	case !ok:
		// Not sold for this interval: no button.
	case sub == nil && c.Current && isFree(plan):
		c.CurrentNote = "Your plan"
	case sub == nil:
		c.Action = "Subscribe"
	case c.Current && sub.Interval == interval:
		c.CurrentNote = "Your plan, billed " + intervalAdjective(interval)
		if hasAddOnsFor(cat, plan.Key) {
			c.Action = "Change add-ons"
		}
	case c.Current:
		c.CurrentNote = "Your plan, billed " + intervalAdjective(sub.Interval)
		c.Action = "Switch to " + intervalAdjective(interval)
	default:
		c.Action = "Change plan"
	}
	if c.Action != "" {
		sel := orderSelection{Plan: plan.Key, Interval: interval}
		for _, sa := range addOns {
			if ao, ok := cat.AddOn(sa.AddOn); ok && ao.AvailableOn(plan.Key) {
				sel.AddOns = append(sel.AddOns, sa)
			}
		}
		c.URL = "/portal/plans/checkout?" + sel.values().Encode()
	}
	return c
}

func hasAddOnsFor(cat *catalog.Catalog, plan string) bool {
	for i := range cat.AddOns {
		if cat.AddOns[i].AvailableOn(plan) {
			return true
		}
	}
	return false
}

func intervalAdjective(interval string) string {
	if interval == catalog.IntervalYear {
		return "yearly"
	}
	return "monthly"
}

// joinWithAnd writes "A", "A and B", "A, B and C".
func joinWithAnd(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// outstandingTotal is the amount the open invoices owe, or "" when none.
func outstandingTotal(open []*billow.Invoice) string {
	var total int64
	for _, inv := range open {
		total += inv.TotalMinor
	}
	if len(open) == 0 {
		return ""
	}
	return money(total, open[0].Currency, open[0].CurrencyDigits)
}

// ---- the selection: plan, interval, add-ons ----

// orderSelection is what the order form buys: a plan, an interval and add-on quantities. It
// travels in the checkout's query and the order form's fields: plan=KEY, interval=month,
// addon.KEY=quantity.
type orderSelection struct {
	Plan, Interval string
	AddOns         []billow.SubscriptionAddOn
}

// addOnField is the prefix of an add-on's quantity field.
const addOnField = "addon."

func (s orderSelection) values() url.Values {
	q := url.Values{"plan": {s.Plan}, "interval": {s.Interval}}
	for _, a := range s.AddOns {
		q.Set(addOnField+a.AddOn, strconv.FormatInt(a.Quantity, 10))
	}
	return q
}

// readSelection reads a selection from a query or a form. The plan must be one the
// account's type is offered; the interval defaults to the subscription's, else month;
// the add-ons are those the plan offers, with 0 to their maximum units.
//
// Errors: not_found (no such plan for this account), validation_failed (a quantity).
func readSelection(q url.Values, cat *catalog.Catalog, a *billow.Account, sub *billow.Subscription) (orderSelection, *catalog.Plan, error) {
	sel := orderSelection{Plan: strings.TrimSpace(q.Get("plan")), Interval: q.Get("interval")}
	plan, ok := cat.Plan(sel.Plan)
	if !ok || !slices.Contains(plan.AccountTypes, string(a.Type)) {
		return sel, nil, billow.NotFound("plan", sel.Plan)
	}
	if sel.Interval != catalog.IntervalMonth && sel.Interval != catalog.IntervalYear {
		sel.Interval = catalog.IntervalMonth
		if sub != nil {
			sel.Interval = sub.Interval
		}
	}
	var errs []billow.FieldError
	for i := range cat.AddOns {
		ao := &cat.AddOns[i]
		raw := strings.TrimSpace(q.Get(addOnField + ao.Key))
		if !ao.AvailableOn(plan.Key) || raw == "" {
			continue
		}
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 0 || n > ao.MaxQuantity {
			errs = append(errs, billow.FieldError{Field: addOnField + ao.Key, Message: fmt.Sprintf("Choose 0 to %d.", ao.MaxQuantity)})
			continue
		}
		if n > 0 {
			sel.AddOns = append(sel.AddOns, billow.SubscriptionAddOn{AddOn: ao.Key, Quantity: n})
		}
	}
	if len(errs) > 0 {
		return sel, plan, &billow.Error{Kind: billow.KindInvalid, Code: billow.CodeValidationFailed, Message: "add-on quantities", Fields: errs}
	}
	return sel, plan, nil
}

// order is the order of the selection: a new subscription, or a change of the live one.
func (s orderSelection) order(sub *billow.Subscription) billow.SubmitOrderInput {
	addOns := slices.Clone(s.AddOns)
	if addOns == nil {
		addOns = []billow.SubscriptionAddOn{}
	}
	if sub == nil {
		return billow.SubmitOrderInput{Subscribe: &billow.CreateSubscriptionInput{Plan: s.Plan, Interval: s.Interval, AddOns: addOns}}
	}
	return billow.SubmitOrderInput{Change: &billow.ChangeSubscriptionInput{Plan: s.Plan, Interval: s.Interval, AddOns: &addOns}}
}

// unchanged reports whether the selection is what the subscription already is.
func (s orderSelection) unchanged(sub *billow.Subscription) bool {
	if sub == nil || s.Plan != sub.Plan || s.Interval != sub.Interval || len(s.AddOns) != len(sub.AddOns) {
		return false
	}
	for _, a := range s.AddOns {
		if !slices.Contains(sub.AddOns, a) {
			return false
		}
	}
	return true
}

// ---- GET /portal/plans/checkout ----

// checkoutPage is seed 000's order form: what is bought, its preview, the billing
// information and the payment method, and Submit Order.
type checkoutPage struct {
	Plan      planCard
	Change    bool   // a change of the live subscription
	Summary   string // what a change changes: "From Essential to Advanced."
	Interval  string
	Intervals []menuItem
	AddOns    []addOnQuantity
	Selection []hiddenField // the selection, posted with the order
	Preview   *previewView
	// Problem says why the order cannot be placed as it is; Link leads to what fixes it.
	Problem, Link, LinkText string
	CanSubmit               bool
	Billing                 []orderField
	Methods                 []payOption
	Card                    []orderField
	PayPal                  orderField
	Errors                  []orderField // the fields with an error, for the summary
	ExpectMinor             int64
	BackURL                 string
	Stored                  bool   // the account has payment methods saved
	Clearance               string // how long a wire transfer takes
}

type hiddenField struct{ Name, Value string }

type addOnQuantity struct {
	Name, ID, Label, Price, Error string
	Value, Max                    int64
}

// orderField is one input of the order form. Card fields never carry a value back.
type orderField struct {
	Name, ID, Label, Type, Value, Autocomplete, InputMode, Hint, Error string
	MaxLength                                                          int
	Required                                                           bool
}

type payOption struct {
	Value, Label, Detail string
	Checked, Default     bool
	New                  string // "card", "paypal", "wire" for a new method; "" for a stored one
}

// previewView is billing.PreviewOrder's answer as the page shows it.
type previewView struct {
	Lines                []invoiceLine
	Subtotal, Tax, Total string
	TaxRate              string // "8.25%"; empty without tax
	ChargeToday          string
	NothingToday         bool
	Period               string
	Note                 string // when a change waits for the period's end, or what makes today free
	Renews               string // "From 15 Feb 2026: $550.00 per month, plus usage"
}

// orderForm is what a posted order form said, to show it again with its errors. Card
// numbers are not kept: a form shown again asks for the card again.
type orderForm struct {
	contact billow.BillingContact
	method  string
	paypal  string
	errors  map[string]string // form field name → message
	problem string            // a message for the whole form
}

func (h *Handler) checkout(w http.ResponseWriter, r *http.Request, v *visit) {
	q := r.URL.Query()
	var f *orderForm
	switch q.Get("result") {
	case "declined":
		f = &orderForm{method: "new_card", problem: orderDeclineText(q.Get("reason"))}
	case "price_changed":
		f = &orderForm{problem: "The price changed since the page was shown. Check the new total below and submit again."}
	}
	h.checkoutPage(w, r, v, http.StatusOK, q, f)
}

// checkoutPage renders the order form for the selection in q with status; f is a
// posted form shown again, or nil for a new one.
func (h *Handler) checkoutPage(w http.ResponseWriter, r *http.Request, v *visit, status int, q url.Values, f *orderForm) {
	ctx := r.Context()
	a := v.account
	if a.Type == billow.AccountEnterprise {
		redirect(w, r, "/portal/plans") // the contract sets the plan
		return
	}
	if h.billing == nil {
		h.fail(w, r, v, errNoBilling)
		return
	}
	cat, sub, err := h.planState(ctx, a)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	loc, err := h.zone(a.Timezone)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	sel, plan, err := readSelection(q, cat, a, sub)
	if plan == nil {
		h.fail(w, r, v, err)
		return
	}
	title := "Subscribe to " + plan.Name
	if sub != nil {
		title = "Change your plan"
	}
	l := layout{Title: title, Section: "plan"}
	p := &checkoutPage{Plan: planCardOf(cat, plan, sel.Interval, "", nil, nil), Change: sub != nil, Interval: sel.Interval,
		BackURL: "/portal/plans?interval=" + sel.Interval}
	l.Content = p
	if sub != nil {
		p.Summary = changeSummary(cat, sub, sel)
	}
	for _, iv := range []string{catalog.IntervalMonth, catalog.IntervalYear} {
		if _, ok := plan.Fee(iv); ok {
			p.Intervals = append(p.Intervals, menuItem{Value: iv, Label: intervalAdjective(iv), Selected: iv == sel.Interval})
		}
	}
	var quantityErrors map[string]string
	if err != nil {
		quantityErrors = orderFieldErrors(err)
	}
	for i := range cat.AddOns {
		ao := &cat.AddOns[i]
		if !ao.AvailableOn(plan.Key) {
			continue
		}
		qf := addOnQuantity{Name: addOnField + ao.Key, ID: "addon-" + ao.Key, Label: ao.Name, Max: ao.MaxQuantity,
			Error: quantityErrors[addOnField+ao.Key]}
		if fee, ok := ao.Fee(sel.Interval); ok {
			qf.Price = money(fee.AmountMinorUnits, cat.Currency, cat.CurrencyDigits) + " / " + sel.Interval + " each"
		}
		for _, sa := range sel.AddOns {
			if sa.AddOn == ao.Key {
				qf.Value = sa.Quantity
			}
		}
		p.AddOns = append(p.AddOns, qf)
	}
	for k, vs := range sel.values() {
		p.Selection = append(p.Selection, hiddenField{Name: k, Value: vs[0]})
	}
	slices.SortFunc(p.Selection, func(x, y hiddenField) int { return strings.Compare(x.Name, y.Name) })

	switch {
	case err != nil:
		p.Problem = "Some add-on quantities cannot be ordered; correct them and update the price."
		status = http.StatusUnprocessableEntity
	case sel.unchanged(sub):
		p.Problem = "This is your plan as it is now. Change the add-ons or the billing interval, or choose another plan."
	default:
		pv, err := h.billing.PreviewOrder(ctx, a.ID, sel.order(sub))
		if err != nil {
			var ok bool
			if p.Problem, p.Link, p.LinkText, ok = orderProblem(err); !ok {
				h.fail(w, r, v, err)
				return
			}
			if status == http.StatusOK {
				status = http.StatusConflict
			}
			break
		}
		p.Preview = previewOf(pv, cat, plan, sel, loc)
		p.ExpectMinor = pv.ChargeMinor
		p.CanSubmit = v.canPay()
	}
	if f == nil {
		f = &orderForm{contact: a.BillingContact}
	} else if f.contact == (billow.BillingContact{}) {
		f.contact = a.BillingContact
	}
	if f.problem == "" {
		f.problem = f.errors[""] // a field the form does not show
	}
	if f.problem != "" {
		l.Error = f.problem
	}
	methods, err := h.store.PaymentMethods(ctx, a.ID)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	p.Billing, p.Card, p.PayPal = billingFields(f), cardFields(f), orderField{Name: "paypal_email", ID: "f-paypal", Label: "PayPal email",
		Type: "email", Value: f.paypal, Autocomplete: "email", MaxLength: billow.PayPalEmailMaxBytes, Error: f.errors["paypal_email"]}
	p.Methods, p.Stored, p.Clearance = payOptions(methods, f.method), len(methods) > 0, wireClearance
	for _, list := range [][]orderField{p.Billing, p.Card, {p.PayPal}} {
		for _, ff := range list {
			if ff.Error != "" {
				p.Errors = append(p.Errors, ff)
			}
		}
	}
	if msg := f.errors["method"]; msg != "" {
		p.Errors = append(p.Errors, orderField{ID: "method-" + p.Methods[0].Value, Label: "Payment method", Error: msg})
	}
	h.render(w, r, status, "checkout.html", v, l)
}

// changeSummary says what a change of sub to sel changes, in a sentence.
func changeSummary(cat *catalog.Catalog, sub *billow.Subscription, sel orderSelection) string {
	name := func(key string) string {
		if p, ok := cat.Plan(key); ok {
			return p.Name
		}
		return key
	}
	switch {
	case sub.Plan != sel.Plan && sub.Interval != sel.Interval:
		return fmt.Sprintf("From %s, billed %s, to %s, billed %s.", name(sub.Plan), intervalAdjective(sub.Interval), name(sel.Plan),
			intervalAdjective(sel.Interval))
	case sub.Plan != sel.Plan:
		return fmt.Sprintf("From %s to %s.", name(sub.Plan), name(sel.Plan))
	case sub.Interval != sel.Interval:
		return fmt.Sprintf("%s, billed %s instead of %s.", name(sel.Plan), intervalAdjective(sel.Interval), intervalAdjective(sub.Interval))
	}
	return "The add-ons of your " + name(sel.Plan) + " plan."
}

// orderProblem explains a refusal of an order the customer can act on, with a link to
// what fixes it; ok is false for any other error.
func orderProblem(err error) (problem, link, linkText string, ok bool) {
	switch billow.ErrorCode(err) {
	case billow.CodeOutstandingInvoice:
		return "Unable to change plans: your account has an unpaid invoice. Pay your outstanding invoices first, then change the plan.",
			"/portal/invoices", "Go to your invoices", true
	case billow.CodeSubscriptionExists:
		return "Your account has a subscription already: change it instead.", "/portal/plans", "Choose a plan", true
	case billow.CodeNoSubscription:
		return "Your account has no subscription to change any more. Choose a plan to subscribe.", "/portal/plans", "Choose a plan", true
	case billow.CodeTransitionRefused:
		return "Your subscription cannot change now: it waits for its first payment. It can change once that payment has arrived.",
			"/portal/", "See your plan", true
	case billow.CodeUnknownAddOn, billow.CodeAddOnQuantity, billow.CodeUnknownInterval, billow.CodeNoTrial, billow.CodePlanNotForType:
		return "This combination cannot be ordered: " + orderErrorText(err), "", "", true
	}
	return "", "", "", false
}

func isOrderProblem(err error) bool {
	_, _, _, ok := orderProblem(err)
	return ok
}

// orderErrorText is a domain error's message for the page, first letter up, with its end.
func orderErrorText(err error) string {
	var e *billow.Error
	if !errors.As(err, &e) || e.Message == "" {
		return "please check your order."
	}
	m := e.Message
	if len(e.Fields) > 0 && e.Message == "the request has invalid fields" {
		m = e.Fields[0].Message
	}
	return strings.TrimSuffix(m, ".") + "."
}

// previewOf formats billing's preview for the page.
func previewOf(pv *billow.OrderPreview, cat *catalog.Catalog, plan *catalog.Plan, sel orderSelection, loc *time.Location) *previewView {
	inv := pv.Invoice
	cur := func(minor int64) string { return money(minor, inv.Currency, inv.CurrencyDigits) }
	p := &previewView{Subtotal: cur(inv.SubtotalMinor), Tax: cur(inv.TaxMinor), Total: cur(inv.TotalMinor), ChargeToday: cur(pv.ChargeMinor),
		NothingToday: pv.ChargeMinor == 0}
	if inv.TaxRate != "" && inv.TaxRate != "0" {
		p.TaxRate = inv.TaxRate + "%"
	}
	for _, line := range inv.Lines {
		desc := line.Description
		if line.Kind == billow.LineAddOn && line.Quantity != "1" {
			desc += " × " + line.Quantity // a proration's description names it already
		}
		p.Lines = append(p.Lines, invoiceLine{Description: desc, Amount: cur(line.AmountMinor)})
	}
	if len(inv.Lines) > 0 {
		p.Period = formatDate(inv.PeriodStart, loc) + " – " + formatDate(inv.PeriodEnd.Add(-time.Microsecond), loc)
	}
	// The recurring price from the next renewal on, as the catalog states it.
	price, _ := plan.Fee(sel.Interval)
	recurring := price.AmountMinorUnits
	for _, sa := range sel.AddOns {
		if ao, ok := cat.AddOn(sa.AddOn); ok {
			if f, ok := ao.Fee(sel.Interval); ok {
				recurring += f.AmountMinorUnits * sa.Quantity
			}
		}
	}
	next := inv.PeriodEnd
	switch {
	case !pv.Immediate:
		next = pv.EffectiveAt
		p.Note = fmt.Sprintf("Nothing is charged today. Your plan changes to %s on %s, when your current period ends; until then it stays as it is.",
			plan.Name, formatDate(pv.EffectiveAt, loc))
	case pv.ChargeMinor == 0 && inv.TotalMinor < 0:
		p.Note = "Nothing is charged today: the unused time of your current plan is worth more than the change."
	case pv.ChargeMinor == 0 && len(inv.Lines) > 0 && inv.TotalMinor > 0:
		p.Note = "Nothing is charged to a payment method: your contract's invoices are collected separately."
	}
	if recurring > 0 && !next.IsZero() {
		extra := "usage"
		if p.TaxRate != "" {
			extra = "usage and tax"
		}
		p.Renews = fmt.Sprintf("From %s: %s per %s, plus %s.", formatDate(next, loc),
			money(recurring, cat.Currency, cat.CurrencyDigits), sel.Interval, extra)
	}
	return p
}

// billingFields are the order form's billing information, filled with f's.
func billingFields(f *orderForm) []orderField {
	c := f.contact
	return []orderField{
		{Name: "name", ID: "f-name", Label: "Name", Value: c.Name, Autocomplete: "name", MaxLength: 200, Required: true, Error: f.errors["name"]},
		{Name: "email", ID: "f-email", Label: "Billing email", Type: "email", Value: c.Email, Autocomplete: "email", MaxLength: 254,
			Required: true, Hint: "Invoices and receipts go here.", Error: f.errors["email"]},
		{Name: "company", ID: "f-company", Label: "Company", Value: c.Company, Autocomplete: "organization", MaxLength: 200, Error: f.errors["company"]},
		{Name: "tax_id", ID: "f-tax-id", Label: "Tax ID", Value: c.TaxID, MaxLength: 64, Error: f.errors["tax_id"]},
		{Name: "line1", ID: "f-line1", Label: "Address", Value: c.Address.Line1, Autocomplete: "address-line1", MaxLength: 200, Error: f.errors["line1"]},
		{Name: "line2", ID: "f-line2", Label: "Address line 2", Value: c.Address.Line2, Autocomplete: "address-line2", MaxLength: 200, Error: f.errors["line2"]},
		{Name: "postal_code", ID: "f-postal", Label: "Postal code", Value: c.Address.PostalCode, Autocomplete: "postal-code", MaxLength: 20,
			Error: f.errors["postal_code"]},
		{Name: "city", ID: "f-city", Label: "City", Value: c.Address.City, Autocomplete: "address-level2", MaxLength: 200, Error: f.errors["city"]},
		{Name: "state", ID: "f-state", Label: "State or region", Value: c.Address.State, Autocomplete: "address-level1", MaxLength: 200,
			Error: f.errors["state"]},
		{Name: "country", ID: "f-country", Label: "Country", Value: c.Address.Country, Autocomplete: "country", MaxLength: 2,
			Hint: "Two letters, such as DE or US.", Error: f.errors["country"]},
	}
}

// cardFields are the new card's fields: always empty, so that a card number is never
// sent back to the browser.
func cardFields(f *orderForm) []orderField {
	return []orderField{
		{Name: "card_number", ID: "f-card-number", Label: "Card number", Autocomplete: "cc-number", InputMode: "numeric", MaxLength: 23,
			Error: f.errors["card_number"]},
		{Name: "card_exp_month", ID: "f-card-month", Label: "Expiry month", Autocomplete: "cc-exp-month", InputMode: "numeric", MaxLength: 2,
			Hint: "MM", Error: f.errors["card_exp_month"]},
		{Name: "card_exp_year", ID: "f-card-year", Label: "Expiry year", Autocomplete: "cc-exp-year", InputMode: "numeric", MaxLength: 4,
			Hint: "YYYY", Error: f.errors["card_exp_year"]},
		{Name: "card_cvc", ID: "f-card-cvc", Label: "Security code (CVC)", Autocomplete: "cc-csc", InputMode: "numeric", MaxLength: 4,
			Error: f.errors["card_cvc"]},
		{Name: "card_holder", ID: "f-card-holder", Label: "Name on card", Autocomplete: "cc-name", MaxLength: 200, Error: f.errors["card_holder"]},
	}
}

// payOptions are the stored methods, the default first chosen, then the new ones.
func payOptions(methods []*billow.PaymentMethod, chosen string) []payOption {
	var out []payOption
	for _, m := range methods {
		o := payOption{Value: m.ID, Label: m.Label(), Default: m.Default}
		switch m.Kind {
		case billow.MethodCard:
			o.Detail = fmt.Sprintf("expires %02d/%d", m.ExpMonth, m.ExpYear)
		case billow.MethodPayPal:
			o.Detail = m.PayPalEmail
		}
		out = append(out, o)
	}
	out = append(out,
		payOption{Value: "new_card", Label: "New card", New: "card"},
		payOption{Value: "paypal", Label: "PayPal", Detail: "approve the payment at PayPal", New: "paypal"},
		payOption{Value: "wire", Label: "Wire transfer", Detail: "takes " + wireClearance + " to clear", New: "wire"})
	found := false
	for i := range out {
		if out[i].Value == chosen {
			out[i].Checked, found = true, true
		}
	}
	for i := range out {
		if !found && (out[i].Default || out[i].Value == "new_card") {
			out[i].Checked, found = true, true
		}
	}
	return out
}

// orderDeclineText says why a payment was declined, by the order's failure code.
func orderDeclineText(code string) string {
	why := map[string]string{
		"insufficient_funds":            "The card was declined: insufficient funds.",
		"expired_card":                  "The card was declined: it has expired.",
		"card_declined":                 "The card was declined by its bank.",
		"paypal_declined":               "PayPal declined the payment.",
		billow.CodeOTPAttemptsExceeded:  "The payment was stopped after too many wrong codes.",
		billow.CodePaymentMethodMissing: "There was no payment method to charge.",
	}[code]
	if why == "" {
		why = "The payment was declined."
	}
	return why + " Nothing was charged and your plan has not changed. Check the details with your bank, or use another card or payment method."
}

// orderFieldErrors maps a validation error's fields to the order form's field names.
func orderFieldErrors(err error) map[string]string {
	var e *billow.Error
	if !errors.As(err, &e) {
		return nil
	}
	out := map[string]string{}
	for _, f := range e.Fields {
		name, label := formFieldOf(f.Field)
		if _, ok := out[name]; ok {
			continue
		}
		msg := f.Message
		switch {
		case name == "card_number" && strings.HasPrefix(msg, "is not a valid"):
			msg = "This is not a valid card number; check its digits"
		case label != "" && (strings.HasPrefix(msg, "is ") || strings.HasPrefix(msg, "must ")):
			msg = label + " " + msg // "Email must be an email address"
		case msg != "":
			msg = strings.ToUpper(msg[:1]) + msg[1:]
		}
		out[name] = strings.TrimSuffix(msg, ".") + "."
	}
	return out
}

// formFieldOf names the form field of an order input's field, and how the message
// begins ("Card number must …"). Card fields' messages never hold the number.
func formFieldOf(field string) (name, label string) {
	switch field {
	case "billing_contact.name":
		return "name", "Name"
	case "billing_contact.email":
		return "email", "Email"
	case "billing_contact.company":
		return "company", "Company"
	case "billing_contact.tax_id":
		return "tax_id", "Tax ID"
	case "billing_contact.address.line1":
		return "line1", "Address"
	case "billing_contact.address.line2":
		return "line2", "Address line 2"
	case "billing_contact.address.city":
		return "city", "City"
	case "billing_contact.address.state":
		return "state", "State"
	case "billing_contact.address.postal_code":
		return "postal_code", "Postal code"
	case "billing_contact.address.country":
		return "country", "Country"
	case "billing_contact":
		return "name", ""
	case "new_payment_method.card.number", "card.number":
		return "card_number", "Card number"
	case "new_payment_method.card.exp_month", "card.exp_month":
		return "card_exp_month", "Expiry month"
	case "new_payment_method.card.exp_year", "card.exp_year":
		return "card_exp_year", "Expiry year"
	case "new_payment_method.card.cvc", "card.cvc":
		return "card_cvc", "Security code"
	case "new_payment_method.card.holder_name", "card.holder_name":
		return "card_holder", "Name on card"
	case "new_payment_method.paypal_email", "paypal_email":
		return "paypal_email", "PayPal email"
	}
	if strings.HasPrefix(field, addOnField) {
		return field, ""
	}
	if field == "payment_method" || field == "new_payment_method" || field == "new_payment_method.kind" {
		return "method", "Payment method"
	}
	return "", "" // the whole form's
}

// ---- POST /portal/orders ----

// orderSubmit is Submit Order (POST /portal/orders), for owners and billing members
// (requirePayer): it prices the posted selection again, refuses a price other than the
// one the page showed, and submits the order with the billing information and payment
// method. A completed order lands on Plan & Usage with a notice; one that needs the
// customer, or a wire transfer, on its order page; a decline back on the order form with
// the reason and the card fields empty. Invalid fields show the form again, with the
// card number asked again.
func (h *Handler) orderSubmit(w http.ResponseWriter, r *http.Request, v *visit) {
	ctx := r.Context()
	a := v.account
	if a.Type == billow.AccountEnterprise {
		h.forbidden(w, r, v, "Your plan is set by your contract with "+h.brand.Name+": ask them to change it.")
		return
	}
	if h.billing == nil {
		h.fail(w, r, v, errNoBilling)
		return
	}
	form := r.PostForm
	cat, sub, err := h.planState(ctx, a)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	sel, plan, err := readSelection(form, cat, a, sub)
	if plan == nil {
		h.fail(w, r, v, err)
		return
	}
	back := "/portal/plans/checkout?" + sel.values().Encode()
	if err != nil || sel.unchanged(sub) {
		redirect(w, r, back)
		return
	}
	in := sel.order(sub)
	f := readOrderForm(form, &in)
	if len(f.errors) > 0 {
		h.checkoutPage(w, r, v, http.StatusUnprocessableEntity, sel.values(), f)
		return
	}
	if err := in.Validate(); err != nil {
		f.errors = orderFieldErrors(err)
		h.checkoutPage(w, r, v, http.StatusUnprocessableEntity, sel.values(), f)
		return
	}
	// The price the customer saw is the price charged: a day that turned since, or a
	// change of the subscription in another tab, shows the new price first.
	pv, err := h.billing.PreviewOrder(ctx, a.ID, sel.order(sub))
	if err != nil {
		if isOrderProblem(err) {
			redirect(w, r, back) // the order form says why
			return
		}
		h.fail(w, r, v, err)
		return
	}
	if expect, err := strconv.ParseInt(form.Get("expect_minor"), 10, 64); err != nil || expect != pv.ChargeMinor {
		redirect(w, r, back+"&result=price_changed")
		return
	}
	order, err := h.billing.SubmitOrder(ctx, a.ID, in)
	result := "error"
	if order != nil {
		result = string(order.Status)
	}
	h.logger.InfoContext(ctx, "portal order", "session", v.session.ID, "account", a.ID, "plan", sel.Plan, "interval", sel.Interval,
		"result", result, "code", errorCodeOf(err))
	if err != nil {
		switch code := billow.ErrorCode(err); {
		case code == billow.CodePaymentDeclined && order != nil:
			redirect(w, r, back+"&result=declined&reason="+url.QueryEscape(order.FailureCode))
		case billow.ErrorKindOf(err) == billow.KindInvalid:
			// A field the gateway refused (an expired card), the billing information.
			f.errors = orderFieldErrors(err)
			if code == billow.CodePaymentMethodMissing {
				f.errors = map[string]string{"method": "Choose a payment method."}
			}
			h.checkoutPage(w, r, v, http.StatusUnprocessableEntity, sel.values(), f)
		case isOrderProblem(err):
			redirect(w, r, back)
		default:
			h.fail(w, r, v, err)
		}
		return
	}
	if order.Status == billow.OrderCompleted {
		redirect(w, r, "/portal/?result="+completedResult(order, pv))
		return
	}
	redirect(w, r, "/portal/orders/"+url.PathEscape(order.ID))
}

// completedResult names the Plan & Usage notice of a completed order.
func completedResult(order *billow.Order, pv *billow.OrderPreview) string {
	switch {
	case order.Kind == billow.OrderSubscribe:
		return "subscribed"
	case pv != nil && !pv.Immediate:
		return "scheduled"
	}
	return "changed"
}

// readOrderForm reads the billing information and the payment method into in, and the
// fields it cannot read.
func readOrderForm(form url.Values, in *billow.SubmitOrderInput) *orderForm {
	get := func(name string) string { return strings.TrimSpace(form.Get(name)) }
	f := &orderForm{method: get("method"), paypal: get("paypal_email"), errors: map[string]string{}}
	f.contact = billow.BillingContact{Name: get("name"), Email: get("email"), Company: get("company"), TaxID: get("tax_id"),
		Address: billow.Address{Line1: get("line1"), Line2: get("line2"), City: get("city"), State: get("state"),
			PostalCode: get("postal_code"), Country: strings.ToUpper(get("country"))}}
	if f.contact.Name == "" {
		f.errors["name"] = "Enter the name invoices are made out to."
	}
	if f.contact.Email == "" {
		f.errors["email"] = "Enter the email invoices are sent to."
	}
	contact := f.contact
	in.BillingContact = &contact
	switch f.method {
	case "new_card":
		month, err1 := strconv.ParseInt(get("card_exp_month"), 10, 64)
		year, err2 := strconv.ParseInt(get("card_exp_year"), 10, 64)
		if err1 != nil {
			f.errors["card_exp_month"] = "Enter the expiry month as a number, 1 to 12."
		}
		if err2 != nil {
			f.errors["card_exp_year"] = "Enter the expiry year with four digits."
		}
		if get("card_number") == "" {
			f.errors["card_number"] = "Enter the card number."
		}
		in.NewPaymentMethod = &billow.AddPaymentMethodInput{Kind: billow.MethodCard, Card: &billow.CardDetails{Number: get("card_number"),
			ExpMonth: month, ExpYear: year, CVC: get("card_cvc"), HolderName: get("card_holder")}}
	case "paypal":
		in.NewPaymentMethod = &billow.AddPaymentMethodInput{Kind: billow.MethodPayPal, PayPalEmail: f.paypal}
	case "wire":
		in.NewPaymentMethod = &billow.AddPaymentMethodInput{Kind: billow.MethodWire}
	case "":
		f.errors["method"] = "Choose a payment method."
	default:
		in.PaymentMethod = f.method // a stored one; billing refuses another account's as not found
	}
	return f
}

// ---- GET /portal/orders/{order} ----

// orderPage is an order that waits for the customer or for the bank: the OTP form of a
// card, the approval of PayPal, a wire transfer's instructions; or how it ended.
type orderPage struct {
	ID, Date, Amount   string
	State              string // otp, paypal, wire, processing, completed, failed
	Status, Tone       string
	Heading, Text      string
	Lines              []invoiceLine
	Tax, Total         string
	Method             string
	Reference          string
	Clearance          string
	ApproveURL         string
	ConfirmURL         string
	Failure            string
	Next, NextText     string
	AttemptsMax        int
	OTPError           string
	OTPMaxBytes        int
	InvoiceNumber, PDF string
}

func (h *Handler) order(w http.ResponseWriter, r *http.Request, v *visit) {
	ctx := r.Context()
	order, err := h.visibleOrder(r, v)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	loc, err := h.zone(v.account.Timezone)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	p := &orderPage{ID: order.ID, Date: formatDate(order.CreatedAt, loc), Amount: dash,
		ConfirmURL: "/portal/orders/" + url.PathEscape(order.ID) + "/confirm", AttemptsMax: billow.OTPAttemptsMax, OTPMaxBytes: otpMaxBytes,
		Clearance: wireClearance}
	var inv *billow.Invoice
	if order.Invoice != "" {
		inv, err = h.store.Invoice(ctx, order.Invoice)
		if err != nil {
			h.fail(w, r, v, err)
			return
		}
		if inv.VisibleTo(v.principal()) {
			cur := func(minor int64) string { return money(minor, inv.Currency, inv.CurrencyDigits) }
			p.Amount, p.Total, p.Method = cur(inv.TotalMinor), cur(inv.TotalMinor), inv.PaymentMethod
			for _, l := range inv.Lines {
				p.Lines = append(p.Lines, invoiceLine{Description: l.Description, Amount: cur(l.AmountMinor)})
			}
			if inv.TaxMinor != 0 {
				p.Tax = cur(inv.TaxMinor)
			}
			if inv.Number != "" {
				p.InvoiceNumber, p.PDF = inv.Number, "/portal/invoices/"+url.PathEscape(inv.ID)+"/pdf"
			}
		}
	}
	switch {
	case order.Status == billow.OrderRequiresAction && order.Action == billow.ActionPayPalApproval:
		p.State, p.Status, p.Tone = "paypal", "Waiting for your approval", "warn"
		p.ApproveURL = order.ApproveURL
	case order.Status == billow.OrderRequiresAction:
		p.State, p.Status, p.Tone = "otp", "Waiting for your code", "warn"
	case order.Status == billow.OrderPendingPayment && inv != nil && inv.PaymentStatus == billow.PaymentPending:
		p.State, p.Status, p.Tone = "wire", "Pending payment clearance", "info"
		p.Reference, err = h.wireReference(ctx, order, inv)
		if err != nil {
			h.fail(w, r, v, err)
			return
		}
	case order.Status == billow.OrderPendingPayment:
		p.State, p.Status, p.Tone = "processing", "Processing", "info"
	case order.Status == billow.OrderCompleted:
		p.State, p.Status, p.Tone = "completed", "Completed", "ok"
	default:
		p.State, p.Status, p.Tone = "failed", "Payment failed", "bad"
		p.Failure = orderDeclineText(order.FailureCode)
	}
	p.Next, p.NextText = "/portal/", "Go to Plan & Usage"
	if order.Kind == billow.OrderCredits {
		p.Next, p.NextText = "/portal/credits", "Go to Credits"
	}
	l := layout{Title: "Order " + order.ID, Section: "plan", Content: p}
	if order.Kind == billow.OrderCredits {
		l.Section = "credits"
	}
	switch r.URL.Query().Get("result") {
	case "otp_invalid":
		p.OTPError = "That code is not right. Check the code your bank sent and try again."
	case "otp_missing":
		p.OTPError = fmt.Sprintf("Enter the code your bank sent: digits only, at most %d.", otpMaxBytes)
	}
	h.render(w, r, http.StatusOK, "order.html", v, l)
}

// visibleOrder reads the order the path names, if it is the visit's account's; another
// account's is not found, exactly like one that does not exist.
func (h *Handler) visibleOrder(r *http.Request, v *visit) (*billow.Order, error) {
	id := r.PathValue("order")
	order, _, err := h.store.Order(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if order.Account != v.account.ID {
		return nil, billow.NotFound("order", id)
	}
	return order, nil
}

// wireReference is the reference a transfer for order must carry (billow.WireReference).
func (h *Handler) wireReference(ctx context.Context, order *billow.Order, inv *billow.Invoice) (string, error) {
	pays, err := h.store.Payments(ctx, inv.ID)
	if err != nil {
		return "", err
	}
	return billow.WireReference(order, inv, pays), nil
}

// ---- POST /portal/orders/{order}/confirm ----

// orderConfirm finishes an order that waits for the customer (owners and billing
// members): the card's OTP, or PayPal's approval (no code). A wrong code leaves the order
// waiting, up to billow.OTPAttemptsMax codes; the order page says how it stands.
func (h *Handler) orderConfirm(w http.ResponseWriter, r *http.Request, v *visit) {
	order, err := h.visibleOrder(r, v)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	page := "/portal/orders/" + url.PathEscape(order.ID)
	if h.billing == nil {
		h.fail(w, r, v, errNoBilling)
		return
	}
	if order.Status != billow.OrderRequiresAction {
		redirect(w, r, page)
		return
	}
	var in billow.ConfirmOrderInput
	if order.Action == billow.ActionOTP {
		in.OTP = strings.TrimSpace(r.PostForm.Get("otp"))
		if in.OTP == "" || len(in.OTP) > otpMaxBytes || strings.Trim(in.OTP, "0123456789") != "" {
			redirect(w, r, page+"?result=otp_missing")
			return
		}
	}
	done, err := h.billing.ConfirmOrder(r.Context(), v.account.ID, order.ID, in)
	result := "error"
	if done != nil {
		result = string(done.Status)
	}
	h.logger.InfoContext(r.Context(), "portal order confirmation", "session", v.session.ID, "account", v.account.ID,
		"order", order.ID, "result", result, "code", errorCodeOf(err))
	switch errorCodeOf(err) {
	case "":
	case billow.CodeOTPInvalid:
		redirect(w, r, page+"?result=otp_invalid")
		return
	case billow.CodePaymentDeclined, billow.CodeOrderNotPending:
		redirect(w, r, page) // failed, or answered meanwhile: the page says which
		return
	default:
		h.fail(w, r, v, err)
		return
	}
	if done.Status != billow.OrderCompleted || done.Kind == billow.OrderCredits {
		redirect(w, r, page)
		return
	}
	result = "changed"
	if done.Kind == billow.OrderSubscribe {
		result = "subscribed"
	}
	redirect(w, r, "/portal/?result="+result)
}

// orderNotice is what Plan & Usage says after a completed order (?result=…).
func orderNotice(result string) string {
	switch result {
	case "subscribed":
		return "Thank you: your subscription is active."
	case "changed":
		return "Your plan is changed."
	case "scheduled":
		return "Your plan change is scheduled for the end of the current period."
	}
	return ""
}

// errorCodeOf is err's code, or "" for no error (billow.ErrorCode says internal).
func errorCodeOf(err error) string {
	if err == nil {
		return ""
	}
	return billow.ErrorCode(err)
}
