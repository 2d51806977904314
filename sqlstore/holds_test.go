package sqlstore_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/sqlstore/storetest"
)

func hold(t *testing.T, env *storetest.Env, in billow.CreateHoldInput) *billow.Hold {
	t.Helper()
	h, _, err := env.DB.CreateHold(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// wantWallet checks a wallet's balance and what its holds reserve.
func wantWallet(t *testing.T, env *storetest.Env, account string, balance, held int64) *billow.Wallet {
	t.Helper()
	w, err := env.DB.Wallet(ctx, account)
	if err != nil {
		t.Fatal(err)
	}
	if w.BalanceUcr != balance || w.HeldUcr != held {
		t.Fatalf("wallet holds %d µcr with %d held; want %d with %d held", w.BalanceUcr, w.HeldUcr, balance, held)
	}
	return w
}

func remaining(w *billow.Wallet) map[string]int64 {
	out := map[string]int64{}
	for _, g := range w.Grants {
		out[g.ID] = g.RemainingUcr
	}
	return out
}

func TestHoldCaptureGivesBackTheRest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		a := walletAccount(t, env, "acme", 0)
		free := grant(t, env, billow.CreateGrantInput{Account: a.ID, Kind: billow.GrantFree, AmountUcr: 3 * credit, ID: "free"})
		paid := grant(t, env, billow.CreateGrantInput{Account: a.ID, Kind: billow.GrantPaid, AmountUcr: 7 * credit, ID: "paid"})

		// 5 credits held: the 3 free ones, then 2 paid ones.
		h := hold(t, env, billow.CreateHoldInput{Account: "acme", AmountUcr: 5 * credit, ID: "call-1", Description: "Voice call"})
		if h.Status != billow.HoldActive || h.AmountUcr != 5*credit || !h.ExpiresAt.Equal(h.CreatedAt.Add(billow.HoldTTLDefault)) {
			t.Fatalf("hold %+v", h)
		}
		wantWallet(t, env, a.ID, 5*credit, 5*credit)

		// The call cost 2: 3 come back, last taken first (2 paid, then 1 free).
		h, tr, err := env.DB.CaptureHold(ctx, billow.CaptureHoldInput{Hold: h.ID, AmountUcr: 2 * credit})
		if err != nil {
			t.Fatal(err)
		}
		if h.Status != billow.HoldCaptured || h.CapturedUcr != 2*credit || h.UncollectedUcr != 0 || h.ResolvedAt == nil {
			t.Fatalf("captured hold %+v", h)
		}
		if tr.Cause != billow.CauseUsage || tr.AmountUcr != 2*credit || tr.WalletDeltaUcr != 3*credit || tr.WalletAfterUcr != 8*credit || tr.HoldID != h.ID {
			t.Fatalf("capture transfer %+v", tr)
		}
		w := wantWallet(t, env, a.ID, 8*credit, 0)
		if got := remaining(w); got[free.ID] != credit || got[paid.ID] != 7*credit {
			t.Fatalf("grants after the capture: %v; want 1 free and 7 paid", got)
		}

		// A capture of more than held spends the difference from the wallet.
		h = hold(t, env, billow.CreateHoldInput{Account: a.ID, AmountUcr: 2 * credit, ID: "run-1"})
		h, _, err = env.DB.CaptureHold(ctx, billow.CaptureHoldInput{Hold: h.ID, AmountUcr: 5 * credit})
		if err != nil || h.CapturedUcr != 5*credit || h.UncollectedUcr != 0 {
			t.Fatalf("capture beyond the hold: %+v, %v", h, err)
		}
		wantWallet(t, env, a.ID, 3*credit, 0)

		// More than the wallet can pay: what it cannot is uncollected, nothing below zero.
		h = hold(t, env, billow.CreateHoldInput{Account: a.ID, AmountUcr: 1 * credit, ID: "run-2"})
		h, _, err = env.DB.CaptureHold(ctx, billow.CaptureHoldInput{Hold: h.ID, AmountUcr: 10 * credit})
		if err != nil || h.CapturedUcr != 3*credit || h.UncollectedUcr != 7*credit {
			t.Fatalf("capture beyond the wallet: %+v, %v; want 3 captured, 7 uncollected", h, err)
		}
		wantWallet(t, env, a.ID, 0, 0)
		verifyLedger(t, env)
	})
}

