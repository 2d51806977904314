// Package catalog owns Billow's price list: it loads and validates a catalog file (YAML)
// into products, entitlements, meters, plans, add-ons, credit rules and provider cost
// tables, and ships the two example catalogs. It is pure: it reads no files and holds no
// state, so the same bytes always give the same Catalog and the same Hash. What a meter
// means at run time belongs to meter/, what a price costs to rating/, how a plan is billed
// to billing/; this package guarantees them a catalog whose every reference resolves.
//
// The format is documented in docs/catalog.md.
package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
)

// FormatVersion is the only catalog format version this package reads.
const FormatVersion = 1

// Account types a plan is offered to (DESIGN: standard is self-serve, enterprise is a contract).
const (
	AccountStandard   = "standard"
	AccountEnterprise = "enterprise"
)

// Entitlement types.
const (
	EntitlementQuantity = "quantity" // a count: agent slots, workspace seats
	EntitlementFlag     = "flag"     // on or off: BYO API keys, whitelabel
)

// Meter aggregations: how a meter turns events into a quantity.
const (
	AggregationCount        = "count"         // number of matching events
	AggregationSum          = "sum"           // sum of numeric data fields
	AggregationMin          = "min"           // smallest value of a numeric field
	AggregationMax          = "max"           // largest value of a numeric field
	AggregationUniqueCount  = "unique_count"  // distinct values of a field (named seats)
	AggregationLatest       = "latest"        // last value of a numeric field in the period
	AggregationSessions     = "sessions"      // billing sessions of BlockMinutes each
	AggregationConcurrency  = "concurrency"   // peak number of open intervals (concurrent seats, call lines)
	AggregationProviderCost = "provider_cost" // provider cost from a cost table, plus markup, in catalog currency
)

// Rate models.
const (
	ModelPerUnit   = "per_unit"  // quantity × unit_price
	ModelGraduated = "graduated" // each tier prices the units that fall in it
	ModelVolume    = "volume"    // the tier the total falls in prices every unit
	ModelPackage   = "package"   // price per started package of size units
)

// Where a usage charge goes.
const (
	BilledInCurrency = "currency" // a line on the invoice (postpaid)
	BilledInCredits  = "credits"  // a debit of the credit wallet (prepaid)
)

// Fee intervals.
const (
	IntervalMonth = "month"
	IntervalYear  = "year"
)

// When included credits are granted again.
const (
	RefreshCycle = "cycle" // at the start of every billing cycle
	RefreshMonth = "month" // every month, also within a yearly cycle
)

// Periods a plan limit is counted over.
const (
	PeriodMonth = "month" // the usage of the current month
	PeriodTotal = "total" // all usage since the subscription began
)

// Provider cost tables a provider_cost meter can read.
const (
	CostTableLLM   = "llm"
	CostTableVoice = "voice"
)

// Catalog is a validated catalog. It is read-only once Parse returns it and may be shared
// between goroutines. Lists keep the order of the file (it is the display order); entries
// that come from YAML mappings (entitlement grants, limits) are sorted by key so that
// reordering a mapping does not change the Hash.
type Catalog struct {
	FormatVersion int64  `json:"billow_catalog"`
	Name          string `json:"name"`
	// Currency is the ISO 4217 code every price of the catalog is in.
	Currency string `json:"currency"`
	// CurrencyDigits is the number of fractional digits of a minor unit (2 for USD, 0
	// for JPY): an amount in major units times 10^CurrencyDigits is minor units.
	CurrencyDigits int64         `json:"currency_digits"`
	Credits        Credits       `json:"credits"`
	Billing        Billing       `json:"billing"`
	Products       []Product     `json:"products"`
	Entitlements   []Entitlement `json:"entitlements"`
	Meters         []Meter       `json:"meters"`
	Plans          []Plan        `json:"plans"`
	AddOns         []AddOn       `json:"add_ons"`
	ProviderCosts  ProviderCosts `json:"provider_costs"`
}

// Credits are the catalog's rules for the prepaid credit wallet. Amounts are whole credits;
// the ledger holds micro-credits.
type Credits struct {
	// PerCurrencyUnit is how many credits one major currency unit buys (1 USD = 1,000 credits).
	PerCurrencyUnit int64 `json:"per_currency_unit"`
	// GraceBufferCredits is how far below zero a wallet may go before usage is refused.
	GraceBufferCredits int64 `json:"grace_buffer_credits"`
	// PackagesCredits are the top-up packages offered, in increasing order; each costs a
	// whole number of minor units.
	PackagesCredits    []int64 `json:"packages_credits"`
	PurchaseMinCredits int64   `json:"purchase_min_credits"`
	PurchaseMaxCredits int64   `json:"purchase_max_credits"`
}

