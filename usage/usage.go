// Package usage owns the hourly rollups that usage queries read instead of raw events:
// which cells (account, meter, app, group, UTC hour) a batch of newly stored events
// changes and how (Combination), the clusters billing sessions are kept in, and the
// windows a usage query is bucketed into in an account's time zone. It is pure: the store
// gives it events and applies its deltas in the transaction that stores the events, so
// rollups count each event once.
//
// Additive meters (count, sum, provider_cost) change by the new events' contribution; min,
// max and latest cells combine with the stored value; distinct values are inserted once.
// Billing sessions are not additive: one message can extend a conversation by a block, or
// join two conversations; so the clusters of each touched stream are merged with the new
// events and the difference in their sessions is the delta. Concurrency peaks are
// recomputed for the hours new events can reach. All give the same rollups as computing
// everything from scratch, in any arrival order.
package usage

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/meter"
)

// HourMicros is the width of a rollup cell.
const HourMicros = int64(time.Hour / time.Microsecond)

// Delta is a change to one rollup cell. Units are the meter's quantity times 10^Scale.
type Delta struct {
	Meter      string
	AppID      string
	Group      string // the meter's group_by values other than app, as "field=value,…"
	HourMicros int64
	Units      int64
	AtMicros   int64 // for latest meters, the time of the value in Units
}

// Scale is the number of decimals a meter's rollup units keep: quantities are stored as
// int64 units so that summing them in SQL is exact on both engines. Sums, minimums,
// maximums and latest values keep thousandths (voice seconds to the millisecond); LLM
// cost is in credits to the micro-credit; counts, sessions and peaks are whole.
func Scale(m *catalog.Meter) int32 {
	switch m.Aggregation {
	case catalog.AggregationSum, catalog.AggregationMin, catalog.AggregationMax, catalog.AggregationLatest:
		return 3
	case catalog.AggregationProviderCost:
		return 6
	}
	return 0
}

// sessionStreamTypes are the event types whose streams billing sessions recompute.
var sessionStreamTypes = append(slices.Clone(billow.ConversationEventTypes), billow.EventAPIRequest)

// IsSessionEvent reports whether an event belongs to a session stream.
func IsSessionEvent(typ string) bool { return slices.Contains(sessionStreamTypes, typ) }

// MeterEvent converts a stored event into the meter engine's form.
func MeterEvent(e *billow.UsageEvent) (meter.Event, error) {
	var data map[string]any
	dec := json.NewDecoder(bytes.NewReader(e.Data))
	dec.UseNumber() // exact: counts go up to int64, seconds keep their decimals
	if err := dec.Decode(&data); err != nil {
		return meter.Event{}, fmt.Errorf("usage: event %s/%s data: %w", e.Source, e.ID, err)
	}
	me := meter.Event{Type: e.Type, TimeMicros: e.Time.UnixMicro(), Account: e.AccountID, App: e.AppID}
	text := func(k string) string { s, _ := data[k].(string); return s }
	me.Conversation, me.Channel, me.ToApp, me.Client = text("conversation"), text("channel"), text("to_app"), text("client")
	me.Kind, me.Agent, me.Product, me.Call = text("kind"), text("agent"), text("product"), text("call")
	me.Provider, me.Model = text("provider"), text("model")
	me.BYOKey, _ = data["byo_key"].(bool)
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"bytes", &me.Bytes}, {"input_tokens", &me.InputTokens}, {"output_tokens", &me.OutputTokens}} {
		if n, ok := data[f.name].(json.Number); ok {
			v, err := strconv.ParseInt(string(n), 10, 64)
			if err != nil {
				return meter.Event{}, fmt.Errorf("usage: event %s/%s: data.%s: %w", e.Source, e.ID, f.name, err)
			}
			*f.dst = v
		}
	}
	if n, ok := data["seconds"].(json.Number); ok {
		s, err := decimal.NewFromString(string(n))
		if err != nil {
			return meter.Event{}, fmt.Errorf("usage: event %s/%s: data.seconds: %w", e.Source, e.ID, err)
		}
		me.VoiceMillis = s.Shift(3).IntPart() // ingest admits at most 3 decimals
	}
	if !billow.IsVocabularyType(e.Type) {
		me.Fields = make(map[string]string, len(data))
		for k, v := range data {
			switch v := v.(type) {
			case string:
				me.Fields[k] = v
			case json.Number:
				me.Fields[k] = string(v)
			case bool:
				me.Fields[k] = strconv.FormatBool(v)
			}
		}
	}
	if err := me.Validate(); err != nil { // ingest checks more; this is the engine's own bound
		return meter.Event{}, fmt.Errorf("usage: event %s/%s: %w", e.Source, e.ID, err)
	}
	return me, nil
}

