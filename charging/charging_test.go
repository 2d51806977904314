package charging_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/charging"
	"github.com/billowhq/billow/ingest"
	"github.com/billowhq/billow/rating"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

var ctx = context.Background()

var operator = billow.Principal{KeyID: "key_test"}

const credit = billow.MicroCreditsPerCredit

// fixture is one engine's store with an ingest service telling a charger what it stored.
type fixture struct {
	env     *storetest.Env
	charger *charging.Charger
	ingest  *ingest.Service
	seq     int // event ids
}

func newFixture(t *testing.T, env *storetest.Env) *fixture {
	t.Helper()
	ch, err := charging.New(charging.Config{Store: env.DB, Clock: env.Clock})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{env: env, charger: ch, ingest: ingest.New(env.DB, env.Clock, ingest.OnStored(ch.AccountsChanged))}
}

// account creates an account with apps front-desk and sales and gives it paid credits.
func (f *fixture) account(t *testing.T, ext, catalogKey, plan string, paidCredits int64) *billow.Account {
	t.Helper()
	a, err := f.env.DB.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: ext, Name: ext, Catalog: catalogKey, Plan: plan})
	if err != nil {
		t.Fatal(err)
	}
	for _, app := range []string{"front-desk", "sales"} {
		if _, err := f.env.DB.CreateApp(ctx, a.ID, billow.CreateAppInput{ExternalID: app, Name: app}); err != nil {
			t.Fatal(err)
		}
	}
	if paidCredits > 0 {
		f.grant(t, a, paidCredits)
	}
	return a
}

func (f *fixture) grant(t *testing.T, a *billow.Account, credits int64) {
	t.Helper()
	f.seq++
	if _, _, err := f.env.DB.CreateGrant(ctx, billow.CreateGrantInput{Account: a.ID, Kind: billow.GrantPaid, AmountUcr: credits * credit,
		ID: fmt.Sprintf("purchase-%d", f.seq), Description: "test purchase"}); err != nil {
		t.Fatal(err)
	}
}

// send ingests events of the account.
func (f *fixture) send(t *testing.T, a *billow.Account, events ...sent) {
	t.Helper()
	if err := f.trySend(a, events...); err != nil {
		t.Fatal(err)
	}
}

// trySend ingests events of the account, all of which must be accepted.
func (f *fixture) trySend(a *billow.Account, events ...sent) error {
	var batch []ingest.CloudEvent
	for _, e := range events {
		f.seq++
		batch = append(batch, ingest.CloudEvent{SpecVersion: "1.0", ID: fmt.Sprintf("e%d", f.seq), Source: "test", Type: e.typ,
			Subject: a.ExternalID, Time: e.at.Format(time.RFC3339Nano), Data: json.RawMessage(e.data)})
	}
	res, err := f.ingest.Ingest(ctx, operator, batch)
	if err != nil {
		return err
	}
	if res.Accepted != len(events) {
		return fmt.Errorf("ingest: %+v", res)
	}
	return nil
}

type sent struct {
	typ  string
	at   time.Time
	data string
}

// llm is 1,000 input and 500 output tokens of gpt-4o: 0.0075 USD, 0.009 USD with the
// shipped 20% markup, 9 credits.
func llm(at time.Time, app string, byoKey bool) sent {
	return sent{"llm.usage", at, fmt.Sprintf(`{"app":%q,"provider":"openai","model":"gpt-4o","input_tokens":1000,"output_tokens":500,"byo_key":%t}`, app, byoKey)}
}

func voice(at time.Time, app, kind string, seconds string) sent {
	return sent{"voice.interaction", at, fmt.Sprintf(`{"app":%q,"kind":%q,"seconds":%s}`, app, kind, seconds)}
}

