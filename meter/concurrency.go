package meter

import (
	"cmp"
	"slices"
	"strings"

	"github.com/billowhq/billow/catalog"
)

// ConcurrencyRules say how start and end events become intervals (catalog aggregation
// "concurrency"): concurrent agent seats, concurrent call lines.
type ConcurrencyRules struct {
	StartTypes []string // event types that open an interval (agent.login)
	EndTypes   []string // event types that close it (agent.logout)
	Filters    []Filter
	// KeyField is the data field an interval belongs to (agent, call): a start and an
	// end pair when they carry the same key and the same group.
	KeyField string
	// GroupBy are the data fields intervals are grouped by (product); peaks are per group.
	GroupBy []string
	// HeartbeatTimeoutMicros closes an interval that has had no end for this long.
	HeartbeatTimeoutMicros int64
}

// ConcurrencyRulesOf returns the rules of a concurrency meter. It returns a
// CodeUnsupportedMeter error for another aggregation and a CodeInvalidRules error when a
// rule is missing or out of bounds.
func ConcurrencyRulesOf(m *catalog.Meter) (ConcurrencyRules, error) {
	if m.Aggregation != catalog.AggregationConcurrency {
		return ConcurrencyRules{}, errorf(CodeUnsupportedMeter, "aggregation", "meter %s aggregates %s, not %s", m.Key, m.Aggregation, catalog.AggregationConcurrency)
	}
	r := ConcurrencyRules{
		StartTypes:             slices.Clone(m.StartTypes),
		EndTypes:               slices.Clone(m.EndTypes),
		Filters:                FiltersOf(m.Filters),
		KeyField:               m.Field,
		GroupBy:                slices.Clone(m.GroupBy),
		HeartbeatTimeoutMicros: m.HeartbeatTimeoutMinutes * MicrosPerMinute,
	}
	return r, r.Validate()
}

// Validate checks that the rules name a key field and start and end types, and that the
// heartbeat timeout is within (0, HeartbeatTimeoutMicrosMax]; it returns a
// CodeInvalidRules error otherwise.
func (r *ConcurrencyRules) Validate() error {
	switch {
	case r.KeyField == "":
		return errorf(CodeInvalidRules, "field", "the key field of an interval is required")
	case len(r.StartTypes) == 0:
		return errorf(CodeInvalidRules, "start_types", "at least one start type is required")
	case len(r.EndTypes) == 0:
		return errorf(CodeInvalidRules, "end_types", "at least one end type is required")
	case len(r.GroupBy) > catalog.GroupByMax:
		return errorf(CodeInvalidRules, "group_by", "at most %d fields (%d given)", catalog.GroupByMax, len(r.GroupBy))
	case r.HeartbeatTimeoutMicros <= 0 || r.HeartbeatTimeoutMicros > HeartbeatTimeoutMicrosMax:
		return errorf(CodeInvalidRules, "heartbeat_timeout_minutes", "heartbeat timeout must be between 1 µs and %d µs (%d given)", int64(HeartbeatTimeoutMicrosMax), r.HeartbeatTimeoutMicros)
	}
	return nil
}

// Interval is the time one key (an agent, a call) was open: [StartMicros, EndMicros).
// EndMicros is always after StartMicros.
type Interval struct {
	Key         string
	StartMicros int64
	EndMicros   int64
}

// IntervalGroup holds the intervals of one group of one account.
type IntervalGroup struct {
	Account   string
	Group     []string   // the values of the rules' GroupBy fields, in their order
	Intervals []Interval // ordered by key, then start; a key's intervals never overlap
}

// mark is a start or an end as the interval builder sees it: small and with one pointer,
// because sorting them is most of the work.
type mark struct {
	key   string
	time  int64
	group int32 // the rank of the mark's account and group values among all the groups
	opens bool
}

// groupKey is an account and the values of its GroupBy fields, unused ones empty.
type groupKey struct {
	account string
	values  [catalog.GroupByMax]string
}

