// Package storetest runs store tests on both engines: every test given to Each runs once
// on a fresh SQLite file and once in a fresh PostgreSQL schema, so the two engines are
// held to one contract. PostgreSQL comes from BILLOW_TEST_POSTGRES_URL; without it the
// PostgreSQL half skips with a message, unless BILLOW_TEST_REQUIRE_POSTGRES=1 (CI), where
// a missing or unreachable server fails the test.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/sqlstore"
)

// Clock is a test clock: it stands still until Advance or Set moves it.
type Clock struct {
	mu  sync.Mutex // protects now
	now time.Time
}

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t.UTC()} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Env is one engine's fresh store with its clock.
type Env struct {
	DB    *sqlstore.DB
	Clock *Clock
	// URL opens the same database again, as a second process would.
	URL string
}

// Start is the time every test clock starts at.
// It has nanoseconds, which the store must not keep (it stores microseconds).
var Start = time.Date(2026, time.January, 15, 9, 30, 0, 123456789, time.UTC)

// Each runs fn as a subtest per engine, "sqlite" and "postgres", in parallel.
func Each(t *testing.T, fn func(t *testing.T, env *Env)) {
	t.Helper()
	for _, engine := range []sqlstore.Dialect{sqlstore.SQLite, sqlstore.Postgres} {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			fn(t, Open(t, engine))
		})
	}
}

// Open returns a fresh, migrated store of the engine with the shipped example catalogs
// loaded, closed and removed when the test ends.
func Open(t testing.TB, engine sqlstore.Dialect) *Env {
	t.Helper()
	ctx := context.Background()
	clock := NewClock(Start)
	var dbURL string
	switch engine {
	case sqlstore.SQLite:
		dbURL = "sqlite:" + t.TempDir() + "/billow.db"
	case sqlstore.Postgres:
		dbURL = postgresSchema(t)
	}
	db, err := sqlstore.Open(ctx, sqlstore.Config{URL: dbURL, Clock: clock})
	if err != nil {
		t.Fatalf("open %s: %v", engine, err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate %s: %v", engine, err)
	}
	for _, name := range catalog.ExampleNames() {
		data, err := catalog.Example(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.SyncCatalog(ctx, name, data); err != nil {
			t.Fatalf("load catalog %s: %v", name, err)
		}
	}
	return &Env{DB: db, Clock: clock, URL: dbURL}
}

// postgresSchema creates a schema of its own for the test and returns a URL that uses it.
func postgresSchema(t testing.TB) string {
	t.Helper()
	base := os.Getenv("BILLOW_TEST_POSTGRES_URL")
	if base == "" {
		if os.Getenv("BILLOW_TEST_REQUIRE_POSTGRES") == "1" {
			t.Fatal("BILLOW_TEST_REQUIRE_POSTGRES=1 but BILLOW_TEST_POSTGRES_URL is not set")
		}
		t.Skip("PostgreSQL half skipped: set BILLOW_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("PostgreSQL at BILLOW_TEST_POSTGRES_URL is unreachable: %v", err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	schema := "billow_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("BILLOW_TEST_POSTGRES_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// SyncCatalogWithMeters stores, as catalog key, the shipped credits-platform catalog with
// meters added at the head of its list (YAML list items indented by two spaces, as in
// "  - key: widgets\n    …"), and returns its version: how a test meters custom event types.
func (env *Env) SyncCatalogWithMeters(t testing.TB, key, meters string) int64 {
	t.Helper()
	data, err := catalog.Example("credits-platform")
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := env.DB.SyncCatalog(context.Background(), key, []byte(strings.Replace(string(data), "\nmeters:\n", "\nmeters:\n"+meters, 1)))
	if err != nil {
		t.Fatal(err)
	}
	return v.Version
}
