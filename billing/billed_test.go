package billing

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/rating"
)

// billedLine is what the tests compare of a line of an ended month.
type billedLine struct {
	Kind        billow.InvoiceLineKind
	Description string
	Quantity    string
	UnitAmount  string
	Amount      int64
	Ref         string
}

func billedLines(lines []billow.InvoiceLine) []billedLine {
	out := []billedLine{}
	for _, l := range lines {
		out = append(out, billedLine{l.Kind, l.Description, l.Quantity, l.UnitAmount, l.AmountMinor, l.Ref})
	}
	return out
}

func quantities(kv ...any) map[string]decimal.Decimal {
	out := map[string]decimal.Decimal{}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = decimal.NewFromInt(int64(kv[i+1].(int)))
	}
	return out
}

func exampleCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	cat, err := catalog.ParseExample("ai-for-service")
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// A billed month is adjusted only when its quantities changed, by the month rated at
// today's prices at the quantities now less the same at the quantities billed: what was
// billed (the amount) never enters, so a new price alone adjusts nothing, and a late
// quantity is priced at the margin of its graduated or volume tiers. Amounts below are
// those of the ai-for-service catalog: Advanced prices billing sessions graduated (5,000
// included, then 0.04 up to 50,000, 0.03 up to 250,000) and voice sessions at 0.025;
// Enterprise prices billing sessions by volume (0.025 up to 1,000,000, then 0.015 for
// every session) and voice sessions at 0.02.
func TestUsageMonthAdjustsQuantitiesOnly(t *testing.T) {
	cat := exampleCatalog(t)
	month := rating.MonthOf(time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC), time.UTC)
	const bs, voice = "billing_sessions", "voice_sessions"
	refBS, refVoice := "usage:2026-01:"+bs, "usage:2026-01:"+voice
	billed := func(amount int64, q map[string]decimal.Decimal) billow.BilledLine {
		return billow.BilledLine{AmountMinor: amount, Quantities: q}
	}
	late := func(meter, quantity string, amount int64, ref string) billedLine {
		return billedLine{billow.LineUsageAdjustment, "Late usage adjustment: " + meter + ", 2026-01", quantity, "", amount, ref}
	}
	tests := []struct {
		name        string
		plan        string
		now         map[string]decimal.Decimal
		billed      map[string]billow.BilledLine
		wantLines   []billedLine
		wantRecords map[string]billow.BilledLine
	}{{
		name:   "a month not billed yet is billed whole, with its quantities",
		plan:   "advanced",
		now:    quantities(bs, 6000, voice, 100),
		billed: map[string]billow.BilledLine{},
		wantLines: []billedLine{
			{billow.LineUsage, "Billing sessions, 2026-01", "1000", "", 4000, refBS}, // 1,000 past the 5,000 included, at 0.04
			{billow.LineUsage, "Voice sessions, 2026-01", "100", "", 250, refVoice},
		},
		wantRecords: map[string]billow.BilledLine{refBS: billed(4000, quantities(bs, 6000)), refVoice: billed(250, quantities(voice, 100))},
	}, {
		name: "the same quantities billed at other prices: nothing",
		plan: "advanced",
		now:  quantities(bs, 6000, voice, 100),
		// As if billed before a contract or a migration changed the prices.
		billed:      map[string]billow.BilledLine{refBS: billed(9999, quantities(bs, 6000)), refVoice: billed(1, quantities(voice, 100))},
		wantLines:   []billedLine{},
		wantRecords: map[string]billow.BilledLine{},
	}, {
		name: "graduated: late sessions across a tier boundary, priced at the margin",
		plan: "advanced",
		now:  quantities(bs, 57000, voice, 100),
		// 49,000 billable then (1,960.00 today), 52,000 now: 50,000 at 0.04 and 2,000 at
		// 0.03 (2,060.00). The 123 billed does not enter.
		billed:      map[string]billow.BilledLine{refBS: billed(123, quantities(bs, 54000)), refVoice: billed(250, quantities(voice, 100))},
		wantLines:   []billedLine{late("Billing sessions", "52000", 10000, refBS)},
		wantRecords: map[string]billow.BilledLine{refBS: billed(10000, quantities(bs, 57000))},
	}, {
		name:        "graduated: late sessions still inside the allowance bill nothing, and are recorded",
		plan:        "advanced",
		now:         quantities(bs, 4000, voice, 100),
		billed:      map[string]billow.BilledLine{refBS: billed(0, quantities(bs, 3000)), refVoice: billed(250, quantities(voice, 100))},
		wantLines:   []billedLine{},
		wantRecords: map[string]billow.BilledLine{refBS: billed(0, quantities(bs, 4000))},
	}, {
		name:        "graduated: late sessions past the allowance bill what passes it",
		plan:        "advanced",
		now:         quantities(bs, 5500, voice, 100),
		billed:      map[string]billow.BilledLine{refBS: billed(0, quantities(bs, 4000)), refVoice: billed(250, quantities(voice, 100))},
		wantLines:   []billedLine{late("Billing sessions", "500", 2000, refBS)},
		wantRecords: map[string]billow.BilledLine{refBS: billed(2000, quantities(bs, 5500))},
	}, {
		name: "volume: late sessions in the same tier, at today's price",
		plan: "enterprise",
		now:  quantities(bs, 1200, voice, 0),
		// 1,200 × 0.025 − 1,000 × 0.025 = 5.00, whatever was billed.
		billed:      map[string]billow.BilledLine{refBS: billed(9999, quantities(bs, 1000))},
		wantLines:   []billedLine{late("Billing sessions", "1200", 500, refBS)},
		wantRecords: map[string]billow.BilledLine{refBS: billed(500, quantities(bs, 1200))},
	}, {
		name: "volume: late sessions into a cheaper tier reprice the month down",
		plan: "enterprise",
		now:  quantities(bs, 1010000, voice, 0),
		// 1,010,000 × 0.015 = 15,150.00 less 990,000 × 0.025 = 24,750.00.
		billed:      map[string]billow.BilledLine{refBS: billed(2475000, quantities(bs, 990000))},
		wantLines:   []billedLine{late("Billing sessions", "1010000", -960000, refBS)},
		wantRecords: map[string]billow.BilledLine{refBS: billed(-960000, quantities(bs, 1010000))},
	}, {
		name: "billed before quantities were kept: compared by amount, as then",
		plan: "advanced",
		now:  quantities(bs, 6000, voice, 100),
		// 3,000 billed of the 4,000 the month rates to now; voice billed its 250.
		billed:      map[string]billow.BilledLine{refBS: billed(3000, nil), refVoice: billed(250, nil)},
		wantLines:   []billedLine{late("Billing sessions", "1000", 1000, refBS)},
		wantRecords: map[string]billow.BilledLine{refBS: billed(1000, quantities(bs, 6000))},
	}, {
		name: "billed from another selection: nothing",
		plan: "advanced",
		now:  quantities(bs, 6000, voice, 100),
		billed: map[string]billow.BilledLine{refBS: billed(4000, quantities(`billing_sessions{app="bot"}`, 10)),
			refVoice: billed(250, quantities(voice, 100))},
		wantLines:   []billedLine{},
		wantRecords: map[string]billow.BilledLine{},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := cat.Plan(tt.plan)
			lines, records, err := usageMonth(cat, p, month, tt.now, tt.billed)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantLines, billedLines(lines)); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRecords, records); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			// Settled again at the same quantities, with what was recorded added: nothing.
			after := map[string]billow.BilledLine{}
			for ref, b := range tt.billed {
				after[ref] = b
			}
			for ref, r := range records {
				after[ref] = billow.BilledLine{AmountMinor: after[ref].AmountMinor + r.AmountMinor, Quantities: r.Quantities}
			}
			again, _, err := usageMonth(cat, p, month, tt.now, after)
			if err != nil {
				t.Fatal(err)
			}
			if len(again) != 0 {
				t.Errorf("settled again: %+v", billedLines(again))
			}
		})
	}
}

