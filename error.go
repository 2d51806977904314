package billow

import (
	"errors"
	"fmt"
)

// ErrorKind classifies an error for transports: each kind has one HTTP status.
type ErrorKind int

const (
	KindInternal        ErrorKind = iota // a fault of Billow or its dependencies; details are logged, not shown
	KindInvalid                          // the input is wrong; nothing was written
	KindNotFound                         // no such resource, or not visible to the caller
	KindConflict                         // the input clashes with the stored state (duplicate, wrong state)
	KindUnauthorized                     // no valid credential
	KindTooLarge                         // a named limit on size was exceeded
	KindUnavailable                      // a dependency is down; try again later
	KindPaymentRequired                  // a payment was declined; nothing was activated
)

// Stable error codes. Clients match on these, never on messages; a code once published
// keeps its meaning.
const (
	CodeInternal             = "internal"
	CodeValidationFailed     = "validation_failed"
	CodeNotFound             = "not_found"
	CodeUnauthorized         = "unauthorized"
	CodeExternalIDTaken      = "external_id_taken"
	CodeEmailTaken           = "email_taken"
	CodeUnknownPlan          = "unknown_plan"
	CodeUnknownCatalog       = "unknown_catalog"
	CodeCurrencyMismatch     = "currency_mismatch"
	CodePlanNotForType       = "plan_not_for_account_type"
	CodeParentAppNotFound    = "parent_app_not_found"
	CodeParentAppIsLinked    = "parent_app_is_linked"
	CodeAPIKeyRevoked        = "api_key_revoked"
	CodeIdempotencyReused    = "idempotency_key_reused"
	CodeIdempotencyInUse     = "idempotency_key_in_use"
	CodeIdempotencyKeyFormat = "idempotency_key_invalid"
	CodeRequestTooLarge      = "request_too_large"
	CodeUnavailable          = "unavailable"
	CodeQuantityOverflow     = "quantity_overflow"
)

// Error is Billow's typed error: a kind for the transport, a stable code for clients, a
// message safe to show, and the offending fields when the input was at fault.
type Error struct {
	Kind    ErrorKind
	Code    string
	Message string
	Fields  []FieldError
}

// FieldError names one offending input field, as a dotted path ("billing_contact.email").
type FieldError struct {
	Field   string
	Message string
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return fmt.Sprintf("%s: %s", e.Code, e.Message)
	}
	return fmt.Sprintf("%s: %s (%s: %s)", e.Code, e.Message, e.Fields[0].Field, e.Fields[0].Message)
}

// Errorf returns an *Error of the given kind and code.
func Errorf(kind ErrorKind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf returns an invalid-input error naming one field.
func FieldErrorf(code, field, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Kind: KindInvalid, Code: code, Message: msg, Fields: []FieldError{{Field: field, Message: msg}}}
}

// NotFound returns the error every lookup gives for a missing resource and for a resource
// of another tenant alike, so that a caller cannot tell the two apart.
func NotFound(what, ref string) *Error {
	return Errorf(KindNotFound, CodeNotFound, "%s %q not found", what, ref)
}

// ErrorCode returns the code of err, or CodeInternal when err is not an *Error.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorKindOf returns the kind of err, or KindInternal when err is not an *Error.
func ErrorKindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// fieldErrors collects the problems of one input so that Validate reports all of them at once.
type fieldErrors []FieldError

func (f *fieldErrors) add(field, format string, args ...any) {
	*f = append(*f, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (f fieldErrors) err() error {
	if len(f) == 0 {
		return nil
	}
	return &Error{Kind: KindInvalid, Code: CodeValidationFailed, Message: "the request has invalid fields", Fields: f}
}

// appendFieldErrors adds the field errors of a nested input's Validate under a prefix.
func appendFieldErrors(errs *fieldErrors, prefix string, err error) {
	var e *Error
	if !errors.As(err, &e) {
		if err != nil {
			errs.add(prefix, "%s", err.Error())
		}
		return
	}
	for _, f := range e.Fields {
		errs.add(prefix+"."+f.Field, "%s", f.Message)
	}
}
