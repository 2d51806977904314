package http_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/emails"
	billowhttp "github.com/billowhq/billow/http"
	"github.com/billowhq/billow/notify"
	"github.com/billowhq/billow/smtp"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// testRenderer parses the email templates once for every test server.
var testRenderer = sync.OnceValues(func() (*emails.Renderer, error) { return emails.NewRenderer("") })

// newTestNotifier is the email service of a test server. With a nil sender messages stay
// queued.
func newTestNotifier(t testing.TB, env *storetest.Env, db notify.Store, logger *slog.Logger, sender notify.Sender) *notify.Service {
	t.Helper()
	r, err := testRenderer()
	if err != nil {
		t.Fatal(err)
	}
	svc, err := notify.New(notify.Config{Store: db, Renderer: r, Sender: sender, Clock: env.Clock, Logger: logger,
		Brand: emails.Brand{Name: "Billow Test Operator", Email: "billing@operator.test"}, From: "billing@operator.test",
		PublicURL: "https://billing.operator.test", InvoiceBranding: testBranding})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// lockedBuffer collects the logs of a server and its workers.
type lockedBuffer struct {
	mu sync.Mutex // protects b
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// notifyServer is a server whose emails go to a sink, with every answer kept.
type notifyServer struct {
	*apiClient
	svc  *notify.Service
	sink *smtp.Sink
	logs *lockedBuffer
}

func newNotifyServer(t *testing.T, env *storetest.Env) *notifyServer {
	t.Helper()
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sink := smtp.NewSink(env.Clock, 0)
	if err := sink.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Stop() })
	sender, err := smtp.New(smtp.Config{URL: sink.URL()})
	if err != nil {
		t.Fatal(err)
	}
	svc := newTestNotifier(t, env, env.DB, logger, sender)
	srv := httptest.NewServer(billowhttp.New(billowhttp.Config{Store: env.DB, Logger: logger, AdminKey: adminKey,
		DefaultCatalog: "credits-platform", Notifier: svc, MailCatcher: sink}))
	t.Cleanup(srv.Close)
	return &notifyServer{apiClient: &apiClient{t: t, base: srv.URL, key: adminKey, env: env}, svc: svc, sink: sink, logs: logs}
}

func (s *notifyServer) deliver() {
	s.t.Helper()
	if _, err := s.svc.Deliver(context.Background()); err != nil {
		s.t.Fatal(err)
	}
}

// errorLocations lists the locations of a problem's errors.
func errorLocations(t *testing.T, a answer) []string {
	t.Helper()
	var out []string
	errs, _ := a.json(t)["errors"].([]any)
	for _, e := range errs {
		out = append(out, e.(map[string]any)["location"].(string))
	}
	return out
}

var botPublish = map[string]any{"app": "Order Bot", "app_url": "https://app.example.test/apps/order-bot", "environment": "production"}

