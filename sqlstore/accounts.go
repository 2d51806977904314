package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/contract"
	"github.com/billowhq/billow/usage"
)

const accountColumns = `id, external_id, name, type, currency, timezone, catalog, catalog_version, plan,
	billing_contact, metadata, created_at, updated_at, auto_billing, tax_rate, COALESCE(test_clock_id, ''), subscription_status, contract`

// AccountFilter narrows a list of accounts.
type AccountFilter struct {
	// Query matches a substring of the name or external id, case-insensitively.
	Query string
	Type  billow.AccountType
}

// CreateAccount validates in against its catalog and stores the account. in.Catalog must
// name a stored catalog; the account signs its latest version.
//
// Errors: validation_failed, unknown_catalog, currency_mismatch, unknown_plan,
// plan_not_for_account_type, external_id_taken.
func (db *DB) CreateAccount(ctx context.Context, in billow.CreateAccountInput) (*billow.Account, error) {
	in.Normalize()
	if err := in.Validate(); err != nil {
		return nil, err
	}
	cat, ver, err := db.Catalog(ctx, in.Catalog, 0)
	if err != nil {
		if billow.ErrorCode(err) == billow.CodeNotFound {
			return nil, billow.FieldErrorf(billow.CodeUnknownCatalog, "catalog", "there is no catalog %q", in.Catalog)
		}
		return nil, err
	}
	if in.Currency == "" {
		in.Currency = cat.Currency
	}
	if in.Currency != cat.Currency {
		return nil, billow.FieldErrorf(billow.CodeCurrencyMismatch, "currency",
			"catalog %q prices in %s; an account on it must use %s, not %s", in.Catalog, cat.Currency, cat.Currency, in.Currency)
	}
	if err := checkPlan(cat, in.Plan, in.Type, "plan"); err != nil {
		return nil, err
	}
	now := db.now()
	a := &billow.Account{
		ID: billow.NewID(billow.PrefixAccount, now), ExternalID: in.ExternalID, Name: in.Name, Type: in.Type,
		Currency: in.Currency, Timezone: in.Timezone, Catalog: in.Catalog, CatalogVersion: ver.Version, Plan: in.Plan,
		BillingContact: in.BillingContact, Metadata: in.Metadata, CreatedAt: now, UpdatedAt: now,
		AutoBilling: in.AutoBilling == nil || *in.AutoBilling, TaxRate: in.TaxRate, TestClock: in.TestClock,
	}
	if a.TaxRate == "" {
		a.TaxRate = "0"
	}
	contact, metadata, err := accountJSON(a)
	if err != nil {
		return nil, err
	}
	err = db.tx(ctx, func(tx *sql.Tx) error {
		// A new account has no usage, so its day cells are complete from the start.
		_, err := tx.ExecContext(ctx, `INSERT INTO accounts (id, external_id, name, type, currency, timezone,
			catalog, catalog_version, plan, billing_contact, metadata, created_at, updated_at, usage_days_zone,
			auto_billing, tax_rate, test_clock_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $6, $14, $15, $16)`,
			a.ID, a.ExternalID, a.Name, string(a.Type), a.Currency, a.Timezone, a.Catalog, a.CatalogVersion, a.Plan,
			contact, metadata, billow.TimeMicros(now), billow.TimeMicros(now), a.AutoBilling, a.TaxRate, nullString(a.TestClock))
		return err
	})
	if isUniqueViolation(err) {
		return nil, externalIDTaken("account", a.ExternalID)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: create account: %w", err)
	}
	return a, nil
}

// Account returns the account with the given id or external id.
//
// Errors: not_found.
func (db *DB) Account(ctx context.Context, ref string) (*billow.Account, error) {
	return db.accountWith(ctx, ref, "")
}

// accountWith reads an account by id or external id together with more of its row:
// extraColumns (", col, …") are scanned into extra, in order, in the same query.
func (db *DB) accountWith(ctx context.Context, ref, extraColumns string, extra ...any) (*billow.Account, error) {
	column := "external_id"
	if billow.IsID(ref, billow.PrefixAccount) {
		column = "id"
	}
	row := db.read.QueryRowContext(ctx, `SELECT `+accountColumns+extraColumns+` FROM accounts WHERE `+column+` = $1`, ref)
	a, err := scanAccount(scanAlso{row, extra})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, billow.NotFound("account", ref)
	}
	return a, err
}

// scanAlso scans a row's trailing columns into extra after those its caller names.
type scanAlso struct {
	scanner
	extra []any
}

