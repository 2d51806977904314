// Package autocharge owns auto-charge and the low-balance notices (seed 004's auto-billing
// of credits): an account sets a threshold and a top-up; when its wallet falls below the
// threshold one top-up order starts, charged to the default payment method through the
// billing service's order flow, and the credits load once it is paid. It also emits
// credits.low_balance and credits.exhausted once per crossing, to the billing events
// outbox the emails and webhooks are sent from.
//
// Its core is pure (decide.go): from a balance, the settings, the stored state and the
// time, Decide says which notices to emit and whether to start, poll or recover an
// attempt; Settle says what an attempt's outcome changes. No I/O, no clock reads.
//
// The Service (service.go) serves the settings to the API and runs a pass over the
// accounts that have settings, as a periodic job of every few seconds. An attempt is
// claimed by a compare-and-set on the stored state before its order is submitted, so of
// two processes deciding at once one charges; a cooldown follows every attempt, and
// attempts that fail in a row pause auto-charge after FailuresMax.
//
// docs/credits.md#auto-charge-and-low-balance describes the behaviour and the events.
package autocharge
