package main

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/meter"
)

type benchMetersCmd struct {
	Events int `default:"1000000" help:"Events per measured workload (at least 10,000)."`
	Rounds int `default:"3" help:"Times each figure is measured; the best is printed."`
}

// Run measures the meter engine on one core: sessionization of conversations and API
// activity, and the concurrency sweep of agent and call intervals with hourly peaks.
// Each figure is printed beside sorting the same events' times, measured in the same
// run: both must order the events, so a sort is the floor of their work.
func (c *benchMetersCmd) Run(env *runEnv) error {
	if c.Events < 10_000 || c.Rounds < 1 {
		return fmt.Errorf("bench meters: --events must be at least 10,000 and --rounds at least 1")
	}
	prev := runtime.GOMAXPROCS(1) // per core: the engine is single-threaded
	defer runtime.GOMAXPROCS(prev)
	cat, err := catalog.ParseExample("ai-for-service")
	if err != nil {
		return err
	}
	sessionsMeter, _ := cat.Meter("billing_sessions")
	sessionRules, err := meter.SessionRulesOf(sessionsMeter)
	if err != nil {
		return err
	}
	var sweepRules []meter.ConcurrencyRules
	for _, key := range []string{"concurrent_agents", "concurrent_calls"} {
		m, _ := cat.Meter(key)
		r, err := meter.ConcurrencyRulesOf(m)
		if err != nil {
			return err
		}
		sweepRules = append(sweepRules, r)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	const days = 30
	end := start + days*24*time.Hour.Microseconds()
	hours := make([]int64, 0, days*24+1)
	for t := start; t <= end; t += time.Hour.Microseconds() {
		hours = append(hours, t)
	}
	sessionEvents := benchSessionEvents(c.Events, start, end)
	sweepEvents := benchSweepEvents(c.Events, start, end)
	fmt.Fprintf(env.stdout, "billow bench meters: %d conversation and API events, %d agent and call events, 30 days, 1 core, best of %d\n",
		len(sessionEvents), len(sweepEvents), c.Rounds)

	best := func(events []meter.Event, work func()) float64 {
		var fastest time.Duration
		for r := range c.Rounds {
			began := time.Now()
			work()
			if d := time.Since(began); r == 0 || d < fastest {
				fastest = d
			}
		}
		return float64(len(events)) / fastest.Seconds()
	}
	sortRate := func(events []meter.Event) float64 {
		times := make([]int64, len(events))
		return best(events, func() {
			for i := range events {
				times[i] = events[i].TimeMicros
			}
			slices.Sort(times)
		})
	}
	var sessions, intervals int
	results := []benchResult{
		{name: "sessionization", unit: "events/s", limitName: "sorting the same events' times",
			value: best(sessionEvents, func() { sessions = len(meter.Sessionize(sessionEvents, sessionRules, end)) }),
			limit: sortRate(sessionEvents)},
		{name: "concurrency sweep", unit: "events/s", limitName: "sorting the same events' times",
			value: best(sweepEvents, func() {
				intervals = 0
				for _, rules := range sweepRules {
					for _, g := range meter.Intervals(sweepEvents, rules, end) {
						intervals += len(g.Intervals)
						if _, err := meter.PeaksPerBucket(g.Intervals, hours); err != nil {
							panic(err) // the bounds are increasing hours
						}
					}
				}
			}),
			limit: sortRate(sweepEvents)},
	}
	printBench(env, results)
	fmt.Fprintf(env.stdout, "%d billing sessions; %d intervals swept into %d hourly peaks per group\n", sessions, intervals, len(hours)-1)
	return nil
}

// benchSessionEvents returns about n events of conversations (a few messages over up to
// 40 minutes, some routed to a linked app) and API clients, spread over [start, end).
func benchSessionEvents(n int, start, end int64) []meter.Event {
	r := rand.New(rand.NewPCG(1, 2))
	apps := []string{"support", "billing", "sales"}
	out := make([]meter.Event, 0, n+64)
	for c := 0; len(out) < n; c++ {
		at := start + r.Int64N(end-start)
		if c%10 == 9 { // an API client's burst
			client := fmt.Sprintf("client-%d", r.IntN(500))
			for range 5 + r.IntN(20) {
				out = append(out, meter.Event{Type: meter.TypeAPIRequest, TimeMicros: at, Account: "acct", App: apps[2], Client: client})
				at += r.Int64N(4 * time.Minute.Microseconds())
			}
			continue
		}
		conv := fmt.Sprintf("conv-%d", c)
		out = append(out, meter.Event{Type: meter.TypeConversationStarted, TimeMicros: at, Account: "acct", App: apps[0], Conversation: conv})
		for range 2 + r.IntN(8) {
			at += r.Int64N(5 * time.Minute.Microseconds())
			out = append(out, meter.Event{Type: meter.TypeConversationMessage, TimeMicros: at, Account: "acct", App: apps[0], Conversation: conv})
		}
		if r.IntN(5) == 0 {
			out = append(out, meter.Event{Type: meter.TypeConversationRouted, TimeMicros: at, Account: "acct", ToApp: apps[1], Conversation: conv})
		}
		out = append(out, meter.Event{Type: meter.TypeConversationEnded, TimeMicros: at + time.Minute.Microseconds(), Account: "acct", Conversation: conv})
	}
	return out
}

// benchSweepEvents returns about n agent logins and logouts in shifts (some logouts lost)
// and calls, spread over [start, end).
func benchSweepEvents(n int, start, end int64) []meter.Event {
	r := rand.New(rand.NewPCG(3, 4))
	products := []string{"contact_center", "agent_ai"}
	out := make([]meter.Event, 0, n+2)
	for i := 0; len(out) < n; i++ {
		at := start + r.Int64N(end-start)
		if i%2 == 0 {
			agent, product := fmt.Sprintf("agent-%d", r.IntN(2000)), products[r.IntN(2)]
			out = append(out, meter.Event{Type: meter.TypeAgentLogin, TimeMicros: at, Account: "acct", Agent: agent, Product: product})
			if r.IntN(10) > 0 {
				out = append(out, meter.Event{Type: meter.TypeAgentLogout, TimeMicros: at + 8*time.Hour.Microseconds(), Account: "acct", Agent: agent, Product: product})
			}
			continue
		}
		call := fmt.Sprintf("call-%d", i)
		out = append(out, meter.Event{Type: meter.TypeCallStarted, TimeMicros: at, Account: "acct", App: "support", Call: call},
			meter.Event{Type: meter.TypeCallEnded, TimeMicros: at + r.Int64N(20*time.Minute.Microseconds()), Account: "acct", App: "support", Call: call})
	}
	return out
}
