package usage

import (
	"time"

	"github.com/billowhq/billow"
)

// BucketsMax bounds the buckets of one usage query: 10,000 hours is 416 days, so a year
// of hourly buckets fits and a query for two years of them is refused rather than
// answered with 17,544 rows nobody charts.
const BucketsMax = 10_000

// Bounds returns the boundaries b₀ < b₁ < … < bₙ of the buckets [bᵢ, bᵢ₊₁) of a usage
// query over [from, to) with window w in the zone loc, as instants in loc.
//
// Hour buckets are UTC hours. Day buckets start at local midnight, so the day clocks
// change is 23 or 25 hours long; month buckets start at midnight of the 1st. The first
// and last bucket are clipped to the range.
//
// Rollups are whole UTC hours, so a bucket can only begin on one. Every boundary is
// therefore moved to the start of the UTC hour that holds it, except a to within a day,
// which moves up to the end of its hour: the range widens to the whole hours it touches,
// and no usage inside it is left out. In zones whose offset is whole hours
// (Europe/Berlin, America/New_York) day and month boundaries are on UTC hours already,
// and only a from or to within an hour moves. In Asia/Kolkata (+05:30) local midnight is
// 18:30 UTC, so a day bucket runs from 23:30 to 23:30 local time, the last one too when
// to is a midnight (except in hour windows); the boundaries returned say so, rather than
// claim a midnight the data cannot resolve, and they are where day cells begin (Days). A
// bucket this leaves empty is dropped.
//
// Errors: too_many_buckets when there would be more than BucketsMax buckets.
func Bounds(from, to time.Time, w billow.UsageWindow, loc *time.Location) ([]time.Time, error) {
	lo, hi := from.Truncate(time.Hour), ceilHour(to)
	if y, m, d := to.In(loc).Date(); w != billow.UsageWindowHour && to.Equal(DayStart(y, m, d, loc)) {
		hi = to.Truncate(time.Hour) // a day boundary, moved like the others
	}
	if !hi.After(lo) {
		return nil, billow.FieldErrorf(billow.CodeValidationFailed, "to", "must be after from")
	}
	var raw []time.Time
	switch w {
	case billow.UsageWindowNone:
		raw = []time.Time{lo, hi}
	case billow.UsageWindowHour:
		n := hi.Sub(lo) / time.Hour
		if n > BucketsMax {
			return nil, tooManyBuckets(w, int64(n))
		}
		raw = make([]time.Time, 0, n+1)
		for t := lo; !t.After(hi); t = t.Add(time.Hour) {
			raw = append(raw, t)
		}
	case billow.UsageWindowDay, billow.UsageWindowMonth:
		raw = append(raw, lo)
		y, m, d := from.In(loc).Date()
		for k := 1; ; k++ {
			var next time.Time
			if w == billow.UsageWindowDay {
				next = DayStart(y, m, d+k, loc)
			} else {
				next = DayStart(y, m+time.Month(k), 1, loc)
			}
			if !next.Before(to) {
				break
			}
			raw = append(raw, next.Truncate(time.Hour))
			if len(raw) > BucketsMax {
				return nil, tooManyBuckets(w, int64(len(raw)))
			}
		}
		raw = append(raw, hi)
	default:
		return nil, billow.FieldErrorf(billow.CodeValidationFailed, "window", "must be hour, day, month or none, not %q", w)
	}
	out := make([]time.Time, 0, len(raw))
	for _, t := range raw {
		// Rounding can bring a boundary onto the one before it (a from at 23:40 in
		// Kolkata, its midnight at 18:30 UTC, both in the 18:00 hour): that bucket is empty.
		if n := len(out); n > 0 && !t.After(out[n-1]) {
			continue
		}
		out = append(out, t.In(loc))
	}
	return out, nil
}

func tooManyBuckets(w billow.UsageWindow, n int64) error {
	return billow.FieldErrorf(billow.CodeTooManyBuckets, "window",
		"%d %s buckets are more than %d; choose a wider window or a shorter range", n, w, BucketsMax)
}

// ceilHour returns the end of the UTC hour holding t, or t when it is on an hour.
func ceilHour(t time.Time) time.Time {
	if f := t.Truncate(time.Hour); f.Before(t) {
		return f.Add(time.Hour)
	}
	return t
}

// DayStart returns the first instant of the local date (y, m, d) in loc; the date is
// normalized like time.Date's (day 32 of January is the 1st of February).
//
// That is local midnight, except where clocks skip it (America/Santiago moves from
// 23:59:59 to 01:00 when summer time begins; Africa/Cairo and Asia/Beirut did the same),
// where the day begins at the jump, and where midnight happens twice (America/Havana
// goes back from 01:00 to 00:00), where it begins at the first. time.Date promises
// neither: it chooses one of the two offsets around a transition.
func DayStart(y int, m time.Month, d int, loc *time.Location) time.Time {
	wall := time.Date(y, m, d, 0, 0, 0, 0, time.UTC) // the local wall time, read as if UTC
	y, m, d = wall.Date()
	approx := time.Date(y, m, d, 0, 0, 0, 0, loc)
	// A zone changes offset at most once in a day; the offsets in force 12 hours either
	// side are the only two midnight can have.
	before, after := approx.Add(-12*time.Hour), approx.Add(12*time.Hour)
	var first time.Time
	for _, ref := range []time.Time{before, after} {
		_, offset := ref.In(loc).Zone()
		c := wall.Add(-time.Duration(offset) * time.Second)
		if isLocalMidnight(c.In(loc), y, m, d) && (first.IsZero() || c.Before(first)) {
			first = c
		}
	}
	if !first.IsZero() {
		return first.In(loc)
	}
	// No offset makes midnight a real instant: the clocks jumped over it, and the day
	// begins when the later offset takes effect.
	start, _ := after.In(loc).ZoneBounds()
	return start.In(loc)
}

func isLocalMidnight(t time.Time, y int, m time.Month, d int) bool {
	ty, tm, td := t.Date()
	h, mi, s := t.Clock()
	return ty == y && tm == m && td == d && h == 0 && mi == 0 && s == 0 && t.Nanosecond() == 0
}

// CurrentMonth returns the calendar month of loc holding now, as [from, to). Until
// subscriptions exist it is every account's current period.
func CurrentMonth(now time.Time, loc *time.Location) (from, to time.Time) {
	y, m, _ := now.In(loc).Date()
	return DayStart(y, m, 1, loc), DayStart(y, m+1, 1, loc)
}

// TrendsPeriod returns the range and window of a trends query at now. The presets end
// with the bucket holding now, so the dashboard shows today (or this hour) as it fills:
// 24h is the 24 UTC hours up to the end of the current one; 7d, 30d and 90d are that
// many local days, today the last. A custom range keeps its from and to, in days.
func TrendsPeriod(in *billow.UsageTrendsInput, now time.Time, loc *time.Location) (from, to time.Time, w billow.UsageWindow) {
	days := 0
	switch in.Range {
	case billow.TrendsLast24Hours:
		to = ceilHour(now)
		if to.Equal(now) {
			to = to.Add(time.Hour) // now is on the hour: its hour has begun
		}
		return to.Add(-24 * time.Hour), to, billow.UsageWindowHour
	case billow.TrendsLast7Days:
		days = 7
	case billow.TrendsLast30Days:
		days = 30
	case billow.TrendsLast90Days:
		days = 90
	default:
		return in.From, in.To, billow.UsageWindowDay
	}
	y, m, d := now.In(loc).Date()
	return DayStart(y, m, d-days+1, loc), DayStart(y, m, d+1, loc), billow.UsageWindowDay
}
