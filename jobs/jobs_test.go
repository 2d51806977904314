package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// waitMax bounds every wait of these tests: a wait that runs out fails the test; a test
// that passes never depends on it.
const waitMax = 60 * time.Second

// fakeAdvancer reports its subscriptions as due until advanced and counts calls per id.
type fakeAdvancer struct {
	mu        sync.Mutex // protects the following fields
	order     []string   // every subscription, oldest due first
	due       map[string]bool
	calls     map[string]int
	sweeps    int           // DueSubscriptions calls
	fail      error         // when set, AdvanceSubscription fails with it
	holdSweep bool          // when set, AdvanceSubscription returns only after a later sweep
	block     bool          // when set, AdvanceSubscription waits for its context to end
	started   chan struct{} // receives once per AdvanceSubscription call, if set
	ctxErrs   []error       // context errors seen by blocked calls
}

func newFakeAdvancer(n int) *fakeAdvancer {
	f := &fakeAdvancer{due: map[string]bool{}, calls: map[string]int{}}
	for i := range n {
		id := fmt.Sprintf("sub_%04d", i)
		f.order = append(f.order, id)
		f.due[id] = true
	}
	return f
}

func (f *fakeAdvancer) DueSubscriptions(ctx context.Context, now time.Time, limit int) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sweeps++
	var ids []string
	for _, id := range f.order {
		if f.due[id] && len(ids) < limit {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func (f *fakeAdvancer) AdvanceSubscription(ctx context.Context, id string, now time.Time) error {
	f.mu.Lock()
	f.calls[id]++
	sweeps, fail, holdSweep, block, started := f.sweeps, f.fail, f.holdSweep, f.block, f.started
	f.mu.Unlock()
	if started != nil {
		started <- struct{}{}
	}
	if fail != nil {
		return fail
	}
	if block {
		<-ctx.Done()
		f.mu.Lock()
		f.ctxErrs = append(f.ctxErrs, ctx.Err())
		f.mu.Unlock()
		return ctx.Err()
	}
	// Stay running until another sweep has looked at the due subscriptions, so that a sweep
	// certainly meets this job while it runs.
	for holdSweep && f.sweepCount() <= sweeps {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.due, id)
	return nil
}

func (f *fakeAdvancer) sweepCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sweeps
}

func (f *fakeAdvancer) callCounts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	counts := make(map[string]int, len(f.calls))
	for id, n := range f.calls {
		counts[id] = n
	}
	return counts
}

func (f *fakeAdvancer) allAdvanced() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.due) == 0
}

// fastRetry retries a failed job after 10 ms instead of River's 1 s, 16 s, 81 s, ….
type fastRetry struct{}

func (fastRetry) NextRetry(*rivertype.JobRow) time.Time { return time.Now().Add(10 * time.Millisecond) }

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("BILLOW_TEST_JOBS_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("test", t.Name())
	}
	return slog.New(slog.DiscardHandler)
}

