package autocharge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/billowhq/billow"
)

// Store is what auto-charge needs of storage. *sqlstore.DB implements it.
type Store interface {
	// Account returns the account with the given id or external id (not_found).
	Account(ctx context.Context, ref string) (*billow.Account, error)
	// DefaultPaymentMethod returns the default method (payment_method_missing).
	DefaultPaymentMethod(ctx context.Context, accountID string) (*billow.PaymentMethod, error)
	// Order returns an order (not_found); Orders an account's newest orders first.
	Order(ctx context.Context, id string) (*billow.Order, []byte, error)
	Orders(ctx context.Context, accountID string, limit int) ([]*billow.Order, error)

	// AutoCharge returns an account's auto-charge (not_found when it never set one).
	AutoCharge(ctx context.Context, accountID string) (*billow.AutoCharge, error)
	// SetAutoCharge stores the settings, keeping the state, and resets the failures.
	SetAutoCharge(ctx context.Context, accountID string, s billow.AutoChargeSettings) (*billow.AutoCharge, error)
	// AutoChargeAccounts returns up to limit accounts with settings after the given id,
	// in id order, with their balances.
	AutoChargeAccounts(ctx context.Context, after string, limit int) ([]*billow.AutoChargeAccount, error)
	// WriteAutoCharge stores a decision and its events if the row is as it was read;
	// false when another process wrote first.
	WriteAutoCharge(ctx context.Context, w billow.AutoChargeWrite) (bool, error)
}

// Billing is what auto-charge needs of the billing service. *billing.Service implements it.
type Billing interface {
	// Now returns the account's time: its test clock's when it has one.
	Now(ctx context.Context, a *billow.Account) (time.Time, error)
	// SubmitOrder buys the top-up; the credits load only once the order is paid.
	SubmitOrder(ctx context.Context, accountRef string, in billow.SubmitOrderInput) (*billow.Order, error)
	// CheckCreditPurchase checks an amount of credits against the account's catalog.
	CheckCreditPurchase(ctx context.Context, accountRef string, credits int64) error
}

// Limits and defaults of the runner, named with their unit last.
const (
	// IntervalDefault is how often a pass runs: how long a balance may sit below its
	// threshold before the top-up starts and the notice is written.
	IntervalDefault = 5 * time.Second
	// PageSizeDefault is how many accounts one store read returns.
	PageSizeDefault = 200
	// passAccountsMax bounds the accounts one pass decides, so that a pass ends; the next
	// pass of the process goes on from there.
	passAccountsMax = 50_000
	// recoverOrdersMax bounds the newest orders read to find a stale claim's order.
	recoverOrdersMax = 20
	// pageSizeMax is the store's bound on one read (sqlstore.AutoChargeAccountsMax).
	pageSizeMax = 1000
	cooldownMin = time.Second
	cooldownMax = 7 * 24 * time.Hour
)

// Config wires a Service.
type Config struct {
	Store   Store
	Billing Billing
	Clock   billow.Clock
	Logger  *slog.Logger
	// Cooldown follows every attempt; CooldownDefault when zero.
	Cooldown time.Duration
	// PageSize is the accounts one store read returns; PageSizeDefault when zero.
	PageSize int
}

