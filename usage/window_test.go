package usage_test

import (
	"strings"
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/usage"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func instant(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestBounds(t *testing.T) {
	for _, tc := range []struct {
		name     string
		zone     string
		from, to string
		window   billow.UsageWindow
		want     []string // RFC 3339 in the zone
		hours    []int    // length of each bucket, when worth saying
	}{
		{
			name: "Berlin, spring forward on 2026-03-29: a 23-hour day", zone: "Europe/Berlin",
			from: "2026-03-28T00:00:00+01:00", to: "2026-03-31T00:00:00+02:00", window: billow.UsageWindowDay,
			want:  []string{"2026-03-28T00:00:00+01:00", "2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00", "2026-03-31T00:00:00+02:00"},
			hours: []int{24, 23, 24},
		},
		{
			name: "Berlin, fall back on 2026-10-25: a 25-hour day", zone: "Europe/Berlin",
			from: "2026-10-24T00:00:00+02:00", to: "2026-10-27T00:00:00+01:00", window: billow.UsageWindowDay,
			want:  []string{"2026-10-24T00:00:00+02:00", "2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00", "2026-10-27T00:00:00+01:00"},
			hours: []int{24, 25, 24},
		},
		{
			name: "New York, spring forward on 2026-03-08", zone: "America/New_York",
			from: "2026-03-07T00:00:00-05:00", to: "2026-03-10T00:00:00-04:00", window: billow.UsageWindowDay,
			want:  []string{"2026-03-07T00:00:00-05:00", "2026-03-08T00:00:00-05:00", "2026-03-09T00:00:00-04:00", "2026-03-10T00:00:00-04:00"},
			hours: []int{24, 23, 24},
		},
		{
			name: "New York, fall back on 2026-11-01", zone: "America/New_York",
			from: "2026-10-31T00:00:00-04:00", to: "2026-11-03T00:00:00-05:00", window: billow.UsageWindowDay,
			want:  []string{"2026-10-31T00:00:00-04:00", "2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00", "2026-11-03T00:00:00-05:00"},
			hours: []int{24, 25, 24},
		},
		{
			name: "from and to inside days: the first and last bucket are clipped", zone: "America/New_York",
			from: "2026-03-07T15:00:00Z", to: "2026-03-09T13:00:00Z", window: billow.UsageWindowDay,
			want:  []string{"2026-03-07T10:00:00-05:00", "2026-03-08T00:00:00-05:00", "2026-03-09T00:00:00-04:00", "2026-03-09T09:00:00-04:00"},
			hours: []int{14, 23, 9},
		},
		{
			name: "from and to inside hours: the range widens to the whole hours it touches", zone: "UTC",
			from: "2026-03-07T15:20:00Z", to: "2026-03-07T17:10:00Z", window: billow.UsageWindowHour,
			want: []string{"2026-03-07T15:00:00Z", "2026-03-07T16:00:00Z", "2026-03-07T17:00:00Z", "2026-03-07T18:00:00Z"},
		},
		{
			name: "a range within one hour is that hour", zone: "UTC",
			from: "2026-03-07T15:20:00Z", to: "2026-03-07T15:40:00Z", window: billow.UsageWindowNone,
			want: []string{"2026-03-07T15:00:00Z", "2026-03-07T16:00:00Z"},
		},
		{
			name: "hour buckets are UTC hours: Berlin's 02:00 on 2026-03-29 does not exist", zone: "Europe/Berlin",
			from: "2026-03-29T00:00:00Z", to: "2026-03-29T03:00:00Z", window: billow.UsageWindowHour,
			want: []string{"2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00", "2026-03-29T05:00:00+02:00"},
		},
		{
			name: "hour buckets in Berlin's repeated hour on 2026-10-25", zone: "Europe/Berlin",
			from: "2026-10-25T00:00:00Z", to: "2026-10-25T02:00:00Z", window: billow.UsageWindowHour,
			want: []string{"2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00", "2026-10-25T03:00:00+01:00"},
		},
		{
			name: "months start on the 1st at local midnight, whatever the offset", zone: "Europe/Berlin",
			from: "2026-01-15T10:00:00Z", to: "2026-05-10T00:00:00Z", window: billow.UsageWindowMonth,
			want: []string{"2026-01-15T11:00:00+01:00", "2026-02-01T00:00:00+01:00", "2026-03-01T00:00:00+01:00",
				"2026-04-01T00:00:00+02:00", "2026-05-01T00:00:00+02:00", "2026-05-10T02:00:00+02:00"},
			hours: []int{16*24 + 13, 28 * 24, 31*24 - 1, 30 * 24, 9*24 + 2},
		},
		{
			name: "New York months over both changes", zone: "America/New_York",
			from: "2026-03-01T00:00:00-05:00", to: "2026-12-01T00:00:00-05:00", window: billow.UsageWindowMonth,
			want: []string{"2026-03-01T00:00:00-05:00", "2026-04-01T00:00:00-04:00", "2026-05-01T00:00:00-04:00", "2026-06-01T00:00:00-04:00",
				"2026-07-01T00:00:00-04:00", "2026-08-01T00:00:00-04:00", "2026-09-01T00:00:00-04:00", "2026-10-01T00:00:00-04:00",
				"2026-11-01T00:00:00-04:00", "2026-12-01T00:00:00-05:00"},
		},
		{
			name: "window none is one bucket", zone: "Europe/Berlin",
			from: "2026-03-01T00:00:00+01:00", to: "2026-04-01T00:00:00+02:00", window: billow.UsageWindowNone,
			want: []string{"2026-03-01T00:00:00+01:00", "2026-04-01T00:00:00+02:00"}, hours: []int{31*24 - 1},
		},
		{
			// Kolkata is UTC+05:30: local midnight is 18:30 UTC, inside an hour the rollups
			// cannot split. Boundaries move to the start of that hour (23:30 local), to as well,
			// being a midnight: the buckets say what they hold.
			name: "Kolkata: day boundaries off the UTC hour move to the start of their hour", zone: "Asia/Kolkata",
			from: "2026-03-10T00:00:00+05:30", to: "2026-03-13T00:00:00+05:30", window: billow.UsageWindowDay,
			want:  []string{"2026-03-09T23:30:00+05:30", "2026-03-10T23:30:00+05:30", "2026-03-11T23:30:00+05:30", "2026-03-12T23:30:00+05:30"},
			hours: []int{24, 24, 24},
		},
		{
			name: "Kolkata: a from in the same UTC hour as the next midnight leaves no empty bucket", zone: "Asia/Kolkata",
			from: "2026-03-10T23:40:00+05:30", to: "2026-03-12T00:00:00+05:30", window: billow.UsageWindowDay,
			want: []string{"2026-03-10T23:30:00+05:30", "2026-03-11T23:30:00+05:30"}, hours: []int{24},
		},
		{
			// Nepal is UTC+05:45: midnight is 18:15 UTC.
			name: "Kathmandu: a quarter-hour offset", zone: "Asia/Kathmandu",
			from: "2026-03-10T12:00:00Z", to: "2026-03-12T12:00:00Z", window: billow.UsageWindowDay,
			want: []string{"2026-03-10T17:45:00+05:45", "2026-03-10T23:45:00+05:45", "2026-03-11T23:45:00+05:45", "2026-03-12T17:45:00+05:45"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loc := zone(t, tc.zone)
			got, err := usage.Bounds(instant(t, tc.from), instant(t, tc.to), tc.window, loc)
			if err != nil {
				t.Fatal(err)
			}
			var gotText []string
			for _, b := range got {
				if b.Location() != loc {
					t.Errorf("boundary %v is not in %s", b, tc.zone)
				}
				if !b.Equal(b.Truncate(time.Hour)) {
					t.Errorf("boundary %v is not on a UTC hour", b)
				}
				gotText = append(gotText, b.Format(time.RFC3339))
			}
			if strings.Join(gotText, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("bounds:\n got %v\nwant %v", gotText, tc.want)
			}
			for i, h := range tc.hours {
				if d := got[i+1].Sub(got[i]); d != time.Duration(h)*time.Hour {
					t.Errorf("bucket %d is %v long, want %dh", i, d, h)
				}
			}
		})
	}
}

