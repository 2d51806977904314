package billow

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// PrefixInvoice begins the id of an invoice.
const PrefixInvoice = "inv_"

// Limits on invoices, named with their unit last.
const (
	InvoiceLinesMax        = 500  // lines on one invoice
	InvoiceCSVRangeDaysMax = 3660 // a CSV export covers at most ten years
)

// InvoiceStatus is a state of the invoice state machine: draft → open → paid | void |
// uncollectible, and draft → paid when an order is paid at once.
type InvoiceStatus string

const (
	InvoiceDraft         InvoiceStatus = "draft"
	InvoiceOpen          InvoiceStatus = "open"
	InvoicePaid          InvoiceStatus = "paid"
	InvoiceVoid          InvoiceStatus = "void"
	InvoiceUncollectible InvoiceStatus = "uncollectible"
)

// PaymentStatus is how the payment of an invoice stands.
type PaymentStatus string

const (
	PaymentNone      PaymentStatus = "none"      // not yet attempted (auto-billing off)
	PaymentPending   PaymentStatus = "pending"   // a wire transfer waiting for clearance
	PaymentSucceeded PaymentStatus = "succeeded" // paid
	PaymentFailed    PaymentStatus = "failed"    // the last attempt was declined
	PaymentUnknown   PaymentStatus = "unknown"   // a charge is in flight, or the gateway did not answer; reconciled later
	// PaymentExternal: the operator collects the invoice outside Billow under the
	// account's contract (ContractTerms.InvoicingOutsideBillow). The invoice stays open
	// for the operator's records; Billow never charges it, never dunns it, and does not
	// count it as outstanding.
	PaymentExternal PaymentStatus = "external"
)

// InvoiceLineKind says where a line comes from.
type InvoiceLineKind string

const (
	LineFee             InvoiceLineKind = "fee"              // the plan's fixed fee for a period
	LineAddOn           InvoiceLineKind = "add_on"           // an add-on's fee for a period
	LineSeats           InvoiceLineKind = "seats"            // named or concurrent agent seats of a month
	LineUsage           InvoiceLineKind = "usage"            // postpaid usage of a month
	LineUsageAdjustment InvoiceLineKind = "usage_adjustment" // late usage for a month already invoiced
	LineCredits         InvoiceLineKind = "credits"          // a credit purchase
	LineProration       InvoiceLineKind = "proration"        // a mid-cycle change, by the day
)

// InvoiceLine is one line of an invoice. Amounts are in minor units of the invoice's
// currency; a credit is negative.
type InvoiceLine struct {
	Kind        InvoiceLineKind `json:"kind"`
	Description string          `json:"description"`
	// Quantity is a decimal string ("3", "1250.5"); UnitAmount the price of one unit in
	// major units as the catalog states it ("0.0125"), empty when the line has no unit.
	Quantity    string    `json:"quantity"`
	UnitAmount  string    `json:"unit_amount,omitempty"`
	AmountMinor int64     `json:"amount_minor"`
	PeriodStart time.Time `json:"period_start"`
	PeriodEnd   time.Time `json:"period_end"`
	// Ref identifies what the line bills, so that nothing is billed twice: the plan and
	// period of a fee, the month and rate key of usage.
	Ref string `json:"ref"`
}

// Invoice is a bill to an account. Once finalized (Number set) its content never changes:
// Hash is the SHA-256 of ContentJSON, stored at finalization and checked on every read.
// Only the payment fields and the status move on.
type Invoice struct {
	ID           string        `json:"id"`
	Number       string        `json:"number,omitempty"`
	OrderID      string        `json:"order_id"`
	Account      string        `json:"account"`
	Subscription string        `json:"subscription,omitempty"`
	Status       InvoiceStatus `json:"status"`
	Currency     string        `json:"currency"`
	// CurrencyDigits is the number of fractional digits of a minor unit.
	CurrencyDigits int64         `json:"currency_digits"`
	BillingDate    time.Time     `json:"billing_date"`
	DueAt          time.Time     `json:"due_at"`
	PeriodStart    time.Time     `json:"period_start"`
	PeriodEnd      time.Time     `json:"period_end"`
	Lines          []InvoiceLine `json:"lines"`
	SubtotalMinor  int64         `json:"subtotal_minor"`
	// TaxRate is the account's rate in percent as a decimal string ("8.25"); TaxMinor
	// is the tax line, rounded half up once on the subtotal.
	TaxRate    string `json:"tax_rate"`
	TaxMinor   int64  `json:"tax_minor"`
	TotalMinor int64  `json:"total_minor"`
	// BillTo is the billing contact at finalization: a later change of the account
	// does not rewrite a finalized invoice.
	BillTo BillingContact `json:"bill_to"`
	// AccountName is the account's name at finalization.
	AccountName string `json:"account_name"`
	// Hidden invoices belong to enterprise accounts: the operator sees them, the account
	// does not (seed 000).
	Hidden        bool          `json:"-"`
	PaymentMethod string        `json:"payment_method,omitempty"` // "Visa •••• 4242", "PayPal", "Wire transfer"
	PaymentStatus PaymentStatus `json:"payment_status"`
	FinalizedAt   *time.Time    `json:"finalized_at,omitempty"`
	PaidAt        *time.Time    `json:"paid_at,omitempty"`
	Hash          string        `json:"hash,omitempty"`
	CreatedAt     time.Time     `json:"created_at"`
}

