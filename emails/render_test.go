package emails

import (
	"errors"
	"html/template"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/billowhq/billow"
)

// newRenderer builds a renderer over the embedded templates, or fails the test.
func newRenderer(t testing.TB, overrideDir string) *Renderer {
	t.Helper()
	r, err := NewRenderer(overrideDir)
	if err != nil {
		t.Fatalf("NewRenderer: %v", err)
	}
	return r
}

func testBrand() Brand {
	return Brand{Name: "Acme AI", Email: "billing@acme.example", Website: "https://acme.example/",
		Address: []string{"1 Main Street", "Springfield"}}
}

// render renders a template with its sample data and fails the test on an error.
func render(t *testing.T, r *Renderer, key string, change func(*Input)) *Rendered {
	t.Helper()
	in := Input{Template: key, Brand: testBrand(), PoweredBy: true, RecipientName: "Alex", Data: Sample(key)}
	if change != nil {
		change(&in)
	}
	out, err := r.Render(in)
	if err != nil {
		t.Fatalf("Render(%s): %v", key, err)
	}
	return out
}

// renderErr renders and returns the typed error, failing the test when there is none.
func renderErr(t *testing.T, r *Renderer, in Input) *billow.Error {
	t.Helper()
	if in.Brand.Name == "" {
		in.Brand = testBrand()
	}
	_, err := r.Render(in)
	var e *billow.Error
	if !errors.As(err, &e) {
		t.Fatalf("Render(%s) = %v, want a *billow.Error", in.Template, err)
	}
	return e
}

func hasField(e *billow.Error, field string) bool {
	return slices.ContainsFunc(e.Fields, func(f billow.FieldError) bool { return f.Field == field })
}

func TestCatalogueIsWhole(t *testing.T) {
	seen := map[string]bool{}
	for _, tp := range Catalogue() {
		if seen[tp.Key] {
			t.Errorf("key %s is twice in the catalogue", tp.Key)
		}
		seen[tp.Key] = true
		for _, f := range tp.Fields {
			if f.Type == "" {
				t.Errorf("%s.%s has no type", tp.Key, f.Name)
			}
			if f.Secret && !f.Required {
				t.Errorf("%s.%s is secret but optional: an email without its secret is useless", tp.Key, f.Name)
			}
			if _, ok := tp.Sample[f.Name]; !ok {
				t.Errorf("%s: the sample has no %s; previews should show every field", tp.Key, f.Name)
			}
		}
		if len(tp.Sample) != len(tp.Fields) {
			t.Errorf("%s: the sample has %d keys for %d fields", tp.Key, len(tp.Sample), len(tp.Fields))
		}
	}
}

func TestEveryTemplateRendersItsSample(t *testing.T) {
	r := newRenderer(t, "")
	for _, tp := range Catalogue() {
		t.Run(tp.Key, func(t *testing.T) {
			out := render(t, r, tp.Key, nil)
			if out.Subject == "" || strings.ContainsAny(out.Subject, "\r\n") || utf8.RuneCountInString(out.Subject) > subjectRunesMax {
				t.Errorf("subject %q: want one non-empty line of at most %d characters", out.Subject, subjectRunesMax)
			}
			if !strings.HasPrefix(out.HTML, "<!DOCTYPE html>") || !strings.Contains(out.HTML, "</html>") {
				t.Errorf("HTML is not a whole document:\n%s", out.HTML)
			}
			for _, body := range []string{out.HTML, out.Text} {
				for _, bad := range []string{"<no value>", "<nil>", "%!"} {
					if strings.Contains(body, bad) {
						t.Errorf("output shows %q:\n%s", bad, body)
					}
				}
			}
			if !strings.HasPrefix(out.Text, "Hello Alex,\n") {
				t.Errorf("text does not start with the greeting:\n%s", out.Text)
			}
			// Every sample value is in both bodies: nothing the caller sends is lost.
			for _, f := range tp.Fields {
				var want []string
				switch v := tp.Sample[f.Name].(type) {
				case bool:
					continue
				case []any:
					for _, e := range v {
						if m, ok := e.(map[string]any); ok {
							want = append(want, m["name"].(string))
						} else {
							want = append(want, e.(string))
						}
					}
				default:
					s, _ := plainText(v)
					want = append(want, s)
				}
				for _, w := range want {
					if !strings.Contains(out.Text, w) {
						t.Errorf("text lacks %s %q", f.Name, w)
					}
					if !strings.Contains(out.HTML, template.HTMLEscapeString(w)) {
						t.Errorf("HTML lacks %s %q", f.Name, w)
					}
				}
			}
		})
	}
}

