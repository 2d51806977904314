package billow

import (
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// MicroCreditsPerCredit is how many micro-credits (µcr), the ledger's unit, make a credit.
const MicroCreditsPerCredit = 1_000_000

// Limits of the ledger.
const (
	// TransferMaxUcr bounds one movement: a billion credits (a million dollars at 1,000
	// credits a dollar), far from int64's limit so that sums of many stay exact.
	TransferMaxUcr = 1_000_000_000 * MicroCreditsPerCredit
	// TransferIDMaxBytes bounds the idempotency id a caller chooses for a movement.
	TransferIDMaxBytes = 255
	// DescriptionMaxBytes bounds a movement's description, shown in the transactions list.
	DescriptionMaxBytes = 500
	// GrantPriorityMax bounds a grant's priority either side of 0.
	GrantPriorityMax = 1000
)

// PrefixGrant begins the id of a grant.
const PrefixGrant = "grant_"

// Prefixes of the transfer ids of the movements Billow makes itself. A caller's id may
// not begin with one (unless the input says System), so that no caller can take an id
// Billow will need: a hold whose id were "settle:<another hold>" would block that hold's
// settlement.
const (
	TransferIDSettle          = "settle:"           // a hold's capture, release or expiry
	TransferIDExpire          = "expire:"           // a grant's expiry
	TransferIDIncluded        = "included:"         // a plan's included credits for a month
	TransferIDUsage           = "usage:"            // a usage charge
	TransferIDUsageCorrection = "usage-correction:" // credits given back when usage shrank
)

var systemTransferIDPrefixes = []string{TransferIDSettle, TransferIDExpire, TransferIDIncluded, TransferIDUsage, TransferIDUsageCorrection}

// Error codes of the ledger.
const (
	// CodeInsufficientCredits: the wallet cannot pay the amount, even with its grace buffer.
	CodeInsufficientCredits = "insufficient_credits"
)

// GrantKind says where a grant's credits come from, which decides when they are spent
// and whether they expire.
type GrantKind string

// Grant kinds.
const (
	GrantFree        GrantKind = "free"        // included with the plan, refreshed each cycle
	GrantPromotional GrantKind = "promotional" // given by the operator, with an expiry
	GrantPaid        GrantKind = "paid"        // bought; no expiry unless the catalog says so
)

// TransferCause is why credits moved.
type TransferCause string

// Causes of ledger transfers.
const (
	CauseUsage      TransferCause = "usage"
	CausePurchase   TransferCause = "purchase"
	CauseGrant      TransferCause = "grant"
	CauseExpiry     TransferCause = "expiry"
	CauseRefund     TransferCause = "refund"
	CauseTransfer   TransferCause = "transfer"
	CauseAdjustment TransferCause = "adjustment"
	// CauseHold reserves credits for work under way, and gives back what a hold does not
	// charge; the charge itself is usage.
	CauseHold TransferCause = "hold"
)

// Grant is a bucket of credits in an account's wallet.
type Grant struct {
	ID           string     `json:"id"`
	AccountID    string     `json:"account"`
	Kind         GrantKind  `json:"kind"`
	AmountUcr    int64      `json:"amount_ucr"`
	RemainingUcr int64      `json:"remaining_ucr"`
	Priority     int        `json:"priority"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	Description  string     `json:"description,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
}

// Wallet is an account's credits: the sum of its grants' remaining credits, less what it
// has overdrawn within its grace buffer.
type Wallet struct {
	AccountID  string `json:"account"`
	BalanceUcr int64  `json:"balance_ucr"`
	// BalanceCredits is BalanceUcr in credits, every digit kept ("4999.5").
	BalanceCredits string `json:"balance_credits"`
	// OverdrawnUcr is what the wallet owes its grace buffer (0 or more); the next credits
	// added pay it back first.
	OverdrawnUcr int64 `json:"overdrawn_ucr"`
	GraceUcr     int64 `json:"grace_ucr"`
	// HeldUcr is what active holds reserve: already out of the balance, charged or given
	// back when each hold is resolved.
	HeldUcr int64   `json:"held_ucr"`
	Grants  []Grant `json:"grants"`
}

// CreditsText writes micro-credits as credits with every digit and no trailing zeros.
func CreditsText(ucr int64) string {
	return decimal.New(ucr, -6).String()
}

// CreateGrantInput adds credits to an account's wallet.
type CreateGrantInput struct {
	Account   string     `json:"-"`
	Kind      GrantKind  `json:"kind" enum:"free,promotional,paid" doc:"free (included with the plan), promotional (expires_at required) or paid (bought)."`
	AmountUcr int64      `json:"amount_ucr" minimum:"1" doc:"Credits to add, in micro-credits (1 credit = 1,000,000)."`
	ExpiresAt *time.Time `json:"expires_at,omitempty" doc:"When unspent credits expire. Required for promotional grants."`
	Priority  int        `json:"priority,omitempty" doc:"Grants of higher priority are spent first; equal ones in the standard order: free, promotional by soonest expiry, paid oldest first."`
	// ID is the caller's idempotency id of the grant's ledger transfer: the same id
	// again returns the first grant.
	ID          string `json:"id" doc:"Your idempotency id for this grant: sending it again returns the first grant."`
	Description string `json:"description,omitempty"`
	// System marks a grant Billow makes itself, whose id may use the system prefixes.
	System bool `json:"-"`
}

// Validate reports every invalid field at once; now is the time the grant is made.
func (in *CreateGrantInput) Validate(now time.Time) error {
	var errs fieldErrors
	switch in.Kind {
	case GrantFree, GrantPaid:
	case GrantPromotional:
		if in.ExpiresAt == nil {
			errs.add("expires_at", "is required for a promotional grant")
		}
	default:
		errs.add("kind", "must be free, promotional or paid, not %q", in.Kind)
	}
	validateAmountUcr(&errs, "amount_ucr", in.AmountUcr)
	if in.ExpiresAt != nil && !in.ExpiresAt.After(now) {
		errs.add("expires_at", "must be in the future")
	}
	if in.Priority < -GrantPriorityMax || in.Priority > GrantPriorityMax {
		errs.add("priority", "must be between %d and %d", -GrantPriorityMax, GrantPriorityMax)
	}
	validateTransferText(&errs, in.ID, in.Description)
	validateCallerTransferID(&errs, in.ID, in.System)
	return errs.err()
}

// SpendInput debits an account's wallet: grants in spending order, then the grace buffer.
type SpendInput struct {
	Account     string
	AmountUcr   int64
	ID          string        // the caller's idempotency id: the same id again returns the first transfer
	Cause       TransferCause // usage or adjustment
	Description string
	System      bool // a spend Billow makes itself, whose id may use the system prefixes
}

// Validate reports every invalid field at once.
func (in *SpendInput) Validate() error {
	var errs fieldErrors
	validateAmountUcr(&errs, "amount_ucr", in.AmountUcr)
	switch in.Cause {
	case CauseUsage, CauseAdjustment:
	default:
		errs.add("cause", "must be usage or adjustment, not %q", in.Cause)
	}
	validateTransferText(&errs, in.ID, in.Description)
	validateCallerTransferID(&errs, in.ID, in.System)
	return errs.err()
}

func validateAmountUcr(errs *fieldErrors, field string, v int64) {
	if v <= 0 || v > TransferMaxUcr {
		errs.add(field, "must be between 1 and %d micro-credits", int64(TransferMaxUcr))
	}
}

func validateTransferText(errs *fieldErrors, id, description string) {
	switch {
	case id == "":
		errs.add("id", "is required: choose an idempotency id for this movement")
	case len(id) > TransferIDMaxBytes || hasControl(id):
		errs.add("id", "must be at most %d bytes of printable text", TransferIDMaxBytes)
	}
	if len(description) > DescriptionMaxBytes || hasControl(description) {
		errs.add("description", "must be at most %d bytes of printable text", DescriptionMaxBytes)
	}
}

// validateCallerTransferID refuses a caller's id that begins with a system prefix.
func validateCallerTransferID(errs *fieldErrors, id string, system bool) {
	if system {
		return
	}
	for _, prefix := range systemTransferIDPrefixes {
		if strings.HasPrefix(id, prefix) {
			errs.add("id", "must not begin with %q: ids of that form are Billow's own", prefix)
			return
		}
	}
}

// Transfer is one movement of credits between ledger accounts, as the ledger keeps it.
type Transfer struct {
	Seq         int64         `json:"seq"`
	ID          string        `json:"id"`
	AccountID   string        `json:"account,omitempty"`
	Cause       TransferCause `json:"cause"`
	AmountUcr   int64         `json:"amount_ucr"`
	Description string        `json:"description,omitempty"`
	At          time.Time     `json:"at"`
	// WalletDeltaUcr is what the transfer changed the account's wallet by (+ added, −
	// spent), and WalletAfterUcr the wallet's balance after it.
	WalletDeltaUcr int64   `json:"wallet_delta_ucr"`
	WalletAfterUcr int64   `json:"wallet_after_ucr"`
	Entries        []Entry `json:"entries"`
	Hash           string  `json:"hash"`
	GrantID        string  `json:"grant,omitempty"` // the grant a grant transfer made
	HoldID         string  `json:"hold,omitempty"`  // the hold a hold transfer made or resolved
}

// Entry is one side of a transfer: a ledger account and the signed amount it moved by.
// A transfer's entries add up to zero.
type Entry struct {
	LedgerAccount string `json:"ledger_account"`
	AmountUcr     int64  `json:"amount_ucr"`
}

// WalletTransaction is a movement as an account's transactions list shows it.
type WalletTransaction struct {
	Seq         int64         `json:"seq" doc:"Position in the ledger's log; pass it as starting_after for the next page."`
	ID          string        `json:"id"`
	At          time.Time     `json:"at"`
	Cause       TransferCause `json:"cause"`
	Description string        `json:"description"`
	// CreditsUcr is what the movement changed the wallet by: + added, − spent.
	CreditsUcr int64  `json:"credits_ucr"`
	Credits    string `json:"credits" doc:"credits_ucr in credits, every digit kept."`
	// Value is Credits in the account's currency at the catalog's rate, every digit kept.
	Value           string `json:"value"`
	Currency        string `json:"currency"`
	BalanceAfterUcr int64  `json:"balance_after_ucr"`
	BalanceAfter    string `json:"balance_after" doc:"The wallet's balance after the movement, in credits."`
}
