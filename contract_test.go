package billow_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/billowhq/billow"
)

func TestContractTermsValidate(t *testing.T) {
	ok := func() billow.ContractTerms {
		return billow.ContractTerms{
			Reference: "ENT-2026-001", Plan: "enterprise",
			Fees: map[string]string{"month": "3000.00", "year": "32000"},
			Rates: []billow.ContractRate{
				{Meter: "voice_sessions", Model: "per_unit", UnitPrice: "0.015", Minimum: "100.00"},
				{Meter: "billing_sessions", Model: "graduated", Tiers: []billow.ContractTier{{UpTo: 1000, UnitPrice: "0.02"}, {UnitPrice: "0.01"}}},
				{Meter: "voice_seconds", Filters: map[string]string{"kind": "stt"}, Model: "package", Package: &billow.ContractPackage{Size: 60, Price: "0.5"}},
			},
			Seats:                  []billow.ContractSeat{{Product: "contact_center_ai", Mode: billow.SeatsNamed, UnitPrice: "40.00"}},
			Allowances:             map[string]int64{"voice_sessions": 0, "billing_sessions": 5000},
			Limits:                 map[string]billow.ContractLimit{"ingested_bytes": {Limit: 5_000_000_000, AllowancePercent: "1", Period: "total"}},
			IncludedCredits:        &billow.ContractIncludedCredits{Credits: 0},
			InvoicingOutsideBillow: true,
		}
	}
	tiers := func(ts ...billow.ContractTier) func(*billow.ContractTerms) {
		return func(c *billow.ContractTerms) { c.Rates[1].Tiers = ts }
	}
	for _, tc := range []struct {
		name   string
		mutate func(*billow.ContractTerms)
		fields []string // nil: valid
	}{
		{"valid", func(*billow.ContractTerms) {}, nil},
		{"empty: no override", func(c *billow.ContractTerms) { *c = billow.ContractTerms{} }, nil},
		{"no plan: the account's", func(c *billow.ContractTerms) { c.Plan = "" }, nil},
		{"reference too long", func(c *billow.ContractTerms) { c.Reference = strings.Repeat("x", 101) }, []string{"reference"}},
		{"reference with a control character", func(c *billow.ContractTerms) { c.Reference = "a\nb" }, []string{"reference"}},
		{"plan with a space", func(c *billow.ContractTerms) { c.Plan = "enter prise" }, []string{"plan"}},
		{"fee of an unknown interval", func(c *billow.ContractTerms) { c.Fees["week"] = "10.00" }, []string{"fees.week"}},
		{"negative fee", func(c *billow.ContractTerms) { c.Fees["month"] = "-1.00" }, []string{"fees.month"}},
		{"fee with an exponent", func(c *billow.ContractTerms) { c.Fees["month"] = "3e3" }, []string{"fees.month"}},
		{"fee with five decimals", func(c *billow.ContractTerms) { c.Fees["month"] = "1.00001" }, []string{"fees.month"}},
		{"fee without digits after the point", func(c *billow.ContractTerms) { c.Fees["year"] = "10." }, []string{"fees.year"}},
		{"empty fee", func(c *billow.ContractTerms) { c.Fees["month"] = "" }, []string{"fees.month"}},
		{"rate without meter", func(c *billow.ContractTerms) { c.Rates[0].Meter = "" }, []string{"rates[0].meter"}},
		{"unknown model", func(c *billow.ContractTerms) { c.Rates[0].Model = "flat" }, []string{"rates[0].model"}},
		{"per_unit without a price", func(c *billow.ContractTerms) { c.Rates[0].UnitPrice = "" }, []string{"rates[0].unit_price"}},
		{"per_unit with tiers", func(c *billow.ContractTerms) { c.Rates[0].Tiers = []billow.ContractTier{{UnitPrice: "1"}} }, []string{"rates[0].tiers"}},
		{"price with 13 decimals", func(c *billow.ContractTerms) { c.Rates[0].UnitPrice = "0.0000000000001" }, []string{"rates[0].unit_price"}},
		{"price with 12 decimals", func(c *billow.ContractTerms) { c.Rates[0].UnitPrice = "0.000000000001" }, nil},
		{"negative price", func(c *billow.ContractTerms) { c.Rates[0].UnitPrice = "-0.01" }, []string{"rates[0].unit_price"}},
		{"minimum with a sign", func(c *billow.ContractTerms) { c.Rates[0].Minimum = "+5" }, []string{"rates[0].minimum"}},
		{"graduated without tiers", tiers(), []string{"rates[1].tiers"}},
		{"graduated with a unit price", func(c *billow.ContractTerms) { c.Rates[1].UnitPrice = "1" }, []string{"rates[1].unit_price"}},
		{"last tier bounded", tiers(billow.ContractTier{UpTo: 10, UnitPrice: "1"}), []string{"rates[1].tiers[0].up_to"}},
		{"inner tier unbounded", tiers(billow.ContractTier{UnitPrice: "1"}, billow.ContractTier{UnitPrice: "1"}), []string{"rates[1].tiers[0].up_to"}},
		{"tiers going down", tiers(billow.ContractTier{UpTo: 10, UnitPrice: "1"}, billow.ContractTier{UpTo: 10, UnitPrice: "1"}, billow.ContractTier{UnitPrice: "1"}),
			[]string{"rates[1].tiers[1].up_to"}},
		{"tier without a price", tiers(billow.ContractTier{UpTo: 10}, billow.ContractTier{UnitPrice: "1"}), []string{"rates[1].tiers[0].unit_price"}},
		{"too many tiers", tiers(make([]billow.ContractTier, billow.ContractTiersMax+1)...), []string{"rates[1].tiers"}},
		{"package without a package", func(c *billow.ContractTerms) { c.Rates[2].Package = nil }, []string{"rates[2].package"}},
		{"package of size 0", func(c *billow.ContractTerms) { c.Rates[2].Package.Size = 0 }, []string{"rates[2].package.size"}},
		{"empty filter value", func(c *billow.ContractTerms) { c.Rates[2].Filters["kind"] = "" }, []string{"rates[2].filters.kind"}},
		{"one rate twice", func(c *billow.ContractTerms) { c.Rates = append(c.Rates, c.Rates[0]) }, []string{"rates[3]"}},
		{"the same meter with other filters", func(c *billow.ContractTerms) {
			r := c.Rates[2]
			r.Filters = map[string]string{"kind": "tts"}
			c.Rates = append(c.Rates, r)
		}, nil},
		{"too many rates", func(c *billow.ContractTerms) { c.Rates = make([]billow.ContractRate, billow.ContractRatesMax+1) }, []string{"rates"}},
		{"seat mode unknown", func(c *billow.ContractTerms) { c.Seats[0].Mode = "shared" }, []string{"seats[0].mode"}},
		{"seat without product and price", func(c *billow.ContractTerms) { c.Seats[0].Product, c.Seats[0].UnitPrice = "", "" },
			[]string{"seats[0].product", "seats[0].unit_price"}},
		{"seats twice", func(c *billow.ContractTerms) { c.Seats = append(c.Seats, c.Seats[0]) }, []string{"seats[1]"}},
		{"negative allowance", func(c *billow.ContractTerms) { c.Allowances["voice_sessions"] = -1 }, []string{"allowances.voice_sessions"}},
		{"limit of 0", func(c *billow.ContractTerms) { c.Limits["ingested_bytes"] = billow.ContractLimit{Limit: 0} }, []string{"limits.ingested_bytes.limit"}},
		{"limit without period: the plan's", func(c *billow.ContractTerms) { c.Limits["ingested_bytes"] = billow.ContractLimit{Limit: 1} }, nil},
		{"limit period unknown", func(c *billow.ContractTerms) {
			c.Limits["ingested_bytes"] = billow.ContractLimit{Limit: 1, Period: "week"}
		},
			[]string{"limits.ingested_bytes.period"}},
		{"allowance of 100%", func(c *billow.ContractTerms) {
			c.Limits["ingested_bytes"] = billow.ContractLimit{Limit: 1, AllowancePercent: "100.000"}
		}, nil},
		{"allowance above 100%", func(c *billow.ContractTerms) {
			c.Limits["ingested_bytes"] = billow.ContractLimit{Limit: 1, AllowancePercent: "100.5"}
		},
			[]string{"limits.ingested_bytes.allowance_percent"}},
		{"allowance far above 100%", func(c *billow.ContractTerms) {
			c.Limits["ingested_bytes"] = billow.ContractLimit{Limit: 1, AllowancePercent: "99999999999999999999999"}
		}, []string{"limits.ingested_bytes.allowance_percent"}},
		{"allowance written 0001", func(c *billow.ContractTerms) {
			c.Limits["ingested_bytes"] = billow.ContractLimit{Limit: 1, AllowancePercent: "0001"}
		}, nil},
		{"negative included credits", func(c *billow.ContractTerms) { c.IncludedCredits = &billow.ContractIncludedCredits{Credits: -1} },
			[]string{"included_credits.credits"}},
		{"included credits refresh unknown", func(c *billow.ContractTerms) {
			c.IncludedCredits = &billow.ContractIncludedCredits{Credits: 1, Refresh: "week"}
		},
			[]string{"included_credits.refresh"}},
		{"every problem at once", func(c *billow.ContractTerms) {
			c.Fees["month"], c.Rates[0].Model, c.Limits["ingested_bytes"] = "x", "x", billow.ContractLimit{}
		}, []string{"fees.month", "limits.ingested_bytes.limit", "rates[0].model"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok()
			tc.mutate(&c)
			got := fieldsOf(c.Validate())
			slices.Sort(got)
			if !slices.Equal(got, tc.fields) {
				t.Fatalf("invalid fields %v, want %v (%v)", got, tc.fields, c.Validate())
			}
			if err := c.Validate(); err != nil && billow.ErrorCode(err) != billow.CodeValidationFailed {
				t.Fatalf("code %s", billow.ErrorCode(err))
			}
		})
	}
}