func (f *fixture) balance(t *testing.T, a *billow.Account) int64 {
	t.Helper()
	w, err := f.env.DB.Wallet(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	return w.BalanceUcr
}

// usageTransfers lists the account's ledger transfers for usage (spends and
// corrections), oldest first, as "id amount".
func (f *fixture) usageTransfers(t *testing.T, a *billow.Account) []string {
	t.Helper()
	page, err := f.env.DB.Transactions(ctx, a.ID, billow.PageInput{Limit: billow.PageLimitMax})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tx := range slices.Backward(page.Data) {
		if strings.HasPrefix(tx.ID, "usage") {
			out = append(out, fmt.Sprintf("%s %d", tx.ID, tx.CreditsUcr))
		}
	}
	return out
}

func (f *fixture) charge(t *testing.T, a *billow.Account) map[string]charging.LineResult {
	t.Helper()
	res, err := f.charger.ChargeAccount(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]charging.LineResult{}
	for _, l := range res.Lines {
		out[l.Month+" "+l.Key] = l
	}
	return out
}

func wantTransfers(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("usage transfers:\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestChargingDebitsRatedUsage follows a prepaid account on the shipped credits-platform
// catalog: ingest tells the charger, which debits exactly the rated amount; a second run
// charges nothing, a late event only its difference, a BYO-key call nothing.
func TestChargingDebitsRatedUsage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env)
		a := f.account(t, "acme", "credits-platform", "pay_as_you_go", 1000)
		today := env.Clock.Now().Add(-2 * time.Hour) // 2026-01-15
		f.send(t, a,
			llm(today, "sales", false),                                // 9 credits
			voice(today, "front-desk", "stt", "60"),                   // 60 s × 0.0015 USD = 90 credits
			voice(today.Add(time.Minute), "front-desk", "tts", "2.5"), // 3.75 credits
			llm(today, "sales", true),                                 // the customer's own key: 0
		)
		if n := f.charger.ChargeDirty(ctx); n != 1 {
			t.Fatalf("ingest marked %d accounts to rate, want 1", n)
		}
		wantTransfers(t, f.usageTransfers(t, a),
			"usage:2026-01:llm_credits:debited=9000000 -9000000",
			"usage:2026-01:voice_seconds:debited=93750000 -93750000")
		if got, want := f.balance(t, a), int64(1000*credit-102_750_000); got != want {
			t.Errorf("balance %d µcr, want %d", got, want)
		}

		// Nothing new: nothing moves, whether marked by ingest or not.
		if n := f.charger.ChargeDirty(ctx); n != 0 {
			t.Errorf("%d accounts to rate with nothing ingested", n)
		}
		lines := f.charge(t, a)
		if l := lines["2026-01 llm_credits"]; l.RatedUcr != 9*credit || l.ChargedUcr != 9*credit || l.OwedUcr != 0 || len(l.Transfers) != 0 {
			t.Errorf("second run, llm line: %+v", l)
		}
		wantTransfers(t, f.usageTransfers(t, a),
			"usage:2026-01:llm_credits:debited=9000000 -9000000",
			"usage:2026-01:voice_seconds:debited=93750000 -93750000")

		// A BYO-key call costs nothing: the line does not move.
		f.send(t, a, llm(today.Add(time.Minute), "front-desk", true))
		f.charger.ChargeDirty(ctx)
		// A late event, stamped days ago, moves only its difference.
		f.send(t, a, llm(time.Date(2026, time.January, 3, 12, 0, 0, 0, time.UTC), "front-desk", false))
		f.charger.ChargeDirty(ctx)
		wantTransfers(t, f.usageTransfers(t, a),
			"usage:2026-01:llm_credits:debited=9000000 -9000000",
			"usage:2026-01:voice_seconds:debited=93750000 -93750000",
			"usage:2026-01:llm_credits:debited=18000000 -9000000")
		if got, want := f.balance(t, a), int64(1000*credit-111_750_000); got != want {
			t.Errorf("balance %d µcr, want %d", got, want)
		}

		// Re-rating the month gives the same lines, and the charges match them.
		month, err := charging.AccountMonth(a, env.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		first, err := charging.RatePeriod(ctx, env.DB, a.ID, month)
		if err != nil {
			t.Fatal(err)
		}
		again, err := charging.RatePeriod(ctx, env.DB, a.ExternalID, month)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(first) != fmt.Sprint(again) {
			t.Errorf("rating twice differs:\n%v\n%v", first, again)
		}
		for _, l := range first.Lines {
			if c := f.charge(t, a)["2026-01 "+l.Key]; c.ChargedUcr != l.Amount {
				t.Errorf("line %s rated %d, charged %d", l.Key, l.Amount, c.ChargedUcr)
			}
		}
		// The shipped catalog bills all usage in credits: nothing for the invoice.
		if cur, err := charging.CurrencyLines(ctx, env.DB, a.ID, month); err != nil || len(cur) != 0 {
			t.Errorf("currency lines %+v, %v", cur, err)
		}
	})
}

