package meter_test

import (
	"errors"
	"math"
	"testing"

	"github.com/billowhq/billow/meter"
)

func TestQuota(t *testing.T) {
	tests := []struct {
		name      string
		limit     int64
		allowance string
		hardLimit int64
	}{
		{"seed 000: 1 GB plus 1%", 1_000_000_000, "1", 1_010_000_000},
		{"no allowance", 1_000_000_000, "", 1_000_000_000},
		{"a fractional allowance is floored", 999, "1.5", 1013}, // 1013.985
		{"a contract's own limit with the default allowance", 5_000_000_000, "1", 5_050_000_000},
		{"a contract's own allowance", 1_000_000_000, "0.25", 1_002_500_000},
		{"the largest quota", meter.QuotaLimitMax, "100", 2 * meter.QuotaLimitMax},
		{"zero", 0, "1", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := meter.NewQuota(tt.limit, tt.allowance)
			if err != nil {
				t.Fatal(err)
			}
			if q.HardLimit() != tt.hardLimit || q.Limit() != tt.limit {
				t.Errorf("limit %d, hard limit %d; want %d, %d", q.Limit(), q.HardLimit(), tt.limit, tt.hardLimit)
			}
		})
	}
}

func TestQuotaAllows(t *testing.T) {
	q, err := meter.NewQuota(1_000_000_000, "1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		used, n int64
		want    bool
	}{
		{0, 1_010_000_000, true},
		{0, 1_010_000_001, false},
		{1_009_999_999, 1, true},
		{1_009_999_000, 1_000, true}, // docs/meters.md
		{1_009_999_000, 1_001, false},
		{1_010_000_000, 0, true},
		{1_010_000_000, 1, false},
		{1_000_000_000, 10_000_000, true}, // past the limit, within the allowance
		{500, math.MaxInt64, false},       // would overflow
		{math.MaxInt64, 1, false},
		{-1, 1, false},
		{0, -1, false},
	}
	for _, tt := range tests {
		if got := q.Allows(tt.used, tt.n); got != tt.want {
			t.Errorf("Allows(used %d, n %d) = %v, want %v", tt.used, tt.n, got, tt.want)
		}
	}
}

func TestQuotaErrors(t *testing.T) {
	for _, tt := range []struct {
		limit     int64
		allowance string
	}{{-1, ""}, {meter.QuotaLimitMax + 1, ""}, {1, "-1"}, {1, "100.5"}, {1, "1%"}, {1, "1e2"}} {
		_, err := meter.NewQuota(tt.limit, tt.allowance)
		var e *meter.Error
		if !errors.As(err, &e) || e.Code != meter.CodeInvalidRules {
			t.Errorf("NewQuota(%d, %q): err = %v, want code %s", tt.limit, tt.allowance, err, meter.CodeInvalidRules)
		}
	}
}

// TestQuotaOfShippedLimits checks that the engine's rule gives the hard limit the catalog
// computed for every limit of both shipped catalogs.
func TestQuotaOfShippedLimits(t *testing.T) {
	n := 0
	for _, name := range []string{"ai-for-service", "credits-platform"} {
		for _, p := range example(t, name).Plans {
			for _, l := range p.Limits {
				q, err := meter.QuotaOf(l)
				if err != nil {
					t.Fatalf("%s %s %s: %v", name, p.Key, l.Meter, err)
				}
				if q.HardLimit() != l.HardLimit {
					t.Errorf("%s %s %s: hard limit %d, catalog says %d", name, p.Key, l.Meter, q.HardLimit(), l.HardLimit)
				}
				n++
			}
		}
	}
	if n == 0 {
		t.Fatal("the shipped catalogs have no limits to compare")
	}
}
