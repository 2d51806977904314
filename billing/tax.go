package billing

import (
	"math/big"

	"github.com/billowhq/billow"
)

// ValidateTaxRate reports whether ratePercent is a tax rate (billow.ParseTaxRate).
func ValidateTaxRate(ratePercent string) error {
	_, err := billow.ParseTaxRate(ratePercent)
	return err
}

// Tax returns the tax on subtotalMinor at ratePercent, in the same minor units:
// subtotal × rate / 100, computed exactly and rounded once, half away from zero. So
// 8.25% of 1999 is 164.9175, which is 165; 10% of 5 is 0.5, which is 1. A negative
// subtotal (a credit note) gives a negative tax, rounded the same way: 10% of -5 is -1.
// Tax returns the error of ValidateTaxRate for a rate that is not valid.
func Tax(subtotalMinor int64, ratePercent string) (int64, error) {
	rate, err := billow.ParseTaxRate(ratePercent)
	if err != nil {
		return 0, err
	}
	num := new(big.Int).Mul(big.NewInt(subtotalMinor), big.NewInt(rate))
	// |tax| <= |subtotal| since the rate is at most 100%, so the result fits an int64.
	return divRoundHalfAway(num, big.NewInt(100*billow.TaxRateScale)), nil
}
