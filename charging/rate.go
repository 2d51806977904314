package charging

import (
	"context"
	"fmt"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/rating"
)

// AccountMonth returns the month of the account's time zone that holds t: the period
// rating and charging work in.
func AccountMonth(a *billow.Account, t time.Time) (rating.Period, error) {
	loc, err := time.LoadLocation(a.Timezone)
	if err != nil {
		// Validated when stored; failing now means this binary's zone data lacks it.
		return rating.Period{}, fmt.Errorf("charging: account %s: time zone %q: %w", a.ID, a.Timezone, err)
	}
	return rating.MonthOf(t, loc), nil
}

// RatePeriod rates an account's usage of one month (AccountMonth) with the plan it is
// on: one line per rate of the plan, from the pure core (package rating) the charger
// posts from, so the invoice and the wallet see the same lines. An account with no plan
// has none. Until subscriptions exist (billing, issue 5) an account's plan counts as
// active for the whole month, so rates' minimums apply.
//
// Errors: not_found (the account), invalid_period, the store's errors
// (RatingQuantities), and rating's (*rating.Error).
func RatePeriod(ctx context.Context, store UsageReader, accountRef string, month rating.Period) (*rating.Result, error) {
	a, err := store.Account(ctx, accountRef)
	if err != nil {
		return nil, err
	}
	cat, err := store.AccountCatalog(ctx, a)
	if err != nil {
		return nil, err
	}
	return ratePeriod(ctx, store, a, cat, month, "")
}

// CurrencyLines returns an account's rated lines of one month billed in currency: the
// postpaid usage charges the month's invoice carries, in minor units of the catalog
// currency. Charging never posts them to the ledger.
//
// Errors: those of RatePeriod.
func CurrencyLines(ctx context.Context, store UsageReader, accountRef string, month rating.Period) ([]rating.Line, error) {
	a, err := store.Account(ctx, accountRef)
	if err != nil {
		return nil, err
	}
	cat, err := store.AccountCatalog(ctx, a)
	if err != nil {
		return nil, err
	}
	res, err := ratePeriod(ctx, store, a, cat, month, catalog.BilledInCurrency)
	if err != nil {
		return nil, err
	}
	return res.Lines, nil
}

// ratePeriod rates the account's rates billed in billedIn ("" for all) for the month.
func ratePeriod(ctx context.Context, store UsageReader, a *billow.Account, cat *catalog.Catalog, month rating.Period, billedIn string) (*rating.Result, error) {
	// The period carries its zone: it must be the account's, and the period one of its
	// months (no zone database read per rating).
	zone := month.From.Location()
	want := rating.MonthOf(month.From, zone)
	if zone.String() != a.Timezone || want.Month != month.Month || !want.From.Equal(month.From) || !want.To.Equal(month.To) {
		return nil, errorf(CodeInvalidPeriod, a.ID, "%s (%s to %s) is not a month of the account's time zone, %s", month.Month, month.From, month.To, a.Timezone)
	}
	if a.Plan == "" {
		return &rating.Result{Period: month, Currency: cat.Currency, CurrencyDigits: cat.CurrencyDigits, Lines: []rating.Line{}}, nil
	}
	p, ok := cat.Plan(a.Plan)
	if !ok {
		return nil, fmt.Errorf("charging: account %s is on plan %q, which catalog %s version %d lacks", a.ID, a.Plan, a.Catalog, a.CatalogVersion)
	}
	quantities, err := store.RatingQuantities(ctx, a.ID, month.From, month.To, rating.Needs(p, billedIn))
	if err != nil {
		return nil, err
	}
	return rating.Rate(rating.Input{Catalog: cat, Plan: p.Key, Period: month, Active: true, BilledIn: billedIn, Quantities: quantities})
}