// TestChargingWhatTheWalletCanPay: a wallet that cannot pay a difference pays what it
// can; the rest is owed, and charged by a run after credits arrive.
func TestChargingWhatTheWalletCanPay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env)
		a := f.account(t, "thrifty", "credits-platform", "free", 50)
		at := env.Clock.Now().Add(-time.Hour)
		f.send(t, a, llm(at, "sales", false), voice(at, "sales", "stt", "60")) // 9 + 90 credits
		lines := f.charge(t, a)
		if l := lines["2026-01 voice_seconds"]; l.ChargedUcr != 41*credit || l.OwedUcr != 49*credit {
			t.Errorf("voice line: %+v, want 41 credits charged and 49 owed", l)
		}
		wantTransfers(t, f.usageTransfers(t, a),
			"usage:2026-01:llm_credits:debited=9000000 -9000000",
			"usage:2026-01:voice_seconds:debited=41000000 -41000000")
		if got := f.balance(t, a); got != 0 {
			t.Errorf("balance %d, want 0", got)
		}
		// An empty wallet is not asked again and again.
		f.charge(t, a)
		if got := len(f.usageTransfers(t, a)); got != 2 {
			t.Errorf("%d usage transfers, want 2", got)
		}

		f.grant(t, a, 100)
		lines = f.charge(t, a)
		if l := lines["2026-01 voice_seconds"]; l.ChargedUcr != 90*credit || l.OwedUcr != 0 {
			t.Errorf("voice line after a grant: %+v", l)
		}
		wantTransfers(t, f.usageTransfers(t, a),
			"usage:2026-01:llm_credits:debited=9000000 -9000000",
			"usage:2026-01:voice_seconds:debited=41000000 -41000000",
			"usage:2026-01:voice_seconds:debited=90000000 -49000000")
		if got := f.balance(t, a); got != 51*credit {
			t.Errorf("balance %d, want 51 credits", got)
		}
	})
}

// ratedCatalog is the shipped credits-platform catalog with other usage prices: billing
// sessions per app and voice per kind in credits (filters on app and on a group), and
// voice sessions in currency (postpaid).
func ratedCatalog(t *testing.T, env *storetest.Env) {
	t.Helper()
	data, err := catalog.Example("credits-platform")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "    rates: &usage_in_credits\n")
	end := start + strings.Index(text[start:], "    entitlements:\n")
	text = text[:start] + `    rates: &usage_in_credits
      - {meter: llm_credits, model: per_unit, unit_price: "1", billed_in: credits}
      - {meter: billing_sessions, model: per_unit, unit_price: "0.01", filters: {app: front-desk}, billed_in: credits}
      - {meter: billing_sessions, model: per_unit, unit_price: "0.01", filters: {app: sales}, billed_in: credits}
      - {meter: voice_seconds, model: per_unit, unit_price: "0.0015", filters: {kind: stt}, billed_in: credits}
      - meter: voice_seconds
        model: graduated
        tiers: [{up_to: 10, unit_price: "0"}, {unit_price: "0.002"}]
        filters: {kind: tts}
        billed_in: credits
      - {meter: voice_sessions, model: per_unit, unit_price: "0.05", billed_in: currency}
` + text[end:]
	if _, _, err := env.DB.SyncCatalog(ctx, "rated", []byte(text)); err != nil {
		t.Fatal(err)
	}
}

