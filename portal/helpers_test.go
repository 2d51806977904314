package portal_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/autocharge"
	"github.com/billowhq/billow/billing"
	"github.com/billowhq/billow/demo"
	billowhttp "github.com/billowhq/billow/http"
	"github.com/billowhq/billow/ingest"
	"github.com/billowhq/billow/payment/sandbox"
	"github.com/billowhq/billow/pdf"
	"github.com/billowhq/billow/portal"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

const adminKey = "sk_test_portal_0123456789abcdefghijklmn"

// testBranding is an operator with an accent light enough that the portal must darken it
// for text.
var testBranding = pdf.Branding{Name: "Acme Cloud", AccentColor: "#7c3aed", Email: "billing@acme-cloud.example"}

// site is a whole Billow over a real listener, API and portal, on one engine's store with
// the demo's accounts, members and billing history, and usage history of usageDays.
type site struct {
	t       testing.TB
	env     *storetest.Env
	base    string
	srv     *httptest.Server
	billing *billing.Service
}

type siteOptions struct {
	usageDays int             // days of demo usage; 0 for none
	tls       bool            // serve over TLS
	publicURL string          // BILLOW_PUBLIC_URL
	accounts  map[string]bool // the demo accounts given usage; nil for all
	logger    *slog.Logger    // nil: discard
}

func newSite(t testing.TB, env *storetest.Env, o siteOptions) *site {
	t.Helper()
	ctx := context.Background()
	logger := o.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	gateway := sandbox.New(env.Clock)
	var exts []demo.Extension
	if o.usageDays > 0 {
		usage := demo.Usage(ingest.New(env.DB, env.Clock), env.Clock, logger, o.usageDays)
		exts = append(exts, func(ctx context.Context, d *demo.Data) error {
			if o.accounts == nil {
				return usage(ctx, d)
			}
			some := &demo.Data{Apps: d.Apps}
			for _, a := range d.Accounts {
				if o.accounts[a.ExternalID] {
					some.Accounts = append(some.Accounts, a)
				}
			}
			return usage(ctx, some)
		})
	}
	exts = append(exts, demo.Billing(env.DB, gateway, env.Clock, logger))
	if _, err := demo.Load(ctx, env.DB, logger, exts...); err != nil {
		t.Fatal(err)
	}
	svc, err := billing.New(billing.Config{Store: env.DB, Gateway: gateway, Clock: env.Clock, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ac, err := autocharge.New(autocharge.Config{Store: env.DB, Billing: svc, Clock: env.Clock, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ph, err := portal.New(portal.Config{Store: env.DB, Billing: svc, AutoCharge: ac, Clock: env.Clock, Logger: logger, Branding: testBranding,
		PublicURL: o.publicURL})
	if err != nil {
		t.Fatal(err)
	}
	h := billowhttp.New(billowhttp.Config{Store: env.DB, Logger: logger, AdminKey: adminKey, DefaultCatalog: "credits-platform",
		Billing: svc, AutoCharge: ac, Branding: testBranding, Portal: ph, PublicURL: o.publicURL})
	var srv *httptest.Server
	if o.tls {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	return &site{t: t, env: env, base: srv.URL, srv: srv, billing: svc}
}

// api calls the JSON API with a key and returns the status and the decoded body.
func (s *site) api(key, method, path string, body any) (int, map[string]any) {
	s.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.base+path, r)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client().Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(raw, &m); err != nil {
			s.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	return resp.StatusCode, m
}

// client is an HTTP client that trusts the test server and does not follow redirects.
func (s *site) client() *http.Client {
	c := *s.srv.Client() // trusts the test server's certificate when it has one
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// member returns the id of the account's first member of a role.
func (s *site) member(account string, role billow.Role) string {
	s.t.Helper()
	a, err := s.env.DB.Account(context.Background(), account)
	if err != nil {
		s.t.Fatal(err)
	}
	p, err := s.env.DB.ListMembers(context.Background(), a.ID, role, billow.PageInput{})
	if err != nil || len(p.Data) == 0 {
		s.t.Fatalf("no %s in %s: %v", role, account, err)
	}
	return p.Data[0].ID
}

// link asks the API for a portal link for the account's member of a role.
func (s *site) link(account string, role billow.Role) string {
	s.t.Helper()
	status, m := s.api(adminKey, "POST", "/v1/portal_sessions", map[string]any{"account": account, "member": s.member(account, role),
		"return_url": "https://app.example.com/settings/billing"})
	if status != 201 {
		s.t.Fatalf("POST /v1/portal_sessions = %d: %v", status, m)
	}
	return m["url"].(string)
}

// visitor is a cookie-keeping HTTP client of the portal: a person's browser, without
// the JavaScript.
type visitor struct {
	t    testing.TB
	site *site
	c    *http.Client
}

func (s *site) browser() *visitor {
	jar, err := cookiejar.New(nil)
	if err != nil {
		s.t.Fatal(err)
	}
	c := s.client()
	c.Jar = jar
	return &visitor{t: s.t, site: s, c: c}
}

// page is an answer of the portal.
type page struct {
	status int
	header http.Header
	body   string
}

func (b *visitor) get(path string) page {
	b.t.Helper()
	return b.do("GET", path, nil, nil)
}

// post sends a form as a browser does from a page of the portal (its Origin).
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
	u := path
	if !strings.HasPrefix(u, "http") {
		u = b.site.base + path
	}
	req, err := http.NewRequest(method, u, body)
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

// enter opens a portal link and checks that it lands on the portal.
func (b *visitor) enter(link string) {
	b.t.Helper()
	p := b.get(link)
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/portal/" {
		b.t.Fatalf("opening the link = %d → %q: %.300s", p.status, p.header.Get("Location"), p.body)
	}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the session's CSRF token from a page's form.
func (b *visitor) csrf() string {
	b.t.Helper()
	p := b.get("/portal/")
	m := csrfField.FindStringSubmatch(p.body)
	if m == nil {
		b.t.Fatalf("no CSRF token on the page (%d): %.300s", p.status, p.body)
	}
	return m[1]
}

// openInvoice returns an open invoice of the account that Pay now applies to.
func (s *site) openInvoice(account string) *billow.Invoice {
	s.t.Helper()
	a, err := s.env.DB.Account(context.Background(), account)
	if err != nil {
		s.t.Fatal(err)
	}
	invs, err := s.env.DB.Invoices(context.Background(), sqlstore.InvoiceFilter{AccountID: a.ID})
	if err != nil {
		s.t.Fatal(err)
	}
	for _, inv := range invs {
		if inv.Status == billow.InvoiceOpen && inv.PaymentStatus == billow.PaymentNone {
			return inv
		}
	}
	s.t.Fatalf("%s has no open invoice", account)
	return nil
}

func (s *site) invoice(id string) *billow.Invoice {
	s.t.Helper()
	inv, err := s.env.DB.Invoice(context.Background(), id)
	if err != nil {
		s.t.Fatal(err)
	}
	return inv
}
