package billing

import (
	"fmt"

	"github.com/billowhq/billow"
)

// Event is something that happens to a subscription and may move it to another status:
// the input of the subscription state machine.
type Event string

// The events of the subscription state machine. Next says which status each one moves a
// subscription to; docs/subscriptions.md draws the table.
const (
	// EventStartTrial creates a subscription in its free trial.
	EventStartTrial Event = "start_trial"
	// EventStartPaid creates a subscription whose first payment succeeded.
	EventStartPaid Event = "start_paid"
	// EventStartPending creates a subscription whose first payment waits: a wire transfer
	// not yet cleared, a card that asks for an OTP.
	EventStartPending Event = "start_pending"
	// EventPaid is the payment of the open invoice: the first one, a retry, or a manual
	// payment after suspension.
	EventPaid Event = "paid"
	// EventAbandoned is a first payment that never came (the order expired).
	EventAbandoned Event = "abandoned"
	// EventTrialConverted is the end of a trial whose first charge succeeded.
	EventTrialConverted Event = "trial_converted"
	// EventTrialNoMethod is the end of a trial with no payment method to charge.
	EventTrialNoMethod Event = "trial_no_method"
	// EventRenewalFailed is a declined charge at a renewal or at the end of a trial.
	EventRenewalFailed Event = "renewal_failed"
	// EventRenewed is a renewal whose charge succeeded.
	EventRenewed Event = "renewed"
	// EventRetryFailed is a dunning retry that was declined again.
	EventRetryFailed Event = "retry_failed"
	// EventGraceExpired is the end of the grace period of a past-due subscription.
	EventGraceExpired Event = "grace_expired"
	// EventPeriodEndUnpaid is the end of a period whose invoice is still unpaid.
	EventPeriodEndUnpaid Event = "period_end_unpaid"
	// EventChanged is a change of plan, add-ons or interval.
	EventChanged Event = "changed"
	// EventCancelScheduled asks for the subscription to end at the end of its period.
	EventCancelScheduled Event = "cancel_scheduled"
	// EventCancelUnscheduled withdraws a scheduled cancellation.
	EventCancelUnscheduled Event = "cancel_unscheduled"
	// EventCanceled ends the subscription, at once or at the end of its period.
	EventCanceled Event = "canceled"
)

// The domain events a transition emits, the types of the emails and webhooks it causes.
const (
	DomainTrialStarted      = "subscription.trial_started"
	DomainCreated           = "subscription.created"
	DomainActivated         = "subscription.activated"
	DomainExpired           = "subscription.expired"
	DomainTrialExpired      = "subscription.trial_expired"
	DomainRenewalFailed     = "subscription.renewal_failed"
	DomainRenewed           = "subscription.renewed"
	DomainRetryFailed       = "subscription.retry_failed"
	DomainRecovered         = "subscription.recovered"
	DomainSuspended         = "subscription.suspended"
	DomainReactivated       = "subscription.reactivated"
	DomainChanged           = "subscription.changed"
	DomainCancelScheduled   = "subscription.cancel_scheduled"
	DomainCancelUnscheduled = "subscription.cancel_unscheduled"
	DomainCanceled          = "subscription.canceled"
)

// Transition is one allowed move of the state machine: an Event in status From moves the
// subscription to status To and emits DomainEvent. From is "" for a subscription that
// does not exist yet.
type Transition struct {
	From        billow.SubscriptionStatus
	Event       Event
	To          billow.SubscriptionStatus
	DomainEvent string
}

// statusNew is the status of a subscription that does not exist yet.
const statusNew billow.SubscriptionStatus = ""

