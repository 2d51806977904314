package rating_test

import (
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/rating"
)

// testCatalog prices three meters every way a plan can: a count (calls, in whole units),
// a sum grouped by kind (voice seconds, priced per kind), and LLM cost (provider_cost,
// whose quantity comes in credits while its prices are per dollar).
const testCatalog = `billow_catalog: 1
name: Rating tests
currency: USD
credits: {per_currency_unit: 1000}
products: [{key: bots, name: Bots}]
meters:
  - {key: calls, name: Calls, unit: call, event_types: [api.request], aggregation: count, group_by: [app]}
  - {key: voice_seconds, name: Voice, unit: second, event_types: [voice.interaction], aggregation: sum, field: seconds, group_by: [app, kind]}
  - {key: llm_credits, name: LLM, unit: USD, event_types: [llm.usage], aggregation: provider_cost, cost_table: llm, filters: {byo_key: false}}
plans:
  - key: per_unit
    name: Per unit
    products: [bots]
    fees: {month: "0.00"}
    rates:
      - {meter: calls, model: per_unit, unit_price: "0.05"}
      - {meter: voice_seconds, model: per_unit, unit_price: "0.0015", filters: {kind: stt}, billed_in: credits}
      - {meter: voice_seconds, model: per_unit, unit_price: "0.0025", filters: {kind: tts}, billed_in: credits}
      - {meter: llm_credits, model: per_unit, unit_price: "1", billed_in: credits}
  - key: graduated
    name: Graduated
    products: [bots]
    fees: {month: "0.00"}
    rates:
      - meter: calls
        model: graduated
        tiers: [{up_to: 1000, unit_price: "0.04"}, {up_to: 5000, unit_price: "0.03"}, {unit_price: "0.02"}]
  - key: volume
    name: Volume
    products: [bots]
    fees: {month: "0.00"}
    rates:
      - meter: calls
        model: volume
        tiers: [{up_to: 1000, unit_price: "0.04"}, {unit_price: "0.02"}]
  - key: package
    name: Package
    products: [bots]
    fees: {month: "0.00"}
    rates:
      - {meter: calls, model: package, package: {size: 1000, price: "10.00"}}
  - key: allowance
    name: Allowance
    products: [bots]
    fees: {month: "0.00"}
    allowances: {calls: 500, llm_credits: 5}
    rates:
      - meter: calls
        model: graduated
        tiers: [{up_to: 1000, unit_price: "0.04"}, {unit_price: "0.02"}]
      - {meter: llm_credits, model: per_unit, unit_price: "1.2", billed_in: credits}
  - key: minimum
    name: Minimum
    products: [bots]
    fees: {month: "0.00"}
    rates:
      - {meter: calls, model: per_unit, unit_price: "0.01", minimum: "25.00"}
      - {meter: llm_credits, model: per_unit, unit_price: "1", minimum: "5.00", billed_in: credits}
  - key: rounding
    name: Rounding
    products: [bots]
    fees: {month: "0.00"}
    rates:
      - {meter: calls, model: per_unit, unit_price: "0.005"}
      - {meter: voice_seconds, model: per_unit, unit_price: "0.0000000005", billed_in: credits}
      - {meter: llm_credits, model: package, package: {size: 2, price: "0.015"}}
provider_costs:
  markup_percent: "20"
  llm:
    - {provider: openai, model: gpt-4o, input_per_million: "2.50", output_per_million: "10.00"}
`

