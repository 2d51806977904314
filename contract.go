package billow

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// An enterprise account is billed under a contract (seed 000: "custom pricing",
// "contract-specific limits override this default"). The contract replaces, for that
// account alone, the prices and limits of one plan of its catalog, the plan being one with
// custom_pricing: true; the catalog itself never changes. Package contract applies the
// terms to a copy of the catalog, so billing, rating, charging, credits and checks read
// the contracted plan as they read any plan (docs/contracts.md).

// Limits on a contract, named with their unit last. Amounts and quantities are bounded by
// the catalog's own bounds (catalog.UnitPriceMax, QuantityMax, AmountMinorUnitsMax,
// CreditsMax), checked when the contract is applied to the catalog.
const (
	ContractReferenceMaxBytes = 100
	// ContractRatesMax, ContractSeatsMax, ContractLimitsMax, ContractAllowancesMax and
	// ContractTiersMax are the catalog's bounds on one plan (RatesPerPlanMax,
	// 2 × SeatsPerPlanMax: a named and a concurrent price per product, LimitsPerPlanMax,
	// MetersMax, TiersPerRateMax): a contract cannot replace more than a plan holds.
	ContractRatesMax      = 128
	ContractSeatsMax      = 64
	ContractLimitsMax     = 32
	ContractAllowancesMax = 128
	ContractTiersMax      = 32
	// ContractFiltersMax bounds the filters naming one rate (catalog.FiltersMax).
	ContractFiltersMax = 8
	// ContractKeyMaxBytes bounds plan, meter and product keys (catalog.KeyLengthBytesMax)
	// and filter fields; ContractFilterValueMaxBytes filter values
	// (catalog.FilterValueLengthBytesMax).
	ContractKeyMaxBytes         = 64
	ContractFilterValueMaxBytes = 128
	// ContractPriceFractionDigitsMax is the precision of a unit price
	// (catalog.RateFractionDigitsMax); ContractAmountFractionDigitsMax that of a fixed
	// amount before the currency's own digits are known (no ISO 4217 currency has more).
	ContractPriceFractionDigitsMax  = 12
	ContractAmountFractionDigitsMax = 4
	// ContractAllowancePercentMax is the highest tolerance above a limit (catalog: 100).
	ContractAllowancePercentMax = 100
)

// CodeContractNotAllowed: a contract on a standard account, or on a plan whose catalog
// does not let a contract override it (custom_pricing: false), or a catalog migration to
// a version the account's contract does not fit.
const CodeContractNotAllowed = "contract_not_allowed"

// Words of a contract; they are the catalog's (package catalog), repeated here because
// this package does not depend on the catalog.
const (
	contractIntervalMonth = "month"
	contractIntervalYear  = "year"
	contractPeriodMonth   = "month"
	contractPeriodTotal   = "total"
	contractRefreshCycle  = "cycle"
	contractRefreshMonth  = "month"
)

// Rate models a contract may price a rate with (catalog.ModelPerUnit, …).
const (
	ContractModelPerUnit   = "per_unit"
	ContractModelGraduated = "graduated"
	ContractModelVolume    = "volume"
	ContractModelPackage   = "package"
)

// ContractTerms are what the operator sets: the body of PUT /v1/accounts/{account}/contract.
// Every override is optional; what a contract does not override stays the plan's.
// Amounts are decimals in major units of the catalog currency, written as the catalog
// writes them ("3000.00", "0.0125").
type ContractTerms struct {
	// Reference is the operator's contract number, for its own records.
	Reference string `json:"reference,omitempty" maxLength:"100" doc:"The operator's contract number."`
	// Plan is the plan the contract re-prices; it must have custom_pricing: true.
	Plan string `json:"plan,omitempty" maxLength:"64" doc:"The plan whose prices and limits the contract replaces (custom_pricing: true); defaults to the account's plan."`
	// Fees replace the plan's fixed fee per interval (month, year).
	Fees map[string]string `json:"fees,omitempty" doc:"The plan's fee per interval, e.g. {\"month\": \"3000.00\"}: replaces the catalog's fee, or offers the plan for that interval."`
	// Rates replace the plan's rate on the same meter and filters, minimum included.
	Rates []ContractRate `json:"rates,omitempty" maxItems:"128" doc:"Each replaces the plan's rate on the same meter (and filters): its model, prices and minimum. The rate keeps the plan's billed_in."`
	// Seats replace the unit price of the plan's named or concurrent seats of a product.
	Seats []ContractSeat `json:"seats,omitempty" maxItems:"64" doc:"Each replaces the unit price of the plan's named or concurrent seats of a product."`
	// Allowances replace the quantity of a meter included per month.
	Allowances map[string]int64 `json:"allowances,omitempty" doc:"Quantity of a meter included per month before its rate applies, by meter."`
	// Limits replace the plan's quota on a meter, such as the ingestion limit (seed 000).
	Limits map[string]ContractLimit `json:"limits,omitempty" doc:"Quotas by meter, e.g. {\"ingested_bytes\": {\"limit\": 5000000000, \"allowance_percent\": \"1\"}}: each replaces the plan's limit on the meter whole."`
	// IncludedCredits replace the plan's free grant; 0 credits removes it.
	IncludedCredits *ContractIncludedCredits `json:"included_credits,omitempty" doc:"Replaces the plan's included credits; credits 0 removes them."`
	// InvoicingOutsideBillow: the operator collects the subscription's invoices itself.
	// Billow still issues them (the operator needs the figures) with payment_status
	// "external", and never charges them nor starts dunning: the subscription renews as
	// if paid.
	InvoicingOutsideBillow bool `json:"invoicing_outside_billow" required:"false" doc:"The operator collects the invoices outside Billow: renewals are invoiced with payment_status external, never charged, never dunned."`
}