// A hold reserves credits the wallet has; what the work costs beyond it is charged at
// the capture, down to the grace buffer.
func TestHoldAndTheGraceBuffer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		a := walletAccount(t, env, "acme", 10)
		grant(t, env, billow.CreateGrantInput{Account: a.ID, Kind: billow.GrantPaid, AmountUcr: 5 * credit, ID: "paid"})
		if _, _, err := env.DB.CreateHold(ctx, billow.CreateHoldInput{Account: a.ID, AmountUcr: 6 * credit, ID: "call-big"}); billow.ErrorCode(err) != billow.CodeInsufficientCredits {
			t.Fatalf("a hold beyond the credits, within the buffer: %v; want insufficient_credits", err)
		}
		h := hold(t, env, billow.CreateHoldInput{Account: a.ID, AmountUcr: 5 * credit, ID: "call"})
		wantWallet(t, env, a.ID, 0, 5*credit)
		// The call ran over: 16 credits. The buffer pays 10 beyond the hold; 1 is uncollected.
		h, _, err := env.DB.CaptureHold(ctx, billow.CaptureHoldInput{Hold: h.ID, AmountUcr: 16 * credit})
		if err != nil || h.CapturedUcr != 15*credit || h.UncollectedUcr != credit {
			t.Fatalf("capture: %+v, %v", h, err)
		}
		wantWallet(t, env, a.ID, -10*credit, 0)
		verifyLedger(t, env)
	})
}

func TestHoldIsResolvedOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		a := walletAccount(t, env, "acme", 0)
		grant(t, env, billow.CreateGrantInput{Account: a.ID, Kind: billow.GrantPaid, AmountUcr: 100 * credit, ID: "paid"})
		h := hold(t, env, billow.CreateHoldInput{Account: a.ID, AmountUcr: 10 * credit, ID: "run"})
		var ok, resolved atomic.Int64
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				// Every other one asks for another amount: a settled hold refuses all alike.
				_, _, err := env.DB.CaptureHold(ctx, billow.CaptureHoldInput{Hold: h.ID, AmountUcr: int64(1+i%2) * credit})
				switch {
				case err == nil:
					ok.Add(1)
				case billow.ErrorCode(err) == billow.CodeHoldResolved:
					resolved.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 1 || resolved.Load() != 49 {
			t.Fatalf("%d captures succeeded, %d were refused as resolved; want 1 and 49", ok.Load(), resolved.Load())
		}
		got, err := env.DB.Hold(ctx, h.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantWallet(t, env, a.ID, 100*credit-got.CapturedUcr, 0)
		if _, _, err := env.DB.ReleaseHold(ctx, h.ID); billow.ErrorCode(err) != billow.CodeHoldResolved {
			t.Fatalf("release after capture: %v; want hold_resolved", err)
		}
		verifyLedger(t, env)
	})
}

