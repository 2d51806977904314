package catalog

// The built-in event vocabulary (DESIGN.md, "Event vocabulary"). A meter over a built-in
// event type may only read fields that type carries, so that a typo in a catalog is caught
// at start instead of silently metering zero. Catalogs may add custom event types; their
// fields are the platform's business and are not checked.
//
// These are functions rather than package variables so that the package holds no state.

// builtinFields returns the data fields of a built-in event type, and false for a custom
// type. "app" is not listed where the event does not carry it: Billow attributes those
// events to an app through their conversation (see availableField).
func builtinFields(eventType string) ([]string, bool) {
	switch eventType {
	case "conversation.started":
		return []string{"app", "conversation", "channel"}, true
	case "conversation.message":
		return []string{"app", "conversation"}, true
	case "conversation.routed":
		return []string{"conversation", "to_app"}, true
	case "conversation.ended":
		return []string{"conversation"}, true
	case "api.request":
		return []string{"app", "client"}, true
	case "voice.interaction":
		return []string{"app", "kind", "seconds"}, true
	case "agent.login", "agent.logout":
		return []string{"agent", "product"}, true
	case "search.ingested":
		return []string{"app", "bytes"}, true
	case "llm.usage":
		return []string{"app", "provider", "model", "input_tokens", "output_tokens", "byo_key"}, true
	case "call.started", "call.ended":
		return []string{"call", "app"}, true
	}
	return nil, false
}

// availableField reports whether a meter over eventType can read field. "app" is always
// available: every event is attributed to an app, if only through its conversation.
func availableField(eventType, field string) bool {
	if field == "app" {
		return true
	}
	fields, builtin := builtinFields(eventType)
	if !builtin {
		return true
	}
	for _, f := range fields {
		if f == field {
			return true
		}
	}
	return false
}

// numericField reports whether a built-in data field holds a number, which sum, min,
// max and latest need.
func numericField(field string) bool {
	switch field {
	case "seconds", "bytes", "input_tokens", "output_tokens":
		return true
	}
	return false
}

// fieldValues returns the values a built-in enumerated data field may take, or nil when
// any value is possible. A filter on another value could never match.
func fieldValues(field string) []string {
	switch field {
	case "kind":
		return []string{"stt", "tts", "gateway"}
	case "product":
		return []string{"contact_center", "agent_ai"}
	case "byo_key":
		return []string{"true", "false"}
	}
	return nil
}
