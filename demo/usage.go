package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"iter"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/ingest"
)

// Shape of the generated usage, named with their unit last.
const (
	// UsageHistoryDays is how much history `billow serve --demo` generates.
	UsageHistoryDays = 90
	// UsageSource is the CloudEvents source of every generated event. With the event's id
	// (its local day and its place in that day) it is the key that makes a reload of the
	// demo a duplicate rather than more usage.
	UsageSource = "demo"
	// usageSeed fixes the demo's history: every start shows the same usage.
	usageSeed = 2026
	// usageScaleDemo is the demo's volume: about 140,000 events for the four accounts
	// over 90 days, so that `serve --demo` is ready in seconds.
	usageScaleDemo = 1.0
	// usageReferenceDays is the history the profiles' daily rates are written for: the
	// rates are those of the last day of a 90-day history; earlier days are smaller.
	usageReferenceDays = 90
	// usageGrowthPerMonth is how fast every account's usage grows.
	usageGrowthPerMonth = 0.12
	// usageProgressInterval is how often loading logs its progress.
	usageProgressInterval = 5 * time.Second
	// usageRejectionsLoggedMax bounds the rejected events logged per account: one shows
	// the bug, a thousand hide the rest of the log.
	usageRejectionsLoggedMax = 5

	conversationMinutesMax  = 40
	conversationMinutesMean = 8
	// conversationMessageMinutesMean spaces messages well inside the catalogs' 30-minute
	// idle timeout, so that one generated conversation is one conversation to the meters.
	conversationMessageMinutesMean = 3.5
	callMinutesMax                 = 30
	callGapMinutesMin              = 0.5
	shiftHours                     = 8
	// shiftHandoverMinutesMax is how late an agent logs in after the shift starts and how
	// early one logs out before it ends: shifts do not overlap, so concurrent seats are
	// one shift's agents, as in the seed's "50 agents per shift over 3 shifts = 50 seats".
	shiftHandoverMinutesMax = 10
	// agentForgetsLogoutShare is the logins left without a logout: the concurrency meter's
	// heartbeat timeout ends them.
	agentForgetsLogoutShare = 0.04
	// agentWeekdayPresenceShare is the agents of a shift who work on a given weekday.
	agentWeekdayPresenceShare = 0.93
	// ownModelShare is, of the calls made with the customer's own key, those on a model
	// the catalog does not price: with byo_key they are accepted all the same.
	ownModelShare = 0.3

	// ingestedBytesLimitShare is how much of the plan's ingested_bytes limit the history
	// may use: a demo account far from its quota.
	ingestedBytesLimitShare = 0.4
	// ingestedBytesBudgetDefault is the budget where the plan sets no limit.
	ingestedBytesBudgetDefault = 200_000_000
	// ingestedBytesFirstImportShare is the budget share of the knowledge base's first
	// import, on the first day; daily updates use ingestedBytesDailyShare of it over the
	// reference history.
	ingestedBytesFirstImportShare = 0.3
	ingestedBytesDailyShare       = 0.5
)

// Ingester stores usage events: *ingest.Service.
type Ingester interface {
	Ingest(ctx context.Context, caller billow.Principal, events []ingest.CloudEvent) (*billow.IngestResult, error)
}

// Usage returns the extension that loads days of usage history for every demo account:
// conversations (some routed from a parent app to its linked app), API clients, voice,
// agent shifts, calls, ingestion and LLM calls, at business hours in each account's time
// zone. Every event goes through ingest, as a platform's would.
//
// The history starts days before the account was created and runs to the clock's now. A
// day's events depend only on the day, so a restart sends the same events again, which
// are duplicates, and adds those of the time since the last start. It resends the whole
// history rather than stop at a first batch of duplicates: an earlier start may have been
// stopped half-way, and only a resend finds what it did not store (on a restart the
// duplicates cost about half of a first load).
func Usage(ingester Ingester, clock billow.Clock, logger *slog.Logger, days int) Extension {
	return func(ctx context.Context, d *Data) error {
		catalogs := map[string]*catalog.Catalog{}
		for _, a := range d.Accounts {
			cat, ok := catalogs[a.Catalog]
			if !ok {
				var err error
				if cat, err = catalog.ParseExample(a.Catalog); err != nil {
					logger.Warn("demo usage skipped: the account's catalog is not a shipped example", "account", a.ExternalID, "error", err)
					continue
				}
				catalogs[a.Catalog] = cat
			}
			spec, err := NewUsageSpec(a, d.Apps[a.ID], cat, usageScaleDemo)
			if err != nil {
				logger.Warn("demo usage skipped", "account", a.ExternalID, "error", err)
				continue
			}
			now := clock.Now()
			history := days + localDaysBetween(a.CreatedAt, now, spec.Location)
			if err := loadUsage(ctx, ingester, clock, logger, a.ExternalID, UsageEvents(spec, usageSeed, now, history)); err != nil {
				return fmt.Errorf("demo: usage of %s: %w", a.ExternalID, err)
			}
		}
		return nil
	}
}

