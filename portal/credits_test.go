package portal_test

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/payment/sandbox"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// crWallet reads an account's wallet from the store.
func (s *site) crWallet(account string) *billow.Wallet {
	s.t.Helper()
	w, err := s.env.DB.Wallet(context.Background(), account)
	if err != nil {
		s.t.Fatal(err)
	}
	return w
}

// crAccount reads an account from the store.
func (s *site) crAccount(account string) *billow.Account {
	s.t.Helper()
	a, err := s.env.DB.Account(context.Background(), account)
	if err != nil {
		s.t.Fatal(err)
	}
	return a
}

// crMethods reads an account's payment methods from the store, the default first.
func (s *site) crMethods(account string) []*billow.PaymentMethod {
	s.t.Helper()
	ms, err := s.env.DB.PaymentMethods(context.Background(), s.crAccount(account).ID)
	if err != nil {
		s.t.Fatal(err)
	}
	return ms
}

// crAddMethod adds a payment method through the API, as the operator.
func (s *site) crAddMethod(account string, body map[string]any) string {
	s.t.Helper()
	status, m := s.api(adminKey, "POST", "/v1/accounts/"+account+"/payment_methods", body)
	if status != 201 && status != 200 {
		s.t.Fatalf("add a payment method = %d %v", status, m)
	}
	return m["id"].(string)
}

// crCard is a card body of the API.
func crCard(number string, makeDefault bool) map[string]any {
	return map[string]any{"kind": "card", "default": makeDefault,
		"card": map[string]any{"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123", "holder_name": "Ada Founder"}}
}

// crAutoCharge reads an account's auto-charge through the API.
func (s *site) crAutoCharge(account string) map[string]any {
	s.t.Helper()
	status, m := s.api(adminKey, "GET", "/v1/accounts/"+account+"/auto_charge", nil)
	if status != 200 {
		s.t.Fatalf("GET auto_charge = %d %v", status, m)
	}
	return m
}

// crPackageForm reads the idempotency key of the form that buys a package of credits.
func crPackageForm(t testing.TB, body string, credits int64) string {
	t.Helper()
	m := regexp.MustCompile(`name="key" value="([0-9a-f]+)">\s*<input type="hidden" name="credits" value="` + fmt.Sprint(credits) + `">`).
		FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no form buys %d credits", credits)
	}
	return m[1]
}

// crOtherForm reads the idempotency key of the form that buys another amount.
func crOtherForm(t testing.TB, body string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<form class="filters other-amount"[^>]*>.*?name="key" value="([0-9a-f]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no form buys another amount")
	}
	return m[1]
}

// crBuy buys a package from a fresh Credits page and returns the answer.
func (b *visitor) crBuy(credits int64) page {
	b.t.Helper()
	p := b.get("/portal/credits")
	return b.post("/portal/credits/buy", url.Values{"csrf": {b.csrf()}, "key": {crPackageForm(b.t, p.body, credits)},
		"credits": {fmt.Sprint(credits)}})
}

