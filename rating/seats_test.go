package rating_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/rating"
)

// seatCatalog prices seats every way a plan can: a product with named and concurrent
// seats, one with concurrent seats only at a price in fractions of a cent, seats billed
// in credits, and an allowance of named seats.
const seatCatalog = `billow_catalog: 1
name: Seat tests
currency: USD
credits: {per_currency_unit: 1000}
products: [{key: cc, name: Contact Center}, {key: assist, name: Assist}]
meters:
  - {key: named_agents, name: Named, unit: seat, event_types: [agent.login], aggregation: unique_count, field: agent, group_by: [product]}
  - key: concurrent_agents
    name: Concurrent
    unit: seat
    event_types: [agent.login, agent.logout]
    aggregation: concurrency
    field: agent
    start_types: [agent.login]
    end_types: [agent.logout]
    group_by: [product]
plans:
  - key: both
    name: Both
    products: [cc, assist]
    fees: {month: "0.00"}
    seats:
      - product: cc
        named: {meter: named_agents, unit_price: "60.00", filters: {product: contact_center}}
        concurrent: {meter: concurrent_agents, unit_price: "90.00", filters: {product: contact_center}}
      - product: assist
        concurrent: {meter: concurrent_agents, unit_price: "12.345", filters: {product: agent_ai}}
  - key: credits
    name: Credits
    products: [cc]
    fees: {month: "0.00"}
    seats:
      - product: cc
        named: {meter: named_agents, unit_price: "0.5", filters: {product: contact_center}, billed_in: credits}
  - key: allowance
    name: Allowance
    products: [cc]
    fees: {month: "0.00"}
    allowances: {named_agents: 5}
    seats:
      - product: cc
        named: {meter: named_agents, unit_price: "60.00"}
  - key: none
    name: None
    products: [cc]
    fees: {month: "0.00"}
`

const (
	ccNamed          = `named_agents{product="contact_center"}`
	ccConcurrent     = `concurrent_agents{product="contact_center"}`
	assistConcurrent = `concurrent_agents{product="agent_ai"}`
)

func modes(pairs ...string) []billow.SubscriptionSeat {
	var out []billow.SubscriptionSeat
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, billow.SubscriptionSeat{Product: pairs[i], Mode: billow.SeatMode(pairs[i+1])})
	}
	return out
}

// seatQuantities gives every selection the plan's seats need under m the value in q (by
// key), 0 otherwise.
func seatQuantities(c *catalog.Catalog, plan string, m []billow.SubscriptionSeat, q map[string]string) map[string]decimal.Decimal {
	p, _ := c.Plan(plan)
	out := map[string]decimal.Decimal{}
	for _, s := range rating.SeatNeeds(p, m, "") {
		out[s.Key()] = decimal.Zero
		if v, ok := q[s.Key()]; ok {
			out[s.Key()] = dec(v)
		}
	}
	return out
}

