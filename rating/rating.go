package rating

import (
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/usage"
)

// Bounds of the input. Rating is exact decimal arithmetic, so no product can overflow;
// the bounds keep every number a few dozen digits long, and so every line cheap.
const (
	// QuantityExponentMax bounds a quantity: |q| < 10^QuantityExponentMax. A month of
	// one meter is at most 744 hourly cells per app and group, each at most 10^15 units
	// (catalog.QuantityMax): even 100,000 apps stay below 10^23.
	QuantityExponentMax = 24
	// QuantityFractionDigitsMax bounds the fractional digits a quantity is written with
	// (the rollups keep at most 6).
	QuantityFractionDigitsMax = 18
)

// Units of a line's Amount.
const (
	// UnitMicroCredits: the amount of a line billed in credits, in µcr (1 credit =
	// billow.MicroCreditsPerCredit µcr).
	UnitMicroCredits = "ucr"
	// UnitMinor: the amount of a line billed in currency, in minor units of the catalog
	// currency (cents for USD).
	UnitMinor = "minor"
)

// QuantityUnitCredit is the unit of a provider_cost meter's quantity: the rollups keep
// provider cost in credits (micro-credits per cell), whatever unit the catalog names.
const QuantityUnitCredit = "credit"

// Period is a month of an account, in its time zone: rates, allowances and minimums are
// per month of the subscription, whatever the fee interval.
type Period struct {
	// Month names the period, "2026-11": charging keys what it posted by it.
	Month string
	// From and To are the period's first instant and the next one's, in the account's
	// time zone (local midnight on the 1st, or the instant the day begins where the
	// clocks skip midnight: usage.DayStart).
	From, To time.Time
}

// MonthOf returns the month of loc that holds t.
func MonthOf(t time.Time, loc *time.Location) Period {
	from, to := usage.CurrentMonth(t, loc)
	return Period{Month: from.Format("2006-01"), From: from, To: to}
}

// Previous returns the month before p, in the same time zone.
func (p Period) Previous() Period {
	return MonthOf(p.From.Add(-time.Microsecond), p.From.Location())
}

var monthPattern = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)

// Validate reports a period that is not a month: Month must be "YYYY-MM" and From must
// be before To.
func (p Period) Validate() error {
	switch {
	case !monthPattern.MatchString(p.Month):
		return errorf(CodeInvalidInput, "period.month", "must be a month written YYYY-MM, not %q", p.Month)
	case !p.From.Before(p.To):
		return errorf(CodeInvalidInput, "period", "from (%s) must be before to (%s)", p.From, p.To)
	}
	return nil
}

// Selection is a quantity rating needs: the month's quantity of a meter over the groups
// whose values match Filters (a rate's filters: app, or the meter's group_by fields), or
// over all of its usage when Filters is empty.
type Selection struct {
	Meter   string
	Filters map[string]string
}

// Key names the selection, and the line that prices it: the meter key, then its filters
// sorted by field with quoted values, `voice_seconds{app="bot",kind="stt"}`. The catalog
// lets no two rates of a plan price the same usage, so the key is unique within a plan;
// it does not change when rates are reordered.
func (s Selection) Key() string {
	if len(s.Filters) == 0 {
		return s.Meter
	}
	fields := make([]string, 0, len(s.Filters))
	for f := range s.Filters {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	var b strings.Builder
	b.WriteString(s.Meter)
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(f)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(s.Filters[f]))
	}
	b.WriteByte('}')
	return b.String()
}

// Needs returns the quantities the plan's rates billed in billedIn need (every rate's
// when billedIn is ""), in the order of the rates. Seats need theirs from SeatNeeds.
func Needs(p *catalog.Plan, billedIn string) []Selection {
	out := make([]Selection, 0, len(p.Rates))
	for _, r := range p.Rates {
		if billedIn == "" || r.BilledIn == billedIn {
			out = append(out, Selection{Meter: r.Meter, Filters: r.Filters})
		}
	}
	return out
}

// Input is what one rating reads.
type Input struct {
	Catalog *catalog.Catalog
	Plan    string // the plan's key in Catalog
	Period  Period
	// Active says whether the plan is active in the period. A rate's minimum applies
	// only to a month the plan is active in.
	Active bool
	// BilledIn, when set, rates only the rates billed so: catalog.BilledInCredits (what
	// charging debits) or catalog.BilledInCurrency (what an invoice carries).
	BilledIn string
	// Quantities holds the month's quantity of every selection Needs lists, by its Key
	// (0 where there was no usage), as the rollups give it (usage.Quantity): in the
	// meter's unit, except provider_cost meters, whose quantity is in credits.
	Quantities map[string]decimal.Decimal
}

// Validate reports the first problem of the input: no catalog, an unknown plan, a period
// that is not a month, a missing or out-of-range quantity.
func (in *Input) Validate() error {
	p, err := checkPlanMonth(in.Catalog, in.Plan, in.BilledIn, in.Period)
	if err != nil {
		return err
	}
	return checkQuantities(Needs(p, in.BilledIn), in.Quantities)
}

