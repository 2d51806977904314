// Package contract applies an enterprise account's contract to its catalog. It is pure:
// the same catalog and terms always give the same contracted catalog, and nothing is
// read or written.
//
// A contract re-prices one plan, for one account: Apply returns a copy of the catalog in
// which that plan carries the contract's fees, rates, seat prices, allowances, limits
// and included credits. The store hands that copy to every service that asks for the
// account's catalog (sqlstore.DB.AccountCatalog), so billing, rating, charging, credits
// and checks read the contracted plan exactly as they read any plan, with no case of
// their own. The catalog the copy is made from is shared by every account on its version
// and cached by the store: it is never changed.
//
// The format is documented in docs/contracts.md.
package contract

import (
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/shopspring/decimal"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
)

// Allowed reports whether an account may have a contract: only enterprise accounts are
// billed under one (DESIGN, seed 000).
//
// Errors: contract_not_allowed.
func Allowed(a *billow.Account) error {
	if a.Type != billow.AccountEnterprise {
		return billow.Errorf(billow.KindConflict, billow.CodeContractNotAllowed,
			"account %s is a %s account; contracts are for enterprise accounts", a.ExternalID, a.Type)
	}
	return nil
}

// Apply returns a copy of cat in which the plan t names carries the contract's terms.
// cat is not changed. Plans other than the contract's, and the parts of the contract's
// plan it does not override, are shared with cat: like cat, the copy is read-only.
//
// t must have passed Validate and name its plan. Apply checks what needs the catalog:
// that the plan exists, takes custom pricing and is offered to enterprise accounts; that
// every rate, seat price and allowance re-prices one the plan has; that meters exist;
// that fixed amounts are whole minor units of the currency; the catalog's bounds on
// amounts and quantities. The copy then holds every guarantee catalog.Parse gives, which
// rating relies on.
//
// Errors: unknown_plan, contract_not_allowed, validation_failed (naming each field of t
// that does not fit the catalog).
func Apply(cat *catalog.Catalog, t *billow.ContractTerms) (*catalog.Catalog, error) {
	i := slices.IndexFunc(cat.Plans, func(p catalog.Plan) bool { return p.Key == t.Plan })
	if i < 0 {
		return nil, billow.FieldErrorf(billow.CodeUnknownPlan, "plan", "the catalog has no plan %q", t.Plan)
	}
	orig := &cat.Plans[i]
	if !orig.CustomPricing {
		return nil, billow.Errorf(billow.KindConflict, billow.CodeContractNotAllowed,
			"plan %q does not take custom pricing (custom_pricing is false in the catalog)", t.Plan)
	}
	if !slices.Contains(orig.AccountTypes, catalog.AccountEnterprise) {
		return nil, billow.Errorf(billow.KindConflict, billow.CodeContractNotAllowed,
			"plan %q is not offered to enterprise accounts", t.Plan)
	}
	ap := applier{cat: cat, plan: *orig}
	ap.fees(t.Fees)
	ap.rates(t.Rates)
	ap.seats(t.Seats)
	ap.allowances(t.Allowances)
	ap.limits(t.Limits)
	ap.includedCredits(t.IncludedCredits)
	if len(ap.errs) > 0 {
		return nil, &billow.Error{Kind: billow.KindInvalid, Code: billow.CodeValidationFailed,
			Message: fmt.Sprintf("the contract does not fit plan %q of catalog %q", t.Plan, cat.Name), Fields: ap.errs}
	}
	out := *cat
	out.Plans = slices.Clone(cat.Plans)
	out.Plans[i] = ap.plan
	return &out, nil
}

// applier overrides a copy of one plan; every slice, map or pointer it changes is
// replaced by a new one first, so the original plan's stay as they were.
type applier struct {
	cat  *catalog.Catalog
	plan catalog.Plan
	errs []billow.FieldError
}

