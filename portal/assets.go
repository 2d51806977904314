package portal

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/billowhq/billow"
)

// asset is an embedded static file with the version its URL carries: the start of its
// SHA-256, so that a browser may keep it for a year and still gets a new release's.
type asset struct {
	body        []byte
	contentType string
	version     string
}

func loadAssets() (map[string]asset, error) {
	out := map[string]asset{}
	err := fs.WalkDir(subFS("static"), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(subFS("static"), name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			return fmt.Errorf("portal: static file %s has no known type", name)
		}
		out[name] = asset{body: body, contentType: ct, version: hex.EncodeToString(sum[:6])}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("portal: static files: %w", err)
	}
	return out, nil
}

// assetURLs names each asset's versioned URL for the layout, brand.css among them.
func (h *Handler) assetURLs() map[string]string {
	out := make(map[string]string, len(h.assets)+1)
	for name, a := range h.assets {
		out[name] = "/portal/static/" + name + "?v=" + a.version
	}
	out["brand.css"] = "/portal/brand.css?v=" + h.brand.cssTag
	return out
}

func (h *Handler) static(w http.ResponseWriter, r *http.Request) {
	a, ok := h.assets[r.PathValue("file")]
	if !ok {
		h.notFound(w, r)
		return
	}
	w.Header().Set("Content-Type", a.contentType)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Write(a.body)
}

// parsePages parses each page template with the shared layout.
func parsePages(assets map[string]asset) (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	names, err := fs.Glob(subFS("templates"), "*.html")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		if name == "layout.html" {
			continue
		}
		t, err := template.New(name).Funcs(templateFuncs).ParseFS(subFS("templates"), "layout.html", name)
		if err != nil {
			return nil, fmt.Errorf("portal: template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// templateFuncs are the few helpers the templates need; values are formatted in Go
// before they reach a template.
var templateFuncs = template.FuncMap{
	// coord writes an SVG coordinate with one decimal; add and sub place labels.
	"coord": func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"add":   func(a, b float64) float64 { return a + b },
	"sub":   func(a, b float64) float64 { return a - b },
	// roleName writes a member's role as the header shows it.
	"roleName": func(r billow.Role) string {
		if r == "" {
			return ""
		}
		return strings.ToUpper(string(r[:1])) + string(r[1:])
	},
}
