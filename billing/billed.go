package billing

import (
	"fmt"
	"maps"

	"github.com/shopspring/decimal"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/rating"
)

// A renewal rates every ended month of the last UsageMonthsBack again, each time, and
// bills only what changed in it since it was invoiced. What may change a finalized month
// is its quantity: usage that arrived late (DESIGN principle 5). Prices change too (an
// enterprise contract's rate, a catalog migration, a plan change at renewal), and a month
// already invoiced must not be billed again for that. So each billed line keeps the
// quantities it was rated from (billow.BilledLine), and a month whose quantities changed
// is adjusted by
//
//	rated at the quantities now − rated at the quantities billed, both at today's prices
//
// which is the late quantity alone, priced as the month is priced today: for a graduated
// or volume rate the marginal difference, with allowance, tiers and minimum. Not "rated
// now − invoiced then", which carries any change of price into the adjustment. A month
// whose quantities did not change gives nothing, whatever its prices are now.
//
// The same rating always gives the same amounts (rating.Rate), so a renewal and its
// preview, or a renewal run again, settle a month alike.

// ratedLine is a postpaid line of an ended month, rated now at today's prices.
type ratedLine struct {
	Ref    string // the billed_usage ref
	Key    string // the selection it was rated from (rating.Selection.Key)
	Amount int64  // minor units
}

// settlement is what one rated line of an ended month gives against what was billed of
// its ref.
type settlement struct {
	// Bill says an invoice line is issued for Amount (minor units); Adjust that it is a
	// late adjustment of a month invoiced before, not the month's first line.
	Bill   bool
	Adjust bool
	Amount int64
	// Record, when set, is what billed_usage gets for the ref: Amount added, and the
	// quantities the month is now settled at.
	Record *billow.BilledLine
}

// settleMonth settles the lines of one ended month, rated now from qs, against billed
// (by ref). rateAt rates the same month with the same prices at other quantities and
// returns the amounts by key; it is called at most once, and only when a line billed
// with its quantities has other quantities now.
//
// A line, by what was billed of its ref:
//   - nothing: the month's line, when it charges something;
//   - an amount without quantities (invoiced before they were kept): the difference of
//     amounts, as renewals did then; an adjustment records the quantities, and the
//     month is compared by quantity from then on;
//   - the same quantity: nothing;
//   - another quantity: the difference of the month rated at both, recorded with the
//     new quantities even when it is zero (a late quantity inside an allowance or a
//     started package), so that a later adjustment counts from the latest total;
//   - quantities of another selection (the catalog moved the seat price to another
//     meter or filter since): nothing. The two counts measure different things, and
//     their difference is no late usage.
func settleMonth(lines []ratedLine, qs map[string]decimal.Decimal, billed map[string]billow.BilledLine,
	rateAt func(map[string]decimal.Decimal) (map[string]int64, error)) ([]settlement, error) {
	// The quantities the month was billed at, where they differ from today's.
	var then map[string]decimal.Decimal
	for _, l := range lines {
		prev, seen := billed[l.Ref]
		if !seen || prev.Quantities == nil {
			continue
		}
		if q, ok := prev.Quantities[l.Key]; ok && !q.Equal(qs[l.Key]) {
			if then == nil {
				then = maps.Clone(qs)
			}
			then[l.Key] = q
		}
	}
	var amountsThen map[string]int64
	if then != nil {
		var err error
		if amountsThen, err = rateAt(then); err != nil {
			return nil, err
		}
	}
	out := make([]settlement, len(lines))
	for i, l := range lines {
		now := map[string]decimal.Decimal{l.Key: qs[l.Key]}
		prev, seen := billed[l.Ref]
		switch {
		case !seen:
			if l.Amount != 0 {
				out[i] = settlement{Bill: true, Amount: l.Amount, Record: &billow.BilledLine{AmountMinor: l.Amount, Quantities: now}}
			}
		case prev.Quantities == nil:
			if diff := l.Amount - prev.AmountMinor; diff != 0 {
				out[i] = settlement{Bill: true, Adjust: true, Amount: diff, Record: &billow.BilledLine{AmountMinor: diff, Quantities: now}}
			}
		default:
			if q, ok := prev.Quantities[l.Key]; !ok || q.Equal(qs[l.Key]) {
				continue
			}
			diff := l.Amount - amountsThen[l.Key]
			out[i] = settlement{Bill: diff != 0, Adjust: true, Amount: diff, Record: &billow.BilledLine{AmountMinor: diff, Quantities: now}}
		}
	}
	return out, nil
}

// usageRef is the ref of a month's usage line of a rate.
func usageRef(month, key string) string {
	return "usage:" + month + ":" + key
}

// usageMonth bills the usage of one ended month rated in currency, from the month's
// quantities of the plan's rates (qs, by rating.Needs) and what was billed (by ref): a
// line per rate not yet billed for the month, an adjustment per rate whose quantity
// changed since it was (settleMonth). It returns the lines and what they record in
// billed_usage, by ref. No I/O.
func usageMonth(cat *catalog.Catalog, p *catalog.Plan, month rating.Period, qs map[string]decimal.Decimal,
	billed map[string]billow.BilledLine) ([]billow.InvoiceLine, map[string]billow.BilledLine, error) {
	in := rating.Input{Catalog: cat, Plan: p.Key, Period: month, Active: true, BilledIn: catalog.BilledInCurrency, Quantities: qs}
	res, err := rating.Rate(in)
	if err != nil {
		return nil, nil, err
	}
	rated := make([]ratedLine, len(res.Lines))
	for i, l := range res.Lines {
		rated[i] = ratedLine{Ref: usageRef(month.Month, l.Key), Key: l.Key, Amount: l.Amount}
	}
	settled, err := settleMonth(rated, qs, billed, func(q map[string]decimal.Decimal) (map[string]int64, error) {
		again := in
		again.Quantities = q
		r, err := rating.Rate(again)
		if err != nil {
			return nil, err
		}
		amounts := make(map[string]int64, len(r.Lines))
		for _, l := range r.Lines {
			amounts[l.Key] = l.Amount
		}
		return amounts, nil
	})
	if err != nil {
		return nil, nil, err
	}
	var lines []billow.InvoiceLine
	add := map[string]billow.BilledLine{}
	for i, l := range res.Lines {
		s, ref := settled[i], rated[i].Ref
		if s.Record != nil {
			add[ref] = *s.Record
		}
		if !s.Bill {
			continue
		}
		kind, desc := billow.LineUsage, fmt.Sprintf("%s, %s", meterName(cat, l.Meter), month.Month)
		if s.Adjust {
			kind, desc = billow.LineUsageAdjustment, fmt.Sprintf("Late usage adjustment: %s, %s", meterName(cat, l.Meter), month.Month)
		}
		lines = append(lines, billow.InvoiceLine{Kind: kind, Description: desc, Quantity: l.Billable.String(),
			AmountMinor: s.Amount, PeriodStart: month.From.UTC(), PeriodEnd: month.To.UTC(), Ref: ref})
	}
	return lines, add, nil
}
