package portal_test

import (
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/pdf"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// calcCard is one plan of the calculator's results, as the page shows it.
type calcCard struct {
	total     string // the total per month
	cheapest  bool
	available bool
	choose    string // the "Choose this plan" link, or ""
}

var (
	calcCardPattern   = regexp.MustCompile(`(?s)<li class="card calc-plan([^"]*)" data-plan="([^"]+)">(.*?)</li>`)
	calcTotalPattern  = regexp.MustCompile(`data-total>([^<]*)<`)
	calcChoosePattern = regexp.MustCompile(`href="(/portal/plans/checkout[^"]*)">Choose this plan`)
)

// calcCards reads the plans of the calculator's results, by key.
func calcCards(t *testing.T, body string) map[string]calcCard {
	t.Helper()
	out := map[string]calcCard{}
	for _, m := range calcCardPattern.FindAllStringSubmatch(body, -1) {
		c := calcCard{cheapest: strings.Contains(m[1], "is-cheapest"), available: !strings.Contains(m[1], "is-unavailable")}
		if tm := calcTotalPattern.FindStringSubmatch(m[3]); tm != nil {
			c.total = html.UnescapeString(tm[1])
		}
		if cm := calcChoosePattern.FindStringSubmatch(m[3]); cm != nil {
			c.choose = html.UnescapeString(cm[1])
		}
		out[m[2]] = c
	}
	if len(out) == 0 {
		t.Fatalf("no plans on the page: %.2000s", body)
	}
	return out
}

// TestPortalCalculator opens the pricing calculator as a customer: example figures for an
// account without usage, the account's own last 30 days for one with usage, the same
// numbers as POST /v1/quotes for a form sent (monthly and yearly), the cheapest plan
// marked with a link to choose each other available plan, and every bad field marked.
func TestPortalCalculator(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := newSite(t, env, siteOptions{usageDays: 2, accounts: map[string]bool{"northwind": true}})

		// No usage (Hobby Projects, Free on the credits platform): example figures.
		b := s.browser()
		b.enter(s.link("hobbyist", billow.RoleOwner))
		p := b.get("/portal/calculator")
		if p.status != 200 || !strings.Contains(p.body, "Example figures") || !strings.Contains(p.body, `aria-current="page">Pricing calculator`) {
			t.Fatalf("calculator = %d: %.1500s", p.status, p.body)
		}
		// The credits platform prices LLM cost and voice time: no conversations, no seats,
		// no yearly billing.
		for _, absent := range []string{`name="conversations"`, `name="named.`, `value="year"`} {
			if strings.Contains(p.body, absent) {
				t.Errorf("the form shows %s", absent)
			}
		}
		if cards := calcCards(t, p.body); !cards["free"].cheapest || cards["enterprise"].available {
			t.Errorf("example estimate: %+v", cards)
		}

		// A form sent: 10 apps, 100 voice minutes, 4M gpt-4o input tokens, a workspace seat.
		form := url.Values{"interval": {"month"}, "apps": {"10"}, "voice_minutes": {"100"}, "input.0": {"4,000,000"}, "output.0": {""},
			"add_on.workspace_seat": {"1"}}
		p = b.get("/portal/calculator?" + form.Encode())
		if p.status != 200 || !strings.Contains(p.body, "Your figures.") {
			t.Fatalf("estimate = %d: %.1500s", p.status, p.body)
		}
		cards := calcCards(t, p.body)
		// The API's quote for the account, from the same usage.
		status, q := s.api(adminKey, "POST", "/v1/quotes", map[string]any{"account": "hobbyist", "apps": 10, "voice_minutes_per_month": 100,
			"llm":     []any{map[string]any{"provider": "openai", "model": "gpt-4o", "input_tokens": 4_000_000}},
			"add_ons": []any{map[string]any{"add_on": "workspace_seat", "quantity": 1}}})
		if status != 200 {
			t.Fatalf("POST /v1/quotes = %d: %v", status, q)
		}
		sameNumbers(t, q, cards)
		// $20 + $10 + (21,000 credits of usage − 5,000 included) = $46.
		if c := cards["pay_as_you_go"]; !c.cheapest || c.total != "$46.00" || c.choose != "/portal/plans/checkout?interval=month&plan=pay_as_you_go" {
			t.Errorf("pay as you go = %+v", c)
		}
		if c := cards["free"]; c.available || c.choose != "" || !strings.Contains(p.body, "10 apps need 10 agent slots; Free gives 5") {
			t.Errorf("free = %+v", c)
		}

		// Bad fields: each marked, nothing estimated from them.
		p = b.get("/portal/calculator?interval=month&apps=-1&voice_minutes=lots&input.1=" + url.QueryEscape("20000000000000"))
		if p.status != 422 {
			t.Fatalf("bad fields = %d", p.status)
		}
		for _, name := range []string{"voice_minutes"} {
			if !regexp.MustCompile(`id="f-` + regexp.QuoteMeta(name) + `"[^>]*aria-invalid="true"`).MatchString(p.body) {
				t.Errorf("%s is not marked invalid", name)
			}
		}
		if !strings.Contains(p.body, "Enter a whole number.") || !strings.Contains(p.body, `value="lots"`) {
			t.Errorf("the bad number is not shown back: %.3000s", p.body)
		}
		p = b.get("/portal/calculator?interval=month&apps=-1&voice_minutes=10&input.1=" + url.QueryEscape("20000000000000"))
		for _, name := range []string{"apps", "input.1"} {
			if p.status != 422 || !regexp.MustCompile(`id="f-`+regexp.QuoteMeta(name)+`"[^>]*aria-invalid="true"`).MatchString(p.body) {
				t.Errorf("%s is not marked invalid (%d)", name, p.status)
			}
		}

		// With usage (Northwind, Advanced on AI for Service): its last 30 days.
		n := s.browser()
		n.enter(s.link("northwind", billow.RoleBilling))
		p = n.get("/portal/calculator")
		if p.status != 200 || !strings.Contains(p.body, "from your last 30 days of usage") || !strings.Contains(p.body, `name="named.contact_center_ai"`) ||
			!strings.Contains(p.body, `value="year"`) {
			t.Fatalf("northwind's calculator = %d: %.2000s", p.status, p.body)
		}
		if regexp.MustCompile(`name="conversations" value="0"`).MatchString(p.body) {
			t.Error("two days of usage but no conversations")
		}
		if c := calcCards(t, p.body)["advanced"]; c.choose != "" || !strings.Contains(p.body, "Your plan") {
			t.Errorf("the current plan offers to be chosen: %+v", c)
		}
		// Yearly, with seats counted the cheaper way: the API's numbers again.
		form = url.Values{"interval": {"year"}, "conversations": {"1000"}, "minutes": {"31"}, "named.contact_center_ai": {"100"},
			"concurrent.contact_center_ai": {"50"}, "add_on.advanced_rag": {"1"}}
		p = n.get("/portal/calculator?" + form.Encode())
		status, q = s.api(adminKey, "POST", "/v1/quotes", map[string]any{"account": "northwind", "interval": "year",
			"conversations_per_month": 1000, "conversation_minutes": 31,
			"seats":   []any{map[string]any{"product": "contact_center_ai", "named": 100, "concurrent": 50}},
			"add_ons": []any{map[string]any{"add_on": "advanced_rag", "quantity": 1}}})
		if status != 200 || p.status != 200 {
			t.Fatalf("yearly = %d, API %d: %v", p.status, status, q)
		}
		cards = calcCards(t, p.body)
		sameNumbers(t, q, cards)
		if c := cards["essential"]; c.available || !strings.Contains(p.body, "Essential does not include Contact Center AI") {
			t.Errorf("essential = %+v", c)
		}
		if !strings.Contains(p.body, "Contact Center AI seats (concurrent)") || !strings.Contains(p.body, "billed yearly") {
			t.Errorf("yearly estimate lacks its seats or interval")
		}
	})
}

// sameNumbers checks that the page shows each plan of the API's quote with its total per
// month and the same cheapest plan.
func sameNumbers(t *testing.T, q map[string]any, cards map[string]calcCard) {
	t.Helper()
	for _, raw := range q["plans"].([]any) {
		p := raw.(map[string]any)
		c, ok := cards[p["plan"].(string)]
		if !ok {
			t.Errorf("plan %s is not on the page", p["plan"])
			continue
		}
		want := "—"
		if p["priced"] == true {
			want = pdf.FormatMoney(int64(p["total_per_month_minor"].(float64)), q["currency"].(string), int64(q["currency_digits"].(float64)))
		}
		if c.total != want || c.cheapest != (p["cheapest"] == true) || c.available != (p["available"] == true) {
			t.Errorf("%s: page %+v, API total %s cheapest %v available %v", p["plan"], c, want, p["cheapest"], p["available"])
		}
	}
}
