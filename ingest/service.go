package ingest

import (
	"context"
	"fmt"
	"slices"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
)

// Store is what ingest needs of storage.
type Store interface {
	Account(ctx context.Context, ref string) (*billow.Account, error)
	AllApps(ctx context.Context, accountID string) ([]*billow.App, error)
	AccountCatalog(ctx context.Context, a *billow.Account) (*catalog.Catalog, error)
	// InsertEvents stores events not stored yet, in one transaction, and returns the
	// indexes (into events) of those already stored with the same content (duplicates)
	// and with other content (conflicts: the first one is kept).
	InsertEvents(ctx context.Context, events []billow.UsageEvent) (duplicates, conflicts []int, err error)
}

// Service validates and stores usage events.
type Service struct {
	store    Store
	clock    billow.Clock
	onStored func(accountIDs []string)
}

// Option configures a Service.
type Option func(*Service)

// OnStored has fn told, after each commit that stored new events, the ids of the
// accounts they belong to (each once): how the charger hears of usage within seconds. fn
// runs on the request's goroutine before the response is sent, so it must not block.
func OnStored(fn func(accountIDs []string)) Option {
	return func(s *Service) { s.onStored = fn }
}

// New returns an ingest service.
func New(store Store, clock billow.Clock, opts ...Option) *Service {
	s := &Service{store: store, clock: clock}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// Ingest validates events and stores the valid ones in one transaction; it returns after
// the commit. A caller scoped to one account may send events of that account only; any
// other subject is unknown to it.
func (s *Service) Ingest(ctx context.Context, caller billow.Principal, events []CloudEvent) (*billow.IngestResult, error) {
	if len(events) > billow.EventBatchMax {
		return nil, billow.Errorf(billow.KindTooLarge, billow.CodeBatchTooLarge, "a request carries at most %d events", billow.EventBatchMax)
	}
	now := s.clock.Now()
	result := &billow.IngestResult{Rejected: []billow.RejectedEvent{}}
	tenants := map[string]*tenant{}
	valid := make([]billow.UsageEvent, 0, len(events))
	validIndex := make([]int, 0, len(events)) // index in the request of each valid event
	for i := range events {
		e := &events[i]
		t, rej := s.check(ctx, caller, e, tenants)
		if rej == nil {
			var ev billow.UsageEvent
			ev, rej = validate(e, t, now)
			if rej == nil {
				valid = append(valid, ev)
				validIndex = append(validIndex, i)
				continue
			}
		}
		if rej.code == billow.CodeInternal {
			return nil, fmt.Errorf("ingest: %s", rej.detail)
		}
		result.Rejected = append(result.Rejected, billow.RejectedEvent{Index: i, Code: rej.code, Detail: rej.detail})
	}
	if len(valid) > 0 {
		duplicates, conflicts, err := s.store.InsertEvents(ctx, valid)
		if err != nil {
			return nil, err
		}
		result.Duplicates = len(duplicates)
		result.Accepted = len(valid) - len(duplicates) - len(conflicts)
		for _, c := range conflicts {
			result.Rejected = append(result.Rejected, billow.RejectedEvent{Index: validIndex[c], Code: billow.CodeConflictingDuplicate,
				Detail: fmt.Sprintf("event %q from %q was stored before with other content; the first one is kept", valid[c].ID, valid[c].Source)})
		}
		if s.onStored != nil && result.Accepted > 0 {
			s.onStored(storedAccounts(valid, duplicates, conflicts))
		}
	}
	slices.SortFunc(result.Rejected, func(a, b billow.RejectedEvent) int { return a.Index - b.Index })
	return result, nil
}

// storedAccounts returns the accounts of the events stored, those neither duplicates
// nor conflicts, each once.
func storedAccounts(events []billow.UsageEvent, duplicates, conflicts []int) []string {
	notStored := map[int]bool{}
	for _, i := range slices.Concat(duplicates, conflicts) {
		notStored[i] = true
	}
	var out []string
	seen := map[string]bool{}
	for i := range events {
		if id := events[i].AccountID; !notStored[i] && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// check validates the envelope and resolves the subject's tenant, caching it per request.
func (s *Service) check(ctx context.Context, caller billow.Principal, e *CloudEvent, tenants map[string]*tenant) (*tenant, *rejection) {
	switch {
	case e.SpecVersion != "1.0":
		return nil, reject(billow.CodeInvalidSpecVersion, "specversion must be \"1.0\", not %q", e.SpecVersion)
	case e.ID == "":
		return nil, reject(billow.CodeMissingAttribute, "the event has no id")
	case e.Source == "":
		return nil, reject(billow.CodeMissingAttribute, "the event has no source")
	case e.Type == "":
		return nil, reject(billow.CodeMissingAttribute, "the event has no type")
	case e.Subject == "":
		return nil, reject(billow.CodeMissingAttribute, "the event has no subject: the account's external id")
	case e.Time == "":
		return nil, reject(billow.CodeMissingAttribute, "the event has no time")
	}
	for _, a := range []struct{ name, value string }{{"id", e.ID}, {"source", e.Source}, {"type", e.Type}, {"subject", e.Subject}} {
		if len(a.value) > billow.EventAttributeMaxBytes {
			return nil, reject(billow.CodeInvalidAttribute, "%s is longer than %d bytes", a.name, billow.EventAttributeMaxBytes)
		}
	}
	t, seen := tenants[e.Subject]
	if !seen {
		var err error
		t, err = s.tenant(ctx, caller, e.Subject)
		if err != nil {
			return nil, &rejection{code: billow.CodeInternal, detail: err.Error()}
		}
		tenants[e.Subject] = t
	}
	if t == nil {
		return nil, reject(billow.CodeUnknownSubject, "subject %q is not the external id of an account", e.Subject)
	}
	return t, nil
}

// tenant loads an account with its apps and catalog; nil when the subject names no
// account the caller may see.
func (s *Service) tenant(ctx context.Context, caller billow.Principal, subject string) (*tenant, error) {
	a, err := s.store.Account(ctx, subject)
	if billow.ErrorCode(err) == billow.CodeNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !caller.CanSee(a.ID) {
		return nil, nil
	}
	apps, err := s.store.AllApps(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	cat, err := s.store.AccountCatalog(ctx, a)
	if err != nil {
		return nil, err
	}
	t := &tenant{account: a, apps: make(map[string]*billow.App, 2*len(apps)), catalog: cat, customTypes: customRules(cat)}
	for _, app := range apps {
		t.apps[app.ExternalID], t.apps[app.ID] = app, app
	}
	return t, nil
}
