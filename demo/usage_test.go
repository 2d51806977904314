package demo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/demo"
	"github.com/billowhq/billow/ingest"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

var ctx = context.Background()

// end is a Thursday morning in every demo account's time zone but Los Angeles, where it
// is still Wednesday night.
var end = time.Date(2026, time.March, 12, 10, 0, 0, 0, time.UTC)

// specs returns the usage specs of the demo accounts as Load would create them, without
// a store: apps get made-up ids.
func specs(t testing.TB, scale float64) []demo.UsageSpec {
	t.Helper()
	var out []demo.UsageSpec
	for _, s := range demo.Accounts() {
		data, err := catalog.Example(s.Account.Catalog)
		if err != nil {
			t.Fatal(err)
		}
		cat, err := catalog.Parse(s.Account.Catalog, data)
		if err != nil {
			t.Fatal(err)
		}
		a := &billow.Account{ExternalID: s.Account.ExternalID, Catalog: s.Account.Catalog, Plan: s.Account.Plan, Timezone: s.Account.Timezone}
		var apps []*billow.App
		for _, in := range s.Apps {
			app := &billow.App{ID: "app_" + in.ExternalID, ExternalID: in.ExternalID}
			if in.ParentApp != "" {
				app.ParentApp = "app_" + in.ParentApp
			}
			apps = append(apps, app)
		}
		spec, err := demo.NewUsageSpec(a, apps, cat, scale)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, spec)
	}
	return out
}

func collect(spec demo.UsageSpec, seed int64, end time.Time, days int) []ingest.CloudEvent {
	var out []ingest.CloudEvent
	for e := range demo.UsageEvents(spec, seed, end, days) {
		out = append(out, e)
	}
	return out
}

func TestUsageEventsAreDeterministic(t *testing.T) {
	for _, spec := range specs(t, 1) {
		first, again := collect(spec, 7, end, 5), collect(spec, 7, end, 5)
		if len(first) == 0 {
			t.Fatalf("%s: no events", spec.Subject)
		}
		// reflect.DeepEqual: cmp's diff of two long slices that differ is quadratic.
		if !reflect.DeepEqual(first, again) {
			t.Fatalf("%s: seed 7 gave other events the second time", spec.Subject)
		}
		if reflect.DeepEqual(first, collect(spec, 8, end, 5)) {
			t.Fatalf("%s: seeds 7 and 8 gave the same events", spec.Subject)
		}
	}
}

// TestUsageEventsAreStableAsTimeGoesOn is what makes a restart safe: the history that
// starts on the same day but ends 30 hours later holds every earlier event, with the
// same id and content (a duplicate, never a conflicting one), and more.
func TestUsageEventsAreStableAsTimeGoesOn(t *testing.T) {
	for _, spec := range specs(t, 1) {
		earlier := collect(spec, 1, end, 4)
		later := collect(spec, 1, end.Add(30*time.Hour), 5) // the same first day
		byID := map[string]ingest.CloudEvent{}
		for _, e := range later {
			byID[e.ID] = e
		}
		for _, e := range earlier {
			if diff := cmp.Diff(e, byID[e.ID]); diff != "" {
				t.Fatalf("%s: event %s changed when the history ran on (-earlier +later):\n%s", spec.Subject, e.ID, diff)
			}
		}
		if len(later) <= len(earlier) {
			t.Fatalf("%s: %d events, then %d 30 hours later", spec.Subject, len(earlier), len(later))
		}
	}
}

// recorder counts what ingest made of the demo's events.
type recorder struct {
	demo.Ingester
	mu                         sync.Mutex // protects the following fields
	sent, accepted, duplicates int
	rejected                   []billow.RejectedEvent
	largestBatch               int
}

func (r *recorder) Ingest(ctx context.Context, caller billow.Principal, events []ingest.CloudEvent) (*billow.IngestResult, error) {
	res, err := r.Ingester.Ingest(ctx, caller, events)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent += len(events)
	r.accepted += res.Accepted
	r.duplicates += res.Duplicates
	r.rejected = append(r.rejected, res.Rejected...)
	r.largestBatch = max(r.largestBatch, len(events))
	return res, nil
}

