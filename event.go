package billow

import (
	"slices"
	"time"
)

// Limits of usage ingest, named with their unit last.
const (
	// EventBatchMax is how many events one ingest request may carry.
	EventBatchMax = 1000
	// EventsBodyMaxBytes bounds an ingest request body: 1,000 events of up to 8 KiB each.
	EventsBodyMaxBytes = 8 << 20
	// EventDataMaxBytes bounds one event's data.
	EventDataMaxBytes = 8 << 10
	// EventAttributeMaxBytes bounds id, source, type and subject.
	EventAttributeMaxBytes = 255
	// EventClockSkewMax is how far in the future an event's time may be: clocks differ.
	EventClockSkewMax = 5 * time.Minute
	// EventQuantityMax bounds every number a meter reads from one event (bytes, tokens,
	// voice seconds, a custom field it adds up or compares), and EventQuantityDecimalsMax
	// its decimals. Rollups keep such quantities in thousandths in an int64, so one event
	// adds at most 10^15 to a cell and a cell overflows only after 9,223 maximal events
	// in one hour; the store refuses that batch rather than wrap.
	EventQuantityMax         = 1_000_000_000_000
	EventQuantityDecimalsMax = 3
)

// Event types of the vocabulary (DESIGN.md); a catalog may meter more.
const (
	EventConversationStarted = "conversation.started"
	EventConversationMessage = "conversation.message"
	EventConversationRouted  = "conversation.routed"
	EventConversationEnded   = "conversation.ended"
	EventAPIRequest          = "api.request"
	EventVoiceInteraction    = "voice.interaction"
	EventAgentLogin          = "agent.login"
	EventAgentLogout         = "agent.logout"
	EventSearchIngested      = "search.ingested"
	EventLLMUsage            = "llm.usage"
	EventCallStarted         = "call.started"
	EventCallEnded           = "call.ended"
)

// ConversationEventTypes are the types whose events form a conversation.
var ConversationEventTypes = []string{
	EventConversationStarted, EventConversationMessage, EventConversationRouted, EventConversationEnded,
}

// vocabularyTypes are the event types of DESIGN.md's vocabulary.
var vocabularyTypes = []string{
	EventConversationStarted, EventConversationMessage, EventConversationRouted, EventConversationEnded,
	EventAPIRequest, EventVoiceInteraction, EventAgentLogin, EventAgentLogout, EventSearchIngested,
	EventLLMUsage, EventCallStarted, EventCallEnded,
}

// IsVocabularyType reports whether an event type is one of the vocabulary's, rather than
// a custom type a catalog meters.
func IsVocabularyType(typ string) bool { return slices.Contains(vocabularyTypes, typ) }

// Codes of a rejected event, reported with its index in the batch.
const (
	CodeInvalidSpecVersion   = "invalid_specversion"
	CodeMissingAttribute     = "missing_attribute"
	CodeInvalidAttribute     = "invalid_attribute"
	CodeUnknownType          = "unknown_type"
	CodeInvalidTime          = "invalid_time"
	CodeTimeInFuture         = "time_in_future"
	CodeUnknownSubject       = "unknown_subject"
	CodeInvalidData          = "invalid_data"
	CodeMissingField         = "missing_field"
	CodeInvalidField         = "invalid_field"
	CodeUnknownApp           = "unknown_app"
	CodeUnknownModel         = "unknown_model"
	CodeConflictingDuplicate = "conflicting_duplicate"
	CodeMalformedJSON        = "malformed_json"
	CodeBatchTooLarge        = "batch_too_large"
)

// UsageEvent is a validated usage event as it is stored: a fact that never changes.
type UsageEvent struct {
	AccountID string
	Source    string
	ID        string
	Type      string
	Time      time.Time
	AppID     string // empty for types without an app
	// Stream groups the event for its meter: the conversation, the API client, the agent
	// or the call.
	Stream string
	// Data is the event's data as canonical JSON (keys sorted), so that a resent event
	// hashes the same however its sender ordered the keys.
	Data        []byte
	ContentHash string
	ReceivedAt  time.Time
	// Late is set when the event is for a period whose invoice is already final.
	Late bool
}

// IngestResult answers an ingest request, after the commit.
type IngestResult struct {
	Accepted   int             `json:"accepted" doc:"Events stored by this request."`
	Duplicates int             `json:"duplicates" doc:"Events already stored with the same content: counted once, as before."`
	Rejected   []RejectedEvent `json:"rejected" doc:"Events not stored, by index in the request."`
}

// RejectedEvent says why one event of a batch was not stored.
type RejectedEvent struct {
	Index  int    `json:"index"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
}
