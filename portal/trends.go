package portal

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/billowhq/billow"
)

// trendsView is the Usage Trends part of the Plan & Usage page (seed 000): an app
// filter, the range (24 hours, 7, 30 or 90 days, or custom dates), a chart or a table of
// billing sessions, voice sessions and the agent count per bucket. The filters are a
// GET form, so every view has its URL and works without JavaScript; portal.js only
// submits the form when a filter changes and switches chart and table in place.
type trendsView struct {
	Apps       []option
	Ranges     []option
	Custom     bool
	Hourly     bool   // the buckets are hours (the 24h range), else days
	From, To   string // the custom range's dates, YYYY-MM-DD, to inclusive
	View       string // "chart" or "table"
	ChartURL   string
	TableURL   string
	Error      string // a filter that could not be used, said why
	Note       string
	Period     string
	ShowAgents bool
	Chart      chart
	Rows       []trendRow
	Totals     trendRow
}

type option struct {
	Value, Label string
	Selected     bool
}

var trendsRanges = []option{
	{Value: string(billow.TrendsLast24Hours), Label: "Last 24 hours"},
	{Value: string(billow.TrendsLast7Days), Label: "Last 7 days"},
	{Value: string(billow.TrendsLast30Days), Label: "Last 30 days"},
	{Value: string(billow.TrendsLast90Days), Label: "Last 90 days"},
	{Value: string(billow.TrendsCustom), Label: "Custom dates"},
}

