package billing_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/ingest"
	"github.com/billowhq/billow/payment/sandbox"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// sendAgents stores agent events through ingest, as the API would: "TYPE@RFC3339 AGENT
// PRODUCT". Ingest reads a clock of its own, past every event, so that a login of any
// month is accepted whatever the billing clock says: late events are the point.
func sendAgents(t *testing.T, f *fixture, events ...string) {
	t.Helper()
	batch := make([]ingest.CloudEvent, 0, len(events))
	for _, e := range events {
		var typ, at, agent, product string
		head, rest, _ := strings.Cut(e, " ")
		typ, at, _ = strings.Cut(head, "@")
		agent, product, _ = strings.Cut(rest, " ")
		data, err := json.Marshal(map[string]string{"agent": agent, "product": product})
		if err != nil {
			t.Fatal(err)
		}
		// The event's content names it: the test sends no event twice.
		batch = append(batch, ingest.CloudEvent{SpecVersion: "1.0", ID: e, Source: "test", Type: typ,
			Subject: f.acct.ExternalID, Time: at, Data: data})
	}
	res, err := ingest.New(f.env.DB, storetest.NewClock(time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC))).
		Ingest(f.ctx, billow.Principal{KeyID: "t"}, batch)
	if err != nil || len(res.Rejected) > 0 || res.Accepted != len(events) {
		t.Fatalf("ingest: %+v, %v", res, err)
	}
}

// seatLine is what the test compares of a seat line.
type seatLine struct {
	Kind                   billow.InvoiceLineKind
	Description, Ref       string
	Quantity, UnitAmount   string
	Amount                 int64
	PeriodStart, PeriodEnd time.Time
}

