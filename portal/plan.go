package portal

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
)

// planPage is the Plan & Usage page (GET /portal/): the plan information of seed 000
// (current plan, products, period, next billing date, add-ons), what the plan includes
// this month against what was used, the next invoice as it stands, and Usage Trends.
type planPage struct {
	Plan     planInfo
	Included []included
	Usage    []meterLine
	Month    string // "March 2026": the month usage is counted in
	Upcoming *upcoming
	// UpcomingNote says why there is no estimate, when there is none to show.
	UpcomingNote string
	Trends       trendsView
}

type planInfo struct {
	Name, Description string
	Status, Tone      string // the badge: its words and its colour
	Enterprise        bool
	Price             string // "$500.00 / month"; empty for a contract or no plan
	Period            string // "5 Mar 2026 – 4 Apr 2026"
	NextLabel, Next   string // "Next billing date", "5 Apr 2026"
	Products          []string
	AddOns            []addOnLine
	Features          []string
	Pending           string
	AutoBilling       bool
	PaymentMethod     string
}

type addOnLine struct {
	Name     string
	Quantity int64
	Price    string
}

// included is one thing the plan includes, against its use: a monthly allowance, a
// quota, the apps the plan allows, its free credits.
type included struct {
	Name       string
	Used, Of   string
	Value, Max int64 // for the <progress> bar, in whole units
	Detail     string
	Over       bool
}

type meterLine struct {
	Name, Value string
}

type upcoming struct {
	Date  string
	Total string
	Lines []invoiceLine
	Tax   string
}

type invoiceLine struct {
	Description, Amount string
}

func (h *Handler) plan(w http.ResponseWriter, r *http.Request, v *visit) {
	ctx := r.Context()
	a := v.account
	loc, err := h.zone(a.Timezone)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	cat, err := h.store.AccountCatalog(ctx, a)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	sub, err := h.store.LiveSubscription(ctx, a.ID)
	if billow.ErrorKindOf(err) == billow.KindNotFound {
		sub, err = nil, nil
	}
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	apps, err := h.apps(ctx, a.ID)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	summary, err := h.store.UsageSummary(ctx, billow.UsageSummaryInput{Account: a.ID})
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	wallet, err := h.store.Wallet(ctx, a.ID)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	methods, err := h.store.PaymentMethods(ctx, a.ID)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	trends, err := h.trends(ctx, r.URL.Query(), v, loc, apps)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}

	p := &planPage{Trends: trends, Month: summary.From.In(loc).Format("January 2006")}
	planKey := a.Plan
	if sub != nil {
		planKey = sub.Plan
	}
	plan, _ := cat.Plan(planKey)
	p.Plan = planInformation(a, cat, plan, sub, methods, loc)
	p.Included = includedUse(cat, plan, sub, summary, wallet, len(apps))
	for _, m := range summary.Meters {
		if m.Quantity != nil && !m.Quantity.Decimal().IsZero() {
			p.Usage = append(p.Usage, meterLine{Name: m.Name, Value: formatUsage(m.Quantity, m.Unit)})
		}
	}
	p.Upcoming, p.UpcomingNote = h.upcoming(ctx, a, sub, loc)
	h.render(w, r, http.StatusOK, "plan.html", v, layout{Title: "Plan & Usage", Section: "plan", Content: p,
		Notice: orderNotice(r.URL.Query().Get("result"))})
}