func (ap *applier) fail(field, format string, args ...any) {
	ap.errs = append(ap.errs, billow.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// amount converts a fixed amount to its canonical text and minor units: it is charged as
// is, so it must be whole minor units of the currency.
func (ap *applier) amount(field, text string) (string, int64, bool) {
	v, err := decimal.NewFromString(text)
	if err != nil {
		ap.fail(field, "must be an amount such as \"3000.00\"")
		return "", 0, false
	}
	digits := ap.cat.CurrencyDigits
	minor := v.Shift(int32(digits))
	switch {
	case !minor.IsInteger():
		ap.fail(field, "must have at most %d fractional digits for %s", digits, ap.cat.Currency)
		return "", 0, false
	case minor.GreaterThan(decimal.NewFromInt(catalog.AmountMinorUnitsMax)):
		ap.fail(field, "is too large: at most %d minor units (catalog.AmountMinorUnitsMax)", int64(catalog.AmountMinorUnitsMax))
		return "", 0, false
	}
	return v.StringFixed(int32(digits)), minor.IntPart(), true
}

// price converts a unit price to the catalog's canonical text.
func (ap *applier) price(field, text string) string {
	v, err := decimal.NewFromString(text)
	if err != nil {
		ap.fail(field, "must be a price such as \"0.0125\"")
		return ""
	}
	if v.GreaterThan(decimal.NewFromInt(catalog.UnitPriceMax)) {
		ap.fail(field, "must be at most %d (catalog.UnitPriceMax)", int64(catalog.UnitPriceMax))
		return ""
	}
	return catalog.PriceText(v, ap.cat.CurrencyDigits)
}

func (ap *applier) quantity(field string, v int64) {
	if v > catalog.QuantityMax {
		ap.fail(field, "must be at most %d (catalog.QuantityMax)", int64(catalog.QuantityMax))
	}
}

func (ap *applier) meter(field, key string) bool {
	if _, ok := ap.cat.Meter(key); !ok {
		ap.fail(field, "the catalog has no meter %q", key)
		return false
	}
	return true
}

// fees replace or add the plan's fee of each interval, month before year.
func (ap *applier) fees(fees map[string]string) {
	if len(fees) == 0 {
		return
	}
	out := slices.Clone(ap.plan.Fees)
	for _, interval := range []string{catalog.IntervalMonth, catalog.IntervalYear} {
		text, ok := fees[interval]
		if !ok {
			continue
		}
		amount, minor, ok := ap.amount("fees."+interval, text)
		if !ok {
			continue
		}
		fee := catalog.Fee{Interval: interval, Amount: amount, AmountMinorUnits: minor}
		if j := slices.IndexFunc(out, func(f catalog.Fee) bool { return f.Interval == interval }); j >= 0 {
			out[j] = fee
		} else {
			out = append(out, fee)
		}
	}
	// Month before year, as Parse lists them.
	sort.SliceStable(out, func(a, b int) bool {
		return out[a].Interval == catalog.IntervalMonth && out[b].Interval != catalog.IntervalMonth
	})
	ap.plan.Fees = out
}

// rates replace the plan's rate on the same meter and filters: model, prices and minimum.
// The rate keeps its filters and billed_in, so what is prepaid stays prepaid and no two
// rates come to price the same usage.
func (ap *applier) rates(rates []billow.ContractRate) {
	if len(rates) == 0 {
		return
	}
	out := slices.Clone(ap.plan.Rates)
	for k, cr := range rates {
		field := fmt.Sprintf("rates[%d]", k)
		if !ap.meter(field+".meter", cr.Meter) {
			continue
		}
		j := slices.IndexFunc(out, func(r catalog.Rate) bool { return r.Meter == cr.Meter && maps.Equal(r.Filters, cr.Filters) })
		if j < 0 {
			ap.fail(field, "plan %q has no rate on meter %s with these filters: a contract re-prices the plan's rates and adds none", ap.plan.Key, cr.Meter)
			continue
		}
		r := catalog.Rate{Meter: cr.Meter, Model: cr.Model, Filters: out[j].Filters, BilledIn: out[j].BilledIn}
		switch cr.Model {
		case catalog.ModelPerUnit:
			r.UnitPrice = ap.price(field+".unit_price", cr.UnitPrice)
		case catalog.ModelGraduated, catalog.ModelVolume:
			r.Tiers = make([]catalog.Tier, len(cr.Tiers))
			for n, tier := range cr.Tiers {
				f := fmt.Sprintf("%s.tiers[%d]", field, n)
				ap.quantity(f+".up_to", tier.UpTo)
				r.Tiers[n] = catalog.Tier{UpTo: tier.UpTo, UnitPrice: ap.price(f+".unit_price", tier.UnitPrice)}
			}
		case catalog.ModelPackage:
			ap.quantity(field+".package.size", cr.Package.Size)
			r.Package = &catalog.Package{Size: cr.Package.Size, Price: ap.price(field+".package.price", cr.Package.Price)}
		default:
			// Validate accepts only the four models.
			panic("contract: rate model " + cr.Model + " passed validation")
		}
		if cr.Minimum != "" {
			r.Minimum, r.MinimumMinorUnits, _ = ap.amount(field+".minimum", cr.Minimum)
		}
		out[j] = r
	}
	ap.plan.Rates = out
}

// seats replace the unit price of a product's named or concurrent seats.
func (ap *applier) seats(seats []billow.ContractSeat) {
	if len(seats) == 0 {
		return
	}
	out := slices.Clone(ap.plan.Seats)
	for k, cs := range seats {
		field := fmt.Sprintf("seats[%d]", k)
		j := slices.IndexFunc(out, func(s catalog.Seat) bool { return s.Product == cs.Product })
		var sp **catalog.SeatPrice
		if j >= 0 {
			sp = &out[j].Named
			if cs.Mode == billow.SeatsConcurrent {
				sp = &out[j].Concurrent
			}
		}
		if sp == nil || *sp == nil {
			ap.fail(field, "plan %q has no %s seats of product %q to re-price", ap.plan.Key, cs.Mode, cs.Product)
			continue
		}
		price := **sp
		price.UnitPrice = ap.price(field+".unit_price", cs.UnitPrice)
		*sp = &price
	}
	ap.plan.Seats = out
}

// allowances replace the quantity of a meter included per month. As in the catalog, the
// meter must have exactly one rate or seat price in the plan for the allowance to reduce.
func (ap *applier) allowances(allowances map[string]int64) {
	if len(allowances) == 0 {
		return
	}
	out := maps.Clone(ap.plan.Allowances)
	if out == nil {
		out = map[string]int64{}
	}
	for _, meter := range slices.Sorted(maps.Keys(allowances)) {
		field := "allowances." + meter
		if !ap.meter(field, meter) {
			continue
		}
		if n := ap.charges(meter); n != 1 {
			ap.fail(field, "plan %q prices meter %s %d times; an allowance reduces its one price", ap.plan.Key, meter, n)
			continue
		}
		ap.quantity(field, allowances[meter])
		out[meter] = allowances[meter]
	}
	ap.plan.Allowances = out
}

// charges counts the plan's rates and seat prices on a meter.
func (ap *applier) charges(meter string) int {
	n := 0
	for _, r := range ap.plan.Rates {
		if r.Meter == meter {
			n++
		}
	}
	for _, s := range ap.plan.Seats {
		for _, sp := range []*catalog.SeatPrice{s.Named, s.Concurrent} {
			if sp != nil && sp.Meter == meter {
				n++
			}
		}
	}
	return n
}

// limits replace or add the plan's quota on a meter, sorted by meter as Parse sorts them.
func (ap *applier) limits(limits map[string]billow.ContractLimit) {
	if len(limits) == 0 {
		return
	}
	out := slices.Clone(ap.plan.Limits)
	for _, meter := range slices.Sorted(maps.Keys(limits)) {
		field := "limits." + meter
		cl := limits[meter]
		if !ap.meter(field, meter) {
			continue
		}
		ap.quantity(field+".limit", cl.Limit)
		j := slices.IndexFunc(out, func(l catalog.Limit) bool { return l.Meter == meter })
		period := cl.Period
		if period == "" {
			if j < 0 {
				ap.fail(field+".period", "is required: plan %q has no limit on meter %s to take it from", ap.plan.Key, meter)
				continue
			}
			period = out[j].Period
		}
		percent := ""
		if cl.AllowancePercent != "" {
			v, err := decimal.NewFromString(cl.AllowancePercent)
			if err != nil {
				ap.fail(field+".allowance_percent", "must be a percentage such as \"1\"")
				continue
			}
			if !v.IsZero() {
				percent = v.String()
			}
		}
		l := catalog.Limit{Meter: meter, Limit: cl.Limit, AllowancePercent: percent, Period: period}
		if cl.Limit >= 1 && cl.Limit <= catalog.QuantityMax {
			l.HardLimit = catalog.HardLimit(l.Limit, l.AllowancePercent)
		}
		if j >= 0 {
			out[j] = l
		} else {
			out = append(out, l)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Meter < out[b].Meter })
	ap.plan.Limits = out
}

// includedCredits replace the plan's free grant; 0 credits removes it.
func (ap *applier) includedCredits(ic *billow.ContractIncludedCredits) {
	if ic == nil {
		return
	}
	if ic.Credits == 0 {
		ap.plan.IncludedCredits = nil
		return
	}
	if ic.Credits > catalog.CreditsMax {
		ap.fail("included_credits.credits", "must be at most %d (catalog.CreditsMax)", int64(catalog.CreditsMax))
		return
	}
	refresh := ic.Refresh
	if refresh == "" {
		refresh = catalog.RefreshCycle
	}
	ap.plan.IncludedCredits = &catalog.IncludedCredits{Credits: ic.Credits, Refresh: refresh}
}
