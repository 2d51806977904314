package sqlstore_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

func newWebhookEndpoint(t *testing.T, db *sqlstore.DB, now time.Time, types ...string) *billow.WebhookEndpoint {
	t.Helper()
	if len(types) == 0 {
		types = []string{"*"}
	}
	e := &billow.WebhookEndpoint{ID: billow.NewID(billow.PrefixWebhookEndpoint, now), URL: "https://hooks.example.com/billow",
		EventTypes: types, Enabled: true, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", CreatedAt: now, UpdatedAt: now}
	if err := db.CreateWebhookEndpoint(ctx, e); err != nil {
		t.Fatal(err)
	}
	return e
}

func newWebhookDelivery(e *billow.WebhookEndpoint, eventID string, now time.Time) *billow.WebhookDelivery {
	return &billow.WebhookDelivery{ID: billow.NewID(billow.PrefixWebhookMessage, now), Endpoint: e.ID, Event: eventID, EventType: "invoice.paid",
		Account: "acct_x", Status: billow.WebhookPending, NextAttemptAt: &now, Payload: json.RawMessage(`{"type":"invoice.paid"}`),
		CreatedAt: now, UpdatedAt: now}
}

// Endpoints are stored whole and read back equal, listed newest first by cursor, changed
// by Apply, rotated with a grace, deleted with their log; the operator has at most
// WebhookEndpointsMax of them.
func TestWebhookEndpointsStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		now := env.Clock.Now().Truncate(time.Microsecond)
		var made []*billow.WebhookEndpoint
		for i := range 3 {
			env.Clock.Advance(time.Millisecond)
			made = append(made, newWebhookEndpoint(t, env.DB, env.Clock.Now().Truncate(time.Microsecond), fmt.Sprintf("invoice.%s", []string{"paid", "finalized", "uncollectible"}[i])))
		}
		got, err := env.DB.WebhookEndpoint(ctx, made[0].ID)
		if err != nil || got.URL != made[0].URL || got.Secret != made[0].Secret || !got.Enabled || got.EventTypes[0] != "invoice.paid" ||
			!got.CreatedAt.Equal(made[0].CreatedAt) || got.PreviousSecretExpiresAt != nil || got.FailingSince != nil {
			t.Fatalf("read back %+v, %v; stored %+v", got, err, made[0])
		}
		page, err := env.DB.ListWebhookEndpoints(ctx, billow.PageInput{Limit: 2})
		if err != nil || len(page.Data) != 2 || !page.HasMore || page.Data[0].ID != made[2].ID || page.Data[1].ID != made[1].ID {
			t.Fatalf("first page %+v, %v", page, err)
		}
		page, err = env.DB.ListWebhookEndpoints(ctx, billow.PageInput{Limit: 2, StartingAfter: page.Data[1].ID})
		if err != nil || len(page.Data) != 1 || page.HasMore || page.Data[0].ID != made[0].ID {
			t.Fatalf("second page %+v, %v", page, err)
		}

		// Disabled by Billow, then enabled again: the reason and the failures are cleared.
		d := newWebhookDelivery(made[0], "evt_1", now)
		if _, err := env.DB.CreateWebhookDeliveries(ctx, []*billow.WebhookDelivery{d}); err != nil {
			t.Fatal(err)
		}
		claims, err := env.DB.ClaimWebhookDeliveries(ctx, now, time.Minute, 10)
		if err != nil || len(claims) != 1 {
			t.Fatalf("claims %v, %v", claims, err)
		}
		if err := env.DB.RecordWebhookAttempt(ctx, billow.WebhookAttemptWrite{Token: claims[0].Token, Endpoint: made[0].ID, DisableEndpoint: "gone",
			Status: billow.WebhookFailed, Attempt: &billow.WebhookAttempt{ID: "wha_1", Delivery: d.ID, Number: 1, At: now, StatusCode: 410}}); err != nil {
			t.Fatal(err)
		}
		got, _ = env.DB.WebhookEndpoint(ctx, made[0].ID)
		if got.Enabled || got.DisabledReason != "gone" || got.FailingSince == nil || !got.FailingSince.Equal(now) {
			t.Fatalf("after a 410: %+v", got)
		}
		enabled := true
		got, err = env.DB.UpdateWebhookEndpoint(ctx, made[0].ID, billow.UpdateWebhookEndpointInput{Enabled: &enabled}, now)
		if err != nil || !got.Enabled || got.DisabledReason != "" || got.FailingSince != nil {
			t.Fatalf("enabled again: %+v, %v", got, err)
		}
		url, types := "https://other.example.com/h", []string{"credits.*"}
		if _, err := env.DB.UpdateWebhookEndpoint(ctx, made[0].ID, billow.UpdateWebhookEndpointInput{URL: &url, EventTypes: &types}, now); err != nil {
			t.Fatal(err)
		}
		if got, _ := env.DB.WebhookEndpoint(ctx, made[0].ID); got.URL != url || len(got.EventTypes) != 1 || got.EventTypes[0] != "credits.*" || got.Description != "" {
			t.Fatalf("updated %+v", got)
		}

		// Rotation keeps the old secret for the grace; a second rotation drops the oldest.
		rotated, err := env.DB.RotateWebhookSecret(ctx, made[0].ID, "whsec_bmV3", now)
		if err != nil || rotated.Secret != "whsec_bmV3" || rotated.PreviousSecret != made[0].Secret ||
			!rotated.PreviousSecretExpiresAt.Equal(now.Add(billow.WebhookSecretGrace)) {
			t.Fatalf("rotated %+v, %v", rotated, err)
		}
		if s := rotated.SigningSecrets(now.Add(billow.WebhookSecretGrace - time.Second)); len(s) != 2 {
			t.Fatalf("secrets in the grace %v", s)
		}
		if s := rotated.SigningSecrets(now.Add(billow.WebhookSecretGrace)); len(s) != 1 || s[0] != "whsec_bmV3" {
			t.Fatalf("secrets after the grace %v", s)
		}

		if _, err := env.DB.DeleteWebhookEndpoint(ctx, made[0].ID); err != nil {
			t.Fatal(err)
		}
		for _, err := range []error{
			func() error { _, err := env.DB.WebhookEndpoint(ctx, made[0].ID); return err }(),
			func() error { _, err := env.DB.WebhookDelivery(ctx, d.ID); return err }(),
			func() error { _, err := env.DB.DeleteWebhookEndpoint(ctx, made[0].ID); return err }(),
		} {
			if billow.ErrorCode(err) != billow.CodeNotFound {
				t.Fatalf("after delete: %v", err)
			}
		}

		// The limit, with creates racing for the last places.
		var wg sync.WaitGroup
		var mu sync.Mutex
		refused := 0
		for range billow.WebhookEndpointsMax {
			wg.Go(func() {
				e := &billow.WebhookEndpoint{ID: billow.NewID(billow.PrefixWebhookEndpoint, now), URL: "https://h.example.com", EventTypes: []string{"*"},
					Enabled: true, Secret: "whsec_eA==", CreatedAt: now, UpdatedAt: now}
				err := env.DB.CreateWebhookEndpoint(ctx, e)
				if err != nil {
					if billow.ErrorCode(err) != billow.CodeWebhookEndpointLimit {
						t.Error(err)
					}
					mu.Lock()
					refused++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		page, err = env.DB.ListWebhookEndpoints(ctx, billow.PageInput{Limit: billow.PageLimitMax})
		if err != nil || len(page.Data) != billow.WebhookEndpointsMax || refused != 2 {
			t.Fatalf("%d endpoints (%v), %d refused; want %d and 2", len(page.Data), err, refused, billow.WebhookEndpointsMax)
		}
	})
}

// The fan-out may hand the same events twice: a delivery is stored once per (endpoint,
// event), whatever its id.
func TestWebhookDeliveriesDedupe(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		now := env.Clock.Now().Truncate(time.Microsecond)
		a, b := newWebhookEndpoint(t, env.DB, now), newWebhookEndpoint(t, env.DB, now)
		first := []*billow.WebhookDelivery{newWebhookDelivery(a, "evt_1", now), newWebhookDelivery(b, "evt_1", now), newWebhookDelivery(a, "evt_2", now)}
		if n, err := env.DB.CreateWebhookDeliveries(ctx, first); err != nil || n != 3 {
			t.Fatalf("first fan-out: %d, %v", n, err)
		}
		again := []*billow.WebhookDelivery{newWebhookDelivery(a, "evt_1", now), newWebhookDelivery(b, "evt_1", now),
			newWebhookDelivery(a, "evt_2", now), newWebhookDelivery(b, "evt_2", now)}
		if n, err := env.DB.CreateWebhookDeliveries(ctx, again); err != nil || n != 1 {
			t.Fatalf("second fan-out: %d new, %v; want 1", n, err)
		}
		page, err := env.DB.WebhookDeliveries(ctx, a.ID, billow.WebhookDeliveryFilter{}, billow.PageInput{})
		if err != nil || len(page.Data) != 2 {
			t.Fatalf("deliveries of a: %+v, %v", page, err)
		}
		ids := map[string]bool{first[0].ID: true, first[2].ID: true}
		for _, d := range page.Data {
			if !ids[d.ID] {
				t.Fatalf("delivery %s is not one of the first fan-out: the message id changed", d.ID)
			}
		}
		// More than one INSERT's worth of rows in one call.
		var many []*billow.WebhookDelivery
		for i := range 1200 {
			many = append(many, newWebhookDelivery(a, fmt.Sprintf("evt_many_%d", i), now))
		}
		if n, err := env.DB.CreateWebhookDeliveries(ctx, many); err != nil || n != 1200 {
			t.Fatalf("many: %d, %v", n, err)
		}
		if _, err := env.DB.WebhookDeliveries(ctx, a.ID, billow.WebhookDeliveryFilter{Status: "sent"}, billow.PageInput{}); billow.ErrorCode(err) != billow.CodeValidationFailed {
			t.Fatalf("unknown status filter: %v", err)
		}
		if _, err := env.DB.WebhookDeliveries(ctx, "we_nope", billow.WebhookDeliveryFilter{}, billow.PageInput{}); billow.ErrorCode(err) != billow.CodeNotFound {
			t.Fatalf("deliveries of an unknown endpoint: %v", err)
		}
	})
}

