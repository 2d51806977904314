// Package feed follows billing_events, the outbox billing writes in the transaction of
// each change, for the consumers of its domain events: emails and outbound webhooks. Each
// consumer has a position; Step hands it the events after its position, in order, and
// moves the position once they are handled. Handling must be idempotent by event id (a
// message or delivery keyed by the event): a crash between handling and moving the
// position hands the same events again, so each event causes its messages exactly once.
package feed

import (
	"context"
	"fmt"
	"regexp"

	"github.com/billowhq/billow"
)

// Limits of a follower, named with their unit last.
const (
	// BatchMaxDefault is how many events one Step hands over when Follower.BatchMax is 0.
	BatchMaxDefault = 500
	// BatchMax bounds Follower.BatchMax.
	BatchMax = 10_000
	// StepsPerRunMax bounds the steps of one Run: a backlog is worked off over several runs.
	StepsPerRunMax = 100
)

// Store is what a follower reads and writes (sqlstore.DB).
type Store interface {
	BillingEvents(ctx context.Context, accountID string, afterSeq int64, limit int) ([]*billow.BillingEvent, error)
	ConsumerPosition(ctx context.Context, consumer string) (int64, error)
	AdvanceConsumer(ctx context.Context, consumer string, from, to int64) error
}

// Follower hands the billing events to one consumer.
type Follower struct {
	Store Store
	// Name names the consumer's position, e.g. "email" or "webhooks": [a-z0-9_].
	Name string
	// Handle makes what the events cause, idempotently by event id. An error leaves the
	// position where it was: the same events come again at the next step.
	Handle   func(ctx context.Context, events []*billow.BillingEvent) error
	BatchMax int // 0: BatchMaxDefault
}

var consumerName = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)

// Step hands the next events to Handle and moves the position past them. It returns how
// many events were handed over: 0 when the consumer is up to date.
func (f *Follower) Step(ctx context.Context) (int, error) {
	if !consumerName.MatchString(f.Name) {
		return 0, fmt.Errorf("feed: consumer name %q must match %s", f.Name, consumerName)
	}
	limit := f.BatchMax
	if limit == 0 {
		limit = BatchMaxDefault
	}
	if limit < 1 || limit > BatchMax {
		return 0, fmt.Errorf("feed: batch of %d events, outside 1 to %d", limit, BatchMax)
	}
	from, err := f.Store.ConsumerPosition(ctx, f.Name)
	if err != nil {
		return 0, err
	}
	events, err := f.Store.BillingEvents(ctx, "", from, limit)
	if err != nil || len(events) == 0 {
		return 0, err
	}
	if err := f.Handle(ctx, events); err != nil {
		return 0, fmt.Errorf("feed: %s: %w", f.Name, err)
	}
	if err := f.Store.AdvanceConsumer(ctx, f.Name, from, events[len(events)-1].Seq); err != nil {
		// Another process handled the same events and moved first; its messages and
		// ours are the same messages, keyed by event id.
		if billow.ErrorCode(err) == billow.CodeConcurrentUpdate {
			return len(events), nil
		}
		return 0, err
	}
	return len(events), nil
}

// Run steps until the consumer is up to date or StepsPerRunMax steps are taken; it fits
// jobs.Periodic.Run.
func (f *Follower) Run(ctx context.Context) (int, error) {
	total := 0
	for range StepsPerRunMax {
		n, err := f.Step(ctx)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
	return total, nil
}
