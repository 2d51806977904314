package jobs

import (
	"bytes"
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

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/billing"
	"github.com/billowhq/billow/payment/sandbox"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// waitMax bounds every wait of these tests: a wait that runs out fails the test; a test
// that passes never depends on it.
const waitMax = 60 * time.Second

// runSeen is what a fake run was given.
type runSeen struct {
	now              time.Time
	workers          int
	subscriptionsMax int
	progress         bool
}

// fakeAdvancer is an invoice run over subscriptions that are due until advanced. It counts
// runs and, per subscription, the times a run took it and the times it advanced it.
type fakeAdvancer struct {
	inFlight, inFlightMax atomic.Int32 // runs going on, and the most at once

	mu       sync.Mutex // protects the following fields
	order    []string   // every subscription, oldest due first
	due      map[string]bool
	taken    map[string]int // per subscription, the runs that took it
	advanced map[string]int // per subscription, the runs that advanced it
	runs     int            // runs begun
	runsDone int            // runs returned
	seen     []runSeen
	fail     error         // when set, every subscription a run takes fails with it
	runErr   error         // when set, a run stops early with it, before taking any
	delay    time.Duration // when set, a run waits this long before taking any
	hold     chan struct{} // when set, a run waits for it to be closed before taking any
	block    bool          // when set, a run waits for its context to end
	started  chan struct{} // told of each run that begins, if set and not full
	ctxErrs  []error       // context errors seen by blocked runs
}

func newFakeAdvancer(n int) *fakeAdvancer {
	f := &fakeAdvancer{due: map[string]bool{}, taken: map[string]int{}, advanced: map[string]int{}}
	for i := range n {
		id := fmt.Sprintf("sub_%04d", i)
		f.order = append(f.order, id)
		f.due[id] = true
	}
	return f
}

func (f *fakeAdvancer) RunDue(ctx context.Context, now time.Time, in billing.RunInput) (billing.RunResult, error) {
	n := f.inFlight.Add(1)
	for m := f.inFlightMax.Load(); n > m && !f.inFlightMax.CompareAndSwap(m, n); m = f.inFlightMax.Load() {
	}
	defer f.inFlight.Add(-1)
	defer func() {
		f.mu.Lock()
		f.runsDone++
		f.mu.Unlock()
	}()
	if err := in.Validate(); err != nil {
		return billing.RunResult{}, err
	}

	f.mu.Lock()
	f.runs++
	f.seen = append(f.seen, runSeen{now: now, workers: in.Workers, subscriptionsMax: in.SubscriptionsMax, progress: in.Progress != nil})
	fail, runErr, delay, hold, block, started := f.fail, f.runErr, f.delay, f.hold, f.block, f.started
	f.mu.Unlock()
	if started != nil {
		select {
		case started <- struct{}{}:
		default:
		}
	}
	if block {
		<-ctx.Done()
		f.mu.Lock()
		f.ctxErrs = append(f.ctxErrs, ctx.Err())
		f.mu.Unlock()
		return billing.RunResult{}, ctx.Err()
	}
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return billing.RunResult{}, ctx.Err()
		}
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return billing.RunResult{}, ctx.Err()
		}
	}
	if runErr != nil {
		return billing.RunResult{}, runErr
	}

	var res billing.RunResult
	for _, id := range f.dueIDs(in.SubscriptionsMax) {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		f.mu.Lock()
		f.taken[id]++
		if fail != nil {
			res.Failed++
			if len(res.Errors) < 10 {
				res.Errors = append(res.Errors, fmt.Errorf("advance %s: %w", id, fail))
			}
		} else {
			delete(f.due, id)
			f.advanced[id]++
			res.Advanced++
		}
		f.mu.Unlock()
		if in.Progress != nil {
			in.Progress(res)
		}
	}
	return res, nil
}