// invoiceContent is what a finalized invoice freezes: everything but its status and
// payment, which go on changing.
type invoiceContent struct {
	ID             string         `json:"id"`
	Number         string         `json:"number"`
	OrderID        string         `json:"order_id"`
	Account        string         `json:"account"`
	Subscription   string         `json:"subscription"`
	Currency       string         `json:"currency"`
	CurrencyDigits int64          `json:"currency_digits"`
	BillingDate    int64          `json:"billing_date"`
	DueAt          int64          `json:"due_at"`
	PeriodStart    int64          `json:"period_start"`
	PeriodEnd      int64          `json:"period_end"`
	Lines          []InvoiceLine  `json:"lines"`
	SubtotalMinor  int64          `json:"subtotal_minor"`
	TaxRate        string         `json:"tax_rate"`
	TaxMinor       int64          `json:"tax_minor"`
	TotalMinor     int64          `json:"total_minor"`
	BillTo         BillingContact `json:"bill_to"`
	AccountName    string         `json:"account_name"`
}

// ContentJSON returns the canonical encoding of what finalization freezes. Times are
// microseconds so that a round trip through the store gives the same bytes.
func (inv *Invoice) ContentJSON() []byte {
	lines := make([]InvoiceLine, len(inv.Lines))
	for i, l := range inv.Lines {
		l.PeriodStart = FromMicros(TimeMicros(l.PeriodStart))
		l.PeriodEnd = FromMicros(TimeMicros(l.PeriodEnd))
		lines[i] = l
	}
	b, err := json.Marshal(invoiceContent{
		ID: inv.ID, Number: inv.Number, OrderID: inv.OrderID, Account: inv.Account,
		Subscription: inv.Subscription, Currency: inv.Currency, CurrencyDigits: inv.CurrencyDigits,
		BillingDate: TimeMicros(inv.BillingDate), DueAt: TimeMicros(inv.DueAt),
		PeriodStart: TimeMicros(inv.PeriodStart), PeriodEnd: TimeMicros(inv.PeriodEnd),
		Lines: lines, SubtotalMinor: inv.SubtotalMinor, TaxRate: inv.TaxRate, TaxMinor: inv.TaxMinor,
		TotalMinor: inv.TotalMinor, BillTo: inv.BillTo, AccountName: inv.AccountName,
	})
	if err != nil {
		// Every field is a string, an integer, a time or a struct of those.
		panic("billow: cannot encode invoice content: " + err.Error())
	}
	return b
}

// ContentHash returns the hex SHA-256 of ContentJSON.
func (inv *Invoice) ContentHash() string {
	sum := sha256.Sum256(inv.ContentJSON())
	return hex.EncodeToString(sum[:])
}

// Error codes of subscriptions, invoices, orders and payments.
const (
	CodeOutstandingInvoice   = "outstanding_invoice"    // a plan change while an invoice is open (seed 004)
	CodeSubscriptionExists   = "subscription_exists"    // the account already has a live subscription
	CodeNoSubscription       = "no_subscription"        // the account has none to change
	CodeTransitionRefused    = "transition_refused"     // the state machine does not allow it
	CodeUnknownAddOn         = "unknown_add_on"         // not in the catalog, or not for this plan
	CodeAddOnQuantity        = "add_on_quantity"        // above the add-on's max_quantity
	CodeUnknownInterval      = "unknown_interval"       // the plan has no fee for it
	CodeNoTrial              = "no_trial"               // the plan offers no trial
	CodeInvoiceFinalized     = "invoice_finalized"      // a finalized invoice cannot change
	CodeInvoiceTampered      = "invoice_tampered"       // the stored content no longer matches its hash
	CodeInvoiceNotPayable    = "invoice_not_payable"    // paid, void, a draft, or collected outside Billow
	CodePaymentDeclined      = "payment_declined"       // the gateway refused the charge
	CodePaymentMethodMissing = "payment_method_missing" // no default payment method
	CodeOTPRequired          = "otp_required"           // the card needs an OTP step
	CodeOTPInvalid           = "otp_invalid"
	CodeOTPAttemptsExceeded  = "otp_attempts_exceeded"
	CodeOrderNotPending      = "order_not_pending"
	CodeBillingInfoMissing   = "billing_info_missing" // the order needs a billing name and email
	CodeTestClockBackwards   = "test_clock_backwards"
	// CodeConcurrentUpdate: another process changed the subscription or invoice first; read it again.
	CodeConcurrentUpdate = "concurrent_update"
)
