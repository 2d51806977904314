package billing

import (
	"fmt"
	"math/big"
	"time"
)

// ProrationAmountMinorMax bounds the prices Prorate takes, in minor units: 10^15, a
// trillion dollars a period. The arithmetic is exact (math/big) whatever the inputs;
// the bound keeps the difference of two prices, and so every result, inside an int64.
const ProrationAmountMinorMax = 1_000_000_000_000_000

// Proration is the prorated difference of a change at time at within a period
// [start, end).
type Proration struct {
	// DaysRemaining is the number of whole calendar days, in loc, from at's day
	// (inclusive) to end's day (exclusive): a change on the first day of a 30-day
	// period has 30, one on its last day 1.
	DaysRemaining int64
	// DaysInPeriod is the number of calendar days, in loc, from start's day to end's day.
	DaysInPeriod int64
	// AmountMinor is (newMinor - oldMinor) × DaysRemaining / DaysInPeriod, rounded once,
	// half away from zero. Positive is a charge; negative is a credit.
	AmountMinor int64
}

// Prorate returns what a change of price from oldMinor to newMinor (per period, in minor
// units) costs when made at time at within the period [start, end), by the day.
//
// Days are calendar days in loc, whatever their length: the 23-hour day when summer time
// begins is one day, and so is the 25-hour day when it ends. A change before start
// counts the whole period (DaysRemaining = DaysInPeriod); one at or after end counts
// nothing (DaysRemaining = 0, AmountMinor = 0).
//
// Several changes within one period prorate one by one: each is the difference between
// the price in force before it and the new one, from its own day to the end of the
// period. Their sum is the direct calculation, each day at the price in force that day,
// less the price paid for the period, up to the one rounding of each change.
//
// Prorate panics when start is not before end, when start and end fall on the same
// calendar day of loc, when loc is nil, or when a price is outside
// ±ProrationAmountMinorMax: each is a programmer error (periods come from PeriodStart,
// prices from a validated catalog).
func Prorate(oldMinor, newMinor int64, start, end, at time.Time, loc *time.Location) Proration {
	for _, amount := range []int64{oldMinor, newMinor} {
		if amount < -ProrationAmountMinorMax || amount > ProrationAmountMinorMax {
			panic(fmt.Sprintf("billing: price %d minor units outside ±%d", amount, int64(ProrationAmountMinorMax)))
		}
	}
	if loc == nil {
		panic("billing: nil location")
	}
	if !start.Before(end) {
		panic(fmt.Sprintf("billing: period [%s, %s) is empty", start, end))
	}
	p := Proration{DaysInPeriod: civilDay(end, loc) - civilDay(start, loc)}
	if p.DaysInPeriod < 1 {
		panic(fmt.Sprintf("billing: period [%s, %s) lies within one day of %s", start, end, loc))
	}
	switch {
	case at.Before(start):
		p.DaysRemaining = p.DaysInPeriod
	case !at.Before(end):
		p.DaysRemaining = 0
	default:
		p.DaysRemaining = civilDay(end, loc) - civilDay(at, loc)
	}
	diff := new(big.Int).Sub(big.NewInt(newMinor), big.NewInt(oldMinor))
	num := diff.Mul(diff, big.NewInt(p.DaysRemaining))
	p.AmountMinor = divRoundHalfAway(num, big.NewInt(p.DaysInPeriod))
	return p
}

// civilDay returns the number of t's calendar date in loc, counted in days from
// 1 January 1970: the difference of two is a number of calendar days, whatever the
// length of the days between them.
func civilDay(t time.Time, loc *time.Location) int64 {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / (24 * 60 * 60)
}

// divRoundHalfAway returns num / den rounded to an integer, half away from zero
// (2.5 → 3, -2.5 → -3), exactly: the quotient is truncated and the remainder compared with
// half the divisor. den must be positive and the result must fit an int64; the callers'
// bounds guarantee both, and a breach panics.
func divRoundHalfAway(num, den *big.Int) int64 {
	if den.Sign() <= 0 {
		panic("billing: rounding by a divisor that is not positive")
	}
	q, r := new(big.Int).QuoRem(num, den, new(big.Int)) // q truncated toward zero; r has num's sign
	twice := r.Abs(r)
	twice.Lsh(twice, 1)
	if twice.Cmp(den) >= 0 {
		q.Add(q, big.NewInt(int64(num.Sign())))
	}
	if !q.IsInt64() {
		panic(fmt.Sprintf("billing: rounded amount %s does not fit an int64", q))
	}
	return q.Int64()
}
