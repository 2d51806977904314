// Package checks answers, from memory, whether an account may go ahead: start a
// conversation, call an LLM, deploy or create an app, ingest bytes, or use another seat,
// call line or phone number. It owns the in-memory state of each account the answers
// are read from, how that state is loaded from the store, and how it follows changes
// made by this process and by others sharing the database.
//
// Consistency: a check reads a snapshot of its account that is at most PollInterval
// (plus the time of one poll) behind the store for wallets, plans and apps, whichever
// process made the change, and at most QuotaInterval behind for ingestion quotas. A
// check is advice given before work starts; the ledger decides every spend and hold in
// its own transactions, so a stale "allowed" never spends credits twice.
package checks

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
)

// Store is what the checker reads.
type Store interface {
	Account(ctx context.Context, ref string) (*billow.Account, error)
	AccountCatalog(ctx context.Context, a *billow.Account) (*catalog.Catalog, error)
	Wallet(ctx context.Context, accountRef string) (*billow.Wallet, error)
	AllApps(ctx context.Context, accountID string) ([]*billow.App, error)
	Usage(ctx context.Context, in billow.UsageQueryInput) (*billow.UsageResult, error)
	LedgerHead(ctx context.Context) (int64, error)
	LedgerChangesSince(ctx context.Context, seq int64) (accountIDs []string, head int64, more bool, err error)
	AccountsChangedSince(ctx context.Context, since time.Time) (accountIDs []string, more bool, err error)
}

// Limits and intervals of the checker.
const (
	// PollIntervalDefault is how often the checker looks for changes in the store.
	PollIntervalDefault = 500 * time.Millisecond
	// QuotaIntervalDefault is how often the quota usage of accounts checked lately is read again.
	QuotaIntervalDefault = 5 * time.Second
	// changeOverlap re-reads accounts changed this long before the last poll: a
	// transaction stamps updated_at before it commits, and clocks of processes differ.
	changeOverlap = 5 * time.Second
	// accountsMax bounds the accounts held in memory; beyond it the least recently
	// checked are dropped and loaded again when asked for.
	accountsMax = 1_000_000
	// loadTimeout bounds one load of an account, which the first checks of that account
	// share: it does not end when one of those callers gives up.
	loadTimeout = 10 * time.Second
	// quotaActiveWindow is how long after its last ingest_bytes check an account's quota
	// usage keeps being refreshed.
	quotaActiveWindow = time.Minute
)

// Entitlement keys the seat-like actions read (the shipped catalogs' names).
var actionEntitlements = map[billow.CheckAction]string{
	billow.ActionCreateApp:      "agent_slots",
	billow.ActionWorkspaceSeats: "workspace_seats",
	billow.ActionClientSeats:    "client_seats",
	billow.ActionCallLines:      "concurrent_call_lines",
	billow.ActionPhoneNumbers:   "phone_numbers",
}

// ingestEventType is the event type whose bytes the ingestion quota counts.
const ingestEventType = "search.ingested"

// Config configures a Checker.
type Config struct {
	Store         Store
	Clock         billow.Clock
	Logger        *slog.Logger
	PollInterval  time.Duration // PollIntervalDefault if 0
	QuotaInterval time.Duration // QuotaIntervalDefault if 0
}

// Checker answers checks from memory.
type Checker struct {
	store         Store
	clock         billow.Clock
	logger        *slog.Logger
	pollInterval  time.Duration
	quotaInterval time.Duration

	mu         sync.RWMutex // protects the following fields
	byRef      map[string]*account
	ledgerSeq  int64
	lastPolled time.Time

	loads sync.Map // account ref → *loading: one load of an account at a time
}

// account is what a check reads of one account: replaced whole, never changed in place,
// so that a check reads it without a lock once it holds the pointer.
type account struct {
	id, externalID string
	plan           *catalog.Plan // nil: no active plan
	suspended      bool          // unpaid past the grace period: everything is refused
	prepaid        bool          // the plan bills usage in credits
	wallet         *billow.Wallet
	apps           map[string]bool // ids and external ids
	appCount       int64
	// quota is the ingestion quota with its usage in the current period; nil when the
	// plan has none.
	quota    *quota
	loadedAt time.Time
	// seq is the ledger's head when the load began: the snapshot reflects every transfer
	// up to it.
	seq int64
	// lastChecked is when an ingest_bytes check last read this account (unix nanos).
	lastQuotaCheck *atomicTime
}

