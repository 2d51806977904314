package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/contract"
)

// AppsPerAccountMax bounds the apps AllApps returns; plans allow far fewer (agent slots).
const AppsPerAccountMax = 10_000

// eventColumns are written per event; 11 parameters a row keeps a batch of
// billow.EventBatchMax rows under both engines' parameter limits (SQLite 32,766,
// PostgreSQL 65,535) in one statement.
const eventColumns = `account_id, source, id, type, time, app_id, stream, data, content_hash, received_at, late`

// AllApps returns every app of an account, at most AppsPerAccountMax.
func (db *DB) AllApps(ctx context.Context, accountID string) ([]*billow.App, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+appColumns+` FROM apps WHERE account_id = $1 ORDER BY id LIMIT $2`,
		accountID, AppsPerAccountMax)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: apps of %s: %w", accountID, err)
	}
	page, err := collectPage(rows, AppsPerAccountMax, scanApp)
	return page.Data, err
}

// AccountCatalog returns the catalog version the account signed, with its contract
// applied when it has one: a copy whose contracted plan carries the contract's prices
// and limits (package contract). The cached version itself is shared by every account on
// it and never changes.
func (db *DB) AccountCatalog(ctx context.Context, a *billow.Account) (*catalog.Catalog, error) {
	cat, _, err := db.Catalog(ctx, a.Catalog, a.CatalogVersion)
	if err != nil || a.Contract == nil {
		return cat, err
	}
	contracted, err := contract.Apply(cat, &a.Contract.ContractTerms)
	if err != nil {
		// SetContract and MigrateAccountCatalog store only a contract that fits the
		// version: one that no longer does is a broken invariant, not a price to guess.
		return nil, fmt.Errorf("sqlstore: the contract of account %s does not fit catalog %q version %d: %s",
			a.ID, a.Catalog, a.CatalogVersion, err.Error())
	}
	return contracted, nil
}

