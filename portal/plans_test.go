package portal_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/payment/sandbox"
	"github.com/billowhq/billow/pdf"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// The order flow of the portal: Plans, the order form with its preview, Submit Order,
// the order page with its OTP form. The demo's Hobby Projects (credits-platform, Free,
// no subscription, no payment method) subscribes; Northwind Traders has an open invoice.

var (
	hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	textInput   = regexp.MustCompile(`<input id="[^"]*" name="([^"]+)" type="(?:text|email)" value="([^"]*)"`)
	chargeToday = regexp.MustCompile(`data-charge-today>([^<]+)<`)
)

// orderFormOf reads the order form of a checkout page as the browser would post it:
// its hidden fields and the billing information it is filled with.
func orderFormOf(t testing.TB, p page) url.Values {
	t.Helper()
	start := strings.Index(p.body, `id="order-form"`)
	if start < 0 {
		t.Fatalf("no order form on the page (%d): %.600s", p.status, p.body)
	}
	form := p.body[start:]
	form = form[:strings.Index(form, "</form>")]
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(form, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	for _, m := range textInput.FindAllStringSubmatch(form, -1) {
		if m[2] != "" {
			v.Set(m[1], html.UnescapeString(m[2]))
		}
	}
	return v
}

// withCard chooses a new card in an order form.
func withCard(v url.Values, number string) url.Values {
	v.Set("method", "new_card")
	v.Set("card_number", number)
	v.Set("card_exp_month", "12")
	v.Set("card_exp_year", "2030")
	v.Set("card_cvc", "123")
	v.Set("card_holder", "Sam Hobbyist")
	return v
}

// orders returns the account's orders, newest first.
func (s *site) orders(account string) []*billow.Order {
	s.t.Helper()
	a, err := s.env.DB.Account(context.Background(), account)
	if err != nil {
		s.t.Fatal(err)
	}
	o, err := s.env.DB.Orders(context.Background(), a.ID, 100)
	if err != nil {
		s.t.Fatal(err)
	}
	return o
}

// subscription returns the account's live subscription, or nil.
func (s *site) subscription(account string) *billow.Subscription {
	s.t.Helper()
	a, err := s.env.DB.Account(context.Background(), account)
	if err != nil {
		s.t.Fatal(err)
	}
	sub, err := s.env.DB.LiveSubscription(context.Background(), a.ID)
	if billow.ErrorKindOf(err) == billow.KindNotFound {
		return nil
	}
	if err != nil {
		s.t.Fatal(err)
	}
	return sub
}

// stored counts what an order writes: the account's orders, invoices and payment methods.
func (s *site) stored(account string) [3]int {
	s.t.Helper()
	a, err := s.env.DB.Account(context.Background(), account)
	if err != nil {
		s.t.Fatal(err)
	}
	invs, err := s.env.DB.Invoices(context.Background(), sqlstore.InvoiceFilter{AccountID: a.ID, IncludeHidden: true})
	if err != nil {
		s.t.Fatal(err)
	}
	methods, err := s.env.DB.PaymentMethods(context.Background(), a.ID)
	if err != nil {
		s.t.Fatal(err)
	}
	return [3]int{len(s.orders(account)), len(invs), len(methods)}
}

// money writes minor units of USD as the portal does.
func usd(minor int64) string { return pdf.FormatMoney(minor, "USD", 2) }

// The plans are shown side by side from the account's catalog; the order form previews
// the order with billing's PreviewOrder, and what Submit Order then charges is that
// preview, to the cent, tax included: a subscription with an add-on, then an upgrade
// in the middle of the period. Looking at the order form writes nothing.
func TestPortalSubscribeChargesThePreview(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := newSite(t, env, siteOptions{})
		if status, m := s.api(adminKey, "PATCH", "/v1/accounts/hobbyist", map[string]any{"tax_rate": "8.25"}); status != 200 {
			t.Fatalf("tax rate = %d %v", status, m)
		}
		b := s.browser()
		b.enter(s.link("hobbyist", billow.RoleOwner))

		plans := b.get("/portal/plans")
		for _, want := range []string{"Choose a plan", "Free", "Pay as you go", "$20.00", "Current plan", "5,000 free credits every month",
			"Agent slots: 100", "Whitelabel", "$200.00 / month", `href="/portal/plans/checkout?interval=month&amp;plan=pay_as_you_go"`} {
			if !strings.Contains(plans.body, want) {
				t.Errorf("the plans page lacks %q", want)
			}
		}
		if strings.Contains(plans.body, ">Enterprise<") {
			t.Error("a standard account is offered the enterprise plan")
		}

		before := s.stored("hobbyist")
		checkout := b.get("/portal/plans/checkout?plan=pay_as_you_go&interval=month&addon.whitelabel=1")
		if checkout.status != 200 {
			t.Fatalf("checkout = %d: %.500s", checkout.status, checkout.body)
		}
		// $20 + $200 and 8.25% tax: $238.15 charged today.
		m := chargeToday.FindStringSubmatch(checkout.body)
		if m == nil || m[1] != "$238.15" {
			t.Fatalf("charged today %v", m)
		}
		for _, want := range []string{"Pay as you go plan", "Whitelabel", "Tax (8.25%)", "$18.15", "Billing information",
			`value="Sam Hobbyist"`, "Submit order", "You have no saved payment method", `href="/portal/payment-methods"`} {
			if !strings.Contains(checkout.body, want) {
				t.Errorf("the order form lacks %q", want)
			}
		}
		if after := s.stored("hobbyist"); after != before {
			t.Fatalf("showing the order form wrote: %v → %v", before, after)
		}

		form := withCard(orderFormOf(t, checkout), sandbox.CardVisa)
		form.Set("line1", "Rua Augusta 1")
		p := b.post("/portal/orders", form)
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/portal/?result=subscribed" {
			t.Fatalf("submit = %d %q: %.500s", p.status, p.header.Get("Location"), p.body)
		}
		home := b.get("/portal/?result=subscribed")
		if !strings.Contains(home.body, "your subscription is active") || !strings.Contains(home.body, `<p class="plan-name">Pay as you go</p>`) ||
			!strings.Contains(home.body, `href="/portal/plans">Modify plan`) {
			t.Fatalf("the plan page after subscribing: %.300s", home.body)
		}
		orders := s.orders("hobbyist")
		if len(orders) != 1 || orders[0].Status != billow.OrderCompleted || orders[0].AmountMinor != 23815 {
			t.Fatalf("orders %+v", orders)
		}
		if inv := s.invoice(orders[0].Invoice); inv.TotalMinor != 23815 || inv.TaxMinor != 1815 || inv.BillTo.Address.Line1 != "Rua Augusta 1" {
			t.Fatalf("the order's invoice: total %d tax %d bill to %+v", inv.TotalMinor, inv.TaxMinor, inv.BillTo)
		}

		// Eleven days on: three client seats, prorated, charged as previewed, with the
		// stored card (the default, chosen already).
		env.Clock.Advance(11 * 24 * time.Hour)
		b = s.browser() // the session ended meanwhile
		b.enter(s.link("hobbyist", billow.RoleOwner))
		plans = b.get("/portal/plans")
		if !strings.Contains(plans.body, "Modify your plan") || !strings.Contains(plans.body, "Change add-ons") {
			t.Errorf("the plans page of a subscriber: %.300s", plans.body)
		}
		checkout = b.get("/portal/plans/checkout?plan=pay_as_you_go&interval=month&addon.whitelabel=1&addon.client_seat=3")
		m = chargeToday.FindStringSubmatch(checkout.body)
		pv, err := s.billing.PreviewOrder(context.Background(), "hobbyist", billow.SubmitOrderInput{Change: &billow.ChangeSubscriptionInput{
			Plan: "pay_as_you_go", Interval: "month", AddOns: &[]billow.SubscriptionAddOn{{AddOn: "whitelabel", Quantity: 1}, {AddOn: "client_seat", Quantity: 3}}}})
		if err != nil || m == nil || m[1] != usd(pv.ChargeMinor) || pv.ChargeMinor <= 0 || pv.ChargeMinor >= 4500 {
			t.Fatalf("upgrade: page charges %v, billing previews %+v, %v", m, pv, err)
		}
		if !strings.Contains(checkout.body, "Remaining time on Client seat × 3") || !strings.Contains(checkout.body, `value="`+orders[0].PaymentMethod+`" checked`) {
			t.Errorf("the upgrade's order form: %.2000s", checkout.body)
		}
		form = orderFormOf(t, checkout)
		form.Set("method", checkedMethod(t, checkout))
		p = b.post("/portal/orders", form)
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/portal/?result=changed" {
			t.Fatalf("submit the upgrade = %d %q: %.500s", p.status, p.header.Get("Location"), p.body)
		}
		orders = s.orders("hobbyist")
		if len(orders) != 2 || orders[0].Kind != billow.OrderChange || orders[0].AmountMinor != pv.ChargeMinor {
			t.Fatalf("orders %+v, previewed %d", orders[0], pv.ChargeMinor)
		}
		if inv := s.invoice(orders[0].Invoice); inv.TotalMinor != pv.ChargeMinor || inv.Status != billow.InvoicePaid {
			t.Fatalf("the upgrade's invoice: %d %s, previewed %d", inv.TotalMinor, inv.Status, pv.ChargeMinor)
		}
		if sub := s.subscription("hobbyist"); len(sub.AddOns) != 2 {
			t.Fatalf("add-ons after the upgrade: %+v", sub.AddOns)
		}
		// The same order again changes nothing: the page says so and offers no submit.
		again := b.get("/portal/plans/checkout?plan=pay_as_you_go&interval=month&addon.whitelabel=1&addon.client_seat=3")
		if !strings.Contains(again.body, "This is your plan as it is now") || strings.Contains(again.body, `action="/portal/orders"`) {
			t.Fatalf("the current plan's order form: %.500s", again.body)
		}
		if p := b.post("/portal/orders", form); p.status != http.StatusSeeOther || len(s.orders("hobbyist")) != 2 {
			t.Fatalf("posting the same order again = %d, %d orders", p.status, len(s.orders("hobbyist")))
		}
	})
}

