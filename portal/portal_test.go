package portal_test

import (
	"bytes"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// A portal link is made by the API for a member of the account, opens once into a
// session cookie (HttpOnly, SameSite=Lax, Path=/; named billow_portal and not Secure
// without TLS), and is refused the second time.
func TestPortalLinkOpensOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := newSite(t, env, siteOptions{})
		status, m := s.api(adminKey, "POST", "/v1/portal_sessions", map[string]any{"account": "northwind",
			"member": s.member("northwind", billow.RoleOwner), "return_url": "https://app.example.com/billing"})
		if status != 201 {
			t.Fatalf("create = %d: %v", status, m)
		}
		link, _ := m["url"].(string)
		u, err := url.Parse(link)
		if err != nil || !strings.HasPrefix(link, s.base+"/portal/enter?token=") || len(u.Query().Get("token")) != 43 ||
			!strings.HasPrefix(m["id"].(string), billow.PrefixPortalSession) {
			t.Fatalf("session = %v", m)
		}
		expires, err := time.Parse(time.RFC3339Nano, m["expires_at"].(string))
		if err != nil || !expires.Equal(env.Clock.Now().Truncate(time.Microsecond).Add(billow.PortalLinkTTL)) {
			t.Fatalf("expires_at = %v, want %s after now", m["expires_at"], billow.PortalLinkTTL)
		}

		b := s.browser()
		p := b.get(link)
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/portal/" {
			t.Fatalf("open = %d %q", p.status, p.header.Get("Location"))
		}
		cookie := p.header.Get("Set-Cookie")
		for _, want := range []string{"billow_portal=", "Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=43200"} {
			if !strings.Contains(cookie, want) {
				t.Errorf("cookie %q lacks %s", cookie, want)
			}
		}
		if strings.Contains(cookie, "Secure") || strings.HasPrefix(cookie, "__Host-") {
			t.Errorf("a cookie over plain HTTP is %q", cookie)
		}
		home := b.get("/portal/")
		if home.status != 200 || !strings.Contains(home.body, "Plan &amp; Usage") || !strings.Contains(home.body, "Northwind Traders") ||
			!strings.Contains(home.body, `href="https://app.example.com/billing"`) || !strings.Contains(home.body, "Back to Acme Cloud") {
			t.Fatalf("home = %d: %.500s", home.status, home.body)
		}

		// The second opening, in any browser, is refused and starts nothing.
		again := s.browser().get(link)
		if again.status != http.StatusUnauthorized || again.header.Get("Set-Cookie") != "" || !strings.Contains(again.body, "expired") {
			t.Fatalf("second opening = %d, cookie %q", again.status, again.header.Get("Set-Cookie"))
		}
		// No session, no page.
		if p := s.browser().get("/portal/invoices"); p.status != http.StatusUnauthorized || strings.Contains(p.body, "Northwind") {
			t.Fatalf("without a session = %d", p.status)
		}
	})
}

// POST /v1/portal_sessions validates its input: the member must be the account's, the
// return URL an absolute http(s) URL; an account's own key may open its portal.
func TestPortalSessionInput(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := newSite(t, env, siteOptions{publicURL: "https://billing.acme-cloud.example/"})
		owner := s.member("northwind", billow.RoleOwner)
		for _, tc := range []struct {
			body  map[string]any
			code  string
			field string
		}{
			{map[string]any{"account": "northwind", "member": s.member("acme-bots", billow.RoleOwner)}, billow.CodeUnknownMember, "body.member"},
			{map[string]any{"account": "northwind", "member": "nobody"}, billow.CodeUnknownMember, "body.member"},
			{map[string]any{"account": "northwind", "member": owner, "return_url": "javascript:alert(1)"}, billow.CodeValidationFailed, "body.return_url"},
			{map[string]any{"account": "northwind", "member": owner, "return_url": "//evil.example/"}, billow.CodeValidationFailed, "body.return_url"},
			{map[string]any{"account": "northwind", "member": ""}, billow.CodeValidationFailed, "body.member"},
		} {
			status, m := s.api(adminKey, "POST", "/v1/portal_sessions", tc.body)
			errs, _ := m["errors"].([]any)
			if status != 422 || m["code"] != tc.code || len(errs) == 0 || errs[0].(map[string]any)["location"] != tc.field {
				t.Errorf("%v = %d %v, want 422 %s at %s", tc.body, status, m, tc.code, tc.field)
			}
		}
		status, m := s.api(adminKey, "POST", "/v1/portal_sessions", map[string]any{"account": "nowhere", "member": owner})
		if status != 404 {
			t.Errorf("unknown account = %d %v", status, m)
		}

		// The account's own key; the link points at the public URL.
		_, key := s.api(adminKey, "POST", "/v1/api_keys", map[string]any{"name": "northwind backend", "account": "northwind"})
		status, m = s.api(key["key"].(string), "POST", "/v1/portal_sessions", map[string]any{"account": "northwind", "member": owner})
		if status != 201 || !strings.HasPrefix(m["url"].(string), "https://billing.acme-cloud.example/portal/enter?token=") {
			t.Fatalf("with the account's key = %d %v", status, m)
		}
		// Another account's key gets 404, as for every route (tenancy_test.go).
		_, other := s.api(adminKey, "POST", "/v1/api_keys", map[string]any{"name": "acme backend", "account": "acme-bots"})
		if status, m := s.api(other["key"].(string), "POST", "/v1/portal_sessions", map[string]any{"account": "northwind", "member": owner}); status != 404 {
			t.Fatalf("with another account's key = %d %v", status, m)
		}
	})
}

