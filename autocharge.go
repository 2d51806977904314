package billow

import "time"

// Auto-charge (seed 004's auto-billing of credits): an account names a threshold and a
// top-up; when its wallet falls below the threshold Billow buys the top-up through an
// order charged to the default payment method, one at a time. The same threshold drives
// the low-balance notices. Package autocharge decides and runs it.

// PrefixAutoChargeAttempt begins the id of an auto-charge attempt: the claim a process
// holds while it submits the top-up order.
const PrefixAutoChargeAttempt = "topup_"

// AutoChargeCreditsMax bounds a threshold and a top-up: the most one ledger movement can
// carry (TransferMaxUcr), in credits.
const AutoChargeCreditsMax = TransferMaxUcr / MicroCreditsPerCredit

// Domain events of credits, written to the billing events outbox (BillingEvent) with the
// change they report. A notice is emitted once per crossing: low_balance when the balance
// goes below the threshold, exhausted when it reaches zero; each is armed again once the
// balance is back at or above the threshold (above zero for exhausted).
const (
	EventCreditsLowBalance   = "credits.low_balance"
	EventCreditsExhausted    = "credits.exhausted"
	EventAutoChargeSucceeded = "credits.auto_charge.succeeded"
	EventAutoChargeFailed    = "credits.auto_charge.failed"
)

// Error codes of auto-charge; a failed attempt's event carries one as its code, or the
// gateway's decline code.
const (
	// CodePaymentMethodUnsupported: auto-charge cannot charge a wire transfer.
	CodePaymentMethodUnsupported = "payment_method_unsupported"
	// CodeAuthenticationRequired: the top-up's card asked for its holder (an OTP); the
	// customer confirms the order in the portal, off-session Billow cannot.
	CodeAuthenticationRequired = "authentication_required"
	// CodeOrderNotCompleted: the top-up order stayed pending longer than an attempt may.
	CodeOrderNotCompleted = "order_not_completed"
)

// AutoChargeOutcome is how an account's latest auto-charge attempt ended.
type AutoChargeOutcome string

const (
	AutoChargeSucceeded AutoChargeOutcome = "succeeded"
	AutoChargeFailed    AutoChargeOutcome = "failed"
)

// AutoChargeSettings are what an account chose.
type AutoChargeSettings struct {
	// Enabled turns the top-up on; off, the threshold still drives the low-balance notices.
	Enabled bool `json:"enabled"`
	// ThresholdCredits: a balance below it is low, and starts a top-up.
	ThresholdCredits int64 `json:"threshold_credits"`
	// TopUpCredits is what one top-up buys, within the catalog's purchase limits.
	TopUpCredits int64 `json:"top_up_credits"`
}

// AutoChargeState is where an account's auto-charge and its notices stand.
type AutoChargeState struct {
	// Attempt is the claim of the attempt in flight, "" when none: at most one at a time.
	Attempt string `json:"-"`
	// AttemptAt is when the latest attempt was claimed, on the account's clock; the
	// cooldown counts from it. Zero before the first.
	AttemptAt time.Time `json:"last_attempt_at,omitzero"`
	// AttemptCredits is what the attempt in flight buys: the top-up when it was claimed.
	AttemptCredits int64 `json:"-"`
	// AttemptOrder is the order of the attempt in flight once submitted and still
	// pending payment, "" otherwise.
	AttemptOrder string `json:"pending_order,omitempty"`
	// Failures counts the attempts that failed in a row; at the limit auto-charge pauses
	// until the balance recovers or the settings are saved again.
	Failures int64 `json:"consecutive_failures"`
	// LastOrder, LastOutcome and LastFailureCode describe the latest finished attempt.
	LastOrder       string            `json:"last_order,omitempty"`
	LastOutcome     AutoChargeOutcome `json:"last_outcome,omitempty"`
	LastFailureCode string            `json:"last_failure_code,omitempty"`
	// LowBalanceNotified and ExhaustedNotified say the crossing was told: the notice is
	// not emitted again until the balance has recovered.
	LowBalanceNotified bool `json:"low_balance_notified"`
	ExhaustedNotified  bool `json:"exhausted_notified"`
}

// InFlight reports whether an attempt is under way.
func (s *AutoChargeState) InFlight() bool { return s.Attempt != "" }

// AutoCharge is an account's auto-charge: its settings and where it stands.
type AutoCharge struct {
	Account string `json:"account"`
	AutoChargeSettings
	AutoChargeState
	InFlight bool `json:"in_flight" doc:"A top-up is under way; no other starts until it ends."`
	// Version moves with every write: a decision is stored only over the version it read.
	Version   int64     `json:"-"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// AutoChargeAccount is one account as the auto-charge runner reads it: its auto-charge,
// its wallet's balance, and the test clock it follows ("" for none).
type AutoChargeAccount struct {
	AutoCharge
	BalanceUcr int64
	TestClock  string
}

// AutoChargeWrite stores a decision about an account's auto-charge with the events it
// emits, in one transaction, and only over the state the decision was made from: the
// version it read (ExpectVersion) or, for the outcome of an attempt, the attempt it
// claimed (ExpectAttempt), whatever else changed meanwhile.
type AutoChargeWrite struct {
	Account       string
	State         AutoChargeState
	ExpectVersion int64
	// ExpectAttempt, when set, makes the write an attempt's outcome: only the attempt's
	// fields are written (Attempt*, Failures, Last*), not the notices,
	// which another decision may have moved while the order ran.
	ExpectAttempt string
	Events        []*BillingEvent
}

// SetAutoChargeInput sets an account's auto-charge and low-balance threshold.
type SetAutoChargeInput struct {
	Enabled          bool  `json:"enabled,omitempty" doc:"Buy top_up_credits when the balance falls below threshold_credits. Off, the threshold still drives the low-balance notices."`
	ThresholdCredits int64 `json:"threshold_credits" minimum:"1" maximum:"1000000000" doc:"Whole credits: a balance below it is low."`
	TopUpCredits     int64 `json:"top_up_credits,omitempty" minimum:"0" maximum:"1000000000" doc:"Whole credits one top-up buys, within the catalog's purchase limits (its credit packages are the usual choices). Required when enabled."`
}

// Validate reports every invalid field at once. The catalog's purchase limits and the
// default payment method are checked by the service, which knows the account.
func (in *SetAutoChargeInput) Validate() error {
	var errs fieldErrors
	if in.ThresholdCredits <= 0 || in.ThresholdCredits > AutoChargeCreditsMax {
		errs.add("threshold_credits", "must be between 1 and %d credits", int64(AutoChargeCreditsMax))
	}
	switch {
	case in.TopUpCredits < 0 || in.TopUpCredits > AutoChargeCreditsMax:
		errs.add("top_up_credits", "must be between 1 and %d credits (or 0 with auto-charge off)", int64(AutoChargeCreditsMax))
	case in.Enabled && in.TopUpCredits == 0:
		errs.add("top_up_credits", "is required to enable auto-charge")
	}
	return errs.err()
}

// Settings returns the settings the input asks for.
func (in *SetAutoChargeInput) Settings() AutoChargeSettings {
	return AutoChargeSettings{Enabled: in.Enabled, ThresholdCredits: in.ThresholdCredits, TopUpCredits: in.TopUpCredits}
}
