package billow

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// The pricing calculator (seed 004) estimates what usage would cost on each plan of a
// catalog: POST /v1/quotes and the portal's /portal/calculator both call billing.Quote,
// which prices the estimate with the rating rules and the subscription's recurring prices
// that real invoices use. docs/quotes.md describes the inputs, the formula and the rounding.

// Limits of a quote's input, named with their unit last. They keep every estimate far
// inside the bounds of rating (quantities below 10^24) and of an int64 of micro-credits.
const (
	// QuoteConversationsMax bounds the conversations of a month.
	QuoteConversationsMax = 1_000_000_000
	// QuoteConversationMinutesMax bounds the average length of a conversation: a day.
	QuoteConversationMinutesMax = 24 * 60
	// QuoteVoiceMinutesMax bounds the voice minutes of a month.
	QuoteVoiceMinutesMax = 1_000_000_000
	// QuoteVoiceSessionsMax bounds the voice interactions of a month.
	QuoteVoiceSessionsMax = 1_000_000_000
	// QuoteAppsMax bounds the apps (AI agents) an estimate counts against agent slots.
	QuoteAppsMax = 1_000_000
	// QuoteAgentsMax bounds the human agents of one product, named or concurrent.
	QuoteAgentsMax = 10_000_000
	// QuoteSeatProductsMax bounds the products seats are given for (a catalog has at most
	// 64 products).
	QuoteSeatProductsMax = 64
	// QuoteTokensMax bounds the input or output tokens of one model in a month.
	QuoteTokensMax = 10_000_000_000_000
	// QuoteModelsMax bounds the LLM rows of an estimate.
	QuoteModelsMax = 50
	// QuoteAddOnsMax bounds the add-ons of an estimate, as of a subscription.
	QuoteAddOnsMax = SubscriptionAddOnsMax
	// QuoteNameBytesMax bounds a provider, model or product name.
	QuoteNameBytesMax = 128
)

// Codes of a plan a quote finds not available (PlanQuote.Code), beside billing's
// unknown_interval, unknown_add_on, add_on_quantity and plan_not_for_account_type.
const (
	// CodeAgentSlotsExceeded: the apps estimated are more than the plan and its add-ons
	// give agent slots for.
	CodeAgentSlotsExceeded = "agent_slots_exceeded"
	// CodeBYOKeyNotIncluded: LLM usage with the customer's own key on a plan that does not
	// grant byo_api_keys.
	CodeBYOKeyNotIncluded = "byo_key_not_included"
	// CodeProductNotIncluded: agent seats of a product the plan does not include.
	CodeProductNotIncluded = "product_not_included"
	// CodeSeatModeNotOffered: a seat counting the plan does not price for the product.
	CodeSeatModeNotOffered = "seat_mode_not_offered"
	// CodeLimitExceeded: the estimated usage of a month is above a monthly limit of the plan.
	CodeLimitExceeded = "limit_exceeded"
)

// QuoteInput is the usage a quote estimates, per month. Every quantity is a whole number;
// an absent one is 0. See docs/quotes.md for how each becomes a meter's quantity.
type QuoteInput struct {
	// AccountType chooses the plans offered when no account is named: standard (the
	// default) or enterprise. An account's own type overrides it.
	AccountType AccountType `json:"account_type,omitempty" doc:"standard (default) or enterprise: only the plans offered to this type are available. Ignored when an account is named: its own type counts."`
	// Interval is the billing interval of the fees: month (the default) or year.
	Interval              string `json:"interval,omitempty" doc:"month (default) or year: the interval the plan and add-on fees are paid for."`
	ConversationsPerMonth int64  `json:"conversations_per_month,omitempty" doc:"Conversations (and API sessions) a month, 0 to 1,000,000,000."`
	// ConversationMinutes is the average length of a conversation; each is cut into
	// billing sessions of the catalog's block (15 minutes: 31 minutes are 3 sessions).
	ConversationMinutes   int64 `json:"conversation_minutes,omitempty" doc:"Average length of a conversation in whole minutes, 0 to 1,440. Each started 15-minute block is a billing session (31 minutes are 3); 0 is a single message, one session."`
	VoiceMinutesPerMonth  int64 `json:"voice_minutes_per_month,omitempty" doc:"Minutes of voice (STT, TTS, gateway) a month, 0 to 1,000,000,000: the voice_seconds meter."`
	VoiceSessionsPerMonth int64 `json:"voice_sessions_per_month,omitempty" doc:"Voice interactions (STT, TTS and gateway calls) a month, 0 to 1,000,000,000: the voice_sessions meter."`
	// Apps are the AI agents the account would run, counted against agent slots.
	Apps   int64        `json:"apps,omitempty" doc:"Apps (AI agents) the account would run, 0 to 1,000,000: a plan with fewer agent slots is not available."`
	Seats  []QuoteSeat  `json:"seats,omitempty" doc:"Human agent seats per product (Contact Center AI, Agent AI), at most 64 products."`
	LLM    []QuoteLLM   `json:"llm,omitempty" doc:"LLM tokens a month per provider and model of the catalog's provider table, at most 50 rows."`
	AddOns []QuoteAddOn `json:"add_ons,omitempty" doc:"Add-ons with their quantities, at most 20."`
}

