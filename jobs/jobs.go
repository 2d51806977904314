// Package jobs runs Billow's background work on River (github.com/riverqueue/river), on
// both engines. It owns River's tables (Migrate), the River client of a process (Runner),
// the sweep that runs the invoice run, and the upkeep that runs on a fixed interval
// (Periodic).
//
// The sweep: on an interval, a sweep job asks the billing service to advance every
// subscription with work due (its renewal, trial end, payment retry or suspension) in this
// process, RunWorkers at a time, up to sweepSubscriptionsMax of them (the next sweep takes
// the rest). The billing service group commits the decisions of concurrent passes, which
// one River job per subscription could not: its workers would pay one transaction each and
// be capped by the sweep's interval. A subscription whose work fails is logged and stays
// due, and the next sweep tries it again; nothing else is retried.
//
// Leadership: River elects one leader among the processes sharing a database, and only the
// leader enqueues periodic jobs (the sweep and every Periodic). Any process may then work
// them; uniqueness keeps at most one of each queued or running at a time, across all
// processes, so two sweeps never overlap. Billing work is idempotent by contract
// (Advancer), so a sweep that River runs again after a crash, or one run by SweepNow beside
// it, does no harm.
//
// Jobs of kind advance_subscription, queued by the older version of this package that
// queued one job per due subscription, have no worker any more: River fails them (unknown
// kind), retries them on its schedule and discards them after their last attempt. During a
// rolling upgrade an older process may work some of them; either way the sweep advances
// their subscriptions, once.
//
// Time: the `now` given to the billing service and to upkeep comes from the injected
// billow.Clock. River's own schedule (polling, retries, periodic ticks) and the sweep's
// progress logs run in wall time, as they must: a test clock that stands still must not
// stop the queue.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/billing"
	"github.com/billowhq/billow/sqlstore"
)

// Advancer is what the sweep needs of the billing service (*billing.Service).
type Advancer interface {
	// RunDue advances the subscriptions with work due at or before now (renewal, trial end,
	// retry, suspension), in.Workers at a time and at most in.SubscriptionsMax of them, and
	// returns how many it advanced and how many failed; a failed subscription stays due. It
	// returns an error when the run stopped early (its context ended, the store failed),
	// with the counts so far. It is idempotent and safe to run in two processes at once:
	// each subscription's work is done once, because the billing service writes a
	// subscription only at the version it read, and a pass that loses that race reads
	// again and finds the work done.
	RunDue(ctx context.Context, now time.Time, in billing.RunInput) (billing.RunResult, error)
}

// Periodic is work the leader runs on a fixed interval (credit upkeep, sweeps). Run must be
// safe to run at any moment: it runs when a process becomes leader and then every Interval,
// in whichever process takes the job, never twice at the same time.
type Periodic struct {
	// Name names the work, e.g. "credits_upkeep": [a-z0-9_], unique in a Config. Its jobs
	// are of kind "periodic" with the name in their args; River's periodic job id is
	// "periodic.<name>".
	Name     string
	Interval time.Duration
	Run      func(ctx context.Context, now time.Time) error
}

// Config configures a Runner.
type Config struct {
	Store    *sqlstore.DB
	Advancer Advancer // may be nil (then no sweep)
	Periodic []Periodic
	Clock    billow.Clock // `now` passed to work comes from it; defaults to the system clock
	Logger   *slog.Logger // defaults to discarding
	// SweepInterval is how often the leader queues a sweep; default 10s.
	SweepInterval time.Duration
	// RunWorkers is how many subscriptions a sweep advances at once; default
	// billing.RunWorkersDefault, at most billing.RunWorkersMax. On PostgreSQL each borrows
	// connections of the store's pool for its reads.
	RunWorkers int
	// Workers is the most jobs (sweeps and Periodics) one process works at once; default 4.
	Workers int

	// progressInterval replaces sweepProgressInterval; for tests, which must not wait 5 s
	// to see a run's progress.
	progressInterval time.Duration
}

