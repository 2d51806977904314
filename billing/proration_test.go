package billing

import (
	"math/big"
	"math/rand/v2"
	"testing"
	"time"
)

func TestProrate(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	utc := time.UTC
	june := [2]time.Time{time.Date(2026, 6, 1, 0, 0, 0, 0, utc), time.Date(2026, 7, 1, 0, 0, 0, 0, utc)}
	july := [2]time.Time{time.Date(2026, 7, 1, 0, 0, 0, 0, utc), time.Date(2026, 8, 1, 0, 0, 0, 0, utc)}
	feb := [2]time.Time{time.Date(2026, 2, 1, 0, 0, 0, 0, utc), time.Date(2026, 3, 1, 0, 0, 0, 0, utc)}
	leapFeb := [2]time.Time{time.Date(2028, 2, 1, 0, 0, 0, 0, utc), time.Date(2028, 3, 1, 0, 0, 0, 0, utc)}
	// March 2026 in New York has 31 days but 743 hours: summer time begins on the 8th.
	nyMarch := [2]time.Time{time.Date(2026, 3, 1, 0, 0, 0, 0, ny), time.Date(2026, 4, 1, 0, 0, 0, 0, ny)}
	// A cycle anchored mid-day: the period's first and last days are partial days.
	midDay := [2]time.Time{time.Date(2026, 6, 15, 18, 0, 0, 0, utc), time.Date(2026, 7, 15, 18, 0, 0, 0, utc)}
	year2026 := [2]time.Time{time.Date(2026, 1, 1, 0, 0, 0, 0, utc), time.Date(2027, 1, 1, 0, 0, 0, 0, utc)}
	year2028 := [2]time.Time{time.Date(2028, 1, 1, 0, 0, 0, 0, utc), time.Date(2029, 1, 1, 0, 0, 0, 0, utc)}
	const limit = ProrationAmountMinorMax
	tests := []struct {
		name     string
		oldMinor int64
		newMinor int64
		period   [2]time.Time
		at       time.Time
		loc      *time.Location
		want     Proration
	}{
		{"first day: the full difference", 1000, 4000, june, june[0], utc, Proration{30, 30, 3000}},
		{"first day, in the evening", 1000, 4000, june, time.Date(2026, 6, 1, 23, 59, 0, 0, utc), utc, Proration{30, 30, 3000}},
		{"second day", 1000, 4000, june, time.Date(2026, 6, 2, 0, 0, 0, 0, utc), utc, Proration{29, 30, 2900}},
		{"day 10 of 30", 1000, 3000, june, time.Date(2026, 6, 10, 12, 0, 0, 0, utc), utc, Proration{21, 30, 1400}},
		{"last day: one day", 1000, 4000, june, time.Date(2026, 6, 30, 23, 0, 0, 0, utc), utc, Proration{1, 30, 100}},
		{"at the end: nothing", 1000, 4000, june, june[1], utc, Proration{0, 30, 0}},
		{"after the end: nothing", 1000, 4000, june, june[1].AddDate(0, 1, 0), utc, Proration{0, 30, 0}},
		{"before the start: the whole period", 1000, 4000, june, june[0].Add(-time.Nanosecond), utc, Proration{30, 30, 3000}},
		{"no change", 2500, 2500, june, time.Date(2026, 6, 10, 0, 0, 0, 0, utc), utc, Proration{21, 30, 0}},
		{"downgrade is a credit", 4000, 1000, june, time.Date(2026, 6, 10, 0, 0, 0, 0, utc), utc, Proration{21, 30, -2100}},

		{"28-day February", 0, 2800, feb, time.Date(2026, 2, 15, 0, 0, 0, 0, utc), utc, Proration{14, 28, 1400}},
		{"leap February", 0, 2900, leapFeb, time.Date(2028, 2, 15, 0, 0, 0, 0, utc), utc, Proration{15, 29, 1500}},
		{"31-day month, rounded down", 2000, 4000, july, time.Date(2026, 7, 10, 0, 0, 0, 0, utc), utc, Proration{22, 31, 1419}},  // 1419.35
		{"31-day month, credit rounded", 4000, 1000, july, time.Date(2026, 7, 25, 0, 0, 0, 0, utc), utc, Proration{7, 31, -677}}, // -677.42
		{"31-day month, rounded up", 0, 1000, july, time.Date(2026, 7, 2, 0, 0, 0, 0, utc), utc, Proration{30, 31, 968}},         // 967.74

		// Calendar days, not 24-hour spans: the 23-hour 8 March is one day.
		{"DST month: whole month", 0, 3100, nyMarch, nyMarch[0], ny, Proration{31, 31, 3100}},
		{"DST month: on the short day", 0, 3100, nyMarch, time.Date(2026, 3, 8, 23, 30, 0, 0, ny), ny, Proration{24, 31, 2400}},
		{"DST month: the day after", 0, 3100, nyMarch, time.Date(2026, 3, 9, 0, 0, 0, 0, ny), ny, Proration{23, 31, 2300}},
		{"DST month: last day", 0, 3100, nyMarch, time.Date(2026, 3, 31, 23, 59, 0, 0, ny), ny, Proration{1, 31, 100}},
		// 03:30 UTC on 31 March is 30 March 23:30 in New York: two days remain there, one in UTC.
		{"days are counted in loc", 0, 3100, nyMarch, time.Date(2026, 3, 31, 3, 30, 0, 0, utc), ny, Proration{2, 31, 200}},
		{"days are counted in loc, UTC", 0, 3100, nyMarch, time.Date(2026, 3, 31, 3, 30, 0, 0, utc), utc, Proration{1, 31, 100}},

		{"mid-day anchor: first day counts whole", 0, 3000, midDay, time.Date(2026, 6, 15, 20, 0, 0, 0, utc), utc, Proration{30, 30, 3000}},
		{"mid-day anchor: end's day before the end counts nothing", 0, 3000, midDay, time.Date(2026, 7, 15, 12, 0, 0, 0, utc), utc, Proration{0, 30, 0}},

		{"annual, 365 days", 0, 36500, year2026, time.Date(2026, 7, 2, 0, 0, 0, 0, utc), utc, Proration{183, 365, 18300}},
		{"annual, 366 days", 0, 36500, year2028, time.Date(2028, 7, 2, 0, 0, 0, 0, utc), utc, Proration{183, 366, 18250}},
		{"annual, leap day counts", 0, 36600, year2028, time.Date(2028, 2, 29, 0, 0, 0, 0, utc), utc, Proration{307, 366, 30700}},

		// Half away from zero, both ways: 1 × 15 / 30 = 0.5.
		{"half rounds up", 2, 3, june, time.Date(2026, 6, 16, 0, 0, 0, 0, utc), utc, Proration{15, 30, 1}},
		{"minus half rounds down", 3, 2, june, time.Date(2026, 6, 16, 0, 0, 0, 0, utc), utc, Proration{15, 30, -1}},
		{"under half rounds to zero", 3, 2, june, time.Date(2026, 6, 17, 0, 0, 0, 0, utc), utc, Proration{14, 30, 0}},
		{"1.5 rounds to 2", 0, 3, june, time.Date(2026, 6, 16, 0, 0, 0, 0, utc), utc, Proration{15, 30, 2}},
		{"-1.5 rounds to -2", 3, 0, june, time.Date(2026, 6, 16, 0, 0, 0, 0, utc), utc, Proration{15, 30, -2}},

		// No overflow: 2 × 10^15 × 365 exceeds nothing in big.Int, and the result fits.
		{"largest prices", -limit, limit, year2028, time.Date(2028, 1, 2, 0, 0, 0, 0, utc), utc, Proration{365, 366, 1994535519125683}}, // 1994535519125683.06
		{"largest credit", limit, -limit, year2028, time.Date(2028, 1, 2, 0, 0, 0, 0, utc), utc, Proration{365, 366, -1994535519125683}},
		{"largest price, one day", 0, limit, year2028, time.Date(2028, 12, 31, 0, 0, 0, 0, utc), utc, Proration{1, 366, 2732240437158}}, // 2732240437158.47
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Prorate(tt.oldMinor, tt.newMinor, tt.period[0], tt.period[1], tt.at, tt.loc)
			if got != tt.want {
				t.Errorf("Prorate(%d → %d at %s) = %+v, want %+v", tt.oldMinor, tt.newMinor, tt.at, got, tt.want)
			}
		})
	}
}

