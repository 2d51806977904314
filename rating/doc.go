// Package rating turns a month's metered quantities into rated lines: what each rate of
// an account's plan charges for the month, in micro-credits for rates billed in credits
// (prepaid) and in minor units of the catalog currency for rates billed in currency
// (postpaid). It owns the price models (per unit, graduated, volume, package), the plan's
// allowances, the rates' minimums, the conversion of provider_cost quantities (LLM cost
// plus markup, kept in credits by the rollups) back to the currency prices are written in,
// and the one rounding of every line.
//
// The package is pure: no I/O, no clock, no logging, no global state. The caller reads
// the quantities Needs lists (charging/ from the store's rollups) and gets the same lines
// for the same input, every time: re-rating a month gives identical lines, and charging
// posts only the difference between a line and what it charged before.
//
// Seat prices (Plan.Seats) are rated by RateSeats, one line per product counted the way
// the subscription chose (named or concurrent), with the same one rounding; billing puts
// those billed in currency on the invoice (billing/seats.go).
//
// The rules, the rounding stated exactly, are in docs/rating.md.
package rating