// Limits and defaults, named with their unit last.
const (
	// sweepSubscriptionsMax bounds one sweep's invoice run: it advances the oldest due
	// subscriptions up to this many, and the next sweep takes the rest. It bounds the run's
	// duration (see sweepTimeout) and the memory it keeps per subscription taken.
	sweepSubscriptionsMax = 100_000
	// sweepTimeout bounds one sweep: its run's context is cancelled after this long, what
	// it committed stays, and the next sweep takes the rest. A run of sweepSubscriptionsMax
	// fits at 111 subscriptions/s or more; measured on SQLite (1,000 subscriptions with
	// 20-line invoices) the run does about 300/s, so a full one takes about 6 minutes.
	sweepTimeout = 15 * time.Minute
	// sweepProgressInterval is how often a running sweep logs its counts.
	sweepProgressInterval = 5 * time.Second
	// periodicTimeout bounds one run of a Periodic: its context is cancelled after this long.
	periodicTimeout = 10 * time.Minute

	sweepIntervalDefault = 10 * time.Second
	// intervalMin bounds SweepInterval and Periodic.Interval from below; River's own advice is
	// a minute or more in production, shorter intervals are for tests.
	intervalMin        = 100 * time.Millisecond
	intervalMax        = 24 * time.Hour
	workersDefault     = 4
	workersMax         = 100
	periodicCountMax   = 32
	periodicNameLenMax = 64

	// stopSoftTimeout bounds how long running jobs may go on once the process stops (Stop,
	// or the end of Start's context) before their contexts are cancelled.
	stopSoftTimeout = 30 * time.Second
	// stopCancelWaitMax bounds how long Stop waits for cancelled jobs to return.
	stopCancelWaitMax = 10 * time.Second
)

// Job kinds, as stored in River's tables: renaming one strands the jobs queued under it.
const (
	kindSweep    = "sweep_due_subscriptions"
	kindPeriodic = "periodic"
)

var periodicNameRE = regexp.MustCompile(`^[a-z0-9_]+$`)

// liveStates are the states of a job that is queued or running: the sweep and each
// Periodic are unique across them, so one runs at a time and ticks missed meanwhile are
// dropped rather than piled up. (River requires available, pending, running and scheduled.)
var liveStates = []rivertype.JobState{
	rivertype.JobStateAvailable,
	rivertype.JobStatePending,
	rivertype.JobStateRetryable,
	rivertype.JobStateRunning,
	rivertype.JobStateScheduled,
}

// sweepArgs are the arguments of the periodic sweep job.
type sweepArgs struct{}

func (sweepArgs) Kind() string { return kindSweep }

// periodicArgs are the arguments of a Periodic's job: one kind for all, the name in args.
// (River registers a worker per Go type; a kind per name would need its test-only
// AddWorkerArgs.)
type periodicArgs struct {
	Name string `json:"name"`
}

func (periodicArgs) Kind() string { return kindPeriodic }

