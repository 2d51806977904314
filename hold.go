package billow

import "time"

// PrefixHold begins the id of a credit hold.
const PrefixHold = "hold_"

// Limits of holds.
const (
	// HoldTTLMax bounds how long a hold may reserve credits: a voice call or an agent run
	// that takes longer captures and holds again.
	HoldTTLMax = 24 * time.Hour
	// HoldTTLDefault is a hold's life when the caller does not say.
	HoldTTLDefault = 15 * time.Minute
)

// Error codes of holds.
const (
	// CodeHoldResolved: the hold was already captured, released or expired; a hold is
	// resolved exactly once.
	CodeHoldResolved = "hold_resolved"
	// CodeHoldExpired: the hold's time ran out before the capture; its credits go back
	// to the wallet.
	CodeHoldExpired = "hold_expired"
)

// HoldStatus is where a hold is in its life: active until it is resolved, once.
type HoldStatus string

// Hold statuses.
const (
	HoldActive   HoldStatus = "active"
	HoldCaptured HoldStatus = "captured"
	HoldReleased HoldStatus = "released"
	HoldExpired  HoldStatus = "expired"
)

// Hold reserves credits of a wallet for work under way (a voice call, an agent run): the
// credits leave the balance when the hold is made, so that nothing else spends them, and
// the capture charges the actual amount, giving back the rest.
type Hold struct {
	ID        string     `json:"id"`
	AccountID string     `json:"account"`
	AmountUcr int64      `json:"amount_ucr" doc:"Credits reserved, in micro-credits."`
	Status    HoldStatus `json:"status" enum:"active,captured,released,expired"`
	// CapturedUcr is what the capture charged; UncollectedUcr the part of a capture
	// beyond the hold that the wallet could not pay, even with its grace buffer.
	CapturedUcr    int64      `json:"captured_ucr"`
	UncollectedUcr int64      `json:"uncollected_ucr"`
	Description    string     `json:"description,omitempty"`
	ExpiresAt      time.Time  `json:"expires_at"`
	CreatedAt      time.Time  `json:"created_at"`
	ResolvedAt     *time.Time `json:"resolved_at,omitempty"`
}

// CreateHoldInput reserves credits of an account's wallet.
type CreateHoldInput struct {
	Account   string `json:"account" maxLength:"255" doc:"Account id or external id."`
	AmountUcr int64  `json:"amount_ucr" minimum:"1" doc:"Credits to reserve, in micro-credits (1 credit = 1,000,000)."`
	// TTLSeconds is how long the hold lives before it releases itself.
	TTLSeconds int64 `json:"ttl_seconds,omitempty" minimum:"0" doc:"Seconds before the hold releases itself unless captured; default 900, at most 86400."`
	// ID is the caller's idempotency id of the hold's ledger transfer.
	ID          string `json:"id" doc:"Your idempotency id for this hold: sending it again returns the first hold."`
	Description string `json:"description,omitempty"`
}

// Normalize fills the defaults.
func (in *CreateHoldInput) Normalize() {
	if in.TTLSeconds == 0 {
		in.TTLSeconds = int64(HoldTTLDefault / time.Second)
	}
}

// Validate reports every invalid field at once.
func (in *CreateHoldInput) Validate() error {
	var errs fieldErrors
	if in.Account == "" {
		errs.add("account", "is required")
	}
	validateAmountUcr(&errs, "amount_ucr", in.AmountUcr)
	if in.TTLSeconds < 1 || in.TTLSeconds > int64(HoldTTLMax/time.Second) {
		errs.add("ttl_seconds", "must be between 1 and %d", int64(HoldTTLMax/time.Second))
	}
	validateTransferText(&errs, in.ID, in.Description)
	validateCallerTransferID(&errs, in.ID, false)
	return errs.err()
}

// CaptureHoldInput charges a hold's actual amount, which may be more or less than held.
type CaptureHoldInput struct {
	Hold      string `json:"-"`
	AmountUcr int64  `json:"amount_ucr" minimum:"0" doc:"What the work actually cost, in micro-credits: less than held gives the rest back, more spends the difference from the wallet."`
}

// Validate reports every invalid field at once.
func (in *CaptureHoldInput) Validate() error {
	var errs fieldErrors
	if !IsID(in.Hold, PrefixHold) {
		errs.add("hold", "must be a hold id (hold_…)")
	}
	if in.AmountUcr < 0 || in.AmountUcr > TransferMaxUcr {
		errs.add("amount_ucr", "must be between 0 and %d micro-credits", int64(TransferMaxUcr))
	}
	return errs.err()
}