// Billing holds the catalog's dunning and payment terms.
type Billing struct {
	// RetryDays are the days after a failed renewal on which the charge is tried again.
	RetryDays []int64 `json:"retry_days"`
	// GracePeriodDays after a failed renewal the account is suspended if still unpaid.
	GracePeriodDays int64 `json:"grace_period_days"`
	// PaymentTermsDays is how long an open invoice waits for payment when auto-billing is
	// off, before dunning treats it as a failed renewal.
	PaymentTermsDays int64 `json:"payment_terms_days"`
}

// Product is something the operator sells (Automation AI, Contact Center AI).
type Product struct {
	Key         string `json:"key"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// Entitlement declares a right a plan or add-on can grant.
type Entitlement struct {
	Key         string `json:"key"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Type        string `json:"type"` // EntitlementQuantity or EntitlementFlag
}

// Meter says how usage events become a quantity. Which fields are set depends on
// Aggregation; Parse guarantees the others are zero.
type Meter struct {
	Key         string   `json:"key"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Unit        string   `json:"unit"`
	EventTypes  []string `json:"event_types"`
	Aggregation string   `json:"aggregation"`
	// Field is the data field read by min, max, latest and unique_count, and the key of
	// an interval for concurrency (agent, call).
	Field string `json:"field,omitempty"`
	// Fields are the numeric data fields a sum meter adds up, per event (llm_tokens is
	// input_tokens + output_tokens). Set for sum only, and only for sum.
	Fields []string `json:"fields,omitempty"`
	// BlockMinutes and IdleTimeoutMinutes shape sessions: a session is billed per started
	// block and ends after IdleTimeoutMinutes without activity.
	BlockMinutes       int64 `json:"block_minutes,omitempty"`
	IdleTimeoutMinutes int64 `json:"idle_timeout_minutes,omitempty"`
	// StartTypes and EndTypes open and close an interval for concurrency; together they
	// are exactly EventTypes. An interval still open after HeartbeatTimeoutMinutes
	// without a close is closed.
	StartTypes              []string `json:"start_types,omitempty"`
	EndTypes                []string `json:"end_types,omitempty"`
	HeartbeatTimeoutMinutes int64    `json:"heartbeat_timeout_minutes,omitempty"`
	// Filters keep only events whose data field equals the value, compared as text
	// (a JSON true is "true"); an event without the field does not match.
	Filters map[string]string `json:"filters,omitempty"`
	// GroupBy are the data fields the quantity is split by; "app" is always available.
	GroupBy []string `json:"group_by,omitempty"`
	// CostTable names the provider cost table of a provider_cost meter.
	CostTable string `json:"cost_table,omitempty"`
}

// Fee is a fixed price for one interval.
type Fee struct {
	Interval string `json:"interval"` // IntervalMonth or IntervalYear
	// Amount is the price in major units with exactly CurrencyDigits fractional digits.
	Amount           string `json:"amount"`
	AmountMinorUnits int64  `json:"amount_minor"`
}

// Plan is what an account subscribes to. Usage (rates, seats, allowances, minimums) is
// rated per month of the subscription, whatever the fee interval.
type Plan struct {
	Key          string   `json:"key"`
	Name         string   `json:"name"`
	Description  string   `json:"description,omitempty"`
	AccountTypes []string `json:"account_types"`
	Products     []string `json:"products"`
	// Fees lists the intervals the plan is offered for, month before year.
	Fees            []Fee            `json:"fees"`
	TrialDays       int64            `json:"trial_days"`
	IncludedCredits *IncludedCredits `json:"included_credits,omitempty"`
	// Allowances is the quantity of a meter included per month before its rate applies.
	Allowances map[string]int64 `json:"allowances,omitempty"`
	Rates      []Rate           `json:"rates,omitempty"`
	Seats      []Seat           `json:"seats,omitempty"`
	// Entitlements are the rights the plan grants, sorted by key; an entitlement that is
	// not listed is 0 or off.
	Entitlements []EntitlementValue `json:"entitlements,omitempty"`
	// Limits are quotas, sorted by meter.
	Limits []Limit `json:"limits,omitempty"`
	// CustomPricing says an enterprise contract may override the plan's prices and limits.
	CustomPricing bool `json:"custom_pricing"`
}

// IncludedCredits is a free grant given with a plan; it expires when the next one is given.
type IncludedCredits struct {
	Credits int64  `json:"credits"`
	Refresh string `json:"refresh"` // RefreshCycle or RefreshMonth
}

// Rate prices the monthly quantity of a meter (less its allowance). Prices are in the
// catalog currency whatever BilledIn says: a charge billed in credits debits
// price × Credits.PerCurrencyUnit credits.
type Rate struct {
	Meter string `json:"meter"`
	Model string `json:"model"`
	// UnitPrice is the price of one unit for per_unit, a decimal in major units with up
	// to RateFractionDigitsMax fractional digits and no trailing zeros.
	UnitPrice string `json:"unit_price,omitempty"`
	// Tiers are for graduated and volume: UpTo strictly increases, and the last tier has
	// UpTo 0, meaning no upper bound.
	Tiers   []Tier   `json:"tiers,omitempty"`
	Package *Package `json:"package,omitempty"`
	// Minimum is the least this rate charges per month when the plan is active.
	Minimum           string `json:"minimum,omitempty"`
	MinimumMinorUnits int64  `json:"minimum_minor,omitempty"`
	// Filters restrict the rate to one group of the meter (its GroupBy fields, or app).
	Filters  map[string]string `json:"filters,omitempty"`
	BilledIn string            `json:"billed_in"`
}

// Tier is one band of a graduated or volume rate.
type Tier struct {
	UpTo      int64  `json:"up_to,omitempty"` // inclusive upper bound; 0 on the last tier: no bound
	UnitPrice string `json:"unit_price"`
}

// Package prices a rate per started block of Size units.
type Package struct {
	Size  int64  `json:"size"`
	Price string `json:"price"`
}

// Seat prices the agent seats of a product, per named agent, per concurrent agent, or
// both (the subscription chooses one).
type Seat struct {
	Product    string     `json:"product"`
	Named      *SeatPrice `json:"named,omitempty"`
	Concurrent *SeatPrice `json:"concurrent,omitempty"`
}

// SeatPrice is the monthly price of one seat counted by Meter: a unique_count meter for
// named seats, a concurrency meter for concurrent seats.
type SeatPrice struct {
	Meter     string            `json:"meter"`
	UnitPrice string            `json:"unit_price"`
	Filters   map[string]string `json:"filters,omitempty"`
	BilledIn  string            `json:"billed_in"`
}

// EntitlementValue is an entitlement granted by a plan, or by one unit of an add-on.
type EntitlementValue struct {
	Key      string `json:"key"`
	Type     string `json:"type"`               // copied from the declaration
	Quantity int64  `json:"quantity,omitempty"` // quantity entitlements
	Enabled  bool   `json:"enabled,omitempty"`  // flag entitlements
}

// Limit is a quota on a meter's quantity. Billow refuses usage beyond HardLimit.
type Limit struct {
	Meter string `json:"meter"`
	Limit int64  `json:"limit"` // in the meter's unit
	// AllowancePercent is the tolerance above Limit, a decimal ("1" is 1%).
	AllowancePercent string `json:"allowance_percent,omitempty"`
	// HardLimit is Limit plus AllowancePercent of it, rounded down.
	HardLimit int64  `json:"hard_limit"`
	Period    string `json:"period"` // PeriodMonth or PeriodTotal
}

// AddOn is bought on top of a plan, in up to MaxQuantity units.
type AddOn struct {
	Key         string `json:"key"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Fees        []Fee  `json:"fees"`
	// Entitlements are granted per unit, sorted by key.
	Entitlements []EntitlementValue `json:"entitlements,omitempty"`
	MaxQuantity  int64              `json:"max_quantity"`
	// Plans the add-on may be added to; empty means every plan.
	Plans    []string `json:"plans,omitempty"`
	Products []string `json:"products,omitempty"`
}