// TestEmailsStateWhatTheSeedSays: each email says what seed 000's catalogue says it says.
func TestEmailsStateWhatTheSeedSays(t *testing.T) {
	r := newRenderer(t, "")
	tests := []struct {
		key  string
		data map[string]any // replaces the sample's fields it names
		want []string       // in the text and, escaped, in the HTML
	}{
		{RenewalFailed, nil, []string{"Automation AI Standard", "$49.00", "7 days", "31 December 2026", "https://billing.example.com/portal/payment-methods"}},
		{RenewalFailed, map[string]any{"days_until_stop": 1}, []string{"for 1 day.", "for <strong>1 day</strong>"}},
		{RenewalSucceeded, nil, []string{"Automation AI Standard", "$49.00", "24 January 2027", "Next billing date"}},
		{SignupOTP, nil, []string{"482913", "10 minutes"}},
		{SignupOTP, map[string]any{"resend": true}, []string{"a new code"}},
		{TwoFactorOTP, nil, []string{"730154", "5 minutes", "signing in"}},
		{ForgotPassword, nil, []string{"https://app.example.com/reset?token=Zx81kQp2", "30 minutes"}},
		{FreeTokensExhausted, nil, []string{"free tokens", "API key", "LLM", "https://app.example.com/settings/llm", "1.", "4."}},
		{WireTransferInstructions, nil, []string{"Example Platform Inc.", "DE89 3704 0044 0532 0130 00", "COBADEFFXXX", "BLW-7Q4M-2K9D", "4–8 business days", "$1,000.00"}},
		{TrialExpired, nil, []string{"trial", "paid plan", "https://billing.example.com/portal/plans"}},
		{SubscriptionExpired, nil, []string{"expired", "Renew"}},
		{SubscriptionCanceled, nil, []string{"canceled on 24 December 2026", "Billing for it has stopped"}},
		{SubscriptionBoth, nil, []string{"Automation AI and Contact Center AI", "$144.00", "24 December 2026"}},
		{AddOnVoiceGateway, nil, []string{"Voice Gateway with ASR and TTS", "ASR", "TTS"}},
		{AddOnMultiple, nil, []string{"Advanced RAG", "Extra agent slots", "quantity 5", "Quantity 5"}},
		{InvoiceAvailable, nil, []string{"INV-2026-00188", "PDF is attached", "7 January 2027"}},
		{PaymentReceived, nil, []string{"$49.00", "INV-2026-00188", "Visa •••• 4242"}},
		{CreditsLow, nil, []string{"4,250 credits", "5,000 credits"}},
		{CreditsExhausted, nil, []string{"new conversations are refused"}},
		{WorkspaceApprovalRequest, nil, []string{"Priya Raman", "priya.raman@northwind.example", "Approve the request"}},
		{WorkspaceApprovalRejected, nil, []string{"declined", "limited to the support team"}},
		{InviteExistingUserBotOutside, nil, []string{"Switch to the workspace Northwind Support", "Order Status Assistant"}},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			out := render(t, r, tt.key, func(in *Input) {
				for k, v := range tt.data {
					in.Data[k] = v
				}
			})
			both := out.Text + "\n" + out.HTML
			for _, w := range tt.want {
				if !strings.Contains(both, w) && !strings.Contains(both, template.HTMLEscapeString(w)) {
					t.Errorf("%s does not say %q:\n%s", tt.key, w, out.Text)
				}
			}
		})
	}
}

