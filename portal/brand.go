package portal

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/billowhq/billow/pdf"
)

// brand is the operator's look in the portal, from the branding its invoices carry.
type brand struct {
	Name    string
	Initial string // shown in the mark when there is no logo
	HasLogo bool
	logo    []byte
	css     []byte // brand.css: the colours as custom properties
	cssTag  string // a version of css for its URL
}

// Contrast ratios of WCAG 2.1: text needs 4.5:1 (1.4.3), the parts of a chart 3:1 (1.4.11).
const (
	contrastTextMin    = 4.5
	contrastGraphicMin = 3.0
)

func newBrand(b pdf.Branding) (brand, error) {
	accent := b.AccentColor
	if accent == "" {
		accent = pdf.DefaultAccentColor
	}
	c, err := parseColor(accent)
	if err != nil {
		return brand{}, fmt.Errorf("portal: accent colour: %w", err)
	}
	name := strings.TrimSpace(b.Name)
	out := brand{Name: name, Initial: strings.ToUpper(string([]rune(name)[:1])), HasLogo: len(b.LogoPNG) > 0, logo: b.LogoPNG}
	out.css = brandCSS(c)
	sum := sha256.Sum256(out.css)
	out.cssTag = hex.EncodeToString(sum[:6])
	return out, nil
}

// brandCSS writes the operator's colours as the custom properties portal.css uses. An
// accent of any lightness stays readable: text and buttons use it darkened until it
// has 4.5:1 against white (--brand-ink), the chart's bars until 3:1 (--brand-bar), and
// the tint behind the current tab is the accent at 10% on white.
func brandCSS(c rgb) []byte {
	ink := darkenTo(c, white, contrastTextMin)
	bar := darkenTo(c, white, contrastGraphicMin)
	var b bytes.Buffer
	b.WriteString("/* The operator's colours (BILLOW_BRAND_COLOR), made readable: see portal/brand.go. */\n:root {\n")
	fmt.Fprintf(&b, "  --brand: %s;\n  --brand-ink: %s;\n  --brand-bar: %s;\n  --brand-tint: %s;\n",
		c.hex(), ink.hex(), bar.hex(), mix(c, white, 0.10).hex())
	b.WriteString("}\n")
	return b.Bytes()
}

func (h *Handler) brandCSS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Write(h.brand.css)
}

func (h *Handler) logo(w http.ResponseWriter, r *http.Request) {
	if !h.brand.HasLogo {
		h.notFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(h.brand.logo)
}

// rgb is a colour with channels in 0..255.
type rgb struct{ r, g, b float64 }

var white = rgb{255, 255, 255}

func parseColor(s string) (rgb, error) {
	if len(s) != 7 || s[0] != '#' {
		return rgb{}, fmt.Errorf("%q is not #rrggbb", s)
	}
	v, err := strconv.ParseUint(s[1:], 16, 32)
	if err != nil {
		return rgb{}, fmt.Errorf("%q is not #rrggbb", s)
	}
	return rgb{float64(v >> 16 & 0xff), float64(v >> 8 & 0xff), float64(v & 0xff)}, nil
}

func (c rgb) hex() string {
	ch := func(v float64) uint8 { return uint8(math.Round(math.Max(0, math.Min(255, v)))) }
	return fmt.Sprintf("#%02x%02x%02x", ch(c.r), ch(c.g), ch(c.b))
}

// luminance is WCAG's relative luminance.
func (c rgb) luminance() float64 {
	lin := func(v float64) float64 {
		v /= 255
		if v <= 0.03928 {
			return v / 12.92
		}
		return math.Pow((v+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c.r) + 0.7152*lin(c.g) + 0.0722*lin(c.b)
}

// contrast is WCAG's contrast ratio of two colours, 1 to 21.
func contrast(a, b rgb) float64 {
	la, lb := a.luminance(), b.luminance()
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// mix returns a weighted a·w + b·(1−w).
func mix(a, b rgb, w float64) rgb {
	return rgb{a.r*w + b.r*(1-w), a.g*w + b.g*(1-w), a.b*w + b.b*(1-w)}
}

// darkenTo returns c, or c mixed with black in steps of 2% until it has at least ratio
// against bg. Black has 21:1 against white, so the loop ends.
func darkenTo(c, bg rgb, ratio float64) rgb {
	for i := 0; i <= 50; i++ {
		d := mix(c, rgb{}, 1-float64(i)*0.02)
		// The check is on the colour as it will be written, rounded to #rrggbb.
		if rounded, _ := parseColor(d.hex()); contrast(rounded, bg) >= ratio {
			return rounded
		}
	}
	return rgb{}
}
