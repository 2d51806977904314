package http

import (
	"context"
	"errors"
	"net/http"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/billing"
	"github.com/billowhq/billow/catalog"
)

// accountCataloger reads the catalog an account is billed by: the version it signed,
// with its contract's overrides. *sqlstore.DB is one; Store does not list it, so a quote
// asks for it where it needs it.
type accountCataloger interface {
	AccountCatalog(ctx context.Context, a *billow.Account) (*catalog.Catalog, error)
}

// QuoteRequest is the body of POST /v1/quotes: the usage to estimate and, optionally,
// the account whose catalog prices it.
type QuoteRequest struct {
	Account string `json:"account,omitempty" maxLength:"255" doc:"Account id (acct_…) or external id whose catalog, with its contract, prices the quote, and whose type decides the plans offered. An account key quotes its own account when this is empty; without an account the default catalog prices it."`
	billow.QuoteInput
}

func (s *Server) registerQuotes() {
	type quoteIn struct{ Body QuoteRequest }
	type quoteOut struct{ Body *billow.Quote }
	register(s, withStatus(http.StatusOK, operation("createQuote", http.MethodPost, "/v1/quotes", "Estimate the cost of usage on every plan", "Quotes",
		"The pricing calculator (seed 004): what a month of the given usage (conversations and their length, voice, apps, "+
			"agent seats, LLM tokens per model, add-ons) would cost on each plan of the catalog, monthly or yearly. Each plan "+
			"gets its fixed fees, one line per rate and seat rated as invoices rate them (one rounding per line), the included "+
			"credits applied to usage billed in credits, the credits left to buy, and the total per period and per month, in "+
			"minor units (µcr for credits). A plan that cannot take the usage (not offered to the account type or for the "+
			"interval, too few agent slots, no own LLM keys, …) is listed as not available with a code and a reason. The "+
			"cheapest available plan is marked; a tie goes to the plan listed first in the catalog. Nothing is stored. Any key "+
			"may ask; an account key quotes its own account. See docs/quotes.md.")),
		func(ctx context.Context, in *quoteIn) (*quoteOut, error) {
			cat, a, err := s.quoteCatalog(ctx, in.Body.Account)
			if err != nil {
				return nil, err
			}
			q, err := billing.Quote(cat, a, in.Body.QuoteInput)
			if err != nil {
				return nil, err
			}
			return &quoteOut{Body: q}, nil
		})
}

// quoteCatalog returns the catalog a quote is priced by and the account it is for: the
// named account's, the caller's own for an account key, else the default catalog and no
// account. Another tenant's account is not found.
func (s *Server) quoteCatalog(ctx context.Context, ref string) (*catalog.Catalog, *billow.Account, error) {
	if ref == "" {
		ref = principal(ctx).AccountID // empty for the operator
	}
	if ref == "" {
		cat, _, err := s.store.Catalog(ctx, s.defaultCatalog, 0)
		return cat, nil, err
	}
	a, err := s.account(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	ac, ok := s.store.(accountCataloger)
	if !ok {
		return nil, nil, errors.New("http: the store cannot read an account's catalog")
	}
	cat, err := ac.AccountCatalog(ctx, a)
	return cat, a, err
}
