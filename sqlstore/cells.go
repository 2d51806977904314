package sqlstore

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/meter"
	"github.com/billowhq/billow/usage"
)

// Cell tables: every quantity is kept per UTC hour, and per local day of the account's
// time zone (usage.Days) once the account's day cells are built. Both tables have the
// same columns; a day cell's hour is the first hour of its day.
const (
	hourCells   = "usage_rollups"
	dayCells    = "usage_days"
	hourUniques = "usage_uniques"
	dayUniques  = "usage_day_uniques"
)

// cellWriter writes one account's cells inside a write transaction, hourly and, when
// days is set, per day.
type cellWriter struct {
	db        *DB
	q         txq
	accountID string
	days      *usage.Days // nil: the account's day cells are not kept
}

// write brings the cells of one combination up to date with deltas: additive deltas
// are added (and cells they bring to zero dropped), min, max and latest ones combined.
// Peaks are written by recomputePeaks.
func (w cellWriter) write(ctx context.Context, c usage.Combination, deltas []usage.Delta) error {
	if err := w.upsert(ctx, hourCells, c, deltas); err != nil {
		return err
	}
	if c == usage.CombineAdd {
		if err := w.dropEmptied(ctx, hourCells, deltas); err != nil {
			return err
		}
	}
	if w.days == nil {
		return nil
	}
	daily, err := usage.DayDeltas(c, deltas, w.days)
	if err != nil {
		return err
	}
	if err := w.upsert(ctx, dayCells, c, daily); err != nil {
		return err
	}
	if c == usage.CombineAdd {
		return w.dropEmptied(ctx, dayCells, daily)
	}
	return nil
}

// applyCells stores what events bring to the cells of every meter that needs nothing
// but the events themselves: min, max and latest cells and distinct values are written,
// and the additive deltas returned for the caller to add with its session deltas.
func (w cellWriter) applyCells(ctx context.Context, cat *catalog.Catalog, events []meter.Event) ([]usage.Delta, error) {
	additive, err := usage.AdditiveDeltas(cat, events)
	if err != nil {
		return nil, err
	}
	extremes, err := usage.ExtremeDeltas(cat, events)
	if err != nil {
		return nil, err
	}
	byCombination := map[usage.Combination][]usage.Delta{}
	for _, d := range extremes {
		m, _ := cat.Meter(d.Meter)
		c := usage.CombinationOf(m)
		byCombination[c] = append(byCombination[c], d)
	}
	for _, c := range []usage.Combination{usage.CombineMin, usage.CombineMax, usage.CombineLatest} {
		if err := w.write(ctx, c, byCombination[c]); err != nil {
			return nil, err
		}
	}
	if err := w.writeUniques(ctx, usage.UniqueValues(cat, events)); err != nil {
		return nil, err
	}
	return additive, nil
}

// writeUniques stores distinct values of unique_count meters; known ones are skipped.
func (w cellWriter) writeUniques(ctx context.Context, uniques []usage.Unique) error {
	if err := w.insertUniques(ctx, hourUniques, uniques); err != nil {
		return err
	}
	if w.days == nil {
		return nil
	}
	return w.insertUniques(ctx, dayUniques, usage.DayUniques(uniques, w.days))
}

// peakRangeHoursMax bounds the hours one recomputation of peaks reads events for, so
// that a backfill over months reads them a week at a time.
const peakRangeHoursMax = 7 * 24

// recomputePeaks replaces a concurrency meter's cells in the given hours with peaks
// computed from the events that decide them, then the day cells of the days that hold
// them. On PostgreSQL the caller holds the meter's lock (see rollupLocks).
func (w cellWriter) recomputePeaks(ctx context.Context, m *catalog.Meter, ranges []usage.HourRange) error {
	lookback := usage.PeakLookbackMicros(m)
	for _, r := range ranges {
		for from := r.FromMicros; from < r.ToMicros; from += peakRangeHoursMax * usage.HourMicros {
			part := usage.HourRange{FromMicros: from, ToMicros: min(r.ToMicros, from+peakRangeHoursMax*usage.HourMicros)}
			events, err := w.db.eventsOfTypes(ctx, w.q, w.accountID, m.EventTypes, part.FromMicros-lookback, part.ToMicros)
			if err != nil {
				return err
			}
			deltas, err := usage.PeakDeltas(m, events, part)
			if err != nil {
				return err
			}
			if err := w.replace(ctx, hourCells, m.Key, part, deltas); err != nil {
				return err
			}
		}
	}
	if w.days == nil {
		return nil
	}
	return w.refreshDays(ctx, m.Key, usage.CombinePeak, usage.DayRanges(ranges, w.days))
}

// refreshDays recomputes a meter's day cells in whole days from its hourly cells.
func (w cellWriter) refreshDays(ctx context.Context, meterKey string, c usage.Combination, ranges []usage.HourRange) error {
	for _, r := range ranges {
		hourly, err := w.db.readCells(ctx, w.q, hourCells, w.accountID, meterKey, r)
		if err != nil {
			return err
		}
		daily, err := usage.DayDeltas(c, hourly, w.days)
		if err != nil {
			return err
		}
		if err := w.replace(ctx, dayCells, meterKey, r, daily); err != nil {
			return err
		}
	}
	return nil
}

