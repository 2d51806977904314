package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/ingest"
	"github.com/billowhq/billow/sqlstore/storetest"
)

var ctx = context.Background()

// setup makes two accounts with apps on the credits catalog and returns the service.
func setup(t *testing.T, env *storetest.Env) *ingest.Service {
	t.Helper()
	for _, ext := range []string{"acme", "globex"} {
		a, err := env.DB.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: ext, Name: ext, Catalog: "credits-platform", Plan: "pay_as_you_go"})
		if err != nil {
			t.Fatal(err)
		}
		for _, app := range []string{"front-desk", "sales"} {
			if _, err := env.DB.CreateApp(ctx, a.ID, billow.CreateAppInput{ExternalID: app, Name: app}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return ingest.New(env.DB, env.Clock)
}

func event(id, typ, subject string, at time.Time, data string) ingest.CloudEvent {
	return ingest.CloudEvent{SpecVersion: "1.0", ID: id, Source: "platform/test", Type: typ, Subject: subject,
		Time: at.Format(time.RFC3339Nano), Data: json.RawMessage(data)}
}

var operator = billow.Principal{KeyID: "key_test"}

func TestIngestValidatesEachEvent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		svc := setup(t, env)
		at := env.Clock.Now().Add(-time.Hour)
		events := []ingest.CloudEvent{
			event("e0", "conversation.started", "acme", at, `{"app":"front-desk","conversation":"c1","channel":"web"}`),
			event("e1", "conversation.message", "acme", at, `{"app":"front-desk"}`),
			event("e2", "conversation.message", "nobody", at, `{"app":"front-desk","conversation":"c1"}`),
			event("e3", "coffee.brewed", "acme", at, `{}`),
			event("e4", "voice.interaction", "acme", at, `{"app":"front-desk","kind":"fax","seconds":3}`),
			event("e5", "voice.interaction", "acme", at, `{"app":"front-desk","kind":"stt","seconds":2.5}`),
			event("e6", "search.ingested", "acme", at, `{"app":"ghost","bytes":100}`),
			event("e7", "search.ingested", "acme", at, `{"app":"sales","bytes":-1}`),
			event("e8", "llm.usage", "acme", at, `{"app":"sales","provider":"openai","model":"gpt-4o","input_tokens":1200,"output_tokens":300}`),
			event("e9", "llm.usage", "acme", at, `{"app":"sales","provider":"acme-ai","model":"x1","input_tokens":1,"output_tokens":1}`),
			event("e10", "llm.usage", "acme", at, `{"app":"sales","provider":"acme-ai","model":"x1","input_tokens":1,"output_tokens":1,"byo_key":true}`),
			event("e11", "agent.login", "acme", at, `{"agent":"ann","product":"contact_center"}`),
			event("e12", "api.request", "acme", env.Clock.Now().Add(time.Hour), `{"app":"sales","client":"cli-1"}`),
			{SpecVersion: "0.3", ID: "e13", Source: "s", Type: "api.request", Subject: "acme", Time: at.Format(time.RFC3339)},
			{SpecVersion: "1.0", ID: "e14", Source: "s", Type: "api.request", Subject: "acme", Time: "yesterday"},
			event("", "api.request", "acme", at, `{"app":"sales","client":"c"}`),
			event("e16", "voice.interaction", "acme", at, `{"app":"front-desk","kind":"tts","seconds":1.2345}`),
			event("e17", "conversation.routed", "acme", at, `{"conversation":"c1","to_app":"sales"}`),
			event("e18", "api.request", "acme", at, `[1,2]`),
			event("e19", "search.ingested", "acme", at, `{"app":"sales","bytes":1000000000001}`),
			// JSON allows exponents; a count's must still be whole, and a huge exponent is refused unevaluated.
			event("e20", "search.ingested", "acme", at, `{"app":"sales","bytes":2.5e3}`),
			event("e21", "voice.interaction", "acme", at, `{"app":"front-desk","kind":"stt","seconds":1e999999999}`),
			event("e22", "search.ingested", "acme", at, `{"app":"sales","bytes":1.5}`),
			// A known model, but so many tokens that one event would cost more than a transfer may carry.
			event("e23", "llm.usage", "acme", at, `{"app":"sales","provider":"anthropic","model":"claude-3-5-sonnet","input_tokens":1000000000000,"output_tokens":1000000000000}`),
		}
		res, err := svc.Ingest(ctx, operator, events)
		if err != nil {
			t.Fatal(err)
		}
		want := map[int]string{1: "missing_field", 2: "unknown_subject", 3: "unknown_type", 4: "invalid_field", 6: "unknown_app",
			7: "invalid_field", 9: "unknown_model", 12: "time_in_future", 13: "invalid_specversion", 14: "invalid_time",
			15: "missing_attribute", 16: "invalid_field", 18: "invalid_data", 19: "invalid_field", 21: "invalid_field",
			22: "invalid_field", 23: "invalid_field"}
		got := map[int]string{}
		for _, r := range res.Rejected {
			got[r.Index] = r.Code
			if r.Detail == "" {
				t.Errorf("rejection %d has no detail", r.Index)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("rejected = %v\nwant      %v", got, want)
		}
		if res.Accepted != len(events)-len(want) || res.Duplicates != 0 {
			t.Fatalf("accepted %d, duplicates %d; want %d, 0", res.Accepted, res.Duplicates, len(events)-len(want))
		}
		for i := 1; i < len(res.Rejected); i++ {
			if res.Rejected[i-1].Index >= res.Rejected[i].Index {
				t.Fatal("rejections are not in index order")
			}
		}
	})
}

