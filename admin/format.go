package admin

import (
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/pdf"
)

// Values reach the templates formatted: money as the invoice PDF prints it (integers
// only), credits and quantities with thousands separators, times in UTC, which is what
// operators in several time zones can compare.

// dash stands for a value that does not exist (not zero, which is shown as 0).
const dash = "—"

// money writes an amount in minor units of a currency as the invoice PDF does.
func money(minor int64, currency string, digits int64) string {
	return pdf.FormatMoney(minor, currency, digits)
}

// credits writes micro-credits as credits with grouped digits and at most two decimals.
func credits(ucr int64) string {
	return groupDigits(decimal.New(ucr, -6).Round(2).String())
}

// quantity writes a usage quantity in words an operator reads: seconds as hours and
// minutes, bytes in decimal units, anything else with its unit, plural unless it is one.
func quantity(q *billow.Quantity, unit string) string {
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
		return groupDigits(strconv.FormatInt(secs/3600, 10)) + " h " + strconv.FormatInt(secs%3600/60, 10) + " min"
	case "byte":
		for _, u := range []struct {
			size int64
			name string
		}{{1_000_000_000, "GB"}, {1_000_000, "MB"}, {1_000, "kB"}} {
			if d.Abs().GreaterThanOrEqual(decimal.NewFromInt(u.size)) {
				return groupDigits(d.Div(decimal.NewFromInt(u.size)).Round(1).String()) + " " + u.name
			}
		}
		return d.String() + " B"
	case "", "unit":
		return groupDigits(d.Round(2).String())
	}
	// "USD" and other codes stay as they are.
	if !d.Equal(decimal.NewFromInt(1)) && !strings.HasSuffix(unit, "s") && unit != strings.ToUpper(unit) {
		unit += "s"
	}
	return groupDigits(d.Round(2).String()) + " " + unit
}

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

// when writes a moment as "5 Mar 2026, 14:05 UTC".
func when(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 MST") }

// whenOpt writes an optional moment, or a dash.
func whenOpt(t *time.Time) string {
	if t == nil {
		return dash
	}
	return when(*t)
}

// day writes a day as "5 Mar 2026" in loc.
func day(t time.Time, loc *time.Location) string { return t.In(loc).Format("2 Jan 2006") }

// ago writes how long ago t was, in the largest whole unit: "3 days", "5 hours".
func ago(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	}
	return plural(int(d/(24*time.Hour)), "day") + " ago"
}

// plural writes a count with its word, adding an s unless the count is one.
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// label writes a status as a person reads it: "pending_payment" → "Pending payment".
func label(status string) string {
	if status == "" {
		return dash
	}
	s := strings.ReplaceAll(status, "_", " ")
	return strings.ToUpper(s[:1]) + s[1:]
}

// tone is the colour of a status badge: ok, warn, bad, info or neutral. Each status is
// also written out in words: the colour only repeats it.
func tone(status string) string {
	switch status {
	case "paid", "active", "succeeded", "sent", "completed", "trialing":
		return "ok"
	case "open", "pending", "pending_payment", "queued", "sending", "requires_action", "incomplete", "unknown", "processing":
		return "warn"
	case "failed", "declined", "past_due", "suspended", "uncollectible":
		return "bad"
	case "draft":
		return "info"
	}
	return "neutral"
}

// badge is a status as the templates show it.
type badge struct {
	Text string
	Tone string
}

func statusBadge(status string) badge { return badge{Text: label(status), Tone: tone(status)} }

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
