package http

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/billing"
)

// Limits of the billing lists, named with their unit last.
const (
	// OrdersListMax bounds one list of orders.
	OrdersListMax = 100
	// BillingEventsListMax bounds one page of billing events.
	BillingEventsListMax = 1000
)

// OrderPath names an order of an account in a path.
type OrderPath struct {
	AccountPath
	Order string `path:"order" maxLength:"64" doc:"Order id (ord_…)."`
}

// billingService returns the billing service, or an internal error when serve did not
// wire one (a fault of the wiring, logged, never a client's).
func (s *Server) billingService() (*billing.Service, error) {
	if s.billing == nil {
		return nil, errors.New("http: no billing service configured")
	}
	return s.billing, nil
}

// withErrors documents statuses beyond those register adds.
func withErrors(op huma.Operation, statuses ...int) huma.Operation {
	op.Errors = append(op.Errors, statuses...)
	return op
}

// orderDeclined returns the service's payment_declined error with the failed order's id
// in its detail, so that the client can read the order (failure_code, failure_message).
func orderDeclined(order *billow.Order, err error) error {
	var e *billow.Error
	if order == nil || !errors.As(err, &e) || e.Code != billow.CodePaymentDeclined || strings.Contains(e.Message, order.ID) {
		return err
	}
	cp := *e
	cp.Message = "order " + order.ID + ": " + e.Message
	return &cp
}

func (s *Server) registerBilling() {
	type methodOut struct{ Body *billow.PaymentMethod }
	type addMethodIn struct {
		AccountPath
		Body billow.AddPaymentMethodInput
	}
	register(s, operation("addPaymentMethod", http.MethodPost, "/v1/accounts/{account}/payment_methods", "Add a payment method", "Billing",
		"Adds a card (tokenized at the payment gateway: the number and CVC go to the gateway and are never stored or "+
			"logged), a PayPal account or wire transfer. The answer shows what is safe to display: brand, last four digits, "+
			"expiry. The first method, or one added with default true, is the one renewals are charged to. At most 20 per "+
			"account. A card the gateway refuses outright answers 422 payment_declined."),
		func(ctx context.Context, in *addMethodIn) (*methodOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			b, err := s.billingService()
			if err != nil {
				return nil, err
			}
			m, err := b.AddPaymentMethod(ctx, a.ID, in.Body)
			if err != nil {
				return nil, err
			}
			return &methodOut{Body: m}, nil
		})

	type methodsIn struct{ AccountPath }
	type methodsOut struct {
		Body billow.Page[*billow.PaymentMethod]
	}
	register(s, operation("listPaymentMethods", http.MethodGet, "/v1/accounts/{account}/payment_methods", "List payment methods", "Billing",
		"Lists the account's payment methods, the default first."),
		func(ctx context.Context, in *methodsIn) (*methodsOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			ms, err := s.store.PaymentMethods(ctx, a.ID)
			if err != nil {
				return nil, err
			}
			out := &methodsOut{}
			out.Body.Data = nonNil(ms)
			return out, nil
		})

	s.registerOrders()
	s.registerSubscriptions()

	type eventsIn struct {
		AccountPath
		After int64 `query:"after" minimum:"0" doc:"Only events after this seq: the seq of the last event of the previous page."`
		Limit int   `query:"limit" minimum:"1" maximum:"1000" default:"100" doc:"Page size."`
	}
	type eventsOut struct {
		Body billow.Page[*billow.BillingEvent]
	}
	register(s, operation("listBillingEvents", http.MethodGet, "/v1/accounts/{account}/billing_events", "List billing events", "Billing",
		"The account's billing domain events, oldest first: subscription.activated, invoice.finalized, invoice.paid, "+
			"order.completed, subscription.renewal_failed and the rest (docs/subscriptions.md). Each is written with the change "+
			"it reports; emails and webhooks are sent from them. Page on with after=the last seq."),
		func(ctx context.Context, in *eventsIn) (*eventsOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			evs, err := s.store.BillingEvents(ctx, a.ID, in.After, in.Limit+1)
			if err != nil {
				return nil, err
			}
			out := &eventsOut{}
			if len(evs) > in.Limit {
				evs, out.Body.HasMore = evs[:in.Limit], true
			}
			out.Body.Data = nonNil(evs)
			return out, nil
		})
}

