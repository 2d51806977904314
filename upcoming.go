package billow

// CodeNoUpcomingInvoice: the account's live subscription will not be renewed when its
// current period ends, as it stands now (it is set to cancel then, it is past due or
// suspended and expires unpaid, it is a trial without a default payment method, or it
// still waits for its first payment), so there is no upcoming invoice to preview. An
// account with no live subscription at all gets CodeNoSubscription instead.
const CodeNoUpcomingInvoice = "no_upcoming_invoice"