// replace empties a meter's cells in a range of hours and writes deltas there as they are.
func (w cellWriter) replace(ctx context.Context, table, meterKey string, r usage.HourRange, deltas []usage.Delta) error {
	if err := w.q.exec(ctx, `DELETE FROM `+table+` WHERE account_id = `+w.db.params(1, 1)+` AND meter = `+w.db.params(2, 1)+
		` AND hour >= `+w.db.params(3, 1)+` AND hour < `+w.db.params(4, 1), w.accountID, meterKey, r.FromMicros, r.ToMicros); err != nil {
		return fmt.Errorf("%s: %w", table, err)
	}
	return w.upsert(ctx, table, usage.CombinePeak, deltas)
}

// rollupDeltasPerStatementMax keeps an upsert of deltas within both engines' parameter
// limits (7 parameters a row).
const rollupDeltasPerStatementMax = 1000

var rollupColumns = []rowSetColumn{{"meter", "TEXT"}, {"app_id", "TEXT"}, {"grp", "TEXT"}, {"hour", "BIGINT"}, {"units", "BIGINT"}, {"at_us", "BIGINT"}}

// upsert writes deltas to cells of a table, combining each with the cell already stored
// as the combination says; peaks replace what is there.
func (w cellWriter) upsert(ctx context.Context, table string, c usage.Combination, deltas []usage.Delta) error {
	least, greatest := "LEAST", "GREATEST"
	if w.db.dialect == SQLite {
		least, greatest = "MIN", "MAX" // SQLite's scalar forms
	}
	var combine string
	switch c {
	case usage.CombineAdd:
		// A sum beyond int64 becomes NULL, which the NOT NULL column refuses: SQLite would
		// silently turn it into a float, PostgreSQL raise a generic range error.
		combine = `units = CASE WHEN excluded.units > 0 AND t.units > 9223372036854775807 - excluded.units
			OR excluded.units < 0 AND t.units < -9223372036854775807 - 1 - excluded.units
			THEN NULL ELSE t.units + excluded.units END`
	case usage.CombineMin:
		combine = `units = ` + least + `(t.units, excluded.units)`
	case usage.CombineMax:
		combine = `units = ` + greatest + `(t.units, excluded.units)`
	case usage.CombineLatest:
		combine = `units = CASE WHEN (excluded.at_us, excluded.units) > (t.at_us, t.units)
			THEN excluded.units ELSE t.units END, at_us = ` + greatest + `(t.at_us, excluded.at_us)`
	case usage.CombinePeak:
		combine = `units = excluded.units` // the range was emptied first; peaks replace
	default:
		return fmt.Errorf("%s: combination %d has no cells", table, c)
	}
	for chunk := range slices.Chunk(deltas, rollupDeltasPerStatementMax) {
		rows := make([][]any, len(chunk))
		for k, d := range chunk {
			rows[k] = []any{d.Meter, d.AppID, d.Group, d.HourMicros, d.Units, d.AtMicros}
		}
		set, args := w.db.rowSet(1, rollupColumns, rows)
		args = append(args, w.accountID)
		// WHERE true: SQLite would read ON CONFLICT as part of the SELECT's join.
		if err := w.q.exec(ctx, fmt.Sprintf(`INSERT INTO %s AS t (account_id, meter, app_id, grp, hour, units, at_us)
			SELECT $%d, meter, app_id, grp, hour, units, at_us FROM %s AS d WHERE true
			ON CONFLICT (account_id, meter, hour, app_id, grp) DO UPDATE SET %s`, table, len(args), set, combine), args...); err != nil {
			if c == usage.CombineAdd && isNotNullViolation(err) {
				return billow.Errorf(billow.KindConflict, billow.CodeQuantityOverflow,
					"a usage cell of this account would exceed %d units: the batch is refused and nothing is stored", int64(math.MaxInt64))
			}
			return fmt.Errorf("%s: %w", table, err)
		}
	}
	return nil
}

// dropEmptied deletes the additive cells that negative deltas (sessions that moved to
// another app or hour) brought to zero: an empty cell is no usage, and a rebuild would
// not make it.
func (w cellWriter) dropEmptied(ctx context.Context, table string, deltas []usage.Delta) error {
	var taken []usage.Delta
	for _, d := range deltas {
		if d.Units < 0 {
			taken = append(taken, d)
		}
	}
	for chunk := range slices.Chunk(taken, rollupDeltasPerStatementMax) {
		var b strings.Builder
		b.WriteString(`DELETE FROM ` + table + ` WHERE account_id = ` + w.db.params(1, 1) + ` AND units = 0 AND (meter, app_id, grp, hour) IN (VALUES `)
		args := make([]any, 0, 1+len(chunk)*4)
		args = append(args, w.accountID)
		for k, d := range chunk {
			if k > 0 {
				b.WriteByte(',')
			}
			b.WriteString(w.db.typedRow(k*4+2, "TEXT", "TEXT", "TEXT", "BIGINT"))
			args = append(args, d.Meter, d.AppID, d.Group, d.HourMicros)
		}
		b.WriteString(")")
		if err := w.q.exec(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("%s: %w", table, err)
		}
	}
	return nil
}

