package portal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/billing"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/rating"
)

// The pricing calculator (GET /portal/calculator, seed 004): a form of the account's
// monthly usage and, below it, what that usage would cost on each plan of its catalog,
// side by side, the cheapest marked. The numbers are billing.Quote's for the account, as
// POST /v1/quotes gives them. The form asks only for what the catalog's plans price
// (billing.QuoteUses); its first values are the account's last 30 days of usage, or
// example figures when it has none. A GET form: a result is a link to share.

// Limits of the calculator, named with their unit last.
const (
	// calculatorModelsMax bounds the LLM models the form offers: the first rows of the
	// catalog's provider table.
	calculatorModelsMax = 8
	// calculatorUsageDays is how far back the form's first values look.
	calculatorUsageDays = 30
)

// calculatorStore is what the pricing calculator reads beyond Store: the quantities of
// the account's recent usage, as rating reads them, for the form's first values.
type calculatorStore interface {
	RatingQuantities(ctx context.Context, accountID string, from, to time.Time, sels []rating.Selection) (map[string]decimal.Decimal, error)
}

// calculatorPage is the calculator's content.
type calculatorPage struct {
	Source   string // where the form's values come from
	Errors   []string
	Use      billing.QuoteUse
	Yearly   bool // some plan has a yearly fee: the interval is a choice
	Interval string

	Conversations, Minutes, VoiceMinutes, VoiceSessions, Apps calcField
	Seats                                                     []calcSeats
	Models                                                    []calcModel
	AddOns                                                    []calcAddOn
	Result                                                    *calcResult
}

// calcField is one number input.
type calcField struct {
	Name, Label, Hint, Value, Error string
	Max                             int64
}

type calcSeats struct {
	Product           string
	Named, Concurrent calcField
	ModeName, Mode    string // the select's name and chosen value ("", named, concurrent)
}

type calcModel struct {
	Label       string // "openai · gpt-4o"
	Price       string // "$2.50 in / $10.00 out per 1M tokens"
	Input       calcField
	Output      calcField
	BYOName     string
	BYO         bool
	BYOAllowed  bool // some plan allows own keys (or the catalog does not limit them)
	BYOLabel    string
	ProviderKey string
	ModelKey    string
}

type calcAddOn struct {
	Key, Name, Price string
	Field            calcField
}

// calcResult is the quote, formatted.
type calcResult struct {
	Interval    string // "month" or "year"
	Assumptions []string
	Plans       []calcPlan
	Cheapest    string // the cheapest plan's name
}

type calcPlan struct {
	Key, Name, Description string
	Current                bool
	Cheapest, Available    bool
	Priced                 bool
	Reason                 string
	PerMonth               string // the total per month
	PerPeriod              string // "$2,040.00 a year", yearly only
	Summary                []calcFact
	Lines                  []calcLine
	ChooseURL              string
	CustomPricing          bool
}

type calcFact struct{ Label, Value string }

type calcLine struct {
	Description, Detail, Amount string
}

