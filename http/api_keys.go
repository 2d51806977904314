package http

import (
	"context"
	"net/http"

	"github.com/billowhq/billow"
)

type createdAPIKey struct {
	*billow.APIKey
	Key string `json:"key" doc:"The secret. It is shown this once; Billow keeps only its hash."`
}

func (s *Server) registerAPIKeys() {
	type createIn struct{ Body billow.CreateAPIKeyInput }
	type createOut struct{ Body createdAPIKey }
	register(s, operation("createAPIKey", http.MethodPost, "/v1/api_keys", "Create an API key", "API keys",
		"Creates an operator key, or with `account` a key that sees only that account. The secret is in the answer once."),
		func(ctx context.Context, in *createIn) (*createOut, error) {
			if err := requireOperator(ctx); err != nil {
				return nil, err
			}
			if err := in.Body.Validate(); err != nil {
				return nil, err
			}
			accountID := ""
			if in.Body.Account != "" {
				a, err := s.store.Account(ctx, in.Body.Account)
				if err != nil {
					if billow.ErrorCode(err) == billow.CodeNotFound {
						return nil, billow.FieldErrorf(billow.CodeNotFound, "account", "there is no account %q", in.Body.Account)
					}
					return nil, err
				}
				accountID = a.ID
			}
			key, secret, err := s.store.CreateAPIKey(ctx, in.Body.Name, accountID)
			if err != nil {
				return nil, err
			}
			return &createOut{Body: createdAPIKey{APIKey: key, Key: secret}}, nil
		})

	type listIn struct{ PageParams }
	type listOut struct{ Body billow.Page[*billow.APIKey] }
	register(s, operation("listAPIKeys", http.MethodGet, "/v1/api_keys", "List API keys", "API keys",
		"Lists keys, newest first, without their secrets."),
		func(ctx context.Context, in *listIn) (*listOut, error) {
			if err := requireOperator(ctx); err != nil {
				return nil, err
			}
			page, err := s.store.ListAPIKeys(ctx, in.input())
			if err != nil {
				return nil, err
			}
			return &listOut{Body: page}, nil
		})

	type revokeIn struct {
		Key string `path:"key" maxLength:"64" doc:"Key id (key_…)."`
	}
	type keyOut struct{ Body *billow.APIKey }
	register(s, withStatus(http.StatusOK, operation("revokeAPIKey", http.MethodPost, "/v1/api_keys/{key}/revoke", "Revoke an API key", "API keys",
		"Revokes a key at once; requests with it answer 401 api_key_revoked. Revoking twice changes nothing.")),
		func(ctx context.Context, in *revokeIn) (*keyOut, error) {
			if err := requireOperator(ctx); err != nil {
				return nil, err
			}
			key, err := s.store.RevokeAPIKey(ctx, in.Key)
			if err != nil {
				return nil, err
			}
			return &keyOut{Body: key}, nil
		})
}
