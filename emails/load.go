package emails

// Loading the templates: the embedded ones, an override directory laid out the same way,
// locale folders with their fallback to en, and the check that every email renders
// before the renderer is handed out.

import (
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	texttemplate "text/template"
)

// embedded holds the shipped templates: templates/<locale>/<key>.tmpl and the two layouts.
//
//go:embed templates
var embedded embed.FS

// File names in a locale folder.
const (
	layoutHTMLFile = "layout.html.tmpl" // the HTML around every email's "html" block
	layoutTextFile = "layout.text.tmpl" // the text around every email's "text" block
	emailFileExt   = ".tmpl"            // <key>.tmpl defines "subject", "html" and "text"
)

// localeFolderPattern: a lower-case BCP 47 tag such as en, fr or pt-br.
var localeFolderPattern = regexp.MustCompile(`^[a-z]{2,3}(-[a-z0-9]{2,8})*$`)

// source is one tree of locale folders: the override directory, or the embedded one.
type source struct {
	fsys fs.FS
	root string // how errors name the tree: the override directory, or "embedded:"
}

// name is how errors name a file of the source; it is also the name templates are
// parsed under, so Go's own parse and execution errors carry it.
func (s source) name(rel string) string {
	if s.root == "embedded:" {
		return s.root + rel
	}
	return filepath.Join(s.root, filepath.FromSlash(rel))
}

// compiled is one email of one locale: its file parsed into the layouts.
type compiled struct {
	file                   string                 // where the email's templates came from, for errors
	htmlLayout, textLayout string                 // where its layouts came from, for errors
	html                   *htmltemplate.Template // the HTML layout with the email's blocks
	text                   *texttemplate.Template // the text layout with the email's blocks; "subject" too
}

// NewRenderer parses the embedded templates and, when overrideDir is not empty, the files
// of overrideDir that replace them: a file with the same path relative to the templates
// folder (<overrideDir>/en/renewal_failed.tmpl, <overrideDir>/en/layout.html.tmpl) wins
// over the embedded one. A new locale folder adds a locale; its missing files fall back to
// en. Every email of every locale is rendered at once with its sample data, with and
// without its optional fields, so that a broken override fails here, naming its file,
// rather than when a customer is due an email. It also fails on a file in overrideDir that
// replaces nothing (a misspelt name would otherwise be ignored silently), on a subject that
// shows a secret field, and on a body that leaves a secret field (the code, the link) out.
func NewRenderer(overrideDir string) (*Renderer, error) {
	emb, err := fs.Sub(embedded, "templates")
	if err != nil {
		return nil, fmt.Errorf("emails: %w", err)
	}
	sources := []source{{fsys: emb, root: "embedded:"}}
	if overrideDir != "" {
		if err := checkOverrideDir(overrideDir); err != nil {
			return nil, err
		}
		sources = slices.Insert(sources, 0, source{fsys: os.DirFS(overrideDir), root: overrideDir})
	}
	locales := map[string]bool{}
	for _, s := range sources {
		entries, err := fs.ReadDir(s.fsys, ".")
		if err != nil {
			return nil, fmt.Errorf("emails: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() && localeFolderPattern.MatchString(e.Name()) {
				locales[e.Name()] = true
			}
		}
	}
	if !locales[DefaultLocale] {
		return nil, errors.New("emails: the embedded templates have no en folder") // a build fault
	}
	r := &Renderer{locales: map[string]map[string]*compiled{}}
	for locale := range locales {
		emails, err := compileLocale(sources, locale)
		if err != nil {
			return nil, err
		}
		r.locales[locale] = emails
	}
	return r, nil
}