func (s *Server) registerOrders() {
	type orderOut struct{ Body *billow.Order }

	type submitIn struct {
		AccountPath
		Body billow.SubmitOrderInput
	}
	register(s, withErrors(operation("submitOrder", http.MethodPost, "/v1/accounts/{account}/orders", "Submit an order", "Billing",
		"Seed 000's Submit Order: billing information, a payment method (a stored one, a new one, or the default) and exactly "+
			"one thing bought: `subscribe` (a new subscription), `change` (a plan, interval, add-on or seat change of the live "+
			"subscription: an upgrade is charged prorated now, a downgrade or interval change applies at period end) or `credits` "+
			"(a top-up). The order is applied only once paid: status completed. A decline answers 402 payment_declined whose "+
			"detail names the failed order, and activates nothing. A card that asks for an OTP, or PayPal, leaves the order "+
			"requires_action (confirm it); a wire transfer leaves it pending_payment until the operator clears it. Send an "+
			"Idempotency-Key: a resent order with the same key is charged once."), http.StatusPaymentRequired),
		func(ctx context.Context, in *submitIn) (*orderOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			b, err := s.billingService()
			if err != nil {
				return nil, err
			}
			o, err := b.SubmitOrder(ctx, a.ID, in.Body)
			if err != nil {
				return nil, orderDeclined(o, err)
			}
			return &orderOut{Body: o}, nil
		})

	type listIn struct {
		AccountPath
		Limit int `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"How many of the newest orders."`
	}
	type listOut struct {
		Body billow.Page[*billow.Order]
	}
	register(s, operation("listOrders", http.MethodGet, "/v1/accounts/{account}/orders", "List orders", "Billing",
		"Lists the account's orders, newest first. A renewal is an invoice, not an order."),
		func(ctx context.Context, in *listIn) (*listOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			orders, err := s.store.Orders(ctx, a.ID, min(in.Limit, OrdersListMax)+1)
			if err != nil {
				return nil, err
			}
			out := &listOut{}
			if len(orders) > in.Limit {
				orders, out.Body.HasMore = orders[:in.Limit], true
			}
			out.Body.Data = nonNil(orders)
			return out, nil
		})

	type getIn struct{ OrderPath }
	register(s, operation("getOrder", http.MethodGet, "/v1/accounts/{account}/orders/{order}", "Get an order", "Billing",
		"Returns an order with its status, its invoice, and why it failed if it did."),
		func(ctx context.Context, in *getIn) (*orderOut, error) {
			o, err := s.order(ctx, in.Account, in.Order)
			if err != nil {
				return nil, err
			}
			return &orderOut{Body: o}, nil
		})

	type confirmIn struct {
		OrderPath
		Body *billow.ConfirmOrderInput
	}
	register(s, withErrors(withStatus(http.StatusOK, operation("confirmOrder", http.MethodPost, "/v1/accounts/{account}/orders/{order}/confirm",
		"Confirm an order", "Billing",
		"Finishes an order that requires_action: the OTP the card holder received, or no body once a PayPal buyer approved "+
			"at approve_url. A wrong OTP answers 422 otp_invalid and the order keeps waiting; after 5 wrong OTPs the order "+
			"fails (402 payment_declined). An order not waiting answers 409 order_not_pending.")), http.StatusPaymentRequired),
		func(ctx context.Context, in *confirmIn) (*orderOut, error) {
			o, err := s.order(ctx, in.Account, in.Order)
			if err != nil {
				return nil, err
			}
			b, err := s.billingService()
			if err != nil {
				return nil, err
			}
			var body billow.ConfirmOrderInput
			if in.Body != nil {
				body = *in.Body
			}
			done, err := b.ConfirmOrder(ctx, o.Account, o.ID, body)
			if err != nil {
				return nil, orderDeclined(done, err)
			}
			return &orderOut{Body: done}, nil
		})

	type clearIn struct{ OrderPath }
	register(s, withStatus(http.StatusOK, operation("clearOrderPayment", http.MethodPost, "/v1/accounts/{account}/orders/{order}/clear",
		"Clear a wire transfer", "Billing",
		"Records that the wire transfer of a pending_payment order arrived (operator only, from the bank statement): its "+
			"invoice is paid and the order applied, so a wire subscription activates and wire credits load only now. Any "+
			"other order answers 409 order_not_pending.")),
		func(ctx context.Context, in *clearIn) (*orderOut, error) {
			if err := requireOperator(ctx); err != nil {
				return nil, err
			}
			o, err := s.order(ctx, in.Account, in.Order)
			if err != nil {
				return nil, err
			}
			b, err := s.billingService()
			if err != nil {
				return nil, err
			}
			done, err := b.ClearPayment(ctx, o.Account, o.ID)
			if err != nil {
				return nil, err
			}
			return &orderOut{Body: done}, nil
		})
}

