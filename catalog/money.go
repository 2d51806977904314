package catalog

import (
	"fmt"

	"github.com/shopspring/decimal"
	"gopkg.in/yaml.v3"
)

// Money in a catalog is written as a decimal in major units: "20.00", "0.0043". Quoted
// strings and unquoted YAML numbers are both accepted, because the YAML node keeps the
// text as written and no float is ever made from it; only the plain form (digits, an
// optional point and digits) is, so 2e1, .5 and 0x10 are refused rather than guessed at.
// Parse stores a canonical text (fees with exactly the currency's digits, rates without
// trailing zeros) so that "20.0" and "20.00" hash alike.

// PlainDecimal reports whether s is [-]digits[.digits], and its number of fractional
// digits: the one form of number catalogs and event data are read in.
func PlainDecimal(s string) (negative bool, fracDigits int, ok bool) {
	if s != "" && s[0] == '-' {
		negative, s = true, s[1:]
	}
	intDigits, seenPoint := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9' && seenPoint:
			fracDigits++
		case c >= '0' && c <= '9':
			intDigits++
		case c == '.' && !seenPoint:
			seenPoint = true
		default:
			return false, 0, false
		}
	}
	if intDigits == 0 || seenPoint && fracDigits == 0 {
		return false, 0, false
	}
	return negative, fracDigits, true
}

// decimalText returns the text of a scalar that may hold a decimal, or false after
// recording why it cannot.
func (d *decoder) decimalText(n *yaml.Node, path, example string) (string, bool) {
	if !d.scalar(n, path, "a decimal such as "+example) {
		return "", false
	}
	switch n.Tag {
	case "!!str", "!!int", "!!float":
	default:
		d.addf(n, path, "must be a decimal such as %s (%s given)", example, describe(n))
		return "", false
	}
	return n.Value, true
}

// amount decodes a fixed amount (a fee, a minimum) in the catalog currency, which must be
// a whole number of minor units: it is charged as is, with no rounding.
func (d *decoder) amount(m *mapping, key string) (text string, minorUnits int64, ok bool) {
	n, path := m.at(key)
	if n == nil {
		return "", 0, false
	}
	return d.amountNode(n, path)
}

func (d *decoder) amountNode(n *yaml.Node, path string) (text string, minorUnits int64, ok bool) {
	s, ok := d.decimalText(n, path, `"20.00"`)
	if !ok {
		return "", 0, false
	}
	negative, frac, ok := PlainDecimal(s)
	switch {
	case !ok:
		d.addf(n, path, "must be a decimal amount such as \"20.00\" (%q given)", s)
		return "", 0, false
	case negative:
		d.addf(n, path, "must not be negative (%s given)", s)
		return "", 0, false
	case d.digits >= 0 && frac > d.digits:
		d.addf(n, path, "must be a decimal amount with at most %d fractional digits for %s (%s given)", d.digits, d.currency, s)
		return "", 0, false
	}
	v, err := decimal.NewFromString(s)
	if err != nil {
		d.addf(n, path, "must be a decimal amount such as \"20.00\" (%q given)", s)
		return "", 0, false
	}
	if d.digits < 0 {
		// The currency is invalid and already reported; the form is all that can be checked.
		return v.String(), 0, true
	}
	minor := v.Shift(int32(d.digits))
	if minor.GreaterThan(decimal.NewFromInt(AmountMinorUnitsMax)) {
		d.addf(n, path, "is too large: at most %d minor units (AmountMinorUnitsMax)", int64(AmountMinorUnitsMax))
		return "", 0, false
	}
	return v.StringFixed(int32(d.digits)), minor.IntPart(), true
}

// rate decodes a per-unit price: a decimal in major units with up to
// RateFractionDigitsMax fractional digits, because a price per token or per second is
// far below one minor unit. Rounding happens once per rated line, in rating/.
func (d *decoder) rate(m *mapping, key string) string {
	n, path := m.at(key)
	if n == nil {
		return ""
	}
	return d.rateNode(n, path, UnitPriceMax, true)
}

// rateNode decodes a non-negative decimal of at most max. A price (money) is stored with
// at least the currency's digits, so it reads like money ("60.00", "0.0043"); other
// decimals without trailing zeros ("20" percent).
func (d *decoder) rateNode(n *yaml.Node, path string, max int64, money bool) string {
	s, ok := d.decimalText(n, path, `"0.04"`)
	if !ok {
		return ""
	}
	negative, frac, ok := PlainDecimal(s)
	switch {
	case !ok:
		d.addf(n, path, "must be a decimal such as \"0.04\" (%q given)", s)
		return ""
	case negative:
		d.addf(n, path, "must not be negative (%s given)", s)
		return ""
	case frac > RateFractionDigitsMax:
		d.addf(n, path, "must have at most %d fractional digits (RateFractionDigitsMax; %s given)", RateFractionDigitsMax, s)
		return ""
	}
	v, err := decimal.NewFromString(s)
	if err != nil {
		d.addf(n, path, "must be a decimal such as \"0.04\" (%q given)", s)
		return ""
	}
	if v.GreaterThan(decimal.NewFromInt(max)) {
		d.addf(n, path, "must be at most %d (%s given)", max, s)
		return ""
	}
	if money && d.digits >= 0 {
		return PriceText(v, int64(d.digits))
	}
	return v.String() // no trailing zeros
}

// PriceText is the canonical text of a price: no trailing zeros, but at least the
// currency's digits, so that it reads like money ("60.00", "0.0043"). Parse stores every
// price so; a contract's prices (package contract) are written the same way.
func PriceText(v decimal.Decimal, currencyDigits int64) string {
	text := v.String()
	if _, frac, _ := PlainDecimal(text); int64(frac) < currencyDigits {
		return v.StringFixed(int32(currencyDigits))
	}
	return text
}

// percent decodes a percentage in [0, max], with the precision of a rate.
func (d *decoder) percent(m *mapping, key string, max int64) string {
	n, path := m.at(key)
	if n == nil {
		return ""
	}
	return d.rateNode(n, path, max, false)
}

// HardLimit returns limit plus percent of it, rounded down: the allowance is a tolerance,
// and rounding down never lets more through than the contract says. percent is a
// validated decimal ("1", "2.5") or empty for none.
func HardLimit(limit int64, percent string) int64 {
	if percent == "" {
		return limit
	}
	p, err := decimal.NewFromString(percent)
	if err != nil {
		panic(fmt.Sprintf("catalog: percent %q passed validation but does not parse", percent))
	}
	l := decimal.NewFromInt(limit)
	return l.Add(l.Mul(p).Shift(-2).Floor()).IntPart()
}
