package meter

import "fmt"

// Stable error codes. Callers match on these, never on messages; a code once published
// keeps its meaning. The ingest path returns them to clients as the reason an event was
// rejected.
const (
	// CodeInvalidEvent: the event breaks a rule of Event.Validate, or is not of the type
	// the function reads.
	CodeInvalidEvent = "invalid_event"
	// CodeUnknownModel: an llm.usage event names a provider and model the catalog's cost
	// table has no row for, so it cannot be priced.
	CodeUnknownModel = "unknown_model"
	// CodeNotANumber: a data field a meter sums or compares holds text that is not a
	// plain decimal number.
	CodeNotANumber = "not_a_number"
	// CodeOutOfRange: a result does not fit the integer it is returned in.
	CodeOutOfRange = "out_of_range"
	// CodeUnsupportedMeter: the function does not compute this meter's aggregation, or
	// the meter's fields are outside what the function can honour.
	CodeUnsupportedMeter = "unsupported_meter"
	// CodeInvalidRules: session, concurrency or quota rules outside their bounds.
	CodeInvalidRules = "invalid_rules"
	// CodeInvalidBuckets: bucket boundaries that are not strictly increasing.
	CodeInvalidBuckets = "invalid_buckets"
)

// Error is the package's typed error: a stable code, the data field at fault when there
// is one, and a message safe to show to the platform that sent the event.
type Error struct {
	Code    string
	Field   string // the event data field or rule at fault ("model", "input_tokens"); empty when none
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
