package http_test

import (
	"strings"
	"testing"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// TestContractsAPI sets, reads and ends an enterprise contract over a real listener with
// the operator's key; the account's own key can do none of it, nor see the contract on
// its account. A contract that invoices outside Billow lets the account subscribe with no
// payment method, and its invoice says external.
func TestContractsAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		op := newBillingServer(t, env, nil)
		_, c := op.billingAccount("bigco", "enterprise")
		op.billingAccount("smallco", "standard")
		path := "/v1/accounts/bigco/contract"
		op.must(404, "GET", path, nil)

		terms := map[string]any{"reference": "ENT-2026-001", "plan": "enterprise", "fees": map[string]any{"month": "3000.00"},
			"limits":                   map[string]any{"ingested_bytes": map[string]any{"limit": 5_000_000_000, "allowance_percent": "1"}},
			"invoicing_outside_billow": true}
		set := op.must(200, "PUT", path, terms)
		if set["plan"] != "enterprise" || set["reference"] != "ENT-2026-001" || set["invoicing_outside_billow"] != true ||
			set["fees"].(map[string]any)["month"] != "3000.00" || set["updated_at"] == "" || !strings.HasPrefix(set["account"].(string), "acct_") {
			t.Fatalf("PUT = %v", set)
		}
		if got := op.must(200, "GET", "/v1/accounts/bigco/contract", nil); got["updated_at"] != set["updated_at"] ||
			got["limits"].(map[string]any)["ingested_bytes"].(map[string]any)["limit"].(float64) != 5_000_000_000 {
			t.Fatalf("GET = %v", got)
		}

		// The account's own key: not found, as for every operator-only operation, and
		// nothing changes.
		for _, r := range []struct {
			method string
			body   any
		}{{"GET", nil}, {"PUT", map[string]any{"plan": "enterprise", "fees": map[string]any{"month": "1.00"}}}, {"DELETE", nil}} {
			if a := c.do(r.method, path, r.body); a.status != 404 || a.problemCode(t) != billow.CodeNotFound {
				t.Fatalf("%s with the account's key = %d %s", r.method, a.status, a.body)
			}
		}
		if got := op.must(200, "GET", path, nil); got["fees"].(map[string]any)["month"] != "3000.00" || got["updated_at"] != set["updated_at"] {
			t.Fatalf("the account's key changed the contract: %v", got)
		}
		if a := c.do("GET", "/v1/accounts/bigco", nil); a.status != 200 || strings.Contains(string(a.body), "3000") ||
			strings.Contains(string(a.body), "contract") {
			t.Fatalf("the account shows its contract: %s", a.body)
		}

		// Refusals: a standard account, a plan without custom pricing, invalid fields.
		if a := op.do("PUT", "/v1/accounts/smallco/contract", terms); a.status != 409 || a.problemCode(t) != billow.CodeContractNotAllowed {
			t.Fatalf("a standard account's contract = %d %s", a.status, a.body)
		}
		a := op.do("PUT", path, map[string]any{"plan": "enterprise", "fees": map[string]any{"month": "-1"},
			"rates": []any{map[string]any{"meter": "voice_sessions", "model": "per_unit", "unit_price": "0.05", "tiers": []any{}}}})
		if a.status != 422 || a.problemCode(t) != billow.CodeValidationFailed ||
			!strings.Contains(string(a.body), `"body.fees.month"`) || !strings.Contains(string(a.body), `"body.rates[0].tiers"`) {
			t.Fatalf("invalid contract = %d %s", a.status, a.body)
		}
		if a := op.do("PUT", path, map[string]any{"plan": "enterprise", "rates": []any{map[string]any{"meter": "voice_sessions", "model": "flat"}}}); a.status != 422 {
			t.Fatalf("an unknown model = %d %s", a.status, a.body)
		}
		if a := op.do("PUT", path, map[string]any{"plan": "enterprise", "rates": []any{map[string]any{"meter": "voice_seconds", "model": "per_unit", "unit_price": "0.01"}}}); a.status != 422 ||
			!strings.Contains(string(a.body), `"body.rates[0]"`) {
			t.Fatalf("a rate the plan does not have = %d %s", a.status, a.body)
		}
		if got := op.must(200, "GET", path, nil); got["updated_at"] != set["updated_at"] {
			t.Fatalf("a refused contract was written: %v", got)
		}

		// Invoicing outside Billow: the account subscribes with no payment method, at the
		// contract's fee; the invoice is the operator's, open, external.
		o := c.must(201, "POST", "/v1/accounts/bigco/orders", map[string]any{"subscribe": map[string]any{"plan": "enterprise"}})
		if o["status"] != "completed" {
			t.Fatalf("order = %v", o)
		}
		inv := op.must(200, "GET", "/v1/invoices/"+o["invoice"].(string), nil)
		if inv["status"] != "open" || inv["payment_status"] != "external" || inv["total_minor"].(float64) != 300_000 {
			t.Fatalf("invoice = %v", inv)
		}
		op.must(409, "POST", "/v1/invoices/"+o["invoice"].(string)+"/pay", nil)
		if a := op.do("GET", "/v1/accounts/bigco/invoices.csv?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z", nil); a.status != 200 ||
			!strings.Contains(string(a.body), ",3000.00,,external,INV-") {
			t.Fatalf("CSV = %d %s", a.status, a.body)
		}
		if a := op.do("GET", "/v1/invoices/"+o["invoice"].(string)+"/pdf", nil); a.status != 200 {
			t.Fatalf("PDF = %d", a.status)
		}

		// The contract ends.
		if got := op.must(200, "DELETE", path, nil); got["reference"] != "ENT-2026-001" {
			t.Fatalf("DELETE = %v", got)
		}
		op.must(404, "GET", path, nil)
		op.must(404, "DELETE", path, nil)
	})
}