// transitions returns the whole table, one row per (from, event) pair, in the order of
// docs/subscriptions.md. It is a function rather than a variable so that no caller can
// change the table.
func transitions() []Transition {
	return []Transition{
		{statusNew, EventStartTrial, billow.SubscriptionTrialing, DomainTrialStarted},
		{statusNew, EventStartPaid, billow.SubscriptionActive, DomainActivated},
		{statusNew, EventStartPending, billow.SubscriptionIncomplete, DomainCreated},
		{billow.SubscriptionIncomplete, EventPaid, billow.SubscriptionActive, DomainActivated},
		{billow.SubscriptionIncomplete, EventAbandoned, billow.SubscriptionExpired, DomainExpired},
		{billow.SubscriptionTrialing, EventTrialConverted, billow.SubscriptionActive, DomainActivated},
		{billow.SubscriptionTrialing, EventTrialNoMethod, billow.SubscriptionExpired, DomainTrialExpired},
		{billow.SubscriptionTrialing, EventRenewalFailed, billow.SubscriptionPastDue, DomainRenewalFailed},
		{billow.SubscriptionActive, EventRenewed, billow.SubscriptionActive, DomainRenewed},
		{billow.SubscriptionActive, EventRenewalFailed, billow.SubscriptionPastDue, DomainRenewalFailed},
		{billow.SubscriptionPastDue, EventRetryFailed, billow.SubscriptionPastDue, DomainRetryFailed},
		{billow.SubscriptionPastDue, EventPaid, billow.SubscriptionActive, DomainRecovered},
		{billow.SubscriptionPastDue, EventGraceExpired, billow.SubscriptionSuspended, DomainSuspended},
		{billow.SubscriptionSuspended, EventPaid, billow.SubscriptionActive, DomainReactivated},
		{billow.SubscriptionPastDue, EventPeriodEndUnpaid, billow.SubscriptionExpired, DomainExpired},
		{billow.SubscriptionSuspended, EventPeriodEndUnpaid, billow.SubscriptionExpired, DomainExpired},
		{billow.SubscriptionTrialing, EventChanged, billow.SubscriptionTrialing, DomainChanged},
		{billow.SubscriptionActive, EventChanged, billow.SubscriptionActive, DomainChanged},
		{billow.SubscriptionTrialing, EventCancelScheduled, billow.SubscriptionTrialing, DomainCancelScheduled},
		{billow.SubscriptionActive, EventCancelScheduled, billow.SubscriptionActive, DomainCancelScheduled},
		{billow.SubscriptionPastDue, EventCancelScheduled, billow.SubscriptionPastDue, DomainCancelScheduled},
		{billow.SubscriptionTrialing, EventCancelUnscheduled, billow.SubscriptionTrialing, DomainCancelUnscheduled},
		{billow.SubscriptionActive, EventCancelUnscheduled, billow.SubscriptionActive, DomainCancelUnscheduled},
		{billow.SubscriptionPastDue, EventCancelUnscheduled, billow.SubscriptionPastDue, DomainCancelUnscheduled},
		{billow.SubscriptionTrialing, EventCanceled, billow.SubscriptionCanceled, DomainCanceled},
		{billow.SubscriptionActive, EventCanceled, billow.SubscriptionCanceled, DomainCanceled},
		{billow.SubscriptionPastDue, EventCanceled, billow.SubscriptionCanceled, DomainCanceled},
		{billow.SubscriptionSuspended, EventCanceled, billow.SubscriptionCanceled, DomainCanceled},
		{billow.SubscriptionIncomplete, EventCanceled, billow.SubscriptionCanceled, DomainCanceled},
	}
}

// Transitions returns every allowed transition, one per (from, event) pair: the whole
// state machine, for documentation and tests. The slice is a fresh copy.
func Transitions() []Transition { return transitions() }

// Events returns every event of the state machine, in the order they are declared.
func Events() []Event {
	return []Event{
		EventStartTrial, EventStartPaid, EventStartPending, EventPaid, EventAbandoned,
		EventTrialConverted, EventTrialNoMethod, EventRenewalFailed, EventRenewed,
		EventRetryFailed, EventGraceExpired, EventPeriodEndUnpaid, EventChanged,
		EventCancelScheduled, EventCancelUnscheduled, EventCanceled,
	}
}

// Next returns the transition event ev makes from status from ("" for a subscription
// that does not exist yet). Anything the table does not allow, an unknown status or
// event included, is refused with a conflict *billow.Error of code transition_refused
// and nothing should change.
func Next(from billow.SubscriptionStatus, ev Event) (Transition, error) {
	for _, t := range transitions() {
		if t.From == from && t.Event == ev {
			return t, nil
		}
	}
	return Transition{}, billow.Errorf(billow.KindConflict, billow.CodeTransitionRefused,
		"%s cannot %s (event %s)", describeStatus(from), describeEvent(ev), ev)
}

// describeStatus names a status for an error message: "a past_due subscription".
func describeStatus(s billow.SubscriptionStatus) string {
	switch s {
	case statusNew:
		return "a new subscription"
	case billow.SubscriptionIncomplete, billow.SubscriptionActive, billow.SubscriptionExpired:
		return fmt.Sprintf("an %s subscription", s)
	case billow.SubscriptionTrialing, billow.SubscriptionPastDue, billow.SubscriptionSuspended, billow.SubscriptionCanceled:
		return fmt.Sprintf("a %s subscription", s)
	}
	return fmt.Sprintf("a subscription in the unknown status %q", string(s))
}

// describeEvent says what an event does, for an error message.
func describeEvent(ev Event) string {
	switch ev {
	case EventStartTrial:
		return "start a trial"
	case EventStartPaid:
		return "start as paid"
	case EventStartPending:
		return "start waiting for its first payment"
	case EventPaid:
		return "be paid"
	case EventAbandoned:
		return "be abandoned"
	case EventTrialConverted:
		return "convert a trial"
	case EventTrialNoMethod:
		return "end a trial without a payment method"
	case EventRenewalFailed:
		return "fail a renewal"
	case EventRenewed:
		return "renew"
	case EventRetryFailed:
		return "fail a payment retry"
	case EventGraceExpired:
		return "reach the end of a grace period"
	case EventPeriodEndUnpaid:
		return "end its period unpaid"
	case EventChanged:
		return "change plan, add-ons or interval"
	case EventCancelScheduled:
		return "schedule a cancellation"
	case EventCancelUnscheduled:
		return "withdraw a scheduled cancellation"
	case EventCanceled:
		return "be canceled"
	}
	return fmt.Sprintf("take the unknown event %q", string(ev))
}
