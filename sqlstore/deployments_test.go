package sqlstore_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// deploymentTeam is an account with an app and one member of each role.
type deploymentTeam struct {
	account                          *billow.Account
	app                              *billow.App
	owner, admin, billing, developer *billow.Member
}

func newDeploymentTeam(t *testing.T, db *sqlstore.DB, external string) deploymentTeam {
	t.Helper()
	tm := deploymentTeam{account: mustAccount(t, db, external)}
	var err error
	if tm.app, err = db.CreateApp(ctx, tm.account.ID, billow.CreateAppInput{ExternalID: "support-bot", Name: "Support Bot"}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		to   **billow.Member
		role billow.Role
	}{{&tm.owner, billow.RoleOwner}, {&tm.admin, billow.RoleAdmin}, {&tm.billing, billow.RoleBilling}, {&tm.developer, billow.RoleDeveloper}} {
		*m.to, err = db.CreateMember(ctx, tm.account.ID, billow.CreateMemberInput{ExternalID: string(m.role) + "-1",
			Email: string(m.role) + "@" + external + ".example", Role: m.role})
		if err != nil {
			t.Fatal(err)
		}
	}
	return tm
}

func requestDeployment(t *testing.T, env *storetest.Env, tm deploymentTeam, app, by string) *billow.Deployment {
	t.Helper()
	env.Clock.Advance(time.Millisecond) // ids, and so lists, are ordered by the millisecond
	d, err := env.DB.RequestDeployment(ctx, tm.account.ID, billow.RequestDeploymentInput{App: app, RequestedBy: by, Note: "new prompt"})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func deploymentIDs(t *testing.T, db *sqlstore.DB, accountID string, f billow.DeploymentFilter, page billow.PageInput) ([]string, bool) {
	t.Helper()
	p, err := db.ListDeployments(ctx, accountID, f, page)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, d := range p.Data {
		ids = append(ids, d.ID)
	}
	return ids, p.HasMore
}

func TestDeployments(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		db := env.DB
		tm, other := newDeploymentTeam(t, db, "acme"), newDeploymentTeam(t, db, "globex")
		grant(t, env, billow.CreateGrantInput{Account: tm.account.ID, Kind: billow.GrantPaid, AmountUcr: 10 * credit, ID: "pack"})
		chat, err := db.CreateApp(ctx, tm.account.ID, billow.CreateAppInput{ExternalID: "chat-bot", Name: "Chat Bot"})
		if err != nil {
			t.Fatal(err)
		}

		// A developer asks, by external ids; the request keeps Billow ids.
		first := requestDeployment(t, env, tm, "support-bot", "developer-1")
		if !billow.IsID(first.ID, billow.PrefixDeployment) || first.AccountID != tm.account.ID || first.AppID != tm.app.ID ||
			first.RequestedBy != tm.developer.ID || first.Note != "new prompt" || first.Status != billow.DeploymentPending ||
			first.DecidedBy != "" || first.DecidedAt != nil || !first.RequestedAt.Equal(env.Clock.Now().Truncate(time.Microsecond)) {
			t.Fatalf("request = %+v", first)
		}
		if got, err := db.Deployment(ctx, tm.account.ID, first.ID); err != nil || cmp.Diff(first, got) != "" {
			t.Fatalf("stored request differs (-created +stored): %s, %v", cmp.Diff(first, got), err)
		}
		_, err = db.Deployment(ctx, other.account.ID, first.ID)
		wantCode(t, err, billow.CodeNotFound)

		// Refused requests write nothing.
		for _, tc := range []struct {
			name  string
			in    billow.RequestDeploymentInput
			code  string
			field string
		}{
			{"unknown app", billow.RequestDeploymentInput{App: "nope", RequestedBy: "developer-1"}, billow.CodeUnknownApp, "app"},
			{"another account's app", billow.RequestDeploymentInput{App: other.app.ID, RequestedBy: "developer-1"}, billow.CodeUnknownApp, "app"},
			{"unknown member", billow.RequestDeploymentInput{App: "support-bot", RequestedBy: "nobody"}, billow.CodeUnknownMember, "requested_by"},
			{"another account's member", billow.RequestDeploymentInput{App: "support-bot", RequestedBy: other.developer.ID}, billow.CodeUnknownMember, "requested_by"},
			{"no app", billow.RequestDeploymentInput{RequestedBy: "developer-1"}, billow.CodeValidationFailed, "app"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := db.RequestDeployment(ctx, tm.account.ID, tc.in)
				wantCode(t, err, tc.code)
				var e *billow.Error
				if !errorAs(err, &e) || len(e.Fields) == 0 || e.Fields[0].Field != tc.field {
					t.Fatalf("error %v does not name field %q", err, tc.field)
				}
			})
		}
		if ids, _ := deploymentIDs(t, db, tm.account.ID, billow.DeploymentFilter{}, billow.PageInput{}); len(ids) != 1 {
			t.Fatalf("refused requests wrote: %v", ids)
		}

		// Only an owner or admin of the account decides; refusals leave the request pending.
		for _, tc := range []struct {
			name, account, id, by, code string
		}{
			{"developer", tm.account.ID, first.ID, "developer-1", billow.CodeMemberRoleNotAllowed},
			{"billing member", tm.account.ID, first.ID, tm.billing.ID, billow.CodeMemberRoleNotAllowed},
			{"another account's admin", tm.account.ID, first.ID, other.admin.ID, billow.CodeUnknownMember},
			{"unknown deciding member", tm.account.ID, first.ID, "nobody", billow.CodeUnknownMember},
			{"unknown request", tm.account.ID, billow.PrefixDeployment + "01kfzzzzzzzzzzzzzzzzzzzzzz", "admin-1", billow.CodeNotFound},
			{"request of another account", other.account.ID, first.ID, other.admin.ID, billow.CodeNotFound},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := db.ApproveDeployment(ctx, tc.account, tc.id, billow.ApproveDeploymentInput{DecidedBy: tc.by})
				wantCode(t, err, tc.code)
				_, err = db.RejectDeployment(ctx, tc.account, tc.id, billow.RejectDeploymentInput{DecidedBy: tc.by, Reason: "no"})
				wantCode(t, err, tc.code)
			})
		}
		if got, _ := db.Deployment(ctx, tm.account.ID, first.ID); got.Status != billow.DeploymentPending {
			t.Fatalf("refused decisions changed the request: %+v", got)
		}

		env.Clock.Advance(time.Minute)
		approved, err := db.ApproveDeployment(ctx, tm.account.ID, first.ID, billow.ApproveDeploymentInput{DecidedBy: "admin-1", Reason: " reviewed "})
		if err != nil {
			t.Fatal(err)
		}
		now := env.Clock.Now().Truncate(time.Microsecond)
		if approved.Status != billow.DeploymentApproved || approved.DecidedBy != tm.admin.ID || approved.Reason != "reviewed" ||
			approved.DecidedAt == nil || !approved.DecidedAt.Equal(now) || approved.RequestedBy != tm.developer.ID {
			t.Fatalf("approved = %+v", approved)
		}
		if stored, err := db.Deployment(ctx, tm.account.ID, first.ID); err != nil || cmp.Diff(approved, stored) != "" {
			t.Fatalf("stored decision differs (-answered +stored): %s, %v", cmp.Diff(approved, stored), err)
		}

		// A request is decided once.
		_, err = db.ApproveDeployment(ctx, tm.account.ID, first.ID, billow.ApproveDeploymentInput{DecidedBy: "owner-1"})
		wantCode(t, err, billow.CodeDeploymentDecided)
		_, err = db.RejectDeployment(ctx, tm.account.ID, first.ID, billow.RejectDeploymentInput{DecidedBy: "owner-1", Reason: "changed my mind"})
		wantCode(t, err, billow.CodeDeploymentDecided)
		if got, _ := db.Deployment(ctx, tm.account.ID, first.ID); got.DecidedBy != tm.admin.ID || got.Status != billow.DeploymentApproved {
			t.Fatalf("a second decision changed the request: %+v", got)
		}

		// Any member may ask, an owner included; a rejection needs a reason.
		second := requestDeployment(t, env, tm, chat.ID, tm.owner.ID)
		_, err = db.RejectDeployment(ctx, tm.account.ID, second.ID, billow.RejectDeploymentInput{DecidedBy: "owner-1"})
		wantCode(t, err, billow.CodeValidationFailed)
		rejected, err := db.RejectDeployment(ctx, tm.account.ID, second.ID, billow.RejectDeploymentInput{DecidedBy: "owner-1", Reason: "wait for the audit"})
		if err != nil || rejected.Status != billow.DeploymentRejected || rejected.Reason != "wait for the audit" || rejected.DecidedBy != tm.owner.ID {
			t.Fatalf("rejected = %+v, %v", rejected, err)
		}
		third := requestDeployment(t, env, tm, "support-bot", tm.billing.ID)

		// Lists: newest first, filtered by status and app, in pages.
		for _, tc := range []struct {
			name string
			f    billow.DeploymentFilter
			want []string
		}{
			{"all", billow.DeploymentFilter{}, []string{third.ID, second.ID, first.ID}},
			{"pending", billow.DeploymentFilter{Status: billow.DeploymentPending}, []string{third.ID}},
			{"approved", billow.DeploymentFilter{Status: billow.DeploymentApproved}, []string{first.ID}},
			{"rejected", billow.DeploymentFilter{Status: billow.DeploymentRejected}, []string{second.ID}},
			{"one app by external id", billow.DeploymentFilter{App: "support-bot"}, []string{third.ID, first.ID}},
			{"one app by id", billow.DeploymentFilter{App: chat.ID}, []string{second.ID}},
			{"app and status", billow.DeploymentFilter{App: "support-bot", Status: billow.DeploymentApproved}, []string{first.ID}},
			{"nothing matches", billow.DeploymentFilter{App: "chat-bot", Status: billow.DeploymentPending}, []string{}},
		} {
			if got, _ := deploymentIDs(t, db, tm.account.ID, tc.f, billow.PageInput{}); !slices.Equal(got, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			}
		}
		var pages []string
		for after := ""; ; {
			ids, more := deploymentIDs(t, db, tm.account.ID, billow.DeploymentFilter{}, billow.PageInput{Limit: 2, StartingAfter: after})
			pages = append(pages, ids...)
			if !more {
				break
			}
			after = ids[len(ids)-1]
		}
		if !slices.Equal(pages, []string{third.ID, second.ID, first.ID}) {
			t.Fatalf("pages = %v", pages)
		}
		if ids, _ := deploymentIDs(t, db, other.account.ID, billow.DeploymentFilter{}, billow.PageInput{}); len(ids) != 0 {
			t.Fatalf("another account lists %v", ids)
		}
		_, err = db.ListDeployments(ctx, tm.account.ID, billow.DeploymentFilter{App: other.app.ID}, billow.PageInput{})
		wantCode(t, err, billow.CodeUnknownApp)
		_, err = db.ListDeployments(ctx, tm.account.ID, billow.DeploymentFilter{Status: "deployed"}, billow.PageInput{})
		wantCode(t, err, billow.CodeValidationFailed)

		// The record outlives the member: who asked stays named after they leave.
		if _, err := db.DeleteMember(ctx, tm.account.ID, tm.developer.ID); err != nil {
			t.Fatal(err)
		}
		if got, err := db.Deployment(ctx, tm.account.ID, first.ID); err != nil || got.RequestedBy != tm.developer.ID {
			t.Fatalf("after the member left: %+v, %v", got, err)
		}
	})
}

