package usage_test

import (
	"testing"

	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/usage"
)

func TestGroupMatches(t *testing.T) {
	llm := &catalog.Meter{Key: "llm_tokens", GroupBy: []string{"app", "provider", "model"}}
	voice := &catalog.Meter{Key: "voice_seconds", GroupBy: []string{"kind", "app"}}
	sessions := &catalog.Meter{Key: "billing_sessions", GroupBy: []string{"app"}}
	for _, tt := range []struct {
		m       *catalog.Meter
		group   string
		filters map[string]string
		want    bool
	}{
		{llm, "provider=openai,model=gpt-4o", map[string]string{"model": "gpt-4o"}, true},
		{llm, "provider=openai,model=gpt-4o", map[string]string{"provider": "openai", "model": "gpt-4o"}, true},
		{llm, "provider=openai,model=gpt-4o-mini", map[string]string{"model": "gpt-4o"}, false},
		{llm, "provider=openai,model=gpt-4o", map[string]string{"provider": "open"}, false},
		{llm, "provider=openai,model=gpt-4o", map[string]string{"app": "bot"}, true}, // cells keep the app apart
		{llm, "provider=a=b,model=c", map[string]string{"provider": "a=b"}, true},    // a value may hold "="
		{llm, "provider=,model=", map[string]string{"model": ""}, true},              // absent values are ""
		{llm, "model=gpt-4o", map[string]string{"model": "gpt-4o"}, false},           // not a group of this meter
		{voice, "kind=stt", map[string]string{"kind": "stt"}, true},
		{voice, "kind=stt", map[string]string{"kind": "tts"}, false},
		{voice, "kind=stt", map[string]string{"channel": "web"}, false}, // a field the cells do not keep
		{sessions, "", map[string]string{"app": "bot"}, true},
		{sessions, "", nil, true},
	} {
		if got := usage.GroupMatches(tt.m, tt.group, tt.filters); got != tt.want {
			t.Errorf("%s group %q filters %v: %v, want %v", tt.m.Key, tt.group, tt.filters, got, tt.want)
		}
	}
}
