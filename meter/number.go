package meter

import (
	"github.com/billowhq/billow/catalog"
	"math"
	"strconv"

	"github.com/shopspring/decimal"
)

// num is an exact number read from an event. The typed quantities stay integers (voice
// seconds as thousandths) so that summing and comparing them allocates nothing; only
// text with a fraction, or an integer beyond int64, becomes a decimal.
type num struct {
	units int64 // the value, or the value in thousandths when milli
	milli bool
	dec   decimal.Decimal
	isDec bool
}

func (n num) decimal() decimal.Decimal {
	switch {
	case n.isDec:
		return n.dec
	case n.milli:
		return decimal.New(n.units, -3)
	}
	return decimal.NewFromInt(n.units)
}

// cmp compares two numbers exactly: as integers when they share a unit, else as decimals.
func (n num) cmp(o num) int {
	if !n.isDec && !o.isDec && n.milli == o.milli {
		switch {
		case n.units < o.units:
			return -1
		case n.units > o.units:
			return 1
		}
		return 0
	}
	return n.decimal().Cmp(o.decimal())
}

// parseNumber reads a plain decimal: an optional "-", digits, and optionally a point
// followed by digits. Exponents, "+", spaces, "NaN" and the like are refused rather than
// guessed at, as the catalog refuses them in prices.
func parseNumber(field, text string) (num, error) {
	if len(text) > NumberTextLengthBytesMax {
		return num{}, errorf(CodeNotANumber, field, "is %d bytes long, more than %d", len(text), NumberTextLengthBytesMax)
	}
	_, fracDigits, ok := catalog.PlainDecimal(text)
	if !ok {
		return num{}, errorf(CodeNotANumber, field, "must be a plain decimal number such as 42 or 0.5 (%q given)", text)
	}
	if fracDigits == 0 {
		if v, err := strconv.ParseInt(text, 10, 64); err == nil {
			return num{units: v}, nil
		}
	}
	d, err := decimal.NewFromString(text)
	if err != nil {
		// The form was checked above; shopspring accepts every such text.
		panic("meter: plain decimal " + strconv.Quote(text) + " does not parse: " + err.Error())
	}
	return num{dec: d, isDec: true}, nil
}

// accumulator sums exact numbers. Whole numbers and thousandths add up in int64 while
// the sums fit; a value that would overflow them, and every decimal, goes to spill. The
// total is the same in every order of addition, because every path is exact.
type accumulator struct {
	whole   int64
	millis  int64
	spill   decimal.Decimal
	spilled bool
}

func (a *accumulator) add(n num) {
	switch {
	case n.isDec:
	case n.milli:
		if s, ok := addInt64(a.millis, n.units); ok {
			a.millis = s
			return
		}
	default:
		if s, ok := addInt64(a.whole, n.units); ok {
			a.whole = s
			return
		}
	}
	a.spill, a.spilled = a.spill.Add(n.decimal()), true
}

// total returns the exact sum. Its exponent is the smallest of the values added (0 for
// whole numbers, -3 once a voice second was added), so it too is the same in any order.
func (a *accumulator) total() decimal.Decimal {
	t := decimal.NewFromInt(a.whole)
	if a.millis != 0 {
		t = t.Add(decimal.New(a.millis, -3))
	}
	if a.spilled {
		t = t.Add(a.spill)
	}
	return t
}

// isWhole reports whether the sum so far is an int64 of whole units.
func (a *accumulator) isWhole() bool { return !a.spilled && a.millis == 0 }

// addInt64 returns a+b and whether it did not overflow.
func addInt64(a, b int64) (int64, bool) {
	if b > 0 && a > math.MaxInt64-b || b < 0 && a < math.MinInt64-b {
		return 0, false
	}
	return a + b, true
}
