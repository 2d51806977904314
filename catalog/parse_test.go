package catalog_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/billowhq/billow/catalog"
	"github.com/google/go-cmp/cmp"
)

// want is an expected problem. The fixtures in testdata/invalid state theirs in comments
// on the line at fault: "# want COLUMN PATH: MESSAGE-SUBSTRING" (PATH "-" for none).
type want struct {
	line, column  int
	path, message string
}

var wantRE = regexp.MustCompile(`^(\d+) (\S+): (.+)$`)

func readWants(t *testing.T, file string, data []byte) []want {
	t.Helper()
	var wants []want
	for i, line := range strings.Split(string(data), "\n") {
		parts := strings.Split(line, "# want ")
		for _, w := range parts[1:] {
			m := wantRE.FindStringSubmatch(strings.TrimSpace(w))
			if m == nil {
				t.Fatalf("%s:%d: malformed annotation %q", file, i+1, w)
			}
			col, _ := strconv.Atoi(m[1])
			path := m[2]
			if path == "-" {
				path = ""
			}
			wants = append(wants, want{line: i + 1, column: col, path: path, message: m[3]})
		}
	}
	return wants
}

// problemsOf parses data and returns the problems, failing unless Parse returned a
// *ValidationError and no catalog.
func problemsOf(t *testing.T, name string, data []byte) []catalog.Problem {
	t.Helper()
	c, err := catalog.Parse(name, data)
	var verr *catalog.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("Parse(%s) = %v, %v; want a *ValidationError", name, c, err)
	}
	if c != nil {
		t.Fatalf("Parse(%s) returned a catalog with its error", name)
	}
	if verr.Name != name || len(verr.Problems) == 0 {
		t.Fatalf("ValidationError = %+v", verr)
	}
	return verr.Problems
}

// checkProblems matches problems and wants one to one.
func checkProblems(t *testing.T, got []catalog.Problem, wants []want) {
	t.Helper()
	used := make([]bool, len(got))
	for _, w := range wants {
		found := false
		for i, p := range got {
			if !used[i] && p.Line == w.line && p.Column == w.column && p.Path == w.path && strings.Contains(p.Message, w.message) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("missing problem %d:%d %s: %s", w.line, w.column, w.path, w.message)
		}
	}
	for i, p := range got {
		if !used[i] {
			t.Errorf("unexpected problem %d:%d %s: %s", p.Line, p.Column, p.Path, p.Message)
		}
	}
}

// TestInvalidCatalogs parses one bad catalog per fixture and expects exactly the
// problems its annotations state, all of them from one Parse.
func TestInvalidCatalogs(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			wants := readWants(t, file, data)
			if len(wants) == 0 {
				t.Fatal("fixture has no # want annotations")
			}
			checkProblems(t, problemsOf(t, file, data), wants)
		})
	}
}

// TestSeveralProblemsAtOnce guards the promise that an operator fixes a catalog in one
// pass: problems from every section come back from a single Parse, in file order.
func TestSeveralProblemsAtOnce(t *testing.T) {
	data, err := os.ReadFile("testdata/invalid/dangling_references.yaml")
	if err != nil {
		t.Fatal(err)
	}
	problems := problemsOf(t, "dangling.yaml", data)
	if len(problems) < 10 {
		t.Fatalf("got %d problems, want every dangling reference (10)", len(problems))
	}
	for i := 1; i < len(problems); i++ {
		a, b := problems[i-1], problems[i]
		if a.Line > b.Line || a.Line == b.Line && a.Column > b.Column {
			t.Errorf("problems out of file order: %d:%d before %d:%d", a.Line, a.Column, b.Line, b.Column)
		}
	}
}