func (s scanAlso) Scan(dest ...any) error { return s.scanner.Scan(append(dest, s.extra...)...) }

// ListAccounts lists accounts, newest first.
func (db *DB) ListAccounts(ctx context.Context, f AccountFilter, page billow.PageInput) (billow.Page[*billow.Account], error) {
	page.Normalize()
	pattern := "%" + escapeLike(strings.ToLower(f.Query)) + "%"
	rows, err := db.read.QueryContext(ctx, `SELECT `+accountColumns+` FROM accounts
		WHERE ($1 = '' OR id < $1)
		  AND ($2 = '' OR lower(name) LIKE $3 ESCAPE '\' OR lower(external_id) LIKE $3 ESCAPE '\')
		  AND ($4 = '' OR type = $4)
		ORDER BY id DESC LIMIT $5`,
		page.StartingAfter, f.Query, pattern, string(f.Type), page.Limit+1)
	if err != nil {
		return billow.Page[*billow.Account]{}, fmt.Errorf("sqlstore: list accounts: %w", err)
	}
	return collectPage(rows, page.Limit, scanAccount)
}

// UpdateAccount changes the mutable fields of an account. A new time zone rebuilds the
// account's day cells from its hourly ones, in the same transaction.
//
// Errors: validation_failed, not_found.
func (db *DB) UpdateAccount(ctx context.Context, id string, in billow.UpdateAccountInput) (*billow.Account, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var out *billow.Account
	err := db.tx(ctx, func(tx *sql.Tx) error {
		a, err := db.lockAccount(ctx, tx, id)
		if err != nil {
			return err
		}
		if in.Name != nil {
			a.Name = *in.Name
		}
		zoneChanged := in.Timezone != nil && *in.Timezone != a.Timezone
		if in.Timezone != nil {
			a.Timezone = *in.Timezone
		}
		if in.BillingContact != nil {
			a.BillingContact = *in.BillingContact
		}
		if in.Metadata != nil {
			a.Metadata = in.Metadata
		}
		if in.AutoBilling != nil {
			a.AutoBilling = *in.AutoBilling
		}
		if in.TaxRate != nil {
			a.TaxRate = *in.TaxRate
		}
		a.UpdatedAt = db.now()
		contact, metadata, err := accountJSON(a)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE accounts SET name = $2, timezone = $3, billing_contact = $4, metadata = $5, updated_at = $6,
			auto_billing = $7, tax_rate = $8 WHERE id = $1`, a.ID, a.Name, a.Timezone, contact, metadata, billow.TimeMicros(a.UpdatedAt),
			a.AutoBilling, a.TaxRate)
		if err != nil {
			return err
		}
		out = a
		if !zoneChanged {
			return nil
		}
		// Days begin at another hour now. The row lock the UPDATE holds keeps ingest,
		// which share-locks the account, from writing day cells in the old zone meanwhile.
		cat, err := db.AccountCatalog(ctx, a)
		if err != nil {
			return err
		}
		return db.rebuildDays(ctx, sqlTxq{tx}, a.ID, cat, a.Timezone)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// MigrateAccountCatalog moves an account to another version of its catalog. The plan is
// checked against the new version; nothing else of the account changes. When the new
// version makes other cells (usage.SameRollups), the account's rollups are rebuilt from
// its events in the same transaction.
//
// Errors: validation_failed, not_found, unknown_catalog (no such version), unknown_plan,
// plan_not_for_account_type, contract_not_allowed (the account's contract does not fit
// the new version).
func (db *DB) MigrateAccountCatalog(ctx context.Context, id string, in billow.MigrateCatalogInput) (*billow.Account, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var out *billow.Account
	err := db.tx(ctx, func(tx *sql.Tx) error {
		a, err := db.lockAccount(ctx, tx, id)
		if err != nil {
			return err
		}
		cat, _, err := db.Catalog(ctx, a.Catalog, in.ToVersion)
		if billow.ErrorCode(err) == billow.CodeNotFound {
			return billow.FieldErrorf(billow.CodeUnknownCatalog, "to_version", "catalog %q has no version %d", a.Catalog, in.ToVersion)
		}
		if err != nil {
			return err
		}
		plan := a.Plan
		if in.Plan != "" {
			plan = in.Plan
		}
		if err := checkPlan(cat, plan, a.Type, "plan"); err != nil {
			return err
		}
		if a.Contract != nil {
			// The contract must fit the new version too: its prices would otherwise be
			// dropped, or the account's catalog could no longer be read.
			if _, err := contract.Apply(cat, &a.Contract.ContractTerms); err != nil {
				return contractMisfit(err, a.Catalog, in.ToVersion)
			}
		}
		old, err := db.AccountCatalog(ctx, a)
		if err != nil {
			return err
		}
		a.CatalogVersion, a.Plan, a.UpdatedAt = in.ToVersion, plan, db.now()
		if _, err = tx.ExecContext(ctx, `UPDATE accounts SET catalog_version = $2, plan = $3, updated_at = $4,
			included_credits_until = 0 WHERE id = $1`,
			a.ID, a.CatalogVersion, a.Plan, billow.TimeMicros(a.UpdatedAt)); err != nil {
			return err
		}
		out = a
		if usage.SameRollups(old, cat) {
			return nil
		}
		// The meters or prices changed: cells made by the old ones would answer for the new.
		var read int64
		return db.rebuildRollups(ctx, tx, a.ID, &read)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// lockAccount reads an account inside a write transaction and locks it until the end of
// the transaction, so that two changes of one account do not overwrite each other.
//
// Errors: not_found.
func (db *DB) lockAccount(ctx context.Context, tx *sql.Tx, id string) (*billow.Account, error) {
	a, err := scanAccount(tx.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`+db.forUpdate(), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, billow.NotFound("account", id)
	}
	return a, err
}

func checkPlan(cat *catalog.Catalog, planKey string, accountType billow.AccountType, field string) error {
	if planKey == "" {
		return nil
	}
	plan, ok := cat.Plan(planKey)
	if !ok {
		return billow.FieldErrorf(billow.CodeUnknownPlan, field, "there is no plan %q in the catalog", planKey)
	}
	types := plan.AccountTypes
	if len(types) > 0 && !slices.Contains(types, string(accountType)) {
		return billow.FieldErrorf(billow.CodePlanNotForType, field, "plan %q is for %s accounts, not %s",
			planKey, strings.Join(types, " and "), accountType)
	}
	return nil
}

func accountJSON(a *billow.Account) (contact, metadata string, err error) {
	c, err := json.Marshal(a.BillingContact)
	if err != nil {
		return "", "", err
	}
	m, err := json.Marshal(a.Metadata)
	if err != nil {
		return "", "", err
	}
	return string(c), string(m), nil
}

type scanner interface{ Scan(dest ...any) error }

func scanAccount(s scanner) (*billow.Account, error) {
	var (
		a                                billow.Account
		typ, contact, meta, contractJSON string
		created, updated                 int64
	)
	err := s.Scan(&a.ID, &a.ExternalID, &a.Name, &typ, &a.Currency, &a.Timezone, &a.Catalog, &a.CatalogVersion, &a.Plan,
		&contact, &meta, &created, &updated, &a.AutoBilling, &a.TaxRate, &a.TestClock, &a.SubscriptionStatus, &contractJSON)
	if err != nil {
		return nil, err
	}
	a.Type = billow.AccountType(typ)
	a.CreatedAt, a.UpdatedAt = billow.FromMicros(created), billow.FromMicros(updated)
	if err := json.Unmarshal([]byte(contact), &a.BillingContact); err != nil {
		return nil, fmt.Errorf("sqlstore: account %s billing contact: %w", a.ID, err)
	}
	if err := json.Unmarshal([]byte(meta), &a.Metadata); err != nil {
		return nil, fmt.Errorf("sqlstore: account %s metadata: %w", a.ID, err)
	}
	if contractJSON != noContract {
		var c billow.Contract
		if err := json.Unmarshal([]byte(contractJSON), &c); err != nil {
			return nil, fmt.Errorf("sqlstore: account %s contract: %w", a.ID, err)
		}
		c.Account = a.ID
		a.Contract = &c
	}
	return &a, nil
}

// collectPage reads up to limit rows and notes whether there were more.
func collectPage[T any](rows *sql.Rows, limit int, scan func(scanner) (T, error)) (billow.Page[T], error) {
	defer rows.Close()
	page := billow.Page[T]{Data: []T{}}
	for rows.Next() {
		if len(page.Data) == limit {
			page.HasMore = true
			break
		}
		v, err := scan(rows)
		if err != nil {
			return billow.Page[T]{}, err
		}
		page.Data = append(page.Data, v)
	}
	return page, rows.Err()
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func externalIDTaken(what, externalID string) error {
	return &billow.Error{Kind: billow.KindConflict, Code: billow.CodeExternalIDTaken,
		Message: fmt.Sprintf("external id %q is already used by another %s", externalID, what),
		Fields:  []billow.FieldError{{Field: "external_id", Message: "is taken"}}}
}
