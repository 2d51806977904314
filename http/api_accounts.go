package http

import (
	"context"
	"net/http"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/sqlstore"
)

func (s *Server) registerAccounts() {
	type accountOut struct{ Body *billow.Account }

	type createIn struct{ Body billow.CreateAccountInput }
	register(s, operation("createAccount", http.MethodPost, "/v1/accounts", "Create an account", "Accounts",
		"Creates a customer account on a catalog (the default one unless `catalog` is given), optionally on a plan. "+
			"The currency defaults to the catalog's and must match it."),
		func(ctx context.Context, in *createIn) (*accountOut, error) {
			if err := requireOperator(ctx); err != nil {
				return nil, err
			}
			if in.Body.Catalog == "" {
				in.Body.Catalog = s.defaultCatalog
			}
			a, err := s.store.CreateAccount(ctx, in.Body)
			if err != nil {
				return nil, err
			}
			return &accountOut{Body: a}, nil
		})

	type listIn struct {
		PageParams
		Query string `query:"q" maxLength:"200" doc:"Matches part of the name or external id, ignoring case."`
		Type  string `query:"type" enum:"standard,enterprise" doc:"Only accounts of this type."`
	}
	type listOut struct{ Body billow.Page[*billow.Account] }
	register(s, operation("listAccounts", http.MethodGet, "/v1/accounts", "List accounts", "Accounts",
		"Lists accounts, newest first."),
		func(ctx context.Context, in *listIn) (*listOut, error) {
			if err := requireOperator(ctx); err != nil {
				return nil, err
			}
			page, err := s.store.ListAccounts(ctx, sqlstore.AccountFilter{Query: in.Query, Type: billow.AccountType(in.Type)}, in.input())
			if err != nil {
				return nil, err
			}
			return &listOut{Body: page}, nil
		})

	type getIn struct{ AccountPath }
	register(s, operation("getAccount", http.MethodGet, "/v1/accounts/{account}", "Get an account", "Accounts",
		"Returns an account by id or external id."),
		func(ctx context.Context, in *getIn) (*accountOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			return &accountOut{Body: a}, nil
		})

	type updateIn struct {
		AccountPath
		Body billow.UpdateAccountInput
	}
	register(s, operation("updateAccount", http.MethodPatch, "/v1/accounts/{account}", "Update an account", "Accounts",
		"Changes the name, time zone, billing contact, metadata, auto_billing (seed 004's Settings: charge renewals to the "+
			"default payment method, or leave each renewal invoice open to be paid by hand) or, for the operator only, the "+
			"tax_rate of future invoices. Currency, type and catalog do not change here."),
		func(ctx context.Context, in *updateIn) (*accountOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			if in.Body.TaxRate != nil && !principal(ctx).IsOperator() {
				// The tax an account is charged is the operator's to set, not the customer's.
				return nil, billow.FieldErrorf(billow.CodeValidationFailed, "tax_rate", "only the operator sets the tax rate")
			}
			a, err = s.store.UpdateAccount(ctx, a.ID, in.Body)
			if err != nil {
				return nil, err
			}
			return &accountOut{Body: a}, nil
		})

	type migrateIn struct {
		AccountPath
		Body billow.MigrateCatalogInput
	}
	register(s, withStatus(http.StatusOK, operation("migrateAccountCatalog", http.MethodPost, "/v1/accounts/{account}/catalog_migration",
		"Move an account to another catalog version", "Accounts",
		"An account keeps the catalog version it signed until the operator moves it. The plan is checked against the new version.")),
		func(ctx context.Context, in *migrateIn) (*accountOut, error) {
			if err := requireOperator(ctx); err != nil {
				return nil, err
			}
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			a, err = s.store.MigrateAccountCatalog(ctx, a.ID, in.Body)
			if err != nil {
				return nil, err
			}
			return &accountOut{Body: a}, nil
		})
}