// planInformation describes the account's plan and subscription.
func planInformation(a *billow.Account, cat *catalog.Catalog, plan *catalog.Plan, sub *billow.Subscription,
	methods []*billow.PaymentMethod, loc *time.Location) planInfo {
	info := planInfo{Enterprise: a.Type == billow.AccountEnterprise, AutoBilling: a.AutoBilling, Name: "No plan", Next: dash}
	if plan != nil {
		info.Name, info.Description = plan.Name, plan.Description
		for _, key := range plan.Products {
			if prod, ok := cat.Product(key); ok {
				info.Products = append(info.Products, prod.Name)
			}
		}
		info.Features = features(cat, plan)
	}
	for _, m := range methods {
		if m.Default {
			info.PaymentMethod = m.Label()
		}
	}
	interval := catalog.IntervalMonth
	if sub != nil {
		interval = sub.Interval
	}
	if plan != nil && !info.Enterprise {
		if fee, ok := plan.Fee(interval); ok {
			info.Price = money(fee.AmountMinorUnits, cat.Currency, cat.CurrencyDigits) + " / " + interval
		}
	}
	if sub == nil {
		switch {
		case info.Enterprise:
			info.Status, info.Tone = "Contract", "info"
		case plan != nil && info.Price != "" && isFree(plan):
			info.Status, info.Tone = "Free", "ok"
		default:
			info.Status, info.Tone = "Not subscribed", "neutral"
		}
		return info
	}
	info.Status, info.Tone = subscriptionStatus(sub.Status)
	info.Period = formatDate(sub.CurrentPeriodStart, loc) + " – " + formatDate(sub.CurrentPeriodEnd.Add(-time.Microsecond), loc)
	switch {
	case sub.Status == billow.SubscriptionTrialing && sub.TrialEnd != nil:
		info.NextLabel, info.Next = "Trial ends", formatDate(*sub.TrialEnd, loc)
	case sub.CancelAtPeriodEnd:
		info.NextLabel, info.Next = "Ends on", formatDate(sub.CurrentPeriodEnd, loc)
	case sub.Status == billow.SubscriptionPastDue && sub.NextRetryAt != nil:
		info.NextLabel, info.Next = "Next payment attempt", formatDate(*sub.NextRetryAt, loc)
	default:
		info.NextLabel, info.Next = "Next billing date", formatDate(sub.CurrentPeriodEnd, loc)
	}
	for _, ao := range sub.AddOns {
		line := addOnLine{Name: ao.AddOn, Quantity: ao.Quantity}
		if def, ok := cat.AddOn(ao.AddOn); ok {
			line.Name = def.Name
			if fee, ok := def.Fee(sub.Interval); ok && !info.Enterprise {
				line.Price = money(fee.AmountMinorUnits*ao.Quantity, cat.Currency, cat.CurrencyDigits) + " / " + sub.Interval
			}
		}
		info.AddOns = append(info.AddOns, line)
	}
	if sub.Pending != nil {
		name := sub.Pending.Plan
		if pp, ok := cat.Plan(sub.Pending.Plan); ok {
			name = pp.Name
		}
		info.Pending = fmt.Sprintf("Changes to %s (billed per %s) on %s.", name, sub.Pending.Interval, formatDate(sub.CurrentPeriodEnd, loc))
	}
	return info
}

func isFree(p *catalog.Plan) bool {
	for _, f := range p.Fees {
		if f.AmountMinorUnits != 0 {
			return false
		}
	}
	return true
}

// subscriptionStatus names a status for a customer, with the tone of its badge.
func subscriptionStatus(s billow.SubscriptionStatus) (string, string) {
	switch s {
	case billow.SubscriptionActive:
		return "Active", "ok"
	case billow.SubscriptionTrialing:
		return "Trial", "info"
	case billow.SubscriptionPastDue:
		return "Past due", "warn"
	case billow.SubscriptionSuspended:
		return "Suspended", "bad"
	case billow.SubscriptionIncomplete:
		return "Awaiting first payment", "warn"
	}
	return string(s), "neutral"
}

// features lists what the plan grants: quantities ("50 apps") and the flags it turns on.
func features(cat *catalog.Catalog, p *catalog.Plan) []string {
	var out []string
	for _, e := range p.Entitlements {
		def, ok := cat.Entitlement(e.Key)
		if !ok {
			continue
		}
		switch {
		case e.Type == catalog.EntitlementQuantity && e.Quantity > 0:
			out = append(out, def.Name+": "+groupDigits(fmt.Sprint(e.Quantity)))
		case e.Type == catalog.EntitlementFlag && e.Enabled:
			out = append(out, def.Name)
		}
	}
	return out
}