// Service serves accounts' auto-charge settings and runs the passes that act on them.
type Service struct {
	store    Store
	billing  Billing
	clock    billow.Clock
	logger   *slog.Logger
	cooldown time.Duration
	pageSize int

	mu     sync.Mutex // protects the following field
	cursor string     // the account after which the next pass starts
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Billing == nil || cfg.Clock == nil {
		return nil, errors.New("autocharge: store, billing and clock are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Cooldown == 0 {
		cfg.Cooldown = CooldownDefault
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = PageSizeDefault
	}
	if cfg.Cooldown < cooldownMin || cfg.Cooldown > cooldownMax {
		return nil, fmt.Errorf("autocharge: cooldown %s is outside [%s, %s]", cfg.Cooldown, cooldownMin, cooldownMax)
	}
	if cfg.PageSize < 1 || cfg.PageSize > pageSizeMax {
		return nil, fmt.Errorf("autocharge: page size %d is outside [1, %d]", cfg.PageSize, pageSizeMax)
	}
	return &Service{store: cfg.Store, billing: cfg.Billing, clock: cfg.Clock, cooldown: cfg.Cooldown, pageSize: cfg.PageSize,
		logger: cfg.Logger.With(slog.String("component", "autocharge"))}, nil
}

// Get returns an account's auto-charge: off, with no threshold, when it never set one.
//
// Errors: not_found.
func (s *Service) Get(ctx context.Context, accountRef string) (*billow.AutoCharge, error) {
	a, err := s.store.Account(ctx, accountRef)
	if err != nil {
		return nil, err
	}
	c, err := s.store.AutoCharge(ctx, a.ID)
	if billow.ErrorCode(err) == billow.CodeNotFound {
		return &billow.AutoCharge{Account: a.ID}, nil
	}
	return c, err
}

// Set saves an account's threshold and top-up. The top-up must be a purchase the
// account's catalog allows; turning auto-charge on needs the billing name and email an
// order needs and a default payment method that can be charged without the customer (not
// a wire transfer). Saving resumes an auto-charge paused by failures. Nothing is written
// when anything is refused.
//
// Errors: validation_failed, not_found, billing_info_missing, payment_method_missing,
// payment_method_unsupported.
func (s *Service) Set(ctx context.Context, accountRef string, in billow.SetAutoChargeInput) (*billow.AutoCharge, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	a, err := s.store.Account(ctx, accountRef)
	if err != nil {
		return nil, err
	}
	if in.TopUpCredits > 0 {
		if err := s.billing.CheckCreditPurchase(ctx, a.ID, in.TopUpCredits); err != nil {
			return nil, renameField(err, "credits", "top_up_credits")
		}
	}
	if in.Enabled {
		if a.BillingContact.Name == "" || a.BillingContact.Email == "" {
			return nil, billow.FieldErrorf(billow.CodeBillingInfoMissing, "enabled",
				"a top-up is an order, which needs the account's billing name and email: set its billing_contact first")
		}
		m, err := s.store.DefaultPaymentMethod(ctx, a.ID)
		if billow.ErrorCode(err) == billow.CodePaymentMethodMissing {
			return nil, conflict(billow.CodePaymentMethodMissing, "auto-charge charges the default payment method, and the account has none: add a card first")
		}
		if err != nil {
			return nil, err
		}
		if m.Kind == billow.MethodWire {
			return nil, conflict(billow.CodePaymentMethodUnsupported, "auto-charge cannot charge a wire transfer: make a card the default payment method")
		}
	}
	c, err := s.store.SetAutoCharge(ctx, a.ID, in.Settings())
	if err != nil {
		return nil, err
	}
	s.logger.InfoContext(ctx, "auto-charge set", slog.String("account", a.ID), slog.Bool("enabled", in.Enabled),
		slog.Int64("threshold_credits", in.ThresholdCredits), slog.Int64("top_up_credits", in.TopUpCredits))
	return c, nil
}

func conflict(code, message string) error {
	return &billow.Error{Kind: billow.KindConflict, Code: code, Message: message,
		Fields: []billow.FieldError{{Field: "enabled", Message: message}}}
}

// renameField returns err with the field from named to instead: the billing service
// checks a purchase's "credits", which the settings call "top_up_credits".
func renameField(err error, from, to string) error {
	var e *billow.Error
	if !errors.As(err, &e) {
		return err
	}
	cp := *e
	cp.Fields = make([]billow.FieldError, len(e.Fields))
	for i, f := range e.Fields {
		if f.Field == from {
			f.Field = to
		}
		cp.Fields[i] = f
	}
	return &cp
}

// Run is one pass over the accounts with settings, as a jobs.Periodic: it decides each
// account at its own time (now, or its test clock's), stores the decision with its
// notices, and starts, polls or recovers the attempt the decision asks for. An account
// that fails is logged and the pass goes on; the pass then reports how many failed.
func (s *Service) Run(ctx context.Context, now time.Time) error {
	s.mu.Lock()
	after := s.cursor
	s.mu.Unlock()
	failed := 0
	var first error
	for seen := 0; seen < passAccountsMax; {
		page, err := s.store.AutoChargeAccounts(ctx, after, s.pageSize)
		if err != nil {
			return err
		}
		for _, acc := range page {
			if err := s.runAccount(ctx, acc, now); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				s.logger.ErrorContext(ctx, "auto-charge of an account failed", slog.String("account", acc.Account), slog.Any("error", err))
				if failed++; first == nil {
					first = err
				}
			}
		}
		seen += len(page)
		if len(page) < s.pageSize {
			after = "" // the end: the next pass starts from the first account
			break
		}
		after = page[len(page)-1].Account
	}
	s.mu.Lock()
	s.cursor = after
	s.mu.Unlock()
	if failed > 0 {
		return fmt.Errorf("autocharge: %d accounts failed in the pass, the first: %w", failed, first)
	}
	return nil
}

