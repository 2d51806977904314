package usage_test

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/usage"
)

// TestDaysAgreeWithBounds checks that every hour of a year falls in the day cell whose
// first hour is the day bucket Bounds gives it, across daylight-saving changes, offsets
// that are not whole hours, a skipped midnight and a repeated one.
func TestDaysAgreeWithBounds(t *testing.T) {
	for _, name := range []string{"UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu",
		"America/Santiago", "America/Havana", "Australia/Lord_Howe", "Pacific/Chatham"} {
		t.Run(name, func(t *testing.T) {
			loc := zone(t, name)
			from, to := time.Date(2026, 1, 1, 0, 0, 0, 0, loc), time.Date(2027, 1, 1, 0, 0, 0, 0, loc)
			bounds, err := usage.Bounds(from, to, billow.UsageWindowDay, loc)
			if err != nil {
				t.Fatal(err)
			}
			days := usage.NewDays(loc)
			for i, b := range bounds {
				if !days.IsDayStart(b) {
					t.Fatalf("bound %d (%s) is not a day start", i, b)
				}
			}
			k := 0
			for h := bounds[0].UnixMicro(); h < bounds[len(bounds)-1].UnixMicro(); h += usage.HourMicros {
				for bounds[k+1].UnixMicro() <= h {
					k++
				}
				if got, want := days.Of(h), bounds[k].UnixMicro(); got != want {
					t.Fatalf("hour %s: day %s, Bounds says %s", time.UnixMicro(h).In(loc), time.UnixMicro(got).In(loc), bounds[k])
				}
			}
		})
	}
}

func TestDayDeltas(t *testing.T) {
	berlin := zone(t, "Europe/Berlin")
	hour := func(s string) int64 { return instant(t, s).UnixMicro() }
	// 2026-10-25 in Berlin is 25 hours long: 22:00 UTC on the 24th to 23:00 UTC on the 25th.
	day, next := hour("2026-10-24T22:00:00Z"), hour("2026-10-25T23:00:00Z")
	in := []usage.Delta{
		{Meter: "m", AppID: "a", HourMicros: hour("2026-10-24T22:00:00Z"), Units: 5, AtMicros: 10},
		{Meter: "m", AppID: "a", HourMicros: hour("2026-10-25T22:00:00Z"), Units: 2, AtMicros: 30},
		{Meter: "m", AppID: "a", HourMicros: hour("2026-10-25T12:00:00Z"), Units: 9, AtMicros: 30},
		{Meter: "m", AppID: "a", HourMicros: hour("2026-10-25T23:00:00Z"), Units: 7, AtMicros: 40},
		{Meter: "m", AppID: "b", HourMicros: hour("2026-10-25T01:00:00Z"), Units: -5},
		{Meter: "m", AppID: "b", HourMicros: hour("2026-10-25T02:00:00Z"), Units: 5},
	}
	for _, tc := range []struct {
		name string
		c    usage.Combination
		want []usage.Delta
	}{
		{"add; app b's move within the day comes to zero", usage.CombineAdd, []usage.Delta{
			{Meter: "m", AppID: "a", HourMicros: day, Units: 16}, {Meter: "m", AppID: "a", HourMicros: next, Units: 7}}},
		{"min", usage.CombineMin, []usage.Delta{
			{Meter: "m", AppID: "a", HourMicros: day, Units: 2}, {Meter: "m", AppID: "a", HourMicros: next, Units: 7},
			{Meter: "m", AppID: "b", HourMicros: day, Units: -5}}},
		{"max and peak", usage.CombineMax, []usage.Delta{
			{Meter: "m", AppID: "a", HourMicros: day, Units: 9}, {Meter: "m", AppID: "a", HourMicros: next, Units: 7},
			{Meter: "m", AppID: "b", HourMicros: day, Units: 5}}},
		{"latest: the latest time, the greater value on a tie", usage.CombineLatest, []usage.Delta{
			{Meter: "m", AppID: "a", HourMicros: day, Units: 9, AtMicros: 30}, {Meter: "m", AppID: "a", HourMicros: next, Units: 7, AtMicros: 40},
			{Meter: "m", AppID: "b", HourMicros: day, Units: 5}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := usage.DayDeltas(tc.c, in, usage.NewDays(berlin))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("day deltas (-want +got):\n%s", d)
			}
		})
	}
	peaks, err := usage.DayDeltas(usage.CombinePeak, in, usage.NewDays(berlin))
	if err != nil {
		t.Fatal(err)
	}
	if maxes, _ := usage.DayDeltas(usage.CombineMax, in, usage.NewDays(berlin)); !cmp.Equal(peaks, maxes) {
		t.Errorf("a day's peak is its highest hourly peak: got %v, want %v", peaks, maxes)
	}
	if _, err := usage.DayDeltas(usage.CombineUnique, in, usage.NewDays(berlin)); err == nil {
		t.Error("unique values have no day deltas, want an error")
	}
}

