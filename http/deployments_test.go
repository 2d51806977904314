package http_test

import (
	"strings"
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// TestDeploymentsAPI walks seed 000's Deployment Flow through a real listener with the
// account's own key: a developer asks, an admin is refused while credits are exhausted and
// approves once paid credits arrive, an owner rejects with a reason, and the list keeps it
// all. Every bad input gets a problem with a stable code and writes nothing.
func TestDeploymentsAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		op := newServer(t, env)
		op.must(201, "POST", "/v1/accounts", map[string]any{"external_id": "acme", "name": "Acme"})
		op.must(201, "POST", "/v1/accounts", map[string]any{"external_id": "globex", "name": "Globex"})
		key := op.must(201, "POST", "/v1/api_keys", map[string]any{"name": "acme", "account": "acme"})["key"].(string)
		c := op.as(key)
		bot := c.must(201, "POST", "/v1/accounts/acme/apps", map[string]any{"external_id": "support-bot", "name": "Support Bot"})
		c.must(201, "POST", "/v1/accounts/acme/apps", map[string]any{"external_id": "chat-bot", "name": "Chat Bot"})
		op.must(201, "POST", "/v1/accounts/globex/apps", map[string]any{"external_id": "globex-bot", "name": "Globex Bot"})
		members := map[string]string{}
		for _, role := range []string{"owner", "admin", "billing", "developer"} {
			m := c.must(201, "POST", "/v1/accounts/acme/members", map[string]any{"external_id": role, "email": role + "@acme.example", "role": role})
			members[role] = m["id"].(string)
		}
		outsider := op.must(201, "POST", "/v1/accounts/globex/members", map[string]any{"email": "admin@globex.example", "role": "admin"})["id"].(string)

		asked := c.must(201, "POST", "/v1/accounts/acme/deployments", map[string]any{"app": "support-bot", "requested_by": "developer", "note": "new greeting"})
		id := asked["id"].(string)
		if !strings.HasPrefix(id, billow.PrefixDeployment) || asked["status"] != "pending" || asked["app"] != bot["id"] ||
			asked["requested_by"] != members["developer"] || asked["note"] != "new greeting" || asked["decided_by"] != nil || asked["decided_at"] != nil {
			t.Fatalf("request = %v", asked)
		}
		path := "/v1/accounts/acme/deployments/" + id

		// Bad input: a problem with a stable code and the offending field.
		for _, tc := range []struct {
			name, method, path string
			body               any
			status             int
			code, location     string
		}{
			{"unknown app", "POST", "/v1/accounts/acme/deployments", map[string]any{"app": "nope", "requested_by": "developer"}, 422, billow.CodeUnknownApp, "body.app"},
			{"another account's app", "POST", "/v1/accounts/acme/deployments", map[string]any{"app": "globex-bot", "requested_by": "developer"}, 422, billow.CodeUnknownApp, "body.app"},
			{"unknown member", "POST", "/v1/accounts/acme/deployments", map[string]any{"app": "support-bot", "requested_by": "ghost"}, 422, billow.CodeUnknownMember, "body.requested_by"},
			{"no member", "POST", "/v1/accounts/acme/deployments", map[string]any{"app": "support-bot"}, 422, billow.CodeValidationFailed, "body.requested_by"},
			{"empty app", "POST", "/v1/accounts/acme/deployments", map[string]any{"app": "", "requested_by": "developer"}, 422, billow.CodeValidationFailed, "body.app"},
			{"note too long", "POST", "/v1/accounts/acme/deployments", map[string]any{"app": "support-bot", "requested_by": "developer",
				"note": strings.Repeat("n", billow.DeploymentNoteMaxBytes+1)}, 422, billow.CodeValidationFailed, "body.note"},
			{"unknown account", "POST", "/v1/accounts/nobody/deployments", map[string]any{"app": "support-bot", "requested_by": "developer"}, 404, billow.CodeNotFound, ""},
			{"developer approving", "POST", path + "/approve", map[string]any{"decided_by": "developer"}, 422, billow.CodeMemberRoleNotAllowed, "body.decided_by"},
			{"billing member rejecting", "POST", path + "/reject", map[string]any{"decided_by": "billing", "reason": "no"}, 422, billow.CodeMemberRoleNotAllowed, "body.decided_by"},
			{"another account's admin", "POST", path + "/approve", map[string]any{"decided_by": outsider}, 422, billow.CodeUnknownMember, "body.decided_by"},
			{"rejection without a reason", "POST", path + "/reject", map[string]any{"decided_by": "admin"}, 422, billow.CodeValidationFailed, "body.reason"},
			{"rejection with an empty reason", "POST", path + "/reject", map[string]any{"decided_by": "admin", "reason": " "}, 422, billow.CodeValidationFailed, "body.reason"},
			{"unknown request", "POST", "/v1/accounts/acme/deployments/dep_01kfzzzzzzzzzzzzzzzzzzzzzz/approve", map[string]any{"decided_by": "admin"}, 404, billow.CodeNotFound, ""},
			{"no credits", "POST", path + "/approve", map[string]any{"decided_by": "admin"}, 409, billow.CodeCreditsExhausted, ""},
			{"unknown status filter", "GET", "/v1/accounts/acme/deployments?status=deployed", nil, 422, billow.CodeValidationFailed, "query.status"},
			{"unknown app filter", "GET", "/v1/accounts/acme/deployments?app=nope", nil, 422, billow.CodeUnknownApp, "query.app"},
			{"unknown request read", "GET", "/v1/accounts/acme/deployments/dep_01kfzzzzzzzzzzzzzzzzzzzzzz", nil, 404, billow.CodeNotFound, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := c.do(tc.method, tc.path, tc.body)
				if a.status != tc.status || a.problemCode(t) != tc.code {
					t.Fatalf("%d %s, want %d %s", a.status, a.body, tc.status, tc.code)
				}
				if tc.location != "" && !strings.Contains(string(a.body), `"location":"`+tc.location+`"`) {
					t.Fatalf("the problem does not name %s: %s", tc.location, a.body)
				}
			})
		}
		if d := c.must(200, "GET", path, nil); d["status"] != "pending" || d["decided_by"] != nil {
			t.Fatalf("refusals changed the request: %v", d)
		}
		if ds := c.must(200, "GET", "/v1/accounts/acme/deployments", nil); len(ds["data"].([]any)) != 1 {
			t.Fatalf("refused requests were stored: %v", ds)
		}

		// Paid credits arrive (only the operator grants); now the admin approves, once.
		op.must(201, "POST", "/v1/accounts/acme/grants", map[string]any{"kind": "paid", "amount_ucr": 1_000_000, "id": "pack-1"})
		approved := c.must(200, "POST", path+"/approve", map[string]any{"decided_by": "admin", "reason": "credits topped up"})
		if approved["status"] != "approved" || approved["decided_by"] != members["admin"] || approved["reason"] != "credits topped up" || approved["decided_at"] == nil {
			t.Fatalf("approved = %v", approved)
		}
		for _, decide := range []string{"/approve", "/reject"} {
			if a := c.do("POST", path+decide, map[string]any{"decided_by": "owner", "reason": "again"}); a.status != 409 || a.problemCode(t) != billow.CodeDeploymentDecided {
				t.Fatalf("deciding twice (%s): %d %s", decide, a.status, a.body)
			}
		}

		env.Clock.Advance(time.Millisecond) // ids, and so lists, are ordered by the millisecond
		rejectedID := c.must(201, "POST", "/v1/accounts/acme/deployments", map[string]any{"app": "chat-bot", "requested_by": "developer"})["id"].(string)
		rejected := c.must(200, "POST", "/v1/accounts/acme/deployments/"+rejectedID+"/reject", map[string]any{"decided_by": "owner", "reason": "not before the audit"})
		if rejected["status"] != "rejected" || rejected["reason"] != "not before the audit" || rejected["decided_by"] != members["owner"] {
			t.Fatalf("rejected = %v", rejected)
		}
		env.Clock.Advance(time.Millisecond)
		pendingID := c.must(201, "POST", "/v1/accounts/acme/deployments", map[string]any{"app": "support-bot", "requested_by": "admin"})["id"].(string)

		list := func(query string) []string {
			t.Helper()
			page := c.must(200, "GET", "/v1/accounts/acme/deployments"+query, nil)
			ids := []string{}
			for _, d := range page["data"].([]any) {
				ids = append(ids, d.(map[string]any)["id"].(string))
			}
			return ids
		}
		for query, want := range map[string][]string{
			"":                                      {pendingID, rejectedID, id},
			"?status=pending":                       {pendingID},
			"?status=approved":                      {id},
			"?status=rejected":                      {rejectedID},
			"?app=support-bot":                      {pendingID, id},
			"?app=support-bot&status=approved":      {id},
			"?limit=2":                              {pendingID, rejectedID},
			"?limit=2&starting_after=" + rejectedID: {id},
		} {
			if got := list(query); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("list%s = %v, want %v", query, got, want)
			}
		}
		if page := c.must(200, "GET", "/v1/accounts/acme/deployments?limit=2", nil); page["has_more"] != true {
			t.Errorf("first page of two: has_more = %v", page["has_more"])
		}
		if got := list("?status=rejected"); len(got) == 1 {
			d := c.must(200, "GET", "/v1/accounts/acme/deployments/"+got[0], nil)
			if d["reason"] != "not before the audit" {
				t.Errorf("the rejection's reason was not kept: %v", d)
			}
		}
	})
}