// loadUsage sends one account's events in batches and logs what became of them.
func loadUsage(ctx context.Context, ingester Ingester, clock billow.Clock, logger *slog.Logger, account string, events iter.Seq[ingest.CloudEvent]) error {
	// The demo acts as the operator: it may report usage of every account.
	caller := billow.Principal{KeyID: "demo"}
	started := clock.Now()
	lastProgress := started
	var sent, accepted, duplicates, rejected int
	batch := make([]ingest.CloudEvent, 0, billow.EventBatchMax)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		res, err := ingester.Ingest(ctx, caller, batch)
		if err != nil {
			return err
		}
		if sent == 0 && res.Duplicates == len(batch) {
			logger.Info("demo usage found from an earlier start: resending it, its events count once", "account", account)
		}
		for _, r := range res.Rejected {
			if rejected < usageRejectionsLoggedMax {
				logger.Warn("demo usage event rejected", "account", account, "id", batch[r.Index].ID, "type", batch[r.Index].Type, "code", r.Code, "detail", r.Detail)
			}
			rejected++
		}
		sent += len(batch)
		accepted += res.Accepted
		duplicates += res.Duplicates
		batch = batch[:0]
		if now := clock.Now(); now.Sub(lastProgress) >= usageProgressInterval {
			lastProgress = now
			logger.Info("demo usage loading", "account", account, "events", sent, "accepted", accepted, "duplicates", duplicates)
		}
		return nil
	}
	for e := range events {
		batch = append(batch, e)
		if len(batch) == billow.EventBatchMax {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	logger.Info("demo usage loaded", "account", account, "events", sent, "accepted", accepted, "duplicates", duplicates,
		"rejected", rejected, "took", clock.Now().Sub(started).Round(time.Millisecond))
	return nil
}

// localDaysBetween counts the calendar days from from's day to to's day in loc.
func localDaysBetween(from, to time.Time, loc *time.Location) int {
	date := func(t time.Time) time.Time {
		y, m, d := t.In(loc).Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) // UTC: whole days, no DST
	}
	return max(0, int(date(to).Sub(date(from))/(24*time.Hour)))
}

// UsageSpec is one account as the usage generator sees it: who it is, where its business
// hours are, what its apps do, and what its catalog and plan allow. NewUsageSpec builds it.
type UsageSpec struct {
	Subject  string         // the account's external id
	Location *time.Location // business hours are the account's
	// Scale multiplies every daily rate (and the agents per shift): 1 is the demo's
	// volume; a benchmark asks for more.
	Scale float64

	profile  usageProfile        // filtered to the account's apps
	linked   map[string][]string // linked apps by parent app (external ids)
	models   []modelShare        // priced by the catalog
	byoShare float64             // of the LLM calls, those made with the customer's own key
	// agentProducts are the event products of the seats the plan sells.
	agentProducts []string
	callLines     int // in the plan's entitlement, before the scale
	// ingestedBytesBudget is what the reference history may ingest, under the plan's limit.
	ingestedBytesBudget int64
}

