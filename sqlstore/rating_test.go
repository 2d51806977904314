package sqlstore_test

import (
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/rating"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// TestRatingQuantities reads the quantities rates need: whole meters, one app, one group
// of a meter, a distinct count over some groups, in a time zone whose months begin at
// half past a UTC hour; and checks them against the usage API's summary of the month.
func TestRatingQuantities(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		u := newUsageAccount(t, env, billow.CreateAccountInput{ExternalID: "kolkata", Name: "K", Catalog: "credits-platform",
			Plan: "pay_as_you_go", Timezone: "Asia/Kolkata"},
			billow.CreateAppInput{ExternalID: "front-desk", Name: "F"}, billow.CreateAppInput{ExternalID: "sales", Name: "S"})
		u.send(
			// 19:00 UTC on December 31 is 00:30 on January 1 in Kolkata; 17:00 is still December.
			`voice.interaction@2025-12-31T19:00:00Z {"app":"front-desk","kind":"stt","seconds":10}`,
			`voice.interaction@2025-12-31T17:00:00Z {"app":"front-desk","kind":"stt","seconds":1000}`,
			`voice.interaction@2026-01-10T10:00:00Z {"app":"front-desk","kind":"tts","seconds":4}`,
			`voice.interaction@2026-01-10T10:00:00Z {"app":"sales","kind":"stt","seconds":1.5}`,
			`llm.usage@2026-01-10T10:00:00Z {"app":"sales","provider":"openai","model":"gpt-4o","input_tokens":1000,"output_tokens":500}`,
			`llm.usage@2026-01-10T10:00:00Z {"app":"sales","provider":"openai","model":"gpt-4o-mini","input_tokens":7,"output_tokens":0}`,
			`agent.login@2026-01-10T08:00:00Z {"agent":"ann","product":"contact_center"}`,
			`agent.login@2026-01-11T08:00:00Z {"agent":"ann","product":"agent_ai"}`,
			`agent.login@2026-01-12T08:00:00Z {"agent":"bob","product":"agent_ai"}`,
			`agent.login@2026-01-12T08:00:00Z {"agent":"carl","product":"contact_center"}`,
		)
		kolkata, err := time.LoadLocation("Asia/Kolkata")
		if err != nil {
			t.Fatal(err)
		}
		month := rating.MonthOf(env.Clock.Now(), kolkata)
		sels := []rating.Selection{
			{Meter: "voice_seconds"},
			{Meter: "voice_seconds", Filters: map[string]string{"kind": "stt"}},
			{Meter: "voice_seconds", Filters: map[string]string{"app": "front-desk", "kind": "tts"}},
			{Meter: "voice_seconds", Filters: map[string]string{"app": "sales"}},
			{Meter: "voice_seconds", Filters: map[string]string{"app": "ghost"}},
			{Meter: "voice_seconds", Filters: map[string]string{"kind": "gateway"}},
			{Meter: "llm_credits"},
			{Meter: "llm_tokens", Filters: map[string]string{"provider": "openai", "model": "gpt-4o"}},
			{Meter: "llm_tokens", Filters: map[string]string{"model": "gpt-4o-mini"}},
			{Meter: "named_agents"},
			{Meter: "named_agents", Filters: map[string]string{"product": "agent_ai"}},
			{Meter: "billing_sessions"},
		}
		got, err := env.DB.RatingQuantities(ctx, u.account.ID, month.From, month.To, sels)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"voice_seconds":                                "15.5",
			`voice_seconds{kind="stt"}`:                    "11.5",
			`voice_seconds{app="front-desk",kind="tts"}`:   "4",
			`voice_seconds{app="sales"}`:                   "1.5",
			`voice_seconds{app="ghost"}`:                   "0",
			`voice_seconds{kind="gateway"}`:                "0",
			"llm_credits":                                  "9.00126", // gpt-4o-mini: 7 × 0.15 / 10⁶ × 1.2 USD = 1,260 µcr
			`llm_tokens{model="gpt-4o",provider="openai"}`: "1500",
			`llm_tokens{model="gpt-4o-mini"}`:              "7",
			"named_agents":                                 "3", // ann, bob and carl, whatever the product
			`named_agents{product="agent_ai"}`:             "2", // ann and bob
			"billing_sessions":                             "0",
		}
		if len(got) != len(want) {
			t.Errorf("%d quantities, want %d: %v", len(got), len(want), got)
		}
		for key, w := range want {
			if q, ok := got[key]; !ok || q.String() != w {
				t.Errorf("%s = %s (%v), want %s", key, q, ok, w)
			}
		}

		// The unfiltered ones are what the usage API says of the month.
		summary, err := env.DB.UsageSummary(ctx, billow.UsageSummaryInput{Account: u.account.ID})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range summary.Meters {
			if q, ok := got[m.Meter]; ok && (m.Quantity == nil || m.Quantity.String() != q.String()) {
				t.Errorf("meter %s: rating reads %s, the usage summary %v", m.Meter, q, m.Quantity)
			}
		}

		// A peak over all apps cannot be split by app.
		_, err = env.DB.RatingQuantities(ctx, u.account.ID, month.From, month.To,
			[]rating.Selection{{Meter: "concurrent_agents", Filters: map[string]string{"app": "sales"}}})
		if billow.ErrorCode(err) != billow.CodeMeterNotByApp {
			t.Errorf("concurrent agents by app: %v", err)
		}
		_, err = env.DB.RatingQuantities(ctx, u.account.ID, month.From, month.To, []rating.Selection{{Meter: "coffee"}})
		if billow.ErrorCode(err) != billow.CodeUnknownMeter {
			t.Errorf("unknown meter: %v", err)
		}
	})
}

