package charging

import "fmt"

// Stable error codes. Callers match on these, never on messages; a code once published
// keeps its meaning. Errors of the store and of rating pass through with their own codes.
const (
	// CodeInvalidConfig: New was given no store, or a limit out of its bounds.
	CodeInvalidConfig = "invalid_config"
	// CodeInvalidPeriod: a period that is not a month of the account's time zone.
	CodeInvalidPeriod = "invalid_period"
	// CodeChargeConflict: the ledger refused a line's claimed movement because its
	// transfer id was used for another movement (idempotency_key_reused). The line's
	// record and the ledger disagree; the claim is left in place and the line is not
	// charged again until an operator looks.
	CodeChargeConflict = "charge_conflict"
)

// Error is the package's typed error: a stable code, the account it concerns when there
// is one, and a message safe to show to an operator.
type Error struct {
	Code      string
	AccountID string
	Message   string
}

// Error returns "code: message", with the account when there is one.
func (e *Error) Error() string {
	if e.AccountID == "" {
		return e.Code + ": " + e.Message
	}
	return e.Code + ": account " + e.AccountID + ": " + e.Message
}

func errorf(code, accountID, format string, args ...any) *Error {
	return &Error{Code: code, AccountID: accountID, Message: fmt.Sprintf(format, args...)}
}
