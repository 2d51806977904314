package billow

import (
	"bytes"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// Limits of usage queries, named with their unit last.
const (
	// UsageRangeMax bounds the period of one usage query: two calendar years, plus a day
	// of slack for a range that does not start at midnight, so that this year can be
	// compared with the last one month by month.
	UsageRangeMax = 732 * 24 * time.Hour
	// UsageDataMax bounds the entries of one answer (buckets × apps when grouped by app).
	UsageDataMax = 100_000
)

// Codes of usage queries.
const (
	// CodeUnknownMeter: the account's catalog version has no meter of that key.
	CodeUnknownMeter = "unknown_meter"
	// CodeMeterNotByApp: the meter's rollups do not name apps (a concurrency meter not
	// grouped by app: a peak over apps is not the sum of per-app peaks), so it cannot be
	// grouped or filtered by app.
	CodeMeterNotByApp = "meter_not_by_app"
	// CodeTooManyBuckets: the window is too fine for the range, or the answer would have
	// more than UsageDataMax entries.
	CodeTooManyBuckets = "too_many_buckets"
)

// UsageWindow is the width of the buckets a usage query answers with.
type UsageWindow string

const (
	UsageWindowHour  UsageWindow = "hour"  // UTC hours (rollups are hourly, in UTC)
	UsageWindowDay   UsageWindow = "day"   // days of the account's time zone, 23 to 25 hours long
	UsageWindowMonth UsageWindow = "month" // calendar months of the account's time zone
	UsageWindowNone  UsageWindow = "none"  // one bucket for the whole range
)

// Valid reports whether w is a known window.
func (w UsageWindow) Valid() bool {
	switch w {
	case UsageWindowHour, UsageWindowDay, UsageWindowMonth, UsageWindowNone:
		return true
	}
	return false
}

// UsageQueryInput asks for the quantity of one meter of an account over [From, To), per
// bucket of Window in the account's time zone, optionally per app or of one app.
type UsageQueryInput struct {
	Account    string // id or external id
	Meter      string // a meter key of the account's catalog version
	From, To   time.Time
	Window     UsageWindow // defaults to none
	GroupByApp bool
	App        string // id or external id of one app; empty for all
}

// Normalize fills the defaults.
func (in *UsageQueryInput) Normalize() {
	if in.Window == "" {
		in.Window = UsageWindowNone
	}
}

// Validate reports every invalid field at once. Whether the meter exists, and whether
// the window is too fine for the range, needs the catalog and the time zone: the store
// checks them.
func (in *UsageQueryInput) Validate() error {
	var errs fieldErrors
	if in.Account == "" {
		errs.add("account", "is required")
	}
	if in.Meter == "" {
		errs.add("meter", "is required")
	}
	if !in.Window.Valid() {
		errs.add("window", "must be hour, day, month or none, not %q", in.Window)
	}
	validateUsageRange(&errs, in.From, in.To)
	if len(in.App) > ExternalIDMaxBytes {
		errs.add("app", "must be at most %d bytes", ExternalIDMaxBytes)
	}
	return errs.err()
}

func validateUsageRange(errs *fieldErrors, from, to time.Time) {
	switch {
	case from.IsZero():
		errs.add("from", "is required (RFC 3339, such as 2026-03-01T00:00:00Z)")
	case to.IsZero():
		errs.add("to", "is required (RFC 3339, such as 2026-04-01T00:00:00Z)")
	case !to.After(from):
		errs.add("to", "must be after from")
	case to.Sub(from) > UsageRangeMax:
		errs.add("to", "must be at most %d days after from", UsageRangeMax/(24*time.Hour))
	}
}

// TrendsRange is the period of the usage trends dashboard (seed 000).
type TrendsRange string

const (
	TrendsLast24Hours TrendsRange = "24h" // hourly buckets, the last one holding now
	TrendsLast7Days   TrendsRange = "7d"  // daily buckets, the last one today
	TrendsLast30Days  TrendsRange = "30d"
	TrendsLast90Days  TrendsRange = "90d"
	TrendsCustom      TrendsRange = "custom" // daily buckets over From and To
)

// UsageTrendsInput asks for the usage trends of an account: billing sessions, voice
// sessions and agent count per bucket, of all apps or of one.
type UsageTrendsInput struct {
	Account  string // id or external id
	Range    TrendsRange
	From, To time.Time // custom only
	App      string    // id or external id of one app; empty for all
}

// Normalize fills the defaults.
func (in *UsageTrendsInput) Normalize() {
	if in.Range == "" {
		in.Range = TrendsLast30Days
	}
}

// Validate reports every invalid field at once.
func (in *UsageTrendsInput) Validate() error {
	var errs fieldErrors
	if in.Account == "" {
		errs.add("account", "is required")
	}
	switch in.Range {
	case TrendsLast24Hours, TrendsLast7Days, TrendsLast30Days, TrendsLast90Days:
		// The presets end now; a from or to beside one would be silently ignored.
		if !in.From.IsZero() {
			errs.add("from", "is only for range=custom")
		}
		if !in.To.IsZero() {
			errs.add("to", "is only for range=custom")
		}
	case TrendsCustom:
		validateUsageRange(&errs, in.From, in.To)
	default:
		errs.add("range", "must be 24h, 7d, 30d, 90d or custom, not %q", in.Range)
	}
	if len(in.App) > ExternalIDMaxBytes {
		errs.add("app", "must be at most %d bytes", ExternalIDMaxBytes)
	}
	return errs.err()
}

// UsageSummaryInput asks for the quantity of every meter of an account in its current
// period.
type UsageSummaryInput struct {
	Account string // id or external id
}

// Validate reports every invalid field at once.
func (in *UsageSummaryInput) Validate() error {
	var errs fieldErrors
	if in.Account == "" {
		errs.add("account", "is required")
	}
	return errs.err()
}

// Quantity is an exact usage quantity: a decimal, written in JSON as a number with every
// digit (12, 2.5, 0.000125), never as a string and never through a float64, which would
// lose digits past 2^53. It keeps its own MarshalJSON rather than changing shopspring's
// package-wide MarshalJSONWithoutQuotes, which would change every other decimal too.
type Quantity struct{ d decimal.Decimal }

// NewQuantity returns the quantity d.
func NewQuantity(d decimal.Decimal) Quantity { return Quantity{d} }

// Decimal returns the quantity as a decimal.
func (q Quantity) Decimal() decimal.Decimal { return q.d }

// String returns the quantity in plain decimal notation.
func (q Quantity) String() string { return q.d.String() }

// MarshalJSON writes the quantity as a JSON number. decimal's String is plain notation
// (no exponent) with no trailing zeros, which is valid JSON number syntax.
func (q Quantity) MarshalJSON() ([]byte, error) { return []byte(q.d.String()), nil }

// UnmarshalJSON reads a JSON number exactly.
func (q *Quantity) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] == '"' || bytes.Equal(b, []byte("null")) {
		return fmt.Errorf("billow: a quantity is a JSON number, not %s", b)
	}
	d, err := decimal.NewFromString(string(b))
	if err != nil {
		return fmt.Errorf("billow: quantity %s: %w", b, err)
	}
	q.d = d
	return nil
}

