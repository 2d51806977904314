package usage

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Day cells hold the same quantities as hourly cells, combined per local day of the
// account's time zone, so that a query by day or month reads one cell per day instead of
// 24. A day cell is keyed by the first hour of its day: the UTC hour holding local
// midnight, where Bounds puts a day bucket's boundary. Day cells are derived from hourly
// cells by the meter's combination and are exact for each: sums add, minimums, maximums
// and latest values combine as they do within an hour, a day's peak is its highest
// hourly peak (an instant lies in one hour), and a day's distinct values are those of its
// hours.

// Days maps UTC hours to the first hour of their local day in one zone, remembering what
// it has worked out: the zone rules are read once per day, not once per cell.
type Days struct {
	loc   *time.Location
	known map[int64]int64
}

// NewDays returns the day map of a zone.
func NewDays(loc *time.Location) *Days {
	return &Days{loc: loc, known: map[int64]int64{}}
}

// Of returns the first hour of the local day holding the UTC hour hourMicros, both in
// Unix microseconds: the same day boundaries Bounds gives a day window.
func (d *Days) Of(hourMicros int64) int64 {
	if day, ok := d.known[hourMicros]; ok {
		return day
	}
	t := time.UnixMicro(hourMicros).In(d.loc)
	y, m, dd := t.Date()
	day := DayStart(y, m, dd, d.loc).Truncate(time.Hour).UnixMicro()
	// Where midnight is not on a UTC hour (Asia/Kolkata), Bounds moves it back to the
	// start of its hour, so the hour holding midnight already belongs to the new day.
	if next := DayStart(y, m, dd+1, d.loc).Truncate(time.Hour).UnixMicro(); hourMicros >= next {
		day = next
	}
	d.known[hourMicros] = day
	return day
}

// IsDayStart says whether the instant is the first hour of a local day, so that a bucket
// starting there can be read from day cells.
func (d *Days) IsDayStart(t time.Time) bool {
	us := t.UnixMicro()
	return us%HourMicros == 0 && d.Of(us) == us
}

// DayDeltas combines hourly deltas of one combination into deltas of their days, one per
// (meter, app, group, day), in a deterministic order: deltas a single upsert can apply.
// Additive deltas that come to zero are dropped. Unique values are not deltas; see
// DayUniques.
func DayDeltas(c Combination, deltas []Delta, days *Days) ([]Delta, error) {
	type cell struct {
		meter, app, group string
		day               int64
	}
	combined := map[cell]Delta{}
	for _, d := range deltas {
		k := cell{d.Meter, d.AppID, d.Group, days.Of(d.HourMicros)}
		prev, ok := combined[k]
		d.HourMicros = k.day
		if c != CombineLatest {
			d.AtMicros = 0 // only a latest value has a time
		}
		if ok {
			switch c {
			case CombineAdd:
				var fits bool
				if d.Units, fits = addUnits(d.Units, prev.Units); !fits {
					return nil, overflow(d.Meter)
				}
			case CombineMin:
				d.Units = min(d.Units, prev.Units)
			case CombineMax, CombinePeak:
				d.Units = max(d.Units, prev.Units)
			case CombineLatest:
				if cmp.Or(cmp.Compare(prev.AtMicros, d.AtMicros), cmp.Compare(prev.Units, d.Units)) > 0 {
					d = prev
				}
			default:
				return nil, fmt.Errorf("usage: combination %d has no day deltas", c)
			}
		}
		combined[k] = d
	}
	out := make([]Delta, 0, len(combined))
	for _, d := range combined {
		if c == CombineAdd && d.Units == 0 {
			continue
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b Delta) int {
		return cmp.Or(strings.Compare(a.Meter, b.Meter), strings.Compare(a.AppID, b.AppID),
			strings.Compare(a.Group, b.Group), cmp.Compare(a.HourMicros, b.HourMicros))
	})
	return out, nil
}

// DayUniques returns the distinct values of their days, each once.
func DayUniques(uniques []Unique, days *Days) []Unique {
	seen := make(map[Unique]bool, len(uniques))
	out := make([]Unique, 0, len(uniques))
	for _, u := range uniques {
		u.HourMicros = days.Of(u.HourMicros)
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out
}

// DayRanges returns the whole days that hold the hour ranges, as ranges of hours from the
// first hour of a day to the first hour of the day after, joined where they meet: the
// hours a day cell is recomputed from.
func DayRanges(ranges []HourRange, days *Days) []HourRange {
	out := make([]HourRange, 0, len(ranges))
	for _, r := range ranges {
		last := days.Of(r.ToMicros - HourMicros)
		// The day after last begins at the first hour whose day differs.
		end := last + HourMicros
		for days.Of(end) == last {
			end += HourMicros
		}
		out = append(out, HourRange{FromMicros: days.Of(r.FromMicros), ToMicros: end})
	}
	return JoinRanges(out)
}