var checkedRadio = regexp.MustCompile(`name="method" value="([^"]+)" checked`)

// checkedMethod is the payment method an order form has chosen.
func checkedMethod(t testing.TB, p page) string {
	t.Helper()
	m := checkedRadio.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no payment method chosen: %.300s", p.body)
	}
	return m[1]
}

// Developers and admins compare plans and see the order form's prices, but get no
// Subscribe button and no Submit order, and a POST of the form is 403 and orders nothing.
func TestPortalOrderNeedsAPayer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := newSite(t, env, siteOptions{})
		for _, role := range []billow.Role{billow.RoleDeveloper, billow.RoleAdmin} {
			if status, m := s.api(adminKey, "POST", "/v1/accounts/hobbyist/members", map[string]any{"email": string(role) + "@hobby.example",
				"role": role}); status != 201 {
				t.Fatalf("add a %s = %d %v", role, status, m)
			}
		}
		owner := s.browser()
		owner.enter(s.link("hobbyist", billow.RoleOwner))
		form := withCard(orderFormOf(t, owner.get("/portal/plans/checkout?plan=pay_as_you_go&interval=month")), sandbox.CardVisa)
		for _, role := range []billow.Role{billow.RoleDeveloper, billow.RoleAdmin} {
			b := s.browser()
			b.enter(s.link("hobbyist", role))
			plans := b.get("/portal/plans")
			if plans.status != 200 || strings.Contains(plans.body, "/portal/plans/checkout") || !strings.Contains(plans.body, "can compare plans but not change them") {
				t.Errorf("%s: plans page %d offers an order", role, plans.status)
			}
			checkout := b.get("/portal/plans/checkout?plan=pay_as_you_go&interval=month")
			if checkout.status != 200 || strings.Contains(checkout.body, `action="/portal/orders"`) || strings.Contains(checkout.body, "Submit order") ||
				!strings.Contains(checkout.body, "can see prices but not submit orders") || chargeToday.FindStringSubmatch(checkout.body) == nil {
				t.Errorf("%s: checkout %d: %.300s", role, checkout.status, checkout.body)
			}
			form.Set("csrf", b.csrf())
			p := b.post("/portal/orders", form)
			if p.status != http.StatusForbidden || !strings.Contains(p.body, "can view billing but not pay") {
				t.Errorf("%s submits = %d: %.300s", role, p.status, p.body)
			}
		}
		if n := s.stored("hobbyist"); n != [3]int{} || s.subscription("hobbyist") != nil {
			t.Fatalf("a refused order wrote %v", n)
		}
	})
}

