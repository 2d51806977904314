package billing

import (
	"fmt"
	"time"

	"github.com/billowhq/billow/catalog"
)

// PeriodsMax bounds the period number a cycle is computed for: a thousand years of
// monthly periods. A larger number is not a subscription but corrupt input, and the
// bound keeps every date far inside what time.Date represents.
const PeriodsMax = 12 * 1000

// PeriodStart returns the start of period n (0 <= n <= PeriodsMax) of a cycle anchored at
// anchor, with interval "month" or "year" (catalog.IntervalMonth, catalog.IntervalYear),
// in loc: the anchor's wall-clock date and time in loc moved n months (12n for year)
// later, clamped to the last day of a shorter month. Each period is computed from the
// anchor, never from the previous period, so an anchor on 31 January gives 28 or 29
// February, then 31 March again; an anchor on 29 February with a yearly interval gives
// 28 February in common years and 29 February in leap years. The time is computed
// directly, without a loop over the periods.
//
// Period 0 starts at the anchor itself. The wall clock is kept across changes of offset:
// a cycle anchored at 00:30 in America/New_York starts every period at 00:30 local, so
// the UTC instant moves by an hour when summer time begins or ends. A wall time that
// does not exist on the target day (it falls in the gap when the clocks spring forward)
// or exists twice (when they fall back) resolves as time.Date resolves it. Today that is
// the offset in force after the change for a gap, which reads an hour earlier on the
// clock (02:30 on the spring-forward day in New York is 01:30 EST, 06:30 UTC; in a zone
// whose clocks skip midnight, 00:30 becomes 23:30 the evening before), and the first of
// the two instants for a repeated time (01:30 on the fall-back day in New York is 01:30
// EDT). cycle_test.go pins both.
//
// PeriodStart panics when interval is neither "month" nor "year", when n is outside
// [0, PeriodsMax], or when loc is nil: each is a programmer error, the caller having
// validated the subscription.
func PeriodStart(anchor time.Time, interval string, n int, loc *time.Location) time.Time {
	months := intervalMonths(interval)
	if n < 0 || n > PeriodsMax {
		panic(fmt.Sprintf("billing: period %d outside [0, %d]", n, PeriodsMax))
	}
	if loc == nil {
		panic("billing: nil location")
	}
	a := anchor.In(loc)
	if n == 0 {
		// The anchor itself, even when its wall time is ambiguous (a repeated hour) and
		// time.Date would choose the other instant.
		return a
	}
	y, m, d := a.Date()
	hh, mm, ss := a.Clock()
	total := int(m-1) + n*months // months since January of the anchor's year
	ty, tm := y+total/12, time.Month(total%12+1)
	return time.Date(ty, tm, min(d, daysIn(ty, tm)), hh, mm, ss, a.Nanosecond(), loc)
}

// PeriodOf returns the number n, the start and the end (the start of period n+1) of the
// period of the cycle that contains t. For t before the anchor it returns period 0.
//
// PeriodOf panics like PeriodStart on a bad interval or a nil loc, and when t is at or
// after the start of period PeriodsMax (so n < PeriodsMax).
func PeriodOf(anchor time.Time, interval string, t time.Time, loc *time.Location) (n int, start, end time.Time) {
	months := intervalMonths(interval)
	if loc == nil {
		panic("billing: nil location")
	}
	if t.Before(anchor) {
		return 0, PeriodStart(anchor, interval, 0, loc), PeriodStart(anchor, interval, 1, loc)
	}
	if last := PeriodStart(anchor, interval, PeriodsMax, loc); !t.Before(last) {
		panic(fmt.Sprintf("billing: %s is beyond period %d of the cycle anchored at %s, which starts at %s", t, PeriodsMax-1, anchor, last))
	}
	// Estimate n from the calendar months between the anchor and t, then correct it: the
	// estimate is one period too high when t is earlier in its month (or year) than the
	// anchor's day and time, and may be one off either way when an offset change moves a
	// period's start across a month boundary.
	a, lt := anchor.In(loc), t.In(loc)
	elapsed := (lt.Year()-a.Year())*12 + int(lt.Month()-a.Month())
	n = min(max(elapsed/months, 0), PeriodsMax-1)
	// Each correction moves n by one; more than two would take periods shorter than the
	// few hours an offset change moves a time, which no month or year is. The check below
	// catches it if not.
	for range 2 {
		if n > 0 && PeriodStart(anchor, interval, n, loc).After(t) {
			n--
		}
	}
	for range 2 {
		// n+1 < PeriodsMax: t is before the start of period PeriodsMax.
		if n+1 < PeriodsMax && !PeriodStart(anchor, interval, n+1, loc).After(t) {
			n++
		}
	}
	start, end = PeriodStart(anchor, interval, n, loc), PeriodStart(anchor, interval, n+1, loc)
	if start.After(t) || !end.After(t) {
		panic(fmt.Sprintf("billing: period %d [%s, %s) does not hold %s", n, start, end, t))
	}
	return n, start, end
}

// intervalMonths returns the months of one period of the interval and panics on any
// other interval.
func intervalMonths(interval string) int {
	switch interval {
	case catalog.IntervalMonth:
		return 1
	case catalog.IntervalYear:
		return 12
	}
	panic(fmt.Sprintf("billing: interval %q is neither %q nor %q", interval, catalog.IntervalMonth, catalog.IntervalYear))
}

// daysIn returns the number of days of month m of year y (28 to 31).
func daysIn(y int, m time.Month) int {
	// Day 0 of the next month is the last day of this one.
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
