package meter

import (
	"github.com/billowhq/billow/catalog"
	"github.com/shopspring/decimal"
)

// Bounds of a quota, the catalog's bounds on plan limits: a contract overriding the
// limit or the allowance stays within what a catalog could say.
const (
	QuotaLimitMax       = catalog.QuantityMax
	AllowancePercentMax = 100
)

// Quota is a limit on a meter's quantity with a tolerance above it, such as seed 000's
// ingestion quota: 1 GB plus a 1% allowance. It is built by NewQuota, which computes the
// hard limit once.
type Quota struct {
	limit     int64
	hardLimit int64
}

// NewQuota returns the quota of a limit (in the meter's unit, 0 to QuotaLimitMax) and an
// allowance in percent above it (decimal text, "1" is 1%, "" is 0, at most
// AllowancePercentMax). A contract may override either one: the caller passes the
// contract's value where it has one and the plan's otherwise. It returns a
// CodeInvalidRules error for values out of bounds.
func NewQuota(limit int64, allowancePercent string) (Quota, error) {
	if limit < 0 || limit > QuotaLimitMax {
		return Quota{}, errorf(CodeInvalidRules, "limit", "must be between 0 and %d (%d given)", int64(QuotaLimitMax), limit)
	}
	pct := decimal.Zero
	if allowancePercent != "" {
		n, err := parseNumber("allowance_percent", allowancePercent)
		if err != nil {
			return Quota{}, errorf(CodeInvalidRules, "allowance_percent", "must be a decimal percentage such as \"1\" (%q given)", allowancePercent)
		}
		pct = n.decimal()
	}
	if pct.IsNegative() || pct.GreaterThan(decimal.NewFromInt(AllowancePercentMax)) {
		return Quota{}, errorf(CodeInvalidRules, "allowance_percent", "must be between 0 and %d (%s given)", AllowancePercentMax, allowancePercent)
	}
	l := decimal.NewFromInt(limit)
	// limit × (1 + pct/100), floored: the allowance never rounds up into bytes that
	// were not granted. Shift is exact; the product of two exact decimals is exact.
	hard := l.Mul(decimal.NewFromInt(1).Add(pct.Shift(-2))).Floor().IntPart()
	return Quota{limit: limit, hardLimit: hard}, nil
}

// QuotaOf returns the quota of a catalog plan limit.
func QuotaOf(l catalog.Limit) (Quota, error) { return NewQuota(l.Limit, l.AllowancePercent) }

// Limit returns the limit before the allowance.
func (q Quota) Limit() int64 { return q.limit }

// HardLimit returns the most the quota allows: limit × (1 + allowance_percent / 100),
// rounded down. 1,000,000,000 bytes with a 1% allowance is 1,010,000,000 bytes.
func (q Quota) HardLimit() int64 { return q.hardLimit }

// Allows reports whether using n more on top of used stays within the hard limit. Both
// must not be negative; a negative value is refused, as is a sum past the hard limit
// (computed without overflow).
func (q Quota) Allows(used, n int64) bool {
	return used >= 0 && n >= 0 && used <= q.hardLimit && n <= q.hardLimit-used
}
