package catalog

// Limits on a catalog. Each bound is far above what a real price list needs and low enough
// that loading, hashing and rating a catalog stay cheap and that every integer derived from
// it (minor units, micro-credits, tier boundaries) fits in an int64 with room to multiply.
// A catalog outside a bound is rejected with a problem naming the bound, never truncated.
const (
	// FileSizeBytesMax bounds the input of Parse; a price list is a few kilobytes.
	FileSizeBytesMax = 1 << 20

	// ProblemsMax bounds the problems one ValidationError lists: past this point more
	// problems only bury the first ones, which are usually their cause.
	ProblemsMax = 100

	// Counts of items in one list, and lengths of text.
	ProductsMax               = 64
	EntitlementsMax           = 128
	MetersMax                 = 128
	PlansMax                  = 64
	AddOnsMax                 = 128
	RatesPerPlanMax           = 128
	SeatsPerPlanMax           = 32
	LimitsPerPlanMax          = 32
	TiersPerRateMax           = 32
	EventTypesPerMeterMax     = 32
	FieldsPerMeterMax         = 8 // fields summed by one sum meter
	FiltersMax                = 8 // equality filters on one meter, rate or seat price
	GroupByMax                = 8
	CreditPackagesMax         = 32
	ProviderCostRowsMax       = 1024 // rows per provider cost table
	KeyLengthBytesMax         = 64   // product, plan, meter, ... keys
	EventTypeLengthBytesMax   = 128
	NameLengthBytesMax        = 128
	DescriptionLengthBytesMax = 2000
	UnitLengthBytesMax        = 32
	FilterValueLengthBytesMax = 128

	// RetriesMax bounds the dunning schedule; GracePeriodDaysMax the days an unpaid
	// account keeps running (and the payment terms of an open invoice).
	RetriesMax         = 16
	GracePeriodDaysMax = 90

	// TrialDaysMax is one year: a longer trial is a free plan.
	TrialDaysMax = 365
	// BlockMinutesMax and IdleTimeoutMinutesMax are one day: a longer block or silence
	// no longer describes one conversation.
	BlockMinutesMax       = 24 * 60
	IdleTimeoutMinutesMax = 24 * 60
	// HeartbeatTimeoutMinutesMax is one week: an interval left open longer than that
	// (a lost logout) would otherwise inflate a whole billing period.
	HeartbeatTimeoutMinutesMax = 7 * 24 * 60

	// CreditsMax bounds every credit amount: the ledger holds micro-credits
	// (1 credit = 1,000,000 µcr), and 1e12 credits is 1e18 µcr, just inside an int64.
	CreditsMax = 1_000_000_000_000
	// PerCurrencyUnitMax bounds credits per major currency unit.
	PerCurrencyUnitMax = 1_000_000
	// QuantityMax bounds entitlement quantities, allowances, tier boundaries, package
	// sizes and limits (1e15: a petabyte, a quadrillion sessions).
	QuantityMax = 1_000_000_000_000_000
	// AmountMinorUnitsMax bounds fixed fees and minimums (1e15 minor units: ten
	// trillion dollars), so sums over many lines cannot overflow an int64.
	AmountMinorUnitsMax = 1_000_000_000_000_000
	// UnitPriceMax bounds a per-unit price in major currency units.
	UnitPriceMax = 1_000_000_000
	// RateFractionDigitsMax is the precision of per-unit prices: a price per token or
	// per byte needs many digits (0.0000025 USD per token), twelve is enough for
	// a millionth of a micro-dollar.
	RateFractionDigitsMax = 12
	// AddOnQuantityMax bounds how many units of one add-on a subscription may hold.
	AddOnQuantityMax = 10_000
	// MarkupPercentMax bounds the markup on provider costs (ten times the cost).
	MarkupPercentMax = 1000
)