// Seed 004, "Unable to Change Plans": with an outstanding invoice the order form says why
// and links to the invoices, offers no submit, and a posted order changes nothing.
func TestPortalOutstandingInvoiceBlocksAChange(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := newSite(t, env, siteOptions{})
		b := s.browser()
		b.enter(s.link("northwind", billow.RoleOwner))
		plans := b.get("/portal/plans")
		if !strings.Contains(plans.body, "Unable to change plans while") || !strings.Contains(plans.body, `href="/portal/invoices"`) ||
			!strings.Contains(plans.body, "Current plan") {
			t.Errorf("plans page: %.300s", plans.body)
		}
		before, sub := s.stored("northwind"), s.subscription("northwind")
		checkout := b.get("/portal/plans/checkout?plan=essential&interval=month")
		if checkout.status != http.StatusConflict || !strings.Contains(checkout.body, "Unable to change plans: your account has an unpaid invoice") ||
			!strings.Contains(checkout.body, `<a href="/portal/invoices">Go to your invoices</a>`) || strings.Contains(checkout.body, `action="/portal/orders"`) {
			t.Fatalf("checkout with an open invoice = %d: %.500s", checkout.status, checkout.body)
		}
		p := b.post("/portal/orders", url.Values{"csrf": {b.csrf()}, "plan": {"essential"}, "interval": {"month"}, "name": {"Northwind"},
			"email": {"billing@northwind.example"}, "method": {"wire"}, "expect_minor": {"0"}})
		if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/portal/plans/checkout?") {
			t.Fatalf("posted anyway = %d %q", p.status, p.header.Get("Location"))
		}
		if again := b.get(p.header.Get("Location")); !strings.Contains(again.body, "Pay your outstanding invoices first") {
			t.Fatalf("after the refused post: %.300s", again.body)
		}
		if after, now := s.stored("northwind"), s.subscription("northwind"); after != before || now.Plan != sub.Plan || now.Pending != nil {
			t.Fatalf("a refused change wrote: %v → %v, plan %s pending %+v", before, after, now.Plan, now.Pending)
		}
	})
}

