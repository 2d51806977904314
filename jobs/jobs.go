// Package jobs runs Billow's background work on River (github.com/riverqueue/river), on
// both engines. It owns River's tables (Migrate), the River client of a process (Runner),
// the sweep that queues one advance_subscription job per subscription with work due (its
// renewal, trial end, payment retry or suspension), the worker that hands such a job to
// the billing service, and the upkeep that runs on a fixed interval (Periodic).
//
// Leadership: River elects one leader among the processes sharing a database, and only the
// leader enqueues periodic jobs (the sweep and every Periodic). Any process may then work
// them; uniqueness keeps at most one of each queued or running at a time, across all
// processes. Billing work is idempotent by contract (Advancer), so a job that River runs
// again after a crash does no harm.
//
// Time: the `now` given to the billing service and to upkeep comes from the injected
// billow.Clock. River's own schedule (polling, retries, periodic ticks) runs in wall time,
// as it must: a test clock that stands still must not stop the queue.
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
	"github.com/billowhq/billow/sqlstore"
)

// Advancer is what the billing service offers the job queue.
type Advancer interface {
	// DueSubscriptions returns up to limit ids of subscriptions with work due at or before now
	// (renewal, trial end, retry, suspension), oldest due first.
	DueSubscriptions(ctx context.Context, now time.Time, limit int) ([]string, error)
	// AdvanceSubscription runs the subscription's due work up to now. It is idempotent: running it
	// twice, or in two processes at once, does the work once (the billing service guarantees this).
	AdvanceSubscription(ctx context.Context, id string, now time.Time) error
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
	Advancer Advancer // may be nil (then no billing jobs)
	Periodic []Periodic
	Clock    billow.Clock // `now` passed to work comes from it; defaults to the system clock
	Logger   *slog.Logger // defaults to discarding
	// SweepInterval is how often the leader looks for due subscriptions; default 10s.
	SweepInterval time.Duration
	// Workers is the most jobs one process works at once; default 4.
	Workers int

	// retryPolicy replaces River's retry schedule; for tests, whose retries must not wait
	// River's 1 s, 16 s, 81 s, ….
	retryPolicy river.ClientRetryPolicy
}

// Limits and defaults, named with their unit last.
const (
	// sweepSubscriptionsMax bounds one sweep: it queues the oldest due subscriptions up to
	// this many, and the next sweep takes the rest.
	sweepSubscriptionsMax = 1_000
	// advanceAttemptsMax bounds the attempts of one advance job: after the last failure River
	// discards the job (logged at error level), and no new job for that subscription is
	// queued until the next due marker (dueMarkerPeriod).
	advanceAttemptsMax = 5
	// dueMarkerPeriod is the granularity of an advance job's due marker, which with the
	// subscription id makes the job unique: a subscription is queued at most once per period
	// of Billow's clock, even if its job has finished or been discarded.
	dueMarkerPeriod = time.Minute
	// Per-job timeouts: the job's context is cancelled after this long.
	advanceTimeout  = time.Minute
	sweepTimeout    = time.Minute
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

	// River priorities, 1 (first) to 4: upkeep and the sweep go before a backlog of advances.
	priorityUpkeep  = 1
	priorityAdvance = 2
)