// QuoteSeat is the human agents of one product in a month.
type QuoteSeat struct {
	Product string `json:"product" doc:"A product key of the catalog (contact_center_ai)."`
	// Named is the distinct agents who log in during the month; Concurrent the most
	// logged in at once, which cannot be more than Named.
	Named      int64 `json:"named,omitempty" doc:"Distinct agents who log in during the month (100 agents over 3 shifts: 100), 0 to 10,000,000."`
	Concurrent int64 `json:"concurrent,omitempty" doc:"Most agents logged in at once (50 per shift: 50), at most named."`
	// Mode fixes how the seats are counted; empty lets each plan count them the cheaper
	// way it offers.
	Mode SeatMode `json:"mode,omitempty" doc:"named or concurrent; empty: each plan counts the seats the cheaper way it offers."`
}

// QuoteLLM is the LLM tokens of one model in a month.
type QuoteLLM struct {
	Provider     string `json:"provider" doc:"As in the catalog's provider_costs.llm (openai)."`
	Model        string `json:"model" doc:"As in the catalog's provider_costs.llm (gpt-4o)."`
	InputTokens  int64  `json:"input_tokens,omitempty" doc:"0 to 10,000,000,000,000."`
	OutputTokens int64  `json:"output_tokens,omitempty" doc:"0 to 10,000,000,000,000."`
	// BYOKey says the customer's own provider key pays for these tokens: they cost no
	// credits, and need a plan that allows own keys.
	BYOKey bool `json:"byo_key,omitempty" doc:"Made with the customer's own provider key: not charged, and only on plans that allow own keys."`
}

// QuoteAddOn is an add-on and how many units of it.
type QuoteAddOn struct {
	AddOn    string `json:"add_on" doc:"An add-on key of the catalog."`
	Quantity int64  `json:"quantity" doc:"1 to 10,000 (and at most the add-on's max_quantity)."`
}

// Normalize fills the defaults: a standard account, monthly fees.
func (in *QuoteInput) Normalize() {
	if in.AccountType == "" {
		in.AccountType = AccountStandard
	}
	if in.Interval == "" {
		in.Interval = "month"
	}
}