func TestFileProblems(t *testing.T) {
	tests := []struct {
		name, data string
		want       catalog.Problem // Message is a substring
	}{
		{"empty", "", catalog.Problem{Message: "the file is empty"}},
		{"only comments", "# nothing yet\n\n", catalog.Problem{Message: "the file is empty"}},
		{"an empty document", "---", catalog.Problem{Message: "the file is empty"}},
		{"null", "~\n", catalog.Problem{Line: 1, Column: 1, Message: "must be a mapping (nothing given)"}},
		{"not a mapping", "- a\n- b\n", catalog.Problem{Line: 1, Column: 1, Message: "must be a mapping (a list given)"}},
		{"syntax error", "billow_catalog: 1\nname: Broken\nplans: [a, b\ncurrency: USD\n",
			catalog.Problem{Line: 3, Message: "YAML syntax error: did not find expected ',' or ']'"}},
		// yaml.v3 gives no line for errors on the first line, or for unknown anchors.
		{"syntax error on the first line", "billow_catalog: 1: 2\nname: x\n",
			catalog.Problem{Line: 1, Message: "YAML syntax error: mapping values are not allowed in this context"}},
		{"unknown anchor", "billow_catalog: 1\nname: x\ncurrency: *usd\n",
			catalog.Problem{Line: 3, Message: "YAML syntax error: unknown anchor 'usd' referenced"}},
		{"tab indentation", "billow_catalog: 1\nproducts:\n\t- key: x\n",
			catalog.Problem{Line: 3, Message: "YAML syntax error: found character that cannot start any token"}},
		{"control character", "billow_catalog: 1\nname: a\x01b\n", catalog.Problem{Line: 2, Column: 8, Message: "control character U+0001"}},
		{"invalid UTF-8", "billow_catalog: 1\nname: caf\xe9\n", catalog.Problem{Line: 2, Column: 10, Message: "not valid UTF-8"}},
		{"two documents", "billow_catalog: 1\n---\nname: x\n", catalog.Problem{Line: 2, Column: 1, Message: "one YAML document"}},
		{"too large", "# " + strings.Repeat("x", catalog.FileSizeBytesMax) + "\n",
			catalog.Problem{Message: fmt.Sprintf("a catalog may have at most %d", catalog.FileSizeBytesMax)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problemsOf(t, "c.yaml", []byte(tt.data))
			if len(got) != 1 {
				t.Fatalf("got %d problems %+v, want one", len(got), got)
			}
			p := got[0]
			if p.Line != tt.want.Line || p.Column != tt.want.Column || p.Path != "" || !strings.Contains(p.Message, tt.want.Message) {
				t.Errorf("got %d:%d %q: %s\nwant %d:%d: …%s…", p.Line, p.Column, p.Path, p.Message, tt.want.Line, tt.want.Column, tt.want.Message)
			}
		})
	}
}

func TestValidationErrorString(t *testing.T) {
	err := &catalog.ValidationError{Name: "prices.yaml", Problems: []catalog.Problem{
		{Line: 12, Column: 5, Path: "plans[1].fees.month", Message: "must be a decimal amount with at most 2 fractional digits for USD"},
		{Line: 3, Message: "YAML syntax error: did not find expected key"},
		{Message: "the file is empty"},
	}}
	want := "prices.yaml:12:5: plans[1].fees.month: must be a decimal amount with at most 2 fractional digits for USD\n" +
		"prices.yaml:3: YAML syntax error: did not find expected key\n" +
		"prices.yaml: the file is empty"
	if got := err.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
}

const minimal = `billow_catalog: 1
name: Minimal
currency: EUR
products: [{key: bots, name: Bots}]
meters:
  - {key: s, name: S, unit: session, event_types: [conversation.started], aggregation: sessions}
  - key: c
    name: C
    unit: call
    event_types: [call.started, call.ended]
    aggregation: concurrency
    field: call
    start_types: [call.started]
    end_types: [call.ended]
plans:
  - key: basic
    name: Basic
    products: [bots]
    fees: {year: "100"}
    rates: [{meter: s, model: per_unit, unit_price: "0.1"}]
add_ons:
  - {key: x, name: X, fees: {month: 1}}
`

