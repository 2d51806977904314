package meter_test

import (
	"testing"

	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/meter"
	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"
)

// Times in tests are offsets from t0, 2026-01-01T00:00:00Z.
const (
	t0     = int64(1_767_225_600_000_000)
	second = int64(1_000_000)
	minute = int64(meter.MicrosPerMinute)
	hour   = 60 * minute
	day    = 24 * hour
)

// decimalByValue compares decimals by value, as the table tests state them.
var decimalByValue = cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) })

// example parses a shipped catalog.
func example(t testing.TB, name string) *catalog.Catalog {
	t.Helper()
	data, err := catalog.Example(name)
	if err != nil {
		t.Fatal(err)
	}
	c, err := catalog.Parse(name+".yaml", data)
	if err != nil {
		t.Fatalf("shipped example %s does not parse:\n%v", name, err)
	}
	return c
}

func mustMeter(t testing.TB, c *catalog.Catalog, key string) *catalog.Meter {
	t.Helper()
	m, ok := c.Meter(key)
	if !ok {
		t.Fatalf("%s: no meter %q", c.Name, key)
	}
	return m
}

// sessionRules are the shipped billing_sessions rules: 15-minute blocks, 30 minutes idle.
func sessionRules(t testing.TB) meter.SessionRules {
	t.Helper()
	r, err := meter.SessionRulesOf(mustMeter(t, example(t, "ai-for-service"), "billing_sessions"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func concurrencyRules(t testing.TB, key string) meter.ConcurrencyRules {
	t.Helper()
	r, err := meter.ConcurrencyRulesOf(mustMeter(t, example(t, "ai-for-service"), key))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Event builders; at is an offset from t0.
func convEvent(typ, conversation, app string, at int64) meter.Event {
	return meter.Event{Type: typ, TimeMicros: t0 + at, Account: "acct_1", App: app, Conversation: conversation}
}

func routed(conversation, toApp string, at int64) meter.Event {
	return meter.Event{Type: meter.TypeConversationRouted, TimeMicros: t0 + at, Account: "acct_1", Conversation: conversation, ToApp: toApp}
}

func apiRequest(app, client string, at int64) meter.Event {
	return meter.Event{Type: meter.TypeAPIRequest, TimeMicros: t0 + at, Account: "acct_1", App: app, Client: client}
}

func login(agent, product string, at int64) meter.Event {
	return meter.Event{Type: meter.TypeAgentLogin, TimeMicros: t0 + at, Account: "acct_1", Agent: agent, Product: product}
}

func logout(agent, product string, at int64) meter.Event {
	return meter.Event{Type: meter.TypeAgentLogout, TimeMicros: t0 + at, Account: "acct_1", Agent: agent, Product: product}
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }
