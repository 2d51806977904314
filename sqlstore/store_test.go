package sqlstore_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

var ctx = context.Background()

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := billow.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func mustAccount(t *testing.T, db *sqlstore.DB, externalID string) *billow.Account {
	t.Helper()
	a, err := db.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: externalID, Name: "Account " + externalID,
		Catalog: "credits-platform", Plan: "pay_as_you_go"})
	if err != nil {
		t.Fatalf("create account %s: %v", externalID, err)
	}
	return a
}

func countAccounts(t *testing.T, db *sqlstore.DB) int {
	t.Helper()
	page, err := db.ListAccounts(ctx, sqlstore.AccountFilter{}, billow.PageInput{Limit: billow.PageLimitMax})
	if err != nil {
		t.Fatal(err)
	}
	return len(page.Data)
}

func TestAccounts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		db := env.DB
		a, err := db.CreateAccount(ctx, billow.CreateAccountInput{
			ExternalID: "  team-42 ", Name: "Team 42", Catalog: "credits-platform", Plan: "pay_as_you_go", Timezone: "Europe/Berlin",
			BillingContact: billow.BillingContact{Email: "Billing@Team42.example", Address: billow.Address{Country: "de"}},
			Metadata:       map[string]string{"crm": "hs-1"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(a.ID, "acct_") || a.ExternalID != "team-42" || a.Type != billow.AccountStandard ||
			a.Currency != "USD" || a.CatalogVersion != 1 || a.BillingContact.Email != "billing@team42.example" ||
			a.BillingContact.Address.Country != "DE" || !a.CreatedAt.Equal(storetest.Start.Truncate(time.Microsecond)) {
			t.Fatalf("created account = %+v", a)
		}
		for _, ref := range []string{a.ID, "team-42"} {
			got, err := db.Account(ctx, ref)
			if err != nil {
				t.Fatalf("get %s: %v", ref, err)
			}
			if !got.CreatedAt.Equal(a.CreatedAt) || !got.UpdatedAt.Equal(a.UpdatedAt) {
				t.Fatalf("stored times %v/%v differ from the created %v/%v", got.CreatedAt, got.UpdatedAt, a.CreatedAt, a.UpdatedAt)
			}
			if got.ID != a.ID || got.Timezone != "Europe/Berlin" || got.Metadata["crm"] != "hs-1" || got.Plan != "pay_as_you_go" {
				t.Fatalf("get %s = %+v", ref, got)
			}
		}
		_, err = db.Account(ctx, "nobody")
		wantCode(t, err, billow.CodeNotFound)

		// Refusals write nothing.
		before := countAccounts(t, db)
		for _, tc := range []struct {
			name  string
			in    billow.CreateAccountInput
			code  string
			field string
		}{
			{"duplicate external id", billow.CreateAccountInput{ExternalID: "team-42", Name: "Again", Catalog: "credits-platform"}, billow.CodeExternalIDTaken, "external_id"},
			{"unknown plan", billow.CreateAccountInput{ExternalID: "x1", Name: "X", Catalog: "credits-platform", Plan: "platinum"}, billow.CodeUnknownPlan, "plan"},
			{"unknown catalog", billow.CreateAccountInput{ExternalID: "x2", Name: "X", Catalog: "nope"}, billow.CodeUnknownCatalog, "catalog"},
			{"currency mismatch", billow.CreateAccountInput{ExternalID: "x3", Name: "X", Catalog: "credits-platform", Currency: "EUR"}, billow.CodeCurrencyMismatch, "currency"},
			{"enterprise plan on standard account", billow.CreateAccountInput{ExternalID: "x4", Name: "X", Catalog: "ai-for-service", Plan: "enterprise"}, billow.CodePlanNotForType, "plan"},
			{"bad timezone", billow.CreateAccountInput{ExternalID: "x5", Name: "X", Catalog: "credits-platform", Timezone: "Mars/Olympus"}, billow.CodeValidationFailed, "timezone"},
			{"bad currency", billow.CreateAccountInput{ExternalID: "x6", Name: "X", Catalog: "credits-platform", Currency: "usd"}, billow.CodeValidationFailed, "currency"},
			{"unknown type", billow.CreateAccountInput{ExternalID: "x7", Name: "X", Catalog: "credits-platform", Type: "vip"}, billow.CodeValidationFailed, "type"},
			{"external id shaped like an id", billow.CreateAccountInput{ExternalID: "acct_123", Name: "X", Catalog: "credits-platform"}, billow.CodeValidationFailed, "external_id"},
			{"bad email", billow.CreateAccountInput{ExternalID: "x8", Name: "X", Catalog: "credits-platform", BillingContact: billow.BillingContact{Email: "not-an-email"}}, billow.CodeValidationFailed, "billing_contact.email"},
			{"bad country", billow.CreateAccountInput{ExternalID: "x9", Name: "X", Catalog: "credits-platform", BillingContact: billow.BillingContact{Address: billow.Address{Country: "XX"}}}, billow.CodeValidationFailed, "billing_contact.address.country"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := db.CreateAccount(ctx, tc.in)
				wantCode(t, err, tc.code)
				var e *billow.Error
				if !errorAs(err, &e) || len(e.Fields) == 0 || e.Fields[0].Field != tc.field {
					t.Fatalf("error %v does not name field %q", err, tc.field)
				}
			})
		}
		if after := countAccounts(t, db); after != before {
			t.Fatalf("refused creates wrote %d accounts", after-before)
		}

		// An enterprise account may take the enterprise plan.
		ent, err := db.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: "big-co", Name: "Big Co", Type: billow.AccountEnterprise,
			Catalog: "ai-for-service", Plan: "enterprise"})
		if err != nil {
			t.Fatal(err)
		}
		if ent.Type != billow.AccountEnterprise {
			t.Fatalf("type = %s", ent.Type)
		}

		name, tz := "Team Forty-Two", "Asia/Tokyo"
		up, err := db.UpdateAccount(ctx, a.ID, billow.UpdateAccountInput{Name: &name, Timezone: &tz})
		if err != nil {
			t.Fatal(err)
		}
		if up.Name != name || up.Timezone != tz || up.Currency != "USD" || up.BillingContact.Email != "billing@team42.example" {
			t.Fatalf("updated = %+v", up)
		}
		bad := "Nowhere/Else"
		_, err = db.UpdateAccount(ctx, a.ID, billow.UpdateAccountInput{Timezone: &bad})
		wantCode(t, err, billow.CodeValidationFailed)
	})
}

