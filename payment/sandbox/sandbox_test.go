package sandbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/billowhq/billow"
)

var ctx = context.Background()

// clock is a test clock that stands where a test puts it.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// today is the sandbox's time in these tests.
var today = time.Date(2026, time.June, 15, 12, 0, 0, 0, time.UTC)

func newGateway() *Gateway { return New(&clock{now: today}) }

func cardInput(number string) billow.AddPaymentMethodInput {
	return billow.AddPaymentMethodInput{Kind: billow.MethodCard, Card: &billow.CardDetails{
		Number: number, ExpMonth: 12, ExpYear: 2030, CVC: "123", HolderName: "Ada Lovelace",
	}}
}

func tokenize(t *testing.T, g *Gateway, in billow.AddPaymentMethodInput) billow.TokenizedMethod {
	t.Helper()
	m, err := g.Tokenize(ctx, in)
	if err != nil {
		t.Fatalf("Tokenize: %v", err)
	}
	return m
}

func charge(t *testing.T, g *Gateway, key, token string) billow.ChargeResult {
	t.Helper()
	res, err := g.Charge(ctx, billow.ChargeRequest{IdempotencyKey: key, Token: token, AmountMinor: 4999, Currency: "USD", Description: "Pro plan"})
	if err != nil {
		t.Fatalf("Charge: %v", err)
	}
	return res
}

// wantError checks that err is an *billow.Error of kind and code naming field ("" for
// none).
func wantError(t *testing.T, err error, kind billow.ErrorKind, code, field string) {
	t.Helper()
	var e *billow.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want *billow.Error %s", err, code)
	}
	if e.Kind != kind || e.Code != code {
		t.Fatalf("error = kind %d code %q (%v), want kind %d code %q", e.Kind, e.Code, err, kind, code)
	}
	if field == "" {
		return
	}
	for _, f := range e.Fields {
		if f.Field == field {
			return
		}
	}
	t.Fatalf("error %v names fields %v, want %q", err, e.Fields, field)
}

func TestName(t *testing.T) {
	if got := newGateway().Name(); got != "sandbox" {
		t.Fatalf("Name() = %q", got)
	}
}

func TestDocumentedCards(t *testing.T) {
	tests := []struct {
		number  string
		brand   string
		status  billow.ChargeStatus
		decline string
		action  billow.ActionKind
	}{
		{"4242 4242 4242 4242", "Visa", billow.ChargeSucceeded, "", ""},
		{"5555-5555-5555-4444", "Mastercard", billow.ChargeSucceeded, "", ""},
		{CardInsufficientFunds, "Visa", billow.ChargeDeclined, "insufficient_funds", ""},
		{CardExpired, "Visa", billow.ChargeDeclined, "expired_card", ""},
		{CardDeclined, "Visa", billow.ChargeDeclined, "card_declined", ""},
		{CardOTP, "Visa", billow.ChargeRequiresAction, "", billow.ActionOTP},
		{CardTimeout, "Visa", billow.ChargeUnknown, "", ""},
		// Any other Luhn-valid number succeeds.
		{"378282246310005", "American Express", billow.ChargeSucceeded, "", ""},
		{"6011111111111117", "Discover", billow.ChargeSucceeded, "", ""},
		{"4111111111111111", "Visa", billow.ChargeSucceeded, "", ""},
	}
	// Every card of the table is tested: a new one must get a row here.
	documented := map[string]bool{}
	for _, c := range testCards {
		documented[c.number] = true
	}
	for _, tt := range tests {
		delete(documented, billow.CardDigits(tt.number))
	}
	if len(documented) > 0 {
		t.Errorf("documented cards without a test: %v", documented)
	}

	g := newGateway()
	for i, tt := range tests {
		t.Run(tt.number, func(t *testing.T) {
			digits := billow.CardDigits(tt.number)
			if !billow.LuhnValid(digits) {
				t.Fatalf("%s fails the Luhn check", tt.number)
			}
			m := tokenize(t, g, cardInput(tt.number))
			if m.Brand != tt.brand || m.Last4 != digits[len(digits)-4:] || m.ExpMonth != 12 || m.ExpYear != 2030 {
				t.Errorf("display fields = %+v", m)
			}
			res := charge(t, g, fmt.Sprintf("pay_card_%d", i), m.Token)
			if res.Status != tt.status || res.DeclineCode != tt.decline || res.Action != tt.action {
				t.Errorf("charge = %+v, want status %s decline %q action %q", res, tt.status, tt.decline, tt.action)
			}
			if !strings.HasPrefix(res.Reference, referencePrefix) {
				t.Errorf("reference = %q", res.Reference)
			}
			if res.Status == billow.ChargeDeclined && res.Message == "" {
				t.Errorf("a decline without a message: %+v", res)
			}
		})
	}
}

