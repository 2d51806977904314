package billing

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/billowhq/billow"
)

// allStatuses is every status a subscription can be in, "" (not created yet) included,
// and one no table knows.
var allStatuses = []billow.SubscriptionStatus{
	"",
	billow.SubscriptionIncomplete, billow.SubscriptionTrialing, billow.SubscriptionActive,
	billow.SubscriptionPastDue, billow.SubscriptionSuspended, billow.SubscriptionCanceled,
	billow.SubscriptionExpired,
	"paused",
}

// wantTransitions is the state machine as specified, written out independently of
// state.go: one row per (from, event).
func wantTransitions() []Transition {
	const (
		inc  = billow.SubscriptionIncomplete
		tri  = billow.SubscriptionTrialing
		act  = billow.SubscriptionActive
		due  = billow.SubscriptionPastDue
		sus  = billow.SubscriptionSuspended
		canc = billow.SubscriptionCanceled
		exp  = billow.SubscriptionExpired
	)
	rows := []Transition{
		{"", "start_trial", tri, "subscription.trial_started"},
		{"", "start_paid", act, "subscription.activated"},
		{"", "start_pending", inc, "subscription.created"},
		{inc, "paid", act, "subscription.activated"},
		{inc, "abandoned", exp, "subscription.expired"},
		{tri, "trial_converted", act, "subscription.activated"},
		{tri, "trial_no_method", exp, "subscription.trial_expired"},
		{tri, "renewal_failed", due, "subscription.renewal_failed"},
		{act, "renewed", act, "subscription.renewed"},
		{act, "renewal_failed", due, "subscription.renewal_failed"},
		{due, "retry_failed", due, "subscription.retry_failed"},
		{due, "paid", act, "subscription.recovered"},
		{due, "grace_expired", sus, "subscription.suspended"},
		{sus, "paid", act, "subscription.reactivated"},
		{due, "period_end_unpaid", exp, "subscription.expired"},
		{sus, "period_end_unpaid", exp, "subscription.expired"},
	}
	for _, s := range []billow.SubscriptionStatus{tri, act} {
		rows = append(rows, Transition{s, "changed", s, "subscription.changed"})
	}
	for _, s := range []billow.SubscriptionStatus{tri, act, due} {
		rows = append(rows,
			Transition{s, "cancel_scheduled", s, "subscription.cancel_scheduled"},
			Transition{s, "cancel_unscheduled", s, "subscription.cancel_unscheduled"})
	}
	for _, s := range []billow.SubscriptionStatus{tri, act, due, sus, inc} {
		rows = append(rows, Transition{s, "canceled", canc, "subscription.canceled"})
	}
	return rows
}

func sortTransitions(ts []Transition) []Transition {
	ts = slices.Clone(ts)
	slices.SortFunc(ts, func(a, b Transition) int {
		if c := strings.Compare(string(a.From), string(b.From)); c != 0 {
			return c
		}
		return strings.Compare(string(a.Event), string(b.Event))
	})
	return ts
}

func TestTransitionsTable(t *testing.T) {
	if diff := cmp.Diff(sortTransitions(wantTransitions()), sortTransitions(Transitions())); diff != "" {
		t.Errorf("Transitions() differs from the specification (-want +got):\n%s", diff)
	}
	seen := map[[2]string]bool{}
	for _, tr := range Transitions() {
		key := [2]string{string(tr.From), string(tr.Event)}
		if seen[key] {
			t.Errorf("two transitions for %q on %q", tr.From, tr.Event)
		}
		seen[key] = true
		if !slices.Contains(Events(), tr.Event) {
			t.Errorf("event %q of the table is missing from Events()", tr.Event)
		}
	}
	events := Events()
	if len(events) != 16 || len(slices.Compact(slices.Sorted(slices.Values(events)))) != len(events) {
		t.Errorf("Events() = %v: want 16 distinct events", events)
	}
	for _, ev := range events {
		if !slices.ContainsFunc(Transitions(), func(tr Transition) bool { return tr.Event == ev }) {
			t.Errorf("event %q allows no transition", ev)
		}
	}
}

func TestTransitionsIsACopy(t *testing.T) {
	ts := Transitions()
	ts[0].To = billow.SubscriptionCanceled
	if got := Transitions()[0]; got.To == billow.SubscriptionCanceled {
		t.Errorf("changing the result of Transitions changed the table: %+v", got)
	}
}

func TestNextAllowed(t *testing.T) {
	for _, want := range wantTransitions() {
		t.Run(string(want.From)+"/"+string(want.Event), func(t *testing.T) {
			got, err := Next(want.From, want.Event)
			if err != nil {
				t.Fatalf("Next(%q, %q): %v", want.From, want.Event, err)
			}
			if got != want {
				t.Errorf("Next(%q, %q) = %+v, want %+v", want.From, want.Event, got, want)
			}
		})
	}
}