// accountNow is the account's time: passNow, or its test clock's.
func (s *Service) accountNow(ctx context.Context, acc *billow.AutoChargeAccount, passNow time.Time) (time.Time, error) {
	if acc.TestClock == "" {
		return passNow.UTC().Truncate(time.Microsecond), nil
	}
	return s.billing.Now(ctx, &billow.Account{ID: acc.Account, TestClock: acc.TestClock})
}

func (s *Service) runAccount(ctx context.Context, acc *billow.AutoChargeAccount, passNow time.Time) error {
	now, err := s.accountNow(ctx, acc, passNow)
	if err != nil {
		return err
	}
	in := Input{Now: now, BalanceUcr: acc.BalanceUcr, Settings: acc.AutoChargeSettings, State: acc.AutoChargeState,
		NewAttempt: billow.NewID(billow.PrefixAutoChargeAttempt, now), Cooldown: s.cooldown}
	d := Decide(in)
	if d.Changed {
		ok, err := s.store.WriteAutoCharge(ctx, billow.AutoChargeWrite{Account: acc.Account, State: d.State,
			ExpectVersion: acc.Version, Events: events(acc.Account, d.Notices, now)})
		if err != nil || !ok {
			return err // not stored: another process decided first, and the next pass reads again
		}
		s.logNotices(ctx, acc.Account, d.Notices)
	}
	in.State = d.State
	switch d.Action {
	case ActionCharge:
		return s.charge(ctx, acc, in)
	case ActionPoll:
		order, _, err := s.store.Order(ctx, in.State.AttemptOrder)
		if err != nil {
			return err
		}
		return s.settle(ctx, acc.Account, in, Outcome{Order: order})
	case ActionRecover:
		o, err := s.recoverOutcome(ctx, acc.Account, in.State)
		if err != nil {
			return err
		}
		return s.settle(ctx, acc.Account, in, o)
	}
	return nil
}