func TestChargeIsIdempotent(t *testing.T) {
	g := newGateway()
	for _, number := range []string{CardVisa, CardDeclined, CardOTP} {
		tok := tokenize(t, g, cardInput(number)).Token
		first := charge(t, g, "pay_same_"+number, tok)
		again := charge(t, g, "pay_same_"+number, tok)
		if first != again {
			t.Errorf("%s: repeated key gave %+v, first %+v", number, again, first)
		}
		other := charge(t, g, "pay_other_"+number, tok)
		if other.Reference == first.Reference {
			t.Errorf("%s: two keys share reference %q", number, first.Reference)
		}
	}
	if len(g.records) != 6 {
		t.Errorf("%d records, want 6: a repeated key was charged again", len(g.records))
	}

	// Another process charging the same key gives the same reference.
	tok := tokenize(t, g, cardInput(CardVisa)).Token
	a, b := charge(t, g, "pay_shared", tok), charge(t, newGateway(), "pay_shared", tok)
	if a != b {
		t.Errorf("two processes: %+v and %+v", a, b)
	}

	// The same key asking something else is refused.
	_, err := g.Charge(ctx, billow.ChargeRequest{IdempotencyKey: "pay_shared", Token: tok, AmountMinor: 1, Currency: "USD"})
	wantError(t, err, billow.KindConflict, billow.CodeIdempotencyReused, "")
	other := tokenize(t, g, cardInput(CardVisa)).Token
	_, err = g.Charge(ctx, billow.ChargeRequest{IdempotencyKey: "pay_shared", Token: other, AmountMinor: 4999, Currency: "USD"})
	wantError(t, err, billow.KindConflict, billow.CodeIdempotencyReused, "")
}

func TestOTP(t *testing.T) {
	g := newGateway()
	tok := tokenize(t, g, cardInput(CardOTP)).Token
	res := charge(t, g, "pay_otp", tok)
	if res.Status != billow.ChargeRequiresAction || res.Action != billow.ActionOTP || res.Reference == "" {
		t.Fatalf("charge = %+v", res)
	}
	for _, wrong := range []string{"", "000000", "1234567", " 123456"} {
		got, err := g.Confirm(ctx, res.Reference, wrong)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != billow.ChargeDeclined || got.DeclineCode != "otp_invalid" || got.Reference != res.Reference {
			t.Errorf("Confirm(%q) = %+v", wrong, got)
		}
	}
	if got, _ := g.Lookup(ctx, "pay_otp"); got.Status != billow.ChargeRequiresAction {
		t.Errorf("Lookup after wrong OTPs = %+v, want requires_action", got)
	}

	// Another process confirms from the reference alone.
	got, err := newGateway().Confirm(ctx, res.Reference, "123456")
	if err != nil || got.Status != billow.ChargeSucceeded || got.Reference != res.Reference {
		t.Fatalf("Confirm elsewhere = %+v, %v", got, err)
	}
	got, err = g.Confirm(ctx, res.Reference, OTP)
	if err != nil || got.Status != billow.ChargeSucceeded {
		t.Fatalf("Confirm = %+v, %v", got, err)
	}
	if got, _ := g.Lookup(ctx, "pay_otp"); got.Status != billow.ChargeSucceeded {
		t.Errorf("Lookup after the OTP = %+v", got)
	}
}

func TestConfirmRefused(t *testing.T) {
	g := newGateway()
	for _, ref := range []string{"", "ch_stripe_123", "ch_sandbox_otp_xyz", "ch_sandbox_bogus_" + chargeID("k"), "tok_sandbox_otp_" + chargeID("k")} {
		_, err := g.Confirm(ctx, ref, OTP)
		wantError(t, err, billow.KindInvalid, billow.CodeValidationFailed, "reference")
	}
	ok := charge(t, g, "pay_ok", tokenize(t, g, cardInput(CardVisa)).Token)
	_, err := g.Confirm(ctx, ok.Reference, OTP)
	wantError(t, err, billow.KindConflict, billow.CodeTransitionRefused, "")
}

