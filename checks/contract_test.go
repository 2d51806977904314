package checks_test

import (
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// Seed 000: an enterprise account ingests up to 1 GB by default, plus a 1% allowance;
// contract-specific limits override this default. The checker follows a contract set,
// changed or ended in the store on its next poll.
func TestIngestQuotaFollowsTheContract(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		a, err := env.DB.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: "bigco", Name: "BigCo", Type: billow.AccountEnterprise,
			Catalog: "ai-for-service", Plan: "enterprise"})
		if err != nil {
			t.Fatal(err)
		}
		c := newChecker(env)
		ingest := func(n int64) billow.CheckInput {
			return billow.CheckInput{Account: a.ID, Action: billow.ActionIngestBytes, Quantity: n}
		}
		// The plan's default: 1,000,000,000 bytes and 1%.
		expect(t, c, ingest(1_010_000_000), true, billow.CodeAllowed)
		expect(t, c, ingest(1_010_000_001), false, billow.CodeQuotaExceeded)
		poll(t, c)

		env.Clock.Advance(time.Second)
		if _, err := env.DB.SetContract(ctx, a.ID, billow.ContractTerms{
			Limits: map[string]billow.ContractLimit{"ingested_bytes": {Limit: 5_000_000_000, AllowancePercent: "2"}}}); err != nil {
			t.Fatal(err)
		}
		expect(t, c, ingest(1_010_000_001), false, billow.CodeQuotaExceeded) // memory until the next poll
		poll(t, c)
		r := expect(t, c, ingest(5_100_000_000), true, billow.CodeAllowed)
		if *r.Limit != 5_100_000_000 {
			t.Fatalf("limit %d with the contract", *r.Limit)
		}
		expect(t, c, ingest(5_100_000_001), false, billow.CodeQuotaExceeded)

		// A contract without an allowance allows the limit exactly.
		env.Clock.Advance(time.Second)
		if _, err := env.DB.SetContract(ctx, a.ID, billow.ContractTerms{
			Limits: map[string]billow.ContractLimit{"ingested_bytes": {Limit: 2_000_000_000}}}); err != nil {
			t.Fatal(err)
		}
		poll(t, c)
		expect(t, c, ingest(2_000_000_000), true, billow.CodeAllowed)
		expect(t, c, ingest(2_000_000_001), false, billow.CodeQuotaExceeded)

		// The contract ends: the plan's default again.
		env.Clock.Advance(time.Second)
		if _, err := env.DB.DeleteContract(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		poll(t, c)
		expect(t, c, ingest(1_010_000_000), true, billow.CodeAllowed)
		expect(t, c, ingest(1_010_000_001), false, billow.CodeQuotaExceeded)
	})
}
