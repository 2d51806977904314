package portal

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/billowhq/billow"
)

// Deployments: seed 000's Deployment Flow (docs/deployments.md). Any member asks for an
// app of the account to be deployed (POST /portal/deployments); an owner or admin
// approves or rejects the request (POST /portal/deployments/{deployment}/approve and
// /reject), and approval follows the credits (billow.CanDeploy). The store enforces both
// rules; the handlers refuse a member who may not decide with 403 before asking it, as
// requirePayer does for payments, and the page offers only what the role may do.

// deploymentsStore is what the Deployments page reads and writes.
type deploymentsStore interface {
	RequestDeployment(ctx context.Context, accountID string, in billow.RequestDeploymentInput) (*billow.Deployment, error)
	ListDeployments(ctx context.Context, accountID string, f billow.DeploymentFilter, page billow.PageInput) (billow.Page[*billow.Deployment], error)
	ApproveDeployment(ctx context.Context, accountID, id string, in billow.ApproveDeploymentInput) (*billow.Deployment, error)
	RejectDeployment(ctx context.Context, accountID, id string, in billow.RejectDeploymentInput) (*billow.Deployment, error)
}

// deploymentsPageSize is how many requests one page lists.
const deploymentsPageSize = 20

// deploymentsPage lists the account's deployment requests, newest first, with the
// request form and, for owners and admins, the decisions.
type deploymentsPage struct {
	CanDecide bool
	Apps      []menuItem
	Note      string
	FormError string
	Filters   []menuItem
	Status    string
	Rows      []deploymentRow
	Older     string // the next page's URL, or ""
	// NoCredits says that approvals are refused until credits are added (seed 000).
	NoCredits bool
	NoteMax   int
	ReasonMax int
}

type deploymentRow struct {
	ID, App, RequestedBy, Note   string
	RequestedAt                  string
	Status, Tone                 string
	DecidedBy, DecidedAt, Reason string
	Pending, Highlight           bool
	ApproveURL, RejectURL, Error string
}

func (h *Handler) deployments(w http.ResponseWriter, r *http.Request, v *visit) {
	l := layout{}
	switch r.URL.Query().Get("result") {
	case "requested":
		l.Notice = "Your request is recorded. An owner or admin of your account approves or rejects it."
	case "approved":
		l.Notice = "The deployment is approved: the platform deploys the app."
	case "rejected":
		l.Notice = "The deployment is rejected; the reason is kept with the request."
	case "decided":
		l.Error = "This request was already approved or rejected: a request is decided once."
	case "credits_exhausted":
		l.Error = "The deployment cannot be approved: the free credits are used up and no paid credits are available. Add credits, then approve it."
	}
	h.deploymentsPage(w, r, v, http.StatusOK, l, "", "", "")
}

