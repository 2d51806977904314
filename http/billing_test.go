package http_test

import (
	"bytes"
	"encoding/csv"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/billing"
	"github.com/billowhq/billow/checks"
	billowhttp "github.com/billowhq/billow/http"
	"github.com/billowhq/billow/ingest"
	"github.com/billowhq/billow/payment/sandbox"
	"github.com/billowhq/billow/pdf"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// testBranding is the operator's branding on the invoice PDFs of these tests.
var testBranding = pdf.Branding{Name: "Billow Test Operator", AddressLines: []string{"1 Test Street", "Testville"},
	Email: "billing@operator.test", Website: "operator.test", Footer: "Thank you for your business."}

// syncBuffer is a log sink the server's goroutines write to at once.
type syncBuffer struct {
	mu  sync.Mutex // protects buf
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// newBillingServer is newServer with the billing service on the sandbox gateway, and
// everything the server and the service log written to logs when it is not nil.
func newBillingServer(t *testing.T, env *storetest.Env, logs io.Writer) *apiClient {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	if logs != nil {
		logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	svc, err := billing.New(billing.Config{Store: env.DB, Gateway: sandbox.New(env.Clock), Clock: env.Clock, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	checker := checks.New(checks.Config{Store: env.DB, Clock: env.Clock, Logger: logger})
	srv := httptest.NewServer(billowhttp.New(billowhttp.Config{Store: env.DB, Logger: logger, AdminKey: adminKey,
		DefaultCatalog: "credits-platform", Ingester: ingest.New(env.DB, env.Clock), Checker: checker,
		Billing: svc, Branding: testBranding, Notifier: newTestNotifier(t, env, env.DB, logger, nil)}))
	t.Cleanup(srv.Close)
	return &apiClient{t: t, base: srv.URL, key: adminKey, env: env, checker: checker}
}

// clockStart is when the test clocks of these tests start: 03:00 UTC is still the day
// before in New York, where the accounts are.
var clockStart = time.Date(2026, 1, 15, 3, 0, 0, 0, time.UTC)

// billingAccount creates a test clock and an account of the ai-for-service catalog in
// New York on it, with a billing contact, and returns the clock's id and a client with
// the account's own key.
func (c *apiClient) billingAccount(externalID, accountType string) (string, *apiClient) {
	c.t.Helper()
	clock := c.must(201, "POST", "/v1/test_clocks", map[string]any{"name": externalID, "frozen_time": clockStart.Format(time.RFC3339)})
	c.must(201, "POST", "/v1/accounts", map[string]any{"external_id": externalID, "name": "Acme " + externalID, "type": accountType,
		"catalog": "ai-for-service", "timezone": "America/New_York", "test_clock": clock["id"],
		"billing_contact": map[string]any{"name": "Ada Acme", "email": "billing@acme.test"}})
	key := c.must(201, "POST", "/v1/api_keys", map[string]any{"name": externalID, "account": externalID})["key"].(string)
	return clock["id"].(string), c.as(key)
}

func card(number string) map[string]any {
	return map[string]any{"kind": "card", "card": map[string]any{"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123", "holder_name": "Ada Acme"}}
}

func ids(t *testing.T, page map[string]any) []string {
	t.Helper()
	out := []string{}
	for _, d := range page["data"].([]any) {
		out = append(out, d.(map[string]any)["id"].(string))
	}
	return out
}

// TestOrderFlowAPI is seed 000's order flow over HTTP with the account's own key: a card,
// a subscription order paid at once, the invoice listed, as a PDF and in the CSV export,
// the domain events, a renewal when the test clock moves on, and the subscription's
// cancellation and resumption.
func TestOrderFlowAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		op := newBillingServer(t, env, nil)
		clock, c := op.billingAccount("acme", "standard")

		m := c.must(201, "POST", "/v1/accounts/acme/payment_methods", card("4242 4242 4242 4242"))
		if m["last4"] != "4242" || m["brand"] != "Visa" || m["default"] != true || m["exp_year"].(float64) != 2030 {
			t.Fatalf("payment method = %v", m)
		}
		if _, ok := m["token"]; ok {
			t.Fatalf("the token is shown: %v", m)
		}
		if ms := c.must(200, "GET", "/v1/accounts/acme/payment_methods", nil); strings.Join(ids(t, ms), ",") != m["id"] {
			t.Fatalf("payment methods = %v", ms)
		}
		c.must(404, "GET", "/v1/accounts/acme/subscription", nil)

		order := c.must(201, "POST", "/v1/accounts/acme/orders", map[string]any{"subscribe": map[string]any{"plan": "essential", "interval": "month"}})
		if order["status"] != "completed" || order["kind"] != "subscribe" || order["amount_minor"].(float64) != 5000 || order["payment_method"] != m["id"] {
			t.Fatalf("order = %v", order)
		}
		orderID, invID := order["id"].(string), order["invoice"].(string)
		inv := c.must(200, "GET", "/v1/invoices/"+invID, nil)
		if inv["status"] != "paid" || inv["payment_status"] != "succeeded" || inv["number"] != "INV-000001" || inv["total_minor"].(float64) != 5000 ||
			inv["payment_method"] != "Visa •••• 4242" || inv["order_id"] != orderID {
			t.Fatalf("invoice = %v", inv)
		}
		sub := c.must(200, "GET", "/v1/accounts/acme/subscription", nil)
		if sub["status"] != "active" || sub["plan"] != "essential" {
			t.Fatalf("subscription = %v", sub)
		}
		if got := ids(t, c.must(200, "GET", "/v1/accounts/acme/invoices", nil)); strings.Join(got, ",") != invID {
			t.Fatalf("invoices = %v", got)
		}
		if o := c.must(200, "GET", "/v1/accounts/acme/orders/"+orderID, nil); o["status"] != "completed" {
			t.Fatalf("order = %v", o)
		}
		if got := ids(t, c.must(200, "GET", "/v1/accounts/acme/orders", nil)); strings.Join(got, ",") != orderID {
			t.Fatalf("orders = %v", got)
		}

		// The PDF.
		a := c.do("GET", "/v1/invoices/"+invID+"/pdf", nil)
		if a.status != 200 || a.header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(a.body, []byte("%PDF")) ||
			!strings.Contains(a.header.Get("Content-Disposition"), "INV-000001.pdf") {
			t.Fatalf("pdf = %d %q %.100q", a.status, a.header.Get("Content-Type"), a.body)
		}

		// The CSV: the billing date is the day in New York, the day before in UTC.
		export := "/v1/accounts/acme/invoices.csv?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z"
		a = c.do("GET", export, nil)
		if a.status != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), "text/csv") {
			t.Fatalf("csv = %d %s", a.status, a.body)
		}
		rows, err := csv.NewReader(bytes.NewReader(a.body)).ReadAll()
		if err != nil {
			t.Fatalf("csv does not parse: %v\n%s", err, a.body)
		}
		want := [][]string{
			{"Order ID", "Billing Date", "Cost", "Payment Method", "Payment Status", "Invoice Number", "Currency"},
			{orderID, "2026-01-14", "50.00", "Visa •••• 4242", "succeeded", "INV-000001", "USD"},
		}
		if !equalRows(rows, want) {
			t.Fatalf("csv rows = %q, want %q", rows, want)
		}
		if a := c.do("GET", "/v1/accounts/acme/invoices.csv?from=2026-01-01T00:00:00Z&to=2036-01-10T00:00:00Z", nil); a.status != 400 || a.problemCode(t) != "range_too_large" {
			t.Fatalf("csv over 3,660 days = %d %s", a.status, a.body)
		}
		if a := c.do("GET", "/v1/accounts/acme/invoices.csv?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", nil); a.status != 422 {
			t.Fatalf("csv with to before from = %d %s", a.status, a.body)
		}
		if a := c.do("GET", "/v1/accounts/acme/invoices.csv?from=2026-01-01T00:00:00Z", nil); a.status != 422 {
			t.Fatalf("csv without to = %d %s", a.status, a.body)
		}

		// The domain events, paged.
		evs := c.must(200, "GET", "/v1/accounts/acme/billing_events", nil)
		var types []string
		for _, e := range evs["data"].([]any) {
			types = append(types, e.(map[string]any)["type"].(string))
		}
		if strings.Join(types, ",") != "subscription.activated,invoice.paid,order.completed,invoice.finalized" {
			t.Fatalf("events = %v", types)
		}
		first := c.must(200, "GET", "/v1/accounts/acme/billing_events?limit=1", nil)
		seq := first["data"].([]any)[0].(map[string]any)["seq"].(float64)
		rest := c.must(200, "GET", "/v1/accounts/acme/billing_events?limit=10&after="+strconv.FormatInt(int64(seq), 10), nil)
		if first["has_more"] != true || len(rest["data"].([]any)) != 3 || rest["has_more"] != false {
			t.Fatalf("pages = %v then %v", first, rest)
		}

		// 35 days on, the renewal of 14 February (New York) is invoiced and paid.
		advanced := op.must(200, "POST", "/v1/test_clocks/"+clock+"/advance", map[string]any{"frozen_time": clockStart.AddDate(0, 0, 35).Format(time.RFC3339)})
		if advanced["frozen_time"] != "2026-02-19T03:00:00Z" {
			t.Fatalf("clock = %v", advanced)
		}
		if got := op.must(200, "GET", "/v1/test_clocks/"+clock, nil); got["frozen_time"] != "2026-02-19T03:00:00Z" {
			t.Fatalf("clock = %v", got)
		}
		list := c.must(200, "GET", "/v1/accounts/acme/invoices", nil)["data"].([]any)
		if len(list) != 2 {
			t.Fatalf("invoices after 35 days = %v", list)
		}
		renewal := list[1].(map[string]any)
		if renewal["number"] != "INV-000002" || renewal["status"] != "paid" || renewal["total_minor"].(float64) != 5000 || renewal["billing_date"] != "2026-02-15T03:00:00Z" {
			t.Fatalf("renewal = %v", renewal)
		}
		if a := op.do("POST", "/v1/test_clocks/"+clock+"/advance", map[string]any{"frozen_time": clockStart.Format(time.RFC3339)}); a.status != 422 || a.problemCode(t) != billow.CodeTestClockBackwards {
			t.Fatalf("backwards = %d %s", a.status, a.body)
		}
		// from, to, limit and starting_after page through the list, oldest first.
		if got := ids(t, c.must(200, "GET", "/v1/accounts/acme/invoices?from=2026-02-01T00:00:00Z", nil)); len(got) != 1 || got[0] != renewal["id"] {
			t.Fatalf("invoices from February = %v", got)
		}
		if got := ids(t, c.must(200, "GET", "/v1/accounts/acme/invoices?to=2026-02-01T00:00:00Z", nil)); len(got) != 1 || got[0] != invID {
			t.Fatalf("invoices before February = %v", got)
		}
		page := c.must(200, "GET", "/v1/accounts/acme/invoices?limit=1", nil)
		next := c.must(200, "GET", "/v1/accounts/acme/invoices?limit=1&starting_after="+invID, nil)
		if ids(t, page)[0] != invID || page["has_more"] != true || ids(t, next)[0] != renewal["id"] || next["has_more"] != false {
			t.Fatalf("pages = %v then %v", page, next)
		}

		// Cancel at period end, then resume; plan changes go through orders.
		if s := c.must(200, "POST", "/v1/accounts/acme/subscription/cancel", nil); s["cancel_at_period_end"] != true || s["status"] != "active" {
			t.Fatalf("cancelled = %v", s)
		}
		if s := c.must(200, "POST", "/v1/accounts/acme/subscription/resume", nil); s["cancel_at_period_end"] != false {
			t.Fatalf("resumed = %v", s)
		}
		if a := c.do("POST", "/v1/accounts/acme/subscription/resume", nil); a.status != 409 || a.problemCode(t) != billow.CodeTransitionRefused {
			t.Fatalf("resume twice = %d %s", a.status, a.body)
		}
		if subs := c.must(200, "GET", "/v1/accounts/acme/subscriptions", nil); len(subs["data"].([]any)) != 1 {
			t.Fatalf("subscriptions = %v", subs)
		}
		if s := c.must(200, "POST", "/v1/accounts/acme/subscription/cancel", map[string]any{"at_once": true}); s["status"] != "canceled" {
			t.Fatalf("cancelled at once = %v", s)
		}
		c.must(404, "GET", "/v1/accounts/acme/subscription", nil)

		// Seed 004's auto-billing setting flows through PATCH; the tax rate is the operator's.
		if acct := c.must(200, "PATCH", "/v1/accounts/acme", map[string]any{"auto_billing": false}); acct["auto_billing"] != false {
			t.Fatalf("auto_billing off: %v", acct)
		}
		if acct := c.must(200, "GET", "/v1/accounts/acme", nil); acct["auto_billing"] != false {
			t.Fatalf("auto_billing after PATCH: %v", acct)
		}
		if acct := c.must(200, "PATCH", "/v1/accounts/acme", map[string]any{"auto_billing": true}); acct["auto_billing"] != true {
			t.Fatalf("auto_billing on: %v", acct)
		}
		if a := c.do("PATCH", "/v1/accounts/acme", map[string]any{"tax_rate": "0"}); a.status != 422 || !strings.Contains(string(a.body), `"location":"body.tax_rate"`) {
			t.Fatalf("the account setting its own tax rate: %d %s", a.status, a.body)
		}
		if acct := op.must(200, "PATCH", "/v1/accounts/acme", map[string]any{"tax_rate": "8.25"}); acct["tax_rate"] != "8.25" {
			t.Fatalf("tax rate: %v", acct)
		}
		// Test clocks are the operator's.
		c.must(404, "GET", "/v1/test_clocks/"+clock, nil)
	})
}