// hourOf is the start of the UTC hour holding t.
func hourOf(micros int64) int64 {
	h := micros / HourMicros * HourMicros
	if micros < 0 && micros%HourMicros != 0 {
		h -= HourMicros
	}
	return h
}

// rollupMeter is m grouped by app first, then its other group_by fields: rollups keep
// every meter per app, whatever its catalog grouping, so usage can be filtered by app.
func rollupMeter(m *catalog.Meter) *catalog.Meter {
	cp := *m
	cp.GroupBy = append([]string{"app"}, slices.DeleteFunc(slices.Clone(m.GroupBy), func(f string) bool { return f == "app" })...)
	return &cp
}

func groupText(fields, values []string) string {
	var b strings.Builder
	for i := 1; i < len(fields); i++ { // fields[0] is app
		if i > 1 {
			b.WriteByte(',')
		}
		b.WriteString(fields[i] + "=" + values[i])
	}
	return b.String()
}

// AdditiveDeltas are the rollup changes of newly stored events for the catalog's count,
// sum and provider_cost meters. events are of one account.
func AdditiveDeltas(cat *catalog.Catalog, events []meter.Event) ([]Delta, error) {
	byHour := eventsByHour(events)
	hours := sortedHours(byHour)
	var out []Delta
	for i := range cat.Meters {
		m := &cat.Meters[i]
		switch m.Aggregation {
		case catalog.AggregationCount, catalog.AggregationSum:
			d, err := hourlyDeltas(m, byHour, hours, nil)
			if err != nil {
				return nil, err
			}
			out = append(out, d...)
		case catalog.AggregationProviderCost:
			filters := meter.FiltersOf(m.Filters)
			rm := rollupMeter(m)
			for _, e := range events {
				if !slices.Contains(m.EventTypes, e.Type) || !meter.Matches(&e, filters) {
					continue
				}
				ucr, err := meter.LLMCostMicroCredits(&e, &cat.ProviderCosts, cat.Credits)
				if err != nil {
					return nil, err
				}
				values := make([]string, len(rm.GroupBy))
				for k, f := range rm.GroupBy {
					values[k], _ = e.Field(f)
				}
				out = append(out, Delta{Meter: m.Key, AppID: e.App, Group: groupText(rm.GroupBy, values), HourMicros: hourOf(e.TimeMicros), Units: ucr})
			}
		}
	}
	return Merge(out)
}

// hourlyDeltas aggregates a meter over the events of each hour, one delta per app and
// group; each is passed to finish, when given, with the hour's events of its group.
func hourlyDeltas(m *catalog.Meter, byHour map[int64][]meter.Event, hours []int64, finish func(d *Delta, hourEvents []meter.Event, group []string)) ([]Delta, error) {
	rm := rollupMeter(m)
	var out []Delta
	for _, h := range hours {
		groups, err := meter.Aggregate(rm, byHour[h], h, h+HourMicros)
		if err != nil {
			return nil, err
		}
		for _, g := range groups {
			u, err := units(m, g.Quantity)
			if err != nil {
				return nil, err
			}
			d := Delta{Meter: m.Key, AppID: g.Group[0], Group: groupText(rm.GroupBy, g.Group), HourMicros: h, Units: u}
			if finish != nil {
				finish(&d, byHour[h], g.Group)
			}
			out = append(out, d)
		}
	}
	return out, nil
}