// NewUsageSpec describes a demo account for UsageEvents. It keeps only what the account's
// apps, catalog and plan accept: routing where an app has linked apps, models the catalog
// prices, own keys where the plan allows them, seats where the plan sells them, call
// lines within the plan's entitlement, ingestion under the plan's limit.
func NewUsageSpec(a *billow.Account, apps []*billow.App, cat *catalog.Catalog, scale float64) (UsageSpec, error) {
	profile, ok := usageProfiles()[a.ExternalID]
	if !ok {
		return UsageSpec{}, fmt.Errorf("no usage profile for account %q", a.ExternalID)
	}
	plan, ok := cat.Plan(a.Plan)
	if !ok {
		return UsageSpec{}, fmt.Errorf("catalog %q has no plan %q", a.Catalog, a.Plan)
	}
	loc, err := time.LoadLocation(a.Timezone)
	if err != nil {
		return UsageSpec{}, fmt.Errorf("time zone of %s: %w", a.ExternalID, err)
	}
	if !(scale > 0) {
		return UsageSpec{}, fmt.Errorf("usage scale must be above 0, not %v", scale)
	}
	s := UsageSpec{Subject: a.ExternalID, Location: loc, Scale: scale, linked: map[string][]string{}}

	byID := map[string]string{}
	has := map[string]bool{}
	for _, app := range apps {
		byID[app.ID], has[app.ExternalID] = app.ExternalID, true
	}
	for _, app := range apps {
		if parent, ok := byID[app.ParentApp]; ok {
			s.linked[parent] = append(s.linked[parent], app.ExternalID)
		}
	}
	s.profile = profile
	s.profile.conversations = slices.DeleteFunc(slices.Clone(profile.conversations), func(c conversationMix) bool { return !has[c.app] })
	s.profile.apiClients = slices.DeleteFunc(slices.Clone(profile.apiClients), func(c apiClientMix) bool { return !has[c.app] })
	s.profile.ingestion = slices.DeleteFunc(slices.Clone(profile.ingestion), func(c ingestionMix) bool { return !has[c.app] })
	if profile.calls != nil && !has[profile.calls.app] {
		s.profile.calls = nil
	}

	for _, m := range profile.models {
		if _, priced := cat.ProviderCosts.LLMCost(m.provider, m.model); priced {
			s.models = append(s.models, m)
		}
	}
	if len(s.models) == 0 { // another catalog's table: its models, evenly
		for _, c := range cat.ProviderCosts.LLM {
			s.models = append(s.models, modelShare{c.Provider, c.Model, 1})
		}
	}
	// A catalog that sells own keys as an entitlement allows them only on the plans that
	// grant it; one that does not mention them lets every customer bring their own.
	s.byoShare = profile.byoShare
	if _, declared := cat.Entitlement("byo_api_keys"); declared && !plan.Flag("byo_api_keys") {
		s.byoShare = 0
	}

	for _, p := range []struct{ catalogProduct, eventProduct string }{{"contact_center_ai", "contact_center"}, {"agent_ai", "agent_ai"}} {
		if slices.Contains(plan.Products, p.catalogProduct) {
			s.agentProducts = append(s.agentProducts, p.eventProduct)
		}
	}

	if s.profile.calls != nil {
		lines := int64(profile.calls.lines)
		if _, declared := cat.Entitlement("concurrent_call_lines"); declared {
			lines = plan.Quantity("concurrent_call_lines")
		}
		s.callLines = int(lines)
	}

	s.ingestedBytesBudget = ingestedBytesBudgetDefault
	for _, l := range plan.Limits {
		if l.Meter == "ingested_bytes" {
			s.ingestedBytesBudget = int64(float64(l.Limit) * ingestedBytesLimitShare)
		}
	}
	if profile.ingestedBytesBudgetMax > 0 {
		s.ingestedBytesBudget = min(s.ingestedBytesBudget, profile.ingestedBytesBudgetMax)
	}
	return s, nil
}

// usageProfile is what one account's apps do on an ordinary weekday at the end of the
// reference history, before the spec's scale.
type usageProfile struct {
	hours         [24]float64 // relative activity per local hour
	weekendShare  float64     // a Saturday's activity relative to a weekday's; a Sunday has 80% of it
	conversations []conversationMix
	apiClients    []apiClientMix
	calls         *callMix
	// agentsPerShift work each of the three 8-hour shifts, where the plan sells seats.
	agentsPerShift int
	agentAIShare   float64 // of them, those who also log in to Agent AI
	ingestion      []ingestionMix
	// ingestedBytesBudgetMax caps the ingestion budget below the plan's limit: a small
	// knowledge base is smaller than the plan allows.
	ingestedBytesBudgetMax int64
	models                 []modelShare
	byoShare               float64
}

type conversationMix struct {
	app         string
	perDay      float64
	channels    []string // picked evenly; "voice" adds speech to every message
	routedShare float64  // of the conversations, those handed to a linked app, where the app has one
	endedShare  float64  // those ended explicitly; the others are left to the idle timeout
	llmShare    float64  // of the messages, those answered with an LLM call
}

type apiClientMix struct {
	app, client      string
	burstsPerDay     float64
	requestsPerBurst int
	nightlyHour      int // -1: bursts follow the business hours; else a nightly job at this local hour, weekends too
	llmShare         float64
}

type callMix struct {
	app string
	// lines is how many calls may be in progress at once where the catalog has no
	// concurrent_call_lines entitlement.
	lines                        int
	firstHour, lastHour          int // local hours the phone line is open
	gapMinutesMean               float64
	minutesMean                  float64
	llmShare                     float64 // of the caller's turns, those answered with an LLM call
	sttSecondsMax, ttsSecondsMax float64 // how long a caller speaks, and the agent answers
}

type ingestionMix struct {
	app    string
	perDay float64
}

