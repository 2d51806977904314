package portal

import (
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/pdf"
)

// Values reach the templates formatted: quantities with thousands separators, money as
// the invoice PDF prints it (integers only), dates in the account's time zone.

// dash stands for a value that does not exist (not zero, which is shown as 0).
const dash = "—"

// groupDigits puts commas between groups of three digits of a decimal's integer part:
// "1234567.5" → "1,234,567.5".
func groupDigits(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	whole, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if hasFrac {
		return sign + b.String() + "." + frac
	}
	return sign + b.String()
}

// formatFloat writes a whole number of the chart's axis.
func formatFloat(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }

// formatQuantity writes a usage quantity with its digits grouped and at most two
// decimals (a peak of agents is whole; an LLM cost in credits is not).
func formatQuantity(q *billow.Quantity) string {
	if q == nil {
		return dash
	}
	return formatDecimal(q.Decimal())
}

func formatDecimal(d decimal.Decimal) string {
	return groupDigits(d.Round(2).String())
}

// formatUsage writes a meter's quantity in words a customer reads: seconds as hours and
// minutes, bytes in kB, MB or GB (decimal units), anything else with its unit.
func formatUsage(q *billow.Quantity, unit string) string {
	if q == nil {
		return dash
	}
	d := q.Decimal()
	switch unit {
	case "second":
		secs := d.IntPart()
		if secs < 60 {
			return strconv.FormatInt(secs, 10) + " s"
		}
		hours, mins := secs/3600, secs%3600/60
		if hours == 0 {
			return strconv.FormatInt(mins, 10) + " min"
		}
		return groupDigits(strconv.FormatInt(hours, 10)) + " h " + strconv.FormatInt(mins, 10) + " min"
	case "byte":
		return formatBytes(d)
	case "credit":
		return formatDecimal(d) + " credits"
	}
	return formatDecimal(d) + " " + plural(unit, d)
}

// formatBytes writes a size in decimal units, as storage is sold.
func formatBytes(d decimal.Decimal) string {
	for _, u := range []struct {
		size int64
		name string
	}{{1_000_000_000, "GB"}, {1_000_000, "MB"}, {1_000, "kB"}} {
		if d.Abs().GreaterThanOrEqual(decimal.NewFromInt(u.size)) {
			return groupDigits(d.Div(decimal.NewFromInt(u.size)).Round(1).String()) + " " + u.name
		}
	}
	return d.String() + " B"
}

// plural adds an s to a unit when the quantity is not exactly one.
func plural(unit string, d decimal.Decimal) string {
	if unit == "" || d.Equal(decimal.NewFromInt(1)) || strings.HasSuffix(unit, "s") {
		return unit
	}
	return unit + "s"
}

// money writes an amount of an invoice's currency as its PDF does.
func money(minor int64, currency string, digits int64) string {
	return pdf.FormatMoney(minor, currency, digits)
}

// formatDate writes a day as "5 Mar 2026" in loc.
func formatDate(t time.Time, loc *time.Location) string { return t.In(loc).Format("2 Jan 2006") }

// isoDate writes a day as a date input takes it.
func isoDate(t time.Time, loc *time.Location) string { return t.In(loc).Format(time.DateOnly) }