// Every notification route through a real listener: sending (to addresses and to roles),
// validation that names fields, listing with filters and pages, one message with its
// delivery log, previews, the catalogue, the demo mail catcher, idempotency and the rate
// limit.
func TestNotificationRoutes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		c := newNotifyServer(t, env)
		c.must(201, "POST", "/v1/accounts", map[string]any{"external_id": "acme", "name": "Acme"})
		c.must(201, "POST", "/v1/accounts/acme/members", map[string]any{"email": "dev@acme.test", "name": "Dev", "role": "developer"})
		c.must(201, "POST", "/v1/accounts/acme/members", map[string]any{"email": "owner@acme.test", "role": "owner"})

		sent := c.must(202, "POST", "/v1/notifications", map[string]any{"template": "signup_otp",
			"to":   []any{map[string]any{"email": "Ada@Example.test", "name": "Ada"}, map[string]any{"email": "bob@example.test"}},
			"data": map[string]any{"otp": "123456", "expires_minutes": 10}})
		otpIDs := ids(t, sent)
		first := sent["data"].([]any)[0].(map[string]any)
		if len(otpIDs) != 2 || first["status"] != "queued" || first["redacted"] != true || first["to"].(map[string]any)["email"] != "ada@example.test" || first["html"] != nil {
			t.Fatalf("sent %v", sent)
		}
		toRoles := c.must(202, "POST", "/v1/notifications", map[string]any{"template": "bot_publish", "account": "acme", "roles": []any{"developer"}, "data": botPublish})
		publishID := ids(t, toRoles)[0]
		if m := toRoles["data"].([]any)[0].(map[string]any); m["to"].(map[string]any)["email"] != "dev@acme.test" || m["account"] == nil || m["redacted"] != false {
			t.Fatalf("sent to roles %v", toRoles)
		}

		// Validation names fields and never echoes values.
		for _, bad := range []struct {
			body  map[string]any
			where string
		}{
			{map[string]any{"to": []any{map[string]any{"email": "a@example.test"}}, "data": map[string]any{}}, "body.template"},
			{map[string]any{"template": "nope", "to": []any{map[string]any{"email": "a@example.test"}}, "data": map[string]any{}}, "body.template"},
			{map[string]any{"template": "invoice_available", "to": []any{map[string]any{"email": "a@example.test"}}, "data": map[string]any{}}, "body.template"},
			{map[string]any{"template": "signup_otp", "data": map[string]any{"otp": "1", "expires_minutes": 5}}, "body.to"},
			{map[string]any{"template": "signup_otp", "roles": []any{"owner"}, "data": map[string]any{"otp": "1", "expires_minutes": 5}}, "body.account"},
			{map[string]any{"template": "signup_otp", "to": []any{map[string]any{"email": "not-an-address-Z9"}}, "data": map[string]any{"otp": "1", "expires_minutes": 5}}, "body.to[0].email"},
			{map[string]any{"template": "signup_otp", "to": []any{map[string]any{"email": "a@example.test"}}, "data": map[string]any{"otp": "9F8E7D"}}, "body.data.expires_minutes"},
			{map[string]any{"template": "signup_otp", "to": []any{map[string]any{"email": "a@example.test"}}, "data": map[string]any{"otp": "9F8E7D", "expires_minutes": 5, "bogus": "Q1W2E3"}}, "body.data.bogus"},
		} {
			a := c.do("POST", "/v1/notifications", bad.body)
			if a.status != 422 || a.problemCode(t) != billow.CodeValidationFailed && a.problemCode(t) != emails.CodeUnknownTemplate {
				t.Errorf("%v: %d %s", bad.body, a.status, a.body)
				continue
			}
			if locs := errorLocations(t, a); !containsString(locs, bad.where) {
				t.Errorf("%v: errors at %v, want %s", bad.body, locs, bad.where)
			}
			for _, secret := range []string{"9F8E7D", "Q1W2E3", "not-an-address-Z9"} {
				if strings.Contains(string(a.body), secret) {
					t.Errorf("the problem quotes a value: %s", a.body)
				}
			}
		}

		// The same request with the same Idempotency-Key queues nothing new.
		body := map[string]any{"template": "bot_publish", "to": []any{map[string]any{"email": "carol@example.test"}}, "data": botPublish}
		once := c.must(202, "POST", "/v1/notifications", body, "Idempotency-Key", "publish-42")
		again := c.do("POST", "/v1/notifications", body, "Idempotency-Key", "publish-42")
		if again.status != 202 || again.header.Get("Idempotent-Replayed") != "true" || fmt.Sprint(ids(t, again.json(t))) != fmt.Sprint(ids(t, once)) {
			t.Fatalf("replay: %d %s", again.status, again.body)
		}

		// Lists: newest first, filtered, by pages, without bodies.
		list := c.must(200, "GET", "/v1/notifications?recipient=ADA@example.test", nil)
		if got := ids(t, list); len(got) != 1 || got[0] != otpIDs[0] {
			t.Fatalf("by recipient: %v", list)
		}
		if got := ids(t, c.must(200, "GET", "/v1/notifications?account=acme", nil)); len(got) != 1 || got[0] != publishID {
			t.Fatalf("by account: %v", got)
		}
		page := c.must(200, "GET", "/v1/notifications?limit=2", nil)
		next := c.must(200, "GET", "/v1/notifications?limit=2&starting_after="+ids(t, page)[1], nil)
		if page["has_more"] != true || len(ids(t, next)) != 2 || next["has_more"] != false {
			t.Fatalf("pages %v then %v", page, next)
		}
		if strings.Contains(fmt.Sprint(page), "<html") {
			t.Fatal("a list shows bodies")
		}
		c.must(422, "GET", "/v1/notifications?status=lost", nil)
		c.must(404, "GET", "/v1/notifications?account=nobody", nil)

		// One message: redacted when it holds a secret, else with its body; then its
		// delivery log once sent.
		otp := c.must(200, "GET", "/v1/notifications/"+otpIDs[0], nil)
		if otp["redacted"] != true || otp["html"] != nil || otp["text"] != nil || otp["subject"] == "" || otp["status"] != "queued" || otp["next_attempt_at"] == nil {
			t.Fatalf("secret message %v", otp)
		}
		if pub := c.must(200, "GET", "/v1/notifications/"+publishID, nil); !strings.Contains(pub["text"].(string), "Order Bot") || pub["html"] == nil {
			t.Fatalf("plain message %v", pub)
		}
		c.must(404, "GET", "/v1/notifications/msg_01jzzzzzzzzzzzzzzzzzzzzzzz", nil)
		c.must(404, "GET", "/v1/notifications/nonsense", nil)
		c.deliver()
		otp = c.must(200, "GET", "/v1/notifications/"+otpIDs[0], nil)
		log := otp["deliveries"].([]any)
		if otp["status"] != "sent" || otp["sent_at"] == nil || len(log) != 1 || log[0].(map[string]any)["outcome"] != "sent" || log[0].(map[string]any)["reply_code"] != 250.0 {
			t.Fatalf("after delivery %v", otp)
		}
		if got := ids(t, c.must(200, "GET", "/v1/notifications?status=sent", nil)); len(got) != 4 {
			t.Fatalf("%d sent", len(got))
		}

		// Previews: with sample data, with given data, an unknown template.
		pre := c.must(200, "POST", "/v1/notifications/preview", map[string]any{"template": "invoice_available"})
		if !strings.Contains(pre["text"].(string), "INV-2026-00188") || !strings.Contains(pre["html"].(string), "<html") || pre["subject"] == "" {
			t.Fatalf("preview %v", pre)
		}
		pre = c.must(200, "POST", "/v1/notifications/preview", map[string]any{"template": "bot_publish", "data": botPublish})
		if !strings.Contains(pre["text"].(string), "Order Bot") {
			t.Fatalf("preview with data %v", pre)
		}
		if a := c.do("POST", "/v1/notifications/preview", map[string]any{"template": "nope"}); a.status != 422 || a.problemCode(t) != emails.CodeUnknownTemplate {
			t.Fatalf("unknown template preview: %d %s", a.status, a.body)
		}

		// The catalogue.
		tpls := c.must(200, "GET", "/v1/notification_templates", nil)["data"].([]any)
		if len(tpls) != len(emails.Catalogue()) {
			t.Fatalf("%d templates", len(tpls))
		}
		otpTpl := tpls[0].(map[string]any)
		if otpTpl["key"] != "signup_otp" || !strings.Contains(fmt.Sprint(otpTpl["fields"]), "secret:true") {
			t.Fatalf("first template %v", otpTpl)
		}

		// The demo mail catcher: the operator's only.
		mail := c.must(200, "GET", "/v1/demo/mail?limit=2", nil)["data"].([]any)
		if len(mail) != 2 || !strings.HasSuffix(mail[0].(map[string]any)["message_id"].(string), "@billow") {
			t.Fatalf("demo mail %v", mail)
		}
		key := c.must(201, "POST", "/v1/api_keys", map[string]any{"name": "acme", "account": "acme"})["key"].(string)
		c.as(key).must(404, "GET", "/v1/demo/mail", nil)

		// Ten product emails per address per ten minutes; the eleventh is 429 with
		// Retry-After, and nothing is queued.
		flood := map[string]any{"template": "bot_publish", "to": []any{map[string]any{"email": "flood@example.test"}}, "data": botPublish}
		for range notify.ProductSendsPerRecipientMax {
			c.must(202, "POST", "/v1/notifications", flood)
		}
		a := c.do("POST", "/v1/notifications", flood, "Idempotency-Key", "flood-11")
		retry, err := strconv.Atoi(a.header.Get("Retry-After"))
		if a.status != 429 || a.problemCode(t) != notify.CodeRateLimited || err != nil || retry < 1 || retry > 600 {
			t.Fatalf("over the limit: %d %q %s", a.status, a.header.Get("Retry-After"), a.body)
		}
		if got := ids(t, c.must(200, "GET", "/v1/notifications?recipient=flood@example.test&limit=100", nil)); len(got) != notify.ProductSendsPerRecipientMax {
			t.Fatalf("%d queued for the flooded address", len(got))
		}
		// A 429 is not kept with its Idempotency-Key: after Retry-After the same request
		// under the same key is sent.
		env.Clock.Advance(time.Duration(retry+1) * time.Second)
		if a := c.do("POST", "/v1/notifications", flood, "Idempotency-Key", "flood-11"); a.status != 202 {
			t.Fatalf("the retry after Retry-After under the same key: %d %s", a.status, a.body)
		}
	})
}