// crText writes whole credits as the page does: digits grouped by commas.
func crText(ucr int64) string {
	s := fmt.Sprint(ucr / billow.MicroCreditsPerCredit)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// The Credits page shows the balance and its value, the credits left by grant kind (free,
// promotional with its expiry, paid) and each grant, and the movements newest first, a
// page at a time.
func TestCreditsPageBalance(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := newSite(t, env, siteOptions{})
		expires := env.Clock.Now().AddDate(0, 2, 0)
		if status, m := s.api(adminKey, "POST", "/v1/accounts/acme-bots/grants", map[string]any{"kind": "promotional",
			"amount_ucr": 750 * billow.MicroCreditsPerCredit, "expires_at": expires.Format(time.RFC3339), "id": "launch-promo",
			"description": "Launch promotion"}); status != 201 {
			t.Fatalf("grant = %d %v", status, m)
		}
		w := s.crWallet("acme-bots")
		byKind := map[billow.GrantKind]int64{}
		for _, g := range w.Grants {
			byKind[g.Kind] += g.RemainingUcr
		}
		if byKind[billow.GrantFree] == 0 || byKind[billow.GrantPaid] == 0 || byKind[billow.GrantPromotional] != 750*billow.MicroCreditsPerCredit {
			t.Fatalf("the demo wallet is not what the test needs: %+v", byKind)
		}
		if w.BalanceUcr%billow.MicroCreditsPerCredit != 0 {
			t.Fatalf("balance %d is not whole credits", w.BalanceUcr)
		}

		b := s.browser()
		b.enter(s.link("acme-bots", billow.RoleOwner))
		p := b.get("/portal/credits")
		if p.status != 200 {
			t.Fatalf("credits page = %d: %.300s", p.status, p.body)
		}
		balance := crText(w.BalanceUcr)
		cents := (w.BalanceUcr + 5_000_000) / 10_000_000 // 1 USD = 1,000 credits = 10⁹ µcr
		dollars := fmt.Sprintf("$%d.%02d", cents/100, cents%100)
		for _, want := range []string{
			"1 USD = 1,000 credits",
			`<p class="big-amount">` + balance + ` <span class="unit">credits</span></p>`,
			"worth " + dollars,
			"<dt>Free</dt><dd><strong>" + crText(byKind[billow.GrantFree]) + "</strong>",
			"<dt>Promotional</dt><dd><strong>750</strong> <span class=\"muted\">$0.75</span>",
			"<dt>Paid</dt><dd><strong>" + crText(byKind[billow.GrantPaid]) + "</strong>",
			"next expiry " + expires.In(crZone(t, "America/Los_Angeles")).Format("2 Jan 2006"),
			"Launch promotion",
			`aria-current="page">Credits</a>`,
		} {
			if !strings.Contains(p.body, want) {
				t.Errorf("the page lacks %q", want)
			}
		}
		// The grant appears in the movements, newest first.
		rows := html.UnescapeString(regexp.MustCompile(`(?s)<table class="data transactions">.*?</table>`).FindString(p.body))
		first := regexp.MustCompile(`(?s)<tbody>\s*<tr>\s*<td class="nowrap">[^<]*</td>\s*<td>([^<]*)</td>\s*<td class="num added">\+750</td>\s*<td class="num">\$0\.75</td>\s*<td class="num">` +
			regexp.QuoteMeta(balance) + `</td>`)
		if !first.MatchString(rows) {
			t.Errorf("the newest movement is not the grant:\n%.1500s", rows)
		}

		// Pages of TransactionsPageRows, older ones behind a link.
		for i := range 30 {
			if status, m := s.api(adminKey, "POST", "/v1/accounts/acme-bots/grants", map[string]any{"kind": "paid",
				"amount_ucr": billow.MicroCreditsPerCredit, "id": fmt.Sprintf("small-%d", i), "description": fmt.Sprintf("Gift %d", i)}); status != 201 {
				t.Fatalf("grant = %d %v", status, m)
			}
		}
		table := regexp.MustCompile(`(?s)<table class="data transactions">.*?</table>`)
		p = b.get("/portal/credits")
		older := regexp.MustCompile(`href="(/portal/credits\?after=\d+#transactions)"`).FindStringSubmatch(p.body)
		rows = table.FindString(p.body)
		if n := strings.Count(rows, "<tr>") - 1; n != 25 || older == nil || !strings.Contains(rows, "Gift 29<") || strings.Contains(rows, "Gift 4<") {
			t.Fatalf("first page: %d rows, older link %v", n, older)
		}
		if !strings.Contains(p.body, "more, spent after these") {
			t.Error("the grants beyond the first ones are not counted")
		}
		p2 := b.get(older[1])
		rows2 := table.FindString(p2.body)
		if p2.status != 200 || !strings.Contains(rows2, "Gift 4<") || strings.Contains(rows2, "Gift 29<") || !strings.Contains(p2.body, "Newest") {
			t.Fatalf("second page = %d", p2.status)
		}
		// Hand-made cursors are harmless.
		if p := b.get("/portal/credits?after=nonsense"); p.status != 200 || !strings.Contains(table.FindString(p.body), "Gift 29<") {
			t.Fatalf("a bad cursor = %d", p.status)
		}
	})
}

func crZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// A package bought with a good card grows the wallet by exactly the package, once
// however often its form is sent; a declined card says why and grants nothing; a card
// that asks for an OTP continues on the order's page; a wire transfer waits; without a
// payment method nothing is ordered.
func TestCreditsBuy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := newSite(t, env, siteOptions{})
		b := s.browser()
		b.enter(s.link("acme-bots", billow.RoleBilling))
		before := s.crWallet("acme-bots").BalanceUcr

		page := b.get("/portal/credits")
		for _, want := range []string{"1,000 credits", "$1.00", "2,000 credits", "$2.00", "10,000 credits", "$10.00",
			"Charged to <strong>Visa •••• 4242</strong>", "From 1,000 to 1,000,000 credits, in multiples of 10"} {
			if !strings.Contains(page.body, want) {
				t.Errorf("the buy form lacks %q", want)
			}
		}
		form := url.Values{"csrf": {b.csrf()}, "key": {crPackageForm(t, page.body, 2000)}, "credits": {"2000"}}
		p := b.post("/portal/credits/buy", form)
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/portal/credits?result=bought&credits=2000" {
			t.Fatalf("buy = %d %q: %.300s", p.status, p.header.Get("Location"), p.body)
		}
		if got := s.crWallet("acme-bots").BalanceUcr - before; got != 2000*billow.MicroCreditsPerCredit {
			t.Fatalf("the wallet grew by %d µcr, want 2,000 credits", got)
		}
		done := b.get(p.header.Get("Location"))
		if !strings.Contains(done.body, "Thank you: 2,000 credits were added to your balance.") {
			t.Errorf("no confirmation: %.300s", done.body)
		}
		// The same form again (a double click, a retry) buys nothing more.
		again := b.post("/portal/credits/buy", form)
		if again.status != http.StatusSeeOther || again.header.Get("Location") != p.header.Get("Location") {
			t.Fatalf("the form again = %d %q", again.status, again.header.Get("Location"))
		}
		if got := s.crWallet("acme-bots").BalanceUcr - before; got != 2000*billow.MicroCreditsPerCredit {
			t.Fatalf("the form sent twice bought twice: +%d µcr", got)
		}
		// The same key for another amount is refused.
		if p := b.post("/portal/credits/buy", url.Values{"csrf": {b.csrf()}, "key": form["key"], "credits": {"5000"}}); p.status != http.StatusConflict {
			t.Fatalf("a key reused for another amount = %d", p.status)
		}
		// Another amount; a refused amount is explained and orders nothing.
		page = b.get("/portal/credits")
		key := crOtherForm(t, page.body)
		for _, bad := range []string{"500", "1005", "2000000", "lots"} {
			p := b.post("/portal/credits/buy", url.Values{"csrf": {b.csrf()}, "key": {key}, "credits": {bad}})
			if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `id="buy-error"`) ||
				!strings.Contains(p.body, `value="`+bad+`"`) {
				t.Errorf("buy %s = %d", bad, p.status)
			}
		}
		p = b.post("/portal/credits/buy", url.Values{"csrf": {b.csrf()}, "key": {key}, "credits": {"1,230"}})
		if p.header.Get("Location") != "/portal/credits?result=bought&credits=1230" {
			t.Fatalf("buy 1,230 = %d %q", p.status, p.header.Get("Location"))
		}
		if got := s.crWallet("acme-bots").BalanceUcr - before; got != 3230*billow.MicroCreditsPerCredit {
			t.Fatalf("after 2,000 and 1,230 credits the wallet grew by %d µcr", got)
		}

		// Declined: nothing granted, the reason said.
		s.crAddMethod("acme-bots", crCard(sandbox.CardInsufficientFunds, true))
		before = s.crWallet("acme-bots").BalanceUcr
		p = b.crBuy(1000)
		if p.header.Get("Location") != "/portal/credits?result=declined&code=insufficient_funds" {
			t.Fatalf("declined buy = %d %q", p.status, p.header.Get("Location"))
		}
		if msg := b.get(p.header.Get("Location")); !strings.Contains(msg.body, "insufficient funds") ||
			!strings.Contains(msg.body, "Nothing was charged and no credits were added") || !strings.Contains(msg.body, `role="alert"`) {
			t.Errorf("the decline is not explained: %.300s", msg.body)
		}
		if got := s.crWallet("acme-bots").BalanceUcr; got != before {
			t.Fatalf("a declined purchase changed the wallet by %d µcr", got-before)
		}

		// An OTP card: the order waits on its page; nothing is granted yet.
		s.crAddMethod("acme-bots", crCard(sandbox.CardOTP, true))
		p = b.crBuy(1000)
		if loc := p.header.Get("Location"); p.status != http.StatusSeeOther || !strings.HasPrefix(loc, "/portal/orders/"+billow.PrefixOrder) {
			t.Fatalf("OTP buy = %d %q", p.status, loc)
		}
		if got := s.crWallet("acme-bots").BalanceUcr; got != before {
			t.Fatalf("an unconfirmed purchase changed the wallet by %d µcr", got-before)
		}

		// A wire transfer waits for clearance.
		s.crAddMethod("acme-bots", map[string]any{"kind": "wire", "default": true})
		if p := b.crBuy(1000); p.header.Get("Location") != "/portal/credits?result=pending_wire" {
			t.Fatalf("wire buy = %d %q", p.status, p.header.Get("Location"))
		}
		if got := s.crWallet("acme-bots").BalanceUcr; got != before {
			t.Fatalf("an uncleared wire changed the wallet by %d µcr", got-before)
		}

		// Without a payment method the page says so and nothing is ordered.
		h := s.browser()
		h.enter(s.link("hobbyist", billow.RoleOwner))
		hp := h.get("/portal/credits")
		if !strings.Contains(hp.body, "There is no payment method to pay with") || !strings.Contains(hp.body, "data-buy=\"1000\" disabled") {
			t.Errorf("hobbyist's page does not say there is no payment method")
		}
		hb := h.crBuy(1000)
		if hb.header.Get("Location") != "/portal/credits?result=no_method" {
			t.Fatalf("buy without a method = %d %q", hb.status, hb.header.Get("Location"))
		}
		// A form without its key is refused.
		if p := h.post("/portal/credits/buy", url.Values{"csrf": {h.csrf()}, "credits": {"1000"}}); p.status != http.StatusBadRequest {
			t.Fatalf("no key = %d", p.status)
		}
	})
}

