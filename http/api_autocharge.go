package http

import (
	"context"
	"errors"
	"net/http"

	"github.com/billowhq/billow"
)

// AutoCharger reads and saves accounts' auto-charge settings. *autocharge.Service
// implements it.
type AutoCharger interface {
	// Get returns the account's auto-charge, off when it never set one (not_found).
	Get(ctx context.Context, accountRef string) (*billow.AutoCharge, error)
	// Set checks and saves the settings; refused, nothing is written (validation_failed,
	// not_found, billing_info_missing, payment_method_missing, payment_method_unsupported).
	Set(ctx context.Context, accountRef string, in billow.SetAutoChargeInput) (*billow.AutoCharge, error)
}

// autoCharger returns the auto-charge service, or an internal error when serve did not
// wire one (a fault of the wiring, logged, never a client's).
func (s *Server) autoCharger() (AutoCharger, error) {
	if s.autoCharge == nil {
		return nil, errors.New("http: no auto-charge service configured")
	}
	return s.autoCharge, nil
}

func (s *Server) registerAutoCharge() {
	type autoChargeOut struct{ Body *billow.AutoCharge }

	type getIn struct{ AccountPath }
	register(s, operation("getAutoCharge", http.MethodGet, "/v1/accounts/{account}/auto_charge", "Get auto-charge", "Credits",
		"The account's auto-charge and low-balance settings and where they stand: whether a top-up is in flight, the last "+
			"attempt and its outcome, failures in a row, and whether the current low-balance and exhausted crossings were "+
			"told. An account that never set one answers enabled false and threshold_credits 0."),
		func(ctx context.Context, in *getIn) (*autoChargeOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			ac, err := s.autoCharger()
			if err != nil {
				return nil, err
			}
			c, err := ac.Get(ctx, a.ID)
			if err != nil {
				return nil, err
			}
			return &autoChargeOut{Body: c}, nil
		})

	type setIn struct {
		AccountPath
		Body billow.SetAutoChargeInput
	}
	register(s, withErrors(operation("setAutoCharge", http.MethodPut, "/v1/accounts/{account}/auto_charge", "Set auto-charge", "Credits",
		"Saves the account's threshold and top-up (seed 004's auto-billing of credits). When the balance falls below "+
			"threshold_credits, credits.low_balance is emitted once and, with enabled true, one order for top_up_credits is "+
			"charged to the default payment method; the credits load once it is paid. One top-up runs at a time, 15 minutes "+
			"at least apart; after 3 failures in a row auto-charge pauses until the balance recovers or the settings are saved "+
			"again. top_up_credits must be a purchase the catalog allows. Enabling needs the account's billing name and email "+
			"(422 billing_info_missing) and a default card or PayPal account (409 payment_method_missing, 409 "+
			"payment_method_unsupported for a wire transfer). A refused setting changes nothing."), http.StatusConflict),
		func(ctx context.Context, in *setIn) (*autoChargeOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			ac, err := s.autoCharger()
			if err != nil {
				return nil, err
			}
			c, err := ac.Set(ctx, a.ID, in.Body)
			if err != nil {
				return nil, err
			}
			return &autoChargeOut{Body: c}, nil
		})
}
