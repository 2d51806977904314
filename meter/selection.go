package meter

import (
	"cmp"
	"slices"
)

// Filter keeps an event only when its data field Field equals Value, compared as text
// (catalog.Meter.Filters); an event without the field does not match.
type Filter struct {
	Field string
	Value string
}

// FiltersOf returns a meter's filters as a list sorted by field, so that matching walks
// a slice rather than a map on every event.
func FiltersOf(filters map[string]string) []Filter {
	out := make([]Filter, 0, len(filters))
	for f, v := range filters {
		out = append(out, Filter{Field: f, Value: v})
	}
	slices.SortFunc(out, func(a, b Filter) int { return cmp.Compare(a.Field, b.Field) })
	return out
}

// Matches reports whether e passes every filter.
func Matches(e *Event, filters []Filter) bool {
	for _, f := range filters {
		if v, ok := e.Field(f.Field); !ok || v != f.Value {
			return false
		}
	}
	return true
}