type quota struct {
	limit catalog.Limit
	meter string
	used  int64
}

type loading struct {
	done chan struct{}
	acct *account
	err  error
}

// New returns a Checker; call Run to follow changes in the store.
func New(cfg Config) *Checker {
	c := &Checker{store: cfg.Store, clock: cfg.Clock, logger: cfg.Logger, pollInterval: cfg.PollInterval, quotaInterval: cfg.QuotaInterval,
		byRef: map[string]*account{}}
	if c.pollInterval <= 0 {
		c.pollInterval = PollIntervalDefault
	}
	if c.quotaInterval <= 0 {
		c.quotaInterval = QuotaIntervalDefault
	}
	return c
}

// Check answers whether the account may do what in asks. Only a store error on the first
// check of an account (while it is loaded) is an error; every refusal is an answer.
//
// Errors: validation_failed, not_found (the account).
func (c *Checker) Check(ctx context.Context, in billow.CheckInput) (*billow.CheckResult, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	a, err := c.account(ctx, in.Account)
	if err != nil {
		return nil, err
	}
	return c.decide(a, in), nil
}

// AccountID returns the id of the account a reference names, from memory when it can:
// the HTTP layer checks tenancy with it.
//
// Errors: not_found.
func (c *Checker) AccountID(ctx context.Context, ref string) (string, error) {
	a, err := c.account(ctx, ref)
	if err != nil {
		return "", err
	}
	return a.id, nil
}

// decide answers a check from an account's state. It reads nothing else.
func (c *Checker) decide(a *account, in billow.CheckInput) *billow.CheckResult {
	r := &billow.CheckResult{Allowed: true, Code: billow.CodeAllowed, AsOf: a.loadedAt.UTC().Format(time.RFC3339Nano)}
	refuse := func(code, format string, args ...any) *billow.CheckResult {
		r.Allowed, r.Code, r.Detail = false, code, fmt.Sprintf(format, args...)
		return r
	}
	if a.plan == nil {
		return refuse(billow.CodeNoActivePlan, "account %s has no active plan", a.externalID)
	}
	if a.suspended {
		return refuse(billow.CodeAccountSuspended, "account %s is suspended until its open invoice is paid", a.externalID)
	}
	w := a.wallet
	switch in.Action {
	case billow.ActionStartConversation:
		// Running conversations finish; a new one starts only above minus the buffer.
		if a.prepaid && w.BalanceUcr <= -w.GraceUcr {
			return refuse(billow.CodeInsufficientCredits, "the wallet holds %s credits, at or below its grace buffer of %s",
				billow.CreditsText(w.BalanceUcr), billow.CreditsText(w.GraceUcr))
		}
	case billow.ActionLLMCall:
		if a.prepaid && w.BalanceUcr-in.Quantity < -w.GraceUcr {
			return refuse(billow.CodeInsufficientCredits, "the wallet holds %s credits and cannot pay an estimated %s",
				billow.CreditsText(w.BalanceUcr), billow.CreditsText(in.Quantity))
		}
	case billow.ActionDeployApp:
		if !a.apps[in.App] {
			return refuse(billow.CodeUnknownApp, "account %s has no app %q", a.externalID, in.App)
		}
		if err := billow.CanDeploy(w, c.clock.Now()); err != nil {
			return refuse(billow.ErrorCode(err), "%s", err.Error())
		}
	case billow.ActionIngestBytes:
		a.lastQuotaCheck.set(c.clock.Now())
		q := a.quota
		if q == nil {
			return r
		}
		used, limit := q.used, q.limit.HardLimit
		r.Limit, r.Used = &limit, &used
		if used+in.Quantity > limit {
			return refuse(billow.CodeQuotaExceeded, "%d of %d bytes of the ingestion quota are used (%d with the allowance); %d more do not fit",
				used, q.limit.Limit, limit, in.Quantity)
		}
	default: // the entitlement counts
		key := actionEntitlements[in.Action]
		limit := a.plan.Quantity(key)
		want := in.Quantity
		if in.Action == billow.ActionCreateApp {
			want = a.appCount + max(in.Quantity, 1)
		}
		r.Limit, r.Used = &limit, &want
		switch {
		case limit == 0:
			return refuse(billow.CodeNotEntitled, "plan %s includes no %s", a.plan.Key, key)
		case want > limit:
			return refuse(billow.CodeLimitReached, "%d %s would be in use; plan %s includes %d", want, key, a.plan.Key, limit)
		}
	}
	return r
}

