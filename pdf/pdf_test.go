package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/billowhq/billow"
)

// The tests that read the rendered PDF use poppler-utils (pdftotext, pdfinfo). Without
// them a test skips, except in CI (CI=true), where a missing tool fails the test: CI must
// not pass by skipping. Set BILLOW_PDF_OUT to a directory to keep the rendered samples.

func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	msg := fmt.Sprintf("%s not found: install poppler-utils (apt-get install -y poppler-utils)", name)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg + "; skipping outside CI")
	return ""
}

// pdfText returns the text of the PDF as `pdftotext -layout` lays it out.
func pdfText(t *testing.T, name string, doc []byte, extra ...string) string {
	t.Helper()
	tool := needTool(t, "pdftotext")
	path := writePDF(t, name, doc)
	out, err := exec.Command(tool, append(append([]string{"-layout"}, extra...), path, "-")...).Output()
	if err != nil {
		t.Fatalf("pdftotext %s: %v", path, err)
	}
	return string(out)
}

func pdfPages(t *testing.T, name string, doc []byte) int {
	t.Helper()
	tool := needTool(t, "pdfinfo")
	path := writePDF(t, name, doc)
	out, err := exec.Command(tool, path).Output()
	if err != nil {
		t.Fatalf("pdfinfo %s: %v", path, err)
	}
	m := regexp.MustCompile(`(?m)^Pages:\s+(\d+)$`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("pdfinfo %s: no page count in\n%s", path, out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func writePDF(t *testing.T, name string, doc []byte) string {
	t.Helper()
	dir := os.Getenv("BILLOW_PDF_OUT")
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, name+".pdf")
	if err := os.WriteFile(path, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

const longDescription = "Advanced RAG add-on with a deliberately long description that must wrap inside " +
	"its column instead of running over the quantity, unit price and amount columns of the table"

// sampleInvoice is a paid June invoice with ten lines: fees, seats, usage, a proration
// credit and charge, a late usage adjustment for May, and one long description.
func sampleInvoice() *billow.Invoice {
	june0, june1 := day(2025, 6, 1), day(2025, 7, 1)
	line := func(kind billow.InvoiceLineKind, desc, qty, unit string, amount int64) billow.InvoiceLine {
		return billow.InvoiceLine{Kind: kind, Description: desc, Quantity: qty, UnitAmount: unit, AmountMinor: amount,
			PeriodStart: june0, PeriodEnd: june1, Ref: desc}
	}
	credit := line(billow.LineProration, "Unused time on Essential plan after upgrade", "1", "-124.75", -12475)
	credit.PeriodStart = day(2025, 6, 15)
	charge := line(billow.LineProration, "Remaining time on Advanced plan", "1", "266.13", 26613)
	charge.PeriodStart = day(2025, 6, 15)
	late := line(billow.LineUsageAdjustment, "Late usage: billing sessions", "320", "0.0125", 400)
	late.PeriodStart, late.PeriodEnd = day(2025, 5, 1), day(2025, 6, 1)
	paidAt := day(2025, 7, 3)
	inv := &billow.Invoice{
		ID: "inv_01JZ8Y3", Number: "ACME-2025-000042", OrderID: "ord_7Q2K9M", Account: "acct_01JZ",
		Status: billow.InvoicePaid, Currency: "USD", CurrencyDigits: 2,
		BillingDate: day(2025, 7, 1), DueAt: day(2025, 7, 15), PeriodStart: june0, PeriodEnd: june1,
		Lines: []billow.InvoiceLine{
			line(billow.LineFee, "Advanced plan — monthly fee", "1", "499.00", 49900),
			line(billow.LineAddOn, "Voice Gateway with ASR and TTS", "1", "99", 9900),
			line(billow.LineSeats, "Contact Center AI — named agent seats", "25", "45.00", 112500),
			line(billow.LineUsage, "Billing sessions above the included 10,000", "12480", "0.0125", 15600),
			line(billow.LineUsage, "Voice sessions", "3210", "0.05", 16050),
			line(billow.LineUsage, "Search AI ingestion above 1 GB (GB)", "2.5", "20.00", 5000),
			line(billow.LineUsage, "LLM usage, OpenAI gpt-4o (credits)", "84250", "0.001", 8425),
			credit, charge, late,
			line(billow.LineAddOn, longDescription, "1", "29.00", 2900),
		},
		TaxRate:     "8.25",
		AccountName: "Globex Corporation",
		BillTo: billow.BillingContact{
			Name: "Hank Scorpio", Email: "ap@globex.example", Company: "Globex Corporation",
			TaxID: "US-12-3456789",
			Address: billow.Address{Line1: "1 Globex Way", Line2: "Suite 400", City: "Cypress Creek",
				State: "OR", PostalCode: "97000", Country: "US"},
		},
		PaymentMethod: "Wire transfer", PaymentStatus: billow.PaymentSucceeded, PaidAt: &paidAt,
		FinalizedAt: &june1, CreatedAt: june1,
	}
	settle(inv, 19372)
	return inv
}

// settle sets the subtotal and total from the lines and the tax.
func settle(inv *billow.Invoice, taxMinor int64) {
	inv.SubtotalMinor = 0
	for _, l := range inv.Lines {
		inv.SubtotalMinor += l.AmountMinor
	}
	inv.TaxMinor = taxMinor
	inv.TotalMinor = inv.SubtotalMinor + taxMinor
}

func acme() Branding {
	return Branding{
		Name:         "Acme AI, Inc.",
		AddressLines: []string{"500 Howard Street", "San Francisco, CA 94105", "United States"},
		Email:        "billing@acme.example",
		Website:      "acme.example",
		AccentColor:  "#1f6feb",
		Footer:       "Thank you for your business. Questions? Write to billing@acme.example.",
	}
}

// squash collapses runs of white space, so that text laid out in columns can be searched.
func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestRenderContent(t *testing.T) {
	inv := sampleInvoice()
	doc, err := Render(inv, acme())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(doc, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %q", doc[:min(len(doc), 16)])
	}
	text := pdfText(t, "sample", doc)
	flat := squash(text)
	for _, want := range []string{
		"Invoice", "Acme AI, Inc.", "500 Howard Street", "billing@acme.example",
		"ACME-2025-000042", "ord_7Q2K9M", "Bill to", "Globex Corporation", "Hank Scorpio",
		"ap@globex.example", "1 Globex Way", "Cypress Creek, OR 97000", "Tax ID: US-12-3456789",
		"Billing date 2025-07-01", "Due date 2025-07-15", "Period 2025-06-01 – 2025-06-30", "PAID",
		"Subtotal $2,348.13", "Tax (8.25%) $193.72", "Total $2,541.85",
		"Amount paid $2,541.85", "Amount due $0.00",
		"Wire transfer — paid on 2025-07-03",
		"-$124.75", "$1,125.00", "$0.0125", "12,480", "$99.00",
		"2025-06-15 – 2025-06-30", // the period of the proration lines
		"2025-05-01 – 2025-05-31", // the period of the late usage
		"Thank you for your business.", "Page 1 of 1",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("PDF text lacks %q:\n%s", want, text)
		}
	}
	for _, l := range inv.Lines {
		if l.Description == longDescription {
			continue
		}
		if !strings.Contains(flat, l.Description) {
			t.Errorf("PDF text lacks line %q", l.Description)
		}
	}
	// The long description wraps: its words appear in order, over several lines.
	if !wordsInOrder(flat, longDescription) {
		t.Errorf("PDF text lacks the words of %q in order:\n%s", longDescription, text)
	}
	if strings.Contains(text, longDescription) {
		t.Errorf("the long description did not wrap")
	}
	// Lines whose period is the invoice's show none of their own.
	if n := strings.Count(flat, "2025-06-01 – 2025-06-30"); n != 1 {
		t.Errorf("the invoice period shows %d times, want once (in the header only)", n)
	}
}

func wordsInOrder(text, words string) bool {
	for _, w := range strings.Fields(words) {
		i := strings.Index(text, w)
		if i < 0 {
			return false
		}
		text = text[i+len(w):]
	}
	return true
}

// TestRenderStaysInColumns checks with word boxes that a long description, and a word
// longer than its column, stay left of the quantity column.
func TestRenderStaysInColumns(t *testing.T) {
	inv := sampleInvoice()
	token := "ref:rag-index-eu-west-1-production-knowledge-base-0001-replica-b"
	inv.Lines[len(inv.Lines)-1].Description = longDescription + " " + token
	doc, err := Render(inv, acme())
	if err != nil {
		t.Fatal(err)
	}
	html := pdfText(t, "columns", doc, "-bbox")
	// The description column ends where the quantity column starts.
	const ptPerMM = 72 / 25.4
	limit := (marginMM + widthMM(colDescription)) * ptPerMM
	word := regexp.MustCompile(`<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)</word>`)
	seen := 0
	inDescription := map[string]bool{}
	for _, w := range strings.Fields(longDescription) {
		inDescription[w] = true
	}
	for _, m := range word.FindAllStringSubmatch(html, -1) {
		w := m[3]
		if !inDescription[w] && !strings.Contains(token, w) {
			continue
		}
		xMin, _ := strconv.ParseFloat(m[1], 64)
		xMax, _ := strconv.ParseFloat(m[2], 64)
		if xMin > limit {
			continue // a number of another column that happens to match
		}
		seen++
		if xMax > limit {
			t.Errorf("word %q ends at %.1fpt, past the description column (%.1fpt)", w, xMax, limit)
		}
	}
	if seen < len(inDescription) {
		t.Errorf("found %d words of the description, want at least %d", seen, len(inDescription))
	}
}

func TestRenderManyLinesPaginates(t *testing.T) {
	inv := sampleInvoice()
	inv.Lines = inv.Lines[:0]
	for i := range billow.InvoiceLinesMax {
		l := billow.InvoiceLine{
			Kind: billow.LineUsage, Description: fmt.Sprintf("Billing sessions of app bot-%03d", i+1),
			Quantity: "1000", UnitAmount: "0.0125", AmountMinor: 1250,
			PeriodStart: inv.PeriodStart, PeriodEnd: inv.PeriodEnd,
		}
		if i%7 == 6 {
			// Rows of three lines and a period, so that page breaks meet rows of every height.
			l.Description += ", routed from the parent app through dynamic routing to a linked app, " +
				"counted in 15-minute billing sessions of user conversation"
			l.PeriodStart = day(2025, 6, 10)
		}
		inv.Lines = append(inv.Lines, l)
	}
	settle(inv, 51563) // 8.25% of $6,250.00, rounded half up
	start := time.Now()
	doc, err := Render(inv, acme())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d lines: %d bytes in %v", len(inv.Lines), len(doc), time.Since(start))
	pages := pdfPages(t, "many", doc)
	if pages <= 1 {
		t.Fatalf("%d lines fit on %d page", len(inv.Lines), pages)
	}
	flat := squash(pdfText(t, "many", doc))
	for _, want := range []string{
		"Billing sessions of app bot-001", "Billing sessions of app bot-500",
		"Subtotal $6,250.00", "Tax (8.25%) $515.63", "Total $6,765.63",
		fmt.Sprintf("Page %d of %d", pages, pages), "Invoice ACME-2025-000042",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("PDF text lacks %q", want)
		}
	}
	// The footer repeats on every page.
	if n := strings.Count(flat, "Invoice ACME-2025-000042"); n < pages {
		t.Errorf("footer appears %d times on %d pages", n, pages)
	}
}

func TestRenderOtherCurrencies(t *testing.T) {
	for _, tc := range []struct {
		currency string
		digits   int64
		status   billow.InvoiceStatus
		want     []string
	}{
		{"JPY", 0, billow.InvoiceOpen, []string{"Total JPY 129,900", "Amount due JPY 129,900", "OPEN"}},
		{"BHD", 3, billow.InvoiceVoid, []string{"Total BHD 129.900", "Amount due BHD 0.000", "VOID"}},
		{"EUR", 2, billow.InvoiceUncollectible, []string{"Total €1,299.00", "UNCOLLECTIBLE"}},
	} {
		t.Run(tc.currency, func(t *testing.T) {
			inv := sampleInvoice()
			inv.Currency, inv.CurrencyDigits, inv.Status = tc.currency, tc.digits, tc.status
			inv.PaymentStatus, inv.PaidAt = billow.PaymentPending, nil
			inv.Lines = inv.Lines[:1]
			inv.Lines[0].AmountMinor = 129900
			inv.TaxRate, inv.BillTo.TaxID = "", ""
			settle(inv, 0)
			doc, err := Render(inv, Branding{Name: "Acme AI, Inc."})
			if err != nil {
				t.Fatal(err)
			}
			flat := squash(pdfText(t, "currency-"+tc.currency, doc))
			for _, w := range tc.want {
				if !strings.Contains(flat, w) {
					t.Errorf("PDF text lacks %q:\n%s", w, flat)
				}
			}
			if strings.Contains(flat, "Tax") {
				t.Errorf("an invoice without tax shows a tax line")
			}
		})
	}
}

func TestRenderWirePending(t *testing.T) {
	inv := sampleInvoice()
	inv.Status, inv.PaymentStatus, inv.PaidAt = billow.InvoiceOpen, billow.PaymentPending, nil
	doc, err := Render(inv, acme())
	if err != nil {
		t.Fatal(err)
	}
	flat := squash(pdfText(t, "wire-pending", doc))
	for _, w := range []string{"Wire transfer — pending clearance", "Amount paid $0.00", "Amount due $2,541.85", "OPEN"} {
		if !strings.Contains(flat, w) {
			t.Errorf("PDF text lacks %q:\n%s", w, flat)
		}
	}
}

func TestRenderWithLogo(t *testing.T) {
	b := acme()
	b.LogoPNG = logo(t, 480, 120)
	doc, err := Render(sampleInvoice(), b)
	if err != nil {
		t.Fatal(err)
	}
	flat := squash(pdfText(t, "logo", doc))
	for _, w := range []string{"Acme AI, Inc.", "Total $2,541.85"} {
		if !strings.Contains(flat, w) {
			t.Errorf("PDF text lacks %q", w)
		}
	}
	if strings.Contains(flat, "could not") {
		t.Errorf("the logo was not drawn:\n%s", flat)
	}
}

func logo(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			if (x/(h/2)+y/(h/2))%2 == 0 || x < h {
				img.Set(x, y, color.NRGBA{R: 0x1f, G: 0x6f, B: 0xeb, A: 0xff})
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRenderRefuses(t *testing.T) {
	draft := sampleInvoice()
	draft.Number, draft.Status, draft.FinalizedAt = "", billow.InvoiceDraft, nil
	if _, err := Render(draft, acme()); billow.ErrorCode(err) != CodeInvoiceNotFinalized || billow.ErrorKindOf(err) != billow.KindConflict {
		t.Errorf("draft: got %v, want a conflict coded %s", err, CodeInvoiceNotFinalized)
	}

	bad := acme()
	bad.AccentColor = "blue"
	if _, err := Render(sampleInvoice(), bad); billow.ErrorCode(err) != billow.CodeValidationFailed {
		t.Errorf("bad branding: got %v, want %s", err, billow.CodeValidationFailed)
	}

	wrong := sampleInvoice()
	wrong.TotalMinor++
	if _, err := Render(wrong, acme()); billow.ErrorKindOf(err) != billow.KindInternal {
		t.Errorf("totals that do not add up: got %v, want an internal error", err)
	}

	tampered := sampleInvoice()
	tampered.Hash = tampered.ContentHash()
	if _, err := Render(tampered, acme()); err != nil {
		t.Errorf("intact invoice with hash: %v", err)
	}
	tampered.Lines[0].Description = "Something else"
	if _, err := Render(tampered, acme()); billow.ErrorCode(err) != billow.CodeInvoiceTampered {
		t.Errorf("tampered: got %v, want %s", err, billow.CodeInvoiceTampered)
	}

	if _, err := Render(nil, acme()); err == nil {
		t.Errorf("nil invoice rendered")
	}
}

func TestBrandingValidate(t *testing.T) {
	big := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, LogoMaxBytes)...)
	var deep bytes.Buffer
	if err := png.Encode(&deep, image.NewRGBA64(image.Rect(0, 0, 8, 8))); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		edit  func(*Branding)
		field string // "" when valid
	}{
		{"sample", func(*Branding) {}, ""},
		{"default colour", func(b *Branding) { b.AccentColor = "" }, ""},
		{"upper-case colour", func(b *Branding) { b.AccentColor = "#1F6FEB" }, ""},
		{"logo", func(b *Branding) { b.LogoPNG = logo(t, 64, 32) }, ""},
		{"no name", func(b *Branding) { b.Name = " " }, "name"},
		{"colour name", func(b *Branding) { b.AccentColor = "blue" }, "accent_color"},
		{"short colour", func(b *Branding) { b.AccentColor = "#1f6" }, "accent_color"},
		{"colour without hash", func(b *Branding) { b.AccentColor = "1f6feb0" }, "accent_color"},
		{"colour not hex", func(b *Branding) { b.AccentColor = "#gg0000" }, "accent_color"},
		{"logo too large", func(b *Branding) { b.LogoPNG = big }, "logo_png"},
		{"logo not png", func(b *Branding) { b.LogoPNG = []byte("GIF89a....") }, "logo_png"},
		{"logo 16-bit", func(b *Branding) { b.LogoPNG = deep.Bytes() }, "logo_png"},
		{"logo truncated", func(b *Branding) { b.LogoPNG = logo(t, 64, 32)[:60] }, "logo_png"},
		{"seven address lines", func(b *Branding) { b.AddressLines = make([]string, AddressLinesMax+1) }, "address_lines"},
		{"address line with newline", func(b *Branding) { b.AddressLines = []string{"a\nb"} }, "address_lines[0]"},
		{"bad email", func(b *Branding) { b.Email = "billing at acme" }, "email"},
		{"long footer", func(b *Branding) { b.Footer = strings.Repeat("x", FooterMaxBytes+1) }, "footer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := acme()
			tc.edit(&b)
			err := b.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("valid branding refused: %v", err)
				}
				return
			}
			var e *billow.Error
			if !errors.As(err, &e) || e.Code != billow.CodeValidationFailed {
				t.Fatalf("got %v, want %s", err, billow.CodeValidationFailed)
			}
			if len(e.Fields) != 1 || e.Fields[0].Field != tc.field {
				t.Errorf("fields %+v, want exactly %q", e.Fields, tc.field)
			}
		})
	}
}

