package http_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// TestQuotesAPI asks the pricing calculator over a real listener: with the operator's key
// and no account (the default catalog), for a named account (its catalog), with the
// account's own key (the same quote, without naming it), for an enterprise account (its
// contract's fee), never for another tenant's account; invalid input lists every field.
func TestQuotesAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		op := newBillingServer(t, env, nil)

		// No account: the default catalog (credits-platform) for a standard account.
		q := op.must(200, "POST", "/v1/quotes", map[string]any{})
		if q["catalog"] != "Credits platform (example)" || q["cheapest"] != "free" || len(q["plans"].([]any)) != 3 || q["account"] != nil {
			t.Fatalf("empty quote = %v", q)
		}
		// seed 004: 10 apps do not fit Free; $12 of LLM cost less Pay as you go's $5.
		q = op.must(200, "POST", "/v1/quotes", map[string]any{"apps": 10,
			"llm": []any{map[string]any{"provider": "openai", "model": "gpt-4o", "input_tokens": 4_000_000}}})
		payg := quotedPlan(t, q, "pay_as_you_go")
		if q["cheapest"] != "pay_as_you_go" || payg["total_minor"].(float64) != 2700 || payg["credits_applied_ucr"].(float64) != 5e9 {
			t.Fatalf("pay as you go = %v", payg)
		}
		if free := quotedPlan(t, q, "free"); free["available"] != false || free["code"] != billow.CodeAgentSlotsExceeded {
			t.Fatalf("free = %v", free)
		}

		// A named account: its catalog, ai-for-service. seed 000: 31 minutes are 3 sessions.
		_, acme := op.billingAccount("acme", "standard")
		usage := map[string]any{"conversations_per_month": 1000, "conversation_minutes": 31}
		named := op.must(200, "POST", "/v1/quotes", with(usage, "account", "acme"))
		if named["catalog"] != "AI for Service (example)" || named["cheapest"] != "essential" || named["sessions_per_conversation"].(float64) != 3 ||
			quotedPlan(t, named, "essential")["total_minor"].(float64) != 17500 {
			t.Fatalf("acme's quote = %v", named)
		}
		// The account's own key quotes its own account without naming it.
		own := acme.must(200, "POST", "/v1/quotes", usage)
		if diff := cmp.Diff(named, own); diff != "" {
			t.Errorf("the account's own quote differs (-operator +account):\n%s", diff)
		}
		// Another tenant's account is not found.
		_, other := op.billingAccount("other", "standard")
		if a := other.do("POST", "/v1/quotes", with(usage, "account", "acme")); a.status != 404 || a.problemCode(t) != billow.CodeNotFound {
			t.Fatalf("another account's key = %d %s", a.status, a.body)
		}

		// An enterprise account with a contract: its fee prices the enterprise plan.
		op.billingAccount("bigco", "enterprise")
		op.must(200, "PUT", "/v1/accounts/bigco/contract", map[string]any{"plan": "enterprise", "fees": map[string]any{"month": "3000.00"}})
		big := op.must(200, "POST", "/v1/quotes", with(usage, "account", "bigco"))
		if ent := quotedPlan(t, big, "enterprise"); big["cheapest"] != "enterprise" || ent["fee_minor"].(float64) != 300000 ||
			ent["total_minor"].(float64) != 300000+3000*2.5 || big["account_type"] != "enterprise" {
			t.Fatalf("bigco's quote = %v", big)
		}

		// Invalid input: every field at once, as body.<field>.
		a := op.do("POST", "/v1/quotes", map[string]any{"interval": "week", "conversations_per_month": -1, "conversation_minutes": 1441,
			"apps": -3, "seats": []any{map[string]any{"product": "agents", "named": 1, "concurrent": 2}},
			"llm":     []any{map[string]any{"provider": "openai", "model": "", "input_tokens": 1e14}},
			"add_ons": []any{map[string]any{"add_on": "workspace_seat", "quantity": 0}}})
		if a.status != 422 || a.problemCode(t) != billow.CodeValidationFailed {
			t.Fatalf("invalid quote = %d %s", a.status, a.body)
		}
		want := []string{"body.interval", "body.conversations_per_month", "body.conversation_minutes", "body.apps", "body.seats[0].concurrent",
			"body.llm[0].model", "body.llm[0].input_tokens", "body.add_ons[0].quantity"}
		if got := problemLocations(t, a); !cmp.Equal(got, want) {
			t.Errorf("invalid fields:\n%s", cmp.Diff(want, got))
		}
		// What the catalog does not have.
		a = op.do("POST", "/v1/quotes", map[string]any{"llm": []any{map[string]any{"provider": "openai", "model": "gpt-9", "input_tokens": 1}},
			"add_ons": []any{map[string]any{"add_on": "yacht", "quantity": 1}}})
		if got := problemLocations(t, a); a.status != 422 || !cmp.Equal(got, []string{"body.llm[0].model", "body.add_ons[0].add_on"}) {
			t.Errorf("unknown references = %d %v", a.status, got)
		}
	})
}

func with(m map[string]any, key string, value any) map[string]any {
	out := map[string]any{key: value}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func quotedPlan(t *testing.T, q map[string]any, key string) map[string]any {
	t.Helper()
	for _, p := range q["plans"].([]any) {
		if p := p.(map[string]any); p["plan"] == key {
			return p
		}
	}
	t.Fatalf("no plan %s in %v", key, q)
	return nil
}

func problemLocations(t *testing.T, a answer) []string {
	t.Helper()
	var out []string
	errs, _ := a.json(t)["errors"].([]any)
	for _, e := range errs {
		out = append(out, e.(map[string]any)["location"].(string))
	}
	return out
}
