// Package sqlstore is Billow's storage: one store for both engines, SQLite (embedded, the
// default) and PostgreSQL (production). The SQL is written once with $N placeholders,
// which both engines bind by position; the few differences live in dialect. Migrations
// are embedded per dialect and applied at start and by `billow migrate`.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/billowhq/billow"
)

//go:embed migrations
var migrations embed.FS

// Dialect names an engine.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Limits of the store, named with their unit last.
const (
	sqliteBusyTimeoutMillis = 10_000
	sqliteReadersMin        = 4
	// SQLiteFileName is the database file inside the data directory.
	SQLiteFileName = "billow.db"
)

// Config says which database to open.
type Config struct {
	// URL is empty for SQLite in DataDir, "sqlite:PATH" for a SQLite file elsewhere, or a
	// postgres:// or postgresql:// URL.
	URL     string
	DataDir string
	Logger  *slog.Logger
	Clock   billow.Clock
}

// DB is an open store. On SQLite, writes go through one connection (SQLite has one
// writer; queueing in Go is cheaper than busy-waiting in SQLite) and reads through a pool.
// On PostgreSQL both are the same pool.
type DB struct {
	dialect Dialect
	write   *sql.DB
	read    *sql.DB
	pool    *pgxpool.Pool // PostgreSQL only
	logger  *slog.Logger
	clock   billow.Clock
	where   string // for logs and errors: a path or a host, never a password

	catalogsMu sync.Mutex                   // protects the following field
	catalogs   map[catalogVersionKey]*entry // parsed catalog versions; immutable once stored

	zonesMu sync.Mutex // protects the following field
	zones   map[string]*time.Location

	ledgerQueue  groupCommit[*ledgerOp]       // group commit of ledger movements
	billingQueue groupCommit[*billingWriteOp] // group commit of billing decisions

	// hourlyOnly makes usage queries read hourly cells where day cells would do, so that
	// tests can compare the two.
	hourlyOnly bool
}

// postgresConnsDefault is the most connections a process opens to PostgreSQL unless the URL
// says otherwise (pool_max_conns=N): enough for an invoice run's workers
// (billing.RunWorkersDefault) to read while the group commit writes, and well inside
// PostgreSQL's default max_connections of 100 for two or three processes.
const postgresConnsDefault = 24

// Open opens the database named by cfg. It does not migrate: call Migrate.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = billow.SystemClock{}
	}
	db := &DB{logger: cfg.Logger, clock: cfg.Clock, catalogs: map[catalogVersionKey]*entry{}, zones: map[string]*time.Location{}}
	db.ledgerQueue = groupCommit[*ledgerOp]{opsMax: ledgerBatchOpsMax, timeout: ledgerBatchTimeout, write: db.writeLedgerBatch}
	db.billingQueue = groupCommit[*billingWriteOp]{opsMax: billingBatchWritesMax, timeout: billingBatchTimeout, write: db.writeBillingBatch}
	switch {
	case strings.HasPrefix(cfg.URL, "postgres://"), strings.HasPrefix(cfg.URL, "postgresql://"):
		if err := db.openPostgres(ctx, cfg.URL); err != nil {
			return nil, err
		}
	case cfg.URL == "" || strings.HasPrefix(cfg.URL, "sqlite:"):
		path := strings.TrimPrefix(cfg.URL, "sqlite:")
		if path == "" {
			if cfg.DataDir == "" {
				return nil, errors.New("sqlstore: no data directory for the SQLite file")
			}
			if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
				return nil, fmt.Errorf("sqlstore: create data directory: %w", err)
			}
			path = filepath.Join(cfg.DataDir, SQLiteFileName)
		}
		if err := db.openSQLite(ctx, path); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("sqlstore: database URL must start with postgres://, postgresql:// or sqlite:, not %q", redactURL(cfg.URL))
	}
	return db, nil
}