func errorAs(err error, target **billow.Error) bool {
	e, ok := err.(*billow.Error)
	if ok {
		*target = e
	}
	return ok
}

func TestAccountListPagesAndFilters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		db := env.DB
		var ids []string
		for i := range 7 {
			env.Clock.Advance(time.Millisecond)
			ids = append(ids, mustAccount(t, db, fmt.Sprintf("cust-%d", i)).ID)
		}
		var seen []string
		after := ""
		for pages := 0; ; pages++ {
			page, err := db.ListAccounts(ctx, sqlstore.AccountFilter{}, billow.PageInput{Limit: 3, StartingAfter: after})
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range page.Data {
				seen = append(seen, a.ID)
			}
			if !page.HasMore {
				break
			}
			after = page.Data[len(page.Data)-1].ID
			if pages > 5 {
				t.Fatal("pagination does not end")
			}
		}
		if len(seen) != 7 || seen[0] != ids[6] || seen[6] != ids[0] {
			t.Fatalf("pages = %v, want newest first %v", seen, ids)
		}
		page, err := db.ListAccounts(ctx, sqlstore.AccountFilter{Query: "UST-3"}, billow.PageInput{})
		if err != nil || len(page.Data) != 1 || page.Data[0].ExternalID != "cust-3" {
			t.Fatalf("search = %+v, %v", page.Data, err)
		}
		// LIKE wildcards in the query are literal.
		page, err = db.ListAccounts(ctx, sqlstore.AccountFilter{Query: "cust_%"}, billow.PageInput{})
		if err != nil || len(page.Data) != 0 {
			t.Fatalf("wildcard search = %d accounts, %v", len(page.Data), err)
		}
		page, err = db.ListAccounts(ctx, sqlstore.AccountFilter{Type: billow.AccountEnterprise}, billow.PageInput{})
		if err != nil || len(page.Data) != 0 {
			t.Fatalf("type filter = %d accounts, %v", len(page.Data), err)
		}
	})
}

