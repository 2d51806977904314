package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/billowhq/billow"
)

// eventColumnList names the stored columns in the order rows are copied.
var eventColumnList = strings.Split(strings.ReplaceAll(eventColumns, " ", ""), ",")

// insertEventsPostgres is InsertEvents' PostgreSQL path: binary COPY into a temporary
// table, then one INSERT … SELECT that skips keys already stored, in one transaction.
// COPY cannot skip conflicts itself, and multi-row INSERTs are parsed and planned anew
// for every batch.
func (db *DB) insertEventsPostgres(ctx context.Context, events []billow.UsageEvent, todo []int) (notInserted []int, hashes map[eventKey]string, err error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback(ctx)
	// ON COMMIT DELETE ROWS empties the staging table at every commit; it lives as long as
	// the pooled connection.
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS events_staging (LIKE events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`); err != nil {
		return nil, nil, err
	}
	accounts := map[string]accountRef{}
	// Share-locked so that billing cannot close a period between this read and the insert.
	rows, err := tx.Query(ctx, `SELECT id, `+accountRefColumns+` FROM accounts WHERE id = ANY($1) FOR SHARE`,
		batchAccountIDs(events, todo))
	if err != nil {
		return nil, nil, err
	}
	for rows.Next() {
		var id string
		ref, err := scanAccountRef(rows, &id)
		if err != nil {
			rows.Close()
			return nil, nil, err
		}
		accounts[id] = ref
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	n := 0
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"events_staging"}, eventColumnList, pgx.CopyFromFunc(func() ([]any, error) {
		if n == len(todo) {
			return nil, nil
		}
		e := &events[todo[n]]
		n++
		us := e.Time.UnixMicro()
		return []any{e.AccountID, e.Source, e.ID, e.Type, us, nullString(e.AppID), e.Stream, string(e.Data),
			e.ContentHash, billow.TimeMicros(e.ReceivedAt), us < accounts[e.AccountID].closedBefore}, nil
	}))
	if err != nil {
		return nil, nil, fmt.Errorf("copy: %w", err)
	}
	inserted := make(map[eventKey]bool, len(todo))
	rows, err = tx.Query(ctx, `INSERT INTO events (`+eventColumns+`) SELECT `+eventColumns+` FROM events_staging
		ON CONFLICT (account_id, source, id) DO NOTHING RETURNING account_id, source, id`)
	if err != nil {
		return nil, nil, err
	}
	for rows.Next() {
		var k eventKey
		if err := rows.Scan(&k.account, &k.source, &k.id); err != nil {
			rows.Close()
			return nil, nil, err
		}
		inserted[k] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	fresh, notInserted := splitInserted(events, todo, inserted)
	if err := db.applyRollups(ctx, pgxTxq{tx}, events, fresh, accounts, true); err != nil {
		return nil, nil, err
	}
	hashes = make(map[eventKey]string, len(notInserted))
	if len(notInserted) > 0 {
		accountIDs, sources, eventIDs := make([]string, len(notInserted)), make([]string, len(notInserted)), make([]string, len(notInserted))
		for n, i := range notInserted {
			accountIDs[n], sources[n], eventIDs[n] = events[i].AccountID, events[i].Source, events[i].ID
		}
		rows, err := tx.Query(ctx, `SELECT e.account_id, e.source, e.id, e.content_hash FROM events e
			JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(account_id, source, id)
			  ON e.account_id = k.account_id AND e.source = k.source AND e.id = k.id`, accountIDs, sources, eventIDs)
		if err != nil {
			return nil, nil, err
		}
		for rows.Next() {
			var k eventKey
			var h string
			if err := rows.Scan(&k.account, &k.source, &k.id, &h); err != nil {
				rows.Close()
				return nil, nil, err
			}
			hashes[k] = h
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nil, err
		}
	}
	return notInserted, hashes, tx.Commit(ctx)
}

// rawCopyEvents is the PostgreSQL physical limit for benchmarks: binary COPY of the rows
// straight into the events table, in one transaction, with no conflict handling.
func (db *DB) rawCopyEvents(ctx context.Context, events []billow.UsageEvent) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"events"}, eventColumnList, pgx.CopyFromSlice(len(events), func(i int) ([]any, error) {
		e := &events[i]
		return []any{e.AccountID, e.Source, e.ID, e.Type, e.Time.UnixMicro(), nullString(e.AppID), e.Stream, string(e.Data),
			e.ContentHash, billow.TimeMicros(e.ReceivedAt), false}, nil
	}))
	if err != nil {
		return err
	}
	return tx.Commit(ctx)
}