type modelShare struct {
	provider, model string
	weight          float64
}

// ownModels are models a customer may call with its own key that no shipped catalog prices.
func ownModels() []modelShare {
	return []modelShare{{"mistral", "mistral-large", 1}, {"meta", "llama-3.1-70b", 1}}
}

// officeHours is a business day: a morning ramp, a lunch dip, a quiet night.
func officeHours() [24]float64 {
	return [24]float64{0.03, 0.02, 0.02, 0.02, 0.03, 0.08, 0.2, 0.45, 0.85, 1, 1, 1, 0.8, 0.95, 1, 1, 0.9, 0.7, 0.45, 0.3, 0.22, 0.15, 0.1, 0.05}
}

// shopHours is a business serving consumers: busy from late morning into the evening.
func shopHours() [24]float64 {
	return [24]float64{0.05, 0.03, 0.02, 0.02, 0.02, 0.04, 0.1, 0.3, 0.6, 0.8, 0.9, 1, 1, 1, 0.95, 0.9, 0.9, 0.85, 0.8, 0.75, 0.6, 0.4, 0.2, 0.1}
}

// eveningHours is a hobby project: tried out after work.
func eveningHours() [24]float64 {
	return [24]float64{0.1, 0.05, 0.02, 0.02, 0.02, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.3, 0.3, 0.3, 0.35, 0.5, 0.7, 0.9, 1, 0.9, 0.6, 0.3}
}

// usageProfiles are the demo accounts' habits, by external id (see Accounts).
func usageProfiles() map[string]usageProfile {
	return map[string]usageProfile{
		// A mid-size retailer: a support bot that hands billing questions to its linked
		// billing bot, a sales assistant fed by a CRM, a contact center of 3 × 8 agents.
		"northwind": {
			hours: officeHours(), weekendShare: 0.3,
			conversations: []conversationMix{
				{app: "support-bot", perDay: 40, channels: []string{"web", "web", "web", "whatsapp", "voice"}, routedShare: 0.25, endedShare: 0.6, llmShare: 0.5},
				{app: "sales-assistant", perDay: 12, channels: []string{"web", "web", "email"}, endedShare: 0.5, llmShare: 0.6},
			},
			apiClients: []apiClientMix{
				{app: "sales-assistant", client: "crm-sync", burstsPerDay: 1, requestsPerBurst: 40, nightlyHour: 2, llmShare: 0.1},
				{app: "sales-assistant", client: "web-shop", burstsPerDay: 6, requestsPerBurst: 8, nightlyHour: -1, llmShare: 0.3},
			},
			agentsPerShift: 8, agentAIShare: 0.4,
			ingestion: []ingestionMix{{app: "support-bot", perDay: 2}, {app: "sales-assistant", perDay: 0.5}},
			models:    []modelShare{{"openai", "gpt-4o-mini", 5}, {"openai", "gpt-4o", 2}, {"anthropic", "claude-3-5-haiku", 2}, {"anthropic", "claude-3-5-sonnet", 1}},
			byoShare:  0.2,
		},
		// An enterprise's internal helpdesk: HR questions routed to IT when they are
		// about laptops and accounts, Teams and Slack channels, a large contact center.
		"globex": {
			hours: officeHours(), weekendShare: 0.15,
			conversations: []conversationMix{
				{app: "hr-helpdesk", perDay: 48, channels: []string{"teams", "teams", "slack", "web", "voice"}, routedShare: 0.35, endedShare: 0.55, llmShare: 0.5},
			},
			apiClients: []apiClientMix{
				{app: "hr-helpdesk", client: "intranet-portal", burstsPerDay: 8, requestsPerBurst: 8, nightlyHour: -1, llmShare: 0.2},
				{app: "hr-helpdesk", client: "workday-sync", burstsPerDay: 1, requestsPerBurst: 50, nightlyHour: 3},
				{app: "it-helpdesk", client: "slack-bridge", burstsPerDay: 12, requestsPerBurst: 3, nightlyHour: -1, llmShare: 0.3},
			},
			agentsPerShift: 15, agentAIShare: 0.5,
			ingestion: []ingestionMix{{app: "hr-helpdesk", perDay: 2}, {app: "it-helpdesk", perDay: 2}},
			models:    []modelShare{{"openai", "gpt-4o", 3}, {"openai", "gpt-4o-mini", 3}, {"anthropic", "claude-3-5-sonnet", 2}, {"anthropic", "claude-3-5-haiku", 1}},
			byoShare:  0.2,
		},
		// A small agency on pay as you go: a receptionist bot, a lead qualifier called by
		// HubSpot and Zapier, a voice concierge answering the phone on its call lines.
		"acme-bots": {
			hours: shopHours(), weekendShare: 0.6,
			conversations: []conversationMix{
				{app: "receptionist", perDay: 24, channels: []string{"web", "sms", "whatsapp", "messenger"}, endedShare: 0.5, llmShare: 0.7},
				{app: "lead-qualifier", perDay: 8, channels: []string{"web"}, endedShare: 0.7, llmShare: 0.7},
			},
			apiClients: []apiClientMix{
				{app: "lead-qualifier", client: "hubspot", burstsPerDay: 10, requestsPerBurst: 6, nightlyHour: -1, llmShare: 0.4},
				{app: "lead-qualifier", client: "zapier", burstsPerDay: 3, requestsPerBurst: 15, nightlyHour: -1, llmShare: 0.2},
			},
			calls: &callMix{app: "voice-concierge", lines: 2, firstHour: 8, lastHour: 20, gapMinutesMean: 75, minutesMean: 4, llmShare: 0.8,
				sttSecondsMax: 10, ttsSecondsMax: 8},
			ingestion: []ingestionMix{{app: "receptionist", perDay: 1}, {app: "lead-qualifier", perDay: 0.3}},
			models: []modelShare{{"openai", "gpt-4o-mini", 4}, {"google", "gemini-1.5-flash", 3}, {"openai", "gpt-4.1", 2},
				{"anthropic", "claude-3-5-haiku", 2}, {"openai", "gpt-4o", 1}},
			byoShare: 0.25,
		},
		// A hobbyist on the free plan: a handful of FAQ conversations, evenings and weekends.
		"hobbyist": {
			hours: eveningHours(), weekendShare: 1.3,
			conversations: []conversationMix{
				{app: "faq-bot", perDay: 5, channels: []string{"web"}, endedShare: 0.3, llmShare: 0.8},
			},
			apiClients: []apiClientMix{{app: "faq-bot", client: "my-script", burstsPerDay: 0.5, requestsPerBurst: 5, nightlyHour: -1, llmShare: 0.5}},
			ingestion:  []ingestionMix{{app: "faq-bot", perDay: 0.15}},
			// A hobby FAQ is a few pages, whatever the plan would allow.
			ingestedBytesBudgetMax: 10_000_000,
			models:                 []modelShare{{"google", "gemini-1.5-flash", 3}, {"openai", "gpt-4o-mini", 2}, {"anthropic", "claude-3-5-haiku", 1}},
			byoShare:               0.2, // the free plan grants no own keys: NewUsageSpec drops it
		},
	}
}