func TestProratePanics(t *testing.T) {
	start := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name               string
		oldMinor, newMinor int64
		start, end         time.Time
		loc                *time.Location
	}{
		{"empty period", 0, 100, start, start, time.UTC},
		{"reversed period", 0, 100, end, start, time.UTC},
		{"period within one day", 0, 100, start, start.Add(12 * time.Hour), time.UTC},
		{"nil location", 0, 100, start, end, nil},
		{"price too high", 0, ProrationAmountMinorMax + 1, start, end, time.UTC},
		{"price too low", -ProrationAmountMinorMax - 1, 0, start, end, time.UTC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Prorate did not panic")
				}
			}()
			Prorate(tt.oldMinor, tt.newMinor, tt.start, tt.end, start.Add(time.Hour), tt.loc)
		})
	}
}

// priceChange is a new price taking effect on a day of a period (day 1 is the first).
type priceChange struct {
	day      int
	newMinor int64
}

// prorateAll prorates each change against the price in force before it and returns the
// sum of the amounts.
func prorateAll(initialMinor int64, changes []priceChange, start, end time.Time) int64 {
	var sum int64
	price := initialMinor
	for _, c := range changes {
		at := start.AddDate(0, 0, c.day-1)
		sum += Prorate(price, c.newMinor, start, end, at, time.UTC).AmountMinor
		price = c.newMinor
	}
	return sum
}