func TestPayPal(t *testing.T) {
	g := newGateway()
	m := tokenize(t, g, billow.AddPaymentMethodInput{Kind: billow.MethodPayPal, PayPalEmail: "buyer@example.com"})
	if !strings.HasPrefix(m.Token, "tok_sandbox_paypal_") || strings.HasPrefix(m.Token, "tok_sandbox_paypal_decline_") {
		t.Fatalf("token = %q", m.Token)
	}
	res := charge(t, g, "pay_pp", m.Token)
	if res.Status != billow.ChargeRequiresAction || res.Action != billow.ActionPayPalApproval ||
		res.ApproveURL != "https://sandbox.billow.invalid/paypal/approve/"+res.Reference {
		t.Fatalf("charge = %+v", res)
	}
	_, err := g.Confirm(ctx, res.Reference, "123456")
	wantError(t, err, billow.KindInvalid, billow.CodeValidationFailed, "otp")
	got, err := g.Confirm(ctx, res.Reference, "")
	if err != nil || got.Status != billow.ChargeSucceeded {
		t.Fatalf("approval = %+v, %v", got, err)
	}
	if got, _ := g.Lookup(ctx, "pay_pp"); got.Status != billow.ChargeSucceeded {
		t.Errorf("Lookup after approval = %+v", got)
	}

	for _, email := range []string{"decline@example.com", "Decline@Example.com"} {
		m := tokenize(t, g, billow.AddPaymentMethodInput{Kind: billow.MethodPayPal, PayPalEmail: email})
		res := charge(t, g, "pay_pp_"+email, m.Token)
		if res.Status != billow.ChargeDeclined || res.DeclineCode != "paypal_declined" {
			t.Errorf("%s: charge = %+v", email, res)
		}
		_, err := g.Confirm(ctx, res.Reference, "")
		wantError(t, err, billow.KindConflict, billow.CodeTransitionRefused, "")
	}
}

func TestWire(t *testing.T) {
	g := newGateway()
	m := tokenize(t, g, billow.AddPaymentMethodInput{Kind: billow.MethodWire})
	if !strings.HasPrefix(m.Token, "tok_sandbox_wire_") {
		t.Fatalf("token = %q", m.Token)
	}
	res := charge(t, g, "pay_wire", m.Token)
	if res.Status != billow.ChargePending || res.Reference == "" {
		t.Fatalf("charge = %+v", res)
	}
	if got, _ := g.Lookup(ctx, "pay_wire"); got.Status != billow.ChargePending {
		t.Errorf("Lookup = %+v, want pending: the operator records clearance", got)
	}
	_, err := g.Confirm(ctx, res.Reference, "")
	wantError(t, err, billow.KindConflict, billow.CodeTransitionRefused, "")
}

func TestTimeoutIsReconciled(t *testing.T) {
	g := newGateway()
	tok := tokenize(t, g, cardInput(CardTimeout)).Token
	res := charge(t, g, "pay_timeout", tok)
	if res.Status != billow.ChargeUnknown || res.Reference == "" {
		t.Fatalf("charge = %+v, want unknown with a reference", res)
	}
	got, err := g.Lookup(ctx, "pay_timeout")
	if err != nil || got.Status != billow.ChargeSucceeded || got.Reference != res.Reference {
		t.Fatalf("Lookup = %+v, %v", got, err)
	}
	// Retrying under the same key finds the charge, not a second one.
	if again := charge(t, g, "pay_timeout", tok); again != got {
		t.Errorf("repeated charge = %+v, want %+v", again, got)
	}
	if len(g.records) != 1 {
		t.Errorf("%d records, want 1", len(g.records))
	}
	// A process that never saw the charge cannot tell.
	got, err = newGateway().Lookup(ctx, "pay_timeout")
	if err != nil || got.Status != billow.ChargeUnknown || got.Message == "" {
		t.Errorf("Lookup elsewhere = %+v, %v", got, err)
	}
	_, err = g.Lookup(ctx, "")
	wantError(t, err, billow.KindInvalid, billow.CodeValidationFailed, "idempotency_key")
}

func TestExpiredCardRefused(t *testing.T) {
	c := &clock{now: today} // June 2026
	g := New(c)
	tests := []struct {
		month, year int64
		field       string // "" when accepted
	}{
		{6, 2026, ""},
		{7, 2026, ""},
		{1, 2027, ""},
		{5, 2026, "card.exp_month"},
		{12, 2025, "card.exp_year"},
		{6, 2020, "card.exp_year"},
	}
	for _, tt := range tests {
		in := cardInput(CardVisa)
		in.Card.ExpMonth, in.Card.ExpYear = tt.month, tt.year
		_, err := g.Tokenize(ctx, in)
		if tt.field == "" {
			if err != nil {
				t.Errorf("%02d/%d: %v", tt.month, tt.year, err)
			}
			continue
		}
		wantError(t, err, billow.KindInvalid, billow.CodePaymentDeclined, tt.field)
	}
	// The card is good through the last day of its month.
	in := cardInput(CardVisa)
	in.Card.ExpMonth, in.Card.ExpYear = 6, 2026
	c.now = time.Date(2026, time.June, 30, 23, 59, 59, 0, time.UTC)
	if _, err := g.Tokenize(ctx, in); err != nil {
		t.Fatalf("last day of the month: %v", err)
	}
	c.now = time.Date(2026, time.July, 1, 0, 0, 0, 0, time.UTC)
	_, err := g.Tokenize(ctx, in)
	wantError(t, err, billow.KindInvalid, billow.CodePaymentDeclined, "card.exp_month")
}

