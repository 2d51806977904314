package billow

import (
	"fmt"
	"strings"
	"time"
)

// PrefixSubscription begins the id of a subscription.
const PrefixSubscription = "sub_"

// Limits on subscriptions, named with their unit last.
const (
	SubscriptionAddOnsMax = 20 // distinct add-ons on one subscription
	// AddOnQuantityMax bounds one add-on's quantity whatever the catalog says; the
	// catalog's max_quantity is usually lower.
	AddOnQuantityMax = 10_000
)

// SubscriptionStatus is a state of the subscription state machine (billing/ owns the
// transitions; docs/subscriptions.md draws them).
type SubscriptionStatus string

const (
	// SubscriptionIncomplete waits for its first payment: a wire order not yet cleared, a
	// card that asks for an OTP. Nothing is active yet.
	SubscriptionIncomplete SubscriptionStatus = "incomplete"
	// SubscriptionTrialing is in its free trial; the first charge is at trial end.
	SubscriptionTrialing SubscriptionStatus = "trialing"
	// SubscriptionActive is paid up.
	SubscriptionActive SubscriptionStatus = "active"
	// SubscriptionPastDue has an unpaid renewal; services run while retries go on.
	SubscriptionPastDue SubscriptionStatus = "past_due"
	// SubscriptionSuspended stayed unpaid past the grace period: checks refuse until the
	// open invoice is paid.
	SubscriptionSuspended SubscriptionStatus = "suspended"
	// SubscriptionCanceled has ended at the customer's request.
	SubscriptionCanceled SubscriptionStatus = "canceled"
	// SubscriptionExpired is a trial that ended without a payment method.
	SubscriptionExpired SubscriptionStatus = "expired"
)

// Live reports whether the subscription lets the account use the product: checks refuse
// usage for any other status.
func (s SubscriptionStatus) Live() bool {
	return s == SubscriptionTrialing || s == SubscriptionActive || s == SubscriptionPastDue
}

// Ended reports whether the subscription is over for good; an account starts a new one.
func (s SubscriptionStatus) Ended() bool {
	return s == SubscriptionCanceled || s == SubscriptionExpired
}

// SeatMode is how the seats of a product are counted (seed 000).
type SeatMode string

const (
	SeatsNamed      SeatMode = "named"
	SeatsConcurrent SeatMode = "concurrent"
)

// PendingChange is what a subscription becomes at its next renewal.
type PendingChange struct {
	Plan     string              `json:"plan"`
	Interval string              `json:"interval"`
	AddOns   []SubscriptionAddOn `json:"add_ons"`
}

// SubscriptionAddOn is an add-on on a subscription, in Quantity units.
type SubscriptionAddOn struct {
	AddOn    string `json:"add_on" maxLength:"64"`
	Quantity int64  `json:"quantity" minimum:"1" maximum:"10000"`
}

// SubscriptionSeat says how one product's agent seats are counted.
type SubscriptionSeat struct {
	Product string   `json:"product" maxLength:"64"`
	Mode    SeatMode `json:"mode" enum:"named,concurrent"`
}

