package meter

import (
	"strconv"

	"github.com/shopspring/decimal"
)

// The built-in event types (DESIGN.md, "Event vocabulary"). A catalog may meter custom
// types too; the engine reads their data from Event.Fields.
const (
	TypeConversationStarted = "conversation.started"
	TypeConversationMessage = "conversation.message"
	TypeConversationRouted  = "conversation.routed"
	TypeConversationEnded   = "conversation.ended"
	TypeAPIRequest          = "api.request"
	TypeVoiceInteraction    = "voice.interaction"
	TypeAgentLogin          = "agent.login"
	TypeAgentLogout         = "agent.logout"
	TypeSearchIngested      = "search.ingested"
	TypeLLMUsage            = "llm.usage"
	TypeCallStarted         = "call.started"
	TypeCallEnded           = "call.ended"
)

// Event is a usage event as the engine sees it. The store fills it from a validated
// CloudEvent: the vocabulary's data fields are typed so that metering reads no map on its
// hot paths; Fields holds only the data of custom event types and any data field the
// vocabulary does not name. An empty text field is absent.
//
// Conversation events that do not carry an app in the vocabulary (routed, ended) may have
// App set by the store from their conversation, for meters that group by app.
// Sessionization reads App only to find the app a conversation starts on, and never on a
// routing, whose app is ToApp (see Streams).
type Event struct {
	Type       string // "conversation.started", …, or a custom type
	TimeMicros int64  // when it happened, µs since the Unix epoch, UTC

	Account      string // the billed account
	App          string // data.app
	Conversation string // data.conversation
	Channel      string // data.channel
	ToApp        string // data.to_app of conversation.routed
	Client       string // data.client of api.request
	Kind         string // data.kind of voice.interaction: stt, tts or gateway
	Agent        string // data.agent of agent.login and agent.logout
	Product      string // data.product of agent.login and agent.logout
	Call         string // data.call of call.started and call.ended
	Provider     string // data.provider of llm.usage
	Model        string // data.model of llm.usage

	Bytes        int64 // data.bytes of search.ingested
	InputTokens  int64 // data.input_tokens of llm.usage
	OutputTokens int64 // data.output_tokens of llm.usage
	// VoiceMillis is data.seconds of voice.interaction in milliseconds, so that a
	// fractional second stays an exact integer.
	VoiceMillis int64
	BYOKey      bool // data.byo_key of llm.usage: the customer's own provider key paid for the call

	// Fields are the other data fields, as text (a JSON number as written, true as
	// "true"); nil for built-in events whose data is all typed above.
	Fields map[string]string
}

// Field returns a data field of the event as text, by its vocabulary name ("app",
// "conversation", "channel", "to_app", "client", "kind", "agent", "product", "call",
// "provider", "model", "bytes", "input_tokens", "output_tokens", "seconds", "byo_key"),
// or from Fields for any other name. It is what filters compare and groups split by.
//
// A typed text field is present when it is not empty. A typed number or byo_key is
// present on the built-in event type that carries it; on any other type the name is
// looked up in Fields. Seconds are written as the shortest exact decimal ("1.5", "12").
func (e *Event) Field(name string) (string, bool) {
	var v string
	switch name {
	case "app":
		v = e.App
	case "conversation":
		v = e.Conversation
	case "channel":
		v = e.Channel
	case "to_app":
		v = e.ToApp
	case "client":
		v = e.Client
	case "kind":
		v = e.Kind
	case "agent":
		v = e.Agent
	case "product":
		v = e.Product
	case "call":
		v = e.Call
	case "provider":
		v = e.Provider
	case "model":
		v = e.Model
	case "bytes", "input_tokens", "output_tokens", "seconds", "byo_key":
		if carriesTyped(e.Type, name) {
			if name == "byo_key" {
				return strconv.FormatBool(e.BYOKey), true
			}
			n, _ := e.typedNumber(name)
			return n.decimal().String(), true
		}
	}
	if v != "" {
		return v, true
	}
	v, ok := e.Fields[name]
	return v, ok
}

// Number returns a data field of the event as an exact number: a typed quantity, or a
// field of Fields written as a plain decimal ("42", "-0.125"; no exponent, no sign "+").
// It reports false when the field is absent, and a CodeNotANumber error when it holds
// other text.
func (e *Event) Number(name string) (decimal.Decimal, bool, error) {
	n, ok, err := e.number(name)
	if !ok || err != nil {
		return decimal.Decimal{}, ok, err
	}
	return n.decimal(), true, nil
}

// number is Number without leaving the integers when the value is one.
func (e *Event) number(name string) (num, bool, error) {
	if n, ok := e.typedNumber(name); ok && carriesTyped(e.Type, name) {
		return n, true, nil
	}
	text, ok := e.Field(name)
	if !ok {
		return num{}, false, nil
	}
	n, err := parseNumber(name, text)
	return n, err == nil, err
}

// typedNumber returns a typed numeric field, whatever the event type.
func (e *Event) typedNumber(name string) (num, bool) {
	switch name {
	case "bytes":
		return num{units: e.Bytes}, true
	case "input_tokens":
		return num{units: e.InputTokens}, true
	case "output_tokens":
		return num{units: e.OutputTokens}, true
	case "seconds":
		return num{units: e.VoiceMillis, milli: true}, true
	}
	return num{}, false
}

// carriesTyped reports whether a built-in event type carries a typed number or flag.
func carriesTyped(eventType, field string) bool {
	switch eventType {
	case TypeSearchIngested:
		return field == "bytes"
	case TypeLLMUsage:
		return field == "input_tokens" || field == "output_tokens" || field == "byo_key"
	case TypeVoiceInteraction:
		return field == "seconds"
	}
	return false
}

// Validate checks what the engine's arithmetic relies on: a type, a time within
// [TimeMicrosMin, TimeMicrosMax], quantities within [0, QuantityPerEventMax], at most
// FieldsPerEventMax custom fields. The store calls it at ingest; every function of the
// package assumes valid events. It returns a CodeInvalidEvent *Error naming the field.
func (e *Event) Validate() error {
	switch {
	case e.Type == "":
		return errorf(CodeInvalidEvent, "type", "is required")
	case e.TimeMicros < TimeMicrosMin || e.TimeMicros > TimeMicrosMax:
		return errorf(CodeInvalidEvent, "time", "must be between years 0001 and 9999 (%d µs given)", e.TimeMicros)
	case len(e.Fields) > FieldsPerEventMax:
		return errorf(CodeInvalidEvent, "data", "has %d custom fields, more than %d", len(e.Fields), FieldsPerEventMax)
	}
	for _, q := range [...]struct {
		field, unit string
		value       int64
	}{{"bytes", "", e.Bytes}, {"input_tokens", "", e.InputTokens}, {"output_tokens", "", e.OutputTokens}, {"seconds", " ms", e.VoiceMillis}} {
		if q.value < 0 || q.value > QuantityPerEventMax {
			return errorf(CodeInvalidEvent, q.field, "must be between 0 and %d%s (%d%s given)", int64(QuantityPerEventMax), q.unit, q.value, q.unit)
		}
	}
	return nil
}
