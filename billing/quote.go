package billing

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/credits"
	"github.com/billowhq/billow/meter"
	"github.com/billowhq/billow/rating"
)

// The pricing calculator (seed 004): what a month of estimated usage would cost on each
// plan of a catalog. A quote is priced by the rules real bills are priced by, not by a
// second copy of them: the fee and add-ons by priceOf and recurringLines (what an order
// and a renewal invoice), usage by rating.Rate and rating.RateSeats (one rounding per
// line), billing sessions by meter.SessionCount, LLM cost by meter.LLMCostMicroCredits,
// included credits by the period credits.Cycled says they follow. docs/quotes.md states
// the formula.

// Entitlement keys a quote reads, as the checks read them (the shipped catalogs' names):
// a catalog that does not declare one does not limit by it.
const (
	quoteAgentSlots = "agent_slots"  // apps an account may have (checks: create_app)
	quoteBYOKeys    = "byo_api_keys" // LLM calls with the customer's own key
)

// quotePeriod is the month a quote's usage is rated for: rating needs a month, and a
// quote's usage is of no month in particular. Its name never shows.
var quotePeriod = rating.MonthOf(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.UTC)

// Quote estimates the usage of in on every plan of cat, in the catalog's order, for
// account (its type decides which plans are offered; nil for none: in.AccountType then
// does). It is pure: no I/O, no clock. The cheapest available plan is marked; of plans
// with the same total, the one listed first in the catalog.
//
// A plan that cannot take the estimate is listed as not available with a code and a
// reason: not offered to the account type (still priced, at its list price), no fee for
// the interval or an add-on it does not offer (not priced), fewer agent slots than apps,
// own LLM keys it does not allow, seats of a product it does not include or counted in a
// way it does not offer, usage above a monthly limit, or an estimate too large to bill.
//
// Errors: validation_failed (every invalid field of in; a product, model or add-on the
// catalog does not have).
func Quote(cat *catalog.Catalog, account *billow.Account, in billow.QuoteInput) (*billow.Quote, error) {
	if cat == nil {
		return nil, errors.New("billing: quote without a catalog")
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	in.Normalize()
	if account != nil {
		in.AccountType = account.Type
	}
	if err := checkQuoteRefs(cat, &in); err != nil {
		return nil, err
	}
	months := int64(1)
	if in.Interval == catalog.IntervalYear {
		months = 12
	}
	est := newEstimate(cat, &in)
	q := &billow.Quote{Catalog: cat.Name, AccountType: in.AccountType, Currency: cat.Currency, CurrencyDigits: cat.CurrencyDigits,
		CreditsPerCurrencyUnit: cat.Credits.PerCurrencyUnit, Interval: in.Interval, Months: months,
		SessionsPerConversation: est.sessionsPerConversation, Usage: est.usage(), Plans: make([]billow.PlanQuote, 0, len(cat.Plans))}
	if account != nil {
		q.Account = account.ID
	}
	acct := account
	if acct == nil {
		acct = &billow.Account{Type: in.AccountType}
	}
	for i := range cat.Plans {
		q.Plans = append(q.Plans, quotePlan(cat, acct, &cat.Plans[i], &in, est, months))
	}
	cheapest := -1
	for i, p := range q.Plans {
		// Strictly lower only: a tie keeps the plan listed first, the operator's order.
		if p.Available && (cheapest < 0 || p.TotalMinor < q.Plans[cheapest].TotalMinor) {
			cheapest = i
		}
	}
	if cheapest >= 0 {
		q.Plans[cheapest].Cheapest, q.Cheapest = true, q.Plans[cheapest].Plan
	}
	return q, nil
}

// checkQuoteRefs reports every product, LLM model and add-on of in that cat does not have.
func checkQuoteRefs(cat *catalog.Catalog, in *billow.QuoteInput) error {
	var fields []billow.FieldError
	add := func(field, format string, args ...any) {
		fields = append(fields, billow.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	for i, s := range in.Seats {
		if _, ok := cat.Product(s.Product); !ok {
			add(fmt.Sprintf("seats[%d].product", i), "the catalog has no product %q", s.Product)
		}
	}
	if pricesLLM(cat) {
		for i, l := range in.LLM {
			if _, ok := cat.ProviderCosts.LLMCost(l.Provider, l.Model); !ok {
				add(fmt.Sprintf("llm[%d].model", i), "the catalog's provider costs have no model %q of %q", l.Model, l.Provider)
			}
		}
	}
	for i, a := range in.AddOns {
		if _, ok := cat.AddOn(a.AddOn); !ok {
			add(fmt.Sprintf("add_ons[%d].add_on", i), "the catalog has no add-on %q", a.AddOn)
		}
	}
	if len(fields) == 0 {
		return nil
	}
	return &billow.Error{Kind: billow.KindInvalid, Code: billow.CodeValidationFailed, Message: "the request has invalid fields", Fields: fields}
}

// pricesLLM reports whether a meter of cat prices LLM calls from the provider table: then
// a model the table does not list could not be priced, and ingest would refuse its events.
func pricesLLM(cat *catalog.Catalog) bool {
	for _, m := range cat.Meters {
		if m.Aggregation == catalog.AggregationProviderCost && m.CostTable == catalog.CostTableLLM {
			return true
		}
	}
	return false
}

// quotePlan estimates one plan.
func quotePlan(cat *catalog.Catalog, acct *billow.Account, p *catalog.Plan, in *billow.QuoteInput, est *estimate, months int64) billow.PlanQuote {
	pq := billow.PlanQuote{Plan: p.Key, Name: p.Name, Description: p.Description, CustomPricing: p.CustomPricing, Available: true,
		Lines: []billow.QuoteLine{}}
	unavailable := func(code, format string, args ...any) {
		if pq.Available { // the first reason is the one given
			pq.Available, pq.Code, pq.Reason = false, code, fmt.Sprintf(format, args...)
		}
	}
	addOns := make([]billow.SubscriptionAddOn, len(in.AddOns))
	for i, a := range in.AddOns {
		addOns[i] = billow.SubscriptionAddOn{AddOn: a.AddOn, Quantity: a.Quantity}
	}
	r, err := priceOf(cat, acct, p.Key, in.Interval, addOns)
	if billow.ErrorCode(err) == billow.CodePlanNotForType && len(p.AccountTypes) > 0 {
		// Not offered to this account type: still priced at its list price, for comparison.
		unavailable(billow.CodePlanNotForType, "%s is for %s accounts", p.Name, p.AccountTypes[0])
		r, err = priceOf(cat, &billow.Account{Type: billow.AccountType(p.AccountTypes[0])}, p.Key, in.Interval, addOns)
	}
	if err != nil {
		unavailable(billow.ErrorCode(err), "%s", notPricedReason(cat, p, in, err))
		return pq
	}
	checkAvailable(cat, p, in, est, unavailable)

	lines, usageMinor, usageUcr, modes, err := usageLines(cat, p, in, est)
	if err != nil {
		unavailable(rating.CodeAmountOutOfRange, "the estimate is too large to be billed")
		return pq
	}
	for _, sm := range modes {
		if sm.wanted != "" && sm.wanted != sm.got && sm.agents {
			unavailable(billow.CodeSeatModeNotOffered, "%s counts %s seats %s only", p.Name, productName(cat, sm.product), sm.got)
		}
	}

	// The period's figures, in exact integers; each must fit an int64 at the end.
	fixed := decimal.NewFromInt(r.total())
	m := decimal.NewFromInt(months)
	periodUcr := usageUcr.Mul(m)
	included := decimal.Zero
	if p.IncludedCredits != nil && p.IncludedCredits.Credits > 0 {
		included = decimal.NewFromInt(p.IncludedCredits.Credits).Mul(decimal.NewFromInt(billow.MicroCreditsPerCredit))
		if !credits.Cycled(p, in.Interval) {
			included = included.Mul(m) // refreshed every calendar month of a yearly cycle
		}
	}
	applied := decimal.Min(included, periodUcr)
	toBuy := periodUcr.Sub(applied)
	// The one rounding of the credits bought: half up, as a rated line.
	ucrPerMinor := decimal.NewFromInt(cat.Credits.PerCurrencyUnit).Mul(decimal.NewFromInt(billow.MicroCreditsPerCredit))
	creditsMinor := toBuy.Shift(int32(cat.CurrencyDigits)).DivRound(ucrPerMinor, 0)
	total := fixed.Add(usageMinor.Mul(m)).Add(creditsMinor)

	out := []*int64{&pq.FeeMinor, &pq.AddOnsMinor, &pq.FixedPerMonthMinor, &pq.UsageMinor, &pq.UsageUcr, &pq.IncludedCreditsUcr,
		&pq.CreditsAppliedUcr, &pq.CreditsToBuyUcr, &pq.CreditsMinor, &pq.TotalMinor, &pq.TotalPerMonthMinor}
	values := []decimal.Decimal{decimal.NewFromInt(r.fee), fixed.Sub(decimal.NewFromInt(r.fee)), fixed.DivRound(m, 0), usageMinor, usageUcr,
		included, applied, toBuy, creditsMinor, total, total.DivRound(m, 0)}
	for i, v := range values {
		if !fitsInt64(v) {
			unavailable(rating.CodeAmountOutOfRange, "the estimate is too large to be billed")
			return pq
		}
		*out[i] = v.IntPart()
	}
	pq.Priced = true
	pq.Lines = append(fixedLines(r), lines...)
	return pq
}

// notPricedReason says, for a customer, why priceOf refused the plan.
func notPricedReason(cat *catalog.Catalog, p *catalog.Plan, in *billow.QuoteInput, err error) string {
	var e *billow.Error
	if !errors.As(err, &e) {
		return "the plan cannot be priced"
	}
	var i int
	addOn := ""
	if len(e.Fields) > 0 {
		if _, serr := fmt.Sscanf(e.Fields[0].Field, "add_ons[%d]", &i); serr == nil && i >= 0 && i < len(in.AddOns) {
			addOn = in.AddOns[i].AddOn
			if ao, ok := cat.AddOn(addOn); ok {
				addOn = ao.Name
			}
		}
	}
	yearly := map[string]string{catalog.IntervalMonth: "monthly", catalog.IntervalYear: "yearly"}[in.Interval]
	switch {
	case e.Code == billow.CodeUnknownInterval && addOn != "":
		return fmt.Sprintf("%s is not offered with %s billing", addOn, yearly)
	case e.Code == billow.CodeUnknownInterval:
		return fmt.Sprintf("%s is not offered with %s billing", p.Name, yearly)
	case e.Code == billow.CodeUnknownAddOn && addOn != "":
		return fmt.Sprintf("%s is not offered on %s", addOn, p.Name)
	case e.Code == billow.CodeAddOnQuantity && addOn != "":
		if ao, ok := cat.AddOn(in.AddOns[i].AddOn); ok && in.AddOns[i].Quantity > ao.MaxQuantity {
			return fmt.Sprintf("%s is sold in up to %d units", addOn, ao.MaxQuantity)
		}
		return fmt.Sprintf("%d units of %s are too many to bill", in.AddOns[i].Quantity, addOn)
	}
	return e.Message
}

// checkAvailable reports, through unavailable, what keeps the plan from taking the
// estimate beyond its price: agent slots, own keys, seat products, monthly limits.
func checkAvailable(cat *catalog.Catalog, p *catalog.Plan, in *billow.QuoteInput, est *estimate, unavailable func(code, format string, args ...any)) {
	grants := func(key string) (int64, bool) {
		n, on := p.Quantity(key), p.Flag(key)
		for _, a := range in.AddOns {
			if ao, ok := cat.AddOn(a.AddOn); ok {
				// Quantities are bounded (10^15 by 10^4): the product fits.
				n += ao.Quantity(key) * a.Quantity
				on = on || ao.Flag(key)
			}
		}
		return n, on
	}
	if def, ok := cat.Entitlement(quoteAgentSlots); ok && in.Apps > 0 {
		if slots, _ := grants(quoteAgentSlots); in.Apps > slots {
			unavailable(billow.CodeAgentSlotsExceeded, "%d apps need %d %s; %s gives %d", in.Apps, in.Apps, lower(def.Name), p.Name, slots)
		}
	}
	if _, ok := cat.Entitlement(quoteBYOKeys); ok {
		for _, l := range in.LLM {
			if _, on := grants(quoteBYOKeys); l.BYOKey && !on {
				unavailable(billow.CodeBYOKeyNotIncluded, "%s does not allow your own LLM API keys", p.Name)
			}
		}
	}
	for _, s := range in.Seats {
		if (s.Named > 0 || s.Concurrent > 0) && !slices.Contains(p.Products, s.Product) {
			unavailable(billow.CodeProductNotIncluded, "%s does not include %s", p.Name, productName(cat, s.Product))
		}
	}
	for _, l := range p.Limits {
		if l.Period != catalog.PeriodMonth {
			continue // a limit over the subscription's life is not a month's estimate
		}
		if q, ok := est.quantity(l.Meter, nil); ok && q.GreaterThan(decimal.NewFromInt(l.HardLimit)) {
			m, _ := cat.Meter(l.Meter)
			unavailable(billow.CodeLimitExceeded, "%s allows at most %d %s of %s a month", p.Name, l.HardLimit, m.Unit, lower(m.Name))
		}
	}
}

// seatChoice is how one product's seats are counted on a plan: wanted by the input (or
// empty), got from the plan.
type seatChoice struct {
	product     string
	wanted, got billow.SeatMode
	agents      bool // the input has agents of the product
}

// usageLines rates the plan's rates and seats for a month of the estimate, and returns
// the lines and their sums: currency lines in minor units, credit lines in µcr.
func usageLines(cat *catalog.Catalog, p *catalog.Plan, in *billow.QuoteInput, est *estimate) ([]billow.QuoteLine, decimal.Decimal, decimal.Decimal, []seatChoice, error) {
	minor, ucr := decimal.Zero, decimal.Zero
	qs := map[string]decimal.Decimal{}
	estimated := map[string]bool{}
	for _, s := range rating.Needs(p, "") {
		qs[s.Key()], estimated[s.Key()] = est.quantity(s.Meter, s.Filters)
	}
	res, err := rating.Rate(rating.Input{Catalog: cat, Plan: p.Key, Period: quotePeriod, Active: true, Quantities: qs})
	if err != nil {
		return nil, minor, ucr, nil, err
	}
	var lines []billow.QuoteLine
	for _, l := range res.Lines {
		r := &p.Rates[l.RateIndex]
		ql := billow.QuoteLine{Kind: billow.QuoteLineUsage, Key: l.Key, Description: meterName(cat, l.Meter), Meter: l.Meter,
			BilledIn: l.BilledIn, Quantity: billow.NewQuantity(l.Quantity), Allowance: quantityPtr(l.Allowance),
			Billable: quantityPtr(l.Billable), Unit: l.QuantityUnit, Exact: l.Exact.String(), Estimated: estimated[l.Key]}
		if r.Model == catalog.ModelPerUnit && l.QuantityUnit != rating.QuantityUnitCredit {
			// A provider_cost rate's price is per currency unit of cost, not per credit
			// of its quantity: shown beside credits it would read wrong.
			ql.UnitPrice = r.UnitPrice
		}
		minor, ucr = addAmount(&ql, l.Amount, l.AmountUnit, minor, ucr)
		lines = append(lines, ql)
	}

	seatLines, choices, err := quoteSeats(cat, p, in)
	if err != nil {
		return nil, minor, ucr, nil, err
	}
	for _, l := range seatLines {
		ql := billow.QuoteLine{Kind: billow.QuoteLineSeats, Key: l.Key, Description: productName(cat, l.Product) + " seats (" + string(l.Mode) + ")",
			Meter: l.Meter, Mode: l.Mode, BilledIn: l.BilledIn, Quantity: billow.NewQuantity(l.Quantity), Allowance: quantityPtr(l.Allowance),
			Billable: quantityPtr(l.Billable), Unit: l.QuantityUnit, UnitPrice: l.UnitPrice, Exact: l.Exact.String(), Estimated: true}
		minor, ucr = addAmount(&ql, l.Amount, l.AmountUnit, minor, ucr)
		lines = append(lines, ql)
	}
	return lines, minor, ucr, choices, nil
}

// addAmount sets a line's amount in its unit and adds it to the sums.
func addAmount(ql *billow.QuoteLine, amount int64, unit string, minor, ucr decimal.Decimal) (decimal.Decimal, decimal.Decimal) {
	if unit == rating.UnitMicroCredits {
		ql.AmountUcr = amount
		return minor, ucr.Add(decimal.NewFromInt(amount))
	}
	ql.AmountMinor = amount
	return minor.Add(decimal.NewFromInt(amount)), ucr
}

// quoteSeats rates the plan's seats from the input's agents per product. A product whose
// mode the input leaves open is counted the cheaper way the plan offers (named on a tie,
// rating.SeatModeDefault); a mode the plan does not price falls back to the one it does
// (rating.SeatCount), and the choice says so.
func quoteSeats(cat *catalog.Catalog, p *catalog.Plan, in *billow.QuoteInput) ([]rating.SeatLine, []seatChoice, error) {
	if len(p.Seats) == 0 {
		return nil, nil, nil
	}
	agents := map[string]billow.QuoteSeat{}
	for _, s := range in.Seats {
		agents[s.Product] = s
	}
	qs := map[string]decimal.Decimal{}
	for _, s := range p.Seats {
		a := agents[s.Product]
		if s.Named != nil {
			qs[rating.Selection{Meter: s.Named.Meter, Filters: s.Named.Filters}.Key()] = decimal.NewFromInt(a.Named)
		}
		if s.Concurrent != nil {
			qs[rating.Selection{Meter: s.Concurrent.Meter, Filters: s.Concurrent.Filters}.Key()] = decimal.NewFromInt(a.Concurrent)
		}
	}
	rate := func(mode func(s *catalog.Seat) billow.SeatMode) (*rating.SeatResult, []billow.SubscriptionSeat, error) {
		modes := make([]billow.SubscriptionSeat, len(p.Seats))
		for i := range p.Seats {
			modes[i] = billow.SubscriptionSeat{Product: p.Seats[i].Product, Mode: mode(&p.Seats[i])}
		}
		res, err := rating.RateSeats(rating.SeatInput{Catalog: cat, Plan: p.Key, Period: quotePeriod, Modes: modes, Quantities: qs})
		return res, modes, err
	}
	named, _, err := rate(func(*catalog.Seat) billow.SeatMode { return billow.SeatsNamed })
	if err != nil {
		return nil, nil, err
	}
	concurrent, _, err := rate(func(*catalog.Seat) billow.SeatMode { return billow.SeatsConcurrent })
	if err != nil {
		return nil, nil, err
	}
	i := -1
	res, _, err := rate(func(s *catalog.Seat) billow.SeatMode {
		i++
		if m := agents[s.Product].Mode; m != "" {
			return m
		}
		n, c := named.Lines[i], concurrent.Lines[i]
		if c.AmountUnit == n.AmountUnit && c.Amount < n.Amount {
			return c.Mode
		}
		return n.Mode
	})
	if err != nil {
		return nil, nil, err
	}
	choices := make([]seatChoice, len(res.Lines))
	for i, l := range res.Lines {
		a := agents[l.Product]
		choices[i] = seatChoice{product: l.Product, wanted: a.Mode, got: l.Mode, agents: a.Named > 0 || a.Concurrent > 0}
	}
	return res.Lines, choices, nil
}

// fixedLines are the fee and add-on lines of one period, as an invoice has them
// (recurringLines).
func fixedLines(r recurring) []billow.QuoteLine {
	var out []billow.QuoteLine
	for i, l := range recurringLines(r, time.Time{}, time.Time{}) {
		kind, key := billow.QuoteLineFee, r.plan.Key
		if l.Kind == billow.LineAddOn {
			kind, key = billow.QuoteLineAddOn, r.addOns[i-1].addOn.Key
		}
		q, err := decimal.NewFromString(l.Quantity)
		if err != nil {
			panic("billing: recurringLines wrote quantity " + l.Quantity + ", which is not a number")
		}
		out = append(out, billow.QuoteLine{Kind: kind, Key: key, Description: l.Description, BilledIn: catalog.BilledInCurrency,
			Quantity: billow.NewQuantity(q), UnitPrice: l.UnitAmount, AmountMinor: l.AmountMinor, Estimated: true})
	}
	return out
}

// estimate turns the input into meter quantities for a month. Meters are recognized by
// what they count, not by their keys (docs/quotes.md has the table): sessions of
// conversations, voice interactions and their seconds, agent logins, LLM tokens and LLM
// cost. A meter the input does not describe, or a selection of one app or group the input
// does not split (an app, a voice kind), is not estimated: its quantity is 0.
type estimate struct {
	cat *catalog.Catalog
	in  *billow.QuoteInput
	// sessionsPerConversation is for the catalog's first sessions meter (1 when it has none).
	sessionsPerConversation int64
	// llmUcr is the cost of each LLM row, markup included, in µcr: the meter's rounding,
	// as if the month's tokens of a model were one call.
	llmUcr []int64
	// llmOK is false when a row's cost does not fit an int64 of µcr: LLM cost is then not
	// estimated, and the plans pricing it are too large to bill.
	llmOK bool
}

func newEstimate(cat *catalog.Catalog, in *billow.QuoteInput) *estimate {
	e := &estimate{cat: cat, in: in, sessionsPerConversation: 1, llmOK: true}
	for i := range cat.Meters {
		if n, ok := e.sessions(&cat.Meters[i]); ok {
			e.sessionsPerConversation = n
			break
		}
	}
	if pricesLLM(cat) {
		for _, l := range in.LLM {
			ev := &meter.Event{Type: meter.TypeLLMUsage, Provider: l.Provider, Model: l.Model, InputTokens: l.InputTokens,
				OutputTokens: l.OutputTokens, BYOKey: l.BYOKey}
			ucr, err := meter.LLMCostMicroCredits(ev, &cat.ProviderCosts, cat.Credits)
			if err != nil {
				e.llmOK = false // out of range: checkQuoteRefs has refused unknown models
			}
			e.llmUcr = append(e.llmUcr, ucr)
		}
	}
	return e
}

// sessions returns the billing sessions of one conversation for a sessions meter.
func (e *estimate) sessions(m *catalog.Meter) (int64, bool) {
	rules, err := meter.SessionRulesOf(m)
	if err != nil {
		return 0, false
	}
	return meter.SessionCount(e.in.ConversationMinutes*meter.MicrosPerMinute, rules.BlockMicros), true
}

// usage lists the quantity of every meter of the catalog the input estimates, in the
// catalog's order.
func (e *estimate) usage() []billow.QuoteQuantity {
	out := []billow.QuoteQuantity{}
	for _, m := range e.cat.Meters {
		q, ok := e.quantity(m.Key, nil)
		if !ok {
			continue
		}
		unit := m.Unit
		if m.Aggregation == catalog.AggregationProviderCost {
			unit = rating.QuantityUnitCredit
		}
		out = append(out, billow.QuoteQuantity{Meter: m.Key, Name: m.Name, Unit: unit, Quantity: billow.NewQuantity(q)})
	}
	return out
}

// feed is which input of a quote a meter's quantity comes from.
type feed int

const (
	feedNone             feed = iota // not described by the input: not estimated
	feedSessions                     // conversations × sessions per conversation
	feedVoiceSessions                // voice interactions
	feedVoiceSeconds                 // voice minutes × 60
	feedNamedAgents                  // distinct agents, over the products
	feedConcurrentAgents             // agents at once, over the products
	feedLLMTokens                    // input and/or output tokens of the LLM rows
	feedLLMCost                      // LLM cost of the rows from the provider table, in credits
)

// feedOf recognizes a meter by what it counts (docs/quotes.md has the table), whatever
// its key.
func feedOf(m *catalog.Meter) feed {
	switch {
	case m.Aggregation == catalog.AggregationSessions:
		return feedSessions
	case meterOf(m, meter.TypeVoiceInteraction) && m.Aggregation == catalog.AggregationCount:
		return feedVoiceSessions
	case meterOf(m, meter.TypeVoiceInteraction) && m.Aggregation == catalog.AggregationSum && sums(m, "seconds"):
		return feedVoiceSeconds
	case meterOf(m, meter.TypeAgentLogin, meter.TypeAgentLogout) && m.Field == "agent" && m.Aggregation == catalog.AggregationUniqueCount:
		return feedNamedAgents
	case meterOf(m, meter.TypeAgentLogin, meter.TypeAgentLogout) && m.Field == "agent" && m.Aggregation == catalog.AggregationConcurrency:
		return feedConcurrentAgents
	case meterOf(m, meter.TypeLLMUsage) && m.Aggregation == catalog.AggregationSum && (sums(m, "input_tokens") || sums(m, "output_tokens")):
		return feedLLMTokens
	case meterOf(m, meter.TypeLLMUsage) && m.Aggregation == catalog.AggregationProviderCost && m.CostTable == catalog.CostTableLLM:
		return feedLLMCost
	}
	return feedNone
}

// QuoteUse says which inputs of a quote the plans of a catalog price or limit, so that a
// form asks for those only.
type QuoteUse struct {
	Conversations bool // billing sessions
	VoiceMinutes  bool // voice seconds
	VoiceSessions bool
	LLM           bool // LLM tokens or their cost
	Apps          bool // agent slots
	// SeatProducts are the products some plan prices agent seats of, in the catalog's
	// order of products.
	SeatProducts []string
}

// QuoteUses returns the inputs the plans of cat price (a rate or seat on a meter they
// feed) or limit (a monthly limit on one, agent slots).
func QuoteUses(cat *catalog.Catalog) QuoteUse {
	var u QuoteUse
	mark := func(key string) {
		m, ok := cat.Meter(key)
		if !ok {
			return
		}
		switch feedOf(m) {
		case feedSessions:
			u.Conversations = true
		case feedVoiceSeconds:
			u.VoiceMinutes = true
		case feedVoiceSessions:
			u.VoiceSessions = true
		case feedLLMTokens, feedLLMCost:
			u.LLM = true
		}
	}
	seats := map[string]bool{}
	for _, p := range cat.Plans {
		for _, r := range p.Rates {
			mark(r.Meter)
		}
		for _, l := range p.Limits {
			if l.Period == catalog.PeriodMonth {
				mark(l.Meter)
			}
		}
		for _, s := range p.Seats {
			seats[s.Product] = true
		}
	}
	for _, p := range cat.Products {
		if seats[p.Key] {
			u.SeatProducts = append(u.SeatProducts, p.Key)
		}
	}
	_, u.Apps = cat.Entitlement(quoteAgentSlots)
	return u
}

// quantity returns the month's estimated quantity of a meter over the usage filters
// select, as rating takes it (a provider_cost meter's in credits), and whether the input
// describes it. Only LLM rows can be selected by filters (provider, model, byo_key);
// any other filter selects an app or a group the input does not split.
func (e *estimate) quantity(key string, filters map[string]string) (decimal.Decimal, bool) {
	m, ok := e.cat.Meter(key)
	if !ok {
		return decimal.Zero, false
	}
	all := make(map[string]string, len(m.Filters)+len(filters))
	for k, v := range m.Filters {
		all[k] = v
	}
	for k, v := range filters {
		all[k] = v
	}
	in := e.in
	f := feedOf(m)
	if len(all) > 0 && f != feedLLMTokens && f != feedLLMCost {
		return decimal.Zero, false
	}
	switch f {
	case feedSessions:
		n, ok := e.sessions(m)
		return decimal.NewFromInt(in.ConversationsPerMonth).Mul(decimal.NewFromInt(n)), ok
	case feedVoiceSessions:
		return decimal.NewFromInt(in.VoiceSessionsPerMonth), true
	case feedVoiceSeconds:
		return decimal.NewFromInt(in.VoiceMinutesPerMonth).Mul(decimal.NewFromInt(60)), true
	case feedNamedAgents, feedConcurrentAgents:
		total := decimal.Zero
		for _, s := range in.Seats {
			if f == feedNamedAgents {
				total = total.Add(decimal.NewFromInt(s.Named))
			} else {
				// Peaks of several products added: the most that can be logged in at once.
				total = total.Add(decimal.NewFromInt(s.Concurrent))
			}
		}
		return total, true
	case feedLLMTokens, feedLLMCost:
		return e.llm(m, f == feedLLMCost, all)
	}
	return decimal.Zero, false
}

// llm returns an LLM meter's quantity over the rows its filters select: tokens for a sum
// of input_tokens and output_tokens, credits of cost for a provider_cost meter.
func (e *estimate) llm(m *catalog.Meter, cost bool, filters map[string]string) (decimal.Decimal, bool) {
	for f := range filters {
		if f != "provider" && f != "model" && f != "byo_key" {
			return decimal.Zero, false // an app or another group: not in the input
		}
	}
	if cost && !e.llmOK {
		return decimal.Zero, false
	}
	total := decimal.Zero
	for i, l := range e.in.LLM {
		row := map[string]string{"provider": l.Provider, "model": l.Model, "byo_key": fmt.Sprint(l.BYOKey)}
		match := true
		for f, v := range filters {
			match = match && row[f] == v
		}
		switch {
		case !match:
		case cost:
			total = total.Add(decimal.New(e.llmUcr[i], -6)) // µcr → credits, as the rollups give it
		default:
			if sums(m, "input_tokens") {
				total = total.Add(decimal.NewFromInt(l.InputTokens))
			}
			if sums(m, "output_tokens") {
				total = total.Add(decimal.NewFromInt(l.OutputTokens))
			}
		}
	}
	return total, true
}

// meterOf reports whether every event type of m is one of types.
func meterOf(m *catalog.Meter, types ...string) bool {
	for _, t := range m.EventTypes {
		if !slices.Contains(types, t) {
			return false
		}
	}
	return len(m.EventTypes) > 0
}

// sums reports whether a sum meter adds up field.
func sums(m *catalog.Meter, field string) bool {
	return m.Field == field || slices.Contains(m.Fields, field)
}

func productName(cat *catalog.Catalog, key string) string {
	if p, ok := cat.Product(key); ok {
		return p.Name
	}
	return key
}

// lower writes a name in lower case after its first word's capital ("Agent slots" →
// "agent slots"), for a sentence.
func lower(s string) string {
	if s == "" || s[0] < 'A' || s[0] > 'Z' || (len(s) > 1 && s[1] >= 'A' && s[1] <= 'Z') {
		return s // empty, not capitalized, or an acronym (LLM)
	}
	return string(s[0]+'a'-'A') + s[1:]
}

func quantityPtr(d decimal.Decimal) *billow.Quantity {
	q := billow.NewQuantity(d)
	return &q
}

func fitsInt64(d decimal.Decimal) bool {
	return d.IsInteger() && d.Sign() >= 0 && d.LessThanOrEqual(decimal.NewFromInt(math.MaxInt64))
}

// Shares of a past period's LLM tokens taken as input and output: the token meter adds
// the two up, so the split is an assumption (docs/quotes.md), 3 input tokens to 1 output.
const (
	quoteInputShare  = 3
	quoteOutputShare = 1
)

// quoteUsageMeters are the meters a past period's usage is read from to fill a quote's
// input: the first meter of each feed, unfiltered, and for tokens one grouped by
// provider and model summing input and output tokens.
type quoteUsageMeters struct {
	sessions, voiceSeconds, voiceSessions, tokens *catalog.Meter
}

func usageMetersOf(cat *catalog.Catalog) quoteUsageMeters {
	var u quoteUsageMeters
	for i := range cat.Meters {
		m := &cat.Meters[i]
		if len(m.Filters) > 0 {
			continue
		}
		switch feedOf(m) {
		case feedSessions:
			if _, err := meter.SessionRulesOf(m); err == nil && u.sessions == nil {
				u.sessions = m
			}
		case feedVoiceSeconds:
			u.voiceSeconds = firstMeter(u.voiceSeconds, m)
		case feedVoiceSessions:
			u.voiceSessions = firstMeter(u.voiceSessions, m)
		case feedLLMTokens:
			if slices.Contains(m.GroupBy, "provider") && slices.Contains(m.GroupBy, "model") && sums(m, "input_tokens") && sums(m, "output_tokens") {
				u.tokens = firstMeter(u.tokens, m)
			}
		}
	}
	return u
}

func firstMeter(a, b *catalog.Meter) *catalog.Meter {
	if a != nil {
		return a
	}
	return b
}

// quoteSeatSelections returns, for each product some plan prices seats of, the named and
// concurrent selections of the first plan that prices them (zero Meter when none).
func quoteSeatSelections(cat *catalog.Catalog) map[string][2]rating.Selection {
	out := map[string][2]rating.Selection{}
	for _, p := range cat.Plans {
		for _, s := range p.Seats {
			sels := out[s.Product]
			if s.Named != nil && sels[0].Meter == "" {
				sels[0] = rating.Selection{Meter: s.Named.Meter, Filters: s.Named.Filters}
			}
			if s.Concurrent != nil && sels[1].Meter == "" {
				sels[1] = rating.Selection{Meter: s.Concurrent.Meter, Filters: s.Concurrent.Filters}
			}
			out[s.Product] = sels
		}
	}
	return out
}

// QuoteUsageNeeds returns the quantities of a past period QuoteInputFromUsage reads: the
// billing sessions, voice seconds and voice sessions, the named and concurrent agents of
// each product with seats, and the tokens of each of the first models rows of the
// catalog's LLM table.
func QuoteUsageNeeds(cat *catalog.Catalog, models int) []rating.Selection {
	u := usageMetersOf(cat)
	var out []rating.Selection
	for _, m := range []*catalog.Meter{u.sessions, u.voiceSeconds, u.voiceSessions} {
		if m != nil {
			out = append(out, rating.Selection{Meter: m.Key})
		}
	}
	seats := quoteSeatSelections(cat)
	for _, p := range QuoteUses(cat).SeatProducts {
		for _, s := range seats[p] {
			if s.Meter != "" {
				out = append(out, s)
			}
		}
	}
	if u.tokens != nil {
		for _, r := range cat.ProviderCosts.LLM[:min(models, len(cat.ProviderCosts.LLM))] {
			out = append(out, rating.Selection{Meter: u.tokens.Key, Filters: map[string]string{"provider": r.Provider, "model": r.Model}})
		}
	}
	return out
}

// QuoteInputFromUsage returns a past period's usage, read as QuoteUsageNeeds lists it,
// as a quote's input for a month, within the input's limits: conversations are the
// billing sessions, each as long as one session's block; voice minutes are the seconds
// rounded up to whole minutes; a product's named agents are at least its concurrent ones;
// a model's tokens are split 3 input to 1 output. A quantity not given is 0.
func QuoteInputFromUsage(cat *catalog.Catalog, models int, qs map[string]decimal.Decimal) billow.QuoteInput {
	whole := func(s rating.Selection, max int64) int64 {
		q, ok := qs[s.Key()]
		if !ok || q.Sign() <= 0 {
			return 0
		}
		q = q.Ceil()
		if q.GreaterThan(decimal.NewFromInt(max)) {
			return max
		}
		return q.IntPart()
	}
	u := usageMetersOf(cat)
	var in billow.QuoteInput
	if u.sessions != nil {
		in.ConversationsPerMonth = whole(rating.Selection{Meter: u.sessions.Key}, billow.QuoteConversationsMax)
		in.ConversationMinutes = min(u.sessions.BlockMinutes, billow.QuoteConversationMinutesMax)
	}
	if u.voiceSeconds != nil {
		seconds := whole(rating.Selection{Meter: u.voiceSeconds.Key}, billow.QuoteVoiceMinutesMax*60)
		in.VoiceMinutesPerMonth = (seconds + 59) / 60
	}
	if u.voiceSessions != nil {
		in.VoiceSessionsPerMonth = whole(rating.Selection{Meter: u.voiceSessions.Key}, billow.QuoteVoiceSessionsMax)
	}
	seats := quoteSeatSelections(cat)
	for _, p := range QuoteUses(cat).SeatProducts {
		var named, concurrent int64
		if s := seats[p][1]; s.Meter != "" {
			concurrent = whole(s, billow.QuoteAgentsMax)
		}
		named = concurrent
		if s := seats[p][0]; s.Meter != "" {
			named = max(whole(s, billow.QuoteAgentsMax), concurrent)
		}
		if named > 0 {
			in.Seats = append(in.Seats, billow.QuoteSeat{Product: p, Named: named, Concurrent: concurrent})
		}
	}
	if u.tokens != nil {
		for _, r := range cat.ProviderCosts.LLM[:min(models, len(cat.ProviderCosts.LLM))] {
			tokens := whole(rating.Selection{Meter: u.tokens.Key, Filters: map[string]string{"provider": r.Provider, "model": r.Model}}, billow.QuoteTokensMax)
			if tokens == 0 {
				continue
			}
			input := tokens / (quoteInputShare + quoteOutputShare) * quoteInputShare
			in.LLM = append(in.LLM, billow.QuoteLLM{Provider: r.Provider, Model: r.Model, InputTokens: input, OutputTokens: tokens - input})
		}
	}
	return in
}
