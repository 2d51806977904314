package meter_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/billowhq/billow/meter"
)

// workload sizes a generated event set. Counts are per account.
type workload struct {
	accounts      int
	days          int
	conversations int
	apiClients    int
	agents        int // in three shifts a day
	calls         int
	misc          int // llm.usage, voice.interaction and search.ingested events
}

// models are the shipped credits-platform cost table's, plus one it does not price.
var models = [][2]string{
	{"openai", "gpt-4o"}, {"openai", "gpt-4o-mini"}, {"anthropic", "claude-3-5-sonnet"},
	{"google", "gemini-1.5-flash"}, {"acme", "unpriced"},
}

// generator draws realistic usage: conversations with messages, routings to linked apps
// and back, idle gaps around the timeout, ends that arrive out of order; API clients in
// bursts; agents working shifts with repeated logins, lost logouts and stray logouts;
// calls, some never ended; LLM, voice and ingestion events.
type generator struct {
	r      *rand.Rand
	w      workload
	events []meter.Event
}

func generate(seed uint64, w workload) []meter.Event {
	g := &generator{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), w: w}
	// About the mean number of events each generator draws, so that appending rarely copies.
	g.events = make([]meter.Event, 0, w.accounts*(w.conversations*15+w.apiClients*20+w.agents*w.days*2+w.calls*2+w.misc))
	for a := range w.accounts {
		account := fmt.Sprintf("acct_%d", a)
		for i := range w.conversations {
			g.conversation(account, fmt.Sprintf("conv_%d", i)) // ids repeat across accounts on purpose
		}
		for i := range w.apiClients {
			g.apiClient(account, fmt.Sprintf("client_%d", i))
		}
		for i := range w.agents {
			g.agent(account, fmt.Sprintf("agent_%d", i), i%3)
		}
		for i := range w.calls {
			g.call(account, fmt.Sprintf("call_%d", i))
		}
		for range w.misc {
			g.misc(account)
		}
	}
	return g.events
}

func (g *generator) chance(p float64) bool { return g.r.Float64() < p }

func (g *generator) app() string { return fmt.Sprintf("app_%d", g.r.IntN(5)) }

func (g *generator) when() int64 { return t0 + g.r.Int64N(int64(g.w.days)*day) }

// gap is the time between two messages: mostly seconds to minutes, sometimes long
// enough to end the conversation, sometimes exactly at the idle timeout or a
// microsecond past it, sometimes none at all.
func (g *generator) gap() int64 {
	switch p := g.r.Float64(); {
	case p < 0.05:
		return 0
	case p < 0.80:
		return g.r.Int64N(3 * minute)
	case p < 0.93:
		return 5*minute + g.r.Int64N(20*minute)
	case p < 0.95:
		return 30 * minute
	case p < 0.96:
		return 30*minute + 1
	}
	return 25*minute + g.r.Int64N(40*minute)
}

func (g *generator) add(e meter.Event) { g.events = append(g.events, e) }

func (g *generator) conversation(account, id string) {
	parent := g.app()
	current := parent
	at := g.when()
	first := at
	g.add(meter.Event{Type: meter.TypeConversationStarted, TimeMicros: at, Account: account, App: parent, Conversation: id, Channel: "web"})
	for range g.r.IntN(25) {
		at += g.gap()
		switch p := g.r.Float64(); {
		case p < 0.05: // to a linked app
			current = fmt.Sprintf("linked_%d", g.r.IntN(3))
			g.add(meter.Event{Type: meter.TypeConversationRouted, TimeMicros: at, Account: account, Conversation: id, ToApp: current})
		case p < 0.07: // back to the parent
			current = parent
			g.add(meter.Event{Type: meter.TypeConversationRouted, TimeMicros: at, Account: account, Conversation: id, ToApp: current})
		case p < 0.10: // a message that names no app
			g.add(meter.Event{Type: meter.TypeConversationMessage, TimeMicros: at, Account: account, Conversation: id})
		default:
			g.add(meter.Event{Type: meter.TypeConversationMessage, TimeMicros: at, Account: account, App: current, Conversation: id})
		}
	}
	switch p := g.r.Float64(); {
	case p < 0.65:
		g.add(meter.Event{Type: meter.TypeConversationEnded, TimeMicros: at + g.r.Int64N(minute), Account: account, Conversation: id})
	case p < 0.75: // ended, stamped before the last message
		g.add(meter.Event{Type: meter.TypeConversationEnded, TimeMicros: first + g.r.Int64N(at-first+1), Account: account, Conversation: id})
	}
}

