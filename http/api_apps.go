package http

import (
	"context"
	"net/http"

	"github.com/billowhq/billow"
)

// AppPath names an app of an account in a path.
type AppPath struct {
	AccountPath
	App string `path:"app" maxLength:"255" doc:"App id (app_…) or external id."`
}

func (s *Server) registerApps() {
	type appOut struct{ Body *billow.App }

	type createIn struct {
		AccountPath
		Body billow.CreateAppInput
	}
	register(s, operation("createApp", http.MethodPost, "/v1/accounts/{account}/apps", "Create an app", "Apps",
		"Creates an app (a bot, agent or assistant). A linked app names its parent app for dynamic routing."),
		func(ctx context.Context, in *createIn) (*appOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			app, err := s.store.CreateApp(ctx, a.ID, in.Body)
			if err != nil {
				return nil, err
			}
			return &appOut{Body: app}, nil
		})

	type listIn struct {
		AccountPath
		PageParams
	}
	type listOut struct{ Body billow.Page[*billow.App] }
	register(s, operation("listApps", http.MethodGet, "/v1/accounts/{account}/apps", "List apps", "Apps",
		"Lists the account's apps, newest first."),
		func(ctx context.Context, in *listIn) (*listOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			page, err := s.store.ListApps(ctx, a.ID, in.input())
			if err != nil {
				return nil, err
			}
			return &listOut{Body: page}, nil
		})

	type getIn struct{ AppPath }
	register(s, operation("getApp", http.MethodGet, "/v1/accounts/{account}/apps/{app}", "Get an app", "Apps",
		"Returns an app by id or external id."),
		func(ctx context.Context, in *getIn) (*appOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			app, err := s.store.App(ctx, a.ID, in.App)
			if err != nil {
				return nil, err
			}
			return &appOut{Body: app}, nil
		})

	type updateIn struct {
		AppPath
		Body billow.UpdateAppInput
	}
	register(s, operation("updateApp", http.MethodPatch, "/v1/accounts/{account}/apps/{app}", "Update an app", "Apps",
		"Renames an app."),
		func(ctx context.Context, in *updateIn) (*appOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			app, err := s.store.UpdateApp(ctx, a.ID, in.App, in.Body)
			if err != nil {
				return nil, err
			}
			return &appOut{Body: app}, nil
		})
}
