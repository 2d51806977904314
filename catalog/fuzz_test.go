package catalog_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/billowhq/billow/catalog"
)

// FuzzParse: Parse never panics, returns a catalog or a *ValidationError and never both,
// and every problem is located: inside the file, with a line for every syntax error
// and every problem at a path.
func FuzzParse(f *testing.F) {
	for _, name := range catalog.ExampleNames() {
		b, err := catalog.Example(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	files, _ := filepath.Glob("testdata/invalid/*.yaml")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(minimal))
	f.Add([]byte("billow_catalog: 1\nname: &a [*a]\n"))
	f.Add([]byte("a: b: c"))
	f.Add([]byte("{"))

	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := catalog.Parse("fuzz.yaml", data)
		if err == nil {
			if c == nil {
				t.Fatal("no catalog and no error")
			}
			b, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			var back catalog.Catalog
			if err := json.Unmarshal(b, &back); err != nil || back.Hash() != c.Hash() {
				t.Fatalf("JSON round trip: %v", err)
			}
			return
		}
		if c != nil {
			t.Fatal("a catalog returned with an error")
		}
		var verr *catalog.ValidationError
		if !errors.As(err, &verr) {
			t.Fatalf("error %T %v is not a *ValidationError", err, err)
		}
		if n := len(verr.Problems); n == 0 || n > catalog.ProblemsMax+1 {
			t.Fatalf("%d problems", n)
		}
		// YAML also ends lines at CR, NEL, LS and PS; counting each is an upper bound.
		lines := 1
		for _, brk := range []string{"\n", "\r", "\u0085", "\u2028", "\u2029"} {
			lines += bytes.Count(data, []byte(brk))
		}
		for _, p := range verr.Problems {
			if p.Message == "" || p.Line < 0 || p.Column < 0 || p.Line > lines {
				t.Fatalf("badly located problem %+v in a file of %d lines", p, lines)
			}
			if (p.Path != "" || strings.HasPrefix(p.Message, "YAML syntax error")) && p.Line == 0 {
				t.Fatalf("problem without a line: %+v", p)
			}
		}
		if verr.Error() == "" {
			t.Fatal("empty error text")
		}
	})
}
