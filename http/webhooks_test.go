package http_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/billing"
	"github.com/billowhq/billow/checks"
	billowhttp "github.com/billowhq/billow/http"
	"github.com/billowhq/billow/ingest"
	"github.com/billowhq/billow/payment/sandbox"
	"github.com/billowhq/billow/sqlstore/storetest"
	"github.com/billowhq/billow/webhook"
)

// newWebhookServer is newServer with the billing and webhook services, and the webhook
// service itself, whose fan-out and worker the tests run by hand on the store's clock.
func newWebhookServer(t *testing.T, env *storetest.Env) (*apiClient, *webhook.Service) {
	t.Helper()
	bill, err := billing.New(billing.Config{Store: env.DB, Gateway: sandbox.New(env.Clock), Clock: env.Clock})
	if err != nil {
		t.Fatal(err)
	}
	wh, err := webhook.New(webhook.Config{Store: env.DB, Clock: env.Clock, AllowHTTP: true, AllowPrivateNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	checker := checks.New(checks.Config{Store: env.DB, Clock: env.Clock, Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(billowhttp.New(billowhttp.Config{Store: env.DB, AdminKey: adminKey, DefaultCatalog: "credits-platform",
		Ingester: ingest.New(env.DB, env.Clock), Checker: checker, Billing: bill, Webhooks: wh, Branding: testBranding}))
	t.Cleanup(srv.Close)
	return &apiClient{t: t, base: srv.URL, key: adminKey, env: env, checker: checker}, wh
}

// hookReceiver records what a webhook receiver gets, answering 200.
type hookReceiver struct {
	srv *httptest.Server
	mu  sync.Mutex // protects got
	got []hookMessage
}

type hookMessage struct {
	header http.Header
	body   []byte
}

func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	r := &hookReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, hookMessage{header: req.Header.Clone(), body: body})
		r.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) messages() []hookMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hookMessage(nil), r.got...)
}

