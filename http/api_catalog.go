package http

import (
	"context"
	"net/http"

	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/sqlstore"
)

// catalogDocument is one version of a catalog with its content.
type catalogDocument struct {
	sqlstore.CatalogVersion
	Content *catalog.Catalog `json:"content"`
}

func (s *Server) registerCatalog() {

	type defaultIn struct{}
	register(s, operation("getCatalog", http.MethodGet, "/v1/catalog", "Get the default catalog", "Catalog",
		"Returns the latest version of the default catalog: products, meters, plans, add-ons, credit rules and provider costs."),
		func(ctx context.Context, _ *defaultIn) (*catalogOut, error) {
			return s.catalogDocument(ctx, s.defaultCatalog, 0)
		})

	type listOut struct {
		Body struct {
			Data    []sqlstore.CatalogVersion `json:"data"`
			Default string                    `json:"default" doc:"Key of the catalog accounts get when they name none."`
		}
	}
	type listIn struct{}
	register(s, operation("listCatalogs", http.MethodGet, "/v1/catalogs", "List catalogs", "Catalog",
		"Lists every catalog with its latest version."),
		func(ctx context.Context, _ *listIn) (*listOut, error) {
			versions, err := s.store.CatalogVersions(ctx, "")
			if err != nil {
				return nil, err
			}
			out := &listOut{}
			out.Body.Data, out.Body.Default = nonNil(versions), s.defaultCatalog
			return out, nil
		})

	type getIn struct{ CatalogPath }
	register(s, operation("getCatalogByKey", http.MethodGet, "/v1/catalogs/{catalog}", "Get a catalog", "Catalog",
		"Returns the latest version of a catalog."),
		func(ctx context.Context, in *getIn) (*catalogOut, error) {
			return s.catalogDocument(ctx, in.Catalog, 0)
		})

	type versionsOut struct {
		Body struct {
			Data []sqlstore.CatalogVersion `json:"data"`
		}
	}
	type versionsIn struct{ CatalogPath }
	register(s, operation("listCatalogVersions", http.MethodGet, "/v1/catalogs/{catalog}/versions", "List catalog versions", "Catalog",
		"Lists the versions of a catalog, newest first. A version never changes once stored."),
		func(ctx context.Context, in *versionsIn) (*versionsOut, error) {
			if _, err := s.catalogDocument(ctx, in.Catalog, 0); err != nil {
				return nil, err
			}
			versions, err := s.store.CatalogVersions(ctx, in.Catalog)
			if err != nil {
				return nil, err
			}
			out := &versionsOut{}
			out.Body.Data = nonNil(versions)
			return out, nil
		})

	type versionIn struct {
		CatalogPath
		Version int64 `path:"version" minimum:"1"`
	}
	register(s, operation("getCatalogVersion", http.MethodGet, "/v1/catalogs/{catalog}/versions/{version}", "Get a catalog version", "Catalog",
		"Returns one version of a catalog, as accounts that signed it are billed."),
		func(ctx context.Context, in *versionIn) (*catalogOut, error) {
			return s.catalogDocument(ctx, in.Catalog, in.Version)
		})
}

type catalogOut struct{ Body catalogDocument }

func (s *Server) catalogDocument(ctx context.Context, key string, version int64) (*catalogOut, error) {
	cat, info, err := s.store.Catalog(ctx, key, version)
	if err != nil {
		return nil, err
	}
	return &catalogOut{Body: catalogDocument{CatalogVersion: info, Content: cat}}, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// CatalogPath names a catalog in a path.
type CatalogPath struct {
	Catalog string `path:"catalog" maxLength:"64" doc:"Catalog key."`
}
