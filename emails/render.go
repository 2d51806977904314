package emails

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/billowhq/billow"
)

// CodeUnknownTemplate: Input.Template names no email of the catalogue.
const CodeUnknownTemplate = "unknown_template"

// Limits of rendering, named with their unit last.
const (
	// subjectRunesMax: longer subjects are cut. Mail clients show far less, and a subject
	// is one header line.
	subjectRunesMax = 200
	// valueBytesMax bounds one data value, brand value or recipient name: the longest
	// legitimate one is a signed link.
	valueBytesMax = 4096
	// listItemsMax bounds the items of one list field (products, add-ons).
	listItemsMax = 100
	// addressLinesMax bounds the footer's address lines.
	addressLinesMax = 8
	// fieldErrorsMax bounds the problems one error reports, so that a huge bad input
	// cannot make a huge error.
	fieldErrorsMax = 20
	// templateFileBytesMax bounds one template file, embedded or override.
	templateFileBytesMax = 256 << 10
)

// DefaultLocale is the locale of Input.Locale "" and the fallback of every locale that has
// no folder, or no file for an email.
const DefaultLocale = "en"

// DefaultAccentColor is the accent colour of a Brand that names none.
const DefaultAccentColor = "#1f6feb"

// Brand is the operator's look in emails.
type Brand struct {
	Name        string   // required
	Email       string   // support contact shown in the footer; may be empty
	Website     string   // may be empty
	AccentColor string   // #rrggbb; default "#1f6feb" when empty
	LogoURL     string   // absolute http(s) URL of the logo image; empty: the name is shown instead
	Address     []string // footer lines
}

// Input is one email to render.
type Input struct {
	Template      string // a catalogue key
	Locale        string // "" = "en"
	Brand         Brand
	PoweredBy     bool           // show the "Powered by Billow" line; false when the account has the whitelabel add-on
	RecipientName string         // greeting; empty: a neutral greeting
	Data          map[string]any // the template's fields
}

// Rendered is a rendered email: a single-line subject and its two bodies.
type Rendered struct{ Subject, HTML, Text string }

// Renderer renders the catalogue's emails from templates parsed and checked once, at
// construction. It is safe for concurrent use.
type Renderer struct {
	// locales maps a locale folder's name to its emails by catalogue key. Every locale
	// has every key (a missing file falls back to en). Built by NewRenderer and only read
	// after, so Render needs no lock.
	locales map[string]map[string]*compiled
}

// Render renders the email in.Template in the locale in.Locale (falling back to its
// language, then to en, when the renderer has no such locale).
//
// Errors: CodeUnknownTemplate (KindInvalid) when the catalogue has no such template;
// billow.CodeValidationFailed (KindInvalid) naming each offending field ("data.otp",
// "brand.name") when a required field is missing or empty, a field is not one of the
// template's, or a value has the wrong type or size. No error ever holds a data value,
// only field names: secret fields must stay in the email.
func (r *Renderer) Render(in Input) (*Rendered, error) {
	t, ok := Lookup(in.Template)
	if !ok {
		return nil, billow.FieldErrorf(CodeUnknownTemplate, "template", "there is no email template %.64q", in.Template)
	}
	locale := r.locale(in.Locale)
	v, err := newView(t, in, locale)
	if err != nil {
		return nil, err
	}
	out, err := r.locales[locale][t.Key].render(v)
	if err != nil {
		// The templates rendered every sample at start and the data is checked, so this
		// is a fault of Billow; the cause is dropped because it may quote a secret.
		return nil, billow.Errorf(billow.KindInternal, billow.CodeInternal, "email template %s (%s) failed to render", t.Key, locale)
	}
	return out, nil
}

// locale picks the renderer's locale for a requested one: itself, else its language
// ("pt-br" → "pt"), else en. Tags compare in lower case, with "_" read as "-".
func (r *Renderer) locale(want string) string {
	want = strings.ToLower(strings.ReplaceAll(want, "_", "-"))
	if _, ok := r.locales[want]; ok {
		return want
	}
	if lang, _, ok := strings.Cut(want, "-"); ok {
		if _, ok := r.locales[lang]; ok {
			return lang
		}
	}
	return DefaultLocale
}

// singleLine makes a subject one header line: every control character (CR and LF above
// all: header injection) and line separator becomes a space, runs of spaces become one,
// and a subject longer than runesMax is cut with an ellipsis.
func singleLine(s string, runesMax int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= runesMax {
		return s
	}
	runes := []rune(s)[:runesMax-1]
	return strings.TrimSpace(string(runes)) + "…"
}

// tidyText lets text templates be written loosely: trailing spaces go, runs of blank
// lines become one, and the text starts with its first line and ends with one newline.
func tidyText(s string) string {
	var b strings.Builder
	blank := false
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimRight(line, " \t\r")
		if line == "" {
			blank = b.Len() > 0
			continue
		}
		if blank {
			b.WriteByte('\n')
			blank = false
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}
