package billing

import (
	"fmt"
	"testing"
	"time"

	"github.com/billowhq/billow/catalog"
)

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load location %s: %v", name, err)
	}
	return loc
}

func TestPeriodStart(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	saoPaulo := mustLoad(t, "America/Sao_Paulo")
	utc := time.UTC
	month, year := catalog.IntervalMonth, catalog.IntervalYear
	tests := []struct {
		name     string
		anchor   time.Time
		interval string
		n        int
		loc      *time.Location
		want     time.Time
	}{
		{"period 0 is the anchor", time.Date(2026, 1, 31, 10, 0, 0, 0, utc), month, 0, utc, time.Date(2026, 1, 31, 10, 0, 0, 0, utc)},
		{"31 January to 28 February", time.Date(2026, 1, 31, 10, 0, 0, 0, utc), month, 1, utc, time.Date(2026, 2, 28, 10, 0, 0, 0, utc)},
		{"31 January back to 31 March", time.Date(2026, 1, 31, 10, 0, 0, 0, utc), month, 2, utc, time.Date(2026, 3, 31, 10, 0, 0, 0, utc)},
		{"31 January to 30 April", time.Date(2026, 1, 31, 10, 0, 0, 0, utc), month, 3, utc, time.Date(2026, 4, 30, 10, 0, 0, 0, utc)},
		{"31 January to 31 May", time.Date(2026, 1, 31, 10, 0, 0, 0, utc), month, 4, utc, time.Date(2026, 5, 31, 10, 0, 0, 0, utc)},
		{"31 January to 29 February of a leap year", time.Date(2028, 1, 31, 10, 0, 0, 0, utc), month, 1, utc, time.Date(2028, 2, 29, 10, 0, 0, 0, utc)},
		{"30 January to 28 February", time.Date(2026, 1, 30, 0, 0, 0, 0, utc), month, 1, utc, time.Date(2026, 2, 28, 0, 0, 0, 0, utc)},
		{"across the year end", time.Date(2026, 11, 15, 0, 0, 0, 0, utc), month, 3, utc, time.Date(2027, 2, 15, 0, 0, 0, 0, utc)},
		{"nanoseconds kept", time.Date(2026, 1, 5, 1, 2, 3, 456789, utc), month, 1, utc, time.Date(2026, 2, 5, 1, 2, 3, 456789, utc)},

		// Wall clock in loc: 00:30 local is 05:30 UTC in winter, 04:30 UTC in summer.
		{"New York winter", time.Date(2026, 1, 31, 0, 30, 0, 0, ny), month, 1, ny, time.Date(2026, 2, 28, 5, 30, 0, 0, utc)},
		{"New York after spring forward", time.Date(2026, 1, 31, 0, 30, 0, 0, ny), month, 2, ny, time.Date(2026, 3, 31, 4, 30, 0, 0, utc)},
		{"New York after fall back", time.Date(2026, 7, 31, 0, 30, 0, 0, ny), month, 4, ny, time.Date(2026, 11, 30, 5, 30, 0, 0, utc)},
		{"anchor given in UTC, wall clock of loc", time.Date(2026, 1, 31, 5, 30, 0, 0, utc), month, 2, ny, time.Date(2026, 3, 31, 4, 30, 0, 0, utc)},
		// 02:30 does not exist on 8 March 2026 in New York: time.Date gives 01:30 EST.
		{"DST gap resolves as time.Date", time.Date(2026, 2, 8, 2, 30, 0, 0, ny), month, 1, ny, time.Date(2026, 3, 8, 6, 30, 0, 0, utc)},
		// 01:30 happens twice on 1 November 2026 in New York: time.Date gives the first, EDT.
		{"repeated hour resolves to the first", time.Date(2026, 10, 1, 1, 30, 0, 0, ny), month, 1, ny, time.Date(2026, 11, 1, 5, 30, 0, 0, utc)},
		// The anchor at the second 01:30 (EST) stays itself as period 0.
		{"anchor in the repeated hour", time.Date(2026, 11, 1, 6, 30, 0, 0, utc), month, 0, ny, time.Date(2026, 11, 1, 6, 30, 0, 0, utc)},
		{"anchor in the repeated hour, next period", time.Date(2026, 11, 1, 6, 30, 0, 0, utc), month, 1, ny, time.Date(2026, 12, 1, 6, 30, 0, 0, utc)},
		// Where the clocks skipped midnight (São Paulo, 4 November 2018), 00:30 is 23:30
		// the evening before.
		{"midnight gap", time.Date(2018, 10, 4, 0, 30, 0, 0, saoPaulo), month, 1, saoPaulo, time.Date(2018, 11, 4, 2, 30, 0, 0, utc)},

		{"29 February yearly, common year", time.Date(2024, 2, 29, 12, 0, 0, 0, utc), year, 1, utc, time.Date(2025, 2, 28, 12, 0, 0, 0, utc)},
		{"29 February yearly, next common year", time.Date(2024, 2, 29, 12, 0, 0, 0, utc), year, 2, utc, time.Date(2026, 2, 28, 12, 0, 0, 0, utc)},
		{"29 February yearly, leap year again", time.Date(2024, 2, 29, 12, 0, 0, 0, utc), year, 4, utc, time.Date(2028, 2, 29, 12, 0, 0, 0, utc)},
		{"29 February yearly, 2100 is not leap", time.Date(2024, 2, 29, 12, 0, 0, 0, utc), year, 76, utc, time.Date(2100, 2, 28, 12, 0, 0, 0, utc)},
		{"yearly wall clock in New York", time.Date(2026, 3, 1, 0, 30, 0, 0, ny), year, 1, ny, time.Date(2027, 3, 1, 5, 30, 0, 0, utc)},
		{"monthly at PeriodsMax", time.Date(2026, 1, 31, 0, 0, 0, 0, utc), month, PeriodsMax, utc, time.Date(3026, 1, 31, 0, 0, 0, 0, utc)},
		{"yearly far", time.Date(2024, 2, 29, 0, 0, 0, 0, utc), year, 1000, utc, time.Date(3024, 2, 29, 0, 0, 0, 0, utc)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PeriodStart(tt.anchor, tt.interval, tt.n, tt.loc)
			if !got.Equal(tt.want) {
				t.Errorf("PeriodStart(%s, %s, %d, %s) = %s, want %s", tt.anchor, tt.interval, tt.n, tt.loc, got, tt.want.In(tt.loc))
			}
			if got.Location() != tt.loc {
				t.Errorf("PeriodStart returned a time in %s, want %s", got.Location(), tt.loc)
			}
		})
	}
}