// account returns an account's state, loading it on first use. Concurrent first checks
// of one account share one load.
func (c *Checker) account(ctx context.Context, ref string) (*account, error) {
	c.mu.RLock()
	a := c.byRef[ref]
	c.mu.RUnlock()
	if a != nil {
		return a, nil
	}
	l := &loading{done: make(chan struct{})}
	if other, loaded := c.loads.LoadOrStore(ref, l); loaded {
		l = other.(*loading)
		select {
		case <-l.done:
			return l.acct, l.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	defer func() {
		close(l.done)
		c.loads.Delete(ref)
	}()
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
	defer cancel()
	l.acct, l.err = c.load(lctx, ref)
	if l.err == nil {
		c.put(l.acct)
	}
	return l.acct, l.err
}

// put keeps an account's state under its id and its external id.
func (c *Checker) put(a *account) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.byRef) >= 2*accountsMax {
		c.byRef = map[string]*account{} // rare: start again rather than track recency on the hot path
	}
	if old := c.byRef[a.id]; old != nil {
		a.lastQuotaCheck = old.lastQuotaCheck // keep following a quota checked lately
	}
	c.byRef[a.id], c.byRef[a.externalID] = a, a
}

// load reads an account's state from the store.
func (c *Checker) load(ctx context.Context, ref string) (*account, error) {
	now := c.clock.Now()
	// The head first: whatever the reads below see is at least as new as it.
	seq, err := c.store.LedgerHead(ctx)
	if err != nil {
		return nil, err
	}
	acct, err := c.store.Account(ctx, ref)
	if err != nil {
		return nil, err
	}
	cat, err := c.store.AccountCatalog(ctx, acct)
	if err != nil {
		return nil, err
	}
	w, err := c.store.Wallet(ctx, acct.ID)
	if err != nil {
		return nil, err
	}
	a := &account{id: acct.ID, externalID: acct.ExternalID, wallet: w,
		apps: map[string]bool{}, loadedAt: now, seq: seq, lastQuotaCheck: &atomicTime{},
		suspended: acct.SubscriptionStatus == billow.SubscriptionSuspended}
	if acct.Plan != "" {
		if p, ok := cat.Plan(acct.Plan); ok {
			a.plan = p
			for _, r := range p.Rates {
				a.prepaid = a.prepaid || r.BilledIn == catalog.BilledInCredits
			}
			a.quota = ingestQuota(cat, p)
		}
	}
	apps, err := c.store.AllApps(ctx, acct.ID)
	if err != nil {
		return nil, err
	}
	for _, app := range apps {
		a.apps[app.ID], a.apps[app.ExternalID] = true, true
	}
	a.appCount = int64(len(apps))
	if a.quota != nil {
		if err := c.readQuota(ctx, acct, a.quota, now); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// ingestQuota returns the plan's limit on a meter of ingested bytes, if it has one.
func ingestQuota(cat *catalog.Catalog, p *catalog.Plan) *quota {
	for _, l := range p.Limits {
		m, ok := cat.Meter(l.Meter)
		if ok && m.Aggregation == catalog.AggregationSum && len(m.EventTypes) == 1 && m.EventTypes[0] == ingestEventType {
			return &quota{limit: l, meter: m.Key}
		}
	}
	return nil
}

// readQuota reads the quota's usage in its current period: this month in the account's
// time zone, or everything since the account began.
func (c *Checker) readQuota(ctx context.Context, acct *billow.Account, q *quota, now time.Time) error {
	// A total reads at most the longest range the store answers; quotas are monthly in
	// the shipped catalogs.
	from := acct.CreatedAt
	if earliest := now.Add(-billow.UsageRangeMax).Add(2 * time.Hour); from.Before(earliest) {
		from = earliest
	}
	if q.limit.Period == catalog.PeriodMonth {
		zone, err := time.LoadLocation(acct.Timezone)
		if err != nil {
			return err
		}
		local := now.In(zone)
		from = time.Date(local.Year(), local.Month(), 1, 0, 0, 0, 0, zone)
	}
	res, err := c.store.Usage(ctx, billow.UsageQueryInput{Account: acct.ID, Meter: q.meter, From: from, To: now.Add(time.Hour), Window: billow.UsageWindowNone})
	if err != nil {
		return err
	}
	q.used = 0
	for _, v := range res.Data {
		q.used += v.Value.Decimal().IntPart()
	}
	return nil
}

// atomicTime is a time read and written without a lock.
type atomicTime struct{ nanos atomic.Int64 }

func (t *atomicTime) set(at time.Time) { t.nanos.Store(at.UnixNano()) }
func (t *atomicTime) get() time.Time   { return time.Unix(0, t.nanos.Load()) }

// Run follows changes in the store until ctx ends: every PollInterval it reloads the
// accounts whose wallets moved (the ledger's head tells) or that changed, with their
// apps; every QuotaInterval it reads again the quota usage of accounts checked for
// ingest_bytes lately.
func (c *Checker) Run(ctx context.Context) {
	poll := time.NewTicker(c.pollInterval)
	defer poll.Stop()
	quotas := time.NewTicker(c.quotaInterval)
	defer quotas.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
			if err := c.Poll(ctx); err != nil && ctx.Err() == nil {
				c.logger.Warn("checks: poll for changes failed", "err", err)
			}
		case <-quotas.C:
			if err := c.RefreshQuotas(ctx); err != nil && ctx.Err() == nil {
				c.logger.Warn("checks: quota refresh failed", "err", err)
			}
		}
	}
}

