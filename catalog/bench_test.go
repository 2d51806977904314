package catalog_test

import (
	"bytes"
	"testing"

	"github.com/billowhq/billow/catalog"
)

func BenchmarkParse(b *testing.B) {
	src, err := catalog.Example("credits-platform")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, err := catalog.Parse("credits-platform.yaml", src); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseSyntaxErrorLarge is the worst case of locating a syntax error: a file
// of FileSizeBytesMax with the error at its end.
func BenchmarkParseSyntaxErrorLarge(b *testing.B) {
	var src bytes.Buffer
	for src.Len() < catalog.FileSizeBytesMax-100 {
		src.WriteString("# filler comment line to make the file large\n")
	}
	src.WriteString("billow_catalog: 1\nname: [x\n")
	for b.Loop() {
		if _, err := catalog.Parse("large.yaml", src.Bytes()); err == nil {
			b.Fatal("no error")
		}
	}
}
