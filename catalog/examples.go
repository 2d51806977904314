package catalog

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// examples holds the shipped catalogs; they are embedded so that `billow serve` works
// with no catalog file and so that tests and the docs read the very bytes that ship.
//
//go:embed examples/*.yaml
var examples embed.FS

// Example returns the source of a shipped catalog: "ai-for-service" (seed 000: billing
// sessions, seats, postpaid invoices) or "credits-platform" (seed 004: prepaid credits).
func Example(name string) ([]byte, error) {
	if !slices.Contains(ExampleNames(), name) {
		return nil, fmt.Errorf("catalog: no example named %q (have: %s)", name, strings.Join(ExampleNames(), ", "))
	}
	return examples.ReadFile("examples/" + name + ".yaml")
}

// ParseExample returns a shipped catalog, parsed.
func ParseExample(name string) (*Catalog, error) {
	data, err := Example(name)
	if err != nil {
		return nil, err
	}
	return Parse(name, data)
}

// ExampleNames returns the names of the shipped catalogs, sorted.
func ExampleNames() []string {
	entries, err := fs.ReadDir(examples, "examples")
	if err != nil {
		panic("catalog: embedded examples are missing: " + err.Error())
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), path.Ext(e.Name())))
	}
	return names
}
