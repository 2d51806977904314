package admin

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
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
			return fmt.Errorf("admin: static file %s has no known type", name)
		}
		out[name] = asset{body: body, contentType: ct, version: hex.EncodeToString(sum[:6])}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("admin: static files: %w", err)
	}
	return out, nil
}

// assetURLs names each asset's versioned URL for the layout.
func (h *Handler) assetURLs() map[string]string {
	out := make(map[string]string, len(h.assets))
	for name, a := range h.assets {
		out[name] = "/admin/static/" + name + "?v=" + a.version
	}
	return out
}

// static serves an embedded file (GET /admin/static/{file}) to anyone: the stylesheet
// of the sign-in page is needed before sign-in, and holds nothing of anyone's.
func (h *Handler) static(w http.ResponseWriter, r *http.Request) {
	a, ok := h.assets[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", a.contentType)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Write(a.body)
}

// parsePages parses each page template with the shared layout.
func parsePages() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	names, err := fs.Glob(subFS("templates"), "*.html")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		if name == "layout.html" {
			continue
		}
		t, err := template.New(name).ParseFS(subFS("templates"), "layout.html", name)
		if err != nil {
			return nil, fmt.Errorf("admin: template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}