func (h *Handler) calculator(w http.ResponseWriter, r *http.Request, v *visit) {
	ctx := r.Context()
	a := v.account
	cat, err := h.store.AccountCatalog(ctx, a)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	q := r.URL.Query()
	page := &calculatorPage{Use: billing.QuoteUses(cat), Interval: catalog.IntervalMonth}
	for _, p := range cat.Plans {
		if _, ok := p.Fee(catalog.IntervalYear); ok {
			page.Yearly = true
		}
	}

	var in billow.QuoteInput
	fields := map[string]string{} // the input's field paths → the form's names
	status := http.StatusOK
	if q.Has("interval") {
		var bad map[string]string
		in, fields, bad = readCalculatorForm(cat, page.Use, q)
		page.Source = "Your figures."
		if len(bad) > 0 {
			status = http.StatusUnprocessableEntity
			page.fill(cat, in, q, bad)
			page.Errors = []string{"Some values are not whole numbers: see the fields marked below."}
			h.render(w, r, status, "calculator.html", v, layout{Title: "Pricing calculator", Section: "calculator", Content: page})
			return
		}
	} else {
		in, page.Source = h.calculatorStart(ctx, a, cat, page.Use)
	}
	page.Interval = in.Interval
	if page.Interval == "" {
		page.Interval = catalog.IntervalMonth
	}

	quote, err := billing.Quote(cat, a, in)
	var bad map[string]string
	if e := (*billow.Error)(nil); errors.As(err, &e) && e.Kind == billow.KindInvalid {
		status, bad = http.StatusUnprocessableEntity, map[string]string{}
		for _, f := range e.Fields {
			name, ok := fields[f.Field]
			if !ok || name == calcFormInterval || strings.HasPrefix(name, "mode.") {
				// Not a number field to mark: said above the form.
				page.Errors = append(page.Errors, f.Field+": "+f.Message)
				continue
			}
			bad[name] = f.Message
		}
		if len(bad) > 0 {
			page.Errors = append([]string{"Some values are out of range: see the fields marked below."}, page.Errors...)
		}
	} else if err != nil {
		h.fail(w, r, v, err)
		return
	}
	page.fill(cat, in, q, bad)
	if quote != nil {
		page.Result = calculatorResult(cat, a, quote)
	}
	h.render(w, r, status, "calculator.html", v, layout{Title: "Pricing calculator", Section: "calculator", Content: page})
}

// calculatorStart returns the form's first values: the account's last 30 days of usage
// and its apps, or example figures when it has no usage (or reading it fails, which is
// logged: the calculator works without it).
func (h *Handler) calculatorStart(ctx context.Context, a *billow.Account, cat *catalog.Catalog, use billing.QuoteUse) (billow.QuoteInput, string) {
	now := h.clock.Now()
	var in billow.QuoteInput
	if needs := billing.QuoteUsageNeeds(cat, calculatorModelsMax); len(needs) > 0 {
		qs, err := h.store.RatingQuantities(ctx, a.ID, now.AddDate(0, 0, -calculatorUsageDays), now, needs)
		if err != nil {
			h.logger.WarnContext(ctx, "calculator: recent usage not read", "account", a.ID, "error", err)
		} else {
			in = billing.QuoteInputFromUsage(cat, calculatorModelsMax, qs)
		}
	}
	apps, err := h.apps(ctx, a.ID)
	if err != nil {
		h.logger.WarnContext(ctx, "calculator: apps not read", "account", a.ID, "error", err)
	}
	if in = onlyUsed(in, use); in.ConversationsPerMonth > 0 || in.VoiceMinutesPerMonth > 0 || in.VoiceSessionsPerMonth > 0 || len(in.Seats) > 0 || len(in.LLM) > 0 {
		in.Apps = int64(len(apps))
		return onlyUsed(in, use), fmt.Sprintf("Filled in from your last %d days of usage; LLM tokens split 3 input to 1 output. Change any figure and estimate again.", calculatorUsageDays)
	}
	// Example figures: a small assistant, seed-like (seed 000's 31-minute conversation
	// is 3 sessions; seed 004's plans differ in apps and own keys).
	in = billow.QuoteInput{ConversationsPerMonth: 1000, ConversationMinutes: 10, VoiceMinutesPerMonth: 200, VoiceSessionsPerMonth: 300,
		Apps: max(int64(len(apps)), 1)}
	if len(use.SeatProducts) > 0 {
		in.Seats = []billow.QuoteSeat{{Product: use.SeatProducts[0], Named: 20, Concurrent: 10}}
	}
	if rows := cat.ProviderCosts.LLM; len(rows) > 0 {
		in.LLM = []billow.QuoteLLM{{Provider: rows[0].Provider, Model: rows[0].Model, InputTokens: 2_000_000, OutputTokens: 500_000}}
	}
	return onlyUsed(in, use), "Example figures: replace them with your own and estimate again."
}