// TestDefaults pins every default the format documents, on the smallest catalog.
func TestDefaults(t *testing.T) {
	c, err := catalog.Parse("minimal.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	want := &catalog.Catalog{
		FormatVersion: 1, Name: "Minimal", Currency: "EUR", CurrencyDigits: 2,
		Credits: catalog.Credits{PerCurrencyUnit: 1000, GraceBufferCredits: 0, PackagesCredits: []int64{},
			PurchaseMinCredits: 1000, PurchaseMaxCredits: 10_000_000},
		Billing:      catalog.Billing{RetryDays: []int64{1, 3, 5, 7}, GracePeriodDays: 7, PaymentTermsDays: 14},
		Products:     []catalog.Product{{Key: "bots", Name: "Bots"}},
		Entitlements: []catalog.Entitlement{},
		Meters: []catalog.Meter{
			{Key: "s", Name: "S", Unit: "session", EventTypes: []string{"conversation.started"},
				Aggregation: "sessions", BlockMinutes: 15, IdleTimeoutMinutes: 30},
			{Key: "c", Name: "C", Unit: "call", EventTypes: []string{"call.started", "call.ended"},
				Aggregation: "concurrency", Field: "call", StartTypes: []string{"call.started"},
				EndTypes: []string{"call.ended"}, HeartbeatTimeoutMinutes: 720},
		},
		Plans: []catalog.Plan{{
			Key: "basic", Name: "Basic", AccountTypes: []string{"standard"}, Products: []string{"bots"},
			Fees:  []catalog.Fee{{Interval: "year", Amount: "100.00", AmountMinorUnits: 10000}},
			Rates: []catalog.Rate{{Meter: "s", Model: "per_unit", UnitPrice: "0.10", BilledIn: "currency"}},
		}},
		AddOns: []catalog.AddOn{{Key: "x", Name: "X", MaxQuantity: 1,
			Fees: []catalog.Fee{{Interval: "month", Amount: "1.00", AmountMinorUnits: 100}}}},
		ProviderCosts: catalog.ProviderCosts{MarkupPercent: "0", LLM: []catalog.LLMCost{}, Voice: []catalog.VoiceCost{}},
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("minimal catalog (-want +got):\n%s", diff)
	}
}

// TestMoneyForms: quoted and unquoted decimals mean the same, exactly, and are stored in
// one canonical text.
func TestMoneyForms(t *testing.T) {
	variants := []string{`{month: "20.50"}`, `{month: 20.50}`, `{month: 20.5}`, `{month: "020.50"}`}
	var hashes []string
	for _, v := range variants {
		src := strings.Replace(minimal, `fees: {year: "100"}`, "fees: "+v, 1)
		c, err := catalog.Parse("money.yaml", []byte(src))
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if got := c.Plans[0].Fees; len(got) != 1 || got[0].Amount != "20.50" || got[0].AmountMinorUnits != 2050 {
			t.Errorf("%s: fees = %+v, want 20.50 = 2050 minor units", v, got)
		}
		hashes = append(hashes, c.Hash())
	}
	for _, h := range hashes[1:] {
		if h != hashes[0] {
			t.Errorf("money forms hash differently: %v", hashes)
		}
	}

	// A rate keeps its precision, and at least the currency's digits.
	for in, want := range map[string]string{`"0.0000025"`: "0.0000025", `0.10`: "0.10", `"3"`: "3.00", `"0.000000000001"`: "0.000000000001"} {
		src := strings.Replace(minimal, `unit_price: "0.1"`, "unit_price: "+in, 1)
		c, err := catalog.Parse("rate.yaml", []byte(src))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := c.Plans[0].Rates[0].UnitPrice; got != want {
			t.Errorf("unit_price %s = %q, want %q", in, got, want)
		}
	}
}