// deploymentsPage renders the page with status; formError, app and note are a refused
// request's, shown again; rowError is a refused decision's, on its row.
func (h *Handler) deploymentsPage(w http.ResponseWriter, r *http.Request, v *visit, status int, l layout, formError, note, rowError string) {
	ctx := r.Context()
	a := v.account
	q := r.URL.Query()
	loc, err := h.zone(a.Timezone)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	p := &deploymentsPage{CanDecide: v.session.Role.CanDecideDeployments(), Note: note, FormError: formError,
		Status: q.Get("status"), NoteMax: billow.DeploymentNoteMaxBytes, ReasonMax: billow.DeploymentReasonMaxBytes}
	if !billow.DeploymentStatus(p.Status).Valid() {
		p.Status = ""
	}
	l.Title, l.Section, l.Content = "Deployments", "deployments", p
	apps, err := h.apps(ctx, a.ID)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	appNames := map[string]string{}
	for _, app := range apps {
		name := app.Name
		if app.ParentApp != "" {
			name += " (linked app)"
		}
		appNames[app.ID] = name
		p.Apps = append(p.Apps, menuItem{Value: app.ID, Label: name, Selected: app.ID == r.PostFormValue("app")})
	}
	for _, s := range []struct{ value, label string }{{"", "All"}, {"pending", "Pending"}, {"approved", "Approved"}, {"rejected", "Rejected"}} {
		u := "/portal/deployments"
		if s.value != "" {
			u += "?status=" + s.value
		}
		p.Filters = append(p.Filters, menuItem{Value: s.value, Label: s.label, URL: u, Selected: s.value == p.Status})
	}
	page, err := h.store.ListDeployments(ctx, a.ID, billow.DeploymentFilter{Status: billow.DeploymentStatus(p.Status)},
		billow.PageInput{Limit: deploymentsPageSize, StartingAfter: q.Get("after")})
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	names := map[string]string{} // member id → name, read once each
	memberName := func(id string) string {
		if n, ok := names[id]; ok {
			return n
		}
		n := "a former member"
		if m, err := h.store.Member(ctx, a.ID, id); err == nil {
			n = m.Name
			if n == "" {
				n = m.Email
			}
		} else if billow.ErrorKindOf(err) != billow.KindNotFound {
			h.logger.ErrorContext(ctx, "deployment member", "account", a.ID, "member", id, "error", err)
		}
		names[id] = n
		return n
	}
	highlight := q.Get("deployment")
	for _, d := range page.Data {
		row := deploymentRow{ID: d.ID, App: appNames[d.AppID], RequestedBy: memberName(d.RequestedBy), Note: d.Note,
			RequestedAt: deploymentTime(d.RequestedAt, loc), Pending: d.Status == billow.DeploymentPending, Highlight: d.ID == highlight,
			ApproveURL: "/portal/deployments/" + url.PathEscape(d.ID) + "/approve", RejectURL: "/portal/deployments/" + url.PathEscape(d.ID) + "/reject",
			Reason: d.Reason}
		if row.App == "" {
			row.App = d.AppID
		}
		row.Status, row.Tone = deploymentStatus(d.Status)
		if d.DecidedBy != "" {
			row.DecidedBy = memberName(d.DecidedBy)
		}
		if d.DecidedAt != nil {
			row.DecidedAt = deploymentTime(*d.DecidedAt, loc)
		}
		if row.Highlight {
			row.Error = rowError
		}
		p.Rows = append(p.Rows, row)
	}
	if page.HasMore && len(page.Data) > 0 {
		older := url.Values{"after": {page.Data[len(page.Data)-1].ID}}
		if p.Status != "" {
			older.Set("status", p.Status)
		}
		p.Older = "/portal/deployments?" + older.Encode()
	}
	if p.CanDecide {
		wallet, err := h.store.Wallet(ctx, a.ID)
		if err != nil {
			h.fail(w, r, v, err)
			return
		}
		p.NoCredits = billow.CanDeploy(wallet, h.clock.Now()) != nil
	}
	h.render(w, r, status, "deployments.html", v, l)
}

// deploymentStatus names a request's status for the page, with its badge's tone.
func deploymentStatus(s billow.DeploymentStatus) (string, string) {
	switch s {
	case billow.DeploymentApproved:
		return "Approved", "ok"
	case billow.DeploymentRejected:
		return "Rejected", "bad"
	}
	return "Pending", "warn"
}

// deploymentTime writes an instant as "5 Mar 2026, 14:05" in loc.
func deploymentTime(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("2 Jan 2006, 15:04")
}

