package autocharge_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/autocharge"
	"github.com/billowhq/billow/billing"
	"github.com/billowhq/billow/payment/sandbox"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// The store and the billing service are what the service consumes.
var (
	_ autocharge.Store   = (*sqlstore.DB)(nil)
	_ autocharge.Billing = (*billing.Service)(nil)
)

// fixture is an account of the credits-platform catalog ($1 = 1,000 credits, top-ups of
// 1,000 to 1,000,000 credits) with a billing contact, a card and 1,000 credits.
type fixture struct {
	env  *storetest.Env
	bill *billing.Service
	svc  *autocharge.Service
	acct *billow.Account
	ctx  context.Context
	n    int // spends so far, for their ids
}

func newFixture(t *testing.T, env *storetest.Env, cardNumber, testClock string) *fixture {
	t.Helper()
	ctx := context.Background()
	bill, err := billing.New(billing.Config{Store: env.DB, Gateway: sandbox.New(env.Clock), Clock: env.Clock})
	if err != nil {
		t.Fatal(err)
	}
	a, err := env.DB.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: "acme", Name: "Acme", Catalog: "credits-platform",
		TestClock: testClock, BillingContact: billow.BillingContact{Name: "Ada Acme", Email: "billing@acme.test"}})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{env: env, bill: bill, acct: a, ctx: ctx, svc: newService(t, env.DB, bill, env.Clock)}
	if cardNumber != "" {
		f.card(t, cardNumber)
	}
	if _, _, err := env.DB.CreateGrant(ctx, billow.CreateGrantInput{Account: a.ID, Kind: billow.GrantPaid, AmountUcr: 1000 * cr, ID: "opening"}); err != nil {
		t.Fatal(err)
	}
	return f
}