// Validate reports every invalid field at once. Whether a product, model or add-on
// exists needs the catalog: billing.Quote checks them.
func (in *QuoteInput) Validate() error {
	var errs fieldErrors
	if in.AccountType != "" && in.AccountType != AccountStandard && in.AccountType != AccountEnterprise {
		errs.add("account_type", "must be standard or enterprise, not %q", in.AccountType)
	}
	if in.Interval != "" {
		validateInterval(&errs, "interval", in.Interval)
	}
	bound := func(field string, v, max int64, unit string) {
		if v < 0 || v > max {
			errs.add(field, "must be between 0 and %s %s (%d given)", groupThousands(max), unit, v)
		}
	}
	bound("conversations_per_month", in.ConversationsPerMonth, QuoteConversationsMax, "conversations")
	bound("conversation_minutes", in.ConversationMinutes, QuoteConversationMinutesMax, "minutes")
	bound("voice_minutes_per_month", in.VoiceMinutesPerMonth, QuoteVoiceMinutesMax, "minutes")
	bound("voice_sessions_per_month", in.VoiceSessionsPerMonth, QuoteVoiceSessionsMax, "sessions")
	bound("apps", in.Apps, QuoteAppsMax, "apps")

	if len(in.Seats) > QuoteSeatProductsMax {
		errs.add("seats", "has %d products, more than %d", len(in.Seats), QuoteSeatProductsMax)
	} else {
		seen := map[string]bool{}
		for i, s := range in.Seats {
			f := fmt.Sprintf("seats[%d]", i)
			validateQuoteName(&errs, f+".product", s.Product)
			if seen[s.Product] && s.Product != "" {
				errs.add(f+".product", "%q is listed twice", s.Product)
			}
			seen[s.Product] = true
			bound(f+".named", s.Named, QuoteAgentsMax, "agents")
			bound(f+".concurrent", s.Concurrent, QuoteAgentsMax, "agents")
			if s.Concurrent > s.Named && s.Named >= 0 && s.Concurrent <= QuoteAgentsMax {
				errs.add(f+".concurrent", "must be at most named (%d): the agents logged in at once are among those who log in at all", s.Named)
			}
			if s.Mode != "" && s.Mode != SeatsNamed && s.Mode != SeatsConcurrent {
				errs.add(f+".mode", "must be named, concurrent or empty, not %q", s.Mode)
			}
		}
	}

	if len(in.LLM) > QuoteModelsMax {
		errs.add("llm", "has %d rows, more than %d", len(in.LLM), QuoteModelsMax)
	} else {
		type row struct {
			provider, model string
			byo             bool
		}
		seen := map[row]bool{}
		for i, l := range in.LLM {
			f := fmt.Sprintf("llm[%d]", i)
			validateQuoteName(&errs, f+".provider", l.Provider)
			validateQuoteName(&errs, f+".model", l.Model)
			k := row{l.Provider, l.Model, l.BYOKey}
			if seen[k] && l.Provider != "" && l.Model != "" {
				errs.add(f+".model", "%s %s (byo_key %t) is listed twice", l.Provider, l.Model, l.BYOKey)
			}
			seen[k] = true
			bound(f+".input_tokens", l.InputTokens, QuoteTokensMax, "tokens")
			bound(f+".output_tokens", l.OutputTokens, QuoteTokensMax, "tokens")
		}
	}

	if len(in.AddOns) > QuoteAddOnsMax {
		errs.add("add_ons", "has %d add-ons, more than %d", len(in.AddOns), QuoteAddOnsMax)
	} else {
		seen := map[string]bool{}
		for i, a := range in.AddOns {
			f := fmt.Sprintf("add_ons[%d]", i)
			validateQuoteName(&errs, f+".add_on", a.AddOn)
			if seen[a.AddOn] && a.AddOn != "" {
				errs.add(f+".add_on", "%q is listed twice", a.AddOn)
			}
			seen[a.AddOn] = true
			if a.Quantity < 1 || a.Quantity > AddOnQuantityMax {
				errs.add(f+".quantity", "must be between 1 and %s (%d given)", groupThousands(AddOnQuantityMax), a.Quantity)
			}
		}
	}
	return errs.err()
}

// validateQuoteName checks a key or name of the catalog: present, at most
// QuoteNameBytesMax bytes of UTF-8 without control characters.
func validateQuoteName(errs *fieldErrors, field, v string) {
	switch {
	case v == "":
		errs.add(field, "is required")
	case len(v) > QuoteNameBytesMax:
		errs.add(field, "must be at most %d bytes", QuoteNameBytesMax)
	case !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		errs.add(field, "must be text without control characters")
	}
}

