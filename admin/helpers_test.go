package admin_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/admin"
	"github.com/billowhq/billow/billing"
	"github.com/billowhq/billow/demo"
	billowhttp "github.com/billowhq/billow/http"
	"github.com/billowhq/billow/payment/sandbox"
	"github.com/billowhq/billow/pdf"
	"github.com/billowhq/billow/smtp"
	"github.com/billowhq/billow/sqlstore/storetest"
)

const apiKey = "sk_test_admin_0123456789abcdefghijklmnop"

var testBranding = pdf.Branding{Name: "Acme Cloud", AccentColor: "#7c3aed", Email: "billing@acme-cloud.example"}

// testPassword is every test operator's password.
const testPassword = "a long enough passphrase"

// site is a whole Billow over a real listener, API and console, on one engine's store
// with the demo's accounts and billing history: paid and open invoices, a declined
// renewal, a wire order awaiting clearance.
type site struct {
	t    testing.TB
	env  *storetest.Env
	base string
	srv  *httptest.Server
}

type siteOptions struct {
	mail admin.MailCatcher // nil: no mail catcher
}

func newSite(t testing.TB, env *storetest.Env, o siteOptions) *site {
	t.Helper()
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	gateway := sandbox.New(env.Clock)
	if _, err := demo.Load(ctx, env.DB, logger, demo.Billing(env.DB, gateway, env.Clock, logger)); err != nil {
		t.Fatal(err)
	}
	svc, err := billing.New(billing.Config{Store: env.DB, Gateway: gateway, Clock: env.Clock, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ah, err := admin.New(admin.Config{Store: env.DB, Billing: svc, MailCatcher: o.mail, Clock: env.Clock, Logger: logger, Branding: testBranding})
	if err != nil {
		t.Fatal(err)
	}
	h := billowhttp.New(billowhttp.Config{Store: env.DB, Logger: logger, AdminKey: apiKey, DefaultCatalog: "credits-platform",
		Billing: svc, Branding: testBranding, Admin: ah})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &site{t: t, env: env, base: srv.URL, srv: srv}
}

// operator makes an operator with testPassword and returns its TOTP secret.
func (s *site) operator(email string) string {
	s.t.Helper()
	e, err := admin.CreateUser(context.Background(), s.env.DB, billow.CreateAdminUserInput{Email: email, Name: "Test Operator", Password: testPassword})
	if err != nil {
		s.t.Fatal(err)
	}
	return e.TOTPSecret
}

// code is the TOTP code of secret at the store's clock, which the console reads.
func (s *site) code(secret string) string {
	s.t.Helper()
	c, err := admin.TOTPCode(secret, s.env.Clock.Now())
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// visitor is a cookie-keeping HTTP client of the console that does not follow
// redirects: a person's browser, without the rendering.
type visitor struct {
	t    testing.TB
	site *site
	c    *http.Client
	jar  *cookiejar.Jar
}

func (s *site) browser() *visitor {
	jar, err := cookiejar.New(nil)
	if err != nil {
		s.t.Fatal(err)
	}
	c := *s.srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &visitor{t: s.t, site: s, c: &c, jar: jar}
}

// page is an answer of the console.
type page struct {
	status int
	header http.Header
	body   string
}

func (p page) location() string { return p.header.Get("Location") }

func (b *visitor) get(path string) page {
	b.t.Helper()
	return b.do("GET", path, nil, nil)
}

// post sends a form as a browser does from a page of the console (its Origin).
func (b *visitor) post(path string, form url.Values, header ...string) page {
	b.t.Helper()
	h := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": b.site.base}
	for i := 0; i+1 < len(header); i += 2 {
		h[header[i]] = header[i+1]
	}
	return b.do("POST", path, strings.NewReader(form.Encode()), h)
}

func (b *visitor) do(method, path string, body io.Reader, header map[string]string) page {
	b.t.Helper()
	req, err := http.NewRequest(method, b.site.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return page{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

// cookie returns the value of the browser's cookie name, or "".
func (b *visitor) cookie(name string) string {
	u, _ := url.Parse(b.site.base)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// session is the console's session cookie.
func (b *visitor) session() string { return b.cookie("billow_admin") }

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the CSRF token of the form on a page.
func (b *visitor) csrf(path string) string {
	b.t.Helper()
	p := b.get(path)
	m := csrfField.FindStringSubmatch(p.body)
	if m == nil {
		b.t.Fatalf("no CSRF token on %s (%d): %.300s", path, p.status, p.body)
	}
	return m[1]
}

// password sends the password step and returns its answer.
func (b *visitor) password(email, password string) page {
	b.t.Helper()
	return b.post("/admin/login", url.Values{"csrf": {b.csrf("/admin/login")}, "email": {email}, "password": {password}})
}

// sendCode sends the code step and returns its answer.
func (b *visitor) sendCode(code string) page {
	b.t.Helper()
	return b.post("/admin/login/code", url.Values{"csrf": {b.csrf("/admin/login/code")}, "code": {code}})
}

// signIn signs in with both steps and checks that it lands in the console.
func (b *visitor) signIn(email, secret string) {
	b.t.Helper()
	if p := b.password(email, testPassword); p.status != http.StatusSeeOther || p.location() != "/admin/login/code" {
		b.t.Fatalf("password step = %d → %q: %.300s", p.status, p.location(), p.body)
	}
	if p := b.sendCode(b.site.code(secret)); p.status != http.StatusSeeOther || p.location() != "/admin/accounts" {
		b.t.Fatalf("code step = %d → %q: %.300s", p.status, p.location(), p.body)
	}
}

// fakeMail is a mail catcher holding fixed messages.
type fakeMail []smtp.Received

func (f fakeMail) Received() []smtp.Received { return f }

var caughtMail = fakeMail{{ReceivedAt: storetest.Start.Add(-time.Hour), From: "billing@acme-cloud.example", To: []string{"owner@northwind.example"},
	MessageID: "msg_01demo@billow", Subject: "Your invoice INV-0001", HeaderFrom: "Acme Cloud <billing@acme-cloud.example>",
	HeaderTo: "Nora Owner <owner@northwind.example>", Alternative: true, Text: "Hello Nora,\nyour invoice is attached.",
	HTML: `<html><body><p style="color:#333">Hello Nora,</p><script>alert(1)</script></body></html>`}}
