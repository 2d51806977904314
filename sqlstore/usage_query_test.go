package sqlstore_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/ingest"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
	"github.com/billowhq/billow/usage"
)

// usageAccount is an account with apps that usage tests send events for.
type usageAccount struct {
	t       *testing.T
	env     *storetest.Env
	account *billow.Account
	apps    map[string]string // external id → id
	n       int
}

func newUsageAccount(t *testing.T, env *storetest.Env, in billow.CreateAccountInput, apps ...billow.CreateAppInput) *usageAccount {
	t.Helper()
	a, err := env.DB.CreateAccount(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	u := &usageAccount{t: t, env: env, account: a, apps: map[string]string{}}
	for _, in := range apps {
		app, err := env.DB.CreateApp(ctx, a.ID, in)
		if err != nil {
			t.Fatal(err)
		}
		u.apps[in.ExternalID] = app.ID
	}
	return u
}

// send stores events through ingest, as the API would: "TYPE@RFC3339 {data}".
func (u *usageAccount) send(events ...string) {
	u.t.Helper()
	batch := make([]ingest.CloudEvent, 0, len(events))
	for _, e := range events {
		head, data, _ := strings.Cut(e, " ")
		typ, at, _ := strings.Cut(head, "@")
		u.n++
		batch = append(batch, ingest.CloudEvent{SpecVersion: "1.0", ID: fmt.Sprintf("u%d", u.n), Source: "test", Type: typ,
			Subject: u.account.ExternalID, Time: at, Data: json.RawMessage(data)})
	}
	res, err := ingest.New(u.env.DB, u.env.Clock).Ingest(ctx, billow.Principal{KeyID: "t"}, batch)
	if err != nil || len(res.Rejected) > 0 || res.Accepted != len(events) {
		u.t.Fatalf("ingest: %+v, %v", res, err)
	}
}

// query runs a usage query and renders its data as "FROM→TO app=VALUE" lines.
func (u *usageAccount) query(in billow.UsageQueryInput) string {
	u.t.Helper()
	in.Account = u.account.ExternalID
	res, err := u.env.DB.Usage(ctx, in)
	if err != nil {
		u.t.Fatalf("usage %+v: %v", in, err)
	}
	if res.Meter != in.Meter || res.Timezone != u.account.Timezone {
		u.t.Fatalf("usage answers meter %q in %q", res.Meter, res.Timezone)
	}
	return renderUsage(res.Data)
}

func renderUsage(data []billow.UsageValue) string {
	var lines []string
	for _, v := range data {
		line := v.From.Format(time.RFC3339) + "→" + v.To.Format(time.RFC3339)
		if v.App != "" {
			line += " " + v.App
		}
		value, err := json.Marshal(v.Value)
		if err != nil {
			panic(err)
		}
		lines = append(lines, line+"="+string(value))
	}
	return strings.Join(lines, "\n")
}

func (u *usageAccount) queryErr(in billow.UsageQueryInput) error {
	u.t.Helper()
	in.Account = u.account.ExternalID
	res, err := u.env.DB.Usage(ctx, in)
	if err == nil {
		u.t.Fatalf("usage %+v = %+v, want an error", in, res)
	}
	return err
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func lines(s ...string) string { return strings.Join(s, "\n") }

// TestUsageQuery reads the additive meters (sessions, count, sum, provider_cost) of an
// account in Europe/Berlin over the night clocks move forward, through the real ingest
// path, by day, hour, month and as one bucket, per app and of one app.
func TestUsageQuery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		env.Clock.Advance(at("2026-03-31T12:00:00Z").Sub(env.Clock.Now()))
		u := newUsageAccount(t, env, billow.CreateAccountInput{ExternalID: "northwind", Name: "Northwind", Catalog: "ai-for-service",
			Plan: "advanced", Timezone: "Europe/Berlin"},
			billow.CreateAppInput{ExternalID: "support", Name: "Support"},
			billow.CreateAppInput{ExternalID: "billing", Name: "Billing", ParentApp: "support"},
			billow.CreateAppInput{ExternalID: "sales", Name: "Sales"})
		u.send(
			// 23:59 on the 28th in Berlin (+01:00), and midnight of the 29th.
			`api.request@2026-03-28T22:59:00Z {"app":"support","client":"k1"}`,
			`api.request@2026-03-28T23:00:00Z {"app":"support","client":"k2"}`,
			// 23:30 on the 29th (+02:00 since 03:00), and 00:30 on the 30th: with the winter
			// offset kept all day it would be 23:30 on the 29th.
			`conversation.started@2026-03-29T21:30:00Z {"app":"sales","conversation":"c1"}`,
			`conversation.started@2026-03-29T22:30:00Z {"app":"sales","conversation":"c2"}`,
			// 31 minutes: 3 sessions, attributed to 10:00, 10:15 and 10:30 local.
			`conversation.started@2026-03-30T08:00:00Z {"app":"support","conversation":"c3"}`,
			`conversation.message@2026-03-30T08:15:00Z {"app":"support","conversation":"c3"}`,
			`conversation.message@2026-03-30T08:31:00Z {"app":"support","conversation":"c3"}`,
			`voice.interaction@2026-03-29T10:00:00Z {"app":"support","kind":"stt","seconds":2.5}`,
			`voice.interaction@2026-03-29T10:30:00Z {"app":"billing","kind":"tts","seconds":1.25}`,
			`voice.interaction@2026-03-30T12:00:00Z {"app":"sales","kind":"stt","seconds":0.001}`,
			// 9 credits; and 1 input token at $2.50 per million + 20% = 0.003 credits.
			`llm.usage@2026-03-29T12:00:00Z {"app":"support","provider":"openai","model":"gpt-4o","input_tokens":1000,"output_tokens":500}`,
			`llm.usage@2026-03-30T12:00:00Z {"app":"sales","provider":"openai","model":"gpt-4o","input_tokens":1,"output_tokens":0}`,
			`search.ingested@2026-03-28T12:00:00Z {"app":"support","bytes":1000}`,
		)
		from, to := at("2026-03-28T00:00:00+01:00"), at("2026-03-31T00:00:00+02:00")
		days := func(meter string) billow.UsageQueryInput {
			return billow.UsageQueryInput{Meter: meter, From: from, To: to, Window: billow.UsageWindowDay}
		}
		const (
			d28 = "2026-03-28T00:00:00+01:00→2026-03-29T00:00:00+01:00"
			d29 = "2026-03-29T00:00:00+01:00→2026-03-30T00:00:00+02:00" // 23 hours
			d30 = "2026-03-30T00:00:00+02:00→2026-03-31T00:00:00+02:00"
		)
		for _, tc := range []struct {
			name string
			in   billow.UsageQueryInput
			want string
		}{
			{"sessions by Berlin day", days("billing_sessions"), lines(d28+"=1", d29+"=2", d30+"=4")},
			{"voice sessions (count)", days("voice_sessions"), lines(d28+"=0", d29+"=2", d30+"=1")},
			{"voice seconds (sum), exact", days("voice_seconds"), lines(d28+"=0", d29+"=3.75", d30+"=0.001")},
			{"LLM credits (provider_cost), exact", days("llm_credits"), lines(d28+"=0", d29+"=9", d30+"=0.003")},
			{"ingested bytes", days("ingested_bytes"), lines(d28+"=1000", d29+"=0", d30+"=0")},
			{"grouped by app: external ids, apps with usage only", func() billow.UsageQueryInput {
				in := days("billing_sessions")
				in.GroupByApp = true
				return in
			}(), lines(d28+" support=1", d29+" sales=1", d29+" support=1", d30+" sales=1", d30+" support=3")},
			{"one app by external id", func() billow.UsageQueryInput {
				in := days("billing_sessions")
				in.App = "sales"
				return in
			}(), lines(d28+"=0", d29+"=1", d30+"=1")},
			{"one app by id, grouped", func() billow.UsageQueryInput {
				in := days("voice_seconds")
				in.App, in.GroupByApp = u.apps["billing"], true
				return in
			}(), d29 + " billing=1.25"},
			{"hours are UTC hours", billow.UsageQueryInput{Meter: "billing_sessions", From: at("2026-03-30T07:00:00Z"),
				To: at("2026-03-30T10:00:00Z"), Window: billow.UsageWindowHour}, lines(
				"2026-03-30T09:00:00+02:00→2026-03-30T10:00:00+02:00=0",
				"2026-03-30T10:00:00+02:00→2026-03-30T11:00:00+02:00=3",
				"2026-03-30T11:00:00+02:00→2026-03-30T12:00:00+02:00=0")},
			{"hours over the missing 02:00", billow.UsageQueryInput{Meter: "billing_sessions", From: at("2026-03-28T22:00:00Z"),
				To: at("2026-03-29T02:00:00Z"), Window: billow.UsageWindowHour}, lines(
				"2026-03-28T23:00:00+01:00→2026-03-29T00:00:00+01:00=1",
				"2026-03-29T00:00:00+01:00→2026-03-29T01:00:00+01:00=1",
				"2026-03-29T01:00:00+01:00→2026-03-29T03:00:00+02:00=0",
				"2026-03-29T03:00:00+02:00→2026-03-29T04:00:00+02:00=0")},
			{"months", billow.UsageQueryInput{Meter: "billing_sessions", From: at("2026-03-01T00:00:00+01:00"),
				To: at("2026-05-01T00:00:00+02:00"), Window: billow.UsageWindowMonth}, lines(
				"2026-03-01T00:00:00+01:00→2026-04-01T00:00:00+02:00=7",
				"2026-04-01T00:00:00+02:00→2026-05-01T00:00:00+02:00=0")},
			{"the whole range, window defaulting to none", billow.UsageQueryInput{Meter: "voice_seconds", From: from, To: to},
				"2026-03-28T00:00:00+01:00→2026-03-31T00:00:00+02:00=3.751"},
			{"from and to inside hours widen to them", billow.UsageQueryInput{Meter: "billing_sessions",
				From: at("2026-03-30T08:10:00Z"), To: at("2026-03-30T08:20:00Z")},
				"2026-03-30T10:00:00+02:00→2026-03-30T11:00:00+02:00=3"},
		} {
			if got := u.query(tc.in); got != tc.want {
				t.Errorf("%s:\n got:\n%s\nwant:\n%s", tc.name, got, tc.want)
			}
		}

		// Errors name their field and have a stable code.
		for _, tc := range []struct {
			name  string
			in    billow.UsageQueryInput
			code  string
			field string
		}{
			{"unknown meter", days("minutes"), billow.CodeUnknownMeter, "meter"},
			{"no meter", days(""), billow.CodeValidationFailed, "meter"},
			{"unknown app", func() billow.UsageQueryInput { in := days("billing_sessions"); in.App = "nope"; return in }(), billow.CodeUnknownApp, "app"},
			{"a peak over apps grouped by app", func() billow.UsageQueryInput {
				in := days("concurrent_agents")
				in.GroupByApp = true
				return in
			}(), billow.CodeMeterNotByApp, "group_by"},
			{"a peak over apps of one app", func() billow.UsageQueryInput {
				in := days("concurrent_agents")
				in.App = "sales"
				return in
			}(), billow.CodeMeterNotByApp, "app"},
			{"to before from", billow.UsageQueryInput{Meter: "billing_sessions", From: to, To: from}, billow.CodeValidationFailed, "to"},
			{"no from", billow.UsageQueryInput{Meter: "billing_sessions", To: to}, billow.CodeValidationFailed, "from"},
			{"range too long", billow.UsageQueryInput{Meter: "billing_sessions", From: from, To: from.Add(billow.UsageRangeMax + time.Hour)},
				billow.CodeValidationFailed, "to"},
			{"unknown window", billow.UsageQueryInput{Meter: "billing_sessions", From: from, To: to, Window: "week"}, billow.CodeValidationFailed, "window"},
			{"too many hours", billow.UsageQueryInput{Meter: "billing_sessions", From: from, To: from.Add((usage.BucketsMax + 1) * time.Hour),
				Window: billow.UsageWindowHour}, billow.CodeTooManyBuckets, "window"},
		} {
			err := u.queryErr(tc.in)
			var e *billow.Error
			if billow.ErrorCode(err) != tc.code || !errorAs(err, &e) || len(e.Fields) == 0 || e.Fields[0].Field != tc.field {
				t.Errorf("%s: %v, want %s on %s", tc.name, err, tc.code, tc.field)
			}
		}
		if _, err := env.DB.Usage(ctx, billow.UsageQueryInput{Account: "nobody", Meter: "billing_sessions", From: from, To: to}); billow.ErrorCode(err) != billow.CodeNotFound {
			t.Errorf("unknown account: %v", err)
		}

		// Trends at 14:00 on the 31st in Berlin: the last 7 days, today the last.
		tr, err := env.DB.UsageTrends(ctx, billow.UsageTrendsInput{Account: "northwind", Range: billow.TrendsLast7Days})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, b := range tr.Buckets {
			if b.AgentCount == nil || b.BillingSessions == nil || b.VoiceSessions == nil {
				t.Fatalf("a standard account's bucket lacks a metric: %+v", b)
			}
			got = append(got, fmt.Sprintf("%s %s/%s/%s", b.From.Format("01-02"), b.BillingSessions, b.VoiceSessions, b.AgentCount))
		}
		if want := "03-25 0/0/0 03-26 0/0/0 03-27 0/0/0 03-28 1/0/0 03-29 2/2/0 03-30 4/1/0 03-31 0/0/0"; strings.Join(got, " ") != want {
			t.Errorf("7-day trends = %s\nwant %s", strings.Join(got, " "), want)
		}
		if tr.Buckets[4].To.Sub(tr.Buckets[4].From) != 23*time.Hour || tr.Range != billow.TrendsLast7Days {
			t.Errorf("the 29th is %v long", tr.Buckets[4].To.Sub(tr.Buckets[4].From))
		}
		// An app filter keeps its sessions and leaves out the agent count: agents are not an app's.
		tr, err = env.DB.UsageTrends(ctx, billow.UsageTrendsInput{Account: "northwind", Range: billow.TrendsCustom, App: "sales",
			From: at("2026-03-29T00:00:00+01:00"), To: at("2026-03-31T00:00:00+02:00")})
		if err != nil {
			t.Fatal(err)
		}
		if len(tr.Buckets) != 2 || tr.Buckets[0].BillingSessions.String() != "1" || tr.Buckets[1].BillingSessions.String() != "1" ||
			tr.Buckets[0].AgentCount != nil || tr.Buckets[1].VoiceSessions.String() != "1" {
			t.Errorf("custom trends of sales = %+v", tr.Buckets)
		}
		// 24 hours: UTC hours up to the end of the current one.
		tr, err = env.DB.UsageTrends(ctx, billow.UsageTrendsInput{Account: "northwind", Range: billow.TrendsLast24Hours})
		if err != nil {
			t.Fatal(err)
		}
		if len(tr.Buckets) != 24 || !tr.Buckets[23].To.Equal(at("2026-03-31T13:00:00Z")) {
			t.Errorf("24h trends: %d buckets, the last ending %v", len(tr.Buckets), tr.Buckets[len(tr.Buckets)-1].To)
		}
		for _, in := range []billow.UsageTrendsInput{
			{Account: "northwind", Range: "1y"},
			{Account: "northwind", Range: billow.TrendsCustom, From: from},
			{Account: "northwind", Range: billow.TrendsLast7Days, From: from},
		} {
			if _, err := env.DB.UsageTrends(ctx, in); billow.ErrorCode(err) != billow.CodeValidationFailed {
				t.Errorf("trends %+v: %v", in, err)
			}
		}

		// The current period is March in Berlin, 743 hours.
		sum, err := env.DB.UsageSummary(ctx, billow.UsageSummaryInput{Account: u.account.ID})
		if err != nil {
			t.Fatal(err)
		}
		if !sum.From.Equal(at("2026-03-01T00:00:00+01:00")) || !sum.To.Equal(at("2026-04-01T00:00:00+02:00")) {
			t.Errorf("summary period %v – %v", sum.From, sum.To)
		}
		quantities := map[string]string{}
		for _, m := range sum.Meters {
			q := "absent"
			if m.Quantity != nil {
				q = m.Quantity.String()
			}
			quantities[m.Meter] = q + " " + m.Unit
		}
		want := map[string]string{"billing_sessions": "7 session", "voice_sessions": "3 session", "voice_seconds": "3.751 second",
			"named_agents": "0 seat", "concurrent_agents": "0 seat", "concurrent_calls": "0 call", "ingested_bytes": "1000 byte",
			"llm_tokens": "1501 token", "llm_credits": "9.003 credit"}
		if fmt.Sprint(quantities) != fmt.Sprint(want) {
			t.Errorf("summary:\n got %v\nwant %v", quantities, want)
		}

		// New York, the night clocks go back: 00:30 EDT and 23:30 EST are both 1 November.
		env.Clock.Advance(at("2026-11-20T00:00:00Z").Sub(env.Clock.Now()))
		ny := newUsageAccount(t, env, billow.CreateAccountInput{ExternalID: "globex", Name: "Globex", Catalog: "ai-for-service",
			Plan: "enterprise", Type: billow.AccountEnterprise, Timezone: "America/New_York"},
			billow.CreateAppInput{ExternalID: "hr", Name: "HR"})
		ny.send(
			`voice.interaction@2026-11-01T04:30:00Z {"app":"hr","kind":"stt","seconds":1}`,
			`voice.interaction@2026-11-02T04:30:00Z {"app":"hr","kind":"stt","seconds":1}`,
			`voice.interaction@2026-11-02T05:30:00Z {"app":"hr","kind":"stt","seconds":1}`,
		)
		if got, want := ny.query(billow.UsageQueryInput{Meter: "voice_sessions", From: at("2026-11-01T00:00:00-04:00"),
			To: at("2026-11-03T00:00:00-05:00"), Window: billow.UsageWindowDay}), lines(
			"2026-11-01T00:00:00-04:00→2026-11-02T00:00:00-05:00=2",
			"2026-11-02T00:00:00-05:00→2026-11-03T00:00:00-05:00=1"); got != want {
			t.Errorf("New York fall back:\n got:\n%s\nwant:\n%s", got, want)
		}
		// Kolkata (+05:30): local midnight is 18:30 UTC, inside an hour the cells cannot split.
		// The boundaries, to as well, move to 18:00 UTC (23:30 local) and the answer says so:
		// an event at 23:40 local on the 10th counts in the bucket that begins at 23:30 that day.
		in := newUsageAccount(t, env, billow.CreateAccountInput{ExternalID: "mumbai", Name: "Mumbai", Catalog: "ai-for-service",
			Plan: "advanced", Timezone: "Asia/Kolkata"}, billow.CreateAppInput{ExternalID: "bot", Name: "Bot"})
		in.send(
			`voice.interaction@2026-03-10T17:50:00Z {"app":"bot","kind":"stt","seconds":1}`,
			`voice.interaction@2026-03-10T18:10:00Z {"app":"bot","kind":"stt","seconds":1}`,
			`voice.interaction@2026-03-10T18:40:00Z {"app":"bot","kind":"stt","seconds":1}`,
		)
		if got, want := in.query(billow.UsageQueryInput{Meter: "voice_sessions", From: at("2026-03-10T00:00:00+05:30"),
			To: at("2026-03-12T00:00:00+05:30"), Window: billow.UsageWindowDay}), lines(
			"2026-03-09T23:30:00+05:30→2026-03-10T23:30:00+05:30=1",
			"2026-03-10T23:30:00+05:30→2026-03-11T23:30:00+05:30=2"); got != want {
			t.Errorf("Kolkata days:\n got:\n%s\nwant:\n%s", got, want)
		}

		// Enterprise accounts see no agent count.
		tr, err = env.DB.UsageTrends(ctx, billow.UsageTrendsInput{Account: "globex", Range: billow.TrendsLast30Days})
		if err != nil {
			t.Fatal(err)
		}
		if len(tr.Buckets) != 30 || tr.Buckets[0].AgentCount != nil || tr.Buckets[0].BillingSessions == nil {
			t.Errorf("enterprise trends: %d buckets, first %+v", len(tr.Buckets), tr.Buckets[0])
		}
	})
}

