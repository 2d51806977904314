package meter_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/billowhq/billow/meter"
	"github.com/google/go-cmp/cmp"
)

// iv is an interval as offsets from t0.
type iv struct {
	Key        string
	Start, End int64
}

func reduceIntervals(groups []meter.IntervalGroup) map[string][]iv {
	out := map[string][]iv{}
	for _, g := range groups {
		name := fmt.Sprint(g.Group)
		for _, i := range g.Intervals {
			out[name] = append(out[name], iv{i.Key, i.StartMicros - t0, i.EndMicros - t0})
		}
	}
	return out
}

func TestIntervals(t *testing.T) {
	const cc = "contact_center"
	// The shipped concurrent_agents meter closes a login without logout after 12 hours.
	tests := []struct {
		name   string
		events []meter.Event
		now    int64 // offset from t0
		want   []iv
	}{
		{
			name:   "a login and a logout",
			events: []meter.Event{login("ann", cc, 0), logout("ann", cc, 8*hour)},
			want:   []iv{{"ann", 0, 8 * hour}},
		},
		{
			name:   "a repeated login while logged in changes nothing",
			events: []meter.Event{login("ann", cc, 0), login("ann", cc, 1*hour), login("ann", cc, 1*hour), logout("ann", cc, 8*hour)},
			want:   []iv{{"ann", 0, 8 * hour}},
		},
		{
			name:   "a repeated login is a heartbeat: the timeout counts from it",
			events: []meter.Event{login("ann", cc, 0), login("ann", cc, 10*hour)},
			now:    3 * day,
			want:   []iv{{"ann", 0, 22 * hour}},
		},
		{
			name:   "a login after a heartbeat's timeout opens a new interval",
			events: []meter.Event{login("ann", cc, 0), login("ann", cc, 10*hour), login("ann", cc, 23*hour), logout("ann", cc, 24*hour)},
			want:   []iv{{"ann", 0, 22 * hour}, {"ann", 23 * hour, 24 * hour}},
		},
		{
			name:   "a logout without a login is ignored",
			events: []meter.Event{logout("ann", cc, 2*hour), login("ann", cc, 3*hour), logout("ann", cc, 4*hour), logout("ann", cc, 5*hour)},
			want:   []iv{{"ann", 3 * hour, 4 * hour}},
		},
		{
			name:   "a missing logout is closed by the heartbeat timeout",
			events: []meter.Event{login("ann", cc, 0)},
			now:    2 * day,
			want:   []iv{{"ann", 0, 12 * hour}},
		},
		{
			name:   "a missing logout is closed at now when now is earlier",
			events: []meter.Event{login("ann", cc, 0)},
			now:    3 * hour,
			want:   []iv{{"ann", 0, 3 * hour}},
		},
		{
			name:   "a login at or after now leaves nothing open",
			events: []meter.Event{login("ann", cc, 3*hour)},
			now:    3 * hour,
			want:   nil,
		},
		{
			name:   "a login after the timeout opens a new interval",
			events: []meter.Event{login("ann", cc, 0), login("ann", cc, 13*hour), logout("ann", cc, 14*hour)},
			want:   []iv{{"ann", 0, 12 * hour}, {"ann", 13 * hour, 14 * hour}},
		},
		{
			name:   "a login exactly at the timeout opens a new interval",
			events: []meter.Event{login("ann", cc, 0), login("ann", cc, 12*hour), logout("ann", cc, 14*hour)},
			want:   []iv{{"ann", 0, 12 * hour}, {"ann", 12 * hour, 14 * hour}},
		},
		{
			name:   "a logout after the timeout finds nothing open",
			events: []meter.Event{login("ann", cc, 0), logout("ann", cc, 13*hour)},
			want:   []iv{{"ann", 0, 12 * hour}},
		},
		{
			name:   "a logout and a login at the same instant are two shifts meeting",
			events: []meter.Event{login("ann", cc, 8*hour), logout("ann", cc, 8*hour), login("ann", cc, 0), logout("ann", cc, 16*hour)},
			want:   []iv{{"ann", 0, 8 * hour}, {"ann", 8 * hour, 16 * hour}},
		},
		{
			name:   "keys are apart",
			events: []meter.Event{login("bob", cc, 1*hour), login("ann", cc, 0), logout("bob", cc, 2*hour), logout("ann", cc, 3*hour)},
			want:   []iv{{"ann", 0, 3 * hour}, {"bob", 1 * hour, 2 * hour}},
		},
	}
	rules := concurrencyRules(t, "concurrent_agents")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := t0 + tt.now
			if tt.now == 0 {
				now = t0 + 30*day
			}
			got := reduceIntervals(meter.Intervals(tt.events, rules, now))
			want := map[string][]iv{}
			if tt.want != nil {
				want["[contact_center]"] = tt.want
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("intervals (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIntervalsGroups(t *testing.T) {
	events := []meter.Event{
		login("ann", "contact_center", 0), logout("ann", "contact_center", 2*hour),
		login("ann", "agent_ai", 1*hour), logout("ann", "agent_ai", 3*hour),
		// A logout in another group does not close the login of this one.
		logout("bob", "agent_ai", 1*hour), login("bob", "contact_center", 0), logout("bob", "contact_center", 4*hour),
	}
	want := map[string][]iv{
		"[agent_ai]":       {{"ann", 1 * hour, 3 * hour}},
		"[contact_center]": {{"ann", 0, 2 * hour}, {"bob", 0, 4 * hour}},
	}
	groups := meter.Intervals(events, concurrencyRules(t, "concurrent_agents"), t0+day)
	if diff := cmp.Diff(want, reduceIntervals(groups)); diff != "" {
		t.Errorf("intervals (-want +got):\n%s", diff)
	}
	if groups[0].Group[0] != "agent_ai" {
		t.Errorf("groups are not ordered by value: first is %v", groups[0].Group)
	}
}

func TestIntervalsCalls(t *testing.T) {
	call := func(typ, id string, at int64) meter.Event {
		return meter.Event{Type: typ, TimeMicros: t0 + at, Account: "acct_1", App: "bot", Call: id}
	}
	events := []meter.Event{
		call(meter.TypeCallStarted, "c1", 0), call(meter.TypeCallEnded, "c1", 10*minute),
		call(meter.TypeCallStarted, "c2", 5*minute), call(meter.TypeCallEnded, "c2", 15*minute),
		call(meter.TypeCallStarted, "c3", 10*minute), // never ended: 4 hours at most
	}
	groups := meter.Intervals(events, concurrencyRules(t, "concurrent_calls"), t0+day)
	want := map[string][]iv{"[]": {{"c1", 0, 10 * minute}, {"c2", 5 * minute, 15 * minute}, {"c3", 10 * minute, 10*minute + 4*hour}}}
	if diff := cmp.Diff(want, reduceIntervals(groups)); diff != "" {
		t.Errorf("intervals (-want +got):\n%s", diff)
	}
	if got := meter.Peak(groups[0].Intervals, t0, t0+day); got != 2 {
		t.Errorf("peak = %d, want 2 (c1 ends as c3 starts)", got)
	}
}

func TestPeak(t *testing.T) {
	intervals := []meter.Interval{
		{Key: "a", StartMicros: 0, EndMicros: 10},
		{Key: "b", StartMicros: 10, EndMicros: 20}, // back to back with a: never together
		{Key: "c", StartMicros: 5, EndMicros: 15},
		{Key: "d", StartMicros: 30, EndMicros: 40},
	}
	tests := []struct {
		from, to, want int64
	}{
		{0, 100, 2},
		{0, 5, 1},   // c starts at the end of the range
		{5, 6, 2},   // a and c
		{10, 11, 2}, // b and c; a ended at 10
		{20, 30, 0}, // b ends at 20, d starts at 30
		{15, 35, 1},
		{39, 40, 1},
		{40, 50, 0},
		{50, 50, 0}, // empty range
		{60, 50, 0}, // reversed range
	}
	for _, tt := range tests {
		if got := meter.Peak(intervals, tt.from, tt.to); got != tt.want {
			t.Errorf("Peak [%d, %d) = %d, want %d", tt.from, tt.to, got, tt.want)
		}
	}
}

func TestPeaksPerBucket(t *testing.T) {
	intervals := []meter.Interval{
		{Key: "a", StartMicros: 0, EndMicros: 10},
		{Key: "b", StartMicros: 10, EndMicros: 20},
		{Key: "c", StartMicros: 5, EndMicros: 15},
		{Key: "d", StartMicros: 30, EndMicros: 40},
		{Key: "e", StartMicros: -20, EndMicros: 100}, // spans every bucket
	}
	bounds := []int64{0, 5, 10, 20, 30, 40, 50}
	got, err := meter.PeaksPerBucket(intervals, bounds)
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{2, 3, 3, 1, 2, 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("peaks (-want +got):\n%s", diff)
	}
	// One sweep gives what a Peak per bucket gives.
	for i := range want {
		if p := meter.Peak(intervals, bounds[i], bounds[i+1]); p != got[i] {
			t.Errorf("bucket %d: PeaksPerBucket %d, Peak %d", i, got[i], p)
		}
	}
	for _, bad := range [][]int64{{0, 10, 10}, {10, 0}} {
		_, err := meter.PeaksPerBucket(intervals, bad)
		var e *meter.Error
		if !errors.As(err, &e) || e.Code != meter.CodeInvalidBuckets {
			t.Errorf("bounds %v: err = %v, want code %s", bad, err, meter.CodeInvalidBuckets)
		}
	}
	if got, err := meter.PeaksPerBucket(intervals, []int64{7}); err != nil || len(got) != 0 {
		t.Errorf("one bound: %v, %v; want no bucket", got, err)
	}
}

// shifts logs in agents per shift of 8 hours, back to back, over the days: shift s of day
// d has agents "s<s>-<i>" when distinct, or the same agents every shift otherwise.
func shifts(agentsPerShift, shiftsPerDay, days int, product string) []meter.Event {
	var events []meter.Event
	for d := range days {
		for s := range shiftsPerDay {
			start := int64(d)*day + int64(s)*8*hour
			for i := range agentsPerShift {
				agent := fmt.Sprintf("s%d-%03d", s, i)
				events = append(events, login(agent, product, start), logout(agent, product, start+8*hour))
			}
		}
	}
	return events
}

// TestSeedSeats works seed 000's examples: "100 agents across 3 shifts = 100 [named]
// seats" and "50 agents per shift across 3 shifts = 50 [concurrent] seats".
func TestSeedSeats(t *testing.T) {
	c := example(t, "ai-for-service")
	month := 30 * day
	t.Run("named: 100 agents over 3 shifts are 100 seats", func(t *testing.T) {
		// 34 + 33 + 33 agents, each logging in for their shift every day.
		var events []meter.Event
		for i := range 100 {
			shift := int64(i % 3)
			for d := range int64(30) {
				at := d*day + shift*8*hour
				agent := fmt.Sprintf("agent_%03d", i)
				events = append(events, login(agent, "contact_center", at), logout(agent, "contact_center", at+8*hour))
			}
		}
		got, err := meter.Aggregate(mustMeter(t, c, "named_agents"), events, t0, t0+month)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Quantity.IntPart() != 100 || got[0].Group[0] != "contact_center" {
			t.Errorf("named seats = %v, want 100 for contact_center", got)
		}
		// The same agents are 34 concurrent seats: the largest shift.
		groups := meter.Intervals(events, concurrencyRules(t, "concurrent_agents"), t0+month)
		if p := meter.Peak(groups[0].Intervals, t0, t0+month); len(groups) != 1 || p != 34 {
			t.Errorf("concurrent seats = %d in %d groups, want 34 in 1", p, len(groups))
		}
	})
	t.Run("concurrent: 50 agents per shift over 3 shifts are 50 seats", func(t *testing.T) {
		events := shifts(50, 3, 30, "contact_center")
		groups := meter.Intervals(events, concurrencyRules(t, "concurrent_agents"), t0+month)
		if len(groups) != 1 {
			t.Fatalf("got %d groups, want 1", len(groups))
		}
		if got := meter.Peak(groups[0].Intervals, t0, t0+month); got != 50 {
			t.Errorf("concurrent seats = %d, want 50", got)
		}
		named, err := meter.Aggregate(mustMeter(t, c, "named_agents"), events, t0, t0+month)
		if err != nil {
			t.Fatal(err)
		}
		if named[0].Quantity.IntPart() != 150 {
			t.Errorf("named seats of the same shifts = %s, want 150", named[0].Quantity)
		}
		// Hourly, every hour has its shift's 50 agents and no more.
		bounds := make([]int64, 0, 24*30+1)
		for h := range int64(24*30 + 1) {
			bounds = append(bounds, t0+h*hour)
		}
		peaks, err := meter.PeaksPerBucket(groups[0].Intervals, bounds)
		if err != nil {
			t.Fatal(err)
		}
		for h, p := range peaks {
			if p != 50 {
				t.Fatalf("hour %d: peak %d, want 50", h, p)
			}
		}
	})
}

func TestNamedSeatsWindow(t *testing.T) {
	m := mustMeter(t, example(t, "ai-for-service"), "named_agents")
	events := []meter.Event{
		login("ann", "contact_center", -1), // the previous period
		login("bob", "contact_center", 0),
		login("bob", "contact_center", 5*hour), // the same agent again
		logout("cid", "contact_center", hour),  // a logout is not a login
		login("dan", "agent_ai", hour),
		login("eve", "contact_center", day), // the next period
	}
	got, err := meter.Aggregate(m, events, t0, t0+day)
	if err != nil {
		t.Fatal(err)
	}
	want := []meter.GroupQuantity{
		{Account: "acct_1", Group: []string{"agent_ai"}, Quantity: dec("1")},
		{Account: "acct_1", Group: []string{"contact_center"}, Quantity: dec("1")},
	}
	if diff := cmp.Diff(want, got, decimalByValue); diff != "" {
		t.Errorf("named seats (-want +got):\n%s", diff)
	}
}

func TestConcurrencyRulesOf(t *testing.T) {
	r := concurrencyRules(t, "concurrent_agents")
	if r.HeartbeatTimeoutMicros != 12*hour || r.KeyField != "agent" {
		t.Errorf("rules = %+v, want key agent and a 12-hour heartbeat", r)
	}
	_, err := meter.ConcurrencyRulesOf(mustMeter(t, example(t, "ai-for-service"), "named_agents"))
	var e *meter.Error
	if !errors.As(err, &e) || e.Code != meter.CodeUnsupportedMeter {
		t.Errorf("err = %v, want code %s", err, meter.CodeUnsupportedMeter)
	}
}

// TestAccountsNeverMeet checks that two accounts' agents with the same id are two seats:
// intervals, peaks and named seats are per account.
func TestAccountsNeverMeet(t *testing.T) {
	other := func(e meter.Event) meter.Event { e.Account = "acct_2"; return e }
	events := []meter.Event{
		login("ann", "contact_center", 0), logout("ann", "contact_center", 8*hour),
		other(login("ann", "contact_center", hour)), other(logout("ann", "contact_center", 2*hour)),
		other(logout("bob", "contact_center", 0)),
	}
	groups := meter.Intervals(events, concurrencyRules(t, "concurrent_agents"), t0+day)
	if len(groups) != 2 || groups[0].Account != "acct_1" || groups[1].Account != "acct_2" {
		t.Fatalf("groups = %+v, want one for acct_1 then one for acct_2", groups)
	}
	for _, g := range groups {
		if p := meter.Peak(g.Intervals, t0, t0+day); p != 1 {
			t.Errorf("%s: peak %d, want 1", g.Account, p)
		}
	}
	named, err := meter.Aggregate(mustMeter(t, example(t, "ai-for-service"), "named_agents"), events, t0, t0+day)
	if err != nil {
		t.Fatal(err)
	}
	want := []meter.GroupQuantity{
		{Account: "acct_1", Group: []string{"contact_center"}, Quantity: dec("1")},
		{Account: "acct_2", Group: []string{"contact_center"}, Quantity: dec("1")},
	}
	if diff := cmp.Diff(want, named, decimalByValue); diff != "" {
		t.Errorf("named seats (-want +got):\n%s", diff)
	}
}
