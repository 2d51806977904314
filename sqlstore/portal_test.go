package sqlstore_test

import (
	"sync"
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// A portal link opens once, within billow.PortalLinkTTL, into a session that ends when
// idle for billow.PortalSessionIdleTTL, billow.PortalSessionTTL after it began, when
// signed out, or when its member is removed; it follows the member's role; only hashes
// are stored.
func TestPortalSessions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		db, clock := env.DB, env.Clock
		team := newDeploymentTeam(t, db, "portal")
		other := newDeploymentTeam(t, db, "portal-other")

		if _, _, err := db.CreatePortalSession(ctx, team.account.ID, billow.CreatePortalSessionInput{Account: "portal",
			Member: other.owner.ID}); billow.ErrorCode(err) != billow.CodeUnknownMember {
			t.Fatalf("a member of another account: %v, want unknown_member", err)
		}
		for _, bad := range []string{"javascript:alert(1)", "/settings", "https://u:p@app.example", "ftp://app.example", "https://app.example/a b"} {
			_, _, err := db.CreatePortalSession(ctx, team.account.ID, billow.CreatePortalSessionInput{Account: "portal",
				Member: team.owner.ID, ReturnURL: bad})
			if billow.ErrorCode(err) != billow.CodeValidationFailed {
				t.Errorf("return_url %q: %v, want validation_failed", bad, err)
			}
		}

		link, token, err := db.CreatePortalSession(ctx, team.account.ID, billow.CreatePortalSessionInput{Account: "portal",
			Member: "billing-1", ReturnURL: "https://app.example/settings"})
		if err != nil {
			t.Fatal(err)
		}
		if link.MemberID != team.billing.ID || link.Role != billow.RoleBilling || len(token) != 43 {
			t.Fatalf("link %+v, token %q", link, token)
		}
		// Opened twice at once: one session between them.
		var wg sync.WaitGroup
		results := make(chan error, 4)
		secrets := make(chan string, 4)
		for range 4 {
			wg.Go(func() {
				_, secret, err := db.EnterPortal(ctx, token)
				results <- err
				if err == nil {
					secrets <- secret
				}
			})
		}
		wg.Wait()
		close(results)
		close(secrets)
		var ok, refused int
		for err := range results {
			switch {
			case err == nil:
				ok++
			case billow.ErrorCode(err) == billow.CodePortalLinkInvalid:
				refused++
			default:
				t.Fatal(err)
			}
		}
		if ok != 1 || refused != 3 {
			t.Fatalf("four concurrent openings: %d sessions, %d refused", ok, refused)
		}
		secret := <-secrets
		s, err := db.PortalSession(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		if s.AccountID != team.account.ID || s.Role != billow.RoleBilling || s.ReturnURL != "https://app.example/settings" || len(s.CSRFToken) != 43 {
			t.Fatalf("session %+v", s)
		}
		if _, err := db.PortalSession(ctx, token); billow.ErrorCode(err) != billow.CodeUnauthorized {
			t.Fatalf("the link token as a cookie: %v", err)
		}
		// Neither the token nor the secret is stored in clear: a statement that deletes the
		// rows holding them deletes nothing.
		if err := sqlstore.ExecRaw(db, `DELETE FROM portal_sessions WHERE link_hash = $1 OR session_hash = $2`, token, secret); err != nil {
			t.Fatal(err)
		}
		if _, err := db.PortalSession(ctx, secret); err != nil {
			t.Fatalf("the session is gone: %v", err)
		}

		// Used every 29 minutes, it lives until its absolute end.
		for clock.Now().Before(s.EnteredAt.Add(billow.PortalSessionTTL - 29*time.Minute)) {
			clock.Advance(29 * time.Minute)
			if _, err := db.PortalSession(ctx, secret); err != nil {
				t.Fatalf("at %s: %v", clock.Now().Sub(*s.EnteredAt), err)
			}
		}
		clock.Advance(s.EnteredAt.Add(billow.PortalSessionTTL).Sub(clock.Now()))
		if _, err := db.PortalSession(ctx, secret); billow.ErrorCode(err) != billow.CodeUnauthorized {
			t.Fatalf("after %s: %v", billow.PortalSessionTTL, err)
		}

		// Idle: alive at 29 minutes, ended at 30.
		enter := func(member string) string {
			t.Helper()
			_, token, err := db.CreatePortalSession(ctx, team.account.ID, billow.CreatePortalSessionInput{Account: "portal", Member: member})
			if err != nil {
				t.Fatal(err)
			}
			_, secret, err := db.EnterPortal(ctx, token)
			if err != nil {
				t.Fatal(err)
			}
			return secret
		}
		idle := enter(team.owner.ID)
		clock.Advance(billow.PortalSessionIdleTTL - time.Minute)
		if _, err := db.PortalSession(ctx, idle); err != nil {
			t.Fatal(err)
		}
		clock.Advance(billow.PortalSessionIdleTTL)
		if _, err := db.PortalSession(ctx, idle); billow.ErrorCode(err) != billow.CodeUnauthorized {
			t.Fatalf("idle for %s: %v", billow.PortalSessionIdleTTL, err)
		}

		// A link not opened in time is refused.
		_, late, err := db.CreatePortalSession(ctx, team.account.ID, billow.CreatePortalSessionInput{Account: "portal", Member: team.owner.ID})
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(billow.PortalLinkTTL)
		if _, _, err := db.EnterPortal(ctx, late); billow.ErrorCode(err) != billow.CodePortalLinkInvalid {
			t.Fatalf("a link opened after %s: %v", billow.PortalLinkTTL, err)
		}

		// The role follows the member; removing the member ends the session.
		dev := enter("developer-1")
		role := billow.RoleBilling
		if _, err := db.UpdateMember(ctx, team.account.ID, team.developer.ID, billow.UpdateMemberInput{Role: &role}); err != nil {
			t.Fatal(err)
		}
		if s, err := db.PortalSession(ctx, dev); err != nil || s.Role != billow.RoleBilling {
			t.Fatalf("after a role change: %+v, %v", s, err)
		}
		if _, err := db.DeleteMember(ctx, team.account.ID, team.developer.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.PortalSession(ctx, dev); billow.ErrorCode(err) != billow.CodeUnauthorized {
			t.Fatalf("after the member was removed: %v", err)
		}

		// Signed out, a session is over at once.
		out := enter(team.owner.ID)
		s, err = db.PortalSession(ctx, out)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.EndPortalSession(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.PortalSession(ctx, out); billow.ErrorCode(err) != billow.CodeUnauthorized {
			t.Fatalf("after sign-out: %v", err)
		}

		// Purge removes what can no longer be used, and only that.
		live := enter(team.owner.ID)
		n, err := db.PurgePortalSessions(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		// The first session (past its absolute end), the link opened too late, the
		// session signed out; not the idle one nor the removed member's, which end later.
		if n != 3 {
			t.Fatalf("purged %d sessions, want 3", n)
		}
		if _, err := db.PortalSession(ctx, live); err != nil {
			t.Fatalf("a live session was purged: %v", err)
		}
	})
}