// TestUsageIngestsAndReloadsAsDuplicates loads the demo with 3 days of usage into a real
// store: ingest accepts every event. Loading it again sends the same events, which are
// all duplicates: the stored events and rollups do not change.
func TestUsageIngestsAndReloadsAsDuplicates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		logger := slog.New(slog.NewTextHandler(io.Discard, nil))
		first := &recorder{Ingester: ingest.New(env.DB, env.Clock)}
		d, err := demo.Load(ctx, env.DB, logger, demo.Usage(first, env.Clock, logger, 3))
		if err != nil {
			t.Fatal(err)
		}
		if len(first.rejected) > 0 {
			t.Fatalf("%d of %d demo events rejected, the first: %+v", len(first.rejected), first.sent, first.rejected[0])
		}
		if first.sent < 1000 || first.accepted != first.sent || first.largestBatch != billow.EventBatchMax {
			t.Fatalf("sent %d, accepted %d, largest batch %d", first.sent, first.accepted, first.largestBatch)
		}
		t.Logf("3 days of demo usage: %d events", first.sent)
		stored, err := env.DB.CountEvents(ctx, "")
		if err != nil || stored != int64(first.sent) {
			t.Fatalf("%d events stored, %d sent: %v", stored, first.sent, err)
		}
		rollups := map[string][]sqlstore.RollupCell{}
		for _, a := range d.Accounts {
			n, err := env.DB.CountEvents(ctx, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Errorf("%s has no demo usage", a.ExternalID)
			}
			if rollups[a.ID], err = env.DB.AllRollups(ctx, a.ID); err != nil {
				t.Fatal(err)
			}
		}

		again := &recorder{Ingester: ingest.New(env.DB, env.Clock)}
		if _, err := demo.Load(ctx, env.DB, logger, demo.Usage(again, env.Clock, logger, 3)); err != nil {
			t.Fatal(err)
		}
		if again.sent != first.sent || again.duplicates != again.sent || again.accepted != 0 || len(again.rejected) > 0 {
			t.Fatalf("reload: sent %d (first %d), duplicates %d, accepted %d, rejected %v", again.sent, first.sent, again.duplicates, again.accepted, again.rejected)
		}
		if n, err := env.DB.CountEvents(ctx, ""); err != nil || n != stored {
			t.Fatalf("after reload %d events stored, before %d: %v", n, stored, err)
		}
		for _, a := range d.Accounts {
			cells, err := env.DB.AllRollups(ctx, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(rollups[a.ID], cells); diff != "" {
				t.Fatalf("%s: rollups changed on reload (-before +after):\n%s", a.ExternalID, diff)
			}
		}

		// A start a day later: what was sent is a duplicate, the new day is accepted.
		env.Clock.Advance(26 * time.Hour)
		later := &recorder{Ingester: ingest.New(env.DB, env.Clock)}
		if _, err := demo.Load(ctx, env.DB, logger, demo.Usage(later, env.Clock, logger, 3)); err != nil {
			t.Fatal(err)
		}
		if len(later.rejected) > 0 || later.duplicates != first.sent || later.accepted == 0 {
			t.Fatalf("a day later: duplicates %d (want %d), accepted %d, rejected %v", later.duplicates, first.sent, later.accepted, later.rejected)
		}
	})
}

// usageStats are properties of generated events that make the demo believable.
type usageStats struct {
	events, conversations, routed, ended, llm, byo, ownModels int
	voiceKinds                                                map[string]int
	types                                                     map[string]int
	ingestedBytes                                             int64
	conversationsByDay                                        map[string]int // local date → conversations started
	weekday                                                   map[string]time.Weekday
	loginsWithoutLogout                                       int
	maxConcurrentCalls                                        int
	location                                                  *time.Location
}