// checkOverrideDir refuses anything in the override directory that would replace nothing.
func checkOverrideDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("emails: template overrides: %w", err)
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		switch {
		case strings.HasPrefix(e.Name(), "."):
			continue // editors' and version control's files
		case !e.IsDir():
			return fmt.Errorf("emails: %s: overrides go in a locale folder, such as en/%s", p, e.Name())
		case !localeFolderPattern.MatchString(e.Name()):
			return fmt.Errorf("emails: %s: a locale folder is named with a lower-case language tag, such as en or pt-br", p)
		}
		files, err := os.ReadDir(p)
		if err != nil {
			return fmt.Errorf("emails: template overrides: %w", err)
		}
		for _, f := range files {
			name := f.Name()
			key, isEmail := strings.CutSuffix(name, emailFileExt)
			_, known := Lookup(key)
			switch {
			case strings.HasPrefix(name, "."):
			case f.IsDir():
				return fmt.Errorf("emails: %s: a locale folder holds files only", filepath.Join(p, name))
			case name == layoutHTMLFile || name == layoutTextFile:
			case !isEmail || !known:
				return fmt.Errorf("emails: %s: replaces no template: the files are %s, %s and <key>%s for a key of the catalogue (billow notify list)",
					filepath.Join(p, name), layoutHTMLFile, layoutTextFile, emailFileExt)
			}
		}
	}
	return nil
}

// compileLocale parses and checks every email of one locale.
func compileLocale(sources []source, locale string) (map[string]*compiled, error) {
	layouts, err := parseLayouts(sources, locale)
	if err != nil {
		return nil, err
	}
	emails := make(map[string]*compiled, len(catalogue))
	for _, t := range catalogue {
		file, text, err := readFile(sources, locale, t.Key+emailFileExt)
		if err != nil {
			return nil, err
		}
		c := &compiled{file: file, htmlLayout: layouts.htmlFile, textLayout: layouts.textFile}
		if c.html, err = layouts.html.Clone(); err == nil {
			_, err = c.html.New(file).Parse(text)
		}
		if err != nil {
			return nil, fmt.Errorf("emails: %w", err)
		}
		// The text layout parses the same file: one file per email holds its subject and
		// both bodies, so an override is one file.
		c.text = texttemplate.Must(layouts.text.Clone()) // Clone of a text template cannot fail
		if _, err := c.text.New(file).Parse(text); err != nil {
			return nil, fmt.Errorf("emails: %w", err)
		}
		for _, block := range []string{"subject", "text"} {
			if c.text.Lookup(block) == nil {
				return nil, fmt.Errorf("emails: %s: defines no {{define %q}}", file, block)
			}
		}
		if c.html.Lookup("html") == nil {
			return nil, fmt.Errorf("emails: %s: defines no {{define \"html\"}}", file)
		}
		if err := c.check(t, locale); err != nil {
			return nil, fmt.Errorf("emails: %s: %w", file, err)
		}
		emails[t.Key] = c
	}
	return emails, nil
}

// layouts are the parsed layouts of a locale and the files they came from.
type layouts struct {
	html               *htmltemplate.Template
	text               *texttemplate.Template
	htmlFile, textFile string
}

// parseLayouts parses the HTML and text layouts of a locale.
func parseLayouts(sources []source, locale string) (layouts, error) {
	var l layouts
	file, text, err := readFile(sources, locale, layoutHTMLFile)
	if err != nil {
		return l, err
	}
	l.htmlFile = file
	// missingkey=error: a template that reads a field the catalogue does not have fails
	// at start instead of printing "<no value>".
	if l.html, err = htmltemplate.New(file).Option("missingkey=error").Parse(text); err != nil {
		return l, fmt.Errorf("emails: %w", err)
	}
	if l.html.Lookup("button") == nil {
		return l, fmt.Errorf("emails: %s: defines no {{define \"button\"}}", file)
	}
	if l.textFile, text, err = readFile(sources, locale, layoutTextFile); err != nil {
		return l, err
	}
	if l.text, err = texttemplate.New(l.textFile).Option("missingkey=error").Parse(text); err != nil {
		return l, fmt.Errorf("emails: %w", err)
	}
	return l, nil
}

// readFile finds a file of a locale: in the locale's folder of each source in order, then
// in the en folder of each. It returns the file's name for errors and its text.
func readFile(sources []source, locale, name string) (string, string, error) {
	for _, loc := range slices.Compact([]string{locale, DefaultLocale}) {
		for _, s := range sources {
			rel := path.Join(loc, name)
			f, err := s.fsys.Open(rel)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return "", "", fmt.Errorf("emails: %w", err)
			}
			data, err := io.ReadAll(io.LimitReader(f, templateFileBytesMax+1))
			f.Close()
			switch {
			case err != nil:
				return "", "", fmt.Errorf("emails: %s: %w", s.name(rel), err)
			case len(data) > templateFileBytesMax:
				return "", "", fmt.Errorf("emails: %s: larger than %d bytes", s.name(rel), templateFileBytesMax)
			}
			return s.name(rel), string(data), nil
		}
	}
	return "", "", fmt.Errorf("emails: no template %s/%s", DefaultLocale, name) // a build fault: en has every file
}