// An account's key sends for its own account and reads its own messages only; another
// account's, and the operator's product emails without an account, are not found.
func TestNotificationTenancy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		c := newNotifyServer(t, env)
		for _, id := range []string{"tenant-a", "tenant-b"} {
			c.must(201, "POST", "/v1/accounts", map[string]any{"external_id": id, "name": id})
			c.must(201, "POST", "/v1/accounts/"+id+"/members", map[string]any{"email": "owner@" + id + ".test", "role": "owner"})
		}
		aKey := c.must(201, "POST", "/v1/api_keys", map[string]any{"name": "a", "account": "tenant-a"})["key"].(string)
		bKey := c.must(201, "POST", "/v1/api_keys", map[string]any{"name": "b", "account": "tenant-b"})["key"].(string)
		asA, asB := c.as(aKey), c.as(bKey)

		// A's key sends without naming its account: the message is A's.
		sent := asA.must(202, "POST", "/v1/notifications", map[string]any{"template": "bot_publish", "roles": []any{"owner"}, "data": botPublish})
		aMsg := ids(t, sent)[0]
		if m := asA.must(200, "GET", "/v1/notifications/"+aMsg, nil); m["to"].(map[string]any)["email"] != "owner@tenant-a.test" {
			t.Fatalf("A's message %v", m)
		}
		opMsg := ids(t, c.must(202, "POST", "/v1/notifications", map[string]any{"template": "bot_publish",
			"to": []any{map[string]any{"email": "x@example.test"}}, "data": botPublish}))[0]

		asB.must(404, "GET", "/v1/notifications/"+aMsg, nil)
		asB.must(404, "GET", "/v1/notifications/"+opMsg, nil)
		asB.must(404, "GET", "/v1/notifications?account=tenant-a", nil)
		asB.must(404, "POST", "/v1/notifications", map[string]any{"template": "bot_publish", "account": "tenant-a", "roles": []any{"owner"}, "data": botPublish})
		if got := asB.must(200, "GET", "/v1/notifications", nil)["data"].([]any); len(got) != 0 {
			t.Fatalf("B sees %v", got)
		}
		if got := ids(t, asA.must(200, "GET", "/v1/notifications", nil)); len(got) != 1 || got[0] != aMsg {
			t.Fatalf("A sees %v", got)
		}
		// The operator sees all.
		if got := ids(t, c.must(200, "GET", "/v1/notifications", nil)); len(got) != 2 {
			t.Fatalf("the operator sees %v", got)
		}
	})
}