// Intervals pairs the start and end events of each key, within each account and group:
//
//   - a key's events are taken in time order, an end before a start at the same
//     microsecond (a logout and a login at 9:00 are two shifts meeting, not overlapping);
//   - a start opens an interval if none is open; a start while one is open adds no
//     interval but is a heartbeat: the timeout counts from the latest start (a repeated
//     login says the agent is still there);
//   - an end closes the open interval; an end with none open is ignored (a logout
//     without a login);
//   - an interval with no end within the heartbeat timeout of its latest start is closed
//     at that start + timeout, and one still open after the last event at that time or
//     at nowMicros, whichever is earlier (a lost logout counts for at most the timeout).
//     An interval this leaves empty (now at or before its start) is dropped.
//
// So whether a key is open at t depends only on its last event in (t − timeout, t]:
// the store recomputes a window's peaks from the events of the timeout before it.
//
// Events without the key field are ignored. Groups are ordered by account, then by their
// values; the result depends only on the set of events. It panics if rules are not valid.
func Intervals(events []Event, rules ConcurrencyRules, nowMicros int64) []IntervalGroup {
	if err := rules.Validate(); err != nil {
		panic("meter: Intervals with invalid rules: " + err.Error())
	}
	// Groups are few (accounts × products), so each event's group is interned to a
	// small integer in a map that stays in cache, and the marks sort on integers, the
	// key and the time instead of on every group value.
	ids := map[groupKey]int32{}
	var keys []groupKey
	marks := make([]mark, 0, len(events))
	for i := range events {
		e := &events[i]
		opens := slices.Contains(rules.StartTypes, e.Type)
		if !opens && !slices.Contains(rules.EndTypes, e.Type) || !Matches(e, rules.Filters) {
			continue
		}
		key, ok := e.Field(rules.KeyField)
		if !ok {
			continue
		}
		gk := groupKey{account: e.Account}
		for j, f := range rules.GroupBy {
			gk.values[j], _ = e.Field(f)
		}
		id, ok := ids[gk]
		if !ok {
			id = int32(len(keys))
			ids[gk] = id
			keys = append(keys, gk)
		}
		marks = append(marks, mark{key: key, time: e.TimeMicros, group: id, opens: opens})
	}
	// Renumber the groups in the order of their values, so the order of the result
	// depends on them alone, not on which event came first.
	byValue := make([]int32, len(keys))
	for i := range byValue {
		byValue[i] = int32(i)
	}
	slices.SortFunc(byValue, func(a, b int32) int { return compareGroupKeys(&keys[a], &keys[b]) })
	rank := make([]int32, len(keys))
	for r, id := range byValue {
		rank[id] = int32(r)
	}
	for i := range marks {
		marks[i].group = rank[marks[i].group]
	}
	slices.SortFunc(marks, compareMarks)

	var groups []IntervalGroup
	intervals := make([]Interval, 0, len(marks)/2+1)
	groupStart := 0
	hb := rules.HeartbeatTimeoutMicros
	for lo := 0; lo < len(marks); {
		hi := lo + 1
		for hi < len(marks) && marks[hi].key == marks[lo].key && marks[hi].group == marks[lo].group {
			hi++
		}
		var open bool
		var start, seen int64 // when the open interval began; its latest start
		for _, m := range marks[lo:hi] {
			if open && m.time >= seen+hb {
				intervals = append(intervals, Interval{Key: m.key, StartMicros: start, EndMicros: seen + hb})
				open = false
			}
			switch {
			case m.opens && !open:
				open, start, seen = true, m.time, m.time
			case m.opens:
				seen = m.time
			case open:
				if m.time > start {
					intervals = append(intervals, Interval{Key: m.key, StartMicros: start, EndMicros: m.time})
				}
				open = false
			}
		}
		if open {
			if end := min(seen+hb, nowMicros); end > start {
				intervals = append(intervals, Interval{Key: marks[lo].key, StartMicros: start, EndMicros: end})
			}
		}
		if hi == len(marks) || marks[hi].group != marks[lo].group {
			if len(intervals) > groupStart {
				gk := &keys[byValue[marks[lo].group]]
				var group []string // nil without GroupBy, as in Aggregate
				if len(rules.GroupBy) > 0 {
					group = slices.Clone(gk.values[:len(rules.GroupBy)])
				}
				groups = append(groups, IntervalGroup{Account: gk.account, Group: group,
					Intervals: intervals[groupStart:len(intervals):len(intervals)]})
			}
			groupStart = len(intervals)
		}
		lo = hi
	}
	return groups
}

