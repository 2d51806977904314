package usage

import (
	"slices"

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
