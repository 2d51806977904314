package usage

import (
	"slices"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/billowhq/billow/catalog"
)

// CellsByApp reports whether the meter's cells name the app its usage belongs to, so
// that its usage can be grouped or filtered by app. Every meter's cells do, except a
// concurrency meter's whose group_by lacks app: a peak over apps is not the sum of their
// peaks, so its cells keep the meter's own grouping, with app "" (see PeakDeltas).
func CellsByApp(m *catalog.Meter) bool {
	return CombinationOf(m) != CombinePeak || slices.Contains(m.GroupBy, "app")
}

// Quantity converts combined cell units back into the meter's quantity, exactly.
func Quantity(m *catalog.Meter, units decimal.Decimal) decimal.Decimal {
	return units.Shift(-Scale(m))
}

// GroupMatches reports whether a cell's group text (Delta.Group: the meter's group_by
// values other than app, "kind=stt" or "provider=openai,model=gpt-4o") holds the given
// value for every field of filters; a filter on app is not its concern (cells keep the
// app apart). It reads the text the way groupText writes it, field by field in the
// meter's group_by order.
func GroupMatches(m *catalog.Meter, group string, filters map[string]string) bool {
	fields := slices.DeleteFunc(slices.Clone(m.GroupBy), func(f string) bool { return f == "app" })
	rest := group
	for i, f := range fields {
		if !strings.HasPrefix(rest, f+"=") {
			return false
		}
		rest = rest[len(f)+1:]
		value := rest
		if i+1 < len(fields) {
			// A value ends where the next field begins.
			end := strings.Index(rest, ","+fields[i+1]+"=")
			if end < 0 {
				return false
			}
			value, rest = rest[:end], rest[end+1:]
		}
		if want, ok := filters[f]; ok && value != want {
			return false
		}
	}
	for f := range filters {
		if f != "app" && !slices.Contains(fields, f) {
			return false // a field the cells do not keep: no cell can be said to match
		}
	}
	return true
}