// Auto-billing turns on and off and stays so; enterprise accounts have no such setting.
func TestCreditsAutoBilling(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := newSite(t, env, siteOptions{})
		b := s.browser()
		b.enter(s.link("acme-bots", billow.RoleOwner))
		if s.crAccount("acme-bots").AutoBilling {
			t.Fatal("the demo leaves acme-bots with auto-billing off")
		}
		p := b.get("/portal/credits")
		if !strings.Contains(p.body, `name="auto_billing" value="on"`) || !strings.Contains(p.body, "Turn auto-billing on") {
			t.Fatalf("no way to turn auto-billing on")
		}
		for _, tc := range []struct {
			value string
			want  bool
			text  string
		}{{"on", true, "Turn auto-billing off"}, {"off", false, "Turn auto-billing on"}, {"on", true, "Turn auto-billing off"}} {
			p := b.post("/portal/credits/auto-billing", url.Values{"csrf": {b.csrf()}, "auto_billing": {tc.value}})
			if p.status != http.StatusSeeOther || p.header.Get("Location") != "/portal/credits?result=auto_billing_"+tc.value+"#auto-billing" {
				t.Fatalf("auto-billing %s = %d %q", tc.value, p.status, p.header.Get("Location"))
			}
			if got := s.crAccount("acme-bots").AutoBilling; got != tc.want {
				t.Fatalf("auto-billing %s stored %v", tc.value, got)
			}
			if page := b.get(p.header.Get("Location")); !strings.Contains(page.body, tc.text) || !strings.Contains(page.body, "Auto-billing is "+tc.value) {
				t.Errorf("after %s the page lacks %q", tc.value, tc.text)
			}
		}
		if p := b.post("/portal/credits/auto-billing", url.Values{"csrf": {b.csrf()}, "auto_billing": {"maybe"}}); p.status != http.StatusBadRequest ||
			!s.crAccount("acme-bots").AutoBilling {
			t.Fatalf("a bad value = %d", p.status)
		}
		// The plan page says the same.
		if home := b.get("/portal/"); !strings.Contains(home.body, "On: renewals are charged to Visa •••• 4242") {
			t.Error("the plan page does not show auto-billing on")
		}

		g := s.browser()
		g.enter(s.link("globex", billow.RoleOwner))
		if p := g.get("/portal/credits"); p.status != 200 || strings.Contains(p.body, "auto-billing") {
			t.Errorf("an enterprise account is offered auto-billing: %d", p.status)
		}
		if p := g.post("/portal/credits/auto-billing", url.Values{"csrf": {g.csrf()}, "auto_billing": {"off"}}); p.status != http.StatusNotFound {
			t.Errorf("enterprise auto-billing = %d", p.status)
		}
	})
}