// TestChargingCorrectsALineLateEventsLower: a late routing moves billing sessions from
// one app's line to another's; the first is given back the difference, the second
// charged it. Rates filtered by a group (voice kind) and a postpaid rate are rated too.
func TestChargingCorrectsALineLateEventsLower(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ratedCatalog(t, env)
		f := newFixture(t, env)
		a := f.account(t, "routed", "rated", "pay_as_you_go", 1000)
		at := time.Date(2026, time.January, 15, 8, 0, 0, 0, time.UTC)
		f.send(t, a,
			sent{"conversation.started", at, `{"app":"front-desk","conversation":"c1","channel":"web"}`},
			sent{"conversation.message", at.Add(20 * time.Minute), `{"app":"front-desk","conversation":"c1"}`},
			sent{"conversation.ended", at.Add(40 * time.Minute), `{"conversation":"c1"}`}, // 40 minutes: 3 sessions
			voice(at, "front-desk", "stt", "10"),                                          // 15 credits
			voice(at, "front-desk", "tts", "12"),                                          // 13 s of tts in all: 10 s free,
			voice(at, "sales", "tts", "1"),                                                // 3 s at 0.002 USD: 6 credits
		)
		f.charger.ChargeDirty(ctx)
		wantTransfers(t, f.usageTransfers(t, a),
			`usage:2026-01:billing_sessions{app="front-desk"}:debited=30000000 -30000000`,
			`usage:2026-01:voice_seconds{kind="stt"}:debited=15000000 -15000000`,
			`usage:2026-01:voice_seconds{kind="tts"}:debited=6000000 -6000000`)

		// The conversation was handed to sales at 08:10: front-desk has 1 session, sales 2.
		f.send(t, a, sent{"conversation.routed", at.Add(10 * time.Minute), `{"conversation":"c1","to_app":"sales"}`})
		f.charger.ChargeDirty(ctx)
		wantTransfers(t, f.usageTransfers(t, a),
			`usage:2026-01:billing_sessions{app="front-desk"}:debited=30000000 -30000000`,
			`usage:2026-01:voice_seconds{kind="stt"}:debited=15000000 -15000000`,
			`usage:2026-01:voice_seconds{kind="tts"}:debited=6000000 -6000000`,
			`usage-correction:2026-01:billing_sessions{app="front-desk"}:credited=20000000 20000000`,
			`usage:2026-01:billing_sessions{app="sales"}:debited=20000000 -20000000`)
		if got, want := f.balance(t, a), int64(1000-30-15-6+20-20)*credit; got != want {
			t.Errorf("balance %d, want %d", got, want)
		}
		page, err := env.DB.Transactions(ctx, a.ID, billow.PageInput{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if d := page.Data[0].Description; d != `Usage: billing_sessions{app="sales"} in 2026-01` {
			t.Errorf("description %q", d)
		}
		page, err = env.DB.Transactions(ctx, a.ID, billow.PageInput{Limit: 1, StartingAfter: fmt.Sprint(page.Data[0].Seq)})
		if err != nil {
			t.Fatal(err)
		}
		if d := page.Data[0].Description; !strings.HasPrefix(d, "Usage correction: ") {
			t.Errorf("correction description %q", d)
		}

		// The postpaid line is rated for the invoice, never posted.
		month, err := charging.AccountMonth(a, env.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		cur, err := charging.CurrencyLines(ctx, env.DB, a.ID, month)
		if err != nil {
			t.Fatal(err)
		}
		if len(cur) != 1 || cur[0].Key != "voice_sessions" || cur[0].Amount != 15 || cur[0].AmountUnit != rating.UnitMinor {
			t.Errorf("currency lines: %+v, want voice_sessions at 3 × 5 cents", cur)
		}
		// A period of another zone than the account's is refused.
		berlin, _ := time.LoadLocation("Europe/Berlin")
		if _, err := charging.CurrencyLines(ctx, env.DB, a.ID, rating.MonthOf(env.Clock.Now(), berlin)); err == nil ||
			!strings.Contains(err.Error(), charging.CodeInvalidPeriod) {
			t.Errorf("a Berlin month for a UTC account: %v", err)
		}
	})
}

// TestChargingPreviousMonth: late events of the month before are charged to that month
// within the window after it ends, and no longer after.
func TestChargingPreviousMonth(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env)
		a := f.account(t, "late", "credits-platform", "pay_as_you_go", 1000)
		env.Clock.Advance(time.Date(2026, time.February, 1, 1, 0, 0, 0, time.UTC).Sub(env.Clock.Now()))
		f.send(t, a, llm(time.Date(2026, time.January, 31, 23, 59, 0, 0, time.UTC), "sales", false),
			llm(time.Date(2026, time.February, 1, 0, 30, 0, 0, time.UTC), "sales", false))
		f.charger.ChargeDirty(ctx)
		wantTransfers(t, f.usageTransfers(t, a),
			"usage:2026-01:llm_credits:debited=9000000 -9000000",
			"usage:2026-02:llm_credits:debited=9000000 -9000000")

		env.Clock.Advance(charging.PreviousMonthWindowDefault)
		f.send(t, a, llm(time.Date(2026, time.January, 30, 0, 0, 0, 0, time.UTC), "sales", false))
		lines := f.charge(t, a)
		if _, ok := lines["2026-01 llm_credits"]; ok || len(lines) != 2 {
			t.Errorf("after the window, lines %v", lines)
		}
		if got := len(f.usageTransfers(t, a)); got != 2 {
			t.Errorf("%d usage transfers, want 2", got)
		}
	})
}