// ClusterSessions returns the sessions of one cluster (a run of a stream's events with no
// gap longer than the idle timeout) as +1 deltas, from its representative events: those
// at its first and last moments, its routings, and the earliest event naming its app.
// The clustering is already done, so the engine must not split the representatives
// again where they are far apart: the idle timeout is lifted for the call. inheritedApp
// is the app that served the stream's previous cluster when it went idle; a conversation
// resumed with no event naming an app stays on it, as in the meter engine.
func ClusterSessions(m *catalog.Meter, reps []meter.Event, inheritedApp string) ([]Delta, error) {
	rules, err := meter.SessionRulesOf(m)
	if err != nil {
		return nil, err
	}
	rules.IdleTimeoutMicros = meter.IdleTimeoutMicrosMax
	if inheritedApp != "" && len(reps) > 0 && !slices.ContainsFunc(reps, func(e meter.Event) bool {
		return e.App != "" && e.Type != billow.EventConversationRouted
	}) {
		first := slices.MinFunc(reps, func(a, b meter.Event) int { return cmp.Compare(a.TimeMicros, b.TimeMicros) })
		reps = append(slices.Clone(reps), meter.Event{Type: billow.EventConversationMessage, TimeMicros: first.TimeMicros,
			Account: first.Account, App: inheritedApp, Conversation: first.Conversation})
	}
	var out []Delta
	for _, s := range meter.Sessionize(reps, rules, meter.TimeMicrosMax) {
		out = append(out, Delta{Meter: m.Key, AppID: s.App, HourMicros: hourOf(s.StartMicros), Units: 1})
	}
	return out, nil
}

// ServingApp is the app serving a conversation cluster at its end, from its
// representative events; "" for API activity or when no event names an app.
func ServingApp(m *catalog.Meter, reps []meter.Event, inheritedApp string) string {
	rules, err := meter.SessionRulesOf(m)
	if err != nil {
		return ""
	}
	rules.IdleTimeoutMicros = meter.IdleTimeoutMicrosMax
	streams := meter.Streams(reps, rules)
	if len(streams) != 1 || len(streams[0].Segments) == 0 {
		return inheritedApp
	}
	segs := streams[0].Segments
	return segs[len(segs)-1].App
}

// Negate turns deltas around: the sessions a cluster had before become -1 each.
func Negate(deltas []Delta) []Delta {
	out := make([]Delta, len(deltas))
	for i, d := range deltas {
		d.Units = -d.Units
		out[i] = d
	}
	return out
}

// Merge adds up deltas of the same cell and drops those that come to zero, in a
// deterministic order. It returns a quantity_overflow error when a sum does not fit.
func Merge(deltas []Delta) ([]Delta, error) {
	type cell struct {
		meter, app, group string
		hour              int64
	}
	sum := map[cell]int64{}
	for _, d := range deltas {
		c := cell{d.Meter, d.AppID, d.Group, d.HourMicros}
		s, ok := addUnits(sum[c], d.Units)
		if !ok {
			return nil, overflow(d.Meter)
		}
		sum[c] = s
	}
	out := make([]Delta, 0, len(sum))
	for c, u := range sum {
		if u != 0 {
			out = append(out, Delta{Meter: c.meter, AppID: c.app, Group: c.group, HourMicros: c.hour, Units: u})
		}
	}
	slices.SortFunc(out, func(a, b Delta) int {
		return cmp.Or(strings.Compare(a.Meter, b.Meter), strings.Compare(a.AppID, b.AppID),
			strings.Compare(a.Group, b.Group), cmp.Compare(a.HourMicros, b.HourMicros))
	})
	return out, nil
}

// overflow is the error of a cell whose units would not fit an int64. Ingest bounds each
// event's quantities (billow.EventQuantityMax), so it takes thousands of maximal events in
// one cell.
func overflow(meterKey string) error {
	return billow.Errorf(billow.KindConflict, billow.CodeQuantityOverflow,
		"meter %s: the usage of one cell would exceed %d units", meterKey, int64(math.MaxInt64))
}

// addUnits returns a+b and whether it did not overflow.
func addUnits(a, b int64) (int64, bool) {
	if b > 0 && a > math.MaxInt64-b || b < 0 && a < math.MinInt64-b {
		return 0, false
	}
	return a + b, true
}
