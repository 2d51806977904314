package catalog_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/billowhq/billow/catalog"
	"github.com/google/go-cmp/cmp"
)

// requiredMeters are the meter keys DESIGN.md says both shipped catalogs define; other
// packages (usage trends, checks) read them by key.
var requiredMeters = []string{"billing_sessions", "voice_sessions", "voice_seconds", "named_agents",
	"concurrent_agents", "concurrent_calls", "ingested_bytes", "llm_tokens", "llm_credits"}

func example(t *testing.T, name string) *catalog.Catalog {
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

func mustPlan(t *testing.T, c *catalog.Catalog, key string) *catalog.Plan {
	t.Helper()
	p, ok := c.Plan(key)
	if !ok {
		t.Fatalf("%s: no plan %q", c.Name, key)
	}
	return p
}

func mustAddOn(t *testing.T, c *catalog.Catalog, key string) *catalog.AddOn {
	t.Helper()
	a, ok := c.AddOn(key)
	if !ok {
		t.Fatalf("%s: no add-on %q", c.Name, key)
	}
	return a
}

func mustMeter(t *testing.T, c *catalog.Catalog, key string) *catalog.Meter {
	t.Helper()
	m, ok := c.Meter(key)
	if !ok {
		t.Fatalf("%s: no meter %q", c.Name, key)
	}
	return m
}

func monthFee(t *testing.T, fees []catalog.Fee) int64 {
	t.Helper()
	for _, f := range fees {
		if f.Interval == catalog.IntervalMonth {
			return f.AmountMinorUnits
		}
	}
	t.Fatalf("no monthly fee in %+v", fees)
	return 0
}

func TestExampleNames(t *testing.T) {
	if diff := cmp.Diff([]string{"ai-for-service", "credits-platform"}, catalog.ExampleNames()); diff != "" {
		t.Errorf("ExampleNames() (-want +got):\n%s", diff)
	}
	if _, err := catalog.Example("no-such-example"); err == nil || !strings.Contains(err.Error(), "ai-for-service") {
		t.Errorf("Example(unknown) error = %v, want one naming the examples", err)
	}
	if _, err := catalog.Example("../catalog"); err == nil {
		t.Error("Example read outside the examples")
	}
}

func TestExamplesDefineTheSharedMeters(t *testing.T) {
	for _, name := range catalog.ExampleNames() {
		c := example(t, name)
		var keys []string
		for _, m := range c.Meters {
			keys = append(keys, m.Key)
		}
		for _, want := range requiredMeters {
			if !slices.Contains(keys, want) {
				t.Errorf("%s: meter %s is missing (have %v)", name, want, keys)
			}
		}
		if c.Currency != "USD" || c.CurrencyDigits != 2 || c.Credits.PerCurrencyUnit != 1000 {
			t.Errorf("%s: currency %s/%d, %d credits per unit; want USD/2, 1000", name, c.Currency, c.CurrencyDigits, c.Credits.PerCurrencyUnit)
		}
		// The meters both catalogs share must mean the same in both, or usage trends
		// would change meaning with the catalog.
		sessions := mustMeter(t, c, "billing_sessions")
		if sessions.Aggregation != catalog.AggregationSessions || sessions.BlockMinutes != 15 || sessions.IdleTimeoutMinutes != 30 {
			t.Errorf("%s: billing_sessions = %+v, want sessions of 15-minute blocks", name, sessions)
		}
		named := mustMeter(t, c, "named_agents")
		if named.Aggregation != catalog.AggregationUniqueCount || named.Field != "agent" {
			t.Errorf("%s: named_agents = %+v, want unique_count of agent", name, named)
		}
		conc := mustMeter(t, c, "concurrent_agents")
		if conc.Aggregation != catalog.AggregationConcurrency || conc.Field != "agent" ||
			!slices.Equal(conc.StartTypes, []string{"agent.login"}) || !slices.Equal(conc.EndTypes, []string{"agent.logout"}) {
			t.Errorf("%s: concurrent_agents = %+v, want concurrency of agent.login..agent.logout", name, conc)
		}
		calls := mustMeter(t, c, "concurrent_calls")
		if calls.Aggregation != catalog.AggregationConcurrency || calls.Field != "call" {
			t.Errorf("%s: concurrent_calls = %+v", name, calls)
		}
		tokens := mustMeter(t, c, "llm_tokens")
		if tokens.Aggregation != catalog.AggregationSum || !slices.Equal(tokens.Fields, []string{"input_tokens", "output_tokens"}) {
			t.Errorf("%s: llm_tokens = %+v, want the sum of input and output tokens", name, tokens)
		}
		llm := mustMeter(t, c, "llm_credits")
		if llm.Aggregation != catalog.AggregationProviderCost || llm.CostTable != catalog.CostTableLLM || llm.Filters["byo_key"] != "false" {
			t.Errorf("%s: llm_credits = %+v, want provider_cost from the llm table, without BYO-key calls", name, llm)
		}
		seconds := mustMeter(t, c, "voice_seconds")
		if seconds.Aggregation != catalog.AggregationSum || !slices.Equal(seconds.Fields, []string{"seconds"}) {
			t.Errorf("%s: voice_seconds = %+v", name, seconds)
		}
		bytes := mustMeter(t, c, "ingested_bytes")
		if bytes.Aggregation != catalog.AggregationSum || !slices.Equal(bytes.Fields, []string{"bytes"}) {
			t.Errorf("%s: ingested_bytes = %+v", name, bytes)
		}
		if _, ok := c.ProviderCosts.LLMCost("openai", "gpt-4o"); !ok {
			t.Errorf("%s: no cost for openai gpt-4o", name)
		}
	}
}

// TestAIForService checks the facts seed 000 states.
func TestAIForService(t *testing.T) {
	c := example(t, "ai-for-service")

	var plans []string
	for _, p := range c.Plans {
		plans = append(plans, p.Key)
	}
	if diff := cmp.Diff([]string{"essential", "advanced", "enterprise"}, plans); diff != "" {
		t.Errorf("plans (-want +got):\n%s", diff)
	}
	for _, key := range []string{"automation_ai", "search_ai", "contact_center_ai", "agent_ai"} {
		if _, ok := c.Product(key); !ok {
			t.Errorf("no product %s", key)
		}
	}

	ent := mustPlan(t, c, "enterprise")
	if !ent.CustomPricing || !slices.Equal(ent.AccountTypes, []string{catalog.AccountEnterprise}) {
		t.Errorf("enterprise: custom pricing %v, account types %v; want custom pricing for enterprise accounts", ent.CustomPricing, ent.AccountTypes)
	}
	// Search AI: 1 GB by default plus a 1% allowance.
	want := []catalog.Limit{{Meter: "ingested_bytes", Limit: 1_000_000_000, AllowancePercent: "1",
		HardLimit: 1_010_000_000, Period: catalog.PeriodTotal}}
	if diff := cmp.Diff(want, ent.Limits); diff != "" {
		t.Errorf("enterprise limits (-want +got):\n%s", diff)
	}

	// Postpaid: sessions, voice and seats are billed in currency on the invoice.
	for _, p := range c.Plans {
		if p.CustomPricing != (p.Key == "enterprise") {
			t.Errorf("%s: custom pricing %v", p.Key, p.CustomPricing)
		}
		for _, r := range p.Rates {
			wantIn := catalog.BilledInCurrency
			if r.Meter == "llm_credits" {
				wantIn = catalog.BilledInCredits
			}
			if r.BilledIn != wantIn {
				t.Errorf("%s: rate on %s billed in %s, want %s", p.Key, r.Meter, r.BilledIn, wantIn)
			}
		}
	}

	// Contact Center AI and Agent AI: per named or per concurrent seat, each counting
	// only its own product's agents.
	adv := mustPlan(t, c, "advanced")
	if len(adv.Seats) != 2 {
		t.Fatalf("advanced seats = %+v, want Contact Center AI and Agent AI", adv.Seats)
	}
	for _, s := range adv.Seats {
		product := map[string]string{"contact_center_ai": "contact_center", "agent_ai": "agent_ai"}[s.Product]
		if s.Named == nil || s.Named.Meter != "named_agents" || s.Named.Filters["product"] != product ||
			s.Concurrent == nil || s.Concurrent.Meter != "concurrent_agents" || s.Concurrent.Filters["product"] != product {
			t.Errorf("advanced seat %+v: want named and concurrent seats of product %q", s, product)
		}
	}
	if adv.Seats[0].Named.UnitPrice != "60.00" {
		t.Errorf("named Contact Center AI seat = %q, want the canonical 60.00", adv.Seats[0].Named.UnitPrice)
	}
	if len(adv.Rates) == 0 || adv.Rates[0].Model != catalog.ModelGraduated || len(adv.Rates[0].Tiers) != 3 || adv.Rates[0].Tiers[2].UpTo != 0 {
		t.Errorf("advanced billing_sessions rate = %+v, want 3 graduated tiers, the last open-ended", adv.Rates[0])
	}

	// Add-ons are billed separately: Voice Gateway with ASR and TTS; Advanced RAG, single.
	voice := mustAddOn(t, c, "voice_gateway")
	rag := mustAddOn(t, c, "advanced_rag")
	if !voice.Flag("voice_gateway") || voice.MaxQuantity != 1 || !rag.Flag("advanced_rag") || rag.MaxQuantity != 1 {
		t.Errorf("add-ons = %+v, %+v", voice, rag)
	}
	if rag.AvailableOn("enterprise") || !rag.AvailableOn("essential") || !voice.AvailableOn("enterprise") {
		t.Errorf("add-on plans: rag %v, voice %v", rag.Plans, voice.Plans)
	}
}

// TestCreditsPlatform checks the facts seed 004 states.
func TestCreditsPlatform(t *testing.T) {
	c := example(t, "credits-platform")

	if c.Credits.PerCurrencyUnit != 1000 {
		t.Errorf("1 USD = %d credits, want 1000", c.Credits.PerCurrencyUnit)
	}
	if diff := cmp.Diff([]int64{1000, 2000, 5000, 10000}, c.Credits.PackagesCredits); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}

	free := mustPlan(t, c, "free")
	if monthFee(t, free.Fees) != 0 || free.Quantity("agent_slots") != 5 || free.Flag("byo_api_keys") {
		t.Errorf("free = %+v, want $0 and 5 agent slots", free)
	}

	payg := mustPlan(t, c, "pay_as_you_go")
	if got := monthFee(t, payg.Fees); got != 2000 {
		t.Errorf("pay as you go fee = %d minor units, want 2000", got)
	}
	if _, ok := payg.Fee(catalog.IntervalYear); ok {
		t.Error("pay as you go offers a yearly fee; the seed has only $20/month")
	}
	if payg.IncludedCredits == nil || *payg.IncludedCredits != (catalog.IncludedCredits{Credits: 5000, Refresh: catalog.RefreshCycle}) {
		t.Errorf("pay as you go included credits = %+v, want 5000 refreshed each cycle ($5)", payg.IncludedCredits)
	}
	if payg.Quantity("agent_slots") != 100 || !payg.Flag("byo_api_keys") || !payg.Flag("remove_powered_by") {
		t.Errorf("pay as you go entitlements = %+v", payg.Entitlements)
	}

	ent := mustPlan(t, c, "enterprise")
	if monthFee(t, ent.Fees) != 100000 || !ent.CustomPricing {
		t.Errorf("enterprise = %+v, want $1,000/month with custom pricing", ent)
	}

	// Usage is debited in credits. Pay as you go shares Free's rates through a YAML alias.
	for _, p := range c.Plans {
		if len(p.Rates) == 0 {
			t.Errorf("%s has no usage rates", p.Key)
		}
		for _, r := range p.Rates {
			if r.BilledIn != catalog.BilledInCredits {
				t.Errorf("%s: rate on %s billed in %s, want credits", p.Key, r.Meter, r.BilledIn)
			}
		}
		if diff := cmp.Diff(free.Rates, p.Rates); diff != "" {
			t.Errorf("%s rates differ from free's (-free +%s):\n%s", p.Key, p.Key, diff)
		}
	}
	if c.ProviderCosts.MarkupPercent != "20" {
		t.Errorf("markup = %q", c.ProviderCosts.MarkupPercent)
	}

	wl := mustAddOn(t, c, "whitelabel")
	if monthFee(t, wl.Fees) != 20000 || wl.MaxQuantity != 1 || wl.Quantity("client_seats") != 5 ||
		wl.Quantity("phone_numbers") != 1 || wl.Quantity("workspace_seats") != 2 || !wl.Flag("whitelabel") {
		t.Errorf("whitelabel = %+v, want $200/month, 5 client seats, 1 phone number, 2 workspace seats", wl)
	}
	for key, want := range map[string]int64{"workspace_seat": 1000, "client_seat": 1500, "concurrent_call_line": 500, "phone_number": 300} {
		if got := monthFee(t, mustAddOn(t, c, key).Fees); got != want {
			t.Errorf("%s = %d minor units a month, want %d", key, got, want)
		}
	}
	if q := mustAddOn(t, c, "workspace_seat").Quantity("workspace_seats"); q != 1 {
		t.Errorf("a workspace seat add-on grants %d workspace seats", q)
	}
}
