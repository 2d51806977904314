package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/rating"
	"github.com/billowhq/billow/usage"
)

// Limits of rating reads, named with their unit last.
const (
	// RatingSelectionsMax bounds the quantities one RatingQuantities call reads: a plan
	// has at most catalog.RatesPerPlanMax rates.
	RatingSelectionsMax = catalog.RatesPerPlanMax
	// ratingGroupsMax bounds the distinct groups of one meter in a period that a rate's
	// group filters are matched against (kinds, providers and models: tens in practice).
	ratingGroupsMax = 10_000
)

// RatingQuantities returns the quantity of each selection over the period [from, to) in
// the account's time zone, by Selection.Key, as the usage API computes it from the
// rollups (usage.Quantity: the meter's unit, credits for provider_cost; 0 where there
// was no usage): the same cells, combined by the same rule. The period's bounds move to
// the UTC hours that hold them, as usage.Bounds says. A selection's filters keep the
// cells of the app it names (by external id or id; an app the account does not have has
// no usage) and of the groups whose values match.
//
// Errors: validation_failed (too many selections, too many groups to match, a period
// that is not one), not_found (the account), unknown_meter, meter_not_by_app.
func (db *DB) RatingQuantities(ctx context.Context, accountID string, from, to time.Time, sels []rating.Selection) (map[string]decimal.Decimal, error) {
	if len(sels) > RatingSelectionsMax {
		return nil, billow.FieldErrorf(billow.CodeValidationFailed, "selections", "at most %d selections in one read", RatingSelectionsMax)
	}
	q, err := db.usageScope(ctx, accountID, "")
	if err != nil {
		return nil, err
	}
	bounds, err := usage.Bounds(from, to, billow.UsageWindowNone, q.loc)
	if err != nil {
		return nil, err
	}
	out := make(map[string]decimal.Decimal, len(sels))
	summed := map[string]*catalog.Meter{} // by key: the selections read together
	for _, s := range sels {
		m, ok := q.cat.Meter(s.Meter)
		if !ok {
			return nil, billow.FieldErrorf(billow.CodeUnknownMeter, "meter", "catalog %s version %d has no meter %q",
				q.account.Catalog, q.account.CatalogVersion, s.Meter)
		}
		if len(s.Filters) == 0 && usage.CombinationOf(m) == usage.CombineAdd {
			summed[s.Key()] = m
			continue
		}
		units, err := db.selectionUnits(ctx, seriesQuery{accountID: q.account.ID, meter: m, bounds: bounds, days: q.days}, s.Filters)
		if err != nil {
			return nil, err
		}
		out[s.Key()] = usage.Quantity(m, units)
	}
	if len(summed) > 0 {
		sums, err := db.summedUnits(ctx, q, bounds, summed)
		if err != nil {
			return nil, err
		}
		for key, m := range summed {
			out[key] = usage.Quantity(m, sums[m.Key])
		}
	}
	return out, nil
}

// summedUnits reads, in one query, the units of meters whose cells add up, unfiltered,
// over the one bucket bounds gives: a renewal rating many such meters reads the account's
// month once, not once per line. The cells are those usageSeries would read.
func (db *DB) summedUnits(ctx context.Context, q *usageScope, bounds []time.Time, meters map[string]*catalog.Meter) (map[string]decimal.Decimal, error) {
	lo, hi := bounds[0], bounds[len(bounds)-1]
	table := hourCells
	if q.days != nil && q.days.IsDayStart(lo) && q.days.IsDayStart(hi) {
		table = dayCells // whole days: a cell per day instead of 24
	}
	args := []any{q.account.ID, lo.UnixMicro(), hi.UnixMicro()}
	marks := make([]string, 0, len(meters))
	for _, m := range meters {
		args = append(args, m.Key)
		marks = append(marks, "$"+strconv.Itoa(len(args)))
	}
	rows, err := db.read.QueryContext(ctx, `SELECT meter, SUM(units) FROM `+table+` WHERE account_id = $1 AND hour >= $2 AND hour < $3
		AND meter IN (`+strings.Join(marks, ", ")+`) GROUP BY meter`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: summed usage: %w", err)
	}
	defer rows.Close()
	out := make(map[string]decimal.Decimal, len(meters))
	for rows.Next() {
		var key string
		var units decimal.Decimal
		// SUM is an int64 on SQLite and a numeric on PostgreSQL; decimal reads both.
		if err := rows.Scan(&key, &units); err != nil {
			return nil, fmt.Errorf("sqlstore: summed usage: %w", err)
		}
		out[key] = units
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: summed usage: %w", err)
	}
	return out, nil
}

