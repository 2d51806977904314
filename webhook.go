package billow

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Outbound webhooks: the operator registers endpoints, each with a filter of billing event
// types; every billing event (BillingEvent) an endpoint's filter matches becomes one
// delivery to it, signed as the Standard Webhooks spec says (standardwebhooks.com) and
// retried with backoff for about three days. Package webhook runs them; docs/webhooks.md
// is the receiver's guide.

// ID prefixes of webhooks. A delivery's id is also its message id, the webhook-id header:
// the same on every attempt and every replay, so a receiver dedupes by it.
const (
	PrefixWebhookEndpoint = "we_"
	PrefixWebhookMessage  = "msg_"
	PrefixWebhookAttempt  = "wha_"
	// WebhookSecretPrefix begins a signing secret; the rest is the key in standard base64.
	WebhookSecretPrefix = "whsec_"
)

// Limits of webhooks, named with their unit last.
const (
	// WebhookEndpointsMax bounds the endpoints of the operator: each event is copied to
	// every matching endpoint, so this bounds the deliveries one event causes.
	WebhookEndpointsMax = 50
	// WebhookEventTypesPerEndpointMax bounds an endpoint's filter.
	WebhookEventTypesPerEndpointMax = 64
	// WebhookEventTypeMaxBytes bounds one entry of a filter.
	WebhookEventTypeMaxBytes = 100
	// WebhookURLMaxBytes bounds an endpoint's URL, as browsers and proxies commonly do.
	WebhookURLMaxBytes = 2048
	// WebhookDescriptionMaxBytes bounds an endpoint's description.
	WebhookDescriptionMaxBytes = 500
	// WebhookSecretKeyBytes is the length of a signing key: 256 bits, the output size of
	// HMAC-SHA256 (the spec asks for 24 to 64 bytes).
	WebhookSecretKeyBytes = 32
	// WebhookResponseExcerptMaxBytes bounds the part of a receiver's answer kept in the
	// delivery log.
	WebhookResponseExcerptMaxBytes = 4096
	// WebhookAttemptsListMax bounds the attempts returned with a delivery (newest first).
	WebhookAttemptsListMax = 100
	// WebhookReplaysMax bounds how often one delivery may be replayed: each replay is a
	// new series of up to WebhookAttemptsPerSeriesMax attempts.
	WebhookReplaysMax = 20
	// WebhookPayloadMaxBytes bounds the body of one message. Billing events are a few
	// hundred bytes; an event above it is a fault of Billow, logged and not delivered.
	WebhookPayloadMaxBytes = 256 << 10
)

// WebhookSecretGrace is how long, after a rotation, messages are signed with the old
// secret beside the new one, so that receivers can switch without losing a message.
const WebhookSecretGrace = 24 * time.Hour

// WebhookRetrySchedule is the wait before each retry of a failed attempt: the first retry
// comes 5 s after the first attempt failed, the last 71 h 35 min 5 s after it. A delivery
// whose last retry fails is failed (WebhookRetryScheduleTotal sums it). No jitter: a
// receiver that was down gets its backlog spread by when the events happened.
var WebhookRetrySchedule = [...]time.Duration{
	5 * time.Second,
	5 * time.Minute,
	30 * time.Minute,
	2 * time.Hour,
	5 * time.Hour,
	10 * time.Hour,
	10 * time.Hour,
	14 * time.Hour,
	14 * time.Hour,
	16 * time.Hour,
}

// WebhookAttemptsPerSeriesMax is the number of attempts of a delivery before it fails:
// the first and one per step of WebhookRetrySchedule.
const WebhookAttemptsPerSeriesMax = len(WebhookRetrySchedule) + 1

// WebhookRetryScheduleTotal is the time from the first attempt of a delivery to its last.
const WebhookRetryScheduleTotal = 71*time.Hour + 35*time.Minute + 5*time.Second

// WebhookFailingDisableAfter: an endpoint whose attempts have all failed for this long,
// with no 2xx in between, is disabled (disabled_reason "failing"); it is longer than
// the retry schedule, so one event's retries alone never disable it.
const WebhookFailingDisableAfter = 72 * time.Hour

