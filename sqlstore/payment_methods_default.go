package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/billowhq/billow"
)

// SetDefaultPaymentMethod makes one of an account's payment methods its default, under
// the account's lock as AddPaymentMethod takes it, so that the account keeps exactly one
// default. The method that is the default already is returned as it is.
//
// Errors: validation_failed, not_found (no such method of the account, or removed).
func (db *DB) SetDefaultPaymentMethod(ctx context.Context, in billow.SetDefaultPaymentMethodInput) (*billow.PaymentMethod, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var out *billow.PaymentMethod
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := db.lockAccount(ctx, tx, in.Account); err != nil {
			return err
		}
		m, err := scanPaymentMethod(tx.QueryRowContext(ctx, `SELECT `+paymentMethodColumns+` FROM payment_methods
			WHERE account_id = $1 AND id = $2 AND removed_at IS NULL`, in.Account, in.Method))
		if errors.Is(err, sql.ErrNoRows) {
			return billow.NotFound("payment method", in.Method)
		}
		if err != nil {
			return err
		}
		out = m
		if m.Default {
			return nil
		}
		// Two statements, the old default first: the unique index on an account's
		// default is checked row by row, so one UPDATE swapping both could meet it.
		if _, err := tx.ExecContext(ctx, `UPDATE payment_methods SET is_default = $2 WHERE account_id = $1 AND is_default = $3`,
			in.Account, false, true); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE payment_methods SET is_default = $3 WHERE account_id = $1 AND id = $2`,
			in.Account, in.Method, true); err != nil {
			return err
		}
		m.Default = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
