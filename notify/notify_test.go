package notify_test

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/google/go-cmp/cmp"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/billing"
	"github.com/billowhq/billow/emails"
	"github.com/billowhq/billow/notify"
	"github.com/billowhq/billow/payment/sandbox"
	"github.com/billowhq/billow/pdf"
	"github.com/billowhq/billow/smtp"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

var (
	testBrand = emails.Brand{Name: "Acme AI", Email: "support@acme.test", Website: "acme.test", Address: []string{"1 Main Street", "Springfield"}}
	testWire  = notify.Wire{Beneficiary: "Acme AI Inc.", IBAN: "DE89 3704 0044 0532 0130 00", BIC: "COBADEFFXXX", Bank: "Commerzbank AG"}
	// renderer parses the templates once for every test.
	renderer = sync.OnceValues(func() (*emails.Renderer, error) { return emails.NewRenderer("") })
)

// The members of the test account: the billing emails go to the owner and the billing
// member, never to the developer or the admin.
var testMembers = []billow.CreateMemberInput{
	{Email: "owner@acme.test", Name: "Olivia Owner", Role: billow.RoleOwner},
	{Email: "pay@acme.test", Name: "Bill Payer", Role: billow.RoleBilling},
	{Email: "dev@acme.test", Name: "Dev Eloper", Role: billow.RoleDeveloper},
	{Email: "admin@acme.test", Name: "Ad Min", Role: billow.RoleAdmin},
}

var billingRecipients = []string{"owner@acme.test", "pay@acme.test"}