// riverClient is what Runner uses of a River client, whatever the driver's transaction
// type (pgx.Tx on PostgreSQL, *sql.Tx on SQLite).
type riverClient interface {
	ID() string
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
	// InsertMany queues jobs by hand: tests use it to meet uniqueness.
	InsertMany(ctx context.Context, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
	JobList(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
}

// Runner is a process's job queue client: it works jobs and, while its process is the
// leader, enqueues the periodic ones.
type Runner struct {
	client     riverClient
	advancer   Advancer
	runWorkers int
	// progressInterval is how often a running sweep logs its counts.
	progressInterval time.Duration
	clock            billow.Clock
	logger           *slog.Logger
	periodic         map[string]Periodic
	idle             bool // no Advancer and no Periodic: nothing to work, Start does nothing

	closeOnce sync.Once
	closeDB   func() error // closes River's own SQLite connection; nil on PostgreSQL
}

// New validates cfg and returns a Runner, not yet started. Call Stop to release it, even if
// it never started.
func New(cfg Config) (*Runner, error) {
	if cfg.Store == nil {
		return nil, errors.New("jobs: Config.Store is nil")
	}
	if cfg.Clock == nil {
		cfg.Clock = billow.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = sweepIntervalDefault
	}
	if cfg.RunWorkers == 0 {
		cfg.RunWorkers = billing.RunWorkersDefault
	}
	if cfg.Workers == 0 {
		cfg.Workers = workersDefault
	}
	if cfg.progressInterval == 0 {
		cfg.progressInterval = sweepProgressInterval
	}
	if cfg.SweepInterval < intervalMin || cfg.SweepInterval > intervalMax {
		return nil, fmt.Errorf("jobs: SweepInterval %s is outside [%s, %s]", cfg.SweepInterval, intervalMin, intervalMax)
	}
	if cfg.RunWorkers < 1 || cfg.RunWorkers > billing.RunWorkersMax {
		return nil, fmt.Errorf("jobs: RunWorkers %d is outside [1, %d]", cfg.RunWorkers, billing.RunWorkersMax)
	}
	if cfg.Workers < 1 || cfg.Workers > workersMax {
		return nil, fmt.Errorf("jobs: Workers %d is outside [1, %d]", cfg.Workers, workersMax)
	}
	if len(cfg.Periodic) > periodicCountMax {
		return nil, fmt.Errorf("jobs: %d periodic jobs, above the limit of %d", len(cfg.Periodic), periodicCountMax)
	}
	logger := cfg.Logger.With(slog.String("component", "jobs"))
	r := &Runner{
		advancer:         cfg.Advancer,
		runWorkers:       cfg.RunWorkers,
		progressInterval: cfg.progressInterval,
		clock:            cfg.Clock,
		logger:           logger,
		periodic:         make(map[string]Periodic, len(cfg.Periodic)),
	}

	workers := river.NewWorkers()
	var periodicJobs []*river.PeriodicJob
	if cfg.Advancer != nil {
		river.AddWorker(workers, &sweepWorker{r: r})
		periodicJobs = append(periodicJobs, river.NewPeriodicJob(
			river.PeriodicInterval(cfg.SweepInterval),
			sweepJob,
			&river.PeriodicJobOpts{ID: kindSweep, RunOnStart: true},
		))
	}
	for _, p := range cfg.Periodic {
		switch {
		case len(p.Name) > periodicNameLenMax || !periodicNameRE.MatchString(p.Name):
			return nil, fmt.Errorf("jobs: periodic job name %q must be 1 to %d of [a-z0-9_]", p.Name, periodicNameLenMax)
		case p.Run == nil:
			return nil, fmt.Errorf("jobs: periodic job %q has no Run", p.Name)
		case p.Interval < intervalMin || p.Interval > intervalMax:
			return nil, fmt.Errorf("jobs: periodic job %q: interval %s is outside [%s, %s]", p.Name, p.Interval, intervalMin, intervalMax)
		}
		if _, dup := r.periodic[p.Name]; dup {
			return nil, fmt.Errorf("jobs: periodic job %q is configured twice", p.Name)
		}
		r.periodic[p.Name] = p
		name := p.Name
		periodicJobs = append(periodicJobs, river.NewPeriodicJob(
			river.PeriodicInterval(p.Interval),
			func() (river.JobArgs, *river.InsertOpts) {
				return periodicArgs{Name: name}, &river.InsertOpts{
					MaxAttempts: 1, // the next tick is the retry
					UniqueOpts:  river.UniqueOpts{ByArgs: true, ByState: liveStates},
				}
			},
			&river.PeriodicJobOpts{ID: kindPeriodic + "." + name, RunOnStart: true},
		))
	}
	if len(r.periodic) > 0 {
		river.AddWorker(workers, &periodicWorker{r: r})
	}
	r.idle = cfg.Advancer == nil && len(r.periodic) == 0

	config := &river.Config{
		Logger:          logger,
		Queues:          map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}},
		Workers:         workers,
		PeriodicJobs:    periodicJobs,
		SoftStopTimeout: stopSoftTimeout,
		// Schema stays empty: River's queries are then unqualified and resolve through the
		// connection's search_path, exactly as the store's own do (see driver.go).
	}
	client, closeDB, err := newClient(cfg.Store, config)
	if err != nil {
		return nil, err
	}
	r.client, r.closeDB = client, closeDB
	return r, nil
}

// Start starts working jobs and taking part in leader election. Cancelling ctx stops the
// Runner as Stop does (without releasing it: call Stop still). A Runner with neither an
// Advancer nor a Periodic has nothing to work, and Start does nothing (River refuses to
// start a client without workers).
func (r *Runner) Start(ctx context.Context) error {
	if r.idle {
		r.logger.Info("no background work configured")
		return nil
	}
	if err := r.client.Start(ctx); err != nil {
		return fmt.Errorf("jobs: start: %w", err)
	}
	return nil
}

// Stop stops fetching jobs and waits for running ones to finish until ctx is done (and at
// most stopSoftTimeout); then it cancels their contexts and waits up to stopCancelWaitMax
// for them to return. It releases the Runner's connections. It returns nil once River has
// stopped, even if it had to cancel jobs (the cancelled jobs are retried later).
func (r *Runner) Stop(ctx context.Context) error {
	err := r.client.Stop(ctx)
	if err != nil && ctx.Err() != nil {
		r.logger.Warn("stop deadline reached with jobs running; cancelling them")
		cancelCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopCancelWaitMax)
		defer cancel()
		err = r.client.StopAndCancel(cancelCtx)
	}
	if err != nil {
		err = fmt.Errorf("jobs: stop: %w", err)
	}
	r.closeOnce.Do(func() {
		if r.closeDB != nil {
			err = errors.Join(err, r.closeDB())
		}
	})
	return err
}

// SweepNow runs one sweep now, in this process and outside the job queue (for tests and
// tools): the invoice run the sweep job runs, with the same bounds and logs. It
// may overlap a sweep job, which is safe (Advancer). It returns the run's counts, and an
// error when the run stopped early. With no Advancer it does nothing.
func (r *Runner) SweepNow(ctx context.Context) (billing.RunResult, error) {
	if r.advancer == nil {
		return billing.RunResult{}, nil
	}
	return r.runDue(ctx)
}