func TestIngestDeduplicates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		svc := setup(t, env)
		at := env.Clock.Now().Add(-time.Minute)
		batch := []ingest.CloudEvent{
			event("a", "conversation.started", "acme", at, `{"app":"front-desk","conversation":"c1"}`),
			event("b", "conversation.message", "acme", at.Add(time.Second), `{"conversation":"c1","app":"front-desk"}`),
			// The same id in another account is another event.
			event("a", "conversation.started", "globex", at, `{"app":"front-desk","conversation":"c1"}`),
		}
		res, err := svc.Ingest(ctx, operator, batch)
		if err != nil || res.Accepted != 3 {
			t.Fatalf("first = %+v, %v", res, err)
		}
		// Resent: duplicates, even with the data's keys in another order.
		again := append([]ingest.CloudEvent{}, batch...)
		again[1].Data = json.RawMessage(`{"app":"front-desk", "conversation":"c1"}`)
		res, err = svc.Ingest(ctx, operator, again)
		if err != nil || res.Accepted != 0 || res.Duplicates != 3 || len(res.Rejected) != 0 {
			t.Fatalf("resend = %+v, %v", res, err)
		}
		// The account's id as the subject names the same account: the same events.
		acme, err := env.DB.Account(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		byID := append([]ingest.CloudEvent{}, batch[:2]...)
		byID[0].Subject, byID[1].Subject = acme.ID, acme.ID
		res, err = svc.Ingest(ctx, operator, byID)
		if err != nil || res.Accepted != 0 || res.Duplicates != 2 || len(res.Rejected) != 0 {
			t.Fatalf("resend by account id = %+v, %v", res, err)
		}
		// Same id, other content: rejected, the first one kept.
		changed := event("b", "conversation.message", "acme", at.Add(2*time.Second), `{"conversation":"c1","app":"front-desk"}`)
		// Twice in one batch: the second copy is a duplicate of the first.
		fresh := event("c", "conversation.ended", "acme", at.Add(3*time.Second), `{"conversation":"c1"}`)
		res, err = svc.Ingest(ctx, operator, []ingest.CloudEvent{changed, fresh, fresh})
		if err != nil || res.Accepted != 1 || res.Duplicates != 1 || len(res.Rejected) != 1 ||
			res.Rejected[0].Index != 0 || res.Rejected[0].Code != billow.CodeConflictingDuplicate {
			t.Fatalf("conflict = %+v, %v", res, err)
		}
		n, err := env.DB.CountEvents(ctx, "")
		if err != nil || n != 4 {
			t.Fatalf("stored %d events, %v; want 4", n, err)
		}
	})
}