// syncBuffer is a log destination several goroutines write.
type syncBuffer struct {
	mu sync.Mutex // protects b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newService is a notify.Service over db that delivers to the sink, logging to logs.
func newService(t *testing.T, env *storetest.Env, db notify.Store, sink *smtp.Sink, logs io.Writer) *notify.Service {
	t.Helper()
	r, err := renderer()
	if err != nil {
		t.Fatal(err)
	}
	sender, err := smtp.New(smtp.Config{URL: sink.URL(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := notify.New(notify.Config{Store: db, Renderer: r, Sender: sender, Clock: env.Clock,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Brand:  testBrand, From: "Acme AI Billing <billing@acme.test>", PublicURL: "https://billing.acme.test",
		Wire: testWire, InvoiceBranding: pdf.Branding{Name: "Acme AI", Email: "support@acme.test"}})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func newSink(t *testing.T, env *storetest.Env) *smtp.Sink {
	t.Helper()
	sink := smtp.NewSink(env.Clock, 0)
	if err := sink.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Stop() })
	return sink
}

// fixture is an account of the ai-for-service catalog on a test clock, with members of
// every role, billed by the real billing service with the sandbox gateway, whose emails
// go to a sink.
type fixture struct {
	env  *storetest.Env
	ctx  context.Context
	sink *smtp.Sink
	svc  *notify.Service
	bill *billing.Service
	tc   *billow.TestClock
	acct *billow.Account
	logs *syncBuffer
}

var clockStart = time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC)

func newFixture(t *testing.T, env *storetest.Env, typ billow.AccountType) *fixture {
	t.Helper()
	f := &fixture{env: env, ctx: context.Background(), logs: &syncBuffer{}}
	f.sink = newSink(t, env)
	f.svc = newService(t, env, env.DB, f.sink, f.logs)
	var err error
	if f.bill, err = billing.New(billing.Config{Store: env.DB, Gateway: sandbox.New(env.Clock), Clock: env.Clock}); err != nil {
		t.Fatal(err)
	}
	if f.tc, err = env.DB.CreateTestClock(f.ctx, billow.CreateTestClockInput{Name: "emails", FrozenTime: clockStart}); err != nil {
		t.Fatal(err)
	}
	f.acct, err = env.DB.CreateAccount(f.ctx, billow.CreateAccountInput{ExternalID: "acme", Name: "Acme", Type: typ, Catalog: "ai-for-service",
		Timezone: "America/New_York", TestClock: f.tc.ID, BillingContact: billow.BillingContact{Name: "Ada Acme", Email: "ap@acme.test"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range testMembers {
		if _, err := env.DB.CreateMember(f.ctx, f.acct.ID, m); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *fixture) card(t *testing.T, number string) *billow.PaymentMethod {
	t.Helper()
	m, err := f.bill.AddPaymentMethod(f.ctx, f.acct.ID, billow.AddPaymentMethodInput{Kind: billow.MethodCard, Default: true,
		Card: &billow.CardDetails{Number: number, ExpMonth: 12, ExpYear: 2030, CVC: "123"}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (f *fixture) advance(t *testing.T, to time.Time) {
	t.Helper()
	if _, err := f.bill.AdvanceTestClock(f.ctx, f.tc.ID, billow.AdvanceTestClockInput{FrozenTime: to}); err != nil {
		t.Fatal(err)
	}
}

// pump hands the new billing events to the emails and delivers what is due.
func (f *fixture) pump(t *testing.T) {
	t.Helper()
	if _, err := f.svc.Follower().Run(f.ctx); err != nil {
		t.Fatal(err)
	}
	f.deliver(t)
}

func (f *fixture) deliver(t *testing.T) int {
	t.Helper()
	n, err := f.svc.Deliver(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// allMessages returns every stored message by id.
func allMessages(t *testing.T, db *sqlstore.DB) map[string]*notify.Message {
	t.Helper()
	out := map[string]*notify.Message{}
	page := billow.PageInput{Limit: billow.PageLimitMax}
	for {
		got, err := db.ListMessages(context.Background(), notify.MessageFilter{}, page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range got.Data {
			out[m.ID] = m
		}
		if !got.HasMore {
			return out
		}
		page.StartingAfter = got.Data[len(got.Data)-1].ID
	}
}

// delivery is one email as the sink received it, with the message it was.
type delivery struct {
	msg *notify.Message
	got smtp.Received
}

// deliveries returns what the sink received, checking that each message arrived at most
// once (by Message-ID) and to the address of its message.
func deliveries(t *testing.T, db *sqlstore.DB, sink *smtp.Sink) []delivery {
	t.Helper()
	msgs := allMessages(t, db)
	seen := map[string]int{}
	var out []delivery
	for _, r := range sink.Received() {
		id, ok := strings.CutSuffix(r.MessageID, "@billow")
		m := msgs[id]
		if !ok || m == nil {
			t.Fatalf("the sink received a mail with Message-ID %q, not one of the outbox", r.MessageID)
		}
		if seen[id]++; seen[id] > 1 {
			t.Errorf("message %s (%s) arrived %d times", id, m.Template, seen[id])
		}
		if !slices.Equal(r.To, []string{m.ToEmail}) {
			t.Errorf("message %s went to %v, want %s", id, r.To, m.ToEmail)
		}
		out = append(out, delivery{msg: m, got: r})
	}
	return out
}

// mailbox lists, per address, the templates it received, sorted.
func mailbox(ds []delivery) map[string][]string {
	out := map[string][]string{}
	for _, d := range ds {
		out[d.msg.ToEmail] = append(out[d.msg.ToEmail], d.msg.Template)
	}
	for _, list := range out {
		sort.Strings(list)
	}
	return out
}

// wantText checks that both bodies of a delivery show each value.
func wantText(t *testing.T, d delivery, values ...string) {
	t.Helper()
	for _, v := range values {
		if !strings.Contains(d.got.Text, v) {
			t.Errorf("%s to %s: the text lacks %q:\n%s", d.msg.Template, d.msg.ToEmail, v, d.got.Text)
		}
		if !strings.Contains(d.got.HTML, v) && !strings.Contains(d.got.HTML, html.EscapeString(v)) {
			t.Errorf("%s to %s: the HTML lacks %q", d.msg.Template, d.msg.ToEmail, v)
		}
	}
}

// Every email of the catalogue, with its sample data, arrives once at each of its
// recipients (the product emails at the address asked for; the others at the members of
// the account having the template's roles) as multipart/alternative with an HTML and a
// text part showing its data; the invoice email has the invoice attached as a PDF.
func TestEveryTemplateArrivesOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env, billow.AccountStandard)
		f.card(t, sandbox.CardVisa)
		order, err := f.bill.SubmitOrder(f.ctx, f.acct.ID, billow.SubmitOrderInput{Subscribe: &billow.CreateSubscriptionInput{Plan: "essential"}})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][]string{} // address → templates
		for _, tpl := range emails.Catalogue() {
			data := emails.Sample(tpl.Key)
			if tpl.Group == emails.GroupProduct {
				to := "pat+" + tpl.Key + "@example.test"
				if _, err := f.svc.Send(f.ctx, notify.SendInput{Template: tpl.Key, To: []notify.Recipient{{Email: to, Name: "Pat"}}, Data: data}, "key_test", ""); err != nil {
					t.Fatalf("%s: %v", tpl.Key, err)
				}
				want[to] = append(want[to], tpl.Key)
				continue
			}
			invoice := ""
			if tpl.AttachInvoicePDF {
				invoice = order.Invoice
			}
			e := &billow.BillingEvent{ID: "evt_every_" + tpl.Key, Account: f.acct.ID, Type: tpl.Triggers[0]}
			if _, err := f.svc.QueueEmail(f.ctx, e, tpl.Key, data, invoice); err != nil {
				t.Fatalf("%s: %v", tpl.Key, err)
			}
			if !slices.Equal(tpl.Recipients, []billow.Role{billow.RoleOwner, billow.RoleBilling}) {
				t.Fatalf("%s goes to %v; this test expects owners and billing members", tpl.Key, tpl.Recipients)
			}
			for _, to := range billingRecipients {
				want[to] = append(want[to], tpl.Key)
			}
		}
		for _, list := range want {
			sort.Strings(list)
		}
		f.deliver(t)

		ds := deliveries(t, env.DB, f.sink)
		if diff := cmp.Diff(want, mailbox(ds)); diff != "" {
			for _, m := range allMessages(t, env.DB) {
				if m.Status != notify.StatusSent {
					t.Logf("%s %s %s %d %q", m.Template, m.ToEmail, m.Status, m.Attempts, m.LastError)
				}
			}
			t.Log(f.logs.String())
			t.Fatalf("mailboxes (-want +got):\n%s", diff)
		}
		for _, d := range ds {
			tpl, _ := emails.Lookup(d.msg.Template)
			if !d.got.Alternative || d.got.HTML == "" || d.got.Text == "" {
				t.Errorf("%s is not multipart/alternative with HTML and text", tpl.Key)
			}
			if d.got.Subject != d.msg.Subject || d.got.Subject == "" {
				t.Errorf("%s: subject %q, stored %q", tpl.Key, d.got.Subject, d.msg.Subject)
			}
			if !strings.Contains(d.got.HeaderFrom, "billing@acme.test") {
				t.Errorf("%s: From %q", tpl.Key, d.got.HeaderFrom)
			}
			// Every required text or link of the sample is shown, secrets included:
			// the email is the one place they go.
			sample := emails.Sample(tpl.Key)
			for _, field := range tpl.Fields {
				if v, ok := sample[field.Name].(string); ok && field.Required && field.Type != emails.FieldList {
					wantText(t, d, v)
				}
			}
			if tpl.AttachInvoicePDF {
				if len(d.got.Attachments) != 1 || d.got.Attachments[0].ContentType != "application/pdf" ||
					!bytes.HasPrefix(d.got.Attachments[0].Data, []byte("%PDF")) {
					t.Errorf("%s: attachments %+v, want one PDF", tpl.Key, d.got.Attachments)
				}
			} else if len(d.got.Attachments) != 0 {
				t.Errorf("%s has %d attachments", tpl.Key, len(d.got.Attachments))
			}
		}
		// Queueing them again (the same events, the same requests) sends nothing more.
		for _, tpl := range emails.Catalogue() {
			if tpl.Group != emails.GroupProduct {
				e := &billow.BillingEvent{ID: "evt_every_" + tpl.Key, Account: f.acct.ID, Type: tpl.Triggers[0]}
				if _, err := f.svc.QueueEmail(f.ctx, e, tpl.Key, emails.Sample(tpl.Key), ""); err != nil {
					t.Fatal(err)
				}
			}
		}
		if n := f.deliver(t); n != 0 {
			t.Fatalf("%d sent again", n)
		}
	})
}

// The real billing service drives an account through a subscription with an add-on, an
// added add-on, a renewal, a failed renewal, a cancellation and a wire order: each step's
// emails are queued from its billing events and delivered to the owner and the billing
// member, once, with the step's data; the developer and the admin get none.
func TestBillingEventsSendTheirEmails(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env, billow.AccountStandard)
		f.card(t, sandbox.CardVisa)
		step := func(name string, want []string, check func(d delivery)) {
			t.Helper()
			before := len(f.sink.Received())
			f.pump(t)
			all := deliveries(t, env.DB, f.sink)
			got := mailbox(all[before:])
			wantBox := map[string][]string{}
			for _, to := range billingRecipients {
				wantBox[to] = slices.Sorted(slices.Values(want))
			}
			if len(want) == 0 {
				wantBox = map[string][]string{}
			}
			if diff := cmp.Diff(wantBox, got); diff != "" {
				t.Fatalf("%s: mailboxes (-want +got):\n%s", name, diff)
			}
			if check != nil {
				for _, d := range all[before:] {
					check(d)
				}
			}
		}

		// Subscribe to Essential (Automation AI and Search AI) with the Voice Gateway.
		_, err := f.bill.SubmitOrder(f.ctx, f.acct.ID, billow.SubmitOrderInput{Subscribe: &billow.CreateSubscriptionInput{Plan: "essential",
			AddOns: []billow.SubscriptionAddOn{{AddOn: "voice_gateway", Quantity: 1}}}})
		if err != nil {
			t.Fatal(err)
		}
		step("subscribe", []string{emails.AddOnVoiceGateway, emails.InvoiceAvailable, emails.PaymentReceived, emails.SubscriptionAutomationAI},
			func(d delivery) {
				switch d.msg.Template {
				case emails.SubscriptionAutomationAI:
					// $50 for the plan and $100 for the add-on; renews on 15 February.
					wantText(t, d, "Essential", "$150.00", "15 February 2026", "INV-000001", "Automation AI", "Search AI")
				case emails.AddOnVoiceGateway:
					wantText(t, d, "Voice Gateway with ASR and TTS", "$100.00")
				case emails.PaymentReceived:
					wantText(t, d, "$150.00", "INV-000001", "Visa •••• 4242")
				case emails.InvoiceAvailable:
					wantText(t, d, "INV-000001", "$150.00", "https://billing.acme.test/portal/invoices/")
					if len(d.got.Attachments) != 1 || !bytes.HasPrefix(d.got.Attachments[0].Data, []byte("%PDF")) {
						t.Errorf("invoice email attachments %+v", d.got.Attachments)
					}
				}
			})

		// Add Advanced RAG on 1 February: one add-on email, for it alone.
		f.advance(t, time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC))
		addOns := []billow.SubscriptionAddOn{{AddOn: "voice_gateway", Quantity: 1}, {AddOn: "advanced_rag", Quantity: 1}}
		if _, err := f.bill.SubmitOrder(f.ctx, f.acct.ID, billow.SubmitOrderInput{Change: &billow.ChangeSubscriptionInput{AddOns: &addOns}}); err != nil {
			t.Fatal(err)
		}
		step("add an add-on", []string{emails.AddOnSingle, emails.InvoiceAvailable, emails.PaymentReceived}, func(d delivery) {
			if d.msg.Template == emails.AddOnSingle {
				wantText(t, d, "Advanced RAG")
			}
		})

		// The renewal of 15 February: $350 for the plan and both add-ons.
		f.advance(t, time.Date(2026, 2, 15, 12, 0, 0, 0, time.UTC))
		step("renewal", []string{emails.InvoiceAvailable, emails.PaymentReceived, emails.RenewalSucceeded}, func(d delivery) {
			if d.msg.Template == emails.RenewalSucceeded {
				wantText(t, d, "Essential", "$350.00", "15 March 2026", "INV-000003")
			}
		})

		// The renewal of 15 March is declined: services stop in 7 days.
		f.card(t, sandbox.CardInsufficientFunds)
		f.advance(t, time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC))
		step("failed renewal", []string{emails.InvoiceAvailable, emails.RenewalFailed}, func(d delivery) {
			if d.msg.Template == emails.RenewalFailed {
				wantText(t, d, "Essential", "$350.00", "7", "22 March 2026", "https://billing.acme.test/portal/payment-methods")
			}
		})

		// Canceled at once.
		if _, err := f.bill.CancelSubscription(f.ctx, f.acct.ID, billow.CancelSubscriptionInput{AtOnce: true}); err != nil {
			t.Fatal(err)
		}
		step("cancel", []string{emails.SubscriptionCanceled}, func(d delivery) {
			wantText(t, d, "Essential", "15 March 2026")
		})

		// Credits bought by wire transfer: the instructions and the invoice; the payment
		// when the operator clears the transfer.
		wire, err := f.bill.AddPaymentMethod(f.ctx, f.acct.ID, billow.AddPaymentMethodInput{Kind: billow.MethodWire})
		if err != nil {
			t.Fatal(err)
		}
		order, err := f.bill.SubmitOrder(f.ctx, f.acct.ID, billow.SubmitOrderInput{Credits: 10_000, PaymentMethod: wire.ID})
		if err != nil {
			t.Fatal(err)
		}
		step("wire order", []string{emails.InvoiceAvailable, emails.WireTransferInstructions}, func(d delivery) {
			if d.msg.Template == emails.WireTransferInstructions {
				wantText(t, d, "$10.00", testWire.Beneficiary, testWire.IBAN, testWire.BIC, testWire.Bank, notify.WireClearanceDefault)
			}
		})
		if _, err := f.bill.ClearPayment(f.ctx, f.acct.ID, order.ID); err != nil {
			t.Fatal(err)
		}
		step("wire cleared", []string{emails.PaymentReceived}, func(d delivery) { wantText(t, d, "$10.00") })

		// Every message is sent, each once; the follower has nothing left.
		for id, m := range allMessages(t, env.DB) {
			if m.Status != notify.StatusSent || m.Attempts != 1 {
				t.Errorf("message %s (%s) is %s after %d attempts", id, m.Template, m.Status, m.Attempts)
			}
		}
		step("nothing more", nil, nil)
	})
}

// An enterprise account's invoices are the operator's (hidden from the account): its
// members get the subscription email, and no invoice or payment email.
func TestEnterpriseInvoicesAreNotEmailed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env, billow.AccountEnterprise)
		f.card(t, sandbox.CardVisa)
		if _, err := f.bill.SubmitOrder(f.ctx, f.acct.ID, billow.SubmitOrderInput{Subscribe: &billow.CreateSubscriptionInput{Plan: "enterprise"}}); err != nil {
			t.Fatal(err)
		}
		f.pump(t)
		want := map[string][]string{}
		for _, to := range billingRecipients {
			want[to] = []string{emails.SubscriptionBoth}
		}
		ds := deliveries(t, env.DB, f.sink)
		if diff := cmp.Diff(want, mailbox(ds)); diff != "" {
			t.Fatalf("mailboxes (-want +got):\n%s", diff)
		}
		for _, d := range ds {
			if strings.Contains(d.got.Text, "INV-") {
				t.Errorf("the subscription email names the hidden invoice:\n%s", d.got.Text)
			}
		}
	})
}

