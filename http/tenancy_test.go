package http_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	billowhttp "github.com/billowhq/billow/http"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// tenancyRoute is one operation called with account B's key on account A's resources.
type tenancyRoute struct {
	method, pattern string // as in the OpenAPI document
	path            string // the pattern filled in with A's resources
	body            string
	// shared routes serve data that is no tenant's (the catalog); every key may read them.
	shared bool
	// ingest is the events route: any key may report its own usage, so the call succeeds,
	// but every event about account A is rejected as unknown_subject and none is stored.
	ingest bool
}

// TestTenantsNeverMeet walks every route of the API with another account's key and
// expects 404 on everything of account A, and on every operator-only route. The table
// must name every operation: a new route fails this test until it joins the table.
func TestTenantsNeverMeet(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		c := newBillingServer(t, env, nil)
		clock := c.must(201, "POST", "/v1/test_clocks", map[string]any{"name": "a", "frozen_time": "2026-01-15T09:00:00Z"})
		clockID := clock["id"].(string)
		a := c.must(201, "POST", "/v1/accounts", map[string]any{"external_id": "tenant-a", "name": "Tenant A", "test_clock": clockID})
		c.must(201, "POST", "/v1/accounts", map[string]any{"external_id": "tenant-b", "name": "Tenant B"})
		app := c.must(201, "POST", "/v1/accounts/tenant-a/apps", map[string]any{"external_id": "a-bot", "name": "A Bot"})
		member := c.must(201, "POST", "/v1/accounts/tenant-a/members", map[string]any{"email": "o@a.example", "role": "owner"})
		opKey := c.must(201, "POST", "/v1/api_keys", map[string]any{"name": "ops"})
		bKey := c.must(201, "POST", "/v1/api_keys", map[string]any{"name": "b", "account": "tenant-b"})["key"].(string)
		aKey := c.must(201, "POST", "/v1/api_keys", map[string]any{"name": "a", "account": "tenant-a"})["key"].(string)

		aID, appID, memberID := a["id"].(string), app["id"].(string), member["id"].(string)
		notification := `{"template":"bot_publish","account":"tenant-a","roles":["owner"],"data":{"app":"A Bot","app_url":"https://a.example/bot"}}`
		messageID := c.must(202, "POST", "/v1/notifications", notification)["data"].([]any)[0].(map[string]any)["id"].(string)
		deployID := c.must(201, "POST", "/v1/accounts/tenant-a/deployments", map[string]any{"app": "a-bot", "requested_by": memberID})["id"].(string)
		c.must(201, "POST", "/v1/accounts/tenant-a/grants", map[string]any{"kind": "paid", "amount_ucr": 5_000_000, "id": "a-credits"})
		holdID := c.must(201, "POST", "/v1/holds", map[string]any{"account": "tenant-a", "amount_ucr": 1_000_000, "id": "a-hold"})["hold"].(map[string]any)["id"].(string)
		// Billing: a card, a paid credits order with its invoice, a wire order awaiting
		// clearance, and a subscription.
		pm := c.must(201, "POST", "/v1/accounts/tenant-a/payment_methods", map[string]any{"kind": "card",
			"card": map[string]any{"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}})
		order := c.must(201, "POST", "/v1/accounts/tenant-a/orders", map[string]any{"credits": 1000,
			"billing_contact": map[string]any{"name": "A", "email": "billing@a.example"}})
		orderID, invoiceID := order["id"].(string), order["invoice"].(string)
		c.must(201, "POST", "/v1/accounts/tenant-a/payment_methods", map[string]any{"kind": "wire", "default": true})
		wireID := c.must(201, "POST", "/v1/accounts/tenant-a/orders", map[string]any{"subscribe": map[string]any{"plan": "pay_as_you_go"}})["id"].(string)
		routes := []tenancyRoute{
			{method: "POST", pattern: "/v1/api_keys", path: "/v1/api_keys", body: `{"name":"x","account":"tenant-a"}`},
			{method: "GET", pattern: "/v1/api_keys", path: "/v1/api_keys"},
			{method: "POST", pattern: "/v1/api_keys/{key}/revoke", path: "/v1/api_keys/" + opKey["id"].(string) + "/revoke"},
			{method: "POST", pattern: "/v1/accounts", path: "/v1/accounts", body: `{"external_id":"sneaky","name":"S"}`},
			{method: "GET", pattern: "/v1/accounts", path: "/v1/accounts"},
			{method: "GET", pattern: "/v1/accounts/{account}", path: "/v1/accounts/" + aID},
			{method: "PATCH", pattern: "/v1/accounts/{account}", path: "/v1/accounts/tenant-a", body: `{"name":"mine now"}`},
			{method: "POST", pattern: "/v1/accounts/{account}/catalog_migration", path: "/v1/accounts/" + aID + "/catalog_migration", body: `{"to_version":1}`},
			{method: "PUT", pattern: "/v1/accounts/{account}/contract", path: "/v1/accounts/tenant-a/contract", body: `{"plan":"enterprise","fees":{"month":"1.00"}}`},
			{method: "GET", pattern: "/v1/accounts/{account}/contract", path: "/v1/accounts/" + aID + "/contract"},
			{method: "DELETE", pattern: "/v1/accounts/{account}/contract", path: "/v1/accounts/tenant-a/contract"},
			{method: "POST", pattern: "/v1/accounts/{account}/apps", path: "/v1/accounts/tenant-a/apps", body: `{"external_id":"b-bot","name":"B"}`},
			{method: "GET", pattern: "/v1/accounts/{account}/apps", path: "/v1/accounts/" + aID + "/apps"},
			{method: "GET", pattern: "/v1/accounts/{account}/apps/{app}", path: "/v1/accounts/tenant-a/apps/" + appID},
			{method: "PATCH", pattern: "/v1/accounts/{account}/apps/{app}", path: "/v1/accounts/tenant-a/apps/a-bot", body: `{"name":"x"}`},
			{method: "POST", pattern: "/v1/accounts/{account}/members", path: "/v1/accounts/tenant-a/members", body: `{"email":"b@b.example","role":"owner"}`},
			{method: "GET", pattern: "/v1/accounts/{account}/members", path: "/v1/accounts/tenant-a/members"},
			{method: "GET", pattern: "/v1/accounts/{account}/members/{member}", path: "/v1/accounts/tenant-a/members/" + memberID},
			{method: "PATCH", pattern: "/v1/accounts/{account}/members/{member}", path: "/v1/accounts/tenant-a/members/" + memberID, body: `{"role":"developer"}`},
			{method: "DELETE", pattern: "/v1/accounts/{account}/members/{member}", path: "/v1/accounts/" + aID + "/members/" + memberID},
			{method: "POST", pattern: "/v1/events", path: "/v1/events", ingest: true,
				body: `[{"specversion":"1.0","id":"t1","source":"s","type":"api.request","subject":"tenant-a","time":"2026-01-15T09:00:00Z","data":{"app":"a-bot","client":"c"}}]`},
			{method: "GET", pattern: "/v1/accounts/{account}/usage", path: "/v1/accounts/tenant-a/usage?meter=billing_sessions&from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z"},
			{method: "GET", pattern: "/v1/accounts/{account}/usage/trends", path: "/v1/accounts/" + aID + "/usage/trends?range=7d"},
			{method: "GET", pattern: "/v1/accounts/{account}/usage/summary", path: "/v1/accounts/tenant-a/usage/summary"},
			{method: "GET", pattern: "/v1/accounts/{account}/wallet", path: "/v1/accounts/tenant-a/wallet"},
			{method: "GET", pattern: "/v1/accounts/{account}/auto_charge", path: "/v1/accounts/tenant-a/auto_charge"},
			{method: "PUT", pattern: "/v1/accounts/{account}/auto_charge", path: "/v1/accounts/" + aID + "/auto_charge", body: `{"enabled":true,"threshold_credits":500,"top_up_credits":1000}`},
			{method: "POST", pattern: "/v1/accounts/{account}/grants", path: "/v1/accounts/" + aID + "/grants", body: `{"kind":"paid","amount_ucr":1000000,"id":"sneaky-grant"}`},
			{method: "GET", pattern: "/v1/accounts/{account}/transactions", path: "/v1/accounts/tenant-a/transactions"},
			{method: "GET", pattern: "/v1/accounts/{account}/transactions.csv", path: "/v1/accounts/tenant-a/transactions.csv?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z"},
			{method: "POST", pattern: "/v1/accounts/{account}/deployments", path: "/v1/accounts/tenant-a/deployments", body: `{"app":"a-bot","requested_by":"` + memberID + `"}`},
			{method: "GET", pattern: "/v1/accounts/{account}/deployments", path: "/v1/accounts/" + aID + "/deployments?status=pending"},
			{method: "GET", pattern: "/v1/accounts/{account}/deployments/{deployment}", path: "/v1/accounts/tenant-a/deployments/" + deployID},
			{method: "POST", pattern: "/v1/accounts/{account}/deployments/{deployment}/approve", path: "/v1/accounts/tenant-a/deployments/" + deployID + "/approve", body: `{"decided_by":"` + memberID + `"}`},
			{method: "POST", pattern: "/v1/accounts/{account}/deployments/{deployment}/reject", path: "/v1/accounts/tenant-a/deployments/" + deployID + "/reject", body: `{"decided_by":"` + memberID + `","reason":"mine now"}`},
			{method: "POST", pattern: "/v1/checks", path: "/v1/checks", body: `{"account":"tenant-a","action":"start_conversation"}`},
			{method: "POST", pattern: "/v1/holds", path: "/v1/holds", body: `{"account":"tenant-a","amount_ucr":1,"id":"b-hold"}`},
			{method: "GET", pattern: "/v1/holds/{hold}", path: "/v1/holds/" + holdID},
			{method: "POST", pattern: "/v1/holds/{hold}/capture", path: "/v1/holds/" + holdID + "/capture", body: `{"amount_ucr":1}`},
			{method: "POST", pattern: "/v1/holds/{hold}/release", path: "/v1/holds/" + holdID + "/release"},
			{method: "POST", pattern: "/v1/accounts/{account}/payment_methods", path: "/v1/accounts/tenant-a/payment_methods", body: `{"kind":"wire"}`},
			{method: "GET", pattern: "/v1/accounts/{account}/payment_methods", path: "/v1/accounts/" + aID + "/payment_methods"},
			{method: "POST", pattern: "/v1/accounts/{account}/orders", path: "/v1/accounts/tenant-a/orders", body: `{"credits":1000,"payment_method":"` + pm["id"].(string) + `"}`},
			{method: "GET", pattern: "/v1/accounts/{account}/orders", path: "/v1/accounts/tenant-a/orders"},
			{method: "GET", pattern: "/v1/accounts/{account}/orders/{order}", path: "/v1/accounts/tenant-a/orders/" + orderID},
			{method: "POST", pattern: "/v1/accounts/{account}/orders/{order}/confirm", path: "/v1/accounts/tenant-a/orders/" + orderID + "/confirm", body: `{"otp":"123456"}`},
			{method: "POST", pattern: "/v1/accounts/{account}/orders/preview", path: "/v1/accounts/tenant-a/orders/preview", body: `{"credits":1000}`},
			{method: "POST", pattern: "/v1/quotes", path: "/v1/quotes", body: `{"account":"tenant-a","conversations_per_month":100}`},
			{method: "POST", pattern: "/v1/accounts/{account}/orders/{order}/clear", path: "/v1/accounts/tenant-a/orders/" + wireID + "/clear"},
			{method: "GET", pattern: "/v1/accounts/{account}/subscription", path: "/v1/accounts/tenant-a/subscription"},
			{method: "GET", pattern: "/v1/accounts/{account}/subscriptions", path: "/v1/accounts/" + aID + "/subscriptions"},
			{method: "POST", pattern: "/v1/accounts/{account}/subscription/cancel", path: "/v1/accounts/tenant-a/subscription/cancel", body: `{"at_once":true}`},
			{method: "POST", pattern: "/v1/accounts/{account}/subscription/resume", path: "/v1/accounts/tenant-a/subscription/resume"},
			{method: "GET", pattern: "/v1/accounts/{account}/billing_events", path: "/v1/accounts/tenant-a/billing_events"},
			{method: "GET", pattern: "/v1/accounts/{account}/invoices", path: "/v1/accounts/tenant-a/invoices"},
			{method: "GET", pattern: "/v1/accounts/{account}/invoices/upcoming", path: "/v1/accounts/tenant-a/invoices/upcoming"},
			{method: "GET", pattern: "/v1/accounts/{account}/invoices.csv", path: "/v1/accounts/tenant-a/invoices.csv?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z"},
			{method: "GET", pattern: "/v1/invoices/{invoice}", path: "/v1/invoices/" + invoiceID},
			{method: "POST", pattern: "/v1/invoices/{invoice}/pay", path: "/v1/invoices/" + invoiceID + "/pay"},
			{method: "GET", pattern: "/v1/invoices/{invoice}/pdf", path: "/v1/invoices/" + invoiceID + "/pdf"},
			{method: "POST", pattern: "/v1/portal_sessions", path: "/v1/portal_sessions", body: `{"account":"tenant-a","member":"` + memberID + `"}`},
			{method: "POST", pattern: "/v1/test_clocks", path: "/v1/test_clocks", body: `{"name":"mine","frozen_time":"2026-01-15T09:00:00Z"}`},
			{method: "GET", pattern: "/v1/test_clocks/{clock}", path: "/v1/test_clocks/" + clockID},
			{method: "POST", pattern: "/v1/test_clocks/{clock}/advance", path: "/v1/test_clocks/" + clockID + "/advance", body: `{"frozen_time":"2026-03-15T09:00:00Z"}`},
			// Emails: an account's own; previews and the catalogue are no tenant's; the demo
			// mail catcher is the operator's.
			{method: "POST", pattern: "/v1/notifications", path: "/v1/notifications", body: notification},
			{method: "GET", pattern: "/v1/notifications", path: "/v1/notifications?account=tenant-a"},
			{method: "GET", pattern: "/v1/notifications/{notification}", path: "/v1/notifications/" + messageID},
			{method: "POST", pattern: "/v1/notifications/preview", path: "/v1/notifications/preview", body: `{"template":"bot_publish"}`, shared: true},
			{method: "GET", pattern: "/v1/notification_templates", path: "/v1/notification_templates", shared: true},
			{method: "GET", pattern: "/v1/demo/mail", path: "/v1/demo/mail"},
			// Webhooks are the operator's alone; webhooks_test.go calls them with real ids.
			{method: "POST", pattern: "/v1/webhook_endpoints", path: "/v1/webhook_endpoints", body: `{"url":"https://evil.example.com"}`},
			{method: "GET", pattern: "/v1/webhook_endpoints", path: "/v1/webhook_endpoints"},
			{method: "GET", pattern: "/v1/webhook_endpoints/{endpoint}", path: "/v1/webhook_endpoints/we_any"},
			{method: "PATCH", pattern: "/v1/webhook_endpoints/{endpoint}", path: "/v1/webhook_endpoints/we_any", body: `{"enabled":false}`},
			{method: "DELETE", pattern: "/v1/webhook_endpoints/{endpoint}", path: "/v1/webhook_endpoints/we_any"},
			{method: "POST", pattern: "/v1/webhook_endpoints/{endpoint}/rotate_secret", path: "/v1/webhook_endpoints/we_any/rotate_secret"},
			{method: "POST", pattern: "/v1/webhook_endpoints/{endpoint}/test", path: "/v1/webhook_endpoints/we_any/test"},
			{method: "GET", pattern: "/v1/webhook_endpoints/{endpoint}/deliveries", path: "/v1/webhook_endpoints/we_any/deliveries"},
			{method: "GET", pattern: "/v1/webhook_deliveries/{delivery}", path: "/v1/webhook_deliveries/msg_any"},
			{method: "POST", pattern: "/v1/webhook_deliveries/{delivery}/replay", path: "/v1/webhook_deliveries/msg_any/replay"},
			{method: "GET", pattern: "/v1/catalog", path: "/v1/catalog", shared: true},
			{method: "GET", pattern: "/v1/catalogs", path: "/v1/catalogs", shared: true},
			{method: "GET", pattern: "/v1/catalogs/{catalog}", path: "/v1/catalogs/credits-platform", shared: true},
			{method: "GET", pattern: "/v1/catalogs/{catalog}/versions", path: "/v1/catalogs/credits-platform/versions", shared: true},
			{method: "GET", pattern: "/v1/catalogs/{catalog}/versions/{version}", path: "/v1/catalogs/credits-platform/versions/1", shared: true},
		}

		// Every operation of the API is in the table.
		api := billowhttp.New(billowhttp.Config{Store: env.DB}).OpenAPI()
		var missing []string
		for pattern, item := range api.Paths {
			for method, op := range map[string]*huma.Operation{"GET": item.Get, "POST": item.Post, "PATCH": item.Patch, "PUT": item.Put, "DELETE": item.Delete} {
				if op == nil {
					continue
				}
				if !slices.ContainsFunc(routes, func(r tenancyRoute) bool { return r.method == method && r.pattern == pattern }) {
					missing = append(missing, method+" "+pattern)
				}
			}
		}
		if len(missing) > 0 {
			t.Fatalf("routes missing from the tenancy table: %s", strings.Join(missing, ", "))
		}

		walletBefore := c.must(200, "GET", "/v1/accounts/tenant-a/wallet", nil)["balance_ucr"]
		asB := c.as(bKey)
		for _, r := range routes {
			var body any
			if r.body != "" {
				body = r.body
			}
			got := asB.do(r.method, r.path, body)
			want := 404
			if r.shared || r.ingest {
				want = 200
			}
			if r.ingest && (got.status != 200 || !strings.Contains(string(got.body), `"accepted":0`) ||
				!strings.Contains(string(got.body), `"code":"unknown_subject"`)) {
				t.Errorf("events about another account were not all rejected: %d %s", got.status, got.body)
			}
			if got.status != want {
				t.Errorf("%s %s with another account's key = %d, want %d: %s", r.method, r.path, got.status, want, got.body)
			} else if want == 404 && got.problemCode(t) != "not_found" {
				t.Errorf("%s %s: code %s", r.method, r.path, got.problemCode(t))
			}
		}
		// Nothing B tried changed A, and A's own key still sees all of it.
		asA := c.as(aKey)
		if got := asA.must(200, "GET", "/v1/accounts/tenant-a", nil); got["name"] != "Tenant A" {
			t.Fatalf("account A changed: %v", got)
		}
		asA.must(200, "GET", "/v1/accounts/tenant-a/members/"+memberID, nil)
		if h := asA.must(200, "GET", "/v1/holds/"+holdID, nil)["hold"].(map[string]any); h["status"] != "active" {
			t.Fatalf("A's hold changed: %v", h)
		}
		if d := asA.must(200, "GET", "/v1/accounts/tenant-a/deployments/"+deployID, nil); d["status"] != "pending" {
			t.Fatalf("A's deployment request changed: %v", d)
		}
		if ds := asA.must(200, "GET", "/v1/accounts/tenant-a/deployments", nil); len(ds["data"].([]any)) != 1 {
			t.Fatalf("deployment requests of A = %v", ds)
		}
		if apps := asA.must(200, "GET", "/v1/accounts/tenant-a/apps", nil); len(apps["data"].([]any)) != 1 {
			t.Fatalf("apps of A = %v", apps)
		}
		c.must(404, "GET", "/v1/accounts/sneaky", nil)
		// A's billing is as it was: the wire order still waits, the clock did not move,
		// one card order and its invoice.
		if o := asA.must(200, "GET", "/v1/accounts/tenant-a/orders/"+wireID, nil); o["status"] != "pending_payment" {
			t.Fatalf("A's wire order changed: %v", o)
		}
		if s := asA.must(200, "GET", "/v1/accounts/tenant-a/subscription", nil); s["status"] != "incomplete" {
			t.Fatalf("A's subscription changed: %v", s)
		}
		if got := c.must(200, "GET", "/v1/test_clocks/"+clockID, nil); got["frozen_time"] != "2026-01-15T09:00:00Z" {
			t.Fatalf("A's test clock moved: %v", got)
		}
		if orders := asA.must(200, "GET", "/v1/accounts/tenant-a/orders", nil); len(orders["data"].([]any)) != 2 {
			t.Fatalf("orders of A = %v", orders)
		}
		if ms := asA.must(200, "GET", "/v1/accounts/tenant-a/payment_methods", nil); len(ms["data"].([]any)) != 2 {
			t.Fatalf("payment methods of A = %v", ms)
		}
		if w := asA.must(200, "GET", "/v1/accounts/tenant-a/wallet", nil); w["balance_ucr"] != walletBefore {
			t.Fatalf("wallet of A = %v, was %v", w, walletBefore)
		}
		if ac, err := env.DB.AutoCharge(context.Background(), aID); err == nil {
			t.Fatalf("B set A's auto-charge: %+v", ac)
		}
		if n, err := env.DB.CountEvents(context.Background(), a["id"].(string)); err != nil || n != 0 {
			t.Fatalf("account A has %d events after B's attempt, %v", n, err)
		}
		// A's key is refused on B as B's is on A.
		asA.must(404, "GET", "/v1/accounts/tenant-b", nil)
	})
}