// WebhookRetryDelay returns the wait after a delivery's attempt number `attempt`
// (1-based, within its series) failed, and false when that attempt was the last.
func WebhookRetryDelay(attempt int) (time.Duration, bool) {
	if attempt < 1 || attempt > len(WebhookRetrySchedule) {
		return 0, false
	}
	return WebhookRetrySchedule[attempt-1], true
}

// Error codes of webhooks.
const (
	// CodeWebhookEndpointLimit: the operator has WebhookEndpointsMax endpoints already.
	CodeWebhookEndpointLimit = "webhook_endpoint_limit"
	// CodeWebhookEndpointDisabled: a test or replay was asked of a disabled endpoint.
	CodeWebhookEndpointDisabled = "webhook_endpoint_disabled"
	// CodeWebhookDeliveryInFlight: the delivery is being sent right now; replay it after.
	CodeWebhookDeliveryInFlight = "webhook_delivery_in_flight"
	// CodeWebhookReplayLimit: the delivery was replayed WebhookReplaysMax times.
	CodeWebhookReplayLimit = "webhook_replay_limit"
)

// WebhookEventTest is the type of the message POST /v1/webhook_endpoints/{id}/test sends.
// It is not a billing event and no filter selects it: it goes to the endpoint tested.
const WebhookEventTest = "webhook.test"

// webhookEventTypes are the billing event types an endpoint's filter may name: those
// billing (billing.Domain*, and the invoice and order events of billing/orders.go and
// billing/advance.go) and auto-charge (EventCredits*) write. A test of package webhook
// holds the list to what billing writes.
var webhookEventTypes = []string{
	"subscription.trial_started",
	"subscription.created",
	"subscription.activated",
	"subscription.expired",
	"subscription.trial_expired",
	"subscription.renewal_failed",
	"subscription.renewed",
	"subscription.retry_failed",
	"subscription.recovered",
	"subscription.suspended",
	"subscription.reactivated",
	"subscription.changed",
	"subscription.cancel_scheduled",
	"subscription.cancel_unscheduled",
	"subscription.canceled",
	"invoice.finalized",
	"invoice.paid",
	"invoice.uncollectible",
	"order.completed",
	"order.failed",
	"order.pending_payment",
	"credits.purchased",
	EventCreditsLowBalance,
	EventCreditsExhausted,
	EventAutoChargeSucceeded,
	EventAutoChargeFailed,
}

// WebhookEventTypes returns the billing event types a filter may name, a fresh copy.
func WebhookEventTypes() []string { return slices.Clone(webhookEventTypes) }

// WebhookEndpoint is a receiver of webhooks. Its secrets are never part of its JSON: the
// current one is shown once, when it is made (CreatedWebhookEndpoint).
type WebhookEndpoint struct {
	ID          string `json:"id"`
	URL         string `json:"url"`
	Description string `json:"description"`
	// EventTypes is the filter: ["*"] for every event, otherwise types and prefix
	// wildcards such as "invoice.*".
	EventTypes []string `json:"event_types"`
	Enabled    bool     `json:"enabled"`
	// DisabledReason says why Billow disabled the endpoint: "gone" (it answered 410),
	// "failing" (WebhookFailingDisableAfter without a 2xx); "" when enabled or disabled
	// by the operator.
	DisabledReason string `json:"disabled_reason,omitempty"`
	// FailingSince is the first failed attempt since the last 2xx; nil when the latest
	// answer was a 2xx or nothing was sent yet.
	FailingSince *time.Time `json:"failing_since,omitempty"`
	// PreviousSecretExpiresAt is the end of the grace after a rotation, while messages
	// carry a signature by the previous secret too.
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
	CreatedAt               time.Time  `json:"created_at"`
	UpdatedAt               time.Time  `json:"updated_at"`

	Secret         string `json:"-"`
	PreviousSecret string `json:"-"`
}

