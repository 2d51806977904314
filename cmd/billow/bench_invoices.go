package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/billing"
	"github.com/billowhq/billow/ingest"
	"github.com/billowhq/billow/jobs"
	"github.com/billowhq/billow/payment/sandbox"
	"github.com/billowhq/billow/sqlstore"
)

type benchInvoicesCmd struct {
	DatabaseURL string `env:"BILLOW_BENCH_DATABASE_URL" help:"postgres://… to measure PostgreSQL (a database of its own is made and dropped); empty for SQLite in a temporary directory."`
	Accounts    int    `default:"10000" help:"Accounts renewed by the invoice run, each with a card and a subscription."`
	Workers     int    `default:"32" help:"Subscriptions the run advances at once (billing.RunInput.Workers)."`
	CPUProfile  string `name:"cpu-profile" type:"path" help:"Write a CPU profile of the invoice run to this file (go tool pprof reads it)."`
	Via         string `default:"run" enum:"run,jobs" help:"run: billing.Service.RunDue in process; jobs: the River job queue's sweep and workers."`
}

// The bench catalog prices a plan so that each renewal has benchInvoiceLines lines: the
// plan's fee, benchAddOns add-ons billed in advance, and benchMeters meters of postpaid
// usage rated for the month that ended. The plan includes free credits, so that each
// renewal also grants the new period's credits, as a real plan's does.
const (
	benchAddOns       = 15
	benchMeters       = 4
	benchInvoiceLines = 1 + benchAddOns + benchMeters
	benchCatalogKey   = "bench-invoices"
)

// benchInvoicesStart is the bench's clock when the subscriptions start; the run renews
// them a month later.
var benchInvoicesStart = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// Run renews many subscriptions at once, each into an invoice of benchInvoiceLines lines
// charged to a card, as the job queue's sweep does, and compares the time with raw batched
// inserts of the same invoice rows into the same table.
func (c *benchInvoicesCmd) Run(env *runEnv) error {
	ctx := env.ctx
	if c.Accounts < 1 || c.Workers < 1 || c.Workers > billing.RunWorkersMax {
		return fmt.Errorf("--accounts must be at least 1 and --workers 1 to %d", billing.RunWorkersMax)
	}
	db, cleanup, err := benchStore(ctx, c.DatabaseURL)
	if err != nil {
		return err
	}
	defer cleanup()
	if _, _, err := db.SyncCatalog(ctx, benchCatalogKey, []byte(benchInvoicesCatalog())); err != nil {
		return fmt.Errorf("the bench catalog: %w", err)
	}
	fmt.Fprintf(env.stdout, "billow bench invoices: %d accounts × %d lines, %d at once, %s (%s)\n",
		c.Accounts, benchInvoiceLines, c.Workers, db.Dialect(), db.Where())

	clock := &benchClock{}
	clock.set(benchInvoicesStart)
	svc, err := billing.New(billing.Config{Store: db, Gateway: sandbox.New(clock), Clock: clock})
	if err != nil {
		return err
	}
	began := time.Now()
	if err := benchInvoiceAccounts(ctx, env, db, svc, clock, c.Accounts, c.Workers); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "set-up: %d accounts, subscriptions and usage in %s\n", c.Accounts, time.Since(began).Round(time.Millisecond))

	runAt := benchInvoicesStart.AddDate(0, 1, 1)
	clock.set(runAt)
	stop, err := startCPUProfile(c.CPUProfile)
	if err != nil {
		return err
	}
	var lastShown atomic.Int64
	began = time.Now()
	var res billing.RunResult
	if c.Via == "jobs" {
		res, err = benchViaJobs(ctx, db, svc, clock, c.Workers, c.Accounts)
	} else {
		res, err = svc.RunDue(ctx, runAt, billing.RunInput{Workers: c.Workers, Progress: func(r billing.RunResult) {
			if done := r.Advanced + r.Failed; done*10/c.Accounts > int(lastShown.Load()) {
				lastShown.Store(int64(done * 10 / c.Accounts))
				fmt.Fprintf(env.stdout, "  run: %d of %d subscriptions, %s\n", done, c.Accounts, time.Since(began).Round(time.Millisecond))
			}
		}})
	}
	took := time.Since(began)
	stop()
	if err == nil {
		err = res.Err()
	}
	if err != nil {
		return err
	}
	invoices, err := benchRenewalInvoices(ctx, db, c.Accounts)
	if err != nil {
		return err
	}
	if res.Advanced != c.Accounts || len(invoices) != c.Accounts {
		return fmt.Errorf("the run renewed %d subscriptions into %d invoices, want %d", res.Advanced, len(invoices), c.Accounts)
	}

	// The limit: the same invoice rows, as finalized by the run, inserted raw into the
	// same table in batches of 1,000.
	began = time.Now()
	if err := db.RawInsertInvoices(ctx, invoices, 1000); err != nil {
		return err
	}
	raw := time.Since(began)
	fmt.Fprintf(env.stdout, "invoice run: %d renewals in %s (%d lines each, every invoice paid by card)\n",
		c.Accounts, took.Round(time.Millisecond), benchInvoiceLines)
	printBench(env, []benchResult{
		{name: "renewals (invoice built, numbered, charged)", unit: "invoices/s", value: float64(c.Accounts) / took.Seconds(),
			limit: float64(c.Accounts) / raw.Seconds(), limitName: "raw batched INSERT of the same invoice rows into the same table"},
	})
	return nil
}

