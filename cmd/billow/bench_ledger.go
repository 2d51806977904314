package main

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/ledger"
	"github.com/billowhq/billow/sqlstore"
)

type benchLedgerCmd struct {
	DatabaseURL string `env:"BILLOW_BENCH_DATABASE_URL" help:"postgres://… to measure PostgreSQL (a database of its own is made and dropped); empty for SQLite in a temporary directory."`
	Postings    int    `default:"50000" help:"Spends to post in each load."`
	Workers     int    `default:"256" help:"Concurrent callers, as many HTTP requests in flight."`
	Accounts    int    `default:"100" help:"Wallets the uniform load spreads over."`
	CPUProfile  string `name:"cpu-profile" type:"path" help:"Write a CPU profile of the uniform load to this file (go tool pprof reads it)."`
}

// Run posts 1-credit spends, each checked against its wallet's balance, from many callers
// at once: spread over many wallets, then all on one. The uniform figure is compared with
// raw batched inserts of the same rows into the same tables, the hot one with the uniform.
func (c *benchLedgerCmd) Run(env *runEnv) error {
	ctx := env.ctx
	if c.Postings < 1 || c.Workers < 1 || c.Accounts < 1 {
		return fmt.Errorf("--postings, --workers and --accounts must be at least 1")
	}
	db, cleanup, err := benchStore(ctx, c.DatabaseURL)
	if err != nil {
		return err
	}
	defer cleanup()
	fmt.Fprintf(env.stdout, "billow bench ledger: %d spends per load, %d callers, %s (%s)\n", c.Postings, c.Workers, db.Dialect(), db.Where())

	wallets := make([]string, c.Accounts+1) // the last one is the hot wallet
	perWallet := int64(c.Postings/c.Accounts+1) * billow.MicroCreditsPerCredit
	for i := range wallets {
		a, err := db.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: fmt.Sprintf("ledger-%d", i), Name: "Ledger bench", Catalog: "credits-platform"})
		if err != nil {
			return err
		}
		amount := perWallet
		if i == c.Accounts {
			amount = int64(c.Postings) * billow.MicroCreditsPerCredit
		}
		if _, _, err := db.CreateGrant(ctx, billow.CreateGrantInput{Account: a.ID, Kind: billow.GrantPaid, AmountUcr: amount, ID: "bench-funds"}); err != nil {
			return err
		}
		wallets[i] = a.ID
	}
	// load posts c.Postings spends from c.Workers callers, the k-th on wallet(k).
	load := func(name string, wallet func(k int) string) (float64, error) {
		var next atomic.Int64
		var failed atomic.Pointer[error]
		var wg sync.WaitGroup
		began := time.Now()
		for range c.Workers {
			wg.Go(func() {
				for k := int(next.Add(1)) - 1; k < c.Postings && failed.Load() == nil; k = int(next.Add(1)) - 1 {
					_, err := db.Spend(ctx, billow.SpendInput{Account: wallet(k), AmountUcr: billow.MicroCreditsPerCredit,
						ID: fmt.Sprintf("%s-%d", name, k), Cause: billow.CauseUsage})
					if err != nil {
						failed.Store(&err)
					}
				}
			})
		}
		wg.Wait()
		if err := failed.Load(); err != nil {
			return 0, fmt.Errorf("%s load: %w", name, *err)
		}
		return float64(c.Postings) / time.Since(began).Seconds(), nil
	}
	stop, err := startCPUProfile(c.CPUProfile)
	if err != nil {
		return err
	}
	uniform, err := load("uniform", func(k int) string { return wallets[k%c.Accounts] })
	stop()
	if err != nil {
		return err
	}
	hot, err := load("hot", func(int) string { return wallets[c.Accounts] })
	if err != nil {
		return err
	}
	report, err := db.VerifyLedger(ctx, nil)
	if err != nil {
		return err
	}
	if len(report.Problems) > 0 {
		return fmt.Errorf("the ledger does not verify after the loads: %s", report.Problems[0])
	}

	// The limit: the same rows, over the same wallets, inserted raw in batches of 1,000.
	raws := make([]sqlstore.RawWallet, c.Accounts)
	for i := range raws {
		w, err := db.Wallet(ctx, wallets[i])
		if err != nil || len(w.Grants) == 0 {
			return fmt.Errorf("reading a bench wallet: %v", err)
		}
		raws[i] = sqlstore.RawWallet{AccountID: wallets[i], From: ledger.GrantAccount(w.Grants[0].ID)}
	}
	began := time.Now()
	if err := db.RawInsertTransfers(ctx, raws, ledger.UsageRevenue, c.Postings, 1000); err != nil {
		return err
	}
	raw := float64(c.Postings) / time.Since(began).Seconds()
	printBench(env, []benchResult{
		{name: "postings, uniform", unit: "posts/s", value: uniform, limit: raw, limitName: "raw batched INSERT of the same rows, same wallets, into the same tables"},
		{name: "postings, one hot wallet", unit: "posts/s", value: hot, limit: uniform, limitName: "the uniform load above"},
	})
	return nil
}
