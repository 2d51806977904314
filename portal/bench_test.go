package portal_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// BenchmarkPlanAndUsagePage renders the Plan & Usage page through the whole server (the
// middleware, the session lookup, every read the page makes, the template) for the
// demo's Northwind Traders with 90 days of demo usage in the store, the busiest demo
// account, and reports the server time per page. docs/portal.md records the figures.
//
//	go test -run XXX -bench PlanAndUsage -benchtime 200x ./portal/
//
// With BILLOW_TEST_POSTGRES_URL set it runs on PostgreSQL too.
func BenchmarkPlanAndUsagePage(b *testing.B) {
	engines := []sqlstore.Dialect{sqlstore.SQLite}
	if os.Getenv("BILLOW_TEST_POSTGRES_URL") != "" {
		engines = append(engines, sqlstore.Postgres)
	}
	for _, engine := range engines {
		b.Run(string(engine), func(b *testing.B) {
			env := storetest.Open(b, engine)
			s := newSite(b, env, siteOptions{usageDays: 90})
			a, err := env.DB.Account(context.Background(), "northwind")
			if err != nil {
				b.Fatal(err)
			}
			events, err := env.DB.CountEvents(context.Background(), a.ID)
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("%s: %d events of northwind in the store", engine, events)
			cookie := enterB(b, s)
			for _, q := range []string{"", "?range=90d", "?range=24h", "?range=90d&view=table", "?range=7d&app=support-bot"} {
				name := strings.TrimPrefix(q, "?")
				if name == "" {
					name = "range=30d"
				}
				b.Run(name, func(b *testing.B) {
					var took []time.Duration
					for b.Loop() {
						req := httptest.NewRequest("GET", "/portal/"+q, nil)
						req.AddCookie(cookie)
						rec := httptest.NewRecorder()
						start := time.Now()
						s.srv.Config.Handler.ServeHTTP(rec, req)
						took = append(took, time.Since(start))
						if rec.Code != http.StatusOK {
							b.Fatalf("GET /portal/%s = %d: %.300s", q, rec.Code, rec.Body)
						}
					}
					slices.Sort(took)
					b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50_ms")
					b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99_ms")
				})
			}
		})
	}
}

// enterB opens a portal session for Northwind's owner and returns its cookie.
func enterB(b *testing.B, s *site) *http.Cookie {
	b.Helper()
	link := s.link("northwind", billow.RoleOwner)
	req := httptest.NewRequest("GET", strings.TrimPrefix(link, s.base), nil)
	rec := httptest.NewRecorder()
	s.srv.Config.Handler.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.Name == "billow_portal" {
			return c
		}
	}
	b.Fatalf("no session cookie: %d", rec.Code)
	return nil
}
