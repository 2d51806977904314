package usage

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"

	"github.com/shopspring/decimal"

	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/meter"
)

// Combination says how a meter's hourly cells take new events, and how the quantity of a
// period is read from them.
type Combination int

// Combinations of rollup cells.
const (
	// CombineAdd cells add up (count, sum, sessions, provider_cost): a period's quantity
	// is the sum of its cells.
	CombineAdd Combination = iota
	// CombineMin and CombineMax cells keep the smallest or largest value of their hour;
	// a period's quantity is the smallest or largest of its cells.
	CombineMin
	CombineMax
	// CombineLatest cells keep their hour's latest value and its time (AtMicros); a
	// period's quantity is that of its latest cell, the greater value on a tie.
	CombineLatest
	// CombinePeak cells hold the peak of their hour, recomputed when events in reach
	// arrive (concurrency); a period's quantity is its highest cell, exact because an
	// instant lies in one hour.
	CombinePeak
	// CombineUnique keeps each distinct value seen in an hour (unique_count, in
	// usage_uniques); a period's quantity is the count of distinct values over its hours.
	CombineUnique
)

// CombinationOf returns how the meter's cells combine.
func CombinationOf(m *catalog.Meter) Combination {
	switch m.Aggregation {
	case catalog.AggregationMin:
		return CombineMin
	case catalog.AggregationMax:
		return CombineMax
	case catalog.AggregationLatest:
		return CombineLatest
	case catalog.AggregationConcurrency:
		return CombinePeak
	case catalog.AggregationUniqueCount:
		return CombineUnique
	}
	return CombineAdd
}

// SameRollups reports whether two catalogs make the same cells from the same events: the
// same meters, and for provider_cost meters the same cost table, markup and credit rate.
// When they do not, moving an account between them needs its rollups rebuilt.
func SameRollups(a, b *catalog.Catalog) bool {
	return reflect.DeepEqual(a.Meters, b.Meters) && reflect.DeepEqual(a.ProviderCosts, b.ProviderCosts) &&
		a.Credits.PerCurrencyUnit == b.Credits.PerCurrencyUnit
}

// units converts a quantity to a cell's units, refusing what would not be exact.
func units(m *catalog.Meter, q decimal.Decimal) (int64, error) {
	u := q.Shift(Scale(m))
	if !u.IsInteger() || !u.BigInt().IsInt64() {
		// IntPart would round or wrap silently; a billing quantity must not.
		return 0, fmt.Errorf("usage: meter %s: quantity %s does not fit int64 units with %d decimals", m.Key, q, Scale(m))
	}
	return u.IntPart(), nil
}

// ExtremeDeltas are the cells that newly stored events offer to the catalog's min, max
// and latest meters: one per meter, app, group and hour. They are not added but combined
// (see Combination), so they do not go through Merge.
func ExtremeDeltas(cat *catalog.Catalog, events []meter.Event) ([]Delta, error) {
	byHour := eventsByHour(events)
	hours := sortedHours(byHour)
	var out []Delta
	for i := range cat.Meters {
		m := &cat.Meters[i]
		c := CombinationOf(m)
		if c != CombineMin && c != CombineMax && c != CombineLatest {
			continue
		}
		var finish func(d *Delta, hourEvents []meter.Event, group []string)
		if c == CombineLatest {
			// The time of the group's latest value, so that a later batch's value replaces
			// it and an earlier one does not.
			rm, filters := rollupMeter(m), meter.FiltersOf(m.Filters)
			finish = func(d *Delta, hourEvents []meter.Event, group []string) {
				for _, e := range hourEvents {
					if !slices.Contains(m.EventTypes, e.Type) || !meter.Matches(&e, filters) || !inGroup(&e, rm.GroupBy, group) {
						continue
					}
					if _, ok, _ := e.Number(m.Field); ok {
						d.AtMicros = max(d.AtMicros, e.TimeMicros)
					}
				}
			}
		}
		d, err := hourlyDeltas(m, byHour, hours, finish)
		if err != nil {
			return nil, err
		}
		out = append(out, d...)
	}
	return out, nil
}

func inGroup(e *meter.Event, fields, values []string) bool {
	for i, f := range fields {
		if v, _ := e.Field(f); v != values[i] {
			return false
		}
	}
	return true
}

// Unique is a distinct value of a unique_count meter seen in one hour.
type Unique struct {
	Meter      string
	AppID      string
	Group      string
	HourMicros int64
	Value      string
}