// UsageValue is the quantity of one bucket, of one app when the query is grouped by app.
type UsageValue struct {
	From time.Time `json:"from" doc:"Start of the bucket, in the account's time zone."`
	To   time.Time `json:"to" doc:"End of the bucket (exclusive)."`
	// App is the app's external id; only when grouped by app, and absent on usage that
	// names no app (agent logins, for example).
	App   string   `json:"app,omitempty"`
	Value Quantity `json:"value"`
}

// UsageResult is the answer of a usage query.
type UsageResult struct {
	Meter    string       `json:"meter"`
	Timezone string       `json:"timezone" doc:"The account's time zone, which day and month buckets follow."`
	Data     []UsageValue `json:"data"`
}

// TrendsBucket is one bucket of the usage trends dashboard.
type TrendsBucket struct {
	From            time.Time `json:"from"`
	To              time.Time `json:"to"`
	BillingSessions *Quantity `json:"billing_sessions,omitempty" doc:"Absent when the catalog has no billing_sessions meter."`
	VoiceSessions   *Quantity `json:"voice_sessions,omitempty" doc:"Absent when the catalog has no voice_sessions meter."`
	AgentCount      *Quantity `json:"agent_count,omitempty" doc:"Peak concurrent agent seats in the bucket, summed over products. Absent for enterprise accounts, with an app filter (agents are not an app's), and when the catalog has no concurrent_agents meter."`
}

// UsageTrends is the answer of a trends query.
type UsageTrends struct {
	Range    TrendsRange    `json:"range"`
	Timezone string         `json:"timezone"`
	Buckets  []TrendsBucket `json:"buckets"`
}

// MeterUsage is one meter's quantity in a period.
type MeterUsage struct {
	Meter       string `json:"meter"`
	Name        string `json:"name"`
	Aggregation string `json:"aggregation"`
	Unit        string `json:"unit"`
	// Quantity is absent for a min, max or latest meter with no value in the period.
	Quantity *Quantity `json:"quantity,omitempty"`
}

// UsageSummary is every meter's quantity in the account's current period.
type UsageSummary struct {
	From     time.Time    `json:"from" doc:"Start of the current period."`
	To       time.Time    `json:"to" doc:"End of the current period (exclusive)."`
	Timezone string       `json:"timezone"`
	Meters   []MeterUsage `json:"meters"`
}