func (db *DB) openSQLite(ctx context.Context, path string) error {
	db.dialect = SQLite
	db.where = path
	// temp_store(memory) keeps statement journals in memory: a group-committed batch
	// writes each decision under a savepoint, whose journal would otherwise be a file.
	pragmas := fmt.Sprintf("_pragma=journal_mode(WAL)&_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_pragma=temp_store(memory)", sqliteBusyTimeoutMillis)
	// _txlock=immediate takes the write lock at BEGIN, so two writers never deadlock on
	// upgrading a read lock; there is one writer connection anyway.
	w, err := openSQLiteDB("file:" + path + "?" + pragmas + "&_txlock=immediate")
	if err != nil {
		return fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	r, err := openSQLiteDB("file:" + path + "?" + pragmas + "&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	readers := max(sqliteReadersMin, runtime.NumCPU())
	r.SetMaxOpenConns(readers)
	// Idle readers stay open with the statements they keep: database/sql's default of two
	// idle connections closed and reopened the others under an invoice run.
	r.SetMaxIdleConns(readers)
	db.write, db.read = w, r
	if err := w.PingContext(ctx); err != nil {
		db.Close()
		return fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	return nil
}

func (db *DB) openPostgres(ctx context.Context, rawURL string) error {
	db.dialect = Postgres
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return fmt.Errorf("sqlstore: parse PostgreSQL URL %s: %w", redactURL(rawURL), err)
	}
	db.where = fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	if !strings.Contains(rawURL, "pool_max_conns=") {
		// pgx's default, max(4, CPUs), starves an invoice run's workers on a small machine.
		cfg.MaxConns = max(cfg.MaxConns, postgresConnsDefault)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("sqlstore: connect to %s: %w", db.where, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return fmt.Errorf("sqlstore: connect to %s: %w", db.where, err)
	}
	db.pool = pool
	db.write = stdlib.OpenDBFromPool(pool)
	db.read = db.write
	return nil
}

// Dialect returns the engine of the store.
func (db *DB) Dialect() Dialect { return db.dialect }

// Where names the database for logs: a file path or host:port/database.
func (db *DB) Where() string { return db.where }

// Pool returns the PostgreSQL pool, or nil on SQLite.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// SQLitePath returns the path of the SQLite file, or "" on PostgreSQL: for a component
// that needs connections of its own to the same file (the job queue).
func (db *DB) SQLitePath() string {
	if db.dialect != SQLite {
		return ""
	}
	return db.where
}

// Close closes every connection.
func (db *DB) Close() error {
	var errs []error
	if db.read != nil && db.read != db.write {
		errs = append(errs, db.read.Close())
	}
	if db.write != nil {
		errs = append(errs, db.write.Close())
	}
	if db.pool != nil {
		db.pool.Close()
	}
	return errors.Join(errs...)
}

// Ping checks that the database answers, on the write path.
func (db *DB) Ping(ctx context.Context) error {
	return db.write.PingContext(ctx)
}

func (db *DB) migrationProvider() (*goose.Provider, error) {
	sub, err := fs.Sub(migrations, "migrations/"+string(db.dialect))
	if err != nil {
		return nil, err
	}
	dialect := goose.DialectSQLite3
	if db.dialect == Postgres {
		dialect = goose.DialectPostgres
	}
	return goose.NewProvider(dialect, db.write, sub)
}

// Migrate applies every pending migration and reports what it applied.
func (db *DB) Migrate(ctx context.Context) error {
	p, err := db.migrationProvider()
	if err != nil {
		return fmt.Errorf("sqlstore: migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: migrate %s: %w", db.where, err)
	}
	for _, r := range results {
		db.logger.Info("migration applied", slog.Group("migration", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration))
	}
	return nil
}

// MigrationsCurrent reports whether every embedded migration is applied.
func (db *DB) MigrationsCurrent(ctx context.Context) (bool, error) {
	p, err := db.migrationProvider()
	if err != nil {
		return false, err
	}
	pending, err := p.HasPending(ctx)
	return !pending, err
}

// tx runs fn in a write transaction and commits it when fn returns nil.
func (db *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: commit: %w", err)
	}
	return nil
}

// forUpdate is the clause that locks the rows a SELECT reads until the transaction ends:
// " FOR UPDATE" on PostgreSQL, where transactions write concurrently; nothing on SQLite,
// whose one write connection already serializes them.
func (db *DB) forUpdate() string {
	if db.dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// isUniqueViolation reports whether err is a unique or primary key violation on either engine.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var sqliteErr *sqlite.Error
	if errors.As(err, &sqliteErr) {
		code := sqliteErr.Code()
		return code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// isNotNullViolation reports whether err is a NOT NULL violation on either engine.
func isNotNullViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23502"
	}
	var sqliteErr *sqlite.Error
	return errors.As(err, &sqliteErr) && sqliteErr.Code() == sqlite3.SQLITE_CONSTRAINT_NOTNULL
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// now reads the injected clock at the precision times are stored in, so that an answer
// given at creation equals what a later read returns.
func (db *DB) now() time.Time { return db.clock.Now().Truncate(time.Microsecond) }