// Auto-charge settings are saved and stay; refused ones say why at their field and
// write nothing.
func TestCreditsAutoCharge(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := newSite(t, env, siteOptions{})
		b := s.browser()
		b.enter(s.link("acme-bots", billow.RoleOwner))
		if p := b.get("/portal/credits"); !strings.Contains(p.body, `id="auto-charge"`) || !strings.Contains(p.body, "Save auto-charge") {
			t.Fatal("no auto-charge form")
		}
		save := func(f url.Values) page {
			f.Set("csrf", b.csrf())
			return b.post("/portal/credits/auto-charge", f)
		}
		for _, tc := range []struct {
			form  url.Values
			field string
			text  string
		}{
			{url.Values{"enabled": {"on"}, "threshold_credits": {"abc"}, "top_up_credits": {"2000"}}, "ac-threshold-error", "whole credits"},
			{url.Values{"enabled": {"on"}, "threshold_credits": {"0"}, "top_up_credits": {"2000"}}, "ac-threshold-error", "whole credits"},
			{url.Values{"enabled": {"on"}, "threshold_credits": {"500"}, "top_up_credits": {"500"}}, "ac-topup-error", "cannot be bought: choose from 1,000 to 1,000,000 credits"},
			{url.Values{"enabled": {"on"}, "threshold_credits": {"500"}, "top_up_credits": {"1005"}}, "ac-topup-error", "in multiples of 10"},
			{url.Values{"enabled": {"on"}, "threshold_credits": {"500"}}, "ac-topup-error", "Choose how many credits"},
		} {
			p := save(tc.form)
			if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `id="`+tc.field+`"`) || !strings.Contains(p.body, tc.text) {
				t.Errorf("%v = %d, want the error at %s", tc.form, p.status, tc.field)
			}
			// The form comes back as it was sent.
			if v := tc.form.Get("threshold_credits"); !strings.Contains(p.body, `name="threshold_credits" min="1" step="1" inputmode="numeric" value="`+v+`"`) {
				t.Errorf("%v: the threshold typed is not shown again", tc.form)
			}
			if ac := s.crAutoCharge("acme-bots"); ac["enabled"] != false || ac["threshold_credits"] != 0.0 {
				t.Fatalf("a refused setting was written: %v", ac)
			}
		}

		p := save(url.Values{"enabled": {"on"}, "threshold_credits": {"500"}, "top_up_credits": {"2,000"}})
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/portal/credits?result=auto_charge_saved#auto-charge" {
			t.Fatalf("save = %d %q: %.300s", p.status, p.header.Get("Location"), p.body)
		}
		ac := s.crAutoCharge("acme-bots")
		if ac["enabled"] != true || ac["threshold_credits"] != 500.0 || ac["top_up_credits"] != 2000.0 {
			t.Fatalf("stored %v", ac)
		}
		page := b.get(p.header.Get("Location"))
		for _, want := range []string{"Your auto-charge settings are saved.", `id="ac-enabled" name="enabled" value="on" checked`,
			`value="500"`, `value="2000"`, `<span class="badge badge-ok">On</span>`} {
			if !strings.Contains(page.body, want) {
				t.Errorf("the saved settings lack %q", want)
			}
		}
		// Off, the threshold stays for the notices.
		if p := save(url.Values{"threshold_credits": {"300"}, "top_up_credits": {"2000"}}); p.status != http.StatusSeeOther {
			t.Fatalf("turn off = %d", p.status)
		}
		if ac := s.crAutoCharge("acme-bots"); ac["enabled"] != false || ac["threshold_credits"] != 300.0 {
			t.Fatalf("stored %v", ac)
		}

		// A wire transfer as the default, or none at all, cannot be charged automatically.
		s.crAddMethod("acme-bots", map[string]any{"kind": "wire", "default": true})
		p = save(url.Values{"enabled": {"on"}, "threshold_credits": {"500"}, "top_up_credits": {"2000"}})
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "cannot pay by wire transfer") {
			t.Errorf("enable with a wire default = %d", p.status)
		}
		h := s.browser()
		h.enter(s.link("hobbyist", billow.RoleOwner))
		hp := h.post("/portal/credits/auto-charge", url.Values{"csrf": {h.csrf()}, "enabled": {"on"}, "threshold_credits": {"500"},
			"top_up_credits": {"2000"}})
		if hp.status != http.StatusUnprocessableEntity || !strings.Contains(hp.body, `id="ac-enabled-error"`) ||
			!strings.Contains(hp.body, "Add a card on Payment methods first") {
			t.Errorf("enable without a method = %d", hp.status)
		}
		if ac := s.crAutoCharge("hobbyist"); ac["enabled"] != false || ac["threshold_credits"] != 0.0 {
			t.Fatalf("a refused setting was written: %v", ac)
		}
	})
}