// UsageEvents generates an account's usage of the given number of local days, the last
// of them end's day, in time order within each day, up to end. It is deterministic: the same spec, seed and
// day give the same events, with ids made of the day and the event's place in it (the
// account is already part of the ingest key). A day's events depend neither on end nor
// on the other days, except through its place in the history (growth): so a history
// that starts on the same day and ends later repeats the earlier one's events exactly
// and adds the rest. It generates one day at a time, so a caller may ask for millions
// of events and hold a day's worth.
func UsageEvents(spec UsageSpec, seed int64, end time.Time, days int) iter.Seq[ingest.CloudEvent] {
	return func(yield func(ingest.CloudEvent) bool) {
		y, m, d := end.In(spec.Location).Date()
		g := &dayGenerator{spec: &spec}
		for i := range days {
			g.generate(seed, i, time.Date(y, m, d-(days-1-i), 0, 0, 0, 0, spec.Location))
			for _, e := range g.events {
				if e.at.After(end) { // later in the day than now: a later start sends it
					continue
				}
				if !yield(ingest.CloudEvent{SpecVersion: "1.0", ID: e.id, Source: UsageSource, Type: e.typ, Subject: spec.Subject,
					Time: e.at.UTC().Format(time.RFC3339Nano), Data: e.data}) {
					return
				}
			}
		}
	}
}

// dayGenerator makes one day's events; it is reused from day to day.
type dayGenerator struct {
	spec *UsageSpec
	rng  *rand.Rand
	day  time.Time // local midnight
	// index is the day's place in the history; growth and the first import depend on it.
	index int
	// activity multiplies the day's business-hour rates: weekday, growth, the day's own
	// variation and the spec's scale. workload is the same without the scale, for the
	// things whose number the scale sets otherwise (call lines).
	activity, workload float64
	events             []generated
	ids                map[string]int // next number per id prefix
}

type generated struct {
	at    time.Time
	order int // the order of generation breaks ties of time
	typ   string
	data  json.RawMessage
	id    string
}

