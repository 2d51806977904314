package catalog_test

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/billowhq/billow/catalog"
	"gopkg.in/yaml.v3"
)

func hashOf(t *testing.T, name string, src []byte) string {
	t.Helper()
	c, err := catalog.Parse(name, src)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c.Hash()
}

// reformat re-encodes YAML with other indentation and quoting and without comments.
func reformat(t *testing.T, src []byte) []byte {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		t.Fatal(err)
	}
	var strip func(n *yaml.Node)
	strip = func(n *yaml.Node) {
		n.HeadComment, n.LineComment, n.FootComment = "", "", ""
		n.Style &^= yaml.FlowStyle // flow mappings and lists become block ones
		for _, c := range n.Content {
			strip(c)
		}
	}
	strip(&doc)
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(4)
	if err := enc.Encode(&doc); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestHash(t *testing.T) {
	for _, name := range catalog.ExampleNames() {
		t.Run(name, func(t *testing.T) {
			src, err := catalog.Example(name)
			if err != nil {
				t.Fatal(err)
			}
			base := hashOf(t, name, src)
			if len(base) != 64 || strings.Trim(base, "0123456789abcdef") != "" {
				t.Fatalf("Hash() = %q, want 64 hex digits", base)
			}

			same := map[string][]byte{
				"a comment added":        append([]byte("# edited by ops\n\n"), src...),
				"comments removed":       regexp.MustCompile(`(?m)^\s*#.*\n|\s+#.*$`).ReplaceAll(src, nil),
				"reformatted":            reformat(t, src),
				"top-level keys swapped": regexp.MustCompile(`(?m)^(name: .*)\n(currency: .*)$`).ReplaceAll(src, []byte("$2\n$1")),
				"trailing zero dropped":  bytes.Replace(src, []byte(`markup_percent: "20"`), []byte(`markup_percent: 20.0`), 1),
			}
			for what, variant := range same {
				if bytes.Equal(variant, src) {
					t.Fatalf("%s: the variant is the original; the test would prove nothing", what)
				}
				if got := hashOf(t, what, variant); got != base {
					t.Errorf("%s changed the hash", what)
				}
			}

			price := regexp.MustCompile(`month: "(\d+)\.00"`).ReplaceAllString(string(src), `month: "$1.01"`)
			renamed := regexp.MustCompile(`(?m)^name: .*$`).ReplaceAllString(string(src), "name: Another name")
			for what, variant := range map[string]string{"a price": price, "the name": renamed} {
				if variant == string(src) {
					t.Fatalf("%s: the variant is the original", what)
				}
				if got := hashOf(t, what, []byte(variant)); got == base {
					t.Errorf("changing %s kept the hash", what)
				}
			}

			// The canonical form is the JSON: a catalog read back from it hashes alike,
			// so a stored JSON copy can be checked against its version's hash.
			c, _ := catalog.Parse(name, src)
			b, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			var back catalog.Catalog
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if back.Hash() != base {
				t.Error("a JSON round trip changed the hash")
			}
			if _, ok := back.Plan(c.Plans[0].Key); !ok {
				t.Error("lookups fail after a JSON round trip")
			}
		})
	}
	if hashOf(t, "a", mustExample(t, "ai-for-service")) == hashOf(t, "c", mustExample(t, "credits-platform")) {
		t.Error("the two examples hash alike")
	}
}

func mustExample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := catalog.Example(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
