package sqlstore_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// Billed usage adds up amounts by ref and keeps the latest quantities written: a write
// without quantities (a row billed before they were kept) leaves them NULL, read back as
// nil, and a later write without them keeps those stored. Quantities keep their decimals.
func TestBilledUsageKeepsQuantities(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		a := mustAccount(t, env.DB, "billed")
		at := storetest.Start
		sub := &billow.Subscription{ID: "sub_billed", Account: a.ID, Plan: "pay_as_you_go", Interval: "month",
			AddOns: []billow.SubscriptionAddOn{}, Status: billow.SubscriptionActive, AnchorAt: at, CurrentPeriodStart: at,
			CurrentPeriodEnd: at.AddDate(0, 1, 0), CreatedAt: at, UpdatedAt: at, Version: 1}
		if err := env.DB.WriteBilling(ctx, &billow.BillingWrite{Subscription: sub, NewSubscription: true}); err != nil {
			t.Fatal(err)
		}
		q := func(s string) map[string]decimal.Decimal {
			return map[string]decimal.Decimal{`llm_tokens{app="bot"}`: decimal.RequireFromString(s)}
		}
		const legacy, kept = "usage:2026-01:voice_sessions", `usage:2026-01:llm_tokens{app="bot"}`
		for _, billed := range []map[string]billow.BilledLine{
			{legacy: {AmountMinor: 200}, kept: {AmountMinor: 500, Quantities: q("1000.5")}},
			{kept: {AmountMinor: -20, Quantities: q("980.25")}},
			{kept: {AmountMinor: 0}},
		} {
			sub.Version++
			if err := env.DB.WriteBilling(ctx, &billow.BillingWrite{Subscription: sub, BilledUsage: billed}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := env.DB.BilledUsage(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]billow.BilledLine{legacy: {AmountMinor: 200}, kept: {AmountMinor: 480, Quantities: q("980.25")}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("billed usage (-want +got):\n%s", diff)
		}
		if s := got[kept].Quantities[`llm_tokens{app="bot"}`].String(); s != "980.25" {
			t.Errorf("quantity read back as %s", s)
		}
	})
}