// accountAndCatalog returns the account with the given id or external id and the catalog
// version it signed.
func (db *DB) accountAndCatalog(ctx context.Context, ref string) (*billow.Account, *catalog.Catalog, error) {
	a, err := db.Account(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	cat, err := db.AccountCatalog(ctx, a)
	return a, cat, err
}

type eventKey struct{ account, source, id string }

// InsertEvents stores the events not stored yet, all in one transaction, and reports
// the indexes of the others: duplicates (same key, same content hash: the event was
// counted before and is not counted again) and conflicts (same key, other content: the
// first event is kept). An event is marked late when its time is before its account's
// usage_closed_before, read in the same transaction.
func (db *DB) InsertEvents(ctx context.Context, events []billow.UsageEvent) (duplicates, conflicts []int, err error) {
	if len(events) > billow.EventBatchMax {
		return nil, nil, fmt.Errorf("sqlstore: %d events in one insert; at most %d", len(events), billow.EventBatchMax)
	}
	// A key twice in one batch: the first occurrence is the one stored.
	first := make(map[eventKey]int, len(events))
	todo := make([]int, 0, len(events))
	for i := range events {
		k := eventKey{events[i].AccountID, events[i].Source, events[i].ID}
		if j, seen := first[k]; seen {
			if events[j].ContentHash == events[i].ContentHash {
				duplicates = append(duplicates, i)
			} else {
				conflicts = append(conflicts, i)
			}
			continue
		}
		first[k] = i
		todo = append(todo, i)
	}
	var (
		notInserted []int
		hashes      map[eventKey]string
	)
	if db.dialect == Postgres {
		notInserted, hashes, err = db.insertEventsPostgres(ctx, events, todo)
	} else {
		notInserted, hashes, err = db.insertEventsSQLite(ctx, events, todo)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("sqlstore: insert events: %w", err)
	}
	for _, i := range notInserted {
		if hashes[eventKey{events[i].AccountID, events[i].Source, events[i].ID}] == events[i].ContentHash {
			duplicates = append(duplicates, i)
		} else {
			conflicts = append(conflicts, i)
		}
	}
	return duplicates, conflicts, nil
}

// insertEventsSQLite is InsertEvents' SQLite path: one multi-row INSERT that skips keys
// already stored, in one transaction. It returns the indexes it did not insert with the
// content hashes stored under their keys.
func (db *DB) insertEventsSQLite(ctx context.Context, events []billow.UsageEvent, todo []int) (notInserted []int, hashes map[eventKey]string, err error) {
	err = db.tx(ctx, func(tx *sql.Tx) error {
		accounts, err := db.batchAccounts(ctx, tx, events, todo)
		if err != nil {
			return err
		}
		inserted, err := db.insertEventRows(ctx, tx, events, todo, accounts)
		if err != nil {
			return err
		}
		var fresh []int
		fresh, notInserted = splitInserted(events, todo, inserted)
		if err := db.applyRollups(ctx, sqlTxq{tx}, events, fresh, accounts, false); err != nil {
			return err
		}
		if len(notInserted) == 0 {
			return nil
		}
		hashes, err = db.storedHashes(ctx, tx, events, notInserted)
		return err
	})
	return notInserted, hashes, err
}

// batchAccounts reads, for each account of the batch, its closing time and catalog
// version (SQLite: the write transaction already keeps billing from closing a period in
// between).
func (db *DB) batchAccounts(ctx context.Context, tx *sql.Tx, events []billow.UsageEvent, todo []int) (map[string]accountRef, error) {
	ids := batchAccountIDs(events, todo)
	accounts := make(map[string]accountRef, len(ids))
	if len(ids) == 0 {
		return accounts, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, `+accountRefColumns+` FROM accounts WHERE id IN (`+db.params(1, len(ids))+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		ref, err := scanAccountRef(rows, &id)
		if err != nil {
			return nil, err
		}
		accounts[id] = ref
	}
	return accounts, rows.Err()
}

// batchAccountIDs lists the accounts of the events at todo, once each.
func batchAccountIDs(events []billow.UsageEvent, todo []int) []string {
	seen := map[string]bool{}
	var ids []string
	for _, i := range todo {
		if a := events[i].AccountID; !seen[a] {
			seen[a] = true
			ids = append(ids, a)
		}
	}
	return ids
}

// insertEventRows inserts the events at todo in one multi-row statement and returns the
// keys it inserted; rows whose key is already stored are skipped by ON CONFLICT.
func (db *DB) insertEventRows(ctx context.Context, tx *sql.Tx, events []billow.UsageEvent, todo []int, accounts map[string]accountRef) (map[eventKey]bool, error) {
	inserted := make(map[eventKey]bool, len(todo))
	if len(todo) == 0 {
		return inserted, nil
	}
	const perRow = 11
	var q strings.Builder
	q.Grow(64 + len(todo)*perRow*6)
	q.WriteString(`INSERT INTO events (` + eventColumns + `) VALUES `)
	args := make([]any, 0, len(todo)*perRow)
	for n, i := range todo {
		e := &events[i]
		if n > 0 {
			q.WriteByte(',')
		}
		q.WriteByte('(')
		q.WriteString(db.params(n*perRow+1, perRow))
		q.WriteByte(')')
		us := e.Time.UnixMicro()
		args = append(args, e.AccountID, e.Source, e.ID, e.Type, us, nullString(e.AppID), e.Stream, string(e.Data),
			e.ContentHash, billow.TimeMicros(e.ReceivedAt), us < accounts[e.AccountID].closedBefore)
	}
	q.WriteString(` ON CONFLICT (account_id, source, id) DO NOTHING RETURNING account_id, source, id`)
	rows, err := tx.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k eventKey
		if err := rows.Scan(&k.account, &k.source, &k.id); err != nil {
			return nil, err
		}
		inserted[k] = true
	}
	return inserted, rows.Err()
}

// storedHashes reads the content hashes of already stored events.
func (db *DB) storedHashes(ctx context.Context, tx *sql.Tx, events []billow.UsageEvent, at []int) (map[eventKey]string, error) {
	var q strings.Builder
	q.WriteString(`SELECT account_id, source, id, content_hash FROM events WHERE (account_id, source, id) IN (VALUES `)
	args := make([]any, 0, 3*len(at))
	for n, i := range at {
		if n > 0 {
			q.WriteByte(',')
		}
		q.WriteString("(" + db.params(n*3+1, 3) + ")")
		args = append(args, events[i].AccountID, events[i].Source, events[i].ID)
	}
	q.WriteByte(')')
	rows, err := tx.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	hashes := make(map[eventKey]string, len(at))
	for rows.Next() {
		var k eventKey
		var h string
		if err := rows.Scan(&k.account, &k.source, &k.id, &h); err != nil {
			return nil, err
		}
		hashes[k] = h
	}
	return hashes, rows.Err()
}

// params returns the placeholders of n parameters numbered from `from`, for statements
// whose parameter count grows with a batch. PostgreSQL gets "$from, …". SQLite gets
// plain "?": it treats $N as a named variable and resolves each name by scanning a list,
// which made an 11,000-parameter insert quadratic (90% of ingest time in the profile).
// Anonymous parameters bind by position, so their order must follow from.
func (db *DB) params(from, n int) string {
	var b strings.Builder
	b.Grow(n * 7)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		if db.dialect == SQLite {
			b.WriteByte('?')
		} else {
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(from + i))
		}
	}
	return b.String()
}

// CountEvents counts the stored events of an account, or of all accounts when accountID
// is empty.
func (db *DB) CountEvents(ctx context.Context, accountID string) (int64, error) {
	var n int64
	err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM events WHERE $1 = '' OR account_id = $1`, accountID).Scan(&n)
	return n, err
}

// CloseUsageBefore records that the account's usage before t is invoiced and final:
// events for that time that arrive later are marked late. The mark never moves back.
//
// Errors: not_found.
func (db *DB) CloseUsageBefore(ctx context.Context, accountID string, t time.Time) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET usage_closed_before = $2 WHERE id = $1 AND usage_closed_before < $2`,
			accountID, billow.TimeMicros(t))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var exists int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE id = $1`, accountID).Scan(&exists); err != nil {
				return err
			}
			if exists == 0 {
				return billow.NotFound("account", accountID)
			}
		}
		return nil
	})
}