// ContractRate prices one rate of the plan: the one on Meter with exactly Filters.
type ContractRate struct {
	Meter   string            `json:"meter" maxLength:"64"`
	Filters map[string]string `json:"filters,omitempty" doc:"The filters of the plan's rate it replaces, when the plan prices groups of the meter apart."`
	Model   string            `json:"model" enum:"per_unit,graduated,volume,package"`
	// UnitPrice is for per_unit; Tiers for graduated and volume; Package for package.
	UnitPrice string           `json:"unit_price,omitempty" doc:"per_unit: the price of one unit, e.g. \"0.012\"."`
	Tiers     []ContractTier   `json:"tiers,omitempty" maxItems:"32" doc:"graduated and volume: up_to strictly increases; the last tier has no up_to."`
	Package   *ContractPackage `json:"package,omitempty" doc:"package: the price per started block of size units."`
	// Minimum is the least the rate charges per month the plan is active; none when empty.
	Minimum string `json:"minimum,omitempty" doc:"The least the rate charges per month, e.g. \"500.00\"; none when omitted."`
}

// ContractTier is one band of a graduated or volume rate.
type ContractTier struct {
	UpTo      int64  `json:"up_to,omitempty" minimum:"0" doc:"Inclusive upper bound; omitted on the last tier."`
	UnitPrice string `json:"unit_price"`
}

// ContractPackage prices a rate per started block of Size units.
type ContractPackage struct {
	Size  int64  `json:"size" minimum:"1"`
	Price string `json:"price"`
}

// ContractSeat replaces the unit price of one seat price of the plan.
type ContractSeat struct {
	Product   string   `json:"product" maxLength:"64"`
	Mode      SeatMode `json:"mode" enum:"named,concurrent"`
	UnitPrice string   `json:"unit_price" doc:"The monthly price of one seat, e.g. \"40.00\"."`
}

// ContractLimit is a quota on a meter. It replaces the plan's limit on the meter whole:
// a contract that keeps the plan's 1% allowance says so again.
type ContractLimit struct {
	Limit            int64  `json:"limit" minimum:"1" doc:"In the meter's unit (bytes for ingested_bytes)."`
	AllowancePercent string `json:"allowance_percent,omitempty" doc:"Tolerance above the limit in percent, e.g. \"1\"; none when omitted."`
	Period           string `json:"period,omitempty" enum:"month,total" doc:"What the limit counts: this month's usage or all of it. Defaults to the plan's period for the meter."`
}

// ContractIncludedCredits is the free grant given with the plan.
type ContractIncludedCredits struct {
	Credits int64  `json:"credits" minimum:"0"`
	Refresh string `json:"refresh,omitempty" enum:"cycle,month" doc:"Defaults to cycle."`
}

// Contract is an account's contract as stored.
type Contract struct {
	Account string `json:"account"`
	ContractTerms
	UpdatedAt time.Time `json:"updated_at"`
}

// Normalize trims what users paste with spaces.
func (t *ContractTerms) Normalize() {
	t.Reference = strings.TrimSpace(t.Reference)
	t.Plan = strings.TrimSpace(t.Plan)
}

