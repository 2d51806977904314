package contract_test

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/contract"
	"github.com/billowhq/billow/rating"
)

func example(t *testing.T, name string) *catalog.Catalog {
	t.Helper()
	data, err := catalog.Example(name)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Parse(name, data)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// terms is a contract on ai-for-service's enterprise plan overriding a bit of everything.
func terms() billow.ContractTerms {
	return billow.ContractTerms{
		Reference: "ENT-7", Plan: "enterprise",
		Fees:       map[string]string{"month": "3000"},
		Rates:      []billow.ContractRate{{Meter: "billing_sessions", Model: "per_unit", UnitPrice: "0.01", Minimum: "250"}},
		Seats:      []billow.ContractSeat{{Product: "contact_center_ai", Mode: billow.SeatsNamed, UnitPrice: "40"}},
		Allowances: map[string]int64{"voice_sessions": 1000},
		Limits: map[string]billow.ContractLimit{
			"ingested_bytes": {Limit: 5_000_000_000, AllowancePercent: "2.50"},
			"voice_seconds":  {Limit: 360_000, Period: "month"},
		},
		IncludedCredits: &billow.ContractIncludedCredits{Credits: 250_000, Refresh: "month"},
	}
}

func TestApply(t *testing.T) {
	cat := example(t, "ai-for-service")
	before := cat.Hash()
	pristine := example(t, "ai-for-service")
	tt := terms()
	if err := tt.Validate(); err != nil {
		t.Fatal(err)
	}
	got, err := contract.Apply(cat, &tt)
	if err != nil {
		t.Fatal(err)
	}
	// The shared catalog is untouched, down to the plan's slices and maps.
	if cat.Hash() != before || !reflect.DeepEqual(cat, pristine) {
		t.Fatal("Apply changed the catalog it was given")
	}
	if got.Hash() == before {
		t.Fatal("the contracted copy hashes like the catalog")
	}
	orig, _ := cat.Plan("enterprise")
	p, _ := got.Plan("enterprise")

	if diff := cmp.Diff([]catalog.Fee{{Interval: "month", Amount: "3000.00", AmountMinorUnits: 300_000},
		{Interval: "year", Amount: "54000.00", AmountMinorUnits: 5_400_000}}, p.Fees); diff != "" {
		t.Errorf("fees (-want +got):\n%s", diff)
	}
	wantRate := catalog.Rate{Meter: "billing_sessions", Model: "per_unit", UnitPrice: "0.01", Minimum: "250.00", MinimumMinorUnits: 25_000, BilledIn: "currency"}
	if diff := cmp.Diff(wantRate, p.Rates[0]); diff != "" {
		t.Errorf("billing_sessions rate (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(orig.Rates[1:], p.Rates[1:]); diff != "" {
		t.Errorf("rates the contract does not name changed:\n%s", diff)
	}
	if p.Seats[0].Named.UnitPrice != "40.00" || p.Seats[0].Named.Meter != "named_agents" || p.Seats[0].Concurrent.UnitPrice != "75.00" ||
		p.Seats[1].Named.UnitPrice != "25.00" {
		t.Errorf("seats %+v %+v", *p.Seats[0].Named, *p.Seats[0].Concurrent)
	}
	if p.Allowances["voice_sessions"] != 1000 {
		t.Errorf("allowances %v", p.Allowances)
	}
	wantLimits := []catalog.Limit{
		{Meter: "ingested_bytes", Limit: 5_000_000_000, AllowancePercent: "2.5", HardLimit: 5_125_000_000, Period: "total"},
		{Meter: "voice_seconds", Limit: 360_000, HardLimit: 360_000, Period: "month"},
	}
	if diff := cmp.Diff(wantLimits, p.Limits); diff != "" {
		t.Errorf("limits (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&catalog.IncludedCredits{Credits: 250_000, Refresh: "month"}, p.IncludedCredits); diff != "" {
		t.Errorf("included credits:\n%s", diff)
	}
	// Everything else is the catalog's: the other plans, and the plan's own fields.
	for _, key := range []string{"essential", "advanced"} {
		a, _ := cat.Plan(key)
		b, _ := got.Plan(key)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("plan %s changed", key)
		}
	}
	if p.Name != orig.Name || !reflect.DeepEqual(p.Entitlements, orig.Entitlements) || !p.CustomPricing {
		t.Errorf("plan fields the contract does not name changed: %+v", p)
	}
}

// Rating reads the contracted plan as it reads any plan.
func TestApplyRates(t *testing.T) {
	cat := example(t, "ai-for-service")
	tt := terms()
	got, err := contract.Apply(cat, &tt)
	if err != nil {
		t.Fatal(err)
	}
	period := rating.MonthOf(time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC), time.UTC)
	qs := map[string]decimal.Decimal{"billing_sessions": decimal.NewFromInt(2000), "voice_sessions": decimal.NewFromInt(1500),
		"llm_credits": decimal.Zero}
	for _, tc := range []struct {
		cat  *catalog.Catalog
		want map[string]int64
	}{
		// The catalog: 2,000 sessions at the volume price 0.025 is $50; 1,500 voice sessions at 0.02 is $30.
		{cat, map[string]int64{"billing_sessions": 5000, "voice_sessions": 3000}},
		// The contract: 0.01 × 2,000 = $20, raised to the $250 minimum; 500 voice sessions past the allowance, $10.
		{got, map[string]int64{"billing_sessions": 25_000, "voice_sessions": 1000}},
	} {
		res, err := rating.Rate(rating.Input{Catalog: tc.cat, Plan: "enterprise", Period: period, Active: true, BilledIn: catalog.BilledInCurrency, Quantities: qs})
		if err != nil {
			t.Fatal(err)
		}
		amounts := map[string]int64{}
		for _, l := range res.Lines {
			amounts[l.Key] = l.Amount
		}
		if diff := cmp.Diff(tc.want, amounts); diff != "" {
			t.Errorf("lines (-want +got):\n%s", diff)
		}
	}
}

func TestApplyRefuses(t *testing.T) {
	cat := example(t, "ai-for-service")
	for _, tc := range []struct {
		name   string
		mutate func(*billow.ContractTerms)
		code   string
		fields []string
	}{
		{"unknown plan", func(c *billow.ContractTerms) { c.Plan = "platinum" }, billow.CodeUnknownPlan, []string{"plan"}},
		{"plan without custom pricing", func(c *billow.ContractTerms) { *c = billow.ContractTerms{Plan: "advanced"} }, billow.CodeContractNotAllowed, nil},
		{"fee in thousandths of a dollar", func(c *billow.ContractTerms) { c.Fees["month"] = "3000.005" }, billow.CodeValidationFailed, []string{"fees.month"}},
		{"fee too large", func(c *billow.ContractTerms) { c.Fees["year"] = "10000000000000.01" }, billow.CodeValidationFailed, []string{"fees.year"}},
		{"rate on a meter the plan does not price", func(c *billow.ContractTerms) {
			c.Rates = []billow.ContractRate{{Meter: "voice_seconds", Model: "per_unit", UnitPrice: "0.001"}}
		}, billow.CodeValidationFailed, []string{"rates[0]"}},
		{"rate with filters the plan's rate lacks", func(c *billow.ContractTerms) {
			c.Rates[0].Filters = map[string]string{"app": "bot"}
		}, billow.CodeValidationFailed, []string{"rates[0]"}},
		{"rate on an unknown meter", func(c *billow.ContractTerms) { c.Rates[0].Meter = "tokens" }, billow.CodeValidationFailed, []string{"rates[0].meter"}},
		{"price above UnitPriceMax", func(c *billow.ContractTerms) { c.Rates[0].UnitPrice = "1000000001" }, billow.CodeValidationFailed, []string{"rates[0].unit_price"}},
		{"minimum in fractions of a cent", func(c *billow.ContractTerms) { c.Rates[0].Minimum = "0.001" }, billow.CodeValidationFailed, []string{"rates[0].minimum"}},
		{"tier bound above QuantityMax", func(c *billow.ContractTerms) {
			c.Rates[0] = billow.ContractRate{Meter: "billing_sessions", Model: "volume",
				Tiers: []billow.ContractTier{{UpTo: catalog.QuantityMax + 1, UnitPrice: "1"}, {UnitPrice: "0.5"}}}
		}, billow.CodeValidationFailed, []string{"rates[0].tiers[0].up_to"}},
		{"seats of a product the plan does not price", func(c *billow.ContractTerms) { c.Seats[0].Product = "search_ai" },
			billow.CodeValidationFailed, []string{"seats[0]"}},
		{"allowance on a meter without a price", func(c *billow.ContractTerms) { c.Allowances = map[string]int64{"ingested_bytes": 10} },
			billow.CodeValidationFailed, []string{"allowances.ingested_bytes"}},
		{"allowance on a meter priced twice", func(c *billow.ContractTerms) { c.Allowances = map[string]int64{"named_agents": 10} },
			billow.CodeValidationFailed, []string{"allowances.named_agents"}},
		{"limit on an unknown meter", func(c *billow.ContractTerms) {
			c.Limits = map[string]billow.ContractLimit{"gigabytes": {Limit: 1, Period: "month"}}
		},
			billow.CodeValidationFailed, []string{"limits.gigabytes"}},
		{"new limit without a period", func(c *billow.ContractTerms) { c.Limits["voice_seconds"] = billow.ContractLimit{Limit: 1} },
			billow.CodeValidationFailed, []string{"limits.voice_seconds.period"}},
		{"limit above QuantityMax", func(c *billow.ContractTerms) {
			c.Limits["ingested_bytes"] = billow.ContractLimit{Limit: catalog.QuantityMax + 1}
		},
			billow.CodeValidationFailed, []string{"limits.ingested_bytes.limit"}},
		{"included credits above CreditsMax", func(c *billow.ContractTerms) { c.IncludedCredits.Credits = catalog.CreditsMax + 1 },
			billow.CodeValidationFailed, []string{"included_credits.credits"}},
		{"several misfits at once", func(c *billow.ContractTerms) { c.Fees["month"], c.Seats[0].Product = "0.001", "nope" },
			billow.CodeValidationFailed, []string{"fees.month", "seats[0]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := terms()
			tc.mutate(&c)
			if err := c.Validate(); err != nil {
				t.Fatalf("the case is not valid on its own: %v", err)
			}
			got, err := contract.Apply(cat, &c)
			if got != nil || billow.ErrorCode(err) != tc.code {
				t.Fatalf("Apply = %v, %v; want code %s", got, err, tc.code)
			}
			var fields []string
			for _, f := range err.(*billow.Error).Fields {
				fields = append(fields, f.Field)
			}
			slices.Sort(fields)
			if !slices.Equal(fields, tc.fields) {
				t.Fatalf("fields %v, want %v (%v)", fields, tc.fields, err)
			}
		})
	}
}

// A fee for an interval the plan is not offered by makes it offered, month before year.
func TestApplyAddsAnInterval(t *testing.T) {
	cat := example(t, "credits-platform") // enterprise: {month: "1000.00"} only
	got, err := contract.Apply(cat, &billow.ContractTerms{Plan: "enterprise", Fees: map[string]string{"year": "11000.5"}})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := got.Plan("enterprise")
	want := []catalog.Fee{{Interval: "month", Amount: "1000.00", AmountMinorUnits: 100_000}, {Interval: "year", Amount: "11000.50", AmountMinorUnits: 1_100_050}}
	if diff := cmp.Diff(want, p.Fees); diff != "" {
		t.Errorf("fees (-want +got):\n%s", diff)
	}
	// Credits-billed rates keep billing in credits: a contract changes prices, not how they are paid.
	orig, _ := cat.Plan("enterprise")
	first := orig.Rates[0]
	if first.BilledIn != catalog.BilledInCredits {
		t.Fatalf("credits-platform's enterprise plan bills %s first", first.BilledIn)
	}
	got, err = contract.Apply(cat, &billow.ContractTerms{Plan: "enterprise",
		Rates: []billow.ContractRate{{Meter: first.Meter, Filters: first.Filters, Model: "per_unit", UnitPrice: "0.5"}}})
	if err != nil {
		t.Fatal(err)
	}
	p, _ = got.Plan("enterprise")
	if p.Rates[0].BilledIn != catalog.BilledInCredits || p.Rates[0].UnitPrice != "0.50" {
		t.Errorf("rate %+v", p.Rates[0])
	}
}

func TestAllowed(t *testing.T) {
	if err := contract.Allowed(&billow.Account{ExternalID: "bigco", Type: billow.AccountEnterprise}); err != nil {
		t.Fatal(err)
	}
	err := contract.Allowed(&billow.Account{ExternalID: "smallco", Type: billow.AccountStandard})
	if billow.ErrorCode(err) != billow.CodeContractNotAllowed || billow.ErrorKindOf(err) != billow.KindConflict {
		t.Fatalf("a standard account: %v", err)
	}
}

// The contract's bounds are the catalog's, named again where the root package cannot
// import the catalog.
func TestBoundsAreTheCatalogs(t *testing.T) {
	for _, b := range []struct {
		name          string
		got, catalogs int64
	}{
		{"rates", billow.ContractRatesMax, catalog.RatesPerPlanMax},
		{"seats", billow.ContractSeatsMax, 2 * catalog.SeatsPerPlanMax},
		{"limits", billow.ContractLimitsMax, catalog.LimitsPerPlanMax},
		{"allowances", billow.ContractAllowancesMax, catalog.MetersMax},
		{"tiers", billow.ContractTiersMax, catalog.TiersPerRateMax},
		{"filters", billow.ContractFiltersMax, catalog.FiltersMax},
		{"keys", billow.ContractKeyMaxBytes, catalog.KeyLengthBytesMax},
		{"filter values", billow.ContractFilterValueMaxBytes, catalog.FilterValueLengthBytesMax},
		{"price digits", billow.ContractPriceFractionDigitsMax, catalog.RateFractionDigitsMax},
	} {
		if b.got != b.catalogs {
			t.Errorf("%s: the contract's bound is %d, the catalog's %d", b.name, b.got, b.catalogs)
		}
	}
}

// The example of docs/contracts.md is a valid contract for the shipped ai-for-service
// catalog.
func TestDocsExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/contracts.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```json\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/contracts.md has no JSON example")
	}
	var terms billow.ContractTerms
	dec := json.NewDecoder(strings.NewReader(block))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&terms); err != nil {
		t.Fatalf("the example does not decode: %v", err)
	}
	if err := terms.Validate(); err != nil {
		t.Fatalf("the example is not valid: %v", err)
	}
	got, err := contract.Apply(example(t, "ai-for-service"), &terms)
	if err != nil {
		t.Fatalf("the example does not fit the catalog: %v", err)
	}
	// What the page says of it: 3,000.00 a month, 5 GB plus 1% of ingestion.
	p, _ := got.Plan("enterprise")
	if fee, _ := p.Fee("month"); fee.AmountMinorUnits != 300_000 || p.Limits[0].Meter != "ingested_bytes" || p.Limits[0].HardLimit != 5_050_000_000 ||
		!terms.InvoicingOutsideBillow {
		t.Fatalf("the example's plan: fee %+v, limits %+v", fee, p.Limits)
	}
}