func equalRows(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if strings.Join(a[i], "\x00") != strings.Join(b[i], "\x00") {
			return false
		}
	}
	return true
}

// TestOrderIdempotent submits one credits order many times with one Idempotency-Key, at
// once and then one after the other: one order, one invoice, one charge, the credits
// loaded once.
func TestOrderIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		op := newBillingServer(t, env, nil)
		_, c := op.billingAccount("acme", "standard")
		c.must(201, "POST", "/v1/accounts/acme/payment_methods", card("4242424242424242"))
		body := `{"credits":10000}`
		const n = 10
		answers := make([]answer, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				answers[i] = c.do("POST", "/v1/accounts/acme/orders", body, "Idempotency-Key", "top-up-1")
			})
		}
		close(start)
		wg.Wait()
		orderID, inUse := "", 0
		for _, a := range answers {
			switch a.status {
			case 201:
				id := a.json(t)["id"].(string)
				if orderID != "" && id != orderID {
					t.Fatalf("two orders: %s and %s", orderID, id)
				}
				orderID = id
			case 409:
				if code := a.problemCode(t); code != billow.CodeIdempotencyInUse {
					t.Fatalf("409 %s", code)
				}
				inUse++
			default:
				t.Fatalf("answer %d %s", a.status, a.body)
			}
		}
		if orderID == "" {
			t.Fatal("no order was submitted")
		}
		t.Logf("%d answered with the order, %d found the key in use", n-inUse, inUse)
		for range 3 {
			a := c.do("POST", "/v1/accounts/acme/orders", body, "Idempotency-Key", "top-up-1")
			if a.status != 201 || a.header.Get("Idempotent-Replayed") != "true" || a.json(t)["id"] != orderID || a.json(t)["status"] != "completed" {
				t.Fatalf("resent order = %d %s", a.status, a.body)
			}
		}
		if a := c.do("POST", "/v1/accounts/acme/orders", `{"credits":20000}`, "Idempotency-Key", "top-up-1"); a.status != 409 || a.problemCode(t) != billow.CodeIdempotencyReused {
			t.Fatalf("same key, other order = %d %s", a.status, a.body)
		}
		if got := ids(t, c.must(200, "GET", "/v1/accounts/acme/orders", nil)); len(got) != 1 || got[0] != orderID {
			t.Fatalf("orders = %v", got)
		}
		invs := c.must(200, "GET", "/v1/accounts/acme/invoices", nil)["data"].([]any)
		if len(invs) != 1 || invs[0].(map[string]any)["total_minor"].(float64) != 1000 || invs[0].(map[string]any)["status"] != "paid" {
			t.Fatalf("invoices = %v", invs)
		}
		w := c.must(200, "GET", "/v1/accounts/acme/wallet", nil)
		if w["balance_ucr"].(float64) != 10_000*1_000_000 || len(w["grants"].([]any)) != 1 {
			t.Fatalf("wallet = %v", w)
		}
	})
}

