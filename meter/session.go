package meter

import (
	"cmp"
	"slices"
	"strings"

	"github.com/billowhq/billow/catalog"
)

// Source says which activity a billing session comes from.
type Source string

// Sources of billing sessions.
const (
	SourceConversation Source = "conversation" // a conversation, keyed by its id
	SourceAPI          Source = "api"          // one client's API requests to one app
)

// SessionRules shape billing sessions (catalog aggregation "sessions").
type SessionRules struct {
	// EventTypes are the event types read; events of other types are ignored.
	EventTypes []string
	// Filters keep only matching events, except a filter on "app", which keeps only
	// the sessions attributed to that app: an app is what a session is billed to, and
	// the events of a routed conversation name several.
	Filters []Filter
	// BlockMicros is the length of one billing session (15 minutes in seed 000).
	BlockMicros int64
	// IdleTimeoutMicros is the silence after which a conversation or an API client's
	// activity is over; a later event starts a new one.
	IdleTimeoutMicros int64
}

// SessionRulesOf returns the rules of a sessions meter. It returns a
// CodeUnsupportedMeter error for another aggregation, or for a group_by other than app
// (a session spans many events, and only its app is one value), and a CodeInvalidRules
// error for a block or idle timeout out of bounds.
func SessionRulesOf(m *catalog.Meter) (SessionRules, error) {
	if m.Aggregation != catalog.AggregationSessions {
		return SessionRules{}, errorf(CodeUnsupportedMeter, "aggregation", "meter %s aggregates %s, not %s", m.Key, m.Aggregation, catalog.AggregationSessions)
	}
	for _, g := range m.GroupBy {
		if g != "app" {
			return SessionRules{}, errorf(CodeUnsupportedMeter, "group_by", "meter %s groups sessions by %s; sessions can only be grouped by app", m.Key, g)
		}
	}
	r := SessionRules{
		EventTypes:        slices.Clone(m.EventTypes),
		Filters:           FiltersOf(m.Filters),
		BlockMicros:       m.BlockMinutes * MicrosPerMinute,
		IdleTimeoutMicros: m.IdleTimeoutMinutes * MicrosPerMinute,
	}
	return r, r.Validate()
}

// Validate checks the block and idle timeout are within (0, BlockMicrosMax] and
// (0, IdleTimeoutMicrosMax]; it returns a CodeInvalidRules error otherwise.
func (r *SessionRules) Validate() error {
	if r.BlockMicros <= 0 || r.BlockMicros > BlockMicrosMax {
		return errorf(CodeInvalidRules, "block_minutes", "block must be between 1 µs and %d µs (%d given)", int64(BlockMicrosMax), r.BlockMicros)
	}
	if r.IdleTimeoutMicros <= 0 || r.IdleTimeoutMicros > IdleTimeoutMicrosMax {
		return errorf(CodeInvalidRules, "idle_timeout_minutes", "idle timeout must be between 1 µs and %d µs (%d given)", int64(IdleTimeoutMicrosMax), r.IdleTimeoutMicros)
	}
	return nil
}

// Stream is one conversation, or one API client's activity on one app, after splitting at
// idle gaps: its events are never more than the idle timeout apart.
type Stream struct {
	Account string
	Source  Source
	// Key is the conversation id, or the API client id (the app is in the segment).
	Key string
	// FirstMicros and LastMicros are the times of its first and last events; a
	// conversation spans them whatever the order of its events' types.
	FirstMicros int64
	LastMicros  int64
	// Ended says a conversation.ended is among its events.
	Ended bool
	// Segments are the stretches of the stream served by one app, in time order: one
	// for API activity and for a conversation never routed; a routing at time r ends one
	// at r and starts the next at r. Segments whose app is unknown (no event names
	// one) or filtered out are left out.
	Segments []Segment
}

// Segment is a stretch of a stream served by one app; it is sessionized on its own.
type Segment struct {
	App         string
	StartMicros int64
	EndMicros   int64
	Sessions    int64 // SessionCount(EndMicros-StartMicros, block)
}

// Session is one billing session, attributed to the moment it begins: the start of its
// segment plus (k-1) blocks for the k-th session. The caller buckets sessions by that
// moment in whatever time zone it reports in.
type Session struct {
	Account string
	App     string
	Source  Source
	Key     string // the conversation id, or the API client id
	// StreamStartMicros is the first event of the stream: with Key it tells apart two
	// conversations that share an id but are split by an idle gap.
	StreamStartMicros int64
	StartMicros       int64
	// Final says the stream is over at the "now" given (see Stream.Final): its sessions
	// change only if events arrive late, which billing then treats as an adjustment.
	Final bool
}

// SessionCount returns the billing sessions of a segment lasting durationMicros:
// one per started block, and at least one, so a single message is one session.
// 15 minutes exactly is 1 session, a microsecond more is 2; 31 minutes is 3.
func SessionCount(durationMicros, blockMicros int64) int64 {
	if durationMicros <= 0 {
		return 1
	}
	n := durationMicros / blockMicros
	if durationMicros%blockMicros != 0 {
		n++
	}
	return n
}