func TestIngestTenancy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		svc := setup(t, env)
		acme, _ := env.DB.Account(ctx, "acme")
		at := env.Clock.Now().Add(-time.Minute)
		res, err := svc.Ingest(ctx, billow.Principal{KeyID: "k", AccountID: acme.ID}, []ingest.CloudEvent{
			event("x", "api.request", "acme", at, `{"app":"sales","client":"c"}`),
			event("y", "api.request", "globex", at, `{"app":"sales","client":"c"}`),
		})
		if err != nil || res.Accepted != 1 || len(res.Rejected) != 1 || res.Rejected[0].Code != billow.CodeUnknownSubject {
			t.Fatalf("scoped ingest = %+v, %v", res, err)
		}
	})
}

func TestLateEventsAreMarked(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		svc := setup(t, env)
		acme, _ := env.DB.Account(ctx, "acme")
		closed := env.Clock.Now().Add(-24 * time.Hour)
		if err := env.DB.CloseUsageBefore(ctx, acme.ID, closed); err != nil {
			t.Fatal(err)
		}
		res, err := svc.Ingest(ctx, operator, []ingest.CloudEvent{
			event("old", "api.request", "acme", closed.Add(-time.Microsecond), `{"app":"sales","client":"c"}`),
			event("new", "api.request", "acme", closed, `{"app":"sales","client":"c"}`),
		})
		if err != nil || res.Accepted != 2 {
			t.Fatalf("ingest = %+v, %v", res, err)
		}
		late, err := env.DB.LateEvents(ctx, acme.ID, 10)
		if err != nil || len(late) != 1 || late[0].ID != "old" {
			t.Fatalf("late = %+v, %v", late, err)
		}
	})
}

