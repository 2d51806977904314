package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/billowhq/billow"
)

// AccountsDueIncludedCredits returns up to limit accounts whose month of included
// credits has ended (or never began), soonest first. A catalog migration makes an
// account due again, since its plan may include other credits.
//
// Two kinds of account are left out, as the billing service grants their credits: those
// on a test clock (at the clock's times), and those with a monthly subscription that has
// begun (at each period start). The statuses are those of credits.Subscribed; a yearly
// subscription is returned, for the upkeep to tell by its plan (credits.Cycled).
func (db *DB) AccountsDueIncludedCredits(ctx context.Context, limit int) ([]*billow.Account, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE included_credits_until <= $1
		AND test_clock_id IS NULL
		AND NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.account_id = accounts.id
			AND s.status IN ('trialing', 'active', 'past_due', 'suspended') AND s.interval = 'month')
		ORDER BY included_credits_until, id LIMIT $2`, db.now().UnixMicro(), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: accounts due included credits: %w", err)
	}
	defer rows.Close()
	var out []*billow.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// SetIncludedCreditsUntil records the end of the period an account's included credits
// were granted for: it is not due again before then.
func (db *DB) SetIncludedCreditsUntil(ctx context.Context, accountID string, until time.Time) error {
	_, err := db.write.ExecContext(ctx, `UPDATE accounts SET included_credits_until = $2 WHERE id = $1`, accountID, until.UnixMicro())
	if err != nil {
		return fmt.Errorf("sqlstore: included credits: %w", err)
	}
	return nil
}
