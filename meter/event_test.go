package meter_test

import (
	"errors"
	"testing"

	"github.com/billowhq/billow/meter"
)

func TestEventField(t *testing.T) {
	full := meter.Event{Type: "conversation.started", App: "bot", Conversation: "c1", Channel: "web", ToApp: "linked",
		Client: "cl", Kind: "stt", Agent: "ann", Product: "agent_ai", Call: "call_1", Provider: "openai", Model: "gpt-4o",
		Fields: map[string]string{"app": "shadowed", "colour": "blue"}}
	llmEvent := llm("bot", "openai", "gpt-4o", 12, 0, true, 0)
	voiceEvent := voice("bot", "tts", 1500, 0)
	byteEvent := ingested("bot", 2048, 0)
	customEvent := custom("shop.sale", 0, map[string]string{"bytes": "7", "seconds": "2.5"})
	tests := []struct {
		event *meter.Event
		name  string
		want  string
		ok    bool
	}{
		{&full, "app", "bot", true},
		{&full, "conversation", "c1", true},
		{&full, "channel", "web", true},
		{&full, "to_app", "linked", true},
		{&full, "client", "cl", true},
		{&full, "kind", "stt", true},
		{&full, "agent", "ann", true},
		{&full, "product", "agent_ai", true},
		{&full, "call", "call_1", true},
		{&full, "provider", "openai", true},
		{&full, "model", "gpt-4o", true},
		{&full, "colour", "blue", true},
		{&full, "size", "", false},
		{&full, "bytes", "", false}, // conversation.started carries no bytes
		{&llmEvent, "input_tokens", "12", true},
		{&llmEvent, "output_tokens", "0", true}, // carried, and zero
		{&llmEvent, "byo_key", "true", true},
		{&llmEvent, "seconds", "", false},
		{&voiceEvent, "seconds", "1.5", true},
		{&byteEvent, "bytes", "2048", true},
		{&customEvent, "bytes", "7", true},
		{&customEvent, "seconds", "2.5", true},
		{&customEvent, "agent", "", false}, // an empty typed field is absent
	}
	for _, tt := range tests {
		got, ok := tt.event.Field(tt.name)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: Field(%q) = %q, %v; want %q, %v", tt.event.Type, tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestEventNumber(t *testing.T) {
	voiceEvent := voice("bot", "tts", 1500, 0)
	customEvent := custom("shop.sale", 0, map[string]string{"amount": "-12.50", "count": "3", "bad": "3,5", "label": "x"})
	tests := []struct {
		event *meter.Event
		name  string
		want  string
		ok    bool
		code  string
	}{
		{&voiceEvent, "seconds", "1.5", true, ""},
		{&customEvent, "amount", "-12.5", true, ""},
		{&customEvent, "count", "3", true, ""},
		{&customEvent, "missing", "0", false, ""},
		{&customEvent, "bad", "0", true, meter.CodeNotANumber},
		{&customEvent, "label", "0", true, meter.CodeNotANumber},
	}
	for _, tt := range tests {
		got, ok, err := tt.event.Number(tt.name)
		var e *meter.Error
		switch {
		case tt.code != "":
			if !errors.As(err, &e) || e.Code != tt.code || e.Field != tt.name {
				t.Errorf("Number(%q): err = %v, want code %s", tt.name, err, tt.code)
			}
		case err != nil || ok != tt.ok || !got.Equal(dec(tt.want)):
			t.Errorf("Number(%q) = %s, %v, %v; want %s, %v", tt.name, got, ok, err, tt.want, tt.ok)
		}
	}
}

func TestEventValidate(t *testing.T) {
	valid := llm("bot", "openai", "gpt-4o", 1, 1, false, 0)
	if err := valid.Validate(); err != nil {
		t.Fatalf("valid event: %v", err)
	}
	tests := []struct {
		name   string
		change func(*meter.Event)
		field  string
	}{
		{"no type", func(e *meter.Event) { e.Type = "" }, "type"},
		{"before year 1", func(e *meter.Event) { e.TimeMicros = meter.TimeMicrosMin - 1 }, "time"},
		{"after year 9999", func(e *meter.Event) { e.TimeMicros = meter.TimeMicrosMax + 1 }, "time"},
		{"negative tokens", func(e *meter.Event) { e.OutputTokens = -1 }, "output_tokens"},
		{"too many bytes", func(e *meter.Event) { e.Bytes = meter.QuantityPerEventMax + 1 }, "bytes"},
		{"negative seconds", func(e *meter.Event) { e.VoiceMillis = -1 }, "seconds"},
		{"too many fields", func(e *meter.Event) {
			e.Fields = map[string]string{}
			for i := range meter.FieldsPerEventMax + 1 {
				e.Fields[string(rune('a'+i%26))+string(rune('a'+i/26))] = "x"
			}
		}, "data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := valid
			tt.change(&e)
			err := e.Validate()
			var me *meter.Error
			if !errors.As(err, &me) || me.Code != meter.CodeInvalidEvent || me.Field != tt.field {
				t.Errorf("err = %v, want code %s on %s", err, meter.CodeInvalidEvent, tt.field)
			}
		})
	}
}