// onlyUsed leaves out of in what the form does not ask for, so that the first estimate is
// the one the form's values give.
func onlyUsed(in billow.QuoteInput, use billing.QuoteUse) billow.QuoteInput {
	if !use.Conversations {
		in.ConversationsPerMonth, in.ConversationMinutes = 0, 0
	}
	if !use.VoiceMinutes {
		in.VoiceMinutesPerMonth = 0
	}
	if !use.VoiceSessions {
		in.VoiceSessionsPerMonth = 0
	}
	if !use.Apps {
		in.Apps = 0
	}
	if !use.LLM {
		in.LLM = nil
	}
	return in
}

// Names of the form's fields.
const (
	calcFormInterval      = "interval"
	calcFormConversations = "conversations"
	calcFormMinutes       = "minutes"
	calcFormVoiceMinutes  = "voice_minutes"
	calcFormVoiceSessions = "voice_sessions"
	calcFormApps          = "apps"
)

func calcSeatField(kind, product string) string { return kind + "." + product }
func calcModelField(kind string, i int) string  { return kind + "." + strconv.Itoa(i) }
func calcAddOnField(key string) string          { return "add_on." + key }

// readCalculatorForm reads the form into a quote's input. It returns the input, the
// form's name of each input field (for the quote's errors), and the fields that are not
// whole numbers, with why. A field the form does not show is 0; an empty one too.
func readCalculatorForm(cat *catalog.Catalog, use billing.QuoteUse, q url.Values) (billow.QuoteInput, map[string]string, map[string]string) {
	in := billow.QuoteInput{Interval: q.Get(calcFormInterval)}
	paths := map[string]string{"interval": calcFormInterval}
	bad := map[string]string{}
	num := func(name, path string) int64 {
		paths[path] = name
		s := strings.NewReplacer(",", "", " ", "", "_", "", "\u00a0", "").Replace(q.Get(name))
		if s == "" {
			return 0
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			bad[name] = "Enter a whole number."
		}
		return n
	}
	if use.Conversations {
		in.ConversationsPerMonth = num(calcFormConversations, "conversations_per_month")
		in.ConversationMinutes = num(calcFormMinutes, "conversation_minutes")
	}
	if use.VoiceMinutes {
		in.VoiceMinutesPerMonth = num(calcFormVoiceMinutes, "voice_minutes_per_month")
	}
	if use.VoiceSessions {
		in.VoiceSessionsPerMonth = num(calcFormVoiceSessions, "voice_sessions_per_month")
	}
	if use.Apps {
		in.Apps = num(calcFormApps, "apps")
	}
	for _, p := range use.SeatProducts {
		i := len(in.Seats)
		s := billow.QuoteSeat{Product: p,
			Named:      num(calcSeatField("named", p), fmt.Sprintf("seats[%d].named", i)),
			Concurrent: num(calcSeatField("concurrent", p), fmt.Sprintf("seats[%d].concurrent", i)),
			Mode:       billow.SeatMode(q.Get(calcSeatField("mode", p)))}
		paths[fmt.Sprintf("seats[%d].mode", i)] = calcSeatField("mode", p)
		if s.Named != 0 || s.Concurrent != 0 {
			in.Seats = append(in.Seats, s)
		}
	}
	if use.LLM {
		for i, r := range calculatorModels(cat) {
			j := len(in.LLM)
			l := billow.QuoteLLM{Provider: r.Provider, Model: r.Model,
				InputTokens:  num(calcModelField("input", i), fmt.Sprintf("llm[%d].input_tokens", j)),
				OutputTokens: num(calcModelField("output", i), fmt.Sprintf("llm[%d].output_tokens", j)),
				BYOKey:       q.Get(calcModelField("byo", i)) != ""}
			if l.InputTokens != 0 || l.OutputTokens != 0 {
				in.LLM = append(in.LLM, l)
			}
		}
	}
	for _, ao := range cat.AddOns {
		j := len(in.AddOns)
		if n := num(calcAddOnField(ao.Key), fmt.Sprintf("add_ons[%d].quantity", j)); n != 0 {
			in.AddOns = append(in.AddOns, billow.QuoteAddOn{AddOn: ao.Key, Quantity: n})
		}
	}
	return in, paths, bad
}