func TestDayUniquesAndRanges(t *testing.T) {
	kolkata := zone(t, "Asia/Kolkata")
	hour := func(s string) int64 { return instant(t, s).UnixMicro() }
	days := usage.NewDays(kolkata)
	// Midnight in Kolkata is 18:30 UTC, so a day cell starts at 18:00 UTC.
	got := usage.DayUniques([]usage.Unique{
		{Meter: "seats", HourMicros: hour("2026-11-02T17:00:00Z"), Value: "ana"},
		{Meter: "seats", HourMicros: hour("2026-11-02T18:00:00Z"), Value: "ana"},
		{Meter: "seats", HourMicros: hour("2026-11-03T17:00:00Z"), Value: "ana"},
		{Meter: "seats", HourMicros: hour("2026-11-03T05:00:00Z"), Value: "bo"},
	}, days)
	want := []usage.Unique{
		{Meter: "seats", HourMicros: hour("2026-11-01T18:00:00Z"), Value: "ana"},
		{Meter: "seats", HourMicros: hour("2026-11-02T18:00:00Z"), Value: "ana"},
		{Meter: "seats", HourMicros: hour("2026-11-02T18:00:00Z"), Value: "bo"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("day uniques (-want +got):\n%s", d)
	}
	ranges := usage.DayRanges([]usage.HourRange{
		{FromMicros: hour("2026-11-02T20:00:00Z"), ToMicros: hour("2026-11-02T21:00:00Z")},
		{FromMicros: hour("2026-11-03T18:00:00Z"), ToMicros: hour("2026-11-03T19:00:00Z")},
		{FromMicros: hour("2026-11-06T00:00:00Z"), ToMicros: hour("2026-11-06T18:00:00Z")},
	}, days)
	wantRanges := []usage.HourRange{
		{FromMicros: hour("2026-11-02T18:00:00Z"), ToMicros: hour("2026-11-04T18:00:00Z")},
		{FromMicros: hour("2026-11-05T18:00:00Z"), ToMicros: hour("2026-11-06T18:00:00Z")},
	}
	if d := cmp.Diff(wantRanges, ranges); d != "" {
		t.Errorf("day ranges (-want +got):\n%s", d)
	}
}

// TestAddingCellsRefusesOverflow: deltas of one cell that do not fit an int64 are a
// quantity_overflow error, when merged per hour and when combined per day, never a
// wrapped sum; the same deltas one unit smaller add up.
func TestAddingCellsRefusesOverflow(t *testing.T) {
	days := usage.NewDays(time.UTC)
	for _, c := range []struct {
		name  string
		units []int64
		fits  bool
	}{
		{"up to the top", []int64{math.MaxInt64 - 1, 1}, true},
		{"past the top", []int64{math.MaxInt64, 1}, false},
		{"down to the bottom", []int64{math.MinInt64 + 1, -1}, true},
		{"past the bottom", []int64{math.MinInt64, -1}, false},
	} {
		var deltas []usage.Delta
		for _, u := range c.units {
			deltas = append(deltas, usage.Delta{Meter: "m", HourMicros: 0, Units: u})
		}
		merged, err := usage.Merge(deltas)
		if c.fits != (err == nil) || !c.fits && billow.ErrorCode(err) != billow.CodeQuantityOverflow {
			t.Errorf("%s: Merge = %v, %v", c.name, merged, err)
		}
		// Per day the same: hours 0 and 1 are one day.
		deltas[1].HourMicros = usage.HourMicros
		daily, err := usage.DayDeltas(usage.CombineAdd, deltas, days)
		if c.fits != (err == nil) || !c.fits && billow.ErrorCode(err) != billow.CodeQuantityOverflow {
			t.Errorf("%s: DayDeltas = %v, %v", c.name, daily, err)
		}
	}
}

// TestSameRollups: a catalog with other meters, LLM prices, markup or credit rate makes
// other cells; one that differs elsewhere (plans) makes the same.
func TestSameRollups(t *testing.T) {
	load := func() *catalog.Catalog {
		data, err := catalog.Example("credits-platform")
		if err != nil {
			t.Fatal(err)
		}
		c, err := catalog.Parse("credits-platform", data)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	base := load()
	for name, change := range map[string]func(c *catalog.Catalog){
		"meter":  func(c *catalog.Catalog) { c.Meters[0].Filters = map[string]string{"app": "x"} },
		"price":  func(c *catalog.Catalog) { c.ProviderCosts.LLM[0].InputPerMillion = "9.99" },
		"markup": func(c *catalog.Catalog) { c.ProviderCosts.MarkupPercent = "50" },
		"rate":   func(c *catalog.Catalog) { c.Credits.PerCurrencyUnit++ },
	} {
		c := load()
		change(c)
		if usage.SameRollups(base, c) {
			t.Errorf("a changed %s is reported to make the same cells", name)
		}
	}
	other := load()
	other.Plans = other.Plans[:1]
	if !usage.SameRollups(base, other) {
		t.Error("a change of plans is reported to make other cells")
	}
}