// dueIDs returns the due subscriptions, oldest first, up to limit (0: all).
func (f *fakeAdvancer) dueIDs(limit int) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for _, id := range f.order {
		if f.due[id] && (limit == 0 || len(ids) < limit) {
			ids = append(ids, id)
		}
	}
	return ids
}

func (f *fakeAdvancer) set(edit func(f *fakeAdvancer)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	edit(f)
}

func (f *fakeAdvancer) runsDoneCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.runsDone
}

func (f *fakeAdvancer) takenCount(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.taken[id]
}

func (f *fakeAdvancer) allAdvanced() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.due) == 0
}

// syncBuffer collects a test's logs.
type syncBuffer struct {
	mu  sync.Mutex // protects buf
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// hasLine reports whether one logged line contains every one of parts.
func (b *syncBuffer) hasLine(parts ...string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for line := range strings.Lines(b.buf.String()) {
		if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(line, p) }) {
			return true
		}
	}
	return false
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("BILLOW_TEST_JOBS_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("test", t.Name())
	}
	return slog.New(slog.DiscardHandler)
}

// newRunner migrates River's tables into db and returns a Runner on it, stopped at the end
// of the test.
func newRunner(t *testing.T, db *sqlstore.DB, clock billow.Clock, adv Advancer, edit func(*Config)) *Runner {
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

// settled waits until every subscription is advanced and then until two more runs have
// ended, so that a second advance a sweep could still make would have been made.
func settled(t *testing.T, f *fakeAdvancer) {
	t.Helper()
	waitFor(t, "every subscription advanced", f.allAdvanced)
	runs := f.runsDoneCount()
	waitFor(t, "two more runs", func() bool { return f.runsDoneCount() >= runs+2 })
}

func assertAdvancedOnce(t *testing.T, f *fakeAdvancer, n int) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.advanced) != n {
		t.Errorf("%d subscriptions advanced, want %d", len(f.advanced), n)
	}
	for id, c := range f.advanced {
		if c != 1 {
			t.Errorf("subscription %s advanced %d times, want 1", id, c)
		}
	}
}

// A due subscription is advanced, once, by the periodic sweep, although sweeps keep
// coming: a sweep is unique across the queue, so one that ticks while another runs is
// dropped, and two never overlap. The run gets `now` from the injected clock and the
// configured bounds, and logs its progress while it lasts.
func TestSweepAdvancesDueSubscriptionsOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		f := newFakeAdvancer(3)
		f.hold = make(chan struct{})
		f.started = make(chan struct{}, 1)
		var logs syncBuffer
		r := newRunner(t, env.DB, env.Clock, f, func(c *Config) {
			c.RunWorkers = 7
			c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			c.progressInterval = 50 * time.Millisecond
		})
		start(t, r)
		select {
		case <-f.started:
		case <-time.After(waitMax):
			t.Fatal("no sweep started")
		}

		// While the first run is held: it logs its progress, a sweep queued by hand is a
		// duplicate, and the ticks of several intervals (100 ms each) fall and are dropped.
		waitFor(t, "the held run's progress logged", func() bool {
			return logs.hasLine("level=INFO", "invoice run going on", "run.advanced=0 run.failed=0")
		})
		args, opts := sweepJob()
		res, err := r.client.InsertMany(ctx, []river.InsertManyParams{{Args: args, InsertOpts: opts}})
		if err != nil {
			t.Fatalf("queue a sweep: %v", err)
		}
		if len(res) != 1 || !res[0].UniqueSkippedAsDuplicate {
			t.Errorf("a sweep queued while one runs was not skipped as a duplicate: %+v", res)
		}
		time.Sleep(500 * time.Millisecond)
		if live := listJobs(t, r, kindSweep, liveStates...); len(live) != 1 {
			t.Errorf("%d sweeps queued or running while one is held, want 1", len(live))
		}
		close(f.hold)

		settled(t, f)
		assertAdvancedOnce(t, f, 3)
		if m := f.inFlightMax.Load(); m != 1 {
			t.Errorf("%d runs at once, want 1", m)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		want := runSeen{now: storetest.Start, workers: 7, subscriptionsMax: sweepSubscriptionsMax, progress: true}
		for _, s := range f.seen {
			if !s.now.Equal(want.now) || s.workers != want.workers || s.subscriptionsMax != want.subscriptionsMax || !s.progress {
				t.Errorf("a run was given %+v, want %+v", s, want)
			}
		}
	})
}