func (g *dayGenerator) generate(seed int64, index int, day time.Time) {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\n%s", g.spec.Subject, day.Format(time.DateOnly))
	g.rng = rand.New(rand.NewPCG(uint64(seed), h.Sum64()))
	g.day, g.index = day, index
	g.events, g.ids = g.events[:0], map[string]int{}

	p := &g.spec.profile
	weekday := 1.0
	switch day.Weekday() {
	case time.Monday:
		weekday = 1.05
	case time.Friday:
		weekday = 0.9
	case time.Saturday:
		weekday = p.weekendShare
	case time.Sunday:
		weekday = 0.8 * p.weekendShare
	}
	growth := math.Pow(1+usageGrowthPerMonth, float64(index-(usageReferenceDays-1))/30)
	g.workload = weekday * growth * (0.9 + 0.2*g.rng.Float64())
	g.activity = g.workload * g.spec.Scale

	for _, c := range p.conversations {
		for range g.count(c.perDay * g.activity) {
			g.conversation(c)
		}
	}
	for _, c := range p.apiClients {
		g.apiClient(c)
	}
	if p.calls != nil {
		g.calls(*p.calls)
	}
	g.agentShifts()
	for _, c := range p.ingestion {
		g.ingestion(c)
	}

	// Ids follow time order within the day, so that the events of a day cut short by
	// end keep the ids they have in the whole day.
	slices.SortFunc(g.events, func(a, b generated) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.order - b.order
	})
	date := day.Format("20060102")
	for i := range g.events {
		g.events[i].id = date + "-" + strconv.Itoa(i)
	}
}

func (g *dayGenerator) emit(at time.Time, typ string, data json.RawMessage) {
	g.events = append(g.events, generated{at: at.Truncate(time.Millisecond), order: len(g.events), typ: typ, data: data})
}

// nextID returns the day's next id of a conversation, call or the like.
func (g *dayGenerator) nextID(prefix string) string {
	g.ids[prefix]++
	return prefix + "-" + g.day.Format("20060102") + "-" + strconv.Itoa(g.ids[prefix])
}

// count draws how many of something happen when mean are expected (Poisson).
func (g *dayGenerator) count(mean float64) int {
	if mean <= 0 {
		return 0
	}
	if mean > 30 { // the normal approximation: Knuth's product would underflow
		return max(0, int(math.Round(mean+math.Sqrt(mean)*g.rng.NormFloat64())))
	}
	limit, n, product := math.Exp(-mean), 0, g.rng.Float64()
	for product > limit {
		n++
		product *= g.rng.Float64()
	}
	return n
}

// between draws a duration from lo to hi.
func (g *dayGenerator) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(g.rng.Int64N(int64(hi-lo)+1))
}

// at draws a local time of the day following the profile's hours.
func (g *dayGenerator) at() time.Time {
	hours := &g.spec.profile.hours
	total := 0.0
	for _, w := range hours {
		total += w
	}
	r := g.rng.Float64() * total
	hour := 23
	for h, w := range hours {
		if r < w {
			hour = h
			break
		}
		r -= w
	}
	return g.hour(hour).Add(g.between(0, time.Hour-time.Millisecond))
}

// hour returns the start of a local hour of the day.
func (g *dayGenerator) hour(h int) time.Time {
	return time.Date(g.day.Year(), g.day.Month(), g.day.Day(), h, 0, 0, 0, g.spec.Location)
}

func (g *dayGenerator) conversation(c conversationMix) {
	start := g.at()
	id := g.nextID("conv")
	channel := c.channels[g.rng.IntN(len(c.channels))]
	minutes := min(conversationMinutesMax, 1+g.rng.ExpFloat64()*(conversationMinutesMean-1))
	messages := 2 + int(minutes/conversationMessageMinutesMean) + g.rng.IntN(3)
	// Messages come every step, each up to a third of a step late: never out of order,
	// never a gap near the idle timeout.
	step := time.Duration(minutes*float64(time.Minute)) / time.Duration(messages-1)
	routeAt, target := -1, ""
	if targets := g.spec.linked[c.app]; len(targets) > 0 && messages >= 3 && g.rng.Float64() < c.routedShare {
		routeAt, target = 1+g.rng.IntN(messages-2), targets[g.rng.IntN(len(targets))]
	}
	app := c.app
	g.emit(start, billow.EventConversationStarted, object("app", app, "conversation", id, "channel", channel))
	var last time.Time
	for k := range messages {
		at := start.Add(time.Duration(k)*step + g.between(time.Second, step/3+time.Second))
		if k == routeAt {
			g.emit(last.Add(at.Sub(last)/2), billow.EventConversationRouted, object("conversation", id, "to_app", target, "app", app))
			app = target
		}
		g.emit(at, billow.EventConversationMessage, object("app", app, "conversation", id))
		if channel == "voice" {
			g.voice(at, app, "stt", 1500, 12000)
			g.voice(at.Add(g.between(time.Second, 3*time.Second)), app, "tts", 1000, 9000)
		}
		if g.rng.Float64() < c.llmShare {
			g.llm(at.Add(g.between(500*time.Millisecond, 3*time.Second)), app)
		}
		last = at
	}
	if g.rng.Float64() < c.endedShare {
		g.emit(last.Add(g.between(5*time.Second, time.Minute)), billow.EventConversationEnded, object("conversation", id, "app", app))
	}
}