func newService(t *testing.T, db *sqlstore.DB, bill *billing.Service, clock billow.Clock) *autocharge.Service {
	t.Helper()
	svc, err := autocharge.New(autocharge.Config{Store: db, Billing: bill, Clock: clock, Cooldown: cooldown, PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func (f *fixture) card(t *testing.T, number string) {
	t.Helper()
	if _, err := f.bill.AddPaymentMethod(f.ctx, f.acct.ID, billow.AddPaymentMethodInput{Kind: billow.MethodCard, Default: true,
		Card: &billow.CardDetails{Number: number, ExpMonth: 12, ExpYear: 2030, CVC: "123"}}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) set(t *testing.T, in billow.SetAutoChargeInput) {
	t.Helper()
	if _, err := f.svc.Set(f.ctx, f.acct.ID, in); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) spend(t *testing.T, credits int64) {
	t.Helper()
	f.n++
	if _, err := f.env.DB.Spend(f.ctx, billow.SpendInput{Account: f.acct.ID, AmountUcr: credits * cr, ID: fmt.Sprintf("spend-%d", f.n),
		Cause: billow.CauseUsage}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) pass(t *testing.T) {
	t.Helper()
	if err := f.svc.Run(f.ctx, f.env.Clock.Now()); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) balance(t *testing.T) int64 {
	t.Helper()
	w, err := f.env.DB.Wallet(f.ctx, f.acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	return w.BalanceUcr / cr
}

func (f *fixture) orders(t *testing.T) []*billow.Order {
	t.Helper()
	orders, err := f.env.DB.Orders(f.ctx, f.acct.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	return orders
}

// notices returns the account's credit notices and auto-charge events in order.
func (f *fixture) notices(t *testing.T) []*billow.BillingEvent {
	t.Helper()
	evs, err := f.env.DB.BillingEvents(f.ctx, f.acct.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []*billow.BillingEvent
	for _, e := range evs {
		if e.Type == billow.EventCreditsLowBalance || e.Type == billow.EventCreditsExhausted || strings.HasPrefix(e.Type, "credits.auto_charge.") {
			out = append(out, e)
		}
	}
	return out
}

func types(evs []*billow.BillingEvent) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func wantTypes(t *testing.T, evs []*billow.BillingEvent, want ...string) {
	t.Helper()
	if got := types(evs); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func (f *fixture) state(t *testing.T) *billow.AutoCharge {
	t.Helper()
	c, err := f.svc.Get(f.ctx, f.acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var topUp = billow.SetAutoChargeInput{Enabled: true, ThresholdCredits: 500, TopUpCredits: 2000}

// A balance spent below the threshold starts exactly one top-up; the credits load once
// it is paid; the low-balance notice and the success are emitted once, in that order; the
// notice is armed again when the balance is back above, and the cooldown spaces the next
// top-up.
func TestTopUpBelowThreshold(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env, sandbox.CardVisa, "")
		f.set(t, topUp)
		f.pass(t)
		if len(f.orders(t)) != 0 || len(f.notices(t)) != 0 {
			t.Fatal("a balance above the threshold started something")
		}

		f.spend(t, 600) // 400 left
		for range 3 {
			f.pass(t)
		}
		orders := f.orders(t)
		if len(orders) != 1 || orders[0].Kind != billow.OrderCredits || orders[0].Status != billow.OrderCompleted || orders[0].AmountMinor != 200 {
			t.Fatalf("orders %+v, want one completed top-up of $2", orders)
		}
		if got := f.balance(t); got != 2400 {
			t.Fatalf("balance %d, want 400 + 2000", got)
		}
		evs := f.notices(t)
		wantTypes(t, evs, billow.EventCreditsLowBalance, billow.EventAutoChargeSucceeded)
		if evs[0].Subject != f.acct.ID || evs[0].Data["balance_credits"] != "400" || evs[1].Subject != orders[0].ID ||
			evs[1].Data["order"] != orders[0].ID || evs[1].Data["credits"] != float64(2000) {
			t.Fatalf("events %+v %+v", evs[0], evs[1])
		}
		c := f.state(t)
		if c.InFlight || c.LowBalanceNotified || c.LastOutcome != billow.AutoChargeSucceeded || c.LastOrder != orders[0].ID || c.Failures != 0 {
			t.Fatalf("auto-charge after the top-up %+v", c)
		}

		// Below again within the cooldown: a new crossing is told, but no top-up yet.
		f.spend(t, 2000) // 400 left
		f.pass(t)
		f.pass(t)
		wantTypes(t, f.notices(t), billow.EventCreditsLowBalance, billow.EventAutoChargeSucceeded, billow.EventCreditsLowBalance)
		if len(f.orders(t)) != 1 {
			t.Fatal("a second top-up within the cooldown")
		}
		env.Clock.Advance(cooldown)
		f.pass(t)
		f.pass(t)
		if len(f.orders(t)) != 2 || f.balance(t) != 2400 {
			t.Fatalf("after the cooldown: %d orders, balance %d", len(f.orders(t)), f.balance(t))
		}
		wantTypes(t, f.notices(t), billow.EventCreditsLowBalance, billow.EventAutoChargeSucceeded, billow.EventCreditsLowBalance,
			billow.EventAutoChargeSucceeded)
	})
}

// Two runners deciding the same account at once (two processes, each with its own
// connection to the database) start one top-up between them.
func TestConcurrentRunnersChargeOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env, sandbox.CardVisa, "")
		f.set(t, topUp)
		f.spend(t, 600)

		db2, err := sqlstore.Open(f.ctx, sqlstore.Config{URL: env.URL, Clock: env.Clock})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db2.Close() })
		bill2, err := billing.New(billing.Config{Store: db2, Gateway: sandbox.New(env.Clock), Clock: env.Clock})
		if err != nil {
			t.Fatal(err)
		}
		// Every runner's first read waits until all have read: they all decide from the
		// same row, and all but one find their claim refused.
		var readAll sync.WaitGroup
		readAll.Add(4)
		var refused atomic.Int64
		stores := []*racingStore{{DB: env.DB}, {DB: db2}, {DB: env.DB}, {DB: db2}}
		var runners []*autocharge.Service
		for i, st := range stores {
			st.readAll, st.refused = &readAll, &refused
			bill := f.bill
			if st.DB == db2 {
				bill = bill2
			}
			svc, err := autocharge.New(autocharge.Config{Store: st, Billing: bill, Clock: env.Clock, Cooldown: cooldown})
			if err != nil {
				t.Fatal(i, err)
			}
			runners = append(runners, svc)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, len(runners)*3)
		for _, r := range runners {
			wg.Go(func() {
				<-start
				for range 3 {
					if err := r.Run(f.ctx, env.Clock.Now()); err != nil {
						errs <- err
					}
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if orders := f.orders(t); len(orders) != 1 || orders[0].Status != billow.OrderCompleted {
			t.Fatalf("orders %+v, want one", orders)
		}
		if got := f.balance(t); got != 2400 {
			t.Fatalf("balance %d, want 2400", got)
		}
		wantTypes(t, f.notices(t), billow.EventCreditsLowBalance, billow.EventAutoChargeSucceeded)
		if n := refused.Load(); n < 3 {
			t.Fatalf("%d claims refused, want at least 3: the runners did not race", n)
		}
	})
}

// racingStore holds each runner's first read until every runner has read, and counts
// the decisions the store refused.
type racingStore struct {
	*sqlstore.DB
	readAll *sync.WaitGroup
	first   sync.Once
	refused *atomic.Int64
}

func (s *racingStore) AutoChargeAccounts(ctx context.Context, after string, limit int) ([]*billow.AutoChargeAccount, error) {
	page, err := s.DB.AutoChargeAccounts(ctx, after, limit)
	s.first.Do(func() {
		s.readAll.Done()
		s.readAll.Wait()
	})
	return page, err
}

func (s *racingStore) WriteAutoCharge(ctx context.Context, w billow.AutoChargeWrite) (bool, error) {
	ok, err := s.DB.WriteAutoCharge(ctx, w)
	if err == nil && !ok {
		s.refused.Add(1)
	}
	return ok, err
}

// A declined top-up fails one order, is told once, and is not retried before the
// cooldown; after FailuresMax declines in a row auto-charge pauses until the settings are
// saved again.
func TestDeclinedTopUp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env, sandbox.CardInsufficientFunds, "")
		f.set(t, topUp)
		f.spend(t, 600)
		f.pass(t)
		f.pass(t)
		orders := f.orders(t)
		if len(orders) != 1 || orders[0].Status != billow.OrderFailed || orders[0].FailureCode != "insufficient_funds" {
			t.Fatalf("orders %+v, want one declined", orders)
		}
		if got := f.balance(t); got != 400 {
			t.Fatalf("balance %d after a decline", got)
		}
		evs := f.notices(t)
		wantTypes(t, evs, billow.EventCreditsLowBalance, billow.EventAutoChargeFailed)
		if evs[1].Data["code"] != "insufficient_funds" || evs[1].Data["order"] != orders[0].ID || evs[1].Data["paused"] != false ||
			evs[1].Data["retry_after"] != env.Clock.Now().Truncate(time.Microsecond).Add(cooldown).Format(time.RFC3339Nano) {
			t.Fatalf("failure event %+v", evs[1].Data)
		}
		if c := f.state(t); c.InFlight || c.Failures != 1 || c.LastOutcome != billow.AutoChargeFailed || c.LastFailureCode != "insufficient_funds" {
			t.Fatalf("auto-charge after a decline %+v", c)
		}

		env.Clock.Advance(cooldown - time.Second)
		f.pass(t)
		if len(f.orders(t)) != 1 {
			t.Fatal("retried before the cooldown")
		}
		env.Clock.Advance(time.Second)
		f.pass(t)
		f.pass(t)
		if len(f.orders(t)) != 2 {
			t.Fatalf("%d orders after the cooldown, want 2", len(f.orders(t)))
		}
		for range autocharge.FailuresMax {
			env.Clock.Advance(cooldown)
			f.pass(t)
		}
		if n := len(f.orders(t)); n != autocharge.FailuresMax {
			t.Fatalf("%d orders, want %d: auto-charge pauses after %d failures", n, autocharge.FailuresMax, autocharge.FailuresMax)
		}
		evs = f.notices(t)
		if last := evs[len(evs)-1]; last.Type != billow.EventAutoChargeFailed || last.Data["paused"] != true || last.Data["retry_after"] != nil {
			t.Fatalf("last event %+v", last)
		}
		if n := strings.Count(strings.Join(types(evs), " "), billow.EventCreditsLowBalance); n != 1 {
			t.Fatalf("%d low-balance notices during one crossing", n)
		}

		// A working card and the settings saved again: auto-charge resumes.
		f.card(t, sandbox.CardVisa)
		f.set(t, topUp)
		f.pass(t)
		if got := f.balance(t); got != 2400 {
			t.Fatalf("balance %d after resuming", got)
		}
	})
}

// An account on a test clock is decided at its clock's time: the cooldown waits for the
// test clock, not the real one.
func TestTestClockAccountsFollowTheirClock(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		frozen := time.Date(2027, 6, 1, 8, 0, 0, 0, time.UTC)
		tc, err := env.DB.CreateTestClock(ctx, billow.CreateTestClockInput{Name: "june", FrozenTime: frozen})
		if err != nil {
			t.Fatal(err)
		}
		f := newFixture(t, env, sandbox.CardInsufficientFunds, tc.ID)
		f.set(t, topUp)
		f.spend(t, 600)
		f.pass(t)
		if c := f.state(t); !c.AttemptAt.Equal(frozen) || len(f.orders(t)) != 1 {
			t.Fatalf("attempt at %s (%d orders), want the test clock's %s", c.AttemptAt, len(f.orders(t)), frozen)
		}
		env.Clock.Advance(10 * cooldown)
		f.pass(t)
		if len(f.orders(t)) != 1 {
			t.Fatal("the real clock ended a test clock account's cooldown")
		}
		if _, err := f.bill.AdvanceTestClock(ctx, tc.ID, billow.AdvanceTestClockInput{FrozenTime: frozen.Add(cooldown)}); err != nil {
			t.Fatal(err)
		}
		f.pass(t)
		if len(f.orders(t)) != 2 {
			t.Fatalf("%d orders after the test clock passed the cooldown, want 2", len(f.orders(t)))
		}
	})
}