// With the SMTP server down for an hour while billing goes on, every email is tried with
// backoff and recorded in the delivery log; once the server is back every message arrives
// exactly once.
func TestOutageDeliversEveryMessageOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env, billow.AccountStandard)
		f.card(t, sandbox.CardVisa)
		if err := f.sink.Stop(); err != nil {
			t.Fatal(err)
		}
		// Billing goes on: a subscription, then a product email.
		if _, err := f.bill.SubmitOrder(f.ctx, f.acct.ID, billow.SubmitOrderInput{Subscribe: &billow.CreateSubscriptionInput{Plan: "advanced",
			AddOns: []billow.SubscriptionAddOn{{AddOn: "voice_gateway", Quantity: 1}}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Send(f.ctx, notify.SendInput{Template: emails.BotPublish, Account: f.acct.ID, Roles: []billow.Role{billow.RoleDeveloper},
			Data: emails.Sample(emails.BotPublish)}, "key_test", "publish-1"); err != nil {
			t.Fatal(err)
		}
		// An hour of the worker running every 20 seconds against the dead server.
		for elapsed := time.Duration(0); elapsed <= time.Hour; elapsed += 20 * time.Second {
			f.pump(t)
			env.Clock.Advance(20 * time.Second)
		}
		msgs := allMessages(t, env.DB)
		if len(msgs) != 9 { // 4 emails to 2 recipients, and the product email to the developer
			t.Fatalf("%d messages queued, want 9", len(msgs))
		}
		// 10 s, 20 s, … doubling to the 10-minute cap: 10 attempts fit in the hour.
		for id, m := range msgs {
			if m.Status != notify.StatusQueued || m.Attempts < 9 || m.Attempts > 11 || m.LastError == "" {
				t.Fatalf("during the outage %s is %s after %d attempts (%q)", id, m.Status, m.Attempts, m.LastError)
			}
		}
		if len(f.sink.Received()) != 0 {
			t.Fatal("mail arrived while the server was down")
		}
		// The server comes back on the same address.
		if err := f.sink.Start(f.sink.Addr()); err != nil {
			t.Fatal(err)
		}
		for range 40 { // 20 minutes: past the longest wait
			f.pump(t)
			env.Clock.Advance(30 * time.Second)
		}
		ds := deliveries(t, env.DB, f.sink)
		if len(ds) != len(msgs) {
			t.Fatalf("%d deliveries of %d messages", len(ds), len(msgs))
		}
		for id := range msgs {
			m, attempts, err := env.DB.Message(f.ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if m.Status != notify.StatusSent || int64(len(attempts)) != m.Attempts || m.Attempts < 10 {
				t.Fatalf("%s: %s after %d attempts, %d in the log", id, m.Status, m.Attempts, len(attempts))
			}
			for i, a := range attempts {
				last := i == len(attempts)-1
				if (last && (a.Outcome != notify.OutcomeSent || a.ReplyCode != 250)) || (!last && (a.Outcome != notify.OutcomeRetry || a.ReplyText == "")) {
					t.Fatalf("%s attempt %d: %+v", id, a.Number, a)
				}
				if i > 0 && a.At.Sub(attempts[i-1].At) > notify.RetryMax+20*time.Second {
					t.Fatalf("%s waited %s between attempts", id, a.At.Sub(attempts[i-1].At))
				}
			}
		}
	})
}

// Two workers (two processes: two stores on one database) delivering at once never send
// a message twice.
func TestTwoWorkersNeverSendTwice(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		sink := newSink(t, env)
		// A slow server keeps sends in flight while the other worker claims.
		sink.SetReject(func(string) error { time.Sleep(2 * time.Millisecond); return nil })
		logs := &syncBuffer{}
		other, err := sqlstore.Open(ctx, sqlstore.Config{URL: env.URL, Clock: env.Clock})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		workers := []*notify.Service{newService(t, env, env.DB, sink, logs), newService(t, env, other, sink, logs)}
		const n = 120
		for i := range n {
			to := fmt.Sprintf("user%03d@example.test", i)
			if _, err := workers[i%2].Send(ctx, notify.SendInput{Template: emails.WorkspaceApprovalAccepted, To: []notify.Recipient{{Email: to}},
				Data: emails.Sample(emails.WorkspaceApprovalAccepted)}, "key_test", ""); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		for _, w := range append(workers, workers...) {
			wg.Go(func() {
				for range 5 {
					if _, err := w.Deliver(ctx); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		ds := deliveries(t, env.DB, sink)
		if len(ds) != n {
			t.Fatalf("%d delivered, want %d", len(ds), n)
		}
	})
}

// Product emails to one address are limited; billing emails over the delivery limit wait
// instead of being dropped.
func TestRateLimits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env, billow.AccountStandard)
		send := func() error {
			_, err := f.svc.Send(f.ctx, notify.SendInput{Template: emails.SignupOTP, To: []notify.Recipient{{Email: "Flood@Example.test"}},
				Data: map[string]any{"otp": "123456", "expires_minutes": 10}}, "key_test", "")
			return err
		}
		for i := range notify.ProductSendsPerRecipientMax {
			if err := send(); err != nil {
				t.Fatalf("send %d: %v", i+1, err)
			}
			env.Clock.Advance(10 * time.Second)
		}
		err := send()
		if billow.ErrorCode(err) != notify.CodeRateLimited {
			t.Fatalf("send over the limit: %v", err)
		}
		env.Clock.Advance(notify.ProductSendWindow)
		if err := send(); err != nil {
			t.Fatalf("after the window: %v", err)
		}

		// 35 billing emails to the owner: 30 go now, 5 wait for the window.
		for i := range notify.DeliveriesPerRecipientMax + 5 {
			e := &billow.BillingEvent{ID: fmt.Sprint("evt_limit_", i), Account: f.acct.ID, Type: "credits.exhausted"}
			if _, err := f.svc.QueueEmail(f.ctx, e, emails.CreditsExhausted, emails.Sample(emails.CreditsExhausted), ""); err != nil {
				t.Fatal(err)
			}
		}
		f.deliver(t)
		owner := func() (sent, queued int) {
			for _, m := range allMessages(t, env.DB) {
				if m.ToEmail == "owner@acme.test" {
					switch m.Status {
					case notify.StatusSent:
						sent++
					case notify.StatusQueued:
						queued++
					}
				}
			}
			return sent, queued
		}
		if sent, queued := owner(); sent != notify.DeliveriesPerRecipientMax || queued != 5 {
			t.Fatalf("owner: %d sent, %d waiting; want %d and 5", sent, queued, notify.DeliveriesPerRecipientMax)
		}
		env.Clock.Advance(notify.DeliveryWindow)
		f.deliver(t)
		if sent, queued := owner(); sent != notify.DeliveriesPerRecipientMax+5 || queued != 0 {
			t.Fatalf("owner after the window: %d sent, %d waiting", sent, queued)
		}
	})
}