// TestSeatsRenewal runs an Advanced subscription counting Contact Center AI seats named
// and Agent AI seats concurrent through four renewals: each bills the seats of the months
// that ended (postpaid, like usage), late logins for a month already invoiced give an
// adjustment of the difference only, and a switch of counting applies from the first
// month not yet invoiced, never to one that was.
func TestSeatsRenewal(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		loc := ny(t)
		start := time.Date(2026, 9, 20, 10, 0, 0, 0, loc)
		f := newFixture(t, env, start, "0")
		f.card(t, sandbox.CardVisa, true)
		_, err := f.svc.SubmitOrder(f.ctx, f.acct.ID, billow.SubmitOrderInput{Subscribe: &billow.CreateSubscriptionInput{Plan: "advanced",
			Seats: []billow.SubscriptionSeat{{Product: "contact_center_ai", Mode: billow.SeatsNamed}, {Product: "agent_ai", Mode: billow.SeatsConcurrent}}}})
		if err != nil {
			t.Fatal(err)
		}

		sendAgents(t, f,
			// September: one Contact Center AI agent.
			"agent.login@2026-09-25T13:00:00Z ann contact_center", "agent.logout@2026-09-25T21:00:00Z ann contact_center",
			// October, Contact Center AI: ann, bob and carl on separate days, ann twice:
			// 3 named seats (at $60), though never more than one at once.
			"agent.login@2026-10-02T13:00:00Z ann contact_center", "agent.logout@2026-10-02T21:00:00Z ann contact_center",
			"agent.login@2026-10-03T13:00:00Z bob contact_center", "agent.logout@2026-10-03T21:00:00Z bob contact_center",
			"agent.login@2026-10-04T13:00:00Z carl contact_center", "agent.logout@2026-10-04T21:00:00Z carl contact_center",
			"agent.login@2026-10-10T13:00:00Z ann contact_center", "agent.logout@2026-10-10T21:00:00Z ann contact_center",
			// October, Agent AI: four agents, at most two at once (dan and erin on the 5th):
			// 2 concurrent seats (at $45), not 4 named ones.
			"agent.login@2026-10-05T13:00:00Z dan agent_ai", "agent.logout@2026-10-05T21:00:00Z dan agent_ai",
			"agent.login@2026-10-05T14:00:00Z erin agent_ai", "agent.logout@2026-10-05T16:00:00Z erin agent_ai",
			"agent.login@2026-10-07T13:00:00Z frank agent_ai", "agent.logout@2026-10-07T14:00:00Z frank agent_ai",
			"agent.login@2026-10-08T13:00:00Z gina agent_ai", "agent.logout@2026-10-08T14:00:00Z gina agent_ai",
		)

		// 20 October: the fee in advance, and September's seats. Agent AI had no agent in
		// September: a line of zero is left out.
		f.advance(t, time.Date(2026, 10, 20, 11, 0, 0, 0, loc))
		// 20 November: October's seats.
		f.advance(t, time.Date(2026, 11, 20, 11, 0, 0, 0, loc))

		// Contact Center AI switches to concurrent seats after October was invoiced.
		if _, err := f.svc.SubmitOrder(f.ctx, f.acct.ID, billow.SubmitOrderInput{Change: &billow.ChangeSubscriptionInput{
			Seats: []billow.SubscriptionSeat{{Product: "contact_center_ai", Mode: billow.SeatsConcurrent}, {Product: "agent_ai", Mode: billow.SeatsConcurrent}}}}); err != nil {
			t.Fatal(err)
		}
		sendAgents(t, f,
			// Late for October: a fourth named agent (+$60), and a third Agent AI agent
			// at once with dan and erin (+$45).
			"agent.login@2026-10-28T13:00:00Z hugo contact_center", "agent.logout@2026-10-28T14:00:00Z hugo contact_center",
			"agent.login@2026-10-05T15:00:00Z ivan agent_ai", "agent.logout@2026-10-05T15:30:00Z ivan agent_ai",
			// November, Contact Center AI now concurrent: two at once (at $90).
			"agent.login@2026-11-03T14:00:00Z ann contact_center", "agent.logout@2026-11-03T22:00:00Z ann contact_center",
			"agent.login@2026-11-03T15:00:00Z bob contact_center", "agent.logout@2026-11-03T16:00:00Z bob contact_center",
		)
		// 20 December: November's seats counted concurrent; October's adjusted by the
		// difference, still counted named as it was invoiced.
		f.advance(t, time.Date(2026, 12, 20, 11, 0, 0, 0, loc))
		// 20 January: no seats in December, nothing changed since: the fee alone.
		f.advance(t, time.Date(2027, 1, 20, 11, 0, 0, 0, loc))

		paid := func(number string, total int64, lines ...string) invoiceRow {
			return invoiceRow{Number: number, Status: "paid", Payment: "succeeded", Total: total, Lines: lines}
		}
		want := []invoiceRow{
			paid("INV-000001", 50000, "Advanced plan 50000"),
			paid("INV-000002", 56000, "Advanced plan 50000", "Contact Center AI seats (named), 2026-09 6000"),
			paid("INV-000003", 77000, "Advanced plan 50000", "Contact Center AI seats (named), 2026-10 18000",
				"Agent AI seats (concurrent), 2026-10 9000"),
			paid("INV-000004", 78500, "Advanced plan 50000", "Contact Center AI seats (concurrent), 2026-11 18000",
				"Late seats adjustment: Contact Center AI seats (named), 2026-10 6000",
				"Late seats adjustment: Agent AI seats (concurrent), 2026-10 4500"),
			paid("INV-000005", 50000, "Advanced plan 50000"),
		}
		got := f.invoices(t)
		// The seats-only change costs nothing: an order without an invoice.
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("invoices (-want +got):\n%s", diff)
		}

		// The lines themselves: kind, quantity, unit price, the month, and the ref that
		// keeps them from being billed twice.
		invs, err := env.DB.Invoices(f.ctx, sqlstore.InvoiceFilter{AccountID: f.acct.ID, IncludeHidden: true})
		if err != nil {
			t.Fatal(err)
		}
		oct := [2]time.Time{time.Date(2026, 10, 1, 0, 0, 0, 0, loc).UTC(), time.Date(2026, 11, 1, 0, 0, 0, 0, loc).UTC()}
		nov := [2]time.Time{oct[1], time.Date(2026, 12, 1, 0, 0, 0, 0, loc).UTC()}
		var seats []seatLine
		for _, inv := range invs {
			for _, l := range inv.Lines {
				if strings.HasPrefix(l.Ref, "seats:") {
					seats = append(seats, seatLine{l.Kind, l.Description, l.Ref, l.Quantity, l.UnitAmount, l.AmountMinor, l.PeriodStart.UTC(), l.PeriodEnd.UTC()})
				}
			}
		}
		sep := [2]time.Time{time.Date(2026, 9, 1, 0, 0, 0, 0, loc).UTC(), oct[0]}
		wantSeats := []seatLine{
			{billow.LineSeats, "Contact Center AI seats (named), 2026-09", "seats:2026-09:contact_center_ai:named", "1", "60.00", 6000, sep[0], sep[1]},
			{billow.LineSeats, "Contact Center AI seats (named), 2026-10", "seats:2026-10:contact_center_ai:named", "3", "60.00", 18000, oct[0], oct[1]},
			{billow.LineSeats, "Agent AI seats (concurrent), 2026-10", "seats:2026-10:agent_ai:concurrent", "2", "45.00", 9000, oct[0], oct[1]},
			{billow.LineSeats, "Contact Center AI seats (concurrent), 2026-11", "seats:2026-11:contact_center_ai:concurrent", "2", "90.00", 18000, nov[0], nov[1]},
			// An adjustment states the month's seats now; its amount is the difference.
			{billow.LineUsageAdjustment, "Late seats adjustment: Contact Center AI seats (named), 2026-10", "seats:2026-10:contact_center_ai:named", "4", "", 6000, oct[0], oct[1]},
			{billow.LineUsageAdjustment, "Late seats adjustment: Agent AI seats (concurrent), 2026-10", "seats:2026-10:agent_ai:concurrent", "3", "", 4500, oct[0], oct[1]},
		}
		if diff := cmp.Diff(wantSeats, seats); diff != "" {
			t.Errorf("seat lines (-want +got):\n%s", diff)
		}

		// What was billed per ref is the month's amount in all.
		billed, err := env.DB.BilledUsage(f.ctx, f.acct.ID)
		if err != nil {
			t.Fatal(err)
		}
		for ref, amount := range map[string]int64{
			"seats:2026-09:contact_center_ai:named":      6000,
			"seats:2026-10:contact_center_ai:named":      24000,
			"seats:2026-10:agent_ai:concurrent":          13500,
			"seats:2026-11:contact_center_ai:concurrent": 18000,
		} {
			if billed[ref].AmountMinor != amount {
				t.Errorf("billed %s = %d, want %d", ref, billed[ref].AmountMinor, amount)
			}
		}
		if _, ok := billed["seats:2026-10:contact_center_ai:concurrent"]; ok {
			t.Errorf("October was billed again after the switch to concurrent seats: %v", billed)
		}
	})
}
