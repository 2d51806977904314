package http_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// TestWalletAPI grants credits through a real listener, spends some in the store, and
// reads the wallet, the transactions and their CSV export with the account's own key.
func TestWalletAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		c := newServer(t, env)
		c.must(201, "POST", "/v1/accounts", map[string]any{"external_id": "acme", "name": "Acme"})
		key := c.must(201, "POST", "/v1/api_keys", map[string]any{"name": "acme", "account": "acme"})["key"].(string)
		expires := env.Clock.Now().Add(30 * 24 * time.Hour).Format(time.RFC3339)
		g := c.must(201, "POST", "/v1/accounts/acme/grants", map[string]any{"kind": "promotional", "amount_ucr": 2_000_000,
			"expires_at": expires, "id": "welcome", "description": "=SUM(A1:A9) welcome"})
		if g["grant"].(map[string]any)["remaining_ucr"].(float64) != 2_000_000 || g["transfer"].(map[string]any)["seq"].(float64) != 1 {
			t.Fatalf("grant: %v", g)
		}
		c.must(201, "POST", "/v1/accounts/acme/grants", map[string]any{"kind": "paid", "amount_ucr": 5_000_000, "id": "pack-1"})
		// The same id again answers with the first grant; with other content it is refused.
		again := c.must(201, "POST", "/v1/accounts/acme/grants", map[string]any{"kind": "paid", "amount_ucr": 5_000_000, "id": "pack-1"})
		if again["transfer"].(map[string]any)["seq"].(float64) != 2 {
			t.Fatalf("resent grant: %v", again)
		}
		if a := c.do("POST", "/v1/accounts/acme/grants", map[string]any{"kind": "paid", "amount_ucr": 6_000_000, "id": "pack-1"}); a.status != 409 || a.problemCode(t) != billow.CodeIdempotencyReused {
			t.Fatalf("reused id: %d %s", a.status, a.body)
		}
		for _, bad := range []map[string]any{
			{"kind": "paid", "amount_ucr": 0, "id": "z"},
			{"kind": "paid", "amount_ucr": -5, "id": "n"},
			{"kind": "gift", "amount_ucr": 5, "id": "k"},
			{"kind": "paid", "amount_ucr": 5, "id": "expire:grant_01kf0fv2hv1mrrrfh0gb4f58h7"},
			{"kind": "promotional", "amount_ucr": 5, "id": "p"},
		} {
			if a := c.do("POST", "/v1/accounts/acme/grants", bad); a.status != 422 && a.status != 400 {
				t.Errorf("grant %v: %d %s, want a problem", bad, a.status, a.body)
			}
		}
		// An account's own key reads its wallet and cannot grant itself credits.
		acme := c.as(key)
		if a := acme.do("POST", "/v1/accounts/acme/grants", map[string]any{"kind": "paid", "amount_ucr": 5, "id": "self"}); a.status != 404 {
			t.Fatalf("account key granting: %d %s", a.status, a.body)
		}
		if _, err := env.DB.Spend(context.Background(), billow.SpendInput{Account: "acme", AmountUcr: 2_500_000, ID: "usage-1", Cause: billow.CauseUsage, Description: "LLM calls"}); err != nil {
			t.Fatal(err)
		}
		w := acme.must(200, "GET", "/v1/accounts/acme/wallet", nil)
		grants := w["grants"].([]any)
		if w["balance_credits"] != "4.5" || w["balance_ucr"].(float64) != 4_500_000 || len(grants) != 1 || grants[0].(map[string]any)["kind"] != "paid" {
			t.Fatalf("wallet: %v", w)
		}
		txs := acme.must(200, "GET", "/v1/accounts/acme/transactions?limit=2", nil)
		data := txs["data"].([]any)
		first := data[0].(map[string]any)
		if len(data) != 2 || txs["has_more"] != true || first["id"] != "usage-1" || first["credits"] != "-2.5" || first["value"] != "-0.0025" || first["balance_after"] != "4.5" {
			t.Fatalf("transactions: %v", txs)
		}
		rest := acme.must(200, "GET", fmt.Sprintf("/v1/accounts/acme/transactions?limit=2&starting_after=%v", data[1].(map[string]any)["seq"]), nil)
		if d := rest["data"].([]any); len(d) != 1 || d[0].(map[string]any)["id"] != "welcome" {
			t.Fatalf("second page: %v", rest)
		}
		from, to := env.Clock.Now().Add(-time.Hour).Format(time.RFC3339), env.Clock.Now().Add(time.Hour).Format(time.RFC3339)
		a := acme.do("GET", "/v1/accounts/acme/transactions.csv?from="+from+"&to="+to, nil)
		if a.status != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), "text/csv") {
			t.Fatalf("export: %d %s", a.status, a.body)
		}
		lines := strings.Split(strings.TrimSpace(string(a.body)), "\n")
		if len(lines) != 4 || lines[0] != "Date,Transaction ID,Description,Credits,Value,Currency,Balance after" ||
			!strings.Contains(lines[1], ",welcome,'=SUM(A1:A9) welcome,2,0.002,USD,2") || !strings.HasSuffix(lines[3], ",usage-1,LLM calls,-2.5,-0.0025,USD,4.5") {
			t.Fatalf("export:\n%s", a.body)
		}
		if a := acme.do("GET", "/v1/accounts/acme/transactions.csv?from="+to+"&to="+from, nil); a.status != 422 {
			t.Fatalf("export with to before from: %d %s", a.status, a.body)
		}
	})
}
