package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/demo"
	"github.com/billowhq/billow/ingest"
	"github.com/billowhq/billow/sqlstore"
)

type benchTrendsCmd struct {
	DatabaseURL string `env:"BILLOW_BENCH_DATABASE_URL" help:"postgres://… to measure PostgreSQL (a schema of its own is made and dropped); empty for SQLite in a temporary directory."`
	Events      int    `default:"10000000" help:"Events of demo usage to store first, over 90 days and the four demo accounts."`
	Queries     int    `default:"200" help:"Queries per measured figure."`
}

// benchDemoUsageSeed is the seed of the benchmark's usage: any fixed one.
const benchDemoUsageSeed = 20261123

// Run stores the demo's 90 days of usage scaled up to the asked number of events, through
// the ingest service, then measures the usage trends query (90, 30 and 7 days of daily
// buckets, 24 hourly ones, with and without an app filter) beside a raw read of the cells
// it reads (day cells, or hourly ones for 24 hours) in the same run.
func (c *benchTrendsCmd) Run(env *runEnv) error {
	if c.Events < 1000 || c.Queries < 10 {
		return fmt.Errorf("bench trends: --events must be at least 1,000 and --queries at least 10")
	}
	ctx := env.ctx
	db, cleanup, err := benchStore(ctx, c.DatabaseURL)
	if err != nil {
		return err
	}
	defer cleanup()
	d, now, err := benchDemoUsage(env, db, "trends", c.Events)
	if err != nil {
		return err
	}
	northwind := d.Accounts[0]
	tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "figure\tp50\tp99\tlimit p99\tratio\tlimit measured\t")
	for _, q := range []struct {
		name string
		in   billow.UsageTrendsInput
	}{
		{"trends 90d, daily", billow.UsageTrendsInput{Account: northwind.ID, Range: billow.TrendsLast90Days}},
		{"trends 90d, one app", billow.UsageTrendsInput{Account: northwind.ID, Range: billow.TrendsLast90Days, App: "support-bot"}},
		{"trends 30d, daily", billow.UsageTrendsInput{Account: northwind.ID, Range: billow.TrendsLast30Days}},
		{"trends 7d, daily", billow.UsageTrendsInput{Account: northwind.ID, Range: billow.TrendsLast7Days}},
		{"trends 24h, hourly", billow.UsageTrendsInput{Account: northwind.ID, Range: billow.TrendsLast24Hours}},
	} {
		var cells int
		figure, err := benchLatencies(c.Queries, func() error {
			res, err := db.UsageTrends(ctx, q.in)
			if err == nil && len(res.Buckets) == 0 {
				err = fmt.Errorf("no buckets")
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("%s: %w", q.name, err)
		}
		span := map[billow.TrendsRange]time.Duration{billow.TrendsLast90Days: 91 * 24 * time.Hour, billow.TrendsLast30Days: 31 * 24 * time.Hour,
			billow.TrendsLast7Days: 8 * 24 * time.Hour, billow.TrendsLast24Hours: 25 * time.Hour}[q.in.Range]
		limit, err := benchLatencies(c.Queries, func() error {
			cells, err = db.RawReadRollups(ctx, northwind.ID, []string{"billing_sessions", "voice_sessions", "concurrent_agents"}, now.Add(-span), now,
				q.in.Range != billow.TrendsLast24Hours)
			return err
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.2f\t%s\t\n", q.name, figure[0], figure[1], limit[1], float64(figure[1])/float64(limit[1]),
			fmt.Sprintf("reading its %d cells raw", cells))
	}
	return tw.Flush()
}

// benchLoad ingests events in batches of the largest size, counting what it stored.
func benchLoad(ctx context.Context, ingester *ingest.Service, events func(func(ingest.CloudEvent) bool), stored *atomic.Int64) error {
	batch := make([]ingest.CloudEvent, 0, billow.EventBatchMax)
	flush := func() error {
		res, err := ingester.Ingest(ctx, billow.Principal{KeyID: "bench"}, batch)
		if err != nil {
			return err
		}
		if len(res.Rejected) > 0 {
			return fmt.Errorf("event %s rejected: %s", batch[res.Rejected[0].Index].ID, res.Rejected[0].Detail)
		}
		stored.Add(int64(res.Accepted))
		batch = batch[:0]
		return nil
	}
	for e := range events {
		if batch = append(batch, e); len(batch) == billow.EventBatchMax {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if len(batch) == 0 {
		return nil
	}
	return flush()
}

// benchLatencies runs a query n times and returns its p50 and p99.
func benchLatencies(n int, query func() error) ([2]time.Duration, error) {
	took := make([]time.Duration, n)
	for i := range took {
		began := time.Now()
		if err := query(); err != nil {
			return [2]time.Duration{}, err
		}
		took[i] = time.Since(began)
	}
	slices.Sort(took)
	round := func(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }
	return [2]time.Duration{round(took[n/2]), round(took[n*99/100])}, nil
}

// benchDemoUsage loads the demo (with extensions) into db, then stores its 90 days of
// usage scaled up to about events through the ingest service, with progress every 10
// seconds, and returns the demo and the end of its usage. bench trends and bench portal
// measure reads over it.
func benchDemoUsage(env *runEnv, db *sqlstore.DB, name string, events int, extensions ...demo.Extension) (*demo.Data, time.Time, error) {
	ctx := env.ctx
	now := time.Now()
	d, err := demo.Load(ctx, db, slog.New(slog.NewTextHandler(io.Discard, nil)), extensions...)
	if err != nil {
		return nil, now, err
	}
	const days = 90
	specs := map[string]demo.UsageSpec{}
	perUnitScale := 0
	for _, a := range d.Accounts {
		cat, err := db.AccountCatalog(ctx, a)
		if err != nil {
			return nil, now, err
		}
		spec, err := demo.NewUsageSpec(a, d.Apps[a.ID], cat, 1)
		if err != nil {
			return nil, now, err
		}
		for range demo.UsageEvents(spec, benchDemoUsageSeed, now, days) {
			perUnitScale++
		}
		specs[a.ID] = spec
	}
	scale := float64(events) / float64(perUnitScale)
	fmt.Fprintf(env.stdout, "billow bench %s: storing ~%d events of demo usage (90 days, scale %.1f) through ingest, %s (%s)\n",
		name, events, scale, db.Dialect(), db.Where())

	ingester := ingest.New(db, billow.SystemClock{})
	var stored atomic.Int64
	began := time.Now()
	done := make(chan struct{})
	go func() { // progress on long work
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				n := stored.Load()
				env.logger.Info("bench "+name+": storing", "events", n, "events_per_s", int(float64(n)/time.Since(began).Seconds()))
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make([]error, len(d.Accounts))
	for i, a := range d.Accounts { // one loader per account: they touch no common stream
		spec := specs[a.ID]
		spec.Scale = scale
		wg.Go(func() {
			errs[i] = benchLoad(ctx, ingester, demo.UsageEvents(spec, benchDemoUsageSeed, now, days), &stored)
		})
	}
	wg.Wait()
	close(done)
	for _, err := range errs {
		if err != nil {
			return nil, now, err
		}
	}
	total, err := db.CountEvents(ctx, "")
	if err != nil {
		return nil, now, err
	}
	fmt.Fprintf(env.stdout, "stored %d events in %s (%.0f events/s)\n", total, time.Since(began).Round(time.Second), float64(total)/time.Since(began).Seconds())

	return d, now, nil
}
