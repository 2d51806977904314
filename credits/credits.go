// Package credits keeps wallets current as time passes: it grants each plan's included
// credits at the start of every period, and expires the grants and holds whose time has
// run out. Every movement it makes has an id derived from what it does (the period, the
// grant, the hold), so several processes may run it at once and each movement happens once.
package credits

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
)

// Store is what the upkeep reads and moves.
type Store interface {
	AccountsDueIncludedCredits(ctx context.Context, limit int) ([]*billow.Account, error)
	SetIncludedCreditsUntil(ctx context.Context, accountID string, until time.Time) error
	AccountCatalog(ctx context.Context, a *billow.Account) (*catalog.Catalog, error)
	CreateGrant(ctx context.Context, in billow.CreateGrantInput) (*billow.Grant, *billow.Transfer, error)
	ExpireGrants(ctx context.Context) (int, error)
	ExpireHolds(ctx context.Context) (int, error)
}

// Limits of the upkeep.
const (
	// IntervalDefault is how often the upkeep looks for work: an expired hold or grant
	// stays in the books at most this long past its time.
	IntervalDefault = 10 * time.Second
	// accountsPageMax bounds the accounts one pass reads at once.
	accountsPageMax = 500
	// failedAccountRetry is how long an account whose included credits failed waits
	// before the next try.
	failedAccountRetry = time.Hour
	// passAccountsMax bounds the accounts one pass grants to, so a pass ends; the next
	// one goes on.
	passAccountsMax = 100_000
)

// IncludedGrant returns the free grant a plan includes for the period of now, and the
// end of that period; nil when the plan includes no credits. The period is the calendar
// month in the account's time zone (the billing cycle, until subscriptions anchor it
// elsewhere); the grant expires at its end, when the next one begins. Its id names the
// plan and the month, so granting twice is a no-op and a new plan gets its own grant.
func IncludedGrant(a *billow.Account, plan *catalog.Plan, now time.Time) (*billow.CreateGrantInput, time.Time, error) {
	zone, err := time.LoadLocation(a.Timezone)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("credits: account %s: %w", a.ID, err)
	}
	local := now.In(zone)
	start := time.Date(local.Year(), local.Month(), 1, 0, 0, 0, 0, zone)
	end := start.AddDate(0, 1, 0).UTC()
	if plan == nil || plan.IncludedCredits == nil || plan.IncludedCredits.Credits <= 0 {
		return nil, end, nil
	}
	return &billow.CreateGrantInput{
		Account:     a.ID,
		Kind:        billow.GrantFree,
		AmountUcr:   plan.IncludedCredits.Credits * billow.MicroCreditsPerCredit,
		ExpiresAt:   &end,
		ID:          fmt.Sprintf("%s%s:%s", billow.TransferIDIncluded, plan.Key, start.Format("2006-01")),
		Description: fmt.Sprintf("Free credits included with %s, %s", plan.Name, start.Format("January 2006")),
		System:      true,
	}, end, nil
}

// Keeper runs the upkeep.
type Keeper struct {
	store    Store
	clock    billow.Clock
	logger   *slog.Logger
	interval time.Duration
}

// NewKeeper returns a Keeper that looks for work every interval (IntervalDefault if 0).
func NewKeeper(store Store, clock billow.Clock, logger *slog.Logger, interval time.Duration) *Keeper {
	if interval <= 0 {
		interval = IntervalDefault
	}
	return &Keeper{store: store, clock: clock, logger: logger, interval: interval}
}

// Pass is what one pass of the upkeep did.
type Pass struct {
	HoldsExpired   int
	GrantsExpired  int
	IncludedGrants int
}

// RunOnce expires what is due, then grants the included credits of every account due.
// Expiry goes first, so that the credits of a period that ended leave before the next
// period's arrive. A stage that fails does not stop the next, and an account that fails
// does not stop the others: it is tried again after failedAccountRetry. The error joins
// what failed.
func (k *Keeper) RunOnce(ctx context.Context) (Pass, error) {
	var p Pass
	var errs []error
	for { // each call does at most a page; go on while pages come back with work done
		n, err := k.store.ExpireHolds(ctx)
		p.HoldsExpired += n
		if err != nil {
			errs = append(errs, fmt.Errorf("credits: expire holds: %w", err))
		}
		if n == 0 || err != nil {
			break
		}
	}
	for {
		n, err := k.store.ExpireGrants(ctx)
		p.GrantsExpired += n
		if err != nil {
			errs = append(errs, fmt.Errorf("credits: expire grants: %w", err))
		}
		if n == 0 || err != nil {
			break
		}
	}
	for seen := 0; seen < passAccountsMax && ctx.Err() == nil; {
		due, err := k.store.AccountsDueIncludedCredits(ctx, accountsPageMax)
		if err != nil {
			errs = append(errs, err)
			break
		}
		if len(due) == 0 {
			break
		}
		seen += len(due)
		for _, a := range due {
			granted, err := k.grantIncluded(ctx, a)
			if err != nil {
				errs = append(errs, err)
				// Not due again at once, or it would come first in every page.
				if err := k.store.SetIncludedCreditsUntil(ctx, a.ID, k.clock.Now().Add(failedAccountRetry)); err != nil {
					return p, errors.Join(append(errs, err)...) // the store itself fails: stop here
				}
				continue
			}
			if granted {
				p.IncludedGrants++
			}
		}
	}
	return p, errors.Join(errs...)
}

// grantIncluded grants an account the included credits of the current period, if its
// plan has any, and records the end of the period.
func (k *Keeper) grantIncluded(ctx context.Context, a *billow.Account) (bool, error) {
	cat, err := k.store.AccountCatalog(ctx, a)
	if err != nil {
		return false, err
	}
	var plan *catalog.Plan
	if a.Plan != "" {
		plan, _ = cat.Plan(a.Plan)
	}
	in, until, err := IncludedGrant(a, plan, k.clock.Now())
	if err != nil {
		return false, err
	}
	granted := false
	if in != nil {
		_, _, err := k.store.CreateGrant(ctx, *in)
		switch {
		case err == nil:
			granted = true
		case billow.ErrorCode(err) == billow.CodeIdempotencyReused:
			// Granted already under this id with other content (the catalog's amount
			// changed mid-period): the period keeps its first grant.
		default:
			return false, fmt.Errorf("credits: included credits of %s: %w", a.ID, err)
		}
	}
	return granted, k.store.SetIncludedCreditsUntil(ctx, a.ID, until)
}

// Run runs a pass every interval until ctx ends. A failed pass is logged, and the next
// one tries again.
func (k *Keeper) Run(ctx context.Context) {
	ticker := time.NewTicker(k.interval)
	defer ticker.Stop()
	for {
		p, err := k.RunOnce(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			k.logger.Error("credit upkeep failed", "err", err)
		case p != Pass{}:
			k.logger.Info("credit upkeep", slog.Group("done", "holds_expired", p.HoldsExpired, "grants_expired", p.GrantsExpired,
				"included_grants", p.IncludedGrants))
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}