// TestChargingFinishesAClaimedMovement: a run that claimed a movement and died, before
// or after posting it, is finished by the next run under the same transfer id, once.
func TestChargingFinishesAClaimedMovement(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env)
		a := f.account(t, "crashy", "credits-platform", "pay_as_you_go", 1000)
		at := env.Clock.Now().Add(-time.Hour)
		f.send(t, a, llm(at, "sales", false), voice(at, "sales", "stt", "2"))
		// Both lines claimed as the charger would; the LLM one posted, then the crash.
		for _, claim := range []billow.ClaimUsageChargeInput{
			{AccountID: a.ID, Month: "2026-01", LineKey: "llm_credits", TransferID: "usage:2026-01:llm_credits:debited=9000000", AmountUcr: 9 * credit},
			{AccountID: a.ID, Month: "2026-01", LineKey: "voice_seconds", TransferID: "usage:2026-01:voice_seconds:debited=3000000", AmountUcr: 3 * credit},
		} {
			if _, ok, err := env.DB.ClaimUsageCharge(ctx, claim); err != nil || !ok {
				t.Fatalf("claim %+v: %v %v", claim, ok, err)
			}
		}
		if _, err := env.DB.Spend(ctx, billow.SpendInput{Account: a.ID, AmountUcr: 9 * credit, ID: "usage:2026-01:llm_credits:debited=9000000",
			Cause: billow.CauseUsage, Description: "Usage: llm_credits in 2026-01", System: true}); err != nil {
			t.Fatal(err)
		}
		lines := f.charge(t, a)
		for _, key := range []string{"llm_credits", "voice_seconds"} {
			if l := lines["2026-01 "+key]; l.ChargedUcr != l.RatedUcr || l.OwedUcr != 0 {
				t.Errorf("line %s: %+v", key, l)
			}
		}
		wantTransfers(t, f.usageTransfers(t, a),
			"usage:2026-01:llm_credits:debited=9000000 -9000000",
			"usage:2026-01:voice_seconds:debited=3000000 -3000000")
		if got := f.balance(t, a); got != 988*credit {
			t.Errorf("balance %d, want 988 credits", got)
		}
		// Recording a posted movement again counts it once.
		c, err := env.DB.SettleUsageCharge(ctx, billow.SettleUsageChargeInput{AccountID: a.ID, Month: "2026-01", LineKey: "llm_credits",
			TransferID: "usage:2026-01:llm_credits:debited=9000000", AmountUcr: 9 * credit, Posted: true})
		if err != nil || c.DebitedUcr != 9*credit || c.PendingID != "" {
			t.Errorf("settling twice: %+v, %v", c, err)
		}
	})
}