// Developers and admins read the page without a single form to change anything, and
// every action answers 403 and changes nothing.
func TestCreditsReadOnlyRoles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := newSite(t, env, siteOptions{})
		b := s.browser()
		b.enter(s.link("acme-bots", billow.RoleDeveloper))
		p := b.get("/portal/credits")
		if p.status != 200 || !strings.Contains(p.body, "Only an owner or a billing member of your account can buy credits") ||
			!strings.Contains(p.body, "$2.00") {
			t.Fatalf("developer's credits page = %d", p.status)
		}
		if m := regexp.MustCompile(`<form method="post" action="/portal/(credits|payment-methods)[^"]*"`).FindString(p.body); m != "" {
			t.Errorf("a developer is offered %s", m)
		}
		if strings.Contains(p.body, "Save auto-charge") || strings.Contains(p.body, "Turn auto-billing") {
			t.Error("a developer is offered the settings")
		}
		pm := b.get("/portal/payment-methods")
		if pm.status != 200 || strings.Contains(pm.body, `<form method="post" action="/portal/payment-methods`) ||
			strings.Contains(pm.body, "Add card") || !strings.Contains(pm.body, "Visa •••• 4242") {
			t.Errorf("developer's payment methods page = %d", pm.status)
		}
		walletBefore, methods := s.crWallet("acme-bots").BalanceUcr, s.crMethods("acme-bots")
		other := methods[len(methods)-1].ID
		token := b.csrf()
		for path, form := range map[string]url.Values{
			"/portal/credits/buy":                           {"credits": {"1000"}, "key": {strings.Repeat("ab", 16)}},
			"/portal/credits/auto-charge":                   {"enabled": {"on"}, "threshold_credits": {"500"}, "top_up_credits": {"2000"}},
			"/portal/credits/auto-billing":                  {"auto_billing": {"on"}},
			"/portal/payment-methods":                       {"kind": {"card"}, "number": {sandbox.CardVisa}, "exp_month": {"12"}, "exp_year": {"2030"}, "cvc": {"123"}},
			"/portal/payment-methods/" + other + "/default": {},
		} {
			form.Set("csrf", token)
			if p := b.post(path, form); p.status != http.StatusForbidden || !strings.Contains(p.body, "can view billing but not pay") {
				t.Errorf("developer POST %s = %d", path, p.status)
			}
		}
		if s.crWallet("acme-bots").BalanceUcr != walletBefore || s.crAccount("acme-bots").AutoBilling ||
			s.crAutoCharge("acme-bots")["threshold_credits"] != 0.0 || len(s.crMethods("acme-bots")) != len(methods) ||
			s.crMethods("acme-bots")[0].ID != methods[0].ID {
			t.Fatal("a developer's refused action changed something")
		}
	})
}