// SweepNow runs the invoice run in process, not through the queue, and returns its counts;
// a second one finds nothing due.
func TestSweepNow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		f := newFakeAdvancer(5)
		r := newRunner(t, env.DB, env.Clock, f, nil)
		res, err := r.SweepNow(ctx)
		if err != nil || res.Advanced != 5 || res.Failed != 0 {
			t.Fatalf("first SweepNow = %+v, %v; want 5 advanced", res, err)
		}
		res, err = r.SweepNow(ctx)
		if err != nil || res.Advanced != 0 || res.Failed != 0 {
			t.Fatalf("second SweepNow = %+v, %v; want nothing done", res, err)
		}
		if jobs := listJobs(t, r, kindSweep); len(jobs) != 0 {
			t.Errorf("SweepNow queued %d jobs", len(jobs))
		}
		assertAdvancedOnce(t, f, 5)

		f.set(func(f *fakeAdvancer) { f.runErr = errors.New("store unreachable") })
		if _, err := r.SweepNow(ctx); err == nil || !strings.Contains(err.Error(), "store unreachable") {
			t.Errorf("SweepNow of a run that stopped early = %v, want its error", err)
		}

		idle := newRunner(t, env.DB, env.Clock, nil, nil)
		if res, err := idle.SweepNow(ctx); err != nil || res.Advanced+res.Failed != 0 {
			t.Errorf("SweepNow with no Advancer = %+v, %v; want nothing", res, err)
		}
	})
}

// Two processes on one PostgreSQL schema advance 200 due subscriptions once in total, and
// run neither the sweep nor a Periodic twice at once: only the leader enqueues them,
// uniqueness keeps one of each queued or running, and each enqueued job is worked once, by
// either process.
func TestTwoProcessesShareOnePostgres(t *testing.T) {
	env := storetest.Open(t, sqlstore.Postgres)
	ctx := context.Background()
	const subscriptions = 200
	f := newFakeAdvancer(subscriptions)
	f.delay = 150 * time.Millisecond // longer than the interval, so that ticks fall while a run goes on

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

	settled(t, f)
	assertAdvancedOnce(t, f, subscriptions)

	totalRuns := func() int {
		runsMu.Lock()
		defer runsMu.Unlock()
		return runs[0] + runs[1]
	}
	waitFor(t, "five runs of the Periodic", func() bool { return totalRuns() >= 5 })
	waitFor(t, "five sweeps", func() bool { return f.runsDoneCount() >= 5 })

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
	if m := f.inFlightMax.Load(); m != 1 {
		t.Errorf("the sweep ran %d at once, want 1", m)
	}
	// Every run was one job's single attempt: no job was worked by both processes.
	attempts := func(kind string) int {
		var n int
		if err := env.DB.Pool().QueryRow(ctx, "SELECT coalesce(sum(attempt), 0) FROM river_job WHERE kind = $1", kind).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n, sweeps := attempts(kindSweep), f.runsDoneCount(); n != sweeps {
		t.Errorf("the sweep ran %d times for %d attempts of its jobs", sweeps, n)
	}
	runsMu.Lock()
	defer runsMu.Unlock()
	if n := attempts(kindPeriodic); n != runs[0]+runs[1] {
		t.Errorf("Periodic ran %d times (%d + %d) for %d attempts of its jobs", runs[0]+runs[1], runs[0], runs[1], n)
	}
	t.Logf("Periodic runs per process: %v; sweeps %d; leader %s", runs, f.runsDoneCount(), leader)
}

// A subscription that fails stays due and the next sweep tries it again; a run that stops
// early is retried by the next sweep too. Both are logged at error level, the first with
// the subscriptions' errors; the sweep job of a run that stopped early keeps its error.
func TestFailuresAreRetriedByTheNextSweep(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFakeAdvancer(2)
		f.fail = errors.New("gateway down")
		var logs syncBuffer
		r := newRunner(t, env.DB, env.Clock, f, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
		start(t, r)

		waitFor(t, "the failed subscriptions taken by a second sweep", func() bool {
			return f.takenCount("sub_0000") >= 2 && f.takenCount("sub_0001") >= 2
		})
		if !logs.hasLine("level=ERROR", "the failed subscriptions stay due", "run.failed=2", "advance sub_0000: gateway down") {
			t.Errorf("no error logged for the failed subscriptions; logs:\n%s", logs.String())
		}

		f.set(func(f *fakeAdvancer) { f.fail, f.runErr = nil, errors.New("store unreachable") })
		waitFor(t, "a run that stopped early logged", func() bool {
			return logs.hasLine("level=ERROR", "invoice run stopped early", "store unreachable")
		})
		waitFor(t, "its sweep job discarded with the error", func() bool {
			for _, j := range listJobs(t, r, kindSweep, rivertype.JobStateDiscarded) {
				if len(j.Errors) == 1 && strings.Contains(j.Errors[0].Error, "store unreachable") {
					return true
				}
			}
			return false
		})

		f.set(func(f *fakeAdvancer) { f.runErr = nil })
		settled(t, f)
		assertAdvancedOnce(t, f, 2)
	})
}