// UniqueValues are the distinct values newly stored events bring to the catalog's
// unique_count meters, per app, group and hour. Storing one already known changes
// nothing, which is what makes them independent of arrival order.
func UniqueValues(cat *catalog.Catalog, events []meter.Event) []Unique {
	seen := map[Unique]bool{}
	var out []Unique
	for i := range cat.Meters {
		m := &cat.Meters[i]
		if CombinationOf(m) != CombineUnique {
			continue
		}
		rm := rollupMeter(m)
		filters := meter.FiltersOf(m.Filters)
		values := make([]string, len(rm.GroupBy))
		for _, e := range events {
			if !slices.Contains(m.EventTypes, e.Type) || !meter.Matches(&e, filters) {
				continue
			}
			v, ok := e.Field(m.Field)
			if !ok {
				continue
			}
			for k, f := range rm.GroupBy {
				values[k], _ = e.Field(f)
			}
			u := Unique{Meter: m.Key, AppID: values[0], Group: groupText(rm.GroupBy, values), HourMicros: hourOf(e.TimeMicros), Value: v}
			if !seen[u] {
				seen[u] = true
				out = append(out, u)
			}
		}
	}
	return out
}

// HourRange is the hours [FromMicros, ToMicros) whose cells a batch changes.
type HourRange struct{ FromMicros, ToMicros int64 }

// PeakRanges returns the hours whose peaks the events can change for a concurrency
// meter: an event at t decides whether its key is open from t until its next event, and
// at most for the heartbeat timeout, so it reaches the hours from t's to t + timeout's.
// Overlapping and adjacent ranges are joined, in time order.
func PeakRanges(m *catalog.Meter, events []meter.Event) ([]HourRange, error) {
	rules, err := meter.ConcurrencyRulesOf(m)
	if err != nil {
		return nil, err
	}
	var ranges []HourRange
	for _, e := range events {
		if !slices.Contains(m.EventTypes, e.Type) {
			continue
		}
		ranges = append(ranges, HourRange{hourOf(e.TimeMicros), hourOf(e.TimeMicros+rules.HeartbeatTimeoutMicros) + HourMicros})
	}
	return JoinRanges(ranges), nil
}

// JoinRanges sorts hour ranges and joins those that overlap or touch.
func JoinRanges(ranges []HourRange) []HourRange {
	slices.SortFunc(ranges, func(a, b HourRange) int { return cmp.Compare(a.FromMicros, b.FromMicros) })
	var out []HourRange
	for _, r := range ranges {
		if n := len(out); n > 0 && r.FromMicros <= out[n-1].ToMicros {
			out[n-1].ToMicros = max(out[n-1].ToMicros, r.ToMicros)
			continue
		}
		out = append(out, r)
	}
	return out
}

// PeakLookbackMicros is how far before a range the events deciding its peaks lie: whether
// a key is open at t depends only on its last event in (t − timeout, t].
func PeakLookbackMicros(m *catalog.Meter) int64 {
	return m.HeartbeatTimeoutMinutes * meter.MicrosPerMinute
}

// PeakDeltas returns the cells of a concurrency meter for the hours of r, computed from
// every event of the meter's types in [r.From − lookback, r.To): the peak of each hour per
// group. The app is the group's app when the meter groups by app, else "": a peak over
// apps is not the sum of their peaks, so it is kept for the meter's own grouping only.
// Hours with a peak of 0 are left out; the store replaces the range's cells with these.
func PeakDeltas(m *catalog.Meter, events []meter.Event, r HourRange) ([]Delta, error) {
	rules, err := meter.ConcurrencyRulesOf(m)
	if err != nil {
		return nil, err
	}
	var bounds []int64
	for h := r.FromMicros; h <= r.ToMicros; h += HourMicros {
		bounds = append(bounds, h)
	}
	appAt := slices.Index(rules.GroupBy, "app")
	var out []Delta
	// No event is final for a cell: intervals are closed by their timeout, as if no more
	// events came; a later logout recomputes the hours it reaches.
	for _, g := range meter.Intervals(events, rules, meter.TimeMicrosMax) {
		peaks, err := meter.PeaksPerBucket(g.Intervals, bounds)
		if err != nil {
			return nil, err
		}
		app, fields, values := "", []string{""}, []string{""}
		for k, f := range rules.GroupBy {
			if k == appAt {
				app = g.Group[k]
				continue
			}
			fields, values = append(fields, f), append(values, g.Group[k])
		}
		for i, p := range peaks {
			if p > 0 {
				out = append(out, Delta{Meter: m.Key, AppID: app, Group: groupText(fields, values), HourMicros: bounds[i], Units: p})
			}
		}
	}
	return out, nil
}

func eventsByHour(events []meter.Event) map[int64][]meter.Event {
	byHour := map[int64][]meter.Event{}
	for _, e := range events {
		h := hourOf(e.TimeMicros)
		byHour[h] = append(byHour[h], e)
	}
	return byHour
}

func sortedHours(byHour map[int64][]meter.Event) []int64 {
	hours := make([]int64, 0, len(byHour))
	for h := range byHour {
		hours = append(hours, h)
	}
	slices.Sort(hours)
	return hours
}
