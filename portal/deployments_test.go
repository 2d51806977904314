package portal_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/sqlstore/storetest"
)

var appOption = regexp.MustCompile(`<option value="(app_[^"]+)">Support Bot</option>`)

// deployments returns the account's deployment requests, newest first.
func (s *site) deployments(account string) []*billow.Deployment {
	s.t.Helper()
	a, err := s.env.DB.Account(context.Background(), account)
	if err != nil {
		s.t.Fatal(err)
	}
	p, err := s.env.DB.ListDeployments(context.Background(), a.ID, billow.DeploymentFilter{}, billow.PageInput{Limit: 100})
	if err != nil {
		s.t.Fatal(err)
	}
	return p.Data
}

// Seed 000's Deployment Flow in the portal: a developer requests a deployment and sees it
// pending, with no way to decide it (no button, and 403 on a POST); a billing member
// cannot decide either; an owner approves one request and rejects another, which needs a
// reason; a decided request is decided once.
func TestPortalDeployments(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := newSite(t, env, siteOptions{})
		dev := s.browser()
		dev.enter(s.link("northwind", billow.RoleDeveloper))
		list := dev.get("/portal/deployments")
		m := appOption.FindStringSubmatch(list.body)
		if list.status != 200 || m == nil || !strings.Contains(list.body, "No deployment requests yet") {
			t.Fatalf("deployments page = %d: %.500s", list.status, list.body)
		}
		app := m[1]

		// Without an app: explained, nothing recorded.
		p := dev.post("/portal/deployments", url.Values{"csrf": {dev.csrf()}, "app": {""}, "note": {"v2"}})
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "Choose the app to deploy") || !strings.Contains(p.body, ">v2</textarea>") {
			t.Fatalf("a request without an app = %d: %.300s", p.status, p.body)
		}
		for _, note := range []string{"New greeting", "Holiday menu"} {
			p = dev.post("/portal/deployments", url.Values{"csrf": {dev.csrf()}, "app": {app}, "note": {note}})
			if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/portal/deployments?result=requested") {
				t.Fatalf("request = %d %q: %.300s", p.status, p.header.Get("Location"), p.body)
			}
		}
		deps := s.deployments("northwind")
		if len(deps) != 2 || deps[0].Status != billow.DeploymentPending || deps[1].RequestedBy != s.member("northwind", billow.RoleDeveloper) {
			t.Fatalf("deployments %+v", deps)
		}
		mine := dev.get("/portal/deployments?result=requested")
		for _, want := range []string{"Your request is recorded", "Support Bot", "Holiday menu", "Requested by Dana Developer", "Pending",
			"an owner or an admin decides"} {
			if !strings.Contains(mine.body, want) {
				t.Errorf("the developer's list lacks %q", want)
			}
		}
		if strings.Contains(mine.body, "/approve") || strings.Contains(mine.body, "/reject") {
			t.Error("a developer is offered to decide")
		}
		// Both were requested at the same instant of the test clock: find them by note.
		holiday, greeting := deps[0], deps[1]
		if holiday.Note != "Holiday menu" {
			holiday, greeting = greeting, holiday
		}

		// Neither a developer nor a billing member decides.
		billingMember := s.browser()
		billingMember.enter(s.link("northwind", billow.RoleBilling))
		for _, b := range []*visitor{dev, billingMember} {
			for _, action := range []string{"approve", "reject"} {
				p := b.post("/portal/deployments/"+holiday.ID+"/"+action, url.Values{"csrf": {b.csrf()}, "reason": {"ok"}})
				if p.status != http.StatusForbidden || !strings.Contains(p.body, "can request deployments but not approve or reject them") {
					t.Errorf("%s by a non-decider = %d: %.300s", action, p.status, p.body)
				}
			}
		}
		for _, d := range s.deployments("northwind") {
			if d.Status != billow.DeploymentPending {
				t.Fatal("a refused decision decided")
			}
		}

		owner := s.browser()
		owner.enter(s.link("northwind", billow.RoleOwner))
		page := owner.get("/portal/deployments")
		if !strings.Contains(page.body, `action="/portal/deployments/`+holiday.ID+`/approve"`) || !strings.Contains(page.body, "you can approve deployments") {
			t.Fatalf("the owner's list: %.500s", page.body)
		}
		p = owner.post("/portal/deployments/"+holiday.ID+"/approve", url.Values{"csrf": {owner.csrf()}, "reason": {"Looks good"}})
		if p.status != http.StatusSeeOther || !strings.Contains(p.header.Get("Location"), "result=approved") {
			t.Fatalf("approve = %d %q: %.300s", p.status, p.header.Get("Location"), p.body)
		}
		// A rejection needs a reason.
		p = owner.post("/portal/deployments/"+greeting.ID+"/reject", url.Values{"csrf": {owner.csrf()}, "reason": {" "}})
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "A rejection needs one") {
			t.Fatalf("reject without a reason = %d: %.300s", p.status, p.body)
		}
		p = owner.post("/portal/deployments/"+greeting.ID+"/reject", url.Values{"csrf": {owner.csrf()}, "reason": {"Wrong tone"}})
		if p.status != http.StatusSeeOther || !strings.Contains(p.header.Get("Location"), "result=rejected") {
			t.Fatalf("reject = %d %q", p.status, p.header.Get("Location"))
		}
		// Decided once.
		p = owner.post("/portal/deployments/"+holiday.ID+"/reject", url.Values{"csrf": {owner.csrf()}, "reason": {"changed my mind"}})
		if !strings.Contains(p.header.Get("Location"), "result=decided") {
			t.Fatalf("deciding twice → %q", p.header.Get("Location"))
		}
		decided := map[string]*billow.Deployment{}
		for _, d := range s.deployments("northwind") {
			decided[d.Note] = d
		}
		if h, g := decided["Holiday menu"], decided["New greeting"]; h.Status != billow.DeploymentApproved || h.Reason != "Looks good" ||
			h.DecidedBy != s.member("northwind", billow.RoleOwner) || g.Status != billow.DeploymentRejected || g.Reason != "Wrong tone" {
			t.Fatalf("decisions %+v %+v", h, g)
		}
		done := dev.get("/portal/deployments")
		for _, want := range []string{"Approved</strong> by Nora Owner", "“Looks good”", "Rejected</strong> by Nora Owner", "“Wrong tone”"} {
			if !strings.Contains(done.body, want) {
				t.Errorf("the developer's list lacks %q", want)
			}
		}
		if p := dev.get("/portal/deployments?status=rejected"); strings.Contains(p.body, "Holiday menu") || !strings.Contains(p.body, "New greeting") {
			t.Errorf("the rejected filter: %s", p.body[strings.Index(p.body, "list-h"):])
		}
		// Another account's request is not found.
		other := s.browser()
		other.enter(s.link("acme-bots", billow.RoleOwner))
		if p := other.post("/portal/deployments/"+greeting.ID+"/approve", url.Values{"csrf": {other.csrf()}}); p.status != http.StatusNotFound {
			t.Fatalf("another account's request = %d", p.status)
		}
	})
}
