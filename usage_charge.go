package billow

import (
	"regexp"
	"time"
)

// UsageLineKeyMaxBytes bounds the key of a rated line (rating.Selection.Key): a meter key
// and up to 8 filters of a field and a value of at most 128 bytes, quoted.
const UsageLineKeyMaxBytes = 2048

// UsageCharge is what charging has moved in the ledger for one rated line of an account's
// month: the usage spends and the corrections given back, in total, and the movement it
// has claimed, which may be posted but is not yet recorded. Charging posts the difference
// between the line's rated amount and ChargedUcr.
type UsageCharge struct {
	AccountID string
	Month     string // "2026-11", in the account's time zone
	LineKey   string // rating.Selection.Key
	// DebitedUcr is what usage spends took from the wallet for the line, in total.
	DebitedUcr int64
	// CreditedUcr is what corrections gave back (a late event lowered the line), in total.
	CreditedUcr int64
	// PendingID is the transfer id of the claimed movement, "" when none; PendingUcr its
	// amount: above 0 a spend, below 0 a correction.
	PendingID  string
	PendingUcr int64
	UpdatedAt  time.Time
}

// ChargedUcr is what the line has cost the wallet so far: debits less corrections.
func (c *UsageCharge) ChargedUcr() int64 { return c.DebitedUcr - c.CreditedUcr }

// ClaimUsageChargeInput claims the next movement of a line: it is recorded as pending
// only if the line is still as the caller read it (same totals, nothing pending), so that
// of two chargers rating the same line one claims and the other reads again.
type ClaimUsageChargeInput struct {
	AccountID string
	Month     string
	LineKey   string
	// DebitedUcr and CreditedUcr are the line's totals as the caller read them.
	DebitedUcr  int64
	CreditedUcr int64
	// TransferID is the ledger transfer the movement will be posted as; AmountUcr its
	// amount, above 0 for a spend, below 0 for a correction.
	TransferID string
	AmountUcr  int64
}

var usageMonthPattern = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)

// Validate reports every invalid field at once.
func (in *ClaimUsageChargeInput) Validate() error {
	var errs fieldErrors
	validateUsageLine(&errs, in.AccountID, in.Month, in.LineKey)
	if in.DebitedUcr < 0 {
		errs.add("debited_ucr", "must not be negative")
	}
	if in.CreditedUcr < 0 {
		errs.add("credited_ucr", "must not be negative")
	}
	validateUsageAmount(&errs, in.AmountUcr)
	validateTransferText(&errs, in.TransferID, "")
	return errs.err()
}

// SettleUsageChargeInput records how a claimed movement ended. A posted one is recorded
// once by its transfer id, whoever posted it and however often: its amount joins the
// line's debits (a spend) or credits (a correction) the first time only. A refused one
// moved nothing. Either way the line's claim, if it is this movement, is cleared.
type SettleUsageChargeInput struct {
	AccountID  string
	Month      string
	LineKey    string
	TransferID string
	AmountUcr  int64 // as claimed: above 0 a spend, below 0 a correction
	Posted     bool
}

// Validate reports every invalid field at once.
func (in *SettleUsageChargeInput) Validate() error {
	var errs fieldErrors
	validateUsageLine(&errs, in.AccountID, in.Month, in.LineKey)
	validateUsageAmount(&errs, in.AmountUcr)
	validateTransferText(&errs, in.TransferID, "")
	return errs.err()
}

func validateUsageAmount(errs *fieldErrors, v int64) {
	if v == 0 || v > TransferMaxUcr || v < -TransferMaxUcr {
		errs.add("amount_ucr", "must be between 1 and %d micro-credits either way", int64(TransferMaxUcr))
	}
}

func validateUsageLine(errs *fieldErrors, accountID, month, lineKey string) {
	if !IsID(accountID, PrefixAccount) {
		errs.add("account", "must be an account id")
	}
	if !usageMonthPattern.MatchString(month) {
		errs.add("month", "must be a month written YYYY-MM, not %q", month)
	}
	if lineKey == "" || len(lineKey) > UsageLineKeyMaxBytes || hasControl(lineKey) {
		errs.add("line_key", "must be 1 to %d bytes of printable text", UsageLineKeyMaxBytes)
	}
}