// groupThousands writes n with commas between groups of three digits, as limits are
// written in the docs.
func groupThousands(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Quote is what the usage of a QuoteInput would cost on each plan of a catalog. Amounts
// are integers: minor units of Currency (_minor) or micro-credits (_ucr). Usage lines
// are per month; fees, credits and totals per billing period of Interval (Months months),
// with the per-month figures beside them. Nothing is stored: a quote is computed anew.
type Quote struct {
	Catalog        string      `json:"catalog" doc:"The catalog's name."`
	Account        string      `json:"account,omitempty" doc:"The account whose catalog (with its contract) priced the quote."`
	AccountType    AccountType `json:"account_type"`
	Currency       string      `json:"currency"`
	CurrencyDigits int64       `json:"currency_digits"`
	// CreditsPerCurrencyUnit is the catalog's credit rate (1 USD = 1,000 credits).
	CreditsPerCurrencyUnit int64  `json:"credits_per_currency_unit"`
	Interval               string `json:"interval"`
	Months                 int64  `json:"months" doc:"Months in one billing period of the interval: 1 or 12."`
	// SessionsPerConversation is ceil(conversation_minutes / the block), at least 1.
	SessionsPerConversation int64 `json:"sessions_per_conversation"`
	// Usage is the estimated quantity of each meter the input feeds, per month.
	Usage []QuoteQuantity `json:"usage"`
	Plans []PlanQuote     `json:"plans"`
	// Cheapest is the key of the available plan with the lowest total; ties go to the plan
	// listed first in the catalog. Empty when no plan is available.
	Cheapest string `json:"cheapest,omitempty"`
}

// QuoteQuantity is the estimated monthly quantity of one meter.
type QuoteQuantity struct {
	Meter    string   `json:"meter"`
	Name     string   `json:"name"`
	Unit     string   `json:"unit" doc:"The meter's unit; credit for an LLM cost meter."`
	Quantity Quantity `json:"quantity"`
}

// PlanQuote is the estimate for one plan.
type PlanQuote struct {
	Plan          string `json:"plan"`
	Name          string `json:"name"`
	Description   string `json:"description,omitempty"`
	CustomPricing bool   `json:"custom_pricing" doc:"The fee is a list price: an enterprise contract sets the real one."`
	Available     bool   `json:"available"`
	// Code and Reason say why the plan is not available: the first reason found.
	Code     string `json:"code,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Cheapest bool   `json:"cheapest"`
	// Priced is false when the plan cannot be priced at all (it has no fee for the
	// interval, an add-on is not offered on it): no amounts are given.
	Priced bool `json:"priced"`

	FeeMinor           int64 `json:"fee_minor" doc:"The plan's fee for one billing period."`
	AddOnsMinor        int64 `json:"add_ons_minor" doc:"The add-ons' fees for one billing period."`
	FixedPerMonthMinor int64 `json:"fixed_per_month_minor" doc:"Fee and add-ons per month: the period's divided by its months, rounded half up."`
	// Lines are the fee, each add-on, then each usage rate and seat of the plan in its
	// order; usage lines are per month.
	Lines []QuoteLine `json:"lines"`

	UsageMinor int64 `json:"usage_minor" doc:"Usage billed in currency, per month."`
	UsageUcr   int64 `json:"usage_ucr" doc:"Usage debited from the credit wallet, per month, in micro-credits."`
	// IncludedCreditsUcr is what the plan includes per billing period (5,000 credits a
	// month on Pay as you go); CreditsAppliedUcr the part the period's credit usage uses.
	IncludedCreditsUcr int64 `json:"included_credits_ucr" doc:"Free credits the plan includes per billing period."`
	CreditsAppliedUcr  int64 `json:"credits_applied_ucr" doc:"The included credits the period's usage uses."`
	CreditsToBuyUcr    int64 `json:"credits_to_buy_ucr" doc:"Credit usage of the period beyond the included credits."`
	CreditsMinor       int64 `json:"credits_minor" doc:"What credits_to_buy_ucr cost, rounded half up once."`
	TotalMinor         int64 `json:"total_minor" doc:"Fee + add-ons + usage in currency × months + credits to buy, for one billing period, before tax."`
	TotalPerMonthMinor int64 `json:"total_per_month_minor" doc:"total_minor divided by the period's months, rounded half up."`
}

// Kinds of quote lines.
const (
	QuoteLineFee   = "fee"
	QuoteLineAddOn = "add_on"
	QuoteLineUsage = "usage"
	QuoteLineSeats = "seats"
)

// QuoteLine is one line of a plan's estimate: a fixed fee for the period, or what one
// rate or seat price charges in a month, rounded once as rating rounds it.
type QuoteLine struct {
	Kind        string `json:"kind" enum:"fee,add_on,usage,seats"`
	Key         string `json:"key" doc:"The plan or add-on key, or the rated line's key (llm_credits, named_agents{product=\"agent_ai\"})."`
	Description string `json:"description"`
	Meter       string `json:"meter,omitempty"`
	// Mode is how seats are counted on this line.
	Mode     SeatMode `json:"mode,omitempty"`
	BilledIn string   `json:"billed_in" enum:"currency,credits"`
	// Quantity, Allowance and Billable are in Unit; an add-on's Quantity is its units.
	Quantity  Quantity  `json:"quantity"`
	Allowance *Quantity `json:"allowance,omitempty"`
	Billable  *Quantity `json:"billable,omitempty"`
	Unit      string    `json:"unit,omitempty"`
	UnitPrice string    `json:"unit_price,omitempty" doc:"The catalog's price of one unit, in major units."`
	// Exact is the charge before its one rounding, in the line's amount unit.
	Exact       string `json:"exact,omitempty"`
	AmountMinor int64  `json:"amount_minor" doc:"Billed in currency: the amount in minor units."`
	AmountUcr   int64  `json:"amount_ucr" doc:"Billed in credits: the amount in micro-credits."`
	// Estimated is false for a rate the calculator cannot estimate (it prices one app or
	// one group of a meter the input does not split): its quantity is taken as 0.
	Estimated bool `json:"estimated"`
}
