package usage_test

import (
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/meter"
	"github.com/billowhq/billow/usage"
)

func sessionsMeter(t *testing.T) *catalog.Meter {
	t.Helper()
	c, err := catalog.ParseExample("ai-for-service")
	if err != nil {
		t.Fatal(err)
	}
	m, ok := c.Meter("billing_sessions")
	if !ok {
		t.Fatal("no billing_sessions meter")
	}
	return m
}

// TestClustersMergeLikeTheEngine feeds one conversation's events to MergeClusters in
// random batches, as ingest does, keeping only each cluster's representatives between
// batches; the sessions of the final clusters must equal the engine's over all events.
func TestClustersMergeLikeTheEngine(t *testing.T) {
	m := sessionsMeter(t)
	rules, err := meter.SessionRulesOf(m)
	if err != nil {
		t.Fatal(err)
	}
	idle := m.IdleTimeoutMinutes * meter.MicrosPerMinute
	apps := []string{"support", "billing", "sales"}
	types := []string{meter.TypeConversationStarted, meter.TypeConversationMessage, meter.TypeConversationRouted, meter.TypeConversationEnded}
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 9))
		var events []meter.Event
		at := int64(1_768_000_000_000_000)
		for range 2 + r.IntN(30) {
			at += r.Int64N(40 * meter.MicrosPerMinute) // gaps on both sides of the 30-minute idle timeout
			e := meter.Event{Type: types[r.IntN(len(types))], TimeMicros: at, Account: "acct", Conversation: "c"}
			switch e.Type {
			case meter.TypeConversationRouted:
				e.ToApp = apps[r.IntN(len(apps))]
			case meter.TypeConversationEnded:
			default:
				e.App = apps[r.IntN(len(apps))]
			}
			events = append(events, e)
			if r.IntN(4) == 0 { // another event at the same microsecond
				events = append(events, meter.Event{Type: types[r.IntN(2)], TimeMicros: at, Account: "acct", Conversation: "c", App: apps[r.IntN(len(apps))]})
			}
		}
		want := map[usage.Delta]int{}
		for _, s := range meter.Sessionize(events, rules, meter.TimeMicrosMax) {
			want[usage.Delta{Meter: m.Key, AppID: s.App, HourMicros: s.StartMicros / usage.HourMicros * usage.HourMicros, Units: 1}]++
		}
		shuffled := append([]meter.Event(nil), events...)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		var clusters []usage.Cluster
		for len(shuffled) > 0 {
			n := 1 + r.IntN(len(shuffled))
			clusters = usage.MergeClusters(clusters, shuffled[:n], idle)
			shuffled = shuffled[n:]
		}
		got := map[usage.Delta]int{}
		inherited := ""
		for _, c := range clusters {
			d, err := usage.ClusterSessions(m, c.Reps, inherited)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range d {
				got[x]++
			}
			inherited = usage.ServingApp(m, c.Reps, inherited)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("seed %d: sessions from merged clusters differ from the engine's (-engine +clusters):\n%s\nevents: %+v", seed, diff, events)
		}
	}
}

// TestPeakRanges checks the hours an agent event can change: from its own to the one
// holding its time plus the heartbeat timeout, joined where they touch.
func TestPeakRanges(t *testing.T) {
	c, err := catalog.ParseExample("ai-for-service")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := c.Meter("concurrent_calls") // 4-hour heartbeat
	h := usage.HourMicros
	base := int64(1_768_003_200_000_000) // a UTC hour
	ev := func(typ string, at int64) meter.Event { return meter.Event{Type: typ, TimeMicros: at, Call: "x"} }
	got, err := usage.PeakRanges(m, []meter.Event{
		ev(meter.TypeCallStarted, base+10*60_000_000), // 00:10 reaches 04:10: hours 0–4
		ev(meter.TypeCallEnded, base+5*h),             // touches the first range: joined
		ev(meter.TypeCallStarted, base+20*h),          // apart
		ev(meter.TypeLLMUsage, base+40*h),             // not the meter's
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []usage.HourRange{{FromMicros: base, ToMicros: base + 10*h}, {FromMicros: base + 20*h, ToMicros: base + 25*h}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("ranges differ (-want +got):\n%s", diff)
	}
}