func (g *generator) apiClient(account, client string) {
	app := g.app()
	for range 1 + g.r.IntN(4) {
		at := g.when()
		for range 1 + g.r.IntN(15) {
			g.add(meter.Event{Type: meter.TypeAPIRequest, TimeMicros: at, Account: account, App: app, Client: client})
			at += g.gap()
		}
		if g.chance(0.2) {
			app = g.app() // the same client on another app
		}
	}
}

func (g *generator) agent(account, agent string, shift int) {
	product := "contact_center"
	if g.chance(0.3) {
		product = "agent_ai"
	}
	jitter := func() int64 { return g.r.Int64N(20*minute) - 10*minute }
	for d := range int64(g.w.days) {
		if g.chance(0.1) {
			continue // a day off
		}
		start := t0 + d*day + int64(shift)*8*hour + jitter()
		end := start + 8*hour + jitter()
		if g.chance(0.05) {
			end = start + 8*hour // back to back with the next shift, to the microsecond
		}
		g.add(meter.Event{Type: meter.TypeAgentLogin, TimeMicros: start, Account: account, Agent: agent, Product: product})
		if g.chance(0.05) { // a reconnect: logged out and in at the same microsecond
			at := start + 1 + g.r.Int64N(4*hour)
			g.add(meter.Event{Type: meter.TypeAgentLogout, TimeMicros: at, Account: account, Agent: agent, Product: product})
			g.add(meter.Event{Type: meter.TypeAgentLogin, TimeMicros: at, Account: account, Agent: agent, Product: product})
		}
		if g.chance(0.15) { // logged in again: another tab, a reconnect
			g.add(meter.Event{Type: meter.TypeAgentLogin, TimeMicros: start + g.r.Int64N(4*hour), Account: account, Agent: agent, Product: product})
		}
		if g.chance(0.05) { // a logout with no login before it
			g.add(meter.Event{Type: meter.TypeAgentLogout, TimeMicros: start - g.r.Int64N(4*hour) - 1, Account: account, Agent: agent, Product: product})
		}
		if g.chance(0.88) { // the rest lose their logout
			g.add(meter.Event{Type: meter.TypeAgentLogout, TimeMicros: end, Account: account, Agent: agent, Product: product})
		}
	}
}

func (g *generator) call(account, call string) {
	app := g.app()
	at := g.when()
	g.add(meter.Event{Type: meter.TypeCallStarted, TimeMicros: at, Account: account, App: app, Call: call})
	switch p := g.r.Float64(); {
	case p < 0.03: // ended the microsecond it started
		g.add(meter.Event{Type: meter.TypeCallEnded, TimeMicros: at, Account: account, App: app, Call: call})
	case p < 0.90:
		g.add(meter.Event{Type: meter.TypeCallEnded, TimeMicros: at + g.r.Int64N(hour), Account: account, App: app, Call: call})
	}
}

func (g *generator) misc(account string) {
	at := g.when()
	switch g.r.IntN(3) {
	case 0:
		m := models[g.r.IntN(len(models))]
		g.add(meter.Event{Type: meter.TypeLLMUsage, TimeMicros: at, Account: account, App: g.app(), Provider: m[0], Model: m[1],
			InputTokens: g.r.Int64N(20_000), OutputTokens: g.r.Int64N(4_000), BYOKey: g.chance(0.2)})
	case 1:
		kind := [...]string{"stt", "tts", "gateway"}[g.r.IntN(3)]
		g.add(meter.Event{Type: meter.TypeVoiceInteraction, TimeMicros: at, Account: account, App: g.app(), Kind: kind, VoiceMillis: g.r.Int64N(120_000)})
	default:
		g.add(meter.Event{Type: meter.TypeSearchIngested, TimeMicros: at, Account: account, App: g.app(), Bytes: g.r.Int64N(50_000_000)})
	}
}

// rebatch returns the events as another delivery would: shuffled, cut into batches of
// random sizes, the batches concatenated in random order, in a new slice.
func rebatch(r *rand.Rand, events []meter.Event) []meter.Event {
	shuffled := make([]meter.Event, len(events))
	for i, j := range r.Perm(len(events)) {
		shuffled[i] = events[j]
	}
	var batches [][]meter.Event
	for rest := shuffled; len(rest) > 0; {
		n := min(len(rest), 1+r.IntN(1000))
		batches = append(batches, rest[:n])
		rest = rest[n:]
	}
	r.Shuffle(len(batches), func(i, j int) { batches[i], batches[j] = batches[j], batches[i] })
	out := make([]meter.Event, 0, len(events))
	for _, b := range batches {
		out = append(out, b...)
	}
	return out
}
