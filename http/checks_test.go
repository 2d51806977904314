package http_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/sqlstore/storetest"
)

func TestChecksAndHoldsAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		c := newServer(t, env)
		c.must(201, "POST", "/v1/accounts", map[string]any{"external_id": "acme", "name": "Acme", "plan": "free"})
		c.must(201, "POST", "/v1/accounts", map[string]any{"external_id": "other", "name": "Other", "plan": "free"})
		acme := c.as(c.must(201, "POST", "/v1/api_keys", map[string]any{"name": "acme", "account": "acme"})["key"].(string))
		other := c.as(c.must(201, "POST", "/v1/api_keys", map[string]any{"name": "other", "account": "other"})["key"].(string))
		poll := func() {
			t.Helper()
			if err := c.checker.Poll(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		start := map[string]any{"account": "acme", "action": "start_conversation"}
		if r := acme.must(200, "POST", "/v1/checks", start); r["allowed"] != false || r["code"] != billow.CodeInsufficientCredits {
			t.Fatalf("check with no credits: %v", r)
		}
		c.must(201, "POST", "/v1/accounts/acme/grants", map[string]any{"kind": "paid", "amount_ucr": 10_000_000, "id": "pack"})
		poll()
		if r := acme.must(200, "POST", "/v1/checks", start); r["allowed"] != true || r["code"] != billow.CodeAllowed || r["as_of"] == "" {
			t.Fatalf("check with credits: %v", r)
		}
		// Another tenant's account does not exist for this key; bad input is a problem.
		if a := other.do("POST", "/v1/checks", start); a.status != 404 || a.problemCode(t) != billow.CodeNotFound {
			t.Fatalf("other tenant's check: %d %s", a.status, a.body)
		}
		for _, bad := range []map[string]any{
			{"account": "acme", "action": "fly"},
			{"account": "acme", "action": "llm_call", "quantity": -1},
			{"account": "acme", "action": "deploy_app"},
		} {
			if a := acme.do("POST", "/v1/checks", bad); a.status != 422 {
				t.Errorf("check %v: %d %s; want 422", bad, a.status, a.body)
			}
		}

		// A hold of 4 credits, captured by 50 callers at once: one wins.
		h := acme.must(201, "POST", "/v1/holds", map[string]any{"account": "acme", "amount_ucr": 4_000_000, "id": "call-1"})["hold"].(map[string]any)
		id := h["id"].(string)
		if w := acme.must(200, "GET", "/v1/accounts/acme/wallet", nil); w["balance_ucr"].(float64) != 6_000_000 || w["held_ucr"].(float64) != 4_000_000 {
			t.Fatalf("wallet with a hold: %v", w)
		}
		if a := other.do("GET", "/v1/holds/"+id, nil); a.status != 404 {
			t.Fatalf("other tenant's hold: %d %s", a.status, a.body)
		}
		var ok, resolved atomic.Int64
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				a := acme.do("POST", "/v1/holds/"+id+"/capture", map[string]any{"amount_ucr": 3_000_000})
				switch {
				case a.status == 200:
					ok.Add(1)
				case a.status == 409 && a.problemCode(t) == billow.CodeHoldResolved:
					resolved.Add(1)
				default:
					t.Errorf("capture: %d %s", a.status, a.body)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 1 || resolved.Load() != 49 {
			t.Fatalf("%d captures succeeded and %d were refused; want 1 and 49", ok.Load(), resolved.Load())
		}
		if got := acme.must(200, "GET", "/v1/holds/"+id, nil)["hold"].(map[string]any); got["status"] != "captured" || got["captured_ucr"].(float64) != 3_000_000 {
			t.Fatalf("hold after capture: %v", got)
		}
		if a := acme.do("POST", "/v1/holds/"+id+"/release", nil); a.status != 409 || a.problemCode(t) != billow.CodeHoldResolved {
			t.Fatalf("release after capture: %d %s", a.status, a.body)
		}
		if a := acme.do("POST", "/v1/holds", map[string]any{"account": "acme", "amount_ucr": 8_000_000, "id": "call-2"}); a.status != 409 || a.problemCode(t) != billow.CodeInsufficientCredits {
			t.Fatalf("hold beyond the wallet: %d %s", a.status, a.body)
		}
		if a := other.do("POST", "/v1/holds", map[string]any{"account": "acme", "amount_ucr": 1, "id": "steal"}); a.status != 404 {
			t.Fatalf("hold on another tenant's account: %d %s", a.status, a.body)
		}
		if w := acme.must(200, "GET", "/v1/accounts/acme/wallet", nil); w["balance_ucr"].(float64) != 7_000_000 || w["held_ucr"].(float64) != 0 {
			t.Fatalf("wallet after the capture: %v", w)
		}
	})
}