// A declined card shows the order form again with the reason; the card fields are empty
// and the card number is nowhere on the page; nothing is activated. An invalid number is
// explained beside its field, and not echoed either.
func TestPortalDeclinedOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := newSite(t, env, siteOptions{})
		b := s.browser()
		b.enter(s.link("hobbyist", billow.RoleOwner))
		const path = "/portal/plans/checkout?plan=pay_as_you_go&interval=month"
		absent := func(p page, number string) {
			t.Helper()
			spaced := number[:4] + " " + number[4:8] + " " + number[8:12] + " " + number[12:]
			if strings.Contains(p.body, number) || strings.Contains(p.body, spaced) || !strings.Contains(p.body, `name="card_number" type="text" value=""`) {
				t.Errorf("the page shows the card number %s or a filled card field", number)
			}
		}

		bad := "4242424242424241" // fails the Luhn check
		p := b.post("/portal/orders", withCard(orderFormOf(t, b.get(path)), bad))
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "This is not a valid card number") ||
			!strings.Contains(p.body, `aria-invalid="true"`) || !strings.Contains(p.body, `href="#f-card-number"`) {
			t.Fatalf("an invalid card = %d: %.500s", p.status, p.body)
		}
		absent(p, bad)

		// A card past its expiry, refused by the gateway before any charge: beside its field.
		expired := withCard(orderFormOf(t, b.get(path)), sandbox.CardVisa)
		expired.Set("card_exp_year", "2020")
		p = b.post("/portal/orders", expired)
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `href="#f-card-year">The card expired at the end of 12/2020.`) {
			t.Fatalf("an expired card = %d: %.500s", p.status, p.body)
		}
		absent(p, sandbox.CardVisa)

		form := withCard(orderFormOf(t, b.get(path)), sandbox.CardInsufficientFunds)
		p = b.post("/portal/orders", form)
		if p.status != http.StatusSeeOther || !strings.Contains(p.header.Get("Location"), "result=declined") {
			t.Fatalf("a declined card = %d %q", p.status, p.header.Get("Location"))
		}
		again := b.get(p.header.Get("Location"))
		if again.status != 200 || !strings.Contains(again.body, "The card was declined: insufficient funds.") ||
			!strings.Contains(again.body, "Nothing was charged and your plan has not changed") || !strings.Contains(again.body, `value="new_card" checked`) {
			t.Fatalf("after the decline: %.800s", again.body)
		}
		absent(again, sandbox.CardInsufficientFunds)
		if s.subscription("hobbyist") != nil {
			t.Fatal("a declined order started a subscription")
		}
		if o := s.orders("hobbyist"); len(o) != 1 || o[0].Status != billow.OrderFailed {
			t.Fatalf("orders %+v", o)
		}
		// The plan page has no success notice to show.
		if home := b.get("/portal/"); !strings.Contains(home.body, `<p class="plan-name">Free</p>`) {
			t.Fatalf("the plan after a decline: %.300s", home.body)
		}
	})
}

