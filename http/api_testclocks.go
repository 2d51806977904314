package http

import (
	"context"
	"net/http"

	"github.com/billowhq/billow"
)

// TestClockPath names a test clock in a path.
type TestClockPath struct {
	Clock string `path:"clock" maxLength:"64" doc:"Test clock id (clock_…)."`
}

func (s *Server) registerTestClocks() {
	type clockOut struct{ Body *billow.TestClock }

	type createIn struct{ Body billow.CreateTestClockInput }
	register(s, operation("createTestClock", http.MethodPost, "/v1/test_clocks", "Create a test clock", "Test clocks",
		"Creates a clock frozen at frozen_time (operator only), as in Stripe Billing. An account created with test_clock "+
			"follows it instead of the real time: its orders, trials, renewals, dunning and credit upkeep happen when the "+
			"clock is advanced, and the background workers leave it alone."),
		func(ctx context.Context, in *createIn) (*clockOut, error) {
			if err := requireOperator(ctx); err != nil {
				return nil, err
			}
			c, err := s.store.CreateTestClock(ctx, in.Body)
			if err != nil {
				return nil, err
			}
			return &clockOut{Body: c}, nil
		})

	type getIn struct{ TestClockPath }
	register(s, operation("getTestClock", http.MethodGet, "/v1/test_clocks/{clock}", "Get a test clock", "Test clocks",
		"Returns a test clock and the time it stands at (operator only)."),
		func(ctx context.Context, in *getIn) (*clockOut, error) {
			if err := requireOperator(ctx); err != nil {
				return nil, err
			}
			c, err := s.store.TestClock(ctx, in.Clock)
			if err != nil {
				return nil, err
			}
			return &clockOut{Body: c}, nil
		})

	type advanceIn struct {
		TestClockPath
		Body billow.AdvanceTestClockInput
	}
	register(s, withStatus(http.StatusOK, operation("advanceTestClock", http.MethodPost, "/v1/test_clocks/{clock}/advance", "Advance a test clock", "Test clocks",
		"Moves the clock forward to frozen_time (operator only), at most 731 days at once, and runs the billing of its "+
			"accounts up to then, step by step as it would have run in real time: trial ends, renewals, retries, suspensions, "+
			"scheduled cancellations. Answers when the billing has run. A time before the clock's answers 422 "+
			"test_clock_backwards.")),
		func(ctx context.Context, in *advanceIn) (*clockOut, error) {
			if err := requireOperator(ctx); err != nil {
				return nil, err
			}
			b, err := s.billingService()
			if err != nil {
				return nil, err
			}
			c, err := b.AdvanceTestClock(ctx, in.Clock, in.Body)
			if err != nil {
				return nil, err
			}
			return &clockOut{Body: c}, nil
		})
}