func TestDecode(t *testing.T) {
	one := `{"specversion":"1.0","id":"1","source":"s","type":"api.request","subject":"a","time":"2026-01-01T00:00:00Z","data":{"app":"x","client":"c"}}`
	for _, tc := range []struct {
		name, contentType, body string
		events                  int
		code                    string
		line, column            int
	}{
		{"single", "application/cloudevents+json", one, 1, "", 0, 0},
		{"single with charset", "application/cloudevents+json; charset=utf-8", one, 1, "", 0, 0},
		{"batch", "application/cloudevents-batch+json", "[" + one + "," + one + "]", 2, "", 0, 0},
		{"plain JSON object", "application/json", one, 1, "", 0, 0},
		{"plain JSON array", "application/json", " [" + one + "]", 1, "", 0, 0},
		{"ndjson", "application/x-ndjson", one + "\n\n" + one + "\n", 2, "", 0, 0},
		{"truncated", "application/cloudevents+json", `{"id": "1",` + "\n" + `  "type": `, 0, "malformed_json", 2, 11},
		{"bad token on line 3", "application/cloudevents-batch+json", "[\n" + one + ",\n  {\"id\": x}]", 0, "malformed_json", 3, 10},
		{"ndjson line 2", "application/x-ndjson", one + "\n{\"id\":}\n", 0, "malformed_json", 2, 7},
		{"wrong type", "application/cloudevents+json", `{"id": 7}`, 0, "malformed_json", 1, 8},
		{"trailing data", "application/cloudevents+json", one + " {}", 0, "malformed_json", 1, len(one) + 2},
		{"unsupported", "text/plain", one, 0, "unsupported_media_type", 0, 0},
		{"too many", "application/cloudevents-batch+json", "[" + strings.Repeat(one+",", billow.EventBatchMax) + one + "]", 0, "batch_too_large", 0, 0},
		{"too many ndjson", "application/x-ndjson", strings.Repeat(one+"\n", billow.EventBatchMax+1), 0, "batch_too_large", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			events, err := ingest.Decode(tc.contentType, []byte(tc.body))
			if tc.code == "" {
				if err != nil || len(events) != tc.events {
					t.Fatalf("%d events, %v", len(events), err)
				}
				return
			}
			de, ok := err.(*ingest.DecodeError)
			if !ok || de.Code != tc.code || de.Line != tc.line || de.Column != tc.column {
				t.Fatalf("error = %#v, want %s at %d:%d", err, tc.code, tc.line, tc.column)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("application/cloudevents-batch+json", `[{"specversion":"1.0","id":"1","data":{}}]`)
	f.Add("application/x-ndjson", "{\"id\":\"1\"}\n{")
	f.Add("application/json", ` [`)
	f.Fuzz(func(t *testing.T, contentType, body string) {
		events, err := ingest.Decode(contentType, []byte(body))
		if err == nil && len(events) > billow.EventBatchMax {
			t.Fatalf("%d events accepted", len(events))
		}
		if de, ok := err.(*ingest.DecodeError); ok && de.Line > 0 {
			if de.Line > strings.Count(body, "\n")+1 || de.Column < 1 {
				t.Fatalf("position %d:%d outside the body", de.Line, de.Column)
			}
		}
	})
}

// TestIngestCustomTypes: a catalog's own event types are checked for what its meters
// read: data.app names an app of the account, and a field a meter adds up or compares
// is a number the rollups can hold. Anything else in their data is the platform's.
func TestIngestCustomTypes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		env.SyncCatalogWithMeters(t, "tickets", `  - key: ticket_minutes
    name: Ticket minutes
    unit: minute
    event_types: [ticket.closed]
    aggregation: sum
    field: minutes
  - key: ticket_wait_max
    name: Longest wait
    unit: minute
    event_types: [ticket.closed]
    aggregation: max
    field: waited
`)
		a, err := env.DB.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: "helpdesk", Name: "Helpdesk", Catalog: "tickets", Plan: "free"})
		if err != nil {
			t.Fatal(err)
		}
		app, err := env.DB.CreateApp(ctx, a.ID, billow.CreateAppInput{ExternalID: "support", Name: "Support"})
		if err != nil {
			t.Fatal(err)
		}
		svc := ingest.New(env.DB, env.Clock)
		at := env.Clock.Now().Add(-time.Hour)
		ticket := func(id, data string) ingest.CloudEvent { return event(id, "ticket.closed", "helpdesk", at, data) }
		res, err := svc.Ingest(ctx, operator, []ingest.CloudEvent{
			ticket("t0", `{"app":"support","minutes":12.5,"waited":3,"queue":"vip","note":{"any":"thing"}}`),
			ticket("t1", `{"minutes":"twelve"}`),
			ticket("t2", `{"minutes":1e3}`),
			ticket("t3", `{"app":"ghost","minutes":1}`),
			ticket("t4", `{"waited":1.0005}`),
			ticket("t5", `{"minutes":-2000000000000}`),
			ticket("t6", `{"waited":-4,"minutes":true}`),
			ticket("t7", `{"queue":"no numbers at all"}`),
			ticket("t8", `{`+manyFields(65)+`}`),
		})
		if err != nil {
			t.Fatal(err)
		}
		got := map[int]string{}
		for _, r := range res.Rejected {
			got[r.Index] = r.Code
		}
		want := map[int]string{1: "invalid_field", 3: "unknown_app", 4: "invalid_field", 5: "invalid_field", 6: "invalid_field", 8: "invalid_data"}
		if fmt.Sprint(got) != fmt.Sprint(want) || res.Accepted != 3 {
			t.Fatalf("accepted %d, rejected %v; want 3, %v (%+v)", res.Accepted, got, want, res.Rejected)
		}
		// The accepted events reached the rollups: 12.5 + 1000 minutes, the first on its app.
		cells, err := env.DB.AllRollups(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		sums := map[string]int64{}
		for _, c := range cells {
			if c.Meter == "ticket_minutes" {
				sums[c.AppID] += c.Units
			}
		}
		if want := map[string]int64{app.ID: 12_500, "": 1_000_000}; fmt.Sprint(sums) != fmt.Sprint(want) {
			t.Fatalf("ticket_minutes cells by app = %v, want %v", sums, want)
		}
	})
}

// manyFields returns n JSON members "f0":0, "f1":1, … without braces.
func manyFields(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`"f%d":%d`, i, i)
	}
	return strings.Join(parts, ",")
}
