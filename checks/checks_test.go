package checks_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/checks"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

var ctx = context.Background()

const credit = billow.MicroCreditsPerCredit

func newChecker(env *storetest.Env) *checks.Checker {
	return checks.New(checks.Config{Store: env.DB, Clock: env.Clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// expect runs a check and compares its answer's allowed and code.
func expect(t *testing.T, c *checks.Checker, in billow.CheckInput, allowed bool, code string) *billow.CheckResult {
	t.Helper()
	r, err := c.Check(ctx, in)
	if err != nil {
		t.Fatalf("%s: %v", in.Action, err)
	}
	if r.Allowed != allowed || r.Code != code {
		t.Fatalf("%s %d: %+v; want allowed=%v code=%s", in.Action, in.Quantity, r, allowed, code)
	}
	return r
}

func poll(t *testing.T, c *checks.Checker) {
	t.Helper()
	if err := c.Poll(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestChecksFollowTheWallet(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		a, err := env.DB.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: "acme", Name: "Acme", Catalog: "credits-platform", Plan: "free"})
		if err != nil {
			t.Fatal(err)
		}
		app, err := env.DB.CreateApp(ctx, a.ID, billow.CreateAppInput{ExternalID: "bot", Name: "Bot"})
		if err != nil {
			t.Fatal(err)
		}
		c := newChecker(env)
		poll(t, c)
		start := billow.CheckInput{Account: "acme", Action: billow.ActionStartConversation}
		// Free bills usage in credits: with none, nothing starts and nothing deploys.
		expect(t, c, start, false, billow.CodeInsufficientCredits)
		expect(t, c, billow.CheckInput{Account: a.ID, App: "bot", Action: billow.ActionDeployApp}, false, billow.CodeCreditsExhausted)
		expect(t, c, billow.CheckInput{Account: a.ID, App: "nope", Action: billow.ActionDeployApp}, false, billow.CodeUnknownApp)

		if _, _, err := env.DB.CreateGrant(ctx, billow.CreateGrantInput{Account: a.ID, Kind: billow.GrantPaid, AmountUcr: 10 * credit, ID: "buy"}); err != nil {
			t.Fatal(err)
		}
		expect(t, c, start, false, billow.CodeInsufficientCredits) // memory until the next poll
		poll(t, c)
		expect(t, c, start, true, billow.CodeAllowed)
		expect(t, c, billow.CheckInput{Account: a.ID, App: app.ID, Action: billow.ActionDeployApp}, true, billow.CodeAllowed)
		expect(t, c, billow.CheckInput{Account: a.ID, Action: billow.ActionLLMCall, Quantity: 10 * credit}, true, billow.CodeAllowed)
		expect(t, c, billow.CheckInput{Account: a.ID, Action: billow.ActionLLMCall, Quantity: 10*credit + 1}, false, billow.CodeInsufficientCredits)

		// A hold takes the credits out of the balance: no new conversation.
		if _, _, err := env.DB.CreateHold(ctx, billow.CreateHoldInput{Account: a.ID, AmountUcr: 10 * credit, ID: "call"}); err != nil {
			t.Fatal(err)
		}
		poll(t, c)
		expect(t, c, start, false, billow.CodeInsufficientCredits)
	})
}

// With a grace buffer, new conversations are refused once the balance is at or below
// minus the buffer, and allowed above it.
func TestStartConversationWithGraceBuffer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		data, err := catalog.Example("credits-platform")
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Replace(string(data), "grace_buffer_credits: 0", "grace_buffer_credits: 5", 1)
		if _, _, err := env.DB.SyncCatalog(ctx, "grace", []byte(text)); err != nil {
			t.Fatal(err)
		}
		a, err := env.DB.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: "acme", Name: "Acme", Catalog: "grace", Plan: "free"})
		if err != nil {
			t.Fatal(err)
		}
		c := newChecker(env)
		poll(t, c)
		start := billow.CheckInput{Account: a.ID, Action: billow.ActionStartConversation}
		expect(t, c, start, true, billow.CodeAllowed) // 0 is above -5
		spend := func(id string, ucr int64) {
			t.Helper()
			if _, err := env.DB.Spend(ctx, billow.SpendInput{Account: a.ID, AmountUcr: ucr, ID: id, Cause: billow.CauseUsage}); err != nil {
				t.Fatal(err)
			}
			poll(t, c)
		}
		spend("a", 5*credit-1)
		expect(t, c, start, true, billow.CodeAllowed) // one µcr above the buffer
		spend("b", 1)
		expect(t, c, start, false, billow.CodeInsufficientCredits) // at minus the buffer
	})
}

