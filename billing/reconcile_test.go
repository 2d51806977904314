package billing_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/billing"
	"github.com/billowhq/billow/payment/sandbox"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// crashingGateway stands for a process that stops in the middle of a charge: once armed,
// its next Charge panics, before or after the real gateway took the charge.
type crashingGateway struct {
	billow.PaymentGateway
	mu      sync.Mutex // protects the following fields
	armed   bool
	after   bool           // crash after the real gateway answered
	charges map[string]int // real Charge calls per idempotency key
}

type crash struct{}

func (g *crashingGateway) Charge(ctx context.Context, req billow.ChargeRequest) (billow.ChargeResult, error) {
	g.mu.Lock()
	armed := g.armed
	g.armed = false
	g.mu.Unlock()
	if armed && !g.after {
		panic(crash{})
	}
	res, err := g.PaymentGateway.Charge(ctx, req)
	g.mu.Lock()
	g.charges[req.IdempotencyKey]++
	g.mu.Unlock()
	if armed {
		panic(crash{})
	}
	return res, err
}

// A renewal whose process stops between recording its charge attempt and recording the
// answer is reconciled by the next pass, and the invoice is charged once: whether the
// gateway took the charge (it is looked up) or never saw it (it is sent again under the
// same idempotency key).
func TestCrashedChargeIsReconciledOnce(t *testing.T) {
	for _, after := range []bool{false, true} {
		name := "before the gateway"
		if after {
			name = "after the gateway"
		}
		t.Run(name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, env *storetest.Env) {
				f := newFixture(t, env, jan15, "0")
				gw := &crashingGateway{PaymentGateway: sandbox.New(env.Clock), after: after, charges: map[string]int{}}
				svc, err := billing.New(billing.Config{Store: env.DB, Gateway: gw, Clock: env.Clock})
				if err != nil {
					t.Fatal(err)
				}
				f.card(t, sandbox.CardVisa, true)
				if _, err := svc.SubmitOrder(f.ctx, f.acct.ID, subscribe("essential")); err != nil {
					t.Fatal(err)
				}
				renewal := f.sub(t).CurrentPeriodEnd

				gw.mu.Lock()
				gw.armed = true
				gw.mu.Unlock()
				func() {
					defer func() {
						if r := recover(); r != (crash{}) {
							t.Fatalf("the renewal did not stop at the charge: %v", r)
						}
					}()
					svc.AdvanceTestClock(f.ctx, f.clock.ID, billow.AdvanceTestClockInput{FrozenTime: renewal.Add(time.Second)})
				}()
				inv := lastInvoiceOf(t, f)
				if inv.Status != billow.InvoiceOpen || inv.PaymentStatus != billow.PaymentUnknown {
					t.Fatalf("after the crash the invoice is %s, payment %s; want open, unknown", inv.Status, inv.PaymentStatus)
				}

				// Passes before the attempt is due for reconciliation do nothing.
				if _, err := svc.AdvanceTestClock(f.ctx, f.clock.ID, billow.AdvanceTestClockInput{FrozenTime: renewal.Add(30 * time.Second)}); err != nil {
					t.Fatal(err)
				}
				if got := lastInvoiceOf(t, f); got.PaymentStatus != billow.PaymentUnknown {
					t.Fatalf("reconciled before its time: payment %s", got.PaymentStatus)
				}
				if _, err := svc.AdvanceTestClock(f.ctx, f.clock.ID, billow.AdvanceTestClockInput{FrozenTime: renewal.Add(2 * billing.ReconcileAfter)}); err != nil {
					t.Fatal(err)
				}
				inv = lastInvoiceOf(t, f)
				if inv.Status != billow.InvoicePaid || inv.PaymentStatus != billow.PaymentSucceeded {
					t.Fatalf("after reconciliation the invoice is %s, payment %s; want paid, succeeded", inv.Status, inv.PaymentStatus)
				}
				pays, err := env.DB.Payments(f.ctx, inv.ID)
				if err != nil {
					t.Fatal(err)
				}
				if len(pays) != 1 || pays[0].Status != billow.AttemptSucceeded {
					t.Fatalf("payments %+v, want one succeeded attempt", pays)
				}
				gw.mu.Lock()
				defer gw.mu.Unlock()
				if n := gw.charges[pays[0].ID]; n != 1 {
					t.Errorf("the gateway took the renewal's charge %d times, want 1", n)
				}
				wantStatus(t, f.sub(t), billow.SubscriptionActive)
			})
		})
	}
}

func lastInvoiceOf(t *testing.T, f *fixture) *billow.Invoice {
	t.Helper()
	invs, err := f.env.DB.Invoices(f.ctx, sqlstore.InvoiceFilter{AccountID: f.acct.ID})
	if err != nil || len(invs) == 0 {
		t.Fatalf("invoices: %v (%d)", err, len(invs))
	}
	return invs[len(invs)-1]
}
