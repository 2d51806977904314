package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/billowhq/billow"
)

// AccountsDueIncludedCredits returns up to limit accounts whose period of included
// credits has ended (or never began), soonest first. A catalog migration makes an
// account due again, since its plan may include other credits.
func (db *DB) AccountsDueIncludedCredits(ctx context.Context, limit int) ([]*billow.Account, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE included_credits_until <= $1
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
