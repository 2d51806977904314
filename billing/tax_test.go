package billing

import (
	"errors"
	"math"
	"testing"

	"github.com/billowhq/billow"
)

func TestTax(t *testing.T) {
	tests := []struct {
		name     string
		subtotal int64
		rate     string
		want     int64
	}{
		{"zero rate", 1999, "0", 0},
		{"zero rate with decimals", 1999, "0.0000", 0},
		{"zero subtotal", 0, "8.25", 0},
		{"8.25% of 1999 = 164.9175", 1999, "8.25", 165},
		{"trailing zeros are the same rate", 1999, "8.2500", 165},
		{"10% of 5 = 0.5, half up", 5, "10", 1},
		{"10% of 4 = 0.4", 4, "10", 0},
		{"10% of 15 = 1.5", 15, "10", 2},
		{"10% of 25 = 2.5", 25, "10", 3},
		{"12.5% of 4 = 0.5", 4, "12.5", 1},
		{"0.0001% of 500000 = 0.5", 500000, "0.0001", 1},
		{"0.0001% of 499999 = 0.499999", 499999, "0.0001", 0},
		{"99.9999% of 1000000 = 999999", 1000000, "99.9999", 999999},
		{"100% of 1999", 1999, "100", 1999},
		{"100.0000% of 1999", 1999, "100.0000", 1999},
		{"negative subtotal", -1999, "8.25", -165},
		{"negative half rounds away from zero", -5, "10", -1},
		{"negative under half", -4, "10", 0},
		{"negative 1.5", -15, "10", -2},
		{"largest subtotal at 100%", math.MaxInt64, "100", math.MaxInt64},
		{"largest subtotal at 50%", math.MaxInt64, "50", math.MaxInt64/2 + 1}, // ….5 rounds up
		{"smallest subtotal at 100%", math.MinInt64, "100", math.MinInt64},
		{"smallest subtotal at 50%", math.MinInt64, "50", math.MinInt64 / 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Tax(tt.subtotal, tt.rate)
			if err != nil {
				t.Fatalf("Tax(%d, %q): %v", tt.subtotal, tt.rate, err)
			}
			if got != tt.want {
				t.Errorf("Tax(%d, %q) = %d, want %d", tt.subtotal, tt.rate, got, tt.want)
			}
			if err := ValidateTaxRate(tt.rate); err != nil {
				t.Errorf("ValidateTaxRate(%q) = %v, want nil", tt.rate, err)
			}
		})
	}
}

func TestTaxRejectsBadRates(t *testing.T) {
	for _, rate := range []string{
		"abc", "-1", "-0", "101", "100.0001", "1000", "1.23456", "0.00001",
		"", " 8", "8 ", "8.", ".5", "+5", "08", "00", "1e2", "8,25", "8.2.5", "٣", "NaN", "Inf",
	} {
		t.Run(rate, func(t *testing.T) {
			err := ValidateTaxRate(rate)
			checkTaxRateError(t, "ValidateTaxRate", rate, err)
			got, err := Tax(1999, rate)
			checkTaxRateError(t, "Tax", rate, err)
			if got != 0 {
				t.Errorf("Tax(1999, %q) = %d with an error, want 0", rate, got)
			}
		})
	}
}

func checkTaxRateError(t *testing.T, fn, rate string, err error) {
	t.Helper()
	var e *billow.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s(%q) = %v, want a *billow.Error", fn, rate, err)
	}
	if e.Kind != billow.KindInvalid || e.Code != billow.CodeValidationFailed {
		t.Errorf("%s(%q): kind %d code %q, want invalid %q", fn, rate, e.Kind, e.Code, billow.CodeValidationFailed)
	}
	if len(e.Fields) != 1 || e.Fields[0].Field != "tax_rate" {
		t.Errorf("%s(%q): fields %+v, want tax_rate", fn, rate, e.Fields)
	}
}