func TestRateSeats(t *testing.T) {
	c := parse(t, seatCatalog)
	tests := []struct {
		name     string
		plan     string
		modes    []billow.SubscriptionSeat
		billedIn string
		q        map[string]string
		// want renders each line "product mode key: billable × price = exact → amount unit".
		want []string
	}{
		{"no agent logged in: lines of zero", "both", modes("cc", "named", "assist", "concurrent"), "", nil, []string{
			`cc named ` + ccNamed + `: 0 × 60.00 = 0 → 0 minor`,
			`assist concurrent ` + assistConcurrent + `: 0 × 12.345 = 0 → 0 minor`}},
		{"named: distinct agents", "both", modes("cc", "named"), "", map[string]string{ccNamed: "3", ccConcurrent: "2"}, []string{
			`cc named ` + ccNamed + `: 3 × 60.00 = 18000 → 18000 minor`,
			`assist concurrent ` + assistConcurrent + `: 0 × 12.345 = 0 → 0 minor`}},
		{"concurrent: the peak", "both", modes("cc", "concurrent"), "", map[string]string{ccNamed: "3", ccConcurrent: "2"}, []string{
			`cc concurrent ` + ccConcurrent + `: 2 × 90.00 = 18000 → 18000 minor`,
			`assist concurrent ` + assistConcurrent + `: 0 × 12.345 = 0 → 0 minor`}},
		// No mode chosen: named where the plan prices it, else concurrent.
		{"no mode: named when offered, else concurrent", "both", nil, "", map[string]string{ccNamed: "4", assistConcurrent: "2"}, []string{
			`cc named ` + ccNamed + `: 4 × 60.00 = 24000 → 24000 minor`,
			`assist concurrent ` + assistConcurrent + `: 2 × 12.345 = 2469 → 2469 minor`}},
		{"a mode the plan does not price counts by the default", "both", modes("assist", "named"), "", map[string]string{assistConcurrent: "2"}, []string{
			`cc named ` + ccNamed + `: 0 × 60.00 = 0 → 0 minor`,
			`assist concurrent ` + assistConcurrent + `: 2 × 12.345 = 2469 → 2469 minor`}},
		{"a product the plan has no seats of is ignored", "allowance", modes("assist", "concurrent", "cc", "named"), "", map[string]string{"named_agents": "6"}, []string{
			`cc named named_agents: 1 × 60.00 = 6000 → 6000 minor`}},
		// 12.345 USD a seat is 1,234.5 cents: rounded half up once per line, not per seat.
		{"half a cent rounds up", "both", nil, "", map[string]string{assistConcurrent: "1"}, []string{
			`cc named ` + ccNamed + `: 0 × 60.00 = 0 → 0 minor`,
			`assist concurrent ` + assistConcurrent + `: 1 × 12.345 = 1234.5 → 1235 minor`}},
		{"rounded once for the line", "both", nil, "", map[string]string{assistConcurrent: "3"}, []string{
			`cc named ` + ccNamed + `: 0 × 60.00 = 0 → 0 minor`,
			`assist concurrent ` + assistConcurrent + `: 3 × 12.345 = 3703.5 → 3704 minor`}},
		{"allowance larger than the seats", "allowance", nil, "", map[string]string{"named_agents": "4"}, []string{
			`cc named named_agents: 0 × 60.00 = 0 → 0 minor`}},
		{"seats beyond the allowance", "allowance", nil, "", map[string]string{"named_agents": "7"}, []string{
			`cc named named_agents: 2 × 60.00 = 12000 → 12000 minor`}},
		// 3 seats × 0.5 USD × 1,000 credits × 10^6 µcr.
		{"seats billed in credits", "credits", nil, "", map[string]string{ccNamed: "3"}, []string{
			`cc named ` + ccNamed + `: 3 × 0.50 = 1500000000 → 1500000000 ucr`}},
		{"only the currency seats", "credits", nil, catalog.BilledInCurrency, nil, nil},
		{"a plan without seats", "none", modes("cc", "named"), "", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := c.Plan(tt.plan)
			q := map[string]decimal.Decimal{}
			for _, s := range rating.SeatNeeds(p, tt.modes, tt.billedIn) {
				q[s.Key()] = decimal.Zero
				if v, ok := tt.q[s.Key()]; ok {
					q[s.Key()] = dec(v)
				}
			}
			res, err := rating.RateSeats(rating.SeatInput{Catalog: c, Plan: tt.plan, Period: november, Modes: tt.modes,
				BilledIn: tt.billedIn, Quantities: q})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range res.Lines {
				got = append(got, fmt.Sprintf("%s %s %s: %s × %s = %s → %d %s", l.Product, l.Mode, l.Key, l.Billable, l.UnitPrice, l.Exact, l.Amount, l.AmountUnit))
				if !l.Quantity.Equal(q[l.Key]) {
					t.Errorf("line %s: quantity %s, want %s as given", l.Key, l.Quantity, q[l.Key])
				}
				if l.QuantityUnit != "seat" {
					t.Errorf("line %s: quantity unit %q, want the meter's", l.Key, l.QuantityUnit)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
			if res.Plan != tt.plan || res.Period != november || res.Currency != "USD" || res.CurrencyDigits != 2 {
				t.Errorf("result %+v", res)
			}
		})
	}
}

// SeatNeeds lists the quantity of the mode each seat is counted by, in the plan's order.
func TestSeatNeeds(t *testing.T) {
	c := parse(t, seatCatalog)
	p, _ := c.Plan("both")
	keys := func(sels []rating.Selection) string {
		var out []string
		for _, s := range sels {
			out = append(out, s.Key())
		}
		return strings.Join(out, " ")
	}
	for _, tt := range []struct {
		modes    []billow.SubscriptionSeat
		billedIn string
		want     string
	}{
		{nil, "", ccNamed + " " + assistConcurrent},
		{modes("cc", "concurrent"), "", ccConcurrent + " " + assistConcurrent},
		{modes("cc", "concurrent"), catalog.BilledInCredits, ""},
		{modes("cc", "concurrent"), catalog.BilledInCurrency, ccConcurrent + " " + assistConcurrent},
	} {
		if got := keys(rating.SeatNeeds(p, tt.modes, tt.billedIn)); got != tt.want {
			t.Errorf("SeatNeeds(%v, %q) = %s, want %s", tt.modes, tt.billedIn, got, tt.want)
		}
	}
	if got := rating.SeatModeDefault(&p.Seats[0]); got != billow.SeatsNamed {
		t.Errorf("default mode of cc: %s", got)
	}
	if got := rating.SeatModeDefault(&p.Seats[1]); got != billow.SeatsConcurrent {
		t.Errorf("default mode of assist: %s", got)
	}
}

func TestSeatErrors(t *testing.T) {
	c := parse(t, seatCatalog)
	ok := seatQuantities(c, "both", nil, nil)
	missing := seatQuantities(c, "both", nil, nil)
	delete(missing, assistConcurrent)
	tests := []struct {
		name string
		in   rating.SeatInput
		code string
	}{
		{"no catalog", rating.SeatInput{Plan: "both", Period: november, Quantities: ok}, rating.CodeInvalidInput},
		{"unknown plan", rating.SeatInput{Catalog: c, Plan: "gold", Period: november, Quantities: ok}, rating.CodeUnknownPlan},
		{"billed in gold", rating.SeatInput{Catalog: c, Plan: "both", Period: november, BilledIn: "gold", Quantities: ok}, rating.CodeInvalidInput},
		{"no period", rating.SeatInput{Catalog: c, Plan: "both", Quantities: ok}, rating.CodeInvalidInput},
		{"a mode that is no mode", rating.SeatInput{Catalog: c, Plan: "both", Period: november, Modes: modes("cc", "shared"), Quantities: ok},
			rating.CodeInvalidInput},
		{"a product twice", rating.SeatInput{Catalog: c, Plan: "both", Period: november, Modes: modes("cc", "named", "cc", "concurrent"), Quantities: ok},
			rating.CodeInvalidInput},
		{"missing quantity", rating.SeatInput{Catalog: c, Plan: "both", Period: november, Quantities: missing}, rating.CodeMissingQuantity},
		// The chosen mode's quantity is the one needed: a named count does not do for concurrent seats.
		{"the quantity of the other mode", rating.SeatInput{Catalog: c, Plan: "both", Period: november, Modes: modes("cc", "concurrent"), Quantities: ok},
			rating.CodeMissingQuantity},
		{"quantity too large", rating.SeatInput{Catalog: c, Plan: "both", Period: november,
			Quantities: seatQuantities(c, "both", nil, map[string]string{ccNamed: "1000000000000000000000000"})}, rating.CodeQuantityOutOfRange},
		// 10^23 seats at 60 USD fit the quantity bounds but not an int64 of cents.
		{"amount beyond int64", rating.SeatInput{Catalog: c, Plan: "both", Period: november,
			Quantities: seatQuantities(c, "both", nil, map[string]string{ccNamed: "100000000000000000000000"})}, rating.CodeAmountOutOfRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := rating.RateSeats(tt.in)
			var e *rating.Error
			if !errors.As(err, &e) || e.Code != tt.code {
				t.Fatalf("RateSeats = %+v, %v; want a %s error", res, err, tt.code)
			}
			if res != nil {
				t.Errorf("a result with an error: %+v", res)
			}
		})
	}
}
