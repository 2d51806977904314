package rating

import "fmt"

// Stable error codes. Callers match on these, never on messages; a code once published
// keeps its meaning.
const (
	// CodeInvalidInput: the input breaks a rule of Input.Validate (no catalog, a period
	// that is not a month, …).
	CodeInvalidInput = "invalid_input"
	// CodeUnknownPlan: the catalog has no plan of that key.
	CodeUnknownPlan = "unknown_plan"
	// CodeMissingQuantity: a quantity the plan's rates need (see Needs) was not given. A
	// meter with no usage is given as 0: a missing one is a caller's mistake, and rating
	// it as 0 would silently charge nothing.
	CodeMissingQuantity = "missing_quantity"
	// CodeQuantityOutOfRange: a quantity beyond QuantityExponentMax or QuantityFractionDigitsMax.
	CodeQuantityOutOfRange = "quantity_out_of_range"
	// CodeAmountOutOfRange: a line's amount does not fit an int64 of its unit.
	CodeAmountOutOfRange = "amount_out_of_range"
)

// Error is the package's typed error: a stable code, the input field at fault when there
// is one, and a message safe to show to an operator.
type Error struct {
	Code    string
	Field   string // "plan", "period.month", "quantities[llm_credits]"; empty when none
	Message string
}

// Error returns "code: message", with the field when there is one.
func (e *Error) Error() string {
	if e.Field == "" {
		return e.Code + ": " + e.Message
	}
	return e.Code + ": " + e.Field + ": " + e.Message
}

func errorf(code, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}