// includedUse sets what the plan includes against what was used: each monthly
// allowance and monthly quota against this month's usage, the apps against the plan's
// (and add-ons') agent slots, the plan's free credits against what is left of them.
func includedUse(cat *catalog.Catalog, plan *catalog.Plan, sub *billow.Subscription, summary *billow.UsageSummary,
	wallet *billow.Wallet, apps int) []included {
	if plan == nil {
		return nil
	}
	used := map[string]*billow.MeterUsage{}
	for i := range summary.Meters {
		used[summary.Meters[i].Meter] = &summary.Meters[i]
	}
	var out []included
	for _, m := range cat.Meters { // the catalog's order, not the map's
		allowance, ok := plan.Allowances[m.Key]
		if !ok {
			continue
		}
		out = append(out, usageAgainst(m.Name, used[m.Key], allowance, "included this month; more is billed at your plan's rates"))
	}
	for _, l := range plan.Limits {
		if l.Period != catalog.PeriodMonth {
			continue // a quota over all time is checked when usage arrives; this page shows months
		}
		name := l.Meter
		if m, ok := cat.Meter(l.Meter); ok {
			name = m.Name
		}
		out = append(out, usageAgainst(name, used[l.Meter], l.Limit, "the most this plan allows in a month"))
	}
	if slots := plan.Quantity("agent_slots"); slots > 0 {
		if sub != nil {
			for _, ao := range sub.AddOns {
				if def, ok := cat.AddOn(ao.AddOn); ok {
					slots += def.Quantity("agent_slots") * ao.Quantity
				}
			}
		}
		name := "Apps"
		if def, ok := cat.Entitlement("agent_slots"); ok {
			name = def.Name
		}
		out = append(out, included{Name: name, Used: groupDigits(fmt.Sprint(apps)), Of: groupDigits(fmt.Sprint(slots)),
			Value: int64(min(apps, int(slots))), Max: slots, Over: int64(apps) > slots, Detail: "apps your plan allows"})
	}
	if plan.IncludedCredits != nil && plan.IncludedCredits.Credits > 0 {
		var leftUcr int64
		for _, g := range wallet.Grants {
			if g.Kind == billow.GrantFree {
				leftUcr += g.RemainingUcr
			}
		}
		total := plan.IncludedCredits.Credits
		left := min(leftUcr/billow.MicroCreditsPerCredit, total)
		out = append(out, included{Name: "Free credits", Used: groupDigits(fmt.Sprint(left)), Of: groupDigits(fmt.Sprint(total)),
			Value: left, Max: total, Detail: "left of the credits your plan includes each cycle"})
	}
	return out
}

// usageAgainst compares a meter's use this month with what is included.
func usageAgainst(name string, m *billow.MeterUsage, of int64, detail string) included {
	q := decimal.Zero
	var unit string
	if m != nil {
		unit = m.Unit
		if m.Quantity != nil {
			q = m.Quantity.Decimal()
		}
	}
	limit := decimal.NewFromInt(of)
	in := included{Name: name, Used: formatDecimal(q), Of: formatDecimal(limit) + " " + plural(unit, limit), Max: max(of, 1),
		Detail: detail, Over: q.GreaterThan(limit)}
	in.Value = min(q.IntPart(), in.Max)
	return in
}

// upcoming previews the next invoice, or says why there is none. Enterprise accounts'
// invoices are the operator's (seed 000), so theirs is not shown, as the API does not
// show it to them.
func (h *Handler) upcoming(ctx context.Context, a *billow.Account, sub *billow.Subscription, loc *time.Location) (*upcoming, string) {
	if a.Type == billow.AccountEnterprise || h.billing == nil || sub == nil {
		return nil, ""
	}
	inv, err := h.billing.UpcomingInvoice(ctx, a.ID)
	switch billow.ErrorCode(err) {
	case billow.CodeNoUpcomingInvoice:
		return nil, "Your subscription will not renew as it stands, so there is no next invoice."
	case billow.CodeNoSubscription:
		return nil, ""
	}
	if err != nil {
		// The estimate is a courtesy: the rest of the page stands without it.
		h.logger.ErrorContext(ctx, "upcoming invoice for the portal", "account", a.ID, "error", err)
		return nil, "The estimate of your next invoice is not available right now."
	}
	up := &upcoming{Date: formatDate(inv.BillingDate, loc), Total: money(inv.TotalMinor, inv.Currency, inv.CurrencyDigits)}
	for _, l := range inv.Lines {
		up.Lines = append(up.Lines, invoiceLine{Description: l.Description, Amount: money(l.AmountMinor, inv.Currency, inv.CurrencyDigits)})
	}
	if inv.TaxMinor != 0 {
		up.Tax = money(inv.TaxMinor, inv.Currency, inv.CurrencyDigits)
	}
	return up, ""
}

// apps lists the account's apps, oldest first, up to AppsMax.
func (h *Handler) apps(ctx context.Context, accountID string) ([]*billow.App, error) {
	var out []*billow.App
	page := billow.PageInput{Limit: billow.PageLimitMax}
	for len(out) < AppsMax {
		p, err := h.store.ListApps(ctx, accountID, page)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Data...)
		if !p.HasMore || len(p.Data) == 0 {
			break
		}
		page.StartingAfter = p.Data[len(p.Data)-1].ID
	}
	slices.Reverse(out) // the store lists newest first; a filter reads better in creation order
	return out, nil
}

// zone returns a time zone, cached: loading one parses the embedded database.
func (h *Handler) zone(name string) (*time.Location, error) {
	if loc, ok := h.zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("portal: time zone %q: %w", name, err)
	}
	h.zones.Store(name, loc)
	return loc, nil
}
