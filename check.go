package billow

import (
	"slices"
	"strings"
)

// CheckAction is what a platform asks Billow whether an account may do, before it does it.
type CheckAction string

// Check actions. For the seat-like actions whose count the platform keeps (workspace
// seats, client seats, call lines, phone numbers), the quantity is how many the account
// would have in use with this one; Billow counts apps itself.
const (
	// ActionStartConversation: the account's plan is active and its wallet, if its plan
	// bills usage in credits, is above minus the grace buffer.
	ActionStartConversation CheckAction = "start_conversation"
	// ActionLLMCall: the wallet can pay quantity µcr, the call's estimated cost.
	ActionLLMCall CheckAction = "llm_call"
	// ActionDeployApp: the app exists and the wallet allows a deployment (CanDeploy).
	ActionDeployApp CheckAction = "deploy_app"
	// ActionCreateApp: quantity more apps fit in the plan's agent slots.
	ActionCreateApp CheckAction = "create_app"
	// ActionIngestBytes: quantity more bytes fit in the ingestion quota, with its allowance.
	ActionIngestBytes CheckAction = "ingest_bytes"
	// ActionWorkspaceSeats, ActionClientSeats, ActionCallLines and ActionPhoneNumbers:
	// quantity in use fits in what the plan (and its add-ons) include.
	ActionWorkspaceSeats CheckAction = "workspace_seats"
	ActionClientSeats    CheckAction = "client_seats"
	ActionCallLines      CheckAction = "concurrent_call_lines"
	ActionPhoneNumbers   CheckAction = "phone_numbers"
)

// CheckActions lists every action, in the order the docs give them.
var CheckActions = []CheckAction{ActionStartConversation, ActionLLMCall, ActionDeployApp, ActionCreateApp, ActionIngestBytes,
	ActionWorkspaceSeats, ActionClientSeats, ActionCallLines, ActionPhoneNumbers}

// CheckQuantityMax bounds a check's quantity: a billion units, or µcr for llm_call
// (a thousand credits is far above any single call's estimate).
const CheckQuantityMax = 1_000_000_000_000

// Codes of a check's answer, beside the ledger's insufficient_credits and the
// deployment rule's code.
const (
	CodeAllowed      = "allowed"
	CodeNoActivePlan = "no_active_plan"
	// CodeAccountSuspended: a renewal stayed unpaid past the grace period; paying reactivates.
	CodeAccountSuspended = "account_suspended"
	CodeLimitReached     = "limit_reached"
	CodeQuotaExceeded    = "quota_exceeded"
	CodeNotEntitled      = "not_entitled"
)

// CheckInput asks whether an account may do something now.
type CheckInput struct {
	Account  string      `json:"account" maxLength:"255" doc:"Account id or external id."`
	App      string      `json:"app,omitempty" maxLength:"255" doc:"App id or external id: required for deploy_app."`
	Action   CheckAction `json:"action" doc:"start_conversation, llm_call, deploy_app, create_app, ingest_bytes, workspace_seats, client_seats, concurrent_call_lines or phone_numbers."`
	Quantity int64       `json:"quantity,omitempty" minimum:"0" doc:"llm_call: the estimated cost in µcr; create_app: apps to add (default 1); ingest_bytes: bytes to add; seats, call lines, phone numbers: how many would be in use."`
}

// Validate reports every invalid field at once.
func (in *CheckInput) Validate() error {
	var errs fieldErrors
	if in.Account == "" {
		errs.add("account", "is required")
	}
	if !slices.Contains(CheckActions, in.Action) {
		names := make([]string, len(CheckActions))
		for i, a := range CheckActions {
			names[i] = string(a)
		}
		errs.add("action", "must be one of %s; not %q", strings.Join(names, ", "), in.Action)
	}
	if in.Quantity < 0 || in.Quantity > CheckQuantityMax {
		errs.add("quantity", "must be between 0 and %d", int64(CheckQuantityMax))
	}
	if in.Action == ActionDeployApp && in.App == "" {
		errs.add("app", "is required for deploy_app")
	}
	return errs.err()
}

// CheckResult is a check's answer. Allowed says whether to go ahead; Code says why
// (allowed, or the reason for a refusal) and Detail says it to a person.
type CheckResult struct {
	Allowed bool   `json:"allowed"`
	Code    string `json:"code"`
	Detail  string `json:"detail,omitempty"`
	// Limit and Used are the figures a quota or entitlement decision compared, when it
	// was one.
	Limit *int64 `json:"limit,omitempty"`
	Used  *int64 `json:"used,omitempty"`
	// AsOf is how fresh the state the answer was read from is (RFC 3339).
	AsOf string `json:"as_of"`
}
