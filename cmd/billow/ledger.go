package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/billowhq/billow/sqlstore"
)

type ledgerCmd struct {
	Verify ledgerVerifyCmd `cmd:"" help:"Check the credit ledger: the hash chain, gapless seqs, balanced transfers and stored balances."`
}

type ledgerVerifyCmd struct {
	storeFlags
}

// errLedgerBroken makes the command exit non-zero after listing what it found.
var errLedgerBroken = errors.New("ledger verify: the ledger does not verify")

func (c *ledgerVerifyCmd) Run(env *runEnv) error {
	db, err := openStore(env, c.storeFlags)
	if err != nil {
		return err
	}
	defer db.Close()
	began := time.Now()
	report, err := db.VerifyLedger(env.ctx, func(n int64) {
		env.logger.Info("ledger verify: reading", "transfers", n)
	})
	if err != nil {
		return err
	}
	return printLedgerReport(env, report, time.Since(began))
}

func printLedgerReport(env *runEnv, r *sqlstore.LedgerReport, took time.Duration) error {
	fmt.Fprintf(env.stdout, "read %d transfers and %d entries in %s\n", r.Transfers, r.Entries, took.Round(time.Millisecond))
	if len(r.Problems) == 0 {
		fmt.Fprintln(env.stdout, "ok: the chain is whole, every transfer balances, and the balances follow from the entries")
		return nil
	}
	for _, p := range r.Problems {
		fmt.Fprintln(env.stdout, "problem:", p)
	}
	return errLedgerBroken
}
