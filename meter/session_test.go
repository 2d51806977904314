package meter_test

import (
	"errors"
	"testing"

	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/meter"
	"github.com/google/go-cmp/cmp"
)

// sess is a session reduced to what the table tests check: its app, its attributed
// start and the start of its stream, as offsets from t0.
type sess struct {
	App    string
	Start  int64
	Stream int64
}

func reduce(sessions []meter.Session) []sess {
	out := make([]sess, 0, len(sessions))
	for _, s := range sessions {
		out = append(out, sess{App: s.App, Start: s.StartMicros - t0, Stream: s.StreamStartMicros - t0})
	}
	return out
}

func TestSessionize(t *testing.T) {
	const c = "conv_1"
	started := func(app string, at int64) meter.Event { return convEvent(meter.TypeConversationStarted, c, app, at) }
	message := func(app string, at int64) meter.Event { return convEvent(meter.TypeConversationMessage, c, app, at) }
	ended := func(at int64) meter.Event { return convEvent(meter.TypeConversationEnded, c, "", at) }

	tests := []struct {
		name   string
		events []meter.Event
		want   []sess
	}{
		{
			name:   "31 minutes is 3 sessions (seed 000: 0-15, 16-30, 31-end)",
			events: []meter.Event{started("bot", 0), message("bot", 20*minute), ended(31 * minute)},
			want:   []sess{{"bot", 0, 0}, {"bot", 15 * minute, 0}, {"bot", 30 * minute, 0}},
		},
		{
			name:   "30 minutes is 2 sessions",
			events: []meter.Event{started("bot", 0), ended(30 * minute)},
			want:   []sess{{"bot", 0, 0}, {"bot", 15 * minute, 0}},
		},
		{
			name:   "15 minutes exactly is 1 session",
			events: []meter.Event{started("bot", 0), message("bot", 15*minute)},
			want:   []sess{{"bot", 0, 0}},
		},
		{
			name:   "15 minutes and a microsecond is 2 sessions",
			events: []meter.Event{started("bot", 0), message("bot", 15*minute+1)},
			want:   []sess{{"bot", 0, 0}, {"bot", 15 * minute, 0}},
		},
		{
			name:   "a single message is 1 session",
			events: []meter.Event{message("bot", 7*minute)},
			want:   []sess{{"bot", 7 * minute, 7 * minute}},
		},
		{
			name:   "a gap of exactly the idle timeout does not split",
			events: []meter.Event{started("bot", 0), message("bot", 30*minute)},
			want:   []sess{{"bot", 0, 0}, {"bot", 15 * minute, 0}},
		},
		{
			name:   "a gap one microsecond over the idle timeout splits into two conversations",
			events: []meter.Event{started("bot", 0), message("bot", 30*minute+1)},
			want:   []sess{{"bot", 0, 0}, {"bot", 30*minute + 1, 30*minute + 1}},
		},
		{
			name:   "docs/meters.md: messages at 0, 20 and 50 minutes are one conversation of 4 sessions",
			events: []meter.Event{message("bot", 0), message("bot", 20*minute), message("bot", 50*minute)},
			want:   []sess{{"bot", 0, 0}, {"bot", 15 * minute, 0}, {"bot", 30 * minute, 0}, {"bot", 45 * minute, 0}},
		},
		{
			name:   "docs/meters.md: the last a microsecond later makes two conversations, 2 + 1 sessions",
			events: []meter.Event{message("bot", 0), message("bot", 20*minute), message("bot", 50*minute+1)},
			want:   []sess{{"bot", 0, 0}, {"bot", 15 * minute, 0}, {"bot", 50*minute + 1, 50*minute + 1}},
		},
		{
			name: "after an idle split, each part starts on the app its earliest event names",
			events: []meter.Event{started("bot", 0), routed(c, "linked", 5*minute), message("linked", 50*minute),
				convEvent(meter.TypeConversationMessage, c, "", 55*minute)},
			want: []sess{{"bot", 0, 0}, {"linked", 5 * minute, 0}, {"linked", 50 * minute, 50 * minute}},
		},
		{
			name: "after an idle split with no event naming an app, the app serving when it went idle",
			events: []meter.Event{started("bot", 0), routed(c, "linked", 5*minute), message("", 50*minute),
				ended(55 * minute)},
			want: []sess{{"bot", 0, 0}, {"linked", 5 * minute, 0}, {"linked", 50 * minute, 50 * minute}},
		},
		{
			name:   "conversation.ended before a message (out of order) still spans to the last event",
			events: []meter.Event{started("bot", 0), ended(10 * minute), message("bot", 31*minute)},
			want:   []sess{{"bot", 0, 0}, {"bot", 15 * minute, 0}, {"bot", 30 * minute, 0}},
		},
		{
			name: "routing: the parent keeps its sessions, the linked app's are its own",
			events: []meter.Event{started("parent", 0), routed(c, "linked", 10*minute), message("linked", 25*minute),
				ended(41 * minute)},
			want: []sess{{"parent", 0, 0}, {"linked", 10 * minute, 0}, {"linked", 25 * minute, 0}, {"linked", 40 * minute, 0}},
		},
		{
			name:   "routing at the very start: the parent has its one session, the linked app the rest",
			events: []meter.Event{started("parent", 0), routed(c, "linked", 0), message("linked", 20*minute)},
			want:   []sess{{"parent", 0, 0}, {"linked", 0, 0}, {"linked", 15 * minute, 0}},
		},
		{
			name: "routing back to the parent: each segment is sessionized on its own",
			events: []meter.Event{started("parent", 0), routed(c, "linked", 5*minute), routed(c, "parent", 20*minute),
				message("parent", 50*minute)},
			want: []sess{{"parent", 0, 0}, {"linked", 5 * minute, 0}, {"parent", 20 * minute, 0}, {"parent", 35 * minute, 0}},
		},
		{
			name: "routing twice",
			events: []meter.Event{started("parent", 0), routed(c, "linked_1", 10*minute), routed(c, "linked_2", 20*minute),
				ended(50 * minute)},
			want: []sess{{"parent", 0, 0}, {"linked_1", 10 * minute, 0}, {"linked_2", 20 * minute, 0}, {"linked_2", 35 * minute, 0}},
		},
		{
			name:   "routing to the app already serving changes nothing",
			events: []meter.Event{started("bot", 0), routed(c, "bot", 10*minute), ended(20 * minute)},
			want:   []sess{{"bot", 0, 0}, {"bot", 15 * minute, 0}},
		},
		{
			name:   "routing as the last event gives the linked app one session",
			events: []meter.Event{started("parent", 0), routed(c, "linked", 20*minute)},
			want:   []sess{{"parent", 0, 0}, {"parent", 15 * minute, 0}, {"linked", 20 * minute, 0}},
		},
		{
			name:   "the starting app is the earliest event's that names one",
			events: []meter.Event{ended(9 * minute), message("", 0), message("bot", 2*minute), message("other", 3*minute)},
			want:   []sess{{"bot", 0, 0}},
		},
		{
			name:   "a conversation no event attributes to an app has no sessions",
			events: []meter.Event{message("", 0), ended(5 * minute)},
			want:   []sess{},
		},
		{
			name: "API requests: one client's activity on one app, split by the idle timeout",
			events: []meter.Event{apiRequest("bot", "client_1", 0), apiRequest("bot", "client_1", 10*minute),
				apiRequest("bot", "client_1", 20*minute), apiRequest("bot", "client_1", 70*minute)},
			want: []sess{{"bot", 0, 0}, {"bot", 15 * minute, 0}, {"bot", 70 * minute, 70 * minute}},
		},
		{
			name: "API requests of one client to two apps are two streams",
			events: []meter.Event{apiRequest("b", "client_1", 0), apiRequest("a", "client_1", 5*minute),
				apiRequest("b", "client_1", 20*minute)},
			want: []sess{{"a", 5 * minute, 5 * minute}, {"b", 0, 0}, {"b", 15 * minute, 0}},
		},
		{
			name:   "conversations come before API activity",
			events: []meter.Event{apiRequest("bot", "client_1", 0), started("bot", 3*minute)},
			want:   []sess{{"bot", 3 * minute, 3 * minute}, {"bot", 0, 0}},
		},
		{
			name:   "events of other types are ignored",
			events: []meter.Event{started("bot", 0), {Type: meter.TypeVoiceInteraction, TimeMicros: t0 + 40*minute, Account: "acct_1", App: "bot", Conversation: c}},
			want:   []sess{{"bot", 0, 0}},
		},
	}
	rules := sessionRules(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := reduce(meter.Sessionize(tt.events, rules, t0+10*day))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("sessions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSessionizeKeepsAccountsApart(t *testing.T) {
	a := convEvent(meter.TypeConversationStarted, "conv_1", "bot", 0)
	b := convEvent(meter.TypeConversationMessage, "conv_1", "bot", 20*minute)
	b.Account = "acct_2"
	got := meter.Sessionize([]meter.Event{b, a}, sessionRules(t), t0)
	want := []meter.Session{
		{Account: "acct_1", App: "bot", Source: meter.SourceConversation, Key: "conv_1", StreamStartMicros: t0, StartMicros: t0},
		{Account: "acct_2", App: "bot", Source: meter.SourceConversation, Key: "conv_1", StreamStartMicros: t0 + 20*minute, StartMicros: t0 + 20*minute},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sessions (-want +got):\n%s", diff)
	}
}

func TestStreamFinal(t *testing.T) {
	rules := sessionRules(t)
	open := []meter.Event{convEvent(meter.TypeConversationStarted, "c", "bot", 0), convEvent(meter.TypeConversationMessage, "c", "bot", 10*minute)}
	ended := append(open[:2:2], convEvent(meter.TypeConversationEnded, "c", "", 5*minute))
	api := []meter.Event{apiRequest("bot", "client", 10*minute)}
	last := t0 + 10*minute
	tests := []struct {
		name   string
		events []meter.Event
		now    int64
		want   bool
	}{
		{"open, a microsecond before the idle timeout", open, last + rules.IdleTimeoutMicros - 1, false},
		{"open, at the idle timeout", open, last + rules.IdleTimeoutMicros, true},
		{"ended, even before its last event plus the timeout", ended, last, true},
		{"API activity, a microsecond before the idle timeout", api, last + rules.IdleTimeoutMicros - 1, false},
		{"API activity, at the idle timeout", api, last + rules.IdleTimeoutMicros, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			streams := meter.Streams(tt.events, rules)
			if len(streams) != 1 {
				t.Fatalf("got %d streams, want 1", len(streams))
			}
			if got := streams[0].Final(tt.now, rules); got != tt.want {
				t.Errorf("Final(last%+d µs) = %v, want %v", tt.now-last, got, tt.want)
			}
			for _, s := range meter.Sessionize(tt.events, rules, tt.now) {
				if s.Final != tt.want {
					t.Errorf("session %+v: Final = %v, want %v", s, s.Final, tt.want)
				}
			}
		})
	}
}

func TestStreams(t *testing.T) {
	rules := sessionRules(t)
	events := []meter.Event{
		convEvent(meter.TypeConversationStarted, "c", "parent", 0),
		routed("c", "linked", 10*minute),
		convEvent(meter.TypeConversationEnded, "c", "", 40*minute),
	}
	want := []meter.Stream{{
		Account: "acct_1", Source: meter.SourceConversation, Key: "c",
		FirstMicros: t0, LastMicros: t0 + 40*minute, Ended: true,
		Segments: []meter.Segment{
			{App: "parent", StartMicros: t0, EndMicros: t0 + 10*minute, Sessions: 1},
			{App: "linked", StartMicros: t0 + 10*minute, EndMicros: t0 + 40*minute, Sessions: 2},
		},
	}}
	if diff := cmp.Diff(want, meter.Streams(events, rules)); diff != "" {
		t.Errorf("streams (-want +got):\n%s", diff)
	}
}

func TestSessionCount(t *testing.T) {
	block := 15 * minute
	tests := []struct {
		duration, want int64
	}{
		{0, 1}, {1, 1}, {15 * minute, 1}, {15*minute + 1, 2}, {30 * minute, 2}, {31 * minute, 3}, {45 * minute, 3}, {day, 96},
	}
	for _, tt := range tests {
		if got := meter.SessionCount(tt.duration, block); got != tt.want {
			t.Errorf("SessionCount(%d µs) = %d, want %d", tt.duration, got, tt.want)
		}
	}
}

func TestSessionRulesAppFilter(t *testing.T) {
	rules := sessionRules(t)
	rules.Filters = []meter.Filter{{Field: "app", Value: "linked"}}
	events := []meter.Event{
		convEvent(meter.TypeConversationStarted, "c", "parent", 0),
		routed("c", "linked", 10*minute),
		convEvent(meter.TypeConversationEnded, "c", "", 40*minute),
	}
	want := []sess{{"linked", 10 * minute, 0}, {"linked", 25 * minute, 0}}
	if diff := cmp.Diff(want, reduce(meter.Sessionize(events, rules, t0))); diff != "" {
		t.Errorf("sessions (-want +got):\n%s", diff)
	}
}

func TestSessionRulesOf(t *testing.T) {
	c := example(t, "ai-for-service")
	r, err := meter.SessionRulesOf(mustMeter(t, c, "billing_sessions"))
	if err != nil {
		t.Fatal(err)
	}
	if r.BlockMicros != 15*minute || r.IdleTimeoutMicros != 30*minute {
		t.Errorf("rules = %+v, want a 15-minute block and a 30-minute idle timeout", r)
	}
	tests := []struct {
		name  string
		meter catalog.Meter
		code  string
	}{
		{"another aggregation", *mustMeter(t, c, "voice_sessions"), meter.CodeUnsupportedMeter},
		{"grouped by a field other than app", catalog.Meter{Aggregation: catalog.AggregationSessions, BlockMinutes: 15, IdleTimeoutMinutes: 30, GroupBy: []string{"channel"}}, meter.CodeUnsupportedMeter},
		{"no block", catalog.Meter{Aggregation: catalog.AggregationSessions, IdleTimeoutMinutes: 30}, meter.CodeInvalidRules},
		{"idle timeout over a day", catalog.Meter{Aggregation: catalog.AggregationSessions, BlockMinutes: 15, IdleTimeoutMinutes: 24*60 + 1}, meter.CodeInvalidRules},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := meter.SessionRulesOf(&tt.meter)
			var e *meter.Error
			if !errors.As(err, &e) || e.Code != tt.code {
				t.Errorf("err = %v, want code %s", err, tt.code)
			}
		})
	}
}
