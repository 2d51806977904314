package http_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// TestOrderPreviewAPI previews orders over a real listener with the account's own key:
// a subscription, then an upgrade in the middle of its period, each the invoice the
// order then gets line for line and charged; nothing stored by a preview; a downgrade
// that waits for the period's end; the refusals of an order; another account's key and
// an enterprise account's own key get 404.
func TestOrderPreviewAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		op := newBillingServer(t, env, nil)
		clock, c := op.billingAccount("acme", "standard")
		_, other := op.billingAccount("other", "standard")
		const preview = "/v1/accounts/acme/orders/preview"
		c.must(201, "POST", "/v1/accounts/acme/payment_methods", card("4242424242424242"))

		count := func() [2]int {
			return [2]int{len(c.must(200, "GET", "/v1/accounts/acme/orders", nil)["data"].([]any)),
				len(c.must(200, "GET", "/v1/accounts/acme/invoices", nil)["data"].([]any))}
		}
		// same checks that a submitted order's invoice is its preview's.
		same := func(p, order map[string]any) {
			t.Helper()
			inv := c.must(200, "GET", "/v1/invoices/"+order["invoice"].(string), nil)
			pi := p["invoice"].(map[string]any)
			for _, field := range []string{"subtotal_minor", "tax_minor", "total_minor", "currency", "period_start", "period_end"} {
				if diff := cmp.Diff(pi[field], inv[field]); diff != "" {
					t.Errorf("%s differs (-preview +invoice):\n%s", field, diff)
				}
			}
			type line struct {
				Description string
				Amount      float64
			}
			var pl, il []line
			for _, l := range pi["lines"].([]any) {
				pl = append(pl, line{l.(map[string]any)["description"].(string), l.(map[string]any)["amount_minor"].(float64)})
			}
			for _, l := range inv["lines"].([]any) {
				il = append(il, line{l.(map[string]any)["description"].(string), l.(map[string]any)["amount_minor"].(float64)})
			}
			if diff := cmp.Diff(pl, il); diff != "" {
				t.Errorf("lines differ (-preview +invoice):\n%s", diff)
			}
			if p["charge_minor"] != order["amount_minor"] {
				t.Errorf("preview charges %v, the order %v", p["charge_minor"], order["amount_minor"])
			}
		}

		subscribe := map[string]any{"subscribe": map[string]any{"plan": "essential"}}
		before := count()
		p := c.must(200, "POST", preview, subscribe)
		if after := count(); after != before {
			t.Fatalf("the preview stored: %v → %v", before, after)
		}
		if pi := p["invoice"].(map[string]any); pi["status"] != "draft" || pi["id"] != "" || pi["number"] != nil ||
			pi["total_minor"].(float64) != 5000 || p["immediate"] != true || p["charge_minor"].(float64) != 5000 {
			t.Fatalf("preview = %v", p)
		}
		same(p, c.must(201, "POST", "/v1/accounts/acme/orders", subscribe))

		// Ten days on, an upgrade with an add-on: prorated.
		op.must(200, "POST", "/v1/test_clocks/"+clock+"/advance", map[string]any{"frozen_time": clockStart.AddDate(0, 0, 10).Format(time.RFC3339)})
		upgrade := map[string]any{"change": map[string]any{"plan": "advanced", "add_ons": []any{map[string]any{"add_on": "advanced_rag", "quantity": 1}}}}
		before = count()
		p = c.must(200, "POST", preview, upgrade)
		if after := count(); after != before {
			t.Fatalf("the preview stored: %v → %v", before, after)
		}
		if n := len(p["invoice"].(map[string]any)["lines"].([]any)); n != 3 {
			t.Fatalf("upgrade preview has %d lines: %v", n, p)
		}
		same(p, c.must(201, "POST", "/v1/accounts/acme/orders", upgrade))

		// A downgrade: nothing now, at the end of the period.
		sub := c.must(200, "GET", "/v1/accounts/acme/subscription", nil)
		p = c.must(200, "POST", preview, map[string]any{"change": map[string]any{"plan": "essential"}})
		if p["immediate"] != false || p["effective_at"] != sub["current_period_end"] || p["charge_minor"].(float64) != 0 ||
			len(p["invoice"].(map[string]any)["lines"].([]any)) != 0 {
			t.Fatalf("downgrade preview = %v (period ends %v)", p, sub["current_period_end"])
		}

		// Refused as the order would be.
		if a := c.do("POST", preview, subscribe); a.status != 409 || a.problemCode(t) != billow.CodeSubscriptionExists {
			t.Fatalf("a second subscription = %d %s", a.status, a.body)
		}
		if a := c.do("POST", preview, map[string]any{"change": map[string]any{"plan": "nope"}}); a.status != 422 || a.problemCode(t) != billow.CodeUnknownPlan {
			t.Fatalf("an unknown plan = %d %s", a.status, a.body)
		}
		if a := c.do("POST", preview, map[string]any{}); a.status != 422 || a.problemCode(t) != billow.CodeValidationFailed {
			t.Fatalf("nothing to buy = %d %s", a.status, a.body)
		}
		// Other tenants: not found.
		if a := other.do("POST", preview, subscribe); a.status != 404 {
			t.Fatalf("another account's key = %d %s", a.status, a.body)
		}
		_, big := op.billingAccount("bigco", "enterprise")
		if a := big.do("POST", "/v1/accounts/bigco/orders/preview", map[string]any{"subscribe": map[string]any{"plan": "enterprise"}}); a.status != 404 {
			t.Fatalf("an enterprise account's own key = %d %s", a.status, a.body)
		}
		if p := op.must(200, "POST", "/v1/accounts/bigco/orders/preview", map[string]any{"subscribe": map[string]any{"plan": "enterprise"}}); p["invoice"].(map[string]any)["total_minor"].(float64) != 500000 {
			t.Fatalf("the operator's enterprise preview = %v", p)
		}
	})
}
