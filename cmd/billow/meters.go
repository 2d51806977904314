package main

import (
	"fmt"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/sqlstore"
)

type metersCmd struct {
	Rebuild metersRebuildCmd `cmd:"" help:"Recompute usage rollups from raw events."`
}

type metersRebuildCmd struct {
	storeFlags
	Account string `help:"Id or external id of one account; all accounts when omitted."`
}

func (c *metersRebuildCmd) Run(env *runEnv) error {
	db, err := openStore(env, c.storeFlags)
	if err != nil {
		return err
	}
	defer db.Close()
	var accounts []*billow.Account
	if c.Account != "" {
		a, err := db.Account(env.ctx, c.Account)
		if err != nil {
			return err
		}
		accounts = append(accounts, a)
	} else {
		page := billow.PageInput{Limit: billow.PageLimitMax}
		for {
			p, err := db.ListAccounts(env.ctx, sqlstore.AccountFilter{}, page)
			if err != nil {
				return err
			}
			accounts = append(accounts, p.Data...)
			if !p.HasMore {
				break
			}
			page.StartingAfter = p.Data[len(p.Data)-1].ID
		}
	}
	var total int64
	for i, a := range accounts {
		if env.ctx.Err() != nil {
			return env.ctx.Err()
		}
		began := time.Now()
		n, err := db.RebuildRollups(env.ctx, a.ID)
		if err != nil {
			return fmt.Errorf("account %s: %w", a.ExternalID, err)
		}
		total += n
		fmt.Fprintf(env.stdout, "[%d/%d] %s: %d events in %s\n", i+1, len(accounts), a.ExternalID, n, time.Since(began).Round(time.Millisecond))
	}
	fmt.Fprintf(env.stdout, "rebuilt the rollups of %d accounts from %d events\n", len(accounts), total)
	return nil
}