// trends reads the usage trends the query asks for, with the API's query
// (GET /v1/accounts/{account}/usage/trends reads the same store method), and lays them
// out. A filter that cannot be used is reported on the page and the default is shown.
func (h *Handler) trends(ctx context.Context, q url.Values, v *visit, loc *time.Location, apps []*billow.App) (trendsView, error) {
	tv := trendsView{View: "chart"}
	if q.Get("view") == "table" {
		tv.View = "table"
	}
	in := billow.UsageTrendsInput{Account: v.account.ID, Range: billow.TrendsRange(q.Get("range"))}
	in.Normalize()
	var problems []string
	if !slices.ContainsFunc(trendsRanges, func(o option) bool { return o.Value == string(in.Range) }) {
		problems = append(problems, "That range is not one of the choices; showing the last 30 days.")
		in.Range = billow.TrendsLast30Days
	}
	if app := q.Get("app"); app != "" {
		for _, a := range apps {
			if a.ExternalID == app {
				in.App = app
			}
		}
		if in.App == "" {
			// Not echoed: a link may carry anything there.
			problems = append(problems, "That app is not one of this account's; showing all apps.")
		}
	}
	if in.Range == billow.TrendsCustom {
		from, to, problem := customRange(q.Get("from"), q.Get("to"), loc)
		if problem != "" {
			problems = append(problems, problem)
			in.Range = billow.TrendsLast30Days
		}
		if problem == "" {
			in.From, in.To = from, to
		}
		tv.From, tv.To = q.Get("from"), q.Get("to")
	}
	res, err := h.store.UsageTrends(ctx, in)
	if billow.ErrorKindOf(err) == billow.KindInvalid {
		problems = append(problems, "These dates cannot be shown: "+fieldMessages(err)+". Showing the last 30 days.")
		in = billow.UsageTrendsInput{Account: v.account.ID, Range: billow.TrendsLast30Days, App: in.App}
		res, err = h.store.UsageTrends(ctx, in)
	}
	if err != nil {
		return tv, err
	}
	tv.Error = strings.Join(problems, " ")
	tv.Custom = in.Range == billow.TrendsCustom

	tv.Apps = append(tv.Apps, option{Value: "", Label: "All apps", Selected: in.App == ""})
	for _, a := range apps {
		label := a.Name
		if a.ParentApp != "" {
			label += " (linked app)"
		}
		tv.Apps = append(tv.Apps, option{Value: a.ExternalID, Label: label, Selected: a.ExternalID == in.App})
	}
	for _, o := range trendsRanges {
		o.Selected = o.Value == string(in.Range)
		tv.Ranges = append(tv.Ranges, o)
	}

	hourly := in.Range == billow.TrendsLast24Hours
	tv.Hourly = hourly
	enterprise := v.account.Type == billow.AccountEnterprise
	for _, b := range res.Buckets {
		if b.AgentCount != nil {
			tv.ShowAgents = true
		}
	}
	if !enterprise && in.App != "" {
		tv.Note = "The agent count is the whole account's: choose All apps to see it."
	}
	var billingSum, voiceSum, agentsPeak decimal.Decimal
	var hasAgents bool
	for _, b := range res.Buckets {
		row := trendRow{Date: bucketLabel(b.From, b.To, loc, hourly), Billing: formatQuantity(b.BillingSessions),
			Voice: formatQuantity(b.VoiceSessions), Agents: formatQuantity(b.AgentCount)}
		if b.BillingSessions != nil {
			billingSum = billingSum.Add(b.BillingSessions.Decimal())
		}
		if b.VoiceSessions != nil {
			voiceSum = voiceSum.Add(b.VoiceSessions.Decimal())
		}
		if b.AgentCount != nil {
			agentsPeak, hasAgents = decimal.Max(agentsPeak, b.AgentCount.Decimal()), true
		}
		tv.Rows = append(tv.Rows, row)
	}
	tv.Totals = trendRow{Date: "Total", Billing: formatDecimal(billingSum), Voice: formatDecimal(voiceSum), Agents: dash}
	if hasAgents {
		tv.Totals.Agents = formatDecimal(agentsPeak) // the most agents in one bucket, not a sum
	}
	tv.Chart = newChart(res.Buckets, tv.Rows, hourly, tv.ShowAgents)
	if n := len(res.Buckets); n > 0 {
		first, last := res.Buckets[0].From, res.Buckets[n-1].To.Add(-time.Microsecond)
		if hourly {
			tv.Period = first.In(loc).Format("2 Jan 15:04") + " – " + res.Buckets[n-1].To.In(loc).Format("2 Jan 15:04")
		} else {
			tv.Period = formatDate(first, loc) + " – " + formatDate(last, loc)
		}
		if !tv.Custom {
			// The custom dates start from what is shown, for a small change of range.
			tv.From, tv.To = isoDate(first, loc), isoDate(last, loc)
		}
	}
	tv.Period += " (" + v.account.Timezone + ")"
	tv.Chart.Title = "Usage per " + map[bool]string{true: "hour", false: "day"}[hourly] + ", " + tv.Period
	tv.Chart.Description = "Billing sessions " + tv.Totals.Billing + " and voice sessions " + tv.Totals.Voice + " in total."

	links := url.Values{}
	if in.App != "" {
		links.Set("app", in.App)
	}
	links.Set("range", string(in.Range))
	if tv.Custom {
		links.Set("from", tv.From)
		links.Set("to", tv.To)
	}
	links.Set("view", "chart")
	tv.ChartURL = "/portal/?" + links.Encode() + "#trends"
	links.Set("view", "table")
	tv.TableURL = "/portal/?" + links.Encode() + "#trends"
	return tv, nil
}

// customRange reads the custom dates of the form, days of the account's time zone with
// both included, or says what is wrong with them.
func customRange(fromText, toText string, loc *time.Location) (from, to time.Time, problem string) {
	from, err1 := time.ParseInLocation(time.DateOnly, fromText, loc)
	to, err2 := time.ParseInLocation(time.DateOnly, toText, loc)
	if err1 != nil || err2 != nil {
		return from, to, "Choose both dates of a custom range; showing the last 30 days."
	}
	if to.Before(from) {
		return from, to, "The end date of the custom range is before its start; showing the last 30 days."
	}
	return from, to.AddDate(0, 0, 1), ""
}

// fieldMessages joins what a validation error says of each field.
func fieldMessages(err error) string {
	var e *billow.Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return "the request is not valid"
	}
	var parts []string
	for _, f := range e.Fields {
		parts = append(parts, f.Field+" "+f.Message)
	}
	return strings.Join(parts, "; ")
}

// bucketLabel names a bucket for the table and the tooltip.
func bucketLabel(from, to time.Time, loc *time.Location, hourly bool) string {
	if hourly {
		return from.In(loc).Format("Mon 2 Jan, 15:04") + "–" + to.In(loc).Format("15:04")
	}
	return from.In(loc).Format("Mon 2 Jan 2006")
}