func TestApps(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		db := env.DB
		a, b := mustAccount(t, db, "a"), mustAccount(t, db, "b")
		parent, err := db.CreateApp(ctx, a.ID, billow.CreateAppInput{ExternalID: "universal", Name: "Universal Bot"})
		if err != nil {
			t.Fatal(err)
		}
		linked, err := db.CreateApp(ctx, a.ID, billow.CreateAppInput{ExternalID: "billing", Name: "Billing Bot", ParentApp: "universal"})
		if err != nil {
			t.Fatal(err)
		}
		if linked.ParentApp != parent.ID || parent.ParentApp != "" {
			t.Fatalf("linked.parent = %q, want %q", linked.ParentApp, parent.ID)
		}
		got, err := db.App(ctx, a.ID, linked.ID)
		if err != nil || got.ExternalID != "billing" || got.ParentApp != parent.ID {
			t.Fatalf("get by id = %+v, %v", got, err)
		}
		// Another account's app is not found, by id or by external id.
		_, err = db.App(ctx, b.ID, parent.ID)
		wantCode(t, err, billow.CodeNotFound)
		_, err = db.App(ctx, b.ID, "universal")
		wantCode(t, err, billow.CodeNotFound)

		_, err = db.CreateApp(ctx, b.ID, billow.CreateAppInput{ExternalID: "x", Name: "X", ParentApp: parent.ID})
		wantCode(t, err, billow.CodeParentAppNotFound)
		_, err = db.CreateApp(ctx, a.ID, billow.CreateAppInput{ExternalID: "deeper", Name: "Deeper", ParentApp: "billing"})
		wantCode(t, err, billow.CodeParentAppIsLinked)
		_, err = db.CreateApp(ctx, a.ID, billow.CreateAppInput{ExternalID: "universal", Name: "Again"})
		wantCode(t, err, billow.CodeExternalIDTaken)
		_, err = db.CreateApp(ctx, a.ID, billow.CreateAppInput{ExternalID: "", Name: ""})
		wantCode(t, err, billow.CodeValidationFailed)
		// External ids are per account.
		if _, err := db.CreateApp(ctx, b.ID, billow.CreateAppInput{ExternalID: "universal", Name: "B's own"}); err != nil {
			t.Fatal(err)
		}
		page, err := db.ListApps(ctx, a.ID, billow.PageInput{})
		if err != nil || len(page.Data) != 2 {
			t.Fatalf("apps of a = %d, %v", len(page.Data), err)
		}
		name := "Universal Assistant"
		up, err := db.UpdateApp(ctx, a.ID, "universal", billow.UpdateAppInput{Name: &name})
		if err != nil || up.Name != name {
			t.Fatalf("rename = %+v, %v", up, err)
		}
		_, err = db.UpdateApp(ctx, b.ID, linked.ID, billow.UpdateAppInput{Name: &name})
		wantCode(t, err, billow.CodeNotFound)
	})
}

