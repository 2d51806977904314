package portal_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// A card added on the page is listed by its brand and last four digits only: its number
// appears nowhere in a page or a log, not even after the form was refused, which comes
// back without the number and the CVC. PayPal and wire transfer are added too.
func TestPaymentMethodsAdd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		logger, logs := crLogger()
		s := newSite(t, env, siteOptions{logger: logger})
		b := s.browser()
		b.enter(s.link("hobbyist", billow.RoleOwner))
		empty := b.get("/portal/payment-methods")
		for _, want := range []string{"No payment methods yet", "Add card", "Add PayPal", "Add wire transfer", "Test cards",
			"4000 0027 6000 3184", "123456", `autocomplete="cc-number"`} {
			if !strings.Contains(empty.body, want) {
				t.Errorf("the empty page lacks %q", want)
			}
		}
		// Refused: a number that fails the Luhn check, an expired card, a short CVC.
		const goodNumber, badNumber, cvc = "3782 822463 10005", "3782 822463 10006", "987"
		for _, tc := range []struct {
			form  url.Values
			field string
			text  string
		}{
			{url.Values{"number": {badNumber}, "exp_month": {"12"}, "exp_year": {"2030"}, "cvc": {cvc}}, "card-number-error", "Check the card number"},
			{url.Values{"number": {goodNumber}, "exp_month": {"12"}, "exp_year": {"2025"}, "cvc": {cvc}}, "card-year-error", "This card has expired"},
			{url.Values{"number": {goodNumber}, "exp_month": {"12"}, "exp_year": {"2030"}, "cvc": {"9"}}, "card-cvc-error", "security code"},
			{url.Values{"number": {goodNumber}, "exp_month": {""}, "exp_year": {"2030"}, "cvc": {cvc}}, "card-month-error", "month"},
		} {
			tc.form.Set("csrf", b.csrf())
			tc.form.Set("kind", "card")
			tc.form.Set("holder_name", "Sam Hobbyist")
			p := b.post("/portal/payment-methods", tc.form)
			if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `id="`+tc.field+`"`) || !strings.Contains(p.body, tc.text) {
				t.Errorf("%v = %d, want the error at %s", tc.form, p.status, tc.field)
			}
			number := tc.form.Get("number")
			if crHasDigits(p.body, number) || regexp.MustCompile(`name="(number|cvc)"[^>]*value=`).MatchString(p.body) {
				t.Errorf("the refused form shows the card number or the CVC again")
			}
			if !strings.Contains(p.body, `value="Sam Hobbyist"`) || !strings.Contains(p.body, "enter its number and security code again") {
				t.Errorf("the refused form does not keep the name or say why the number is gone")
			}
		}
		if n := len(s.crMethods("hobbyist")); n != 0 {
			t.Fatalf("refused cards were stored: %d", n)
		}

		p := b.post("/portal/payment-methods", url.Values{"csrf": {b.csrf()}, "kind": {"card"}, "number": {goodNumber},
			"exp_month": {"7"}, "exp_year": {"2031"}, "cvc": {cvc}, "holder_name": {"Sam Hobbyist"}})
		ms := s.crMethods("hobbyist")
		if p.status != http.StatusSeeOther || len(ms) != 1 || !strings.HasPrefix(p.header.Get("Location"), "/portal/payment-methods?result=added_default&method="+ms[0].ID) {
			t.Fatalf("add a card = %d %q: %.300s", p.status, p.header.Get("Location"), p.body)
		}
		if m := ms[0]; m.Last4 != "0005" || m.Brand != "American Express" || !m.Default || m.ExpMonth != 7 || m.ExpYear != 2031 || m.HolderName != "Sam Hobbyist" {
			t.Fatalf("stored %+v", m)
		}
		list := b.get(p.header.Get("Location"))
		for _, want := range []string{"American Express •••• 0005", "Card · expires 07/2031 · Sam Hobbyist", `data-default>Default</span>`,
			"added and is now your default", `class="method highlight is-default"`} {
			if !strings.Contains(list.body, want) {
				t.Errorf("the list lacks %q", want)
			}
		}
		if crHasDigits(list.body, goodNumber) {
			t.Error("the page shows the card number")
		}
		// PayPal and wire.
		if p := b.post("/portal/payment-methods", url.Values{"csrf": {b.csrf()}, "kind": {"paypal"}, "paypal_email": {"not an email"}}); p.status != http.StatusUnprocessableEntity ||
			!strings.Contains(p.body, `id="paypal-error"`) || !strings.Contains(p.body, `value="not an email"`) {
			t.Errorf("a bad PayPal email = %d", p.status)
		}
		if p := b.post("/portal/payment-methods", url.Values{"csrf": {b.csrf()}, "kind": {"paypal"}, "paypal_email": {"sam@hobby.example"}}); p.status != http.StatusSeeOther ||
			!strings.Contains(p.header.Get("Location"), "result=added&") {
			t.Errorf("add PayPal = %d %q", p.status, p.header.Get("Location"))
		}
		if p := b.post("/portal/payment-methods", url.Values{"csrf": {b.csrf()}, "kind": {"wire"}}); p.status != http.StatusSeeOther {
			t.Errorf("add wire = %d", p.status)
		}
		if p := b.post("/portal/payment-methods", url.Values{"csrf": {b.csrf()}, "kind": {"cash"}}); p.status != http.StatusBadRequest {
			t.Errorf("kind cash = %d", p.status)
		}
		list = b.get("/portal/payment-methods")
		for _, want := range []string{"PayPal", "sam@hobby.example", "Wire transfer", "Wire transfer is among your payment methods"} {
			if !strings.Contains(list.body, want) {
				t.Errorf("the list lacks %q", want)
			}
		}
		if ms := s.crMethods("hobbyist"); len(ms) != 3 || ms[0].Last4 != "0005" {
			t.Fatalf("methods %d, default %s", len(ms), ms[0].Label())
		}
		// No log line holds a number that was typed.
		all := logs.String()
		if all == "" {
			t.Fatal("nothing was logged: the test would not see a leak")
		}
		for _, n := range []string{goodNumber, badNumber} {
			if crHasDigits(all, n) {
				t.Errorf("the logs hold the card number %s", n)
			}
		}
	})
}

