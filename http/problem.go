package http

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/validation"

	"github.com/billowhq/billow"
)

// Problem is an RFC 9457 problem detail with Billow's stable code. Every error answer of
// the API, from a handler, from huma's validation or from a middleware, has this shape.
type Problem struct {
	Type      string              `json:"type" doc:"A URI naming the problem type."`
	Title     string              `json:"title"`
	Status    int                 `json:"status"`
	Detail    string              `json:"detail,omitempty"`
	Code      string              `json:"code" doc:"Stable, machine-readable error code."`
	RequestID string              `json:"request_id,omitempty"`
	Errors    []*huma.ErrorDetail `json:"errors,omitempty" doc:"The offending fields; location is a path such as body.currency."`
}

func (p *Problem) Error() string  { return p.Code + ": " + p.Detail }
func (p *Problem) GetStatus() int { return p.Status }

// ContentType makes huma answer with application/problem+json.
func (p *Problem) ContentType(string) string { return "application/problem+json" }

// problemTypeBase prefixes each code to make the problem's type URI; the docs list the codes.
const problemTypeBase = "https://billow.dev/problems/"

// statusCodes is the code of an error that huma itself raises, by HTTP status.
var statusCodes = map[int]string{
	http.StatusBadRequest:            "malformed_request",
	http.StatusUnauthorized:          billow.CodeUnauthorized,
	http.StatusNotFound:              billow.CodeNotFound,
	http.StatusMethodNotAllowed:      "method_not_allowed",
	http.StatusNotAcceptable:         "not_acceptable",
	http.StatusRequestEntityTooLarge: billow.CodeRequestTooLarge,
	http.StatusUnsupportedMediaType:  "unsupported_media_type",
	http.StatusUnprocessableEntity:   billow.CodeValidationFailed,
	http.StatusInternalServerError:   billow.CodeInternal,
	http.StatusServiceUnavailable:    billow.CodeUnavailable,
}

// kindStatus is the HTTP status of each kind of domain error.
var kindStatus = map[billow.ErrorKind]int{
	billow.KindInternal:        http.StatusInternalServerError,
	billow.KindInvalid:         http.StatusUnprocessableEntity,
	billow.KindNotFound:        http.StatusNotFound,
	billow.KindConflict:        http.StatusConflict,
	billow.KindPaymentRequired: http.StatusPaymentRequired,
	billow.KindUnauthorized:    http.StatusUnauthorized,
	billow.KindTooLarge:        http.StatusRequestEntityTooLarge,
	billow.KindUnavailable:     http.StatusServiceUnavailable,
}

func init() {
	// huma builds its own errors (validation, malformed JSON, body too large) through this
	// hook; replacing it is huma's documented way to give them our shape.
	huma.NewError = newHumaProblem
}

func newHumaProblem(status int, msg string, errs ...error) huma.StatusError {
	p := newProblem(status, statusCodes[status], msg)
	if p.Code == "" {
		p.Code = strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_")
	}
	for _, err := range errs {
		if err == nil {
			continue
		}
		var d huma.ErrorDetailer
		if errors.As(err, &d) {
			detail := d.ErrorDetail()
			// huma places a missing property at its parent; a client wants the field itself.
			var missing string
			if _, err := fmt.Sscanf(detail.Message, validation.MsgExpectedRequiredProperty, &missing); err == nil && missing != "" {
				detail.Location += "." + missing
			}
			// huma echoes the offending value: a card number typed into the wrong
			// field, a whole card object beside an unknown property, the raw body of
			// malformed JSON. An answer is kept with its Idempotency-Key, so it must
			// hold nothing a client sends; the location and message say what is wrong.
			detail.Value = nil
			p.Errors = append(p.Errors, detail)
		} else {
			p.Errors = append(p.Errors, &huma.ErrorDetail{Message: err.Error()})
		}
	}
	// huma says "validation failed" for every failure; outside a 422 the first error is
	// the real reason (malformed JSON, an unknown content type).
	if status != http.StatusUnprocessableEntity && len(p.Errors) > 0 {
		p.Detail = p.Errors[0].Message
	}
	return p
}

func newProblem(status int, code, detail string) *Problem {
	return &Problem{Type: problemTypeBase + code, Title: http.StatusText(status), Status: status, Code: code, Detail: detail}
}

// problemFor turns any error into the Problem a client sees. Domain errors keep their code
// and fields; anything else is logged with the request id and shown as "internal" only,
// so no internal detail leaks.
func problemFor(ctx context.Context, logger *slog.Logger, err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		p.RequestID = requestIDFrom(ctx)
		return p
	}
	var e *billow.Error
	if !errors.As(err, &e) || e.Kind == billow.KindInternal {
		logger.ErrorContext(ctx, "request failed", "error", err, "request_id", requestIDFrom(ctx))
		p = newProblem(http.StatusInternalServerError, billow.CodeInternal, "Billow could not complete the request; it was logged with its request id")
		p.RequestID = requestIDFrom(ctx)
		return p
	}
	p = newProblem(kindStatus[e.Kind], e.Code, e.Message)
	p.RequestID = requestIDFrom(ctx)
	for _, f := range e.Fields {
		p.Errors = append(p.Errors, &huma.ErrorDetail{Location: "body." + f.Field, Message: f.Message})
	}
	return p
}

func writeProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	p.RequestID = requestIDFrom(r.Context())
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}
