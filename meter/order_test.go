package meter_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/meter"
	"github.com/google/go-cmp/cmp"
)

// outcome is everything the engine computes from one set of events.
type outcome struct {
	Streams     []meter.Stream
	Sessions    []meter.Session
	Intervals   map[string][]meter.IntervalGroup // by concurrency meter
	HourlyPeaks map[string][][]int64             // by concurrency meter, per group
	PeriodPeaks map[string][]int64               // by concurrency meter, per group
	Aggregates  map[string][]exactQuantity       // by generic meter
	LLMCostUcr  int64                            // the sum over priced llm.usage events
	LLMRejected map[string]int                   // error codes of unpriced events
}

// exactQuantity is a quantity by its exact representation (coefficient and exponent),
// so that 1.5 and 1.50 differ: order independence must give the very same decimal.
type exactQuantity struct {
	Account     string
	Group       []string
	Coefficient string
	Exponent    int32
}

var orderSeeds = []uint64{1, 2, 3, 5, 8, 13, 21, 34}

// orderWorkload is a few thousand events over three days: small enough to measure many
// times, large enough that every edge of the generator occurs.
var orderWorkload = workload{accounts: 3, days: 3, conversations: 150, apiClients: 20, agents: 40, calls: 150, misc: 300}

// measure computes every meter of the catalog over the events, with "now" inside the
// period so that some streams are still open and some intervals are cut at now.
func measure(t testing.TB, c *catalog.Catalog, events []meter.Event, w workload) outcome {
	t.Helper()
	from, to := t0, t0+int64(w.days)*day
	now := to - 3*hour
	bounds := make([]int64, 0, w.days*24+1)
	for b := from; b <= to; b += hour {
		bounds = append(bounds, b)
	}
	out := outcome{Intervals: map[string][]meter.IntervalGroup{}, HourlyPeaks: map[string][][]int64{},
		PeriodPeaks: map[string][]int64{}, Aggregates: map[string][]exactQuantity{}, LLMRejected: map[string]int{}}
	for i := range c.Meters {
		m := &c.Meters[i]
		switch m.Aggregation {
		case catalog.AggregationSessions:
			rules, err := meter.SessionRulesOf(m)
			if err != nil {
				t.Fatal(err)
			}
			out.Streams = meter.Streams(events, rules)
			out.Sessions = meter.Sessionize(events, rules, now)
		case catalog.AggregationConcurrency:
			rules, err := meter.ConcurrencyRulesOf(m)
			if err != nil {
				t.Fatal(err)
			}
			groups := meter.Intervals(events, rules, now)
			out.Intervals[m.Key] = groups
			for _, g := range groups {
				peaks, err := meter.PeaksPerBucket(g.Intervals, bounds)
				if err != nil {
					t.Fatal(err)
				}
				out.HourlyPeaks[m.Key] = append(out.HourlyPeaks[m.Key], peaks)
				out.PeriodPeaks[m.Key] = append(out.PeriodPeaks[m.Key], meter.Peak(g.Intervals, from, to))
			}
		case catalog.AggregationProviderCost:
			for j := range events {
				e := &events[j]
				if e.Type != meter.TypeLLMUsage {
					continue
				}
				ucr, err := meter.LLMCostMicroCredits(e, &c.ProviderCosts, c.Credits)
				var me *meter.Error
				switch {
				case errors.As(err, &me):
					out.LLMRejected[me.Code]++
				case err != nil:
					t.Fatal(err)
				}
				out.LLMCostUcr += ucr
			}
		default:
			q, err := meter.Aggregate(m, events, from, to)
			if err != nil {
				t.Fatal(err)
			}
			for _, gq := range q {
				out.Aggregates[m.Key] = append(out.Aggregates[m.Key], exactQuantity{gq.Account, gq.Group, gq.Quantity.Coefficient().String(), gq.Quantity.Exponent()})
			}
		}
	}
	return out
}