func TestEntitlementChecks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		a, err := env.DB.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: "acme", Name: "Acme", Catalog: "credits-platform", Plan: "free"})
		if err != nil {
			t.Fatal(err)
		}
		c := newChecker(env)
		poll(t, c)
		// Free has 5 agent slots (seed 004).
		for i := range 4 {
			if _, err := env.DB.CreateApp(ctx, a.ID, billow.CreateAppInput{ExternalID: fmt.Sprint("bot-", i), Name: "Bot"}); err != nil {
				t.Fatal(err)
			}
		}
		poll(t, c)
		r := expect(t, c, billow.CheckInput{Account: a.ID, Action: billow.ActionCreateApp}, true, billow.CodeAllowed)
		if *r.Limit != 5 || *r.Used != 5 {
			t.Fatalf("create_app figures %d of %d; want 5 of 5", *r.Used, *r.Limit)
		}
		expect(t, c, billow.CheckInput{Account: a.ID, Action: billow.ActionCreateApp, Quantity: 2}, false, billow.CodeLimitReached)
		if _, err := env.DB.CreateApp(ctx, a.ID, billow.CreateAppInput{ExternalID: "bot-5", Name: "Bot"}); err != nil {
			t.Fatal(err)
		}
		poll(t, c)
		expect(t, c, billow.CheckInput{Account: a.ID, Action: billow.ActionCreateApp}, false, billow.CodeLimitReached)

		expect(t, c, billow.CheckInput{Account: a.ID, Action: billow.ActionWorkspaceSeats, Quantity: 1}, true, billow.CodeAllowed)
		expect(t, c, billow.CheckInput{Account: a.ID, Action: billow.ActionWorkspaceSeats, Quantity: 2}, false, billow.CodeLimitReached)
		expect(t, c, billow.CheckInput{Account: a.ID, Action: billow.ActionCallLines, Quantity: 1}, true, billow.CodeAllowed)
		expect(t, c, billow.CheckInput{Account: a.ID, Action: billow.ActionClientSeats, Quantity: 1}, false, billow.CodeNotEntitled)
		expect(t, c, billow.CheckInput{Account: a.ID, Action: billow.ActionPhoneNumbers, Quantity: 1}, false, billow.CodeNotEntitled)

		// No plan: nothing is allowed.
		if _, err := env.DB.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: "planless", Name: "P", Catalog: "credits-platform"}); err != nil {
			t.Fatal(err)
		}
		expect(t, c, billow.CheckInput{Account: "planless", Action: billow.ActionWorkspaceSeats, Quantity: 1}, false, billow.CodeNoActivePlan)

		// Bad input is an error, not an answer.
		for _, in := range []billow.CheckInput{
			{Account: a.ID, Action: "fly"},
			{Account: a.ID, Action: billow.ActionLLMCall, Quantity: -1},
			{Account: a.ID, Action: billow.ActionDeployApp},
			{Action: billow.ActionStartConversation},
		} {
			if _, err := c.Check(ctx, in); billow.ErrorCode(err) != billow.CodeValidationFailed {
				t.Errorf("%+v: %v; want validation_failed", in, err)
			}
		}
		if _, err := c.Check(ctx, billow.CheckInput{Account: "nobody", Action: billow.ActionStartConversation}); billow.ErrorCode(err) != billow.CodeNotFound {
			t.Errorf("unknown account: %v", err)
		}
	})
}

