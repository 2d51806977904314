package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/meter"
	"github.com/billowhq/billow/usage"
)

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
	timezone       string
	daysZone       string // the zone its day cells follow; see days
}

// accountRefColumns are read into an accountRef by scanAccountRef.
const accountRefColumns = `usage_closed_before, catalog, catalog_version, timezone, usage_days_zone`

func scanAccountRef(s interface{ Scan(...any) error }, dest ...any) (accountRef, error) {
	var ref accountRef
	err := s.Scan(append(dest, &ref.closedBefore, &ref.catalog, &ref.catalogVersion, &ref.timezone, &ref.daysZone)...)
	return ref, err
}

// days returns the day map the account's day cells are kept by, or nil when they are
// not kept: usage stored before day cells existed, until `billow meters rebuild`.
func (db *DB) days(ref accountRef) (*usage.Days, error) {
	if ref.daysZone == "" || ref.daysZone != ref.timezone {
		return nil, nil
	}
	loc, err := db.zone(ref.timezone)
	if err != nil {
		return nil, err
	}
	return usage.NewDays(loc), nil
}

// rollupLocks returns the PostgreSQL advisory lock keys a batch of one account needs
// before its rollups are read and written, sorted so that transactions take them in one
// order and never deadlock: one per session stream it touches (two transactions
// extending one conversation would each merge its clusters without the other's events)
// and one per concurrency meter it feeds (each would recompute peaks without the other's
// events). Taken after the events are written and before any rollup is, the locks
// serialize only the rollup work of batches that share a stream or a meter.
func rollupLocks(accountID string, cat *catalog.Catalog, events []billow.UsageEvent) []int64 {
	seen := map[int64]bool{}
	var keys []int64
	add := func(k int64) {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for i := range events {
		if e := &events[i]; usage.IsSessionEvent(e.Type) && e.Stream != "" {
			add(lockKey(accountID, e.Stream))
		}
	}
	for i := range cat.Meters {
		m := &cat.Meters[i]
		if m.Aggregation == catalog.AggregationConcurrency && slices.ContainsFunc(events, func(e billow.UsageEvent) bool { return slices.Contains(m.EventTypes, e.Type) }) {
			add(lockKey(accountID, "peaks", m.Key))
		}
	}
	slices.Sort(keys)
	return keys
}

// applyRollups brings the rollups of the newly inserted events (at inserted) up to
// date, inside the insert's transaction q, after their rows are written. shared says
// whether other transactions may write these accounts' rollups meanwhile (ingest on
// PostgreSQL): then the streams and meters touched are locked first (rollupLocks). A
// rebuild holds its account's row exclusively and takes no such locks, which would
// otherwise pile up over its whole replay past PostgreSQL's lock table.
func (db *DB) applyRollups(ctx context.Context, q txq, events []billow.UsageEvent, inserted []int, accounts map[string]accountRef, shared bool) error {
	byAccount := map[string][]int{}
	var order []string
	for _, i := range inserted {
		a := events[i].AccountID
		if _, ok := byAccount[a]; !ok {
			order = append(order, a)
		}
		byAccount[a] = append(byAccount[a], i)
	}
	// Accounts in one order in every batch, so that two batches naming the same accounts
	// take their locks in the same (account, key) order on PostgreSQL and never deadlock.
	slices.Sort(order)
	for _, accountID := range order {
		ref := accounts[accountID]
		cat, _, err := db.Catalog(ctx, ref.catalog, ref.catalogVersion)
		if err != nil {
			return err
		}
		idx := byAccount[accountID]
		fresh := make([]meter.Event, 0, len(idx))
		freshEvents := make([]billow.UsageEvent, 0, len(idx))
		for _, i := range idx {
			me, err := usage.MeterEvent(&events[i])
			if err != nil {
				return err
			}
			fresh = append(fresh, me)
			freshEvents = append(freshEvents, events[i])
		}
		if shared && db.dialect == Postgres { // SQLite has one writer
			if locks := rollupLocks(accountID, cat, freshEvents); len(locks) > 0 {
				if err := q.exec(ctx, `SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k ORDER BY k`, locks); err != nil {
					return err
				}
			}
		}
		days, err := db.days(ref)
		if err != nil {
			return err
		}
		w := cellWriter{db: db, q: q, accountID: accountID, days: days}
		deltas, err := w.applyCells(ctx, cat, fresh)
		if err != nil {
			return err
		}
		for i := range cat.Meters {
			m := &cat.Meters[i]
			switch m.Aggregation {
			case catalog.AggregationSessions:
				d, err := db.sessionDeltas(ctx, q, accountID, m, freshEvents, fresh)
				if err != nil {
					return err
				}
				deltas = append(deltas, d...)
			case catalog.AggregationConcurrency:
				ranges, err := usage.PeakRanges(m, fresh)
				if err != nil {
					return err
				}
				if err := w.recomputePeaks(ctx, m, ranges); err != nil {
					return err
				}
			}
		}
		merged, err := usage.Merge(deltas)
		if err != nil {
			return err
		}
		if err := w.write(ctx, usage.CombineAdd, merged); err != nil {
			return err
		}
	}
	return nil
}

// eventsOfTypes reads an account's events of the given types in [from, to), as meter events.
func (db *DB) eventsOfTypes(ctx context.Context, q txq, accountID string, types []string, from, to int64) ([]meter.Event, error) {
	args := []any{accountID}
	for _, t := range types {
		args = append(args, t)
	}
	args = append(args, from, to)
	rows, err := q.query(ctx, `SELECT `+eventColumns+` FROM events WHERE account_id = `+db.params(1, 1)+
		` AND type IN (`+db.params(2, len(types))+`) AND time >= `+db.params(len(types)+2, 1)+` AND time < `+db.params(len(types)+3, 1), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []meter.Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		me, err := usage.MeterEvent(&e)
		if err != nil {
			return nil, err
		}
		out = append(out, me)
	}
	return out, rows.Err()
}

// lockKey is a PostgreSQL advisory lock key for the parts of a name.
func lockKey(parts ...string) int64 {
	h := fnv.New64a()
	h.Write([]byte(strings.Join(parts, "\x00")))
	return int64(h.Sum64())
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

// RollupCell is one stored rollup cell.
type RollupCell struct {
	Meter      string
	AppID      string
	Group      string
	HourMicros int64
	Units      int64
}

// AllRollups returns every hourly rollup cell of an account, for comparisons.
func (db *DB) AllRollups(ctx context.Context, accountID string) ([]RollupCell, error) {
	return db.allCells(ctx, hourCells, accountID)
}

// AllDayCells returns every day cell of an account, for comparisons; HourMicros is the
// first hour of the day.
func (db *DB) AllDayCells(ctx context.Context, accountID string) ([]RollupCell, error) {
	return db.allCells(ctx, dayCells, accountID)
}

func (db *DB) allCells(ctx context.Context, table, accountID string) ([]RollupCell, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT meter, app_id, grp, hour, units FROM `+table+`
		WHERE account_id = $1 ORDER BY meter, hour, app_id, grp`, accountID)
	if err != nil {
		return nil, err
	}
	return scanRollups(rows)
}

// UniqueValue is one stored distinct value of a unique_count meter in an hour.
type UniqueValue struct {
	Meter      string
	AppID      string
	Group      string
	HourMicros int64
	Value      string
}

// AllUniqueValues returns every distinct value stored for an account per hour, for
// comparisons.
func (db *DB) AllUniqueValues(ctx context.Context, accountID string) ([]UniqueValue, error) {
	return db.allUniques(ctx, hourUniques, accountID)
}

// AllDayUniqueValues returns every distinct value stored for an account per day, for
// comparisons; HourMicros is the first hour of the day.
func (db *DB) AllDayUniqueValues(ctx context.Context, accountID string) ([]UniqueValue, error) {
	return db.allUniques(ctx, dayUniques, accountID)
}

func (db *DB) allUniques(ctx context.Context, table, accountID string) ([]UniqueValue, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT meter, app_id, grp, hour, value FROM `+table+`
		WHERE account_id = $1 ORDER BY meter, grp, hour, app_id, value`, accountID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []UniqueValue
	for rows.Next() {
		var u UniqueValue
		if err := rows.Scan(&u.Meter, &u.AppID, &u.Group, &u.HourMicros, &u.Value); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// RebuildRollups recomputes an account's rollups and session clusters from its raw events,
// in one transaction, and returns how many events it read. It replays the events through
// the path ingest takes, a batch at a time in time order: the rollups do not depend on
// arrival order (see package usage), so the replay makes the cells a single batch of every
// event would, with memory bounded by one batch. Day cells are then made from the hourly
// ones.
func (db *DB) RebuildRollups(ctx context.Context, accountID string) (int64, error) {
	var read int64
	err := db.tx(ctx, func(tx *sql.Tx) error { return db.rebuildRollups(ctx, tx, accountID, &read) })
	return read, err
}

// rebuildRollups is RebuildRollups inside a write transaction; it adds the events it
// reads to *read. The account row is locked first, as ingest share-locks it, so that no
// batch writes cells while they are rebuilt.
func (db *DB) rebuildRollups(ctx context.Context, tx *sql.Tx, accountID string, read *int64) error {
	q := sqlTxq{tx}
	ref, err := scanAccountRef(tx.QueryRowContext(ctx, `SELECT `+accountRefColumns+` FROM accounts WHERE id = $1`+db.forUpdate(), accountID))
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
	for _, table := range []string{hourCells, hourUniques, "session_clusters"} {
		if err := q.exec(ctx, `DELETE FROM `+table+` WHERE account_id = $1`, accountID); err != nil {
			return err
		}
	}
	ref.daysZone = "" // hourly cells only while replaying; rebuildDays makes the days once
	accounts := map[string]accountRef{accountID: ref}
	all := make([]int, rebuildBatchEvents)
	for i := range all {
		all[i] = i
	}
	after := eventPosition{time: math.MinInt64}
	for {
		page, err := db.eventPage(ctx, tx, accountID, after)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			break
		}
		*read += int64(len(page))
		last := page[len(page)-1]
		after = eventPosition{time: last.Time.UnixMicro(), source: last.Source, id: last.ID}
		if err := db.applyRollups(ctx, q, page, all[:len(page)], accounts, false); err != nil {
			return err
		}
	}
	return db.rebuildDays(ctx, q, accountID, cat, ref.timezone)
}

// rebuildBatchEvents is how many events a rebuild replays at a time. The ingest path
// splits its statements at 1,000 rows, so a page of 50 ingest batches stays within both
// engines' parameter limits; bigger pages make fewer round trips (1,000-event pages took
// 2.7 times as long).
const rebuildBatchEvents = 50 * billow.EventBatchMax

// eventPage reads the next page of an account's events in (time, source, id) order,
// after the given position.
func (db *DB) eventPage(ctx context.Context, tx *sql.Tx, accountID string, after eventPosition) ([]billow.UsageEvent, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+eventColumns+` FROM events WHERE account_id = $1
		AND (time, source, id) > ($2, $3, $4)
		ORDER BY time, source, id LIMIT $5`, accountID, after.time, after.source, after.id, rebuildBatchEvents)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanEvents(rows)
}

// eventPosition is a place in the (time, source, id) order of an account's events; the
// position at time math.MinInt64 is before every event.
type eventPosition struct {
	time       int64
	source, id string
}

// RawReadRollups reads the hourly or day cells of some meters of an account in
// [from, to) and returns how many there were: the limit a usage query is measured against.
func (db *DB) RawReadRollups(ctx context.Context, accountID string, meters []string, from, to time.Time, daily bool) (int, error) {
	table := hourCells
	if daily {
		table = dayCells
	}
	args := []any{accountID, from.UnixMicro(), to.UnixMicro()}
	params := make([]string, len(meters))
	for i, m := range meters {
		args = append(args, m)
		params[i] = fmt.Sprintf("$%d", len(args))
	}
	rows, err := db.read.QueryContext(ctx, `SELECT hour, app_id, units FROM `+table+` WHERE account_id = $1
		AND hour >= $2 AND hour < $3 AND meter IN (`+strings.Join(params, ", ")+`)`, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var hour, units int64
		var app string
		if err := rows.Scan(&hour, &app, &units); err != nil {
			return 0, err
		}
		n++
	}
	return n, rows.Err()
}