// insertUniques stores distinct values in a table of them; known ones are skipped.
func (w cellWriter) insertUniques(ctx context.Context, table string, uniques []usage.Unique) error {
	for chunk := range slices.Chunk(uniques, rollupDeltasPerStatementMax) {
		var b strings.Builder
		b.WriteString(`INSERT INTO ` + table + ` (account_id, meter, app_id, grp, hour, value) VALUES `)
		args := make([]any, 0, len(chunk)*6)
		for k, u := range chunk {
			if k > 0 {
				b.WriteByte(',')
			}
			b.WriteString("(" + w.db.params(k*6+1, 6) + ")")
			args = append(args, w.accountID, u.Meter, u.AppID, u.Group, u.HourMicros, u.Value)
		}
		b.WriteString(` ON CONFLICT DO NOTHING`)
		if err := w.q.exec(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("%s: %w", table, err)
		}
	}
	return nil
}

// readCells reads a meter's cells of a table in a range of hours.
func (db *DB) readCells(ctx context.Context, q txq, table, accountID, meterKey string, r usage.HourRange) ([]usage.Delta, error) {
	rows, err := q.query(ctx, `SELECT app_id, grp, hour, units, at_us FROM `+table+` WHERE account_id = `+db.params(1, 1)+
		` AND meter = `+db.params(2, 1)+` AND hour >= `+db.params(3, 1)+` AND hour < `+db.params(4, 1), accountID, meterKey, r.FromMicros, r.ToMicros)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", table, err)
	}
	defer rows.Close()
	var out []usage.Delta
	for rows.Next() {
		d := usage.Delta{Meter: meterKey}
		if err := rows.Scan(&d.AppID, &d.Group, &d.HourMicros, &d.Units, &d.AtMicros); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// rebuildDays builds an account's day cells anew from its hourly cells, in the zone
// named, and records that they follow it: after a rebuild of the rollups and when the
// account's time zone changes.
func (db *DB) rebuildDays(ctx context.Context, q txq, accountID string, cat *catalog.Catalog, zone string) error {
	loc, err := db.zone(zone)
	if err != nil {
		return err
	}
	w := cellWriter{db: db, q: q, accountID: accountID, days: usage.NewDays(loc)}
	for _, table := range []string{dayCells, dayUniques} {
		if err := q.exec(ctx, `DELETE FROM `+table+` WHERE account_id = `+db.params(1, 1), accountID); err != nil {
			return fmt.Errorf("%s: %w", table, err)
		}
	}
	all := usage.HourRange{FromMicros: math.MinInt64, ToMicros: math.MaxInt64}
	// Cells of meters the catalog version no longer has stay hourly: no query reads them.
	for i := range cat.Meters {
		m := &cat.Meters[i]
		c := usage.CombinationOf(m)
		if c == usage.CombineUnique {
			hourly, err := db.readUniques(ctx, q, accountID, m.Key)
			if err != nil {
				return err
			}
			if err := w.insertUniques(ctx, dayUniques, usage.DayUniques(hourly, w.days)); err != nil {
				return err
			}
			continue
		}
		hourly, err := db.readCells(ctx, q, hourCells, accountID, m.Key, all)
		if err != nil {
			return err
		}
		daily, err := usage.DayDeltas(c, hourly, w.days)
		if err != nil {
			return err
		}
		if err := w.upsert(ctx, dayCells, c, daily); err != nil {
			return err
		}
	}
	return q.exec(ctx, `UPDATE accounts SET usage_days_zone = `+db.params(2, 1)+` WHERE id = `+db.params(1, 1), accountID, zone)
}

// readUniques reads the hourly distinct values of a meter.
func (db *DB) readUniques(ctx context.Context, q txq, accountID, meterKey string) ([]usage.Unique, error) {
	rows, err := q.query(ctx, `SELECT app_id, grp, hour, value FROM `+hourUniques+` WHERE account_id = `+db.params(1, 1)+
		` AND meter = `+db.params(2, 1), accountID, meterKey)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", hourUniques, err)
	}
	defer rows.Close()
	var out []usage.Unique
	for rows.Next() {
		u := usage.Unique{Meter: meterKey}
		if err := rows.Scan(&u.AppID, &u.Group, &u.HourMicros, &u.Value); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// zone returns the named time zone, loaded once per store: loading reads the zone
// database, and usage queries and ingest ask for it constantly.
func (db *DB) zone(name string) (*time.Location, error) {
	db.zonesMu.Lock()
	defer db.zonesMu.Unlock()
	if loc, ok := db.zones[name]; ok {
		return loc, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		// Validated when stored; failing now means this binary's zone data lacks it.
		return nil, fmt.Errorf("sqlstore: time zone %q: %w", name, err)
	}
	db.zones[name] = loc
	return loc, nil
}