// Validate reports every invalid field at once. What needs the catalog (that the plan,
// meters and products exist, that the plan prices what is re-priced, the currency's
// digits, the catalog's bounds on amounts) is checked when the terms are applied.
func (t *ContractTerms) Validate() error {
	var errs fieldErrors
	if len(t.Reference) > ContractReferenceMaxBytes || !utf8.ValidString(t.Reference) || hasControl(t.Reference) {
		errs.add("reference", "must be at most %d bytes of printable text", ContractReferenceMaxBytes)
	}
	if t.Plan != "" {
		validateContractKey(&errs, "plan", t.Plan)
	}
	for _, interval := range slices.Sorted(maps.Keys(t.Fees)) {
		field := "fees." + interval
		if interval != contractIntervalMonth && interval != contractIntervalYear {
			errs.add(field, "must be month or year")
			continue
		}
		validateContractAmount(&errs, field, t.Fees[interval])
	}
	if len(t.Rates) > ContractRatesMax {
		errs.add("rates", "must have at most %d rates", ContractRatesMax)
	} else {
		seen := map[string]int{}
		for i := range t.Rates {
			field := fmt.Sprintf("rates[%d]", i)
			t.Rates[i].validate(&errs, field)
			key := t.Rates[i].key()
			if j, dup := seen[key]; dup {
				errs.add(field, "re-prices the same rate as rates[%d]", j)
			}
			seen[key] = i
		}
	}
	if len(t.Seats) > ContractSeatsMax {
		errs.add("seats", "must have at most %d seat prices", ContractSeatsMax)
	} else {
		seen := map[string]int{}
		for i, s := range t.Seats {
			field := fmt.Sprintf("seats[%d]", i)
			validateContractKey(&errs, field+".product", s.Product)
			if s.Mode != SeatsNamed && s.Mode != SeatsConcurrent {
				errs.add(field+".mode", "must be named or concurrent")
			}
			validateContractPrice(&errs, field+".unit_price", s.UnitPrice)
			key := s.Product + "\x00" + string(s.Mode)
			if j, dup := seen[key]; dup {
				errs.add(field, "re-prices the same seats as seats[%d]", j)
			}
			seen[key] = i
		}
	}
	if len(t.Allowances) > ContractAllowancesMax {
		errs.add("allowances", "must have at most %d meters", ContractAllowancesMax)
	} else {
		for _, meter := range slices.Sorted(maps.Keys(t.Allowances)) {
			field := "allowances." + meter
			validateContractKey(&errs, field, meter)
			if t.Allowances[meter] < 0 {
				errs.add(field, "must not be negative")
			}
		}
	}
	if len(t.Limits) > ContractLimitsMax {
		errs.add("limits", "must have at most %d meters", ContractLimitsMax)
	} else {
		for _, meter := range slices.Sorted(maps.Keys(t.Limits)) {
			field := "limits." + meter
			validateContractKey(&errs, field, meter)
			l := t.Limits[meter]
			if l.Limit < 1 {
				errs.add(field+".limit", "must be 1 or more")
			}
			if l.AllowancePercent != "" {
				validateContractPercent(&errs, field+".allowance_percent", l.AllowancePercent)
			}
			if l.Period != "" && l.Period != contractPeriodMonth && l.Period != contractPeriodTotal {
				errs.add(field+".period", "must be month or total")
			}
		}
	}
	if ic := t.IncludedCredits; ic != nil {
		if ic.Credits < 0 {
			errs.add("included_credits.credits", "must not be negative")
		}
		if ic.Refresh != "" && ic.Refresh != contractRefreshCycle && ic.Refresh != contractRefreshMonth {
			errs.add("included_credits.refresh", "must be cycle or month")
		}
	}
	return errs.err()
}

// key names the plan's rate a contract rate replaces: its meter and its filters.
func (r *ContractRate) key() string {
	var b strings.Builder
	b.WriteString(r.Meter)
	for _, f := range slices.Sorted(maps.Keys(r.Filters)) {
		fmt.Fprintf(&b, "\x00%s=%s", f, r.Filters[f])
	}
	return b.String()
}

func (r *ContractRate) validate(errs *fieldErrors, field string) {
	validateContractKey(errs, field+".meter", r.Meter)
	if len(r.Filters) > ContractFiltersMax {
		errs.add(field+".filters", "must have at most %d filters", ContractFiltersMax)
	} else {
		for _, f := range slices.Sorted(maps.Keys(r.Filters)) {
			validateContractKey(errs, field+".filters."+f, f)
			if v := r.Filters[f]; v == "" || len(v) > ContractFilterValueMaxBytes || hasControl(v) {
				errs.add(field+".filters."+f, "values must be 1 to %d bytes of printable text", ContractFilterValueMaxBytes)
			}
		}
	}
	// Each model takes its own price fields and no other, as in the catalog.
	has := map[string]bool{"unit_price": r.UnitPrice != "", "tiers": r.Tiers != nil, "package": r.Package != nil}
	want := map[string]string{ContractModelPerUnit: "unit_price", ContractModelGraduated: "tiers", ContractModelVolume: "tiers", ContractModelPackage: "package"}
	needed, ok := want[r.Model]
	if !ok {
		errs.add(field+".model", "must be per_unit, graduated, volume or package")
		return
	}
	for _, f := range []string{"unit_price", "tiers", "package"} {
		switch {
		case f == needed && !has[f]:
			errs.add(field+"."+f, "is required when model is %s", r.Model)
		case f != needed && has[f]:
			errs.add(field+"."+f, "is not allowed when model is %s", r.Model)
		}
	}
	switch needed {
	case "unit_price":
		if has["unit_price"] {
			validateContractPrice(errs, field+".unit_price", r.UnitPrice)
		}
	case "tiers":
		if has["tiers"] {
			validateContractTiers(errs, field+".tiers", r.Tiers)
		}
	case "package":
		if p := r.Package; p != nil {
			if p.Size < 1 {
				errs.add(field+".package.size", "must be 1 or more")
			}
			validateContractPrice(errs, field+".package.price", p.Price)
		}
	}
	if r.Minimum != "" {
		validateContractAmount(errs, field+".minimum", r.Minimum)
	}
}