func TestTokenizeInvalid(t *testing.T) {
	g := newGateway()
	for _, in := range []billow.AddPaymentMethodInput{
		cardInput("4242424242424241"), // fails Luhn
		{Kind: billow.MethodCard},
		{Kind: billow.MethodPayPal},
		{Kind: "cash"},
	} {
		_, err := g.Tokenize(ctx, in)
		wantError(t, err, billow.KindInvalid, billow.CodeValidationFailed, "")
	}
}

// longestDigitRun returns the length of the longest run of digits in s.
func longestDigitRun(s string) int {
	longest, run := 0, 0
	for _, c := range s {
		if c >= '0' && c <= '9' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}

func TestTokensHoldNoCardNumber(t *testing.T) {
	g := newGateway()
	seen := map[string]bool{}
	for _, c := range testCards {
		for i := range 200 {
			m := tokenize(t, g, cardInput(c.number))
			if seen[m.Token] {
				t.Fatalf("token %q handed out twice", m.Token)
			}
			seen[m.Token] = true
			if strings.Contains(m.Token, c.number) || strings.Contains(m.Token, c.number[len(c.number)-8:]) {
				t.Fatalf("token %q holds the card number", m.Token)
			}
			if n := longestDigitRun(m.Token); n >= 13 {
				t.Fatalf("token %q has a run of %d digits", m.Token, n)
			}
			if d := billow.CardDigits(m.Token); d != "" && billow.LuhnValid(d) {
				t.Fatalf("token %q reads as a card number", m.Token)
			}
			ref := charge(t, g, fmt.Sprintf("%s_%d", c.number, i), m.Token).Reference
			if n := longestDigitRun(ref); n >= 13 {
				t.Fatalf("reference %q has a run of %d digits", ref, n)
			}
		}
	}
}

func TestBreakDigitRuns(t *testing.T) {
	for _, in := range []string{
		"42424242424242424242424242424242",
		"00000000000000000000000000000000",
		"99999999999999999999999999999999",
		"abc0123456789012345678901234567",
	} {
		h := []byte(in)
		breakDigitRuns(h)
		out := string(h)
		if n := longestDigitRun(out); n > digitRunMax {
			t.Errorf("breakDigitRuns(%q) = %q: a run of %d digits", in, out, n)
		}
		if len(out) != len(in) || strings.Trim(out, "0123456789abcdef") != "" {
			t.Errorf("breakDigitRuns(%q) = %q: not hex of the same length", in, out)
		}
	}
	// Random hex is rewritten rarely; fixed text never changes.
	h := []byte("0123456789abcdef0123456789abcdef")
	breakDigitRuns(h)
	if string(h) != "0123456789abcdef0123456789abcdef" {
		t.Errorf("short runs rewritten: %q", h)
	}
}

func TestChargeValidation(t *testing.T) {
	g := newGateway()
	tok := tokenize(t, g, cardInput(CardVisa)).Token
	valid := billow.ChargeRequest{IdempotencyKey: "pay_v", Token: tok, AmountMinor: 100, Currency: "USD"}
	tests := []struct {
		field  string
		change func(*billow.ChargeRequest)
	}{
		{"amount_minor", func(r *billow.ChargeRequest) { r.AmountMinor = 0 }},
		{"amount_minor", func(r *billow.ChargeRequest) { r.AmountMinor = -5 }},
		{"token", func(r *billow.ChargeRequest) { r.Token = "" }},
		{"token", func(r *billow.ChargeRequest) { r.Token = "tok_visa" }},
		{"token", func(r *billow.ChargeRequest) { r.Token = "tok_sandbox_refund_" + chargeID("x") }},
		{"token", func(r *billow.ChargeRequest) { r.Token = strings.TrimSuffix(tok, tok[len(tok)-1:]) }},
		{"token", func(r *billow.ChargeRequest) { r.Token = "ch" + strings.TrimPrefix(tok, "tok") }},
		{"idempotency_key", func(r *billow.ChargeRequest) { r.IdempotencyKey = "" }},
		{"idempotency_key", func(r *billow.ChargeRequest) { r.IdempotencyKey = strings.Repeat("k", IdempotencyKeyMaxBytes+1) }},
		{"currency", func(r *billow.ChargeRequest) { r.Currency = "usd" }},
		{"currency", func(r *billow.ChargeRequest) { r.Currency = "" }},
	}
	for _, tt := range tests {
		req := valid
		tt.change(&req)
		_, err := g.Charge(ctx, req)
		wantError(t, err, billow.KindInvalid, billow.CodeValidationFailed, tt.field)
	}
	if len(g.records) != 0 {
		t.Errorf("invalid requests left %d records", len(g.records))
	}
	if _, err := g.Charge(ctx, valid); err != nil {
		t.Fatalf("valid request: %v", err)
	}
}

func TestContextCanceled(t *testing.T) {
	g := newGateway()
	tok := tokenize(t, g, cardInput(CardOTP)).Token
	ref := charge(t, g, "pay_ctx", tok).Reference
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err1 := g.Tokenize(canceled, cardInput(CardVisa))
	_, err2 := g.Charge(canceled, billow.ChargeRequest{IdempotencyKey: "pay_ctx2", Token: tok, AmountMinor: 1, Currency: "USD"})
	_, err3 := g.Confirm(canceled, ref, OTP)
	_, err4 := g.Lookup(canceled, "pay_ctx")
	for i, err := range []error{err1, err2, err3, err4} {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("call %d: error %v, want context.Canceled", i+1, err)
		}
	}
	if _, ok := g.records[chargeID("pay_ctx2")]; ok {
		t.Error("a canceled charge was recorded")
	}
}

