package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/billing"
	"github.com/billowhq/billow/payment/sandbox"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
	"github.com/billowhq/billow/webhook"
)

var ctx = context.Background()

// message is one request a receiver got.
type message struct {
	path   string
	header http.Header
	body   []byte
}

// receiver is a webhook receiver on a real listener. answer says what it answers to the
// n-th request (0-based) of a path; nil answers 204.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex // protects the following fields
	got    []message
	answer func(path string, n int) (int, string)
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		n := 0
		for _, m := range r.got {
			if m.path == req.URL.Path {
				n++
			}
		}
		r.got = append(r.got, message{path: req.URL.Path, header: req.Header.Clone(), body: body})
		answer := r.answer
		r.mu.Unlock()
		status, text := http.StatusNoContent, ""
		if answer != nil {
			status, text = answer(req.URL.Path, n)
		}
		if status >= 300 && status <= 399 {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(status)
		io.WriteString(w, text)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) messages(path string) []message {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []message
	for _, m := range r.got {
		if m.path == path {
			out = append(out, m)
		}
	}
	return out
}

func (r *receiver) setAnswer(f func(path string, n int) (int, string)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answer = f
}

// verify checks a message as a receiver would, with the Standard Webhooks library: the
// signature, and the timestamp against the time it should carry.
func verify(t *testing.T, secret string, m message, at time.Time) {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.VerifyIgnoringTimestamp(m.body, m.header); err != nil {
		t.Fatalf("message %s does not verify: %v (signature %q)", m.header.Get("webhook-id"), err, m.header.Get("webhook-signature"))
	}
	if got := m.header.Get("webhook-timestamp"); got != strconv.FormatInt(at.Unix(), 10) {
		t.Fatalf("webhook-timestamp %s, want %d", got, at.Unix())
	}
}