func TestBoundsLimits(t *testing.T) {
	utc := time.UTC
	from := instant(t, "2026-01-01T00:00:00Z")
	// BucketsMax hours are allowed; one more is too_many_buckets on window.
	if b, err := usage.Bounds(from, from.Add(usage.BucketsMax*time.Hour), billow.UsageWindowHour, utc); err != nil || len(b) != usage.BucketsMax+1 {
		t.Fatalf("%d hours: %d bounds, %v", usage.BucketsMax, len(b), err)
	}
	_, err := usage.Bounds(from, from.Add((usage.BucketsMax+1)*time.Hour), billow.UsageWindowHour, utc)
	if billow.ErrorCode(err) != billow.CodeTooManyBuckets || !strings.Contains(err.Error(), "window") {
		t.Fatalf("one hour too many: %v", err)
	}
	// The day loop stops as soon as it passes the limit instead of building them all.
	_, err = usage.Bounds(from, from.AddDate(100, 0, 0), billow.UsageWindowDay, utc)
	if billow.ErrorCode(err) != billow.CodeTooManyBuckets {
		t.Fatalf("a century of days: %v", err)
	}
	if b, err := usage.Bounds(from, from.AddDate(100, 0, 0), billow.UsageWindowMonth, utc); err != nil || len(b) != 1201 {
		t.Fatalf("a century of months: %d bounds, %v", len(b), err)
	}
	for _, tc := range []struct {
		from, to time.Time
		w        billow.UsageWindow
	}{
		{from, from, billow.UsageWindowDay},
		{from, from.Add(-time.Hour), billow.UsageWindowDay},
		{from, from.Add(time.Hour), "week"},
	} {
		if _, err := usage.Bounds(tc.from, tc.to, tc.w, utc); billow.ErrorCode(err) != billow.CodeValidationFailed {
			t.Errorf("Bounds(%v, %v, %q) = %v, want validation_failed", tc.from, tc.to, tc.w, err)
		}
	}
}