// crHasDigits reports whether s holds the digits of a card number, with or without
// separators.
func crHasDigits(s, number string) bool {
	digits := billow.CardDigits(number)
	return strings.Contains(s, digits) || strings.Contains(s, number) ||
		strings.Contains(regexp.MustCompile(`[ \-]`).ReplaceAllString(s, ""), digits)
}

// Making a method the default leaves the account with exactly that one default; the
// next purchase is charged to it. Another account's method is not found and nothing
// changes.
func TestPaymentMethodsDefault(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := newSite(t, env, siteOptions{})
		b := s.browser()
		b.enter(s.link("acme-bots", billow.RoleBilling))
		ms := s.crMethods("acme-bots")
		if len(ms) < 2 || !ms[0].Default {
			t.Fatalf("the demo account has %d methods", len(ms))
		}
		var declined *billow.PaymentMethod
		for _, m := range ms {
			if m.Kind == billow.MethodCard && !m.Default && m.Last4 == "9995" {
				declined = m
			}
		}
		if declined == nil {
			t.Fatal("the demo's declined card is not stored")
		}
		page := b.get("/portal/payment-methods")
		if n := strings.Count(page.body, "Make default<span"); n != len(ms)-1 {
			t.Errorf("%d Make default buttons for %d methods", n, len(ms))
		}
		p := b.post("/portal/payment-methods/"+declined.ID+"/default", url.Values{"csrf": {b.csrf()}})
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/portal/payment-methods?result=default&method="+declined.ID+"#"+declined.ID {
			t.Fatalf("make default = %d %q: %.300s", p.status, p.header.Get("Location"), p.body)
		}
		after := s.crMethods("acme-bots")
		defaults := 0
		for _, m := range after {
			if m.Default {
				defaults++
			}
		}
		if after[0].ID != declined.ID || defaults != 1 || len(after) != len(ms) {
			t.Fatalf("after: default %s, %d defaults", after[0].ID, defaults)
		}
		list := b.get(p.header.Get("Location"))
		if !strings.Contains(list.body, "Your default payment method is changed") ||
			!regexp.MustCompile(`(?s)<li class="method highlight is-default" id="`+declined.ID+`">.*?data-default>Default`).MatchString(list.body) {
			t.Errorf("the list does not show the new default")
		}
		// Again: nothing changes.
		if p := b.post("/portal/payment-methods/"+declined.ID+"/default", url.Values{"csrf": {b.csrf()}}); p.status != http.StatusSeeOther {
			t.Fatalf("the default made default again = %d", p.status)
		}
		// The next purchase is charged to it, and declined.
		if p := b.crBuy(1000); !strings.Contains(p.header.Get("Location"), "result=declined") {
			t.Fatalf("a purchase after the change = %q", p.header.Get("Location"))
		}

		theirs := s.crMethods("northwind")
		for _, id := range []string{theirs[len(theirs)-1].ID, "pm_nothing", strings.Repeat("x", 60)} {
			if p := b.post("/portal/payment-methods/"+id+"/default", url.Values{"csrf": {b.csrf()}}); p.status != http.StatusNotFound {
				t.Errorf("make %.20s… default = %d", id, p.status)
			}
		}
		if got := s.crMethods("northwind"); got[0].ID != theirs[0].ID {
			t.Fatal("another account's default changed")
		}
		if got := s.crMethods("acme-bots"); got[0].ID != declined.ID {
			t.Fatal("a refused change moved the default")
		}
	})
}

// The store keeps exactly one default per account, whatever the order of changes.
func TestSetDefaultPaymentMethodStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := newSite(t, env, siteOptions{})
		ctx := context.Background()
		a := s.crAccount("northwind")
		ms := s.crMethods("northwind")
		for _, m := range append(ms, ms...) {
			got, err := env.DB.SetDefaultPaymentMethod(ctx, billow.SetDefaultPaymentMethodInput{Account: a.ID, Method: m.ID})
			if err != nil || got.ID != m.ID || !got.Default {
				t.Fatalf("set %s: %+v %v", m.ID, got, err)
			}
			d, err := env.DB.DefaultPaymentMethod(ctx, a.ID)
			if err != nil || d.ID != m.ID {
				t.Fatalf("default after setting %s: %v %v", m.ID, d, err)
			}
		}
		if _, err := env.DB.SetDefaultPaymentMethod(ctx, billow.SetDefaultPaymentMethodInput{Account: a.ID}); billow.ErrorCode(err) != billow.CodeValidationFailed {
			t.Errorf("no method: %v", err)
		}
		other := s.crMethods("acme-bots")[0]
		if _, err := env.DB.SetDefaultPaymentMethod(ctx, billow.SetDefaultPaymentMethodInput{Account: a.ID, Method: other.ID}); billow.ErrorCode(err) != billow.CodeNotFound {
			t.Errorf("another account's method: %v", err)
		}
	})
}