func newService(t *testing.T, db *sqlstore.DB, clock billow.Clock) *webhook.Service {
	t.Helper()
	s, err := webhook.New(webhook.Config{Store: db, Clock: clock, AllowHTTP: true, AllowPrivateNetworks: true, Batch: 20, Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newAccount(t *testing.T, db *sqlstore.DB, externalID string) *billow.Account {
	t.Helper()
	a, err := db.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: externalID, Name: externalID, Catalog: "credits-platform", Plan: "pay_as_you_go"})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func writeEvents(t *testing.T, db *sqlstore.DB, evs ...*billow.BillingEvent) {
	t.Helper()
	if err := db.WriteBilling(ctx, &billow.BillingWrite{Events: evs}); err != nil {
		t.Fatal(err)
	}
}

func createEndpoint(t *testing.T, s *webhook.Service, url string, types ...string) *billow.CreatedWebhookEndpoint {
	t.Helper()
	e, err := s.CreateEndpoint(ctx, billow.CreateWebhookEndpointInput{URL: url, EventTypes: types})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// pump runs the fan-out and the worker at the clock's time until nothing is due.
func pump(t *testing.T, s *webhook.Service, clock billow.Clock) {
	t.Helper()
	if err := s.FanOut(ctx, clock.Now()); err != nil {
		t.Fatal(err)
	}
	for {
		n, err := s.Deliver(ctx, clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

func delivery(t *testing.T, s *webhook.Service, endpoint string) *billow.WebhookDeliveryDetail {
	t.Helper()
	page, err := s.Deliveries(ctx, endpoint, billow.WebhookDeliveryFilter{}, billow.PageInput{})
	if err != nil || len(page.Data) != 1 {
		t.Fatalf("deliveries of %s: %+v, %v; want one", endpoint, page.Data, err)
	}
	d, err := s.Delivery(ctx, page.Data[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Billing events written through the store reach the endpoints whose filters select
// them, once each, signed so that the Standard Webhooks library verifies them (timestamp
// tolerance included: this service's clock is the real one), with the documented body
// and headers. Handling the same events again makes no second delivery.
func TestDeliveriesEndToEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		clock := storetest.NewClock(time.Now())
		s := newService(t, env.DB, clock)
		r := newReceiver(t)
		invoices := createEndpoint(t, s, r.srv.URL+"/invoices", "invoice.*")
		all := createEndpoint(t, s, r.srv.URL+"/all")
		renewed := createEndpoint(t, s, r.srv.URL+"/renewed", "subscription.renewed", "credits.auto_charge.*")
		off := false
		if _, err := s.UpdateEndpoint(ctx, renewed.ID, billow.UpdateWebhookEndpointInput{Enabled: &off}); err != nil {
			t.Fatal(err)
		}
		a := newAccount(t, env.DB, "acme")
		at := storetest.Start
		writeEvents(t, env.DB,
			&billow.BillingEvent{Account: a.ID, Type: "invoice.paid", Subject: "inv_1", OccurredAt: at, Data: map[string]any{"invoice": "inv_1", "total_minor": 4200}},
			&billow.BillingEvent{Account: a.ID, Type: "subscription.renewed", Subject: "sub_1", OccurredAt: at, Data: map[string]any{"plan": "pro"}},
			&billow.BillingEvent{Account: a.ID, Type: billow.EventCreditsLowBalance, Subject: a.ID, OccurredAt: at, Data: map[string]any{"balance_ucr": 5}})
		pump(t, s, clock)

		if got := r.messages("/renewed"); len(got) != 0 {
			t.Fatalf("a disabled endpoint got %d messages", len(got))
		}
		if got := r.messages("/invoices"); len(got) != 1 {
			t.Fatalf("invoice.* got %d messages, want 1", len(got))
		}
		allGot := r.messages("/all")
		if len(allGot) != 3 {
			t.Fatalf("* got %d messages, want 3", len(allGot))
		}
		m := r.messages("/invoices")[0]
		wh, err := standardwebhooks.NewWebhook(invoices.Secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(m.body, m.header); err != nil {
			t.Fatalf("the library does not verify a delivery: %v", err)
		}
		verify(t, invoices.Secret, m, clock.Now())
		for _, m := range allGot {
			verify(t, all.Secret, m, clock.Now())
		}
		if h := m.header; h.Get("Content-Type") != "application/json" || h.Get("User-Agent") != "Billow-Webhooks/1" ||
			!strings.HasPrefix(h.Get("webhook-id"), "msg_") {
			t.Fatalf("headers %v", h)
		}
		var body struct {
			Type      string         `json:"type"`
			Timestamp string         `json:"timestamp"`
			Data      map[string]any `json:"data"`
		}
		if err := json.Unmarshal(m.body, &body); err != nil {
			t.Fatal(err)
		}
		if ts, err := time.Parse(time.RFC3339, body.Timestamp); err != nil || !ts.Equal(at.Truncate(time.Microsecond)) || body.Type != "invoice.paid" ||
			body.Data["account"] != a.ID || body.Data["subject"] != "inv_1" || body.Data["invoice"] != "inv_1" || body.Data["total_minor"] != 4200.0 ||
			!strings.HasPrefix(body.Data["id"].(string), "evt_") {
			t.Fatalf("body %s (%v)", m.body, err)
		}
		d := delivery(t, s, invoices.ID)
		if d.ID != m.header.Get("webhook-id") || d.Status != billow.WebhookSucceeded || d.Event != body.Data["id"] || d.Account != a.ID ||
			len(d.AttemptLog) != 1 || d.AttemptLog[0].StatusCode != 204 || !d.AttemptLog[0].Succeeded || string(d.Payload) != string(m.body) {
			t.Fatalf("delivery %+v", d)
		}

		// The same events again (a crash between handling and moving the position): nothing new.
		evs, err := env.DB.BillingEvents(ctx, "", 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Handle(ctx, evs); err != nil {
			t.Fatal(err)
		}
		pump(t, s, clock)
		if n := len(r.messages("/all")); n != 3 {
			t.Fatalf("after handling the events again * got %d messages, want 3", n)
		}

		// A test message goes to the endpoint whatever its filter.
		test, err := s.SendTest(ctx, invoices.ID)
		if err != nil || test.EventType != billow.WebhookEventTest {
			t.Fatal(test, err)
		}
		pump(t, s, clock)
		got := r.messages("/invoices")
		if len(got) != 2 || got[1].header.Get("webhook-id") != test.ID || !strings.Contains(string(got[1].body), `"type":"webhook.test"`) {
			t.Fatalf("the test message: %d messages", len(got))
		}
		verify(t, invoices.Secret, got[1], clock.Now())
		if _, err := s.SendTest(ctx, renewed.ID); billow.ErrorCode(err) != billow.CodeWebhookEndpointDisabled {
			t.Fatalf("a test to a disabled endpoint: %v", err)
		}
	})
}

// A receiver that answers 500 and then 200 is retried on the injected clock after the
// schedule's first wait, with the same webhook-id and body and a new timestamp; both
// attempts are in the log.
func TestRetryAfterFailure(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := newService(t, env.DB, env.Clock)
		r := newReceiver(t)
		r.setAnswer(func(_ string, n int) (int, string) {
			if n == 0 {
				return 500, "database down"
			}
			return 200, "ok"
		})
		e := createEndpoint(t, s, r.srv.URL+"/hook")
		a := newAccount(t, env.DB, "acme")
		writeEvents(t, env.DB, &billow.BillingEvent{Account: a.ID, Type: "invoice.paid", Subject: "inv_1", OccurredAt: env.Clock.Now(), Data: map[string]any{}})
		first := env.Clock.Now()
		pump(t, s, env.Clock)
		d := delivery(t, s, e.ID)
		if d.Status != billow.WebhookPending || d.Attempts != 1 || !d.NextAttemptAt.Equal(first.Truncate(time.Microsecond).Add(5*time.Second)) ||
			d.LastStatusCode != 500 || d.AttemptLog[0].Response != "database down" || d.AttemptLog[0].Error != "HTTP 500" {
			t.Fatalf("after a 500: %+v %+v", d.WebhookDelivery, d.AttemptLog)
		}
		env.Clock.Advance(4 * time.Second)
		pump(t, s, env.Clock)
		if n := len(r.messages("/hook")); n != 1 {
			t.Fatalf("retried before its time: %d messages", n)
		}
		env.Clock.Advance(time.Second)
		pump(t, s, env.Clock)
		got := r.messages("/hook")
		if len(got) != 2 || got[0].header.Get("webhook-id") != got[1].header.Get("webhook-id") || string(got[0].body) != string(got[1].body) {
			t.Fatalf("the retry is not the same message: %d messages", len(got))
		}
		verify(t, e.Secret, got[0], first)
		verify(t, e.Secret, got[1], env.Clock.Now())
		d = delivery(t, s, e.ID)
		if d.Status != billow.WebhookSucceeded || d.Attempts != 2 || d.NextAttemptAt != nil || len(d.AttemptLog) != 2 ||
			d.AttemptLog[0].Number != 2 || d.AttemptLog[0].StatusCode != 200 || d.AttemptLog[1].Number != 1 {
			t.Fatalf("after the retry: %+v %+v", d.WebhookDelivery, d.AttemptLog)
		}
		if ep, _ := s.Endpoint(ctx, e.ID); ep.FailingSince != nil {
			t.Fatalf("a success left failing_since %v", ep.FailingSince)
		}
	})
}

// A receiver that always fails is tried WebhookAttemptsPerSeriesMax times over the
// documented schedule, then the delivery fails. A replay sends it again, with the same
// webhook-id, as a new series. An endpoint that fails every attempt for 72 hours is
// disabled; its pending deliveries wait until it is enabled again.
func TestGiveUpReplayAndDisable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := newService(t, env.DB, env.Clock)
		r := newReceiver(t)
		var mu sync.Mutex
		failing := true
		r.setAnswer(func(string, int) (int, string) {
			mu.Lock()
			defer mu.Unlock()
			if failing {
				return 503, ""
			}
			return 200, ""
		})
		e := createEndpoint(t, s, r.srv.URL+"/hook")
		a := newAccount(t, env.DB, "acme")
		writeEvents(t, env.DB, &billow.BillingEvent{Account: a.ID, Type: "invoice.paid", Subject: "inv_1", OccurredAt: env.Clock.Now(), Data: map[string]any{}})
		start := env.Clock.Now()
		pump(t, s, env.Clock)
		var waited time.Duration
		for _, wait := range billow.WebhookRetrySchedule {
			env.Clock.Advance(wait - time.Second)
			pump(t, s, env.Clock) // not yet due
			env.Clock.Advance(time.Second)
			pump(t, s, env.Clock)
			waited += wait
		}
		if waited != billow.WebhookRetryScheduleTotal {
			t.Fatalf("the schedule sums to %s, documented as %s", waited, billow.WebhookRetryScheduleTotal)
		}
		got := r.messages("/hook")
		if len(got) != billow.WebhookAttemptsPerSeriesMax {
			t.Fatalf("%d attempts, want %d", len(got), billow.WebhookAttemptsPerSeriesMax)
		}
		at := start
		for i, m := range got {
			if i > 0 {
				at = at.Add(billow.WebhookRetrySchedule[i-1])
			}
			verify(t, e.Secret, m, at)
			if m.header.Get("webhook-id") != got[0].header.Get("webhook-id") {
				t.Fatalf("attempt %d has another webhook-id", i+1)
			}
		}
		d := delivery(t, s, e.ID)
		if d.Status != billow.WebhookFailed || d.Attempts != 11 || d.NextAttemptAt != nil || len(d.AttemptLog) != 11 {
			t.Fatalf("after the schedule: %+v", d.WebhookDelivery)
		}
		env.Clock.Advance(10 * 24 * time.Hour)
		pump(t, s, env.Clock)
		if n := len(r.messages("/hook")); n != 11 {
			t.Fatalf("a failed delivery was tried again: %d", n)
		}
		ep, _ := s.Endpoint(ctx, e.ID)
		if !ep.Enabled || ep.FailingSince == nil || !ep.FailingSince.Equal(start.Truncate(time.Microsecond)) {
			t.Fatalf("endpoint after one failed delivery: %+v", ep)
		}

		// Replay after the failure: delivered, same webhook-id.
		mu.Lock()
		failing = false
		mu.Unlock()
		replayed, err := s.Replay(ctx, d.ID)
		if err != nil || replayed.Series != 1 || replayed.Status != billow.WebhookPending {
			t.Fatalf("replay: %+v, %v", replayed, err)
		}
		pump(t, s, env.Clock)
		got = r.messages("/hook")
		if len(got) != 12 || got[11].header.Get("webhook-id") != d.ID {
			t.Fatalf("the replay: %d messages", len(got))
		}
		verify(t, e.Secret, got[11], env.Clock.Now())
		d = delivery(t, s, e.ID)
		if d.Status != billow.WebhookSucceeded || d.Series != 1 || d.Attempts != 1 || len(d.AttemptLog) != 12 ||
			d.AttemptLog[0].Series != 1 || d.AttemptLog[0].Number != 1 || !d.AttemptLog[0].Succeeded {
			t.Fatalf("after the replay: %+v", d.WebhookDelivery)
		}

		// Failing for 72 hours disables the endpoint.
		mu.Lock()
		failing = true
		mu.Unlock()
		writeEvents(t, env.DB, &billow.BillingEvent{Account: a.ID, Type: "invoice.paid", Subject: "inv_2", OccurredAt: env.Clock.Now(), Data: map[string]any{}})
		pump(t, s, env.Clock) // fails: failing_since is now
		env.Clock.Advance(billow.WebhookFailingDisableAfter)
		writeEvents(t, env.DB, &billow.BillingEvent{Account: a.ID, Type: "invoice.paid", Subject: "inv_3", OccurredAt: env.Clock.Now(), Data: map[string]any{}})
		pump(t, s, env.Clock)
		ep, _ = s.Endpoint(ctx, e.ID)
		if ep.Enabled || ep.DisabledReason != "failing" {
			t.Fatalf("after 72 hours of failures: %+v", ep)
		}
		sent := len(r.messages("/hook"))
		env.Clock.Advance(48 * time.Hour)
		pump(t, s, env.Clock)
		if n := len(r.messages("/hook")); n != sent {
			t.Fatalf("a disabled endpoint got %d more messages", n-sent)
		}
		mu.Lock()
		failing = false
		mu.Unlock()
		on := true
		if ep, err := s.UpdateEndpoint(ctx, e.ID, billow.UpdateWebhookEndpointInput{Enabled: &on}); err != nil || ep.DisabledReason != "" || ep.FailingSince != nil {
			t.Fatalf("enabled again: %+v, %v", ep, err)
		}
		pump(t, s, env.Clock)
		pending, err := s.Deliveries(ctx, e.ID, billow.WebhookDeliveryFilter{Status: billow.WebhookPending}, billow.PageInput{})
		if err != nil || len(pending.Data) != 0 {
			t.Fatalf("pending once enabled: %+v, %v", pending.Data, err)
		}
		succeeded, _ := s.Deliveries(ctx, e.ID, billow.WebhookDeliveryFilter{Status: billow.WebhookSucceeded}, billow.PageInput{})
		if len(succeeded.Data) != 3 {
			t.Fatalf("%d deliveries succeeded, want 3", len(succeeded.Data))
		}
	})
}

// 410 Gone fails the delivery at once and disables the endpoint; a redirect is recorded
// as a failure and not followed; the answer kept is bounded.
func TestGoneRedirectAndBoundedAnswer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := newService(t, env.DB, env.Clock)
		r := newReceiver(t)
		r.setAnswer(func(path string, _ int) (int, string) {
			switch path {
			case "/gone":
				return 410, "unsubscribed"
			case "/moved":
				return 301, ""
			}
			return 500, strings.Repeat("é", 5000) + "\x00"
		})
		gone := createEndpoint(t, s, r.srv.URL+"/gone")
		moved := createEndpoint(t, s, r.srv.URL+"/moved")
		big := createEndpoint(t, s, r.srv.URL+"/big")
		a := newAccount(t, env.DB, "acme")
		writeEvents(t, env.DB, &billow.BillingEvent{Account: a.ID, Type: "invoice.paid", Subject: "inv_1", OccurredAt: env.Clock.Now(), Data: map[string]any{}})
		pump(t, s, env.Clock)

		d := delivery(t, s, gone.ID)
		ep, _ := s.Endpoint(ctx, gone.ID)
		if d.Status != billow.WebhookFailed || d.LastStatusCode != 410 || ep.Enabled || ep.DisabledReason != "gone" {
			t.Fatalf("after 410: %+v, endpoint %+v", d.WebhookDelivery, ep)
		}
		d = delivery(t, s, moved.ID)
		if d.Status != billow.WebhookPending || d.LastStatusCode != 301 || !strings.Contains(d.LastError, "not followed") {
			t.Fatalf("after a redirect: %+v", d.WebhookDelivery)
		}
		if n := len(r.messages("/elsewhere")); n != 0 {
			t.Fatalf("the redirect was followed %d times", n)
		}
		d = delivery(t, s, big.ID)
		resp := d.AttemptLog[0].Response
		if len(resp) > billow.WebhookResponseExcerptMaxBytes+len("…") || !strings.HasPrefix(resp, "ééé") || strings.Contains(resp, "\x00") {
			t.Fatalf("the answer kept is %d bytes", len(resp))
		}
	})
}