// usageTestCatalog is the ai-for-service catalog with a meter of each combination the
// shipped catalogs lack: min, max and latest voice seconds, concurrent calls per app,
// and distinct API clients.
const usageTestMeters = `meters:
  - key: voice_shortest
    name: Shortest voice interaction
    unit: second
    event_types: [voice.interaction]
    aggregation: min
    field: seconds
    group_by: [app, kind]
  - key: voice_longest
    name: Longest voice interaction
    unit: second
    event_types: [voice.interaction]
    aggregation: max
    field: seconds
    group_by: [app, kind]
  - key: voice_last
    name: Last voice interaction
    unit: second
    event_types: [voice.interaction]
    aggregation: latest
    field: seconds
    group_by: [app, kind]
  - key: calls_by_app
    name: Concurrent calls per app
    unit: call
    event_types: [call.started, call.ended]
    aggregation: concurrency
    field: call
    start_types: [call.started]
    end_types: [call.ended]
    heartbeat_timeout_minutes: 240
    group_by: [app]
  - key: api_clients
    name: Distinct API clients
    unit: client
    event_types: [api.request]
    aggregation: unique_count
    field: client
    group_by: [app]
`

// TestUsageQueryCombinations reads the meters that are not plain sums: min, max,
// latest, concurrency peaks and unique counts, in America/New_York on the 25-hour day
// of 1 November 2026. Their cells come from the ingest side's usage_uniques, at_us and
// hourly peaks.
func TestUsageQueryCombinations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		src, err := catalog.Example("ai-for-service")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := env.DB.SyncCatalog(ctx, "usage-test", []byte(strings.Replace(string(src), "meters:\n", usageTestMeters, 1))); err != nil {
			t.Fatal(err)
		}
		env.Clock.Advance(at("2026-11-20T00:00:00Z").Sub(env.Clock.Now()))
		u := newUsageAccount(t, env, billow.CreateAccountInput{ExternalID: "initech", Name: "Initech", Catalog: "usage-test",
			Plan: "advanced", Timezone: "America/New_York"},
			billow.CreateAppInput{ExternalID: "bot1", Name: "Bot 1"}, billow.CreateAppInput{ExternalID: "bot2", Name: "Bot 2"})
		u.send(
			// 1 November, 01:00 EDT; 01:30 EST, the second time round; 15:00; 23:30 EST.
			`voice.interaction@2026-11-01T05:00:00Z {"app":"bot1","kind":"stt","seconds":5}`,
			`voice.interaction@2026-11-01T06:30:00Z {"app":"bot1","kind":"stt","seconds":3}`,
			`voice.interaction@2026-11-01T20:00:00Z {"app":"bot2","kind":"tts","seconds":7.5}`,
			`voice.interaction@2026-11-02T04:30:00Z {"app":"bot1","kind":"stt","seconds":4}`,
			// 2 November: 00:30, and two at one microsecond: the greater value is the latest.
			`voice.interaction@2026-11-02T05:30:00Z {"app":"bot2","kind":"tts","seconds":1}`,
			`voice.interaction@2026-11-02T06:00:00Z {"app":"bot2","kind":"stt","seconds":2}`,
			`voice.interaction@2026-11-02T06:00:00Z {"app":"bot2","kind":"tts","seconds":6}`,
			// Agents: on the 1st, contact center peaks at 2 (13:00–14:00 UTC), agent AI at 1.
			`agent.login@2026-11-01T12:00:00Z {"agent":"a1","product":"contact_center"}`,
			`agent.login@2026-11-01T13:00:00Z {"agent":"a2","product":"contact_center"}`,
			`agent.logout@2026-11-01T14:00:00Z {"agent":"a2","product":"contact_center"}`,
			`agent.login@2026-11-01T13:30:00Z {"agent":"a3","product":"agent_ai"}`,
			`agent.logout@2026-11-01T15:00:00Z {"agent":"a3","product":"agent_ai"}`,
			`agent.logout@2026-11-01T16:00:00Z {"agent":"a1","product":"contact_center"}`,
			// On the 2nd, one of each.
			`agent.login@2026-11-02T13:00:00Z {"agent":"a1","product":"contact_center"}`,
			`agent.logout@2026-11-02T14:00:00Z {"agent":"a1","product":"contact_center"}`,
			`agent.login@2026-11-02T13:00:00Z {"agent":"a4","product":"agent_ai"}`,
			`agent.logout@2026-11-02T13:30:00Z {"agent":"a4","product":"agent_ai"}`,
			// Calls: bot1 has 2 at once from 14:30, bot2 one from 14:10 to 14:20.
			`call.started@2026-11-01T14:00:00Z {"app":"bot1","call":"c1"}`,
			`call.started@2026-11-01T14:30:00Z {"app":"bot1","call":"c2"}`,
			`call.ended@2026-11-01T14:45:00Z {"app":"bot1","call":"c2"}`,
			`call.ended@2026-11-01T15:00:00Z {"app":"bot1","call":"c1"}`,
			`call.started@2026-11-01T14:10:00Z {"app":"bot2","call":"c3"}`,
			`call.ended@2026-11-01T14:20:00Z {"app":"bot2","call":"c3"}`,
			// API clients: k1 on both bots, k2 on bot2.
			`api.request@2026-11-01T15:00:00Z {"app":"bot1","client":"k1"}`,
			`api.request@2026-11-01T16:00:00Z {"app":"bot1","client":"k1"}`,
			`api.request@2026-11-01T15:00:00Z {"app":"bot2","client":"k1"}`,
			`api.request@2026-11-01T15:10:00Z {"app":"bot2","client":"k2"}`,
		)
		const (
			oct31 = "2026-10-31T00:00:00-04:00→2026-11-01T00:00:00-04:00"
			nov1  = "2026-11-01T00:00:00-04:00→2026-11-02T00:00:00-05:00" // 25 hours
			nov2  = "2026-11-02T00:00:00-05:00→2026-11-03T00:00:00-05:00"
		)
		days := func(meter string, byApp bool) billow.UsageQueryInput {
			return billow.UsageQueryInput{Meter: meter, From: at("2026-10-31T00:00:00-04:00"), To: at("2026-11-03T00:00:00-05:00"),
				Window: billow.UsageWindowDay, GroupByApp: byApp}
		}
		whole := func(meter string) billow.UsageQueryInput {
			return billow.UsageQueryInput{Meter: meter, From: at("2026-10-31T00:00:00-04:00"), To: at("2026-11-03T00:00:00-05:00")}
		}
		const whole3 = "2026-10-31T00:00:00-04:00→2026-11-03T00:00:00-05:00"
		for _, tc := range []struct {
			name string
			in   billow.UsageQueryInput
			want string
		}{
			// A day without a value has none: no bucket, rather than a 0 never measured.
			{"min", days("voice_shortest", false), lines(nov1+"=3", nov2+"=1")},
			{"max", days("voice_longest", false), lines(nov1+"=7.5", nov2+"=6")},
			{"latest: the last value; at one microsecond the greater", days("voice_last", false), lines(nov1+"=4", nov2+"=6")},
			{"min by app", days("voice_shortest", true), lines(nov1+" bot1=3", nov1+" bot2=7.5", nov2+" bot2=1")},
			{"latest by app", days("voice_last", true), lines(nov1+" bot1=4", nov1+" bot2=7.5", nov2+" bot2=6")},
			{"latest of one app", func() billow.UsageQueryInput { in := days("voice_last", false); in.App = "bot1"; return in }(), nov1 + "=4"},
			{"max of the whole range", whole("voice_longest"), whole3 + "=7.5"},
			{"latest of the whole range", whole("voice_last"), whole3 + "=6"},
			// Each product's peak, added up: 2 + 1 on the 1st, 1 + 1 on the 2nd.
			{"concurrent agents", days("concurrent_agents", false), lines(oct31+"=0", nov1+"=3", nov2+"=2")},
			{"concurrent agents, whole range", whole("concurrent_agents"), whole3 + "=3"},
			{"concurrent agents by UTC hour", billow.UsageQueryInput{Meter: "concurrent_agents", From: at("2026-11-01T12:00:00Z"),
				To: at("2026-11-01T16:00:00Z"), Window: billow.UsageWindowHour}, lines(
				"2026-11-01T07:00:00-05:00→2026-11-01T08:00:00-05:00=1",
				"2026-11-01T08:00:00-05:00→2026-11-01T09:00:00-05:00=3",
				"2026-11-01T09:00:00-05:00→2026-11-01T10:00:00-05:00=2",
				"2026-11-01T10:00:00-05:00→2026-11-01T11:00:00-05:00=1")},
			// Per app, each app's peak; over apps, the sum of the apps' peaks (3), which is
			// what per-app lines bill, not the highest number at one instant (2).
			{"calls by app", days("calls_by_app", true), lines(nov1+" bot1=2", nov1+" bot2=1")},
			{"calls over apps", days("calls_by_app", false), lines(oct31+"=0", nov1+"=3", nov2+"=0")},
			{"calls of one app", func() billow.UsageQueryInput { in := days("calls_by_app", false); in.App = "bot2"; return in }(),
				lines(oct31+"=0", nov1+"=1", nov2+"=0")},
			// Distinct values over the bucket's hours, groups and apps: a1 logged in on both
			// days and counts once over the range.
			{"named agents", days("named_agents", false), lines(oct31+"=0", nov1+"=3", nov2+"=2")},
			{"named agents, whole range", whole("named_agents"), whole3 + "=4"},
			{"named agents by app: agent logins name no app", days("named_agents", true), lines(nov1+"=3", nov2+"=2")},
			{"distinct clients over apps", days("api_clients", false), lines(oct31+"=0", nov1+"=2", nov2+"=0")},
			{"distinct clients by app", days("api_clients", true), lines(nov1+" bot1=1", nov1+" bot2=2")},
		} {
			if got := u.query(tc.in); got != tc.want {
				t.Errorf("%s:\n got:\n%s\nwant:\n%s", tc.name, got, tc.want)
			}
		}
		tr, err := env.DB.UsageTrends(ctx, billow.UsageTrendsInput{Account: "initech", Range: billow.TrendsCustom,
			From: at("2026-11-01T00:00:00-04:00"), To: at("2026-11-03T00:00:00-05:00")})
		if err != nil {
			t.Fatal(err)
		}
		if len(tr.Buckets) != 2 || tr.Buckets[0].AgentCount.String() != "3" || tr.Buckets[1].AgentCount.String() != "2" ||
			tr.Buckets[0].To.Sub(tr.Buckets[0].From) != 25*time.Hour {
			t.Errorf("agent count in trends: %+v", tr.Buckets)
		}
	})
}

