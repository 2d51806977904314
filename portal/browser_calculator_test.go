package portal_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/pdf"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// TestCalculatorInBrowser fills the pricing calculator in chromium as a customer of the
// AI for Service catalog would: conversations of 31 minutes, contact center agents, LLM
// tokens, an add-on, yearly billing; submits it, reads the cheapest plan (the API's), opens
// a plan's lines, and looks at the page on a phone. A site without usage history, so that
// it starts quickly.
func TestCalculatorInBrowser(t *testing.T) {
	chromiumPath(t) // skip before loading anything when there is no browser
	env := storetest.Open(t, sqlstore.SQLite)
	s := newSite(t, env, siteOptions{})
	tb := newTab(t)

	tb.load(chromedp.Navigate(s.link("northwind", billow.RoleOwner)))
	tb.load(chromedp.Click(chromedp.CSS(`nav a[href="/portal/calculator"]`)))
	if got := run(tb, chromedp.Title()); got != "Pricing calculator · Acme Cloud Billing" {
		t.Fatalf("title %q at %s", got, tb.location())
	}
	if got := tb.text(".calc-source"); !strings.Contains(got, "Example figures") {
		t.Errorf("first values: %q", got)
	}
	tb.shot("calc-01-example")

	set := func(name, value string) chromedp.Action[chromedp.Void] {
		return chromedp.SetValue(chromedp.CSS(`[name="`+name+`"]`), value)
	}
	tb.do(set("conversations", "20000"), set("minutes", "31"), set("voice_sessions", "5000"), set("apps", "3"),
		set("named.contact_center_ai", "100"), set("concurrent.contact_center_ai", "50"),
		set("input.0", "20000000"), set("output.0", "5000000"), set("add_on.advanced_rag", "1"),
		chromedp.Click(chromedp.CSS(`input[name="interval"][value="year"]`)))
	tb.load(chromedp.Click(chromedp.CSS(".calc-actions button[type=submit]")))
	if loc := tb.location(); !strings.Contains(loc, "interval=year") || !strings.Contains(loc, "conversations=20000") || !strings.HasSuffix(loc, "#estimate") {
		t.Fatalf("after Estimate: %s", loc)
	}
	cheapest := tb.text("[data-cheapest]")
	total := tb.text(".calc-plan.is-cheapest [data-total]")

	// The API's quote for the same usage names the same plan and total.
	status, q := s.api(adminKey, "POST", "/v1/quotes", map[string]any{"account": "northwind", "interval": "year",
		"conversations_per_month": 20000, "conversation_minutes": 31, "voice_sessions_per_month": 5000, "apps": 3,
		"seats":   []any{map[string]any{"product": "contact_center_ai", "named": 100, "concurrent": 50}},
		"llm":     []any{map[string]any{"provider": "openai", "model": "gpt-4o", "input_tokens": 20_000_000, "output_tokens": 5_000_000}},
		"add_ons": []any{map[string]any{"add_on": "advanced_rag", "quantity": 1}}})
	if status != 200 {
		t.Fatalf("POST /v1/quotes = %d: %v", status, q)
	}
	var want map[string]any
	for _, p := range q["plans"].([]any) {
		if p := p.(map[string]any); p["plan"] == q["cheapest"] {
			want = p
		}
	}
	if want == nil || cheapest != want["name"] || total != pdf.FormatMoney(int64(want["total_per_month_minor"].(float64)), "USD", 2) {
		t.Errorf("the page's cheapest is %s at %s; the API's %v", cheapest, total, want)
	}
	t.Logf("cheapest: %s at %s a month", cheapest, total)
	if n := tb.count(".calc-plan"); n != 3 {
		t.Errorf("%d plans side by side", n)
	}
	tb.do(chromedp.ScrollIntoView(chromedp.CSS("#estimate")))
	tb.shotView("calc-02-estimate")

	// A plan's lines open on a click.
	tb.do(chromedp.Click(chromedp.CSS(`[data-plan="advanced"] details summary`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-plan="advanced"] details table`)))
	if got := tb.text(`[data-plan="advanced"] details table`); !strings.Contains(got, "Contact Center AI seats (concurrent)") {
		t.Errorf("advanced's lines: %q", got)
	}
	tb.shot("calc-03-lines")

	// On a phone the plans stack and the form fits the width.
	tb.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	tb.load(chromedp.Reload())
	if w := eval[int](tb, `document.documentElement.scrollWidth`); w > 390 {
		wide := eval[[]string](tb, `Array.from(document.querySelectorAll("body *")).filter(e => e.getBoundingClientRect().right > 391 && !e.closest("nav") && !e.closest("table")).slice(0, 12).map(e => e.tagName + "." + e.className + " " + Math.round(e.getBoundingClientRect().right))`)
		probe := eval[[]string](tb, `(() => { const out = []; for (const sel of ["nav.tabs", ".calc-models", "form.calc-form", ".calc-results", "header", "footer", "details"]) { const els = document.querySelectorAll(sel); const saved = []; els.forEach(e => { saved.push(e.style.display); e.style.display = "none" }); out.push(sel + "=" + document.documentElement.scrollWidth); els.forEach((e, i) => e.style.display = saved[i]) } return out })()`)
		t.Errorf("the page is %d px wide on a 390 px phone: %v %v", w, wide, probe)
	}
	tb.shot("calc-04-phone")
	tb.do(chromedp.ScrollIntoView(chromedp.CSS("#estimate")))
	tb.shotView("calc-05-phone-estimate")
}
