package http_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/sqlstore/storetest"
)

func cloudEvent(id, subject, data string) string {
	return fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"platform","type":"api.request","subject":%q,"time":"2026-01-15T09:00:00Z","data":%s}`,
		id, subject, data)
}

func TestIngestAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		c := newServer(t, env)
		c.must(201, "POST", "/v1/accounts", map[string]any{"external_id": "acme", "name": "Acme"})
		c.must(201, "POST", "/v1/accounts/acme/apps", map[string]any{"external_id": "bot", "name": "Bot"})
		ok := `{"app":"bot","client":"c1"}`
		post := func(contentType, body string) answer {
			return c.do("POST", "/v1/events", body, "Content-Type", contentType)
		}

		a := post("application/cloudevents+json", cloudEvent("e1", "acme", ok))
		if a.status != 200 || string(a.body) != `{"accepted":1,"duplicates":0,"rejected":[]}`+"\n" {
			t.Fatalf("single = %d %s", a.status, a.body)
		}
		batch := "[" + cloudEvent("e1", "acme", ok) + "," + cloudEvent("e2", "acme", ok) + "," + cloudEvent("e3", "nobody", ok) + "]"
		a = post("application/cloudevents-batch+json", batch)
		m := a.json(t)
		if a.status != 200 || m["accepted"] != 1.0 || m["duplicates"] != 1.0 || !strings.Contains(string(a.body), `{"index":2,"code":"unknown_subject"`) {
			t.Fatalf("batch = %d %s", a.status, a.body)
		}
		a = post("application/x-ndjson", cloudEvent("e4", "acme", ok)+"\n"+cloudEvent("e5", "acme", ok)+"\n")
		if m := a.json(t); a.status != 200 || m["accepted"] != 2.0 {
			t.Fatalf("ndjson = %d %s", a.status, a.body)
		}

		// The whole request is refused, and nothing stored, for a malformed body or too many events.
		a = post("application/cloudevents-batch+json", "[\n"+cloudEvent("e6", "acme", ok)+",\n {\"id\": }]")
		if a.status != 400 || a.problemCode(t) != billow.CodeMalformedJSON || !strings.Contains(string(a.body), "line 3, column 9") {
			t.Fatalf("malformed = %d %s", a.status, a.body)
		}
		many := make([]string, billow.EventBatchMax+1)
		for i := range many {
			many[i] = cloudEvent(fmt.Sprintf("m%d", i), "acme", ok)
		}
		a = post("application/cloudevents-batch+json", "["+strings.Join(many, ",")+"]")
		if a.status != 413 || a.problemCode(t) != billow.CodeBatchTooLarge {
			t.Fatalf("1,001 events = %d %.300s", a.status, a.body)
		}
		a = post("application/cloudevents-batch+json", "["+strings.Join(many[:billow.EventBatchMax], ",")+"]")
		if m := a.json(t); a.status != 200 || m["accepted"] != float64(billow.EventBatchMax) {
			t.Fatalf("1,000 events = %d %.300s", a.status, a.body)
		}
		a = post("application/cloudevents+json", `{"specversion":"1.0","id":"big","data":"`+strings.Repeat("x", billow.EventsBodyMaxBytes)+`"}`)
		if a.status != 413 || a.problemCode(t) != billow.CodeRequestTooLarge {
			t.Fatalf("9 MiB body = %d %.300s", a.status, a.body)
		}
		a = post("text/csv", "id,source")
		if a.status != 415 {
			t.Fatalf("text/csv = %d %s", a.status, a.body)
		}
		n, err := env.DB.CountEvents(t.Context(), "")
		if err != nil || n != 4+billow.EventBatchMax {
			t.Fatalf("stored %d events, %v; want %d", n, err, 4+billow.EventBatchMax)
		}
		// A retried request with an Idempotency-Key replays the answer.
		first := c.do("POST", "/v1/events", cloudEvent("e9", "acme", ok), "Content-Type", "application/cloudevents+json", "Idempotency-Key", "ev-9")
		again := c.do("POST", "/v1/events", cloudEvent("e9", "acme", ok), "Content-Type", "application/cloudevents+json", "Idempotency-Key", "ev-9")
		if string(first.body) != string(again.body) || again.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay: %s / %s", first.body, again.body)
		}
	})
}