func stats(t *testing.T, spec demo.UsageSpec, events []ingest.CloudEvent) usageStats {
	t.Helper()
	s := usageStats{voiceKinds: map[string]int{}, types: map[string]int{}, conversationsByDay: map[string]int{}, weekday: map[string]time.Weekday{}, location: spec.Location}
	agents := map[string]int{}
	type edge struct {
		at    time.Time
		delta int
	}
	var calls []edge
	for _, e := range events {
		s.events++
		s.types[e.Type]++
		at, err := time.Parse(time.RFC3339Nano, e.Time)
		if err != nil {
			t.Fatal(err)
		}
		var data struct {
			Kind    string `json:"kind"`
			Bytes   int64  `json:"bytes"`
			BYOKey  bool   `json:"byo_key"`
			Agent   string `json:"agent"`
			Product string `json:"product"`
			Model   string `json:"model"`
		}
		if err := json.Unmarshal(e.Data, &data); err != nil {
			t.Fatalf("%s: %v", e.Data, err)
		}
		switch e.Type {
		case billow.EventConversationStarted:
			s.conversations++
			local := at.In(spec.Location)
			day := local.Format(time.DateOnly)
			s.conversationsByDay[day]++
			s.weekday[day] = local.Weekday()
		case billow.EventConversationRouted:
			s.routed++
		case billow.EventConversationEnded:
			s.ended++
		case billow.EventLLMUsage:
			s.llm++
			if data.BYOKey {
				s.byo++
			}
			if data.Model == "mistral-large" || data.Model == "llama-3.1-70b" {
				s.ownModels++
			}
		case billow.EventVoiceInteraction:
			s.voiceKinds[data.Kind]++
		case billow.EventSearchIngested:
			s.ingestedBytes += data.Bytes
		case billow.EventAgentLogin:
			agents[data.Agent+"/"+data.Product]++
		case billow.EventAgentLogout:
			agents[data.Agent+"/"+data.Product]--
		case billow.EventCallStarted:
			calls = append(calls, edge{at, 1})
		case billow.EventCallEnded:
			calls = append(calls, edge{at, -1})
		}
	}
	for _, open := range agents {
		s.loginsWithoutLogout += open
	}
	slices.SortStableFunc(calls, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.delta - b.delta // an end before a start at the same instant
	})
	inProgress := 0
	for _, c := range calls {
		inProgress += c.delta
		s.maxConcurrentCalls = max(s.maxConcurrentCalls, inProgress)
	}
	return s
}

// TestUsageIsBelievable generates the demo's 90 days and checks what a demo viewer would
// notice: the volume, routing, own keys, business days, light use on the free plan,
// ingestion under the plan's limit, calls within the call lines.
func TestUsageIsBelievable(t *testing.T) {
	total, llm, byo := 0, 0, 0
	perAccount := map[string]usageStats{}
	for _, spec := range specs(t, 1) {
		s := stats(t, spec, collect(spec, 2026, end, demo.UsageHistoryDays))
		perAccount[spec.Subject] = s
		total += s.events
		llm, byo = llm+s.llm, byo+s.byo
		t.Logf("%s: %d events, %d conversations (%d routed, %d ended), %d LLM calls (%d own key, %d on own models), voice %v, %d bytes ingested, %d logins without logout, %d concurrent calls at most; %v",
			spec.Subject, s.events, s.conversations, s.routed, s.ended, s.llm, s.byo, s.ownModels, s.voiceKinds, s.ingestedBytes, s.loginsWithoutLogout, s.maxConcurrentCalls, s.types)
	}
	if total < 100_000 || total > 200_000 {
		t.Errorf("%d events in the demo's 90 days; want 100,000 to 200,000: enough to look real, few enough to load in seconds", total)
	}
	if share := float64(byo) / float64(llm); share < 0.10 || share > 0.30 {
		t.Errorf("%.1f%% of LLM calls with the customer's own key; want 10–30%%", 100*share)
	}
	for _, account := range []string{"northwind", "globex"} {
		s := perAccount[account]
		if s.routed == 0 {
			t.Errorf("%s: no conversation routed to its linked app", account)
		}
		if s.ended == 0 || s.ended == s.conversations {
			t.Errorf("%s: %d of %d conversations ended explicitly; want some left to the idle timeout", account, s.ended, s.conversations)
		}
		if s.types[billow.EventAgentLogin] == 0 || s.loginsWithoutLogout == 0 {
			t.Errorf("%s: %d agent logins, %d without logout", account, s.types[billow.EventAgentLogin], s.loginsWithoutLogout)
		}
		// Every whole weekday of the history has more conversations than any Sunday.
		busiestSunday, quietestWeekday := 0, 1<<30
		today := end.In(perAccount[account].location).Format(time.DateOnly)
		for day, n := range s.conversationsByDay {
			if day == today {
				continue
			}
			switch s.weekday[day] {
			case time.Sunday:
				busiestSunday = max(busiestSunday, n)
			case time.Saturday:
			default:
				quietestWeekday = min(quietestWeekday, n)
			}
		}
		if quietestWeekday <= busiestSunday {
			t.Errorf("%s: quietest weekday %d conversations, busiest Sunday %d", account, quietestWeekday, busiestSunday)
		}
	}
	acme := perAccount["acme-bots"]
	for _, kind := range []string{"stt", "tts", "gateway"} {
		if acme.voiceKinds[kind] == 0 {
			t.Errorf("acme-bots: no %s voice interactions", kind)
		}
	}
	if acme.types[billow.EventCallStarted] == 0 || acme.maxConcurrentCalls > 2 || acme.types[billow.EventAgentLogin] > 0 {
		t.Errorf("acme-bots: %d calls, at most %d at once (2 lines); %d agent logins (the credits catalog sells no seats)",
			acme.types[billow.EventCallStarted], acme.maxConcurrentCalls, acme.types[billow.EventAgentLogin])
	}
	if acme.ownModels == 0 || acme.types[billow.EventAPIRequest] == 0 {
		t.Errorf("acme-bots: %d calls on own models, %d API requests", acme.ownModels, acme.types[billow.EventAPIRequest])
	}
	hobby := perAccount["hobbyist"]
	if hobby.events == 0 || hobby.events*10 > perAccount["northwind"].events || hobby.byo > 0 {
		t.Errorf("hobbyist: %d events (northwind %d), %d with own keys (the free plan grants none)", hobby.events, perAccount["northwind"].events, hobby.byo)
	}

	// Ingestion stays under the plan's limit, and the scale does not change the bytes.
	bytesAtScale := map[string]int64{}
	for _, spec := range specs(t, 3) {
		bytesAtScale[spec.Subject] = stats(t, spec, collect(spec, 2026, end, demo.UsageHistoryDays)).ingestedBytes
	}
	if hobby.ingestedBytes > 20_000_000 {
		t.Errorf("hobbyist: %d bytes ingested; a hobby FAQ is smaller", hobby.ingestedBytes)
	}
	for _, s := range demo.Accounts() {
		data, _ := catalog.Example(s.Account.Catalog)
		cat, _ := catalog.Parse(s.Account.Catalog, data)
		plan, _ := cat.Plan(s.Account.Plan)
		for _, l := range plan.Limits {
			if l.Meter == "ingested_bytes" && perAccount[s.Account.ExternalID].ingestedBytes > l.Limit/2 {
				t.Errorf("%s: %d bytes ingested; the plan's limit is %d", s.Account.ExternalID, perAccount[s.Account.ExternalID].ingestedBytes, l.Limit)
			}
		}
		got, want := bytesAtScale[s.Account.ExternalID], perAccount[s.Account.ExternalID].ingestedBytes
		if perAccount[s.Account.ExternalID].types[billow.EventSearchIngested] < 50 {
			continue // too few updates for their sum to be steady
		}
		if got < want*7/10 || got > want*13/10 {
			t.Errorf("%s: %d bytes ingested at scale 3, %d at scale 1", s.Account.ExternalID, got, want)
		}
	}
}

