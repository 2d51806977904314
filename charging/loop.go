package charging

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"
)

// AccountsChanged marks accounts as having new usage, to be rated at the next
// DirtyInterval tick. It never blocks on I/O: ingest calls it after each commit
// (ingest.OnStored). Beyond DirtyAccountsMax waiting accounts, more are left to the
// sweep.
func (c *Charger) AccountsChanged(accountIDs []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range accountIDs {
		if _, ok := c.dirty[id]; ok {
			continue
		}
		if len(c.dirty) >= c.limits.DirtyAccountsMax {
			c.dropped++
			continue
		}
		c.dirty[id] = struct{}{}
	}
}

// takeDirty returns the accounts marked since the last call, in id order, and how many
// could not be marked.
func (c *Charger) takeDirty() ([]string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := slices.Sorted(maps.Keys(c.dirty))
	dropped := c.dropped
	clear(c.dirty)
	c.dropped = 0
	return ids, dropped
}

// Run rates accounts until ctx is done: those ingest marked, every DirtyInterval, and
// every account with a plan, at start and every SweepInterval. An account's failure is
// logged and retried by the next tick or sweep; Run itself only returns when ctx is done.
func (c *Charger) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(c.limits.DirtyInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				c.ChargeDirty(ctx)
			}
		}
	})
	wg.Go(func() {
		tick := time.NewTicker(c.limits.SweepInterval)
		defer tick.Stop()
		for {
			if _, err := c.Sweep(ctx); err != nil && ctx.Err() == nil {
				c.logger.Error("usage charge sweep failed", slog.Group("charge", "error", err))
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	wg.Wait()
}

// ChargeDirty rates the accounts marked since it last ran, once each, and returns how
// many it rated. Run calls it every DirtyInterval.
func (c *Charger) ChargeDirty(ctx context.Context) int {
	ids, dropped := c.takeDirty()
	if dropped > 0 {
		c.logger.Warn("accounts with new usage left to the sweep", slog.Group("charge", "accounts", dropped, "dirty_accounts_max", c.limits.DirtyAccountsMax))
	}
	rated := 0
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		if _, err := c.ChargeAccount(ctx, id); err != nil && ctx.Err() == nil {
			c.logger.Error("usage charge failed", slog.Group("charge", "account", id, "error", err))
		}
		rated++
	}
	return rated
}

// SweepResult is what one sweep did.
type SweepResult struct {
	Accounts int // accounts with a plan read
	Prepaid  int // of them, accounts whose plan has rates billed in credits, rated
	Failed   int // of them, accounts whose run failed (logged)
}

// Sweep rates every account with a plan whose rates are billed in credits, a page at a
// time. An account's failure is logged and counted, and the sweep goes on.
//
// Errors: the store's, when it cannot list accounts; ctx's when it is done.
func (c *Charger) Sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	after := ""
	for {
		accounts, err := c.store.AccountsWithPlan(ctx, after, c.limits.SweepPageAccounts)
		if err != nil {
			return res, err
		}
		for _, a := range accounts {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			res.Accounts++
			actx, cancel := context.WithTimeout(ctx, c.limits.AccountTimeout)
			r, err := c.chargeAccount(actx, a)
			cancel()
			if err != nil {
				res.Failed++
				if ctx.Err() == nil {
					c.logger.Error("usage charge failed", slog.Group("charge", "account", a.ID, "error", err))
				}
				continue
			}
			if r.Prepaid {
				res.Prepaid++
			}
		}
		if len(accounts) < c.limits.SweepPageAccounts {
			return res, nil
		}
		after = accounts[len(accounts)-1].ID
	}
}