// Without auto-charge the threshold still drives the notices: low balance once, exhausted
// once at zero, each armed again when the balance recovers.
func TestNoticesWithoutAutoCharge(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env, "", "")
		f.set(t, billow.SetAutoChargeInput{ThresholdCredits: 500})
		f.spend(t, 700)
		f.pass(t)
		f.spend(t, 300)
		f.pass(t)
		f.pass(t)
		wantTypes(t, f.notices(t), billow.EventCreditsLowBalance, billow.EventCreditsExhausted)
		if len(f.orders(t)) != 0 {
			t.Fatal("an order without auto-charge")
		}
		if _, _, err := env.DB.CreateGrant(f.ctx, billow.CreateGrantInput{Account: f.acct.ID, Kind: billow.GrantPaid, AmountUcr: 100 * cr, ID: "some"}); err != nil {
			t.Fatal(err)
		}
		f.pass(t) // above zero, still low: exhausted armed again
		f.spend(t, 100)
		f.pass(t)
		wantTypes(t, f.notices(t), billow.EventCreditsLowBalance, billow.EventCreditsExhausted, billow.EventCreditsExhausted)
	})
}

// A claim left by a process that stopped is recovered after AttemptStaleAfter: with the
// order it submitted when there is one, let go when there is none.
func TestStaleClaims(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env, sandbox.CardVisa, "")
		f.set(t, topUp)
		f.spend(t, 600)
		claim := func(at time.Time) {
			t.Helper()
			c := f.state(t)
			st := c.AutoChargeState
			st.Attempt, st.AttemptAt, st.AttemptCredits, st.LowBalanceNotified = billow.NewID(billow.PrefixAutoChargeAttempt, at), at, 2000, true
			if ok, err := env.DB.WriteAutoCharge(f.ctx, billow.AutoChargeWrite{Account: f.acct.ID, State: st, ExpectVersion: c.Version}); err != nil || !ok {
				t.Fatalf("claim: %v %v", ok, err)
			}
		}
		// A claim that submitted nothing.
		claim(env.Clock.Now().Truncate(time.Microsecond))
		env.Clock.Advance(autocharge.AttemptStaleAfter - time.Second)
		f.pass(t)
		if c := f.state(t); !c.InFlight {
			t.Fatal("a fresh claim was taken over")
		}
		env.Clock.Advance(time.Second)
		f.pass(t)
		if c := f.state(t); c.InFlight || len(f.orders(t)) != 0 || len(f.notices(t)) != 0 {
			t.Fatalf("abandoned claim: %+v, %d orders, events %v", c, len(f.orders(t)), types(f.notices(t)))
		}
		// A claim whose process paid the order and stopped before recording it.
		env.Clock.Advance(cooldown)
		claim(env.Clock.Now().Truncate(time.Microsecond))
		order, err := f.bill.SubmitOrder(f.ctx, f.acct.ID, billow.SubmitOrderInput{Credits: 2000})
		if err != nil {
			t.Fatal(err)
		}
		env.Clock.Advance(autocharge.AttemptStaleAfter)
		f.pass(t)
		c := f.state(t)
		if c.InFlight || c.LastOrder != order.ID || c.LastOutcome != billow.AutoChargeSucceeded || len(f.orders(t)) != 1 {
			t.Fatalf("recovered claim: %+v, %d orders", c, len(f.orders(t)))
		}
		wantTypes(t, f.notices(t), billow.EventAutoChargeSucceeded)
	})
}

