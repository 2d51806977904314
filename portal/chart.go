package portal

import (
	"math"
	"strings"
	"time"

	"github.com/billowhq/billow"
)

// The usage chart is SVG drawn here, on the server: bars of billing sessions and voice
// sessions per bucket over a y axis of round numbers, dates under them, and one
// transparent slot per bucket that carries the bucket's figures twice: in a <title>,
// which browsers show on hover with no script, and in data attributes, which
// static/portal.js turns into a tooltip that also follows the keyboard. Coordinates are
// floats: they place pixels, never money.

// Geometry of the chart, in SVG user units (the viewBox; the page scales it to its width).
const (
	chartWidth        = 960
	chartHeight       = 300
	chartMarginLeft   = 56 // room for the y labels
	chartMarginRight  = 12
	chartMarginTop    = 16
	chartMarginBottom = 40 // room for the x labels
	chartXLabelsMax   = 8
	chartYTicksMin    = 4
	chartBarMax       = 22 // a bar is never wider than this, however few buckets there are
)

// chart is what the template draws.
type chart struct {
	Width, Height            int
	PlotLeft, PlotRight      float64
	PlotTop, PlotBottom      float64
	YTicks                   []tick
	XLabels                  []tick
	Bars                     []bar
	Slots                    []slot
	Empty                    bool // no usage at all in the range: the chart says so
	Title, Description       string
	ShowAgents               bool
	BillingName, VoiceName   string
	HasBilling, HasVoice     bool
	BillingTotal, VoiceTotal string
}

type tick struct {
	At    float64 // y for a y tick, x for an x label
	Label string
}

type bar struct {
	X, Y, W, H float64
	Series     string // "billing" or "voice": the CSS class that colours it
}

// slot is the hover and focus target of one bucket.
type slot struct {
	X, W                  float64
	Date                  string
	Billing, Voice, Agent string
	Title                 string
}

// trendRow is a bucket as the table and the tooltip show it.
type trendRow struct {
	Date                   string
	Billing, Voice, Agents string
}

// newChart lays out the trends. hourly says the buckets are hours (the 24h range).
func newChart(buckets []billow.TrendsBucket, rows []trendRow, hourly, showAgents bool) chart {
	c := chart{Width: chartWidth, Height: chartHeight, ShowAgents: showAgents,
		PlotLeft: chartMarginLeft, PlotRight: chartWidth - chartMarginRight,
		PlotTop: chartMarginTop, PlotBottom: chartHeight - chartMarginBottom,
		BillingName: "Billing sessions", VoiceName: "Voice sessions"}
	var top float64
	var billingSum, voiceSum float64
	for _, b := range buckets {
		if b.BillingSessions != nil {
			c.HasBilling = true
			v := b.BillingSessions.Decimal().InexactFloat64()
			top, billingSum = math.Max(top, v), billingSum+v
		}
		if b.VoiceSessions != nil {
			c.HasVoice = true
			v := b.VoiceSessions.Decimal().InexactFloat64()
			top, voiceSum = math.Max(top, v), voiceSum+v
		}
	}
	c.Empty = billingSum == 0 && voiceSum == 0
	step := niceStep(top / chartYTicksMin)
	top = math.Max(step*math.Ceil(top/step), step*chartYTicksMin)
	plotH := c.PlotBottom - c.PlotTop
	for v := 0.0; v <= top+step/2; v += step {
		c.YTicks = append(c.YTicks, tick{At: c.PlotBottom - v/top*plotH, Label: groupDigits(formatFloat(v))})
	}

	n := len(buckets)
	if n == 0 {
		return c
	}
	slotW := (c.PlotRight - c.PlotLeft) / float64(n)
	series := 0
	if c.HasBilling {
		series++
	}
	if c.HasVoice {
		series++
	}
	barW := math.Min(slotW*0.8/float64(max(series, 1)), chartBarMax)
	every := (n + chartXLabelsMax - 1) / chartXLabelsMax
	for i, b := range buckets {
		x := c.PlotLeft + float64(i)*slotW
		left := x + (slotW-barW*float64(series))/2
		for _, s := range []struct {
			q    *billow.Quantity
			name string
		}{{b.BillingSessions, "billing"}, {b.VoiceSessions, "voice"}} {
			if s.q == nil {
				continue
			}
			h := s.q.Decimal().InexactFloat64() / top * plotH
			if h > 0 && h < 1 {
				h = 1 // a bucket with usage always shows it
			}
			c.Bars = append(c.Bars, bar{X: left, Y: c.PlotBottom - h, W: barW, H: h, Series: s.name})
			left += barW
		}
		r := rows[i]
		title := []string{r.Date}
		if c.HasBilling {
			title = append(title, "Billing sessions: "+r.Billing)
		}
		if c.HasVoice {
			title = append(title, "Voice sessions: "+r.Voice)
		}
		if showAgents {
			title = append(title, "Agents: "+r.Agents)
		}
		c.Slots = append(c.Slots, slot{X: x, W: slotW, Date: r.Date, Billing: r.Billing, Voice: r.Voice, Agent: r.Agents,
			Title: strings.Join(title, " · ")})
		if i%every == 0 {
			c.XLabels = append(c.XLabels, tick{At: x + slotW/2, Label: axisLabel(b.From, hourly)})
		}
	}
	c.BillingTotal, c.VoiceTotal = groupDigits(formatFloat(billingSum)), groupDigits(formatFloat(voiceSum))
	return c
}

// niceStep rounds a raw tick step up to 1, 2 or 5 times a power of ten, and at least 1:
// counts have no fractions to tick.
func niceStep(raw float64) float64 {
	if raw <= 1 {
		return 1
	}
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*pow {
			return m * pow
		}
	}
	return 10 * pow
}

// axisLabel names a bucket under the x axis: the hour for hourly buckets, the day else.
func axisLabel(t time.Time, hourly bool) string {
	if hourly {
		return t.Format("15:04")
	}
	return t.Format("2 Jan")
}
