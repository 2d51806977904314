package feed_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/feed"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// Events written by many concurrent decisions reach a consumer each exactly once and in
// seq order, while it follows the feed: none commits behind a position already passed
// (on PostgreSQL seq values are taken before commit, so this needs the writers' lock).
// Two followers of the same position give each event to one or both of them, never to
// neither.
func TestFollowerSeesEveryEventOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		a, err := env.DB.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: "feed", Name: "Feed", Catalog: "credits-platform", Plan: "pay_as_you_go"})
		if err != nil {
			t.Fatal(err)
		}
		// Half the writers write through a second store on the same database, as a second
		// process would: each store group commits its own decisions.
		other, err := sqlstore.Open(ctx, sqlstore.Config{URL: env.URL, Clock: env.Clock})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		stores := []*sqlstore.DB{env.DB, other}
		const writers, perWriter = 8, 40
		var mu sync.Mutex // protects seen and lastSeq
		seen := map[string]int{}
		lastSeq := int64(0)
		handle := func(ctx context.Context, events []*billow.BillingEvent) error {
			mu.Lock()
			defer mu.Unlock()
			for _, e := range events {
				seen[e.ID]++
				if e.Seq <= lastSeq {
					// Both followers may hand the same events; a lower seq than one
					// handled is fine only if it was handled before.
					if seen[e.ID] == 1 {
						return fmt.Errorf("event %s (seq %d) appeared behind seq %d", e.ID, e.Seq, lastSeq)
					}
					continue
				}
				lastSeq = e.Seq
			}
			return nil
		}
		followers := []*feed.Follower{
			{Store: env.DB, Name: "test_consumer", Handle: handle, BatchMax: 7},
			{Store: env.DB, Name: "test_consumer", Handle: handle, BatchMax: 5},
		}
		done := make(chan struct{})
		var followErr error
		var follow sync.WaitGroup
		for _, f := range followers {
			follow.Go(func() {
				for {
					select {
					case <-done:
						return
					default:
					}
					if _, err := f.Step(ctx); err != nil {
						mu.Lock()
						followErr = errors.Join(followErr, err)
						mu.Unlock()
						return
					}
				}
			})
		}
		var write sync.WaitGroup
		for w := range writers {
			write.Go(func() {
				for i := range perWriter {
					ev := &billow.BillingEvent{Account: a.ID, Type: "test.event", Subject: fmt.Sprintf("w%d-%d", w, i),
						Data: map[string]any{"i": i}, OccurredAt: storetest.Start}
					if err := stores[w%2].WriteBilling(ctx, &billow.BillingWrite{Events: []*billow.BillingEvent{ev}}); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		write.Wait()
		// Let the followers catch up, then stop them.
		for {
			f := &feed.Follower{Store: env.DB, Name: "test_probe", Handle: func(context.Context, []*billow.BillingEvent) error { return nil }, BatchMax: feed.BatchMax}
			if _, err := f.Step(ctx); err != nil {
				t.Fatal(err)
			}
			pos, err := env.DB.ConsumerPosition(ctx, "test_consumer")
			if err != nil {
				t.Fatal(err)
			}
			probe, err := env.DB.ConsumerPosition(ctx, "test_probe")
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			failed := followErr != nil
			mu.Unlock()
			if pos == probe || failed {
				break
			}
		}
		close(done)
		follow.Wait()
		if followErr != nil {
			t.Fatal(followErr)
		}
		if len(seen) != writers*perWriter {
			t.Fatalf("the consumer saw %d events, want %d", len(seen), writers*perWriter)
		}
	})
}

// A handler that fails leaves the position where it was: the same events come again.
func TestFailedHandlingIsRepeated(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		a, err := env.DB.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: "feed", Name: "Feed", Catalog: "credits-platform", Plan: "pay_as_you_go"})
		if err != nil {
			t.Fatal(err)
		}
		var events []*billow.BillingEvent
		for i := range 3 {
			events = append(events, &billow.BillingEvent{Account: a.ID, Type: "test.event", Subject: fmt.Sprint(i), Data: map[string]any{}, OccurredAt: storetest.Start})
		}
		if err := env.DB.WriteBilling(ctx, &billow.BillingWrite{Events: events}); err != nil {
			t.Fatal(err)
		}
		var got [][]string
		fail := true
		f := &feed.Follower{Store: env.DB, Name: "flaky", Handle: func(_ context.Context, evs []*billow.BillingEvent) error {
			var ids []string
			for _, e := range evs {
				ids = append(ids, e.Subject)
			}
			got = append(got, ids)
			if fail {
				fail = false
				return errors.New("smtp down")
			}
			return nil
		}}
		if _, err := f.Step(ctx); err == nil {
			t.Fatal("a failed handler's step reported no error")
		}
		if n, err := f.Run(ctx); err != nil || n != 3 {
			t.Fatalf("run after the failure: %d events, %v; want 3", n, err)
		}
		if n, err := f.Step(ctx); err != nil || n != 0 {
			t.Fatalf("step when up to date: %d events, %v; want 0", n, err)
		}
		want := "[[0 1 2] [0 1 2]]"
		if fmt.Sprint(got) != want {
			t.Fatalf("handled %v, want %s", got, want)
		}
	})
}