func parse(t testing.TB, text string) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Parse("test.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var november = rating.MonthOf(time.Date(2026, time.November, 20, 10, 0, 0, 0, time.UTC), time.UTC)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// quantities gives every selection of the plan the value in q (by key), 0 otherwise.
func quantities(c *catalog.Catalog, plan string, q map[string]string) map[string]decimal.Decimal {
	p, _ := c.Plan(plan)
	out := map[string]decimal.Decimal{}
	for _, s := range rating.Needs(p, "") {
		out[s.Key()] = decimal.Zero
		if v, ok := q[s.Key()]; ok {
			out[s.Key()] = dec(v)
		}
	}
	return out
}

func TestModels(t *testing.T) {
	c := parse(t, testCatalog)
	type want struct {
		amount   int64
		unit     string
		billable string
		exact    string
		minimum  bool
	}
	tests := []struct {
		name     string
		plan     string
		active   bool
		key      string
		quantity string
		want     want
	}{
		// per_unit: 0.05 USD a call, in cents; 0.0015 USD a second at 1,000 credits a dollar is 1.5 credits.
		{"per unit, nothing used", "per_unit", true, "calls", "0", want{0, "minor", "0", "0", false}},
		{"per unit", "per_unit", true, "calls", "7", want{35, "minor", "7", "35", false}},
		{"per unit in credits, one group", "per_unit", true, `voice_seconds{kind="stt"}`, "60.5", want{90_750_000, "ucr", "60.5", "90750000", false}},
		{"per unit in credits, another group", "per_unit", true, `voice_seconds{kind="tts"}`, "2", want{5_000_000, "ucr", "2", "5000000", false}},
		// LLM cost comes in credits (9 credits = 0.009 USD) and is priced per dollar: 9 credits × 1.
		{"LLM cost-plus at 1", "per_unit", true, "llm_credits", "9", want{9_000_000, "ucr", "9", "9000000", false}},
		{"LLM cost-plus to the µcr", "per_unit", true, "llm_credits", "0.000001", want{1, "ucr", "0.000001", "1", false}},
		{"huge quantity that fits", "per_unit", true, "calls", "1000000000000000", want{5_000_000_000_000_000, "minor", "1000000000000000", "5000000000000000", false}},

		// graduated: 1,000 at 4 cents, 4,000 more at 3, then 2.
		{"graduated, nothing used", "graduated", true, "calls", "0", want{0, "minor", "0", "0", false}},
		{"graduated, inside the first tier", "graduated", true, "calls", "1", want{4, "minor", "1", "4", false}},
		{"graduated, exactly at the first bound", "graduated", true, "calls", "1000", want{4000, "minor", "1000", "4000", false}},
		{"graduated, one above the first bound", "graduated", true, "calls", "1001", want{4003, "minor", "1001", "4003", false}},
		{"graduated, exactly at the second bound", "graduated", true, "calls", "5000", want{16000, "minor", "5000", "16000", false}},
		{"graduated, one into the open tier", "graduated", true, "calls", "5001", want{16002, "minor", "5001", "16002", false}},
		{"graduated, a fraction above a bound", "graduated", true, "calls", "1000.5", want{4002, "minor", "1000.5", "4001.5", false}},

		// volume: the tier the whole quantity falls in prices every unit.
		{"volume, nothing used", "volume", true, "calls", "0", want{0, "minor", "0", "0", false}},
		{"volume, exactly at the bound", "volume", true, "calls", "1000", want{4000, "minor", "1000", "4000", false}},
		{"volume, one above the bound", "volume", true, "calls", "1001", want{2002, "minor", "1001", "2002", false}},

		// package: 10 USD per started 1,000.
		{"package, nothing used", "package", true, "calls", "0", want{0, "minor", "0", "0", false}},
		{"package, one unit starts a package", "package", true, "calls", "1", want{1000, "minor", "1", "1000", false}},
		{"package, exactly one package", "package", true, "calls", "1000", want{1000, "minor", "1000", "1000", false}},
		{"package, one above a package", "package", true, "calls", "1001", want{2000, "minor", "1001", "2000", false}},
		{"package, a fraction above a package", "package", true, "calls", "2000.001", want{3000, "minor", "2000.001", "3000", false}},

		// allowance: 500 calls and 5 USD (5,000 credits) of LLM included.
		{"allowance larger than usage", "allowance", true, "calls", "499", want{0, "minor", "0", "0", false}},
		{"allowance exactly used", "allowance", true, "calls", "500", want{0, "minor", "0", "0", false}},
		{"allowance, one above", "allowance", true, "calls", "501", want{4, "minor", "1", "4", false}},
		{"allowance then tiers on what is left", "allowance", true, "calls", "1501", want{4002, "minor", "1001", "4002", false}},
		{"LLM allowance in dollars against credits", "allowance", true, "llm_credits", "4999", want{0, "ucr", "0", "0", false}},
		{"LLM beyond its allowance", "allowance", true, "llm_credits", "5010", want{12_000_000, "ucr", "10", "12000000", false}},

		// minimum: 25 USD on calls, 5 USD (5,000 credits) on LLM, only while the plan is active.
		{"minimum above the charge", "minimum", true, "calls", "100", want{2500, "minor", "100", "100", true}},
		{"minimum below the charge", "minimum", true, "calls", "3000", want{3000, "minor", "3000", "3000", false}},
		{"minimum equal to the charge", "minimum", true, "calls", "2500", want{2500, "minor", "2500", "2500", false}},
		{"minimum with no usage", "minimum", true, "calls", "0", want{2500, "minor", "0", "0", true}},
		{"minimum of an inactive plan", "minimum", false, "calls", "100", want{100, "minor", "100", "100", false}},
		{"minimum in credits", "minimum", true, "llm_credits", "12", want{5_000_000_000, "ucr", "12", "12000000", true}},

		// rounding, half up: half a cent a call, half a µcr a second.
		{"half a minor unit rounds up", "rounding", true, "calls", "1", want{1, "minor", "1", "0.5", false}},
		{"one and a half round up", "rounding", true, "calls", "3", want{2, "minor", "3", "1.5", false}},
		{"two and a half round up, not to even", "rounding", true, "calls", "5", want{3, "minor", "5", "2.5", false}},
		{"below half rounds down", "rounding", true, "calls", "0.8", want{0, "minor", "0.8", "0.4", false}},
		{"half a µcr rounds up", "rounding", true, "voice_seconds", "5", want{3, "ucr", "5", "2.5", false}},
		{"rounded once for the line, not per unit", "rounding", true, "voice_seconds", "3", want{2, "ucr", "3", "1.5", false}},
		// LLM cost in currency: 3 credits are 0.003 USD, a started package of 2 USD... of cost.
		{"provider cost in currency, packages per dollar", "rounding", true, "llm_credits", "2000", want{2, "minor", "2000", "1.5", false}},
		{"provider cost in currency, one credit above", "rounding", true, "llm_credits", "2001", want{3, "minor", "2001", "3", false}},

		{"negative quantity rates as zero", "per_unit", true, "calls", "-5", want{0, "minor", "0", "0", false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := rating.Rate(rating.Input{Catalog: c, Plan: tt.plan, Period: november, Active: tt.active,
				Quantities: quantities(c, tt.plan, map[string]string{tt.key: tt.quantity})})
			if err != nil {
				t.Fatal(err)
			}
			var line *rating.Line
			for i := range res.Lines {
				if res.Lines[i].Key == tt.key {
					line = &res.Lines[i]
				}
			}
			if line == nil {
				t.Fatalf("no line %s in %+v", tt.key, res.Lines)
			}
			got := want{line.Amount, line.AmountUnit, line.Billable.String(), line.Exact.String(), line.MinimumApplied}
			if got != tt.want {
				t.Errorf("line %s = %+v, want %+v", tt.key, got, tt.want)
			}
			if !line.Quantity.Equal(dec(tt.quantity)) {
				t.Errorf("quantity %s, want %s as given", line.Quantity, tt.quantity)
			}
		})
	}
}

func TestLinesInPlanOrder(t *testing.T) {
	c := parse(t, testCatalog)
	res, err := rating.Rate(rating.Input{Catalog: c, Plan: "per_unit", Period: november, Active: true,
		Quantities: quantities(c, "per_unit", nil)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for i, l := range res.Lines {
		keys = append(keys, l.Key)
		if l.RateIndex != i {
			t.Errorf("line %s has rate index %d, want %d", l.Key, l.RateIndex, i)
		}
	}
	want := []string{"calls", `voice_seconds{kind="stt"}`, `voice_seconds{kind="tts"}`, "llm_credits"}
	if len(keys) != len(want) {
		t.Fatalf("keys %q, want %q", keys, want)
	}
	for i := range want {
		if keys[i] != want[i] {
			t.Errorf("keys %q, want %q", keys, want)
		}
	}
	if got := len(res.BilledIn(catalog.BilledInCredits)); got != 3 {
		t.Errorf("%d lines billed in credits, want 3", got)
	}
	if got := res.BilledIn(catalog.BilledInCurrency); len(got) != 1 || got[0].Key != "calls" {
		t.Errorf("lines billed in currency: %+v", got)
	}
	if got := res.Lines[3].QuantityUnit; got != rating.QuantityUnitCredit {
		t.Errorf("LLM cost quantity unit %q, want credit", got)
	}

	// Rating only the credit rates needs only their quantities, and keeps rate indexes.
	p, _ := c.Plan("per_unit")
	needs := rating.Needs(p, catalog.BilledInCredits)
	q := map[string]decimal.Decimal{}
	for _, s := range needs {
		q[s.Key()] = dec("1")
	}
	credits, err := rating.Rate(rating.Input{Catalog: c, Plan: "per_unit", Period: november, BilledIn: catalog.BilledInCredits, Quantities: q})
	if err != nil {
		t.Fatal(err)
	}
	if len(needs) != 3 || len(credits.Lines) != 3 || credits.Lines[0].RateIndex != 1 || credits.Lines[0].Amount != 1_500_000 {
		t.Errorf("credit lines: %+v", credits.Lines)
	}
	if _, err := rating.Rate(rating.Input{Catalog: c, Plan: "per_unit", Period: november, BilledIn: "gold", Quantities: q}); err == nil {
		t.Error("billed in gold")
	}
}

func TestSelectionKey(t *testing.T) {
	for _, tt := range []struct {
		sel  rating.Selection
		want string
	}{
		{rating.Selection{Meter: "calls"}, "calls"},
		{rating.Selection{Meter: "calls", Filters: map[string]string{}}, "calls"},
		{rating.Selection{Meter: "v", Filters: map[string]string{"kind": "stt", "app": "bot"}}, `v{app="bot",kind="stt"}`},
		// Quoting keeps keys apart that plain text would confuse.
		{rating.Selection{Meter: "v", Filters: map[string]string{"app": `a",kind="b`}}, `v{app="a\",kind=\"b"}`},
	} {
		if got := tt.sel.Key(); got != tt.want {
			t.Errorf("%+v: key %s, want %s", tt.sel, got, tt.want)
		}
	}
}

// A catalog whose credit rate is no power of 2 and 5: a dollar is 3 credits, so a credit
// of LLM cost is a third of a dollar, which no decimal writes exactly.
const thirdsCatalog = `billow_catalog: 1
name: Thirds
currency: USD
credits: {per_currency_unit: 3, purchase_min_credits: 3}
products: [{key: bots, name: Bots}]
meters:
  - {key: llm_credits, name: LLM, unit: USD, event_types: [llm.usage], aggregation: provider_cost, cost_table: llm}
plans:
  - key: p
    name: P
    products: [bots]
    fees: {month: "0.00"}
    rates: [{meter: llm_credits, model: per_unit, unit_price: "1"}]
  - key: c
    name: C
    products: [bots]
    fees: {month: "0.00"}
    rates: [{meter: llm_credits, model: per_unit, unit_price: "1", billed_in: credits}]
provider_costs:
  llm: [{provider: openai, model: gpt-4o, input_per_million: "2.50", output_per_million: "10.00"}]
`

func TestExactRoundingOfThirds(t *testing.T) {
	c := parse(t, thirdsCatalog)
	for _, tt := range []struct {
		plan, credits string
		amount        int64
		exact         string
	}{
		{"p", "1", 33, "33.333333333333333333333333"},   // 1/3 USD = 33.33… cents
		{"p", "0.5", 17, "16.666666666666666666666666"}, // 1/6 USD = 16.66… cents: up
		{"p", "3", 100, "100"},                          // exact
		{"p", "0.03", 1, "1"},                           // 0.01 USD: exact
		{"p", "0.015", 1, "0.5"},                        // half a cent: exact, up
		{"c", "1", 1_000_000, "1000000"},                // in credits the thirds cancel
	} {
		res, err := rating.Rate(rating.Input{Catalog: c, Plan: tt.plan, Period: november,
			Quantities: map[string]decimal.Decimal{"llm_credits": dec(tt.credits)}})
		if err != nil {
			t.Fatal(err)
		}
		l := res.Lines[0]
		if l.Amount != tt.amount || l.Exact.String() != tt.exact {
			t.Errorf("%s credits on plan %s: amount %d exact %s, want %d and %s", tt.credits, tt.plan, l.Amount, l.Exact, tt.amount, tt.exact)
		}
	}
}

func TestErrors(t *testing.T) {
	c := parse(t, testCatalog)
	ok := quantities(c, "per_unit", nil)
	missing := quantities(c, "per_unit", nil)
	delete(missing, "llm_credits")
	tests := []struct {
		name string
		in   rating.Input
		code string
	}{
		{"no catalog", rating.Input{Plan: "per_unit", Period: november, Quantities: ok}, rating.CodeInvalidInput},
		{"unknown plan", rating.Input{Catalog: c, Plan: "gold", Period: november, Quantities: ok}, rating.CodeUnknownPlan},
		{"no period", rating.Input{Catalog: c, Plan: "per_unit", Quantities: ok}, rating.CodeInvalidInput},
		{"bad month", rating.Input{Catalog: c, Plan: "per_unit", Period: rating.Period{Month: "2026-13", From: november.From, To: november.To}, Quantities: ok},
			rating.CodeInvalidInput},
		{"empty period", rating.Input{Catalog: c, Plan: "per_unit", Period: rating.Period{Month: "2026-11", From: november.To, To: november.From}, Quantities: ok},
			rating.CodeInvalidInput},
		{"missing quantity", rating.Input{Catalog: c, Plan: "per_unit", Period: november, Quantities: missing}, rating.CodeMissingQuantity},
		{"quantity too large", rating.Input{Catalog: c, Plan: "per_unit", Period: november,
			Quantities: quantities(c, "per_unit", map[string]string{"calls": "1000000000000000000000000"})}, rating.CodeQuantityOutOfRange},
		{"quantity too negative", rating.Input{Catalog: c, Plan: "per_unit", Period: november,
			Quantities: quantities(c, "per_unit", map[string]string{"calls": "-1000000000000000000000000"})}, rating.CodeQuantityOutOfRange},
		{"quantity too precise", rating.Input{Catalog: c, Plan: "per_unit", Period: november,
			Quantities: quantities(c, "per_unit", map[string]string{"calls": "0.0000000000000000000000000000000000000000000000001"})}, rating.CodeQuantityOutOfRange},
		// 10^23 calls at 5 cents fit the quantity bounds but not an int64 of cents.
		{"amount beyond int64", rating.Input{Catalog: c, Plan: "per_unit", Period: november,
			Quantities: quantities(c, "per_unit", map[string]string{"calls": "100000000000000000000000"})}, rating.CodeAmountOutOfRange},
		// 10^15 seconds at 1.5 credits are 1.5 × 10^21 µcr.
		{"credits beyond int64", rating.Input{Catalog: c, Plan: "per_unit", Period: november,
			Quantities: quantities(c, "per_unit", map[string]string{`voice_seconds{kind="stt"}`: "1000000000000000"})}, rating.CodeAmountOutOfRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := rating.Rate(tt.in)
			var e *rating.Error
			if !errors.As(err, &e) || e.Code != tt.code {
				t.Fatalf("Rate = %+v, %v; want a %s error", res, err, tt.code)
			}
			if res != nil {
				t.Errorf("a result with an error: %+v", res)
			}
		})
	}
}

func TestMonthOf(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	// 23:30 UTC on October 31 is already November 1 in Berlin.
	p := rating.MonthOf(time.Date(2026, time.October, 31, 23, 30, 0, 0, time.UTC), berlin)
	if p.Month != "2026-11" || !p.From.Equal(time.Date(2026, time.October, 31, 23, 0, 0, 0, time.UTC)) ||
		!p.To.Equal(time.Date(2026, time.November, 30, 23, 0, 0, 0, time.UTC)) {
		t.Errorf("MonthOf = %+v", p)
	}
	prev := p.Previous()
	if prev.Month != "2026-10" || !prev.To.Equal(p.From) || !prev.From.Equal(time.Date(2026, time.September, 30, 22, 0, 0, 0, time.UTC)) {
		t.Errorf("Previous = %+v", prev)
	}
	if jan := rating.MonthOf(time.Date(2026, time.January, 3, 0, 0, 0, 0, time.UTC), time.UTC).Previous(); jan.Month != "2025-12" {
		t.Errorf("the month before January 2026 is %s", jan.Month)
	}
}

// TestShippedCatalogs rates the examples docs/rating.md works through, on the catalogs
// Billow ships.
func TestShippedCatalogs(t *testing.T) {
	for _, tt := range []struct {
		catalog, plan, key, quantity string
		amount                       int64
		unit                         string
	}{
		{"credits-platform", "pay_as_you_go", "voice_seconds", "62.5", 93_750_000, rating.UnitMicroCredits},
		{"credits-platform", "free", "llm_credits", "9", 9_000_000, rating.UnitMicroCredits},
		{"ai-for-service", "advanced", "billing_sessions", "60000", 215_000, rating.UnitMinor},
		{"ai-for-service", "advanced", "billing_sessions", "4999", 0, rating.UnitMinor},
		{"ai-for-service", "enterprise", "billing_sessions", "1000000", 2_500_000, rating.UnitMinor},
		{"ai-for-service", "enterprise", "billing_sessions", "1000001", 1_500_002, rating.UnitMinor},
		{"ai-for-service", "essential", "llm_credits", "12.5", 12_500_000, rating.UnitMicroCredits},
	} {
		c, err := catalog.ParseExample(tt.catalog)
		if err != nil {
			t.Fatal(err)
		}
		res, err := rating.Rate(rating.Input{Catalog: c, Plan: tt.plan, Period: november, Active: true,
			Quantities: quantities(c, tt.plan, map[string]string{tt.key: tt.quantity})})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, l := range res.Lines {
			if l.Key == tt.key {
				found = true
				if l.Amount != tt.amount || l.AmountUnit != tt.unit {
					t.Errorf("%s %s: %s of %s = %d %s, want %d %s", tt.catalog, tt.plan, tt.quantity, tt.key, l.Amount, l.AmountUnit, tt.amount, tt.unit)
				}
			}
		}
		if !found {
			t.Errorf("%s %s has no line %s", tt.catalog, tt.plan, tt.key)
		}
	}
}