// A link opens within billow.PortalLinkTTL; a session ends after
// billow.PortalSessionIdleTTL without a request and billow.PortalSessionTTL after it
// began, on the injected clock.
func TestPortalSessionExpiry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := newSite(t, env, siteOptions{})

		late := s.link("northwind", billow.RoleOwner)
		env.Clock.Advance(billow.PortalLinkTTL)
		if p := s.browser().get(late); p.status != http.StatusUnauthorized {
			t.Fatalf("a link opened after %s = %d", billow.PortalLinkTTL, p.status)
		}

		idle := s.browser()
		idle.enter(s.link("northwind", billow.RoleOwner))
		env.Clock.Advance(billow.PortalSessionIdleTTL - time.Minute)
		if p := idle.get("/portal/invoices"); p.status != 200 {
			t.Fatalf("after %s idle = %d", billow.PortalSessionIdleTTL-time.Minute, p.status)
		}
		env.Clock.Advance(billow.PortalSessionIdleTTL)
		p := idle.get("/portal/invoices")
		if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "session has ended") {
			t.Fatalf("after %s idle = %d", billow.PortalSessionIdleTTL, p.status)
		}
		if c := p.header.Get("Set-Cookie"); !strings.Contains(c, "billow_portal=;") || !strings.Contains(c, "Max-Age=0") {
			t.Errorf("an ended session's cookie is not cleared: %q", c)
		}

		busy := s.browser()
		busy.enter(s.link("northwind", billow.RoleOwner))
		began := env.Clock.Now()
		for env.Clock.Now().Sub(began) < billow.PortalSessionTTL-20*time.Minute {
			env.Clock.Advance(20 * time.Minute)
			if p := busy.get("/portal/invoices"); p.status != 200 {
				t.Fatalf("a session in use, %s after it began = %d", env.Clock.Now().Sub(began), p.status)
			}
		}
		env.Clock.Advance(began.Add(billow.PortalSessionTTL).Sub(env.Clock.Now()))
		if p := busy.get("/portal/invoices"); p.status != http.StatusUnauthorized {
			t.Fatalf("%s after it began = %d", billow.PortalSessionTTL, p.status)
		}
	})
}