// apiClient makes a client's bursts of requests: many requests in a few minutes, then
// nothing for a while.
func (g *dayGenerator) apiClient(c apiClientMix) {
	activity := g.activity
	if c.nightlyHour >= 0 { // a scheduled job runs every night
		activity = g.activity / g.workload * (0.9 + 0.2*g.rng.Float64())
	}
	for range g.count(c.burstsPerDay * activity) {
		at := g.at()
		if c.nightlyHour >= 0 {
			at = g.hour(c.nightlyHour).Add(g.between(0, 20*time.Minute))
		}
		requests := max(1, int(float64(c.requestsPerBurst)*(0.5+g.rng.Float64())))
		for range requests {
			g.emit(at, billow.EventAPIRequest, object("app", c.app, "client", c.client))
			if g.rng.Float64() < c.llmShare {
				g.llm(at.Add(g.between(200*time.Millisecond, 2*time.Second)), c.app)
			}
			at = at.Add(g.between(200*time.Millisecond, 8*time.Second))
		}
	}
}

// calls answers the phone on each call line while it is open: a line carries one call
// at a time, so concurrent calls never exceed the lines.
func (g *dayGenerator) calls(c callMix) {
	gapMean := c.gapMinutesMean / g.workload
	lines := int(math.Round(float64(g.spec.callLines) * g.spec.Scale))
	if g.spec.callLines > 0 {
		lines = max(1, lines)
	}
	for range lines {
		at := g.hour(c.firstHour).Add(minutes(g.rng.ExpFloat64() * gapMean))
		closing := g.hour(c.lastHour)
		for at.Before(closing) {
			length := minutes(min(callMinutesMax, 0.5+g.rng.ExpFloat64()*(c.minutesMean-0.5)))
			id := g.nextID("call")
			g.emit(at, billow.EventCallStarted, object("call", id, "app", c.app))
			turns := 1 + int(length.Minutes()/1.5)
			for k := range turns {
				turn := at.Add(length * time.Duration(k) / time.Duration(turns)).Add(g.between(2*time.Second, 5*time.Second))
				g.voice(turn, c.app, "stt", 1000, int(c.sttSecondsMax*1000))
				if g.rng.Float64() < c.llmShare {
					g.llm(turn.Add(g.between(time.Second, 2*time.Second)), c.app)
				}
				g.voice(turn.Add(g.between(2*time.Second, 4*time.Second)), c.app, "tts", 800, int(c.ttsSecondsMax*1000))
			}
			end := at.Add(length)
			g.emit(end, billow.EventVoiceInteraction, object("app", c.app, "kind", "gateway", "seconds", millis(length.Milliseconds())))
			g.emit(end, billow.EventCallEnded, object("call", id, "app", c.app))
			at = end.Add(minutes(callGapMinutesMin + g.rng.ExpFloat64()*gapMean))
		}
	}
}

func minutes(m float64) time.Duration { return time.Duration(m * float64(time.Minute)) }

