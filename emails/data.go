package emails

// The checks on an Input and the view templates read. Data is checked against the
// catalogue and brought to a few plain types (string, bool, []Item) so that a template
// behaves the same whatever JSON or Go values the caller passed, and so that no
// execution error, which may quote a value, can come from the data.

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/billowhq/billow"
)

// view is the dot of every template.
type view struct {
	Lang          string // the locale rendered, for <html lang>
	Brand         brandView
	PoweredBy     bool
	RecipientName string
	Subject       string // the rendered subject, for the HTML <title>; empty while rendering it
	// Data holds every field of the template: absent optional fields hold their type's
	// zero ("" , false, an empty list), so that they render nothing.
	Data map[string]any
}

// brandView is the Brand with its defaults applied and its website split for display.
type brandView struct {
	Name        string
	Email       string
	Website     string // shown: without its scheme
	WebsiteURL  string // linked
	AccentColor string
	NameColor   string // the accent, or near-black when the accent is too light to read
	LogoURL     string
	Address     []string
}

// Item is one entry of a list field.
type Item struct {
	Name     string
	Quantity string // empty when not given
}

// button is what the layout's "button" template draws.
type button struct {
	URL, Label, Color, TextColor string
}

// Button returns a call to action in the brand's accent colour, for
// {{template "button" (.Button .Data.pay_url "Pay now")}}. Its text is white or black,
// whichever reads better on the accent.
func (v view) Button(url, label string) button {
	return button{URL: url, Label: label, Color: v.Brand.AccentColor, TextColor: textColorOn(v.Brand.AccentColor)}
}

// textColorOn picks white or near-black text for a #rrggbb background: the one of
// higher contrast (WCAG 2). They are equal at a luminance of about 0.179.
func textColorOn(bg string) string {
	if luminance(bg) > 0.179 {
		return "#111827"
	}
	return "#ffffff"
}

// nameColor is the colour of the brand's name in the header: the accent when it reads on
// the light grey page (contrast 3:1 at least, for large bold text), else near-black.
func nameColor(accent string) string {
	if luminance(accent) > 0.267 {
		return "#111827"
	}
	return accent
}

// luminance is the relative luminance of a checked #rrggbb colour (WCAG 2).
func luminance(hex string) float64 {
	lin := func(h string) float64 {
		n, _ := strconv.ParseUint(h, 16, 8) // the colour was checked
		c := float64(n) / 255
		if c <= 0.03928 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(hex[1:3]) + 0.7152*lin(hex[3:5]) + 0.0722*lin(hex[5:7])
}

var accentColorPattern = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// problems collects the field errors of one input so that all of them are reported at once.
type problems []billow.FieldError

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, billow.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// ok reports whether no problem was found with field.
func (p problems) ok(field string) bool {
	return !slices.ContainsFunc(p, func(e billow.FieldError) bool { return e.Field == field })
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	slices.SortFunc(p, func(a, b billow.FieldError) int { return cmp.Compare(a.Field, b.Field) })
	if len(p) > fieldErrorsMax {
		p = p[:fieldErrorsMax]
	}
	return &billow.Error{Kind: billow.KindInvalid, Code: billow.CodeValidationFailed,
		Message: "the email has invalid fields", Fields: p}
}

// newView checks in against template t and returns the view to render. Messages name
// fields and never quote a value.
func newView(t Template, in Input, locale string) (view, error) {
	var errs problems
	brand := checkBrand(in.Brand, &errs)
	checkLine("recipient_name", in.RecipientName, false, &errs)
	data := checkData(t, in.Data, &errs)
	if err := errs.err(); err != nil {
		return view{}, err
	}
	return view{Lang: locale, Brand: brand, PoweredBy: in.PoweredBy, RecipientName: in.RecipientName, Data: data}, nil
}

func checkBrand(b Brand, errs *problems) brandView {
	out := brandView{Name: b.Name, Email: b.Email, AccentColor: b.AccentColor, LogoURL: b.LogoURL, Address: b.Address}
	checkLine("brand.name", b.Name, true, errs)
	if checkLine("brand.email", b.Email, false, errs) && b.Email != "" {
		if a, err := mail.ParseAddress(b.Email); err != nil || a.Address != b.Email {
			errs.add("brand.email", "must be an email address such as billing@example.com")
		}
	}
	if checkLine("brand.website", b.Website, false, errs) && b.Website != "" {
		link := b.Website
		if !strings.Contains(link, "://") {
			link = "https://" + link
		}
		if !isWebURL(link) {
			errs.add("brand.website", "must be a host name or an http(s) URL")
		}
		out.WebsiteURL = link
		out.Website = strings.TrimSuffix(link[strings.Index(link, "://")+3:], "/")
	}
	switch {
	case b.AccentColor == "":
		out.AccentColor = DefaultAccentColor
	case !accentColorPattern.MatchString(b.AccentColor):
		errs.add("brand.accent_color", "must be a colour written #rrggbb")
	}
	if checkLine("brand.logo_url", b.LogoURL, false, errs) && b.LogoURL != "" && !isWebURL(b.LogoURL) {
		errs.add("brand.logo_url", "must be an absolute http(s) URL")
	}
	if errs.ok("brand.accent_color") {
		out.NameColor = nameColor(out.AccentColor)
	}
	if len(b.Address) > addressLinesMax {
		errs.add("brand.address", "must have at most %d lines", addressLinesMax)
	}
	for i, line := range b.Address[:min(len(b.Address), addressLinesMax)] {
		checkLine(fmt.Sprintf("brand.address[%d]", i), line, false, errs)
	}
	return out
}

// checkLine checks a one-line string: valid UTF-8, no control characters, bounded. It
// reports whether the value passed.
func checkLine(field, s string, required bool, errs *problems) bool {
	switch {
	case required && strings.TrimSpace(s) == "":
		errs.add(field, "is required")
	case len(s) > valueBytesMax:
		errs.add(field, "must be at most %d bytes", valueBytesMax)
	case !utf8.ValidString(s):
		errs.add(field, "must be valid UTF-8")
	case strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' }):
		errs.add(field, "must be one line without control characters")
	default:
		return true
	}
	return false
}

func isWebURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil
}

