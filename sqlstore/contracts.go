package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/contract"
)

// noContract is the accounts.contract of an account without a contract (the column's
// default).
const noContract = "{}"

// SetContract stores an enterprise account's contract, replacing the one before it. A
// contract without a plan takes the account's. The contract is checked against the
// catalog version the account signed, whole, before anything is written; the account's
// updated_at moves with it, so that checks in every process reload the account and its
// contracted limits (checks.Checker.Poll).
//
// Errors: validation_failed, not_found, contract_not_allowed (a standard account, or a
// plan without custom_pricing), unknown_plan.
func (db *DB) SetContract(ctx context.Context, accountID string, in billow.ContractTerms) (*billow.Contract, error) {
	in.Normalize()
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var out *billow.Contract
	err := db.tx(ctx, func(tx *sql.Tx) error {
		a, err := db.lockAccount(ctx, tx, accountID)
		if err != nil {
			return err
		}
		if err := contract.Allowed(a); err != nil {
			return err
		}
		if in.Plan == "" {
			if a.Plan == "" {
				return billow.FieldErrorf(billow.CodeValidationFailed, "plan", "is required: account %s is on no plan to take it from", a.ExternalID)
			}
			in.Plan = a.Plan
		}
		cat, _, err := db.Catalog(ctx, a.Catalog, a.CatalogVersion)
		if err != nil {
			return err
		}
		if _, err := contract.Apply(cat, &in); err != nil {
			return err
		}
		now := db.now()
		c := &billow.Contract{Account: a.ID, ContractTerms: in, UpdatedAt: now}
		b, err := json.Marshal(c)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET contract = $2, updated_at = $3 WHERE id = $1`,
			a.ID, string(b), billow.TimeMicros(now)); err != nil {
			return err
		}
		out = c
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Contract returns the contract of the account with the given id or external id.
//
// Errors: not_found (no such account, or it has no contract).
func (db *DB) Contract(ctx context.Context, accountRef string) (*billow.Contract, error) {
	a, err := db.Account(ctx, accountRef)
	if err != nil {
		return nil, err
	}
	if a.Contract == nil {
		return nil, billow.NotFound("contract of account", accountRef)
	}
	return a.Contract, nil
}

// DeleteContract ends an account's contract: from then on the account is billed by its
// plan as the catalog prices it. It returns the contract removed.
//
// Errors: not_found (no such account, or it has no contract).
func (db *DB) DeleteContract(ctx context.Context, accountID string) (*billow.Contract, error) {
	var out *billow.Contract
	err := db.tx(ctx, func(tx *sql.Tx) error {
		a, err := db.lockAccount(ctx, tx, accountID)
		if err != nil {
			return err
		}
		if a.Contract == nil {
			return billow.NotFound("contract of account", accountID)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET contract = $2, updated_at = $3 WHERE id = $1`,
			a.ID, noContract, billow.TimeMicros(db.now())); err != nil {
			return err
		}
		out = a.Contract
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// contractMisfit is the error of a catalog migration the account's contract does not fit.
func contractMisfit(err error, catalogKey string, version int64) error {
	why := err.Error()
	var e *billow.Error
	if errors.As(err, &e) {
		why = e.Message
	}
	out := &billow.Error{Kind: billow.KindConflict, Code: billow.CodeContractNotAllowed,
		Message: fmt.Sprintf("the account's contract does not fit catalog %q version %d (%s); change the contract first", catalogKey, version, why)}
	if e != nil {
		for _, f := range e.Fields {
			out.Fields = append(out.Fields, billow.FieldError{Field: "contract." + f.Field, Message: f.Message})
		}
	}
	return out
}
