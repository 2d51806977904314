package autocharge

import (
	"time"

	"github.com/billowhq/billow"
)

// Limits and defaults of auto-charge, named with their unit last.
const (
	// CooldownDefault is how long after an attempt starts the next one may: a top-up that
	// leaves the balance low, or one declined, is tried again no sooner, so a card is
	// never charged in a burst.
	CooldownDefault = 15 * time.Minute
	// FailuresMax is how many attempts may fail in a row before auto-charge pauses; it
	// resumes when the balance is back at the threshold (bought by hand) or the settings
	// are saved again. Each failure emits an event: a declined card is not retried, and
	// its holder not told, forever.
	FailuresMax = 3
	// AttemptStaleAfter is how long a claim may go without its outcome before a pass
	// looks for the order it submitted: the process holding it stopped. Submitting is
	// two store writes and one gateway call; this is far above that.
	AttemptStaleAfter = 10 * time.Minute
	// AttemptOpenMax is how long an attempt waits for an order pending payment (a gateway
	// that did not answer, a wire transfer) before it counts as failed.
	AttemptOpenMax = 24 * time.Hour
)

// Action is what a decision asks the runner to do beyond storing it.
type Action int

const (
	// ActionNone: nothing beyond storing the decision.
	ActionNone Action = iota
	// ActionCharge: submit the top-up order; the decision's state holds the claim, which
	// must be stored first.
	ActionCharge
	// ActionPoll: read the pending order of the attempt in flight and Settle it.
	ActionPoll
	// ActionRecover: the claim went stale; look for the order it may have submitted and
	// Settle with it, or as abandoned when there is none.
	ActionRecover
)

// Notice is a domain event a decision emits, written with the decision.
type Notice struct {
	Type string
	// Subject is the id the event is about: the order of an attempt, "" for the account.
	Subject string
	Data    map[string]any
}

// Input is what one decision reads.
type Input struct {
	// Now is the account's time: its test clock's when it has one.
	Now        time.Time
	BalanceUcr int64
	Settings   billow.AutoChargeSettings
	State      billow.AutoChargeState
	// NewAttempt is the id a new attempt's claim takes (random ids are made outside).
	NewAttempt string
	Cooldown   time.Duration
}

// Decision is what to store, emit and do.
type Decision struct {
	State billow.AutoChargeState
	// Changed says State differs from the input's: it must be stored (with Notices).
	Changed bool
	Notices []Notice
	Action  Action
}

// Decide looks at an account's balance: it emits each notice once per crossing and arms
// it again when the balance recovers, and starts a top-up when auto-charge is on, the
// balance is below the threshold, no attempt is in flight, the cooldown since the last
// one has passed and auto-charge is not paused by failures.
func Decide(in Input) Decision {
	st := in.State
	var d Decision
	low := in.BalanceUcr < in.Settings.ThresholdCredits*billow.MicroCreditsPerCredit
	exhausted := in.BalanceUcr <= 0
	switch {
	case low && !st.LowBalanceNotified:
		st.LowBalanceNotified = true
		d.Notices = append(d.Notices, Notice{Type: billow.EventCreditsLowBalance, Data: map[string]any{
			"balance_ucr": in.BalanceUcr, "balance_credits": billow.CreditsText(in.BalanceUcr),
			"threshold_credits": in.Settings.ThresholdCredits, "auto_charge": in.Settings.Enabled}})
	case !low && st.LowBalanceNotified:
		st.LowBalanceNotified = false
	}
	switch {
	case exhausted && !st.ExhaustedNotified:
		st.ExhaustedNotified = true
		d.Notices = append(d.Notices, Notice{Type: billow.EventCreditsExhausted, Data: map[string]any{
			"balance_ucr": in.BalanceUcr, "balance_credits": billow.CreditsText(in.BalanceUcr), "auto_charge": in.Settings.Enabled}})
	case !exhausted && st.ExhaustedNotified:
		st.ExhaustedNotified = false
	}
	if !low {
		// The balance recovered (bought by hand, granted): a run of failures is over.
		st.Failures = 0
	}
	switch {
	case st.Attempt != "" && st.AttemptOrder != "":
		d.Action = ActionPoll
	case st.Attempt != "":
		if !in.Now.Before(st.AttemptAt.Add(AttemptStaleAfter)) {
			d.Action = ActionRecover
		}
	case in.Settings.Enabled && low && st.Failures < FailuresMax && cooledDown(st, in.Now, in.Cooldown):
		st.Attempt, st.AttemptAt, st.AttemptCredits = in.NewAttempt, in.Now, in.Settings.TopUpCredits
		d.Action = ActionCharge
	}
	d.State = st
	d.Changed = !sameState(st, in.State)
	return d
}