func TestPeriodStartPanics(t *testing.T) {
	anchor := time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		interval string
		n        int
		loc      *time.Location
	}{
		{"unknown interval", "week", 1, time.UTC},
		{"empty interval", "", 1, time.UTC},
		{"negative n", catalog.IntervalMonth, -1, time.UTC},
		{"n beyond PeriodsMax", catalog.IntervalMonth, PeriodsMax + 1, time.UTC},
		{"yearly n beyond PeriodsMax", catalog.IntervalYear, PeriodsMax + 1, time.UTC},
		{"nil location", catalog.IntervalMonth, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("PeriodStart(%q, %d) did not panic", tt.interval, tt.n)
				}
			}()
			PeriodStart(anchor, tt.interval, tt.n, tt.loc)
		})
	}
}

func TestPeriodOf(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	utc := time.UTC
	jan31 := time.Date(2026, 1, 31, 10, 0, 0, 0, utc)
	leap := time.Date(2024, 2, 29, 12, 0, 0, 0, utc)
	nyAnchor := time.Date(2026, 1, 31, 0, 30, 0, 0, ny)
	month, year := catalog.IntervalMonth, catalog.IntervalYear
	tests := []struct {
		name       string
		anchor     time.Time
		interval   string
		at         time.Time
		loc        *time.Location
		wantN      int
		start, end time.Time
	}{
		{"before the anchor", jan31, month, jan31.Add(-time.Hour), utc, 0, jan31, time.Date(2026, 2, 28, 10, 0, 0, 0, utc)},
		{"long before the anchor", jan31, month, jan31.AddDate(-5, 0, 0), utc, 0, jan31, time.Date(2026, 2, 28, 10, 0, 0, 0, utc)},
		{"at the anchor", jan31, month, jan31, utc, 0, jan31, time.Date(2026, 2, 28, 10, 0, 0, 0, utc)},
		{"last instant of period 0", jan31, month, time.Date(2026, 2, 28, 9, 59, 59, 999999999, utc), utc, 0, jan31, time.Date(2026, 2, 28, 10, 0, 0, 0, utc)},
		{"first instant of period 1", jan31, month, time.Date(2026, 2, 28, 10, 0, 0, 0, utc), utc, 1, time.Date(2026, 2, 28, 10, 0, 0, 0, utc), time.Date(2026, 3, 31, 10, 0, 0, 0, utc)},
		{"mid-March is still period 1", jan31, month, time.Date(2026, 3, 15, 0, 0, 0, 0, utc), utc, 1, time.Date(2026, 2, 28, 10, 0, 0, 0, utc), time.Date(2026, 3, 31, 10, 0, 0, 0, utc)},
		{"31 March before the hour", jan31, month, time.Date(2026, 3, 31, 9, 0, 0, 0, utc), utc, 1, time.Date(2026, 2, 28, 10, 0, 0, 0, utc), time.Date(2026, 3, 31, 10, 0, 0, 0, utc)},
		{"ten years on", jan31, month, time.Date(2036, 2, 1, 0, 0, 0, 0, utc), utc, 120, time.Date(2036, 1, 31, 10, 0, 0, 0, utc), time.Date(2036, 2, 29, 10, 0, 0, 0, utc)},
		{"yearly, common year", leap, year, time.Date(2027, 3, 1, 0, 0, 0, 0, utc), utc, 3, time.Date(2027, 2, 28, 12, 0, 0, 0, utc), time.Date(2028, 2, 29, 12, 0, 0, 0, utc)},
		{"yearly, before the day", leap, year, time.Date(2027, 2, 28, 11, 0, 0, 0, utc), utc, 2, time.Date(2026, 2, 28, 12, 0, 0, 0, utc), time.Date(2027, 2, 28, 12, 0, 0, 0, utc)},
		// 04:29 UTC on 31 March is 00:29 EDT: still period 1; 04:30 UTC starts period 2.
		{"New York, a minute before", nyAnchor, month, time.Date(2026, 3, 31, 4, 29, 0, 0, utc), ny, 1, time.Date(2026, 2, 28, 5, 30, 0, 0, utc), time.Date(2026, 3, 31, 4, 30, 0, 0, utc)},
		{"New York, at the start", nyAnchor, month, time.Date(2026, 3, 31, 4, 30, 0, 0, utc), ny, 2, time.Date(2026, 3, 31, 4, 30, 0, 0, utc), time.Date(2026, 4, 30, 4, 30, 0, 0, utc)},
		// The same instant read in UTC belongs to another period: the zone matters.
		{"same instant, UTC cycle", time.Date(2026, 1, 31, 0, 30, 0, 0, utc), month, time.Date(2026, 3, 31, 0, 29, 0, 0, utc), utc, 1, time.Date(2026, 2, 28, 0, 30, 0, 0, utc), time.Date(2026, 3, 31, 0, 30, 0, 0, utc)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, start, end := PeriodOf(tt.anchor, tt.interval, tt.at, tt.loc)
			if n != tt.wantN || !start.Equal(tt.start) || !end.Equal(tt.end) {
				t.Errorf("PeriodOf(%s) = %d [%s, %s), want %d [%s, %s)", tt.at, n, start, end, tt.wantN, tt.start, tt.end)
			}
		})
	}
}