func TestHoldIdempotencyAndBadInput(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		a := walletAccount(t, env, "acme", 0)
		grant(t, env, billow.CreateGrantInput{Account: a.ID, Kind: billow.GrantPaid, AmountUcr: 10 * credit, ID: "paid"})
		first, tr, err := env.DB.CreateHold(ctx, billow.CreateHoldInput{Account: a.ID, AmountUcr: 4 * credit, ID: "call"})
		if err != nil {
			t.Fatal(err)
		}
		again, tr2, err := env.DB.CreateHold(ctx, billow.CreateHoldInput{Account: "acme", AmountUcr: 4 * credit, ID: "call"})
		if err != nil || again.ID != first.ID || tr2.Seq != tr.Seq {
			t.Fatalf("the same hold again: %+v, %v; want hold %s", again, err, first.ID)
		}
		if _, _, err := env.DB.CreateHold(ctx, billow.CreateHoldInput{Account: a.ID, AmountUcr: 5 * credit, ID: "call"}); billow.ErrorCode(err) != billow.CodeIdempotencyReused {
			t.Fatalf("the id with another amount: %v", err)
		}
		for name, in := range map[string]billow.CreateHoldInput{
			"zero":        {Account: a.ID, AmountUcr: 0, ID: "x"},
			"negative":    {Account: a.ID, AmountUcr: -5, ID: "x"},
			"no id":       {Account: a.ID, AmountUcr: 5},
			"ttl too far": {Account: a.ID, AmountUcr: 5, ID: "x", TTLSeconds: 86401},
			"a system id": {Account: a.ID, AmountUcr: 5, ID: billow.TransferIDSettle + first.ID},
		} {
			if _, _, err := env.DB.CreateHold(ctx, in); billow.ErrorCode(err) != billow.CodeValidationFailed {
				t.Errorf("%s: %v; want validation_failed", name, err)
			}
		}
		if _, _, err := env.DB.CreateHold(ctx, billow.CreateHoldInput{Account: "nobody", AmountUcr: 5, ID: "x"}); billow.ErrorCode(err) != billow.CodeNotFound {
			t.Errorf("unknown account: %v", err)
		}
		if _, _, err := env.DB.CaptureHold(ctx, billow.CaptureHoldInput{Hold: "hold_01kf0fv2hvkd69qhzqjkqjcktg", AmountUcr: 1}); billow.ErrorCode(err) != billow.CodeNotFound {
			t.Errorf("unknown hold: %v", err)
		}
		if _, _, err := env.DB.CaptureHold(ctx, billow.CaptureHoldInput{Hold: first.ID, AmountUcr: -1}); billow.ErrorCode(err) != billow.CodeValidationFailed {
			t.Errorf("negative capture: %v", err)
		}
		wantWallet(t, env, a.ID, 6*credit, 4*credit)
		verifyLedger(t, env)
	})
}

func TestHoldExpires(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		a := walletAccount(t, env, "acme", 0)
		grant(t, env, billow.CreateGrantInput{Account: a.ID, Kind: billow.GrantPaid, AmountUcr: 10 * credit, ID: "paid"})
		h := hold(t, env, billow.CreateHoldInput{Account: a.ID, AmountUcr: 4 * credit, ID: "call", TTLSeconds: 60})
		if n, err := env.DB.ExpireHolds(ctx); err != nil || n != 0 {
			t.Fatalf("sweep before the time: %d, %v", n, err)
		}
		env.Clock.Advance(61 * time.Second)
		if _, _, err := env.DB.CaptureHold(ctx, billow.CaptureHoldInput{Hold: h.ID, AmountUcr: credit}); billow.ErrorCode(err) != billow.CodeHoldExpired {
			t.Fatalf("capture after the time: %v; want hold_expired", err)
		}
		if n, err := env.DB.ExpireHolds(ctx); err != nil || n != 1 {
			t.Fatalf("sweep: %d, %v; want 1", n, err)
		}
		if n, err := env.DB.ExpireHolds(ctx); err != nil || n != 0 {
			t.Fatalf("second sweep: %d, %v; want 0", n, err)
		}
		got, err := env.DB.Hold(ctx, h.ID)
		if err != nil || got.Status != billow.HoldExpired || got.CapturedUcr != 0 {
			t.Fatalf("expired hold %+v, %v", got, err)
		}
		wantWallet(t, env, a.ID, 10*credit, 0)
		verifyLedger(t, env)
	})
}

// Credits a hold took from a grant that has expired since do not come back to life.
func TestHoldGivesBackExpiredCreditsToExpired(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		a := walletAccount(t, env, "acme", 0)
		soon := env.Clock.Now().Add(30 * time.Second)
		grant(t, env, billow.CreateGrantInput{Account: a.ID, Kind: billow.GrantPromotional, AmountUcr: 5 * credit, ExpiresAt: &soon, ID: "promo"})
		grant(t, env, billow.CreateGrantInput{Account: a.ID, Kind: billow.GrantPaid, AmountUcr: 5 * credit, ID: "paid"})
		h := hold(t, env, billow.CreateHoldInput{Account: a.ID, AmountUcr: 6 * credit, ID: "call"}) // 5 promotional, 1 paid
		env.Clock.Advance(time.Minute)
		_, tr, err := env.DB.ReleaseHold(ctx, h.ID)
		if err != nil {
			t.Fatal(err)
		}
		if tr.WalletDeltaUcr != credit {
			t.Fatalf("release gave %d µcr back to the wallet; want the 1 paid credit", tr.WalletDeltaUcr)
		}
		wantWallet(t, env, a.ID, 5*credit, 0)
		if n, err := env.DB.ExpireGrants(ctx); err != nil || n != 1 {
			t.Fatalf("expiring the emptied grant: %d, %v", n, err)
		}
		verifyLedger(t, env)
	})
}