func TestFormatMoney(t *testing.T) {
	for _, tc := range []struct {
		minor    int64
		currency string
		digits   int64
		want     string
	}{
		{123456, "USD", 2, "$1,234.56"},
		{-1250, "USD", 2, "-$12.50"},
		{0, "USD", 2, "$0.00"},
		{5, "USD", 2, "$0.05"},
		{100000000, "USD", 2, "$1,000,000.00"},
		{900, "EUR", 2, "€9.00"},
		{-99, "GBP", 2, "-£0.99"},
		{1200, "JPY", 0, "JPY 1,200"},
		{-1200, "JPY", 0, "-JPY 1,200"},
		{999, "JPY", 0, "JPY 999"},
		{0, "JPY", 0, "JPY 0"},
		{1234567, "JPY", 0, "JPY 1,234,567"},
		{1250, "BHD", 3, "BHD 1.250"},
		{1234567, "BHD", 3, "BHD 1,234.567"},
		{-5, "BHD", 3, "-BHD 0.005"},
		{12345, "CLF", 4, "CLF 1.2345"},
		{math.MaxInt64, "USD", 2, "$92,233,720,368,547,758.07"},
		{math.MinInt64, "USD", 2, "-$92,233,720,368,547,758.08"},
	} {
		if got := formatMoney(tc.minor, tc.currency, tc.digits); got != tc.want {
			t.Errorf("formatMoney(%d, %s, %d) = %q, want %q", tc.minor, tc.currency, tc.digits, got, tc.want)
		}
	}
}