func TestSetRefusesBadSettings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env, "", "")
		wantErr := func(in billow.SetAutoChargeInput, code, field string) {
			t.Helper()
			_, err := f.svc.Set(f.ctx, f.acct.ID, in)
			var e *billow.Error
			if !errors.As(err, &e) || e.Code != code || len(e.Fields) == 0 || e.Fields[0].Field != field {
				t.Fatalf("Set(%+v) = %v, want %s on %s", in, err, code, field)
			}
			if c := f.state(t); c.ThresholdCredits != 0 {
				t.Fatalf("a refused setting was stored: %+v", c)
			}
		}
		wantErr(billow.SetAutoChargeInput{ThresholdCredits: 0}, billow.CodeValidationFailed, "threshold_credits")
		wantErr(billow.SetAutoChargeInput{ThresholdCredits: -5}, billow.CodeValidationFailed, "threshold_credits")
		wantErr(billow.SetAutoChargeInput{Enabled: true, ThresholdCredits: 500}, billow.CodeValidationFailed, "top_up_credits")
		wantErr(billow.SetAutoChargeInput{ThresholdCredits: 500, TopUpCredits: 999}, billow.CodeValidationFailed, "top_up_credits")
		wantErr(billow.SetAutoChargeInput{ThresholdCredits: 500, TopUpCredits: 1_000_001}, billow.CodeValidationFailed, "top_up_credits")
		wantErr(billow.SetAutoChargeInput{ThresholdCredits: 500, TopUpCredits: 1005}, billow.CodeValidationFailed, "top_up_credits") // half a cent
		wantErr(topUp, billow.CodePaymentMethodMissing, "enabled")
		if _, err := f.bill.AddPaymentMethod(f.ctx, f.acct.ID, billow.AddPaymentMethodInput{Kind: billow.MethodWire}); err != nil {
			t.Fatal(err)
		}
		wantErr(topUp, billow.CodePaymentMethodUnsupported, "enabled")

		f.card(t, sandbox.CardVisa)
		f.set(t, topUp)
		c := f.state(t)
		if !c.Enabled || c.ThresholdCredits != 500 || c.TopUpCredits != 2000 {
			t.Fatalf("stored %+v", c)
		}
		if _, err := f.svc.Set(f.ctx, "nobody", topUp); billow.ErrorCode(err) != billow.CodeNotFound {
			t.Fatalf("Set on a missing account: %v", err)
		}
	})
}
