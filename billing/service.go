package billing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/rating"
)

// Store is what the billing service needs of storage. *sqlstore.DB implements it.
type Store interface {
	Account(ctx context.Context, ref string) (*billow.Account, error)
	AccountCatalog(ctx context.Context, a *billow.Account) (*catalog.Catalog, error)
	UpdateAccount(ctx context.Context, id string, in billow.UpdateAccountInput) (*billow.Account, error)
	TestClock(ctx context.Context, id string) (*billow.TestClock, error)
	// TestClockAccounts returns the ids of the accounts on a test clock.
	TestClockAccounts(ctx context.Context, id string) ([]string, error)
	// SetTestClockTime moves a test clock forward (test_clock_backwards).
	SetTestClockTime(ctx context.Context, id string, t time.Time) (*billow.TestClock, error)
	// DueSubscriptions returns subscriptions with work due at or before now, leaving out
	// accounts on a test clock.
	DueSubscriptions(ctx context.Context, now time.Time, limit int) ([]string, error)
	// PostponeSubscription moves a subscription's next action to until if it is sooner.
	PostponeSubscription(ctx context.Context, id string, until time.Time) error

	Subscription(ctx context.Context, id string) (*billow.Subscription, error)
	// LiveSubscription returns the subscription that has not ended (no_subscription).
	LiveSubscription(ctx context.Context, accountID string) (*billow.Subscription, error)

	AddPaymentMethod(ctx context.Context, m *billow.PaymentMethod) error
	PaymentMethod(ctx context.Context, accountID, id string) (*billow.PaymentMethod, error)
	// DefaultPaymentMethod returns the default method (payment_method_missing).
	DefaultPaymentMethod(ctx context.Context, accountID string) (*billow.PaymentMethod, error)

	Invoice(ctx context.Context, id string) (*billow.Invoice, error)
	OutstandingInvoices(ctx context.Context, accountID string) ([]*billow.Invoice, error)
	Payments(ctx context.Context, invoiceID string) ([]*billow.Payment, error)
	Order(ctx context.Context, id string) (*billow.Order, []byte, error)
	OrdersToReconcile(ctx context.Context, before time.Time, limit int) ([]*billow.Order, error)
	// BilledUsage returns what postpaid lines of ended months were invoiced, by ref.
	BilledUsage(ctx context.Context, accountID string) (map[string]billow.BilledLine, error)
	RatingQuantities(ctx context.Context, accountID string, from, to time.Time, sels []rating.Selection) (map[string]decimal.Decimal, error)

	// WriteBilling commits a decision whole (concurrent_update when read stale).
	WriteBilling(ctx context.Context, w *billow.BillingWrite) error
	// PostGrant adds credits; the same id again returns the first grant's transfer.
	PostGrant(ctx context.Context, in billow.CreateGrantInput) (*billow.Transfer, error)
	// ExpireGrantsAt and ExpireHoldsAt expire an account's grants and holds due at or
	// before at, up to a page a call, and return how many: the credit upkeep of an account
	// on a test clock.
	ExpireGrantsAt(ctx context.Context, accountID string, at time.Time) (int, error)
	ExpireHoldsAt(ctx context.Context, accountID string, at time.Time) (int, error)
}

// Limits of the service, named with their unit last.
const (
	// AdvanceStepsMax bounds the transitions one Advance makes: two years of monthly
	// renewals with every retry, far above one sweep's worth of real time.
	AdvanceStepsMax = 24 * 12
	// conflictRetriesMax bounds re-reads after another process moved a subscription.
	conflictRetriesMax = 3
)

// Config wires a Service.
type Config struct {
	Store   Store
	Gateway billow.PaymentGateway
	Clock   billow.Clock
	Logger  *slog.Logger
}

