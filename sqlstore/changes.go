package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// changedAccountsMax bounds the accounts one poll for changes returns; a caller that
// gets this many reloads everything it holds instead.
const changedAccountsMax = 10_000

// LedgerChangesSince returns the accounts whose wallets moved in transfers after seq,
// and the seq of the last transfer, to pass next time. more says that more accounts
// moved than changedAccountsMax: the caller should reload every wallet it holds.
func (db *DB) LedgerChangesSince(ctx context.Context, seq int64) (accountIDs []string, head int64, more bool, err error) {
	if head, err = db.LedgerHead(ctx); err != nil {
		return nil, 0, false, err
	}
	if head <= seq {
		return nil, head, false, nil
	}
	ids, more, err := db.accountIDs(ctx, `SELECT DISTINCT account_id FROM ledger_transfers WHERE seq > $1 AND seq <= $2 AND account_id IS NOT NULL LIMIT $3`,
		seq, head, changedAccountsMax+1)
	return ids, head, more, err
}

// LedgerHead returns the seq of the ledger's last transfer.
func (db *DB) LedgerHead(ctx context.Context) (int64, error) {
	var head int64
	if err := db.read.QueryRowContext(ctx, `SELECT seq FROM ledger_head WHERE id = 1`).Scan(&head); err != nil {
		return 0, fmt.Errorf("sqlstore: ledger head: %w", err)
	}
	return head, nil
}

// AccountsChangedSince returns the accounts that changed, or whose apps did, at or after
// since; more as for LedgerChangesSince.
func (db *DB) AccountsChangedSince(ctx context.Context, since time.Time) (accountIDs []string, more bool, err error) {
	return db.accountIDs(ctx, `SELECT id FROM accounts WHERE updated_at >= $1
		UNION SELECT account_id FROM apps WHERE updated_at >= $1 LIMIT $2`, since.UnixMicro(), changedAccountsMax+1)
}

func (db *DB) accountIDs(ctx context.Context, query string, args ...any) ([]string, bool, error) {
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, false, fmt.Errorf("sqlstore: changed accounts: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, false, err
		}
		ids = append(ids, id)
	}
	if len(ids) > changedAccountsMax {
		return ids[:changedAccountsMax], true, rows.Err()
	}
	return ids, false, rows.Err()
}
