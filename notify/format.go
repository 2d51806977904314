package notify

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/billowhq/billow/pdf"
)

// Emails receive their values formatted: amounts with their currency, dates in the
// account's time zone. Integer arithmetic only: money never touches a float.

// money shows minor units as the invoice PDF prints them ("$1,234.56", "-$12.50",
// "JPY 1,200"), so that an email and its attached invoice agree to the character.
// Catalogs allow 0 to 4 currency digits, the PDF's range.
func money(minor int64, currency string, digits int64) string {
	return pdf.FormatMoney(minor, currency, digits)
}

// groupThousands puts commas between groups of three digits: "1234567" → "1,234,567".
func groupThousands(digits string) string {
	if len(digits) <= 3 {
		return digits
	}
	var b strings.Builder
	first := len(digits) % 3
	if first > 0 {
		b.WriteString(digits[:first])
	}
	for i := first; i < len(digits); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(digits[i : i+3])
	}
	return b.String()
}

// count shows a whole number with grouped thousands: 5000 → "5,000".
func count(n int64) string {
	if n < 0 {
		return "-" + groupThousands(strconv.FormatUint(uint64(^n)+1, 10))
	}
	return groupThousands(strconv.FormatInt(n, 10))
}

// date shows a day as emails do: "24 December 2026", in loc.
func date(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("2 January 2006")
}

// The data of a billing event comes back from JSON: numbers are float64, times RFC 3339
// strings, lists []any. These read it without a panic on a missing or odd value.

func dataString(data map[string]any, key string) string {
	s, _ := data[key].(string)
	return s
}

func dataInt(data map[string]any, key string) (int64, bool) {
	switch v := data[key].(type) {
	case float64:
		if v != float64(int64(v)) {
			return 0, false
		}
		return int64(v), true
	case int64:
		return v, true
	case int:
		return int64(v), true
	case json.Number:
		n, err := v.Int64()
		return n, err == nil
	}
	return 0, false
}

func dataTime(data map[string]any, key string) (time.Time, bool) {
	switch v := data[key].(type) {
	case string:
		t, err := time.Parse(time.RFC3339Nano, v)
		return t, err == nil
	case time.Time:
		return v, true
	}
	return time.Time{}, false
}
