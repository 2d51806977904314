package rating_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/rating"
)

// fuzzRate is one rate drawn from fuzz input, on a catalog built in memory: the rules
// catalog.Parse enforces (tiers strictly increasing, a last open tier, prices with at
// most 12 decimals, whole-cent minimums) are kept by construction.
type fuzzRate struct {
	model        uint8  // per_unit, graduated, volume, package
	providerCost bool   // price the provider_cost meter (quantity in credits)
	credits      bool   // billed in credits, else in currency
	bound        uint32 // first tier bound or package size (≥ 1)
	step         uint32 // distance to the second bound
	price1       uint64 // prices in 10^-priceDigits USD
	price2       uint64
	price3       uint64
	priceDigits  uint8
	allowance    uint32
	minimumCents uint32
	perCurrency  uint32 // credits per USD, ≥ 1
}

func (f fuzzRate) catalog() *catalog.Catalog {
	digits := int32(f.priceDigits % (catalog.RateFractionDigitsMax + 1))
	price := func(n uint64) string { return decimal.New(int64(n%1_000_000_000_000), -digits).String() }
	bound := int64(f.bound%1_000_000) + 1
	second := bound + int64(f.step%1_000_000) + 1
	r := catalog.Rate{Meter: "units", BilledIn: catalog.BilledInCurrency}
	if f.providerCost {
		r.Meter = "cost"
	}
	if f.credits {
		r.BilledIn = catalog.BilledInCredits
	}
	switch f.model % 4 {
	case 0:
		r.Model, r.UnitPrice = catalog.ModelPerUnit, price(f.price1)
	case 1, 2:
		r.Model = catalog.ModelGraduated
		if f.model%4 == 2 {
			r.Model = catalog.ModelVolume
		}
		r.Tiers = []catalog.Tier{{UpTo: bound, UnitPrice: price(f.price1)}, {UpTo: second, UnitPrice: price(f.price2)}, {UnitPrice: price(f.price3)}}
	case 3:
		r.Model, r.Package = catalog.ModelPackage, &catalog.Package{Size: bound, Price: price(f.price1)}
	}
	if f.minimumCents > 0 {
		r.MinimumMinorUnits = int64(f.minimumCents)
		r.Minimum = decimal.New(int64(f.minimumCents), -2).StringFixed(2)
	}
	p := catalog.Plan{Key: "p", Rates: []catalog.Rate{r}}
	if f.allowance > 0 {
		p.Allowances = map[string]int64{r.Meter: int64(f.allowance % 100_000)}
	}
	return &catalog.Catalog{Name: "fuzz", Currency: "USD", CurrencyDigits: 2,
		Credits: catalog.Credits{PerCurrencyUnit: int64(f.perCurrency%catalog.PerCurrencyUnitMax) + 1},
		Meters: []catalog.Meter{
			{Key: "units", Unit: "unit", Aggregation: catalog.AggregationSum},
			{Key: "cost", Unit: "USD", Aggregation: catalog.AggregationProviderCost},
		},
		Plans: []catalog.Plan{p}}
}

// monotone reports whether the rate's charge can only grow with its quantity: volume
// tiers can charge less for more (a cheaper tier prices every unit).
func (f fuzzRate) monotone() bool { return f.model%4 != 2 }

func rateOne(t *testing.T, c *catalog.Catalog, q decimal.Decimal, active bool) rating.Line {
	t.Helper()
	l, ok := rateOrOverflow(t, c, q, active)
	if !ok {
		t.Fatalf("rate %s: the amount does not fit an int64", q)
	}
	return l
}

