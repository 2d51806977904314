package http

import (
	"context"
	"net/http"

	"github.com/billowhq/billow"
)

// registerContracts registers an enterprise account's contract: the operator's business
// alone. An account's own key is answered 404 on every one of these routes, as for any
// operator-only operation (DESIGN principle 7), so a customer can neither read the terms
// nor change its own prices.
func (s *Server) registerContracts() {
	type contractOut struct{ Body *billow.Contract }

	type setIn struct {
		AccountPath
		Body billow.ContractTerms
	}
	op := operation("setContract", http.MethodPut, "/v1/accounts/{account}/contract", "Set an enterprise contract", "Contracts",
		"Sets the contract of an enterprise account, replacing the one before it (operator only): fees, rates, seat prices, "+
			"allowances, limits (such as the ingestion limit) and included credits that replace those of one plan of the "+
			"account's catalog for this account alone, and whether the operator collects the invoices outside Billow. The plan "+
			"must have custom_pricing; a standard account or such a plan answers 409 contract_not_allowed. The whole contract "+
			"is checked against the catalog before anything is stored. It applies from the next use: checks at once, usage "+
			"of the current month when next rated, the plan fee at the next renewal. See docs/contracts.md.")
	op.Errors = append(op.Errors, http.StatusConflict)
	register(s, op, func(ctx context.Context, in *setIn) (*contractOut, error) {
		if err := requireOperator(ctx); err != nil {
			return nil, err
		}
		a, err := s.account(ctx, in.Account)
		if err != nil {
			return nil, err
		}
		c, err := s.store.SetContract(ctx, a.ID, in.Body)
		if err != nil {
			return nil, err
		}
		return &contractOut{Body: c}, nil
	})

	type getIn struct{ AccountPath }
	register(s, operation("getContract", http.MethodGet, "/v1/accounts/{account}/contract", "Get an enterprise contract", "Contracts",
		"Returns the account's contract (operator only); 404 when it has none."),
		func(ctx context.Context, in *getIn) (*contractOut, error) {
			if err := requireOperator(ctx); err != nil {
				return nil, err
			}
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			c, err := s.store.Contract(ctx, a.ID)
			if err != nil {
				return nil, err
			}
			return &contractOut{Body: c}, nil
		})

	register(s, operation("deleteContract", http.MethodDelete, "/v1/accounts/{account}/contract", "End an enterprise contract", "Contracts",
		"Removes the account's contract (operator only) and returns it: from then on the account is billed by its plan as "+
			"the catalog prices it, and its next invoices are collected by Billow. Invoices already issued keep their terms."),
		func(ctx context.Context, in *getIn) (*contractOut, error) {
			if err := requireOperator(ctx); err != nil {
				return nil, err
			}
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			c, err := s.store.DeleteContract(ctx, a.ID)
			if err != nil {
				return nil, err
			}
			return &contractOut{Body: c}, nil
		})
}
