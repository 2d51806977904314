package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"strings"

	"modernc.org/sqlite"
)

// The SQLite driver parses and plans every query it is given, and database/sql asks it
// afresh for each call: on an invoice run, parsing was a third of the CPU. A connection
// here keeps the statements it has prepared, by their text, and runs a query again on
// its prepared statement. SQLite re-prepares a kept statement by itself when the schema
// changes.

// sqliteStmtsPerConnMax bounds the statements one connection keeps: the store's queries
// are a fixed set, but some are built with a varying number of placeholders, and those
// beyond the bound are prepared and closed each time, as without the cache.
const sqliteStmtsPerConnMax = 512

// openSQLiteDB opens a pool of SQLite connections that keep their prepared statements.
func openSQLiteDB(dsn string) (*sql.DB, error) {
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(stmtCachingConnector{c}), nil
}

// stmtCachingConnector opens the driver's connections and wraps them.
type stmtCachingConnector struct{ driver.Connector }

func (c stmtCachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &stmtCachingConn{conn: conn.(sqliteDriverConn), stmts: map[string]*keptStmt{}}, nil
}

// sqliteDriverConn is what database/sql uses of the driver's connection.
type sqliteDriverConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// sqliteStmt is what the cache uses of the driver's statement.
type sqliteStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// stmtCachingConn is one SQLite connection and its kept statements. database/sql uses a
// connection from one goroutine at a time, so the map needs no lock.
type stmtCachingConn struct {
	conn  sqliteDriverConn
	stmts map[string]*keptStmt
}

// keptStmt is a prepared statement and whether rows read from it are still open: a
// statement runs once at a time, so a query made while its rows are open (in a loop
// over them, within a transaction) gets a statement of its own.
type keptStmt struct {
	stmt sqliteStmt
	busy bool
}

// kept returns the connection's statement for query, preparing and keeping it the first
// time; nil when query is not to be kept (a script of several statements, a statement in
// use, a full cache).
func (c *stmtCachingConn) kept(ctx context.Context, query string) (*keptStmt, error) {
	if k, ok := c.stmts[query]; ok {
		if k.busy {
			return nil, nil
		}
		return k, nil
	}
	if len(c.stmts) >= sqliteStmtsPerConnMax || strings.Contains(strings.TrimRight(query, "; \t\n"), ";") {
		return nil, nil
	}
	s, err := c.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	k := &keptStmt{stmt: s.(sqliteStmt)}
	c.stmts[query] = k
	return k, nil
}

func (c *stmtCachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	k, err := c.kept(ctx, query)
	if err != nil {
		return nil, err
	}
	if k == nil {
		return c.conn.ExecContext(ctx, query, args)
	}
	return k.stmt.ExecContext(ctx, args)
}

func (c *stmtCachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	k, err := c.kept(ctx, query)
	if err != nil {
		return nil, err
	}
	if k == nil {
		return c.conn.QueryContext(ctx, query, args)
	}
	rows, err := k.stmt.QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	k.busy = true
	return &keptRows{Rows: rows, kept: k}, nil
}

func (c *stmtCachingConn) Close() error {
	for _, k := range c.stmts {
		k.stmt.Close()
	}
	c.stmts = nil
	return c.conn.Close()
}

func (c *stmtCachingConn) Prepare(query string) (driver.Stmt, error) { return c.conn.Prepare(query) }
func (c *stmtCachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.conn.PrepareContext(ctx, query)
}
func (c *stmtCachingConn) Begin() (driver.Tx, error) { return c.conn.Begin() } //nolint:staticcheck // required by driver.Conn
func (c *stmtCachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.conn.BeginTx(ctx, opts)
}
func (c *stmtCachingConn) Ping(ctx context.Context) error         { return c.conn.Ping(ctx) }
func (c *stmtCachingConn) ResetSession(ctx context.Context) error { return c.conn.ResetSession(ctx) }
func (c *stmtCachingConn) IsValid() bool                          { return c.conn.IsValid() }

// keptRows frees its statement for the next query once closed.
type keptRows struct {
	driver.Rows
	kept *keptStmt
}

func (r *keptRows) Close() error {
	r.kept.busy = false
	return r.Rows.Close()
}
