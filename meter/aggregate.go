package meter

import (
	"cmp"
	"slices"
	"strings"

	"github.com/billowhq/billow/catalog"
	"github.com/shopspring/decimal"
)

// GroupQuantity is a meter's quantity for one group of one account.
type GroupQuantity struct {
	Account  string
	Group    []string // the values of the meter's GroupBy fields, in their order ("" when absent)
	Quantity decimal.Decimal
}

// aggRow is one matching event as Aggregate sees it.
type aggRow struct {
	account string
	group   []string // a window of one shared slice
	text    string   // unique_count: the field's value
	value   num      // sum, min, max, latest
	time    int64
}

// Aggregate computes a count, sum, min, max, unique_count or latest meter over the events
// of [fromMicros, toMicros) of the meter's event types that pass its filters, per group
// of its GroupBy values in each account. Groups with no matching event are absent; the
// result is ordered by account, then group values.
//
//   - count: the number of events.
//   - sum: the sum of the meter's Fields (or Field) over the events; a field an event
//     lacks adds nothing (llm_tokens = input_tokens + output_tokens).
//   - min, max: the smallest, largest value of Field; events without it do not count.
//   - unique_count: the number of distinct texts of Field (named seats: distinct agents
//     with a login in the period); events without it do not count.
//   - latest: the value of Field on the event with the greatest time; of events at the
//     same microsecond, the greatest value, so the order of events never matters.
//
// Numbers are exact: integer fields add up in int64 (voice seconds as milliseconds) and
// spill into decimal only past int64 or for fractional text. It returns a
// CodeNotANumber error when a field summed or compared holds text that is not a number,
// and a CodeUnsupportedMeter error for sessions, concurrency and provider_cost meters,
// which Sessionize, Intervals and LLMCostMicroCredits compute.
func Aggregate(m *catalog.Meter, events []Event, fromMicros, toMicros int64) ([]GroupQuantity, error) {
	fields := m.Fields
	switch m.Aggregation {
	case catalog.AggregationCount:
		fields = nil
	case catalog.AggregationSum:
		if len(fields) == 0 {
			fields = []string{m.Field}
		}
	case catalog.AggregationMin, catalog.AggregationMax, catalog.AggregationLatest, catalog.AggregationUniqueCount:
		fields = []string{m.Field}
	default:
		return nil, errorf(CodeUnsupportedMeter, "aggregation", "meter %s aggregates %s, which Aggregate does not compute", m.Key, m.Aggregation)
	}
	if slices.Contains(fields, "") {
		return nil, errorf(CodeUnsupportedMeter, "field", "meter %s names no field to %s", m.Key, m.Aggregation)
	}
	filters := FiltersOf(m.Filters)
	g := len(m.GroupBy)
	rows := make([]aggRow, 0, len(events))
	var values []string
	// A bad number does not stop the scan: of all the bad events, the error reported is
	// the earliest one's (then the least message), so that the error too is the same in
	// every order of events.
	var firstErr error
	var firstErrTime int64
	fail := func(e *Event, err error) {
		if firstErr == nil || e.TimeMicros < firstErrTime || e.TimeMicros == firstErrTime && err.Error() < firstErr.Error() {
			firstErr, firstErrTime = err, e.TimeMicros
		}
	}
	for i := range events {
		e := &events[i]
		if e.TimeMicros < fromMicros || e.TimeMicros >= toMicros || !slices.Contains(m.EventTypes, e.Type) || !Matches(e, filters) {
			continue
		}
		r := aggRow{account: e.Account, time: e.TimeMicros}
		switch m.Aggregation {
		case catalog.AggregationSum:
			var acc accumulator
			var err error
			for _, f := range fields {
				n, ok, ferr := e.number(f)
				if ferr != nil {
					err = ferr
					break
				}
				if ok {
					acc.add(n)
				}
			}
			if err != nil {
				fail(e, err)
				continue
			}
			r.value = sumToNum(acc)
		case catalog.AggregationUniqueCount:
			text, ok := e.Field(fields[0])
			if !ok {
				continue
			}
			r.text = text
		case catalog.AggregationMin, catalog.AggregationMax, catalog.AggregationLatest:
			n, ok, err := e.number(fields[0])
			if err != nil {
				fail(e, err)
				continue
			}
			if !ok {
				continue
			}
			r.value = n
		}
		for _, f := range m.GroupBy {
			v, _ := e.Field(f)
			values = append(values, v)
		}
		rows = append(rows, r)
	}
	if firstErr != nil {
		return nil, firstErr
	}
	if g > 0 {
		for i := range rows {
			rows[i].group = values[i*g : (i+1)*g : (i+1)*g]
		}
	}
	slices.SortFunc(rows, func(a, b aggRow) int {
		if c := strings.Compare(a.account, b.account); c != 0 {
			return c
		}
		if c := slices.Compare(a.group, b.group); c != 0 {
			return c
		}
		return strings.Compare(a.text, b.text) // orders unique_count values; "" otherwise
	})

	var out []GroupQuantity
	for lo := 0; lo < len(rows); {
		hi := lo + 1
		for hi < len(rows) && rows[hi].account == rows[lo].account && slices.Equal(rows[hi].group, rows[lo].group) {
			hi++
		}
		out = append(out, GroupQuantity{Account: rows[lo].account, Group: slices.Clone(rows[lo].group), Quantity: quantity(m.Aggregation, rows[lo:hi])})
		lo = hi
	}
	return out, nil
}

// quantity computes the aggregation over the rows of one group (unique_count rows are
// sorted by text).
func quantity(aggregation string, rows []aggRow) decimal.Decimal {
	switch aggregation {
	case catalog.AggregationCount:
		return decimal.NewFromInt(int64(len(rows)))
	case catalog.AggregationSum:
		var acc accumulator
		for _, r := range rows {
			acc.add(r.value)
		}
		return acc.total()
	case catalog.AggregationUniqueCount:
		distinct := int64(1)
		for i := 1; i < len(rows); i++ {
			if rows[i].text != rows[i-1].text {
				distinct++
			}
		}
		return decimal.NewFromInt(distinct)
	case catalog.AggregationMin:
		return slices.MinFunc(rows, func(a, b aggRow) int { return a.value.cmp(b.value) }).value.decimal()
	case catalog.AggregationMax:
		return slices.MaxFunc(rows, func(a, b aggRow) int { return a.value.cmp(b.value) }).value.decimal()
	case catalog.AggregationLatest:
		return slices.MaxFunc(rows, func(a, b aggRow) int {
			if c := cmp.Compare(a.time, b.time); c != 0 {
				return c
			}
			return a.value.cmp(b.value)
		}).value.decimal()
	}
	panic("meter: quantity of unchecked aggregation " + aggregation)
}

// sumToNum turns one event's sum of fields back into a num, staying an integer when
// the fields were integers of one unit.
func sumToNum(acc accumulator) num {
	switch {
	case acc.isWhole():
		return num{units: acc.whole}
	case !acc.spilled && acc.whole == 0:
		return num{units: acc.millis, milli: true}
	}
	return num{dec: acc.total(), isDec: true}
}