func TestIngestQuota(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		// Essential ingests up to 100 MB in total, with a 1% allowance.
		a, err := env.DB.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: "acme", Name: "Acme", Catalog: "ai-for-service", Plan: "essential"})
		if err != nil {
			t.Fatal(err)
		}
		app, err := env.DB.CreateApp(ctx, a.ID, billow.CreateAppInput{ExternalID: "kb", Name: "KB"})
		if err != nil {
			t.Fatal(err)
		}
		c := newChecker(env)
		expect(t, c, billow.CheckInput{Account: a.ID, Action: billow.ActionIngestBytes, Quantity: 101_000_000}, true, billow.CodeAllowed)
		expect(t, c, billow.CheckInput{Account: a.ID, Action: billow.ActionIngestBytes, Quantity: 101_000_001}, false, billow.CodeQuotaExceeded)
		at := env.Clock.Now().Add(-time.Minute)
		if _, _, err := env.DB.InsertEvents(ctx, []billow.UsageEvent{{AccountID: a.ID, Source: "test", ID: "1", Type: "search.ingested", Time: at,
			AppID: app.ID, Data: []byte(`{"app":"kb","bytes":60000000}`), ContentHash: "h1", ReceivedAt: at}}); err != nil {
			t.Fatal(err)
		}
		if err := c.RefreshQuotas(ctx); err != nil {
			t.Fatal(err)
		}
		r := expect(t, c, billow.CheckInput{Account: a.ID, Action: billow.ActionIngestBytes, Quantity: 41_000_001}, false, billow.CodeQuotaExceeded)
		if *r.Used != 60_000_000 || *r.Limit != 101_000_000 {
			t.Fatalf("quota figures %d of %d", *r.Used, *r.Limit)
		}
		expect(t, c, billow.CheckInput{Account: a.ID, Action: billow.ActionIngestBytes, Quantity: 41_000_000}, true, billow.CodeAllowed)
	})
}

// Checks read memory while polls replace it (run with -race).
func TestChecksDuringPolls(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		a, err := env.DB.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: "acme", Name: "Acme", Catalog: "credits-platform", Plan: "free"})
		if err != nil {
			t.Fatal(err)
		}
		c := newChecker(env)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				for range 200 {
					if _, err := c.Check(ctx, billow.CheckInput{Account: a.ExternalID, Action: billow.ActionStartConversation}); err != nil {
						t.Error(err)
						return
					}
				}
			})
			wg.Go(func() {
				if _, _, err := env.DB.CreateGrant(ctx, billow.CreateGrantInput{Account: a.ID, Kind: billow.GrantPaid, AmountUcr: credit, ID: fmt.Sprint("g", i)}); err != nil {
					t.Error(err)
				}
				if err := c.Poll(ctx); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		poll(t, c)
		expect(t, c, billow.CheckInput{Account: a.ID, Action: billow.ActionLLMCall, Quantity: 8 * credit}, true, billow.CodeAllowed)
		expect(t, c, billow.CheckInput{Account: a.ID, Action: billow.ActionLLMCall, Quantity: 8*credit + 1}, false, billow.CodeInsufficientCredits)
	})
}

// raceStore commits a grant and lets the checker poll while a load reads the wallet,
// the interleaving where the poll skips the account (not held yet) and the load then
// keeps a wallet older than the poll.
type raceStore struct {
	*sqlstore.DB
	during func()
}

func (s *raceStore) Wallet(ctx context.Context, ref string) (*billow.Wallet, error) {
	w, err := s.DB.Wallet(ctx, ref)
	if f := s.during; f != nil {
		s.during = nil
		f()
	}
	return w, err
}

func TestPollCatchesALoadThatRacedIt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		a, err := env.DB.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: "acme", Name: "Acme", Catalog: "credits-platform", Plan: "free"})
		if err != nil {
			t.Fatal(err)
		}
		env.Clock.Advance(time.Minute) // past the overlap with which polls re-read changed accounts
		store := &raceStore{DB: env.DB}
		c := checks.New(checks.Config{Store: store, Clock: env.Clock, Logger: slog.New(slog.DiscardHandler)})
		poll(t, c)
		store.during = func() {
			if _, _, err := env.DB.CreateGrant(ctx, billow.CreateGrantInput{Account: a.ID, Kind: billow.GrantPaid, AmountUcr: credit, ID: "g"}); err != nil {
				t.Error(err)
			}
			poll(t, c)
		}
		start := billow.CheckInput{Account: a.ID, Action: billow.ActionStartConversation}
		expect(t, c, start, false, billow.CodeInsufficientCredits) // the load's wallet is from before the grant
		poll(t, c)
		expect(t, c, start, true, billow.CodeAllowed)
	})
}