// charge submits the top-up order of the attempt the caller claimed, charged to the
// default payment method, and settles the attempt by its answer.
func (s *Service) charge(ctx context.Context, acc *billow.AutoChargeAccount, in Input) error {
	m, err := s.store.DefaultPaymentMethod(ctx, acc.Account)
	switch {
	case billow.ErrorCode(err) == billow.CodePaymentMethodMissing:
		return s.settle(ctx, acc.Account, in, Outcome{Code: billow.CodePaymentMethodMissing, Message: "the account has no default payment method"})
	case err != nil:
		// No order was submitted: the claim is let go at once, the cooldown still applies.
		return errors.Join(err, s.settle(ctx, acc.Account, in, Outcome{Abandoned: true}))
	case m.Kind == billow.MethodWire:
		return s.settle(ctx, acc.Account, in, Outcome{Code: billow.CodePaymentMethodUnsupported,
			Message: "the default payment method is a wire transfer, which auto-charge cannot charge"})
	}
	s.logger.InfoContext(ctx, "auto-charge started", slog.String("account", acc.Account), slog.String("attempt", in.State.Attempt),
		slog.Int64("credits", in.State.AttemptCredits), slog.Int64("balance_ucr", acc.BalanceUcr))
	order, err := s.billing.SubmitOrder(ctx, acc.Account, billow.SubmitOrderInput{Credits: in.State.AttemptCredits, PaymentMethod: m.ID})
	var e *billow.Error
	switch {
	case order != nil:
		// Paid, declined (err is payment_declined) or pending: the order says which.
	case errors.As(err, &e) && (e.Kind == billow.KindInvalid || e.Kind == billow.KindNotFound):
		// Refused before anything was written or charged: the billing information, the
		// catalog's limits, a method removed meanwhile.
		return s.settle(ctx, acc.Account, in, Outcome{Code: e.Code, Message: e.Message})
	default:
		// The order may have been written, even charged, before the fault (a store write
		// after the gateway's answer): the claim stays, and a pass after
		// AttemptStaleAfter settles it by the order it finds.
		return fmt.Errorf("autocharge: submit the top-up of %s: %w", acc.Account, err)
	}
	if in.Now, err = s.accountNow(ctx, acc, s.clock.Now()); err != nil {
		return err
	}
	return s.settle(ctx, acc.Account, in, Outcome{Order: order})
}

// recoverOutcome finds the order a stale claim submitted: the oldest credit order made
// since the claim. None: the claim submitted nothing.
func (s *Service) recoverOutcome(ctx context.Context, accountID string, st billow.AutoChargeState) (Outcome, error) {
	orders, err := s.store.Orders(ctx, accountID, recoverOrdersMax)
	if err != nil {
		return Outcome{}, err
	}
	var found *billow.Order
	for _, o := range orders { // newest first: the last match is the oldest
		if o.Kind == billow.OrderCredits && !o.CreatedAt.Before(st.AttemptAt) {
			found = o
		}
	}
	if found == nil {
		s.logger.WarnContext(ctx, "auto-charge claim abandoned: no order found", slog.String("account", accountID), slog.String("attempt", st.Attempt))
		return Outcome{Abandoned: true}, nil
	}
	return Outcome{Order: found}, nil
}

// settle stores an attempt's outcome, if the attempt is still the one in flight.
func (s *Service) settle(ctx context.Context, accountID string, in Input, o Outcome) error {
	d := Settle(in, o)
	if !d.Changed {
		return nil
	}
	ok, err := s.store.WriteAutoCharge(ctx, billow.AutoChargeWrite{Account: accountID, State: d.State,
		ExpectAttempt: in.State.Attempt, Events: events(accountID, d.Notices, in.Now)})
	if err != nil || !ok {
		return err
	}
	s.logNotices(ctx, accountID, d.Notices)
	return nil
}

func (s *Service) logNotices(ctx context.Context, accountID string, notices []Notice) {
	for _, n := range notices {
		s.logger.InfoContext(ctx, n.Type, slog.String("account", accountID), slog.Any("data", n.Data))
	}
}

// events turns notices into billing events of the account.
func events(accountID string, notices []Notice, at time.Time) []*billow.BillingEvent {
	out := make([]*billow.BillingEvent, 0, len(notices))
	for _, n := range notices {
		subject := n.Subject
		if subject == "" {
			subject = accountID
		}
		out = append(out, &billow.BillingEvent{Account: accountID, Type: n.Type, Subject: subject, Data: n.Data, OccurredAt: at})
	}
	return out
}
