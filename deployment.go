package billow

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// PrefixDeployment begins the id of a deployment request.
const PrefixDeployment = "dep_"

// Limits of deployment requests, named with their unit last.
const (
	// DeploymentNoteMaxBytes bounds what the requesting member writes about the deployment.
	DeploymentNoteMaxBytes = 1000
	// DeploymentReasonMaxBytes bounds the reason given with a decision.
	DeploymentReasonMaxBytes = 1000
)

// Error codes of deployment approval.
const (
	// CodeCreditsExhausted: the wallet has neither free, promotional nor paid credits left,
	// so a deployment may not be approved (seed 000, Deployment Flow).
	CodeCreditsExhausted = "credits_exhausted"
	// CodeDeploymentDecided: the deployment request was already approved or rejected; a
	// request is decided once.
	CodeDeploymentDecided = "deployment_already_decided"
	// CodeUnknownMember: a member named in the body is not a member of the account.
	CodeUnknownMember = "unknown_member"
	// CodeMemberRoleNotAllowed: the member named in the body has a role that may not do
	// this (only owners and admins decide deployments).
	CodeMemberRoleNotAllowed = "member_role_not_allowed"
)

// DeploymentStatus is where a deployment request stands. A request starts pending and is
// decided once: pending → approved or pending → rejected, never back.
type DeploymentStatus string

// Deployment statuses.
const (
	DeploymentPending  DeploymentStatus = "pending"
	DeploymentApproved DeploymentStatus = "approved"
	DeploymentRejected DeploymentStatus = "rejected"
)

// Valid reports whether s is a known status.
func (s DeploymentStatus) Valid() bool {
	return s == DeploymentPending || s == DeploymentApproved || s == DeploymentRejected
}

// CanDecideDeployments reports whether the role may approve or reject deployment
// requests. Every role may request one.
func (r Role) CanDecideDeployments() bool { return r == RoleOwner || r == RoleAdmin }

// Deployment is a member's request to deploy an app of the account and, once decided,
// the decision. Requests are never deleted: they are the record of who asked, who
// decided and why.
type Deployment struct {
	ID          string           `json:"id"`
	AccountID   string           `json:"account"`
	AppID       string           `json:"app" doc:"Id of the app to deploy."`
	RequestedBy string           `json:"requested_by" doc:"Id of the member who asked."`
	Note        string           `json:"note,omitempty"`
	Status      DeploymentStatus `json:"status" enum:"pending,approved,rejected"`
	// DecidedBy is the id of the owner or admin who decided; empty while pending.
	DecidedBy   string     `json:"decided_by,omitempty" doc:"Id of the member who approved or rejected; absent while pending."`
	Reason      string     `json:"reason,omitempty" doc:"Why it was approved or rejected."`
	RequestedAt time.Time  `json:"requested_at"`
	DecidedAt   *time.Time `json:"decided_at,omitempty"`
}

// RequestDeploymentInput asks for an app to be deployed. Any member of the account may
// ask, developers included.
type RequestDeploymentInput struct {
	App         string `json:"app" maxLength:"255" doc:"Id or external id of the app to deploy."`
	RequestedBy string `json:"requested_by" maxLength:"255" doc:"Id or external id of the member asking; any role may ask."`
	Note        string `json:"note,omitempty" maxLength:"1000" doc:"What is being deployed, for the approver."`
}

// Validate reports every invalid field at once.
func (in *RequestDeploymentInput) Validate() error {
	in.App = strings.TrimSpace(in.App)
	in.RequestedBy = strings.TrimSpace(in.RequestedBy)
	in.Note = strings.TrimSpace(in.Note)
	var errs fieldErrors
	validateRef(&errs, "app", in.App)
	validateRef(&errs, "requested_by", in.RequestedBy)
	validateText(&errs, "note", in.Note, DeploymentNoteMaxBytes)
	return errs.err()
}

// ApproveDeploymentInput approves a pending deployment request. The approver is an owner
// or admin of the account, and the wallet must allow it (CanDeploy).
type ApproveDeploymentInput struct {
	DecidedBy string `json:"decided_by" maxLength:"255" doc:"Id or external id of the owner or admin approving."`
	Reason    string `json:"reason,omitempty" maxLength:"1000" doc:"Why, if worth keeping."`
}

