package http_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/billowhq/billow/sqlstore/storetest"
)

// usageEvent is one CloudEvent for the usage API tests.
func usageEvent(id, typ, subject, at, data string) string {
	return fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"platform","type":%q,"subject":%q,"time":%q,"data":%s}`,
		id, typ, subject, at, data)
}

// usagePath builds a usage URL; times carry "+" offsets, which a query string must escape.
func usagePath(account, op string, params ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(params); i += 2 {
		q.Set(params[i], params[i+1])
	}
	return "/v1/accounts/" + account + "/usage" + op + "?" + q.Encode()
}

// TestUsageAPI queries a Europe/Berlin account over the night clocks go back (25 October
// 2026, a 25-hour day) through a real listener: buckets, exact numbers, app grouping and
// filter, trends and the summary, and the errors' codes and locations.
func TestUsageAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		env.Clock.Advance(time.Date(2026, 10, 27, 10, 0, 0, 0, time.UTC).Sub(env.Clock.Now()))
		c := newServer(t, env)
		c.must(201, "POST", "/v1/accounts", map[string]any{"external_id": "berlin", "name": "Berlin GmbH",
			"catalog": "ai-for-service", "plan": "advanced", "timezone": "Europe/Berlin"})
		c.must(201, "POST", "/v1/accounts", map[string]any{"external_id": "bigco", "name": "BigCo", "type": "enterprise",
			"catalog": "ai-for-service", "plan": "enterprise", "timezone": "America/New_York"})
		support := c.must(201, "POST", "/v1/accounts/berlin/apps", map[string]any{"external_id": "support", "name": "Support"})
		c.must(201, "POST", "/v1/accounts/berlin/apps", map[string]any{"external_id": "sales", "name": "Sales"})
		events := []string{
			// 00:30 on the 25th (+02:00); 23:30 on the 25th (+01:00 since 03:00); 00:30 on the 26th.
			// Keeping the summer offset all day would put the second on the 26th.
			usageEvent("e1", "api.request", "berlin", "2026-10-24T22:30:00Z", `{"app":"support","client":"k1"}`),
			usageEvent("e2", "api.request", "berlin", "2026-10-25T22:30:00Z", `{"app":"sales","client":"k1"}`),
			usageEvent("e3", "api.request", "berlin", "2026-10-25T23:30:00Z", `{"app":"support","client":"k1"}`),
			usageEvent("e4", "voice.interaction", "berlin", "2026-10-25T01:30:00Z", `{"app":"support","kind":"stt","seconds":2.5}`),
			usageEvent("e5", "voice.interaction", "berlin", "2026-10-25T12:00:00Z", `{"app":"sales","kind":"tts","seconds":1.25}`),
			usageEvent("e6", "agent.login", "berlin", "2026-10-25T08:00:00Z", `{"agent":"a1","product":"contact_center"}`),
			usageEvent("e7", "agent.logout", "berlin", "2026-10-25T09:00:00Z", `{"agent":"a1","product":"contact_center"}`),
			usageEvent("e8", "conversation.started", "bigco", "2026-10-26T15:00:00Z", `{"app":"hr","conversation":"x"}`),
		}
		c.must(201, "POST", "/v1/accounts/bigco/apps", map[string]any{"external_id": "hr", "name": "HR"})
		a := c.do("POST", "/v1/events", "["+strings.Join(events, ",")+"]", "Content-Type", "application/cloudevents-batch+json")
		if a.status != 200 || !strings.Contains(string(a.body), `"accepted":8`) {
			t.Fatalf("ingest: %d %s", a.status, a.body)
		}

		days := []string{"from", "2026-10-24T00:00:00+02:00", "to", "2026-10-27T00:00:00+01:00", "window", "day"}
		get := func(path string) string {
			t.Helper()
			a := c.do("GET", path, nil)
			if a.status != 200 {
				t.Fatalf("GET %s = %d %s", path, a.status, a.body)
			}
			return strings.TrimSpace(string(a.body))
		}
		const (
			d24 = `"from":"2026-10-24T00:00:00+02:00","to":"2026-10-25T00:00:00+02:00"`
			d25 = `"from":"2026-10-25T00:00:00+02:00","to":"2026-10-26T00:00:00+01:00"` // 25 hours
			d26 = `"from":"2026-10-26T00:00:00+01:00","to":"2026-10-27T00:00:00+01:00"`
		)
		for _, tc := range []struct{ path, want string }{
			{usagePath("berlin", "", append(days, "meter", "billing_sessions")...),
				`{"meter":"billing_sessions","timezone":"Europe/Berlin","data":[{` + d24 + `,"value":0},{` + d25 + `,"value":2},{` + d26 + `,"value":1}]}`},
			// A decimal is a JSON number with its digits, not a string or a float.
			{usagePath("berlin", "", append(days, "meter", "voice_seconds")...),
				`{"meter":"voice_seconds","timezone":"Europe/Berlin","data":[{` + d24 + `,"value":0},{` + d25 + `,"value":3.75},{` + d26 + `,"value":0}]}`},
			{usagePath("berlin", "", append(days, "meter", "billing_sessions", "group_by", "app")...),
				`{"meter":"billing_sessions","timezone":"Europe/Berlin","data":[{` + d25 + `,"app":"sales","value":1},{` + d25 + `,"app":"support","value":1},{` + d26 + `,"app":"support","value":1}]}`},
			{usagePath("berlin", "", append(days, "meter", "billing_sessions", "app", "support")...),
				`{"meter":"billing_sessions","timezone":"Europe/Berlin","data":[{` + d24 + `,"value":0},{` + d25 + `,"value":1},{` + d26 + `,"value":1}]}`},
			{usagePath("berlin", "", append(days, "meter", "voice_seconds", "app", support["id"].(string), "group_by", "app")...),
				`{"meter":"voice_seconds","timezone":"Europe/Berlin","data":[{` + d25 + `,"app":"support","value":2.5}]}`},
			{usagePath("berlin", "", "meter", "billing_sessions", "from", "2026-10-25T00:30:00Z", "to", "2026-10-25T02:00:00Z", "window", "hour"),
				`{"meter":"billing_sessions","timezone":"Europe/Berlin","data":[` +
					`{"from":"2026-10-25T02:00:00+02:00","to":"2026-10-25T02:00:00+01:00","value":0},` +
					`{"from":"2026-10-25T02:00:00+01:00","to":"2026-10-25T03:00:00+01:00","value":0}]}`},
			{usagePath("berlin", "", "meter", "billing_sessions", "from", "2026-10-01T00:00:00+02:00", "to", "2026-11-01T00:00:00+01:00"),
				`{"meter":"billing_sessions","timezone":"Europe/Berlin","data":[{"from":"2026-10-01T00:00:00+02:00","to":"2026-11-01T00:00:00+01:00","value":3}]}`},
			{usagePath("berlin", "", append(days, "meter", "concurrent_agents")...),
				`{"meter":"concurrent_agents","timezone":"Europe/Berlin","data":[{` + d24 + `,"value":0},{` + d25 + `,"value":1},{` + d26 + `,"value":0}]}`},
		} {
			if got := get(tc.path); got != tc.want {
				t.Errorf("GET %s\n got %s\nwant %s", tc.path, got, tc.want)
			}
		}

		// Errors: a stable code and the query parameter at fault.
		for _, tc := range []struct {
			path     string
			status   int
			code     string
			location string
		}{
			{usagePath("berlin", "", append(days, "meter", "minutes")...), 422, "unknown_meter", "query.meter"},
			{usagePath("berlin", "", days...), 422, "validation_failed", "query.meter"},
			{usagePath("berlin", "", "meter", "billing_sessions", "to", "2026-10-27T00:00:00Z"), 422, "validation_failed", "query.from"},
			{usagePath("berlin", "", "meter", "billing_sessions", "from", "yesterday", "to", "2026-10-27T00:00:00Z"), 422, "validation_failed", "query.from"},
			{usagePath("berlin", "", "meter", "billing_sessions", "from", "2026-10-27T00:00:00Z", "to", "2026-10-26T00:00:00Z"), 422, "validation_failed", "query.to"},
			{usagePath("berlin", "", "meter", "billing_sessions", "from", "2024-01-01T00:00:00Z", "to", "2026-10-26T00:00:00Z"), 422, "validation_failed", "query.to"},
			{usagePath("berlin", "", append(days, "meter", "billing_sessions", "window", "week")...), 422, "validation_failed", "query.window"},
			{usagePath("berlin", "", "meter", "billing_sessions", "from", "2025-01-01T00:00:00Z", "to", "2026-10-26T00:00:00Z", "window", "hour"),
				422, "too_many_buckets", "query.window"},
			{usagePath("berlin", "", append(days, "meter", "concurrent_agents", "group_by", "app")...), 422, "meter_not_by_app", "query.group_by"},
			{usagePath("berlin", "", append(days, "meter", "billing_sessions", "app", "nope")...), 422, "unknown_app", "query.app"},
			{usagePath("berlin", "/trends", "range", "1y"), 422, "validation_failed", "query.range"},
			{usagePath("berlin", "/trends", "range", "custom", "from", "2026-10-01T00:00:00Z"), 422, "validation_failed", "query.to"},
			{usagePath("berlin", "/trends", "range", "7d", "from", "2026-10-01T00:00:00Z"), 422, "validation_failed", "query.from"},
			{usagePath("nobody", "", append(days, "meter", "billing_sessions")...), 404, "not_found", ""},
		} {
			a := c.do("GET", tc.path, nil)
			if a.status != tc.status || a.problemCode(t) != tc.code {
				t.Errorf("GET %s = %d %s, want %d %s", tc.path, a.status, a.body, tc.status, tc.code)
				continue
			}
			if tc.location != "" && !strings.Contains(string(a.body), `"location":"`+tc.location+`"`) {
				t.Errorf("GET %s: the error does not name %s: %s", tc.path, tc.location, a.body)
			}
		}

		// Trends at 11:00 on the 27th in Berlin: 7 days, today the last; the 25th is 25 hours.
		var trends struct {
			Range    string `json:"range"`
			Timezone string `json:"timezone"`
			Buckets  []map[string]any
		}
		if err := json.Unmarshal([]byte(get(usagePath("berlin", "/trends", "range", "7d"))), &trends); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, b := range trends.Buckets {
			got = append(got, fmt.Sprintf("%s→%s %v/%v/%v", b["from"], b["to"], b["billing_sessions"], b["voice_sessions"], b["agent_count"]))
		}
		want := []string{
			"2026-10-21T00:00:00+02:00→2026-10-22T00:00:00+02:00 0/0/0",
			"2026-10-22T00:00:00+02:00→2026-10-23T00:00:00+02:00 0/0/0",
			"2026-10-23T00:00:00+02:00→2026-10-24T00:00:00+02:00 0/0/0",
			"2026-10-24T00:00:00+02:00→2026-10-25T00:00:00+02:00 0/0/0",
			"2026-10-25T00:00:00+02:00→2026-10-26T00:00:00+01:00 2/2/1",
			"2026-10-26T00:00:00+01:00→2026-10-27T00:00:00+01:00 1/0/0",
			"2026-10-27T00:00:00+01:00→2026-10-28T00:00:00+01:00 0/0/0",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") || trends.Range != "7d" || trends.Timezone != "Europe/Berlin" {
			t.Errorf("7-day trends (%s, %s):\n%s\nwant\n%s", trends.Range, trends.Timezone, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if body := get(usagePath("berlin", "/trends", "range", "24h")); strings.Count(body, `"from"`) != 24 ||
			!strings.HasSuffix(body, `"to":"2026-10-27T12:00:00+01:00","billing_sessions":0,"voice_sessions":0,"agent_count":0}]}`) {
			t.Errorf("24h trends: %s", body)
		}
		// An app filter keeps that app's sessions; agents are no app's, so no agent count.
		if body := get(usagePath("berlin", "/trends", "range", "custom", "from", "2026-10-25T00:00:00+02:00", "to", "2026-10-26T00:00:00+01:00", "app", "sales")); body !=
			`{"range":"custom","timezone":"Europe/Berlin","buckets":[{"from":"2026-10-25T00:00:00+02:00","to":"2026-10-26T00:00:00+01:00","billing_sessions":1,"voice_sessions":1}]}` {
			t.Errorf("custom trends of one app: %s", body)
		}
		// Enterprise accounts have no agent count (seed 000).
		if body := get(usagePath("bigco", "/trends", "range", "30d")); strings.Contains(body, "agent_count") ||
			strings.Count(body, `"billing_sessions"`) != 30 || !strings.Contains(body, `"billing_sessions":1`) {
			t.Errorf("enterprise trends: %s", body)
		}

		// The current period: October in Berlin, every meter of the catalog with its unit.
		sum := c.must(200, "GET", "/v1/accounts/berlin/usage/summary", nil)
		if sum["from"] != "2026-10-01T00:00:00+02:00" || sum["to"] != "2026-11-01T00:00:00+01:00" || sum["timezone"] != "Europe/Berlin" {
			t.Errorf("summary period: %v", sum)
		}
		quantities := map[string]string{}
		for _, m := range sum["meters"].([]any) {
			m := m.(map[string]any)
			quantities[m["meter"].(string)] = fmt.Sprintf("%v %v", m["quantity"], m["unit"])
		}
		if got, want := fmt.Sprint(quantities), fmt.Sprint(map[string]string{"billing_sessions": "3 session", "voice_sessions": "2 session",
			"voice_seconds": "3.75 second", "named_agents": "1 seat", "concurrent_agents": "1 seat", "concurrent_calls": "0 call",
			"ingested_bytes": "0 byte", "llm_tokens": "0 token", "llm_credits": "0 credit"}); got != want {
			t.Errorf("summary:\n got %s\nwant %s", got, want)
		}

		// The account's own key reads its usage.
		key := c.must(201, "POST", "/v1/api_keys", map[string]any{"name": "berlin", "account": "berlin"})["key"].(string)
		c.as(key).must(200, "GET", "/v1/accounts/berlin/usage/summary", nil)
		c.as(key).must(404, "GET", "/v1/accounts/bigco/usage/summary", nil)

		// The OpenAPI document says a quantity is a number.
		doc := c.must(200, "GET", "/openapi.json", nil)
		value := doc["components"].(map[string]any)["schemas"].(map[string]any)["UsageValue"].(map[string]any)["properties"].(map[string]any)["value"].(map[string]any)
		if value["type"] != "number" {
			t.Errorf("UsageValue.value schema = %v", value)
		}
	})
}