// LateEvents returns up to limit events of the account marked late, oldest first: usage
// that arrived for a period whose invoice was final, to be billed as an adjustment.
func (db *DB) LateEvents(ctx context.Context, accountID string, limit int) ([]billow.UsageEvent, error) {
	// "AND late", not a parameter: the planners use the partial index events_account_late
	// only when the query states its condition.
	rows, err := db.read.QueryContext(ctx, `SELECT `+eventColumns+` FROM events WHERE account_id = $1 AND late
		ORDER BY time, source, id LIMIT $2`, accountID, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: late events: %w", err)
	}
	defer rows.Close()
	return scanEvents(rows)
}

// RawInsertEvents writes events the fastest way the engine has, with no conflict
// handling, nothing read back and no late marks: a multi-row INSERT on SQLite, binary
// COPY on PostgreSQL. It is the physical limit benchmarks compare InsertEvents with (the
// same rows into the same table, in the same run); it is not for ingest, which must
// deduplicate.
func (db *DB) RawInsertEvents(ctx context.Context, events []billow.UsageEvent) error {
	if db.dialect == Postgres {
		return db.rawCopyEvents(ctx, events)
	}
	const perRow = 11
	var q strings.Builder
	q.WriteString(`INSERT INTO events (` + eventColumns + `) VALUES `)
	args := make([]any, 0, len(events)*perRow)
	for n := range events {
		e := &events[n]
		if n > 0 {
			q.WriteByte(',')
		}
		q.WriteString("(" + db.params(n*perRow+1, perRow) + ")")
		args = append(args, e.AccountID, e.Source, e.ID, e.Type, e.Time.UnixMicro(), nullString(e.AppID), e.Stream, string(e.Data),
			e.ContentHash, billow.TimeMicros(e.ReceivedAt), false)
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, q.String(), args...)
		return err
	})
}

// splitInserted tells the events at todo that an insert stored (fresh) from those whose
// key was already stored.
func splitInserted(events []billow.UsageEvent, todo []int, inserted map[eventKey]bool) (fresh, notInserted []int) {
	for _, i := range todo {
		if inserted[eventKey{events[i].AccountID, events[i].Source, events[i].ID}] {
			fresh = append(fresh, i)
		} else {
			notInserted = append(notInserted, i)
		}
	}
	return fresh, notInserted
}