// Result is the rated lines of one plan for one period.
type Result struct {
	Plan   string
	Period Period
	// Currency and CurrencyDigits are the catalog's: the unit of currency lines' amounts
	// is 10^-CurrencyDigits of Currency.
	Currency       string
	CurrencyDigits int64
	// Lines are one per rate (billed in Input.BilledIn when set), in the plan's order.
	Lines []Line
}

// BilledIn returns the lines billed in credits (catalog.BilledInCredits) or in currency
// (catalog.BilledInCurrency), in order.
func (r *Result) BilledIn(billedIn string) []Line {
	var out []Line
	for _, l := range r.Lines {
		if l.BilledIn == billedIn {
			out = append(out, l)
		}
	}
	return out
}

// Line is what one rate charges for the period.
type Line struct {
	// Key identifies the line within the plan (Selection.Key); it stays the same when
	// the month is rated again, so charging compares lines by it.
	Key       string
	Meter     string
	Filters   map[string]string
	RateIndex int // the rate's position in the plan, for display; Key is the identity
	Model     string
	BilledIn  string
	// QuantityUnit is the unit of Quantity, Allowance and Billable: the meter's unit, or
	// "credit" for a provider_cost meter (QuantityUnitCredit).
	QuantityUnit string
	Quantity     decimal.Decimal // the month's quantity, as given
	Allowance    decimal.Decimal // the plan's allowance for the meter, 0 when none
	// Billable is Quantity less Allowance, and 0 when that is below 0 (a negative
	// quantity, which a custom sum meter can reach, rates as 0: rating never pays out).
	Billable decimal.Decimal
	// Exact is the usage charge in AmountUnit before its one rounding. It is exact, but
	// for one case where the quotient has no finite decimal form: a currency-billed rate
	// on a provider_cost meter of a catalog whose per_currency_unit has a prime factor
	// other than 2 and 5. There it is cut to ExactFractionDigitsMax digits, for display;
	// Amount is rounded from the exact quotient all the same.
	Exact decimal.Decimal
	// Minimum is the rate's minimum in AmountUnit, 0 when it has none or the plan is not
	// active in the period; MinimumApplied says it raised Amount.
	Minimum        int64
	MinimumApplied bool
	// Amount is what the line charges: Exact rounded once, half away from zero, to a
	// whole AmountUnit, then raised to Minimum. Never negative.
	Amount     int64
	AmountUnit string // UnitMicroCredits or UnitMinor
}

// ExactFractionDigitsMax is the precision of Line.Exact where the exact charge has no
// finite decimal form (see Line.Exact).
const ExactFractionDigitsMax = 24

// Rate rates the plan's rates for the period. The same input always gives the same
// result.
//
// Errors (*Error): invalid_input, unknown_plan, missing_quantity, quantity_out_of_range,
// amount_out_of_range.
func Rate(in Input) (*Result, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	cat := in.Catalog
	p, _ := cat.Plan(in.Plan)
	out := &Result{Plan: p.Key, Period: in.Period, Currency: cat.Currency, CurrencyDigits: cat.CurrencyDigits,
		Lines: make([]Line, 0, len(p.Rates))}
	for i := range p.Rates {
		if in.BilledIn != "" && p.Rates[i].BilledIn != in.BilledIn {
			continue
		}
		l, err := rateLine(cat, p, i, in.Quantities, in.Active)
		if err != nil {
			return nil, err
		}
		out.Lines = append(out.Lines, l)
	}
	return out, nil
}