// Subscription is an account's plan and add-ons over billing cycles. An account has at
// most one subscription that has not ended.
type Subscription struct {
	ID       string              `json:"id"`
	Account  string              `json:"account"`
	Plan     string              `json:"plan"`
	Interval string              `json:"interval" enum:"month,year"`
	AddOns   []SubscriptionAddOn `json:"add_ons"`
	Seats    []SubscriptionSeat  `json:"seats,omitempty"`
	Status   SubscriptionStatus  `json:"status"`
	// StoredStatus is Status as the store last read or wrote it: a write mirrors the
	// status onto the account only when it changed (most writes of a renewal do not).
	// Empty for a subscription not read from the store, whose write always mirrors it.
	StoredStatus SubscriptionStatus `json:"-"`
	// AnchorAt fixes the cycle: period n starts n intervals after it, on the same day of
	// the month and the same wall-clock time in the account's time zone, or on the last
	// day of a shorter month (an anchor on the 31st renews on 28 or 29 February).
	AnchorAt           time.Time  `json:"anchor_at"`
	CurrentPeriodStart time.Time  `json:"current_period_start"`
	CurrentPeriodEnd   time.Time  `json:"current_period_end"`
	TrialEnd           *time.Time `json:"trial_end,omitempty"`
	// CancelAtPeriodEnd ends the subscription when the current period ends.
	CancelAtPeriodEnd bool `json:"cancel_at_period_end"`
	// Pending is a change that takes effect when the current period ends (a downgrade, an
	// interval change); nil when none.
	Pending *PendingChange `json:"pending_change,omitempty"`
	// PastDueSince is when the unpaid renewal failed; NextRetryAt the next attempt;
	// RetryCount the attempts made after the first.
	PastDueSince *time.Time `json:"past_due_since,omitempty"`
	NextRetryAt  *time.Time `json:"next_retry_at,omitempty"`
	RetryCount   int64      `json:"retry_count"`
	// SuspendAt is when a past-due subscription is suspended if still unpaid.
	SuspendAt *time.Time `json:"suspend_at,omitempty"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	// Version increases with every change; writers compare it so that two processes
	// never apply the same transition twice.
	Version int64 `json:"version"`
}

// DaysBeforeSuspension is the number of whole days, rounded up, until a past-due
// subscription is suspended: what the renewal-failed email states. 0 when not past due.
func (s *Subscription) DaysBeforeSuspension(now time.Time) int64 {
	if s.Status != SubscriptionPastDue || s.SuspendAt == nil || !s.SuspendAt.After(now) {
		return 0
	}
	d := s.SuspendAt.Sub(now)
	days := int64(d / (24 * time.Hour))
	if d%(24*time.Hour) != 0 {
		days++
	}
	return days
}

// CreateSubscriptionInput subscribes an account. It is submitted as an order when the
// first period costs something (see OrderInput); the catalog checks live in billing/.
type CreateSubscriptionInput struct {
	Plan     string              `json:"plan" maxLength:"64"`
	Interval string              `json:"interval,omitempty" enum:"month,year" doc:"Defaults to month."`
	AddOns   []SubscriptionAddOn `json:"add_ons,omitempty" maxItems:"20"`
	Seats    []SubscriptionSeat  `json:"seats,omitempty" maxItems:"20"`
	// Trial starts the plan's free trial, if it has one.
	Trial bool `json:"trial,omitempty"`
	// AnchorAt sets the billing-cycle anchor; defaults to the start time.
	AnchorAt *time.Time `json:"anchor_at,omitempty"`
}

// Normalize fills defaults.
func (in *CreateSubscriptionInput) Normalize() {
	in.Plan = strings.TrimSpace(in.Plan)
	if in.Interval == "" {
		in.Interval = "month"
	}
}

// Validate reports every invalid field at once.
func (in *CreateSubscriptionInput) Validate() error {
	var errs fieldErrors
	if in.Plan == "" {
		errs.add("plan", "is required")
	}
	validateInterval(&errs, "interval", in.Interval)
	validateAddOns(&errs, "add_ons", in.AddOns)
	validateSeats(&errs, "seats", in.Seats)
	return errs.err()
}

// ChangeSubscriptionInput changes the plan, interval or add-ons. A change that costs more
// applies at once with a prorated charge; one that costs less applies at period end.
type ChangeSubscriptionInput struct {
	Plan     string `json:"plan,omitempty" maxLength:"64" doc:"The new plan; the current one when empty."`
	Interval string `json:"interval,omitempty" enum:"month,year"`
	// AddOns replaces the add-ons when not nil; an empty list removes them all.
	AddOns *[]SubscriptionAddOn `json:"add_ons,omitempty"`
	Seats  []SubscriptionSeat   `json:"seats,omitempty" maxItems:"20"`
}

// Validate reports every invalid field at once.
func (in *ChangeSubscriptionInput) Validate() error {
	var errs fieldErrors
	in.Plan = strings.TrimSpace(in.Plan)
	if in.Interval != "" {
		validateInterval(&errs, "interval", in.Interval)
	}
	if in.AddOns != nil {
		validateAddOns(&errs, "add_ons", *in.AddOns)
	}
	validateSeats(&errs, "seats", in.Seats)
	if in.Plan == "" && in.Interval == "" && in.AddOns == nil && in.Seats == nil {
		errs.add("plan", "nothing to change: give a plan, an interval, add-ons or seats")
	}
	return errs.err()
}

// CancelSubscriptionInput cancels at period end (the default) or at once.
type CancelSubscriptionInput struct {
	AtOnce bool `json:"at_once,omitempty" doc:"End now instead of at the end of the paid period; nothing is refunded."`
}

func validateInterval(errs *fieldErrors, field, interval string) {
	if interval != "month" && interval != "year" {
		errs.add(field, "must be month or year, not %q", interval)
	}
}

func validateAddOns(errs *fieldErrors, field string, addOns []SubscriptionAddOn) {
	if len(addOns) > SubscriptionAddOnsMax {
		errs.add(field, "has %d add-ons, more than %d", len(addOns), SubscriptionAddOnsMax)
		return
	}
	seen := map[string]bool{}
	for i, a := range addOns {
		f := fmt.Sprintf("%s[%d]", field, i)
		if a.AddOn == "" {
			errs.add(f+".add_on", "is required")
		}
		if seen[a.AddOn] {
			errs.add(f+".add_on", "%q is listed twice", a.AddOn)
		}
		seen[a.AddOn] = true
		if a.Quantity < 1 || a.Quantity > AddOnQuantityMax {
			errs.add(f+".quantity", "must be between 1 and %d", AddOnQuantityMax)
		}
	}
}

func validateSeats(errs *fieldErrors, field string, seats []SubscriptionSeat) {
	seen := map[string]bool{}
	for i, s := range seats {
		f := fmt.Sprintf("%s[%d]", field, i)
		if s.Product == "" {
			errs.add(f+".product", "is required")
		}
		if seen[s.Product] {
			errs.add(f+".product", "%q is listed twice", s.Product)
		}
		seen[s.Product] = true
		if s.Mode != SeatsNamed && s.Mode != SeatsConcurrent {
			errs.add(f+".mode", "must be named or concurrent, not %q", s.Mode)
		}
	}
}