// TestNextRefused tries every status with every event, and one unknown event: whatever
// the specification does not allow is refused.
func TestNextRefused(t *testing.T) {
	allowed := map[[2]string]bool{}
	for _, tr := range wantTransitions() {
		allowed[[2]string{string(tr.From), string(tr.Event)}] = true
	}
	events := append(Events(), "resumed", "")
	refused := 0
	for _, from := range allStatuses {
		for _, ev := range events {
			if allowed[[2]string{string(from), string(ev)}] {
				continue
			}
			refused++
			got, err := Next(from, ev)
			var e *billow.Error
			if !errors.As(err, &e) {
				t.Errorf("Next(%q, %q) = %+v, %v; want a refusal", from, ev, got, err)
				continue
			}
			if e.Kind != billow.KindConflict || e.Code != billow.CodeTransitionRefused {
				t.Errorf("Next(%q, %q): kind %d code %q, want conflict %q", from, ev, e.Kind, e.Code, billow.CodeTransitionRefused)
			}
			if got != (Transition{}) {
				t.Errorf("Next(%q, %q) refused but returned %+v", from, ev, got)
			}
			if string(from) != "" && !strings.Contains(e.Message, string(from)) {
				t.Errorf("Next(%q, %q): message %q does not name the status", from, ev, e.Message)
			}
		}
	}
	if want := len(allStatuses)*len(events) - len(allowed); refused != want {
		t.Errorf("tried %d refused pairs, want %d", refused, want)
	}
}

func TestNextMessages(t *testing.T) {
	tests := []struct {
		from billow.SubscriptionStatus
		ev   Event
		want string
	}{
		{billow.SubscriptionPastDue, EventRenewed, "a past_due subscription cannot renew (event renewed)"},
		{billow.SubscriptionActive, EventStartTrial, "an active subscription cannot start a trial (event start_trial)"},
		{billow.SubscriptionCanceled, EventPaid, "a canceled subscription cannot be paid (event paid)"},
		{"", EventPaid, "a new subscription cannot be paid (event paid)"},
		{billow.SubscriptionActive, "resumed", `an active subscription cannot take the unknown event "resumed" (event resumed)`},
		{"paused", EventPaid, `a subscription in the unknown status "paused" cannot be paid (event paid)`},
	}
	for _, tt := range tests {
		_, err := Next(tt.from, tt.ev)
		var e *billow.Error
		if !errors.As(err, &e) || e.Message != tt.want {
			t.Errorf("Next(%q, %q) = %v, want message %q", tt.from, tt.ev, err, tt.want)
		}
	}
}

// TestDocsTable keeps the table of docs/subscriptions.md equal to Transitions: a row's
// first column may list several statuses, "(new)" is "" and "(same)" keeps the status.
func TestDocsTable(t *testing.T) {
	const path = "../docs/subscriptions.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	_, states, ok := strings.Cut(doc, "\n## States\n")
	if !ok {
		t.Fatalf("%s has no States section", path)
	}
	states, _, _ = strings.Cut(states, "\n## ")
	var got []Transition
	header := false
	for line := range strings.Lines(states) {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			if header && len(got) > 0 {
				break // the first table only
			}
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 4 {
			t.Fatalf("%s: row %q has %d cells, want 4", path, line, len(cells))
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if !header {
			if want := []string{"from", "event", "to", "domain event"}; !slices.Equal(cells, want) {
				t.Fatalf("%s: table header %q, want %q", path, cells, want)
			}
			header = true
			continue
		}
		if strings.Trim(cells[0], "-") == "" {
			continue // the separator row
		}
		ev := Event(firstCode(t, cells[1]))
		domain := firstCode(t, cells[3])
		for _, f := range strings.Split(cells[0], ",") {
			from := billow.SubscriptionStatus(docStatus(t, f))
			to := from
			if cells[2] != "(same)" {
				to = billow.SubscriptionStatus(docStatus(t, cells[2]))
			}
			got = append(got, Transition{from, ev, to, domain})
		}
	}
	if len(got) == 0 {
		t.Fatalf("%s: no table in the States section", path)
	}
	if diff := cmp.Diff(sortTransitions(Transitions()), sortTransitions(got)); diff != "" {
		t.Errorf("%s differs from Transitions() (-code +docs):\n%s", path, diff)
	}
	if !strings.Contains(states, "`transition_refused`") {
		t.Errorf("%s: the States section does not name the code transition_refused", path)
	}
}

// firstCode returns the first `quoted` word of a cell: "`paid` (remark)" is "paid".
func firstCode(t *testing.T, cell string) string {
	t.Helper()
	_, rest, ok := strings.Cut(cell, "`")
	code, _, ok2 := strings.Cut(rest, "`")
	if !ok || !ok2 || code == "" {
		t.Fatalf("cell %q has no `code`", cell)
	}
	return code
}

// docStatus reads a status cell: "(new)" or one `status`.
func docStatus(t *testing.T, cell string) string {
	t.Helper()
	cell = strings.TrimSpace(cell)
	if cell == "(new)" {
		return ""
	}
	s := firstCode(t, cell)
	if cell != "`"+s+"`" {
		t.Fatalf("status cell %q is not one `status`", cell)
	}
	return s
}