// runWebhooks fans out and delivers what is due on the store's clock.
func runWebhooks(t *testing.T, wh *webhook.Service, env *storetest.Env) {
	t.Helper()
	if err := wh.FanOut(context.Background(), env.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	for {
		n, err := wh.Deliver(context.Background(), env.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

// Endpoints through the API: the secret is in the answer to the create and the rotation
// only; bad input is a problem naming the field; lists page by cursor; a deleted endpoint
// is gone.
func TestWebhookEndpointsAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		c, _ := newWebhookServer(t, env)
		created := c.must(201, "POST", "/v1/webhook_endpoints", map[string]any{"url": "https://hooks.example.com/billow",
			"description": "ERP", "event_types": []string{"invoice.*", "subscription.renewed"}})
		id, secret := created["id"].(string), created["secret"].(string)
		if !strings.HasPrefix(id, "we_") || !strings.HasPrefix(secret, "whsec_") || created["enabled"] != true ||
			created["url"] != "https://hooks.example.com/billow" || len(created["event_types"].([]any)) != 2 {
			t.Fatalf("created %v", created)
		}
		got := c.must(200, "GET", "/v1/webhook_endpoints/"+id, nil)
		if _, ok := got["secret"]; ok || got["description"] != "ERP" {
			t.Fatalf("read %v", got)
		}
		for _, m := range []answer{c.do("GET", "/v1/webhook_endpoints/"+id, nil), c.do("GET", "/v1/webhook_endpoints", nil)} {
			if strings.Contains(string(m.body), secret) || strings.Contains(string(m.body), "whsec_") {
				t.Fatalf("a read shows the secret: %s", m.body)
			}
		}

		for _, tc := range []struct {
			body     map[string]any
			location string
		}{
			{map[string]any{"url": "ftp://hooks.example.com"}, "body.url"},
			{map[string]any{"url": "https://u:p@hooks.example.com"}, "body.url"},
			{map[string]any{"url": "https://hooks.example.com", "event_types": []string{"invoice.paid", "invoice.payed"}}, "body.event_types[1]"},
			{map[string]any{"url": "https://hooks.example.com", "event_types": []string{"nothing.*"}}, "body.event_types[0]"},
			{map[string]any{"event_types": []string{"*"}}, "body.url"},
		} {
			a := c.do("POST", "/v1/webhook_endpoints", tc.body)
			if a.status != 422 || a.problemCode(t) != billow.CodeValidationFailed || !strings.Contains(string(a.body), `"location":"`+tc.location+`"`) {
				t.Errorf("%v: %d %s, want 422 at %s", tc.body, a.status, a.body, tc.location)
			}
		}

		env.Clock.Advance(time.Millisecond) // ids sort by their millisecond
		second := c.must(201, "POST", "/v1/webhook_endpoints", map[string]any{"url": "http://127.0.0.1:9/h", "enabled": false})
		if second["enabled"] != false || second["event_types"].([]any)[0] != "*" {
			t.Fatalf("second %v", second)
		}
		page := c.must(200, "GET", "/v1/webhook_endpoints?limit=1", nil)
		if data := page["data"].([]any); len(data) != 1 || page["has_more"] != true || data[0].(map[string]any)["id"] != second["id"] {
			t.Fatalf("first page %v", page)
		}
		page = c.must(200, "GET", "/v1/webhook_endpoints?limit=1&starting_after="+second["id"].(string), nil)
		if data := page["data"].([]any); len(data) != 1 || page["has_more"] != false || data[0].(map[string]any)["id"] != id {
			t.Fatalf("second page %v", page)
		}

		patched := c.must(200, "PATCH", "/v1/webhook_endpoints/"+id, map[string]any{"event_types": []string{}, "enabled": false})
		if patched["enabled"] != false || patched["event_types"].([]any)[0] != "*" || patched["description"] != "ERP" {
			t.Fatalf("patched %v", patched)
		}
		if a := c.do("PATCH", "/v1/webhook_endpoints/"+id, map[string]any{"url": "not a url"}); a.status != 422 || a.problemCode(t) != billow.CodeValidationFailed {
			t.Fatalf("bad patch: %d %s", a.status, a.body)
		}

		rotated := c.must(200, "POST", "/v1/webhook_endpoints/"+id+"/rotate_secret", nil)
		if s := rotated["secret"].(string); !strings.HasPrefix(s, "whsec_") || s == secret || rotated["previous_secret_expires_at"] == nil {
			t.Fatalf("rotated %v", rotated)
		}
		if a := c.do("POST", "/v1/webhook_endpoints/"+id+"/test", nil); a.status != 409 || a.problemCode(t) != billow.CodeWebhookEndpointDisabled {
			t.Fatalf("a test to a disabled endpoint: %d %s", a.status, a.body)
		}

		c.must(200, "DELETE", "/v1/webhook_endpoints/"+id, nil)
		for _, r := range [][2]string{{"GET", ""}, {"PATCH", ""}, {"DELETE", ""}, {"POST", "/rotate_secret"}, {"POST", "/test"}, {"GET", "/deliveries"}} {
			var body any
			if r[0] == "PATCH" {
				body = map[string]any{"description": "x"}
			}
			if a := c.do(r[0], "/v1/webhook_endpoints/"+id+r[1], body); a.status != 404 || a.problemCode(t) != billow.CodeNotFound {
				t.Errorf("%s %s after delete: %d %s", r[0], r[1], a.status, a.body)
			}
		}
		for _, p := range []string{"/v1/webhook_deliveries/msg_nope", "/v1/webhook_deliveries/msg_nope/replay"} {
			method := "GET"
			if strings.HasSuffix(p, "replay") {
				method = "POST"
			}
			if a := c.do(method, p, nil); a.status != 404 {
				t.Errorf("%s %s: %d", method, p, a.status)
			}
		}
	})
}

// From a credits order paid through the API to the receiver: the billing events of the
// order are delivered, signed, and the log, the status filter, a test message and a
// replay (same webhook-id) are readable and usable through the API. Every webhook route
// answers an account's key 404, like every operator-only route.
func TestWebhookDeliveriesAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		c, wh := newWebhookServer(t, env)
		r := newHookReceiver(t)
		ep := c.must(201, "POST", "/v1/webhook_endpoints", map[string]any{"url": r.srv.URL + "/billow", "event_types": []string{"invoice.paid", "order.*"}})
		id, secret := ep["id"].(string), ep["secret"].(string)
		c.must(201, "POST", "/v1/accounts", map[string]any{"external_id": "acme", "name": "Acme",
			"billing_contact": map[string]any{"name": "Ada", "email": "billing@acme.test"}})
		c.must(201, "POST", "/v1/accounts/acme/payment_methods", card(sandbox.CardVisa))
		c.must(201, "POST", "/v1/accounts/acme/orders", map[string]any{"credits": 1000})
		runWebhooks(t, wh, env)

		got := r.messages()
		if len(got) != 2 {
			t.Fatalf("%d messages, want invoice.paid and order.completed", len(got))
		}
		lib, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		types := ""
		for _, m := range got {
			if err := lib.VerifyIgnoringTimestamp(m.body, m.header); err != nil {
				t.Fatalf("a delivery does not verify: %v", err)
			}
			if m.header.Get("webhook-timestamp") != strconv.FormatInt(env.Clock.Now().Unix(), 10) {
				t.Fatalf("webhook-timestamp %s", m.header.Get("webhook-timestamp"))
			}
			types += string(m.body[:strings.Index(string(m.body), ",")]) + " "
		}
		if !strings.Contains(types, `"invoice.paid"`) || !strings.Contains(types, `"order.completed"`) || strings.Contains(types, "credits.purchased") {
			t.Fatalf("types delivered: %s", types)
		}

		list := c.must(200, "GET", "/v1/webhook_endpoints/"+id+"/deliveries?status=succeeded", nil)
		data := list["data"].([]any)
		if len(data) != 2 {
			t.Fatalf("succeeded deliveries %v", list)
		}
		if pending := c.must(200, "GET", "/v1/webhook_endpoints/"+id+"/deliveries?status=pending", nil); len(pending["data"].([]any)) != 0 {
			t.Fatalf("pending deliveries %v", pending)
		}
		if a := c.do("GET", "/v1/webhook_endpoints/"+id+"/deliveries?status=sent", nil); a.status != 422 {
			t.Fatalf("an unknown status: %d %s", a.status, a.body)
		}
		deliveryID := data[0].(map[string]any)["id"].(string)
		d := c.must(200, "GET", "/v1/webhook_deliveries/"+deliveryID, nil)
		attempts := d["attempts"].([]any)
		if d["status"] != "succeeded" || d["attempt_count"] != 1.0 || len(attempts) != 1 || attempts[0].(map[string]any)["status_code"] != 200.0 ||
			d["payload"].(map[string]any)["data"].(map[string]any)["id"] != d["event"] {
			t.Fatalf("delivery %v", d)
		}

		replayed := c.must(200, "POST", "/v1/webhook_deliveries/"+deliveryID+"/replay", nil)
		if replayed["status"] != "pending" || replayed["series"] != 1.0 || replayed["id"] != deliveryID {
			t.Fatalf("replayed %v", replayed)
		}
		test := c.must(201, "POST", "/v1/webhook_endpoints/"+id+"/test", nil)
		if test["event_type"] != "webhook.test" {
			t.Fatalf("test %v", test)
		}
		runWebhooks(t, wh, env)
		got = r.messages()
		if len(got) != 4 || (got[2].header.Get("webhook-id") != deliveryID && got[3].header.Get("webhook-id") != deliveryID) {
			t.Fatalf("%d messages after a replay and a test", len(got))
		}
		if d := c.must(200, "GET", "/v1/webhook_deliveries/"+deliveryID, nil); len(d["attempts"].([]any)) != 2 || d["status"] != "succeeded" {
			t.Fatalf("after the replay %v", d)
		}

		// An account's key sees none of it.
		key := c.must(201, "POST", "/v1/api_keys", map[string]any{"name": "acme", "account": "acme"})["key"].(string)
		asAccount := c.as(key)
		for _, r := range []struct{ method, path, body string }{
			{"POST", "/v1/webhook_endpoints", `{"url":"https://evil.example.com"}`},
			{"GET", "/v1/webhook_endpoints", ""},
			{"GET", "/v1/webhook_endpoints/" + id, ""},
			{"PATCH", "/v1/webhook_endpoints/" + id, `{"url":"https://evil.example.com"}`},
			{"DELETE", "/v1/webhook_endpoints/" + id, ""},
			{"POST", "/v1/webhook_endpoints/" + id + "/rotate_secret", ""},
			{"POST", "/v1/webhook_endpoints/" + id + "/test", ""},
			{"GET", "/v1/webhook_endpoints/" + id + "/deliveries", ""},
			{"GET", "/v1/webhook_deliveries/" + deliveryID, ""},
			{"POST", "/v1/webhook_deliveries/" + deliveryID + "/replay", ""},
		} {
			var body any
			if r.body != "" {
				body = r.body
			}
			if a := asAccount.do(r.method, r.path, body); a.status != 404 || a.problemCode(t) != billow.CodeNotFound || strings.Contains(string(a.body), "whsec_") {
				t.Errorf("%s %s with an account key: %d %s", r.method, r.path, a.status, a.body)
			}
		}
		after := c.must(200, "GET", "/v1/webhook_endpoints/"+id, nil)
		if after["url"] != r.srv.URL+"/billow" {
			t.Fatalf("an account key changed the endpoint: %v", after)
		}
		if list := c.must(200, "GET", "/v1/webhook_endpoints", nil); len(list["data"].([]any)) != 1 {
			t.Fatalf("an account key created an endpoint: %v", list)
		}
	})
}