// rateLine rates the plan's i-th rate.
//
// The arithmetic is done on the quantity as given. A provider_cost meter's quantity is in
// credits while its prices, tiers, package size and allowance are per currency unit: so
// they are scaled by per_currency_unit (bounds multiplied, an exact integer) instead of
// the quantity divided (which need not be a finite decimal). With scale D (1, or
// per_currency_unit for provider_cost) the sum below is the charge in currency × D, and
// the one rounding divides it by D exactly.
func rateLine(cat *catalog.Catalog, p *catalog.Plan, i int, quantities map[string]decimal.Decimal, active bool) (Line, error) {
	r := &p.Rates[i]
	m, ok := cat.Meter(r.Meter)
	if !ok {
		panic("rating: plan " + p.Key + " prices meter " + r.Meter + ", which catalog.Parse guarantees exists")
	}
	sel := Selection{Meter: r.Meter, Filters: r.Filters}
	l := Line{Key: sel.Key(), Meter: r.Meter, Filters: r.Filters, RateIndex: i, Model: r.Model, BilledIn: r.BilledIn,
		QuantityUnit: m.Unit, Quantity: quantities[sel.Key()]}
	scale := decimal.NewFromInt(1)
	if m.Aggregation == catalog.AggregationProviderCost {
		scale = decimal.NewFromInt(cat.Credits.PerCurrencyUnit)
		l.QuantityUnit = QuantityUnitCredit
	}
	l.Allowance = decimal.NewFromInt(p.Allowances[r.Meter]).Mul(scale)
	l.Billable = decimal.Max(decimal.Zero, l.Quantity.Sub(l.Allowance))

	scaledCharge := charge(r, l.Billable, scale)
	// perCurrencyUnit is how many AmountUnits one currency unit is.
	var perCurrencyUnit decimal.Decimal
	if r.BilledIn == catalog.BilledInCredits {
		l.AmountUnit = UnitMicroCredits
		perCurrencyUnit = decimal.NewFromInt(cat.Credits.PerCurrencyUnit).Mul(decimal.NewFromInt(billow.MicroCreditsPerCredit))
	} else {
		l.AmountUnit = UnitMinor
		perCurrencyUnit = decimal.New(1, int32(cat.CurrencyDigits))
	}
	numerator := scaledCharge.Mul(perCurrencyUnit)
	// The one rounding: DivRound computes the exact quotient's remainder and rounds half
	// away from zero; the charge is never negative, so this is half up.
	rounded := numerator.DivRound(scale, 0)
	l.Exact = exactQuotient(numerator, scale)

	if active && r.MinimumMinorUnits > 0 {
		// A minimum is whole minor units, and a minor unit is a whole number of µcr
		// (per_currency_unit ≥ 1 credit, 10^6 µcr, and at most 4 currency digits), so it
		// needs no rounding of its own.
		minimum := decimal.NewFromInt(r.MinimumMinorUnits).Mul(perCurrencyUnit).Shift(-int32(cat.CurrencyDigits))
		if !minimum.IsInteger() {
			panic("rating: minimum " + r.Minimum + " is not a whole number of " + l.AmountUnit)
		}
		if !fitsInt64(minimum) {
			return Line{}, errorf(CodeAmountOutOfRange, "minimum", "the minimum of %s, %s %s, does not fit an int64", l.Key, minimum, l.AmountUnit)
		}
		l.Minimum = minimum.IntPart()
		if minimum.GreaterThan(rounded) {
			rounded, l.MinimumApplied = minimum, true
		}
	}
	if !fitsInt64(rounded) {
		return Line{}, errorf(CodeAmountOutOfRange, "quantities["+l.Key+"]", "line %s would charge %s %s, beyond an int64", l.Key, rounded, l.AmountUnit)
	}
	l.Amount = rounded.IntPart()
	return l, nil
}

// charge returns what the rate charges for billable units, in currency, times scale;
// billable is in units of 1/scale of the meter's unit (see rateLine), never negative.
func charge(r *catalog.Rate, billable, scale decimal.Decimal) decimal.Decimal {
	switch r.Model {
	case catalog.ModelPerUnit:
		return billable.Mul(price(r.UnitPrice))
	case catalog.ModelGraduated:
		// Tier k prices the units in (up_to of tier k−1, up_to of tier k].
		total, lower := decimal.Zero, decimal.Zero
		for _, t := range r.Tiers {
			if !billable.GreaterThan(lower) {
				break
			}
			upper := billable
			if t.UpTo != 0 {
				upper = decimal.Min(billable, decimal.NewFromInt(t.UpTo).Mul(scale))
			}
			total = total.Add(upper.Sub(lower).Mul(price(t.UnitPrice)))
			if t.UpTo == 0 {
				break
			}
			lower = decimal.NewFromInt(t.UpTo).Mul(scale)
		}
		return total
	case catalog.ModelVolume:
		// The tier the whole quantity falls in (its up_to included) prices every unit.
		for _, t := range r.Tiers {
			if t.UpTo == 0 || !billable.GreaterThan(decimal.NewFromInt(t.UpTo).Mul(scale)) {
				return billable.Mul(price(t.UnitPrice))
			}
		}
		panic("rating: volume rate of " + r.Meter + " has no open-ended last tier, which catalog.Parse guarantees")
	case catalog.ModelPackage:
		// Per started package: ⌈billable / size⌉ packages, computed exactly.
		size := decimal.NewFromInt(r.Package.Size).Mul(scale)
		packages, rest := billable.QuoRem(size, 0)
		if rest.Sign() > 0 {
			packages = packages.Add(decimal.NewFromInt(1))
		}
		return packages.Mul(price(r.Package.Price)).Mul(scale)
	}
	panic("rating: rate of " + r.Meter + " has model " + r.Model + ", which catalog.Parse does not accept")
}

// exactQuotient returns n / d, exactly when that is a finite decimal (d, at most
// catalog.PerCurrencyUnitMax, has no prime factor but 2 and 5), else cut to
// ExactFractionDigitsMax digits.
func exactQuotient(n, d decimal.Decimal) decimal.Decimal {
	// A divisor 2^a 5^b below 2^20 adds at most max(a, b) < 20 digits to n's.
	if q, rest := n.QuoRem(d, max(0, -n.Exponent())+20); rest.IsZero() {
		return q
	}
	q, _ := n.QuoRem(d, ExactFractionDigitsMax)
	return q
}

// price parses a price catalog.Parse validated; a failure is a broken invariant.
func price(text string) decimal.Decimal {
	d, err := decimal.NewFromString(text)
	if err != nil {
		panic("rating: catalog price " + text + " passed validation but does not parse: " + err.Error())
	}
	return d
}

func fitsInt64(d decimal.Decimal) bool {
	return d.IsInteger() && d.Sign() >= 0 && d.LessThanOrEqual(decimal.NewFromInt(math.MaxInt64))
}