// rateOrOverflow rates one quantity; false when the amount does not fit an int64, the one
// error a valid rate and quantity can give.
func rateOrOverflow(t *testing.T, c *catalog.Catalog, q decimal.Decimal, active bool) (rating.Line, bool) {
	t.Helper()
	key := c.Plans[0].Rates[0].Meter
	res, err := rating.Rate(rating.Input{Catalog: c, Plan: "p", Period: november, Active: active,
		Quantities: map[string]decimal.Decimal{key: q}})
	var e *rating.Error
	if errors.As(err, &e) && e.Code == rating.CodeAmountOutOfRange {
		return rating.Line{}, false
	}
	if err != nil {
		t.Fatalf("rate %s of %s: %v", q, key, err)
	}
	return res.Lines[0], true
}

// lineText writes every field of a line, decimals as their text, so that two lines
// compare equal only when they are the same to the last digit.
func lineText(l rating.Line) string {
	return fmt.Sprintf("%s|%s|%v|%d|%s|%s|%s|%s|%s|%s|%s|%d|%v|%d|%s", l.Key, l.Meter, l.Filters, l.RateIndex, l.Model, l.BilledIn,
		l.QuantityUnit, l.Quantity, l.Allowance, l.Billable, l.Exact, l.Minimum, l.MinimumApplied, l.Amount, l.AmountUnit)
}

// FuzzRating checks, for any rate, that rating is deterministic and never negative, and,
// for the models whose charge grows with usage, that rating month-to-date quantities
// q1 ≤ q2 never gives a smaller amount for q2: what charging has posted for q1 is never
// more than the month ends up costing.
func FuzzRating(f *testing.F) {
	f.Add(uint8(0), false, false, uint32(1000), uint32(4000), uint64(4), uint64(3), uint64(2), uint8(2), uint32(0), uint32(0), uint32(999), uint64(1500), uint64(1), uint8(0))
	f.Add(uint8(1), false, false, uint32(999), uint32(3999), uint64(4), uint64(3), uint64(2), uint8(2), uint32(500), uint32(2500), uint32(999), uint64(999), uint64(2), uint8(0))
	f.Add(uint8(1), true, true, uint32(4), uint32(10), uint64(12), uint64(11), uint64(10), uint8(1), uint32(5), uint32(0), uint32(2), uint64(4999), uint64(1), uint8(3))
	f.Add(uint8(2), false, true, uint32(999), uint32(3999), uint64(4), uint64(3), uint64(2), uint8(2), uint32(0), uint32(100), uint32(999), uint64(1000), uint64(1), uint8(0))
	f.Add(uint8(3), true, false, uint32(1), uint32(0), uint64(15), uint64(0), uint64(0), uint8(3), uint32(0), uint32(0), uint32(2), uint64(2000), uint64(1), uint8(6))
	f.Add(uint8(3), false, true, uint32(999), uint32(0), uint64(1), uint64(0), uint64(0), uint8(12), uint32(7), uint32(1), uint32(0), uint64(1_000_000_000_000_000), uint64(999), uint8(3))
	f.Fuzz(func(t *testing.T, model uint8, providerCost, credits bool, bound, step uint32, p1, p2, p3 uint64, priceDigits uint8,
		allowance, minimumCents, perCurrency uint32, q1Units, dq uint64, quantityDigits uint8) {
		fr := fuzzRate{model, providerCost, credits, bound, step, p1, p2, p3, priceDigits, allowance, minimumCents, perCurrency}
		c := fr.catalog()
		// Quantities up to 10^15 units with up to 6 decimals, as the rollups give them.
		digits := int32(quantityDigits % 7)
		q1 := decimal.New(int64(q1Units%1_000_000_000_000_000), -digits)
		q2 := q1.Add(decimal.New(int64(dq%1_000_000_000_000_000), -digits))
		for _, active := range []bool{false, true} {
			a, fits := rateOrOverflow(t, c, q1, active)
			b, fitsAgain := rateOrOverflow(t, c, q1, active)
			if lineText(a) != lineText(b) || fits != fitsAgain {
				t.Fatalf("rating %s twice differs:\n%s\n%s", q1, lineText(a), lineText(b))
			}
			if a.Amount < 0 {
				t.Fatalf("negative amount: %s", lineText(a))
			}
			if !fr.monotone() {
				continue
			}
			z, fits2 := rateOrOverflow(t, c, q2, active)
			switch {
			case !fits && fits2:
				t.Fatalf("%s overflows but more usage %s does not: %s", q1, q2, lineText(z))
			case fits && fits2 && z.Amount < a.Amount:
				t.Fatalf("%s → %d but more usage %s → %d\n%s\n%s", q1, a.Amount, q2, z.Amount, lineText(a), lineText(z))
			}
		}
	})
}

