package billow

import "time"

// OrderPreview is what an order would cost if it were submitted now: the invoice
// SubmitOrder would charge, priced by the same code to the minor unit, and when what it
// buys takes effect. Nothing of it is stored.
type OrderPreview struct {
	// Invoice is the order's invoice as SubmitOrder would build it: its lines (the first
	// period, the prorations of a change, the credit package), the tax and the total.
	// It has status draft, no id, no number and no order: it is not stored. An order
	// that charges nothing now (a trial, a downgrade, an interval change) has an invoice
	// without lines whose total is 0.
	Invoice *Invoice `json:"invoice"`
	// ChargeMinor is what submitting the order charges to the payment method now, in
	// minor units of the invoice's currency: the invoice's total when it is above zero
	// and Billow collects it; 0 when the order completes without a charge (nothing to
	// pay, credits of a change that outweigh its charges, or a contract the operator
	// invoices outside Billow).
	ChargeMinor int64 `json:"charge_minor"`
	// Immediate reports whether the order applies as soon as it is paid (a subscription,
	// an upgrade, credits, any change during a trial); false for a downgrade or an
	// interval change, kept as the subscription's pending change until EffectiveAt.
	Immediate bool `json:"immediate"`
	// EffectiveAt is when the order takes effect: now for an immediate order, the end of
	// the current period for a change that waits for it.
	EffectiveAt time.Time `json:"effective_at"`
	// TrialEnd is when a trial the order starts ends and its first charge falls; nil
	// without a trial.
	TrialEnd *time.Time `json:"trial_end,omitempty"`
}