// sweepJob returns the sweep job's args and options: one attempt (the next tick is the
// retry), unique across liveStates so that one sweep is queued or running at a time in
// the whole cluster and ticks that fall while it runs are dropped.
func sweepJob() (river.JobArgs, *river.InsertOpts) {
	return sweepArgs{}, &river.InsertOpts{
		MaxAttempts: 1,
		UniqueOpts:  river.UniqueOpts{ByState: liveStates},
	}
}

// runDue runs one invoice run with `now` from the clock, logging its counts every
// progressInterval while it lasts and its result at its end.
func (r *Runner) runDue(ctx context.Context) (billing.RunResult, error) {
	var (
		mu   sync.Mutex // protects last
		last billing.RunResult
	)
	progress := func(res billing.RunResult) {
		mu.Lock()
		last.Advanced, last.Failed = res.Advanced, res.Failed
		mu.Unlock()
	}
	// The progress logs come from a ticker rather than from Progress, so that a run that
	// stalls on one subscription still shows it is alive, and with the counts it stands at.
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		ticker := time.NewTicker(r.progressInterval)
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case <-ticker.C:
				mu.Lock()
				p := last
				mu.Unlock()
				r.logger.Info("invoice run going on", slog.Group("run", "advanced", p.Advanced, "failed", p.Failed, "subscriptions_max", sweepSubscriptionsMax))
			}
		}
	})
	res, err := r.advancer.RunDue(ctx, r.clock.Now(), billing.RunInput{
		Workers:          r.runWorkers,
		SubscriptionsMax: sweepSubscriptionsMax,
		Progress:         progress,
	})
	close(done)
	wg.Wait()
	if taken := res.Advanced + res.Failed; taken > sweepSubscriptionsMax {
		err = errors.Join(err, fmt.Errorf("the run took %d subscriptions, above the bound of %d it was given", taken, sweepSubscriptionsMax))
	}

	counts := []any{"advanced", res.Advanced, "failed", res.Failed}
	if len(res.Errors) > 0 {
		errs := make([]string, len(res.Errors))
		for i, e := range res.Errors {
			errs[i] = e.Error()
		}
		counts = append(counts, "first_errors", errs)
	}
	attrs := slog.Group("run", counts...)
	switch {
	case err != nil:
		r.logger.Error("invoice run stopped early; the next sweep takes the subscriptions still due", attrs, slog.String("error", err.Error()))
	case res.Failed > 0:
		r.logger.Error("invoice run done with failures; the failed subscriptions stay due and the next sweep tries them again", attrs)
	case res.Advanced > 0:
		r.logger.Info("invoice run done", attrs)
	}
	if err == nil && res.Advanced+res.Failed == sweepSubscriptionsMax {
		r.logger.Warn("invoice run reached its bound; the next sweep takes the rest", slog.Int("subscriptions_max", sweepSubscriptionsMax))
	}
	if err != nil {
		return res, fmt.Errorf("jobs: invoice run: %w", err)
	}
	return res, nil
}

// sweepWorker runs the sweep the leader enqueued.
type sweepWorker struct {
	river.WorkerDefaults[sweepArgs]
	r *Runner
}

func (w *sweepWorker) Timeout(*river.Job[sweepArgs]) time.Duration { return sweepTimeout }

// Work runs the invoice run. Failed subscriptions do not fail the job, which has one
// attempt anyway: they stay due and the next sweep tries them again. A run that stopped
// early fails it, so that River records why.
func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[sweepArgs]) error {
	_, err := w.r.runDue(ctx)
	return err
}

// periodicWorker runs a Periodic's job.
type periodicWorker struct {
	river.WorkerDefaults[periodicArgs]
	r *Runner
}

func (w *periodicWorker) Timeout(*river.Job[periodicArgs]) time.Duration { return periodicTimeout }

func (w *periodicWorker) Work(ctx context.Context, job *river.Job[periodicArgs]) error {
	p, ok := w.r.periodic[job.Args.Name]
	if !ok {
		// Queued by a process configured with another set (a rolling upgrade): nothing here
		// can run it, and retrying would not change that.
		return river.JobCancel(fmt.Errorf("periodic job %q is not configured in this process", job.Args.Name))
	}
	if err := p.Run(ctx, w.r.clock.Now()); err != nil {
		w.r.logger.Error("periodic job failed", slog.Group("job", "kind", kindPeriodic, "name", p.Name, "error", err.Error()))
		return fmt.Errorf("periodic job %s: %w", p.Name, err)
	}
	return nil
}
