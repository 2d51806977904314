package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/meter"
	"github.com/billowhq/billow/usage"
)

// rollupDeltasPerStatementMax keeps an upsert of deltas within both engines' parameter
// limits (6 parameters a row).
const rollupDeltasPerStatementMax = 1000

// txq is a write transaction of either engine, for the code both ingest paths share.
type txq interface {
	query(ctx context.Context, q string, args ...any) (rowIter, error)
	exec(ctx context.Context, q string, args ...any) error
}

type rowIter interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

type sqlTxq struct{ tx *sql.Tx }

func (t sqlTxq) query(ctx context.Context, q string, args ...any) (rowIter, error) {
	rows, err := t.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (t sqlTxq) exec(ctx context.Context, q string, args ...any) error {
	_, err := t.tx.ExecContext(ctx, q, args...)
	return err
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }

type pgxTxq struct{ tx pgx.Tx }

func (t pgxTxq) query(ctx context.Context, q string, args ...any) (rowIter, error) {
	return t.tx.Query(ctx, q, args...)
}

func (t pgxTxq) exec(ctx context.Context, q string, args ...any) error {
	_, err := t.tx.Exec(ctx, q, args...)
	return err
}

// accountRef is what rollups need of an account in the insert transaction.
type accountRef struct {
	closedBefore   int64
	catalog        string
	catalogVersion int64
}

// sessionStreamLocks returns the advisory lock keys of the session streams a batch
// touches, sorted so that transactions take them in one order and never deadlock.
// PostgreSQL only: two transactions adding to one conversation would otherwise each
// compute its sessions without the other's events.
func sessionStreamLocks(events []billow.UsageEvent, todo []int) []int64 {
	seen := map[int64]bool{}
	var keys []int64
	for _, i := range todo {
		e := &events[i]
		if !usage.IsSessionEvent(e.Type) || e.Stream == "" {
			continue
		}
		h := fnv.New64a()
		h.Write([]byte(e.AccountID + "\x00" + e.Stream))
		k := int64(h.Sum64())
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// applyRollups adds the rollup deltas of the newly inserted events (at inserted), inside
// the insert's transaction q, after their rows are written.
func (db *DB) applyRollups(ctx context.Context, q txq, events []billow.UsageEvent, inserted []int, accounts map[string]accountRef) error {
	byAccount := map[string][]int{}
	var order []string
	for _, i := range inserted {
		a := events[i].AccountID
		if _, ok := byAccount[a]; !ok {
			order = append(order, a)
		}
		byAccount[a] = append(byAccount[a], i)
	}
	for _, accountID := range order {
		ref := accounts[accountID]
		cat, _, err := db.Catalog(ctx, ref.catalog, ref.catalogVersion)
		if err != nil {
			return err
		}
		idx := byAccount[accountID]
		fresh := make([]meter.Event, 0, len(idx))
		freshEvents := make([]billow.UsageEvent, 0, len(idx))
		freshKeys := make(map[eventKey]bool, len(idx))
		for _, i := range idx {
			me, err := usage.MeterEvent(&events[i])
			if err != nil {
				return err
			}
			fresh = append(fresh, me)
			freshEvents = append(freshEvents, events[i])
			freshKeys[eventKey{accountID, events[i].Source, events[i].ID}] = true
		}
		deltas, err := usage.AdditiveDeltas(cat, fresh)
		if err != nil {
			return err
		}
		for i := range cat.Meters {
			m := &cat.Meters[i]
			if m.Aggregation != "sessions" {
				continue
			}
			d, err := db.sessionDeltas(ctx, q, accountID, m, freshEvents, freshKeys)
			if err != nil {
				return err
			}
			deltas = append(deltas, d...)
		}
		if err := db.upsertRollups(ctx, q, accountID, deltas); err != nil {
			return err
		}
	}
	return nil
}

// upsertRollups adds deltas to the account's rollup cells.
func (db *DB) upsertRollups(ctx context.Context, q txq, accountID string, deltas []usage.Delta) error {
	for len(deltas) > 0 {
		n := min(len(deltas), rollupDeltasPerStatementMax)
		var b strings.Builder
		b.WriteString(`INSERT INTO usage_rollups (account_id, meter, app_id, grp, hour, units) VALUES `)
		args := make([]any, 0, n*6)
		for k, d := range deltas[:n] {
			if k > 0 {
				b.WriteByte(',')
			}
			b.WriteString("(" + db.params(k*6+1, 6) + ")")
			args = append(args, accountID, d.Meter, d.AppID, d.Group, d.HourMicros, d.Units)
		}
		b.WriteString(` ON CONFLICT (account_id, meter, hour, app_id, grp) DO UPDATE SET units = usage_rollups.units + excluded.units`)
		if err := q.exec(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("rollups: %w", err)
		}
		deltas = deltas[n:]
	}
	return nil
}

// scanEvents reads every row of eventColumns.
func scanEvents(rows interface {
	Next() bool
	Scan(...any) error
	Err() error
}) ([]billow.UsageEvent, error) {
	var out []billow.UsageEvent
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// scanRollups reads rows of (meter, app_id, grp, hour, units).
func scanRollups(rows *sql.Rows) ([]RollupCell, error) {
	defer rows.Close()
	var out []RollupCell
	for rows.Next() {
		var c RollupCell
		if err := rows.Scan(&c.Meter, &c.AppID, &c.Group, &c.HourMicros, &c.Units); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// scanEvent reads a row of eventColumns.
func scanEvent(s interface{ Scan(...any) error }) (billow.UsageEvent, error) {
	var (
		e            billow.UsageEvent
		app          sql.NullString
		us, received int64
		data         string
	)
	if err := s.Scan(&e.AccountID, &e.Source, &e.ID, &e.Type, &us, &app, &e.Stream, &data, &e.ContentHash, &received, &e.Late); err != nil {
		return e, err
	}
	e.Time, e.ReceivedAt, e.AppID, e.Data = billow.FromMicros(us), billow.FromMicros(received), app.String, []byte(data)
	return e, nil
}

// rebuildChunkEvents bounds how many events a rebuild holds in memory at once.
const rebuildChunkEvents = 50_000

// RollupCell is one stored rollup cell.
type RollupCell struct {
	Meter      string
	AppID      string
	Group      string
	HourMicros int64
	Units      int64
}

// AllRollups returns every rollup cell of an account, for comparisons.
func (db *DB) AllRollups(ctx context.Context, accountID string) ([]RollupCell, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT meter, app_id, grp, hour, units FROM usage_rollups
		WHERE account_id = $1 ORDER BY meter, hour, app_id, grp`, accountID)
	if err != nil {
		return nil, err
	}
	return scanRollups(rows)
}

// RebuildRollups recomputes an account's rollups and session clusters from its raw
// events, in one transaction, and returns how many events it read. Events are read in pages ordered by
// stream, so a session stream is complete once the next stream begins; memory stays
// bounded by rebuildChunkEvents plus the largest stream.
func (db *DB) RebuildRollups(ctx context.Context, accountID string) (int64, error) {
	var read int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		q := sqlTxq{tx}
		var ref accountRef
		err := tx.QueryRowContext(ctx, `SELECT usage_closed_before, catalog, catalog_version FROM accounts WHERE id = $1`, accountID).
			Scan(&ref.closedBefore, &ref.catalog, &ref.catalogVersion)
		if err == sql.ErrNoRows {
			return billow.NotFound("account", accountID)
		}
		if err != nil {
			return err
		}
		cat, _, err := db.Catalog(ctx, ref.catalog, ref.catalogVersion)
		if err != nil {
			return err
		}
		for _, table := range []string{"usage_rollups", "session_clusters"} {
			if err := q.exec(ctx, `DELETE FROM `+table+` WHERE account_id = $1`, accountID); err != nil {
				return err
			}
		}
		// sessionDeltas computes the sessions of complete streams and stores their clusters.
		sessionDeltas := func(events []meter.Event, raw []billow.UsageEvent) ([]usage.Delta, error) {
			var out []usage.Delta
			for i := range cat.Meters {
				m := &cat.Meters[i]
				if m.Aggregation != "sessions" {
					continue
				}
				d, err := usage.SessionDeltas(m, nil, events)
				if err != nil {
					return nil, err
				}
				out = append(out, d...)
				times := map[clusterKey][]int64{}
				for j := range raw {
					if k, ok := clusterKeyOf(m, &raw[j]); ok {
						times[k] = append(times[k], raw[j].Time.UnixMicro())
					}
				}
				for k, ts := range times {
					if err := db.insertClusters(ctx, q, accountID, m.Key, k, mergeClusters(nil, ts, m.IdleTimeoutMinutes*60_000_000)); err != nil {
						return nil, err
					}
				}
			}
			return out, nil
		}
		var (
			pending                           []meter.Event // session events of the stream still being read
			pendingRaw                        []billow.UsageEvent
			pendingStream                     string
			afterStream, afterSource, afterID string
			afterTime                         int64
			first                             = true
		)
		for {
			page, err := db.eventPage(ctx, tx, accountID, first, afterStream, afterTime, afterSource, afterID)
			if err != nil {
				return err
			}
			if len(page) == 0 {
				break
			}
			first = false
			read += int64(len(page))
			last := page[len(page)-1]
			afterStream, afterTime, afterSource, afterID = last.Stream, last.Time.UnixMicro(), last.Source, last.ID
			additive := make([]meter.Event, 0, len(page))
			var complete []meter.Event
			var completeRaw []billow.UsageEvent
			for i := range page {
				me, err := usage.MeterEvent(&page[i])
				if err != nil {
					return err
				}
				additive = append(additive, me)
				if !usage.IsSessionEvent(page[i].Type) {
					continue
				}
				if page[i].Stream != pendingStream {
					complete, pending = append(complete, pending...), pending[:0]
					completeRaw, pendingRaw = append(completeRaw, pendingRaw...), pendingRaw[:0]
					pendingStream = page[i].Stream
				}
				pending = append(pending, me)
				pendingRaw = append(pendingRaw, page[i])
			}
			deltas, err := usage.AdditiveDeltas(cat, additive)
			if err != nil {
				return err
			}
			d, err := sessionDeltas(complete, completeRaw)
			if err != nil {
				return err
			}
			if err := db.upsertRollups(ctx, q, accountID, usage.Merge(append(deltas, d...))); err != nil {
				return err
			}
		}
		d, err := sessionDeltas(pending, pendingRaw)
		if err != nil {
			return err
		}
		return db.upsertRollups(ctx, q, accountID, d)
	})
	return read, err
}

// eventPage reads the next page of an account's events in (stream, time, source, id)
// order, after the given position.
func (db *DB) eventPage(ctx context.Context, tx *sql.Tx, accountID string, first bool, stream string, time int64, source, id string) ([]billow.UsageEvent, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+eventColumns+` FROM events WHERE account_id = $1
		AND ($2 OR (stream, time, source, id) > ($3, $4, $5, $6))
		ORDER BY stream, time, source, id LIMIT $7`, accountID, first, stream, time, source, id, rebuildChunkEvents)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanEvents(rows)
}