// A card that asks for an OTP leaves the order waiting on its page: a wrong code says so
// and keeps it waiting; the right one completes it, and the plan is active. A wire
// transfer waits for clearance with its reference; another account's order is not found.
func TestPortalOTPAndWireOrders(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := newSite(t, env, siteOptions{})
		b := s.browser()
		b.enter(s.link("hobbyist", billow.RoleOwner))
		checkout := b.get("/portal/plans/checkout?plan=pay_as_you_go&interval=month")
		p := b.post("/portal/orders", withCard(orderFormOf(t, checkout), sandbox.CardOTP))
		orderURL := p.header.Get("Location")
		if p.status != http.StatusSeeOther || !strings.HasPrefix(orderURL, "/portal/orders/ord_") {
			t.Fatalf("OTP card = %d %q: %.300s", p.status, orderURL, p.body)
		}
		order := b.get(orderURL)
		confirm := orderURL + "/confirm"
		if order.status != 200 || !strings.Contains(order.body, "Waiting for your code") || !strings.Contains(order.body, `action="`+confirm+`"`) ||
			!strings.Contains(order.body, `autocomplete="one-time-code"`) || !strings.Contains(order.body, "$20.00") {
			t.Fatalf("order page: %.800s", order.body)
		}
		if s.subscription("hobbyist") != nil {
			t.Fatal("subscribed before the OTP")
		}
		p = b.post(confirm, url.Values{"csrf": {b.csrf()}, "otp": {"000000"}})
		if p.status != http.StatusSeeOther || p.header.Get("Location") != orderURL+"?result=otp_invalid" {
			t.Fatalf("wrong OTP = %d %q", p.status, p.header.Get("Location"))
		}
		if wrong := b.get(p.header.Get("Location")); !strings.Contains(wrong.body, "That code is not right") || !strings.Contains(wrong.body, `aria-invalid="true"`) {
			t.Fatalf("after a wrong OTP: %.500s", wrong.body)
		}
		if p := b.post(confirm, url.Values{"csrf": {b.csrf()}, "otp": {"12ab"}}); !strings.HasSuffix(p.header.Get("Location"), "?result=otp_missing") {
			t.Fatalf("a code that is not digits = %q", p.header.Get("Location"))
		}
		p = b.post(confirm, url.Values{"csrf": {b.csrf()}, "otp": {sandbox.OTP}})
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/portal/?result=subscribed" {
			t.Fatalf("right OTP = %d %q", p.status, p.header.Get("Location"))
		}
		if sub := s.subscription("hobbyist"); sub == nil || sub.Status != billow.SubscriptionActive || sub.Plan != "pay_as_you_go" {
			t.Fatalf("subscription after the OTP: %+v", sub)
		}
		if home := b.get("/portal/?result=subscribed"); !strings.Contains(home.body, `<p class="plan-name">Pay as you go</p>`) {
			t.Fatal("the plan page does not show the new plan")
		}
		if done := b.get(orderURL); !strings.Contains(done.body, "Order completed") || strings.Contains(done.body, `action="`+confirm+`"`) {
			t.Fatalf("the completed order's page: %.300s", done.body)
		}

		// Another account's order is not found, and cannot be confirmed.
		other := s.browser()
		other.enter(s.link("northwind", billow.RoleOwner))
		if p := other.get(orderURL); p.status != http.StatusNotFound || strings.Contains(p.body, "Pay as you go") {
			t.Fatalf("another account's order = %d", p.status)
		}
		if p := other.post(confirm, url.Values{"csrf": {other.csrf()}, "otp": {sandbox.OTP}}); p.status != http.StatusNotFound {
			t.Fatalf("confirming another account's order = %d", p.status)
		}

		// A wire transfer: pending payment clearance, with the reference to transfer
		// with and the 4–8 business days it takes; nothing is active meanwhile.
		w := s.newOwner("wired")
		form := orderFormOf(t, w.get("/portal/plans/checkout?plan=pay_as_you_go&interval=month&addon.whitelabel=1"))
		form.Set("method", "wire")
		p = w.post("/portal/orders", form)
		if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/portal/orders/ord_") {
			t.Fatalf("wire = %d %q: %.300s", p.status, p.header.Get("Location"), p.body)
		}
		wire := w.get(p.header.Get("Location"))
		ref := regexp.MustCompile(`data-reference>([^<]+)<`).FindStringSubmatch(wire.body)
		if !strings.Contains(wire.body, "Pending payment clearance") || !strings.Contains(wire.body, "4–8 business days") || ref == nil ||
			!strings.Contains(wire.body, "$220.00") || strings.Contains(wire.body, `name="otp"`) {
			t.Fatalf("wire order page: %.1500s", wire.body)
		}
		if sub := s.subscription("wired"); sub == nil || sub.Status != billow.SubscriptionIncomplete {
			t.Fatalf("a wire subscription before clearance: %+v", sub)
		}

		// PayPal: approve at PayPal, then confirm here.
		pp := s.newOwner("paypal-co")
		form = orderFormOf(t, pp.get("/portal/plans/checkout?plan=pay_as_you_go&interval=month"))
		form.Set("method", "paypal")
		form.Set("paypal_email", "buyer@paypal.example")
		p = pp.post("/portal/orders", form)
		approve := pp.get(p.header.Get("Location"))
		if !strings.Contains(approve.body, `href="https://sandbox.billow.invalid/paypal/approve/`) || !strings.Contains(approve.body, "I have approved it") {
			t.Fatalf("PayPal order page: %.1000s", approve.body)
		}
		p = pp.post(p.header.Get("Location")+"/confirm", url.Values{"csrf": {pp.csrf()}})
		if p.header.Get("Location") != "/portal/?result=subscribed" || s.subscription("paypal-co").Status != billow.SubscriptionActive {
			t.Fatalf("PayPal confirmed = %d %q", p.status, p.header.Get("Location"))
		}
	})
}

