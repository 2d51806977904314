package sqlstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

func enterpriseAccount(t *testing.T, db *sqlstore.DB, externalID string) *billow.Account {
	t.Helper()
	a, err := db.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: externalID, Name: "Account " + externalID,
		Type: billow.AccountEnterprise, Catalog: "ai-for-service", Plan: "enterprise"})
	if err != nil {
		t.Fatalf("create account %s: %v", externalID, err)
	}
	return a
}

// A contract is stored with its account, read back whole, applied by AccountCatalog to a
// copy of the cached catalog, and removed.
func TestContractStored(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		db := env.DB
		a := enterpriseAccount(t, db, "bigco")
		other := enterpriseAccount(t, db, "otherco")
		_, err := db.Contract(ctx, "bigco")
		wantCode(t, err, billow.CodeNotFound)

		env.Clock.Advance(time.Minute)
		in := billow.ContractTerms{Reference: " ENT-1 ", Fees: map[string]string{"month": "3000"},
			Limits:                 map[string]billow.ContractLimit{"ingested_bytes": {Limit: 5_000_000_000, AllowancePercent: "1"}},
			InvoicingOutsideBillow: true}
		c, err := db.SetContract(ctx, a.ID, in)
		if err != nil {
			t.Fatal(err)
		}
		// The plan defaults to the account's; the reference is trimmed.
		if c.Plan != "enterprise" || c.Reference != "ENT-1" || c.Account != a.ID || !c.UpdatedAt.Equal(env.Clock.Now().Truncate(time.Microsecond)) {
			t.Fatalf("contract %+v", c)
		}
		got, err := db.Contract(ctx, "bigco")
		if err != nil || got.Fees["month"] != "3000" || !got.InvoicingOutsideBillow || got.Limits["ingested_bytes"].Limit != 5_000_000_000 {
			t.Fatalf("contract read back %+v, %v", got, err)
		}
		// The account moved, so that checks in every process reload it.
		acct, err := db.Account(ctx, a.ID)
		if err != nil || !acct.UpdatedAt.After(a.UpdatedAt) || acct.Contract == nil {
			t.Fatalf("account %+v, %v", acct, err)
		}
		changed, _, err := db.AccountsChangedSince(ctx, env.Clock.Now().Add(-time.Second))
		if err != nil || len(changed) != 1 || changed[0] != a.ID {
			t.Fatalf("accounts changed since the contract: %v, %v", changed, err)
		}

		// AccountCatalog gives the contracted plan; the cached version and the other
		// account's catalog stay the catalog's.
		cached, _, err := db.Catalog(ctx, "ai-for-service", a.CatalogVersion)
		if err != nil {
			t.Fatal(err)
		}
		hash := cached.Hash()
		cat, err := db.AccountCatalog(ctx, acct)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := cat.Plan("enterprise")
		if fee, _ := p.Fee("month"); fee.AmountMinorUnits != 300_000 || fee.Amount != "3000.00" {
			t.Fatalf("contracted fee %+v", fee)
		}
		if p.Limits[0].HardLimit != 5_050_000_000 {
			t.Fatalf("contracted limits %+v", p.Limits)
		}
		again, _, _ := db.Catalog(ctx, "ai-for-service", a.CatalogVersion)
		if again != cached || again.Hash() != hash {
			t.Fatal("the cached catalog changed")
		}
		otherCat, err := db.AccountCatalog(ctx, other)
		if err != nil || otherCat != cached {
			t.Fatalf("the other account's catalog is not the cached version (%v)", err)
		}

		// A new contract replaces the old one whole.
		if _, err := db.SetContract(ctx, a.ID, billow.ContractTerms{Plan: "enterprise"}); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.Contract(ctx, a.ID); got.Fees != nil || got.InvoicingOutsideBillow || got.Reference != "" {
			t.Fatalf("replaced contract %+v", got)
		}
		removed, err := db.DeleteContract(ctx, a.ID)
		if err != nil || removed.Plan != "enterprise" {
			t.Fatalf("delete: %+v, %v", removed, err)
		}
		_, err = db.Contract(ctx, a.ID)
		wantCode(t, err, billow.CodeNotFound)
		_, err = db.DeleteContract(ctx, a.ID)
		wantCode(t, err, billow.CodeNotFound)
		if acct, _ := db.Account(ctx, a.ID); acct.Contract != nil {
			t.Fatal("the contract is still read with the account")
		}
	})
}