func TestOptionalFieldsRenderNothingWhenAbsent(t *testing.T) {
	r := newRenderer(t, "")
	out := render(t, r, InvoiceAvailable, func(in *Input) {
		delete(in.Data, "due_date")
		delete(in.Data, "invoice_url")
	})
	for _, body := range []string{out.Text, out.HTML} {
		if strings.Contains(body, "Due date") || strings.Contains(body, "View the invoice") {
			t.Errorf("absent optional fields are shown:\n%s", body)
		}
	}
	out = render(t, r, WorkspaceApprovalRejected, func(in *Input) { in.Data["reason"] = nil })
	if strings.Contains(out.Text, "reason") {
		t.Errorf("a nil optional field is shown:\n%s", out.Text)
	}
}

func TestMissingRequiredFieldIsRefused(t *testing.T) {
	r := newRenderer(t, "")
	data := Sample(RenewalFailed)
	delete(data, "days_until_stop")
	data["stop_date"] = "  "
	e := renderErr(t, r, Input{Template: RenewalFailed, Data: data})
	if e.Code != billow.CodeValidationFailed || e.Kind != billow.KindInvalid {
		t.Fatalf("got %s (kind %d), want validation_failed (invalid)", e.Code, e.Kind)
	}
	for _, f := range []string{"data.days_until_stop", "data.stop_date"} {
		if !hasField(e, f) {
			t.Errorf("the error does not name %s: %v", f, e.Fields)
		}
	}
	if !strings.Contains(e.Error(), "data.days_until_stop") {
		t.Errorf("Error() = %q, want the field named", e.Error())
	}
}

// TestErrorsNeverShowData: whatever is wrong, the error names fields, never values, so
// that a one-time code cannot reach a log through an error.
func TestErrorsNeverShowData(t *testing.T) {
	const otp = "931-118"
	r := newRenderer(t, "")
	tests := []struct {
		name  string
		key   string
		data  map[string]any
		field string
	}{
		{"missing field beside a secret", TwoFactorOTP, map[string]any{"otp": otp}, "data.expires_minutes"},
		{"unknown field", TwoFactorOTP, map[string]any{"otp": otp, "expires_minutes": 5, "code": otp}, "data.code"},
		{"secret of the wrong type", TwoFactorOTP, map[string]any{"otp": []any{otp}, "expires_minutes": 5}, "data.otp"},
		{"secret link that is not a web link", ForgotPassword, map[string]any{"reset_url": "javascript:alert('" + otp + "')", "expires_minutes": 5}, "data.reset_url"},
		{"flag of the wrong type", TwoFactorOTP, map[string]any{"otp": otp, "expires_minutes": 5, "resend": otp}, "data.resend"},
		{"list item with a stray key", AddOnMultiple, map[string]any{"add_ons": []any{map[string]any{"name": "RAG", "secret": otp}}}, "data.add_ons"},
		{"too long", TwoFactorOTP, map[string]any{"otp": otp + strings.Repeat("9", valueBytesMax), "expires_minutes": 5}, "data.otp"},
		{"not UTF-8", TwoFactorOTP, map[string]any{"otp": otp + "\xff", "expires_minutes": 5}, "data.otp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := renderErr(t, r, Input{Template: tt.key, Data: tt.data})
			if e.Code != billow.CodeValidationFailed {
				t.Errorf("code %s, want validation_failed", e.Code)
			}
			if !hasField(e, tt.field) {
				t.Errorf("the error does not name %s: %v", tt.field, e.Fields)
			}
			if strings.Contains(e.Error(), otp) {
				t.Errorf("Error() shows the secret: %q", e.Error())
			}
			for _, f := range e.Fields {
				if strings.Contains(f.Field+f.Message, otp) {
					t.Errorf("the error on %s shows the secret: %q", f.Field, f.Message)
				}
			}
		})
	}
}

func TestUnknownTemplate(t *testing.T) {
	r := newRenderer(t, "")
	e := renderErr(t, r, Input{Template: "renewal_failedd", Data: Sample(RenewalFailed)})
	if e.Code != CodeUnknownTemplate || e.Kind != billow.KindInvalid || !hasField(e, "template") {
		t.Errorf("got %v (kind %d), want unknown_template (invalid) on template", e, e.Kind)
	}
}

