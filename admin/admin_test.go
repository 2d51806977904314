package admin_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/notify"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// Signing in takes the password, then a TOTP code; only then is there a session, under a
// new id and secret. A wrong password or code, or a code used already, is refused;
// failures lock the operator out; without a session every page sends the browser to sign
// in.
func TestAdminSignIn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		s := newSite(t, env, siteOptions{})
		secret := s.operator("ops@example.com")
		b := s.browser()

		t.Run("unauthenticated", func(t *testing.T) {
			for path, want := range map[string]string{
				"/admin/accounts":           "/admin/login?next=%2Fadmin%2Faccounts",
				"/admin/accounts/northwind": "/admin/login?next=%2Fadmin%2Faccounts%2Fnorthwind",
				"/admin/":                   "/admin/login",
				"/admin/wire-transfers":     "/admin/login?next=%2Fadmin%2Fwire-transfers",
			} {
				if p := b.get(path); p.status != http.StatusSeeOther || p.location() != want {
					t.Errorf("GET %s = %d → %q, want 303 → %q", path, p.status, p.location(), want)
				}
			}
			if p := b.post("/admin/orders/ord_x/clear", url.Values{"csrf": {"x"}}); p.status != http.StatusSeeOther || p.location() != "/admin/login" {
				t.Errorf("POST without a session = %d → %q", p.status, p.location())
			}
			p := b.get("/admin/login")
			if p.status != 200 || !strings.Contains(p.body, `autocomplete="current-password"`) {
				t.Fatalf("sign-in page %d: %.300s", p.status, p.body)
			}
			if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-inline") {
				t.Errorf("CSP %q", csp)
			}
			if p.header.Get("Cache-Control") != "no-store" || p.header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("headers %v", p.header)
			}
		})

		t.Run("wrong password", func(t *testing.T) {
			for _, email := range []string{"ops@example.com", "nobody@example.com"} {
				p := b.password(email, "not the password at all")
				if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "The email or password is not right.") {
					t.Errorf("%s: %d %.300s", email, p.status, p.body)
				}
			}
			if b.session() != "" {
				t.Error("a wrong password set a session cookie")
			}
		})

		var pendingSecret string
		var pending *billow.AdminSession
		t.Run("password then wrong code", func(t *testing.T) {
			p := b.password("OPS@example.com", testPassword)
			if p.status != http.StatusSeeOther || p.location() != "/admin/login/code" {
				t.Fatalf("right password = %d → %q", p.status, p.location())
			}
			pendingSecret = b.session()
			var err error
			if pending, err = env.DB.AdminSession(ctx, pendingSecret); err != nil || pending.Stage != billow.AdminStageTOTP {
				t.Fatalf("after the password: %+v, %v", pending, err)
			}
			for _, c := range p.header.Values("Set-Cookie") {
				if strings.HasPrefix(c, "billow_admin=") && (!strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Strict") || !strings.Contains(c, "Path=/")) {
					t.Errorf("cookie %q", c)
				}
			}
			// Half-way, the console stays shut.
			if p := b.get("/admin/accounts"); p.status != http.StatusSeeOther || p.location() != "/admin/login/code" {
				t.Errorf("accounts after the password only = %d → %q", p.status, p.location())
			}
			wrong := "000000"
			if s.code(secret) == wrong {
				wrong = "111111"
			}
			if p := b.sendCode(wrong); p.status != http.StatusUnauthorized || !strings.Contains(p.body, "That code is not right.") {
				t.Errorf("wrong code = %d: %.300s", p.status, p.body)
			}
		})

		var activeSecret string
		t.Run("right code: a new session id", func(t *testing.T) {
			code := s.code(secret)
			p := b.sendCode(code)
			if p.status != http.StatusSeeOther || p.location() != "/admin/accounts" {
				t.Fatalf("right code = %d → %q: %.300s", p.status, p.location(), p.body)
			}
			activeSecret = b.session()
			if activeSecret == "" || activeSecret == pendingSecret {
				t.Fatalf("the cookie did not change at sign-in: %q", activeSecret)
			}
			active, err := env.DB.AdminSession(ctx, activeSecret)
			if err != nil || active.Stage != billow.AdminStageActive || active.ID == pending.ID || active.CSRFToken == pending.CSRFToken {
				t.Fatalf("after sign-in: %+v (pending %s), %v", active, pending.ID, err)
			}
			if _, err := env.DB.AdminSession(ctx, pendingSecret); billow.ErrorCode(err) != billow.CodeUnauthorized {
				t.Errorf("the pre-sign-in secret still works: %v", err)
			}
			if p := b.get("/admin/accounts"); p.status != 200 || !strings.Contains(p.body, "Northwind Traders") || !strings.Contains(p.body, "ops@example.com") {
				t.Errorf("accounts after sign-in = %d: %.300s", p.status, p.body)
			}
			// The old secret in another browser opens nothing.
			thief := s.browser()
			u, _ := url.Parse(s.base)
			thief.jar.SetCookies(u, []*http.Cookie{{Name: "billow_admin", Value: pendingSecret, Path: "/"}})
			if p := thief.get("/admin/accounts"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location(), "/admin/login") {
				t.Errorf("the pre-sign-in secret = %d → %q", p.status, p.location())
			}
		})

		t.Run("sign out, then a replayed code", func(t *testing.T) {
			p := b.post("/admin/logout", url.Values{"csrf": {b.csrf("/admin/accounts")}})
			if p.status != http.StatusSeeOther || p.location() != "/admin/login?signed_out=1" || b.session() != "" {
				t.Fatalf("sign out = %d → %q, cookie %q", p.status, p.location(), b.session())
			}
			if _, err := env.DB.AdminSession(ctx, activeSecret); billow.ErrorCode(err) != billow.CodeUnauthorized {
				t.Errorf("the session after sign-out: %v", err)
			}
			// The clock has not moved: the code that signed in is the current one.
			if p := b.password("ops@example.com", testPassword); p.status != http.StatusSeeOther {
				t.Fatalf("password = %d", p.status)
			}
			if p := b.sendCode(s.code(secret)); p.status != http.StatusUnauthorized || !strings.Contains(p.body, "That code was used already.") {
				t.Errorf("replayed code = %d: %.300s", p.status, p.body)
			}
			env.Clock.Advance(30 * time.Second)
			if p := b.sendCode(s.code(secret)); p.status != http.StatusSeeOther || p.location() != "/admin/accounts" {
				t.Errorf("the next code = %d → %q: %.300s", p.status, p.location(), p.body)
			}
		})

		t.Run("lockout", func(t *testing.T) {
			other := s.operator("locked@example.com")
			lb := s.browser()
			for i := 1; i < billow.AdminLoginFailuresMax; i++ {
				if p := lb.password("locked@example.com", "wrong password number"); p.status != http.StatusUnauthorized {
					t.Fatalf("failure %d = %d", i, p.status)
				}
			}
			p := lb.password("locked@example.com", "wrong password again")
			if p.status != http.StatusTooManyRequests || !strings.Contains(p.body, "Too many failed sign-in attempts") || p.header.Get("Retry-After") != "900" {
				t.Fatalf("failure %d = %d (Retry-After %q): %.400s", billow.AdminLoginFailuresMax, p.status, p.header.Get("Retry-After"), p.body)
			}
			// Locked, even the right password is refused, without a session.
			if p := lb.password("locked@example.com", testPassword); p.status != http.StatusTooManyRequests || lb.session() != "" {
				t.Fatalf("the right password while locked = %d", p.status)
			}
			// Another operator is not affected.
			env.Clock.Advance(30 * time.Second)
			s.browser().signIn("ops@example.com", secret)
			env.Clock.Advance(billow.AdminLockoutDuration)
			lb.signIn("locked@example.com", other)
		})
	})
}