// selectionUnits reads the combined units of one meter over the query's one bucket, in
// the cells its filters keep.
func (db *DB) selectionUnits(ctx context.Context, sq seriesQuery, filters map[string]string) (decimal.Decimal, error) {
	grouped := false
	for field, value := range filters {
		if field != "app" {
			grouped = true
			continue
		}
		if !usage.CellsByApp(sq.meter) {
			return decimal.Zero, billow.FieldErrorf(billow.CodeMeterNotByApp, "filters.app",
				"meter %s is a peak over all apps (its group_by has no app), so a rate cannot filter it by app", sq.meter.Key)
		}
		app, err := db.App(ctx, sq.accountID, value)
		if billow.ErrorCode(err) == billow.CodeNotFound {
			return decimal.Zero, nil // no such app, so no usage of it
		}
		if err != nil {
			return decimal.Zero, err
		}
		sq.appID = app.ID
	}
	if grouped {
		groups, err := db.groupsIn(ctx, sq)
		if err != nil {
			return decimal.Zero, err
		}
		sq.groups = []string{}
		for _, g := range groups {
			if usage.GroupMatches(sq.meter, g, filters) {
				sq.groups = append(sq.groups, g)
			}
		}
		if len(sq.groups) == 0 {
			return decimal.Zero, nil
		}
	}
	values, err := db.usageSeries(ctx, sq)
	if err != nil {
		return decimal.Zero, err
	}
	if len(values) == 0 {
		return decimal.Zero, nil // no cell: no usage (a min, max or latest meter with no value rates as 0)
	}
	return values[0].units, nil
}

// groupsIn returns the distinct groups of the meter's hourly cells in the query's range
// (and app), so that a rate's group filters can be matched against them in Go, where the
// group text is read exactly (usage.GroupMatches).
func (db *DB) groupsIn(ctx context.Context, sq seriesQuery) ([]string, error) {
	table := hourCells
	if usage.CombinationOf(sq.meter) == usage.CombineUnique {
		table = hourUniques
	}
	args := []any{sq.accountID, sq.meter.Key, sq.bounds[0].UnixMicro(), sq.bounds[len(sq.bounds)-1].UnixMicro()}
	where := `account_id = $1 AND meter = $2 AND hour >= $3 AND hour < $4`
	if sq.appID != "" {
		args = append(args, sq.appID)
		where += ` AND app_id = $` + strconv.Itoa(len(args))
	}
	args = append(args, ratingGroupsMax+1)
	rows, err := db.read.QueryContext(ctx, `SELECT DISTINCT grp FROM `+table+` WHERE `+where+` ORDER BY grp LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: groups of %s: %w", sq.meter.Key, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return nil, fmt.Errorf("sqlstore: groups of %s: %w", sq.meter.Key, err)
		}
		if len(out) == ratingGroupsMax {
			return nil, billow.FieldErrorf(billow.CodeValidationFailed, "filters",
				"meter %s has more than %d groups in the period; a rate's filters cannot be matched against them", sq.meter.Key, ratingGroupsMax)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

const usageChargeColumns = `account_id, month, line_key, debited_ucr, credited_ucr, pending_id, pending_ucr, updated_at`

// UsageCharges returns what charging has moved for the lines of an account's month, by
// line key. A line never charged is absent.
func (db *DB) UsageCharges(ctx context.Context, accountID, month string) (map[string]billow.UsageCharge, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+usageChargeColumns+` FROM usage_charges WHERE account_id = $1 AND month = $2`,
		accountID, month)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: usage charges: %w", err)
	}
	defer rows.Close()
	out := map[string]billow.UsageCharge{}
	for rows.Next() {
		c, err := scanUsageCharge(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: usage charges: %w", err)
		}
		out[c.LineKey] = c
	}
	return out, rows.Err()
}

// ClaimUsageCharge records the movement in as the line's pending one if the line is
// still as the caller read it: the same totals and nothing pending (a line never charged
// reads as zero totals). It returns the line after the call and whether the claim was
// made; when it was not, another charger moved the line first, and the caller reads it
// again. Two chargers sharing PostgreSQL can thus never both claim a line: the update
// and the insert are each atomic against the row.
//
// Errors: validation_failed.
func (db *DB) ClaimUsageCharge(ctx context.Context, in billow.ClaimUsageChargeInput) (billow.UsageCharge, bool, error) {
	if err := in.Validate(); err != nil {
		return billow.UsageCharge{}, false, err
	}
	var (
		out     billow.UsageCharge
		claimed bool
	)
	now := billow.TimeMicros(db.now())
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE usage_charges SET pending_id = $4, pending_ucr = $5, updated_at = $6
			WHERE account_id = $1 AND month = $2 AND line_key = $3 AND pending_id = '' AND debited_ucr = $7 AND credited_ucr = $8`,
			in.AccountID, in.Month, in.LineKey, in.TransferID, in.AmountUcr, now, in.DebitedUcr, in.CreditedUcr)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 && in.DebitedUcr == 0 && in.CreditedUcr == 0 {
			// The line's first movement: no row yet, unless another charger made it since.
			res, err = tx.ExecContext(ctx, `INSERT INTO usage_charges (`+usageChargeColumns+`) VALUES ($1, $2, $3, 0, 0, $4, $5, $6)
				ON CONFLICT (account_id, month, line_key) DO NOTHING`,
				in.AccountID, in.Month, in.LineKey, in.TransferID, in.AmountUcr, now)
			if err != nil {
				return err
			}
			if n, err = res.RowsAffected(); err != nil {
				return err
			}
		}
		claimed = n == 1
		out, err = readUsageCharge(ctx, tx, in.AccountID, in.Month, in.LineKey)
		return err
	})
	if err != nil {
		return billow.UsageCharge{}, false, fmt.Errorf("sqlstore: claim usage charge: %w", err)
	}
	return out, claimed, nil
}