// TestUsageChargeClaims pins the record charging keeps per line: a claim is made only
// on the line as read, a posted movement counts once, a refused one not at all.
func TestUsageChargeClaims(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		a, err := env.DB.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: "c", Name: "C", Catalog: "credits-platform", Plan: "free"})
		if err != nil {
			t.Fatal(err)
		}
		claim := func(debited, credited int64, id string, amount int64) (billow.UsageCharge, bool) {
			t.Helper()
			c, ok, err := env.DB.ClaimUsageCharge(ctx, billow.ClaimUsageChargeInput{AccountID: a.ID, Month: "2026-01", LineKey: "llm_credits",
				DebitedUcr: debited, CreditedUcr: credited, TransferID: id, AmountUcr: amount})
			if err != nil {
				t.Fatal(err)
			}
			return c, ok
		}
		settle := func(id string, amount int64, posted bool) billow.UsageCharge {
			t.Helper()
			c, err := env.DB.SettleUsageCharge(ctx, billow.SettleUsageChargeInput{AccountID: a.ID, Month: "2026-01", LineKey: "llm_credits",
				TransferID: id, AmountUcr: amount, Posted: posted})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		if c, ok := claim(0, 0, "t1", 5); !ok || c.PendingID != "t1" || c.PendingUcr != 5 {
			t.Fatalf("first claim: %+v %v", c, ok)
		}
		if c, ok := claim(0, 0, "t2", 7); ok || c.PendingID != "t1" {
			t.Errorf("a claim over a pending one: %+v %v", c, ok)
		}
		if c := settle("t1", 5, false); c.PendingID != "" || c.DebitedUcr != 0 {
			t.Errorf("refused: %+v", c)
		}
		if _, ok := claim(0, 0, "t2", 7); !ok {
			t.Error("claim after a refusal")
		}
		if c := settle("t2", 7, true); c.PendingID != "" || c.DebitedUcr != 7 || c.ChargedUcr() != 7 {
			t.Errorf("posted: %+v", c)
		}
		if c := settle("t2", 7, true); c.DebitedUcr != 7 {
			t.Errorf("posted twice counts twice: %+v", c)
		}
		if c, ok := claim(0, 0, "t3", 1); ok || c.DebitedUcr != 7 {
			t.Errorf("a claim on stale totals: %+v %v", c, ok)
		}
		if _, ok := claim(7, 0, "t4", -2); !ok {
			t.Error("a correction claim")
		}
		// Another charger finished t4 and claimed again: a late record of t4 still counts once.
		settle("t4", -2, true)
		if _, ok := claim(7, 2, "t5", 1); !ok {
			t.Error("claim after the correction")
		}
		if c := settle("t4", -2, true); c.CreditedUcr != 2 || c.PendingID != "t5" {
			t.Errorf("a late record of t4 over the claim of t5: %+v", c)
		}
		lines, err := env.DB.UsageCharges(ctx, a.ID, "2026-01")
		if err != nil {
			t.Fatal(err)
		}
		if c := lines["llm_credits"]; len(lines) != 1 || c.DebitedUcr != 7 || c.CreditedUcr != 2 || c.PendingID != "t5" || c.PendingUcr != 1 ||
			!c.UpdatedAt.Equal(env.Clock.Now().Truncate(time.Microsecond)) {
			t.Errorf("usage charges: %+v", lines)
		}
		if other, err := env.DB.UsageCharges(ctx, a.ID, "2026-02"); err != nil || len(other) != 0 {
			t.Errorf("another month: %v %v", other, err)
		}

		for _, in := range []billow.ClaimUsageChargeInput{
			{AccountID: a.ID, Month: "2026-1", LineKey: "x", TransferID: "t", AmountUcr: 1},
			{AccountID: a.ID, Month: "2026-01", LineKey: "", TransferID: "t", AmountUcr: 1},
			{AccountID: a.ID, Month: "2026-01", LineKey: "x", TransferID: "t", AmountUcr: 0},
			{AccountID: a.ID, Month: "2026-01", LineKey: "x", TransferID: "", AmountUcr: 1},
			{AccountID: a.ID, Month: "2026-01", LineKey: "x", TransferID: "t", AmountUcr: billow.TransferMaxUcr + 1},
			{AccountID: "nobody", Month: "2026-01", LineKey: "x", TransferID: "t", AmountUcr: 1},
		} {
			if _, _, err := env.DB.ClaimUsageCharge(ctx, in); billow.ErrorCode(err) != billow.CodeValidationFailed {
				t.Errorf("claim %+v: %v", in, err)
			}
		}
		if _, err := env.DB.SettleUsageCharge(ctx, billow.SettleUsageChargeInput{AccountID: a.ID, Month: "2026-01", LineKey: "never",
			TransferID: "t", AmountUcr: 1}); billow.ErrorCode(err) != billow.CodeNotFound {
			t.Errorf("settling a line never claimed: %v", err)
		}
	})
}