// newRunner migrates River's tables into db and returns a Runner on it, stopped at the end
// of the test.
func newRunner(t *testing.T, db *sqlstore.DB, clock *storetest.Clock, adv Advancer, edit func(*Config)) *Runner {
	t.Helper()
	if err := Migrate(context.Background(), db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	cfg := Config{Store: db, Advancer: adv, Clock: clock, Logger: testLogger(t), SweepInterval: 100 * time.Millisecond}
	if edit != nil {
		edit(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatalf("new runner: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitMax)
		defer cancel()
		if err := r.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return r
}

func start(t *testing.T, r *Runner) {
	t.Helper()
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds, failing the test after waitMax.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitMax)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting (%s) for %s", waitMax, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// listJobs returns the jobs of a kind in the given states (all states if none).
func listJobs(t *testing.T, r *Runner, kind string, states ...rivertype.JobState) []*rivertype.JobRow {
	t.Helper()
	params := river.NewJobListParams().Kinds(kind).First(10_000)
	if len(states) > 0 {
		params = params.States(states...)
	}
	res, err := r.client.JobList(context.Background(), params)
	if err != nil {
		t.Fatalf("list %s jobs: %v", kind, err)
	}
	return res.Jobs
}

// settled waits until no advance job is queued or running and then until two more sweeps
// have run, so that a duplicate a sweep could still queue would have been queued and worked.
func settled(t *testing.T, rs []*Runner, f *fakeAdvancer) {
	t.Helper()
	noLiveJobs := func() bool {
		for _, r := range rs {
			if len(listJobs(t, r, kindAdvance, liveStates...)) > 0 {
				return false
			}
		}
		return true
	}
	waitFor(t, "every subscription advanced", f.allAdvanced)
	waitFor(t, "no advance job queued or running", noLiveJobs)
	sweeps := f.sweepCount()
	waitFor(t, "two more sweeps", func() bool { return f.sweepCount() >= sweeps+2 })
	waitFor(t, "no advance job queued or running after those sweeps", noLiveJobs)
}

func assertAdvancedOnce(t *testing.T, f *fakeAdvancer, n int) {
	t.Helper()
	counts := f.callCounts()
	if len(counts) != n {
		t.Errorf("%d subscriptions advanced, want %d", len(counts), n)
	}
	for id, c := range counts {
		if c != 1 {
			t.Errorf("subscription %s advanced %d times, want 1", id, c)
		}
	}
}

// A due subscription is advanced, once, by the periodic sweep, although sweeps keep
// running while its job runs.
func TestSweepAdvancesDueSubscriptionsOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFakeAdvancer(3) // fewer than Workers: the held jobs leave a worker for the sweep
		f.holdSweep = true
		r := newRunner(t, env.DB, env.Clock, f, nil)
		start(t, r)
		settled(t, []*Runner{r}, f)
		assertAdvancedOnce(t, f, 3)
	})
}

// Two sweeps in a row, before any job is worked, queue each subscription once.
func TestSweepNowQueuesEachSubscriptionOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		f := newFakeAdvancer(5)
		r := newRunner(t, env.DB, env.Clock, f, nil)
		n, err := r.SweepNow(ctx)
		if err != nil || n != 5 {
			t.Fatalf("first SweepNow = %d, %v; want 5, nil", n, err)
		}
		n, err = r.SweepNow(ctx)
		if err != nil || n != 0 {
			t.Fatalf("second SweepNow = %d, %v; want 0, nil", n, err)
		}
		jobs := listJobs(t, r, kindAdvance)
		var ids []string
		for _, j := range jobs {
			if !strings.Contains(string(j.EncodedArgs), `"subscription_id"`) {
				t.Errorf("job %d args %s lack the subscription id", j.ID, j.EncodedArgs)
			}
			ids = append(ids, string(j.EncodedArgs))
		}
		slices.Sort(ids)
		if len(jobs) != 5 || len(slices.Compact(ids)) != 5 {
			t.Fatalf("%d advance jobs with %d distinct args queued, want 5 and 5", len(jobs), len(slices.Compact(ids)))
		}

		start(t, r)
		settled(t, []*Runner{r}, f)
		assertAdvancedOnce(t, f, 5)
	})
}

// Two processes on one PostgreSQL schema advance 200 due subscriptions once in total, and
// run a Periodic never twice at once: only the leader enqueues it, uniqueness keeps one
// queued or running, and each enqueued job is worked once, by either process.
func TestTwoProcessesShareOnePostgres(t *testing.T) {
	env := storetest.Open(t, sqlstore.Postgres)
	ctx := context.Background()
	const subscriptions = 200
	f := newFakeAdvancer(subscriptions)

	var (
		inFlight, maxInFlight atomic.Int32
		runsMu                sync.Mutex // protects runs
		runs                  [2]int     // Periodic runs per process
	)
	var runners []*Runner
	for i := range 2 {
		db, err := sqlstore.Open(ctx, sqlstore.Config{URL: env.URL, Clock: env.Clock})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		upkeep := Periodic{Name: "upkeep", Interval: 100 * time.Millisecond, Run: func(ctx context.Context, now time.Time) error {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for m := maxInFlight.Load(); n > m && !maxInFlight.CompareAndSwap(m, n); m = maxInFlight.Load() {
			}
			runsMu.Lock()
			runs[i]++
			runsMu.Unlock()
			// Work for longer than the interval, so that ticks fall while it runs.
			select {
			case <-ctx.Done():
			case <-time.After(150 * time.Millisecond):
			}
			return nil
		}}
		runners = append(runners, newRunner(t, db, env.Clock, f, func(c *Config) { c.Periodic = []Periodic{upkeep} }))
	}
	for _, r := range runners {
		start(t, r)
	}

	settled(t, runners, f)
	assertAdvancedOnce(t, f, subscriptions)

	totalRuns := func() int {
		runsMu.Lock()
		defer runsMu.Unlock()
		return runs[0] + runs[1]
	}
	waitFor(t, "five runs of the Periodic", func() bool { return totalRuns() >= 5 })

	// Exactly one leader, one of the two.
	if runners[0].client.ID() == runners[1].client.ID() {
		t.Fatalf("both processes have River client id %q", runners[0].client.ID())
	}
	var leader string
	if err := env.DB.Pool().QueryRow(ctx, "SELECT leader_id FROM river_leader").Scan(&leader); err != nil {
		t.Fatalf("read the leader: %v", err)
	}
	if leader != runners[0].client.ID() && leader != runners[1].client.ID() {
		t.Errorf("leader %q is neither process (%q, %q)", leader, runners[0].client.ID(), runners[1].client.ID())
	}

	for _, r := range runners {
		stopCtx, cancel := context.WithTimeout(ctx, waitMax)
		if err := r.Stop(stopCtx); err != nil {
			t.Errorf("stop: %v", err)
		}
		cancel()
	}
	if m := maxInFlight.Load(); m != 1 {
		t.Errorf("the Periodic ran %d at once, want 1", m)
	}
	// Every run was one job's single attempt: no job was worked by both processes.
	var attempted int
	if err := env.DB.Pool().QueryRow(ctx, "SELECT coalesce(sum(attempt), 0) FROM river_job WHERE kind = $1", kindPeriodic).Scan(&attempted); err != nil {
		t.Fatal(err)
	}
	runsMu.Lock()
	defer runsMu.Unlock()
	if attempted != runs[0]+runs[1] {
		t.Errorf("Periodic ran %d times (%d + %d) for %d attempts of its jobs", runs[0]+runs[1], runs[0], runs[1], attempted)
	}
	t.Logf("Periodic runs per process: %v; leader %s", runs, leader)
}

