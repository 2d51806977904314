package billow

import (
	"context"
	"strings"
	"time"
)

// ID prefixes of payments.
const (
	PrefixPaymentMethod = "pm_"
	PrefixOrder         = "ord_"
	PrefixPayment       = "pay_"
	PrefixTestClock     = "clock_"
)

// Limits on payments, named with their unit last.
const (
	PaymentMethodsPerAccountMax = 20
	OTPAttemptsMax              = 5 // wrong OTPs before the payment fails
	PayPalEmailMaxBytes         = 254
)

// PaymentMethodKind is how an account pays (seed 000: PayPal, card with an OTP, wire).
type PaymentMethodKind string

const (
	MethodCard   PaymentMethodKind = "card"
	MethodPayPal PaymentMethodKind = "paypal"
	MethodWire   PaymentMethodKind = "wire"
)

// PaymentMethod is a stored way to pay. Billow keeps the gateway's token and what is safe
// to display; a card number never reaches the database or a log.
type PaymentMethod struct {
	ID      string            `json:"id"`
	Account string            `json:"account"`
	Kind    PaymentMethodKind `json:"kind"`
	Gateway string            `json:"gateway"`
	Token   string            `json:"-"`
	// Display fields: a card's brand, last four digits and expiry; a PayPal email.
	Brand       string    `json:"brand,omitempty"`
	Last4       string    `json:"last4,omitempty"`
	ExpMonth    int64     `json:"exp_month,omitempty"`
	ExpYear     int64     `json:"exp_year,omitempty"`
	HolderName  string    `json:"holder_name,omitempty"`
	PayPalEmail string    `json:"paypal_email,omitempty"`
	Default     bool      `json:"default"`
	CreatedAt   time.Time `json:"created_at"`
}

// Label is how invoices and the CSV export name the method ("Visa •••• 4242").
func (m *PaymentMethod) Label() string {
	switch m.Kind {
	case MethodCard:
		brand := m.Brand
		if brand == "" {
			brand = "Card"
		}
		return brand + " •••• " + m.Last4
	case MethodPayPal:
		return "PayPal"
	case MethodWire:
		return "Wire transfer"
	}
	return string(m.Kind)
}

// CardDetails are what a customer types for a card. They go to the gateway and nowhere
// else.
type CardDetails struct {
	Number     string `json:"number" minLength:"12" maxLength:"23" doc:"Digits, spaces allowed."`
	ExpMonth   int64  `json:"exp_month" minimum:"1" maximum:"12"`
	ExpYear    int64  `json:"exp_year" minimum:"2000" maximum:"2100"`
	CVC        string `json:"cvc" minLength:"3" maxLength:"4"`
	HolderName string `json:"holder_name,omitempty" maxLength:"200"`
}

// AddPaymentMethodInput adds a payment method to an account.
type AddPaymentMethodInput struct {
	Kind        PaymentMethodKind `json:"kind" enum:"card,paypal,wire"`
	Card        *CardDetails      `json:"card,omitempty"`
	PayPalEmail string            `json:"paypal_email,omitempty" maxLength:"254"`
	// Default makes it the method renewals are charged to; the first method always is.
	Default bool `json:"default,omitempty"`
}

// Validate reports every invalid field at once.
func (in *AddPaymentMethodInput) Validate() error {
	var errs fieldErrors
	switch in.Kind {
	case MethodCard:
		if in.Card == nil {
			errs.add("card", "is required for a card")
			break
		}
		digits := CardDigits(in.Card.Number)
		if len(digits) < 12 || len(digits) > 19 {
			errs.add("card.number", "must have 12 to 19 digits")
		} else if !LuhnValid(digits) {
			errs.add("card.number", "is not a valid card number")
		}
		if in.Card.ExpMonth < 1 || in.Card.ExpMonth > 12 {
			errs.add("card.exp_month", "must be between 1 and 12")
		}
		if in.Card.ExpYear < 2000 || in.Card.ExpYear > 2100 {
			errs.add("card.exp_year", "must be a four-digit year")
		}
		if n := len(in.Card.CVC); n < 3 || n > 4 || strings.Trim(in.Card.CVC, "0123456789") != "" {
			errs.add("card.cvc", "must be 3 or 4 digits")
		}
	case MethodPayPal:
		if in.PayPalEmail == "" {
			errs.add("paypal_email", "is required for PayPal")
		} else {
			validateEmail(&errs, "paypal_email", in.PayPalEmail)
		}
	case MethodWire:
	default:
		errs.add("kind", "must be card, paypal or wire, not %q", in.Kind)
	}
	if in.Kind != MethodCard && in.Card != nil {
		errs.add("card", "is only for kind card")
	}
	return errs.err()
}