// The pages of the console show the demo's accounts, billing and catalogs; a form is
// refused without the session's CSRF token or from another origin; "Mark received" clears
// a wire transfer.
func TestAdminConsole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		s := newSite(t, env, siteOptions{mail: caughtMail})
		secret := s.operator("ops@example.com")
		b := s.browser()
		b.signIn("ops@example.com", secret)
		wires, err := env.DB.PendingWireOrders(ctx, 10)
		if err != nil || len(wires) == 0 {
			t.Fatalf("the demo has no wire order awaiting clearance: %v", err)
		}
		wire := wires[0].Order

		t.Run("accounts and search", func(t *testing.T) {
			p := b.get("/admin/accounts")
			for _, name := range []string{"Northwind Traders", "Globex Corporation", "Acme Bots"} {
				if !strings.Contains(p.body, name) {
					t.Errorf("accounts lack %s", name)
				}
			}
			p = b.get("/admin/accounts?q=NORTH")
			if !strings.Contains(p.body, "Northwind Traders") || strings.Contains(p.body, "Globex Corporation") {
				t.Errorf("search north: %.500s", p.body)
			}
			globex, _ := env.DB.Account(ctx, "globex")
			p = b.get("/admin/accounts?q=" + globex.ID)
			if !strings.Contains(p.body, "Globex Corporation") || strings.Contains(p.body, "Northwind Traders") {
				t.Errorf("search by id: %.500s", p.body)
			}
			if p = b.get("/admin/accounts?q=zzz-nothing"); !strings.Contains(p.body, "No account matches") {
				t.Errorf("search for nothing: %.500s", p.body)
			}
			if p = b.get("/admin/accounts?q=" + strings.Repeat("x", 201)); p.status != http.StatusUnprocessableEntity {
				t.Errorf("a search too long = %d", p.status)
			}
		})

		t.Run("account", func(t *testing.T) {
			p := b.get("/admin/accounts/northwind")
			if p.status != 200 {
				t.Fatalf("account = %d: %.300s", p.status, p.body)
			}
			for _, want := range []string{"Advanced", "Wallet", "Paid", "Usage this period", "Billing sessions", `data-pdf`} {
				if !strings.Contains(p.body, want) {
					t.Errorf("the account page lacks %q", want)
				}
			}
			invs, _ := env.DB.Invoices(ctx, sqlstore.InvoiceFilter{AccountID: wire.Account})
			if len(invs) == 0 {
				t.Fatal("no invoices")
			}
			pdfPage := b.get("/admin/invoices/" + invs[0].ID + "/pdf")
			if pdfPage.status != 200 || pdfPage.header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(pdfPage.body, "%PDF-") {
				t.Errorf("PDF = %d %q", pdfPage.status, pdfPage.header.Get("Content-Type"))
			}
			if p := b.get("/admin/accounts/nobody"); p.status != http.StatusNotFound {
				t.Errorf("an unknown account = %d", p.status)
			}
		})

		t.Run("other pages", func(t *testing.T) {
			if p := b.get("/admin/failed-payments"); p.status != 200 || !strings.Contains(p.body, "Northwind Traders") || !strings.Contains(p.body, "data-failed") {
				t.Errorf("failed payments = %d: %.500s", p.status, p.body)
			}
			if p := b.get("/admin/catalogs?catalog=ai-for-service"); p.status != 200 || !strings.Contains(p.body, "Advanced") {
				t.Errorf("catalog = %d", p.status)
			}
			if p := b.get("/admin/catalogs?catalog=nope"); p.status != http.StatusNotFound {
				t.Errorf("an unknown catalog = %d", p.status)
			}
			now := env.Clock.Now()
			_, err := env.DB.InsertMessages(ctx, []*notify.Message{{ID: billow.NewID(notify.PrefixMessage, now), DedupeKey: "t:1", Template: "invoice_paid",
				Group: "pricing", Locale: "en", ToEmail: "owner@northwind.example", ToName: "Nora Owner", Subject: "Your receipt",
				HTML: "<p>hi</p>", Text: "hi", Status: notify.StatusFailed, Attempts: 3, NextAttemptAt: now, LastError: "550 mailbox unavailable",
				CreatedAt: now, UpdatedAt: now}}, notify.RateLimit{})
			if err != nil {
				t.Fatal(err)
			}
			p := b.get("/admin/emails?status=failed")
			if p.status != 200 || !strings.Contains(p.body, "Your receipt") || !strings.Contains(p.body, "550 mailbox unavailable") {
				t.Errorf("email log = %d: %.500s", p.status, p.body)
			}
			if p := b.get("/admin/emails?status=sent"); strings.Contains(p.body, "Your receipt") {
				t.Error("the sent filter shows a failed message")
			}
			p = b.get("/admin/mail")
			if p.status != 200 || !strings.Contains(p.body, "Your invoice INV-0001") {
				t.Errorf("mail catcher = %d", p.status)
			}
			p = b.get("/admin/mail/" + url.PathEscape("msg_01demo@billow"))
			if p.status != 200 || !strings.Contains(p.body, `<iframe class="mail-frame" src="/admin/mail/msg_01demo@billow/html" sandbox`) ||
				!strings.Contains(p.body, "your invoice is attached.") {
				t.Errorf("a caught message = %d: %.800s", p.status, p.body)
			}
			p = b.get("/admin/mail/msg_01demo@billow/html")
			if csp := p.header.Get("Content-Security-Policy"); p.status != 200 || !strings.Contains(csp, "sandbox") || strings.Contains(csp, "script-src") ||
				p.header.Get("X-Frame-Options") != "SAMEORIGIN" {
				t.Errorf("a caught message's HTML = %d, CSP %q", p.status, csp)
			}
			if p := b.get("/admin/nope"); p.status != http.StatusNotFound {
				t.Errorf("an unknown page = %d", p.status)
			}
			if p := s.browser().get("/admin/static/admin.css"); p.status != 200 || !strings.HasPrefix(p.header.Get("Content-Type"), "text/css") {
				t.Errorf("the stylesheet without a session = %d", p.status)
			}
		})

		t.Run("CSRF", func(t *testing.T) {
			token := b.csrf("/admin/wire-transfers")
			path := "/admin/orders/" + wire.ID + "/clear"
			for name, p := range map[string]page{
				"no token":     b.post(path, url.Values{}),
				"wrong token":  b.post(path, url.Values{"csrf": {strings.Repeat("A", len(token))}}),
				"other origin": b.post(path, url.Values{"csrf": {token}}, "Origin", "https://evil.example"),
				"null origin":  b.post(path, url.Values{"csrf": {token}}, "Origin", "null"),
			} {
				if p.status != http.StatusForbidden {
					t.Errorf("%s = %d", name, p.status)
				}
			}
			if o, _, _ := env.DB.Order(ctx, wire.ID); o.Status != billow.OrderPendingPayment {
				t.Fatalf("a refused form changed the order: %s", o.Status)
			}
			// The sign-in form is held to its own token and origin too.
			lb := s.browser()
			loginToken := lb.csrf("/admin/login")
			form := url.Values{"csrf": {loginToken}, "email": {"ops@example.com"}, "password": {testPassword}}
			if p := lb.post("/admin/login", form, "Origin", "https://evil.example"); p.status != http.StatusForbidden {
				t.Errorf("sign-in from another origin = %d", p.status)
			}
			form.Set("csrf", "forged")
			if p := lb.post("/admin/login", form); p.status != http.StatusForbidden || lb.session() != "" {
				t.Errorf("sign-in without the form's token = %d", p.status)
			}
		})

		t.Run("mark a wire transfer received", func(t *testing.T) {
			p := b.get("/admin/wire-transfers")
			if !strings.Contains(p.body, wire.ID) {
				t.Fatalf("the wire list lacks %s: %.500s", wire.ID, p.body)
			}
			p = b.post("/admin/orders/"+wire.ID+"/clear", url.Values{"csrf": {b.csrf("/admin/wire-transfers")}, "from": {"/admin/wire-transfers"}})
			if p.status != http.StatusSeeOther || p.location() != "/admin/wire-transfers?cleared="+wire.ID {
				t.Fatalf("mark received = %d → %q: %.500s", p.status, p.location(), p.body)
			}
			o, _, err := env.DB.Order(ctx, wire.ID)
			if err != nil || o.Status != billow.OrderCompleted || o.CompletedAt == nil {
				t.Fatalf("after mark received: %+v, %v", o, err)
			}
			if inv, _ := env.DB.Invoice(ctx, o.Invoice); inv.Status != billow.InvoicePaid {
				t.Errorf("the order's invoice is %s", inv.Status)
			}
			p = b.get(p.location())
			if !strings.Contains(p.body, "was marked received") || strings.Contains(p.body, `<tr id="`+wire.ID+`"`) {
				t.Errorf("the list after clearing: %.800s", p.body)
			}
			// Again: the order is no longer awaiting a transfer.
			p = b.post("/admin/orders/"+wire.ID+"/clear", url.Values{"csrf": {b.csrf("/admin/wire-transfers")}})
			if p.status != http.StatusConflict {
				t.Errorf("clearing twice = %d", p.status)
			}
		})
	})
}
