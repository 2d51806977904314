package billing_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/payment/sandbox"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// A contract that changes a rate after a month was invoiced does not bill that month
// again: January's 100 voice sessions are invoiced at 0.02 in February, the contract
// moves the rate to 0.05, and March's renewal has no adjustment for January. Ten sessions
// of January that arrive late after that are adjusted in April by those ten alone, at
// today's 0.05: 0.50, not the 3.50 that re-pricing the whole month would give. Each
// renewal is the invoice its preview showed.
func TestNewRateDoesNotRebillAnInvoicedMonth(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newEnterpriseFixture(t, env, jan15)
		contract := func(voice string) {
			t.Helper()
			if _, err := env.DB.SetContract(f.ctx, f.acct.ID, billow.ContractTerms{Reference: "ENT-2026-002", Plan: "enterprise",
				Fees:  map[string]string{"month": "3000.00"},
				Rates: []billow.ContractRate{{Meter: "voice_sessions", Model: "per_unit", UnitPrice: voice}}}); err != nil {
				t.Fatal(err)
			}
		}
		contract("0.02")
		f.card(t, sandbox.CardVisa, true)
		if _, err := f.svc.SubmitOrder(f.ctx, f.acct.ID, subscribe("enterprise")); err != nil {
			t.Fatal(err)
		}
		f.voiceSessions(t, 100, jan15.Add(3*time.Hour))
		f.renewsAs(t, f.upcoming(t)) // 15 February: January at 0.02

		contract("0.05")
		f.renewsAs(t, f.upcoming(t)) // 15 March: January is not billed again

		sendVoice(t, f, "jan-late", time.Date(2026, 1, 20, 10, 0, 0, 0, ny(t)), 10)
		april := f.renewsAs(t, f.upcoming(t)) // 15 April: ten late sessions at 0.05

		fee := "Enterprise plan 300000"
		want := []invoiceRow{
			{Number: "INV-000001", Status: "paid", Payment: "succeeded", Total: 300_000, Lines: []string{fee}},
			{Number: "INV-000002", Status: "paid", Payment: "succeeded", Total: 300_200, Lines: []string{fee, "Voice sessions, 2026-01 200"}},
			{Number: "INV-000003", Status: "paid", Payment: "succeeded", Total: 300_000, Lines: []string{fee}},
			{Number: "INV-000004", Status: "paid", Payment: "succeeded", Total: 300_050, Lines: []string{fee, "Late usage adjustment: Voice sessions, 2026-01 50"}},
		}
		if diff := cmp.Diff(want, f.invoices(t)); diff != "" {
			t.Errorf("invoices (-want +got):\n%s", diff)
		}
		late := april.Lines[len(april.Lines)-1]
		if late.Kind != billow.LineUsageAdjustment || late.Quantity != "110" || late.Ref != "usage:2026-01:voice_sessions" {
			t.Errorf("the adjustment %+v", late)
		}

		// January stands billed at 2.50 in all, last settled at its 110 sessions.
		billed, err := env.DB.BilledUsage(f.ctx, f.acct.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantBilled := map[string]billow.BilledLine{"usage:2026-01:voice_sessions": {AmountMinor: 250,
			Quantities: map[string]decimal.Decimal{"voice_sessions": decimal.NewFromInt(110)}}}
		if diff := cmp.Diff(wantBilled, billed); diff != "" {
			t.Errorf("billed usage (-want +got):\n%s", diff)
		}
	})
}
