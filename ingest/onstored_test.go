package ingest_test

import (
	"slices"
	"testing"
	"time"

	"github.com/billowhq/billow/ingest"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// TestOnStoredNamesTheAccountsOfStoredEvents: after a commit the hook hears each account
// with newly stored events once; a batch of duplicates and rejections stores nothing and
// calls nothing.
func TestOnStoredNamesTheAccountsOfStoredEvents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		setup(t, env)
		var calls [][]string
		svc := ingest.New(env.DB, env.Clock, ingest.OnStored(func(ids []string) { calls = append(calls, slices.Clone(ids)) }))
		at := env.Clock.Now().Add(-time.Minute)
		batch := []ingest.CloudEvent{
			event("s1", "api.request", "acme", at, `{"app":"sales","client":"c"}`),
			event("s2", "api.request", "acme", at, `{"app":"sales","client":"c"}`),
			event("s3", "api.request", "globex", at, `{"app":"sales","client":"c"}`),
			event("s4", "api.request", "nobody", at, `{"app":"sales","client":"c"}`),
		}
		if _, err := svc.Ingest(ctx, operator, batch); err != nil {
			t.Fatal(err)
		}
		if len(calls) != 1 || len(calls[0]) != 2 {
			t.Fatalf("hook calls %v, want one naming acme and globex", calls)
		}
		for _, ext := range []string{"acme", "globex"} {
			a, err := env.DB.Account(ctx, ext)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(calls[0], a.ID) {
				t.Errorf("hook calls %v lack %s", calls, a.ID)
			}
		}
		if _, err := svc.Ingest(ctx, operator, batch); err != nil {
			t.Fatal(err)
		}
		if len(calls) != 1 {
			t.Errorf("a batch of duplicates called the hook: %v", calls)
		}
	})
}