// checkData checks data against the template's fields and returns it with every field
// present, in its plain type.
func checkData(t Template, data map[string]any, errs *problems) map[string]any {
	out := make(map[string]any, len(t.Fields))
	for key := range data {
		if !slices.ContainsFunc(t.Fields, func(f Field) bool { return f.Name == key }) {
			errs.add("data."+clip(key), "is not a field of template %s", t.Key)
			if len(*errs) > fieldErrorsMax {
				break // a huge map of unknown keys: enough is said
			}
		}
	}
	for _, f := range t.Fields {
		path := "data." + f.Name
		v, err := plainValue(f.Type, data[f.Name])
		switch {
		case err != "":
			errs.add(path, "%s", err)
		case f.Required && isZero(v):
			errs.add(path, "is required")
		}
		out[f.Name] = v
	}
	return out
}

// clip shortens a caller's key for an error message.
func clip(key string) string {
	const keyBytesMax = 64
	if len(key) <= keyBytesMax && utf8.ValidString(key) {
		return key
	}
	return strings.ToValidUTF8(key[:min(len(key), keyBytesMax)], "") + "…"
}

func isZero(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.TrimSpace(v) == ""
	case []Item:
		return len(v) == 0
	}
	return false // a flag is given, true or false
}

// plainValue brings a value to the plain type of its field: string for text and URLs,
// bool for flags, []Item for lists; nil (absent) becomes the type's zero. The message
// says what is wrong without quoting the value.
func plainValue(typ FieldType, v any) (any, string) {
	switch typ {
	case FieldFlag:
		switch v := v.(type) {
		case nil:
			return false, ""
		case bool:
			return v, ""
		}
		return false, "must be true or false"
	case FieldList:
		return plainList(v)
	case FieldURL:
		s, err := plainText(v)
		if err == "" && s != "" && !isWebURL(s) {
			return "", "must be an absolute http(s) URL"
		}
		return s, err
	}
	return plainText(v)
}

// plainText accepts a string or a number, the two forms a JSON caller has for "7".
func plainText(v any) (string, string) {
	var s string
	switch v := v.(type) {
	case nil:
		return "", ""
	case string:
		s = v
	case json.Number:
		s = v.String()
	case int:
		s = strconv.Itoa(v)
	case int32:
		s = strconv.FormatInt(int64(v), 10)
	case int64:
		s = strconv.FormatInt(v, 10)
	case uint:
		s = strconv.FormatUint(uint64(v), 10)
	case uint32:
		s = strconv.FormatUint(uint64(v), 10)
	case uint64:
		s = strconv.FormatUint(v, 10)
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return "", "must be a finite number"
		}
		s = strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return "", "must be a string or a number"
	}
	switch {
	case len(s) > valueBytesMax:
		return "", fmt.Sprintf("must be at most %d bytes", valueBytesMax)
	case !utf8.ValidString(s):
		return "", "must be valid UTF-8"
	}
	return s, ""
}

// plainList accepts a list of strings, or of objects {name, quantity}.
func plainList(v any) ([]Item, string) {
	var elems []any
	switch v := v.(type) {
	case nil:
		return nil, ""
	case []any:
		elems = v
	case []string:
		for _, s := range v {
			elems = append(elems, s)
		}
	case []map[string]any:
		for _, m := range v {
			elems = append(elems, m)
		}
	default:
		return nil, "must be a list"
	}
	if len(elems) > listItemsMax {
		return nil, fmt.Sprintf("must have at most %d items", listItemsMax)
	}
	items := make([]Item, 0, len(elems))
	for i, e := range elems {
		var it Item
		var err string
		switch e := e.(type) {
		case map[string]any:
			for k := range e {
				if k != "name" && k != "quantity" {
					return nil, fmt.Sprintf("item %d: only name and quantity are allowed", i)
				}
			}
			it.Name, err = plainText(e["name"])
			if err == "" {
				it.Quantity, err = plainText(e["quantity"])
			}
		default:
			it.Name, err = plainText(e)
		}
		switch {
		case err != "":
			return nil, fmt.Sprintf("item %d: %s", i, err)
		case strings.TrimSpace(it.Name) == "":
			return nil, fmt.Sprintf("item %d: a name is required", i)
		}
		items = append(items, it)
	}
	return items, ""
}