// River's tables land in the store's schema; Migrate is idempotent and, on PostgreSQL, may
// run in two processes at once.
func TestMigrate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		errs := make([]error, 2)
		if env.DB.Dialect() == sqlstore.Postgres {
			// Processes sharing a PostgreSQL may start at once. (A SQLite file serves one
			// process, which migrates once at start.)
			var wg sync.WaitGroup
			for i := range errs {
				wg.Go(func() { errs[i] = Migrate(ctx, env.DB) })
			}
			wg.Wait()
		} else {
			errs[0], errs[1] = Migrate(ctx, env.DB), Migrate(ctx, env.DB)
		}
		if err := errors.Join(append(errs, Migrate(ctx, env.DB))...); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		switch env.DB.Dialect() {
		case sqlstore.Postgres:
			var inSchema bool
			q := "SELECT to_regclass(quote_ident(current_schema()) || '.river_job') IS NOT NULL AND current_schema() LIKE 'billow_test_%'"
			if err := env.DB.Pool().QueryRow(ctx, q).Scan(&inSchema); err != nil {
				t.Fatal(err)
			}
			if !inSchema {
				t.Error("river_job is not in the store's schema")
			}
		case sqlstore.SQLite:
			db, err := sql.Open("sqlite", "file:"+env.DB.SQLitePath())
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var n int
			if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'river_job'").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Error("river_job is not in the store's file")
			}
		}
	})
}

// A failing advance is retried and given up after advanceAttemptsMax attempts; it is not
// queued again before the next due marker.
func TestFailingAdvanceGivesUp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		f := newFakeAdvancer(1)
		f.fail = errors.New("gateway down")
		r := newRunner(t, env.DB, env.Clock, f, func(c *Config) {
			c.retryPolicy = fastRetry{}
			c.SweepInterval = intervalMax // only the sweep at start
		})
		start(t, r)
		var discarded []*rivertype.JobRow
		waitFor(t, "the advance job discarded", func() bool {
			discarded = listJobs(t, r, kindAdvance, rivertype.JobStateDiscarded)
			return len(discarded) > 0
		})
		if len(discarded) != 1 {
			t.Fatalf("%d discarded advance jobs, want 1", len(discarded))
		}
		j := discarded[0]
		if j.Attempt != advanceAttemptsMax || j.MaxAttempts != advanceAttemptsMax || len(j.Errors) != advanceAttemptsMax {
			t.Errorf("discarded job: attempt %d of %d with %d errors, want %d of %d with %d", j.Attempt, j.MaxAttempts, len(j.Errors), advanceAttemptsMax, advanceAttemptsMax, advanceAttemptsMax)
		}
		if c := f.callCounts()["sub_0000"]; c != advanceAttemptsMax {
			t.Errorf("AdvanceSubscription called %d times, want %d", c, advanceAttemptsMax)
		}
		if all := listJobs(t, r, kindAdvance); len(all) != 1 {
			t.Errorf("%d advance jobs, want the 1 discarded", len(all))
		}

		if n, err := r.SweepNow(ctx); err != nil || n != 0 {
			t.Errorf("SweepNow before the next due marker = %d, %v; want 0, nil", n, err)
		}
		env.Clock.Advance(dueMarkerPeriod)
		if n, err := r.SweepNow(ctx); err != nil || n != 1 {
			t.Errorf("SweepNow at the next due marker = %d, %v; want 1, nil", n, err)
		}
	})
}

