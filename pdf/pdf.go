// Package pdf owns the printed form of an invoice: it renders a finalized billow.Invoice
// as a PDF carrying the operator's branding (name, address, logo, accent colour, footer
// note). It reads nothing but its arguments and writes nothing: callers load the invoice
// and the branding, and store or send the bytes.
//
// Money is formatted from int64 minor units with integer arithmetic only; dates are shown
// in UTC as YYYY-MM-DD. Text is set in Helvetica, whose PDF encoding is Windows-1252: a
// character outside it (Cyrillic, CJK, emoji) prints as ".".
package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"image/png"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/johnfercher/maroto/v2"
	"github.com/johnfercher/maroto/v2/pkg/components/col"
	"github.com/johnfercher/maroto/v2/pkg/components/image"
	"github.com/johnfercher/maroto/v2/pkg/components/line"
	"github.com/johnfercher/maroto/v2/pkg/components/page"
	"github.com/johnfercher/maroto/v2/pkg/components/row"
	"github.com/johnfercher/maroto/v2/pkg/components/text"
	"github.com/johnfercher/maroto/v2/pkg/config"
	"github.com/johnfercher/maroto/v2/pkg/consts/align"
	"github.com/johnfercher/maroto/v2/pkg/consts/extension"
	"github.com/johnfercher/maroto/v2/pkg/consts/fontstyle"
	"github.com/johnfercher/maroto/v2/pkg/consts/pagesize"
	"github.com/johnfercher/maroto/v2/pkg/core"
	"github.com/johnfercher/maroto/v2/pkg/props"
	"github.com/phpdave11/gofpdf"

	"github.com/billowhq/billow"
)

// Limits on branding, named with their unit last.
const (
	LogoMaxBytes      = 512 << 10 // a logo is a small PNG, not a photograph
	LogoSideMaxPixels = 2048      // bounds the memory decoding a logo takes (16 MiB)
	AddressLinesMax   = 6
	WebsiteMaxBytes   = 200
	FooterMaxBytes    = 500
	CurrencyDigitsMax = 4 // ISO 4217 has no currency with more fractional digits
)

// DefaultAccentColor is the accent of an operator that chose none: a sober blue.
const DefaultAccentColor = "#1d4e89"

// CodeInvoiceNotFinalized refuses the PDF of a draft, whose content may still change.
const CodeInvoiceNotFinalized = "invoice_not_finalized"

// Branding is how the operator's invoices look.
type Branding struct {
	Name         string   // "Acme AI, Inc." — shown top left, required
	AddressLines []string // up to AddressLinesMax lines under the name
	Email        string   // billing contact shown in the header and footer
	Website      string
	AccentColor  string // "#1f6feb"; empty means DefaultAccentColor
	LogoPNG      []byte // optional PNG logo of at most LogoMaxBytes, drawn top left above the name
	Footer       string // optional note at the end ("Thank you for your business")
}