// TestUsageEventsScale checks that the scale is what a benchmark turns: three times the
// scale, about three times the events.
func TestUsageEventsScale(t *testing.T) {
	for _, spec := range specs(t, 1) {
		if spec.Subject != "northwind" {
			continue
		}
		one := len(collect(spec, 1, end, 14))
		spec.Scale = 3
		three := len(collect(spec, 1, end, 14))
		if ratio := float64(three) / float64(one); ratio < 2.5 || ratio > 3.5 {
			t.Fatalf("scale 3 gave %d events, scale 1 %d: ratio %.2f", three, one, ratio)
		}
	}
}

func ExampleUsageEvents() {
	data, _ := catalog.Example("credits-platform")
	cat, _ := catalog.Parse("credits-platform", data)
	a := &billow.Account{ExternalID: "hobbyist", Catalog: "credits-platform", Plan: "free", Timezone: "UTC"}
	spec, _ := demo.NewUsageSpec(a, []*billow.App{{ID: "app_1", ExternalID: "faq-bot"}}, cat, 1)
	n := 0
	for e := range demo.UsageEvents(spec, 1, time.Date(2026, 3, 11, 23, 0, 0, 0, time.UTC), 1) {
		if n++; n > 3 {
			break
		}
		fmt.Println(e.Source, e.ID, e.Type, e.Time, string(e.Data))
	}
	// Output:
	// demo 20260311-0 conversation.started 2026-03-11T10:08:21.514Z {"app":"faq-bot","conversation":"conv-20260311-4","channel":"web"}
	// demo 20260311-1 conversation.message 2026-03-11T10:08:54.37Z {"app":"faq-bot","conversation":"conv-20260311-4"}
	// demo 20260311-2 llm.usage 2026-03-11T10:08:55.951Z {"app":"faq-bot","provider":"openai","model":"gpt-4o-mini","input_tokens":2180,"output_tokens":746,"byo_key":false}
}

// BenchmarkUsageEvents measures the generator alone: a benchmark of ingest asks it for
// millions of events and must not wait on it.
func BenchmarkUsageEvents(b *testing.B) {
	spec := specs(b, 1)[0]
	n := 0
	for b.Loop() {
		for range demo.UsageEvents(spec, 1, end, 7) {
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}