// calculatorModels are the LLM rows the form offers.
func calculatorModels(cat *catalog.Catalog) []catalog.LLMCost {
	return cat.ProviderCosts.LLM[:min(len(cat.ProviderCosts.LLM), calculatorModelsMax)]
}

// fill sets the form's fields from the input, keeping the text of a field that is not a
// whole number as it was typed, with its error.
func (p *calculatorPage) fill(cat *catalog.Catalog, in billow.QuoteInput, q url.Values, bad map[string]string) {
	field := func(name, label, hint string, v, max int64) calcField {
		f := calcField{Name: name, Label: label, Hint: hint, Value: strconv.FormatInt(v, 10), Max: max, Error: bad[name]}
		if f.Error != "" {
			f.Value = q.Get(name)
		}
		return f
	}
	if in.Interval == catalog.IntervalYear {
		p.Interval = catalog.IntervalYear
	}
	block := int64(15)
	for _, m := range cat.Meters {
		if m.Aggregation == catalog.AggregationSessions {
			block = m.BlockMinutes
			break
		}
	}
	p.Conversations = field(calcFormConversations, "Conversations per month", "Chats and API sessions with your agents.", in.ConversationsPerMonth, billow.QuoteConversationsMax)
	p.Minutes = field(calcFormMinutes, "Average length (minutes)",
		fmt.Sprintf("Each started %d minutes is one billing session: %d minutes are %d.", block, 2*block+1, 3), in.ConversationMinutes, billow.QuoteConversationMinutesMax)
	p.VoiceMinutes = field(calcFormVoiceMinutes, "Voice minutes per month", "Speech-to-text, text-to-speech and phone time.", in.VoiceMinutesPerMonth, billow.QuoteVoiceMinutesMax)
	p.VoiceSessions = field(calcFormVoiceSessions, "Voice interactions per month", "Each speech-to-text, text-to-speech or phone call.", in.VoiceSessionsPerMonth, billow.QuoteVoiceSessionsMax)
	slots := "Agent slots"
	if def, ok := cat.Entitlement("agent_slots"); ok {
		slots = def.Name
	}
	p.Apps = field(calcFormApps, "AI agents (apps)", "Each plan includes a number of "+strings.ToLower(slots)+".", in.Apps, billow.QuoteAppsMax)

	p.Seats = nil
	for _, prod := range p.Use.SeatProducts {
		var s billow.QuoteSeat
		for _, x := range in.Seats {
			if x.Product == prod {
				s = x
			}
		}
		name := prod
		if pr, ok := cat.Product(prod); ok {
			name = pr.Name
		}
		p.Seats = append(p.Seats, calcSeats{Product: name,
			Named:      field(calcSeatField("named", prod), "Named agents", "Everyone who logs in during the month.", s.Named, billow.QuoteAgentsMax),
			Concurrent: field(calcSeatField("concurrent", prod), "Concurrent agents", "The most logged in at once.", s.Concurrent, billow.QuoteAgentsMax),
			ModeName:   calcSeatField("mode", prod), Mode: string(s.Mode)})
	}

	_, byoLimited := cat.Entitlement("byo_api_keys")
	byoSomewhere := !byoLimited
	for _, pl := range cat.Plans {
		byoSomewhere = byoSomewhere || pl.Flag("byo_api_keys")
	}
	p.Models = nil
	for i, r := range calculatorModels(cat) {
		var l billow.QuoteLLM
		for _, x := range in.LLM {
			if x.Provider == r.Provider && x.Model == r.Model {
				l = x
			}
		}
		p.Models = append(p.Models, calcModel{Label: r.Provider + " · " + r.Model, ProviderKey: r.Provider, ModelKey: r.Model,
			Price:   fmt.Sprintf("%s in, %s out per million tokens", calcPrice(cat, r.InputPerMillion), calcPrice(cat, r.OutputPerMillion)),
			Input:   field(calcModelField("input", i), "Input tokens", "", l.InputTokens, billow.QuoteTokensMax),
			Output:  field(calcModelField("output", i), "Output tokens", "", l.OutputTokens, billow.QuoteTokensMax),
			BYOName: calcModelField("byo", i), BYO: l.BYOKey, BYOAllowed: byoSomewhere,
			BYOLabel: "Own API key for " + r.Model})
	}

	p.AddOns = nil
	for _, ao := range cat.AddOns {
		var n int64
		for _, x := range in.AddOns {
			if x.AddOn == ao.Key {
				n = x.Quantity
			}
		}
		var prices []string
		for _, f := range ao.Fees {
			prices = append(prices, money(f.AmountMinorUnits, cat.Currency, cat.CurrencyDigits)+" / "+f.Interval)
		}
		p.AddOns = append(p.AddOns, calcAddOn{Key: ao.Key, Name: ao.Name, Price: strings.Join(prices, " or "),
			Field: field(calcAddOnField(ao.Key), ao.Name, "", n, ao.MaxQuantity)})
	}
}

