package meter_test

import (
	"testing"

	"github.com/billowhq/billow/meter"
)

// The benchmarks measure the engine over a month of realistic usage, more than a million
// events each, and report events per second. Run them on one core:
//
//	go test -bench . -benchtime 3x -cpu 1 ./meter/
//
// The target is at least 1,000,000 events/s for each; docs/meters.md records the figures.

// sessionWorkload is ~1.1M conversation and API events: 10 accounts over 30 days, 6,000
// conversations and 600 API clients each.
var sessionWorkload = workload{accounts: 10, days: 30, conversations: 6600, apiClients: 700}

// sweepWorkload is ~1.1M agent and call events: 10 accounts over 30 days, 1,600 agents in
// three shifts and 10,000 calls each.
var sweepWorkload = workload{accounts: 10, days: 30, agents: 1600, calls: 10_000}

func BenchmarkSessionize(b *testing.B) {
	events := generate(1, sessionWorkload)
	rules := sessionRules(b)
	now := t0 + int64(sessionWorkload.days)*day
	if len(events) < 1_000_000 {
		b.Fatalf("only %d events", len(events))
	}
	var sessions int
	b.ResetTimer()
	for range b.N {
		sessions = len(meter.Sessionize(events, rules, now))
	}
	b.ReportMetric(float64(len(events)*b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(len(events)), "events")
	b.ReportMetric(float64(sessions), "sessions")
}

// BenchmarkConcurrencySweep builds the intervals of both shipped concurrency meters and
// sweeps each group for its peak over the month and its hourly peaks (720 buckets).
func BenchmarkConcurrencySweep(b *testing.B) {
	events := generate(1, sweepWorkload)
	if len(events) < 1_000_000 {
		b.Fatalf("only %d events", len(events))
	}
	from, to := t0, t0+int64(sweepWorkload.days)*day
	bounds := make([]int64, 0, sweepWorkload.days*24+1)
	for t := from; t <= to; t += hour {
		bounds = append(bounds, t)
	}
	agents, calls := concurrencyRules(b, "concurrent_agents"), concurrencyRules(b, "concurrent_calls")
	var intervals int
	b.ResetTimer()
	for range b.N {
		intervals = 0
		for _, rules := range []meter.ConcurrencyRules{agents, calls} {
			for _, g := range meter.Intervals(events, rules, to) {
				intervals += len(g.Intervals)
				if _, err := meter.PeaksPerBucket(g.Intervals, bounds); err != nil {
					b.Fatal(err)
				}
				meter.Peak(g.Intervals, from, to)
			}
		}
	}
	b.ReportMetric(float64(len(events)*b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(len(events)), "events")
	b.ReportMetric(float64(intervals), "intervals")
}
