package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
)

// A kept statement runs once at a time: a query made again while the rows of its first
// run are open (a loop over rows within a transaction) reads its own rows, and both
// loops see every row. A kept statement sees a table changed by a migration.
func TestSQLiteKeptStatements(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.write.ExecContext(ctx, `CREATE TABLE kept (n INTEGER NOT NULL); INSERT INTO kept VALUES (1), (2), (3)`); err != nil {
		t.Fatal(err)
	}
	const q = `SELECT n FROM kept WHERE n >= $1 ORDER BY n`
	pairs := 0
	err = db.tx(ctx, func(tx *sql.Tx) error {
		outer, err := tx.QueryContext(ctx, q, 1)
		if err != nil {
			return err
		}
		defer outer.Close()
		for outer.Next() {
			var n int
			if err := outer.Scan(&n); err != nil {
				return err
			}
			inner, err := tx.QueryContext(ctx, q, n) // the same text, while outer is open
			if err != nil {
				return err
			}
			for inner.Next() {
				pairs++
			}
			if err := inner.Close(); err != nil {
				return err
			}
		}
		return outer.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if pairs != 3+2+1 {
		t.Errorf("%d pairs read, want 6", pairs)
	}

	// The statement is kept, and runs again after the table gains a column.
	var sum int
	if err := db.write.QueryRowContext(ctx, `SELECT sum(n) FROM kept`).Scan(&sum); err != nil || sum != 6 {
		t.Fatalf("sum = %d, %v; want 6", sum, err)
	}
	if _, err := db.write.ExecContext(ctx, `ALTER TABLE kept ADD COLUMN m INTEGER NOT NULL DEFAULT 10`); err != nil {
		t.Fatal(err)
	}
	var all string
	if err := db.write.QueryRowContext(ctx, `SELECT group_concat(n || ':' || m) FROM kept`).Scan(&all); err != nil || all != "1:10,2:10,3:10" {
		t.Fatalf("rows = %q, %v", all, err)
	}
	if err := db.write.QueryRowContext(ctx, `SELECT sum(n) FROM kept`).Scan(&sum); err != nil || sum != 6 {
		t.Fatalf("sum after the migration = %d, %v; want 6", sum, err)
	}

	// More distinct statements than a connection keeps still run.
	for i := range sqliteStmtsPerConnMax + 10 {
		var got int
		if err := db.write.QueryRowContext(ctx, fmt.Sprintf(`SELECT %d`, i)).Scan(&got); err != nil || got != i {
			t.Fatalf("SELECT %d = %d, %v", i, got, err)
		}
	}
}