func TestBrandIsChecked(t *testing.T) {
	r := newRenderer(t, "")
	tests := []struct {
		brand Brand
		field string
	}{
		{Brand{}, "brand.name"},
		{Brand{Name: "Acme", AccentColor: "red"}, "brand.accent_color"},
		{Brand{Name: "Acme", AccentColor: "#12345"}, "brand.accent_color"},
		{Brand{Name: "Acme", LogoURL: "javascript:alert(1)"}, "brand.logo_url"},
		{Brand{Name: "Acme", LogoURL: "/logo.png"}, "brand.logo_url"},
		{Brand{Name: "Acme", Email: "Acme <billing@acme.example>"}, "brand.email"},
		{Brand{Name: "Acme", Website: "javascript:alert(1)"}, "brand.website"},
		{Brand{Name: "Acme\r\nBcc: x@evil.example"}, "brand.name"},
		{Brand{Name: "Acme", Address: make([]string, addressLinesMax+1)}, "brand.address"},
	}
	for _, tt := range tests {
		_, err := r.Render(Input{Template: CreditsExhausted, Brand: tt.brand, Data: Sample(CreditsExhausted)})
		var e *billow.Error
		if !errors.As(err, &e) || e.Code != billow.CodeValidationFailed || !hasField(e, tt.field) {
			t.Errorf("brand %+v: got %v, want validation_failed on %s", tt.brand, err, tt.field)
		}
	}
	_, err := r.Render(Input{Template: CreditsExhausted, RecipientName: "Alex\nBcc: x", Brand: testBrand(), Data: Sample(CreditsExhausted)})
	if e, ok := err.(*billow.Error); !ok || !hasField(e, "recipient_name") {
		t.Errorf("a recipient name of two lines: got %v, want an error on recipient_name", err)
	}
}

func TestBrandInHeaderAndFooter(t *testing.T) {
	r := newRenderer(t, "")
	out := render(t, r, InvoiceAvailable, nil)
	for _, w := range []string{"#1f6feb", ">Acme AI</span>", "1 Main Street", `href="mailto:billing@acme.example"`, `href="https://acme.example/"`, ">acme.example</a>"} {
		if !strings.Contains(out.HTML, w) {
			t.Errorf("HTML lacks %q", w)
		}
	}
	for _, w := range []string{"Acme AI\n1 Main Street\nSpringfield\nbilling@acme.example\nhttps://acme.example/\n"} {
		if !strings.Contains(out.Text, w) {
			t.Errorf("text footer lacks %q:\n%s", w, out.Text)
		}
	}
	out = render(t, r, InvoiceAvailable, func(in *Input) {
		in.Brand.LogoURL = "https://cdn.acme.example/logo.png"
		in.Brand.AccentColor = "#7C3AED"
		in.RecipientName = ""
	})
	if !strings.Contains(out.HTML, `<img src="https://cdn.acme.example/logo.png" alt="Acme AI"`) {
		t.Errorf("the logo is not shown with its alt text:\n%s", out.HTML)
	}
	if strings.Contains(out.HTML, ">Acme AI</span>") || !strings.Contains(out.HTML, "#7C3AED") {
		t.Errorf("with a logo the name should not be the header, and the accent should be used:\n%s", out.HTML)
	}
	if !strings.HasPrefix(out.Text, "Hello,\n") || !strings.Contains(out.HTML, "Hello,</p>") {
		t.Errorf("no recipient name: want the neutral greeting:\n%s", out.Text)
	}
}

func TestPoweredBy(t *testing.T) {
	r := newRenderer(t, "")
	for _, key := range []string{RenewalFailed, SignupOTP} {
		on := render(t, r, key, nil)
		off := render(t, r, key, func(in *Input) { in.PoweredBy = false })
		if !strings.Contains(on.HTML, "Powered by Billow") || !strings.Contains(on.Text, "Powered by Billow") {
			t.Errorf("%s: PoweredBy true: the line is missing", key)
		}
		if strings.Contains(off.HTML, "Billow") || strings.Contains(off.Text, "Billow") {
			t.Errorf("%s: PoweredBy false (whitelabel): Billow is still named:\n%s\n%s", key, off.Text, off.HTML)
		}
	}
}