// Validate reports every invalid field at once.
func (in *ApproveDeploymentInput) Validate() error {
	in.DecidedBy = strings.TrimSpace(in.DecidedBy)
	in.Reason = strings.TrimSpace(in.Reason)
	var errs fieldErrors
	validateRef(&errs, "decided_by", in.DecidedBy)
	validateText(&errs, "reason", in.Reason, DeploymentReasonMaxBytes)
	return errs.err()
}

// RejectDeploymentInput rejects a pending deployment request. A rejection always says
// why: the developer who asked reads it.
type RejectDeploymentInput struct {
	DecidedBy string `json:"decided_by" maxLength:"255" doc:"Id or external id of the owner or admin rejecting."`
	Reason    string `json:"reason" maxLength:"1000" doc:"Why; required."`
}

// Validate reports every invalid field at once.
func (in *RejectDeploymentInput) Validate() error {
	in.DecidedBy = strings.TrimSpace(in.DecidedBy)
	in.Reason = strings.TrimSpace(in.Reason)
	var errs fieldErrors
	validateRef(&errs, "decided_by", in.DecidedBy)
	if in.Reason == "" {
		errs.add("reason", "is required: say why the deployment is rejected")
	} else {
		validateText(&errs, "reason", in.Reason, DeploymentReasonMaxBytes)
	}
	return errs.err()
}

// DeploymentFilter narrows a list of deployment requests; empty fields do not filter.
type DeploymentFilter struct {
	Status DeploymentStatus
	App    string // id or external id of an app of the account
}

// Validate reports every invalid field at once.
func (f *DeploymentFilter) Validate() error {
	f.App = strings.TrimSpace(f.App)
	var errs fieldErrors
	if f.Status != "" && !f.Status.Valid() {
		errs.add("status", "must be pending, approved or rejected, not %q", f.Status)
	}
	if f.App != "" {
		validateRef(&errs, "app", f.App)
	}
	return errs.err()
}

// CanDeploy says whether a wallet lets an app of its account be deployed at now (seed 000,
// Deployment Flow): nil while free credits remain or paid credits are available, else an
// error with code credits_exhausted.
//
// Promotional credits count like free ones: they are credits the operator added, and the
// seed refuses approval only "until funds or credits are added". A grant counts only with
// credits left that have not expired at now, so a wallet read a moment ago still answers
// right for the instant asked about. An overdrawn wallet allows nothing: credits added to
// it pay back its grace buffer first, so none are available. A nil wallet holds nothing.
//
// CanDeploy is pure, so that approvals in the store and the real-time deploy_app check
// apply the same rule.
func CanDeploy(w *Wallet, now time.Time) error {
	if w != nil && w.OverdrawnUcr <= 0 {
		for _, g := range w.Grants {
			if g.RemainingUcr <= 0 || (g.ExpiresAt != nil && !g.ExpiresAt.After(now)) {
				continue
			}
			switch g.Kind {
			case GrantFree, GrantPromotional, GrantPaid:
				return nil
			}
		}
	}
	return Errorf(KindConflict, CodeCreditsExhausted,
		"free credits are exhausted and no paid credits are available: add credits before approving a deployment")
}

// validateRef checks a reference to a resource of the account: its Billow id or its
// external id, required.
func validateRef(errs *fieldErrors, field, v string) {
	switch {
	case v == "":
		errs.add(field, "is required")
	case len(v) > ExternalIDMaxBytes:
		errs.add(field, "must be at most %d bytes", ExternalIDMaxBytes)
	case !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		errs.add(field, "must be an id or external id: printable text without spaces")
	}
}

// validateText checks optional free text: at most maxBytes of printable UTF-8.
func validateText(errs *fieldErrors, field, v string, maxBytes int) {
	if len(v) > maxBytes || !utf8.ValidString(v) || hasControl(v) {
		errs.add(field, "must be at most %d bytes of printable text", maxBytes)
	}
}
