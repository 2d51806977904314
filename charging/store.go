package charging

import (
	"context"
	"time"

	"github.com/shopspring/decimal"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/rating"
)

// UsageReader is what rating a period needs of storage: the account, the catalog version
// it signed, and the quantities its plan's rates need. *sqlstore.DB implements it.
type UsageReader interface {
	// Account returns the account with the given id or external id (not_found).
	Account(ctx context.Context, ref string) (*billow.Account, error)
	// AccountCatalog returns the catalog version the account signed.
	AccountCatalog(ctx context.Context, a *billow.Account) (*catalog.Catalog, error)
	// RatingQuantities returns the quantity of each selection over [from, to) in the
	// account's time zone, by Selection.Key, 0 where there was no usage.
	RatingQuantities(ctx context.Context, accountID string, from, to time.Time, sels []rating.Selection) (map[string]decimal.Decimal, error)
}

// Store is what the charger needs of storage: rating's reads, the wallet and its ledger
// movements, and the record of what was charged per line. *sqlstore.DB implements it.
type Store interface {
	UsageReader

	// AccountsWithPlan returns up to limit accounts with a plan in id order after the
	// given id ("" for the first).
	AccountsWithPlan(ctx context.Context, after string, limit int) ([]*billow.Account, error)

	// Wallet returns the account's wallet (not_found).
	Wallet(ctx context.Context, accountRef string) (*billow.Wallet, error)
	// Spend debits the wallet; the same id again returns the first transfer
	// (insufficient_credits, idempotency_key_reused, not_found, validation_failed).
	Spend(ctx context.Context, in billow.SpendInput) (*billow.Transfer, error)
	// CreateGrant adds credits to the wallet; the same id again returns the first grant
	// (idempotency_key_reused, not_found, validation_failed).
	CreateGrant(ctx context.Context, in billow.CreateGrantInput) (*billow.Grant, *billow.Transfer, error)

	// UsageCharges returns what was charged for the lines of an account's month, by line
	// key; a line never charged is absent.
	UsageCharges(ctx context.Context, accountID, month string) (map[string]billow.UsageCharge, error)
	// ClaimUsageCharge records a movement as the line's pending one if the line is still
	// as read; false when another charger moved it first.
	ClaimUsageCharge(ctx context.Context, in billow.ClaimUsageChargeInput) (billow.UsageCharge, bool, error)
	// SettleUsageCharge records a claimed movement as posted (once per transfer id) or
	// refused, and clears the line's claim of it.
	SettleUsageCharge(ctx context.Context, in billow.SettleUsageChargeInput) (billow.UsageCharge, error)
}