func TestDataIsEscapedInHTML(t *testing.T) {
	r := newRenderer(t, "")
	const evil = `<script>alert("x")</script>`
	out := render(t, r, WorkspaceApprovalRequest, func(in *Input) {
		in.RecipientName = evil
		in.Data["requester_name"] = evil
		in.Brand.Name = evil
	})
	if strings.Contains(out.HTML, "<script") {
		t.Errorf("HTML has a raw script tag:\n%s", out.HTML)
	}
	if !strings.Contains(out.HTML, "&lt;script&gt;") {
		t.Errorf("HTML lacks the escaped name:\n%s", out.HTML)
	}
	if !strings.Contains(out.Text, evil) {
		t.Errorf("plain text should show the name as given:\n%s", out.Text)
	}
}

func TestSubjectIsOneLine(t *testing.T) {
	r := newRenderer(t, "")
	out := render(t, r, WorkspaceApprovalRequest, func(in *Input) {
		in.Data["requester_name"] = "Eve\r\nBcc: victim@example.com\u2028"
	})
	if strings.ContainsAny(out.Subject, "\r\n\u2028") || !strings.HasPrefix(out.Subject, "Eve Bcc: victim@example.com asks to join") {
		t.Errorf("subject %q: want one line", out.Subject)
	}
	out = render(t, r, WorkspaceApprovalRequest, func(in *Input) {
		in.Data["workspace"] = strings.Repeat("é", 1000)
	})
	if n := utf8.RuneCountInString(out.Subject); n != subjectRunesMax || !strings.HasSuffix(out.Subject, "…") {
		t.Errorf("subject of %d characters %q: want %d, cut with an ellipsis", n, out.Subject, subjectRunesMax)
	}
}

func TestLocales(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "fr", "credits_exhausted.tmpl"),
		`{{define "subject"}}Vos crédits sont épuisés{{end}}{{define "html"}}<p>Plus de crédits.</p>{{template "button" (.Button .Data.buy_url "Acheter")}}{{end}}{{define "text"}}Plus de crédits : {{.Data.buy_url}}{{end}}`)
	r := newRenderer(t, dir)
	en := render(t, r, CreditsExhausted, func(in *Input) { in.Locale = "" })
	for _, locale := range []string{"en", "EN", "xx", "zz-top", "de_DE"} {
		got := render(t, r, CreditsExhausted, func(in *Input) { in.Locale = locale })
		if *got != *en {
			t.Errorf("locale %q: want the en email", locale)
		}
	}
	for _, locale := range []string{"fr", "fr-CA", "fr_ca"} {
		got := render(t, r, CreditsExhausted, func(in *Input) { in.Locale = locale })
		if got.Subject != "Vos crédits sont épuisés" || !strings.Contains(got.HTML, `<html lang="fr">`) {
			t.Errorf("locale %q: got %q, want the fr email", locale, got.Subject)
		}
	}
	// A locale folder without a file for an email falls back to the en file.
	got := render(t, r, CreditsLow, func(in *Input) { in.Locale = "fr" })
	if got.Subject != "Your credit balance is low" {
		t.Errorf("fr has no credits_low: got %q, want the en one", got.Subject)
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOverrideReplacesOneTemplate(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "en", "renewal_failed.tmpl"), `
{{define "subject"}}Payment problem: {{.Data.plan_name}}{{end}}
{{define "html"}}<p>Pay {{.Data.amount}} within {{.Data.days_until_stop}} days.</p>{{template "button" (.Button .Data.pay_url "Pay")}}{{end}}
{{define "text"}}Pay {{.Data.amount}} within {{.Data.days_until_stop}} days: {{.Data.pay_url}}{{end}}
`)
	writeFile(t, filepath.Join(dir, ".editorconfig"), "root = true\n") // hidden files are ignored
	r := newRenderer(t, dir)
	out := render(t, r, RenewalFailed, nil)
	if out.Subject != "Payment problem: Automation AI Standard" || !strings.Contains(out.Text, "Pay $49.00 within 7 days") {
		t.Errorf("the override is not used: %q\n%s", out.Subject, out.Text)
	}
	if !strings.Contains(out.Text, "Powered by Billow") || !strings.Contains(out.HTML, "<!DOCTYPE html>") {
		t.Errorf("an overridden email keeps the layout:\n%s", out.Text)
	}
	embedded := render(t, newRenderer(t, ""), RenewalSucceeded, nil)
	if got := render(t, r, RenewalSucceeded, nil); *got != *embedded {
		t.Errorf("the other emails should stay as shipped")
	}

	// The layout can be overridden too.
	writeFile(t, filepath.Join(dir, "en", "layout.text.tmpl"), "{{template \"text\" .}}\n-- {{.Brand.Name}}\n")
	r = newRenderer(t, dir)
	out = render(t, r, RenewalSucceeded, nil)
	if !strings.HasSuffix(out.Text, "-- Acme AI\n") || strings.HasPrefix(out.Text, "Hello") {
		t.Errorf("the text layout override is not used:\n%s", out.Text)
	}
}