// calcPrice writes a price of the catalog (major units, up to 12 decimals) as money when it
// is whole minor units ("$0.05"), else with the currency code ("USD 0.0015").
func calcPrice(cat *catalog.Catalog, price string) string {
	d, err := decimal.NewFromString(price)
	if err != nil {
		return price
	}
	minor := d.Shift(int32(cat.CurrencyDigits))
	if minor.IsInteger() && minor.Abs().LessThan(decimal.New(1, 18)) {
		return money(minor.IntPart(), cat.Currency, cat.CurrencyDigits)
	}
	// Below a minor unit ("0.0015"): the currency's sign as money writes it, then every
	// digit the catalog gives.
	zero := money(0, cat.Currency, cat.CurrencyDigits)
	return zero[:strings.IndexByte(zero, '0')] + d.String()
}

// calculatorResult formats a quote for the page.
func calculatorResult(cat *catalog.Catalog, a *billow.Account, q *billow.Quote) *calcResult {
	res := &calcResult{Interval: q.Interval}
	cur := func(minor int64) string { return money(minor, q.Currency, q.CurrencyDigits) }
	for _, u := range q.Usage {
		if !u.Quantity.Decimal().IsZero() {
			res.Assumptions = append(res.Assumptions, calcAssumption(u))
		}
	}
	if len(res.Assumptions) == 0 {
		res.Assumptions = []string{"no usage"}
	}
	period := map[string]string{catalog.IntervalMonth: "month", catalog.IntervalYear: "year"}[q.Interval]
	for _, p := range q.Plans {
		cp := calcPlan{Key: p.Plan, Name: p.Name, Description: p.Description, Current: p.Plan == a.Plan, Cheapest: p.Cheapest,
			Available: p.Available, Priced: p.Priced, Reason: p.Reason, CustomPricing: p.CustomPricing}
		if p.Cheapest {
			res.Cheapest = p.Name
		}
		if p.Priced {
			cp.PerMonth = cur(p.TotalPerMonthMinor)
			if q.Months > 1 {
				cp.PerPeriod = cur(p.TotalMinor) + " a " + period
			}
			fixed := cur(p.FixedPerMonthMinor) + " / month"
			if q.Months > 1 {
				fixed += ", billed " + cur(p.FeeMinor+p.AddOnsMinor) + " a " + period
			}
			if p.CustomPricing {
				fixed += " (list price)"
			}
			cp.Summary = append(cp.Summary, calcFact{"Plan and add-ons", fixed})
			if p.UsageMinor > 0 {
				cp.Summary = append(cp.Summary, calcFact{"Usage invoiced", cur(p.UsageMinor) + " / month"})
			}
			if p.UsageUcr > 0 || p.IncludedCreditsUcr > 0 {
				cp.Summary = append(cp.Summary, calcFact{"Usage in credits", calcCredits(p.UsageUcr) + " / month"})
			}
			if p.IncludedCreditsUcr > 0 {
				cp.Summary = append(cp.Summary, calcFact{"Free credits included", calcCredits(p.IncludedCreditsUcr) + " a " + period +
					", " + calcCredits(p.CreditsAppliedUcr) + " used"})
			}
			if p.CreditsToBuyUcr > 0 {
				cp.Summary = append(cp.Summary, calcFact{"Credits to buy", calcCredits(p.CreditsToBuyUcr) + ": " + cur(p.CreditsMinor) + " a " + period})
			}
			for _, l := range p.Lines {
				cp.Lines = append(cp.Lines, calculatorLine(cat, l, cur, period))
			}
		}
		if p.Available && !p.CustomPricing && !cp.Current {
			cp.ChooseURL = "/portal/plans/checkout?" + url.Values{"plan": {p.Plan}, "interval": {q.Interval}}.Encode()
		}
		res.Plans = append(res.Plans, cp)
	}
	return res
}

