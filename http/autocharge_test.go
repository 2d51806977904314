package http_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/autocharge"
	"github.com/billowhq/billow/billing"
	"github.com/billowhq/billow/checks"
	billowhttp "github.com/billowhq/billow/http"
	"github.com/billowhq/billow/ingest"
	"github.com/billowhq/billow/payment/sandbox"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// newAutoChargeServer is newServer with the billing and auto-charge services, and the
// auto-charge service itself, whose passes the tests run by hand.
func newAutoChargeServer(t *testing.T, env *storetest.Env) (*apiClient, *autocharge.Service) {
	t.Helper()
	bill, err := billing.New(billing.Config{Store: env.DB, Gateway: sandbox.New(env.Clock), Clock: env.Clock})
	if err != nil {
		t.Fatal(err)
	}
	ac, err := autocharge.New(autocharge.Config{Store: env.DB, Billing: bill, Clock: env.Clock})
	if err != nil {
		t.Fatal(err)
	}
	checker := checks.New(checks.Config{Store: env.DB, Clock: env.Clock, Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(billowhttp.New(billowhttp.Config{Store: env.DB, AdminKey: adminKey, DefaultCatalog: "credits-platform",
		Ingester: ingest.New(env.DB, env.Clock), Checker: checker, Billing: bill, AutoCharge: ac, Branding: testBranding}))
	t.Cleanup(srv.Close)
	return &apiClient{t: t, base: srv.URL, key: adminKey, env: env, checker: checker}, ac
}

// An account sets its auto-charge with its own key, as the portal does: bad settings are
// refused with a problem naming the field and change nothing; a balance spent below the
// threshold is topped up once, and the notices are in the billing events.
func TestAutoChargeAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		op, runner := newAutoChargeServer(t, env)
		a := op.must(201, "POST", "/v1/accounts", map[string]any{"external_id": "acme", "name": "Acme",
			"billing_contact": map[string]any{"name": "Ada Acme", "email": "billing@acme.test"}})
		c := op.as(op.must(201, "POST", "/v1/api_keys", map[string]any{"name": "acme", "account": "acme"})["key"].(string))

		// Another account's key sees neither.
		op.must(201, "POST", "/v1/accounts", map[string]any{"external_id": "other", "name": "Other"})
		other := op.as(op.must(201, "POST", "/v1/api_keys", map[string]any{"name": "other", "account": "other"})["key"].(string))
		other.must(404, "GET", "/v1/accounts/acme/auto_charge", nil)
		other.must(404, "PUT", "/v1/accounts/"+a["id"].(string)+"/auto_charge", map[string]any{"threshold_credits": 500})

		got := c.must(200, "GET", "/v1/accounts/acme/auto_charge", nil)
		if got["enabled"] != false || got["threshold_credits"] != float64(0) || got["in_flight"] != false || got["account"] != a["id"] {
			t.Fatalf("auto-charge never set = %v", got)
		}
		refused := func(status int, body map[string]any, code, location string) {
			t.Helper()
			ans := c.do("PUT", "/v1/accounts/acme/auto_charge", body)
			if ans.status != status || ans.problemCode(t) != code {
				t.Fatalf("PUT %v = %d %s, want %d %s", body, ans.status, ans.body, status, code)
			}
			errs, _ := ans.json(t)["errors"].([]any)
			if len(errs) == 0 || errs[0].(map[string]any)["location"] != location {
				t.Fatalf("PUT %v: errors %v, want one at %s", body, errs, location)
			}
			if got := c.must(200, "GET", "/v1/accounts/acme/auto_charge", nil); got["threshold_credits"] != float64(0) {
				t.Fatalf("a refused setting was stored: %v", got)
			}
		}
		refused(422, map[string]any{"threshold_credits": 0}, "validation_failed", "body.threshold_credits")
		refused(422, map[string]any{"threshold_credits": 500, "enabled": true}, "validation_failed", "body.top_up_credits")
		refused(422, map[string]any{"threshold_credits": 500, "top_up_credits": 500}, "validation_failed", "body.top_up_credits")
		refused(409, map[string]any{"threshold_credits": 500, "top_up_credits": 2000, "enabled": true}, "payment_method_missing", "body.enabled")

		c.must(201, "POST", "/v1/accounts/acme/payment_methods", card(sandbox.CardVisa))
		set := c.must(200, "PUT", "/v1/accounts/acme/auto_charge", map[string]any{"threshold_credits": 500, "top_up_credits": 2000, "enabled": true})
		if set["enabled"] != true || set["threshold_credits"] != float64(500) || set["top_up_credits"] != float64(2000) {
			t.Fatalf("set = %v", set)
		}

		op.must(201, "POST", "/v1/accounts/acme/grants", map[string]any{"kind": "paid", "amount_ucr": 1000 * billow.MicroCreditsPerCredit, "id": "opening"})
		if _, err := env.DB.Spend(context.Background(), billow.SpendInput{Account: a["id"].(string), AmountUcr: 600 * billow.MicroCreditsPerCredit,
			ID: "work", Cause: billow.CauseUsage}); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := runner.Run(context.Background(), env.Clock.Now()); err != nil {
				t.Fatal(err)
			}
		}
		if w := c.must(200, "GET", "/v1/accounts/acme/wallet", nil); w["balance_credits"] != "2400" {
			t.Fatalf("wallet after the top-up %v", w)
		}
		got = c.must(200, "GET", "/v1/accounts/acme/auto_charge", nil)
		orders := ids(t, c.must(200, "GET", "/v1/accounts/acme/orders", nil))
		if len(orders) != 1 || got["last_outcome"] != "succeeded" || got["last_order"] != orders[0] || got["low_balance_notified"] != false {
			t.Fatalf("auto-charge after the top-up %v, orders %v", got, orders)
		}
		var notices []string
		for _, e := range c.must(200, "GET", "/v1/accounts/acme/billing_events", nil)["data"].([]any) {
			switch typ := e.(map[string]any)["type"].(string); typ {
			case billow.EventCreditsLowBalance, billow.EventCreditsExhausted, billow.EventAutoChargeSucceeded, billow.EventAutoChargeFailed:
				notices = append(notices, typ)
			}
		}
		if len(notices) != 2 || notices[0] != billow.EventCreditsLowBalance || notices[1] != billow.EventAutoChargeSucceeded {
			t.Fatalf("billing events %v", notices)
		}
	})
}
