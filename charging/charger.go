// Package charging turns rated usage into ledger movements, continuously. For an account
// whose plan has rates billed in credits (prepaid), it rates the month so far (package
// rating, from the store's rollups), compares each line with what it already charged for
// that line and month, and posts only the difference: a usage spend when the line grew,
// a correction (for now a paid grant) when late events lowered it. Re-running changes
// nothing; a late event moves just its difference. What the wallet cannot pay stays owed
// and is retried by the next run.
//
// Runs are triggered by ingest (AccountsChanged, rated at most once per DirtyInterval)
// and by a slower sweep of every account with a plan, for events other processes
// sharing the database stored. Rates billed in currency (postpaid) are never posted:
// CurrencyLines gives them to the invoice.
//
// docs/rating.md describes the rules.
package charging

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/rating"
)

// Limits of a charger, named with their unit last. A zero field takes its default.
type Limits struct {
	// DirtyInterval is how often accounts with newly ingested events are rated: each at
	// most once per interval, so a busy account is not rated per batch. Default 1 s.
	DirtyInterval time.Duration
	// SweepInterval is how often every account with a plan is rated, whatever this
	// process ingested: it catches events stored by other processes sharing PostgreSQL,
	// and owed credits a new grant can now pay. Default 1 min.
	SweepInterval time.Duration
	// PreviousMonthWindow is how long after a month ends its late events are still
	// charged, in the month they belong to. Default 72 h.
	PreviousMonthWindow time.Duration
	// AccountTimeout bounds one account's run: its reads and ledger movements. Default 1 min.
	AccountTimeout time.Duration
	// DirtyAccountsMax bounds the accounts waiting to be rated; beyond it an account is
	// left to the sweep. Default 100,000.
	DirtyAccountsMax int
	// SweepPageAccounts is how many accounts the sweep reads at once. Default 100.
	SweepPageAccounts int
	// MovementsPerLineMax bounds the ledger movements one run posts for one line (a line
	// above billow.TransferMaxUcr takes several); the next run goes on. Default 8.
	MovementsPerLineMax int
}

// Defaults and bounds of Limits.
const (
	DirtyIntervalDefault       = time.Second
	SweepIntervalDefault       = time.Minute
	PreviousMonthWindowDefault = 72 * time.Hour
	AccountTimeoutDefault      = time.Minute
	DirtyAccountsMaxDefault    = 100_000
	SweepPageAccountsDefault   = billow.PageLimitMax
	MovementsPerLineMaxDefault = 8

	intervalMin                = time.Millisecond
	intervalMax                = 24 * time.Hour
	previousMonthWindowMax     = 31 * 24 * time.Hour
	dirtyAccountsMaxMax        = 10_000_000
	movementsPerLineMaxMax     = 1000
	descriptionLineKeyBytesMax = 400 // of a movement's description (billow.DescriptionMaxBytes is 500)
)

func (l *Limits) fill() error {
	defaultTo(&l.DirtyInterval, DirtyIntervalDefault)
	defaultTo(&l.SweepInterval, SweepIntervalDefault)
	defaultTo(&l.PreviousMonthWindow, PreviousMonthWindowDefault)
	defaultTo(&l.AccountTimeout, AccountTimeoutDefault)
	defaultTo(&l.DirtyAccountsMax, DirtyAccountsMaxDefault)
	defaultTo(&l.SweepPageAccounts, SweepPageAccountsDefault)
	defaultTo(&l.MovementsPerLineMax, MovementsPerLineMaxDefault)
	for _, d := range []struct {
		name  string
		value time.Duration
	}{{"DirtyInterval", l.DirtyInterval}, {"SweepInterval", l.SweepInterval}, {"AccountTimeout", l.AccountTimeout}} {
		if d.value < intervalMin || d.value > intervalMax {
			return errorf(CodeInvalidConfig, "", "%s must be between %s and %s, not %s", d.name, intervalMin, intervalMax, d.value)
		}
	}
	switch {
	case l.PreviousMonthWindow < 0 || l.PreviousMonthWindow > previousMonthWindowMax:
		return errorf(CodeInvalidConfig, "", "PreviousMonthWindow must be between 0 and %s, not %s", previousMonthWindowMax, l.PreviousMonthWindow)
	case l.DirtyAccountsMax < 1 || l.DirtyAccountsMax > dirtyAccountsMaxMax:
		return errorf(CodeInvalidConfig, "", "DirtyAccountsMax must be between 1 and %d, not %d", dirtyAccountsMaxMax, l.DirtyAccountsMax)
	case l.SweepPageAccounts < 1 || l.SweepPageAccounts > billow.PageLimitMax:
		return errorf(CodeInvalidConfig, "", "SweepPageAccounts must be between 1 and %d, not %d", billow.PageLimitMax, l.SweepPageAccounts)
	case l.MovementsPerLineMax < 1 || l.MovementsPerLineMax > movementsPerLineMaxMax:
		return errorf(CodeInvalidConfig, "", "MovementsPerLineMax must be between 1 and %d, not %d", movementsPerLineMaxMax, l.MovementsPerLineMax)
	}
	return nil
}