// Poll reloads the accounts held in memory that changed in the store since the last
// poll, and those loaded from a ledger older than the last poll's (their load raced with
// it, and it skipped them). An account that fails to load is dropped, to load again on
// its next check; the others go on.
func (c *Checker) Poll(ctx context.Context) error {
	c.mu.RLock()
	prev, last := c.ledgerSeq, c.lastPolled
	c.mu.RUnlock()
	started := c.clock.Now()
	var ids []string
	var head int64
	var tooMany bool
	var err error
	threshold := prev
	if last.IsZero() {
		// The first poll learns where the log is, without reading it: accounts loaded
		// before it from an older head are reloaded below.
		if head, err = c.store.LedgerHead(ctx); err != nil {
			return err
		}
		threshold, last = head, started
	} else if ids, head, tooMany, err = c.store.LedgerChangesSince(ctx, prev); err != nil {
		return err
	}
	changed, more, err := c.store.AccountsChangedSince(ctx, last.Add(-changeOverlap))
	if err != nil {
		return err
	}
	if tooMany || more {
		// Too many changes to list: forget every account; each loads again, fresh, on
		// its next check. Cheaper than reloading all of them now.
		c.mu.Lock()
		c.byRef = map[string]*account{}
		c.ledgerSeq, c.lastPolled = head, started
		c.mu.Unlock()
		return nil
	}
	ids = append(ids, changed...)
	held := map[string]bool{}
	c.mu.RLock()
	for ref, a := range c.byRef {
		if ref == a.id {
			held[a.id] = true
			if a.seq < threshold {
				ids = append(ids, a.id)
			}
		}
	}
	c.mu.RUnlock()
	slices.Sort(ids)
	for _, id := range slices.Compact(ids) {
		if !held[id] {
			continue // loaded on its first check, fresh then
		}
		a, err := c.load(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if billow.ErrorKindOf(err) != billow.KindNotFound {
				c.logger.Warn("checks: reloading an account failed; it loads again on its next check", "account", id, "err", err)
			}
			c.drop(id)
			continue
		}
		c.put(a)
	}
	c.mu.Lock()
	c.ledgerSeq, c.lastPolled = head, started
	c.mu.Unlock()
	return nil
}

// RefreshQuotas reads again the ingestion quota usage of the accounts checked for
// ingest_bytes within quotaActiveWindow.
func (c *Checker) RefreshQuotas(ctx context.Context) error {
	now := c.clock.Now()
	var due []*account
	c.mu.RLock()
	for ref, a := range c.byRef {
		if ref == a.id && a.quota != nil && now.Sub(a.lastQuotaCheck.get()) < quotaActiveWindow {
			due = append(due, a)
		}
	}
	c.mu.RUnlock()
	for _, a := range due {
		// A fresh load keeps the state whole: quota, wallet and apps as of one poll.
		fresh, err := c.load(ctx, a.id)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			c.logger.Warn("checks: reading a quota failed; the account loads again on its next check", "account", a.id, "err", err)
			c.drop(a.id)
			continue
		}
		c.put(fresh)
	}
	return nil
}

func (c *Checker) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a, ok := c.byRef[id]; ok {
		delete(c.byRef, a.id)
		delete(c.byRef, a.externalID)
	}
}
