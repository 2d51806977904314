package rating

import (
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
)

// Seats are rated like rates, one line per seat of the plan, but counted the way the
// subscription chose for the product (seed 000): named seats are the distinct agents who
// logged in during the month (a unique_count meter), concurrent seats the most agents
// logged in at once (a concurrency meter). A seat price is per seat and per month, so a
// line is the seats, less the plan's allowance of the meter, times the unit price, rounded
// once.

// SeatModeDefault returns how the seats of s are counted when the subscription chose no
// mode for its product, or chose one the plan does not price (a plan changed at renewal
// since): named when the plan prices named seats, else concurrent. Named is the seed's
// first counting and the one a customer can check against the list of its agents; a
// product left without a mode is still billed, because a seat the catalog prices is
// never given away by an omission.
func SeatModeDefault(s *catalog.Seat) billow.SeatMode {
	if s.Named != nil {
		return billow.SeatsNamed
	}
	return billow.SeatsConcurrent
}

// SeatCount returns the mode the seats of s are counted by, given the subscription's
// modes, and the price of that mode: the chosen mode when the plan prices it, else
// SeatModeDefault.
func SeatCount(s *catalog.Seat, modes []billow.SubscriptionSeat) (billow.SeatMode, *catalog.SeatPrice) {
	mode := SeatModeDefault(s)
	for _, m := range modes {
		if m.Product == s.Product {
			if (m.Mode == billow.SeatsNamed && s.Named != nil) || (m.Mode == billow.SeatsConcurrent && s.Concurrent != nil) {
				mode = m.Mode
			}
			break
		}
	}
	if mode == billow.SeatsNamed {
		return mode, s.Named
	}
	return mode, s.Concurrent
}

// SeatNeeds returns the quantities the plan's seats billed in billedIn need (every
// seat's when billedIn is ""), counted as modes says (see SeatCount), in the order of
// the seats: one selection per seat, the meter and filters of its chosen price.
func SeatNeeds(p *catalog.Plan, modes []billow.SubscriptionSeat, billedIn string) []Selection {
	out := make([]Selection, 0, len(p.Seats))
	for i := range p.Seats {
		_, sp := SeatCount(&p.Seats[i], modes)
		if billedIn == "" || sp.BilledIn == billedIn {
			out = append(out, Selection{Meter: sp.Meter, Filters: sp.Filters})
		}
	}
	return out
}

// SeatInput is what one seat rating reads.
type SeatInput struct {
	Catalog *catalog.Catalog
	Plan    string // the plan's key in Catalog
	Period  Period
	// Modes is how the subscription counts the seats of each product
	// (billow.Subscription.Seats). A product it does not list, or lists with a mode the
	// plan does not price, is counted by SeatModeDefault; a product the plan has no seats
	// of is ignored.
	Modes []billow.SubscriptionSeat
	// BilledIn, when set, rates only the seats whose chosen price is billed so.
	BilledIn string
	// Quantities holds the month's quantity of every selection SeatNeeds lists, by its
	// Key (0 where no agent logged in), as the rollups give it: distinct agents for a
	// named seat, the peak of agents logged in at once for a concurrent one.
	Quantities map[string]decimal.Decimal
}

// Validate reports the first problem of the input: no catalog, an unknown plan, a period
// that is not a month, a mode that is neither named nor concurrent, a product listed
// twice, a missing or out-of-range quantity.
func (in *SeatInput) Validate() error {
	p, err := checkPlanMonth(in.Catalog, in.Plan, in.BilledIn, in.Period)
	if err != nil {
		return err
	}
	seen := make(map[string]bool, len(in.Modes))
	for i, m := range in.Modes {
		if m.Mode != billow.SeatsNamed && m.Mode != billow.SeatsConcurrent {
			return errorf(CodeInvalidInput, fmt.Sprintf("modes[%d].mode", i), "must be named or concurrent, not %q", m.Mode)
		}
		if seen[m.Product] {
			// Two modes for one product: which one counts would depend on their order.
			return errorf(CodeInvalidInput, fmt.Sprintf("modes[%d].product", i), "%q is listed twice", m.Product)
		}
		seen[m.Product] = true
	}
	return checkQuantities(SeatNeeds(p, in.Modes, in.BilledIn), in.Quantities)
}