func TestConcurrentChargesDecideOnce(t *testing.T) {
	g := newGateway()
	tok := tokenize(t, g, cardInput(CardTimeout)).Token
	const goroutines = 50
	const rounds = 20 // goroutines overlap by chance: several rounds make a missing lock show
	for round := range rounds {
		key := fmt.Sprintf("pay_race_%d", round)
		results := make([]billow.ChargeResult, goroutines)
		errs := make([]error, goroutines)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range goroutines {
			wg.Go(func() {
				<-start
				results[i], errs[i] = g.Charge(ctx, billow.ChargeRequest{IdempotencyKey: key, Token: tok, AmountMinor: 4999, Currency: "USD"})
			})
		}
		close(start)
		wg.Wait()
		// The first decision answers unknown (the lost reply); every later one reads the
		// recorded success. Two decisions would give two unknowns.
		unknown := 0
		for i, res := range results {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if res.Reference != results[0].Reference {
				t.Errorf("references %q and %q", res.Reference, results[0].Reference)
			}
			switch res.Status {
			case billow.ChargeUnknown:
				unknown++
			case billow.ChargeSucceeded:
			default:
				t.Errorf("result %+v", res)
			}
		}
		if unknown != 1 {
			t.Fatalf("%s: %d goroutines got the first decision, want 1", key, unknown)
		}
	}
	if len(g.records) != rounds {
		t.Errorf("%d records, want %d", len(g.records), rounds)
	}
}

func TestRecordsAreBounded(t *testing.T) {
	g := newGateway()
	g.recordsMax = 3
	tok := tokenize(t, g, cardInput(CardVisa)).Token
	for i := range 5 {
		charge(t, g, fmt.Sprintf("pay_%d", i), tok)
	}
	if len(g.records) != 3 || len(g.order) != 3 {
		t.Fatalf("%d records, %d in order; want 3", len(g.records), len(g.order))
	}
	for i := range 5 {
		got, err := g.Lookup(ctx, fmt.Sprintf("pay_%d", i))
		if err != nil {
			t.Fatal(err)
		}
		want := billow.ChargeSucceeded
		if i < 2 { // the oldest two are forgotten
			want = billow.ChargeUnknown
		}
		if got.Status != want {
			t.Errorf("Lookup(pay_%d) = %s, want %s", i, got.Status, want)
		}
	}
}

func TestCardBrand(t *testing.T) {
	for digits, want := range map[string]string{
		"4242424242424242": "Visa",
		"5105105105105100": "Mastercard",
		"2223003122003222": "Mastercard",
		"378282246310005":  "American Express",
		"6011000990139424": "Discover",
		"6500000000000002": "Discover",
		"3056930009020004": "", // Diners: shown as "Card"
	} {
		if got := cardBrand(digits); got != want {
			t.Errorf("cardBrand(%s) = %q, want %q", digits, got, want)
		}
	}
}