// TestDeploymentApprovalFollowsCredits walks seed 000's Deployment Flow: approval is
// refused while free credits are exhausted and no paid credits are available, and allowed
// while free credits remain or paid credits are available. Rejection never looks at credits.
func TestDeploymentApprovalFollowsCredits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		db := env.DB
		tm := newDeploymentTeam(t, db, "acme")
		approve := func(d *billow.Deployment) error {
			t.Helper()
			_, err := db.ApproveDeployment(ctx, tm.account.ID, d.ID, billow.ApproveDeploymentInput{DecidedBy: "admin-1"})
			return err
		}
		spend := func(id string, amountUcr int64) {
			t.Helper()
			if _, err := db.Spend(ctx, billow.SpendInput{Account: tm.account.ID, AmountUcr: amountUcr, ID: id, Cause: billow.CauseUsage}); err != nil {
				t.Fatal(err)
			}
		}

		// An empty wallet allows nothing, and the refusal leaves the request pending.
		d := requestDeployment(t, env, tm, "support-bot", "developer-1")
		wantCode(t, approve(d), billow.CodeCreditsExhausted)
		if got, _ := db.Deployment(ctx, tm.account.ID, d.ID); got.Status != billow.DeploymentPending || got.DecidedBy != "" {
			t.Fatalf("a refused approval changed the request: %+v", got)
		}

		// Free credits remain: 5 granted, 4 spent.
		grant(t, env, billow.CreateGrantInput{Account: tm.account.ID, Kind: billow.GrantFree, AmountUcr: 5 * credit, ID: "free-jan"})
		spend("usage-1", 4*credit)
		if err := approve(d); err != nil {
			t.Fatalf("approval with 1 free credit left: %v", err)
		}

		// Free credits exhausted, nothing paid: refused; a rejection still goes through.
		spend("usage-2", credit)
		d = requestDeployment(t, env, tm, "support-bot", "developer-1")
		wantCode(t, approve(d), billow.CodeCreditsExhausted)
		dropped := requestDeployment(t, env, tm, "support-bot", "developer-1")
		if _, err := db.RejectDeployment(ctx, tm.account.ID, dropped.ID, billow.RejectDeploymentInput{DecidedBy: "admin-1", Reason: "no credits"}); err != nil {
			t.Fatalf("rejection with no credits: %v", err)
		}

		// Promotional credits count while they last.
		expires := env.Clock.Now().Add(time.Hour)
		grant(t, env, billow.CreateGrantInput{Account: tm.account.ID, Kind: billow.GrantPromotional, AmountUcr: 2 * credit, ID: "promo", ExpiresAt: &expires})
		if err := approve(d); err != nil {
			t.Fatalf("approval with promotional credits: %v", err)
		}
		env.Clock.Advance(2 * time.Hour)
		d = requestDeployment(t, env, tm, "support-bot", "developer-1")
		wantCode(t, approve(d), billow.CodeCreditsExhausted)

		// Paid credits available: allowed.
		grant(t, env, billow.CreateGrantInput{Account: tm.account.ID, Kind: billow.GrantPaid, AmountUcr: credit, ID: "pack"})
		if err := approve(d); err != nil {
			t.Fatalf("approval with paid credits: %v", err)
		}
		if ids, _ := deploymentIDs(t, db, tm.account.ID, billow.DeploymentFilter{Status: billow.DeploymentApproved}, billow.PageInput{}); len(ids) != 3 {
			t.Fatalf("approved = %v, want 3", ids)
		}
	})
}