func TestDayStart(t *testing.T) {
	for _, tc := range []struct {
		zone string
		date string
		want string
	}{
		{"Europe/Berlin", "2026-03-29", "2026-03-29T00:00:00+01:00"},
		{"Europe/Berlin", "2026-03-30", "2026-03-30T00:00:00+02:00"},
		{"America/New_York", "2026-11-01", "2026-11-01T00:00:00-04:00"},
		{"America/New_York", "2026-11-02", "2026-11-02T00:00:00-05:00"},
		// Santiago begins summer time at 24:00 on 2026-09-05: the 6th has no midnight
		// and begins at 01:00, the jump.
		{"America/Santiago", "2026-09-06", "2026-09-06T01:00:00-03:00"},
		{"America/Santiago", "2026-09-07", "2026-09-07T00:00:00-03:00"},
		// Havana ends summer time at 01:00 on 2026-11-01, back to 00:00: midnight happens
		// twice, and the day begins at the first.
		{"America/Havana", "2026-11-01", "2026-11-01T00:00:00-04:00"},
		{"America/Havana", "2026-11-02", "2026-11-02T00:00:00-05:00"},
		{"Asia/Kolkata", "2026-03-10", "2026-03-10T00:00:00+05:30"},
	} {
		loc := zone(t, tc.zone)
		d, err := time.Parse(time.DateOnly, tc.date)
		if err != nil {
			t.Fatal(err)
		}
		got := usage.DayStart(d.Year(), d.Month(), d.Day(), loc)
		if got.Format(time.RFC3339) != tc.want {
			t.Errorf("DayStart(%s, %s) = %s, want %s", tc.zone, tc.date, got.Format(time.RFC3339), tc.want)
		}
	}
	// Days are normalized like time.Date's.
	if got := usage.DayStart(2026, 1, 32, time.UTC); !got.Equal(instant(t, "2026-02-01T00:00:00Z")) {
		t.Errorf("DayStart(2026-01-32) = %v", got)
	}
}

