// Package billing owns subscriptions, billing cycles, proration, invoices and dunning:
// when a subscription's periods start and end, what a change in the middle of a period
// costs, which status a subscription moves to on each event, and the tax on an invoice.
//
// Its core is pure: no I/O, no clock reads (every time is a parameter), no global state
// but constant tables. The cycle (cycle.go), the proration (proration.go), the state
// machine (state.go) and the tax (tax.go) give the same answer for the same input,
// every time, so the services that store subscriptions, issue invoices and run dunning
// can be replayed and tested with a test clock.
//
// Money is integers: amounts are int64 minor units of the currency, and every rounding is
// one explicit rounding, half away from zero, on an exact quotient.
//
// The rules, with a worked example and the table of transitions, are in
// docs/subscriptions.md; a test keeps that table equal to Transitions.
package billing