// TestLimits checks that every bound is enforced with a problem naming it.
func TestLimits(t *testing.T) {
	var plans strings.Builder
	for i := range catalog.PlansMax + 1 {
		fmt.Fprintf(&plans, "  - {key: p%d, name: P, products: [bots], fees: {month: \"1.00\"}}\n", i)
	}
	longKey := strings.Repeat("k", catalog.KeyLengthBytesMax+1)
	var tiers strings.Builder
	for i := range catalog.TiersPerRateMax + 1 {
		fmt.Fprintf(&tiers, "          - {up_to: %d, unit_price: \"1\"}\n", i+1)
	}
	tests := []struct {
		name, src string
		want      catalog.Problem
	}{
		{"plans", strings.Replace(minimal, "plans:\n", "plans:\n"+plans.String(), 1),
			catalog.Problem{Line: 16 + catalog.PlansMax, Column: 5, Path: fmt.Sprintf("plans[%d]", catalog.PlansMax), Message: "at most 64 (PlansMax)"}},
		{"key length", strings.Replace(minimal, "key: c\n", "key: "+longKey+"\n", 1),
			catalog.Problem{Line: 7, Column: 10, Path: "meters[1].key", Message: "keys have at most 64 (KeyLengthBytesMax)"}},
		{"tiers", strings.Replace(minimal, `rates: [{meter: s, model: per_unit, unit_price: "0.1"}]`,
			"rates:\n      - meter: s\n        model: graduated\n        tiers:\n"+tiers.String(), 1),
			catalog.Problem{Line: 24 + catalog.TiersPerRateMax, Column: 13, Path: fmt.Sprintf("plans[0].rates[0].tiers[%d]", catalog.TiersPerRateMax), Message: "at most 32 (TiersPerRateMax)"}},
		{"fee", strings.Replace(minimal, `fees: {year: "100"}`, `fees: {year: "10000000000000.01"}`, 1),
			catalog.Problem{Line: 19, Column: 18, Path: "plans[0].fees.year", Message: "at most 1000000000000000 minor units (AmountMinorUnitsMax)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problemsOf(t, tt.name+".yaml", []byte(tt.src))
			checkProblems(t, got, []want{{tt.want.Line, tt.want.Column, tt.want.Path, tt.want.Message}})
		})
	}
}

// TestProblemsMax: a catalog with a problem on every line lists ProblemsMax of them
// and says that it stopped.
func TestProblemsMax(t *testing.T) {
	var src bytes.Buffer
	src.WriteString(minimal)
	for i := range catalog.ProblemsMax + 50 {
		fmt.Fprintf(&src, "unknown_%d: x\n", i)
	}
	got := problemsOf(t, "many.yaml", src.Bytes())
	if len(got) != catalog.ProblemsMax+1 {
		t.Fatalf("got %d problems, want %d and a last one saying so", len(got), catalog.ProblemsMax+1)
	}
	if last := got[len(got)-1]; !strings.Contains(last.Message, "too many problems") {
		t.Errorf("last problem = %+v", last)
	}
}

func TestLookups(t *testing.T) {
	c, err := catalog.Parse("minimal.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := c.Plan("basic"); !ok || p.Name != "Basic" {
		t.Errorf("Plan(basic) = %v, %v", p, ok)
	}
	if a, ok := c.AddOn("x"); !ok || a.Key != "x" {
		t.Errorf("AddOn(x) = %v, %v", a, ok)
	}
	if m, ok := c.Meter("c"); !ok || m.Aggregation != catalog.AggregationConcurrency {
		t.Errorf("Meter(c) = %v, %v", m, ok)
	}
	if p, ok := c.Product("bots"); !ok || p.Name != "Bots" {
		t.Errorf("Product(bots) = %v, %v", p, ok)
	}
	if p, ok := c.Plan("nope"); ok || p != nil {
		t.Errorf("Plan(nope) = %v, %v", p, ok)
	}
	for _, miss := range []bool{okOf(c.AddOn("basic")), okOf(c.Meter("bots")), okOf(c.Product("s")), okOf(c.Entitlement("x"))} {
		if miss {
			t.Error("a lookup found a key of another kind")
		}
	}
	if f, ok := c.Plans[0].Fee(catalog.IntervalMonth); ok {
		t.Errorf("basic has a monthly fee %+v; it only offers a year", f)
	}
}

func okOf[T any](_ *T, ok bool) bool { return ok }