// Stop returns, cancelling a job that outlives the caller's deadline; Stop on an idle or
// never started Runner returns nil.
func TestStop(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		f := newFakeAdvancer(1)
		f.block = true
		f.started = make(chan struct{}, advanceAttemptsMax)
		r := newRunner(t, env.DB, env.Clock, f, nil)
		start(t, r)
		select {
		case <-f.started:
		case <-time.After(waitMax):
			t.Fatal("the advance job never started")
		}

		stopped := make(chan error, 1)
		go func() {
			stopCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond) // the caller's grace
			defer cancel()
			stopped <- r.Stop(stopCtx)
		}()
		select {
		case err := <-stopped:
			if err != nil {
				t.Errorf("stop: %v", err)
			}
		case <-time.After(waitMax):
			t.Fatal("Stop did not return")
		}
		f.mu.Lock()
		ctxErrs := slices.Clone(f.ctxErrs)
		f.mu.Unlock()
		if len(ctxErrs) != 1 || !errors.Is(ctxErrs[0], context.Canceled) {
			t.Errorf("the running job saw context errors %v, want one cancellation", ctxErrs)
		}

		idle := newRunner(t, env.DB, env.Clock, nil, nil)
		start(t, idle)
		if err := idle.Stop(ctx); err != nil {
			t.Errorf("stop an idle runner: %v", err)
		}
		never := newRunner(t, env.DB, env.Clock, nil, nil)
		if err := never.Stop(ctx); err != nil {
			t.Errorf("stop a runner never started: %v", err)
		}
	})
}

// A Periodic runs repeatedly, never twice at once, with `now` from the injected clock.
func TestPeriodicRuns(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		var (
			inFlight, maxInFlight, runs atomic.Int32
			nowMu                       sync.Mutex // protects nows
			nows                        []time.Time
		)
		p := Periodic{Name: "credits_upkeep", Interval: 100 * time.Millisecond, Run: func(ctx context.Context, now time.Time) error {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for m := maxInFlight.Load(); n > m && !maxInFlight.CompareAndSwap(m, n); m = maxInFlight.Load() {
			}
			nowMu.Lock()
			nows = append(nows, now)
			nowMu.Unlock()
			runs.Add(1)
			select {
			case <-ctx.Done():
			case <-time.After(150 * time.Millisecond): // longer than the interval
			}
			return nil
		}}
		r := newRunner(t, env.DB, env.Clock, nil, func(c *Config) { c.Periodic = []Periodic{p} })
		start(t, r)
		waitFor(t, "three runs", func() bool { return runs.Load() >= 3 })
		if m := maxInFlight.Load(); m != 1 {
			t.Errorf("ran %d at once, want 1", m)
		}
		nowMu.Lock()
		defer nowMu.Unlock()
		for _, now := range nows {
			if !now.Equal(storetest.Start) {
				t.Errorf("Run got now %s, want the test clock's %s", now, storetest.Start)
			}
		}
	})
}

func TestNewRejectsBadConfig(t *testing.T) {
	env := storetest.Open(t, sqlstore.SQLite)
	run := func(context.Context, time.Time) error { return nil }
	for name, cfg := range map[string]Config{
		"no store":          {},
		"workers":           {Store: env.DB, Workers: workersMax + 1},
		"sweep interval":    {Store: env.DB, SweepInterval: time.Millisecond},
		"periodic name":     {Store: env.DB, Periodic: []Periodic{{Name: "Credits Upkeep", Interval: time.Minute, Run: run}}},
		"periodic twice":    {Store: env.DB, Periodic: []Periodic{{Name: "a", Interval: time.Minute, Run: run}, {Name: "a", Interval: time.Minute, Run: run}}},
		"periodic interval": {Store: env.DB, Periodic: []Periodic{{Name: "a", Interval: 0, Run: run}}},
		"periodic run":      {Store: env.DB, Periodic: []Periodic{{Name: "a", Interval: time.Minute}}},
	} {
		if r, err := New(cfg); err == nil {
			r.Stop(context.Background())
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}