// A contract that may not be, or does not fit, is refused whole: nothing is written.
func TestContractRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		db := env.DB
		standard, err := db.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: "smallco", Name: "Small", Catalog: "ai-for-service", Plan: "essential"})
		if err != nil {
			t.Fatal(err)
		}
		planless, err := db.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: "newco", Name: "New", Type: billow.AccountEnterprise, Catalog: "ai-for-service"})
		if err != nil {
			t.Fatal(err)
		}
		big := enterpriseAccount(t, db, "bigco")
		env.Clock.Advance(time.Minute)
		for _, tc := range []struct {
			name    string
			account *billow.Account
			in      billow.ContractTerms
			code    string
		}{
			{"a standard account", standard, billow.ContractTerms{Plan: "enterprise", Fees: map[string]string{"month": "3000.00"}}, billow.CodeContractNotAllowed},
			{"a plan without custom pricing", big, billow.ContractTerms{Plan: "essential"}, billow.CodeContractNotAllowed},
			{"an unknown plan", big, billow.ContractTerms{Plan: "platinum"}, billow.CodeUnknownPlan},
			{"no plan to default to", planless, billow.ContractTerms{}, billow.CodeValidationFailed},
			{"an invalid field", big, billow.ContractTerms{Fees: map[string]string{"month": "-1"}}, billow.CodeValidationFailed},
			{"a rate the plan does not have", big, billow.ContractTerms{Fees: map[string]string{"month": "3000.00"},
				Rates: []billow.ContractRate{{Meter: "ingested_bytes", Model: "per_unit", UnitPrice: "0.000001"}}}, billow.CodeValidationFailed},
		} {
			c, err := db.SetContract(ctx, tc.account.ID, tc.in)
			if c != nil || billow.ErrorCode(err) != tc.code {
				t.Fatalf("%s: %+v, %v; want %s", tc.name, c, err, tc.code)
			}
			a, err := db.Account(ctx, tc.account.ID)
			if err != nil || a.Contract != nil || !a.UpdatedAt.Equal(tc.account.UpdatedAt) {
				t.Fatalf("%s: the account changed: %+v, %v", tc.name, a, err)
			}
		}
		_, err = db.SetContract(ctx, "acct_nope", billow.ContractTerms{Plan: "enterprise"})
		wantCode(t, err, billow.CodeNotFound)
	})
}

// A catalog version the account's contract does not fit is refused to the account: its
// prices would be dropped, or its catalog could no longer be read.
func TestCatalogMigrationKeepsTheContract(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		db := env.DB
		a := enterpriseAccount(t, db, "bigco")
		if _, err := db.SetContract(ctx, a.ID, billow.ContractTerms{Fees: map[string]string{"month": "3000.00"},
			Rates: []billow.ContractRate{{Meter: "voice_sessions", Model: "per_unit", UnitPrice: "0.05"}}}); err != nil {
			t.Fatal(err)
		}
		data, err := catalog.Example("ai-for-service")
		if err != nil {
			t.Fatal(err)
		}
		// Version 2 no longer prices voice sessions on enterprise; version 3 ends custom pricing.
		v2 := strings.Replace(string(data), `      - meter: voice_sessions
        model: per_unit
        unit_price: "0.02"                            # operator's choice: not in the seed
        billed_in: currency
`, "", 1)
		v3 := strings.Replace(string(data), "custom_pricing: true", "custom_pricing: false", 1)
		if v2 == string(data) || v3 == string(data) {
			t.Fatal("the example catalog changed; update the test's edits")
		}
		for i, src := range []string{v2, v3} {
			v, _, err := db.SyncCatalog(ctx, "ai-for-service", []byte(src))
			if err != nil || v.Version != int64(i+2) {
				t.Fatalf("sync version %d: %+v, %v", i+2, v, err)
			}
			_, err = db.MigrateAccountCatalog(ctx, a.ID, billow.MigrateCatalogInput{ToVersion: v.Version})
			wantCode(t, err, billow.CodeContractNotAllowed)
			if got, _ := db.Account(ctx, a.ID); got.CatalogVersion != 1 {
				t.Fatalf("the account moved to version %d", got.CatalogVersion)
			}
		}
		// The refusal names what of the contract does not fit.
		_, err = db.MigrateAccountCatalog(ctx, a.ID, billow.MigrateCatalogInput{ToVersion: 2})
		if e, ok := err.(*billow.Error); !ok || len(e.Fields) != 1 || e.Fields[0].Field != "contract.rates[0]" {
			t.Fatalf("migration to version 2: %v", err)
		}
		// Without the contract the account moves.
		if _, err := db.DeleteContract(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		if got, err := db.MigrateAccountCatalog(ctx, a.ID, billow.MigrateCatalogInput{ToVersion: 3}); err != nil || got.CatalogVersion != 3 {
			t.Fatalf("migrate without contract: %+v, %v", got, err)
		}
	})
}
