package portal_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// TestCreditsInBrowser walks the Credits and Payment methods pages in chromium on a
// small site (the demo's accounts and billing history, no usage): a billing member
// opens Credits, buys a package, turns auto-billing on, saves auto-charge, adds a card on
// Payment methods and makes it the default; a developer reads without forms; both pages
// fit a phone. Each step saves a screenshot (browser_test.go says where).
func TestCreditsInBrowser(t *testing.T) {
	chromiumPath(t) // skip before loading anything when there is no browser
	env := storetest.Open(t, sqlstore.SQLite)
	s := newSite(t, env, siteOptions{})
	tb := newTab(t)
	step := func(name string, fn func(t *testing.T)) {
		t.Run(name, func(t *testing.T) {
			tb.t = t
			defer func() {
				if t.Failed() {
					if png, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100)); err == nil {
						p := filepath.Join(tb.shots, "credits-failed-"+strings.ReplaceAll(name, " ", "-")+".png")
						os.WriteFile(p, png, 0o644)
						t.Logf("failed at %s; screenshot %s", tb.location(), p)
					}
				}
			}()
			fn(t)
		})
	}
	balance := func() int64 { return s.crWallet("acme-bots").BalanceUcr }

	step("open Credits", func(t *testing.T) {
		tb.load(chromedp.Navigate(s.link("acme-bots", billow.RoleBilling)))
		tb.load(chromedp.Click(chromedp.CSS(`nav a[href="/portal/credits"]`)))
		if got := run(tb, chromedp.Title()); got != "Credits · Acme Cloud Billing" {
			t.Errorf("title %q", got)
		}
		if got := tb.text(".big-amount"); got != crText(balance())+" credits" {
			t.Errorf("balance %q, the wallet holds %s credits", got, crText(balance()))
		}
		if n := tb.count("[data-buy]"); n != 4 {
			t.Errorf("%d packages offered", n)
		}
		tb.shot("credits-01-page")
	})

	step("buy a package", func(t *testing.T) {
		before := balance()
		tb.load(chromedp.Click(chromedp.CSS(`[data-buy="2000"]`)))
		if got := tb.text(".alert"); !strings.Contains(got, "2,000 credits were added") {
			t.Fatalf("after buying: %q", got)
		}
		if got := balance() - before; got != 2000*billow.MicroCreditsPerCredit {
			t.Fatalf("the wallet grew by %d µcr", got)
		}
		if got := tb.text(".big-amount"); got != crText(balance())+" credits" {
			t.Errorf("balance %q after buying", got)
		}
		tb.shot("credits-02-bought")
	})

	step("turn auto-billing on", func(t *testing.T) {
		tb.load(chromedp.Click(chromedp.CSS(`[data-auto-billing]`)))
		if got := tb.text(".alert"); !strings.Contains(got, "Auto-billing is on") {
			t.Fatalf("after the toggle: %q", got)
		}
		if !s.crAccount("acme-bots").AutoBilling {
			t.Fatal("auto-billing is not on in the store")
		}
		if got := tb.text("#auto-billing [data-auto-billing]"); got != "Turn auto-billing off" {
			t.Errorf("the button says %q", got)
		}
		tb.do(chromedp.ScrollIntoView(chromedp.CSS("#auto-billing")))
		tb.shotView("credits-03-auto-billing")
	})

	step("save auto-charge", func(t *testing.T) {
		// Turned on without a top-up: refused at its field, nothing written.
		tb.do(chromedp.Click(chromedp.CSS("#ac-enabled")), chromedp.SetValue(chromedp.CSS("#ac-threshold"), "500"))
		tb.load(chromedp.Click(chromedp.CSS(`#auto-charge button[type=submit]`)))
		if got := tb.text("#ac-topup-error"); !strings.Contains(got, "Choose how many credits one top-up buys") {
			t.Fatalf("a top-up left out: %q", got)
		}
		if ac := s.crAutoCharge("acme-bots"); ac["threshold_credits"] != 0.0 {
			t.Fatalf("a refused setting was stored: %v", ac)
		}
		tb.do(chromedp.ScrollIntoView(chromedp.CSS("#auto-charge")))
		tb.shotView("credits-04a-auto-charge-refused")
		tb.do(chromedp.Click(chromedp.CSS("#ac-enabled")))
		tb.do(chromedp.Click(chromedp.CSS("#ac-enabled")), chromedp.SetValue(chromedp.CSS("#ac-threshold"), "500"),
			chromedp.SetValue(chromedp.CSS("#ac-topup"), "5000"))
		tb.load(chromedp.Click(chromedp.CSS(`#auto-charge button[type=submit]`)))
		if got := tb.text(".alert"); !strings.Contains(got, "auto-charge settings are saved") {
			t.Fatalf("after saving: %q", got)
		}
		if ac := s.crAutoCharge("acme-bots"); ac["enabled"] != true || ac["threshold_credits"] != 500.0 || ac["top_up_credits"] != 5000.0 {
			t.Fatalf("stored %v", ac)
		}
		tb.do(chromedp.ScrollIntoView(chromedp.CSS("#auto-charge")))
		tb.shotView("credits-04-auto-charge")
	})

	var added string
	step("add a card", func(t *testing.T) {
		tb.load(chromedp.Click(chromedp.CSS(`nav a[href="/portal/payment-methods"]`)))
		tb.shot("credits-05-payment-methods")
		// A mistyped number is refused at its field, and the form comes back without it.
		tb.do(chromedp.SendKeys(chromedp.CSS("#card-number"), "3782 822463 10006"),
			chromedp.SendKeys(chromedp.CSS("#card-name"), "Fin Finance"),
			chromedp.SetValue(chromedp.CSS("#card-month"), "7"), chromedp.SetValue(chromedp.CSS("#card-year"), "2031"),
			chromedp.SendKeys(chromedp.CSS("#card-cvc"), "1234"))
		tb.load(chromedp.Click(chromedp.CSS("[data-add-card]")))
		if got := tb.text("#card-number-error"); !strings.Contains(got, "Check the card number") {
			t.Fatalf("a mistyped number: %q", got)
		}
		if v := eval[string](tb, `document.querySelector("#card-number").value + document.querySelector("#card-cvc").value`); v != "" {
			t.Errorf("the refused form keeps %q", v)
		}
		if v := eval[string](tb, `document.querySelector("#card-name").value + " " + document.querySelector("#card-month").value`); v != "Fin Finance 7" {
			t.Errorf("the refused form lost the name or month: %q", v)
		}
		tb.do(chromedp.ScrollIntoView(chromedp.CSS("#add-card")))
		tb.shotView("credits-05b-card-refused")
		tb.do(chromedp.SendKeys(chromedp.CSS("#card-number"), "3782 822463 10005"),
			chromedp.SendKeys(chromedp.CSS("#card-cvc"), "1234"))
		tb.load(chromedp.Click(chromedp.CSS("[data-add-card]")))
		if got := tb.text(".alert"); !strings.Contains(got, "The payment method is added") {
			t.Fatalf("after adding: %q", got)
		}
		for _, m := range s.crMethods("acme-bots") {
			if m.Last4 == "0005" {
				added = m.ID
			}
		}
		if added == "" {
			t.Fatal("the card is not stored")
		}
		if got := tb.text("li#" + added + " .method-label"); !strings.Contains(got, "American Express •••• 0005") {
			t.Errorf("the new row says %q", got)
		}
		if strings.Contains(eval[string](tb, "document.documentElement.outerHTML"), "822463") {
			t.Error("the page holds the card number")
		}
		tb.shot("credits-06-card-added")
	})

	step("make it the default", func(t *testing.T) {
		tb.load(chromedp.Click(chromedp.CSS("li#" + added + " form button")))
		if got := tb.text("li#" + added + " [data-default]"); got != "Default" {
			t.Fatalf("the card's badge says %q", got)
		}
		if ms := s.crMethods("acme-bots"); ms[0].ID != added {
			t.Fatalf("the default is %s", ms[0].Label())
		}
		if n := tb.count("[data-default]"); n != 1 {
			t.Errorf("%d defaults shown", n)
		}
		tb.shot("credits-07-default")
		// Credits now charges it.
		tb.load(chromedp.Click(chromedp.CSS(`nav a[href="/portal/credits"]`)))
		if got := tb.text("#buy-limits"); !strings.Contains(got, "American Express •••• 0005") {
			t.Errorf("the buy form charges %q", got)
		}
	})

	step("a developer reads", func(t *testing.T) {
		tb.load(chromedp.Navigate(s.link("acme-bots", billow.RoleDeveloper)))
		tb.load(chromedp.Navigate(s.base + "/portal/credits"))
		if n := tb.count(`form[method="post"][action^="/portal/credits"]`); n != 0 {
			t.Errorf("a developer is offered %d forms", n)
		}
		tb.shot("credits-08-developer")
		tb.load(chromedp.Navigate(s.base + "/portal/payment-methods"))
		if n := tb.count(`form[method="post"][action^="/portal/payment-methods"]`); n != 0 {
			t.Errorf("a developer is offered %d forms", n)
		}
		tb.shot("credits-09-developer-methods")
	})

	step("empty states", func(t *testing.T) {
		tb.load(chromedp.Navigate(s.link("hobbyist", billow.RoleOwner)))
		tb.load(chromedp.Navigate(s.base + "/portal/credits"))
		if n := tb.count("[data-buy]:disabled"); n != 4 {
			t.Errorf("without a payment method %d packages can be bought", 4-n)
		}
		tb.shot("credits-11-hobbyist-credits")
		tb.load(chromedp.Navigate(s.base + "/portal/payment-methods"))
		if got := tb.text(".empty"); !strings.Contains(got, "No payment methods yet") {
			t.Errorf("the empty list says %q", got)
		}
		tb.shot("credits-12-hobbyist-methods")
	})

	step("on a phone", func(t *testing.T) {
		tb.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
		tb.load(chromedp.Navigate(s.link("acme-bots", billow.RoleOwner)))
		for _, path := range []string{"/portal/credits", "/portal/payment-methods"} {
			tb.load(chromedp.Navigate(s.base + path))
			if w := eval[int](tb, "document.documentElement.scrollWidth"); w > 390 {
				t.Errorf("%s is %dpx wide on a 390px screen", path, w)
				t.Log(eval[string](tb, `Array.from(document.querySelectorAll("*")).filter(e => e.getBoundingClientRect().right > 391).slice(0, 15).map(e => e.tagName + "." + e.className + "#" + e.id + " " + Math.round(e.getBoundingClientRect().right)).join("\n")`))
			}
			tb.shot("credits-10-phone" + strings.ReplaceAll(path, "/", "-"))
		}
	})
}
