package billing

import (
	"context"
	"time"
)

// CheckCreditPurchase reports whether the account could order this many credits: within
// its catalog's purchase limits and at a whole number of minor units, the rule
// SubmitOrder prices a credit order by. Auto-charge checks a top-up with it when the
// setting is saved, rather than at the first charge.
//
// Errors: not_found, validation_failed (field credits).
func (s *Service) CheckCreditPurchase(ctx context.Context, accountRef string, credits int64) error {
	st, err := s.load(ctx, accountRef)
	if err != nil {
		return err
	}
	_, err = priceCredits(st, credits, time.Time{})
	return err
}