// TestConcurrentDeploymentDecisions decides one request from many goroutines at once:
// exactly one decision wins, and it is the one stored.
func TestConcurrentDeploymentDecisions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		db := env.DB
		tm := newDeploymentTeam(t, db, "acme")
		grant(t, env, billow.CreateGrantInput{Account: tm.account.ID, Kind: billow.GrantPaid, AmountUcr: credit, ID: "pack"})
		for _, mixed := range []bool{false, true} {
			d := requestDeployment(t, env, tm, "support-bot", "developer-1")
			var (
				mu      sync.Mutex // protects the following fields
				winners []*billow.Deployment
				refused int
			)
			var wg sync.WaitGroup
			for i := range 20 {
				wg.Go(func() {
					by := []*billow.Member{tm.owner, tm.admin}[i%2]
					var got *billow.Deployment
					var err error
					if mixed && i%4 >= 2 {
						got, err = db.RejectDeployment(ctx, tm.account.ID, d.ID, billow.RejectDeploymentInput{DecidedBy: by.ID, Reason: "race"})
					} else {
						got, err = db.ApproveDeployment(ctx, tm.account.ID, d.ID, billow.ApproveDeploymentInput{DecidedBy: by.ID})
					}
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						winners = append(winners, got)
					case billow.ErrorCode(err) == billow.CodeDeploymentDecided:
						refused++
					default:
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if len(winners) != 1 || refused != 19 {
				t.Fatalf("mixed=%v: %d decisions won and %d were refused, want 1 and 19", mixed, len(winners), refused)
			}
			if stored, err := db.Deployment(ctx, tm.account.ID, d.ID); err != nil || cmp.Diff(winners[0], stored) != "" {
				t.Fatalf("mixed=%v: the stored decision differs from the winner's (-winner +stored): %s, %v", mixed, cmp.Diff(winners[0], stored), err)
			}
		}
	})
}
