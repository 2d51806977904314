package meter_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/meter"
	"github.com/google/go-cmp/cmp"
)

func voice(app, kind string, millis, at int64) meter.Event {
	return meter.Event{Type: meter.TypeVoiceInteraction, TimeMicros: t0 + at, Account: "acct_1", App: app, Kind: kind, VoiceMillis: millis}
}

func llm(app, provider, model string, in, out int64, byoKey bool, at int64) meter.Event {
	return meter.Event{Type: meter.TypeLLMUsage, TimeMicros: t0 + at, Account: "acct_1", App: app,
		Provider: provider, Model: model, InputTokens: in, OutputTokens: out, BYOKey: byoKey}
}

func ingested(app string, bytes, at int64) meter.Event {
	return meter.Event{Type: meter.TypeSearchIngested, TimeMicros: t0 + at, Account: "acct_1", App: app, Bytes: bytes}
}

func custom(typ string, at int64, fields map[string]string) meter.Event {
	return meter.Event{Type: typ, TimeMicros: t0 + at, Account: "acct_1", App: "bot", Fields: fields}
}

func TestAggregateShippedMeters(t *testing.T) {
	c := example(t, "ai-for-service")
	events := []meter.Event{
		voice("bot", "stt", 1500, 0), voice("bot", "stt", 2250, minute), voice("bot", "tts", 12000, minute),
		voice("other", "stt", 1, hour),
		voice("bot", "stt", 9999, day), // after the window
		llm("bot", "openai", "gpt-4o", 1000, 500, false, 0), llm("bot", "openai", "gpt-4o", 10, 5, true, 0),
		llm("bot", "anthropic", "claude-3-5-haiku", 7, 3, false, 0),
		ingested("bot", 600_000_000, 0), ingested("bot", 400_000_001, 1), ingested("other", 5, 2),
	}
	tests := []struct {
		meter string
		want  []meter.GroupQuantity
	}{
		{"voice_sessions", []meter.GroupQuantity{
			{Account: "acct_1", Group: []string{"bot", "stt"}, Quantity: dec("2")},
			{Account: "acct_1", Group: []string{"bot", "tts"}, Quantity: dec("1")},
			{Account: "acct_1", Group: []string{"other", "stt"}, Quantity: dec("1")},
		}},
		{"voice_seconds", []meter.GroupQuantity{
			{Account: "acct_1", Group: []string{"bot", "stt"}, Quantity: dec("3.75")},
			{Account: "acct_1", Group: []string{"bot", "tts"}, Quantity: dec("12")},
			{Account: "acct_1", Group: []string{"other", "stt"}, Quantity: dec("0.001")},
		}},
		{"llm_tokens", []meter.GroupQuantity{
			{Account: "acct_1", Group: []string{"bot", "anthropic", "claude-3-5-haiku"}, Quantity: dec("10")},
			{Account: "acct_1", Group: []string{"bot", "openai", "gpt-4o"}, Quantity: dec("1515")},
		}},
		{"ingested_bytes", []meter.GroupQuantity{
			{Account: "acct_1", Group: []string{"bot"}, Quantity: dec("1000000001")},
			{Account: "acct_1", Group: []string{"other"}, Quantity: dec("5")},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.meter, func(t *testing.T) {
			got, err := meter.Aggregate(mustMeter(t, c, tt.meter), events, t0, t0+day)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, decimalByValue); diff != "" {
				t.Errorf("quantities (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAggregate(t *testing.T) {
	gauge := func(agg string) *catalog.Meter {
		return &catalog.Meter{Key: "gauge", EventTypes: []string{"gauge.reading", "gauge.other"}, Aggregation: agg, Field: "level", GroupBy: []string{"site"}}
	}
	events := []meter.Event{
		custom("gauge.reading", 0, map[string]string{"level": "5", "site": "a"}),
		custom("gauge.reading", 3, map[string]string{"level": "-2.5", "site": "a"}),
		custom("gauge.reading", 3, map[string]string{"level": "7", "site": "a"}), // a tie in time: the greater value is latest
		custom("gauge.reading", 2, map[string]string{"level": "1.250", "site": "a"}),
		custom("gauge.reading", 1, map[string]string{"level": "4", "site": "b"}),
		custom("gauge.reading", 1, map[string]string{"site": "b"}), // no level: not counted by min, max, latest
		custom("gauge.other", 9, map[string]string{"level": "100"}),
		custom("gauge.unmetered", 9, map[string]string{"level": "1000", "site": "a"}),
	}
	tests := []struct {
		agg  string
		want []meter.GroupQuantity
	}{
		{catalog.AggregationCount, []meter.GroupQuantity{{Account: "acct_1", Group: []string{""}, Quantity: dec("1")}, {Account: "acct_1", Group: []string{"a"}, Quantity: dec("4")}, {Account: "acct_1", Group: []string{"b"}, Quantity: dec("2")}}},
		{catalog.AggregationSum, []meter.GroupQuantity{{Account: "acct_1", Group: []string{""}, Quantity: dec("100")}, {Account: "acct_1", Group: []string{"a"}, Quantity: dec("10.750")}, {Account: "acct_1", Group: []string{"b"}, Quantity: dec("4")}}},
		{catalog.AggregationMin, []meter.GroupQuantity{{Account: "acct_1", Group: []string{""}, Quantity: dec("100")}, {Account: "acct_1", Group: []string{"a"}, Quantity: dec("-2.5")}, {Account: "acct_1", Group: []string{"b"}, Quantity: dec("4")}}},
		{catalog.AggregationMax, []meter.GroupQuantity{{Account: "acct_1", Group: []string{""}, Quantity: dec("100")}, {Account: "acct_1", Group: []string{"a"}, Quantity: dec("7")}, {Account: "acct_1", Group: []string{"b"}, Quantity: dec("4")}}},
		{catalog.AggregationLatest, []meter.GroupQuantity{{Account: "acct_1", Group: []string{""}, Quantity: dec("100")}, {Account: "acct_1", Group: []string{"a"}, Quantity: dec("7")}, {Account: "acct_1", Group: []string{"b"}, Quantity: dec("4")}}},
		{catalog.AggregationUniqueCount, []meter.GroupQuantity{{Account: "acct_1", Group: []string{""}, Quantity: dec("1")}, {Account: "acct_1", Group: []string{"a"}, Quantity: dec("4")}, {Account: "acct_1", Group: []string{"b"}, Quantity: dec("1")}}},
	}
	for _, tt := range tests {
		t.Run(tt.agg, func(t *testing.T) {
			got, err := meter.Aggregate(gauge(tt.agg), events, t0, t0+day)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, decimalByValue); diff != "" {
				t.Errorf("quantities (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAggregateFilters(t *testing.T) {
	m := &catalog.Meter{Key: "stt_seconds", EventTypes: []string{meter.TypeVoiceInteraction}, Aggregation: catalog.AggregationSum,
		Field: "seconds", Filters: map[string]string{"kind": "stt", "app": "bot"}}
	events := []meter.Event{voice("bot", "stt", 1000, 0), voice("bot", "tts", 1000, 0), voice("other", "stt", 1000, 0), voice("bot", "stt", 500, 1)}
	got, err := meter.Aggregate(m, events, t0, t0+1)
	if err != nil {
		t.Fatal(err)
	}
	want := []meter.GroupQuantity{{Account: "acct_1", Quantity: dec("1")}}
	if diff := cmp.Diff(want, got, decimalByValue); diff != "" {
		t.Errorf("quantities (-want +got):\n%s", diff)
	}
	// byo_key is compared as text, as the catalog writes it.
	m = &catalog.Meter{Key: "paid_calls", EventTypes: []string{meter.TypeLLMUsage}, Aggregation: catalog.AggregationCount, Filters: map[string]string{"byo_key": "false"}}
	got, err = meter.Aggregate(m, []meter.Event{llm("bot", "openai", "gpt-4o", 1, 1, false, 0), llm("bot", "openai", "gpt-4o", 1, 1, true, 0)}, t0, t0+1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]meter.GroupQuantity{{Account: "acct_1", Quantity: dec("1")}}, got, decimalByValue); diff != "" {
		t.Errorf("quantities (-want +got):\n%s", diff)
	}
}

func TestAggregateSumIsExactPastInt64(t *testing.T) {
	m := &catalog.Meter{Key: "big", EventTypes: []string{"big"}, Aggregation: catalog.AggregationSum, Field: "n"}
	var events []meter.Event
	for range 10 {
		events = append(events, custom("big", 0, map[string]string{"n": "4000000000000000000"})) // 4e18: two overflow an int64
	}
	got, err := meter.Aggregate(m, events, t0, t0+1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Quantity.String() != "40000000000000000000" {
		t.Errorf("sum = %v, want 40000000000000000000", got)
	}
}

func TestAggregateErrors(t *testing.T) {
	c := example(t, "ai-for-service")
	tests := []struct {
		name   string
		meter  *catalog.Meter
		events []meter.Event
		code   string
		field  string
	}{
		{"sessions", mustMeter(t, c, "billing_sessions"), nil, meter.CodeUnsupportedMeter, "aggregation"},
		{"concurrency", mustMeter(t, c, "concurrent_agents"), nil, meter.CodeUnsupportedMeter, "aggregation"},
		{"provider cost", mustMeter(t, c, "llm_credits"), nil, meter.CodeUnsupportedMeter, "aggregation"},
		{"sum of text", &catalog.Meter{EventTypes: []string{"x"}, Aggregation: catalog.AggregationSum, Field: "n"},
			[]meter.Event{custom("x", 0, map[string]string{"n": "12 kg"})}, meter.CodeNotANumber, "n"},
		{"max of an exponent", &catalog.Meter{EventTypes: []string{"x"}, Aggregation: catalog.AggregationMax, Field: "n"},
			[]meter.Event{custom("x", 0, map[string]string{"n": "1e3"})}, meter.CodeNotANumber, "n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := meter.Aggregate(tt.meter, tt.events, t0, t0+day)
			var e *meter.Error
			if !errors.As(err, &e) || e.Code != tt.code || e.Field != tt.field {
				t.Errorf("err = %v, want code %s on field %s", err, tt.code, tt.field)
			}
		})
	}
}

// TestAggregateWindowsAdd checks that count and sum over adjacent windows add up to the
// count and sum over their union: a window is [from, to), so no event counts twice.
func TestAggregateWindowsAdd(t *testing.T) {
	m := mustMeter(t, example(t, "ai-for-service"), "ingested_bytes")
	var events []meter.Event
	for i := range int64(100) {
		events = append(events, ingested("bot", i+1, i*minute))
	}
	whole, _ := meter.Aggregate(m, events, t0, t0+day)
	first, _ := meter.Aggregate(m, events, t0, t0+50*minute)
	second, _ := meter.Aggregate(m, events, t0+50*minute, t0+day)
	if got := first[0].Quantity.Add(second[0].Quantity); !got.Equal(whole[0].Quantity) || whole[0].Quantity.String() != "5050" {
		t.Errorf("%s + %s = %s; whole window %s, want 5050", first[0].Quantity, second[0].Quantity, got, whole[0].Quantity)
	}
}

// TestAggregateErrorIsOrderIndependent: of several bad events, the same one is reported
// whatever their order.
func TestAggregateErrorIsOrderIndependent(t *testing.T) {
	m := &catalog.Meter{EventTypes: []string{"x"}, Aggregation: catalog.AggregationSum, Field: "n"}
	events := []meter.Event{
		custom("x", 5, map[string]string{"n": "late"}),
		custom("x", 1, map[string]string{"n": "zz"}),
		custom("x", 1, map[string]string{"n": "aa"}),
		custom("x", 0, map[string]string{"n": "1"}),
	}
	var first string
	for i := range 4 {
		rotated := append(slices.Clone(events[i:]), events[:i]...)
		_, err := meter.Aggregate(m, rotated, t0, t0+day)
		if err == nil {
			t.Fatal("no error")
		}
		if i == 0 {
			first = err.Error()
			if !strings.Contains(first, `"aa"`) {
				t.Errorf("err = %v, want the earliest bad event's, the least message first", err)
			}
		} else if err.Error() != first {
			t.Errorf("rotation %d: err = %v, want %s", i, err, first)
		}
	}
}