func TestAccountsWithPlan(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		var ids []string
		for _, in := range []billow.CreateAccountInput{
			{ExternalID: "a1", Name: "A", Catalog: "credits-platform", Plan: "free"},
			{ExternalID: "a2", Name: "A", Catalog: "credits-platform"},
			{ExternalID: "a3", Name: "A", Catalog: "credits-platform", Plan: "pay_as_you_go"},
			{ExternalID: "a4", Name: "A", Catalog: "ai-for-service", Plan: "essential"},
		} {
			a, err := env.DB.CreateAccount(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if in.Plan != "" {
				ids = append(ids, a.ID)
			}
			env.Clock.Advance(time.Millisecond) // ids sort by creation
		}
		var got []string
		after := ""
		for {
			page, err := env.DB.AccountsWithPlan(ctx, after, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range page {
				got = append(got, a.ID)
			}
			if len(page) < 2 {
				break
			}
			after = page[len(page)-1].ID
		}
		if len(got) != len(ids) || got[0] != ids[0] || got[1] != ids[1] || got[2] != ids[2] {
			t.Errorf("accounts with a plan %v, want %v", got, ids)
		}
		if _, err := env.DB.AccountsWithPlan(ctx, "", 0); billow.ErrorCode(err) != billow.CodeValidationFailed {
			t.Errorf("limit 0: %v", err)
		}
	})
}