// Workers on two stores of one database, as two processes, claim concurrently: each
// delivery is claimed by one of them only, until its lease runs out; an attempt is
// recorded only under the claim that holds; a disabled endpoint's deliveries wait.
func TestWebhookClaimLease(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		now := env.Clock.Now().Truncate(time.Microsecond)
		e := newWebhookEndpoint(t, env.DB, now)
		const total = 300
		var ds []*billow.WebhookDelivery
		for i := range total {
			ds = append(ds, newWebhookDelivery(e, fmt.Sprintf("evt_%d", i), now))
		}
		if _, err := env.DB.CreateWebhookDeliveries(ctx, ds); err != nil {
			t.Fatal(err)
		}
		other, err := sqlstore.Open(ctx, sqlstore.Config{URL: env.URL, Clock: env.Clock})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		stores := []*sqlstore.DB{env.DB, other}
		var mu sync.Mutex // protects claimed
		claimed := map[string]int{}
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Go(func() {
				for {
					cs, err := stores[w%2].ClaimWebhookDeliveries(ctx, now, time.Minute, 7)
					if err != nil {
						t.Error(err)
						return
					}
					if len(cs) == 0 {
						return
					}
					mu.Lock()
					for _, c := range cs {
						claimed[c.Delivery.ID]++
						if c.Endpoint == nil || c.Endpoint.ID != e.ID || c.Endpoint.Secret != e.Secret {
							t.Errorf("claim without its endpoint: %+v", c)
						}
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(claimed) != total {
			t.Fatalf("%d deliveries claimed, want %d", len(claimed), total)
		}
		for id, n := range claimed {
			if n != 1 {
				t.Fatalf("delivery %s claimed %d times under one lease", id, n)
			}
		}
		// All held: nothing more to claim until the leases run out.
		if cs, err := other.ClaimWebhookDeliveries(ctx, now.Add(59*time.Second), time.Minute, 10); err != nil || len(cs) != 0 {
			t.Fatalf("claimed %d under live leases, %v", len(cs), err)
		}
		late := now.Add(time.Minute)
		cs, err := other.ClaimWebhookDeliveries(ctx, late, time.Minute, 1)
		if err != nil || len(cs) != 1 {
			t.Fatalf("after the leases: %d, %v", len(cs), err)
		}
		// The first claim of that delivery ran out: its attempt is not recorded; the new
		// claim's is.
		attempt := &billow.WebhookAttempt{ID: billow.NewID(billow.PrefixWebhookAttempt, late), Delivery: cs[0].Delivery.ID, Number: 1, At: late, StatusCode: 200, Succeeded: true}
		stale := billow.WebhookAttemptWrite{Token: "lease_gone", Endpoint: e.ID, Attempt: attempt, Status: billow.WebhookSucceeded}
		if err := env.DB.RecordWebhookAttempt(ctx, stale); billow.ErrorCode(err) != billow.CodeConcurrentUpdate {
			t.Fatalf("an attempt under a lost claim: %v", err)
		}
		fresh := stale
		fresh.Token = cs[0].Token
		if err := env.DB.RecordWebhookAttempt(ctx, fresh); err != nil {
			t.Fatal(err)
		}
		if err := env.DB.RecordWebhookAttempt(ctx, fresh); billow.ErrorCode(err) != billow.CodeConcurrentUpdate {
			t.Fatalf("an attempt recorded twice under one claim: %v", err)
		}
		d, err := env.DB.WebhookDelivery(ctx, cs[0].Delivery.ID)
		if err != nil || d.Status != billow.WebhookSucceeded || d.Attempts != 1 || d.NextAttemptAt != nil || len(d.AttemptLog) != 1 ||
			d.AttemptLog[0].StatusCode != 200 || !d.AttemptLog[0].Succeeded || d.LastStatusCode != 200 {
			t.Fatalf("delivered: %+v %v", d, err)
		}

		// A disabled endpoint's deliveries are not claimed; enabled again, they are.
		off, on := false, true
		if _, err := env.DB.UpdateWebhookEndpoint(ctx, e.ID, billow.UpdateWebhookEndpointInput{Enabled: &off}, late); err != nil {
			t.Fatal(err)
		}
		later := late.Add(2 * time.Minute)
		if cs, err := env.DB.ClaimWebhookDeliveries(ctx, later, time.Minute, 10); err != nil || len(cs) != 0 {
			t.Fatalf("claimed %d of a disabled endpoint, %v", len(cs), err)
		}
		if _, err := env.DB.UpdateWebhookEndpoint(ctx, e.ID, billow.UpdateWebhookEndpointInput{Enabled: &on}, late); err != nil {
			t.Fatal(err)
		}
		if cs, err := env.DB.ClaimWebhookDeliveries(ctx, later, time.Minute, 10); err != nil || len(cs) != 10 {
			t.Fatalf("claimed %d once enabled, %v", len(cs), err)
		}
	})
}

// A replay starts a new series due now, with the same id; not while the delivery is being
// sent, not to a disabled endpoint, at most WebhookReplaysMax times. Finished deliveries
// older than the retention are purged with their attempts, pending ones never.
func TestWebhookReplayAndPurge(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		now := env.Clock.Now().Truncate(time.Microsecond)
		e := newWebhookEndpoint(t, env.DB, now)
		d, pending := newWebhookDelivery(e, "evt_1", now), newWebhookDelivery(e, "evt_2", now)
		if _, err := env.DB.CreateWebhookDeliveries(ctx, []*billow.WebhookDelivery{d}); err != nil {
			t.Fatal(err)
		}
		cs, err := env.DB.ClaimWebhookDeliveries(ctx, now, time.Minute, 10)
		if err != nil || len(cs) != 1 {
			t.Fatal(cs, err)
		}
		if _, err := env.DB.ReplayWebhookDelivery(ctx, d.ID, now); billow.ErrorCode(err) != billow.CodeWebhookDeliveryInFlight {
			t.Fatalf("replay in flight: %v", err)
		}
		if err := env.DB.RecordWebhookAttempt(ctx, billow.WebhookAttemptWrite{Token: cs[0].Token, Endpoint: e.ID, Status: billow.WebhookFailed,
			Attempt: &billow.WebhookAttempt{ID: "wha_a", Delivery: d.ID, Number: 1, At: now, StatusCode: 500, Error: "HTTP 500"}}); err != nil {
			t.Fatal(err)
		}
		at := now.Add(time.Hour)
		r, err := env.DB.ReplayWebhookDelivery(ctx, d.ID, at)
		if err != nil || r.ID != d.ID || r.Status != billow.WebhookPending || r.Series != 1 || r.Attempts != 0 || !r.NextAttemptAt.Equal(at) {
			t.Fatalf("replayed %+v, %v", r, err)
		}
		got, _ := env.DB.WebhookDelivery(ctx, d.ID)
		if got.Status != billow.WebhookPending || got.Series != 1 || got.LastStatusCode != 500 || len(got.AttemptLog) != 1 {
			t.Fatalf("read after replay %+v", got)
		}
		for range billow.WebhookReplaysMax - 1 {
			if _, err := env.DB.ReplayWebhookDelivery(ctx, d.ID, at); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := env.DB.ReplayWebhookDelivery(ctx, d.ID, at); billow.ErrorCode(err) != billow.CodeWebhookReplayLimit {
			t.Fatalf("replay beyond the limit: %v", err)
		}
		off := false
		if _, err := env.DB.UpdateWebhookEndpoint(ctx, e.ID, billow.UpdateWebhookEndpointInput{Enabled: &off}, at); err != nil {
			t.Fatal(err)
		}
		if _, err := env.DB.ReplayWebhookDelivery(ctx, pending.ID, at); billow.ErrorCode(err) != billow.CodeNotFound {
			t.Fatalf("replay of an unknown delivery: %v", err)
		}
		d2 := newWebhookDelivery(e, "evt_3", now)
		if _, err := env.DB.CreateWebhookDeliveries(ctx, []*billow.WebhookDelivery{d2, pending}); err != nil {
			t.Fatal(err)
		}
		if _, err := env.DB.ReplayWebhookDelivery(ctx, d2.ID, at); billow.ErrorCode(err) != billow.CodeWebhookEndpointDisabled {
			t.Fatalf("replay to a disabled endpoint: %v", err)
		}

		// Purge: d is pending again (replayed), so only finished ones go.
		on := true
		if _, err := env.DB.UpdateWebhookEndpoint(ctx, e.ID, billow.UpdateWebhookEndpointInput{Enabled: &on}, at); err != nil {
			t.Fatal(err)
		}
		cs, err = env.DB.ClaimWebhookDeliveries(ctx, at, time.Minute, 10)
		if err != nil || len(cs) != 3 {
			t.Fatal(len(cs), err)
		}
		for _, c := range cs {
			if c.Delivery.ID == pending.ID {
				continue
			}
			if err := env.DB.RecordWebhookAttempt(ctx, billow.WebhookAttemptWrite{Token: c.Token, Endpoint: e.ID, Status: billow.WebhookSucceeded,
				Attempt: &billow.WebhookAttempt{ID: billow.NewID(billow.PrefixWebhookAttempt, at), Delivery: c.Delivery.ID, Series: c.Delivery.Series,
					Number: 1, At: at, StatusCode: 204, Succeeded: true}}); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := env.DB.PurgeWebhookDeliveries(ctx, at, 100); err != nil || n != 0 {
			t.Fatalf("purged %d not yet old, %v", n, err)
		}
		if n, err := env.DB.PurgeWebhookDeliveries(ctx, at.Add(time.Second), 100); err != nil || n != 2 {
			t.Fatalf("purged %d, %v; want 2", n, err)
		}
		if _, err := env.DB.WebhookDelivery(ctx, pending.ID); err != nil {
			t.Fatalf("the pending delivery was purged: %v", err)
		}
		if _, err := env.DB.WebhookDelivery(ctx, d.ID); billow.ErrorCode(err) != billow.CodeNotFound {
			t.Fatalf("a finished delivery survived the purge: %v", err)
		}
	})
}