// TestOrderPaymentPaths: a declined card activates nothing; a card that asks for an OTP
// completes once the right OTP is given; a wire transfer leaves the subscription
// incomplete until the operator clears it.
func TestOrderPaymentPaths(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		op := newBillingServer(t, env, nil)
		subscribe := map[string]any{"plan": "essential"}

		t.Run("decline", func(t *testing.T) {
			_, c := op.billingAccount("declined", "standard")
			a := c.do("POST", "/v1/accounts/declined/orders", map[string]any{"subscribe": subscribe, "new_payment_method": card("4000 0000 0000 9995")})
			if a.status != 402 || a.problemCode(t) != billow.CodePaymentDeclined {
				t.Fatalf("declined order = %d %s", a.status, a.body)
			}
			orders := c.must(200, "GET", "/v1/accounts/declined/orders", nil)["data"].([]any)
			if len(orders) != 1 {
				t.Fatalf("orders = %v", orders)
			}
			o := orders[0].(map[string]any)
			if o["status"] != "failed" || o["failure_code"] != "insufficient_funds" || !strings.Contains(a.json(t)["detail"].(string), o["id"].(string)) {
				t.Fatalf("failed order %v; problem %s", o, a.body)
			}
			if a := c.do("GET", "/v1/accounts/declined/subscription", nil); a.status != 404 || a.problemCode(t) != billow.CodeNoSubscription {
				t.Fatalf("subscription after a decline = %d %s", a.status, a.body)
			}
			if inv := c.must(200, "GET", "/v1/invoices/"+o["invoice"].(string), nil); inv["payment_status"] != "failed" || inv["status"] != "void" {
				t.Fatalf("invoice of the declined order = %v", inv)
			}
		})

		t.Run("otp", func(t *testing.T) {
			_, c := op.billingAccount("otp", "standard")
			c.must(201, "POST", "/v1/accounts/otp/payment_methods", card("4000 0027 6000 3184"))
			o := c.must(201, "POST", "/v1/accounts/otp/orders", map[string]any{"subscribe": subscribe})
			if o["status"] != "requires_action" || o["action"] != "otp" {
				t.Fatalf("order = %v", o)
			}
			path := "/v1/accounts/otp/orders/" + o["id"].(string)
			if a := c.do("POST", path+"/confirm", map[string]any{"otp": "000000"}); a.status != 422 || a.problemCode(t) != billow.CodeOTPInvalid ||
				!strings.Contains(string(a.body), `"location":"body.otp"`) {
				t.Fatalf("wrong OTP = %d %s", a.status, a.body)
			}
			if got := c.must(200, "GET", path, nil); got["status"] != "requires_action" {
				t.Fatalf("order after a wrong OTP = %v", got)
			}
			if got := c.must(200, "POST", path+"/confirm", map[string]any{"otp": "123456"}); got["status"] != "completed" {
				t.Fatalf("order after the OTP = %v", got)
			}
			if a := c.do("POST", path+"/confirm", map[string]any{"otp": "123456"}); a.status != 409 || a.problemCode(t) != billow.CodeOrderNotPending {
				t.Fatalf("confirm twice = %d %s", a.status, a.body)
			}
			if s := c.must(200, "GET", "/v1/accounts/otp/subscription", nil); s["status"] != "active" {
				t.Fatalf("subscription = %v", s)
			}
		})

		t.Run("wire", func(t *testing.T) {
			_, c := op.billingAccount("wire", "standard")
			c.must(201, "POST", "/v1/accounts/wire/payment_methods", map[string]any{"kind": "wire"})
			o := c.must(201, "POST", "/v1/accounts/wire/orders", map[string]any{"subscribe": subscribe})
			if o["status"] != "pending_payment" {
				t.Fatalf("order = %v", o)
			}
			if s := c.must(200, "GET", "/v1/accounts/wire/subscription", nil); s["status"] != "incomplete" {
				t.Fatalf("subscription = %v", s)
			}
			invPath := "/v1/invoices/" + o["invoice"].(string)
			if inv := c.must(200, "GET", invPath, nil); inv["status"] != "open" || inv["payment_status"] != "pending" || inv["payment_method"] != "Wire transfer" {
				t.Fatalf("invoice = %v", inv)
			}
			if a := c.do("POST", invPath+"/pay", nil); a.status != 409 || a.problemCode(t) != billow.CodeInvoiceNotPayable {
				t.Fatalf("paying a pending wire invoice = %d %s", a.status, a.body)
			}
			clear := "/v1/accounts/wire/orders/" + o["id"].(string) + "/clear"
			if a := c.do("POST", clear, nil); a.status != 404 || a.problemCode(t) != billow.CodeNotFound {
				t.Fatalf("the account clearing its own transfer = %d %s", a.status, a.body)
			}
			if got := op.must(200, "POST", clear, nil); got["status"] != "completed" {
				t.Fatalf("cleared = %v", got)
			}
			if s := c.must(200, "GET", "/v1/accounts/wire/subscription", nil); s["status"] != "active" {
				t.Fatalf("subscription after clearing = %v", s)
			}
			if inv := c.must(200, "GET", invPath, nil); inv["status"] != "paid" || inv["payment_status"] != "succeeded" {
				t.Fatalf("invoice after clearing = %v", inv)
			}
		})

		t.Run("pay now", func(t *testing.T) {
			// Auto-billing off: the renewal waits open until the customer pays it.
			clock, c := op.billingAccount("manual", "standard")
			c.must(201, "POST", "/v1/accounts/manual/payment_methods", card("5555 5555 5555 4444"))
			c.must(201, "POST", "/v1/accounts/manual/orders", map[string]any{"subscribe": subscribe})
			c.must(200, "PATCH", "/v1/accounts/manual", map[string]any{"auto_billing": false})
			op.must(200, "POST", "/v1/test_clocks/"+clock+"/advance", map[string]any{"frozen_time": clockStart.AddDate(0, 0, 35).Format(time.RFC3339)})
			invs := c.must(200, "GET", "/v1/accounts/manual/invoices", nil)["data"].([]any)
			renewal := invs[len(invs)-1].(map[string]any)
			if len(invs) != 2 || renewal["status"] != "open" || renewal["payment_status"] != "none" {
				t.Fatalf("invoices with auto-billing off = %v", invs)
			}
			paid := c.must(200, "POST", "/v1/invoices/"+renewal["id"].(string)+"/pay", map[string]any{})
			if paid["status"] != "paid" || paid["payment_status"] != "succeeded" {
				t.Fatalf("paid = %v", paid)
			}
		})
	})
}

