package http

import (
	"bytes"
	"context"
	"mime"
	"net/http"
	"time"

	"github.com/billowhq/billow"
)

func (s *Server) registerWallet() {
	type walletIn struct{ AccountPath }
	type walletOut struct{ Body *billow.Wallet }
	register(s, operation("getWallet", http.MethodGet, "/v1/accounts/{account}/wallet", "Get the credit wallet", "Credits",
		"Returns the account's credit balance and its grants with credits left, in the order they are spent: higher priority "+
			"first, then free credits, promotional ones by soonest expiry, and paid ones oldest first."),
		func(ctx context.Context, in *walletIn) (*walletOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			w, err := s.store.Wallet(ctx, a.ID)
			if err != nil {
				return nil, err
			}
			return &walletOut{Body: w}, nil
		})

	type grantIn struct {
		AccountPath
		Body billow.CreateGrantInput
	}
	type grantOut struct {
		Body struct {
			Grant    *billow.Grant    `json:"grant"`
			Transfer *billow.Transfer `json:"transfer"`
		}
	}
	register(s, withStatus(http.StatusCreated, operation("createGrant", http.MethodPost, "/v1/accounts/{account}/grants", "Grant credits", "Credits",
		"Adds credits to the account's wallet (operator only): free, promotional (with an expiry) or paid. Credits an "+
			"overdrawn wallet owes its grace buffer are paid back first. The body's id is the ledger's idempotency id: the "+
			"same id again answers with the first grant; with other content it is refused with idempotency_key_reused.")),
		func(ctx context.Context, in *grantIn) (*grantOut, error) {
			if err := requireOperator(ctx); err != nil {
				return nil, err
			}
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			in.Body.Account = a.ID
			g, t, err := s.store.CreateGrant(ctx, in.Body)
			if err != nil {
				return nil, err
			}
			out := &grantOut{}
			out.Body.Grant, out.Body.Transfer = g, t
			return out, nil
		})

	type txIn struct {
		AccountPath
		PageParams
	}
	type txOut struct {
		Body *billow.Page[*billow.WalletTransaction]
	}
	register(s, operation("listTransactions", http.MethodGet, "/v1/accounts/{account}/transactions", "List wallet transactions", "Credits",
		"Lists the movements of the account's wallet, newest first: date, description, credits added (+) or spent (−), their "+
			"value in the account's currency, and the balance after each. starting_after is the seq of the last one of the previous page."),
		func(ctx context.Context, in *txIn) (*txOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			page, err := s.store.Transactions(ctx, a.ID, in.input())
			if err != nil {
				return nil, err
			}
			return &txOut{Body: page}, nil
		})

	type exportIn struct {
		AccountPath
		From time.Time `query:"from" required:"true" doc:"Start, RFC 3339 (inclusive)."`
		To   time.Time `query:"to" required:"true" doc:"End, RFC 3339 (exclusive); at most 366 days after from."`
	}
	type exportOut struct {
		ContentType        string `header:"Content-Type"`
		ContentDisposition string `header:"Content-Disposition"`
		Body               []byte
	}
	register(s, operation("exportTransactions", http.MethodGet, "/v1/accounts/{account}/transactions.csv", "Export wallet transactions", "Credits",
		"The wallet's movements in [from, to) as CSV, oldest first: Date, Transaction ID, Description, Credits, Value, "+
			"Currency, Balance after (credits). At most 100,000 rows; a longer range is refused with request_too_large."),
		func(ctx context.Context, in *exportIn) (*exportOut, error) {
			if !in.To.After(in.From) || in.To.Sub(in.From) > billow.TransactionsCSVRangeMax {
				return nil, billow.FieldErrorf(billow.CodeValidationFailed, "to", "must be after from and at most 366 days after it")
			}
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			txs, err := s.store.TransactionsBetween(ctx, a.ID, in.From, in.To)
			if err != nil {
				return nil, err
			}
			var b bytes.Buffer
			if err := billow.WriteTransactionsCSV(&b, txs); err != nil {
				return nil, err
			}
			return &exportOut{ContentType: "text/csv; charset=utf-8",
				ContentDisposition: mime.FormatMediaType("attachment", map[string]string{"filename": billow.TransactionsCSVFileName(a, in.From)}),
				Body:               b.Bytes()}, nil
		})
}