// Every POST needs the session's CSRF token, and an Origin, when the browser sends one,
// of the portal: without it, with another session's token, or from another site, nothing
// happens and the answer is 403.
func TestPortalCSRF(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := newSite(t, env, siteOptions{})
		inv := s.openInvoice("northwind")
		owner := s.browser()
		owner.enter(s.link("northwind", billow.RoleOwner))
		other := s.browser()
		other.enter(s.link("northwind", billow.RoleBilling))
		token, otherToken := owner.csrf(), other.csrf()
		if token == otherToken {
			t.Fatal("two sessions share a CSRF token")
		}
		pay := "/portal/invoices/" + inv.ID + "/pay"
		for name, try := range map[string]func() page{
			"no token":         func() page { return owner.post(pay, url.Values{}) },
			"empty token":      func() page { return owner.post(pay, url.Values{"csrf": {""}}) },
			"a wrong token":    func() page { return owner.post(pay, url.Values{"csrf": {strings.Repeat("A", len(token))}}) },
			"a short token":    func() page { return owner.post(pay, url.Values{"csrf": {token[:20]}}) },
			"another session":  func() page { return owner.post(pay, url.Values{"csrf": {otherToken}}) },
			"another site":     func() page { return owner.post(pay, url.Values{"csrf": {token}}, "Origin", "https://evil.example") },
			"an opaque origin": func() page { return owner.post(pay, url.Values{"csrf": {token}}, "Origin", "null") },
			"sign-out, none":   func() page { return owner.post("/portal/logout", url.Values{}) },
		} {
			if p := try(); p.status != http.StatusForbidden || !strings.Contains(p.body, "did not come from this page") {
				t.Errorf("%s = %d: %.200s", name, p.status, p.body)
			}
		}
		if got := s.invoice(inv.ID); got.Status != billow.InvoiceOpen {
			t.Fatalf("a refused POST paid the invoice: %s", got.Status)
		}
		if p := owner.get("/portal/"); p.status != 200 {
			t.Fatalf("a refused sign-out signed out: %d", p.status)
		}
		// With its token the same form works, once.
		if p := owner.post(pay, url.Values{"csrf": {token}}); p.status != http.StatusSeeOther ||
			!strings.HasPrefix(p.header.Get("Location"), "/portal/invoices?result=paid") {
			t.Fatalf("pay with the token = %d %q: %.300s", p.status, p.header.Get("Location"), p.body)
		}
		if got := s.invoice(inv.ID); got.Status != billow.InvoicePaid {
			t.Fatalf("the invoice is %s after Pay now", got.Status)
		}
		if p := owner.post("/portal/logout", url.Values{"csrf": {token}}); p.status != 200 || !strings.Contains(p.body, "signed out") {
			t.Fatalf("sign-out = %d", p.status)
		}
		if p := owner.get("/portal/"); p.status != http.StatusUnauthorized {
			t.Fatalf("after sign-out = %d", p.status)
		}
	})
}

// Developers and admins read; they cannot pay (403, nothing charged) and are not shown
// the button. Owners and billing members pay.
func TestPortalRoles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := newSite(t, env, siteOptions{})
		inv := s.openInvoice("acme-bots")
		pay := "/portal/invoices/" + inv.ID + "/pay"
		if status, m := s.api(adminKey, "POST", "/v1/accounts/acme-bots/members", map[string]any{"email": "admin@acme.example",
			"role": "admin"}); status != 201 {
			t.Fatalf("add an admin = %d %v", status, m)
		}
		for _, role := range []billow.Role{billow.RoleDeveloper, billow.RoleAdmin} {
			b := s.browser()
			b.enter(s.link("acme-bots", role))
			list := b.get("/portal/invoices")
			if list.status != 200 || strings.Contains(list.body, "Pay now") || !strings.Contains(list.body, "Only an owner or a billing member") {
				t.Errorf("%s sees Pay now: %d", role, list.status)
			}
			p := b.post(pay, url.Values{"csrf": {b.csrf()}})
			if p.status != http.StatusForbidden || !strings.Contains(p.body, "can view billing but not pay") {
				t.Errorf("%s pays = %d: %.300s", role, p.status, p.body)
			}
			if got := s.invoice(inv.ID); got.Status != billow.InvoiceOpen || got.PaymentStatus != billow.PaymentNone {
				t.Fatalf("a %s's refused payment changed the invoice: %s %s", role, got.Status, got.PaymentStatus)
			}
		}
		b := s.browser()
		b.enter(s.link("acme-bots", billow.RoleBilling))
		if list := b.get("/portal/invoices"); !strings.Contains(list.body, "Pay now") {
			t.Fatal("a billing member is not offered Pay now")
		}
		p := b.post(pay, url.Values{"csrf": {b.csrf()}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("billing member pays = %d: %.300s", p.status, p.body)
		}
		if done := b.get(p.header.Get("Location")); !strings.Contains(done.body, "the invoice is paid") {
			t.Fatalf("no confirmation: %.300s", done.body)
		}
		if got := s.invoice(inv.ID); got.Status != billow.InvoicePaid {
			t.Fatalf("invoice %s after a billing member paid", got.Status)
		}
		// Paid, it cannot be paid again.
		again := b.post(pay, url.Values{"csrf": {b.csrf()}})
		if !strings.Contains(again.header.Get("Location"), "result=not_payable") {
			t.Fatalf("paying twice → %q", again.header.Get("Location"))
		}
	})
}