// TestEnterpriseInvoicesHidden: an enterprise account's invoices are the operator's. Its
// own key lists none and reads none, not even as a PDF or in the CSV.
func TestEnterpriseInvoicesHidden(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		op := newBillingServer(t, env, nil)
		_, c := op.billingAccount("bigco", "enterprise")
		c.must(201, "POST", "/v1/accounts/bigco/payment_methods", card("4242424242424242"))
		o := c.must(201, "POST", "/v1/accounts/bigco/orders", map[string]any{"subscribe": map[string]any{"plan": "enterprise"}})
		invID := o["invoice"].(string)
		if got := ids(t, op.must(200, "GET", "/v1/accounts/bigco/invoices", nil)); len(got) != 1 || got[0] != invID {
			t.Fatalf("the operator's list = %v", got)
		}
		if got := ids(t, c.must(200, "GET", "/v1/accounts/bigco/invoices", nil)); len(got) != 0 {
			t.Fatalf("the account's own list = %v", got)
		}
		for _, path := range []string{"/v1/invoices/" + invID, "/v1/invoices/" + invID + "/pdf"} {
			if a := c.do("GET", path, nil); a.status != 404 || a.problemCode(t) != billow.CodeNotFound {
				t.Fatalf("GET %s with the account's key = %d %s", path, a.status, a.body)
			}
			if a := op.do("GET", path, nil); a.status != 200 {
				t.Fatalf("GET %s with the operator's key = %d %s", path, a.status, a.body)
			}
		}
		if a := c.do("POST", "/v1/invoices/"+invID+"/pay", nil); a.status != 404 {
			t.Fatalf("pay with the account's key = %d %s", a.status, a.body)
		}
		export := "/v1/accounts/bigco/invoices.csv?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z"
		if a := c.do("GET", export, nil); a.status != 200 || strings.Count(string(a.body), "\n") != 1 {
			t.Fatalf("the account's CSV = %d %s", a.status, a.body)
		}
		if a := op.do("GET", export, nil); a.status != 200 || strings.Count(string(a.body), "\n") != 2 {
			t.Fatalf("the operator's CSV = %d %s", a.status, a.body)
		}
	})
}