// agentShifts logs the human agents in and out: three 8-hour shifts from 06:00 local,
// the same agents on the same shift every day, fewer at weekends, a few who forget to
// log out. Agents who use Agent AI log in to it after the contact center.
func (g *dayGenerator) agentShifts() {
	products := g.spec.agentProducts
	if len(products) == 0 || g.spec.profile.agentsPerShift == 0 {
		return
	}
	perShift := max(1, int(math.Round(float64(g.spec.profile.agentsPerShift)*g.spec.Scale)))
	aiAgents := int(math.Round(float64(perShift) * g.spec.profile.agentAIShare))
	presence := agentWeekdayPresenceShare
	if wd := g.day.Weekday(); wd == time.Saturday || wd == time.Sunday {
		presence = g.spec.profile.weekendShare
	}
	handover := time.Duration(shiftHandoverMinutesMax) * time.Minute
	for shift, startHour := range []int{6, 14, 22} {
		for k := range perShift {
			if g.rng.Float64() >= presence {
				continue
			}
			agent := fmt.Sprintf("agent-%03d", shift*perShift+k+1)
			shiftStart := g.hour(startHour)
			login := shiftStart.Add(g.between(0, handover))
			logout := shiftStart.Add(shiftHours*time.Hour - g.between(0, handover))
			forgets := g.rng.Float64() < agentForgetsLogoutShare
			for _, product := range products {
				in, out := login, logout
				if product == "agent_ai" && len(products) > 1 {
					if k >= aiAgents {
						continue
					}
					// Agent AI opens beside the contact center and closes before it.
					in, out = login.Add(g.between(time.Minute, 3*time.Minute)), logout.Add(-g.between(time.Minute, 3*time.Minute))
				}
				g.emit(in, billow.EventAgentLogin, object("agent", agent, "product", product))
				if !forgets {
					g.emit(out, billow.EventAgentLogout, object("agent", agent, "product", product))
				}
			}
		}
	}
}

// ingestion sends an app's knowledge to Search AI: a large first import on the history's
// first day, then updates, all within the budget under the plan's limit whatever the
// scale (the scale makes more, smaller updates).
func (g *dayGenerator) ingestion(c ingestionMix) {
	budget := float64(g.spec.ingestedBytesBudget) / float64(len(g.spec.profile.ingestion))
	if g.index == 0 {
		imports := 5 + g.rng.IntN(6)
		for range imports {
			size := budget * ingestedBytesFirstImportShare / float64(imports) * (0.5 + g.rng.Float64())
			g.emit(g.at(), billow.EventSearchIngested, object("app", c.app, "bytes", int64(size)))
		}
	}
	perUpdate := budget * ingestedBytesDailyShare / usageReferenceDays / (c.perDay * g.spec.Scale)
	for range g.count(c.perDay * g.activity) {
		g.emit(g.at(), billow.EventSearchIngested, object("app", c.app, "bytes", int64(perUpdate*(0.3+1.4*g.rng.Float64()))))
	}
}

// voice reports a speech interaction of lo to hi milliseconds.
func (g *dayGenerator) voice(at time.Time, app, kind string, loMillis, hiMillis int) {
	g.emit(at, billow.EventVoiceInteraction, object("app", app, "kind", kind, "seconds", millis(loMillis+g.rng.IntN(hiMillis-loMillis+1))))
}

// llm reports one model call; some with the customer's own key, a few of those on a model
// the catalog does not price.
func (g *dayGenerator) llm(at time.Time, app string) {
	byo := g.rng.Float64() < g.spec.byoShare
	models := g.spec.models
	if byo && g.rng.Float64() < ownModelShare {
		models = ownModels()
	}
	if len(models) == 0 {
		return
	}
	total := 0.0
	for _, m := range models {
		total += m.weight
	}
	r, model := g.rng.Float64()*total, models[len(models)-1]
	for _, m := range models {
		if r < m.weight {
			model = m
			break
		}
		r -= m.weight
	}
	input, output := 300+g.rng.IntN(3700), 30+g.rng.IntN(770)
	g.emit(at, billow.EventLLMUsage, object("app", app, "provider", model.provider, "model", model.model,
		"input_tokens", input, "output_tokens", output, "byo_key", byo))
}

// millis is a duration in milliseconds, written as seconds with three decimals: voice
// seconds take at most three.
type millis int64

// object writes a JSON object from key, value pairs of strings, whole numbers, booleans
// and millis; it is the generator's hot path, so it writes the bytes itself.
func object(pairs ...any) json.RawMessage {
	b := make([]byte, 0, 128)
	b = append(b, '{')
	for i := 0; i < len(pairs); i += 2 {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, pairs[i].(string))
		b = append(b, ':')
		switch v := pairs[i+1].(type) {
		case string:
			b = appendJSONString(b, v)
		case int:
			b = strconv.AppendInt(b, int64(v), 10)
		case int64:
			b = strconv.AppendInt(b, v, 10)
		case bool:
			b = strconv.AppendBool(b, v)
		case millis:
			b = strconv.AppendInt(b, int64(v)/1000, 10)
			b = append(b, '.')
			frac := strconv.Itoa(int(v % 1000))
			b = append(b, "000"[len(frac):]...)
			b = append(b, frac...)
		default:
			panic(fmt.Sprintf("demo: object value %T", v))
		}
	}
	return append(b, '}')
}

// appendJSONString writes s as a JSON string: plain ASCII as it is, anything else through
// encoding/json (an app's external id may be any text).
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			quoted, _ := json.Marshal(s)
			return append(b, quoted...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
