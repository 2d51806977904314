package autocharge_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/autocharge"
)

var (
	t0       = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cooldown = 15 * time.Minute
	on       = billow.AutoChargeSettings{Enabled: true, ThresholdCredits: 500, TopUpCredits: 2000}
	off      = billow.AutoChargeSettings{ThresholdCredits: 500}
)

const cr = billow.MicroCreditsPerCredit

// decided is what the tests compare of a Decision: the state, the notice types in order
// and the action.
type decided struct {
	State   billow.AutoChargeState
	Changed bool
	Notices []string
	Action  autocharge.Action
}

func summary(d autocharge.Decision) decided {
	out := decided{State: d.State, Changed: d.Changed, Action: d.Action}
	for _, n := range d.Notices {
		out.Notices = append(out.Notices, n.Type)
	}
	return out
}

func TestDecide(t *testing.T) {
	claimed := func(st billow.AutoChargeState) billow.AutoChargeState {
		st.Attempt, st.AttemptAt, st.AttemptCredits = "topup_new", t0, 2000
		return st
	}
	inFlight := billow.AutoChargeState{Attempt: "topup_old", AttemptAt: t0.Add(-time.Minute), AttemptCredits: 2000, LowBalanceNotified: true}
	notified := billow.AutoChargeState{LowBalanceNotified: true}
	tests := []struct {
		name     string
		balance  int64
		settings billow.AutoChargeSettings
		state    billow.AutoChargeState
		want     decided
	}{
		{name: "above the threshold: nothing", balance: 900 * cr, settings: on,
			want: decided{}},
		{name: "below the threshold: one notice and one top-up", balance: 499 * cr, settings: on,
			want: decided{State: claimed(notified), Changed: true, Notices: []string{billow.EventCreditsLowBalance}, Action: autocharge.ActionCharge}},
		{name: "at the threshold is not below it", balance: 500 * cr, settings: on,
			want: decided{}},
		{name: "a top-up in flight: no second one, no second notice", balance: 100 * cr, settings: on, state: inFlight,
			want: decided{State: inFlight}},
		{name: "in flight with a pending order: poll it", balance: 100 * cr, settings: on,
			state: withOrder(inFlight, "ord_pending"),
			want:  decided{State: withOrder(inFlight, "ord_pending"), Action: autocharge.ActionPoll}},
		{name: "a stale claim: recover it", balance: 100 * cr, settings: on,
			state: at(inFlight, t0.Add(-autocharge.AttemptStaleAfter)),
			want:  decided{State: at(inFlight, t0.Add(-autocharge.AttemptStaleAfter)), Action: autocharge.ActionRecover}},
		{name: "within the cooldown: no new attempt", balance: 100 * cr, settings: on,
			state: at(notified, t0.Add(-cooldown+time.Second)),
			want:  decided{State: at(notified, t0.Add(-cooldown+time.Second))}},
		{name: "the cooldown passed: the next attempt", balance: 100 * cr, settings: on,
			state: at(notified, t0.Add(-cooldown)),
			want:  decided{State: claimed(notified), Changed: true, Action: autocharge.ActionCharge}},
		{name: "back above: the notice is armed again", balance: 2100 * cr, settings: on, state: at(notified, t0.Add(-time.Minute)),
			want: decided{State: at(billow.AutoChargeState{}, t0.Add(-time.Minute)), Changed: true}},
		{name: "exhausted at zero: both notices, low first", balance: 0, settings: on,
			want: decided{State: claimed(billow.AutoChargeState{LowBalanceNotified: true, ExhaustedNotified: true}), Changed: true,
				Notices: []string{billow.EventCreditsLowBalance, billow.EventCreditsExhausted}, Action: autocharge.ActionCharge}},
		{name: "exhausted below zero (the grace buffer)", balance: -3 * cr, settings: off, state: notified,
			want: decided{State: billow.AutoChargeState{LowBalanceNotified: true, ExhaustedNotified: true}, Changed: true,
				Notices: []string{billow.EventCreditsExhausted}}},
		{name: "exhausted once: no second notice", balance: -3 * cr, settings: off,
			state: billow.AutoChargeState{LowBalanceNotified: true, ExhaustedNotified: true},
			want:  decided{State: billow.AutoChargeState{LowBalanceNotified: true, ExhaustedNotified: true}}},
		{name: "above zero but still low: exhausted armed again, low stays told", balance: 1, settings: off,
			state: billow.AutoChargeState{LowBalanceNotified: true, ExhaustedNotified: true},
			want:  decided{State: notified, Changed: true}},
		{name: "auto-charge off: the notice without a top-up", balance: 10 * cr, settings: off,
			want: decided{State: notified, Changed: true, Notices: []string{billow.EventCreditsLowBalance}}},
		{name: "paused after failures in a row", balance: 10 * cr, settings: on,
			state: failures(at(notified, t0.Add(-time.Hour)), autocharge.FailuresMax),
			want:  decided{State: failures(at(notified, t0.Add(-time.Hour)), autocharge.FailuresMax)}},
		{name: "one failure short of the pause: tried again", balance: 10 * cr, settings: on,
			state: failures(at(notified, t0.Add(-time.Hour)), autocharge.FailuresMax-1),
			want:  decided{State: failures(claimed(notified), autocharge.FailuresMax-1), Changed: true, Action: autocharge.ActionCharge}},
		{name: "a recovered balance ends the run of failures", balance: 600 * cr, settings: on,
			state: failures(at(notified, t0.Add(-time.Hour)), autocharge.FailuresMax),
			want:  decided{State: at(billow.AutoChargeState{}, t0.Add(-time.Hour)), Changed: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := autocharge.Decide(autocharge.Input{Now: t0, BalanceUcr: tt.balance, Settings: tt.settings, State: tt.state,
				NewAttempt: "topup_new", Cooldown: cooldown})
			if diff := cmp.Diff(tt.want, summary(d)); diff != "" {
				t.Fatalf("decision (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecideNoticeData(t *testing.T) {
	d := autocharge.Decide(autocharge.Input{Now: t0, BalanceUcr: -1_500_000, Settings: on, NewAttempt: "topup_new", Cooldown: cooldown})
	want := []autocharge.Notice{
		{Type: billow.EventCreditsLowBalance, Data: map[string]any{"balance_ucr": int64(-1_500_000), "balance_credits": "-1.5",
			"threshold_credits": int64(500), "auto_charge": true}},
		{Type: billow.EventCreditsExhausted, Data: map[string]any{"balance_ucr": int64(-1_500_000), "balance_credits": "-1.5", "auto_charge": true}},
	}
	if diff := cmp.Diff(want, d.Notices); diff != "" {
		t.Fatalf("notices (-want +got):\n%s", diff)
	}
}

func TestSettle(t *testing.T) {
	flying := billow.AutoChargeState{Attempt: "topup_1", AttemptAt: t0, AttemptCredits: 2000, LowBalanceNotified: true, Failures: 1}
	order := func(status billow.OrderStatus, code string) *billow.Order {
		return &billow.Order{ID: "ord_1", Invoice: "inv_1", Kind: billow.OrderCredits, Status: status, FailureCode: code,
			FailureMessage: "declined", AmountMinor: 200, Currency: "USD"}
	}
	ended := func(outcome billow.AutoChargeOutcome, order, code string, failures int64) billow.AutoChargeState {
		return billow.AutoChargeState{AttemptAt: t0, LowBalanceNotified: true, Failures: failures,
			LastOrder: order, LastOutcome: outcome, LastFailureCode: code}
	}
	tests := []struct {
		name    string
		now     time.Time
		state   billow.AutoChargeState
		outcome autocharge.Outcome
		want    billow.AutoChargeState
		notice  *autocharge.Notice
	}{
		{name: "paid: succeeded, failures cleared", outcome: autocharge.Outcome{Order: order(billow.OrderCompleted, "")},
			want: ended(billow.AutoChargeSucceeded, "ord_1", "", 0),
			notice: &autocharge.Notice{Type: billow.EventAutoChargeSucceeded, Subject: "ord_1", Data: map[string]any{
				"order": "ord_1", "invoice": "inv_1", "credits": int64(2000), "amount_minor": int64(200), "currency": "USD"}}},
		{name: "declined: failed, retried after the cooldown", outcome: autocharge.Outcome{Order: order(billow.OrderFailed, "insufficient_funds")},
			want: ended(billow.AutoChargeFailed, "ord_1", "insufficient_funds", 2),
			notice: &autocharge.Notice{Type: billow.EventAutoChargeFailed, Subject: "ord_1", Data: map[string]any{
				"order": "ord_1", "credits": int64(2000), "code": "insufficient_funds", "message": "declined", "failures": int64(2),
				"paused": false, "retry_after": t0.Add(cooldown)}}},
		{name: "the last failure allowed: paused", state: failures(flying, autocharge.FailuresMax-1),
			outcome: autocharge.Outcome{Order: order(billow.OrderFailed, "card_declined")},
			want:    ended(billow.AutoChargeFailed, "ord_1", "card_declined", autocharge.FailuresMax),
			notice: &autocharge.Notice{Type: billow.EventAutoChargeFailed, Subject: "ord_1", Data: map[string]any{
				"order": "ord_1", "credits": int64(2000), "code": "card_declined", "message": "declined",
				"failures": int64(autocharge.FailuresMax), "paused": true}}},
		{name: "an OTP card off-session: failed, the order waits for its holder",
			outcome: autocharge.Outcome{Order: order(billow.OrderRequiresAction, "")},
			want:    ended(billow.AutoChargeFailed, "ord_1", billow.CodeAuthenticationRequired, 2)},
		{name: "pending payment: still in flight", outcome: autocharge.Outcome{Order: order(billow.OrderPendingPayment, "")},
			want: withOrder(flying, "ord_1")},
		{name: "pending past the limit: failed", now: t0.Add(autocharge.AttemptOpenMax), state: withOrder(flying, "ord_1"),
			outcome: autocharge.Outcome{Order: order(billow.OrderPendingPayment, "")},
			want:    ended(billow.AutoChargeFailed, "ord_1", billow.CodeOrderNotCompleted, 2)},
		{name: "refused before any order", outcome: autocharge.Outcome{Code: billow.CodePaymentMethodMissing, Message: "none"},
			want: ended(billow.AutoChargeFailed, "", billow.CodePaymentMethodMissing, 2),
			notice: &autocharge.Notice{Type: billow.EventAutoChargeFailed, Data: map[string]any{
				"credits": int64(2000), "code": billow.CodePaymentMethodMissing, "message": "none", "failures": int64(2),
				"paused": false, "retry_after": t0.Add(cooldown)}}},
		{name: "abandoned: let go quietly, the cooldown still counts", outcome: autocharge.Outcome{Abandoned: true},
			want: billow.AutoChargeState{AttemptAt: t0, LowBalanceNotified: true, Failures: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now, state := tt.now, tt.state
			if now.IsZero() {
				now = t0.Add(time.Second)
			}
			if state.Attempt == "" {
				state = flying
			}
			d := autocharge.Settle(autocharge.Input{Now: now, Settings: on, State: state, Cooldown: cooldown}, tt.outcome)
			if diff := cmp.Diff(tt.want, d.State); diff != "" {
				t.Fatalf("state (-want +got):\n%s", diff)
			}
			if d.Action != autocharge.ActionNone || !d.Changed {
				t.Fatalf("action %v, changed %v", d.Action, d.Changed)
			}
			switch {
			case tt.notice != nil:
				if diff := cmp.Diff([]autocharge.Notice{*tt.notice}, d.Notices); diff != "" {
					t.Fatalf("notices (-want +got):\n%s", diff)
				}
			case tt.want.LastOutcome == "" && len(d.Notices) != 0:
				t.Fatalf("notices %+v, want none", d.Notices)
			case tt.want.LastOutcome == billow.AutoChargeFailed && (len(d.Notices) != 1 || d.Notices[0].Type != billow.EventAutoChargeFailed):
				t.Fatalf("notices %+v, want one failure", d.Notices)
			}
		})
	}
	// Polled again while still pending: nothing to store.
	st := withOrder(flying, "ord_1")
	if d := autocharge.Settle(autocharge.Input{Now: t0.Add(time.Hour), Settings: on, State: st, Cooldown: cooldown},
		autocharge.Outcome{Order: order(billow.OrderPendingPayment, "")}); d.Changed || len(d.Notices) != 0 {
		t.Fatalf("a second poll of a pending order changed %+v", d)
	}
}

func withOrder(st billow.AutoChargeState, order string) billow.AutoChargeState {
	st.AttemptOrder = order
	return st
}

func at(st billow.AutoChargeState, t time.Time) billow.AutoChargeState {
	st.AttemptAt = t
	return st
}

func failures(st billow.AutoChargeState, n int64) billow.AutoChargeState {
	st.Failures = n
	return st
}
