package http

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/billowhq/billow"
)

// PageParams are the cursor pagination parameters of every list.
type PageParams struct {
	Limit         int    `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Page size."`
	StartingAfter string `query:"starting_after" maxLength:"64" doc:"The last id of the previous page."`
}

func (p PageParams) input() billow.PageInput {
	return billow.PageInput{Limit: p.Limit, StartingAfter: p.StartingAfter}
}

// AccountPath names an account in a path. Parameter structs are exported because huma
// reads embedded structs only when they are.
type AccountPath struct {
	Account string `path:"account" maxLength:"255" doc:"Account id (acct_…) or external id."`
}

// registerAPI registers every /v1 operation. Each file api_*.go registers one resource.
func (s *Server) registerAPI() {
	s.registerAPIKeys()
	s.registerAccounts()
	s.registerContracts()
	s.registerApps()
	s.registerMembers()
	s.registerCatalog()
	s.registerEvents()
	s.registerUsage()
	s.registerWallet()
	s.registerAutoCharge()
	s.registerChecks()
	s.registerHolds()
	s.registerDeployments()
	s.registerBilling()
	s.registerOrderPreview()
	s.registerInvoices()
	s.registerTestClocks()
	s.registerQuotes()
}

// register adds an operation whose handler's errors become problems.
func register[I, O any](s *Server, op huma.Operation, handler func(context.Context, *I) (*O, error)) {
	if op.DefaultStatus == 0 && op.Method == http.MethodPost {
		op.DefaultStatus = http.StatusCreated
	}
	op.Errors = append(op.Errors, http.StatusUnauthorized, http.StatusNotFound, http.StatusUnprocessableEntity)
	if op.Method == http.MethodPost {
		op.Errors = append(op.Errors, http.StatusConflict)
	}
	huma.Register(s.api, op, func(ctx context.Context, in *I) (*O, error) {
		out, err := handler(ctx, in)
		if err != nil {
			return nil, problemFor(ctx, s.logger, err)
		}
		return out, nil
	})
}

// account returns the account a path names, if the caller may see it; another tenant's
// account is "not found", exactly like one that does not exist.
func (s *Server) account(ctx context.Context, ref string) (*billow.Account, error) {
	a, err := s.store.Account(ctx, ref)
	if err != nil {
		return nil, err
	}
	if !principal(ctx).CanSee(a.ID) {
		return nil, billow.NotFound("account", ref)
	}
	return a, nil
}

// operation describes one API operation.
func operation(id, method, path, summary, tag, description string) huma.Operation {
	return huma.Operation{OperationID: id, Method: method, Path: path, Summary: summary, Tags: []string{tag}, Description: description}
}

// withStatus sets the status of a successful answer, for a POST that creates nothing.
func withStatus(status int, op huma.Operation) huma.Operation {
	op.DefaultStatus = status
	return op
}