// TestCardNumbersStoredNowhere types card numbers into every form that takes one, good,
// declined, malformed, with and without Idempotency-Key, then searches the SQLite files
// and everything the server logged: no card number is anywhere, only the last four
// digits Billow shows.
func TestCardNumbersStoredNowhere(t *testing.T) {
	env := storetest.Open(t, "sqlite")
	var logs syncBuffer
	op := newBillingServer(t, env, &logs)
	_, c := op.billingAccount("acme", "standard")
	typed := []string{"4242 4242 4242 4242", "4000000000009995", "4000-0027-6000-3184", "5555555555554444", "4000000000000069", "4000000000000002"}
	// Every path a card number can take: a new method, a new method in an order, a
	// refused card, a malformed request (its problem answer is stored for the key).
	c.must(201, "POST", "/v1/accounts/acme/payment_methods", card(typed[0]), "Idempotency-Key", "pm-1")
	c.must(201, "POST", "/v1/accounts/acme/payment_methods", card(typed[0]), "Idempotency-Key", "pm-1")
	c.must(402, "POST", "/v1/accounts/acme/orders", map[string]any{"credits": 10000, "new_payment_method": card(typed[1])}, "Idempotency-Key", "o-1")
	o := c.must(201, "POST", "/v1/accounts/acme/orders", map[string]any{"credits": 10000, "new_payment_method": card(typed[2])}, "Idempotency-Key", "o-2")
	c.must(422, "POST", "/v1/accounts/acme/orders/"+o["id"].(string)+"/confirm", map[string]any{"otp": "111111"}, "Idempotency-Key", "o-2-confirm")
	c.must(200, "POST", "/v1/accounts/acme/orders/"+o["id"].(string)+"/confirm", map[string]any{"otp": sandbox.OTP}, "Idempotency-Key", "o-2-confirm-2")
	c.must(201, "POST", "/v1/accounts/acme/orders", map[string]any{"credits": 10000, "new_payment_method": card(typed[3])})
	bad := card(typed[4])
	bad["card"].(map[string]any)["exp_month"] = 13
	if a := c.do("POST", "/v1/accounts/acme/payment_methods", bad, "Idempotency-Key", "pm-bad"); a.status != 422 {
		t.Fatalf("bad card = %d %s", a.status, a.body)
	}
	expired := card(typed[4])
	expired["card"].(map[string]any)["exp_year"] = 2025
	if a := c.do("POST", "/v1/accounts/acme/payment_methods", expired, "Idempotency-Key", "pm-expired"); a.status != 422 {
		t.Fatalf("expired card = %d %s", a.status, a.body)
	}
	// The number as a JSON number, and in a field that is not a card's.
	if a := c.do("POST", "/v1/accounts/acme/payment_methods", `{"kind":"card","card":{"number":`+typed[5]+`,"exp_month":12,"exp_year":2030,"cvc":"123"}}`, "Idempotency-Key", "pm-number"); a.status != 422 {
		t.Fatalf("number as a number = %d %s", a.status, a.body)
	}
	if a := c.do("POST", "/v1/accounts/acme/payment_methods", map[string]any{"kind": typed[5]}, "Idempotency-Key", "pm-kind"); a.status != 422 {
		t.Fatalf("number as a kind = %d %s", a.status, a.body)
	}
	if a := c.do("POST", "/v1/accounts/acme/orders", `{"credits":10000,"new_payment_method":{"kind":"card","card":{"number":"`+typed[5]+`"`, "Idempotency-Key", "o-truncated"); a.status != 400 {
		t.Fatalf("truncated JSON = %d %s", a.status, a.body)
	}
	if ms := c.must(200, "GET", "/v1/accounts/acme/payment_methods", nil)["data"].([]any); len(ms) != 4 { // the declined card stays, as the service keeps it
		t.Fatalf("payment methods = %v", ms)
	}

	dbPath := strings.TrimPrefix(env.URL, "sqlite:")
	if u, err := url.Parse(dbPath); err == nil && u.Path != "" {
		dbPath = u.Path
	}
	files := map[string][]byte{"log": logs.Bytes()}
	if len(files["log"]) == 0 || !bytes.Contains(files["log"], []byte(`"msg":"request"`)) {
		t.Fatalf("the server logged nothing: %s", files["log"])
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(dbPath + suffix)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		files["billow.db"+suffix] = b
	}
	if len(files["billow.db"])+len(files["billow.db-wal"]) == 0 {
		t.Fatalf("no database at %s", dbPath)
	}
	for name, b := range files {
		for _, number := range typed {
			digits := billow.CardDigits(number)
			if bytes.Contains(b, []byte(digits)) || bytes.Contains(b, []byte(number)) {
				t.Errorf("%s holds the card number %s", name, number)
			}
		}
		for _, run := range luhnRuns(b) {
			t.Errorf("%s holds a Luhn-valid number %s", name, run)
		}
	}
	// Once closed, the write-ahead log is in the database file: search it again.
	env.DB.Close()
	b, err := os.ReadFile(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range luhnRuns(b) {
		t.Errorf("billow.db, closed, holds a Luhn-valid number %s", run)
	}
	for _, number := range typed {
		if bytes.Contains(b, []byte(billow.CardDigits(number))) {
			t.Errorf("billow.db, closed, holds the card number %s", number)
		}
	}
}

// digitRun is a run of digits, possibly grouped by single spaces or dashes as card
// numbers are typed.
var digitRun = regexp.MustCompile(`[0-9](?:[ -]?[0-9])+`)

// luhnRuns returns the runs of 13 to 19 digits in b that pass the Luhn check, except
// timestamps in microseconds of 2020 to 2040 (16 digits from 1577836800000000 to
// 2208988800000000: no card brand starts there; Mastercard's 2-series begins at 2221),
// which line refs hold, and runs inside a word: a hex hash (the ledger's chain, content
// hashes) holds a run of 13 digits in about one in 25 hashes, and a tenth of those pass
// the check. A card number written anywhere stands apart from letters.
func luhnRuns(b []byte) []string {
	var out []string
	letter := func(i int) bool {
		return i >= 0 && i < len(b) && (b[i]|0x20 >= 'a' && b[i]|0x20 <= 'z')
	}
	for _, loc := range digitRun.FindAllIndex(b, -1) {
		if letter(loc[0]-1) || letter(loc[1]) {
			continue
		}
		m := b[loc[0]:loc[1]]
		digits := billow.CardDigits(string(m))
		if len(digits) < 13 || len(digits) > 19 || !billow.LuhnValid(digits) {
			continue
		}
		if len(digits) == 16 && digits >= "1577836800000000" && digits < "2208988800000000" {
			continue
		}
		out = append(out, string(m))
	}
	return out
}

// The search for card numbers finds them as they are typed or stored, and passes over
// digits inside hex hashes and microsecond timestamps.
func TestLuhnRuns(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
	}{
		{`{"number":"4242424242424242"}`, 1},
		{`card 4242 4242 4242 4242, exp`, 1},
		{`4000-0027-6000-3184`, 1},
		{`"4242424242424241"`, 0}, // fails the check
		{`cae8871569557495`, 0},   // inside a hex hash
		{`8871569557495f0a`, 0},
		{`at 1767225600000000;`, 0}, // a timestamp in microseconds
	} {
		if got := luhnRuns([]byte(c.in)); len(got) != c.want {
			t.Errorf("luhnRuns(%q) = %q, want %d", c.in, got, c.want)
		}
	}
}