// benchInvoiceAccounts makes n accounts, each with a card and a subscription to the bench
// plan with every add-on from benchInvoicesStart, then reports usage of every meter in the
// subscription's first month.
func benchInvoiceAccounts(ctx context.Context, env *runEnv, db *sqlstore.DB, svc *billing.Service, clock *benchClock, n, workers int) error {
	addOns := make([]billow.SubscriptionAddOn, benchAddOns)
	for i := range addOns {
		addOns[i] = billow.SubscriptionAddOn{AddOn: fmt.Sprintf("bench_add_on_%02d", i+1), Quantity: int64(i%3 + 1)}
	}
	ext := func(k int) string { return fmt.Sprintf("bench-%06d", k) }
	err := benchEach(env, "accounts and subscriptions", n, workers, func(k int) error {
		a, err := db.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: ext(k), Name: "Bench " + ext(k), Catalog: benchCatalogKey,
			BillingContact: billow.BillingContact{Name: "Bench", Email: "billing@bench.test"}})
		if err != nil {
			return err
		}
		if _, err := svc.AddPaymentMethod(ctx, a.ID, billow.AddPaymentMethodInput{Kind: billow.MethodCard, Default: true,
			Card: &billow.CardDetails{Number: sandbox.CardVisa, ExpMonth: 12, ExpYear: 2030, CVC: "123"}}); err != nil {
			return err
		}
		_, err = svc.SubmitOrder(ctx, a.ID, billow.SubmitOrderInput{Subscribe: &billow.CreateSubscriptionInput{Plan: "bench", AddOns: addOns}})
		return err
	})
	if err != nil {
		return err
	}
	// The usage is reported at the end of the month it happened in.
	clock.set(benchInvoicesStart.AddDate(0, 1, -1))
	ingester := ingest.New(db, clock)
	return benchEach(env, "usage", n, workers, func(k int) error {
		events := make([]ingest.CloudEvent, benchMeters)
		for m := range events {
			data, err := json.Marshal(map[string]int{"units": 100 + k%50 + m})
			if err != nil {
				return err
			}
			events[m] = ingest.CloudEvent{SpecVersion: "1.0", ID: fmt.Sprintf("%s-%d", ext(k), m), Source: "bench",
				Type: fmt.Sprintf("bench.usage_%d", m+1), Subject: ext(k),
				Time: benchInvoicesStart.Add(time.Duration(k%600+m) * time.Hour).Format(time.RFC3339), Data: data}
		}
		res, err := ingester.Ingest(ctx, billow.Principal{KeyID: "bench"}, events)
		if err != nil {
			return err
		}
		if res.Accepted != len(events) {
			return fmt.Errorf("account %s: %d of %d usage events accepted: %+v", ext(k), res.Accepted, len(events), res.Rejected)
		}
		return nil
	})
}