// A session reads and pays only its own account's invoices: another account's PDF, pay
// action and link are not found, as if they did not exist.
func TestPortalTenantsNeverMeet(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		s := newSite(t, env, siteOptions{})
		theirs := s.openInvoice("acme-bots")
		b := s.browser()
		b.enter(s.link("northwind", billow.RoleOwner))
		for _, try := range []func() page{
			func() page { return b.get("/portal/invoices/" + theirs.ID + "/pdf") },
			func() page { return b.get("/portal/invoices/" + theirs.ID) },
			func() page { return b.post("/portal/invoices/"+theirs.ID+"/pay", url.Values{"csrf": {b.csrf()}}) },
			func() page { return b.get("/portal/invoices/inv_nothing/pdf") },
		} {
			p := try()
			if p.status != http.StatusNotFound || strings.Contains(p.body, theirs.Number) || strings.Contains(p.body, "%PDF") {
				t.Errorf("another account's invoice = %d: %.200s", p.status, p.body)
			}
		}
		if got := s.invoice(theirs.ID); got.Status != billow.InvoiceOpen {
			t.Fatalf("another account's invoice is %s", got.Status)
		}
		if list := b.get("/portal/invoices"); strings.Contains(list.body, theirs.Number) {
			t.Fatal("another account's invoice is listed")
		}
		// Enterprise accounts' invoices are the operator's: no list, no export.
		g := s.browser()
		g.enter(s.link("globex", billow.RoleOwner))
		if p := g.get("/portal/invoices"); p.status != 200 || !strings.Contains(p.body, "Your invoices come from Acme Cloud") || strings.Contains(p.body, "<table") {
			t.Fatalf("enterprise invoices page = %d: %.300s", p.status, p.body)
		}
		if p := g.get("/portal/invoices.csv?from=2025-01-01&to=2026-12-31"); p.status != http.StatusNotFound {
			t.Fatalf("enterprise export = %d", p.status)
		}
	})
}