func TestTrendsPeriod(t *testing.T) {
	berlin := zone(t, "Europe/Berlin")
	now := instant(t, "2026-03-30T10:17:00Z") // 12:17 in Berlin, the day after the change
	for _, tc := range []struct {
		in       billow.UsageTrendsInput
		from, to string
		window   billow.UsageWindow
	}{
		{billow.UsageTrendsInput{Range: billow.TrendsLast24Hours}, "2026-03-29T11:00:00Z", "2026-03-30T11:00:00Z", billow.UsageWindowHour},
		{billow.UsageTrendsInput{Range: billow.TrendsLast7Days}, "2026-03-24T00:00:00+01:00", "2026-03-31T00:00:00+02:00", billow.UsageWindowDay},
		{billow.UsageTrendsInput{Range: billow.TrendsLast30Days}, "2026-03-01T00:00:00+01:00", "2026-03-31T00:00:00+02:00", billow.UsageWindowDay},
		{billow.UsageTrendsInput{Range: billow.TrendsLast90Days}, "2025-12-31T00:00:00+01:00", "2026-03-31T00:00:00+02:00", billow.UsageWindowDay},
		{billow.UsageTrendsInput{Range: billow.TrendsCustom, From: instant(t, "2026-02-01T00:00:00Z"), To: instant(t, "2026-02-03T00:00:00Z")},
			"2026-02-01T00:00:00Z", "2026-02-03T00:00:00Z", billow.UsageWindowDay},
	} {
		from, to, w := usage.TrendsPeriod(&tc.in, now, berlin)
		if !from.Equal(instant(t, tc.from)) || !to.Equal(instant(t, tc.to)) || w != tc.window {
			t.Errorf("%s: %v – %v by %s, want %s – %s by %s", tc.in.Range, from, to, w, tc.from, tc.to, tc.window)
		}
	}
	// On the hour, the hour that just began is the last bucket.
	from, to, _ := usage.TrendsPeriod(&billow.UsageTrendsInput{Range: billow.TrendsLast24Hours}, instant(t, "2026-03-30T10:00:00Z"), berlin)
	if !to.Equal(instant(t, "2026-03-30T11:00:00Z")) || to.Sub(from) != 24*time.Hour {
		t.Errorf("24h on the hour: %v – %v", from, to)
	}
	// 7 days ending in a 23-hour day are 167 hours.
	b, err := usage.Bounds(instant(t, "2026-03-24T00:00:00+01:00"), instant(t, "2026-03-31T00:00:00+02:00"), billow.UsageWindowDay, berlin)
	if err != nil || len(b) != 8 || b[7].Sub(b[0]) != 167*time.Hour {
		t.Errorf("7 days over the change: %v, %v", b, err)
	}
}

func TestCurrentMonth(t *testing.T) {
	ny := zone(t, "America/New_York")
	// 03:00 UTC on 1 November is still 31 October in New York.
	from, to := usage.CurrentMonth(instant(t, "2026-11-01T03:00:00Z"), ny)
	if from.Format(time.RFC3339) != "2026-10-01T00:00:00-04:00" || to.Format(time.RFC3339) != "2026-11-01T00:00:00-04:00" {
		t.Fatalf("current month = %v – %v", from, to)
	}
}
