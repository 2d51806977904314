package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/billowhq/billow/catalog"
)

// catalogSource is one catalog named on the command line, read but not yet stored.
type catalogSource struct {
	key    string
	origin string // a path, or "example:NAME"
	data   []byte
}

var catalogKeyPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// readCatalogs reads the --catalog values: PATH (the key is the file name without its
// extension), KEY=PATH, or example:NAME for a shipped example. With none, both shipped
// examples are used so that a fresh Billow is ready to try.
func readCatalogs(values []string) ([]catalogSource, error) {
	if len(values) == 0 {
		values = nil
		for _, name := range catalog.ExampleNames() {
			values = append(values, "example:"+name)
		}
	}
	var out []catalogSource
	seen := map[string]bool{}
	for _, v := range values {
		var src catalogSource
		if name, ok := strings.CutPrefix(v, "example:"); ok {
			data, err := catalog.Example(name)
			if err != nil {
				return nil, fmt.Errorf("--catalog %s: no such example; the examples are %s", v, strings.Join(catalog.ExampleNames(), ", "))
			}
			src = catalogSource{key: name, origin: v, data: data}
		} else {
			key, path, ok := strings.Cut(v, "=")
			if !ok {
				path = v
				key = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("--catalog %s: %w", v, err)
			}
			src = catalogSource{key: key, origin: path, data: data}
		}
		if !catalogKeyPattern.MatchString(src.key) {
			return nil, fmt.Errorf("--catalog %s: the catalog key %q must be 1 to 64 lower-case letters, digits, - or _ (name it with KEY=PATH)", v, src.key)
		}
		if seen[src.key] {
			return nil, fmt.Errorf("--catalog %s: catalog key %q is given twice", v, src.key)
		}
		seen[src.key] = true
		out = append(out, src)
	}
	return out, nil
}

type catalogCmd struct {
	Validate catalogValidateCmd `cmd:"" help:"Check catalog files and report every problem with its line."`
}

type catalogValidateCmd struct {
	Files []string `arg:"" help:"Catalog files (YAML)." type:"existingfile"`
}

func (c *catalogValidateCmd) Run(env *runEnv) error {
	failed := 0
	for _, path := range c.Files {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		cat, err := catalog.Parse(path, data)
		var verr *catalog.ValidationError
		switch {
		case errors.As(err, &verr):
			failed++
			fmt.Fprintln(env.stdout, verr.Error())
		case err != nil:
			failed++
			fmt.Fprintf(env.stdout, "%s: %v\n", path, err)
		default:
			fmt.Fprintf(env.stdout, "%s: ok (%s; %d plans, %d add-ons, %d meters; hash %s)\n",
				path, cat.Name, len(cat.Plans), len(cat.AddOns), len(cat.Meters), cat.Hash()[:12])
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d catalog files have problems", failed, len(c.Files))
	}
	return nil
}