// directExact is the same total computed directly, without rounding: every day of the
// period at the price in force that day, less the initial price paid for the period.
func directExact(initialMinor int64, changes []priceChange, days int) *big.Rat {
	total := new(big.Int)
	price, next := initialMinor, 0
	for day := 1; day <= days; day++ {
		for next < len(changes) && changes[next].day == day {
			price = changes[next].newMinor
			next++
		}
		total.Add(total, big.NewInt(price))
	}
	r := new(big.Rat).SetFrac(total, big.NewInt(int64(days)))
	return r.Sub(r, new(big.Rat).SetInt64(initialMinor))
}

func TestProrateSeveralChanges(t *testing.T) {
	june := [2]time.Time{time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)}
	july := [2]time.Time{time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)}
	tests := []struct {
		name    string
		period  [2]time.Time
		days    int
		initial int64
		changes []priceChange
		want    int64
	}{
		// $10 → $30 on day 10 → $20 on day 20 → $25 on day 25 of a 30-day month:
		// 1400 − 366.67 + 100 = 1133.33 directly; 1400 − 367 + 100 = 1133 by change.
		{"three changes in June", june, 30, 1000, []priceChange{{10, 3000}, {20, 2000}, {25, 2500}}, 1133},
		// The worked example of docs/subscriptions.md.
		{"docs example", july, 31, 2000, []priceChange{{10, 4000}, {25, 1000}}, 742},
		{"up and back down the same day", june, 30, 1000, []priceChange{{10, 3000}, {10, 1000}}, 0},
		{"on the first and last days", june, 30, 1000, []priceChange{{1, 4000}, {30, 1000}}, 2900},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := prorateAll(tt.initial, tt.changes, tt.period[0], tt.period[1])
			if got != tt.want {
				t.Errorf("sum of prorations = %d, want %d", got, tt.want)
			}
			checkCloseToDirect(t, got, directExact(tt.initial, tt.changes, tt.days), len(tt.changes))
		})
	}
}

// TestProrateSeveralChangesRandom checks, on random sequences of changes, that the sum of
// the prorations is the direct calculation up to half a minor unit per change.
func TestProrateSeveralChangesRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	periods := [][2]time.Time{
		{time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(2028, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for i := range 2000 {
		p := periods[i%len(periods)]
		days := int(civilDay(p[1], time.UTC) - civilDay(p[0], time.UTC))
		initial := rng.Int64N(1_000_000)
		var changes []priceChange
		day := 1
		for range 1 + rng.IntN(6) {
			day += rng.IntN(days - day + 1)
			changes = append(changes, priceChange{day, rng.Int64N(1_000_000)})
		}
		got := prorateAll(initial, changes, p[0], p[1])
		checkCloseToDirect(t, got, directExact(initial, changes, days), len(changes))
		if t.Failed() {
			t.Fatalf("initial %d, changes %v in [%s, %s)", initial, changes, p[0], p[1])
		}
	}
}

// checkCloseToDirect fails unless |got − exact| ≤ changes / 2: each change rounds once, by
// at most half a minor unit.
func checkCloseToDirect(t *testing.T, got int64, exact *big.Rat, changes int) {
	t.Helper()
	diff := new(big.Rat).Sub(new(big.Rat).SetInt64(got), exact)
	diff.Abs(diff)
	if diff.Cmp(big.NewRat(int64(changes), 2)) > 0 {
		t.Errorf("sum of prorations %d is %s away from the direct %s, more than %d/2", got, diff.FloatString(3), exact.FloatString(3), changes)
	}
}