// SettleUsageCharge records how a claimed movement ended. A posted movement is recorded
// once by its transfer id (usage_charge_transfers): the first record adds its amount to
// the line's debits (a spend) or credits (a correction), a second one adds nothing, so a
// movement posted by two chargers, or again after a crash, counts once. The line's claim
// is cleared if it is this movement; a claim of another one stays. It returns the line
// after the call.
//
// Errors: validation_failed, not_found (the line has no row).
func (db *DB) SettleUsageCharge(ctx context.Context, in billow.SettleUsageChargeInput) (billow.UsageCharge, error) {
	if err := in.Validate(); err != nil {
		return billow.UsageCharge{}, err
	}
	now := billow.TimeMicros(db.now())
	var out billow.UsageCharge
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if out, err = readUsageCharge(ctx, tx, in.AccountID, in.Month, in.LineKey); err != nil {
			return err
		}
		if in.Posted {
			res, err := tx.ExecContext(ctx, `INSERT INTO usage_charge_transfers (account_id, transfer_id, month, line_key, amount_ucr, recorded_at)
				VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account_id, transfer_id) DO NOTHING`,
				in.AccountID, in.TransferID, in.Month, in.LineKey, in.AmountUcr, now)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 1 {
				debit, credit := max(in.AmountUcr, 0), max(-in.AmountUcr, 0)
				if _, err := tx.ExecContext(ctx, `UPDATE usage_charges SET debited_ucr = debited_ucr + $4, credited_ucr = credited_ucr + $5, updated_at = $6
					WHERE account_id = $1 AND month = $2 AND line_key = $3`, in.AccountID, in.Month, in.LineKey, debit, credit, now); err != nil {
					return err
				}
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE usage_charges SET pending_id = '', pending_ucr = 0, updated_at = $5
			WHERE account_id = $1 AND month = $2 AND line_key = $3 AND pending_id = $4`,
			in.AccountID, in.Month, in.LineKey, in.TransferID, now); err != nil {
			return err
		}
		out, err = readUsageCharge(ctx, tx, in.AccountID, in.Month, in.LineKey)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return billow.UsageCharge{}, billow.NotFound("usage charge", in.Month+" "+in.LineKey)
	}
	if err != nil {
		return billow.UsageCharge{}, fmt.Errorf("sqlstore: settle usage charge: %w", err)
	}
	return out, nil
}

// AccountsWithPlan returns up to limit accounts that have a plan, in id order, after the
// account id after ("" for the first): the accounts a charger sweeps.
//
// Errors: validation_failed (limit).
func (db *DB) AccountsWithPlan(ctx context.Context, after string, limit int) ([]*billow.Account, error) {
	if limit < 1 || limit > billow.PageLimitMax {
		return nil, billow.FieldErrorf(billow.CodeValidationFailed, "limit", "must be between 1 and %d", billow.PageLimitMax)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE plan <> '' AND id > $1 ORDER BY id LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: accounts with a plan: %w", err)
	}
	page, err := collectPage(rows, limit, scanAccount)
	return page.Data, err
}

func readUsageCharge(ctx context.Context, tx *sql.Tx, accountID, month, lineKey string) (billow.UsageCharge, error) {
	return scanUsageCharge(tx.QueryRowContext(ctx, `SELECT `+usageChargeColumns+` FROM usage_charges
		WHERE account_id = $1 AND month = $2 AND line_key = $3`, accountID, month, lineKey))
}

func scanUsageCharge(row interface{ Scan(...any) error }) (billow.UsageCharge, error) {
	var (
		c       billow.UsageCharge
		updated int64
	)
	if err := row.Scan(&c.AccountID, &c.Month, &c.LineKey, &c.DebitedUcr, &c.CreditedUcr, &c.PendingID, &c.PendingUcr, &updated); err != nil {
		return billow.UsageCharge{}, err
	}
	c.UpdatedAt = billow.FromMicros(updated)
	return c, nil
}