func defaultTo[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Config is what a charger is made of.
type Config struct {
	Store  Store
	Clock  billow.Clock // which month it is; default the system clock
	Logger *slog.Logger // default: discard
	Limits Limits
}

// Charger debits prepaid accounts for their rated usage. Its methods may be called from
// several goroutines, and several chargers (processes) may share one database: each
// movement is claimed on its line before it is posted, so no line is moved twice at once.
type Charger struct {
	store  Store
	clock  billow.Clock
	logger *slog.Logger
	limits Limits

	mu      sync.Mutex          // protects the following fields
	dirty   map[string]struct{} // accounts with events ingested since they were last rated
	dropped int                 // accounts not marked dirty since the last run: DirtyAccountsMax was reached

	zonesMu sync.Mutex // protects the following field
	zones   map[string]*time.Location
}

// New returns a charger. Run starts its loops.
//
// Errors: invalid_config.
func New(cfg Config) (*Charger, error) {
	if cfg.Store == nil {
		return nil, errorf(CodeInvalidConfig, "", "a store is required")
	}
	if cfg.Clock == nil {
		cfg.Clock = billow.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Limits.fill(); err != nil {
		return nil, err
	}
	return &Charger{store: cfg.Store, clock: cfg.Clock, logger: cfg.Logger, limits: cfg.Limits, dirty: map[string]struct{}{},
		zones: map[string]*time.Location{}}, nil
}

// zone returns the named time zone, loaded once per charger: the sweep needs one per
// account and minute, and loading reads the zone database.
func (c *Charger) zone(name string) (*time.Location, error) {
	c.zonesMu.Lock()
	defer c.zonesMu.Unlock()
	if loc, ok := c.zones[name]; ok {
		return loc, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		// Validated when stored; failing now means this binary's zone data lacks it.
		return nil, fmt.Errorf("charging: time zone %q: %w", name, err)
	}
	c.zones[name] = loc
	return loc, nil
}

// LineResult is one line of a run: its rated amount and what it has cost the wallet
// after the run, in µcr.
type LineResult struct {
	Month      string
	Key        string
	RatedUcr   int64
	ChargedUcr int64
	// OwedUcr is RatedUcr − ChargedUcr when the wallet could not pay it all (or another
	// charger was moving the line, or MovementsPerLineMax was reached); the next run
	// goes on. 0 otherwise.
	OwedUcr int64
	// Transfers are the ledger transfer ids this run posted for the line, in order.
	Transfers []string
}

// AccountResult is what one run did for an account.
type AccountResult struct {
	AccountID string
	// Prepaid says the account's plan has rates billed in credits; the charger does not
	// rate an account whose plan has none, and Lines is empty.
	Prepaid bool
	Lines   []LineResult
}

// ChargeAccount rates the account's current month (and the previous one, within
// PreviousMonthWindow of its end) and posts the difference of every credit line with what
// was charged for it.
//
// Errors: not_found (the account), charge_conflict, rating's errors, the store's.
func (c *Charger) ChargeAccount(ctx context.Context, accountRef string) (*AccountResult, error) {
	ctx, cancel := context.WithTimeout(ctx, c.limits.AccountTimeout)
	defer cancel()
	a, err := c.store.Account(ctx, accountRef)
	if err != nil {
		return nil, err
	}
	return c.chargeAccount(ctx, a)
}

func (c *Charger) chargeAccount(ctx context.Context, a *billow.Account) (*AccountResult, error) {
	out := &AccountResult{AccountID: a.ID, Lines: []LineResult{}}
	cat, err := c.store.AccountCatalog(ctx, a)
	if err != nil {
		return nil, err
	}
	p, ok := cat.Plan(a.Plan)
	if !ok || len(rating.Needs(p, catalog.BilledInCredits)) == 0 {
		return out, nil
	}
	out.Prepaid = true
	now := c.clock.Now()
	loc, err := c.zone(a.Timezone)
	if err != nil {
		return nil, err
	}
	current := rating.MonthOf(now, loc)
	months := []rating.Period{current}
	if now.Sub(current.From) < c.limits.PreviousMonthWindow {
		months = []rating.Period{current.Previous(), current}
	}
	w := &wallet{store: c.store, accountID: a.ID}
	for _, month := range months {
		// What was charged is read before the quantities, so that every charge it holds
		// came from a rating older than this one: a line charged above this rating was
		// then truly rated lower (a late event), not charged by a newer rating of another
		// charger. A movement made after this read fails this run's claim (see chargeLine).
		charged, err := c.store.UsageCharges(ctx, a.ID, month.Month)
		if err != nil {
			return nil, err
		}
		res, err := ratePeriod(ctx, c.store, a, cat, month, catalog.BilledInCredits)
		if err != nil {
			return nil, err
		}
		for _, l := range res.Lines {
			state, ok := charged[l.Key]
			if !ok {
				state = billow.UsageCharge{AccountID: a.ID, Month: month.Month, LineKey: l.Key}
			}
			lr, err := c.chargeLine(ctx, l, state, w)
			if err != nil {
				return nil, err
			}
			out.Lines = append(out.Lines, lr)
		}
	}
	return out, nil
}

// chargeLine brings the line's charges to its rated amount, movement by movement: each
// is claimed on the line, posted under its transfer id, and recorded. A movement found
// claimed (by a run that died, or by another charger) is posted again under the same id
// first: the ledger answers a repeated id with the first transfer, and the record counts
// it once.
//
// state is the line as read before the rating. The run moves the line only while the
// line is as this run left it: once another charger has moved it, that charger may have
// rated newer usage, and comparing it with this run's rating could take a line charged
// by a newer rating for one rated lower. The line is left to the next run then.
func (c *Charger) chargeLine(ctx context.Context, l rating.Line, state billow.UsageCharge, w *wallet) (LineResult, error) {
	out := LineResult{Month: state.Month, Key: l.Key, RatedUcr: l.Amount}
	for range c.limits.MovementsPerLineMax {
		if state.PendingID == "" {
			amount, err := c.nextMovement(ctx, l.Amount, state, w)
			if err != nil {
				return out, err
			}
			if amount == 0 {
				break // charged as rated, or the wallet cannot pay more now
			}
			next, claimed, err := c.store.ClaimUsageCharge(ctx, billow.ClaimUsageChargeInput{AccountID: state.AccountID, Month: state.Month,
				LineKey: state.LineKey, DebitedUcr: state.DebitedUcr, CreditedUcr: state.CreditedUcr,
				TransferID: movementID(state, amount), AmountUcr: amount})
			if err != nil {
				return out, err
			}
			if !claimed {
				state = next
				break // another charger moved the line since it was read
			}
			state = next
		}
		id, amount := state.PendingID, state.PendingUcr
		posted, err := c.post(ctx, state)
		if err != nil {
			return out, err // the claim stays; the next run posts it again under its id
		}
		settled, err := c.store.SettleUsageCharge(ctx, billow.SettleUsageChargeInput{AccountID: state.AccountID, Month: state.Month,
			LineKey: state.LineKey, TransferID: id, AmountUcr: amount, Posted: posted})
		if err != nil {
			return out, err
		}
		if !posted {
			// Someone spent the credits since the wallet was read: what is left is owed.
			w.forget()
			c.logger.Debug("usage charge refused", slog.Group("charge", "account", state.AccountID, "month", state.Month,
				"line", state.LineKey, "transfer", id, "amount_ucr", amount))
			state = settled
			break
		}
		w.moved(amount)
		out.Transfers = append(out.Transfers, id)
		level := slog.LevelDebug
		if amount < 0 {
			level = slog.LevelInfo // corrections are rare and worth seeing
		}
		c.logger.Log(ctx, level, "usage charged", slog.Group("charge", "account", state.AccountID, "month", state.Month,
			"line", state.LineKey, "transfer", id, "amount_ucr", amount, "rated_ucr", l.Amount))
		expected := state
		expected.PendingID, expected.PendingUcr = "", 0
		if amount > 0 {
			expected.DebitedUcr += amount
		} else {
			expected.CreditedUcr -= amount
		}
		state = settled
		if settled.PendingID != "" || settled.DebitedUcr != expected.DebitedUcr || settled.CreditedUcr != expected.CreditedUcr {
			break // another charger moved the line meanwhile
		}
	}
	out.ChargedUcr = state.ChargedUcr()
	out.OwedUcr = max(0, l.Amount-out.ChargedUcr)
	return out, nil
}

// nextMovement returns the amount of the line's next movement: the difference between
// its rated amount and what it has cost, in at most billow.TransferMaxUcr, and for a
// debit at most what the wallet can pay now; 0 when there is nothing to move.
func (c *Charger) nextMovement(ctx context.Context, ratedUcr int64, state billow.UsageCharge, w *wallet) (int64, error) {
	diff := ratedUcr - state.ChargedUcr()
	if diff < 0 {
		return -min(-diff, billow.TransferMaxUcr), nil
	}
	if diff == 0 {
		return 0, nil
	}
	spendable, err := w.spendable(ctx)
	if err != nil {
		return 0, err
	}
	return min(diff, billow.TransferMaxUcr, spendable), nil
}

// post posts the line's claimed movement; false when the ledger refused a spend for want
// of credits (nothing moved).
func (c *Charger) post(ctx context.Context, state billow.UsageCharge) (bool, error) {
	var err error
	if state.PendingUcr > 0 {
		_, err = c.store.Spend(ctx, billow.SpendInput{Account: state.AccountID, AmountUcr: state.PendingUcr, ID: state.PendingID,
			Cause: billow.CauseUsage, Description: movementDescription(state), System: true})
	} else {
		_, _, err = c.store.CreateGrant(ctx, billow.CreateGrantInput{Account: state.AccountID, Kind: billow.GrantPaid,
			AmountUcr: -state.PendingUcr, ID: state.PendingID, Description: movementDescription(state), System: true})
	}
	switch {
	case err == nil:
		return true, nil
	case billow.ErrorCode(err) == billow.CodeInsufficientCredits:
		return false, nil
	case billow.ErrorCode(err) == billow.CodeIdempotencyReused:
		return false, errorf(CodeChargeConflict, state.AccountID, "line %s of %s: the ledger holds transfer %s with other content: %v",
			state.LineKey, state.Month, state.PendingID, err)
	}
	return false, fmt.Errorf("charging: account %s, line %s of %s, transfer %s: %w", state.AccountID, state.LineKey, state.Month, state.PendingID, err)
}

// movementID is the transfer id of a line's next movement: deterministic, so a run that
// is repeated asks the ledger for the same transfer, and distinct for every movement of
// the line, because it names the line's total after it: debits only grow with each
// spend and credits with each correction. A late event that grows the line moves only
// the difference, under the id of the new total.
//
//	usage:2026-11:llm_credits:debited=99000000
//	usage-correction:2026-11:billing_sessions{app="front"}:credited=2000000
//
// A key too long for an id (billow.TransferIDMaxBytes) is replaced by its SHA-256.
func movementID(state billow.UsageCharge, amount int64) string {
	kind, total, n := billow.TransferIDUsage, "debited", state.DebitedUcr+amount
	if amount < 0 {
		kind, total, n = billow.TransferIDUsageCorrection, "credited", state.CreditedUcr-amount
	}
	id := fmt.Sprintf("%s%s:%s:%s=%d", kind, state.Month, state.LineKey, total, n)
	if len(id) > billow.TransferIDMaxBytes {
		sum := sha256.Sum256([]byte(state.LineKey))
		id = fmt.Sprintf("%s%s:sha256-%x:%s=%d", kind, state.Month, sum[:16], total, n)
	}
	return id
}

// movementDescription is what the transactions list shows for a line's claimed movement.
// It depends on the claim only, so that posting it again asks the ledger for the very
// same transfer.
func movementDescription(state billow.UsageCharge) string {
	key := state.LineKey
	if len(key) > descriptionLineKeyBytesMax {
		cut := descriptionLineKeyBytesMax
		for cut > 0 && !utf8.RuneStart(key[cut]) {
			cut--
		}
		key = key[:cut] + "…"
	}
	if state.PendingUcr < 0 {
		return fmt.Sprintf("Usage correction: %s in %s was rated lower after late events", key, state.Month)
	}
	return fmt.Sprintf("Usage: %s in %s", key, state.Month)
}

// wallet is what one run knows of an account's wallet: read when a line first needs to
// debit, then kept up to date with the run's own movements.
type wallet struct {
	store     Store
	accountID string
	known     bool
	ucr       int64 // what the wallet can pay, when known
}

// spendable returns what the wallet can pay now: its balance plus what its grace buffer
// still allows. The balance counts the overdraft (0 or below); the overdraft may go down
// to minus the grace buffer, or stay where it is if the buffer has shrunk below it.
func (w *wallet) spendable(ctx context.Context) (int64, error) {
	if !w.known {
		wl, err := w.store.Wallet(ctx, w.accountID)
		if err != nil {
			return 0, err
		}
		w.ucr, w.known = max(0, wl.BalanceUcr+max(wl.GraceUcr, wl.OverdrawnUcr)), true
	}
	return w.ucr, nil
}

// moved updates what the wallet can pay after a movement of the run: a spend (amount
// above 0) takes from it, a correction gives back.
func (w *wallet) moved(amount int64) {
	if w.known {
		w.ucr = max(0, w.ucr-amount)
	}
}

// forget makes the next line read the wallet again.
func (w *wallet) forget() { w.known = false }