// Stop returns, cancelling a run that outlives the caller's deadline; Stop on an idle or
// never started Runner returns nil.
func TestStop(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		f := newFakeAdvancer(1)
		f.block = true
		f.started = make(chan struct{}, 1)
		r := newRunner(t, env.DB, env.Clock, f, nil)
		start(t, r)
		select {
		case <-f.started:
		case <-time.After(waitMax):
			t.Fatal("the sweep never started")
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
			t.Errorf("the running sweep saw context errors %v, want one cancellation", ctxErrs)
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

// countingAdvancer counts the runs of an Advancer and sums their results.
type countingAdvancer struct {
	Advancer

	mu       sync.Mutex // protects the following fields
	runsDone int
	total    billing.RunResult // Errors also holds the errors of runs that stopped early
}

func (c *countingAdvancer) RunDue(ctx context.Context, now time.Time, in billing.RunInput) (billing.RunResult, error) {
	res, err := c.Advancer.RunDue(ctx, now, in)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runsDone++
	c.total.Advanced += res.Advanced
	c.total.Failed += res.Failed
	c.total.Errors = append(c.total.Errors, res.Errors...)
	if err != nil {
		c.total.Errors = append(c.total.Errors, err)
	}
	return res, err
}

func (c *countingAdvancer) runs() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runsDone
}

// The sweep renews due subscriptions of the real billing service, each once: one renewal
// invoice per subscription, paid, and the subscription in its next period, although
// sweeps go on after it.
func TestSweepRenewsWithBilling(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		svc, err := billing.New(billing.Config{Store: env.DB, Gateway: sandbox.New(env.Clock), Clock: env.Clock})
		if err != nil {
			t.Fatal(err)
		}
		const n = 3
		subs := make([]*billow.Subscription, n)
		for i := range subs {
			a, err := env.DB.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: fmt.Sprintf("renew-%d", i), Name: "Renew",
				Catalog: "ai-for-service", BillingContact: billow.BillingContact{Name: "R", Email: "r@renew.test"}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.AddPaymentMethod(ctx, a.ID, billow.AddPaymentMethodInput{Kind: billow.MethodCard,
				Card: &billow.CardDetails{Number: sandbox.CardVisa, ExpMonth: 12, ExpYear: 2030, CVC: "123"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.SubmitOrder(ctx, a.ID, billow.SubmitOrderInput{Subscribe: &billow.CreateSubscriptionInput{Plan: "essential"}}); err != nil {
				t.Fatal(err)
			}
			if subs[i], err = env.DB.LiveSubscription(ctx, a.ID); err != nil {
				t.Fatal(err)
			}
		}
		// Move the clock an hour past the last period end: every subscription's renewal is due.
		last := subs[0].CurrentPeriodEnd
		for _, s := range subs {
			if s.CurrentPeriodEnd.After(last) {
				last = s.CurrentPeriodEnd
			}
		}
		env.Clock.Advance(last.Sub(env.Clock.Now()) + time.Hour)
		due := func() []string {
			ids, err := env.DB.DueSubscriptions(ctx, env.Clock.Now(), 10)
			if err != nil {
				t.Fatal(err)
			}
			return ids
		}
		if ids := due(); len(ids) != n {
			t.Fatalf("%d subscriptions due before the sweep, want %d", len(ids), n)
		}

		c := &countingAdvancer{Advancer: svc}
		r := newRunner(t, env.DB, env.Clock, c, nil)
		start(t, r)
		waitFor(t, "no subscription due", func() bool { return len(due()) == 0 })
		runs := c.runs()
		waitFor(t, "two more sweeps", func() bool { return c.runs() >= runs+2 })

		c.mu.Lock()
		total := c.total
		c.mu.Unlock()
		if total.Advanced != n || total.Failed != 0 || len(total.Errors) != 0 {
			t.Errorf("the sweeps advanced %d and failed %d (%v), want %d advanced", total.Advanced, total.Failed, total.Errors, n)
		}
		for _, old := range subs {
			sub, err := env.DB.Subscription(ctx, old.ID)
			if err != nil {
				t.Fatal(err)
			}
			if sub.Status != billow.SubscriptionActive || !sub.CurrentPeriodStart.Equal(old.CurrentPeriodEnd) {
				t.Errorf("subscription %s is %s from %s, want active from %s", sub.ID, sub.Status, sub.CurrentPeriodStart, old.CurrentPeriodEnd)
			}
			invs, err := env.DB.Invoices(ctx, sqlstore.InvoiceFilter{AccountID: old.Account, IncludeHidden: true})
			if err != nil {
				t.Fatal(err)
			}
			var renewals int
			for _, inv := range invs {
				if inv.Subscription == old.ID && inv.PeriodStart.Equal(old.CurrentPeriodEnd) {
					renewals++
					if inv.Status != billow.InvoicePaid {
						t.Errorf("renewal invoice %s of %s is %s, want paid", inv.ID, old.ID, inv.Status)
					}
				}
			}
			if renewals != 1 || len(invs) != 2 {
				t.Errorf("subscription %s has %d renewal invoices among %d, want 1 among 2 (its order's and its renewal)", old.ID, renewals, len(invs))
			}
		}
	})
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
		"no store":             {},
		"workers":              {Store: env.DB, Workers: workersMax + 1},
		"run workers":          {Store: env.DB, RunWorkers: billing.RunWorkersMax + 1},
		"negative run workers": {Store: env.DB, RunWorkers: -1},
		"sweep interval":       {Store: env.DB, SweepInterval: time.Millisecond},
		"periodic name":        {Store: env.DB, Periodic: []Periodic{{Name: "Credits Upkeep", Interval: time.Minute, Run: run}}},
		"periodic twice":       {Store: env.DB, Periodic: []Periodic{{Name: "a", Interval: time.Minute, Run: run}, {Name: "a", Interval: time.Minute, Run: run}}},
		"periodic interval":    {Store: env.DB, Periodic: []Periodic{{Name: "a", Interval: 0, Run: run}}},
		"periodic run":         {Store: env.DB, Periodic: []Periodic{{Name: "a", Interval: time.Minute}}},
	} {
		if r, err := New(cfg); err == nil {
			r.Stop(context.Background())
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}