// TestOrderIndependence is the property the product rests on: whatever the order the
// events come in and however they were batched, every result is identical.
func TestOrderIndependence(t *testing.T) {
	// Both shipped catalogs define the same nine meters; their shaping rules differ
	// (call heartbeats, markups), so the seeds alternate between them.
	catalogs := []*catalog.Catalog{example(t, "ai-for-service"), example(t, "credits-platform")}
	rounds := 25
	if testing.Short() {
		rounds = 3
	}
	for i, seed := range orderSeeds {
		c := catalogs[i%len(catalogs)]
		t.Run(fmt.Sprintf("seed %d %s", seed, c.Name), func(t *testing.T) {
			events := generate(seed, orderWorkload)
			original := slices.Clone(events)
			want := measure(t, c, events, orderWorkload)
			if diff := cmp.Diff(original, events); diff != "" {
				t.Fatalf("measuring changed its input (-before +after):\n%s", diff)
			}
			checkInvariants(t, c, want)
			r := rand.New(rand.NewPCG(seed, 42))
			for round := range rounds {
				got := measure(t, c, rebatch(r, events), orderWorkload)
				// reflect.DeepEqual first: cmp.Diff is slow on thousands of sessions,
				// and only its report is needed, when they differ.
				if !reflect.DeepEqual(want, got) {
					t.Fatalf("round %d: results depend on the order of events (-first +reordered):\n%s", round, cmp.Diff(want, got))
				}
			}
		})
	}
}

// checkInvariants checks what must hold of any outcome, so that the property test does
// not merely compare one wrong answer with itself.
func checkInvariants(t *testing.T, c *catalog.Catalog, o outcome) {
	t.Helper()
	if len(o.Sessions) == 0 || len(o.Intervals["concurrent_agents"]) == 0 || len(o.Intervals["concurrent_calls"]) == 0 || o.LLMCostUcr == 0 || o.LLMRejected[meter.CodeUnknownModel] == 0 {
		t.Fatalf("the workload exercises too little: %d sessions, %d agent groups, %d call groups, %d µcr, rejected %v",
			len(o.Sessions), len(o.Intervals["concurrent_agents"]), len(o.Intervals["concurrent_calls"]), o.LLMCostUcr, o.LLMRejected)
	}
	var sessions int64
	routed, split := 0, 0
	for i, s := range o.Streams {
		for j, seg := range s.Segments {
			sessions += seg.Sessions
			if seg.StartMicros < s.FirstMicros || seg.EndMicros > s.LastMicros || seg.EndMicros < seg.StartMicros {
				t.Errorf("stream %d segment %d [%d, %d] outside its stream [%d, %d]", i, j, seg.StartMicros, seg.EndMicros, s.FirstMicros, s.LastMicros)
			}
			if j > 0 && seg.StartMicros < s.Segments[j-1].EndMicros {
				t.Errorf("stream %d: segment %d starts before the previous one ends", i, j)
			}
		}
		if len(s.Segments) > 1 {
			routed++
		}
		if i > 0 && o.Streams[i-1].Key == s.Key && o.Streams[i-1].Account == s.Account && s.Source == meter.SourceConversation {
			split++
		}
	}
	if sessions != int64(len(o.Sessions)) {
		t.Errorf("segments count %d sessions, Sessionize gave %d", sessions, len(o.Sessions))
	}
	if routed == 0 || split == 0 {
		t.Errorf("the workload has %d routed and %d idle-split conversations; want some of each", routed, split)
	}
	for key, groups := range o.Intervals {
		// An interval may outlast the heartbeat (repeated logins keep it open), so its
		// length is not bounded here; Intervals' table tests pin the timeout.
		for gi, g := range groups {
			for i, iv := range g.Intervals {
				if iv.EndMicros <= iv.StartMicros {
					t.Errorf("%s: interval %+v is empty", key, iv)
				}
				if i > 0 && g.Intervals[i-1].Key == iv.Key && g.Intervals[i-1].EndMicros > iv.StartMicros {
					t.Errorf("%s: intervals of %s overlap", key, iv.Key)
				}
			}
			if p, hourly := o.PeriodPeaks[key][gi], slices.Max(o.HourlyPeaks[key][gi]); p != hourly {
				t.Errorf("%s group %v: peak of the period %d, highest hourly peak %d", key, g.Group, p, hourly)
			}
		}
	}
}