func TestPeriodOfPanics(t *testing.T) {
	anchor := time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		interval string
		at       time.Time
		loc      *time.Location
	}{
		{"unknown interval", "day", anchor, time.UTC},
		{"nil location", catalog.IntervalMonth, anchor, nil},
		{"beyond PeriodsMax months", catalog.IntervalMonth, anchor.AddDate(1000, 0, 0), time.UTC},
		{"beyond PeriodsMax years", catalog.IntervalYear, anchor.AddDate(PeriodsMax, 0, 0), time.UTC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("PeriodOf(%q, %s) did not panic", tt.interval, tt.at)
				}
			}()
			PeriodOf(anchor, tt.interval, tt.at, tt.loc)
		})
	}
}

// TestPeriodOfLastPeriod checks the last period PeriodOf answers, just under the bound.
func TestPeriodOfLastPeriod(t *testing.T) {
	anchor := time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)
	last := PeriodStart(anchor, catalog.IntervalMonth, PeriodsMax, time.UTC).Add(-time.Nanosecond)
	n, _, _ := PeriodOf(anchor, catalog.IntervalMonth, last, time.UTC)
	if n != PeriodsMax-1 {
		t.Errorf("PeriodOf(%s) = %d, want %d", last, n, PeriodsMax-1)
	}
}