// Seats follow the same rule: Advanced prices a named Contact Center AI seat at 60.00.
func TestSeatMonthAdjustsSeatsOnly(t *testing.T) {
	cat := exampleCatalog(t)
	p, _ := cat.Plan("advanced")
	month := rating.MonthOf(time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC), time.UTC)
	const cc, ai = `named_agents{product="contact_center"}`, `named_agents{product="agent_ai"}`
	ref := "seats:2026-01:contact_center_ai:named"
	billed3 := map[string]billow.BilledLine{ref: {AmountMinor: 15000, Quantities: quantities(cc, 3)}} // three seats at 50.00 then
	tests := []struct {
		name        string
		now         map[string]decimal.Decimal
		billed      map[string]billow.BilledLine
		wantLines   []billedLine
		wantRecords map[string]billow.BilledLine
	}{
		{"the same seats at a new price: nothing", quantities(cc, 3, ai, 0), billed3, []billedLine{}, map[string]billow.BilledLine{}},
		{"a late seat: one seat at today's price", quantities(cc, 4, ai, 0), billed3,
			[]billedLine{{billow.LineUsageAdjustment, "Late seats adjustment: Contact Center AI seats (named), 2026-01", "4", "", 6000, ref}},
			map[string]billow.BilledLine{ref: {AmountMinor: 6000, Quantities: quantities(cc, 4)}}},
		{"counted on another meter when billed: nothing", quantities(cc, 4, ai, 0),
			map[string]billow.BilledLine{ref: {AmountMinor: 15000, Quantities: quantities(`concurrent_agents{product="contact_center"}`, 3)}},
			[]billedLine{}, map[string]billow.BilledLine{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			modes := seatModesOf(p, month.Month, nil, tt.billed)
			lines, records, err := seatMonth(cat, p, month, modes, tt.now, tt.billed)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantLines, billedLines(lines)); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRecords, records); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

// The month is rated a second time only when a line's quantities changed: a renewal of
// an account whose months are settled rates each once.
func TestSettleMonthRatesAgainOnlyOnChange(t *testing.T) {
	lines := []ratedLine{{Ref: "usage:2026-01:a", Key: "a", Amount: 100}, {Ref: "usage:2026-01:b", Key: "b", Amount: 50}}
	now := quantities("a", 10, "b", 5)
	calls := 0
	rateAt := func(q map[string]decimal.Decimal) (map[string]int64, error) {
		calls++
		if diff := cmp.Diff(quantities("a", 8, "b", 5), q); diff != "" {
			t.Errorf("rated again at (-want +got):\n%s", diff)
		}
		return map[string]int64{"a": 80, "b": 50}, nil
	}
	settled := map[string]billow.BilledLine{"usage:2026-01:a": {AmountMinor: 70, Quantities: quantities("a", 10)},
		"usage:2026-01:b": {AmountMinor: 40, Quantities: quantities("b", 5)}}
	got, err := settleMonth(lines, now, settled, rateAt)
	if err != nil || calls != 0 || got[0].Record != nil || got[1].Record != nil || got[0].Bill || got[1].Bill {
		t.Fatalf("settled month: %+v, %v, %d ratings", got, err, calls)
	}
	settled["usage:2026-01:a"] = billow.BilledLine{AmountMinor: 70, Quantities: quantities("a", 8)}
	got, err = settleMonth(lines, now, settled, rateAt)
	if err != nil || calls != 1 {
		t.Fatalf("%v, %d ratings", err, calls)
	}
	want := settlement{Bill: true, Adjust: true, Amount: 20, Record: &billow.BilledLine{AmountMinor: 20, Quantities: quantities("a", 10)}}
	if diff := cmp.Diff([]settlement{want, {}}, got); diff != "" {
		t.Errorf("settlements (-want +got):\n%s", diff)
	}
}