// TestChargersRaceOnOneAccount: chargers running at once on one account, as several
// processes sharing PostgreSQL do, charge every line exactly once in total.
func TestChargersRaceOnOneAccount(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env)
		a := f.account(t, "racy", "credits-platform", "pay_as_you_go", 1000)
		stores := []charging.Store{env.DB}
		if env.DB.Dialect() == sqlstore.Postgres {
			other, err := sqlstore.Open(ctx, sqlstore.Config{URL: env.URL, Clock: env.Clock})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { other.Close() })
			stores = append(stores, other) // a second process
		}
		// Events arrive while the chargers run, so that they rate different quantities
		// from the same charged totals: only the claim keeps them from each posting their
		// own difference.
		at := env.Clock.Now().Add(-time.Hour)
		ingested := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			defer close(ingested)
			for i := range 12 {
				if err := f.trySend(a, llm(at.Add(time.Duration(i)*time.Minute), "sales", false), voice(at, "sales", "stt", "2")); err != nil {
					t.Error(err) // not Fatal: this is not the test's goroutine
					return
				}
			}
		})
		for i := range 4 {
			ch, err := charging.New(charging.Config{Store: stores[i%len(stores)], Clock: env.Clock})
			if err != nil {
				t.Fatal(err)
			}
			wg.Go(func() {
				for {
					select {
					case <-ingested:
						return
					default:
					}
					if _, err := ch.ChargeAccount(ctx, a.ID); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		lines := f.charge(t, a)
		var rated int64
		for _, l := range lines {
			if l.ChargedUcr != l.RatedUcr {
				t.Errorf("line %s: %+v", l.Key, l)
			}
			rated += l.RatedUcr
		}
		if rated != 12*12*credit {
			t.Errorf("rated %d, want 12 × (9 + 3) credits", rated)
		}
		if got := f.balance(t, a); got != 1000*credit-rated {
			t.Errorf("balance %d, want %d: transfers %v", got, 1000*credit-rated, f.usageTransfers(t, a))
		}
		// Usage only grew: a correction would mean two chargers posted for one line at
		// once and the next run gave the excess back.
		for _, tr := range f.usageTransfers(t, a) {
			if strings.HasPrefix(tr, "usage-correction:") {
				t.Errorf("a correction while usage only grew: %s", tr)
			}
		}
	})
}

// TestRunChargesWithinSeconds runs the charger's loops: an account this process ingests
// for is charged at the next tick, one whose events another process stored by the sweep.
func TestRunChargesWithinSeconds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ch, err := charging.New(charging.Config{Store: env.DB, Clock: env.Clock,
			Limits: charging.Limits{DirtyInterval: 10 * time.Millisecond, SweepInterval: 200 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		f := &fixture{env: env, charger: ch, ingest: ingest.New(env.DB, env.Clock, ingest.OnStored(ch.AccountsChanged))}
		here := f.account(t, "here", "credits-platform", "pay_as_you_go", 100)
		elsewhere := f.account(t, "elsewhere", "credits-platform", "pay_as_you_go", 100)
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			ch.Run(runCtx)
			close(done)
		}()
		defer func() {
			stop()
			<-done
		}()

		at := env.Clock.Now().Add(-time.Hour)
		f.send(t, here, llm(at, "sales", false))
		other := &fixture{env: env, ingest: ingest.New(env.DB, env.Clock), seq: 1000} // no hook: another process
		other.send(t, elsewhere, llm(at, "sales", false))
		for _, a := range []*billow.Account{here, elsewhere} {
			deadline := time.Now().Add(10 * time.Second)
			for f.balance(t, a) != 91*credit {
				if time.Now().After(deadline) {
					t.Fatalf("account %s not charged within 10 s: balance %d", a.ExternalID, f.balance(t, a))
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	})
}

func TestNewRefusesBadLimits(t *testing.T) {
	env := storetest.Open(t, sqlstore.SQLite)
	for _, l := range []charging.Limits{
		{DirtyInterval: time.Microsecond},
		{SweepInterval: 48 * time.Hour},
		{PreviousMonthWindow: -time.Hour},
		{DirtyAccountsMax: -1},
		{SweepPageAccounts: billow.PageLimitMax + 1},
		{MovementsPerLineMax: 100_000},
	} {
		if _, err := charging.New(charging.Config{Store: env.DB, Limits: l}); err == nil || !strings.Contains(err.Error(), charging.CodeInvalidConfig) {
			t.Errorf("limits %+v: %v", l, err)
		}
	}
	if _, err := charging.New(charging.Config{}); err == nil {
		t.Error("a charger without a store")
	}
}