// checkPlanMonth reports a missing catalog, an unknown plan, an unknown billed_in or a
// period that is not a month, and returns the plan.
func checkPlanMonth(cat *catalog.Catalog, plan, billedIn string, period Period) (*catalog.Plan, error) {
	if cat == nil {
		return nil, errorf(CodeInvalidInput, "catalog", "is required")
	}
	p, ok := cat.Plan(plan)
	if !ok {
		return nil, errorf(CodeUnknownPlan, "plan", "catalog %q has no plan %q", cat.Name, plan)
	}
	switch billedIn {
	case "", catalog.BilledInCredits, catalog.BilledInCurrency:
	default:
		return nil, errorf(CodeInvalidInput, "billed_in", "must be credits, currency or empty, not %q", billedIn)
	}
	if err := period.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// checkQuantities reports a selection without a quantity, or one beyond the bounds.
func checkQuantities(sels []Selection, quantities map[string]decimal.Decimal) error {
	limit := decimal.New(1, QuantityExponentMax)
	for _, s := range sels {
		key := s.Key()
		q, ok := quantities[key]
		switch {
		case !ok:
			return errorf(CodeMissingQuantity, "quantities["+key+"]", "the quantity of %s is required (0 when there was no usage)", key)
		case q.Abs().GreaterThanOrEqual(limit) || q.Exponent() < -QuantityFractionDigitsMax:
			return errorf(CodeQuantityOutOfRange, "quantities["+key+"]", "%s is beyond the bounds of a quantity (below 10^%d, at most %d fractional digits)",
				q, QuantityExponentMax, QuantityFractionDigitsMax)
		}
	}
	return nil
}

// SeatResult is the rated seat lines of one plan for one period.
type SeatResult struct {
	Plan   string
	Period Period
	// Currency and CurrencyDigits are the catalog's: the unit of currency lines' amounts
	// is 10^-CurrencyDigits of Currency.
	Currency       string
	CurrencyDigits int64
	// Lines are one per seat of the plan (billed in SeatInput.BilledIn when set), in the
	// plan's order.
	Lines []SeatLine
}

// SeatLine is what the seats of one product charge for the period.
type SeatLine struct {
	Product string
	Mode    billow.SeatMode // the mode counted, after SeatCount
	// Key identifies the quantity read (Selection.Key of the chosen price): unique within
	// the plan, as the catalog lets no two prices of a plan count the same usage.
	Key          string
	Meter        string
	Filters      map[string]string
	BilledIn     string
	UnitPrice    string          // the price of one seat for the month, as the catalog states it
	QuantityUnit string          // the meter's unit
	Quantity     decimal.Decimal // the month's seats, as given
	Allowance    decimal.Decimal // the plan's allowance for the meter, 0 when none
	// Billable is Quantity less Allowance, and 0 when that is below 0.
	Billable decimal.Decimal
	// Exact is Billable × UnitPrice in AmountUnit, before its one rounding: exact, as a
	// price has finitely many decimals.
	Exact decimal.Decimal
	// Amount is Exact rounded once, half away from zero, to a whole AmountUnit. Never
	// negative.
	Amount     int64
	AmountUnit string // UnitMicroCredits or UnitMinor
}

// RateSeats rates the plan's seats for the period. The same input always gives the same
// result.
//
// Errors (*Error): invalid_input, unknown_plan, missing_quantity, quantity_out_of_range,
// amount_out_of_range.
func RateSeats(in SeatInput) (*SeatResult, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	cat := in.Catalog
	p, _ := cat.Plan(in.Plan)
	out := &SeatResult{Plan: p.Key, Period: in.Period, Currency: cat.Currency, CurrencyDigits: cat.CurrencyDigits,
		Lines: make([]SeatLine, 0, len(p.Seats))}
	for i := range p.Seats {
		s := &p.Seats[i]
		mode, sp := SeatCount(s, in.Modes)
		if in.BilledIn != "" && sp.BilledIn != in.BilledIn {
			continue
		}
		l, err := rateSeat(cat, p, s.Product, mode, sp, in.Quantities)
		if err != nil {
			return nil, err
		}
		out.Lines = append(out.Lines, l)
	}
	return out, nil
}

// rateSeat rates one seat price. Seat meters (unique_count, concurrency) count in whole
// seats, so unlike a provider_cost rate no scale is needed: the charge is the billable
// seats times the unit price, in AmountUnits.
func rateSeat(cat *catalog.Catalog, p *catalog.Plan, product string, mode billow.SeatMode, sp *catalog.SeatPrice, quantities map[string]decimal.Decimal) (SeatLine, error) {
	m, ok := cat.Meter(sp.Meter)
	if !ok {
		panic("rating: plan " + p.Key + " prices seats on meter " + sp.Meter + ", which catalog.Parse guarantees exists")
	}
	sel := Selection{Meter: sp.Meter, Filters: sp.Filters}
	l := SeatLine{Product: product, Mode: mode, Key: sel.Key(), Meter: sp.Meter, Filters: sp.Filters, BilledIn: sp.BilledIn,
		UnitPrice: sp.UnitPrice, QuantityUnit: m.Unit, Quantity: quantities[sel.Key()]}
	l.Allowance = decimal.NewFromInt(p.Allowances[sp.Meter])
	l.Billable = decimal.Max(decimal.Zero, l.Quantity.Sub(l.Allowance))

	// perCurrencyUnit is how many AmountUnits one currency unit is.
	var perCurrencyUnit decimal.Decimal
	if sp.BilledIn == catalog.BilledInCredits {
		l.AmountUnit = UnitMicroCredits
		perCurrencyUnit = decimal.NewFromInt(cat.Credits.PerCurrencyUnit).Mul(decimal.NewFromInt(billow.MicroCreditsPerCredit))
	} else {
		l.AmountUnit = UnitMinor
		perCurrencyUnit = decimal.New(1, int32(cat.CurrencyDigits))
	}
	l.Exact = l.Billable.Mul(price(sp.UnitPrice)).Mul(perCurrencyUnit)
	// The one rounding: Round rounds half away from zero; Exact is never negative, so this
	// is half up, as for rates.
	rounded := l.Exact.Round(0)
	if !fitsInt64(rounded) {
		return SeatLine{}, errorf(CodeAmountOutOfRange, "quantities["+l.Key+"]", "seats of %s would charge %s %s, beyond an int64", product, rounded, l.AmountUnit)
	}
	l.Amount = rounded.IntPart()
	return l, nil
}