// calcAssumption writes a meter's estimated quantity in words: "3,000 billing sessions",
// "3 h 20 min of voice time", "12,000 credits of LLM usage".
func calcAssumption(u billow.QuoteQuantity) string {
	name := u.Name
	if len(name) > 1 && name[1] >= 'a' && name[1] <= 'z' { // not an acronym (LLM)
		name = strings.ToLower(name[:1]) + name[1:]
	}
	switch u.Unit {
	case "second", "byte":
		return formatUsage(&u.Quantity, u.Unit) + " of " + name
	case rating.QuantityUnitCredit:
		return formatDecimal(u.Quantity.Decimal()) + " credits of " + name
	}
	return formatDecimal(u.Quantity.Decimal()) + " " + name
}

// calculatorLine writes one line of a plan's estimate.
func calculatorLine(cat *catalog.Catalog, l billow.QuoteLine, cur func(int64) string, period string) calcLine {
	out := calcLine{Description: l.Description}
	switch l.Kind {
	case billow.QuoteLineFee, billow.QuoteLineAddOn:
		out.Amount = cur(l.AmountMinor) + " / " + period
		if l.Kind == billow.QuoteLineAddOn {
			out.Detail = l.Quantity.String() + " × " + calcPrice(cat, l.UnitPrice)
		}
		return out
	}
	qty := &l.Quantity
	out.Detail = formatUsage(qty, l.Unit)
	if l.Allowance != nil && !l.Allowance.Decimal().IsZero() {
		out.Detail += ", " + formatUsage(l.Allowance, l.Unit) + " included"
	}
	switch {
	case l.UnitPrice != "" && l.Billable != nil:
		out.Detail += ": " + formatDecimal(l.Billable.Decimal()) + " × " + calcPrice(cat, l.UnitPrice)
	case l.Billable != nil && l.Allowance != nil && !l.Allowance.Decimal().IsZero():
		out.Detail += ": " + formatDecimal(l.Billable.Decimal()) + " billed"
	}
	if !l.Estimated {
		out.Detail += " (not estimated: it depends on one app or group)"
	}
	if l.BilledIn == catalog.BilledInCredits {
		out.Amount = calcCredits(l.AmountUcr) + " / month"
	} else {
		out.Amount = cur(l.AmountMinor) + " / month"
	}
	return out
}

// credits writes micro-credits as credits with at most two decimals.
func calcCredits(ucr int64) string {
	return formatDecimal(decimal.New(ucr, -6)) + " credits"
}