// benchEach runs fn for 0 … n-1 from workers goroutines, showing progress by tenths, and
// stops at the first error.
func benchEach(env *runEnv, what string, n, workers int, fn func(k int) error) error {
	var next, done, shown atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	began := time.Now()
	for range workers {
		wg.Go(func() {
			for k := int(next.Add(1)) - 1; k < n && failed.Load() == nil; k = int(next.Add(1)) - 1 {
				if err := fn(k); err != nil {
					failed.Store(&err)
					return
				}
				if d := done.Add(1); d*10/int64(n) > shown.Load() {
					shown.Store(d * 10 / int64(n))
					fmt.Fprintf(env.stdout, "  set-up, %s: %d of %d, %s\n", what, d, n, time.Since(began).Round(time.Millisecond))
				}
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		return fmt.Errorf("set-up, %s: %w", what, *err)
	}
	return nil
}

// benchRenewalInvoices reads back the invoices the run finalized, checking each has the
// lines it should.
func benchRenewalInvoices(ctx context.Context, db *sqlstore.DB, n int) ([]*billow.Invoice, error) {
	all, err := db.Invoices(ctx, sqlstore.InvoiceFilter{From: benchInvoicesStart.AddDate(0, 1, 0), Limit: n, IncludeHidden: true})
	if err != nil {
		return nil, err
	}
	for _, inv := range all {
		if len(inv.Lines) != benchInvoiceLines || inv.Status != billow.InvoicePaid {
			return nil, fmt.Errorf("invoice %s has %d lines and is %s, want %d lines, paid", inv.ID, len(inv.Lines), inv.Status, benchInvoiceLines)
		}
	}
	return all, nil
}

// benchInvoicesCatalog is a catalog whose one plan renews into benchInvoiceLines lines.
func benchInvoicesCatalog() string {
	var b strings.Builder
	b.WriteString(`billow_catalog: 1
name: Invoice run bench
currency: USD
credits: {per_currency_unit: 1000, grace_buffer_credits: 0}
billing: {retry_days: [1, 3, 5, 7], grace_period_days: 7, payment_terms_days: 14}
products:
  - {key: bench, name: Bench}
entitlements:
`)
	for i := 1; i <= benchAddOns; i++ {
		fmt.Fprintf(&b, "  - {key: bench_feature_%02d, name: Bench feature %d, type: flag}\n", i, i)
	}
	b.WriteString("meters:\n")
	for m := 1; m <= benchMeters; m++ {
		fmt.Fprintf(&b, "  - {key: bench_units_%d, name: Bench units %d, unit: unit, event_types: [bench.usage_%d], aggregation: sum, field: units}\n", m, m, m)
	}
	b.WriteString(`plans:
  - key: bench
    name: Bench
    account_types: [standard]
    products: [bench]
    fees: {month: "100.00"}
    included_credits: {credits: 5000, refresh: cycle}
    rates:
`)
	for m := 1; m <= benchMeters; m++ {
		fmt.Fprintf(&b, "      - {meter: bench_units_%d, model: per_unit, unit_price: \"0.0%d\", billed_in: currency}\n", m, m)
	}
	b.WriteString("    entitlements:\n")
	for i := 1; i <= benchAddOns; i++ {
		fmt.Fprintf(&b, "      bench_feature_%02d: false\n", i)
	}
	b.WriteString("add_ons:\n")
	for i := 1; i <= benchAddOns; i++ {
		fmt.Fprintf(&b, "  - {key: bench_add_on_%02d, name: Bench add-on %d, fees: {month: \"%d.00\"}, entitlements: {bench_feature_%02d: true}, max_quantity: 5, products: [bench]}\n", i, i, 5+i, i)
	}
	return b.String()
}

// benchClock is a clock the bench sets: the subscriptions start at one time and renew at
// another.
type benchClock struct{ now atomic.Int64 }

func (c *benchClock) Now() time.Time  { return time.UnixMicro(c.now.Load()).UTC() }
func (c *benchClock) set(t time.Time) { c.now.Store(t.UnixMicro()) }

func benchViaJobs(ctx context.Context, db *sqlstore.DB, svc *billing.Service, clock billow.Clock, workers, n int) (billing.RunResult, error) {
	if err := jobs.Migrate(ctx, db); err != nil {
		return billing.RunResult{}, err
	}
	r, err := jobs.New(jobs.Config{Store: db, Advancer: svc, Clock: clock, RunWorkers: workers, SweepInterval: 100 * time.Millisecond})
	if err != nil {
		return billing.RunResult{}, err
	}
	defer r.Stop(ctx)
	if err := r.Start(ctx); err != nil {
		return billing.RunResult{}, err
	}
	for {
		due, err := svc.DueSubscriptions(ctx, clock.Now(), 1)
		if err != nil {
			return billing.RunResult{}, err
		}
		if len(due) == 0 {
			return billing.RunResult{Advanced: n}, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}
