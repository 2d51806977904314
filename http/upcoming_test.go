package http_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// TestUpcomingInvoiceAPI previews the upcoming invoice over a real listener with the
// account's own key: none before a subscription, then a draft without id or number
// billed at the period end, stored nowhere, that the renewal then issues line for line;
// none once the subscription is set to cancel. Another account's key gets 404 not_found,
// and so does an enterprise account's own key: its invoices are the operator's.
func TestUpcomingInvoiceAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		op := newBillingServer(t, env, nil)
		clock, c := op.billingAccount("acme", "standard")
		_, other := op.billingAccount("other", "standard")
		const upcoming = "/v1/accounts/acme/invoices/upcoming"

		if a := c.do("GET", upcoming, nil); a.status != 404 || a.problemCode(t) != billow.CodeNoSubscription {
			t.Fatalf("upcoming without a subscription = %d %s", a.status, a.body)
		}
		c.must(201, "POST", "/v1/accounts/acme/payment_methods", card("4242424242424242"))
		c.must(201, "POST", "/v1/accounts/acme/orders", map[string]any{"subscribe": map[string]any{"plan": "essential",
			"add_ons": []any{map[string]any{"add_on": "advanced_rag", "quantity": 1}}}})
		sub := c.must(200, "GET", "/v1/accounts/acme/subscription", nil)

		invoices := func() int { return len(c.must(200, "GET", "/v1/accounts/acme/invoices", nil)["data"].([]any)) }
		before := invoices()
		preview := c.must(200, "GET", upcoming, nil)
		if preview["status"] != "draft" || preview["id"] != "" || preview["number"] != nil || preview["billing_date"] != sub["current_period_end"] ||
			preview["period_start"] != sub["current_period_end"] || preview["subtotal_minor"].(float64) != 25000 || len(preview["lines"].([]any)) != 2 {
			t.Fatalf("preview = %v (subscription %v)", preview, sub)
		}
		if op.must(200, "GET", upcoming, nil)["total_minor"] != preview["total_minor"] {
			t.Fatal("the operator's preview differs from the account's")
		}
		if invoices() != before {
			t.Fatalf("the preview stored an invoice")
		}

		// Another account's key: not found, as for anything of another tenant.
		if a := other.do("GET", upcoming, nil); a.status != 404 || a.problemCode(t) != billow.CodeNotFound {
			t.Fatalf("another account's key = %d %s", a.status, a.body)
		}

		// The renewal is the preview.
		op.must(200, "POST", "/v1/test_clocks/"+clock+"/advance", map[string]any{"frozen_time": clockStart.AddDate(0, 0, 35).Format(time.RFC3339)})
		list := c.must(200, "GET", "/v1/accounts/acme/invoices", nil)["data"].([]any)
		renewal := list[len(list)-1].(map[string]any)
		for _, field := range []string{"lines", "subtotal_minor", "tax_minor", "total_minor", "billing_date", "due_at", "period_start", "period_end", "currency", "subscription"} {
			if diff := cmp.Diff(preview[field], renewal[field]); diff != "" {
				t.Errorf("renewal %s differs from the preview (-preview +renewal):\n%s", field, diff)
			}
		}

		// Set to cancel at period end: nothing upcoming.
		c.must(200, "POST", "/v1/accounts/acme/subscription/cancel", nil)
		if a := c.do("GET", upcoming, nil); a.status != 404 || a.problemCode(t) != billow.CodeNoUpcomingInvoice {
			t.Fatalf("upcoming of a subscription set to cancel = %d %s", a.status, a.body)
		}

		// An enterprise account's preview is the operator's only.
		_, big := op.billingAccount("bigco", "enterprise")
		big.must(201, "POST", "/v1/accounts/bigco/payment_methods", card("4242424242424242"))
		big.must(201, "POST", "/v1/accounts/bigco/orders", map[string]any{"subscribe": map[string]any{"plan": "enterprise"}})
		if a := big.do("GET", "/v1/accounts/bigco/invoices/upcoming", nil); a.status != 404 || a.problemCode(t) != billow.CodeNotFound {
			t.Fatalf("an enterprise account's own key = %d %s", a.status, a.body)
		}
		if p := op.must(200, "GET", "/v1/accounts/bigco/invoices/upcoming", nil); p["lines"].([]any)[0].(map[string]any)["description"] != "Enterprise plan" {
			t.Fatalf("the operator's enterprise preview = %v", p)
		}
	})
}
