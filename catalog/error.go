package catalog

import (
	"strconv"
	"strings"
)

// ValidationError is the only error Parse returns. It lists every problem found, in the
// order of the file, so that an operator fixes a catalog in one pass.
type ValidationError struct {
	Name     string    `json:"name"` // the file name given to Parse
	Problems []Problem `json:"problems"`
}

// Problem is one thing wrong with a catalog, located at the YAML node at fault. Line and
// Column are 1-based; 0 when the problem concerns the whole file (its size) or when the
// YAML parser gave no column.
type Problem struct {
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Path    string `json:"path"` // plans[1].fees.month; empty for the file as a whole
	Message string `json:"message"`
}

// Error returns one line per problem, in the form compilers use so editors can jump to
// it: "file.yaml:12:5: plans[1].fees.month: must be …".
func (e *ValidationError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Name)
		if p.Line > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(p.Line))
			if p.Column > 0 {
				b.WriteByte(':')
				b.WriteString(strconv.Itoa(p.Column))
			}
		}
		b.WriteString(": ")
		if p.Path != "" {
			b.WriteString(p.Path)
			b.WriteString(": ")
		}
		b.WriteString(p.Message)
	}
	return b.String()
}