// validateContractTiers: every tier but the last has an up_to above the previous one; the
// last is open-ended, so every quantity has a price.
func validateContractTiers(errs *fieldErrors, field string, tiers []ContractTier) {
	switch {
	case len(tiers) == 0:
		errs.add(field, "must have at least one tier")
		return
	case len(tiers) > ContractTiersMax:
		errs.add(field, "must have at most %d tiers", ContractTiersMax)
		return
	}
	var prev int64
	for i, tier := range tiers {
		f := fmt.Sprintf("%s[%d]", field, i)
		validateContractPrice(errs, f+".unit_price", tier.UnitPrice)
		switch last := i == len(tiers)-1; {
		case last && tier.UpTo != 0:
			errs.add(f+".up_to", "must be omitted on the last tier: it prices every unit above the previous tier")
		case !last && tier.UpTo < 1:
			errs.add(f+".up_to", "is required on every tier but the last, 1 or more")
		case !last && tier.UpTo <= prev:
			errs.add(f+".up_to", "must be above the previous tier's up_to (%d); tiers go up strictly", prev)
		case !last:
			prev = tier.UpTo
		}
	}
}

func validateContractKey(errs *fieldErrors, field, key string) {
	if key == "" || len(key) > ContractKeyMaxBytes || strings.ContainsFunc(key, func(r rune) bool { return r <= ' ' || r == 0x7f }) || !utf8.ValidString(key) {
		errs.add(field, "must be a catalog key of 1 to %d bytes without spaces", ContractKeyMaxBytes)
	}
}

// validateContractPrice checks a unit price: a decimal such as "0.0125", at most
// ContractPriceFractionDigitsMax fractional digits, not negative.
func validateContractPrice(errs *fieldErrors, field, price string) {
	if frac, ok := unsignedDecimal(price); !ok || frac > ContractPriceFractionDigitsMax {
		errs.add(field, "must be a price such as \"0.0125\": digits, a point and at most %d decimals, not negative", ContractPriceFractionDigitsMax)
	}
}

// validateContractAmount checks a fixed amount (a fee, a minimum) such as "3000.00"; that
// it is whole minor units of the catalog currency is checked with the catalog.
func validateContractAmount(errs *fieldErrors, field, amount string) {
	if frac, ok := unsignedDecimal(amount); !ok || frac > ContractAmountFractionDigitsMax {
		errs.add(field, "must be an amount such as \"3000.00\", not negative")
	}
}

func validateContractPercent(errs *fieldErrors, field, percent string) {
	frac, ok := unsignedDecimal(percent)
	if !ok || frac > ContractPriceFractionDigitsMax {
		errs.add(field, "must be a percentage such as \"1\" or \"2.5\"")
		return
	}
	whole, _, _ := strings.Cut(percent, ".")
	if len(strings.TrimLeft(whole, "0")) > 3 || decimalAbove(percent, ContractAllowancePercentMax) {
		errs.add(field, "must be at most %d", ContractAllowancePercentMax)
	}
}

// unsignedDecimal reports whether s is digits[.digits], the one form amounts are written
// in (no sign, no exponent, no spaces), and its number of fractional digits.
func unsignedDecimal(s string) (fracDigits int, ok bool) {
	whole, frac, hasPoint := strings.Cut(s, ".")
	if whole == "" || !allDigits(whole) || hasPoint && (frac == "" || !allDigits(frac)) {
		return 0, false
	}
	return len(frac), true
}

// decimalAbove reports whether the unsigned decimal s is above max.
func decimalAbove(s string, max int64) bool {
	whole, frac, _ := strings.Cut(s, ".")
	whole = strings.TrimLeft(whole, "0")
	var w int64
	for _, c := range whole {
		w = w*10 + int64(c-'0')
	}
	return w > max || w == max && strings.Trim(frac, "0") != ""
}
