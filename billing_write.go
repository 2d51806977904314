package billow

import "time"

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
	// BilledUsage adds to what each usage ref has been invoiced.
	BilledUsage map[string]int64
	Events      []*BillingEvent
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
