package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/billowhq/billow/sqlstore"
)

// How River reaches each engine.
//
// PostgreSQL: River's riverpgxv5 driver works on the store's pgx pool. River's Schema is
// left empty, so River's queries are unqualified and resolve through the pool's
// search_path, like the store's own: River's tables live in the store's schema, and its
// LISTEN/NOTIFY topics are prefixed with current_schema(), so two schemas in one database
// (two Billows, or two tests) never see each other's jobs or leaders. River holds one
// connection of the pool for LISTEN, and borrows others to fetch and complete jobs; none is
// held while a job runs.
//
// SQLite: River gets a *sql.DB of its own on the store's file, limited to one connection,
// not the store's writer. The store's writer is one connection too (SQLite has one
// writer), and River polls on the connection it is given (fetching jobs every second,
// notifications every 50 ms) and holds it through its transactions: on the store's writer
// every Billow write would queue behind River's polls, and a River call made while a store
// transaction holds that one connection (a job queued from inside it, say) would wait for
// ever. With its own connection River's reads run beside the store's in WAL mode, and its
// writes take turns with the store's through SQLite's lock: busy_timeout makes either side
// wait (up to sqliteBusyTimeoutMillis) instead of failing, and _txlock=immediate takes the
// write lock at BEGIN, where busy_timeout applies, instead of failing with SQLITE_BUSY when
// a read lock cannot be upgraded. riversqlite asks for one connection per *sql.DB (River's
// own tests see SQLITE_BUSY with more), so River's work is serialized within River as
// Billow's writes are within the store. The file is not opened with foreign_keys: River's
// SQLite migrations rebuild tables and are tested without it.
const sqliteBusyTimeoutMillis = 10_000

// openSQLite opens River's connection to the store's SQLite file.
func openSQLite(db *sqlstore.DB) (*sql.DB, error) {
	path := db.SQLitePath()
	if path == "" {
		return nil, errors.New("jobs: the SQLite store has no file path")
	}
	dsn := fmt.Sprintf("file:%s?_pragma=journal_mode(WAL)&_pragma=busy_timeout(%d)&_pragma=synchronous(FULL)&_txlock=immediate", path, sqliteBusyTimeoutMillis)
	rdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("jobs: open %s: %w", path, err)
	}
	rdb.SetMaxOpenConns(1)
	rdb.SetMaxIdleConns(1)
	rdb.SetConnMaxLifetime(0)
	rdb.SetConnMaxIdleTime(0)
	return rdb, nil
}

// newClient returns a River client on the store's engine and the function that closes the
// connection it opened for River (nil when it opened none).
func newClient(db *sqlstore.DB, config *river.Config) (riverClient, func() error, error) {
	switch db.Dialect() {
	case sqlstore.Postgres:
		client, err := river.NewClient(riverpgxv5.New(db.Pool()), config)
		if err != nil {
			return nil, nil, fmt.Errorf("jobs: %w", err)
		}
		return client, nil, nil
	case sqlstore.SQLite:
		rdb, err := openSQLite(db)
		if err != nil {
			return nil, nil, err
		}
		client, err := river.NewClient(riversqlite.New(rdb), config)
		if err != nil {
			rdb.Close()
			return nil, nil, fmt.Errorf("jobs: %w", err)
		}
		return client, rdb.Close, nil
	}
	return nil, nil, fmt.Errorf("jobs: unknown store dialect %q", db.Dialect())
}

// migrateLockTimeout bounds the wait for the PostgreSQL lock that serializes Migrate
// across processes.
const migrateLockTimeout = 5 * time.Minute

// Migrate applies River's pending migrations to the store's database (River's tables:
// river_job, river_leader, river_queue, …, in the store's schema). It is idempotent. On
// PostgreSQL several processes may run it at once: they take turns on an advisory lock for
// the schema. A SQLite file serves one process, which should run it once, at start: two
// concurrent runs on one file may fail (rivermigrate takes no lock, and running all versions
// in one transaction is deprecated by River).
func Migrate(ctx context.Context, db *sqlstore.DB) error {
	switch db.Dialect() {
	case sqlstore.Postgres:
		return migratePostgres(ctx, db)
	case sqlstore.SQLite:
		rdb, err := openSQLite(db)
		if err != nil {
			return err
		}
		defer rdb.Close()
		return migrateUp(ctx, riversqlite.New(rdb))
	}
	return fmt.Errorf("jobs: unknown store dialect %q", db.Dialect())
}

func migratePostgres(ctx context.Context, db *sqlstore.DB) error {
	// rivermigrate takes no lock: two processes starting on a fresh database would both
	// create River's tables and one would fail. A session lock on a connection of its own
	// serializes them; the migrations then run on other connections of the pool.
	conn, err := db.Pool().Acquire(ctx)
	if err != nil {
		return fmt.Errorf("jobs: migrate: %w", err)
	}
	const key = "hashtextextended('billow.jobs.migrate.' || coalesce(current_schema(), ''), 0)"
	lockCtx, cancel := context.WithTimeout(ctx, migrateLockTimeout)
	_, err = conn.Exec(lockCtx, "SELECT pg_advisory_lock("+key+")")
	cancel()
	if err != nil {
		conn.Release()
		return fmt.Errorf("jobs: migrate: lock: %w", err)
	}
	defer func() {
		unlockCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopCancelWaitMax)
		defer cancel()
		if _, err := conn.Exec(unlockCtx, "SELECT pg_advisory_unlock("+key+")"); err != nil {
			// A connection that may still hold the lock must not go back to the pool.
			conn.Hijack().Close(unlockCtx)
			return
		}
		conn.Release()
	}()
	return migrateUp(ctx, riverpgxv5.New(db.Pool()))
}

func migrateUp[TTx any](ctx context.Context, driver riverdriver.Driver[TTx]) error {
	// River logs each applied version at info level; Migrate's callers have no logger to
	// give, and the versions are River's business, so its logs are dropped.
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("jobs: migrate: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("jobs: migrate: %w", err)
	}
	return nil
}