// fuzzZones are the zones FuzzPeriodStart draws from: fixed and with summer time, with
// whole-hour and half-hour changes, in both hemispheres. None of them has moved its clocks
// across midnight since 1970, the earliest anchor the fuzz target builds; in a zone that
// does, a period can start on the evening before its day (see PeriodStart), and the
// day-of-month invariant does not hold.
var fuzzZones = []string{"UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Auckland"}

func FuzzPeriodStart(f *testing.F) {
	f.Add(int64(1769817600), uint32(0), uint8(1), false, uint16(2)) // 31 Jan 2026, New York
	f.Add(int64(1709208000), uint32(0), uint8(0), true, uint16(4))  // 29 Feb 2024, yearly
	f.Add(int64(1770514200), uint32(5), uint8(1), false, uint16(1)) // 8 Feb 2026 02:30 EST
	f.Add(int64(0), uint32(0), uint8(3), false, uint16(11999))
	locs := make([]*time.Location, len(fuzzZones))
	for i, name := range fuzzZones {
		locs[i] = mustLoad(f, name)
	}
	const spanSeconds = 200 * 365 * 24 * 60 * 60 // anchors from 1970 to about 2170
	f.Fuzz(func(t *testing.T, anchorSeconds int64, nanos uint32, zone uint8, yearly bool, n16 uint16) {
		anchorSeconds %= spanSeconds
		if anchorSeconds < 0 {
			anchorSeconds += spanSeconds
		}
		loc := locs[int(zone)%len(locs)]
		anchor := time.Unix(anchorSeconds, int64(nanos%1_000_000_000)).In(loc)
		interval, months := catalog.IntervalMonth, 1
		if yearly {
			interval, months = catalog.IntervalYear, 12
		}
		n := int(n16) % PeriodsMax // so that n+1 is a valid period too

		start := PeriodStart(anchor, interval, n, loc)
		next := PeriodStart(anchor, interval, n+1, loc)
		if !start.Before(next) {
			t.Fatalf("period %d starts at %s, not before period %d at %s", n, start, n+1, next)
		}
		if n == 0 && !start.Equal(anchor) {
			t.Fatalf("period 0 starts at %s, not at the anchor %s", start, anchor)
		}

		gotN, gotStart, gotEnd := PeriodOf(anchor, interval, start, loc)
		if gotN != n || !gotStart.Equal(start) || !gotEnd.Equal(next) {
			t.Fatalf("PeriodOf(PeriodStart(%d) = %s) = %d [%s, %s), want %d [%s, %s)", n, start, gotN, gotStart, gotEnd, n, start, next)
		}
		if gotN, _, _ := PeriodOf(anchor, interval, next.Add(-time.Nanosecond), loc); gotN != n {
			t.Fatalf("PeriodOf(%s), a nanosecond before period %d, = %d, want %d", next.Add(-time.Nanosecond), n+1, gotN, n)
		}

		for _, p := range []struct {
			n     int
			start time.Time
		}{{n, start}, {n + 1, next}} {
			ay, am, ad := anchor.Date()
			total := int(am-1) + p.n*months
			wantY, wantM := ay+total/12, time.Month(total%12+1)
			wantD := min(ad, daysIn(wantY, wantM))
			y, m, d := p.start.In(loc).Date()
			if y != wantY || m != wantM || d != wantD {
				t.Fatalf("period %d of %s anchored at %s starts on %d-%02d-%02d, want %d-%02d-%02d",
					p.n, interval, anchor, y, m, d, wantY, wantM, wantD)
			}
		}
	})
}

func ExamplePeriodStart() {
	ny, _ := time.LoadLocation("America/New_York")
	anchor := time.Date(2026, 1, 31, 0, 30, 0, 0, ny)
	for n := range 4 {
		s := PeriodStart(anchor, catalog.IntervalMonth, n, ny)
		fmt.Println(s.Format("2006-01-02 15:04 MST"), s.UTC().Format("15:04Z"))
	}
	// Output:
	// 2026-01-31 00:30 EST 05:30Z
	// 2026-02-28 00:30 EST 05:30Z
	// 2026-03-31 00:30 EDT 04:30Z
	// 2026-04-30 00:30 EDT 04:30Z
}