// Workers of two processes (two stores on one database) running at once send each
// message once: the lease keeps them apart.
func TestTwoWorkersDeliverEachMessageOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		other, err := sqlstore.Open(ctx, sqlstore.Config{URL: env.URL, Clock: env.Clock})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		s1, s2 := newService(t, env.DB, env.Clock), newService(t, other, env.Clock)
		r := newReceiver(t)
		createEndpoint(t, s1, r.srv.URL+"/a")
		createEndpoint(t, s1, r.srv.URL+"/b", "invoice.paid")
		a := newAccount(t, env.DB, "acme")
		const events = 60
		var evs []*billow.BillingEvent
		for i := range events {
			evs = append(evs, &billow.BillingEvent{Account: a.ID, Type: "invoice.paid", Subject: fmt.Sprint(i), OccurredAt: env.Clock.Now(), Data: map[string]any{}})
		}
		writeEvents(t, env.DB, evs...)
		// Both fan out at once too: the second finds the deliveries made.
		var wg sync.WaitGroup
		for _, s := range []*webhook.Service{s1, s2} {
			wg.Go(func() {
				if err := s.FanOut(ctx, env.Clock.Now()); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		for _, s := range []*webhook.Service{s1, s2, s1, s2} {
			wg.Go(func() {
				for {
					n, err := s.Deliver(ctx, env.Clock.Now())
					if err != nil {
						t.Error(err)
						return
					}
					if n == 0 {
						return
					}
				}
			})
		}
		wg.Wait()
		ids := map[string]int{}
		for _, m := range append(r.messages("/a"), r.messages("/b")...) {
			ids[m.header.Get("webhook-id")]++
		}
		if len(ids) != 2*events {
			t.Fatalf("%d messages arrived, want %d", len(ids), 2*events)
		}
		for id, n := range ids {
			if n != 1 {
				t.Fatalf("message %s arrived %d times", id, n)
			}
		}
	})
}