// Final reports whether the stream is over at nowMicros, a watermark before which the
// caller has every event: a conversation that ended, or a stream whose last event is
// at least the idle timeout before now (an event exactly the idle timeout after the
// last one still joins it, so until then it may grow).
func (s *Stream) Final(nowMicros int64, rules SessionRules) bool {
	return s.Source == SourceConversation && s.Ended || nowMicros >= s.LastMicros+rules.IdleTimeoutMicros
}

// AppendSessions appends the stream's billing sessions to dst, segment by segment in time
// order, and returns the extended slice.
func (s *Stream) AppendSessions(dst []Session, rules SessionRules, nowMicros int64) []Session {
	final := s.Final(nowMicros, rules)
	for _, seg := range s.Segments {
		for k := range seg.Sessions {
			dst = append(dst, Session{
				Account:           s.Account,
				App:               seg.App,
				Source:            s.Source,
				Key:               s.Key,
				StreamStartMicros: s.FirstMicros,
				StartMicros:       seg.StartMicros + k*rules.BlockMicros,
				Final:             final,
			})
		}
	}
	return dst
}

// Sessionize returns the billing sessions of the events, in the order of Streams. It
// panics if rules are not valid (see SessionRules.Validate): rules come from
// SessionRulesOf, so invalid ones are a programming error.
func Sessionize(events []Event, rules SessionRules, nowMicros int64) []Session {
	streams := Streams(events, rules)
	var n int64
	for i := range streams {
		for _, seg := range streams[i].Segments {
			n += seg.Sessions
		}
	}
	out := make([]Session, 0, n)
	for i := range streams {
		out = streams[i].AppendSessions(out, rules, nowMicros)
	}
	return out
}

// Event roles in a stream. The order breaks ties between events at the same microsecond:
// a start before the activity, the routing after it, the end last.
const (
	roleStarted uint8 = iota
	roleActivity
	roleRouted
	roleEnded
)

// sessionRef is what sessionization needs of one event, compact so that sorting moves
// little memory: 48 bytes, the account interned to its rank.
type sessionRef struct {
	key     string // conversation id, or API client
	app     string // the event's app; to_app for conversation.routed, which carries no app
	time    int64
	account int32 // the rank of the account among the events' accounts
	source  uint8 // refConversation or refAPI: conversations sort first
	role    uint8
}

const (
	refConversation uint8 = iota
	refAPI
)

