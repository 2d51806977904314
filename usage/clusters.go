package usage

import (
	"cmp"
	"slices"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/meter"
)

// Cluster is a run of one session stream's events (a conversation, or a client's API
// activity on an app) with no gap longer than the idle timeout. Its billing sessions
// depend on a few of its events only, its representatives (see Representatives), so the
// store keeps those with the cluster and never reads the stream's history again.
type Cluster struct {
	FirstMicros int64
	LastMicros  int64
	Reps        []meter.Event
}

// Representatives reduces the events of a cluster to those its sessions depend on: the
// events at its first and at its last moment, its routings, and the earliest events that
// name an app (where a conversation starts), with copies that differ in nothing the
// engine reads dropped. The reduction composes: the representatives of a union are the
// representatives of the union of the parts' representatives, which is what lets
// clusters merge without their events.
func Representatives(events []meter.Event) []meter.Event {
	if len(events) == 0 {
		return nil
	}
	first, last := events[0].TimeMicros, events[0].TimeMicros
	firstApp := int64(meter.TimeMicrosMax)
	for i := range events {
		e := &events[i]
		first, last = min(first, e.TimeMicros), max(last, e.TimeMicros)
		if namesApp(e) {
			firstApp = min(firstApp, e.TimeMicros)
		}
	}
	type repKey struct {
		typ, app, toApp string
		time            int64
	}
	seen := map[repKey]bool{}
	var out []meter.Event
	for i := range events {
		e := &events[i]
		if e.TimeMicros != first && e.TimeMicros != last && e.Type != billow.EventConversationRouted &&
			!(namesApp(e) && e.TimeMicros == firstApp) {
			continue
		}
		k := repKey{e.Type, e.App, e.ToApp, e.TimeMicros}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, *e)
	}
	slices.SortFunc(out, func(a, b meter.Event) int {
		return cmp.Or(cmp.Compare(a.TimeMicros, b.TimeMicros), cmp.Compare(a.Type, b.Type), cmp.Compare(a.App, b.App), cmp.Compare(a.ToApp, b.ToApp))
	})
	return out
}

// namesApp reports whether the event tells which app a conversation starts on: a routing
// names the app it goes to, not the one the conversation is on.
func namesApp(e *meter.Event) bool {
	return e.App != "" && e.Type != billow.EventConversationRouted
}

// MergeClusters joins a stream's stored clusters with its new events wherever two are at
// most idleMicros apart (a gap of exactly the idle timeout does not split, as in the
// meter engine). It returns the resulting clusters in time order.
func MergeClusters(old []Cluster, events []meter.Event, idleMicros int64) []Cluster {
	parts := slices.Clone(old)
	for _, e := range events {
		parts = append(parts, Cluster{FirstMicros: e.TimeMicros, LastMicros: e.TimeMicros, Reps: []meter.Event{e}})
	}
	slices.SortFunc(parts, func(a, b Cluster) int { return cmp.Compare(a.FirstMicros, b.FirstMicros) })
	var out []Cluster
	var pending [][]meter.Event // the reps of the parts of the last cluster in out
	flush := func() {
		if n := len(out); n > 0 {
			out[n-1].Reps = Representatives(slices.Concat(pending...))
		}
	}
	for _, c := range parts {
		if n := len(out); n > 0 && c.FirstMicros-out[n-1].LastMicros <= idleMicros {
			out[n-1].LastMicros = max(out[n-1].LastMicros, c.LastMicros)
			pending = append(pending, c.Reps)
			continue
		}
		flush()
		out = append(out, Cluster{FirstMicros: c.FirstMicros, LastMicros: c.LastMicros})
		pending = [][]meter.Event{c.Reps}
	}
	flush()
	return out
}