// Validate reports every invalid field at once as a billow.CodeValidationFailed error.
// The logo must be a PNG the PDF writer can embed: 8 bits per channel, not interlaced.
func (b *Branding) Validate() error {
	var fields []billow.FieldError
	add := func(field, format string, args ...any) {
		fields = append(fields, billow.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	switch {
	case strings.TrimSpace(b.Name) == "":
		add("name", "is required")
	case len(b.Name) > billow.NameMaxBytes || !printable(b.Name):
		add("name", "must be at most %d bytes of printable text", billow.NameMaxBytes)
	}
	if len(b.AddressLines) > AddressLinesMax {
		add("address_lines", "must be at most %d lines", AddressLinesMax)
	}
	for i, l := range b.AddressLines {
		if len(l) > billow.AddressLineMaxBytes || !printable(l) {
			add(fmt.Sprintf("address_lines[%d]", i), "must be at most %d bytes of printable text", billow.AddressLineMaxBytes)
		}
	}
	if b.Email != "" {
		if a, err := mail.ParseAddress(b.Email); err != nil || a.Address != b.Email || len(b.Email) > billow.EmailMaxBytes {
			add("email", "must be an email address such as billing@example.com")
		}
	}
	if len(b.Website) > WebsiteMaxBytes || !printable(b.Website) {
		add("website", "must be at most %d bytes of printable text", WebsiteMaxBytes)
	}
	if b.AccentColor != "" {
		if _, err := parseHexColor(b.AccentColor); err != nil {
			add("accent_color", "%s", err.Error())
		}
	}
	if len(b.LogoPNG) > 0 {
		if err := checkLogo(b.LogoPNG); err != nil {
			add("logo_png", "%s", err.Error())
		}
	}
	if len(b.Footer) > FooterMaxBytes || !printable(b.Footer) {
		add("footer", "must be at most %d bytes of printable text", FooterMaxBytes)
	}
	if len(fields) == 0 {
		return nil
	}
	return &billow.Error{Kind: billow.KindInvalid, Code: billow.CodeValidationFailed,
		Message: "the branding has invalid fields", Fields: fields}
}

// checkLogo accepts only a PNG that gofpdf can embed, so that a bad logo is refused when
// the branding is configured rather than breaking every invoice later.
func checkLogo(p []byte) error {
	if len(p) > LogoMaxBytes {
		return fmt.Errorf("must be at most %d bytes (%d KiB), not %d", LogoMaxBytes, LogoMaxBytes>>10, len(p))
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(p))
	if err != nil {
		return errors.New("must be a PNG image")
	}
	if cfg.Width > LogoSideMaxPixels || cfg.Height > LogoSideMaxPixels {
		return fmt.Errorf("must be at most %d×%d pixels", LogoSideMaxPixels, LogoSideMaxPixels)
	}
	// DecodeConfig has read the signature and IHDR: 8 signature bytes, then length, type,
	// width, height, bit depth, colour type, compression, filter, interlace.
	const ihdrBitDepthOffset, ihdrInterlaceOffset = 24, 28
	if p[ihdrBitDepthOffset] == 16 {
		return errors.New("must use 8 bits per channel, not 16")
	}
	if p[ihdrInterlaceOffset] != 0 {
		return errors.New("must not be interlaced")
	}
	if _, err := png.Decode(bytes.NewReader(p)); err != nil {
		return errors.New("is not a complete PNG image")
	}
	return nil
}

// parseHexColor reads "#rrggbb".
func parseHexColor(s string) (props.Color, error) {
	if len(s) != 7 || s[0] != '#' {
		return props.Color{}, fmt.Errorf("must be a colour as #rrggbb, not %q", s)
	}
	v, err := strconv.ParseUint(s[1:], 16, 32)
	if err != nil {
		return props.Color{}, fmt.Errorf("must be a colour as #rrggbb, not %q", s)
	}
	return props.Color{Red: int(v >> 16 & 0xff), Green: int(v >> 8 & 0xff), Blue: int(v & 0xff)}, nil
}

func printable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}

// Layout, in millimetres and points. The page is A4 with 15 mm margins: 180 mm of width
// shared by a grid of gridColumns columns.
const (
	marginMM       = 15.0
	contentWidthMM = 180.0
	gridColumns    = 24
	fontSizePt     = 9.0
	smallSizePt    = 7.5
	titleSizePt    = 22.0
	nameSizePt     = 14.0
	totalSizePt    = 11.0
	logoHeightMM   = 16.0
	noteSpaceMM    = 10.0 // above the operator's note
	cellPadMM      = 2.0  // left and right padding of table cells
	mmPerPt        = 25.4 / 72
)

// Grid widths of the columns, out of gridColumns.
const (
	colDescription = 12
	colQuantity    = 3
	colUnitPrice   = 4
	colAmount      = 5
	colHalf        = 12
	colMetaKey     = 5
	colMetaValue   = 7
	colBadge       = 5
)

// palette is the set of colours one rendering uses; built per call since Go has no
// constant structs.
type palette struct {
	accent, text, muted, zebra, rule, white, badge props.Color
}

// Render returns the PDF bytes of the invoice. It refuses a draft (no Number) with a
// KindConflict error coded CodeInvoiceNotFinalized, an invalid branding with the error of
// Validate, and an invoice whose totals do not add up, or whose content no longer matches
// its hash, with a KindInternal error.
func Render(inv *billow.Invoice, b Branding) ([]byte, error) {
	if inv == nil {
		return nil, billow.Errorf(billow.KindInternal, billow.CodeInternal, "pdf: no invoice to render")
	}
	if inv.Number == "" || inv.Status == billow.InvoiceDraft {
		return nil, billow.Errorf(billow.KindConflict, CodeInvoiceNotFinalized,
			"invoice %s is a draft: only a finalized invoice has a PDF", inv.ID)
	}
	if err := b.Validate(); err != nil {
		return nil, err
	}
	if err := checkInvoice(inv); err != nil {
		return nil, err
	}
	accentHex := b.AccentColor
	if accentHex == "" {
		accentHex = DefaultAccentColor
	}
	accent, err := parseHexColor(accentHex)
	if err != nil {
		panic("pdf: accent colour passed Validate but does not parse: " + err.Error())
	}
	r := &renderer{inv: inv, b: b, ms: newMeasurer(), c: palette{
		accent: accent,
		text:   props.Color{Red: 0x24, Green: 0x29, Blue: 0x2f},
		muted:  props.Color{Red: 0x5f, Green: 0x67, Blue: 0x70},
		zebra:  props.Color{Red: 0xf4, Green: 0xf6, Blue: 0xf8},
		rule:   props.Color{Red: 0xd0, Green: 0xd7, Blue: 0xde},
		white:  props.Color{Red: 0xff, Green: 0xff, Blue: 0xff},
		badge:  statusColor(inv.Status, accent),
	}}
	return r.render()
}

// checkInvoice asserts what finalization guarantees, so that a PDF never shows numbers
// that disagree with each other.
func checkInvoice(inv *billow.Invoice) error {
	internal := func(format string, args ...any) error {
		return billow.Errorf(billow.KindInternal, billow.CodeInternal, "pdf: invoice %s: "+format, append([]any{inv.ID}, args...)...)
	}
	if inv.CurrencyDigits < 0 || inv.CurrencyDigits > CurrencyDigitsMax {
		return internal("currency digits %d out of 0..%d", inv.CurrencyDigits, CurrencyDigitsMax)
	}
	if len(inv.Currency) != 3 || strings.ToUpper(inv.Currency) != inv.Currency {
		return internal("currency %q is not an ISO 4217 code", inv.Currency)
	}
	if len(inv.Lines) > billow.InvoiceLinesMax {
		return internal("%d lines, more than %d", len(inv.Lines), billow.InvoiceLinesMax)
	}
	var sum int64
	for _, l := range inv.Lines {
		next := sum + l.AmountMinor
		if (l.AmountMinor > 0 && next < sum) || (l.AmountMinor < 0 && next > sum) {
			return internal("the sum of the lines overflows")
		}
		sum = next
	}
	if sum != inv.SubtotalMinor {
		return internal("lines sum to %d, subtotal is %d", sum, inv.SubtotalMinor)
	}
	if inv.SubtotalMinor+inv.TaxMinor != inv.TotalMinor {
		return internal("subtotal %d + tax %d ≠ total %d", inv.SubtotalMinor, inv.TaxMinor, inv.TotalMinor)
	}
	if inv.Hash != "" && inv.ContentHash() != inv.Hash {
		return billow.Errorf(billow.KindInternal, billow.CodeInvoiceTampered,
			"invoice %s: stored content no longer matches its hash", inv.ID)
	}
	return nil
}

func statusColor(s billow.InvoiceStatus, accent props.Color) props.Color {
	switch s {
	case billow.InvoicePaid:
		return props.Color{Red: 0x1a, Green: 0x7f, Blue: 0x37}
	case billow.InvoiceVoid:
		return props.Color{Red: 0x6e, Green: 0x77, Blue: 0x81}
	case billow.InvoiceUncollectible:
		return props.Color{Red: 0xb3, Green: 0x26, Blue: 0x1e}
	default:
		return accent
	}
}

type renderer struct {
	inv *billow.Invoice
	b   Branding
	c   palette
	m   core.Maroto
	ms  *measurer
}

func (r *renderer) render() ([]byte, error) {
	inv := r.inv
	created := inv.BillingDate
	if inv.FinalizedAt != nil {
		created = *inv.FinalizedAt
	}
	cfg := config.NewBuilder().
		WithPageSize(pagesize.A4).
		WithLeftMargin(marginMM).WithRightMargin(marginMM).
		WithTopMargin(marginMM).WithBottomMargin(marginMM).
		WithMaxGridSize(gridColumns).
		WithDefaultFont(&props.Font{Family: fontFamily, Size: fontSizePt, Color: &r.c.text}).
		WithPageNumber(props.PageNumber{Pattern: "Page {current} of {total}", Place: props.RightBottom,
			Size: smallSizePt, Color: &r.c.muted}).
		WithTitle("Invoice "+inv.Number, true).
		WithAuthor(r.b.Name, true).
		WithCreator("Billow", false).
		WithCreationDate(created.UTC()).
		WithCompression(true).
		Build()
	r.m = maroto.New(cfg)
	if err := r.m.RegisterFooter(r.footer()...); err != nil {
		return nil, billow.Errorf(billow.KindInternal, billow.CodeInternal, "pdf: footer: %v", err)
	}
	r.header()
	r.space(6)
	r.m.AddRows(line.NewRow(1, props.Line{Color: &r.c.accent, Thickness: 0.6, SizePercent: 100}))
	r.space(5)
	r.parties()
	r.space(8)
	r.table()
	r.space(2)
	r.totals()
	if r.b.Footer != "" {
		r.space(noteSpaceMM)
		r.m.AddAutoRow(col.New().Add(r.text(r.ms.wrap(r.b.Footer, contentWidthMM, font{fontstyle.Italic, fontSizePt}),
			props.Text{Align: align.Center, Style: fontstyle.Italic, Color: &r.c.muted})))
	}
	doc, err := r.m.Generate()
	if err != nil {
		return nil, billow.Errorf(billow.KindInternal, billow.CodeInternal, "pdf: generate: %v", err)
	}
	return doc.GetBytes(), nil
}

// header draws the operator top left (logo above the name) and the title, number and
// status top right.
func (r *renderer) header() {
	// Every row of the header is headerRowMM high unless a line wraps: the left lines and
	// the right items are padded to that height, so that rows pairing them stay even.
	const headerRowMM = 4.6
	pad := func(sizePt float64) float64 { return (headerRowMM - sizePt*mmPerPt) / 2 }
	left := []core.Component{}
	leftStyle := props.Text{Color: &r.c.muted, Top: pad(fontSizePt), Bottom: pad(fontSizePt), Right: cellPadMM}
	leftWidth := widthMM(colHalf) - cellPadMM
	for _, l := range append(append([]string{}, r.b.AddressLines...), r.b.Email, r.b.Website) {
		if strings.TrimSpace(l) != "" {
			left = append(left, r.text(r.ms.wrap(l, leftWidth, font{"", fontSizePt}), leftStyle))
		}
	}
	name := r.text(r.ms.wrap(r.b.Name, leftWidth, font{fontstyle.Bold, nameSizePt}),
		props.Text{Size: nameSizePt, Style: fontstyle.Bold, Bottom: 1.5, Right: cellPadMM})
	title := r.text("Invoice", props.Text{Size: titleSizePt, Style: fontstyle.Bold, Color: &r.c.accent,
		Align: align.Right, Bottom: 1.5})
	number := r.text(r.ms.wrap(r.inv.Number, widthMM(colHalf), font{fontstyle.Bold, totalSizePt}), props.Text{
		Size: totalSizePt, Style: fontstyle.Bold, Align: align.Right, Top: pad(totalSizePt), Bottom: pad(totalSizePt)})
	if len(r.b.LogoPNG) > 0 {
		r.m.AddRow(logoHeightMM,
			image.NewFromBytesCol(colHalf, r.b.LogoPNG, extension.Png, props.Rect{Percent: 100}),
			col.New(colHalf))
		r.m.AddRow(2)
	}
	r.m.AddAutoRow(col.New(colHalf).Add(name), col.New(colHalf).Add(title))
	// The right side holds the number, then after a blank row the status badge.
	const badgeRow = 2
	for i := 0; i <= max(len(left)-1, badgeRow); i++ {
		cols := []core.Col{col.New(colHalf)}
		if i < len(left) {
			cols[0].Add(left[i])
		}
		switch i {
		case 0:
			cols = append(cols, col.New(colHalf).Add(number))
		case badgeRow:
			cols = append(cols, col.New(gridColumns-colHalf-colBadge), r.badge(pad(fontSizePt)))
		}
		if i < len(left) {
			r.m.AddAutoRow(cols...)
		} else {
			r.m.AddRow(headerRowMM, cols...)
		}
	}
}

func (r *renderer) badge(padMM float64) core.Col {
	return col.New(colBadge).
		WithStyle(&props.Cell{BackgroundColor: &r.c.badge}).
		Add(r.text(strings.ToUpper(string(r.inv.Status)), props.Text{
			Size: fontSizePt, Style: fontstyle.Bold, Color: &r.c.white, Align: align.Center, Top: padMM, Bottom: padMM,
		}))
}

// parties draws "Bill to" on the left and the invoice's facts on the right.
func (r *renderer) parties() {
	inv := r.inv
	type kv struct{ k, v string }
	meta := []kv{
		{"Invoice number", inv.Number},
		{"Order ID", inv.OrderID},
		{"Billing date", date(inv.BillingDate)},
	}
	if !inv.DueAt.IsZero() {
		meta = append(meta, kv{"Due date", date(inv.DueAt)})
	}
	if p := period(inv.PeriodStart, inv.PeriodEnd); p != "" {
		meta = append(meta, kv{"Period", p})
	}
	meta = append(meta, kv{"Status", strings.ToUpper(string(inv.Status))})

	label := r.text("Bill to", props.Text{Size: smallSizePt, Style: fontstyle.Bold, Color: &r.c.muted, Bottom: 1})
	left := []core.Component{label}
	addLeft := func(s string, bold bool) {
		if strings.TrimSpace(s) == "" {
			return
		}
		p := props.Text{Bottom: 1.2, Right: cellPadMM}
		if bold {
			p.Style = fontstyle.Bold
		}
		left = append(left, r.text(r.ms.wrap(s, widthMM(colHalf)-cellPadMM, font{p.Style, fontSizePt}), p))
	}
	bt := inv.BillTo
	addLeft(inv.AccountName, true)
	if bt.Company != inv.AccountName {
		addLeft(bt.Company, inv.AccountName == "")
	}
	if bt.Name != inv.AccountName && bt.Name != bt.Company {
		addLeft(bt.Name, false)
	}
	addLeft(bt.Email, false)
	a := bt.Address
	addLeft(a.Line1, false)
	addLeft(a.Line2, false)
	addLeft(joinNonEmpty(" ", joinNonEmpty(", ", a.City, a.State), a.PostalCode), false)
	addLeft(a.Country, false)
	if bt.TaxID != "" {
		addLeft("Tax ID: "+bt.TaxID, false)
	}

	keyStyle := props.Text{Color: &r.c.muted, Bottom: 1.2}
	valStyle := props.Text{Align: align.Right, Bottom: 1.2}
	// The label row of "Bill to" is shorter than a value row; the first meta row starts
	// beside it so that both blocks begin on the same line.
	for i := 0; i < max(len(left), len(meta)); i++ {
		l := col.New(colHalf)
		if i < len(left) {
			l.Add(left[i])
		}
		k, v := col.New(colMetaKey), col.New(colMetaValue)
		if i < len(meta) {
			k.Add(r.text(meta[i].k, keyStyle))
			v.Add(r.text(r.ms.wrap(meta[i].v, widthMM(colMetaValue), font{"", fontSizePt}), valStyle))
		}
		r.m.AddAutoRow(l, k, v)
	}
}

// table draws one row per invoice line, with the line's period under its description
// when it differs from the invoice's. maroto starts a new page when a row does not fit.
func (r *renderer) table() {
	inv := r.inv
	headStyle := props.Text{Style: fontstyle.Bold, Color: &r.c.white, Top: 2, Bottom: 2, Left: cellPadMM, Right: cellPadMM}
	headRight := headStyle
	headRight.Align = align.Right
	head := func() {
		r.m.AddAutoRow(
			r.textCol(colDescription, "Description", headStyle),
			r.textCol(colQuantity, "Quantity", headRight),
			r.textCol(colUnitPrice, "Unit price", headRight),
			r.textCol(colAmount, "Amount", headRight),
		).WithStyle(&props.Cell{BackgroundColor: &r.c.accent})
	}
	head()

	for i, l := range inv.Lines {
		var sub string
		if !(l.PeriodStart.Equal(inv.PeriodStart) && l.PeriodEnd.Equal(inv.PeriodEnd)) {
			sub = period(l.PeriodStart, l.PeriodEnd)
		}
		bottom := 1.8
		if sub != "" {
			bottom = 0.9 // room for descenders, which the next row's background would cover
		}
		const top, subBottom = 1.8, 1.8
		cell := props.Text{Top: top, Bottom: bottom, Left: cellPadMM, Right: cellPadMM}
		num := cell
		num.Align = align.Right
		unit := ""
		if l.UnitAmount != "" {
			unit = formatUnitPrice(l.UnitAmount, inv.Currency, inv.CurrencyDigits)
		}
		descWidth := widthMM(colDescription) - 2*cellPadMM
		desc := r.ms.wrap(l.Description, descWidth, font{"", fontSizePt})
		rows := []core.Row{row.New().Add(
			r.textCol(colDescription, desc, cell),
			r.textCol(colQuantity, formatDecimal(l.Quantity, 0), num),
			r.textCol(colUnitPrice, nowrap(unit), num),
			r.textCol(colAmount, nowrap(formatMoney(l.AmountMinor, inv.Currency, inv.CurrencyDigits)), num),
		)}
		if sub != "" {
			rows = append(rows, row.New().Add(
				r.textCol(colDescription, sub, props.Text{Size: smallSizePt, Color: &r.c.muted, Bottom: subBottom, Left: cellPadMM}),
				col.New(gridColumns-colDescription),
			))
		}
		// maroto would break the page by itself, but then the next page would start
		// without the column headings: break it here and repeat them. A line and its
		// period stay together.
		heightMM := top + float64(r.ms.lines(desc, descWidth, font{"", fontSizePt}))*fontSizePt*mmPerPt + bottom
		if sub != "" {
			heightMM += smallSizePt*mmPerPt + subBottom
		}
		if !r.m.FitlnCurrentPage(heightMM) {
			r.m.AddPages(page.New())
			head()
		}
		for _, rw := range rows {
			if i%2 == 1 {
				rw.WithStyle(&props.Cell{BackgroundColor: &r.c.zebra})
			}
			r.m.AddRows(rw)
		}
	}
	r.m.AddRows(line.NewRow(1, props.Line{Color: &r.c.rule, Thickness: 0.3, SizePercent: 100}))
}

// totals draws the payment on the left and the sums on the right.
func (r *renderer) totals() {
	inv := r.inv
	money := func(v int64) string { return nowrap(formatMoney(v, inv.Currency, inv.CurrencyDigits)) }
	paid, due := int64(0), inv.TotalMinor
	switch inv.Status {
	case billow.InvoicePaid:
		paid, due = inv.TotalMinor, 0
	case billow.InvoiceVoid:
		due = 0
	}
	type sum struct {
		label, amount string
		strong        bool
	}
	sums := []sum{{"Subtotal", money(inv.SubtotalMinor), false}}
	if inv.TaxRate != "" || inv.TaxMinor != 0 {
		label := "Tax"
		if inv.TaxRate != "" {
			label = "Tax (" + formatDecimal(inv.TaxRate, 0) + "%)"
		}
		sums = append(sums, sum{label, money(inv.TaxMinor), false})
	}
	sums = append(sums,
		sum{"Total", money(inv.TotalMinor), true},
		sum{"Amount paid", money(paid), false},
		sum{"Amount due", money(due), true},
	)

	// Keep the block, and the operator's note after it, on one page: a total alone at
	// the top of a page reads badly.
	heightMM := 2.0 + float64(len(sums))*(totalSizePt*mmPerPt+3)
	if r.b.Footer != "" {
		italic := font{fontstyle.Italic, fontSizePt}
		heightMM += noteSpaceMM + float64(r.ms.lines(r.ms.wrap(r.b.Footer, contentWidthMM, italic), contentWidthMM, italic))*fontSizePt*mmPerPt
	}
	if !r.m.FitlnCurrentPage(heightMM) {
		r.m.AddPages(page.New())
	}
	var left []core.Component
	if ps := paymentLine(inv); ps != "" {
		left = append(left,
			r.text("Payment", props.Text{Size: smallSizePt, Style: fontstyle.Bold, Color: &r.c.muted, Top: 2, Bottom: 1}),
			r.text(r.ms.wrap(ps, widthMM(colHalf)-cellPadMM, font{"", fontSizePt}), props.Text{Top: 0.5, Right: cellPadMM}),
		)
	}
	const colSumLabel, colSumAmount = 6, 6
	for i, s := range sums {
		l := col.New(colHalf)
		if i < len(left) {
			l.Add(left[i])
		}
		p := props.Text{Top: 1.5, Bottom: 1.5, Right: cellPadMM}
		lp := props.Text{Top: 1.5, Bottom: 1.5, Left: cellPadMM, Color: &r.c.muted}
		if s.strong {
			p.Style, p.Size = fontstyle.Bold, totalSizePt
			lp.Style, lp.Size, lp.Color = fontstyle.Bold, totalSizePt, &r.c.text
		}
		p.Align = align.Right
		if s.label == "Amount due" {
			p.Color = &r.c.accent
		}
		rule := func() {
			r.m.AddRow(1, col.New(colHalf),
				line.NewCol(gridColumns-colHalf, props.Line{Color: &r.c.rule, Thickness: 0.3, SizePercent: 100}))
		}
		if s.label == "Total" {
			rule()
		}
		r.m.AddAutoRow(l, r.textCol(colSumLabel, s.label, lp), r.textCol(colSumAmount, s.amount, p))
		if s.label == "Total" {
			rule()
		}
	}
}

// footer is repeated at the bottom of every page: who sent the invoice and which one it is.
func (r *renderer) footer() []core.Row {
	// Each side takes at most two lines, so that the footer has a fixed height and the
	// page number under it never meets it.
	const colWho, colNumber, lines = 15, 9, 2
	who := joinNonEmpty(" · ", r.b.Name, r.b.Email, r.b.Website)
	small := font{"", smallSizePt}
	p := props.Text{Size: smallSizePt, Color: &r.c.muted, Top: 1.5, Right: cellPadMM}
	right := p
	right.Align, right.Right = align.Right, 0
	return []core.Row{
		line.NewRow(1, props.Line{Color: &r.c.rule, Thickness: 0.3, SizePercent: 100}),
		row.New(p.Top+lines*smallSizePt*mmPerPt).Add(
			r.textCol(colWho, r.ms.fit(who, widthMM(colWho)-cellPadMM, small, lines), p),
			r.textCol(colNumber, r.ms.fit("Invoice "+r.inv.Number, widthMM(colNumber), small, lines), right),
		),
	}
}

func (r *renderer) space(mm float64) { r.m.AddRow(mm) }

// fontFamily is Helvetica spelled so that maroto does not recognise it. For every string
// it sets in a core font, maroto v2.3.3 parses gofpdf's Windows-1252 table anew, which
// took nine tenths of the time of a long invoice; the renderer translates each string
// once with the table it parsed itself, and gofpdf, which ignores the case of a family,
// still sets Helvetica. The tests catch a double translation: "—" would print as ".".
const fontFamily = "Helvetica"

// text sets s, translated to Windows-1252.
func (r *renderer) text(s string, p props.Text) core.Component {
	p.Family = fontFamily
	return text.New(r.ms.tr(s), p)
}

func (r *renderer) textCol(size int, s string, p props.Text) core.Col {
	return col.New(size).Add(r.text(s, p))
}

// paymentLine says how the invoice is being paid: "Wire transfer — pending clearance".
func paymentLine(inv *billow.Invoice) string {
	var status string
	switch inv.PaymentStatus {
	case billow.PaymentNone:
		status = "awaiting payment"
	case billow.PaymentPending:
		status = "pending clearance"
	case billow.PaymentSucceeded:
		status = "paid"
		if inv.PaidAt != nil {
			status += " on " + date(*inv.PaidAt)
		}
	case billow.PaymentFailed:
		status = "last attempt declined"
	case billow.PaymentUnknown:
		status = "being confirmed with the payment provider"
	case billow.PaymentExternal:
		// The operator collects it under the contract (billow.PaymentExternal).
		status = "payable as agreed in your contract"
	}
	if inv.Status == billow.InvoiceVoid {
		status = "no payment due: the invoice is void"
	}
	return joinNonEmpty(" — ", inv.PaymentMethod, status)
}

func widthMM(gridCols int) float64 { return contentWidthMM * float64(gridCols) / gridColumns }

// measurer measures text as maroto will set it: with gofpdf's metrics of Helvetica in
// Windows-1252. maroto wraps lines only at spaces and lets a longer word overflow into the
// next column; the renderer breaks such words itself, and measures rows to break pages.
type measurer struct {
	f  *gofpdf.Fpdf
	tr func(string) string
}

// font is the style and size text is set in.
type font struct {
	style  fontstyle.Type
	sizePt float64
}

func newMeasurer() *measurer {
	f := gofpdf.New("P", "mm", "A4", "")
	return &measurer{f: f, tr: f.UnicodeTranslatorFromDescriptor("")}
}

func (ms *measurer) width(s string, f font) float64 {
	ms.f.SetFont(fontFamily, string(f.style), f.sizePt)
	return ms.f.GetStringWidth(ms.tr(s))
}

// wrap splits every word wider than widthMM into pieces that fit, breaking after
// punctuation (as in an email address or an id) when one is in the second half.
func (ms *measurer) wrap(s string, widthMM float64, f font) string {
	words := strings.Split(s, " ")
	for i, w := range words {
		if ms.width(w, f) <= widthMM {
			continue
		}
		var pieces []string
		rs := []rune(w)
		for len(rs) > 1 && ms.width(string(rs), f) > widthMM {
			n := 1 // the longest prefix that fits, at least one rune
			for n < len(rs) && ms.width(string(rs[:n+1]), f) <= widthMM {
				n++
			}
			cut := n
			for j := n - 1; j >= n/2; j-- {
				if strings.ContainsRune("-_/.@:,;", rs[j]) {
					cut = j + 1
					break
				}
			}
			pieces = append(pieces, string(rs[:cut]))
			rs = rs[cut:]
		}
		words[i] = strings.Join(append(pieces, string(rs)), " ")
	}
	return strings.Join(words, " ")
}

// lines returns how many lines maroto sets s in within widthMM, by its own rule: words
// fill a line while they fit.
func (ms *measurer) lines(s string, widthMM float64, f font) int {
	if ms.width(s, f) <= widthMM {
		return 1
	}
	n, lineMM := 0, 0.0
	for _, w := range strings.Split(s, " ") {
		if w == "" {
			continue
		}
		switch piece := ms.width(" "+w, f); {
		case n == 0:
			n, lineMM = 1, ms.width(w, f)
		case lineMM+piece <= widthMM:
			lineMM += piece
		default:
			n, lineMM = n+1, ms.width(w, f)
		}
	}
	return max(n, 1)
}

// fit wraps s and shortens it with "…" until it takes at most maxLines lines.
func (ms *measurer) fit(s string, widthMM float64, f font, maxLines int) string {
	s = ms.wrap(s, widthMM, f)
	if ms.lines(s, widthMM, f) <= maxLines {
		return s
	}
	rs := []rune(s)
	for len(rs) > 0 && ms.lines(string(rs)+"…", widthMM, f) > maxLines {
		rs = rs[:len(rs)-1]
	}
	return strings.TrimSpace(string(rs)) + "…"
}

// nowrap keeps a currency code on the line of its amount: maroto wraps only at ASCII spaces.
func nowrap(s string) string { return strings.ReplaceAll(s, " ", "\u00a0") }

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if strings.TrimSpace(p) != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

// date shows a time as its UTC date.
func date(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// period shows [start, end) from its first to its last day, both included: a period
// ending at midnight on 1 July ends on 30 June. An empty period shows one day.
func period(start, end time.Time) string {
	if start.IsZero() && end.IsZero() {
		return ""
	}
	if !end.After(start) {
		return date(start)
	}
	last := date(end.Add(-time.Microsecond))
	if first := date(start); first != last {
		return first + " – " + last
	}
	return last
}

// formatMoney shows an amount of minor units with digits fractional digits: "$1,234.56",
// "-$12.50", "€9.00", "JPY 1,200", "BHD 1.250". Integer arithmetic only.
func formatMoney(minor int64, currency string, digits int64) string {
	if digits < 0 || digits > CurrencyDigitsMax {
		panic(fmt.Sprintf("pdf: currency digits %d out of 0..%d", digits, CurrencyDigitsMax))
	}
	// The magnitude as uint64 also holds -math.MinInt64.
	mag := uint64(minor)
	if minor < 0 {
		mag = uint64(^minor) + 1
	}
	unit := uint64(1)
	for range digits {
		unit *= 10
	}
	s := groupThousands(strconv.FormatUint(mag/unit, 10))
	if digits > 0 {
		frac := strconv.FormatUint(mag%unit, 10)
		s += "." + strings.Repeat("0", int(digits)-len(frac)) + frac
	}
	s = currencyPrefix(currency) + s
	if minor < 0 {
		s = "-" + s
	}
	return s
}

// formatUnitPrice shows a decimal price in major units ("0.0125") with the currency, at
// least digits fractional digits and all the ones the catalog gave: "$0.0125", "$5.00".
func formatUnitPrice(major, currency string, digits int64) string {
	if !isDecimal(major) {
		return major
	}
	s := formatDecimal(major, int(digits))
	if neg, ok := strings.CutPrefix(s, "-"); ok {
		return "-" + currencyPrefix(currency) + neg
	}
	return currencyPrefix(currency) + s
}

func currencyPrefix(currency string) string {
	switch currency {
	case "USD":
		return "$"
	case "EUR":
		return "€"
	case "GBP":
		return "£"
	}
	return currency + " "
}

// formatDecimal groups the thousands of a decimal string ("1250.5" → "1,250.5") and pads
// its fraction to at least minFrac digits. A string that is not a plain decimal is
// returned as it is.
func formatDecimal(s string, minFrac int) string {
	if !isDecimal(s) {
		return s
	}
	sign := ""
	if s[0] == '-' || s[0] == '+' {
		if s[0] == '-' {
			sign = "-"
		}
		s = s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) < minFrac {
		frac += strings.Repeat("0", minFrac-len(frac))
	}
	out := sign + groupThousands(whole)
	if frac != "" {
		out += "." + frac
	}
	return out
}

func isDecimal(s string) bool {
	if s != "" && (s[0] == '-' || s[0] == '+') {
		s = s[1:]
	}
	whole, frac, hasPoint := strings.Cut(s, ".")
	digits := func(p string) bool {
		return p != "" && !strings.ContainsFunc(p, func(r rune) bool { return r < '0' || r > '9' })
	}
	return digits(whole) && (!hasPoint || digits(frac))
}

// groupThousands puts a comma between groups of three digits: "1234567" → "1,234,567".
func groupThousands(digits string) string {
	if len(digits) <= 3 {
		return digits
	}
	var b strings.Builder
	head := len(digits) % 3
	if head > 0 {
		b.WriteString(digits[:head])
	}
	for i := head; i < len(digits); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(digits[i : i+3])
	}
	return b.String()
}