// The portal's transactions export is the API's: the same bytes for the same days,
// under the same name; a range it cannot take is explained on the page.
func TestCreditsTransactionsCSV(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := newSite(t, env, siteOptions{})
		s.api(adminKey, "POST", "/v1/accounts/acme-bots/grants", map[string]any{"kind": "paid", "amount_ucr": 1_500_000,
			"id": "csv-1", "description": "=HYPERLINK(\"x\")"})
		b := s.browser()
		b.enter(s.link("acme-bots", billow.RoleDeveloper)) // reading needs no paying role
		loc := crZone(t, "America/Los_Angeles")
		to := env.Clock.Now().In(loc).Format(time.DateOnly)
		from := env.Clock.Now().In(loc).AddDate(0, -6, 0).Format(time.DateOnly)
		csv := b.get("/portal/credits/transactions.csv?from=" + from + "&to=" + to)
		fromT, _ := time.ParseInLocation(time.DateOnly, from, loc)
		toT, _ := time.ParseInLocation(time.DateOnly, to, loc)
		if csv.status != 200 || !strings.HasPrefix(csv.header.Get("Content-Type"), "text/csv") ||
			csv.header.Get("Content-Disposition") != fmt.Sprintf("attachment; filename=transactions-acme-bots-%d.csv", fromT.Year()) {
			t.Fatalf("CSV = %d %v", csv.status, csv.header)
		}
		lines := strings.Split(strings.TrimSpace(csv.body), "\n")
		if lines[0] != "Date,Transaction ID,Description,Credits,Value,Currency,Balance after" || len(lines) < 3 ||
			!strings.Contains(csv.body, `,"'=HYPERLINK(""x"")",1.5,0.0015,USD,`) {
			t.Fatalf("CSV:\n%s", csv.body)
		}
		req, _ := http.NewRequest("GET", s.base+"/v1/accounts/acme-bots/transactions.csv?"+url.Values{
			"from": {fromT.Format(time.RFC3339)}, "to": {toT.AddDate(0, 0, 1).Format(time.RFC3339)}}.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+adminKey)
		resp, err := s.client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		api, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(api) != csv.body {
			t.Fatalf("the portal's CSV differs from the API's (%d):\nportal:\n%s\napi:\n%s", resp.StatusCode, csv.body, api)
		}
		for _, q := range []string{"from=2026-02-01&to=2026-01-01", "from=&to=2026-01-01", "from=2024-01-01&to=2026-01-10"} {
			if p := b.get("/portal/credits/transactions.csv?" + q); p.status != http.StatusBadRequest || !strings.Contains(p.body, `id="tx-csv-error"`) {
				t.Errorf("export %s = %d", q, p.status)
			}
		}
	})
}

// lockedBuffer is a log destination tests read while the server writes.
type lockedBuffer struct {
	mu sync.Mutex // protects b
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// crLogger logs everything, down to debug, into a buffer.
func crLogger() (*slog.Logger, *lockedBuffer) {
	buf := &lockedBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// The Credits and Payment methods pages, their errors included, carry no inline script
// or style, as the CSP requires, and every input has a label.
func TestCreditsPagesMarkup(t *testing.T) {
	env := storetest.Open(t, sqlstore.SQLite)
	s := newSite(t, env, siteOptions{})
	b := s.browser()
	b.enter(s.link("acme-bots", billow.RoleOwner))
	inline := regexp.MustCompile(`(?i)\sstyle\s*=|\son[a-z]+\s*=|javascript:|<style|<script>`)
	inputs := regexp.MustCompile(`<(input|select)[^>]*\sid="([^"]+)"`)
	for name, p := range map[string]page{
		"credits":         b.get("/portal/credits"),
		"payment methods": b.get("/portal/payment-methods"),
		"refused card": b.post("/portal/payment-methods", url.Values{"csrf": {b.csrf()}, "kind": {"card"}, "number": {"1234"},
			"exp_month": {"1"}, "exp_year": {"2020"}, "cvc": {"1"}}),
		"refused auto-charge": b.post("/portal/credits/auto-charge", url.Values{"csrf": {b.csrf()}, "threshold_credits": {"x"}}),
	} {
		if m := inline.FindString(p.body); m != "" {
			t.Errorf("%s has inline code: %q", name, m)
		}
		for _, m := range inputs.FindAllStringSubmatch(p.body, -1) {
			if !strings.Contains(p.body, `<label for="`+m[2]+`"`) {
				t.Errorf("%s: %s#%s has no label", name, m[1], m[2])
			}
		}
		if strings.Count(p.body, "<h1") != 1 {
			t.Errorf("%s has %d h1", name, strings.Count(p.body, "<h1"))
		}
	}
}