func TestExpireGrants(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		a := walletAccount(t, env, "acme", 0)
		end := env.Clock.Now().Add(24 * time.Hour)
		free := grant(t, env, billow.CreateGrantInput{Account: a.ID, Kind: billow.GrantFree, AmountUcr: 5 * credit, ExpiresAt: &end, ID: "free-jan"})
		grant(t, env, billow.CreateGrantInput{Account: a.ID, Kind: billow.GrantPaid, AmountUcr: 2 * credit, ID: "paid"})
		if _, err := env.DB.Spend(ctx, billow.SpendInput{Account: a.ID, AmountUcr: 2 * credit, ID: "use", Cause: billow.CauseUsage}); err != nil {
			t.Fatal(err)
		}
		if n, err := env.DB.ExpireGrants(ctx); err != nil || n != 0 {
			t.Fatalf("sweep before the end: %d, %v", n, err)
		}
		env.Clock.Advance(24 * time.Hour)
		if n, err := env.DB.ExpireGrants(ctx); err != nil || n != 1 {
			t.Fatalf("sweep: %d, %v; want 1", n, err)
		}
		if n, err := env.DB.ExpireGrants(ctx); err != nil || n != 0 {
			t.Fatalf("second sweep: %d, %v; want 0", n, err)
		}
		page, err := env.DB.Transactions(ctx, a.ID, billow.PageInput{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if tx := page.Data[0]; tx.Cause != billow.CauseExpiry || tx.CreditsUcr != -3*credit || tx.BalanceAfterUcr != 2*credit || tx.ID != "expire:"+free.ID {
			t.Fatalf("expiry transaction %+v", tx)
		}
		wantWallet(t, env, a.ID, 2*credit, 0)
		verifyLedger(t, env)
	})
}

// Holds and spends of one wallet share its credits: 200 concurrent holds and spends of
// 1 credit against 100 credits → exactly 100 succeed, and captures give nothing extra.
func TestConcurrentHoldsAndSpends(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		a := walletAccount(t, env, "acme", 0)
		grant(t, env, billow.CreateGrantInput{Account: a.ID, Kind: billow.GrantPaid, AmountUcr: 100 * credit, ID: "buy"})
		var ok atomic.Int64
		var holds sync.Map
		var wg sync.WaitGroup
		for i := range 200 {
			wg.Go(func() {
				var err error
				if i%2 == 0 {
					var h *billow.Hold
					if h, _, err = env.DB.CreateHold(ctx, billow.CreateHoldInput{Account: a.ID, AmountUcr: credit, ID: fmt.Sprint("hold-", i)}); err == nil {
						holds.Store(h.ID, true)
					}
				} else {
					_, err = env.DB.Spend(ctx, billow.SpendInput{Account: a.ID, AmountUcr: credit, ID: fmt.Sprint("spend-", i), Cause: billow.CauseUsage})
				}
				switch {
				case err == nil:
					ok.Add(1)
				case billow.ErrorCode(err) != billow.CodeInsufficientCredits:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 100 {
			t.Fatalf("%d holds and spends succeeded; want 100", ok.Load())
		}
		holds.Range(func(id, _ any) bool {
			wg.Go(func() {
				if _, _, err := env.DB.CaptureHold(ctx, billow.CaptureHoldInput{Hold: id.(string), AmountUcr: credit}); err != nil {
					t.Error(err)
				}
			})
			return true
		})
		wg.Wait()
		wantWallet(t, env, a.ID, 0, 0)
		verifyLedger(t, env)
	})
}