// CardDigits returns the digits of a card number as typed, without spaces or dashes.
func CardDigits(number string) string {
	var b strings.Builder
	for _, r := range number {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-':
		default:
			return "" // not a card number at all
		}
	}
	return b.String()
}

// LuhnValid reports whether a string of digits passes the Luhn check.
func LuhnValid(digits string) bool {
	if digits == "" {
		return false
	}
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		c := digits[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// ChargeStatus is what a gateway says about a charge.
type ChargeStatus string

const (
	ChargeSucceeded      ChargeStatus = "succeeded"
	ChargeDeclined       ChargeStatus = "declined"
	ChargeRequiresAction ChargeStatus = "requires_action" // an OTP or a PayPal approval
	ChargePending        ChargeStatus = "pending"         // a wire transfer waiting for clearance
	ChargeUnknown        ChargeStatus = "unknown"         // no answer: reconcile, never charge again under a new key
)

// ActionKind is what a customer must do to finish a charge.
type ActionKind string

const (
	ActionOTP            ActionKind = "otp"
	ActionPayPalApproval ActionKind = "paypal_approval"
)

// ChargeRequest asks a gateway to take money. IdempotencyKey is the payment's id: the
// gateway answers a repeated key with the first result and never charges twice.
type ChargeRequest struct {
	IdempotencyKey string
	Token          string
	AmountMinor    int64
	Currency       string
	Description    string
}

// ChargeResult is a gateway's answer.
type ChargeResult struct {
	Status ChargeStatus
	// Reference is the gateway's id of the charge, for Confirm, Lookup and refunds.
	Reference string
	// DeclineCode and Message explain a decline ("insufficient_funds", "expired_card").
	DeclineCode string
	Message     string
	Action      ActionKind
	// ApproveURL is where a PayPal buyer approves the payment.
	ApproveURL string
}

// TokenizedMethod is what a gateway returns for a new payment method: a token and the
// display fields, never the card number.
type TokenizedMethod struct {
	Token    string
	Brand    string
	Last4    string
	ExpMonth int64
	ExpYear  int64
}

// PaymentGateway takes payments. The sandbox gateway (payment/sandbox) is the default;
// Stripe and PayPal implement the same interface. Errors are operating errors (network,
// misconfiguration); a refused payment is a ChargeResult, not an error.
type PaymentGateway interface {
	// Name is stored with each payment method ("sandbox", "stripe").
	Name() string
	// Tokenize stores a card or PayPal account at the gateway and returns its token. A
	// card the gateway refuses outright is an *Error of kind KindInvalid.
	Tokenize(ctx context.Context, in AddPaymentMethodInput) (TokenizedMethod, error)
	// Charge takes AmountMinor from the method behind Token. It is idempotent by
	// req.IdempotencyKey for at least a day: the same key again answers the first charge
	// and takes nothing more, which is how an attempt cut off by a crash is reconciled.
	Charge(ctx context.Context, req ChargeRequest) (ChargeResult, error)
	// Confirm finishes a charge that required an action: the OTP a card holder typed, or
	// "" for a PayPal approval the buyer gave at ApproveURL.
	Confirm(ctx context.Context, reference, otp string) (ChargeResult, error)
	// Lookup reads a charge again by its idempotency key: reconciliation of unknowns.
	Lookup(ctx context.Context, idempotencyKey string) (ChargeResult, error)
}

// OrderKind is what an order buys.
type OrderKind string

const (
	OrderSubscribe OrderKind = "subscribe" // a new subscription
	OrderChange    OrderKind = "change"    // an upgrade or add-ons, prorated
	OrderCredits   OrderKind = "credits"   // a credit top-up
	OrderRenewal   OrderKind = "renewal"   // a cycle's invoice
)

// OrderStatus is how an order stands.
type OrderStatus string

const (
	OrderRequiresAction OrderStatus = "requires_action" // an OTP or a PayPal approval is awaited
	OrderPendingPayment OrderStatus = "pending_payment" // a wire transfer awaits clearance
	OrderCompleted      OrderStatus = "completed"       // paid and applied
	OrderFailed         OrderStatus = "failed"          // declined; nothing was activated
)

// Order is a purchase: seed 000's Submit Order. It is applied (the subscription starts,
// the plan changes, the credits load) only once its invoice is paid.
type Order struct {
	ID             string      `json:"id"`
	Account        string      `json:"account"`
	Kind           OrderKind   `json:"kind"`
	Status         OrderStatus `json:"status"`
	Invoice        string      `json:"invoice"`
	PaymentMethod  string      `json:"payment_method,omitempty"`
	AmountMinor    int64       `json:"amount_minor"`
	Currency       string      `json:"currency"`
	Action         ActionKind  `json:"action,omitempty"`
	ApproveURL     string      `json:"approve_url,omitempty"`
	FailureCode    string      `json:"failure_code,omitempty"`
	FailureMessage string      `json:"failure_message,omitempty"`
	CreatedAt      time.Time   `json:"created_at"`
	CompletedAt    *time.Time  `json:"completed_at,omitempty"`
}

// SubmitOrderInput is seed 000's order form: billing information, a payment method, and
// what is bought: exactly one of Subscribe, Change or Credits.
type SubmitOrderInput struct {
	BillingContact *BillingContact `json:"billing_contact,omitempty" doc:"Updates the account's billing information first."`
	// PaymentMethod is a stored method's id; NewPaymentMethod adds one. Neither: the default.
	PaymentMethod    string                   `json:"payment_method,omitempty" maxLength:"40"`
	NewPaymentMethod *AddPaymentMethodInput   `json:"new_payment_method,omitempty"`
	Subscribe        *CreateSubscriptionInput `json:"subscribe,omitempty"`
	Change           *ChangeSubscriptionInput `json:"change,omitempty"`
	Credits          int64                    `json:"credits,omitempty" doc:"Credits to buy, within the catalog's purchase limits."`
}

// Validate reports every invalid field at once.
func (in *SubmitOrderInput) Validate() error {
	var errs fieldErrors
	n := 0
	if in.Subscribe != nil {
		n++
		in.Subscribe.Normalize()
		appendFieldErrors(&errs, "subscribe", in.Subscribe.Validate())
	}
	if in.Change != nil {
		n++
		appendFieldErrors(&errs, "change", in.Change.Validate())
	}
	if in.Credits != 0 {
		n++
		if in.Credits < 0 {
			errs.add("credits", "must be positive")
		}
	}
	if n != 1 {
		errs.add("subscribe", "give exactly one of subscribe, change or credits")
	}
	if in.PaymentMethod != "" && in.NewPaymentMethod != nil {
		errs.add("payment_method", "give a stored method or a new one, not both")
	}
	if in.NewPaymentMethod != nil {
		appendFieldErrors(&errs, "new_payment_method", in.NewPaymentMethod.Validate())
	}
	if in.BillingContact != nil {
		in.BillingContact.normalize()
		in.BillingContact.validate(&errs, "billing_contact")
	}
	return errs.err()
}

// ConfirmOrderInput finishes an order that requires an action.
type ConfirmOrderInput struct {
	OTP string `json:"otp,omitempty" maxLength:"12" doc:"The OTP the card holder received; empty for a PayPal approval."`
}

// TestClock is a clock a test account's billing follows instead of the real one, as in
// Stripe Billing: advancing it runs renewals, trials, dunning and credit upkeep of its
// accounts up to the new time, step by step and deterministically.
type TestClock struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	FrozenTime time.Time `json:"frozen_time"`
	CreatedAt  time.Time `json:"created_at"`
}

// CreateTestClockInput creates a test clock.
type CreateTestClockInput struct {
	Name       string    `json:"name" maxLength:"200"`
	FrozenTime time.Time `json:"frozen_time"`
}

// Validate reports every invalid field at once.
func (in *CreateTestClockInput) Validate() error {
	var errs fieldErrors
	validateName(&errs, "name", strings.TrimSpace(in.Name), true)
	if in.FrozenTime.IsZero() {
		errs.add("frozen_time", "is required")
	}
	return errs.err()
}

// AdvanceTestClockInput moves a test clock forward.
type AdvanceTestClockInput struct {
	FrozenTime time.Time `json:"frozen_time"`
}

// TestClockAdvanceDaysMax bounds one advance: two years of renewals, dunning and upkeep.
const TestClockAdvanceDaysMax = 731

// PaymentAttemptStatus is how one payment attempt stands.
type PaymentAttemptStatus string

const (
	// AttemptProcessing is recorded before the gateway is called; an attempt left in it
	// (the process died) is looked up at the gateway, never charged again.
	AttemptProcessing     PaymentAttemptStatus = "processing"
	AttemptSucceeded      PaymentAttemptStatus = "succeeded"
	AttemptDeclined       PaymentAttemptStatus = "declined"
	AttemptRequiresAction PaymentAttemptStatus = "requires_action"
	AttemptPending        PaymentAttemptStatus = "pending" // a wire transfer awaiting clearance
	AttemptUnknown        PaymentAttemptStatus = "unknown" // the gateway did not answer
)

// Open reports whether the attempt has not reached an outcome yet.
func (s PaymentAttemptStatus) Open() bool {
	return s == AttemptProcessing || s == AttemptRequiresAction || s == AttemptPending || s == AttemptUnknown
}

// Payment is one attempt to pay an invoice. Its ID is the gateway's idempotency key.
type Payment struct {
	ID          string               `json:"id"`
	Account     string               `json:"account"`
	Invoice     string               `json:"invoice"`
	Order       string               `json:"order,omitempty"`
	Method      string               `json:"payment_method"`
	AmountMinor int64                `json:"amount_minor"`
	Currency    string               `json:"currency"`
	Status      PaymentAttemptStatus `json:"status"`
	Gateway     string               `json:"gateway"`
	Reference   string               `json:"reference,omitempty"`
	DeclineCode string               `json:"decline_code,omitempty"`
	Message     string               `json:"message,omitempty"`
	OTPAttempts int64                `json:"otp_attempts"`
	CreatedAt   time.Time            `json:"created_at"`
	UpdatedAt   time.Time            `json:"updated_at"`
}

// PrefixBillingEvent begins the id of a billing domain event.
const PrefixBillingEvent = "evt_"

// BillingEvent is a domain event of billing (subscription.renewed, invoice.paid, …),
// written in the same transaction as the change it reports: the outbox emails and
// webhooks are sent from.
type BillingEvent struct {
	Seq        int64          `json:"seq"`
	ID         string         `json:"id"`
	Account    string         `json:"account"`
	Type       string         `json:"type"`
	Subject    string         `json:"subject"` // the id of the subscription, invoice or order
	Data       map[string]any `json:"data"`
	OccurredAt time.Time      `json:"occurred_at"`
}

// WireReference is the reference a wire transfer for order must carry, as the wire
// instructions email and the portal's order page state it: the pending attempt's gateway
// reference (the gateway matches the transfer by it), else the invoice's number, else
// the order's id. inv and pays may be nil when the order has no invoice yet.
func WireReference(order *Order, inv *Invoice, pays []*Payment) string {
	ref := order.ID
	if inv != nil && inv.Number != "" {
		ref = inv.Number
	}
	for _, p := range pays {
		if p.Status == AttemptPending && p.Reference != "" {
			ref = p.Reference
		}
	}
	return ref
}
