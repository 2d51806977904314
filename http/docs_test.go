package http_test

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/billowhq/billow/sqlstore/storetest"
)

// TestDocsPage fetches /docs over a real listener and checks that it is a self-contained
// page: no script, no resource from elsewhere, a CSP that forbids both, and the reference
// itself: every operation anchored, the fields and headers of the OpenAPI document.
func TestDocsPage(t *testing.T) {
	env := storetest.Open(t, "sqlite")
	c := newServer(t, env).as("")
	a := c.do("GET", "/docs", nil)
	if a.status != 200 {
		t.Fatalf("/docs = %d: %.300s", a.status, a.body)
	}
	if ct := a.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if cc := a.header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("Cache-Control = %q", cc)
	}
	csp := a.header.Get("Content-Security-Policy")
	directives := map[string]string{}
	for _, d := range strings.Split(csp, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	for name, want := range map[string]string{"default-src": "'none'", "style-src": "'unsafe-inline'", "img-src": "data:"} {
		if directives[name] != want {
			t.Errorf("CSP %s = %q, want %q (CSP %q)", name, directives[name], want, csp)
		}
	}
	if _, ok := directives["script-src"]; ok {
		t.Errorf("CSP allows scripts: %q", csp)
	}
	page := string(a.body)

	// Nothing is loaded from anywhere: no script, no attribute pointing at another host,
	// no CSS import or url() but data:.
	if strings.Contains(strings.ToLower(page), "<script") {
		t.Error("the page has a <script>")
	}
	attr := regexp.MustCompile(`(?i)\b(src|href|srcset|action|poster|data|formaction)\s*=\s*["']?\s*([^"'\s>]*)`)
	for _, m := range attr.FindAllStringSubmatch(page, -1) {
		name, value := strings.ToLower(m[1]), strings.ToLower(m[2])
		if name != "href" && !strings.HasPrefix(value, "data:") {
			t.Errorf("the page loads %s=%q", name, m[2])
		}
		if name == "href" && (strings.Contains(value, "//") || strings.Contains(value, ":")) {
			t.Errorf("the page links elsewhere: href=%q", m[2])
		}
	}
	if regexp.MustCompile(`(?i)@import|url\(\s*["']?\s*[^d"'\s]|<link\b|<iframe|<img\b|<object|<embed`).MatchString(page) {
		t.Error("the page imports a resource")
	}
	for _, link := range []string{`href="/openapi.json"`, `href="/openapi.yaml"`} {
		if !strings.Contains(page, link) {
			t.Errorf("the page lacks %s", link)
		}
	}

	// Every operation of the OpenAPI document has an anchor and a link in the contents.
	var doc struct {
		Info  struct{ Title, Version string }
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		}
	}
	spec := c.do("GET", "/openapi.json", nil)
	if err := json.Unmarshal(spec.body, &doc); err != nil {
		t.Fatalf("/openapi.json: %v", err)
	}
	var ids []string
	for _, item := range doc.Paths {
		for _, op := range item {
			ids = append(ids, op.OperationID)
		}
	}
	sort.Strings(ids)
	if len(ids) < 10 {
		t.Fatalf("only %d operations in the OpenAPI document", len(ids))
	}
	for _, id := range ids {
		if !strings.Contains(page, `id="op-`+id+`"`) || !strings.Contains(page, `href="#op-`+id+`"`) {
			t.Errorf("operation %s has no anchor or no link to it", id)
		}
	}
	if !strings.Contains(page, doc.Info.Title) || !strings.Contains(page, doc.Info.Version) {
		t.Errorf("the page lacks the title %q or version %q", doc.Info.Title, doc.Info.Version)
	}

	// createAccount documents its body's external_id with its maxLength, and the
	// Idempotency-Key header.
	op := docsSection(t, page, `id="op-createAccount"`, "</article>")
	field := docsSection(t, op, `<code class="fname">external_id</code>`, "</li>")
	text := strings.Join(strings.Fields(htmlTags.ReplaceAllString(field, " ")), " ")
	for _, want := range []string{"required", "maxLength 255", "unique"} {
		if !strings.Contains(text, want) {
			t.Errorf("external_id of createAccount lacks %q: %s", want, text)
		}
	}
	if !strings.Contains(op, `<code class="fname">Idempotency-Key</code><span class="in">header</span>`) {
		t.Error("createAccount does not document the Idempotency-Key header")
	}
	// Nested objects are expanded: billing_contact.address.country.
	if !strings.Contains(docsSection(t, op, `<code class="fname">billing_contact</code>`, "</article>"), `<code class="fname">country</code>`) {
		t.Error("createAccount's billing_contact.address is not expanded")
	}
	// The description's backticks become code; the problem shape is documented.
	if !strings.Contains(page, "<code>Authorization: Bearer &lt;key&gt;</code>") {
		t.Error("the description's `code` spans are not rendered as <code>")
	}
	errs := docsSection(t, page, `id="errors"`, "</section>")
	for _, f := range []string{"type", "title", "status", "detail", "code", "errors"} {
		if !strings.Contains(errs, `<code class="fname">`+f+`</code>`) {
			t.Errorf("the errors section lacks the problem field %q", f)
		}
	}
}

var htmlTags = regexp.MustCompile(`<[^>]*>`)

// docsSection returns page from the first start to the next end after it.
func docsSection(t *testing.T, page, start, end string) string {
	t.Helper()
	i := strings.Index(page, start)
	if i < 0 {
		t.Fatalf("the page lacks %s", start)
	}
	rest := page[i:]
	if j := strings.Index(rest, end); j >= 0 {
		return rest[:j]
	}
	return rest
}
