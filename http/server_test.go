package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/checks"
	billowhttp "github.com/billowhq/billow/http"
	"github.com/billowhq/billow/ingest"
	"github.com/billowhq/billow/sqlstore/storetest"
)

const adminKey = "sk_test_bootstrap_0123456789abcdefghijkl"

// apiClient talks to a Billow server over a real listener.
type apiClient struct {
	t       *testing.T
	base    string
	key     string
	env     *storetest.Env
	checker *checks.Checker // polled by hand: tests say when memory catches up
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("answer is not a JSON object: %v: %s", err, a.body)
	}
	return m
}

// problemCode returns the code of a problem answer, checking its shape.
func (a answer) problemCode(t *testing.T) string {
	t.Helper()
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("status %d with Content-Type %q, want application/problem+json: %s", a.status, ct, a.body)
	}
	m := a.json(t)
	for _, field := range []string{"type", "title", "status", "code"} {
		if _, ok := m[field]; !ok {
			t.Fatalf("problem lacks %q: %s", field, a.body)
		}
	}
	if int(m["status"].(float64)) != a.status {
		t.Fatalf("problem status %v differs from HTTP status %d", m["status"], a.status)
	}
	return m["code"].(string)
}

func newServer(t *testing.T, env *storetest.Env) *apiClient {
	t.Helper()
	checker := checks.New(checks.Config{Store: env.DB, Clock: env.Clock, Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(billowhttp.New(billowhttp.Config{Store: env.DB, AdminKey: adminKey, DefaultCatalog: "credits-platform",
		Ingester: ingest.New(env.DB, env.Clock), Checker: checker}))
	t.Cleanup(srv.Close)
	return &apiClient{t: t, base: srv.URL, key: adminKey, env: env, checker: checker}
}

func (c *apiClient) as(key string) *apiClient {
	cp := *c
	cp.key = key
	return &cp
}

func (c *apiClient) do(method, path string, body any, headers ...string) answer {
	c.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(buf)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if r != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

func (c *apiClient) must(status int, method, path string, body any, headers ...string) map[string]any {
	c.t.Helper()
	a := c.do(method, path, body, headers...)
	if a.status != status {
		c.t.Fatalf("%s %s = %d, want %d: %s", method, path, a.status, status, a.body)
	}
	if len(a.body) == 0 {
		return nil
	}
	return a.json(c.t)
}

func TestHealthReadyMetrics(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		c := newServer(t, env).as("")
		if m := c.must(200, "GET", "/healthz", nil); m["status"] != "ok" {
			t.Fatalf("healthz = %v", m)
		}
		if m := c.must(200, "GET", "/readyz", nil); m["status"] != "ready" {
			t.Fatalf("readyz = %v", m)
		}
		c.do("GET", "/v1/accounts", nil)
		a := c.do("GET", "/metrics", nil)
		if a.status != 200 || !strings.Contains(string(a.body), `billow_http_requests_total{code="401",method="GET",route="unmatched"}`) &&
			!strings.Contains(string(a.body), `billow_http_requests_total{code="401"`) {
			t.Fatalf("metrics lack the request counter: %.400s", a.body)
		}
		if a := c.do("GET", "/docs", nil); a.status != 200 || !strings.Contains(string(a.body), "openapi") {
			t.Fatalf("docs = %d", a.status)
		}
	})
}

func TestReadyzFailsWhenStoreIsDown(t *testing.T) {
	env := storetest.Open(t, "sqlite")
	c := newServer(t, env).as("")
	env.DB.Close()
	a := c.do("GET", "/readyz", nil)
	if a.status != 503 || a.problemCode(t) != billow.CodeUnavailable {
		t.Fatalf("readyz with a closed store = %d %s", a.status, a.body)
	}
}

func TestAuthentication(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		c := newServer(t, env)
		for _, key := range []string{"", "sk_wrong"} {
			a := c.as(key).do("GET", "/v1/accounts", nil)
			if a.status != 401 || a.problemCode(t) != billow.CodeUnauthorized || a.header.Get("WWW-Authenticate") == "" {
				t.Fatalf("key %q: %d %s", key, a.status, a.body)
			}
		}
		created := c.must(201, "POST", "/v1/api_keys", map[string]any{"name": "ops"})
		secret := created["key"].(string)
		if !strings.HasPrefix(secret, "sk_") || created["prefix"] != secret[:10] {
			t.Fatalf("created key = %v", created)
		}
		c.as(secret).must(200, "GET", "/v1/accounts", nil)
		keys := c.must(200, "GET", "/v1/api_keys", nil)
		if strings.Contains(fmt.Sprint(keys), secret) {
			t.Fatal("the key list shows a secret")
		}
		c.must(200, "POST", "/v1/api_keys/"+created["id"].(string)+"/revoke", nil)
		a := c.as(secret).do("GET", "/v1/accounts", nil)
		if a.status != 401 || a.problemCode(t) != billow.CodeAPIKeyRevoked {
			t.Fatalf("revoked key: %d %s", a.status, a.body)
		}
	})
}

func TestAccountsAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		c := newServer(t, env)
		acct := c.must(201, "POST", "/v1/accounts", map[string]any{
			"external_id": "cust-1", "name": "Customer One", "plan": "pay_as_you_go", "timezone": "Europe/Berlin",
			"billing_contact": map[string]any{"email": "ap@cust.example", "address": map[string]any{"country": "DE"}},
		})
		if acct["catalog"] != "credits-platform" || acct["currency"] != "USD" || acct["type"] != "standard" || acct["catalog_version"] != 1.0 {
			t.Fatalf("account = %v", acct)
		}
		id := acct["id"].(string)
		for _, ref := range []string{id, "cust-1"} {
			if got := c.must(200, "GET", "/v1/accounts/"+ref, nil); got["id"] != id {
				t.Fatalf("get %s = %v", ref, got)
			}
		}
		if got := c.must(200, "PATCH", "/v1/accounts/cust-1", map[string]any{"name": "Customer 1"}); got["name"] != "Customer 1" || got["timezone"] != "Europe/Berlin" {
			t.Fatalf("patched = %v", got)
		}
		list := c.must(200, "GET", "/v1/accounts?q=cust&limit=10", nil)
		if data := list["data"].([]any); len(data) != 1 || list["has_more"] != false {
			t.Fatalf("list = %v", list)
		}

		// Bad input: a problem naming the field, and nothing written.
		for _, tc := range []struct {
			name   string
			body   any
			status int
			code   string
			field  string
		}{
			{"unknown type", map[string]any{"external_id": "x", "name": "X", "type": "vip"}, 422, "validation_failed", "body.type"},
			{"bad currency", map[string]any{"external_id": "x", "name": "X", "currency": "XYZ"}, 422, "validation_failed", "body.currency"},
			{"bad timezone", map[string]any{"external_id": "x", "name": "X", "timezone": "Moon/Base"}, 422, "validation_failed", "body.timezone"},
			{"missing name", map[string]any{"external_id": "x"}, 422, "validation_failed", "body.name"},
			{"unknown field", map[string]any{"external_id": "x", "name": "X", "colour": "red"}, 422, "validation_failed", "body.colour"},
			{"duplicate external id", map[string]any{"external_id": "cust-1", "name": "X"}, 409, "external_id_taken", "body.external_id"},
			{"unknown plan", map[string]any{"external_id": "x", "name": "X", "plan": "gold"}, 422, "unknown_plan", "body.plan"},
			{"currency mismatch", map[string]any{"external_id": "x", "name": "X", "currency": "EUR"}, 422, "currency_mismatch", "body.currency"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := c.do("POST", "/v1/accounts", tc.body)
				if a.status != tc.status || a.problemCode(t) != tc.code {
					t.Fatalf("%d %s, want %d %s", a.status, a.body, tc.status, tc.code)
				}
				if !strings.Contains(string(a.body), `"location":"`+tc.field) {
					t.Fatalf("problem does not name %s: %s", tc.field, a.body)
				}
			})
		}
		a := c.do("POST", "/v1/accounts", `{"external_id": "x", "name": `)
		if a.status != 400 || a.problemCode(t) != "malformed_request" {
			t.Fatalf("malformed JSON: %d %s", a.status, a.body)
		}
		a = c.do("POST", "/v1/accounts", `{"external_id": "x", "name": "`+strings.Repeat("a", billowhttp.RequestBodyMaxBytes)+`"}`)
		if a.status != 413 || a.problemCode(t) != billow.CodeRequestTooLarge {
			t.Fatalf("oversized body: %d %.300s", a.status, a.body)
		}
		if list := c.must(200, "GET", "/v1/accounts", nil); len(list["data"].([]any)) != 1 {
			t.Fatalf("refused requests wrote accounts: %v", list)
		}
	})
}

func TestAppsAndMembersAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		c := newServer(t, env)
		c.must(201, "POST", "/v1/accounts", map[string]any{"external_id": "acme", "name": "Acme"})
		parent := c.must(201, "POST", "/v1/accounts/acme/apps", map[string]any{"external_id": "front-desk", "name": "Front Desk"})
		linked := c.must(201, "POST", "/v1/accounts/acme/apps", map[string]any{"external_id": "billing", "name": "Billing", "parent_app": "front-desk"})
		if linked["parent_app"] != parent["id"] {
			t.Fatalf("linked = %v", linked)
		}
		a := c.do("POST", "/v1/accounts/acme/apps", map[string]any{"external_id": "x", "name": "X", "parent_app": "ghost"})
		if a.status != 422 || a.problemCode(t) != billow.CodeParentAppNotFound {
			t.Fatalf("ghost parent: %d %s", a.status, a.body)
		}
		if apps := c.must(200, "GET", "/v1/accounts/acme/apps", nil); len(apps["data"].([]any)) != 2 {
			t.Fatalf("apps = %v", apps)
		}
		c.must(200, "PATCH", "/v1/accounts/acme/apps/billing", map[string]any{"name": "Billing Assistant"})
		m := c.must(201, "POST", "/v1/accounts/acme/members", map[string]any{"email": "dev@acme.example", "role": "developer", "external_id": "u-7"})
		a = c.do("POST", "/v1/accounts/acme/members", map[string]any{"email": "dev@acme.example", "role": "owner"})
		if a.status != 409 || a.problemCode(t) != billow.CodeEmailTaken {
			t.Fatalf("duplicate email: %d %s", a.status, a.body)
		}
		a = c.do("POST", "/v1/accounts/acme/members", map[string]any{"email": "x@acme.example", "role": "root"})
		if a.status != 422 || a.problemCode(t) != billow.CodeValidationFailed {
			t.Fatalf("bad role: %d %s", a.status, a.body)
		}
		if got := c.must(200, "PATCH", "/v1/accounts/acme/members/u-7", map[string]any{"role": "admin"}); got["role"] != "admin" {
			t.Fatalf("role = %v", got)
		}
		c.must(200, "DELETE", "/v1/accounts/acme/members/"+m["id"].(string), nil)
		c.must(404, "GET", "/v1/accounts/acme/members/u-7", nil)
	})
}

func TestCatalogAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		c := newServer(t, env)
		cat := c.must(200, "GET", "/v1/catalog", nil)
		content := cat["content"].(map[string]any)
		if cat["catalog"] != "credits-platform" || cat["version"] != 1.0 || content["currency"] != "USD" {
			t.Fatalf("catalog = %v", cat)
		}
		if !strings.Contains(fmt.Sprint(content["plans"]), "pay_as_you_go") {
			t.Fatalf("catalog lacks its plans: %v", content["plans"])
		}
		list := c.must(200, "GET", "/v1/catalogs", nil)
		if len(list["data"].([]any)) != 2 || list["default"] != "credits-platform" {
			t.Fatalf("catalogs = %v", list)
		}
		c.must(200, "GET", "/v1/catalogs/ai-for-service", nil)
		c.must(200, "GET", "/v1/catalogs/ai-for-service/versions/1", nil)
		c.must(200, "GET", "/v1/catalogs/ai-for-service/versions", nil)
		c.must(404, "GET", "/v1/catalogs/ai-for-service/versions/2", nil)
		c.must(404, "GET", "/v1/catalogs/nope", nil)
	})
}

// TestIdempotencyConcurrent sends 50 identical POSTs with one Idempotency-Key at once:
// exactly one account is created, and every answer is either that account, byte for
// byte, or 409 idempotency_key_in_use.
func TestIdempotencyConcurrent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		c := newServer(t, env)
		body := `{"external_id":"same-customer","name":"Same Customer","plan":"pay_as_you_go"}`
		const n = 50
		answers := make([]answer, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				answers[i] = c.do("POST", "/v1/accounts", body, "Idempotency-Key", "create-same-customer")
			})
		}
		close(start)
		wg.Wait()
		var created []byte
		inUse, replays := 0, 0
		for _, a := range answers {
			switch a.status {
			case 201:
				if created == nil {
					created = a.body
				} else if !bytes.Equal(created, a.body) {
					t.Fatalf("two different 201 answers:\n%s\n%s", created, a.body)
				}
				if a.header.Get("Idempotent-Replayed") == "true" {
					replays++
				}
			case 409:
				if code := a.problemCode(t); code != billow.CodeIdempotencyInUse {
					t.Fatalf("409 with code %s", code)
				}
				inUse++
			default:
				t.Fatalf("unexpected answer %d: %s", a.status, a.body)
			}
		}
		if created == nil {
			t.Fatal("no request created the account")
		}
		list := c.must(200, "GET", "/v1/accounts?q=same-customer", nil)
		if got := len(list["data"].([]any)); got != 1 {
			t.Fatalf("%d accounts created, want 1", got)
		}
		t.Logf("%d created or replayed (%d replays), %d in use", n-inUse, replays, inUse)

		// A retry after the fact replays the first answer.
		a := c.do("POST", "/v1/accounts", body, "Idempotency-Key", "create-same-customer")
		if a.status != 201 || !bytes.Equal(a.body, created) || a.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("retry = %d %s", a.status, a.body)
		}
		// The same key with another body is refused and writes nothing.
		a = c.do("POST", "/v1/accounts", `{"external_id":"other","name":"Other"}`, "Idempotency-Key", "create-same-customer")
		if a.status != 409 || a.problemCode(t) != billow.CodeIdempotencyReused {
			t.Fatalf("reused key = %d %s", a.status, a.body)
		}
		c.must(404, "GET", "/v1/accounts/other", nil)
		// A refused request's answer is kept too: retrying it replays the refusal.
		bad := `{"external_id":"bad","name":"Bad","plan":"gold"}`
		first := c.do("POST", "/v1/accounts", bad, "Idempotency-Key", "bad-1")
		again := c.do("POST", "/v1/accounts", bad, "Idempotency-Key", "bad-1")
		if first.status != 422 || again.status != 422 || again.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("refusal replay = %d, %d", first.status, again.status)
		}
		a = c.do("POST", "/v1/accounts", body, "Idempotency-Key", strings.Repeat("k", 256))
		if a.status != 400 || a.problemCode(t) != billow.CodeIdempotencyKeyFormat {
			t.Fatalf("long key = %d %s", a.status, a.body)
		}
	})
}