// Secrets (an OTP, a reset link) sent through the whole path, from the API to the SMTP
// server, never appear in a log line, an API answer, the delivery log or any table but
// the message body, which is wiped once the message is sent or given up: not in the
// stored Idempotency-Key answer, not in a validation error, not in a preview.
func TestSecretsNeverLeak(t *testing.T) {
	env := storetest.Open(t, sqlstore.SQLite)
	c := newNotifyServer(t, env)
	const otp, resetToken = "S3CR3T-OTP-7731", "S3CR3T-RESET-4419"
	resetURL := "https://app.example.test/reset?token=" + resetToken
	secrets := []string{otp, resetToken}
	var answers []string
	keep := func(a answer) answer {
		answers = append(answers, fmt.Sprint(a.header)+string(a.body))
		return a
	}
	call := func(status int, method, path string, body any, headers ...string) map[string]any {
		t.Helper()
		a := keep(c.do(method, path, body, headers...))
		if a.status != status {
			t.Fatalf("%s %s = %d, want %d: %s", method, path, a.status, status, a.body)
		}
		return a.json(t)
	}
	// One address is refused for a while (451), so the delivery log has errors.
	busy := true
	var mu sync.Mutex // protects busy
	c.sink.SetReject(func(rcpt string) error {
		mu.Lock()
		defer mu.Unlock()
		if busy && strings.HasPrefix(rcpt, "busy@") {
			return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 2, 1}, Message: "mailbox busy, try later"}
		}
		return nil
	})

	otpReq := map[string]any{"template": "signup_otp", "to": []any{map[string]any{"email": "ada@example.test"}, map[string]any{"email": "busy@example.test"}},
		"data": map[string]any{"otp": otp, "expires_minutes": 10}}
	sent := ids(t, call(202, "POST", "/v1/notifications", otpReq, "Idempotency-Key", "signup-ada"))
	call(202, "POST", "/v1/notifications", otpReq, "Idempotency-Key", "signup-ada") // replayed
	sent = append(sent, ids(t, call(202, "POST", "/v1/notifications", map[string]any{"template": "forgot_password",
		"to": []any{map[string]any{"email": "ada@example.test"}}, "data": map[string]any{"reset_url": resetURL, "expires_minutes": 30}}))...)
	// Refused requests that carry a secret.
	call(422, "POST", "/v1/notifications", map[string]any{"template": "signup_otp", "to": []any{map[string]any{"email": "ada@example.test"}},
		"data": map[string]any{"otp": otp, "expires_minutes": 10, "extra": otp}}, "Idempotency-Key", "bad-1")
	call(422, "POST", "/v1/notifications", map[string]any{"template": "forgot_password", "to": []any{map[string]any{"email": "ada@example.test"}},
		"data": map[string]any{"reset_url": 42, "expires_minutes": resetToken}})
	call(400, "POST", "/v1/notifications", `{"template":"signup_otp","to":[{"email":"ada@example.test"}],"data":{"otp":"`+otp+`"`) // malformed JSON
	// Previews show the sample's secrets, never the given ones.
	pre := call(200, "POST", "/v1/notifications/preview", map[string]any{"template": "forgot_password",
		"data": map[string]any{"reset_url": resetURL, "expires_minutes": 30}}, "Idempotency-Key", "preview-1")
	if !strings.Contains(pre["text"].(string), "https://app.example.com/reset") {
		t.Fatalf("the preview does not show the sample link: %v", pre["text"])
	}

	// Before delivery, only the bodies hold the secrets.
	scanTables(t, env, secrets, true)
	for _, id := range sent {
		call(200, "GET", "/v1/notifications/"+id, nil)
	}
	call(200, "GET", "/v1/notifications", nil)

	// Delivery: the busy address is refused twice, then accepted.
	for range 2 {
		c.deliver()
		env.Clock.Advance(notify.RetryMax)
	}
	mu.Lock()
	busy = false
	mu.Unlock()
	c.deliver()
	received := c.sink.Received()
	if len(received) != 3 {
		t.Fatalf("%d emails received, want 3", len(received))
	}
	var all string
	for _, r := range received {
		all += r.Text + r.HTML
	}
	for _, s := range secrets {
		if strings.Count(all, s) < 2 {
			t.Fatalf("the emails do not carry %s", s)
		}
	}
	for _, id := range sent {
		m := call(200, "GET", "/v1/notifications/"+id, nil)
		if m["status"] != "sent" || m["redacted"] != true {
			t.Fatalf("message %v", m)
		}
	}
	busyMsg := call(200, "GET", "/v1/notifications?recipient=busy@example.test", nil)["data"].([]any)[0].(map[string]any)
	if busyMsg["attempts"] != 3.0 {
		t.Fatalf("the busy address took %v attempts", busyMsg["attempts"])
	}
	call(200, "GET", "/v1/notifications/"+busyMsg["id"].(string), nil)
	call(200, "GET", "/v1/notifications?status=sent", nil)

	// After delivery the bodies are wiped too: no table holds a secret.
	scanTables(t, env, secrets, false)
	logs := c.logs.String()
	if !strings.Contains(logs, "email sent") || !strings.Contains(logs, "will retry") {
		t.Fatalf("the logs lack the delivery lines:\n%s", logs)
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the logs show %s", s)
		}
		for _, a := range answers {
			if strings.Contains(a, s) {
				t.Errorf("an API answer shows %s: %.300s", s, a)
			}
		}
	}
}

// scanTables reads every row of every table of the SQLite file and fails on a secret,
// except in the messages' bodies when bodiesMay.
func scanTables(t *testing.T, env *storetest.Env, secrets []string, bodiesMay bool) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+strings.TrimPrefix(env.URL, "sqlite:")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	found := 0
	for _, table := range tables {
		rows, err := db.Query(`SELECT * FROM "` + table + `"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				text := fmt.Sprint(v)
				if b, ok := v.([]byte); ok {
					text = string(b)
				}
				for _, s := range secrets {
					if !strings.Contains(text, s) {
						continue
					}
					if bodiesMay && table == "messages" && (cols[i] == "body_html" || cols[i] == "body_text") {
						found++
						continue
					}
					t.Errorf("table %s, column %s holds a secret", table, cols[i])
				}
			}
		}
		rows.Close()
	}
	if bodiesMay && found == 0 {
		t.Fatal("no message body holds the secrets: the scan looks at nothing")
	}
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