// TestGraduatedAgainstUnitByUnit compares graduated and package charges with a naive
// oracle that prices each unit on its own, over random tiers and whole quantities.
func TestGraduatedAgainstUnitByUnit(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		for range 40 {
			fr := fuzzRate{model: 1, credits: rng.IntN(2) == 0, bound: rng.Uint32N(300), step: rng.Uint32N(300),
				price1: rng.Uint64N(100_000), price2: rng.Uint64N(100_000), price3: rng.Uint64N(100_000), priceDigits: uint8(rng.IntN(7)),
				allowance: rng.Uint32N(50), perCurrency: rng.Uint32N(2000)}
			c := fr.catalog()
			r := c.Plans[0].Rates[0]
			allowance := c.Plans[0].Allowances[r.Meter]
			q := rng.Int64N(1000)
			want := decimal.Zero
			for u := allowance + 1; u <= q; u++ {
				tier := r.Tiers[len(r.Tiers)-1]
				for _, tr := range r.Tiers {
					if tr.UpTo != 0 && u-allowance <= tr.UpTo {
						tier = tr
						break
					}
				}
				want = want.Add(decimal.RequireFromString(tier.UnitPrice))
			}
			perCurrency := decimal.New(1, 2)
			if fr.credits {
				perCurrency = decimal.NewFromInt(c.Credits.PerCurrencyUnit).Shift(6)
			}
			wantAmount := want.Mul(perCurrency).Round(0).IntPart()
			if got := rateOne(t, c, decimal.NewFromInt(q), true); got.Amount != wantAmount || !got.Exact.Equal(want.Mul(perCurrency)) {
				t.Fatalf("seed %d: %d units on tiers %+v with allowance %d: %d (exact %s), want %d (exact %s)",
					seed, q, r.Tiers, allowance, got.Amount, got.Exact, wantAmount, want.Mul(perCurrency))
			}

			// A package rate on the same draw: ⌈(q − allowance) / size⌉ packages.
			fr.model = 3
			c = fr.catalog()
			r = c.Plans[0].Rates[0]
			billable := max(0, q-allowance)
			packages := (billable + r.Package.Size - 1) / r.Package.Size
			exact := decimal.NewFromInt(packages).Mul(decimal.RequireFromString(r.Package.Price)).Mul(perCurrency)
			if got := rateOne(t, c, decimal.NewFromInt(q), true); got.Amount != exact.Round(0).IntPart() {
				t.Fatalf("seed %d: %d units in packages of %d: %d, want %s", seed, q, r.Package.Size, got.Amount, exact)
			}
		}
	}
}

// TestRoundingIsHalfUp pins the rounding mode on every half: n + 0.5 rounds to n + 1.
func TestRoundingIsHalfUp(t *testing.T) {
	c := parse(t, testCatalog)
	for n := int64(0); n < 50; n++ {
		q := decimal.NewFromInt(2*n + 1) // (2n+1) × 0.5 cents = n + 0.5 cents
		res, err := rating.Rate(rating.Input{Catalog: c, Plan: "rounding", Period: november,
			Quantities: quantities(c, "rounding", map[string]string{"calls": q.String()})})
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Lines[0].Amount; got != n+1 {
			t.Fatalf("%s calls at half a cent: %d cents, want %d", q, got, n+1)
		}
	}
}