// newOwner creates a standard account on the credits catalog's Free plan with an owner,
// and returns the owner's portal visitor.
func (s *site) newOwner(external string) *visitor {
	s.t.Helper()
	s.newAccount(external)
	b := s.browser()
	b.enter(s.link(external, billow.RoleOwner))
	return b
}

// newAccount creates a standard account on the credits catalog's Free plan, with a
// billing contact and an owner.
func (s *site) newAccount(external string) {
	s.t.Helper()
	if status, m := s.api(adminKey, "POST", "/v1/accounts", map[string]any{"external_id": external, "name": external + " Ltd",
		"type": "standard", "catalog": "credits-platform", "plan": "free", "timezone": "UTC",
		"billing_contact": map[string]any{"name": external + " Ltd", "email": "billing@" + external + ".example"}}); status != 201 {
		s.t.Fatalf("create %s = %d %v", external, status, m)
	}
	if status, m := s.api(adminKey, "POST", "/v1/accounts/"+external+"/members", map[string]any{"email": "owner@" + external + ".example",
		"name": "Olga Owner", "role": "owner"}); status != 201 {
		s.t.Fatalf("owner of %s = %d %v", external, status, m)
	}
}

// The pages of the order flow and of deployments carry no inline script, style or event
// handler, which the portal's CSP would block, and are never cached; the plans page of a
// catalog with yearly prices offers both intervals.
func TestPortalOrderPagesHaveNoInlineCode(t *testing.T) {
	env := storetest.Open(t, sqlstore.SQLite)
	s := newSite(t, env, siteOptions{})
	b := s.browser()
	b.enter(s.link("hobbyist", billow.RoleOwner))
	checkout := b.get("/portal/plans/checkout?plan=pay_as_you_go&interval=month")
	p := b.post("/portal/orders", withCard(orderFormOf(t, checkout), sandbox.CardOTP))
	order := p.header.Get("Location")
	n := s.browser()
	n.enter(s.link("northwind", billow.RoleOwner))
	inline := regexp.MustCompile(`(?i)\sstyle\s*=|\son[a-z]+\s*=|javascript:|<style|<script>`)
	for _, try := range []struct {
		b    *visitor
		path string
	}{{b, "/portal/plans"}, {b, "/portal/plans/checkout?plan=pay_as_you_go&interval=month&addon.whitelabel=1"}, {b, order},
		{b, order + "?result=otp_invalid"}, {b, "/portal/deployments"}, {n, "/portal/plans?interval=year"},
		{n, "/portal/plans/checkout?plan=essential&interval=year"}, {n, "/portal/deployments?status=pending"}} {
		p := try.b.get(try.path)
		if p.status >= 500 || p.header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(p.header.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("%s = %d %v", try.path, p.status, p.header)
		}
		if m := inline.FindString(p.body); m != "" {
			t.Errorf("%s has inline code: %q", try.path, m)
		}
	}
	yearly := n.get("/portal/plans?interval=year")
	for _, want := range []string{`href="/portal/plans?interval=month"`, `aria-current="true">Billed yearly`, "$540.00", "or $50.00 a month",
		"$5,400.00", "Switch to yearly"} {
		if !strings.Contains(yearly.body, want) {
			t.Errorf("the yearly plans lack %q", want)
		}
	}
	if monthly := n.get("/portal/plans"); !strings.Contains(monthly.body, "or $540.00 a year, 10% less") {
		t.Error("the monthly plans do not say what a year costs")
	}
}
