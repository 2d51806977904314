package billing

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// An invoice run advances every subscription with work due, several at once: each
// subscription is still one pass (its reads, then its decisions committed whole), and
// the store group commits the decisions of concurrent passes, so that a run of thousands
// of renewals shares transactions and fsyncs instead of paying one each.

// Limits of an invoice run, named with their unit last.
const (
	// RunWorkersDefault is how many subscriptions a run advances at once by default:
	// enough for the store's group commit to fill its batches while passes wait on reads.
	RunWorkersDefault = 32
	// RunWorkersMax bounds the concurrency of a run.
	RunWorkersMax = 256
	// runPageSubscriptionsMax bounds the due subscriptions one read of a run returns.
	runPageSubscriptionsMax = 1_000
	// runErrorsKeptMax bounds the failures a run reports by name; the rest are counted.
	runErrorsKeptMax = 10
	// RunFailureDelay is how long a subscription whose pass failed waits before a run
	// takes it again, so that one that keeps failing is neither retried nor logged at
	// every sweep.
	RunFailureDelay = 5 * time.Minute
)

// RunInput configures an invoice run.
type RunInput struct {
	// Workers is how many subscriptions are advanced at once (RunWorkersDefault when 0).
	Workers int
	// SubscriptionsMax stops the run after this many subscriptions (0: all that are due).
	SubscriptionsMax int
	// Progress, when set, is called after each subscription with the counts so far. It is
	// called from the run's workers, one call at a time.
	Progress func(RunResult)
}

// Validate checks the input's bounds.
func (in RunInput) Validate() error {
	if in.Workers < 0 || in.Workers > RunWorkersMax {
		return fmt.Errorf("billing: run workers must be 0 to %d, not %d", RunWorkersMax, in.Workers)
	}
	if in.SubscriptionsMax < 0 {
		return fmt.Errorf("billing: run subscriptions max must not be negative")
	}
	return nil
}

// RunResult counts what an invoice run did.
type RunResult struct {
	Advanced int     // subscriptions whose due work ran
	Failed   int     // subscriptions whose work failed; they stay due for the next run
	Errors   []error // the first failures, at most runErrorsKeptMax
}

// RunDue advances the subscriptions with work due at or before now (renewals, charges,
// retries, suspensions, trial ends), in.Workers at a time, and returns what it did. A
// subscription that fails is counted and postponed by RunFailureDelay; the others go on.
// Accounts on a test clock are left to their clock. The result given to Progress shares
// its Errors with the run: a callback that keeps it must copy them.
func (s *Service) RunDue(ctx context.Context, now time.Time, in RunInput) (RunResult, error) {
	if err := in.Validate(); err != nil {
		return RunResult{}, err
	}
	workers := in.Workers
	if workers == 0 {
		workers = RunWorkersDefault
	}
	var (
		mu  sync.Mutex // protects res and serializes Progress
		res RunResult
		// taken holds the subscriptions this run took, true for those that stay due: the
		// failed, and any still due after a pass that succeeded (a fault of its next
		// action time, which must not spin the run). They are not taken again.
		taken    = map[string]bool{}
		stillDue int
	)
	for in.SubscriptionsMax == 0 || res.Advanced+res.Failed < in.SubscriptionsMax {
		page := runPageSubscriptionsMax
		if in.SubscriptionsMax > 0 {
			page = min(page, in.SubscriptionsMax-res.Advanced-res.Failed)
		}
		ids, err := s.store.DueSubscriptions(ctx, now, page+stillDue)
		if err != nil {
			return res, err
		}
		todo := ids[:0]
		for _, id := range ids {
			due, ok := taken[id]
			switch {
			case ok && !due:
				taken[id] = true
				stillDue++
				s.logger.Error("billing: invoice run: a subscription is still due after its pass", "subscription", id)
			case !ok && len(todo) < page:
				todo = append(todo, id)
			}
		}
		if len(todo) == 0 {
			return res, nil
		}
		var next atomic.Int64
		var wg sync.WaitGroup
		for range min(workers, len(todo)) {
			wg.Go(func() {
				for k := int(next.Add(1)) - 1; k < len(todo) && ctx.Err() == nil; k = int(next.Add(1)) - 1 {
					err := s.AdvanceSubscription(ctx, todo[k], now)
					if err != nil && ctx.Err() == nil {
						if perr := s.store.PostponeSubscription(ctx, todo[k], now.Add(RunFailureDelay)); perr != nil {
							err = errors.Join(err, perr)
						}
					}
					mu.Lock()
					taken[todo[k]] = err != nil
					if err != nil {
						stillDue++
						res.Failed++
						if len(res.Errors) < runErrorsKeptMax {
							res.Errors = append(res.Errors, err)
						}
						s.logger.Error("billing: invoice run: a subscription failed", "subscription", todo[k], "err", err)
					} else {
						res.Advanced++
					}
					if in.Progress != nil {
						in.Progress(res)
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return res, err
		}
	}
	return res, nil
}

// Err summarizes a run's failures, nil when none failed.
func (r RunResult) Err() error {
	if r.Failed == 0 {
		return nil
	}
	return fmt.Errorf("billing: %d subscriptions failed in the invoice run: %w", r.Failed, errors.Join(r.Errors...))
}