// The portal's PDF and CSV are the API's: the same renderer and writer, the same bytes
// for the same invoices, under the same names.
func TestPortalFilesAreTheAPIs(t *testing.T) {
	env := storetest.Open(t, sqlstore.SQLite)
	s := newSite(t, env, siteOptions{})
	b := s.browser()
	b.enter(s.link("northwind", billow.RoleDeveloper)) // reading needs no paying role
	inv := s.openInvoice("northwind")

	p := b.get("/portal/invoices/" + inv.ID + "/pdf")
	if p.status != 200 || !strings.HasPrefix(p.body, "%PDF-") || p.header.Get("Content-Type") != "application/pdf" ||
		p.header.Get("Content-Disposition") != `attachment; filename=`+inv.Number+`.pdf` {
		t.Fatalf("PDF = %d %v: %.20q", p.status, p.header, p.body)
	}

	from, to := "2025-01-01", env.Clock.Now().Format(time.DateOnly)
	csv := b.get("/portal/invoices.csv?from=" + from + "&to=" + to)
	if csv.status != 200 || !strings.HasPrefix(csv.header.Get("Content-Type"), "text/csv") ||
		csv.header.Get("Content-Disposition") != "attachment; filename=invoices-northwind.csv" {
		t.Fatalf("CSV = %d %v", csv.status, csv.header)
	}
	lines := strings.Split(strings.TrimSpace(csv.body), "\n")
	if lines[0] != "Order ID,Billing Date,Cost,Payment Method,Payment Status,Invoice Number,Currency" || len(lines) < 6 {
		t.Fatalf("CSV:\n%s", csv.body)
	}
	// The API's export of the same days (the portal's dates are days of Europe/Berlin,
	// the last one included).
	loc, _ := time.LoadLocation("Europe/Berlin")
	f, _ := time.ParseInLocation(time.DateOnly, from, loc)
	e, _ := time.ParseInLocation(time.DateOnly, to, loc)
	req, _ := http.NewRequest("GET", s.base+"/v1/accounts/northwind/invoices.csv?"+url.Values{
		"from": {f.Format(time.RFC3339)}, "to": {e.AddDate(0, 0, 1).Format(time.RFC3339)}}.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := s.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var api bytes.Buffer
	api.ReadFrom(resp.Body)
	if api.String() != csv.body {
		t.Fatalf("the portal's CSV differs from the API's:\nportal:\n%s\napi:\n%s", csv.body, api.String())
	}

	// A range the export cannot take is explained on the page.
	for _, q := range []string{"from=2026-02-01&to=2026-01-01", "from=&to=2026-01-01", "from=2000-01-01&to=2026-01-01"} {
		if p := b.get("/portal/invoices.csv?" + q); p.status != http.StatusBadRequest || !strings.Contains(p.body, `id="csv-error"`) {
			t.Errorf("export %s = %d", q, p.status)
		}
	}
}

// Every answer of the portal carries the security headers; no page has inline script,
// inline style or an event handler attribute, which the CSP would block.
func TestPortalSecurityHeaders(t *testing.T) {
	env := storetest.Open(t, sqlstore.SQLite)
	s := newSite(t, env, siteOptions{usageDays: 2, accounts: map[string]bool{"northwind": true}})
	b := s.browser()
	b.enter(s.link("northwind", billow.RoleOwner))
	scripts := regexp.MustCompile(`(?is)<script([^>]*)>(.*?)</script>`)
	inline := regexp.MustCompile(`(?i)\sstyle\s*=|\son[a-z]+\s*=|javascript:|<style`)
	for _, path := range []string{"/portal/", "/portal/?range=24h&view=table", "/portal/invoices", "/portal/nothing", "/portal/static/portal.js",
		"/portal/brand.css", "/portal/invoices/inv_nothing/pdf"} {
		p := b.get(path)
		for name, want := range map[string]string{
			"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
			"X-Frame-Options":         "DENY",
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "same-origin",
		} {
			if got := p.header.Get(name); got != want {
				t.Errorf("%s: %s = %q", path, name, got)
			}
		}
		if strings.HasPrefix(p.header.Get("Content-Type"), "text/html") {
			if m := inline.FindString(p.body); m != "" {
				t.Errorf("%s has inline code: %q", path, m)
			}
			for _, m := range scripts.FindAllStringSubmatch(p.body, -1) {
				if !strings.Contains(m[1], "src=") || strings.TrimSpace(m[2]) != "" {
					t.Errorf("%s has an inline script: %q", path, m[0])
				}
			}
			if p.header.Get("Cache-Control") != "no-store" {
				t.Errorf("%s may be cached: %q", path, p.header.Get("Cache-Control"))
			}
		}
	}
	// A logged-out visitor gets the same headers.
	if p := s.browser().get("/portal/"); p.header.Get("X-Frame-Options") != "DENY" || p.status != http.StatusUnauthorized {
		t.Errorf("signed out: %d %v", p.status, p.header)
	}
}

// Under TLS the cookie is __Host-billow_portal and Secure, and the plain name is not
// read: a cookie planted over plain HTTP cannot stand in for it.
func TestPortalCookieUnderTLS(t *testing.T) {
	env := storetest.Open(t, sqlstore.SQLite)
	s := newSite(t, env, siteOptions{tls: true})
	b := s.browser()
	p := b.get(s.link("northwind", billow.RoleOwner))
	c := p.header.Get("Set-Cookie")
	if p.status != http.StatusSeeOther || !strings.HasPrefix(c, "__Host-billow_portal=") || !strings.Contains(c, "; Secure") ||
		!strings.Contains(c, "Path=/") || strings.Contains(c, "Domain=") {
		t.Fatalf("cookie under TLS: %d %q", p.status, c)
	}
	if p := b.get("/portal/"); p.status != 200 || p.header.Get("Strict-Transport-Security") == "" {
		t.Fatalf("with the cookie = %d", p.status)
	}
	secret := strings.TrimPrefix(strings.SplitN(c, ";", 2)[0], "__Host-billow_portal=")
	req, _ := http.NewRequest("GET", s.base+"/portal/", nil)
	req.AddCookie(&http.Cookie{Name: "billow_portal", Value: secret})
	resp, err := s.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the plain cookie name under TLS = %d", resp.StatusCode)
	}
}