// Without AllowPrivateNetworks an endpoint on a loopback or private address is refused
// when saved, and when it is stored anyway (or a name resolves there) the worker does
// not dial it; without AllowHTTP an endpoint must be https.
func TestURLPolicy(t *testing.T) {
	env := storetest.Open(t, sqlstore.SQLite)
	strict, err := webhook.New(webhook.Config{Store: env.DB, Clock: env.Clock})
	if err != nil {
		t.Fatal(err)
	}
	for _, url := range []string{"https://127.0.0.1/h", "https://localhost/h", "https://app.localhost/h", "https://10.0.0.8/h",
		"https://[::1]/h", "https://169.254.169.254/latest", "https://192.168.1.1/", "https://[fd00::1]/", "https://100.64.0.1/", "https://0.0.0.0/"} {
		_, err := strict.CreateEndpoint(ctx, billow.CreateWebhookEndpointInput{URL: url})
		if billow.ErrorCode(err) != billow.CodeValidationFailed || !strings.Contains(err.Error(), "public") {
			t.Errorf("%s: %v", url, err)
		}
	}
	if _, err := strict.CreateEndpoint(ctx, billow.CreateWebhookEndpointInput{URL: "http://hooks.example.com/h"}); billow.ErrorCode(err) != billow.CodeValidationFailed ||
		!strings.Contains(err.Error(), "https") {
		t.Errorf("http allowed: %v", err)
	}
	if _, err := strict.CreateEndpoint(ctx, billow.CreateWebhookEndpointInput{URL: "https://hooks.example.com/h"}); err != nil {
		t.Errorf("a public https URL: %v", err)
	}

	// Stored past the check: the dialer refuses it.
	r := newReceiver(t)
	now := env.Clock.Now()
	e := &billow.WebhookEndpoint{ID: billow.NewID(billow.PrefixWebhookEndpoint, now), URL: r.srv.URL + "/inside", EventTypes: []string{"*"},
		Enabled: true, Secret: webhook.NewSecret(), CreatedAt: now, UpdatedAt: now}
	if err := env.DB.CreateWebhookEndpoint(ctx, e); err != nil {
		t.Fatal(err)
	}
	d, err := strict.SendTest(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := strict.Deliver(ctx, env.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	if n := len(r.messages("/inside")); n != 0 {
		t.Fatalf("the worker reached a loopback address %d times", n)
	}
	got, err := strict.Delivery(ctx, d.ID)
	if err != nil || got.Status != billow.WebhookPending || got.AttemptLog[0].StatusCode != 0 || !strings.Contains(got.LastError, "not public") {
		t.Fatalf("a refused dial: %+v %v", got.WebhookDelivery, err)
	}
}

// CreateWebhookEndpointInput.Validate names each bad field; filters are known types,
// prefix wildcards that select one, or *.
func TestCreateEndpointValidation(t *testing.T) {
	env := storetest.Open(t, sqlstore.SQLite)
	s := newService(t, env.DB, env.Clock)
	for _, tc := range []struct {
		in    billow.CreateWebhookEndpointInput
		field string
	}{
		{billow.CreateWebhookEndpointInput{}, "url"},
		{billow.CreateWebhookEndpointInput{URL: "hooks.example.com/h"}, "url"},
		{billow.CreateWebhookEndpointInput{URL: "ftp://hooks.example.com/h"}, "url"},
		{billow.CreateWebhookEndpointInput{URL: "https://user:pw@hooks.example.com/h"}, "url"},
		{billow.CreateWebhookEndpointInput{URL: "https:///h"}, "url"},
		{billow.CreateWebhookEndpointInput{URL: "https://hooks.example.com/h#frag"}, "url"},
		{billow.CreateWebhookEndpointInput{URL: "https://hooks.example.com/" + strings.Repeat("a", billow.WebhookURLMaxBytes)}, "url"},
		{billow.CreateWebhookEndpointInput{URL: "https://h.example.com", EventTypes: []string{"invoice.payed"}}, "event_types[0]"},
		{billow.CreateWebhookEndpointInput{URL: "https://h.example.com", EventTypes: []string{"invoice.paid", "usage.*"}}, "event_types[1]"},
		{billow.CreateWebhookEndpointInput{URL: "https://h.example.com", EventTypes: []string{"invoice"}}, "event_types[0]"},
		{billow.CreateWebhookEndpointInput{URL: "https://h.example.com", Description: strings.Repeat("d", 501)}, "description"},
	} {
		_, err := s.CreateEndpoint(ctx, tc.in)
		var e *billow.Error
		if !asError(err, &e) || e.Code != billow.CodeValidationFailed || len(e.Fields) == 0 || e.Fields[0].Field != tc.field {
			t.Errorf("%+v: %v, want a problem at %s", tc.in, err, tc.field)
		}
	}
	ok := []billow.CreateWebhookEndpointInput{
		{URL: "https://h.example.com/a", EventTypes: []string{"invoice.*", "credits.auto_charge.*", "subscription.renewed"}},
		{URL: "https://h.example.com/b", EventTypes: []string{" * "}},
		{URL: "http://h.example.com:8080/c?x=1"},
	}
	for _, in := range ok {
		e, err := s.CreateEndpoint(ctx, in)
		if err != nil {
			t.Fatalf("%+v: %v", in, err)
		}
		if in.EventTypes == nil && (len(e.EventTypes) != 1 || e.EventTypes[0] != "*") {
			t.Fatalf("an empty filter is stored as %v", e.EventTypes)
		}
	}
}

// The filter rule: * and [] select all, "p.*" selects the types under p, a type itself.
func TestFilter(t *testing.T) {
	for _, tc := range []struct {
		filter []string
		typ    string
		want   bool
	}{
		{nil, "invoice.paid", true},
		{[]string{"*"}, "credits.exhausted", true},
		{[]string{"invoice.*"}, "invoice.paid", true},
		{[]string{"invoice.*"}, "invoices.paid", false},
		{[]string{"credits.*"}, "credits.auto_charge.failed", true},
		{[]string{"credits.auto_charge.*"}, "credits.low_balance", false},
		{[]string{"subscription.renewed"}, "subscription.renewed", true},
		{[]string{"subscription.renewed"}, "subscription.renewal_failed", false},
	} {
		e := &billow.WebhookEndpoint{EventTypes: tc.filter}
		if got := e.Wants(tc.typ); got != tc.want {
			t.Errorf("%v wants %s = %v", tc.filter, tc.typ, got)
		}
	}
}

// The types a filter may name are those billing writes: every domain event of the
// subscription state machine and of auto-charge is in the list.
func TestEventTypesCoverBilling(t *testing.T) {
	known := billow.WebhookEventTypes()
	for _, tr := range billing.Transitions() {
		if !slices.Contains(known, tr.DomainEvent) {
			t.Errorf("%s is written by billing but not in billow.WebhookEventTypes", tr.DomainEvent)
		}
	}
	for _, typ := range []string{billow.EventCreditsLowBalance, billow.EventCreditsExhausted, billow.EventAutoChargeSucceeded, billow.EventAutoChargeFailed} {
		if !slices.Contains(known, typ) {
			t.Errorf("%s is not in billow.WebhookEventTypes", typ)
		}
	}
}

// Billing itself, through billing.Service on a test clock: a subscription bought with a
// card, renewed twice. Every event it writes reaches the receiver, verified, and is of a
// type a filter may name.
func TestBillingServiceEvents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		svc, err := billing.New(billing.Config{Store: env.DB, Gateway: sandbox.New(env.Clock), Clock: env.Clock})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
		tc, err := env.DB.CreateTestClock(ctx, billow.CreateTestClockInput{Name: "t", FrozenTime: start})
		if err != nil {
			t.Fatal(err)
		}
		a, err := env.DB.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: "acme", Name: "Acme", Catalog: "ai-for-service", TestClock: tc.ID,
			BillingContact: billow.BillingContact{Name: "Ada", Email: "billing@acme.test"}})
		if err != nil {
			t.Fatal(err)
		}
		s := newService(t, env.DB, env.Clock)
		r := newReceiver(t)
		e := createEndpoint(t, s, r.srv.URL+"/all")
		if _, err := svc.SubmitOrder(ctx, a.ID, billow.SubmitOrderInput{Subscribe: &billow.CreateSubscriptionInput{Plan: "essential"},
			NewPaymentMethod: &billow.AddPaymentMethodInput{Kind: billow.MethodCard, Card: &billow.CardDetails{Number: sandbox.CardVisa, ExpMonth: 12, ExpYear: 2030, CVC: "123"}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AdvanceTestClock(ctx, tc.ID, billow.AdvanceTestClockInput{FrozenTime: start.AddDate(0, 2, 1)}); err != nil {
			t.Fatal(err)
		}
		pump(t, s, env.Clock)
		evs, err := env.DB.BillingEvents(ctx, a.ID, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		got := r.messages("/all")
		if len(got) != len(evs) || len(evs) < 5 {
			t.Fatalf("%d messages for %d billing events", len(got), len(evs))
		}
		types := map[string]bool{}
		for _, m := range got {
			verify(t, e.Secret, m, env.Clock.Now())
			var p webhook.Payload
			if err := json.Unmarshal(m.body, &p); err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(billow.WebhookEventTypes(), p.Type) {
				t.Errorf("billing wrote %s, which no filter may name", p.Type)
			}
			types[p.Type] = true
		}
		for _, want := range []string{"subscription.activated", "invoice.paid", "order.completed", "invoice.finalized", "subscription.renewed"} {
			if !types[want] {
				t.Errorf("no %s among %v", want, types)
			}
		}
	})
}

func asError(err error, target **billow.Error) bool { return errors.As(err, target) }