// ProviderCosts are what the operator pays its providers, in the catalog currency, and
// the markup a provider_cost meter adds.
type ProviderCosts struct {
	MarkupPercent string      `json:"markup_percent"`
	LLM           []LLMCost   `json:"llm"`
	Voice         []VoiceCost `json:"voice"`
}

// LLMCost is the price of one model, per million tokens.
type LLMCost struct {
	Provider         string `json:"provider"`
	Model            string `json:"model"`
	InputPerMillion  string `json:"input_per_million"`
	OutputPerMillion string `json:"output_per_million"`
}

// VoiceCost is the price of one voice service, per minute.
type VoiceCost struct {
	Provider  string `json:"provider"`
	Kind      string `json:"kind"` // stt, tts or gateway
	PerMinute string `json:"per_minute"`
}

// Hash returns the hex SHA-256 of the catalog's canonical form, its JSON encoding.
// Parse normalizes everything the file may spell several ways (comments, layout, key
// order in mappings, quoting, "20.0" against "20.00"), so only a change of meaning gives
// a new hash, and a new hash is a new catalog version.
func (c *Catalog) Hash() string {
	b, err := json.Marshal(c)
	if err != nil {
		// Every field is a string, integer, bool, slice, map or struct of those.
		panic("catalog: cannot encode catalog: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// The lookups scan their list: lists are short (see the limits), and a scan keeps the
// Catalog a plain value that stays correct after a JSON round trip or a copy.

// Plan returns the plan with the given key.
func (c *Catalog) Plan(key string) (*Plan, bool) { return find(c.Plans, key, planKey) }

// AddOn returns the add-on with the given key.
func (c *Catalog) AddOn(key string) (*AddOn, bool) { return find(c.AddOns, key, addOnKey) }

// Meter returns the meter with the given key.
func (c *Catalog) Meter(key string) (*Meter, bool) { return find(c.Meters, key, meterKey) }

// Product returns the product with the given key.
func (c *Catalog) Product(key string) (*Product, bool) { return find(c.Products, key, productKey) }

// Entitlement returns the declaration of the entitlement with the given key.
func (c *Catalog) Entitlement(key string) (*Entitlement, bool) {
	return find(c.Entitlements, key, entitlementKey)
}

func planKey(p *Plan) string               { return p.Key }
func addOnKey(a *AddOn) string             { return a.Key }
func meterKey(m *Meter) string             { return m.Key }
func productKey(p *Product) string         { return p.Key }
func entitlementKey(e *Entitlement) string { return e.Key }

func find[T any](list []T, key string, keyOf func(*T) string) (*T, bool) {
	for i := range list {
		if keyOf(&list[i]) == key {
			return &list[i], true
		}
	}
	return nil, false
}

// Fee returns the plan's fee for an interval; false if the plan is not offered for it.
func (p *Plan) Fee(interval string) (Fee, bool) { return feeFor(p.Fees, interval) }

// Quantity returns the plan's quantity of an entitlement; 0 if the plan does not grant it.
func (p *Plan) Quantity(entitlement string) int64 { return quantity(p.Entitlements, entitlement) }

// Flag reports whether the plan turns a flag entitlement on.
func (p *Plan) Flag(entitlement string) bool { return flag(p.Entitlements, entitlement) }

// Fee returns the add-on's fee for an interval; false if it is not offered for it.
func (a *AddOn) Fee(interval string) (Fee, bool) { return feeFor(a.Fees, interval) }

// Quantity returns the quantity of an entitlement one unit of the add-on grants.
func (a *AddOn) Quantity(entitlement string) int64 { return quantity(a.Entitlements, entitlement) }

// Flag reports whether the add-on turns a flag entitlement on.
func (a *AddOn) Flag(entitlement string) bool { return flag(a.Entitlements, entitlement) }

// AvailableOn reports whether the add-on may be added to a subscription of the plan.
func (a *AddOn) AvailableOn(plan string) bool {
	return len(a.Plans) == 0 || slices.Contains(a.Plans, plan)
}

// LLMCost returns the cost row of a provider's model.
func (pc *ProviderCosts) LLMCost(provider, model string) (*LLMCost, bool) {
	for i := range pc.LLM {
		if pc.LLM[i].Provider == provider && pc.LLM[i].Model == model {
			return &pc.LLM[i], true
		}
	}
	return nil, false
}

// VoiceCost returns the cost row of a provider's voice service of the given kind.
func (pc *ProviderCosts) VoiceCost(provider, kind string) (*VoiceCost, bool) {
	for i := range pc.Voice {
		if pc.Voice[i].Provider == provider && pc.Voice[i].Kind == kind {
			return &pc.Voice[i], true
		}
	}
	return nil, false
}

func feeFor(fees []Fee, interval string) (Fee, bool) {
	for _, f := range fees {
		if f.Interval == interval {
			return f, true
		}
	}
	return Fee{}, false
}

func quantity(values []EntitlementValue, key string) int64 {
	for _, v := range values {
		if v.Key == key {
			return v.Quantity
		}
	}
	return 0
}

func flag(values []EntitlementValue, key string) bool {
	for _, v := range values {
		if v.Key == key {
			return v.Enabled
		}
	}
	return false
}
