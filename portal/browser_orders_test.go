package portal_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/payment/sandbox"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// TestPortalOrdersInBrowser walks seed 000's Subscribe flow and Deployment Flow in
// chromium, on a site without usage history (quick to load): the owner of a Free
// account opens Plans from Plan & Usage, chooses Pay as you go, adds an add-on and reads
// the proration preview, pays with the sandbox card that asks for an OTP, types a wrong
// code and then the right one, and lands on Plan & Usage on the new plan; the order
// form fits a phone. A developer requests a deployment; the owner approves it. Each step
// saves a screenshot (orders-*.png) in $BILLOW_SCREENSHOTS, or in the test's temporary
// directory.
func TestPortalOrdersInBrowser(t *testing.T) {
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
						p := filepath.Join(tb.shots, "orders-failed-"+strings.ReplaceAll(name, " ", "-")+".png")
						os.WriteFile(p, png, 0o644)
						t.Logf("failed at %s; screenshot %s", tb.location(), p)
					}
				}
			}()
			fn(t)
		})
	}

	step("plans from Plan and Usage", func(t *testing.T) {
		tb.load(chromedp.Navigate(s.link("hobbyist", billow.RoleOwner)))
		if got := tb.text(".plan-name"); got != "Free" {
			t.Fatalf("plan %q", got)
		}
		tb.shot("orders-01-plan-free")
		tb.load(chromedp.Click(chromedp.CSS(`.plan-actions a[href="/portal/plans"]`)))
		if n := tb.count(".plan-card"); n != 2 {
			t.Errorf("%d plans side by side", n)
		}
		if got := tb.text(".plan-current .plan-card-name"); got != "Free" {
			t.Errorf("current plan %q", got)
		}
		tb.shot("orders-02-plans")
	})

	step("order form and preview", func(t *testing.T) {
		tb.load(chromedp.Click(chromedp.CSS(`a[data-plan="pay_as_you_go"]`)))
		if got := tb.text("[data-charge-today]"); got != "$20.00" {
			t.Errorf("charged today %q", got)
		}
		tb.shot("orders-03-checkout")
		// One Whitelabel add-on: the preview follows.
		tb.do(chromedp.SetValue(chromedp.CSS("#addon-whitelabel"), "1"))
		tb.load(chromedp.Click(chromedp.CSS(`.co-options button[type="submit"]`)))
		if got := tb.text("[data-charge-today]"); got != "$220.00" {
			t.Errorf("charged today with Whitelabel %q", got)
		}
		if got := tb.text("[data-preview] table.lines"); !strings.Contains(got, "Pay as you go plan") || !strings.Contains(got, "Whitelabel") {
			t.Errorf("preview lines %q", got)
		}
		// No stored method: a new card is chosen, and its fields show.
		if !eval[bool](tb, `document.querySelector("#method-new_card").checked`) {
			t.Error("new card not chosen")
		}
		tb.do(chromedp.WaitVisible(chromedp.CSS("#f-card-number")), chromedp.WaitNotVisible(chromedp.CSS("#f-paypal")))
		tb.do(
			chromedp.SendKeys(chromedp.CSS("#f-card-number"), "4000 0027 6000 3184"),
			chromedp.SendKeys(chromedp.CSS("#f-card-month"), "12"),
			chromedp.SendKeys(chromedp.CSS("#f-card-year"), "2030"),
			chromedp.SendKeys(chromedp.CSS("#f-card-cvc"), "123"),
			chromedp.SendKeys(chromedp.CSS("#f-card-holder"), "Sam Hobbyist"),
		)
		tb.do(chromedp.ScrollIntoView(chromedp.CSS("#pay-h")))
		tb.shot("orders-04-checkout-card")
	})

	step("OTP", func(t *testing.T) {
		tb.load(chromedp.Click(chromedp.CSS(`#order-form button[type="submit"]`)))
		if !strings.Contains(tb.location(), "/portal/orders/ord_") {
			t.Fatalf("after Submit order: %s", tb.location())
		}
		if got := tb.text("[data-order-status]"); got != "Waiting for your code" {
			t.Errorf("order status %q", got)
		}
		if body := eval[string](tb, `document.body.innerHTML`); strings.Contains(body, "4000 0027 6000 3184") || strings.Contains(body, sandbox.CardOTP) {
			t.Error("the card number is on the order page")
		}
		tb.shot("orders-05-otp")
		tb.do(chromedp.SendKeys(chromedp.CSS("#otp"), "000000"))
		tb.load(chromedp.Click(chromedp.CSS(`.otp-form button[type="submit"]`)))
		if got := tb.text("#otp-error"); !strings.Contains(got, "That code is not right") {
			t.Errorf("wrong OTP: %q", got)
		}
		tb.shot("orders-06-otp-wrong")
		tb.do(chromedp.SendKeys(chromedp.CSS("#otp"), sandbox.OTP))
		tb.load(chromedp.Click(chromedp.CSS(`.otp-form button[type="submit"]`)))
		if loc := tb.location(); loc != s.base+"/portal/?result=subscribed" {
			t.Fatalf("after the OTP: %s", loc)
		}
		if got := tb.text(".plan-name"); got != "Pay as you go" {
			t.Errorf("plan %q", got)
		}
		if got := tb.text(".alert-ok"); !strings.Contains(got, "your subscription is active") {
			t.Errorf("notice %q", got)
		}
		if sub := s.subscription("hobbyist"); sub == nil || sub.Status != billow.SubscriptionActive || len(sub.AddOns) != 1 {
			t.Errorf("subscription %+v", sub)
		}
		tb.shot("orders-07-subscribed")
	})

	step("order form on a phone", func(t *testing.T) {
		tb.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
		tb.load(chromedp.Navigate(s.base + "/portal/plans"))
		tb.shot("orders-08-phone-plans")
		tb.load(chromedp.Navigate(s.base + "/portal/plans/checkout?plan=pay_as_you_go&interval=month&addon.whitelabel=1&addon.client_seat=2"))
		if w := eval[int](tb, "document.documentElement.scrollWidth"); w > 390 {
			t.Errorf("the order form is %dpx wide on a 390px screen", w)
		}
		tb.shot("orders-09-phone-checkout")
		tb.do(chromedp.EmulateViewport(1280, 900))
	})

	step("a declined card, then a wire transfer", func(t *testing.T) {
		s.newAccount("wired")
		tb.load(chromedp.Navigate(s.link("wired", billow.RoleOwner)))
		tb.load(chromedp.Navigate(s.base + "/portal/plans/checkout?plan=pay_as_you_go&interval=month"))
		tb.do(
			chromedp.SendKeys(chromedp.CSS("#f-card-number"), "4000 0000 0000 9995"),
			chromedp.SendKeys(chromedp.CSS("#f-card-month"), "12"),
			chromedp.SendKeys(chromedp.CSS("#f-card-year"), "2030"),
			chromedp.SendKeys(chromedp.CSS("#f-card-cvc"), "123"),
		)
		tb.load(chromedp.Click(chromedp.CSS(`#order-form button[type="submit"]`)))
		if got := tb.text(".alert-bad"); !strings.Contains(got, "insufficient funds") {
			t.Errorf("after a decline: %q", got)
		}
		if v := eval[string](tb, `document.querySelector("#f-card-number").value`); v != "" {
			t.Errorf("the card field holds %q", v)
		}
		if body := eval[string](tb, `document.documentElement.outerHTML`); strings.Contains(body, "4000 0000 0000 9995") || strings.Contains(body, sandbox.CardInsufficientFunds) {
			t.Error("the declined card's number is on the page")
		}
		tb.shot("orders-10-declined")
		tb.do(chromedp.Click(chromedp.CSS(`label[for="method-wire"]`)), chromedp.WaitNotVisible(chromedp.CSS("#f-card-number")))
		tb.load(chromedp.Click(chromedp.CSS(`#order-form button[type="submit"]`)))
		if got := tb.text("[data-order-status]"); got != "Pending payment clearance" {
			t.Errorf("wire order status %q", got)
		}
		if got := tb.text("[data-reference]"); got == "" {
			t.Error("no reference")
		}
		tb.shot("orders-11-wire-pending")
	})

	step("plans with an outstanding invoice", func(t *testing.T) {
		tb.load(chromedp.Navigate(s.link("northwind", billow.RoleOwner)))
		tb.load(chromedp.Navigate(s.base + "/portal/plans?interval=year"))
		if got := tb.text(".callout-warn"); !strings.Contains(got, "Unable to change plans") {
			t.Errorf("callout %q", got)
		}
		tb.shot("orders-12-plans-outstanding")
		tb.load(chromedp.Click(chromedp.CSS(`a[data-plan="essential"]`)))
		if got := tb.text(".co-problem"); !strings.Contains(got, "Pay your outstanding invoices first") {
			t.Errorf("problem %q", got)
		}
		if n := tb.count("#order-form"); n != 0 {
			t.Error("an order form despite the open invoice")
		}
		tb.shot("orders-13-checkout-outstanding")
	})

	var requested string
	step("a developer requests a deployment", func(t *testing.T) {
		tb.load(chromedp.Navigate(s.link("northwind", billow.RoleDeveloper)))
		tb.load(chromedp.Click(chromedp.CSS(`nav a[href="/portal/deployments"]`)))
		value := eval[string](tb, `Array.from(document.querySelectorAll("#d-app option")).find(o => o.textContent === "Support Bot").value`)
		tb.do(tb.choose("#d-app", value), chromedp.SendKeys(chromedp.CSS("#d-note"), "New greeting and holiday hours"))
		tb.shot("orders-14-deployment-request")
		tb.load(chromedp.Click(chromedp.CSS(`.dep-form button[type="submit"]`)))
		if got := tb.text(".alert-ok"); !strings.Contains(got, "Your request is recorded") {
			t.Errorf("notice %q", got)
		}
		requested = eval[string](tb, `document.querySelector("[data-deployment]").dataset.deployment`)
		if got := tb.text(`[data-deployment="` + requested + `"] [data-status]`); got != "Pending" {
			t.Errorf("status %q", got)
		}
		if n := tb.count(`form[action$="/approve"]`); n != 0 {
			t.Errorf("a developer is offered %d approvals", n)
		}
		tb.shot("orders-15-deployment-pending")
	})

	step("the owner approves it", func(t *testing.T) {
		tb.load(chromedp.Navigate(s.link("northwind", billow.RoleOwner)))
		tb.load(chromedp.Click(chromedp.CSS(`nav a[href="/portal/deployments"]`)))
		tb.shot("orders-16-deployment-to-approve")
		row := `[data-deployment="` + requested + `"]`
		tb.do(chromedp.SendKeys(chromedp.CSS(row+` form[action$="/approve"] input[name="reason"]`), "Reviewed in staging"))
		tb.load(chromedp.Click(chromedp.CSS(row + ` form[action$="/approve"] button`)))
		if got := tb.text(row + ` [data-status]`); got != "Approved" {
			t.Errorf("status %q", got)
		}
		if got := tb.text(row); !strings.Contains(got, "by Nora Owner") || !strings.Contains(got, "Reviewed in staging") {
			t.Errorf("row %q", got)
		}
		tb.shot("orders-17-deployment-approved")
	})
}
