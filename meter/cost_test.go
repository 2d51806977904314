package meter_test

import (
	"errors"
	"testing"

	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/meter"
)

func TestLLMCostMicroCredits(t *testing.T) {
	shipped := example(t, "credits-platform") // 20% markup, 1 USD = 1,000 credits
	// halves prices a token at 2.5 µcr (0.0025 USD per million tokens, no markup), so
	// that rounding shows.
	halves := &catalog.Catalog{
		Credits: catalog.Credits{PerCurrencyUnit: 1000},
		ProviderCosts: catalog.ProviderCosts{MarkupPercent: "0", LLM: []catalog.LLMCost{
			{Provider: "p", Model: "m", InputPerMillion: "0.0025", OutputPerMillion: "0.0025"},
		}},
	}
	tests := []struct {
		name    string
		catalog *catalog.Catalog
		event   meter.Event
		cost    string // exact, in USD
		ucr     int64
	}{
		{
			// (1,000 × 2.50 + 500 × 10.00) / 1e6 = 0.0075 USD, × 1.2 = 0.009 USD = 9 credits.
			name: "gpt-4o with the 20% markup", catalog: shipped,
			event: llm("bot", "openai", "gpt-4o", 1000, 500, false, 0), cost: "0.009", ucr: 9_000_000,
		},
		{
			// 1 × 0.075 / 1e6 × 1.2 = 0.00000009 USD = 90 µcr.
			name: "one token of gemini-1.5-flash", catalog: shipped,
			event: llm("bot", "google", "gemini-1.5-flash", 1, 0, false, 0), cost: "0.00000009", ucr: 90,
		},
		{
			// 1,000,000 tokens each way of claude-3-5-sonnet: (3 + 15) × 1.2 = 21.6 USD.
			name: "a million tokens each way", catalog: shipped,
			event: llm("bot", "anthropic", "claude-3-5-sonnet", 1_000_000, 1_000_000, false, 0), cost: "21.6", ucr: 21_600_000_000,
		},
		{name: "2.5 µcr rounds half to even: 2", catalog: halves, event: llm("bot", "p", "m", 1, 0, false, 0), cost: "0.0000000025", ucr: 2},
		{name: "7.5 µcr rounds half to even: 8", catalog: halves, event: llm("bot", "p", "m", 3, 0, false, 0), cost: "0.0000000075", ucr: 8},
		{
			// Input and output are 2.5 µcr each: rounded once, 5; rounded each, 2 + 2 = 4.
			name: "rounded once, not per term", catalog: halves,
			event: llm("bot", "p", "m", 1, 1, false, 0), cost: "0.000000005", ucr: 5,
		},
		{name: "no tokens cost nothing", catalog: shipped, event: llm("bot", "openai", "gpt-4o", 0, 0, false, 0), cost: "0", ucr: 0},
		{name: "byo_key costs nothing", catalog: shipped, event: llm("bot", "openai", "gpt-4o", 1000, 500, true, 0), cost: "0", ucr: 0},
		{name: "byo_key costs nothing, even for a model the catalog does not price", catalog: shipped,
			event: llm("bot", "mistral", "large", 1000, 500, true, 0), cost: "0", ucr: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cost, err := meter.LLMCost(&tt.event, &tt.catalog.ProviderCosts)
			if err != nil {
				t.Fatal(err)
			}
			if !cost.Equal(dec(tt.cost)) {
				t.Errorf("cost = %s USD, want %s", cost, tt.cost)
			}
			ucr, err := meter.LLMCostMicroCredits(&tt.event, &tt.catalog.ProviderCosts, tt.catalog.Credits)
			if err != nil {
				t.Fatal(err)
			}
			if ucr != tt.ucr {
				t.Errorf("cost = %d µcr, want %d", ucr, tt.ucr)
			}
		})
	}
}

func TestLLMCostErrors(t *testing.T) {
	c := example(t, "credits-platform")
	huge := &catalog.ProviderCosts{LLM: []catalog.LLMCost{{Provider: "p", Model: "m", InputPerMillion: "1000000000", OutputPerMillion: "0"}}}
	tests := []struct {
		name  string
		event meter.Event
		costs *catalog.ProviderCosts
		code  string
		field string
	}{
		{"unknown model", llm("bot", "openai", "gpt-9", 1, 1, false, 0), &c.ProviderCosts, meter.CodeUnknownModel, "model"},
		{"unknown provider", llm("bot", "acme", "gpt-4o", 1, 1, false, 0), &c.ProviderCosts, meter.CodeUnknownModel, "model"},
		{"another event type", voice("bot", "stt", 1000, 0), &c.ProviderCosts, meter.CodeInvalidEvent, "type"},
		{"negative tokens", llm("bot", "openai", "gpt-4o", -1, 1, false, 0), &c.ProviderCosts, meter.CodeInvalidEvent, "input_tokens"},
		{"beyond an int64 of µcr", llm("bot", "p", "m", 1_000_000_000_000_000, 0, false, 0), huge, meter.CodeOutOfRange, "input_tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := meter.LLMCostMicroCredits(&tt.event, tt.costs, c.Credits)
			var e *meter.Error
			if !errors.As(err, &e) || e.Code != tt.code || e.Field != tt.field {
				t.Errorf("err = %v, want code %s on field %s", err, tt.code, tt.field)
			}
		})
	}
}
