package billing_test

import (
	"context"
	"errors"
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

// An order whose process stops around its charge stays pending payment until
// ReconcileOrders looks the attempt up after ReconcileAfter: then it completes, charged
// once, whether the gateway took the charge or never saw it.
func TestCrashedOrderIsReconciledOnce(t *testing.T) {
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
				gw.mu.Lock()
				gw.armed = true
				gw.mu.Unlock()
				func() {
					defer func() {
						if r := recover(); r != (crash{}) {
							t.Fatalf("the order did not stop at the charge: %v", r)
						}
					}()
					svc.SubmitOrder(f.ctx, f.acct.ID, subscribe("essential"))
				}()
				orders, err := env.DB.Orders(f.ctx, f.acct.ID, 10)
				if err != nil || len(orders) != 1 || orders[0].Status != billow.OrderPendingPayment {
					t.Fatalf("after the crash: orders %+v, %v; want one pending payment", orders, err)
				}
				order := orders[0]

				// Not yet: the attempt may still be answered by the process that made it.
				if n, err := svc.ReconcileOrders(f.ctx, env.Clock.Now()); err != nil || n != 0 {
					t.Fatalf("reconciled before its time: %d, %v", n, err)
				}
				if _, err := svc.AdvanceTestClock(f.ctx, f.clock.ID, billow.AdvanceTestClockInput{FrozenTime: jan15.Add(2 * billing.ReconcileAfter)}); err != nil {
					t.Fatal(err)
				}
				if n, err := svc.ReconcileOrders(f.ctx, env.Clock.Now()); err != nil || n != 1 {
					t.Fatalf("reconcile: %d orders, %v; want 1", n, err)
				}
				if n, err := svc.ReconcileOrders(f.ctx, env.Clock.Now()); err != nil || n != 0 {
					t.Fatalf("reconcile again: %d orders, %v; want 0", n, err)
				}
				got, _, err := env.DB.Order(f.ctx, order.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.Status != billow.OrderCompleted {
					t.Fatalf("order %s after reconciliation, want completed", got.Status)
				}
				wantStatus(t, f.sub(t), billow.SubscriptionActive)
				pays, err := env.DB.Payments(f.ctx, got.Invoice)
				if err != nil {
					t.Fatal(err)
				}
				if len(pays) != 1 || pays[0].Status != billow.AttemptSucceeded {
					t.Fatalf("payments %+v, want one succeeded attempt", pays)
				}
				gw.mu.Lock()
				defer gw.mu.Unlock()
				if n := gw.charges[pays[0].ID]; n != 1 {
					t.Errorf("the gateway took the order's charge %d times, want 1", n)
				}
			})
		})
	}
}

// unreachableGateway fails every Charge and Lookup while down, as a gateway that does not
// answer.
type unreachableGateway struct {
	billow.PaymentGateway
	mu   sync.Mutex // protects down
	down bool
}

func (g *unreachableGateway) isDown() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.down
}

func (g *unreachableGateway) Charge(ctx context.Context, req billow.ChargeRequest) (billow.ChargeResult, error) {
	if g.isDown() {
		return billow.ChargeResult{}, errors.New("gateway: connection reset")
	}
	return g.PaymentGateway.Charge(ctx, req)
}

func (g *unreachableGateway) Lookup(ctx context.Context, key string) (billow.ChargeResult, error) {
	if g.isDown() {
		return billow.ChargeResult{}, errors.New("gateway: connection reset")
	}
	return g.PaymentGateway.Lookup(ctx, key)
}

// An order the gateway did not answer waits, unknown, through failed lookups, and is
// settled by the first lookup after the gateway is back; a declined card then fails the
// order and nothing is activated.
func TestUnansweredOrderWaitsForTheGateway(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env, jan15, "0")
		gw := &unreachableGateway{PaymentGateway: sandbox.New(env.Clock), down: true}
		svc, err := billing.New(billing.Config{Store: env.DB, Gateway: gw, Clock: env.Clock})
		if err != nil {
			t.Fatal(err)
		}
		f.card(t, sandbox.CardInsufficientFunds, true)
		order, err := svc.SubmitOrder(f.ctx, f.acct.ID, subscribe("essential"))
		if err != nil {
			t.Fatal(err)
		}
		if order.Status != billow.OrderPendingPayment {
			t.Fatalf("order %s while the gateway is down, want pending payment", order.Status)
		}
		at := jan15
		for range 2 {
			at = at.Add(2 * billing.ReconcileAfter)
			if _, err := svc.AdvanceTestClock(f.ctx, f.clock.ID, billow.AdvanceTestClockInput{FrozenTime: at}); err != nil {
				t.Fatal(err)
			}
			if n, err := svc.ReconcileOrders(f.ctx, env.Clock.Now()); err == nil || n != 0 {
				t.Fatalf("reconcile while down: %d, %v; want 0 and the lookup's error", n, err)
			}
		}
		gw.mu.Lock()
		gw.down = false
		gw.mu.Unlock()
		if _, err := svc.AdvanceTestClock(f.ctx, f.clock.ID, billow.AdvanceTestClockInput{FrozenTime: at.Add(2 * billing.ReconcileAfter)}); err != nil {
			t.Fatal(err)
		}
		if n, err := svc.ReconcileOrders(f.ctx, env.Clock.Now()); err != nil || n != 1 {
			t.Fatalf("reconcile when back: %d, %v; want 1", n, err)
		}
		got, _, err := env.DB.Order(f.ctx, order.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != billow.OrderFailed {
			t.Fatalf("order %s, want failed (declined card)", got.Status)
		}
		if _, err := env.DB.LiveSubscription(f.ctx, f.acct.ID); billow.ErrorCode(err) != billow.CodeNoSubscription {
			t.Fatalf("a subscription was activated by a declined order: %v", err)
		}
	})
}