// The Plan & Usage page shows the plan, its usage against what is included, the next
// invoice, and the trends of the API's query, as a chart or a table, filtered by app
// and range; agent counts are not shown to enterprise accounts.
func TestPortalPlanPage(t *testing.T) {
	env := storetest.Open(t, sqlstore.SQLite)
	s := newSite(t, env, siteOptions{usageDays: 8, accounts: map[string]bool{"northwind": true, "globex": true}})
	b := s.browser()
	b.enter(s.link("northwind", billow.RoleOwner))
	p := b.get("/portal/")
	for _, want := range []string{"Advanced", "$500.00 / month", "Active", "Next billing date", "Automation AI", "Contact Center AI",
		"Billing sessions", "of 5,000 sessions", "Apps", "of 50", "Free credits", "Next invoice", "(estimate)", "Usage Trends",
		`<option value="support-bot">Support Bot</option>`, `<option value="billing-bot">Billing Bot (linked app)</option>`,
		`data-agents=`, "<svg", "Last 30 days"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if n := strings.Count(p.body, `class="slot"`); n != 30 {
		t.Errorf("30 days have %d chart slots", n)
	}
	// The table view holds the API's numbers.
	table := b.get("/portal/?range=7d&view=table")
	_, api := s.api(adminKey, "GET", "/v1/accounts/northwind/usage/trends?range=7d", nil)
	buckets := api["buckets"].([]any)
	rows := regexp.MustCompile(`\n\s*<tr><th scope="row">`).FindAllString(table.body, -1)
	if len(buckets) != 7 || len(rows) != 7 {
		t.Fatalf("7 days: %d buckets, table %d rows", len(buckets), len(rows))
	}
	last := buckets[6].(map[string]any)
	cell := regexp.MustCompile(`<tr><th scope="row">[^<]*</th><td class="num">([^<]*)</td><td class="num">([^<]*)</td><td class="num">([^<]*)</td></tr>\s*</tbody>`)
	m := cell.FindStringSubmatch(table.body)
	if m == nil || strings.ReplaceAll(m[1], ",", "") != jsonNumber(last["billing_sessions"]) ||
		strings.ReplaceAll(m[2], ",", "") != jsonNumber(last["voice_sessions"]) || strings.ReplaceAll(m[3], ",", "") != jsonNumber(last["agent_count"]) {
		t.Fatalf("last row %q, API %v", m, last)
	}
	// 24 hours, one app: hourly buckets, no agent count (agents are not an app's).
	hourly := b.get("/portal/?range=24h&app=support-bot")
	if n := strings.Count(hourly.body, `class="slot"`); n != 24 || strings.Contains(hourly.body, "data-agents=") ||
		!strings.Contains(hourly.body, "choose All apps") {
		t.Errorf("24h of one app: %d slots", n)
	}
	// Custom dates, both included; bad ones are explained and the default shown.
	custom := b.get("/portal/?range=custom&from=2026-01-01&to=2026-01-10")
	if n := strings.Count(custom.body, `class="slot"`); n != 10 {
		t.Errorf("10 custom days: %d slots", n)
	}
	for _, q := range []string{"range=custom&from=2026-01-10&to=2026-01-01", "range=custom&from=2020-01-01&to=2026-01-10", "range=forever", "app=nope"} {
		p := b.get("/portal/?" + q)
		if p.status != 200 || (q != "range=forever" && !strings.Contains(p.body, `class="field-error"`)) || strings.Count(p.body, `class="slot"`) != 30 {
			t.Errorf("%s = %d, %d slots", q, p.status, strings.Count(p.body, `class="slot"`))
		}
	}

	// Enterprise: no agent count, no prices, no invoice estimate.
	g := s.browser()
	g.enter(s.link("globex", billow.RoleOwner))
	gp := g.get("/portal/")
	if strings.Contains(gp.body, "data-agents=") || strings.Contains(gp.body, "Agents (peak)") || strings.Contains(gp.body, "$5,000.00") ||
		!strings.Contains(gp.body, "Priced under your contract") || !strings.Contains(gp.body, "HR Helpdesk") {
		t.Errorf("enterprise plan page shows what it should not, or lacks its plan")
	}
}

// jsonNumber writes a number of a JSON answer as the portal writes it, without
// separators.
func jsonNumber(v any) string {
	f, ok := v.(float64)
	if !ok {
		return ""
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