// deploymentRequest records the visit's member's request to deploy an app
// (POST /portal/deployments). Every role may ask, developers most often.
func (h *Handler) deploymentRequest(w http.ResponseWriter, r *http.Request, v *visit) {
	note := strings.TrimSpace(r.PostForm.Get("note"))
	d, err := h.store.RequestDeployment(r.Context(), v.account.ID, billow.RequestDeploymentInput{App: r.PostForm.Get("app"),
		RequestedBy: v.member.ID, Note: note})
	if err != nil {
		var msg string
		switch billow.ErrorCode(err) {
		case billow.CodeUnknownApp:
			msg = "Choose one of your account's apps."
		case billow.CodeValidationFailed:
			msg = "Choose an app, and keep the note under 1,000 characters of plain text."
			if strings.TrimSpace(r.PostForm.Get("app")) == "" {
				msg = "Choose the app to deploy."
			}
		default:
			h.fail(w, r, v, err)
			return
		}
		h.deploymentsPage(w, r, v, http.StatusUnprocessableEntity, layout{}, msg, note, "")
		return
	}
	h.logger.InfoContext(r.Context(), "portal deployment request", "session", v.session.ID, "account", v.account.ID, "deployment", d.ID)
	redirect(w, r, "/portal/deployments?result=requested&deployment="+url.QueryEscape(d.ID)+"#"+d.ID)
}

// requireDecider lets through only members who may approve or reject deployments:
// owners and admins (billow.Role.CanDecideDeployments). The store checks the role again.
func (h *Handler) requireDecider(w http.ResponseWriter, r *http.Request, v *visit) bool {
	if v.session.Role.CanDecideDeployments() {
		return true
	}
	h.forbidden(w, r, v, "Your role ("+string(v.session.Role)+") can request deployments but not approve or reject them. "+
		"Ask an owner or an admin of your account.")
	return false
}

// deploymentApprove approves a pending request (POST …/{deployment}/approve), for owners
// and admins, with an optional reason; approval is refused while the account has no
// credits (seed 000).
func (h *Handler) deploymentApprove(w http.ResponseWriter, r *http.Request, v *visit) {
	if !h.requireDecider(w, r, v) {
		return
	}
	id := r.PathValue("deployment")
	_, err := h.store.ApproveDeployment(r.Context(), v.account.ID, id, billow.ApproveDeploymentInput{DecidedBy: v.member.ID,
		Reason: r.PostForm.Get("reason")})
	h.deploymentDecided(w, r, v, id, "approved", err)
}

// deploymentReject rejects a pending request (POST …/{deployment}/reject), for owners and
// admins, with the reason the requester reads.
func (h *Handler) deploymentReject(w http.ResponseWriter, r *http.Request, v *visit) {
	if !h.requireDecider(w, r, v) {
		return
	}
	id := r.PathValue("deployment")
	_, err := h.store.RejectDeployment(r.Context(), v.account.ID, id, billow.RejectDeploymentInput{DecidedBy: v.member.ID,
		Reason: r.PostForm.Get("reason")})
	h.deploymentDecided(w, r, v, id, "rejected", err)
}

// deploymentDecided answers a decision: back to the list, which says how it went.
func (h *Handler) deploymentDecided(w http.ResponseWriter, r *http.Request, v *visit, id, result string, err error) {
	switch errorCodeOf(err) {
	case "":
	case billow.CodeDeploymentDecided:
		result = "decided"
	case billow.CodeCreditsExhausted:
		result = "credits_exhausted"
	case billow.CodeMemberRoleNotAllowed: // the role changed since the session was read
		h.forbidden(w, r, v, "Only an owner or an admin of your account can approve or reject deployments.")
		return
	case billow.CodeValidationFailed:
		// The reason: required for a rejection, at most DeploymentReasonMaxBytes.
		r.URL.RawQuery = url.Values{"deployment": {id}}.Encode()
		h.deploymentsPage(w, r, v, http.StatusUnprocessableEntity, layout{}, "", "",
			"Give a reason of at most 1,000 characters: the requester reads it. A rejection needs one.")
		return
	default:
		h.fail(w, r, v, err)
		return
	}
	h.logger.InfoContext(r.Context(), "portal deployment decision", "session", v.session.ID, "account", v.account.ID,
		"deployment", id, "result", result)
	redirect(w, r, "/portal/deployments?result="+result+"&deployment="+url.QueryEscape(id)+"#"+id)
}