func TestBrokenOverrideFailsAtStart(t *testing.T) {
	const good = `{{define "subject"}}Code{{end}}{{define "html"}}<p>{{.Data.otp}}</p>{{end}}{{define "text"}}{{.Data.otp}}{{end}}`
	tests := []struct {
		name string
		file string // relative to the override directory
		text string
		want string // in the error, beside the file's path
	}{
		{"parse error", "en/signup_otp.tmpl", `{{define "subject"}}Code{{end}}{{define "html"}}{{.Data.otp}{{end}}`, "signup_otp.tmpl"},
		{"field not in the catalogue", "en/signup_otp.tmpl", strings.Replace(good, "<p>{{.Data.otp}}", "<p>{{.Data.otp}} {{.Data.code}}", 1), "code"},
		{"no text block", "en/signup_otp.tmpl", `{{define "subject"}}Code{{end}}{{define "html"}}{{.Data.otp}}{{end}}`, `"text"`},
		{"secret in the subject", "en/signup_otp.tmpl", strings.Replace(good, "Code", "Code {{.Data.otp}}", 1), "subject shows the secret field otp"},
		{"secret left out", "en/signup_otp.tmpl", strings.Replace(good, "{{define \"text\"}}{{.Data.otp}}", "{{define \"text\"}}Your code", 1), "does not show the secret field otp"},
		{"reading into a text field", "en/workspace_approval_rejected.tmpl", `{{define "subject"}}No{{end}}{{define "html"}}<p>No.</p>{{end}}{{define "text"}}No. {{.Data.reason.x}}{{end}}`, "workspace_approval_rejected.tmpl"},
		{"misspelt file", "en/signup_otpp.tmpl", good, "replaces no template"},
		{"file outside a locale folder", "signup_otp.tmpl", good, "locale folder"},
		{"bad locale folder", "English/signup_otp.tmpl", good, "language tag"},
		{"broken layout", "en/layout.html.tmpl", `<html>{{template "html" .}}`, "layout.html.tmpl"},
		{"layout without the body", "en/layout.text.tmpl", `{{.Brand.Name}}`, `must call {{template "text" .}}`},
		{"too large", "en/signup_otp.tmpl", good + strings.Repeat(" ", templateFileBytesMax), "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, filepath.FromSlash(tt.file))
			writeFile(t, path, tt.text)
			_, err := NewRenderer(dir)
			if err == nil {
				t.Fatal("NewRenderer accepted a broken override")
			}
			if !strings.Contains(err.Error(), path) && !strings.Contains(err.Error(), filepath.Dir(path)) {
				t.Errorf("the error does not name the file %s: %v", path, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q: want %q in it", err, tt.want)
			}
		})
	}
	if _, err := NewRenderer(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing override directory was accepted")
	}
}

func TestLists(t *testing.T) {
	r := newRenderer(t, "")
	for _, products := range []any{
		[]string{"Automation AI", "Contact Center AI"},
		[]any{"Automation AI", "Contact Center AI"},
		[]map[string]any{{"name": "Automation AI"}, {"name": "Contact Center AI", "quantity": 2}},
	} {
		out := render(t, r, SubscriptionBoth, func(in *Input) { in.Data["products"] = products })
		if !strings.Contains(out.Text, "- Automation AI\n- Contact Center AI") {
			t.Errorf("products %#v: not a list:\n%s", products, out.Text)
		}
		if !strings.Contains(out.HTML, ">Automation AI</li>") {
			t.Errorf("products %#v: not an HTML list", products)
		}
	}
	e := renderErr(t, r, Input{Template: AddOnMultiple, Data: map[string]any{"add_ons": []any{}}})
	if !hasField(e, "data.add_ons") {
		t.Errorf("an empty required list: got %v", e)
	}
	e = renderErr(t, r, Input{Template: AddOnMultiple, Data: map[string]any{"add_ons": "Advanced RAG"}})
	if !hasField(e, "data.add_ons") {
		t.Errorf("a string for a list: got %v", e)
	}
}