// A permanent refusal (5xx) fails a message at once; a message that cannot be sent for
// three days fails then. A failed secret-bearing message's body is wiped.
func TestPermanentFailuresAndGivingUp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env, billow.AccountStandard)
		f.sink.SetReject(func(rcpt string) error {
			if strings.HasPrefix(rcpt, "nobody@") {
				return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
			}
			return nil
		})
		send := func(to string) string {
			msgs, err := f.svc.Send(f.ctx, notify.SendInput{Template: emails.ForgotPassword, To: []notify.Recipient{{Email: to}},
				Data: emails.Sample(emails.ForgotPassword)}, "key_test", "")
			if err != nil {
				t.Fatal(err)
			}
			return msgs[0].ID
		}
		refused := send("nobody@example.test")
		f.deliver(t)
		m, attempts, err := env.DB.Message(f.ctx, refused)
		if err != nil {
			t.Fatal(err)
		}
		if m.Status != notify.StatusFailed || len(attempts) != 1 || attempts[0].ReplyCode != 550 || m.HTML != "" || m.Text != "" {
			t.Fatalf("refused message %+v, log %+v", m, attempts)
		}

		// The server goes away for good: after 72 hours of retries the message fails.
		if err := f.sink.Stop(); err != nil {
			t.Fatal(err)
		}
		stuck := send("someone@example.test")
		for elapsed := time.Duration(0); elapsed <= notify.GiveUpAfter+notify.RetryMax; elapsed += notify.RetryMax {
			f.deliver(t)
			env.Clock.Advance(notify.RetryMax)
		}
		m, attempts, err = env.DB.Message(f.ctx, stuck)
		if err != nil {
			t.Fatal(err)
		}
		last := attempts[len(attempts)-1]
		if m.Status != notify.StatusFailed || last.Outcome != notify.OutcomeFailed || m.Text != "" {
			t.Fatalf("after three days: %s, last attempt %+v", m.Status, last)
		}
		if int64(len(attempts)) != m.Attempts || len(attempts) < 400 || len(attempts) > 450 {
			t.Fatalf("%d attempts in three days", len(attempts))
		}
	})
}