// order returns an order of an account the caller may see; another account's order is
// "not found", exactly like one that does not exist.
func (s *Server) order(ctx context.Context, accountRef, id string) (*billow.Order, error) {
	a, err := s.account(ctx, accountRef)
	if err != nil {
		return nil, err
	}
	o, _, err := s.store.Order(ctx, id)
	if err != nil {
		return nil, err
	}
	if o.Account != a.ID {
		return nil, billow.NotFound("order", id)
	}
	return o, nil
}

func (s *Server) registerSubscriptions() {
	type subOut struct{ Body *billow.Subscription }

	type getIn struct{ AccountPath }
	register(s, operation("getSubscription", http.MethodGet, "/v1/accounts/{account}/subscription", "Get the subscription", "Billing",
		"Returns the account's subscription that has not ended (any status but canceled and expired); 404 no_subscription "+
			"when it has none. Subscriptions start and change through orders (POST …/orders with subscribe or change)."),
		func(ctx context.Context, in *getIn) (*subOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			sub, err := s.store.LiveSubscription(ctx, a.ID)
			if err != nil {
				return nil, err
			}
			return &subOut{Body: sub}, nil
		})

	type listOut struct {
		Body billow.Page[*billow.Subscription]
	}
	register(s, operation("listSubscriptions", http.MethodGet, "/v1/accounts/{account}/subscriptions", "List subscriptions", "Billing",
		"Lists every subscription the account had, ended ones included, newest first."),
		func(ctx context.Context, in *getIn) (*listOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			subs, err := s.store.Subscriptions(ctx, a.ID)
			if err != nil {
				return nil, err
			}
			out := &listOut{}
			out.Body.Data = nonNil(subs)
			return out, nil
		})

	type cancelIn struct {
		AccountPath
		Body *billow.CancelSubscriptionInput
	}
	register(s, withStatus(http.StatusOK, operation("cancelSubscription", http.MethodPost, "/v1/accounts/{account}/subscription/cancel",
		"Cancel the subscription", "Billing",
		"Cancels at the end of the paid period (the default; resume undoes it until then) or, with at_once, now, refunding "+
			"nothing. An incomplete or suspended subscription ends at once.")),
		func(ctx context.Context, in *cancelIn) (*subOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			b, err := s.billingService()
			if err != nil {
				return nil, err
			}
			var body billow.CancelSubscriptionInput
			if in.Body != nil {
				body = *in.Body
			}
			sub, err := b.CancelSubscription(ctx, a.ID, body)
			if err != nil {
				return nil, err
			}
			return &subOut{Body: sub}, nil
		})

	type resumeIn struct{ AccountPath }
	register(s, withStatus(http.StatusOK, operation("resumeSubscription", http.MethodPost, "/v1/accounts/{account}/subscription/resume",
		"Resume the subscription", "Billing",
		"Undoes a cancellation scheduled for the end of the period; 409 transition_refused when none is scheduled.")),
		func(ctx context.Context, in *resumeIn) (*subOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			b, err := s.billingService()
			if err != nil {
				return nil, err
			}
			sub, err := b.ResumeSubscription(ctx, a.ID)
			if err != nil {
				return nil, err
			}
			return &subOut{Body: sub}, nil
		})
}