func TestSampleIsACopy(t *testing.T) {
	s := Sample(AddOnMultiple)
	s["amount"] = "changed"
	s["add_ons"].([]any)[0].(map[string]any)["name"] = "changed"
	again := Sample(AddOnMultiple)
	if again["amount"] == "changed" || again["add_ons"].([]any)[0].(map[string]any)["name"] == "changed" {
		t.Error("changing a sample changed the catalogue")
	}
	if Sample("nope") != nil {
		t.Error("Sample of an unknown key should be nil")
	}
}

func TestSingleLine(t *testing.T) {
	for in, want := range map[string]string{
		"a\r\nb":         "a b",
		"  a \t b  ":     "a b",
		"a\x00b\x1bc":    "a b c",
		"a\u0085b\u2029": "a b",
	} {
		if got := singleLine(in, 10); got != want {
			t.Errorf("singleLine(%q) = %q, want %q", in, got, want)
		}
	}
	if got := singleLine("abcdefghijkl", 5); got != "abcd…" {
		t.Errorf("cut: got %q", got)
	}
}

func TestTextColorOn(t *testing.T) {
	for bg, want := range map[string]string{"#1f6feb": "#ffffff", "#000000": "#ffffff", "#fbbf24": "#111827", "#ffffff": "#111827"} {
		if got := textColorOn(bg); got != want {
			t.Errorf("textColorOn(%s) = %s, want %s", bg, got, want)
		}
	}
}

// FuzzRender feeds arbitrary strings into every field of a template: Render must never
// panic, its errors must not show the input, and the HTML must never hold it unescaped.
func FuzzRender(f *testing.F) {
	for _, s := range []string{"", "ACME", "<script>alert(1)</script>", "a\r\nBcc: x@y", "\xff\xfe", "{{.Data.otp}}", "&lt;", strings.Repeat("x", 5000), "javascript:alert(1)", "https://x.example/<b>"} {
		f.Add(WireTransferInstructions, s)
		f.Add(RenewalFailed, s)
		f.Add(AddOnMultiple, s)
	}
	r := newRenderer(f, "")
	f.Fuzz(func(t *testing.T, key, s string) {
		tp, ok := Lookup(key)
		if !ok {
			tp, _ = Lookup(RenewalFailed)
		}
		// Markers around the input find it in the output however the template words it.
		value := "Zq9" + s + "Zq9"
		data := map[string]any{}
		for _, fl := range tp.Fields {
			switch fl.Type {
			case FieldList:
				data[fl.Name] = []any{value, map[string]any{"name": value, "quantity": value}}
			case FieldFlag:
				data[fl.Name] = s != ""
			case FieldURL:
				data[fl.Name] = "https://example.com/" + value
			default:
				data[fl.Name] = value
			}
		}
		out, err := r.Render(Input{Template: tp.Key, Brand: Brand{Name: "Acme"}, RecipientName: s, Data: data, PoweredBy: true})
		if err != nil {
			var e *billow.Error
			if !errors.As(err, &e) || e.Code != billow.CodeValidationFailed {
				t.Fatalf("want validation_failed, got %v", err)
			}
			if len(s) > 3 && strings.Contains(err.Error(), value) {
				t.Fatalf("the error shows the input: %v", err)
			}
			return
		}
		if strings.Contains(s, "<") && strings.Contains(out.HTML, value) {
			t.Fatalf("the HTML holds the input unescaped")
		}
		if strings.ContainsAny(out.Subject, "\r\n") || utf8.RuneCountInString(out.Subject) > subjectRunesMax {
			t.Fatalf("subject %q is not one short line", out.Subject)
		}
	})
}