func TestMembers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		db := env.DB
		a, b := mustAccount(t, db, "a"), mustAccount(t, db, "b")
		owner, err := db.CreateMember(ctx, a.ID, billow.CreateMemberInput{ExternalID: "u-1", Email: "Owner@A.example", Name: "Olga", Role: billow.RoleOwner})
		if err != nil {
			t.Fatal(err)
		}
		if owner.Email != "owner@a.example" {
			t.Fatalf("email = %q", owner.Email)
		}
		if _, err := db.CreateMember(ctx, a.ID, billow.CreateMemberInput{Email: "dev@a.example", Role: billow.RoleDeveloper}); err != nil {
			t.Fatal(err)
		}
		_, err = db.CreateMember(ctx, a.ID, billow.CreateMemberInput{Email: "OWNER@a.example", Role: billow.RoleBilling})
		wantCode(t, err, billow.CodeEmailTaken)
		_, err = db.CreateMember(ctx, a.ID, billow.CreateMemberInput{ExternalID: "u-1", Email: "other@a.example", Role: billow.RoleBilling})
		wantCode(t, err, billow.CodeExternalIDTaken)
		_, err = db.CreateMember(ctx, a.ID, billow.CreateMemberInput{Email: "x@a.example", Role: "superuser"})
		wantCode(t, err, billow.CodeValidationFailed)
		// The same person may be a member of two accounts.
		if _, err := db.CreateMember(ctx, b.ID, billow.CreateMemberInput{ExternalID: "u-1", Email: "owner@a.example", Role: billow.RoleAdmin}); err != nil {
			t.Fatal(err)
		}
		devs, err := db.ListMembers(ctx, a.ID, billow.RoleDeveloper, billow.PageInput{})
		if err != nil || len(devs.Data) != 1 || devs.Data[0].Email != "dev@a.example" {
			t.Fatalf("developers = %+v, %v", devs.Data, err)
		}
		role := billow.RoleBilling
		up, err := db.UpdateMember(ctx, a.ID, "u-1", billow.UpdateMemberInput{Role: &role})
		if err != nil || up.Role != billow.RoleBilling || up.ID != owner.ID {
			t.Fatalf("update = %+v, %v", up, err)
		}
		_, err = db.Member(ctx, b.ID, owner.ID)
		wantCode(t, err, billow.CodeNotFound)
		_, err = db.DeleteMember(ctx, b.ID, owner.ID)
		wantCode(t, err, billow.CodeNotFound)
		if _, err := db.DeleteMember(ctx, a.ID, owner.ID); err != nil {
			t.Fatal(err)
		}
		_, err = db.Member(ctx, a.ID, owner.ID)
		wantCode(t, err, billow.CodeNotFound)
	})
}

func TestAPIKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		db := env.DB
		a := mustAccount(t, db, "a")
		op, secret, err := db.CreateAPIKey(ctx, "ci", "")
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^sk_[0-9A-Za-z]{32}$`).MatchString(secret) || !strings.HasPrefix(secret, op.Prefix) {
			t.Fatalf("secret %q prefix %q", secret, op.Prefix)
		}
		p, err := db.PrincipalForSecret(ctx, secret)
		if err != nil || p.KeyID != op.ID || !p.IsOperator() {
			t.Fatalf("principal = %+v, %v", p, err)
		}
		_, accSecret, err := db.CreateAPIKey(ctx, "portal backend", a.ID)
		if err != nil {
			t.Fatal(err)
		}
		p, err = db.PrincipalForSecret(ctx, accSecret)
		if err != nil || p.AccountID != a.ID || p.IsOperator() || !strings.HasPrefix(accSecret, "ak_") {
			t.Fatalf("account principal = %+v, %v", p, err)
		}
		_, err = db.PrincipalForSecret(ctx, secret+"x")
		wantCode(t, err, billow.CodeUnauthorized)
		revoked, err := db.RevokeAPIKey(ctx, op.ID)
		if err != nil || revoked.RevokedAt == nil {
			t.Fatalf("revoke = %+v, %v", revoked, err)
		}
		_, err = db.PrincipalForSecret(ctx, secret)
		wantCode(t, err, billow.CodeAPIKeyRevoked)
		_, err = db.RevokeAPIKey(ctx, "key_nope")
		wantCode(t, err, billow.CodeNotFound)
		page, err := db.ListAPIKeys(ctx, billow.PageInput{})
		if err != nil || len(page.Data) != 2 {
			t.Fatalf("keys = %d, %v", len(page.Data), err)
		}
	})
}

func TestIdempotencyKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		db := env.DB
		const lock, keep = time.Minute, 24 * time.Hour
		c, err := db.ClaimIdempotencyKey(ctx, "key_1", "k", "h1", lock, keep)
		if err != nil || !c.Claimed {
			t.Fatalf("first claim = %+v, %v", c, err)
		}
		_, err = db.ClaimIdempotencyKey(ctx, "key_1", "k", "h1", lock, keep)
		wantCode(t, err, billow.CodeIdempotencyInUse)
		_, err = db.ClaimIdempotencyKey(ctx, "key_1", "k", "h2", lock, keep)
		wantCode(t, err, billow.CodeIdempotencyReused)
		// Keys are per principal.
		if c, err := db.ClaimIdempotencyKey(ctx, "key_2", "k", "h2", lock, keep); err != nil || !c.Claimed {
			t.Fatalf("other principal = %+v, %v", c, err)
		}
		resp := sqlstore.IdempotentResponse{Status: 201, ContentType: "application/json", Body: []byte(`{"id":"acct_1"}`)}
		if err := db.CompleteIdempotencyKey(ctx, "key_1", "k", resp); err != nil {
			t.Fatal(err)
		}
		c, err = db.ClaimIdempotencyKey(ctx, "key_1", "k", "h1", lock, keep)
		if err != nil || c.Claimed || c.Response == nil || c.Response.Status != 201 || string(c.Response.Body) != `{"id":"acct_1"}` {
			t.Fatalf("replay = %+v, %v", c, err)
		}
		// Kept 24 hours, then free again.
		env.Clock.Advance(keep - time.Second)
		if c, _ := db.ClaimIdempotencyKey(ctx, "key_1", "k", "h1", lock, keep); c.Claimed {
			t.Fatal("key freed before it expired")
		}
		env.Clock.Advance(time.Second)
		if c, err := db.ClaimIdempotencyKey(ctx, "key_1", "k", "h3", lock, keep); err != nil || !c.Claimed {
			t.Fatalf("claim after expiry = %+v, %v", c, err)
		}
		// An abandoned claim is taken over after the lock, for the same request only.
		env.Clock.Advance(lock)
		_, err = db.ClaimIdempotencyKey(ctx, "key_1", "k", "other", lock, keep)
		wantCode(t, err, billow.CodeIdempotencyReused)
		if c, err := db.ClaimIdempotencyKey(ctx, "key_1", "k", "h3", lock, keep); err != nil || !c.Claimed {
			t.Fatalf("takeover = %+v, %v", c, err)
		}
		// Release lets the same request run again at once.
		if err := db.ReleaseIdempotencyKey(ctx, "key_1", "k"); err != nil {
			t.Fatal(err)
		}
		if c, err := db.ClaimIdempotencyKey(ctx, "key_1", "k", "h4", lock, keep); err != nil || !c.Claimed {
			t.Fatalf("claim after release = %+v, %v", c, err)
		}
		env.Clock.Advance(keep)
		n, err := db.PurgeIdempotencyKeys(ctx, 100)
		if err != nil || n != 2 {
			t.Fatalf("purged %d, %v; want 2", n, err)
		}
	})
}

func TestCatalogVersions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		db := env.DB
		src, err := catalog.Example("credits-platform")
		if err != nil {
			t.Fatal(err)
		}
		v, created, err := db.SyncCatalog(ctx, "credits-platform", append([]byte("# a comment only\n"), src...))
		if err != nil || created || v.Version != 1 {
			t.Fatalf("comment-only change = v%d created=%v, %v", v.Version, created, err)
		}
		a := mustAccount(t, db, "signed-v1")
		changed := regexp.MustCompile(`(?m)^name:.*$`).ReplaceAll(src, []byte("name: Renamed platform"))
		v, created, err = db.SyncCatalog(ctx, "credits-platform", changed)
		if err != nil || !created || v.Version != 2 {
			t.Fatalf("changed catalog = v%d created=%v, %v", v.Version, created, err)
		}
		cur, info, err := db.Catalog(ctx, "credits-platform", 0)
		if err != nil || info.Version != 2 || cur.Name != "Renamed platform" {
			t.Fatalf("latest = v%d %q, %v", info.Version, cur.Name, err)
		}
		old, _, err := db.Catalog(ctx, "credits-platform", 1)
		if err != nil || old.Name == "Renamed platform" {
			t.Fatalf("v1 = %q, %v", old.Name, err)
		}
		// The account keeps the version it signed until it is migrated.
		got, _ := db.Account(ctx, a.ID)
		if got.CatalogVersion != 1 {
			t.Fatalf("account moved to v%d by itself", got.CatalogVersion)
		}
		_, err = db.MigrateAccountCatalog(ctx, a.ID, billow.MigrateCatalogInput{ToVersion: 9})
		wantCode(t, err, billow.CodeUnknownCatalog)
		_, err = db.MigrateAccountCatalog(ctx, a.ID, billow.MigrateCatalogInput{ToVersion: 2, Plan: "platinum"})
		wantCode(t, err, billow.CodeUnknownPlan)
		moved, err := db.MigrateAccountCatalog(ctx, a.ID, billow.MigrateCatalogInput{ToVersion: 2})
		if err != nil || moved.CatalogVersion != 2 || moved.Plan != "pay_as_you_go" {
			t.Fatalf("migrate = %+v, %v", moved, err)
		}
		versions, err := db.CatalogVersions(ctx, "credits-platform")
		if err != nil || len(versions) != 2 || versions[0].Version != 2 {
			t.Fatalf("versions = %+v, %v", versions, err)
		}
		all, err := db.CatalogVersions(ctx, "")
		if err != nil || len(all) != 2 {
			t.Fatalf("latest of each = %+v, %v", all, err)
		}
		_, _, err = db.SyncCatalog(ctx, "broken", []byte("billow_catalog: 1\nnope: true\n"))
		var verr *catalog.ValidationError
		if !errorAsValidation(err, &verr) {
			t.Fatalf("invalid catalog error = %v", err)
		}
		current, err := db.MigrationsCurrent(ctx)
		if err != nil || !current {
			t.Fatalf("migrations current = %v, %v", current, err)
		}
	})
}

// TestCatalogSyncRace starts several "processes" syncing the same changed catalog at once,
// as several billow serve processes sharing PostgreSQL do at a deploy: all succeed and
// agree on one new version.
func TestCatalogSyncRace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		src, err := catalog.Example("credits-platform")
		if err != nil {
			t.Fatal(err)
		}
		changed := regexp.MustCompile(`(?m)^name:.*$`).ReplaceAll(src, []byte("name: Deployed together"))
		const processes = 4
		dbs := []*sqlstore.DB{env.DB}
		for range processes - 1 {
			other, err := sqlstore.Open(ctx, sqlstore.Config{URL: env.URL, Clock: env.Clock})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { other.Close() })
			dbs = append(dbs, other)
		}
		versions := make([]int64, processes)
		errs := make([]error, processes)
		var wg sync.WaitGroup
		for i, db := range dbs {
			wg.Go(func() {
				v, _, err := db.SyncCatalog(ctx, "credits-platform", changed)
				versions[i], errs[i] = v.Version, err
			})
		}
		wg.Wait()
		for i := range processes {
			if errs[i] != nil || versions[i] != 2 {
				t.Fatalf("process %d: version %d, %v; want 2 for all", i, versions[i], errs[i])
			}
		}
		all, err := env.DB.CatalogVersions(ctx, "credits-platform")
		if err != nil || len(all) != 2 {
			t.Fatalf("versions = %+v, %v", all, err)
		}
	})
}