// TestDayCellsAnswerLikeHourly asks every meter for days, a month and a whole period
// twice, from day cells and from hourly cells, in a zone whose days begin off the UTC
// hour, before and after the account moves to another zone.
func TestDayCellsAnswerLikeHourly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		a, _, events := rollupScenario(t, env, "northwind")
		if res, err := ingest.New(env.DB, env.Clock).Ingest(ctx, billow.Principal{KeyID: "t"}, events); err != nil || len(res.Rejected) > 0 {
			t.Fatalf("%+v, %v", res, err)
		}
		cat, err := env.DB.AccountCatalog(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		answers := func(zone string) string {
			loc, err := time.LoadLocation(zone)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, m := range cat.Meters {
				for _, q := range []billow.UsageQueryInput{
					{Window: billow.UsageWindowDay},
					{Window: billow.UsageWindowDay, GroupByApp: true},
					{Window: billow.UsageWindowMonth},
					{Window: billow.UsageWindowNone},
				} {
					if q.GroupByApp && !usage.CellsByApp(&m) {
						continue
					}
					q.Account, q.Meter = a.ID, m.Key
					q.From, q.To = time.Date(2026, 1, 12, 0, 0, 0, 0, loc), time.Date(2026, 2, 1, 0, 0, 0, 0, loc)
					res, err := env.DB.Usage(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					fmt.Fprintf(&b, "%s %s %v: %v\n", m.Key, q.Window, q.GroupByApp, res.Data)
				}
			}
			return b.String()
		}
		for _, zone := range []string{"Asia/Kolkata", "America/New_York"} {
			if zone != a.Timezone {
				if _, err := env.DB.UpdateAccount(ctx, a.ID, billow.UpdateAccountInput{Timezone: &zone}); err != nil {
					t.Fatal(err)
				}
			}
			fromDays := answers(zone)
			sqlstore.ReadHourlyOnly(env.DB, true)
			fromHours := answers(zone)
			sqlstore.ReadHourlyOnly(env.DB, false)
			if fromDays != fromHours {
				t.Errorf("%s: day cells answer\n%s\nhourly cells answer\n%s", zone, fromDays, fromHours)
			}
			if !strings.Contains(fromDays, "billing_sessions day false: [{") {
				t.Errorf("%s: no billing sessions by day:\n%s", zone, fromDays)
			}
		}
	})
}
