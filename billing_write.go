package billow

import (
	"time"

	"github.com/shopspring/decimal"
)

// BillingWrite is one decision of the billing service, committed whole or not at all.
type BillingWrite struct {
	// Subscription is inserted when NewSubscription, else updated only if its stored
	// version is Version-1 (the caller increments Version); NextActionAt is when work on
	// it is next due, nil when none.
	Subscription    *Subscription
	NewSubscription bool
	NextActionAt    *time.Time
	// AccountPlan, when set, is written to the account: the plan checks and rating read.
	AccountPlan *string
	Invoices    []InvoiceWrite
	Orders      []OrderWrite
	Payments    []PaymentWrite
	// BilledUsage records, by ref, what postpaid usage and seat lines of ended months
	// were invoiced: each BilledLine's AmountMinor adds to what its ref was invoiced so
	// far, and its Quantities, when set, replace those stored.
	BilledUsage map[string]BilledLine
	Events      []*BillingEvent
}

// BilledLine is what a postpaid line of an ended month (ref "usage:<YYYY-MM>:<rate key>"
// or "seats:<YYYY-MM>:<product>:<mode>") was invoiced: the amount in minor units, summed
// over the month's line and its adjustments, and the quantities that amount was last
// rated from.
//
// The quantities are what lets a renewal tell late usage from a new price: a month is
// adjusted only when its quantities changed since, never because a contract, a catalog
// migration or a plan change prices it differently now (billing.settleMonth).
type BilledLine struct {
	AmountMinor int64
	// Quantities are the month's quantities of the selections the line was rated from, by
	// rating.Selection.Key, as the rollups gave them: before any allowance, tier or price.
	// Nil for a line invoiced before they were kept (migration 00013), which a renewal
	// compares by amount as it did then.
	Quantities map[string]decimal.Decimal
}

// InvoiceWrite inserts or updates an invoice. An update applies only while the stored
// status is ExpectStatus. Finalize gives the invoice the next number and its hash.
type InvoiceWrite struct {
	Invoice      *Invoice
	Insert       bool
	CycleKey     string // for inserts: what the invoice bills once only
	ExpectStatus InvoiceStatus
	Finalize     bool
}

// OrderWrite inserts or updates an order; an update applies only while the stored status
// is ExpectStatus.
type OrderWrite struct {
	Order        *Order
	Request      []byte // for inserts
	Insert       bool
	ExpectStatus OrderStatus
}

// PaymentWrite inserts or updates a payment attempt; an update applies only while the
// stored status is ExpectStatus.
type PaymentWrite struct {
	Payment      *Payment
	Insert       bool
	ExpectStatus PaymentAttemptStatus
}