// check renders the email twice: with its full sample, a logo, a recipient and the
// powered-by line, then with its required fields only and a bare brand. Either way the
// output must be whole, the subject must not show a secret, and both bodies must show
// every secret, which is the point of the email.
func (c *compiled) check(t Template, locale string) error {
	var errs problems
	full := checkData(t, t.Sample, &errs)
	requiredOnly := map[string]any{}
	for _, f := range t.Fields {
		if f.Required {
			requiredOnly[f.Name] = t.Sample[f.Name]
		}
	}
	bare := checkData(t, requiredOnly, &errs)
	fullBrand := checkBrand(Brand{Name: "Example Platform", Email: "billing@example.com", Website: "example.com",
		LogoURL: "https://example.com/logo.png", Address: []string{"1 Example Street", "Springfield"}}, &errs)
	bareBrand := checkBrand(Brand{Name: "Example Platform"}, &errs)
	if err := errs.err(); err != nil {
		return fmt.Errorf("the catalogue's sample data: %w", err) // a fault of catalogue.go
	}
	views := []view{
		{Lang: locale, PoweredBy: true, RecipientName: "Alex Morgan", Data: full, Brand: fullBrand},
		{Lang: locale, Data: bare, Brand: bareBrand},
	}
	for _, v := range views {
		out, err := c.render(v)
		if err != nil {
			return err
		}
		if out.Subject == "" {
			return errors.New("the subject is empty")
		}
		// A layout that forgets {{template "html" .}} or {{template "text" .}} would send
		// every email without its body.
		v.Subject = out.Subject
		var b strings.Builder
		if err := c.html.ExecuteTemplate(&b, "html", v); err != nil {
			return err
		}
		if !strings.Contains(out.HTML, strings.TrimSpace(inlineStyles(b.String(), v.Brand.AccentColor))) {
			return fmt.Errorf(`%s does not show the email's body: it must call {{template "html" .}}`, c.htmlLayout)
		}
		b.Reset()
		if err := c.text.ExecuteTemplate(&b, "text", v); err != nil {
			return err
		}
		if !strings.Contains(out.Text, tidyText(b.String())) {
			return fmt.Errorf(`%s does not show the email's body: it must call {{template "text" .}}`, c.textLayout)
		}
		for _, body := range []string{out.Subject, out.Text} {
			if strings.Contains(body, "<no value>") {
				return errors.New(`the output shows "<no value>": read optional fields inside {{with}} or {{if}}`)
			}
		}
		for _, f := range t.Fields {
			if !f.Secret {
				continue
			}
			secret, _ := v.Data[f.Name].(string) // secrets are text or links
			if secret == "" {
				continue
			}
			if strings.Contains(out.Subject, secret) {
				return fmt.Errorf("the subject shows the secret field %s: subjects are kept in delivery logs", f.Name)
			}
			if !strings.Contains(out.Text, secret) || !strings.Contains(out.HTML, htmltemplate.HTMLEscapeString(secret)) {
				return fmt.Errorf("the HTML or the text body does not show the secret field %s, which is what the email is for", f.Name)
			}
		}
	}
	return nil
}

// render executes the templates on a checked view. Its errors may quote data: Render
// does not pass them on.
func (c *compiled) render(v view) (*Rendered, error) {
	var b strings.Builder
	if err := c.text.ExecuteTemplate(&b, "subject", v); err != nil {
		return nil, err
	}
	v.Subject = singleLine(b.String(), subjectRunesMax)
	b.Reset()
	if err := c.html.Execute(&b, v); err != nil {
		return nil, err
	}
	html := inlineStyles(b.String(), v.Brand.AccentColor)
	b.Reset()
	if err := c.text.Execute(&b, v); err != nil {
		return nil, err
	}
	return &Rendered{Subject: v.Subject, HTML: html, Text: tidyText(b.String())}, nil
}
