package billow_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/billowhq/billow"
)

func TestQuantityJSON(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0", "0"},
		{"12", "12"},
		{"2.500", "2.5"},
		{"0.000125", "0.000125"},
		{"-0.125", "-0.125"},
		// Past 2^53 a float64 would change the last digits.
		{"9007199254740993.001", "9007199254740993.001"},
		{"123456789012345678901234567890", "123456789012345678901234567890"},
	} {
		d, err := decimal.NewFromString(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(struct {
			V billow.Quantity `json:"v"`
		}{billow.NewQuantity(d)})
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != `{"v":`+tc.want+`}` {
			t.Errorf("%s marshals as %s", tc.in, b)
		}
		var back struct {
			V billow.Quantity `json:"v"`
		}
		if err := json.Unmarshal(b, &back); err != nil || !back.V.Decimal().Equal(d) {
			t.Errorf("%s does not come back: %v, %v", b, back.V, err)
		}
	}
	var q billow.Quantity
	for _, bad := range []string{`"12"`, `null`, `true`, `1e`} {
		if err := json.Unmarshal([]byte(bad), &q); err == nil {
			t.Errorf("%s unmarshals as a quantity", bad)
		}
	}
	// shopspring's package-wide switch is left alone: other decimals stay strings.
	if b, _ := json.Marshal(decimal.RequireFromString("1.5")); string(b) != `"1.5"` {
		t.Errorf("decimal marshals as %s", b)
	}
}

func TestUsageInputsValidate(t *testing.T) {
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	ok := func() billow.UsageQueryInput {
		return billow.UsageQueryInput{Account: "a", Meter: "billing_sessions", From: from, To: from.AddDate(0, 1, 0), Window: billow.UsageWindowDay}
	}
	for _, tc := range []struct {
		name   string
		mutate func(*billow.UsageQueryInput)
		fields []string
	}{
		{"valid", func(*billow.UsageQueryInput) {}, nil},
		{"the longest range", func(in *billow.UsageQueryInput) { in.To = in.From.Add(billow.UsageRangeMax) }, nil},
		{"one hour too long", func(in *billow.UsageQueryInput) { in.To = in.From.Add(billow.UsageRangeMax + time.Hour) }, []string{"to"}},
		{"to equal to from", func(in *billow.UsageQueryInput) { in.To = in.From }, []string{"to"}},
		{"no from", func(in *billow.UsageQueryInput) { in.From = time.Time{} }, []string{"from"}},
		{"no to", func(in *billow.UsageQueryInput) { in.To = time.Time{} }, []string{"to"}},
		{"unknown window", func(in *billow.UsageQueryInput) { in.Window = "week" }, []string{"window"}},
		{"everything wrong", func(in *billow.UsageQueryInput) { in.Account, in.Meter, in.Window, in.From = "", "", "x", time.Time{} },
			[]string{"account", "meter", "window", "from"}},
	} {
		in := ok()
		tc.mutate(&in)
		in.Normalize()
		if got := fieldsOf(in.Validate()); !slices.Equal(got, tc.fields) {
			t.Errorf("%s: fields %v, want %v", tc.name, got, tc.fields)
		}
	}
	in := billow.UsageQueryInput{Account: "a", Meter: "m", From: from, To: from.Add(time.Hour)}
	in.Normalize()
	if in.Window != billow.UsageWindowNone || in.Validate() != nil {
		t.Errorf("the window defaults to %q: %v", in.Window, in.Validate())
	}

	for _, tc := range []struct {
		in     billow.UsageTrendsInput
		fields []string
	}{
		{billow.UsageTrendsInput{Account: "a"}, nil}, // 30d
		{billow.UsageTrendsInput{Account: "a", Range: billow.TrendsCustom, From: from, To: from.AddDate(0, 0, 3)}, nil},
		{billow.UsageTrendsInput{Account: "a", Range: billow.TrendsCustom, From: from}, []string{"to"}},
		{billow.UsageTrendsInput{Account: "a", Range: billow.TrendsLast7Days, From: from, To: from}, []string{"from", "to"}},
		{billow.UsageTrendsInput{Account: "a", Range: "1y"}, []string{"range"}},
	} {
		in := tc.in
		in.Normalize()
		if got := fieldsOf(in.Validate()); !slices.Equal(got, tc.fields) {
			t.Errorf("trends %+v: fields %v, want %v", tc.in, got, tc.fields)
		}
	}
}