// Streams groups the events the rules read into conversations and API activity streams,
// splits each wherever two consecutive events are more than the idle timeout apart, and
// cuts conversations into per-app segments at their routings:
//
//   - Conversation events (conversation.*, and events of other types the rules read that
//     carry a conversation) are grouped by account and conversation id. An API request
//     (and any other event the rules read) is activity of its account, app and client.
//   - A conversation starts on the app of its earliest event that carries one (a
//     routing carries to_app, and its App is not read); a conversation resumed after an
//     idle gap with no such event stays on the app that served it when it went idle.
//     A conversation.routed at r to another app ends the current segment at r and starts
//     one on to_app at r; a routing to the current app changes nothing.
//   - A segment lasts from its start to the routing that ends it or to the stream's last
//     event, conversation.ended included wherever it falls.
//
// Streams are ordered by account, source (conversations first), key, app for API
// activity, then time; the order depends only on the set of events. It panics if rules
// are not valid.
func Streams(events []Event, rules SessionRules) []Stream {
	if err := rules.Validate(); err != nil {
		panic("meter: Streams with invalid rules: " + err.Error())
	}
	appFilter, hasAppFilter, eventFilters := splitAppFilter(rules.Filters)
	// Accounts are few: each event's is interned to a small integer, renumbered below in
	// the order of the accounts' ids, so that refs sort on an integer rather than a string.
	accountIDs := map[string]int32{}
	var accounts []string
	refs := make([]sessionRef, 0, len(events))
	for i := range events {
		e := &events[i]
		if !slices.Contains(rules.EventTypes, e.Type) || !Matches(e, eventFilters) {
			continue
		}
		r := sessionRef{app: e.App, time: e.TimeMicros, role: roleActivity}
		switch e.Type {
		case TypeConversationStarted:
			r.role = roleStarted
		case TypeConversationRouted:
			r.role, r.app = roleRouted, e.ToApp
		case TypeConversationEnded:
			r.role = roleEnded
		case TypeConversationMessage:
		case TypeAPIRequest:
			r.source, r.key = refAPI, e.Client
		default:
			if e.Conversation == "" {
				r.source, r.key = refAPI, e.Client
			}
		}
		if r.source == refConversation {
			if e.Conversation == "" {
				continue // a conversation event outside any conversation: nothing to bill
			}
			r.key = e.Conversation
		}
		id, ok := accountIDs[e.Account]
		if !ok {
			id = int32(len(accounts))
			accountIDs[e.Account] = id
			accounts = append(accounts, e.Account)
		}
		r.account = id
		refs = append(refs, r)
	}
	rank := ranks(accounts)
	for i := range refs {
		refs[i].account = rank[refs[i].account]
	}
	slices.Sort(accounts) // now accounts[rank] is the account of that rank
	slices.SortFunc(refs, compareSessionRefs)

	// A first pass finds where each stream begins and counts the routings, so that the
	// streams and their segments (one each, plus one per routing at most) are allocated
	// once and segs never moves: each stream can keep a window of it.
	var starts []int
	routings := 0
	for i := range refs {
		if i == 0 || !sameStream(&refs[i-1], &refs[i]) || refs[i].time-refs[i-1].time > rules.IdleTimeoutMicros {
			starts = append(starts, i)
		}
		if refs[i].role == roleRouted {
			routings++
		}
	}
	streams := make([]Stream, len(starts))
	segs := make([]Segment, 0, len(starts)+routings)
	lastApp := "" // the app serving the previous stream when it ended
	for n, lo := range starts {
		hi := len(refs)
		if n+1 < len(starts) {
			hi = starts[n+1]
		}
		run := refs[lo:hi]
		s := &streams[n]
		*s = Stream{Account: accounts[run[0].account], Source: SourceConversation, Key: run[0].key,
			FirstMicros: run[0].time, LastMicros: run[len(run)-1].time}
		first := len(segs)
		if run[0].source == refAPI {
			s.Source = SourceAPI
			segs = appendSegment(segs, run[0].app, s.FirstMicros, s.LastMicros, rules.BlockMicros, appFilter, hasAppFilter)
		} else {
			app := ""
			for i := range run {
				if run[i].role != roleRouted && run[i].app != "" {
					app = run[i].app
					break
				}
			}
			if app == "" && n > 0 && sameStream(&refs[starts[n-1]], &run[0]) {
				app = lastApp // a conversation resumed after an idle gap, no event naming its app
			}
			start := s.FirstMicros
			for i := range run {
				r := &run[i]
				switch {
				case r.role == roleEnded:
					s.Ended = true
				case r.role == roleRouted && r.app != "" && r.app != app:
					segs = appendSegment(segs, app, start, r.time, rules.BlockMicros, appFilter, hasAppFilter)
					app, start = r.app, r.time
				}
			}
			segs = appendSegment(segs, app, start, s.LastMicros, rules.BlockMicros, appFilter, hasAppFilter)
			lastApp = app
		}
		if len(segs) > first {
			// The capacity is clipped so that a caller appending to one stream's
			// segments cannot overwrite the next stream's.
			s.Segments = segs[first:len(segs):len(segs)]
		}
	}
	return streams
}

// appendSegment appends a segment unless its app is unknown or filtered out.
func appendSegment(segs []Segment, app string, start, end, block int64, appFilter string, hasAppFilter bool) []Segment {
	if app == "" || hasAppFilter && app != appFilter {
		return segs
	}
	return append(segs, Segment{App: app, StartMicros: start, EndMicros: end, Sessions: SessionCount(end-start, block)})
}

// splitAppFilter separates a filter on "app", which applies to sessions, from the
// filters that apply to events.
func splitAppFilter(filters []Filter) (app string, hasApp bool, events []Filter) {
	for _, f := range filters {
		if f.Field == "app" {
			app, hasApp = f.Value, true
			continue
		}
		events = append(events, f)
	}
	return app, hasApp, events
}

// sameStream reports whether two refs belong to the same conversation or API activity
// before idle splitting.
func sameStream(a, b *sessionRef) bool {
	return a.account == b.account && a.source == b.source && a.key == b.key &&
		(a.source == refConversation || a.app == b.app)
}

// compareSessionRefs orders refs by stream, then time, then role, then app (to_app for a
// routing), so that events the order cannot tell apart are identical for sessionization.
func compareSessionRefs(a, b sessionRef) int {
	if c := cmp.Compare(a.account, b.account); c != 0 {
		return c
	}
	if c := cmp.Compare(a.source, b.source); c != 0 {
		return c
	}
	if c := strings.Compare(a.key, b.key); c != 0 {
		return c
	}
	if a.source == refAPI {
		if c := strings.Compare(a.app, b.app); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(a.time, b.time); c != 0 {
		return c
	}
	if c := cmp.Compare(a.role, b.role); c != 0 {
		return c
	}
	return strings.Compare(a.app, b.app)
}

// ranks returns, for each index of values, its rank in sorted order; equal values are
// never given, as values are interned.
func ranks(values []string) []int32 {
	order := make([]int32, len(values))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return strings.Compare(values[a], values[b]) })
	rank := make([]int32, len(values))
	for r, i := range order {
		rank[i] = int32(r)
	}
	return rank
}