func cooledDown(st billow.AutoChargeState, now time.Time, cooldown time.Duration) bool {
	return st.AttemptAt.IsZero() || !now.Before(st.AttemptAt.Add(cooldown))
}

// Outcome is what became of an attempt.
type Outcome struct {
	// Order is the order the attempt submitted; nil when none was (Code and Message say
	// why) or, with Abandoned, when none is found.
	Order         *billow.Order
	Code, Message string
	// Abandoned: the claim went stale and submitted no order, so nothing was charged;
	// the attempt ends without a notice and without counting as a failure.
	Abandoned bool
}

// Settle ends the attempt in flight by its outcome: a completed order succeeded; a
// declined one, one that needs its card holder, or no order at all failed; an order
// pending payment keeps the attempt in flight, for the next passes to poll, until
// AttemptOpenMax has passed since the claim.
func Settle(in Input, o Outcome) Decision {
	st := in.State
	var d Decision
	credits := st.AttemptCredits
	fail := func(order, code, message string) {
		if code == "" {
			code = billow.CodePaymentDeclined
		}
		st.Attempt, st.AttemptOrder, st.AttemptCredits = "", "", 0
		st.Failures++
		st.LastOrder, st.LastOutcome, st.LastFailureCode = order, billow.AutoChargeFailed, code
		data := map[string]any{"credits": credits, "code": code, "message": message, "failures": st.Failures,
			"paused": st.Failures >= FailuresMax}
		subject := ""
		if order != "" {
			data["order"], subject = order, order
		}
		if st.Failures < FailuresMax {
			data["retry_after"] = st.AttemptAt.Add(in.Cooldown)
		}
		d.Notices = append(d.Notices, Notice{Type: billow.EventAutoChargeFailed, Subject: subject, Data: data})
	}
	switch order := o.Order; {
	case o.Abandoned:
		st.Attempt, st.AttemptOrder, st.AttemptCredits = "", "", 0
	case order == nil:
		fail("", o.Code, o.Message)
	case order.Status == billow.OrderCompleted:
		st.Attempt, st.AttemptOrder, st.AttemptCredits = "", "", 0
		st.Failures = 0
		st.LastOrder, st.LastOutcome, st.LastFailureCode = order.ID, billow.AutoChargeSucceeded, ""
		d.Notices = append(d.Notices, Notice{Type: billow.EventAutoChargeSucceeded, Subject: order.ID, Data: map[string]any{
			"order": order.ID, "invoice": order.Invoice, "credits": credits, "amount_minor": order.AmountMinor, "currency": order.Currency}})
	case order.Status == billow.OrderFailed:
		fail(order.ID, order.FailureCode, order.FailureMessage)
	case order.Status == billow.OrderRequiresAction:
		// Off-session nobody is there to type an OTP or approve a PayPal payment; the
		// order waits in the portal, where the customer may still confirm it.
		fail(order.ID, billow.CodeAuthenticationRequired, "the payment method needs the customer: confirm order "+order.ID+" in the portal")
	case !in.Now.Before(st.AttemptAt.Add(AttemptOpenMax)):
		fail(order.ID, billow.CodeOrderNotCompleted, "order "+order.ID+" is still "+string(order.Status))
	default: // pending payment: still in flight, polled by the next passes
		st.AttemptOrder = order.ID
	}
	d.State = st
	d.Changed = !sameState(st, in.State)
	return d
}

// sameState compares two states, times by instant.
func sameState(a, b billow.AutoChargeState) bool {
	at, bt := a.AttemptAt, b.AttemptAt
	a.AttemptAt, b.AttemptAt = time.Time{}, time.Time{}
	return a == b && at.Equal(bt)
}