func TestBackoff(t *testing.T) {
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second,
		320 * time.Second, 600 * time.Second, 600 * time.Second}
	for i, w := range want {
		if got := notify.Backoff(int64(i + 1)); got != w {
			t.Errorf("after attempt %d: %s, want %s", i+1, got, w)
		}
	}
}

// The emails start at the head of the feed the first time: billing that happened before
// (an upgrade, the demo's history) is not emailed; what happens after is, and a second
// start changes nothing.
func TestFeedStartsAtItsHead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env, billow.AccountStandard)
		f.card(t, sandbox.CardVisa)
		if _, err := f.bill.SubmitOrder(f.ctx, f.acct.ID, billow.SubmitOrderInput{Subscribe: &billow.CreateSubscriptionInput{Plan: "essential"}}); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.StartFeed(f.ctx); err != nil {
			t.Fatal(err)
		}
		f.pump(t)
		if got := len(f.sink.Received()); got != 0 {
			t.Fatalf("%d emails about the billing before the start", got)
		}
		if _, err := f.bill.CancelSubscription(f.ctx, f.acct.ID, billow.CancelSubscriptionInput{AtOnce: true}); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.StartFeed(f.ctx); err != nil {
			t.Fatal(err)
		}
		f.pump(t)
		want := map[string][]string{}
		for _, to := range billingRecipients {
			want[to] = []string{emails.SubscriptionCanceled}
		}
		if diff := cmp.Diff(want, mailbox(deliveries(t, env.DB, f.sink))); diff != "" {
			t.Fatalf("mailboxes (-want +got):\n%s", diff)
		}
	})
}
