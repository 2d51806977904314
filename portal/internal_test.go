package portal

import (
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/pdf"
)

// Any accent an operator picks gives text of 4.5:1 and chart bars of 3:1 on white, and a
// dark enough accent is kept as it is.
func TestBrandColoursAreReadable(t *testing.T) {
	for _, accent := range []string{"#1f6feb", "#ffd700", "#ffffff", "#00ff00", "#7c3aed", "#000000", "#e11d48"} {
		c, err := parseColor(accent)
		if err != nil {
			t.Fatal(err)
		}
		ink, bar := darkenTo(c, white, contrastTextMin), darkenTo(c, white, contrastGraphicMin)
		if r := contrast(ink, white); r < contrastTextMin {
			t.Errorf("%s: ink %s has %.2f:1", accent, ink.hex(), r)
		}
		if r := contrast(bar, white); r < contrastGraphicMin {
			t.Errorf("%s: bar %s has %.2f:1", accent, bar.hex(), r)
		}
		if contrast(c, white) >= contrastTextMin && ink.hex() != accent {
			t.Errorf("%s is readable but became %s", accent, ink.hex())
		}
	}
	b, err := newBrand(pdf.Branding{Name: "Zed", AccentColor: "#ffd700"})
	if err != nil || !strings.Contains(string(b.css), "--brand: #ffd700;") || b.Initial != "Z" {
		t.Fatalf("brand %+v, %v", b, err)
	}
}

func TestChartAxis(t *testing.T) {
	for raw, want := range map[float64]float64{0: 1, 0.4: 1, 3: 5, 12: 20, 37.5: 50, 250: 500, 1001: 2000} {
		if got := niceStep(raw); got != want {
			t.Errorf("niceStep(%v) = %v, want %v", raw, got, want)
		}
	}
	q := func(v int64) *billow.Quantity { d := billow.NewQuantity(decimal.NewFromInt(v)); return &d }
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	buckets := []billow.TrendsBucket{
		{From: day, To: day.AddDate(0, 0, 1), BillingSessions: q(120), VoiceSessions: q(0)},
		{From: day.AddDate(0, 0, 1), To: day.AddDate(0, 0, 2), BillingSessions: q(1), VoiceSessions: q(40)},
	}
	rows := []trendRow{{Date: "Sun 1 Mar 2026", Billing: "120", Voice: "0"}, {Date: "Mon 2 Mar 2026", Billing: "1", Voice: "40"}}
	c := newChart(buckets, rows, false, false)
	if c.Empty || len(c.Slots) != 2 || len(c.Bars) != 4 || c.BillingTotal != "121" || c.VoiceTotal != "40" {
		t.Fatalf("chart %+v", c)
	}
	top := c.YTicks[len(c.YTicks)-1]
	if top.Label != "200" || top.At != c.PlotTop {
		t.Errorf("top tick %+v", top)
	}
	// A bucket with usage is never drawn flat; one without is.
	if c.Bars[2].H < 1 || c.Bars[1].H != 0 {
		t.Errorf("bars %+v", c.Bars)
	}
	if c.Slots[0].Title != "Sun 1 Mar 2026 · Billing sessions: 120 · Voice sessions: 0" {
		t.Errorf("title %q", c.Slots[0].Title)
	}
	if e := newChart(nil, nil, false, false); !e.Empty || len(e.YTicks) != 5 {
		t.Errorf("empty chart %+v", e)
	}
}

func TestFormats(t *testing.T) {
	q := func(s string) *billow.Quantity { d := billow.NewQuantity(decimal.RequireFromString(s)); return &d }
	for _, tc := range []struct {
		q    *billow.Quantity
		unit string
		want string
	}{
		{q("1234567"), "session", "1,234,567 sessions"},
		{q("1"), "session", "1 session"},
		{q("5025"), "second", "1 h 23 min"},
		{q("59"), "second", "59 s"},
		{q("17600000"), "byte", "17.6 MB"},
		{q("6374.0312"), "credit", "6,374.03 credits"},
		{nil, "session", "—"},
	} {
		if got := formatUsage(tc.q, tc.unit); got != tc.want {
			t.Errorf("formatUsage(%v, %s) = %q, want %q", tc.q, tc.unit, got, tc.want)
		}
	}
	if got := groupDigits("-1234.5"); got != "-1,234.5" {
		t.Errorf("groupDigits = %q", got)
	}
}