// Service runs subscriptions, orders, invoices and dunning.
type Service struct {
	store   Store
	gateway billow.PaymentGateway
	clock   billow.Clock
	logger  *slog.Logger

	zonesMu sync.Mutex // protects the following field
	zones   map[string]*time.Location
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Gateway == nil || cfg.Clock == nil {
		return nil, errors.New("billing: store, gateway and clock are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{store: cfg.Store, gateway: cfg.Gateway, clock: cfg.Clock, logger: cfg.Logger, zones: map[string]*time.Location{}}, nil
}

func (s *Service) zone(name string) (*time.Location, error) {
	s.zonesMu.Lock()
	defer s.zonesMu.Unlock()
	if loc, ok := s.zones[name]; ok {
		return loc, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("billing: time zone %q: %w", name, err)
	}
	s.zones[name] = loc
	return loc, nil
}

// Now returns the account's current time: its test clock's when it has one.
func (s *Service) Now(ctx context.Context, a *billow.Account) (time.Time, error) {
	if a.TestClock == "" {
		return s.clock.Now().Truncate(time.Microsecond), nil
	}
	c, err := s.store.TestClock(ctx, a.TestClock)
	if err != nil {
		return time.Time{}, err
	}
	return c.FrozenTime, nil
}

// accountState is what one decision about an account reads.
type accountState struct {
	account *billow.Account
	cat     *catalog.Catalog
	loc     *time.Location
}

func (s *Service) load(ctx context.Context, accountRef string) (*accountState, error) {
	a, err := s.store.Account(ctx, accountRef)
	if err != nil {
		return nil, err
	}
	cat, err := s.store.AccountCatalog(ctx, a)
	if err != nil {
		return nil, err
	}
	loc, err := s.zone(a.Timezone)
	if err != nil {
		return nil, err
	}
	return &accountState{account: a, cat: cat, loc: loc}, nil
}

// AddPaymentMethod tokenizes a payment method at the gateway and stores the token.
//
// Errors: validation_failed, not_found, payment_declined (the gateway refused the card).
func (s *Service) AddPaymentMethod(ctx context.Context, accountRef string, in billow.AddPaymentMethodInput) (*billow.PaymentMethod, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	a, err := s.store.Account(ctx, accountRef)
	if err != nil {
		return nil, err
	}
	return s.addPaymentMethod(ctx, a, in)
}

func (s *Service) addPaymentMethod(ctx context.Context, a *billow.Account, in billow.AddPaymentMethodInput) (*billow.PaymentMethod, error) {
	tok, err := s.gateway.Tokenize(ctx, in)
	if err != nil {
		return nil, err
	}
	now, err := s.Now(ctx, a)
	if err != nil {
		return nil, err
	}
	m := &billow.PaymentMethod{ID: billow.NewID(billow.PrefixPaymentMethod, now), Account: a.ID, Kind: in.Kind,
		Gateway: s.gateway.Name(), Token: tok.Token, Brand: tok.Brand, Last4: tok.Last4, ExpMonth: tok.ExpMonth,
		ExpYear: tok.ExpYear, PayPalEmail: in.PayPalEmail, Default: in.Default, CreatedAt: now}
	if in.Card != nil {
		m.HolderName = in.Card.HolderName
	}
	if err := s.store.AddPaymentMethod(ctx, m); err != nil {
		return nil, err
	}
	return m, nil
}

// recurring is the fixed price of a subscription's plan and add-ons for one period.
type recurring struct {
	plan    *catalog.Plan
	fee     int64
	feeText string // the fee in major units as the catalog states it, for the invoice line
	addOns  []addOnPrice
}

type addOnPrice struct {
	addOn    *catalog.AddOn
	quantity int64
	fee      int64  // for the quantity
	unitText string // one unit's fee in major units as the catalog states it
}

func (r recurring) total() int64 {
	t := r.fee
	for _, a := range r.addOns {
		t += a.fee
	}
	return t
}

// priceOf checks a plan, interval and add-ons against the catalog and prices one period.
//
// Errors: unknown_plan, plan_not_for_account_type, unknown_interval, unknown_add_on,
// add_on_quantity.
func priceOf(cat *catalog.Catalog, a *billow.Account, plan, interval string, addOns []billow.SubscriptionAddOn) (recurring, error) {
	p, ok := cat.Plan(plan)
	if !ok {
		return recurring{}, billow.FieldErrorf(billow.CodeUnknownPlan, "plan", "the catalog has no plan %q", plan)
	}
	typeOK := false
	for _, t := range p.AccountTypes {
		typeOK = typeOK || t == string(a.Type)
	}
	if !typeOK {
		return recurring{}, billow.FieldErrorf(billow.CodePlanNotForType, "plan", "plan %q is not offered to %s accounts", plan, a.Type)
	}
	fee, ok := p.Fee(interval)
	if !ok {
		return recurring{}, billow.FieldErrorf(billow.CodeUnknownInterval, "interval", "plan %q is not offered by the %s", plan, interval)
	}
	r := recurring{plan: p, fee: fee.AmountMinorUnits, feeText: fee.Amount}
	for i, sa := range addOns {
		ao, ok := cat.AddOn(sa.AddOn)
		if !ok || !ao.AvailableOn(plan) {
			return recurring{}, billow.FieldErrorf(billow.CodeUnknownAddOn, fmt.Sprintf("add_ons[%d].add_on", i), "add-on %q is not offered on plan %q", sa.AddOn, plan)
		}
		if sa.Quantity > ao.MaxQuantity {
			return recurring{}, billow.FieldErrorf(billow.CodeAddOnQuantity, fmt.Sprintf("add_ons[%d].quantity", i), "add-on %q is sold in up to %d units", sa.AddOn, ao.MaxQuantity)
		}
		af, ok := ao.Fee(interval)
		if !ok {
			return recurring{}, billow.FieldErrorf(billow.CodeUnknownInterval, fmt.Sprintf("add_ons[%d].add_on", i), "add-on %q is not offered by the %s", sa.AddOn, interval)
		}
		// A fee is at most catalog.AmountMinorUnitsMax, but the catalog's max_quantity is
		// not bounded low enough for their product to fit an int64 in every catalog.
		if af.AmountMinorUnits > 0 && sa.Quantity > math.MaxInt64/4/af.AmountMinorUnits {
			return recurring{}, billow.FieldErrorf(billow.CodeAddOnQuantity, fmt.Sprintf("add_ons[%d].quantity", i), "%d units of add-on %q cost more than an invoice can hold", sa.Quantity, sa.AddOn)
		}
		r.addOns = append(r.addOns, addOnPrice{addOn: ao, quantity: sa.Quantity, fee: af.AmountMinorUnits * sa.Quantity, unitText: af.Amount})
	}
	return r, nil
}

// recurringLines are the fee and add-on lines of one period.
func recurringLines(r recurring, start, end time.Time) []billow.InvoiceLine {
	ref := fmt.Sprintf("%d", billow.TimeMicros(start))
	lines := []billow.InvoiceLine{{Kind: billow.LineFee, Description: r.plan.Name + " plan", Quantity: "1",
		UnitAmount: r.feeText, AmountMinor: r.fee, PeriodStart: start, PeriodEnd: end, Ref: "fee:" + r.plan.Key + ":" + ref}}
	for _, a := range r.addOns {
		lines = append(lines, billow.InvoiceLine{Kind: billow.LineAddOn, Description: a.addOn.Name, Quantity: fmt.Sprint(a.quantity),
			UnitAmount: a.unitText, AmountMinor: a.fee, PeriodStart: start, PeriodEnd: end,
			Ref: "add_on:" + a.addOn.Key + ":" + ref})
	}
	return lines
}

// newInvoice builds an invoice of lines for the account, with its tax line computed
// once on the subtotal.
func newInvoice(st *accountState, sub, order string, lines []billow.InvoiceLine, billing, periodStart, periodEnd time.Time) (*billow.Invoice, error) {
	a := st.account
	inv := &billow.Invoice{ID: billow.NewID(billow.PrefixInvoice, billing), OrderID: order, Account: a.ID, Subscription: sub,
		Status: billow.InvoiceDraft, Currency: a.Currency, CurrencyDigits: st.cat.CurrencyDigits, BillingDate: billing,
		DueAt: billing, PeriodStart: periodStart, PeriodEnd: periodEnd, Lines: lines, TaxRate: a.TaxRate,
		BillTo: a.BillingContact, AccountName: a.Name, Hidden: a.Type == billow.AccountEnterprise,
		PaymentStatus: billow.PaymentNone, CreatedAt: billing}
	if len(lines) > billow.InvoiceLinesMax {
		return nil, fmt.Errorf("billing: invoice for %s has %d lines, more than %d", a.ID, len(lines), billow.InvoiceLinesMax)
	}
	for _, l := range lines {
		inv.SubtotalMinor += l.AmountMinor
	}
	tax, err := Tax(inv.SubtotalMinor, inv.TaxRate)
	if err != nil {
		return nil, err
	}
	inv.TaxMinor = tax
	inv.TotalMinor = inv.SubtotalMinor + tax
	return inv, nil
}

func event(a *billow.Account, typ, subject string, at time.Time, data map[string]any) *billow.BillingEvent {
	return &billow.BillingEvent{Account: a.ID, Type: typ, Subject: subject, OccurredAt: at, Data: data}
}

// transition moves sub through the state machine and returns the domain event it emits.
func transition(a *billow.Account, sub *billow.Subscription, ev Event, at time.Time, data map[string]any) (*billow.BillingEvent, error) {
	t, err := Next(sub.Status, ev)
	if err != nil {
		return nil, err
	}
	sub.Status = t.To
	sub.UpdatedAt = at
	sub.Version++
	if data == nil {
		data = map[string]any{}
	}
	data["subscription"] = sub.ID
	data["plan"] = sub.Plan
	data["status"] = string(sub.Status)
	data["from_status"] = string(t.From)
	return event(a, t.DomainEvent, sub.ID, at, data), nil
}

func isConflict(err error) bool { return isCode(err, billow.CodeConcurrentUpdate) }
