package meter

import (
	"math"

	"github.com/billowhq/billow/catalog"
	"github.com/shopspring/decimal"
)

// LLMCost returns the exact cost of an llm.usage event in the catalog currency, markup
// included and not rounded:
//
//	(input_tokens × input_per_million + output_tokens × output_per_million) / 1,000,000
//	  × (1 + markup_percent / 100)
//
// An event made with the customer's own key (byo_key) costs 0, whatever its model: the
// provider bills the customer, not the operator. It returns a CodeUnknownModel error when
// the cost table has no row for the event's provider and model, so that ingest can reject
// the event, and a CodeInvalidEvent error for another event type or negative tokens.
func LLMCost(e *Event, costs *catalog.ProviderCosts) (decimal.Decimal, error) {
	switch {
	case e.Type != TypeLLMUsage:
		return decimal.Decimal{}, errorf(CodeInvalidEvent, "type", "an LLM cost is for %s events (%s given)", TypeLLMUsage, e.Type)
	case e.InputTokens < 0:
		return decimal.Decimal{}, errorf(CodeInvalidEvent, "input_tokens", "must not be negative (%d given)", e.InputTokens)
	case e.OutputTokens < 0:
		return decimal.Decimal{}, errorf(CodeInvalidEvent, "output_tokens", "must not be negative (%d given)", e.OutputTokens)
	case e.BYOKey:
		return decimal.Zero, nil
	}
	row, ok := costs.LLMCost(e.Provider, e.Model)
	if !ok {
		return decimal.Decimal{}, errorf(CodeUnknownModel, "model", "the catalog has no LLM cost for provider %q, model %q", e.Provider, e.Model)
	}
	in := catalogDecimal(row.InputPerMillion, "input_per_million")
	out := catalogDecimal(row.OutputPerMillion, "output_per_million")
	markup := decimal.Zero
	if costs.MarkupPercent != "" {
		markup = catalogDecimal(costs.MarkupPercent, "markup_percent")
	}
	// Shift moves the decimal point: exact, unlike a division.
	perMillion := decimal.NewFromInt(e.InputTokens).Mul(in).Add(decimal.NewFromInt(e.OutputTokens).Mul(out))
	return perMillion.Shift(-6).Mul(decimal.NewFromInt(1).Add(markup.Shift(-2))), nil
}

// LLMCostMicroCredits returns the cost of an llm.usage event in micro-credits: LLMCost
// × credits.PerCurrencyUnit × 1,000,000, rounded once, half to even (banker's rounding,
// so that rounding over many events has no bias up or down). At 1 USD = 1,000 credits,
// 1 USD is 1,000,000,000 µcr. It returns LLMCost's errors, and a CodeOutOfRange error
// when the cost does not fit an int64 of micro-credits.
func LLMCostMicroCredits(e *Event, costs *catalog.ProviderCosts, credits catalog.Credits) (int64, error) {
	cost, err := LLMCost(e, costs)
	if err != nil {
		return 0, err
	}
	ucr := cost.Mul(decimal.NewFromInt(credits.PerCurrencyUnit)).Shift(6).RoundBank(0)
	if ucr.GreaterThan(decimal.NewFromInt(math.MaxInt64)) {
		return 0, errorf(CodeOutOfRange, "input_tokens", "the cost, %s µcr, does not fit an int64", ucr)
	}
	return ucr.IntPart(), nil
}

// catalogDecimal parses a price the catalog has validated; a failure is a broken
// invariant of catalog.Parse, not an input error.
func catalogDecimal(text, field string) decimal.Decimal {
	d, err := decimal.NewFromString(text)
	if err != nil {
		panic("meter: catalog " + field + " " + text + " passed validation but does not parse: " + err.Error())
	}
	return d
}
