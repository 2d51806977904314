package http

import (
	"context"
	"errors"
	"net/http"

	"github.com/billowhq/billow"
)

// Checker answers checks from memory (package checks).
type Checker interface {
	Check(ctx context.Context, in billow.CheckInput) (*billow.CheckResult, error)
	AccountID(ctx context.Context, ref string) (string, error)
}

func (s *Server) registerChecks() {
	type checkIn struct{ Body billow.CheckInput }
	type checkOut struct{ Body *billow.CheckResult }
	register(s, withStatus(http.StatusOK, operation("check", http.MethodPost, "/v1/checks", "Check before spending", "Checks",
		"Answers, from memory and in well under a millisecond, whether the account may go ahead: start_conversation (an active "+
			"plan, and a balance above minus the grace buffer when the plan bills usage in credits), llm_call (the wallet can pay "+
			"the estimated cost in quantity µcr), deploy_app (the app exists; free credits remain or paid credits are available), "+
			"create_app (agent slots), ingest_bytes (the ingestion quota with its allowance), workspace_seats, client_seats, "+
			"concurrent_call_lines and phone_numbers (quantity in use against what the plan includes). A refusal is an answer "+
			"(200 with allowed false and a code), not an error. The state is at most about a second behind the store; see "+
			"docs/checks.md for the consistency model.")),
		func(ctx context.Context, in *checkIn) (*checkOut, error) {
			if s.checker == nil { // a wiring fault: serve always wires one
				return nil, errors.New("http: no checker configured")
			}
			if err := in.Body.Validate(); err != nil {
				return nil, err
			}
			// Tenancy from memory too: an account-scoped key sees its own account only.
			id, err := s.checker.AccountID(ctx, in.Body.Account)
			if err != nil {
				return nil, err
			}
			if !principal(ctx).CanSee(id) {
				return nil, billow.NotFound("account", in.Body.Account)
			}
			r, err := s.checker.Check(ctx, in.Body)
			if err != nil {
				return nil, err
			}
			return &checkOut{Body: r}, nil
		})
}

// HoldPath names a hold in a path.
type HoldPath struct {
	Hold string `path:"hold" maxLength:"64" doc:"Hold id (hold_…)."`
}

// holdOut is a hold with the ledger transfer that made or resolved it.
type holdOut struct {
	Body struct {
		Hold     *billow.Hold     `json:"hold"`
		Transfer *billow.Transfer `json:"transfer,omitempty"`
	}
}

func newHoldOut(h *billow.Hold, t *billow.Transfer) *holdOut {
	out := &holdOut{}
	out.Body.Hold, out.Body.Transfer = h, t
	return out
}

func (s *Server) registerHolds() {
	type createIn struct{ Body billow.CreateHoldInput }
	register(s, operation("createHold", http.MethodPost, "/v1/holds", "Hold credits", "Checks",
		"Reserves credits of the account's wallet for work under way (a voice call, an agent run): they leave the balance at "+
			"once, so nothing else spends them. Capture with the actual amount, or release; a hold not resolved by its expiry "+
			"releases itself. The body's id is the ledger's idempotency id. Refused with insufficient_credits (409) when the "+
			"wallet and its grace buffer cannot cover the amount."),
		func(ctx context.Context, in *createIn) (*holdOut, error) {
			a, err := s.account(ctx, in.Body.Account)
			if err != nil {
				return nil, err
			}
			in.Body.Account = a.ID
			h, t, err := s.store.CreateHold(ctx, in.Body)
			if err != nil {
				return nil, err
			}
			return newHoldOut(h, t), nil
		})

	type getIn struct{ HoldPath }
	register(s, operation("getHold", http.MethodGet, "/v1/holds/{hold}", "Get a hold", "Checks", "Returns a hold and its status."),
		func(ctx context.Context, in *getIn) (*holdOut, error) {
			h, err := s.hold(ctx, in.Hold)
			if err != nil {
				return nil, err
			}
			return newHoldOut(h, nil), nil
		})

	type captureIn struct {
		HoldPath
		Body billow.CaptureHoldInput
	}
	register(s, withStatus(http.StatusOK, operation("captureHold", http.MethodPost, "/v1/holds/{hold}/capture", "Capture a hold", "Checks",
		"Charges what the work actually cost. Less than held gives the rest back to the grants it came from; more spends the "+
			"difference from the wallet down to its grace buffer, and what even the buffer cannot pay is recorded as "+
			"uncollected_ucr. A hold is resolved once: a second capture or release is refused with hold_resolved (409); a capture "+
			"after the hold expired with hold_expired.")),
		func(ctx context.Context, in *captureIn) (*holdOut, error) {
			if _, err := s.hold(ctx, in.Hold); err != nil {
				return nil, err
			}
			in.Body.Hold = in.Hold
			h, t, err := s.store.CaptureHold(ctx, in.Body)
			if err != nil {
				return nil, err
			}
			return newHoldOut(h, t), nil
		})

	type releaseIn struct{ HoldPath }
	register(s, withStatus(http.StatusOK, operation("releaseHold", http.MethodPost, "/v1/holds/{hold}/release", "Release a hold", "Checks",
		"Gives everything the hold reserved back to the wallet. Refused with hold_resolved (409) if it was already resolved.")),
		func(ctx context.Context, in *releaseIn) (*holdOut, error) {
			if _, err := s.hold(ctx, in.Hold); err != nil {
				return nil, err
			}
			h, t, err := s.store.ReleaseHold(ctx, in.Hold)
			if err != nil {
				return nil, err
			}
			return newHoldOut(h, t), nil
		})
}

// hold returns a hold the caller may see; another tenant's is "not found".
func (s *Server) hold(ctx context.Context, id string) (*billow.Hold, error) {
	h, err := s.store.Hold(ctx, id)
	if err != nil {
		return nil, err
	}
	if !principal(ctx).CanSee(h.AccountID) {
		return nil, billow.NotFound("hold", id)
	}
	return h, nil
}