// SigningSecrets returns the secrets a message sent at now is signed with: the current
// one, and the previous one during the grace after a rotation.
func (e *WebhookEndpoint) SigningSecrets(now time.Time) []string {
	out := []string{e.Secret}
	if e.PreviousSecret != "" && e.PreviousSecretExpiresAt != nil && now.Before(*e.PreviousSecretExpiresAt) {
		out = append(out, e.PreviousSecret)
	}
	return out
}

// Wants reports whether the endpoint's filter selects events of type typ: the one place
// the filter rule is written.
func (e *WebhookEndpoint) Wants(typ string) bool {
	return webhookFilterMatches(e.EventTypes, typ)
}

func webhookFilterMatches(filter []string, typ string) bool {
	if len(filter) == 0 {
		return true
	}
	for _, f := range filter {
		switch {
		case f == "*":
			return true
		case strings.HasSuffix(f, ".*"):
			if strings.HasPrefix(typ, strings.TrimSuffix(f, "*")) {
				return true
			}
		case f == typ:
			return true
		}
	}
	return false
}

// CreatedWebhookEndpoint is a new endpoint, or one whose secret was just rotated, with
// its signing secret: the one time the secret is shown.
type CreatedWebhookEndpoint struct {
	*WebhookEndpoint
	Secret string `json:"secret" doc:"The signing secret, whsec_ and a base64 key. It is shown this once; keep it where the receiver can read it."`
}

// CreateWebhookEndpointInput registers an endpoint.
type CreateWebhookEndpointInput struct {
	URL         string   `json:"url" maxLength:"2048" doc:"Absolute https URL the messages are POSTed to (http only when the server allows it)."`
	Description string   `json:"description,omitempty" maxLength:"500"`
	EventTypes  []string `json:"event_types,omitempty" maxItems:"64" doc:"Billing event types, prefix wildcards such as invoice.*, or * for all; empty for all."`
	Enabled     *bool    `json:"enabled,omitempty" doc:"Default true."`
}

// Normalize trims the input and gives an empty filter its meaning: every event.
func (in *CreateWebhookEndpointInput) Normalize() {
	in.URL = strings.TrimSpace(in.URL)
	in.Description = strings.TrimSpace(in.Description)
	in.EventTypes = normalizeEventTypes(in.EventTypes)
}

// Validate reports every invalid field at once. Whether plain http and private
// addresses are allowed is the server's policy, checked by package webhook.
func (in *CreateWebhookEndpointInput) Validate() error {
	var errs fieldErrors
	validateWebhookURL(&errs, "url", in.URL)
	validateDescription(&errs, "description", in.Description)
	validateEventTypes(&errs, "event_types", in.EventTypes)
	return errs.err()
}

// UpdateWebhookEndpointInput changes the fields it names.
type UpdateWebhookEndpointInput struct {
	URL         *string   `json:"url,omitempty" maxLength:"2048"`
	Description *string   `json:"description,omitempty" maxLength:"500"`
	EventTypes  *[]string `json:"event_types,omitempty" maxItems:"64" doc:"Replaces the filter; [] or [\"*\"] for all."`
	Enabled     *bool     `json:"enabled,omitempty" doc:"Enabling clears disabled_reason and failing_since; deliveries left pending resume."`
}

// Normalize trims the input.
func (in *UpdateWebhookEndpointInput) Normalize() {
	if in.URL != nil {
		*in.URL = strings.TrimSpace(*in.URL)
	}
	if in.Description != nil {
		*in.Description = strings.TrimSpace(*in.Description)
	}
	if in.EventTypes != nil {
		*in.EventTypes = normalizeEventTypes(*in.EventTypes)
	}
}

// Validate reports every invalid field at once.
func (in *UpdateWebhookEndpointInput) Validate() error {
	var errs fieldErrors
	if in.URL != nil {
		validateWebhookURL(&errs, "url", *in.URL)
	}
	if in.Description != nil {
		validateDescription(&errs, "description", *in.Description)
	}
	if in.EventTypes != nil {
		validateEventTypes(&errs, "event_types", *in.EventTypes)
	}
	return errs.err()
}

