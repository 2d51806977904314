package billing

import (
	"context"
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/rating"
)

// Seats are billed postpaid, like usage: a renewal bills the agent seats of each month
// that ended (usageLines), one line per product of the plan, counted the way the
// subscription chose (rating.RateSeats). What each line billed is kept in billed_usage
// under its ref, with the seats it was rated from, so that late agent logins for a month
// already invoiced give a labelled adjustment of the added seats only, at today's seat
// price, and a new seat price alone gives none (DESIGN principle 5; settleMonth).
//
// The ref names the mode the month was billed in, seats:<YYYY-MM>:<product>:<mode>. A
// subscription's mode changes at once and keeps no history, so without it a month
// billed named and adjusted after a switch to concurrent would be re-rated concurrent and
// "adjusted" by the difference between the two countings. With it, a month keeps the
// mode it was first billed in, and a switch applies from the first month not yet billed.

// seatRef is the ref of a month's seat line of a product counted in mode.
func seatRef(month, product string, mode billow.SeatMode) string {
	return "seats:" + month + ":" + product + ":" + string(mode)
}

// seatModesOf returns the modes to count the month's seats by: the mode a product's seats
// were billed in for that month when they were, else the subscription's.
func seatModesOf(p *catalog.Plan, month string, modes []billow.SubscriptionSeat, billed map[string]billow.BilledLine) []billow.SubscriptionSeat {
	out := make([]billow.SubscriptionSeat, 0, len(p.Seats))
	for i := range p.Seats {
		product := p.Seats[i].Product
		mode, _ := rating.SeatCount(&p.Seats[i], modes)
		for _, m := range []billow.SeatMode{billow.SeatsNamed, billow.SeatsConcurrent} {
			if _, ok := billed[seatRef(month, product, m)]; ok {
				mode = m
				break
			}
		}
		out = append(out, billow.SubscriptionSeat{Product: product, Mode: mode})
	}
	return out
}

// seatLines bills the seats of one ended month billed in currency: a line per product
// not yet billed for the month, an adjustment per product whose seats changed since it
// was (seatMonth). Seats billed in credits are not invoice lines. It returns the lines
// and what they record in billed_usage, by ref.
func (s *Service) seatLines(ctx context.Context, st *accountState, sub *billow.Subscription, p *catalog.Plan, month rating.Period, billed map[string]billow.BilledLine) ([]billow.InvoiceLine, map[string]billow.BilledLine, error) {
	modes := seatModesOf(p, month.Month, sub.Seats, billed)
	needs := rating.SeatNeeds(p, modes, catalog.BilledInCurrency)
	if len(needs) == 0 {
		return nil, nil, nil
	}
	qs, err := s.store.RatingQuantities(ctx, sub.Account, month.From, month.To, needs)
	if err != nil {
		return nil, nil, err
	}
	return seatMonth(st.cat, p, month, modes, qs, billed)
}

// seatMonth bills the seats of one ended month billed in currency, counted by modes
// (seatModesOf), from the month's quantities (qs, by rating.SeatNeeds) and what was
// billed (by ref): a line per product not yet billed for the month, an adjustment per
// product whose seats changed since it was (settleMonth). No I/O.
func seatMonth(cat *catalog.Catalog, p *catalog.Plan, month rating.Period, modes []billow.SubscriptionSeat, qs map[string]decimal.Decimal,
	billed map[string]billow.BilledLine) ([]billow.InvoiceLine, map[string]billow.BilledLine, error) {
	in := rating.SeatInput{Catalog: cat, Plan: p.Key, Period: month, Modes: modes, BilledIn: catalog.BilledInCurrency, Quantities: qs}
	res, err := rating.RateSeats(in)
	if err != nil {
		return nil, nil, err
	}
	rated := make([]ratedLine, len(res.Lines))
	for i, l := range res.Lines {
		rated[i] = ratedLine{Ref: seatRef(month.Month, l.Product, l.Mode), Key: l.Key, Amount: l.Amount}
	}
	settled, err := settleMonth(rated, qs, billed, func(q map[string]decimal.Decimal) (map[string]int64, error) {
		again := in
		again.Quantities = q
		r, err := rating.RateSeats(again)
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
			continue // nothing to bill, or no seat added since
		}
		line := billow.InvoiceLine{Kind: billow.LineSeats, Description: seatDescription(cat, l, month.Month),
			Quantity: l.Billable.String(), UnitAmount: l.UnitPrice, AmountMinor: s.Amount,
			PeriodStart: month.From.UTC(), PeriodEnd: month.To.UTC(), Ref: ref}
		if s.Adjust {
			// Quantity stays the month's seats, as for usage adjustments; the amount is the
			// difference, so no unit price multiplies up to it.
			line.Kind, line.UnitAmount = billow.LineUsageAdjustment, ""
			line.Description = "Late seats adjustment: " + line.Description
		}
		lines = append(lines, line)
	}
	return lines, add, nil
}

// seatDescription is "Contact Center AI seats (named), 2026-10".
func seatDescription(cat *catalog.Catalog, l rating.SeatLine, month string) string {
	name := l.Product
	if pr, ok := cat.Product(l.Product); ok {
		name = pr.Name
	}
	return fmt.Sprintf("%s seats (%s), %s", name, l.Mode, month)
}