// Job kinds, as stored in River's tables: renaming one strands the jobs queued under it.
const (
	kindAdvance  = "advance_subscription"
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

// advanceStates are the states an advance job is unique across, for its (subscription, due
// marker): River's default set plus discarded, so a subscription whose job gave up is not
// queued again before its next due marker.
var advanceStates = append(rivertype.UniqueOptsByStateDefault(), rivertype.JobStateDiscarded)

// advanceArgs are the arguments of an advance_subscription job.
type advanceArgs struct {
	SubscriptionID string `json:"subscription_id"`
	// Due is the sweep's time on Billow's clock truncated to dueMarkerPeriod.
	Due time.Time `json:"due"`
}

func (advanceArgs) Kind() string { return kindAdvance }

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
	InsertMany(ctx context.Context, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
	JobList(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
}

// Runner is a process's job queue client: it works jobs and, while its process is the
// leader, enqueues the periodic ones.
type Runner struct {
	client   riverClient
	advancer Advancer
	clock    billow.Clock
	logger   *slog.Logger
	periodic map[string]Periodic
	idle     bool // no Advancer and no Periodic: nothing to work, Start does nothing

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
	if cfg.Workers == 0 {
		cfg.Workers = workersDefault
	}
	if cfg.SweepInterval < intervalMin || cfg.SweepInterval > intervalMax {
		return nil, fmt.Errorf("jobs: SweepInterval %s is outside [%s, %s]", cfg.SweepInterval, intervalMin, intervalMax)
	}
	if cfg.Workers < 1 || cfg.Workers > workersMax {
		return nil, fmt.Errorf("jobs: Workers %d is outside [1, %d]", cfg.Workers, workersMax)
	}
	if len(cfg.Periodic) > periodicCountMax {
		return nil, fmt.Errorf("jobs: %d periodic jobs, above the limit of %d", len(cfg.Periodic), periodicCountMax)
	}
	logger := cfg.Logger.With(slog.String("component", "jobs"))
	r := &Runner{
		advancer: cfg.Advancer,
		clock:    cfg.Clock,
		logger:   logger,
		periodic: make(map[string]Periodic, len(cfg.Periodic)),
	}

	workers := river.NewWorkers()
	var periodicJobs []*river.PeriodicJob
	if cfg.Advancer != nil {
		river.AddWorker(workers, &advanceWorker{r: r})
		river.AddWorker(workers, &sweepWorker{r: r})
		periodicJobs = append(periodicJobs, river.NewPeriodicJob(
			river.PeriodicInterval(cfg.SweepInterval),
			func() (river.JobArgs, *river.InsertOpts) {
				return sweepArgs{}, &river.InsertOpts{
					MaxAttempts: 1, // the next tick is the retry
					Priority:    priorityUpkeep,
					UniqueOpts:  river.UniqueOpts{ByState: liveStates},
				}
			},
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
					Priority:    priorityUpkeep,
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
		RetryPolicy:     cfg.retryPolicy,
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

// SweepNow runs one sweep immediately (for tests and the `billow` CLI): it asks the
// Advancer for up to sweepSubscriptionsMax due subscriptions and queues one advance job for
// each that has none queued, running, finished or given up for the current due marker. It
// returns how many jobs it queued. With no Advancer it queues nothing.
func (r *Runner) SweepNow(ctx context.Context) (enqueued int, err error) {
	if r.advancer == nil {
		return 0, nil
	}
	now := r.clock.Now()
	ids, err := r.advancer.DueSubscriptions(ctx, now, sweepSubscriptionsMax)
	if err != nil {
		return 0, fmt.Errorf("jobs: due subscriptions: %w", err)
	}
	if len(ids) > sweepSubscriptionsMax {
		return 0, fmt.Errorf("jobs: DueSubscriptions returned %d ids, above the limit of %d it was given", len(ids), sweepSubscriptionsMax)
	}
	due := now.UTC().Truncate(dueMarkerPeriod)
	params := make([]river.InsertManyParams, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if id == "" {
			return 0, errors.New("jobs: DueSubscriptions returned an empty id")
		}
		// One statement inserts the batch on PostgreSQL, where two rows with the same
		// unique key would fail it: a repeated id is queued once.
		if seen[id] {
			continue
		}
		seen[id] = true
		params = append(params, river.InsertManyParams{
			Args: advanceArgs{SubscriptionID: id, Due: due},
			InsertOpts: &river.InsertOpts{
				MaxAttempts: advanceAttemptsMax,
				Priority:    priorityAdvance,
				UniqueOpts:  river.UniqueOpts{ByArgs: true, ByState: advanceStates},
			},
		})
	}
	if len(params) == 0 {
		return 0, nil
	}
	results, err := r.client.InsertMany(ctx, params)
	if err != nil {
		return 0, fmt.Errorf("jobs: queue advance jobs: %w", err)
	}
	for _, res := range results {
		if !res.UniqueSkippedAsDuplicate {
			enqueued++
		}
	}
	if enqueued > 0 {
		r.logger.Info("queued due subscriptions", slog.Group("sweep", "due", len(params), "queued", enqueued))
	}
	return enqueued, nil
}

// advanceWorker hands an advance job to the billing service.
type advanceWorker struct {
	river.WorkerDefaults[advanceArgs]
	r *Runner
}

func (w *advanceWorker) Timeout(*river.Job[advanceArgs]) time.Duration { return advanceTimeout }

func (w *advanceWorker) Work(ctx context.Context, job *river.Job[advanceArgs]) error {
	id := job.Args.SubscriptionID
	if err := w.r.advancer.AdvanceSubscription(ctx, id, w.r.clock.Now()); err != nil {
		attrs := slog.Group("job", "kind", kindAdvance, "subscription", id, "attempt", job.Attempt, "attempts_max", job.MaxAttempts, "error", err.Error())
		if job.Attempt >= job.MaxAttempts {
			w.r.logger.Error("giving up advancing subscription until its next due marker", attrs)
		} else {
			w.r.logger.Warn("advancing subscription failed; will retry", attrs)
		}
		return fmt.Errorf("advance subscription %s: %w", id, err)
	}
	return nil
}

// sweepWorker runs the sweep the leader enqueued.
type sweepWorker struct {
	river.WorkerDefaults[sweepArgs]
	r *Runner
}

func (w *sweepWorker) Timeout(*river.Job[sweepArgs]) time.Duration { return sweepTimeout }

func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[sweepArgs]) error {
	if _, err := w.r.SweepNow(ctx); err != nil {
		w.r.logger.Error("sweep failed", slog.String("error", err.Error()))
		return err
	}
	return nil
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