// Apply changes e as in says, at now: enabling clears why Billow disabled it and the
// failures it counted, so the endpoint starts afresh.
func (e *WebhookEndpoint) Apply(in UpdateWebhookEndpointInput, now time.Time) {
	if in.URL != nil {
		e.URL = *in.URL
	}
	if in.Description != nil {
		e.Description = *in.Description
	}
	if in.EventTypes != nil {
		e.EventTypes = slices.Clone(*in.EventTypes)
	}
	if in.Enabled != nil {
		if *in.Enabled && !e.Enabled {
			e.DisabledReason, e.FailingSince = "", nil
		}
		if !*in.Enabled && e.Enabled {
			e.DisabledReason = "" // the operator's choice, not Billow's
		}
		e.Enabled = *in.Enabled
	}
	e.UpdatedAt = now
}

// normalizeEventTypes trims the entries, drops duplicates and turns an empty filter into
// ["*"], so that a stored filter always says what it selects.
func normalizeEventTypes(types []string) []string {
	out := []string{}
	for _, t := range types {
		t = strings.TrimSpace(t)
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if len(out) == 0 || slices.Contains(out, "*") {
		return []string{"*"}
	}
	return out
}

func validateWebhookURL(errs *fieldErrors, field, raw string) {
	if raw == "" {
		errs.add(field, "is required")
		return
	}
	if len(raw) > WebhookURLMaxBytes {
		errs.add(field, "must be at most %d bytes", WebhookURLMaxBytes)
		return
	}
	if !utf8.ValidString(raw) || hasControl(raw) || strings.ContainsAny(raw, " \t") {
		errs.add(field, "must be a URL without spaces or control characters")
		return
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		errs.add(field, "is not a URL")
	case u.Scheme != "https" && u.Scheme != "http":
		errs.add(field, "must be an absolute https URL")
	case u.Host == "" || u.Hostname() == "":
		errs.add(field, "must name a host")
	case u.User != nil:
		errs.add(field, "must not carry a user name or password: receivers authenticate messages by their signature")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		errs.add(field, "must not have a fragment")
	}
}

func validateDescription(errs *fieldErrors, field, v string) {
	switch {
	case len(v) > WebhookDescriptionMaxBytes:
		errs.add(field, "must be at most %d bytes", WebhookDescriptionMaxBytes)
	case !utf8.ValidString(v) || hasControl(v):
		errs.add(field, "must be printable text")
	}
}

// validateEventTypes accepts "*", known types and prefix wildcards ("invoice.*") that
// select at least one known type: a filter that could never match is a typo.
func validateEventTypes(errs *fieldErrors, field string, types []string) {
	if len(types) > WebhookEventTypesPerEndpointMax {
		errs.add(field, "must have at most %d entries", WebhookEventTypesPerEndpointMax)
		return
	}
	for i, t := range types {
		f := field + "[" + strconv.Itoa(i) + "]"
		switch {
		case len(t) > WebhookEventTypeMaxBytes:
			errs.add(f, "must be at most %d bytes", WebhookEventTypeMaxBytes)
		case t == "*":
		case strings.HasSuffix(t, ".*"):
			prefix := strings.TrimSuffix(t, "*")
			if !slices.ContainsFunc(webhookEventTypes, func(k string) bool { return strings.HasPrefix(k, prefix) }) {
				errs.add(f, "%q selects no billing event type; see docs/webhooks.md", t)
			}
		case !slices.Contains(webhookEventTypes, t):
			errs.add(f, "%q is not a billing event type; see docs/webhooks.md", t)
		}
	}
}

// WebhookDeliveryStatus is how a delivery stands.
type WebhookDeliveryStatus string

const (
	// WebhookPending: waiting for its next attempt (or being sent).
	WebhookPending WebhookDeliveryStatus = "pending"
	// WebhookSucceeded: the endpoint answered 2xx.
	WebhookSucceeded WebhookDeliveryStatus = "succeeded"
	// WebhookFailed: every attempt of its series failed, or the endpoint answered 410.
	WebhookFailed WebhookDeliveryStatus = "failed"
)

// Valid reports whether s is a known status.
func (s WebhookDeliveryStatus) Valid() bool {
	return s == WebhookPending || s == WebhookSucceeded || s == WebhookFailed
}

// WebhookDelivery is one message to one endpoint: one billing event, or a test. Its id is
// the message's webhook-id.
type WebhookDelivery struct {
	ID        string                `json:"id" doc:"The message id, sent as webhook-id on every attempt and replay."`
	Endpoint  string                `json:"endpoint"`
	Event     string                `json:"event" doc:"The billing event (evt_…); a generated id for a test."`
	EventType string                `json:"event_type"`
	Account   string                `json:"account,omitempty"`
	Status    WebhookDeliveryStatus `json:"status"`
	// Series counts the replays: 0 for the first series of attempts.
	Series int64 `json:"series"`
	// Attempts counts the attempts of the current series.
	Attempts       int64      `json:"attempt_count"`
	NextAttemptAt  *time.Time `json:"next_attempt_at,omitempty"`
	LastAttemptAt  *time.Time `json:"last_attempt_at,omitempty"`
	LastStatusCode int64      `json:"last_status_code,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
	// Payload is the body sent, the same bytes on every attempt.
	Payload   json.RawMessage `json:"payload"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	// LeaseUntil is when the claim of the worker sending it ends; nil when none holds it.
	LeaseUntil *time.Time `json:"-"`
}

// WebhookDeliveryDetail is a delivery with its latest attempts, newest first.
type WebhookDeliveryDetail struct {
	*WebhookDelivery
	AttemptLog []*WebhookAttempt `json:"attempts" doc:"The latest attempts of every series, newest first, at most 100."`
}

// WebhookAttempt is one POST of a delivery, as the delivery log keeps it.
type WebhookAttempt struct {
	ID       string `json:"id"`
	Delivery string `json:"delivery"`
	Series   int64  `json:"series"`
	Number   int64  `json:"number" doc:"1 for the first attempt of its series."`
	// At is when the request was sent: the webhook-timestamp it carried.
	At         time.Time `json:"at"`
	StatusCode int64     `json:"status_code,omitempty" doc:"The receiver's HTTP status; absent when none came (timeout, refused connection)."`
	DurationMs int64     `json:"duration_ms"`
	Succeeded  bool      `json:"succeeded"`
	Error      string    `json:"error,omitempty"`
	// Response is the start of the receiver's body, at most WebhookResponseExcerptMaxBytes.
	Response string `json:"response,omitempty"`
}

// WebhookDeliveryFilter selects deliveries of an endpoint.
type WebhookDeliveryFilter struct {
	Status WebhookDeliveryStatus
}

// Validate reports an unknown status.
func (f WebhookDeliveryFilter) Validate() error {
	if f.Status != "" && !f.Status.Valid() {
		return FieldErrorf(CodeValidationFailed, "status", "must be pending, succeeded or failed, not %q", f.Status)
	}
	return nil
}

// WebhookClaim is a delivery a worker claimed, with what it needs to send it: the
// endpoint's URL and secrets as they were when claimed.
type WebhookClaim struct {
	Delivery *WebhookDelivery
	Endpoint *WebhookEndpoint
	// Token names the claim: the attempt is recorded only while the claim still holds.
	Token string
}

// WebhookAttemptWrite records an attempt and what follows from it, in one transaction,
// only while the worker's claim (Token) holds.
type WebhookAttemptWrite struct {
	Token    string
	Endpoint string
	Attempt  *WebhookAttempt
	// Status and NextAttemptAt are the delivery's next state: pending with the time of
	// the retry, or succeeded or failed with none.
	Status        WebhookDeliveryStatus
	NextAttemptAt *time.Time
	// DisableEndpoint, when not empty, disables the endpoint with this reason ("gone",
	// "failing").
	DisableEndpoint string
}
