// Package credits keeps wallets current as time passes: it grants each plan's included
// credits at the start of every period, and expires the grants and holds whose time has
// run out. Every movement it makes has an id derived from what it does (the period, the
// grant, the hold), so several processes may run it at once and each movement happens once.
//
// Included credits follow one of two periods, never both for one account at once (Cycled
// says which): the billing cycle of a subscription, granted by the billing service at
// each period start (CycleGrant, UpgradeGrant), or the calendar month in the account's
// zone, granted by the Keeper (IncludedGrant) to accounts without a subscription. Accounts
// on a test clock are the billing service's alone: their clock, not the real one, moves
// their grants and holds (billing.Service.AdvanceTestClock).
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
	// AccountsDueIncludedCredits leaves out accounts on a test clock and accounts with a
	// monthly subscription that has begun: the billing service grants theirs.
	AccountsDueIncludedCredits(ctx context.Context, limit int) ([]*billow.Account, error)
	SetIncludedCreditsUntil(ctx context.Context, accountID string, until time.Time) error
	// LiveSubscription returns the subscription that has not ended (no_subscription).
	LiveSubscription(ctx context.Context, accountID string) (*billow.Subscription, error)
	AccountCatalog(ctx context.Context, a *billow.Account) (*catalog.Catalog, error)
	CreateGrant(ctx context.Context, in billow.CreateGrantInput) (*billow.Grant, *billow.Transfer, error)
	// ExpireGrants and ExpireHolds leave out accounts on a test clock.
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

// IncludedGrant returns the free grant a plan includes for the calendar month of now in
// the account's time zone, and the end of that month; nil when the plan includes no
// credits. It is the period of an account without a subscription (Cycled says when a
// subscription's cycle takes over). The grant expires at the month's end, when the next
// one begins. Its id names the plan and the month, so granting twice is a no-op and a new
// plan gets its own grant.
func IncludedGrant(a *billow.Account, plan *catalog.Plan, now time.Time) (*billow.CreateGrantInput, time.Time, error) {
	zone, err := time.LoadLocation(a.Timezone)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("credits: account %s: %w", a.ID, err)
	}
	local := now.In(zone)
	start := time.Date(local.Year(), local.Month(), 1, 0, 0, 0, 0, zone)
	end := start.AddDate(0, 1, 0).UTC()
	if includedUcr(plan) == 0 {
		return nil, end, nil
	}
	return &billow.CreateGrantInput{
		Account:     a.ID,
		Kind:        billow.GrantFree,
		AmountUcr:   includedUcr(plan),
		ExpiresAt:   &end,
		ID:          fmt.Sprintf("%s%s:%s", billow.TransferIDIncluded, plan.Key, start.Format("2006-01")),
		Description: fmt.Sprintf("Free credits included with %s, %s", plan.Name, start.Format("January 2006")),
		System:      true,
	}, end, nil
}

// includedUcr is what a plan includes each period, in µcr; 0 for none.
func includedUcr(plan *catalog.Plan) int64 {
	if plan == nil || plan.IncludedCredits == nil || plan.IncludedCredits.Credits <= 0 {
		return 0
	}
	return plan.IncludedCredits.Credits * billow.MicroCreditsPerCredit
}

// Cycled reports whether a subscription to plan with the interval has its included
// credits granted by its billing cycle rather than by calendar month. A plan that
// refreshes by month on a yearly subscription is the one exception: its credits come
// every calendar month, from the Keeper, as for an account without a subscription.
func Cycled(plan *catalog.Plan, interval string) bool {
	return plan == nil || plan.IncludedCredits == nil || plan.IncludedCredits.Refresh != catalog.RefreshMonth ||
		interval == catalog.IntervalMonth
}

// Subscribed reports whether a subscription in status status runs billing periods, so
// that the billing service, not the Keeper, grants its included credits (when Cycled). An
// incomplete subscription (a wire transfer not yet cleared) has not begun.
func Subscribed(status billow.SubscriptionStatus) bool {
	return status != "" && status != billow.SubscriptionIncomplete && !status.Ended()
}

// CycleGrant returns the free grant a plan includes for the billing period [start, end)
// of a subscription; nil when the plan includes no credits or they are not Cycled. The
// grant expires at the period's end, when the renewal grants the next. Its id names the
// plan and the period's start, so granting twice is a no-op; loc is the account's time
// zone, in which the description gives the dates.
func CycleGrant(accountID string, plan *catalog.Plan, interval string, start, end time.Time, loc *time.Location) *billow.CreateGrantInput {
	if includedUcr(plan) == 0 || !Cycled(plan, interval) {
		return nil
	}
	return cycleGrant(accountID, plan, includedUcr(plan), start, end,
		fmt.Sprintf("Free credits included with %s, %s", plan.Name, periodText(start, end, loc)))
}

// UpgradeGrant returns the free credits a change of plan at a time at within the period
// [start, end) adds: what the new plan includes beyond the old one, not prorated, so that
// the period ends up with the new plan's credits as if it had begun on it; nil when the
// new plan includes no more (the old grant then runs to the period's end). It bears the
// new plan's CycleGrant id for the period: a period that already had the new plan's
// credits (a trial that went back and forth) gets none again.
func UpgradeGrant(accountID string, from, to *catalog.Plan, interval string, start, at, end time.Time, loc *time.Location) *billow.CreateGrantInput {
	if includedUcr(to) == 0 || !Cycled(to, interval) {
		return nil
	}
	had := int64(0)
	if Cycled(from, interval) {
		had = includedUcr(from)
	}
	if includedUcr(to) <= had {
		return nil
	}
	return cycleGrant(accountID, to, includedUcr(to)-had, start, end,
		fmt.Sprintf("Free credits added by the change to %s, %s", to.Name, periodText(at, end, loc)))
}

func cycleGrant(accountID string, plan *catalog.Plan, ucr int64, start, end time.Time, desc string) *billow.CreateGrantInput {
	expires := end.UTC()
	return &billow.CreateGrantInput{
		Account:   accountID,
		Kind:      billow.GrantFree,
		AmountUcr: ucr,
		ExpiresAt: &expires,
		// The start to the microsecond, as the store keeps it: two periods of one plan
		// never start at the same instant.
		ID:          fmt.Sprintf("%s%s:%s", billow.TransferIDIncluded, plan.Key, start.UTC().Format("2006-01-02T15:04:05.999999Z07:00")),
		Description: desc,
		System:      true,
	}
}

func periodText(start, end time.Time, loc *time.Location) string {
	return start.In(loc).Format("2 January 2006") + " to " + end.In(loc).Format("2 January 2006")
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

// grantIncluded grants an account the included credits of the current month, if its
// plan has any and no subscription's cycle grants them, and records the end of the month.
func (k *Keeper) grantIncluded(ctx context.Context, a *billow.Account) (bool, error) {
	cat, err := k.store.AccountCatalog(ctx, a)
	if err != nil {
		return false, err
	}
	var plan *catalog.Plan
	if a.Plan != "" {
		plan, _ = cat.Plan(a.Plan)
	}
	if Subscribed(a.SubscriptionStatus) {
		// A yearly subscription (the store leaves out monthly ones): its cycle grants the
		// credits, unless its plan refreshes them by month. Looked at again next month,
		// as the plan may change.
		sub, err := k.store.LiveSubscription(ctx, a.ID)
		switch {
		case err == nil && Subscribed(sub.Status) && Cycled(plan, sub.Interval):
			plan = nil
		case err != nil && billow.ErrorCode(err) != billow.CodeNoSubscription:
			return false, fmt.Errorf("credits: included credits of %s: %w", a.ID, err)
		}
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