// compareGroupKeys orders groups by account, then values.
func compareGroupKeys(a, b *groupKey) int {
	if c := strings.Compare(a.account, b.account); c != 0 {
		return c
	}
	return slices.Compare(a.values[:], b.values[:])
}

// compareMarks orders marks by group, key and time, an end before a start at the same time.
func compareMarks(a, b mark) int {
	if c := cmp.Compare(a.group, b.group); c != 0 {
		return c
	}
	if c := strings.Compare(a.key, b.key); c != 0 {
		return c
	}
	if c := cmp.Compare(a.time, b.time); c != 0 {
		return c
	}
	switch {
	case a.opens == b.opens:
		return 0
	case b.opens:
		return -1
	}
	return 1
}

// Peak returns the most intervals open at any one instant of [fromMicros, toMicros): an
// interval [s, e) is open at t when s ≤ t < e, so one ending at e and one starting at e
// never count together. An empty range has a peak of 0.
func Peak(intervals []Interval, fromMicros, toMicros int64) int64 {
	if fromMicros >= toMicros {
		return 0
	}
	peaks, err := PeaksPerBucket(intervals, []int64{fromMicros, toMicros})
	if err != nil {
		panic("meter: one increasing bucket refused: " + err.Error())
	}
	return peaks[0]
}

// PeaksPerBucket returns the peak of each bucket [bounds[i], bounds[i+1]) in one sweep
// over the intervals' edges, sorted once: O(n log n + buckets). Bounds must be strictly
// increasing and at most BucketsMax+1; otherwise it returns a CodeInvalidBuckets error.
// Fewer than two bounds make no bucket.
func PeaksPerBucket(intervals []Interval, boundsMicros []int64) ([]int64, error) {
	if len(boundsMicros) > BucketsMax+1 {
		return nil, errorf(CodeInvalidBuckets, "", "%d buckets, more than %d", len(boundsMicros)-1, BucketsMax)
	}
	for i := 1; i < len(boundsMicros); i++ {
		if boundsMicros[i] <= boundsMicros[i-1] {
			return nil, errorf(CodeInvalidBuckets, "", "bounds must strictly increase (bound %d is %d, after %d)", i, boundsMicros[i], boundsMicros[i-1])
		}
	}
	if len(boundsMicros) < 2 {
		return nil, nil
	}
	// An edge is time<<1 | 1 for a start and time<<1 for an end: one int64 sort puts
	// the edges in time order with ends before starts at the same instant. Event times
	// are within TimeMicrosMin..TimeMicrosMax (plus a heartbeat), far from overflowing.
	edges := make([]int64, 0, 2*len(intervals))
	for _, iv := range intervals {
		edges = append(edges, iv.StartMicros<<1|1, iv.EndMicros<<1)
	}
	slices.Sort(edges)
	peaks := make([]int64, len(boundsMicros)-1)
	var open int64
	i := 0
	for b := range peaks {
		lo, hi := boundsMicros[b], boundsMicros[b+1]
		for ; i < len(edges) && edges[i]>>1 <= lo; i++ {
			open += edgeDelta(edges[i])
		}
		peak := open
		for ; i < len(edges) && edges[i]>>1 < hi; i++ {
			if open += edgeDelta(edges[i]); open > peak {
				peak = open
			}
		}
		peaks[b] = peak
	}
	return peaks, nil
}

// edgeDelta is +1 for a start edge, -1 for an end edge.
func edgeDelta(edge int64) int64 { return edge&1*2 - 1 }