func TestFormatUnitPriceAndQuantity(t *testing.T) {
	for _, tc := range []struct {
		in, currency string
		digits       int64
		want         string
	}{
		{"0.0125", "USD", 2, "$0.0125"},
		{"5", "USD", 2, "$5.00"},
		{"0.5", "USD", 2, "$0.50"},
		{"1250", "USD", 2, "$1,250.00"},
		{"-124.75", "USD", 2, "-$124.75"},
		{"1200", "JPY", 0, "JPY 1,200"},
		{"0.125", "BHD", 3, "BHD 0.125"},
		{"n/a", "USD", 2, "n/a"},
	} {
		if got := formatUnitPrice(tc.in, tc.currency, tc.digits); got != tc.want {
			t.Errorf("formatUnitPrice(%q, %s, %d) = %q, want %q", tc.in, tc.currency, tc.digits, got, tc.want)
		}
	}
	for in, want := range map[string]string{
		"3": "3", "1250.5": "1,250.5", "1000000": "1,000,000", "-1234": "-1,234", "": "", "1e3": "1e3", "1.": "1.",
	} {
		if got := formatDecimal(in, 0); got != want {
			t.Errorf("formatDecimal(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPeriod(t *testing.T) {
	for _, tc := range []struct {
		start, end time.Time
		want       string
	}{
		{day(2025, 6, 1), day(2025, 7, 1), "2025-06-01 – 2025-06-30"},
		{day(2025, 6, 1), day(2025, 6, 2), "2025-06-01"},
		{day(2025, 6, 1), day(2025, 6, 1), "2025-06-01"},
		{day(2025, 6, 1).Add(-2 * time.Hour), day(2025, 7, 1).Add(-2 * time.Hour), "2025-05-31 – 2025-06-30"},
		{time.Time{}, time.Time{}, ""},
	} {
		if got := period(tc.start, tc.end); got != tc.want {
			t.Errorf("period(%v, %v) = %q, want %q", tc.start, tc.end, got, tc.want)
		}
	}
}

func TestMeasurerWrap(t *testing.T) {
	ms := newMeasurer()
	regular := font{"", fontSizePt}
	const widthMM = 20.0
	for _, in := range []string{
		"short " + strings.Repeat("x", 60),
		strings.Repeat("W", 30),
		"accounts-payable-department@globex-international.example",
		"GLOBEX-HOLDINGS-EMEA-2025-00000042",
	} {
		got := ms.wrap(in, widthMM, regular)
		if strings.ReplaceAll(got, " ", "") != strings.ReplaceAll(in, " ", "") {
			t.Errorf("wrap(%q) = %q changed the text", in, got)
		}
		for _, w := range strings.Fields(got) {
			if ms.width(w, regular) > widthMM {
				t.Errorf("wrap(%q): %q is %.1f mm, wider than %.0f mm", in, w, ms.width(w, regular), widthMM)
			}
		}
		if !strings.Contains(in, "x") && !strings.Contains(in, "W") {
			// Breaks fall after punctuation when there is some.
			pieces := strings.Fields(got)
			for _, p := range pieces[:len(pieces)-1] {
				if !strings.ContainsAny(p[len(p)-1:], "-@.") {
					t.Errorf("wrap(%q) broke %q not after punctuation", in, p)
				}
			}
		}
	}
	if got := ms.wrap("fits in", widthMM, regular); got != "fits in" {
		t.Errorf("wrap changed text that fits: %q", got)
	}
	if n := ms.lines("one", widthMM, regular); n != 1 {
		t.Errorf("lines(one) = %d", n)
	}
	if n := ms.lines(strings.Repeat("word ", 20), widthMM, regular); n < 5 {
		t.Errorf("lines of 20 words in %.0f mm = %d, want several", widthMM, n)
	}
	got := ms.fit(strings.Repeat("word ", 20), widthMM, regular, 2)
	if !strings.HasSuffix(got, "…") || ms.lines(got, widthMM, regular) > 2 {
		t.Errorf("fit gave %q", got)
	}
}

// TestRenderLongFields renders every field at its longest, to look at with BILLOW_PDF_OUT
// and to check that nothing is lost.
func TestRenderLongFields(t *testing.T) {
	inv := sampleInvoice()
	inv.Status, inv.PaymentStatus, inv.PaidAt = billow.InvoiceUncollectible, billow.PaymentFailed, nil
	inv.Currency, inv.CurrencyDigits = "BHD", 3
	inv.Number = "GLOBEX-HOLDINGS-EMEA-2025-00000042"
	inv.AccountName = "Globex Corporation International Holdings and Subsidiaries (Europe, Middle East and Africa)"
	inv.BillTo.Company = inv.AccountName
	inv.BillTo.Email = "accounts-payable-department@globex-international-holdings.example"
	inv.PaymentMethod = "Visa •••• 4242"
	inv.Lines = inv.Lines[:3]
	inv.Lines[0].AmountMinor = 9_876_543_210
	inv.Lines[0].UnitAmount = "9876543.210"
	settle(inv, 814_814_815)
	b := acme()
	b.Name = "Acme Artificial Intelligence Platform Services, Incorporated"
	b.AddressLines = []string{"Building 7, Floor 12", "500 Howard Street", "San Francisco", "CA 94105", "United States", "VAT: EU826010755"}
	doc, err := Render(inv, b)
	if err != nil {
		t.Fatal(err)
	}
	flat := squash(pdfText(t, "long", doc))
	for _, w := range []string{
		"UNCOLLECTIBLE", "Visa •••• 4242 — last attempt declined", "VAT: EU826010755",
		"BHD 9,876,543.210", "Total BHD 10,691,...",
	} {
		if strings.HasSuffix(w, "...") {
			continue
		}
		if !strings.Contains(flat, w) {
			t.Errorf("PDF text lacks %q:\n%s", w, flat)
		}
	}
	if !wordsInOrder(flat, inv.AccountName) {
		t.Errorf("PDF text lacks the account name")
	}
}
