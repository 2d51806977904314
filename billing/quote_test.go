package billing_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/billing"
	"github.com/billowhq/billow/catalog"
)

// quoteCatalog is a small catalog for what the shipped ones do not show: two plans that
// cost the same, and a monthly limit.
const quoteCatalog = `billow_catalog: 1
name: Quote test
currency: USD
products: [{key: bots, name: Bots}]
meters:
  - {key: billing_sessions, name: Billing sessions, unit: session, event_types: [conversation.started], aggregation: sessions}
plans:
  - key: alpha
    name: Alpha
    account_types: [standard]
    products: [bots]
    fees: {month: "10.00"}
    limits:
      billing_sessions: {limit: 1000, period: month}
  - key: beta
    name: Beta
    account_types: [standard]
    products: [bots]
    fees: {month: "10.00"}
`

func mustCatalog(t testing.TB, name string) *catalog.Catalog {
	t.Helper()
	var cat *catalog.Catalog
	var err error
	if name == "quote-test" {
		cat, err = catalog.Parse("quote-test.yaml", []byte(quoteCatalog))
	} else {
		cat, err = catalog.ParseExample(name)
	}
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// planResult is what a case expects of one plan; -1 leaves an amount unchecked.
type planResult struct {
	available bool
	code      string
	total     int64 // total_minor, for the period
	perMonth  int64 // total_per_month_minor; -1: same as total
}

// TestQuote holds the calculator to the seeds' edges on the shipped catalogs, every
// amount worked out by hand from the catalog's prices.
func TestQuote(t *testing.T) {
	gpt4o := func(in, out int64, byo bool) billow.QuoteLLM {
		return billow.QuoteLLM{Provider: "openai", Model: "gpt-4o", InputTokens: in, OutputTokens: out, BYOKey: byo}
	}
	tests := []struct {
		name     string
		catalog  string
		account  *billow.Account
		in       billow.QuoteInput
		cheapest string
		plans    map[string]planResult
		check    func(t *testing.T, q *billow.Quote)
	}{
		{
			name: "no usage: Free is cheapest", catalog: "credits-platform",
			cheapest: "free",
			plans: map[string]planResult{
				"free":          {available: true, total: 0},
				"pay_as_you_go": {available: true, total: 2000},
				// Not offered to a standard account, still priced at its list price.
				"enterprise": {available: false, code: billow.CodePlanNotForType, total: 100000},
			},
			check: func(t *testing.T, q *billow.Quote) {
				if q.Currency != "USD" || q.CurrencyDigits != 2 || q.CreditsPerCurrencyUnit != 1000 || q.Months != 1 || q.Interval != "month" {
					t.Errorf("quote head = %+v", q)
				}
				if ent := plan(t, q, "enterprise"); !ent.Priced || !ent.CustomPricing || ent.Reason != "Enterprise is for enterprise accounts" {
					t.Errorf("enterprise = %+v", ent)
				}
			},
		},
		{
			// $12 of LLM cost (4M gpt-4o input tokens at $2.50/M plus 20%): Free buys all
			// 12,000 credits; Pay as you go's $5 (5,000 credits) pay part of it. 10 apps do
			// not fit Free's 5 agent slots.
			name: "Pay as you go includes $5 of credits", catalog: "credits-platform",
			in:       billow.QuoteInput{Apps: 10, LLM: []billow.QuoteLLM{gpt4o(4_000_000, 0, false)}},
			cheapest: "pay_as_you_go",
			plans: map[string]planResult{
				"free":          {available: false, code: billow.CodeAgentSlotsExceeded, total: 1200},
				"pay_as_you_go": {available: true, total: 2000 + 700},
			},
			check: func(t *testing.T, q *billow.Quote) {
				p := plan(t, q, "pay_as_you_go")
				if p.UsageUcr != 12_000_000_000 || p.IncludedCreditsUcr != 5_000_000_000 || p.CreditsAppliedUcr != 5_000_000_000 ||
					p.CreditsToBuyUcr != 7_000_000_000 || p.CreditsMinor != 700 {
					t.Errorf("credits of pay as you go = %+v", p)
				}
				if r := plan(t, q, "free").Reason; r != "10 apps need 10 agent slots; Free gives 5" {
					t.Errorf("free's reason = %q", r)
				}
				l := line(t, p, "llm_credits")
				if l.AmountUcr != 12_000_000_000 || l.Quantity.String() != "12000" || l.Unit != "credit" || !l.Estimated || l.BilledIn != "credits" {
					t.Errorf("llm line = %+v", l)
				}
			},
		},
		{
			// 100 voice minutes are 6,000 s at $0.0015: $9, 9,000 credits; within the
			// included credits on Pay as you go.
			name: "voice minutes", catalog: "credits-platform",
			in:       billow.QuoteInput{VoiceMinutesPerMonth: 100, VoiceSessionsPerMonth: 40},
			cheapest: "free",
			plans: map[string]planResult{
				"free":          {available: true, total: 900},
				"pay_as_you_go": {available: true, total: 2000 + 400},
			},
		},
		{
			// seed 000: a 31-minute conversation is 3 billing sessions. 3,000 sessions less
			// Essential's 500 at $0.05: $125; within Advanced's 5,000.
			name: "31-minute conversations are 3 sessions each", catalog: "ai-for-service",
			in:       billow.QuoteInput{ConversationsPerMonth: 1000, ConversationMinutes: 31},
			cheapest: "essential",
			plans: map[string]planResult{
				"essential":  {available: true, total: 5000 + 12500},
				"advanced":   {available: true, total: 50000},
				"enterprise": {available: false, code: billow.CodePlanNotForType, total: -1},
			},
			check: func(t *testing.T, q *billow.Quote) {
				if q.SessionsPerConversation != 3 {
					t.Errorf("sessions per conversation = %d", q.SessionsPerConversation)
				}
				l := line(t, plan(t, q, "essential"), "billing_sessions")
				if l.Quantity.String() != "3000" || l.Allowance.String() != "500" || l.Billable.String() != "2500" || l.AmountMinor != 12500 ||
					l.UnitPrice != "0.05" || l.Exact != "12500" {
					t.Errorf("sessions line = %+v", l)
				}
				if u := q.Usage[0]; u.Meter != "billing_sessions" || u.Quantity.String() != "3000" {
					t.Errorf("usage = %+v", q.Usage)
				}
			},
		},
		{
			name: "15 minutes are 1 session, 0 minutes too", catalog: "ai-for-service",
			in:       billow.QuoteInput{ConversationsPerMonth: 600, ConversationMinutes: 15},
			cheapest: "essential",
			plans:    map[string]planResult{"essential": {available: true, total: 5000 + 100*5}},
			check: func(t *testing.T, q *billow.Quote) {
				q0, err := billing.Quote(mustCatalog(t, "ai-for-service"), nil, billow.QuoteInput{ConversationsPerMonth: 600})
				if err != nil || q.SessionsPerConversation != 1 || q0.SessionsPerConversation != 1 || q0.Plans[0].TotalMinor != q.Plans[0].TotalMinor {
					t.Errorf("sessions per conversation %d and %d, %v", q.SessionsPerConversation, q0.SessionsPerConversation, err)
				}
			},
		},
		{
			// Yearly fees: Essential $540 a year ($45 a month) plus 12 months of $125 of
			// sessions; its 5,000 free credits come once a year.
			name: "annual pricing", catalog: "ai-for-service",
			in:       billow.QuoteInput{Interval: "year", ConversationsPerMonth: 1000, ConversationMinutes: 31},
			cheapest: "essential",
			plans: map[string]planResult{
				"essential": {available: true, total: 54000 + 12*12500, perMonth: 4500 + 12500},
				"advanced":  {available: true, total: 540000, perMonth: 45000},
			},
			check: func(t *testing.T, q *billow.Quote) {
				p := plan(t, q, "essential")
				if q.Months != 12 || p.FeeMinor != 54000 || p.FixedPerMonthMinor != 4500 || p.IncludedCreditsUcr != 5_000_000_000 {
					t.Errorf("annual essential = %+v", p)
				}
			},
		},
		{
			name: "annual on a catalog of monthly plans: nothing is available", catalog: "credits-platform",
			in:       billow.QuoteInput{Interval: "year"},
			cheapest: "",
			plans: map[string]planResult{
				"free":          {available: false, code: billow.CodeUnknownInterval, total: 0},
				"pay_as_you_go": {available: false, code: billow.CodeUnknownInterval, total: 0},
			},
			check: func(t *testing.T, q *billow.Quote) {
				if p := plan(t, q, "free"); p.Priced || p.Reason != "Free is not offered with yearly billing" || len(p.Lines) != 0 {
					t.Errorf("free = %+v", p)
				}
			},
		},
		{
			// Three workspace seats at $10 on any plan; a Whitelabel is not offered on Free.
			name: "add-on quantities", catalog: "credits-platform",
			in:       billow.QuoteInput{AddOns: []billow.QuoteAddOn{{AddOn: "workspace_seat", Quantity: 3}, {AddOn: "whitelabel", Quantity: 1}}},
			cheapest: "pay_as_you_go",
			plans: map[string]planResult{
				"free":          {available: false, code: billow.CodeUnknownAddOn, total: 0},
				"pay_as_you_go": {available: true, total: 2000 + 3000 + 20000},
			},
			check: func(t *testing.T, q *billow.Quote) {
				if r := plan(t, q, "free").Reason; r != "Whitelabel is not offered on Free" {
					t.Errorf("free's reason = %q", r)
				}
				p := plan(t, q, "pay_as_you_go")
				if l := line(t, p, "workspace_seat"); l.Kind != "add_on" || l.Quantity.String() != "3" || l.UnitPrice != "10.00" || l.AmountMinor != 3000 {
					t.Errorf("workspace seats = %+v", l)
				}
				if p.AddOnsMinor != 23000 || p.FixedPerMonthMinor != 25000 || p.Lines[0].Kind != "fee" || p.Lines[0].Description != "Pay as you go plan" {
					t.Errorf("pay as you go = %+v", p)
				}
			},
		},
		{
			name: "an add-on beyond its max_quantity", catalog: "credits-platform",
			in:       billow.QuoteInput{AddOns: []billow.QuoteAddOn{{AddOn: "workspace_seat", Quantity: 101}}},
			cheapest: "",
			plans: map[string]planResult{
				"free": {available: false, code: billow.CodeAddOnQuantity, total: 0},
			},
			check: func(t *testing.T, q *billow.Quote) {
				if r := plan(t, q, "free").Reason; r != "Workspace seat is sold in up to 100 units" {
					t.Errorf("reason = %q", r)
				}
			},
		},
		{
			// Tokens on the customer's own key cost nothing, and Free does not allow own keys.
			name: "BYO-key tokens are exempt", catalog: "credits-platform",
			in:       billow.QuoteInput{LLM: []billow.QuoteLLM{gpt4o(10_000_000, 1_000_000, true), gpt4o(1_000_000, 0, false)}},
			cheapest: "pay_as_you_go",
			plans: map[string]planResult{
				"free":          {available: false, code: billow.CodeBYOKeyNotIncluded, total: 300},
				"pay_as_you_go": {available: true, total: 2000},
			},
			check: func(t *testing.T, q *billow.Quote) {
				p := plan(t, q, "pay_as_you_go")
				if p.UsageUcr != 3_000_000_000 || p.CreditsToBuyUcr != 0 {
					t.Errorf("pay as you go = %+v", p)
				}
				var tokens string
				for _, u := range q.Usage {
					if u.Meter == "llm_tokens" {
						tokens = u.Quantity.String()
					}
				}
				if tokens != "12000000" {
					t.Errorf("llm_tokens = %s: own-key tokens are still tokens", tokens)
				}
			},
		},
		{
			// 45 credits ($0.045: 15,000 gpt-4o input tokens at $3/M with markup) cost 4.5
			// cents, rounded once, half up: 5 (half to even would give 4).
			name: "the credits bought are rounded once, half up", catalog: "credits-platform",
			in:       billow.QuoteInput{LLM: []billow.QuoteLLM{gpt4o(15_000, 0, false)}},
			cheapest: "free",
			plans:    map[string]planResult{"free": {available: true, total: 5}},
		},
		{
			// seed 000: 100 named agents over 3 shifts, 50 at once. Advanced counts
			// Contact Center seats at $60 named or $90 concurrent: concurrent is cheaper.
			name: "seats are counted the cheaper way", catalog: "ai-for-service",
			in:       billow.QuoteInput{Seats: []billow.QuoteSeat{{Product: "contact_center_ai", Named: 100, Concurrent: 50}}},
			cheapest: "advanced",
			plans: map[string]planResult{
				"essential": {available: false, code: billow.CodeProductNotIncluded, total: 5000},
				"advanced":  {available: true, total: 50000 + 50*9000},
			},
			check: func(t *testing.T, q *billow.Quote) {
				l := line(t, plan(t, q, "advanced"), `concurrent_agents{product="contact_center"}`)
				if l.Kind != "seats" || l.Mode != billow.SeatsConcurrent || l.AmountMinor != 450000 || l.Description != "Contact Center AI seats (concurrent)" {
					t.Errorf("seats line = %+v", l)
				}
			},
		},
		{
			name: "seats counted named when asked", catalog: "ai-for-service",
			in:       billow.QuoteInput{Seats: []billow.QuoteSeat{{Product: "contact_center_ai", Named: 100, Concurrent: 50, Mode: billow.SeatsNamed}}},
			cheapest: "advanced",
			plans:    map[string]planResult{"advanced": {available: true, total: 50000 + 100*6000}},
		},
		{
			name: "an enterprise account gets the enterprise plan", catalog: "ai-for-service",
			account:  &billow.Account{ID: "acct_1", Type: billow.AccountEnterprise},
			in:       billow.QuoteInput{AccountType: billow.AccountStandard}, // the account's own type counts
			cheapest: "enterprise",
			plans: map[string]planResult{
				"essential":  {available: false, code: billow.CodePlanNotForType, total: 5000},
				"enterprise": {available: true, total: 500000},
			},
			check: func(t *testing.T, q *billow.Quote) {
				if q.Account != "acct_1" || q.AccountType != billow.AccountEnterprise {
					t.Errorf("quote of %q, type %s", q.Account, q.AccountType)
				}
			},
		},
		{
			// Plans of the same total: the one listed first in the catalog is the cheapest.
			name: "a tie goes to the plan listed first", catalog: "quote-test",
			in:       billow.QuoteInput{ConversationsPerMonth: 1000},
			cheapest: "alpha",
			plans: map[string]planResult{
				"alpha": {available: true, total: 1000},
				"beta":  {available: true, total: 1000},
			},
		},
		{
			name: "usage above a monthly limit", catalog: "quote-test",
			in:       billow.QuoteInput{ConversationsPerMonth: 1001},
			cheapest: "beta",
			plans: map[string]planResult{
				"alpha": {available: false, code: billow.CodeLimitExceeded, total: 1000},
				"beta":  {available: true, total: 1000},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cat := mustCatalog(t, tc.catalog)
			q, err := billing.Quote(cat, tc.account, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if q.Cheapest != tc.cheapest {
				t.Errorf("cheapest = %q, want %q", q.Cheapest, tc.cheapest)
			}
			if len(q.Plans) != len(cat.Plans) {
				t.Fatalf("%d plans quoted of %d", len(q.Plans), len(cat.Plans))
			}
			for i, p := range q.Plans {
				if p.Plan != cat.Plans[i].Key {
					t.Errorf("plan %d is %s: the catalog's order is kept", i, p.Plan)
				}
				if p.Cheapest != (p.Plan == tc.cheapest) {
					t.Errorf("%s cheapest = %t", p.Plan, p.Cheapest)
				}
				want, ok := tc.plans[p.Plan]
				if !ok {
					continue
				}
				if p.Available != want.available || p.Code != want.code {
					t.Errorf("%s available %t %q (%s), want %t %q", p.Plan, p.Available, p.Code, p.Reason, want.available, want.code)
				}
				if want.total >= 0 && p.TotalMinor != want.total {
					t.Errorf("%s total = %d, want %d: %+v", p.Plan, p.TotalMinor, want.total, p)
				}
				perMonth := want.perMonth
				if perMonth == 0 {
					perMonth = want.total
				}
				if perMonth >= 0 && p.TotalPerMonthMinor != perMonth {
					t.Errorf("%s per month = %d, want %d", p.Plan, p.TotalPerMonthMinor, perMonth)
				}
			}
			if tc.check != nil {
				tc.check(t, q)
			}
		})
	}
}

// TestQuoteInvalid lists every invalid field in one error, then every reference the
// catalog does not have.
func TestQuoteInvalid(t *testing.T) {
	cat := mustCatalog(t, "credits-platform")
	in := billow.QuoteInput{AccountType: "vip", Interval: "week", ConversationsPerMonth: -1, ConversationMinutes: 1441,
		VoiceMinutesPerMonth: billow.QuoteVoiceMinutesMax + 1, VoiceSessionsPerMonth: -5, Apps: billow.QuoteAppsMax + 1,
		Seats:  []billow.QuoteSeat{{Product: "agents", Named: 5, Concurrent: 6, Mode: "shifts"}, {Product: "agents"}},
		LLM:    []billow.QuoteLLM{{Provider: "", Model: "gpt-4o", InputTokens: billow.QuoteTokensMax + 1, OutputTokens: -1}},
		AddOns: []billow.QuoteAddOn{{AddOn: "workspace_seat", Quantity: 0}, {AddOn: "workspace_seat", Quantity: 1}}}
	_, err := billing.Quote(cat, nil, in)
	want := []string{"account_type", "interval", "conversations_per_month", "conversation_minutes", "voice_minutes_per_month",
		"voice_sessions_per_month", "apps", "seats[0].concurrent", "seats[0].mode", "seats[1].product", "llm[0].provider",
		"llm[0].input_tokens", "llm[0].output_tokens", "add_ons[0].quantity", "add_ons[1].add_on"}
	if got := errorFields(t, err); !cmp.Equal(got, want) {
		t.Errorf("invalid fields:\n%s", cmp.Diff(want, got))
	}

	in = billow.QuoteInput{Seats: []billow.QuoteSeat{{Product: "contact_center_ai", Named: 1}},
		LLM:    []billow.QuoteLLM{{Provider: "openai", Model: "gpt-9", InputTokens: 1}},
		AddOns: []billow.QuoteAddOn{{AddOn: "yacht", Quantity: 1}}}
	_, err = billing.Quote(cat, nil, in)
	if got, want := errorFields(t, err), []string{"seats[0].product", "llm[0].model", "add_ons[0].add_on"}; !cmp.Equal(got, want) {
		t.Errorf("unknown references:\n%s", cmp.Diff(want, got))
	}

	too := billow.QuoteInput{LLM: make([]billow.QuoteLLM, billow.QuoteModelsMax+1), AddOns: make([]billow.QuoteAddOn, billow.QuoteAddOnsMax+1)}
	if got, want := errorFields(t, too.Validate()), []string{"llm", "add_ons"}; !cmp.Equal(got, want) {
		t.Errorf("too many rows: %v", got)
	}
}

func errorFields(t *testing.T, err error) []string {
	t.Helper()
	var e *billow.Error
	if !errors.As(err, &e) || e.Code != billow.CodeValidationFailed || e.Kind != billow.KindInvalid {
		t.Fatalf("error %v, want validation_failed", err)
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.Field)
	}
	return out
}

func plan(t *testing.T, q *billow.Quote, key string) billow.PlanQuote {
	t.Helper()
	for _, p := range q.Plans {
		if p.Plan == key {
			return p
		}
	}
	t.Fatalf("no plan %s in the quote", key)
	return billow.PlanQuote{}
}

func line(t *testing.T, p billow.PlanQuote, key string) billow.QuoteLine {
	t.Helper()
	for _, l := range p.Lines {
		if l.Key == key {
			return l
		}
	}
	t.Fatalf("no line %s in %s: %+v", key, p.Plan, p.Lines)
	return billow.QuoteLine{}
}

// FuzzQuote checks that validation and quoting never panic, that a quote is given exactly
// when the input is valid, that it is deterministic, and that its sums hold: the total is
// the fees, the usage of the period and the credits bought; included credits pay no more
// than the usage; the cheapest plan is available and no available plan costs less.
func FuzzQuote(f *testing.F) {
	f.Add(uint8(0), false, int64(1000), int64(31), int64(100), int64(40), int64(3), "contact_center_ai", int64(100), int64(50), "",
		uint8(0), int64(4_000_000), int64(1_000_000), false, "workspace_seat", int64(3))
	f.Add(uint8(1), true, int64(0), int64(0), int64(0), int64(0), int64(0), "", int64(0), int64(0), "concurrent",
		uint8(3), int64(0), int64(0), true, "", int64(0))
	f.Add(uint8(2), false, int64(billow.QuoteConversationsMax), int64(1), int64(billow.QuoteVoiceMinutesMax), int64(billow.QuoteVoiceSessionsMax),
		int64(billow.QuoteAppsMax), "agent_ai", int64(billow.QuoteAgentsMax), int64(billow.QuoteAgentsMax), "named",
		uint8(5), int64(billow.QuoteTokensMax), int64(billow.QuoteTokensMax), false, "whitelabel", int64(1))
	cats := []*catalog.Catalog{mustCatalog(f, "credits-platform"), mustCatalog(f, "ai-for-service"), mustCatalog(f, "quote-test")}
	f.Fuzz(func(t *testing.T, catIdx uint8, year bool, conversations, minutes, voiceMinutes, voiceSessions, apps int64,
		product string, named, concurrent int64, mode string, modelIdx uint8, input, output int64, byo bool, addOn string, addOnQuantity int64) {
		cat := cats[int(catIdx)%len(cats)]
		in := billow.QuoteInput{ConversationsPerMonth: conversations, ConversationMinutes: minutes, VoiceMinutesPerMonth: voiceMinutes,
			VoiceSessionsPerMonth: voiceSessions, Apps: apps}
		if year {
			in.Interval = "year"
		}
		if product != "" {
			in.Seats = []billow.QuoteSeat{{Product: product, Named: named, Concurrent: concurrent, Mode: billow.SeatMode(mode)}}
		}
		if rows := cat.ProviderCosts.LLM; len(rows) > 0 {
			r := rows[int(modelIdx)%len(rows)]
			// Every model of the table at once, the fuzzed one with the fuzzed tokens:
			// the largest sums the limits allow.
			for _, row := range rows {
				in.LLM = append(in.LLM, billow.QuoteLLM{Provider: row.Provider, Model: row.Model, InputTokens: input, OutputTokens: output})
				if row == r {
					in.LLM[len(in.LLM)-1].BYOKey = byo
				}
			}
		}
		if addOn != "" {
			in.AddOns = []billow.QuoteAddOn{{AddOn: addOn, Quantity: addOnQuantity}}
		}
		validErr := in.Validate()
		q, err := billing.Quote(cat, nil, in)
		if validErr != nil {
			if err == nil || billow.ErrorCode(err) != billow.CodeValidationFailed {
				t.Fatalf("invalid input (%v) quoted: %v", validErr, err)
			}
			return
		}
		if err != nil {
			if billow.ErrorCode(err) != billow.CodeValidationFailed {
				t.Fatalf("valid input: %v", err)
			}
			return // a product or add-on the catalog does not have
		}
		again, err := billing.Quote(cat, nil, in)
		first, _ := json.Marshal(q)
		second, _ := json.Marshal(again)
		if err != nil || string(first) != string(second) {
			t.Fatalf("a second quote differs: %v\n%s\n%s", err, first, second)
		}
		var cheapest *billow.PlanQuote
		for i := range q.Plans {
			p := &q.Plans[i]
			if p.Cheapest {
				if cheapest != nil || !p.Available || q.Cheapest != p.Plan {
					t.Fatalf("cheapest %s: %+v", q.Cheapest, q.Plans)
				}
				cheapest = p
			}
			if !p.Available && (p.Code == "" || p.Reason == "") {
				t.Fatalf("%s not available without a reason", p.Plan)
			}
			if !p.Priced {
				if p.Available {
					t.Fatalf("%s available but not priced", p.Plan)
				}
				continue
			}
			sum := p.FeeMinor + p.AddOnsMinor + p.UsageMinor*q.Months + p.CreditsMinor
			if p.TotalMinor != sum || p.CreditsAppliedUcr > p.IncludedCreditsUcr || p.CreditsAppliedUcr+p.CreditsToBuyUcr != p.UsageUcr*q.Months ||
				p.TotalMinor < 0 || p.TotalPerMonthMinor*q.Months-p.TotalMinor > q.Months || p.TotalMinor-p.TotalPerMonthMinor*q.Months > q.Months {
				t.Fatalf("%s sums do not hold: %+v", p.Plan, p)
			}
			var minor, ucr int64
			for _, l := range p.Lines {
				if l.Kind == billow.QuoteLineUsage || l.Kind == billow.QuoteLineSeats {
					minor += l.AmountMinor
					ucr += l.AmountUcr
				}
			}
			if minor != p.UsageMinor || ucr != p.UsageUcr {
				t.Fatalf("%s lines add up to %d minor and %d µcr: %+v", p.Plan, minor, ucr, p)
			}
		}
		for _, p := range q.Plans {
			if p.Available && cheapest != nil && p.TotalMinor < cheapest.TotalMinor {
				t.Fatalf("%s costs %d, less than the cheapest %s", p.Plan, p.TotalMinor, cheapest.Plan)
			}
			if p.Available && cheapest == nil {
				t.Fatalf("%s is available and no plan is the cheapest", p.Plan)
			}
		}
		if !slices.ContainsFunc(q.Plans, func(p billow.PlanQuote) bool { return p.Available }) && q.Cheapest != "" {
			t.Fatal(fmt.Sprint("cheapest without an available plan: ", q.Cheapest))
		}
	})
}

// TestQuoteUses: a form asks for what the catalog's plans price. The credits platform
// prices LLM cost and voice time; AI for Service prices sessions, voice sessions, LLM
// cost and seats of two products; both have agent slots.
func TestQuoteUses(t *testing.T) {
	tests := map[string]billing.QuoteUse{
		"credits-platform": {VoiceMinutes: true, LLM: true, Apps: true},
		"ai-for-service":   {Conversations: true, VoiceSessions: true, LLM: true, Apps: true, SeatProducts: []string{"contact_center_ai", "agent_ai"}},
		"quote-test":       {Conversations: true}, // a monthly limit on sessions
	}
	for name, want := range tests {
		if got := billing.QuoteUses(mustCatalog(t, name)); !cmp.Equal(got, want) {
			t.Errorf("%s: %s", name, cmp.Diff(want, got))
		}
	}
}

// TestQuoteInputFromUsage reads a past period's quantities as a quote's input: the
// sessions as conversations of one block, voice seconds rounded up to minutes, named
// agents at least the concurrent ones, tokens split 3 input to 1 output; only the first
// models rows are read.
func TestQuoteInputFromUsage(t *testing.T) {
	cat := mustCatalog(t, "ai-for-service")
	var keys []string
	for _, s := range billing.QuoteUsageNeeds(cat, 2) {
		keys = append(keys, s.Key())
	}
	want := []string{"billing_sessions", "voice_seconds", "voice_sessions",
		`named_agents{product="contact_center"}`, `concurrent_agents{product="contact_center"}`,
		`named_agents{product="agent_ai"}`, `concurrent_agents{product="agent_ai"}`,
		`llm_tokens{model="gpt-4o",provider="openai"}`, `llm_tokens{model="gpt-4o-mini",provider="openai"}`}
	if !cmp.Equal(keys, want) {
		t.Fatalf("needs:\n%s", cmp.Diff(want, keys))
	}
	qs := map[string]decimal.Decimal{"billing_sessions": decimal.NewFromInt(1234), "voice_seconds": decimal.RequireFromString("61.5"),
		"voice_sessions": decimal.NewFromInt(10), `named_agents{product="contact_center"}`: decimal.NewFromInt(30),
		`concurrent_agents{product="contact_center"}`: decimal.NewFromInt(40), `named_agents{product="agent_ai"}`: decimal.Zero,
		`llm_tokens{model="gpt-4o",provider="openai"}`: decimal.NewFromInt(1001)}
	got := billing.QuoteInputFromUsage(cat, 2, qs)
	wantIn := billow.QuoteInput{ConversationsPerMonth: 1234, ConversationMinutes: 15, VoiceMinutesPerMonth: 2, VoiceSessionsPerMonth: 10,
		Seats: []billow.QuoteSeat{{Product: "contact_center_ai", Named: 40, Concurrent: 40}},
		LLM:   []billow.QuoteLLM{{Provider: "openai", Model: "gpt-4o", InputTokens: 750, OutputTokens: 251}}}
	if !cmp.Equal(got, wantIn) {
		t.Errorf("input:\n%s", cmp.Diff(wantIn, got))
	}
	if err := got.Validate(); err != nil {
		t.Errorf("the input from usage is invalid: %v", err)
	}
	if q, err := billing.Quote(cat, nil, got); err != nil || q.Usage[0].Quantity.String() != "1234" {
		t.Errorf("quoting the usage gives %v sessions: %v", q.Usage, err)
	}
}
