package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Parse decodes and validates a catalog. name is used in error messages (e.g. the file path).
// On any problem it returns a *ValidationError listing every problem found (not just the
// first), each with line and column; it never returns a partial Catalog.
func Parse(name string, data []byte) (*Catalog, error) {
	d := &decoder{broken: map[string]bool{}}
	c := d.parse(data)
	if len(d.problems) > 0 {
		return nil, d.validationError(name)
	}
	return c, nil
}

func (d *decoder) parse(data []byte) *Catalog {
	if len(data) > FileSizeBytesMax {
		d.add(nil, "", fmt.Sprintf("the file is %d bytes; a catalog may have at most %d (FileSizeBytesMax)", len(data), FileSizeBytesMax))
		return nil
	}
	if !d.checkCharacters(data) {
		return nil
	}
	root := d.parseYAML(data)
	if root == nil {
		return nil
	}
	return d.catalog(root)
}

// checkCharacters reports the first byte YAML would refuse. The YAML parser reports these
// without a position, and an operator needs one to find a stray control character.
func (d *decoder) checkCharacters(data []byte) bool {
	line, column := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			d.problems = append(d.problems, Problem{Line: line, Column: column, Message: "the file is not valid UTF-8"})
			return false
		case !yamlPrintable(r):
			d.problems = append(d.problems, Problem{Line: line, Column: column,
				Message: fmt.Sprintf("control character %U is not allowed in YAML", r)})
			return false
		}
		if n := lineBreak(data, i); n > 0 {
			line, column, i = line+1, 1, i+n
			continue
		}
		column++
		i += size
	}
	return true
}

// lineBreak returns the length of the line break at data[i:], or 0. Lines are counted
// as the YAML parser counts them, so that every problem's line agrees: CR LF, LF, CR
// alone, NEL, LS and PS each end a line.
func lineBreak(data []byte, i int) int {
	rest := data[i:]
	switch {
	case bytes.HasPrefix(rest, []byte("\r\n")):
		return 2
	case rest[0] == '\n' || rest[0] == '\r':
		return 1
	case bytes.HasPrefix(rest, []byte("\u0085")):
		return 2
	case bytes.HasPrefix(rest, []byte("\u2028")), bytes.HasPrefix(rest, []byte("\u2029")):
		return 3
	}
	return 0
}

// lineEnds returns the offset just past each line of data (see lineBreak).
func lineEnds(data []byte) []int {
	var ends []int
	for i := 0; i < len(data); {
		if n := lineBreak(data, i); n > 0 {
			i += n
			ends = append(ends, i)
			continue
		}
		i++
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(data) {
		ends = append(ends, len(data)) // the last line has no break
	}
	return ends
}

// yamlPrintable is YAML 1.2's c-printable set.
func yamlPrintable(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r' || r == 0x85:
		return true
	case r >= 0x20 && r <= 0x7E:
		return true
	case r >= 0xA0 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}

// parseYAML returns the root node of the single YAML document in data, or nil after
// recording why there is none.
func (d *decoder) parseYAML(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err := dec.Decode(&doc)
	if errors.Is(err, io.EOF) {
		d.add(nil, "", "the file is empty; a catalog starts with \"billow_catalog: 1\"")
		return nil
	}
	if err != nil {
		d.syntaxProblem(data, err)
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.syntaxProblem(data, err)
		return nil
	default:
		d.add(&extra, "", "a catalog file holds one YAML document; remove the \"---\" and what follows")
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || isEmptyNode(doc.Content[0]) {
		// A document of nothing ("---") has a node placed past the end of the file.
		d.add(nil, "", "the file is empty; a catalog starts with \"billow_catalog: 1\"")
		return nil
	}
	return doc.Content[0]
}

// syntaxProblem records a YAML syntax error at the first line where it appears, found by
// parsing ever longer prefixes of the file. yaml.v3 gives no column.
func (d *decoder) syntaxProblem(data []byte, err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	// yaml.v3's own line is 0-based for some errors and missing for others, so the text
	// drops it and the line is the one bisection finds.
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			if _, convErr := strconv.Atoi(n); convErr == nil {
				msg = after
			}
		}
	}
	d.problems = append(d.problems, Problem{Line: firstFailingLine(data, err.Error()), Message: "YAML syntax error: " + msg})
}

// firstFailingLine returns the smallest number of leading lines of data that fail to
// parse with the error text msg (the whole of data does, so the result is at least 1).
// A prefix that contains the faulty text fails the same way, so the search is a
// bisection: about twenty parses of a file of FileSizeBytesMax.
func firstFailingLine(data []byte, msg string) int {
	ends := lineEnds(data)
	fails := func(lines int) bool {
		dec := yaml.NewDecoder(bytes.NewReader(data[:ends[lines-1]]))
		for {
			var n yaml.Node
			err := dec.Decode(&n)
			if err == nil {
				continue
			}
			return !errors.Is(err, io.EOF) && err.Error() == msg
		}
	}
	if !fails(len(ends)) {
		return 0
	}
	lo, hi := 1, len(ends)
	for lo < hi {
		mid := lo + (hi-lo)/2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// decoder walks the YAML node tree of a catalog, building the Catalog and recording every
// problem at the node at fault. It never stops at the first problem: a wrong value is
// recorded and replaced by its zero value, and decoding goes on.
type decoder struct {
	problems  []Problem
	found     int             // problems found, including those past ProblemsMax
	truncated bool            // more than ProblemsMax problems were found
	broken    map[string]bool // sections not to check references into (see markBroken)

	// currency and digits are known once the currency is decoded; digits is -1 while
	// the currency is unknown or invalid, and amounts are then checked for form only.
	currency string
	digits   int
}

func (d *decoder) validationError(name string) *ValidationError {
	slices.SortStableFunc(d.problems, func(a, b Problem) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
	problems := d.problems
	if d.truncated {
		problems = append(problems, Problem{Message: fmt.Sprintf("too many problems; only the first %d are listed (ProblemsMax)", ProblemsMax)})
	}
	return &ValidationError{Name: name, Problems: problems}
}

// add records a problem at node n (nil: the file as a whole). Past ProblemsMax the
// decoder stops walking (see truncated): a file of aliases to large invalid nodes could
// otherwise take long to reject.
func (d *decoder) add(n *yaml.Node, path, message string) {
	d.found++
	if len(d.problems) >= ProblemsMax {
		d.truncated = true
		return
	}
	p := Problem{Path: path, Message: message}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	d.problems = append(d.problems, p)
}

func (d *decoder) addf(n *yaml.Node, path, format string, args ...any) {
	d.add(n, path, fmt.Sprintf(format, args...))
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// deref follows an alias to its anchored node. Problems inside an aliased value are
// reported at the anchor, which is where the operator has to fix them.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// isEmptyNode reports a node that stands for nothing written (not even "~" or "null").
func isEmptyNode(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null" && n.Value == "" && n.Style == 0
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// mapping is a decoded YAML mapping whose keys have been checked.
type mapping struct {
	node   *yaml.Node
	path   string
	keys   map[string]*yaml.Node // key node by key
	values map[string]*yaml.Node // value node by key; keys with a null value are absent
}

// at returns the value node of key (nil if absent or null) and its path.
func (m *mapping) at(key string) (*yaml.Node, string) {
	return m.values[key], join(m.path, key)
}

func (m *mapping) has(key string) bool { return m.values[key] != nil }

// fields checks that n is a mapping whose keys are all allowed, each given once, and
// that the required ones have a value. A null value counts as absent, so "name:" with
// nothing after it is reported as missing.
func (d *decoder) fields(n *yaml.Node, path string, allowed []string, required ...string) (*mapping, bool) {
	n = deref(n)
	m := &mapping{node: n, path: path, keys: map[string]*yaml.Node{}, values: map[string]*yaml.Node{}}
	ok := d.pairs(n, path, func(k, v *yaml.Node, p string) bool {
		if !slices.Contains(allowed, k.Value) {
			d.addf(k, p, "unknown field; allowed here: %s", strings.Join(allowed, ", "))
			return true
		}
		m.keys[k.Value] = k
		if !isNull(v) {
			m.values[k.Value] = v
		}
		return true
	})
	if !ok {
		return nil, false
	}
	for _, r := range required {
		if m.values[r] == nil {
			d.add(n, join(path, r), "is required")
		}
	}
	return m, true
}

// pairs walks the key-value pairs of the mapping n once each. It reports keys that are
// not plain strings, merge keys and repeated keys itself; visit sees every other pair
// with its path, and returns false to stop the walk. pairs returns false when n is not
// a mapping.
func (d *decoder) pairs(n *yaml.Node, path string, visit func(k, v *yaml.Node, p string) bool) bool {
	if n.Kind != yaml.MappingNode {
		d.add(n, path, "must be a mapping ("+describe(n)+" given)")
		return false
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content) && !d.truncated; i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		switch {
		case k.Kind != yaml.ScalarNode:
			d.add(k, path, "keys must be plain strings")
			continue
		case k.Tag == "!!merge":
			d.add(k, path, "merge keys (<<) are not supported; use an alias (*name) for the whole value instead")
			continue
		}
		p := join(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.addf(k, p, "is given twice (first at line %d)", first.Line)
			continue
		}
		seen[k.Value] = k
		if !visit(k, v, p) {
			break
		}
	}
	return true
}

// notAllowed reports each present key as not allowed, with why.
func (d *decoder) notAllowed(m *mapping, why string, keys ...string) {
	for _, k := range keys {
		if kn := m.keys[k]; kn != nil {
			d.add(kn, join(m.path, k), "not allowed "+why)
		}
	}
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "nothing"
		case "!!str":
			return "a string"
		case "!!int", "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		}
		return "a " + strings.TrimPrefix(n.Tag, "!!")
	}
	return "an unsupported YAML node"
}

// scalar checks that n is a scalar.
func (d *decoder) scalar(n *yaml.Node, path, want string) bool {
	if n.Kind != yaml.ScalarNode {
		d.add(n, path, "must be "+want+" ("+describe(n)+" given)")
		return false
	}
	return true
}

// sequence calls each for the first max items of the list n, and reports the rest.
func (d *decoder) sequence(n *yaml.Node, path string, max int, limitName string, each func(i int, item *yaml.Node, path string)) {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		d.add(n, path, "must be a list ("+describe(n)+" given)")
		return
	}
	items := n.Content
	if len(items) > max {
		d.addf(deref(items[max]), index(path, max), "too many items: at most %d (%s)", max, limitName)
		items = items[:max]
	}
	for i, item := range items {
		if d.truncated {
			return // the catalog is rejected anyway; aliases could make the rest long
		}
		each(i, deref(item), index(path, i))
	}
}

// text decodes free text (a name, a description) of at most maxBytes.
func (d *decoder) text(m *mapping, key string, maxBytes int) string {
	n, path := m.at(key)
	if n == nil || !d.scalar(n, path, "text") {
		return ""
	}
	switch {
	case strings.TrimSpace(n.Value) == "":
		d.add(n, path, "must not be blank")
	case len(n.Value) > maxBytes:
		d.addf(n, path, "is %d bytes long; at most %d", len(n.Value), maxBytes)
	default:
		return n.Value
	}
	return ""
}

// keyNode decodes an identifier: lowercase snake case, starting with a letter.
func (d *decoder) keyNode(n *yaml.Node, path string) string {
	if !d.scalar(n, path, "a key") {
		return ""
	}
	if msg := checkKey(n.Value); msg != "" {
		d.add(n, path, msg)
		return ""
	}
	return n.Value
}

func (d *decoder) key(m *mapping, key string) string {
	n, path := m.at(key)
	if n == nil {
		return ""
	}
	return d.keyNode(n, path)
}

func checkKey(s string) string {
	if len(s) > KeyLengthBytesMax {
		return fmt.Sprintf("%q is %d bytes long; keys have at most %d (KeyLengthBytesMax)", s, len(s), KeyLengthBytesMax)
	}
	if !isSnake(s) {
		return fmt.Sprintf("%q is not a key: use lowercase letters, digits and _, starting with a letter", s)
	}
	return ""
}

func isSnake(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// eventTypeNode decodes an event type: lowercase dotted segments (conversation.started).
func (d *decoder) eventTypeNode(n *yaml.Node, path string) string {
	if !d.scalar(n, path, "an event type") {
		return ""
	}
	s := n.Value
	if len(s) > EventTypeLengthBytesMax {
		d.addf(n, path, "%q is %d bytes long; event types have at most %d (EventTypeLengthBytesMax)", s, len(s), EventTypeLengthBytesMax)
		return ""
	}
	segments := strings.Split(s, ".")
	ok := len(segments) >= 2
	for _, seg := range segments {
		ok = ok && isSnake(seg)
	}
	if !ok {
		d.addf(n, path, "%q is not an event type: use lowercase dotted words such as conversation.started", s)
		return ""
	}
	return s
}

// enum decodes one of the allowed words.
func (d *decoder) enum(m *mapping, key string, allowed ...string) string {
	n, path := m.at(key)
	if n == nil {
		return ""
	}
	return d.enumNode(n, path, allowed...)
}

func (d *decoder) enumNode(n *yaml.Node, path string, allowed ...string) string {
	if !d.scalar(n, path, "one of "+strings.Join(allowed, ", ")) {
		return ""
	}
	if !slices.Contains(allowed, n.Value) {
		d.addf(n, path, "must be one of %s (%q given)", strings.Join(allowed, ", "), n.Value)
		return ""
	}
	return n.Value
}

// integer decodes a whole number in [min, max]. Only YAML integers in plain decimal are
// accepted: a quoted "5000" is a string, and 0x10 or 1_000 are easy to misread.
func (d *decoder) integer(m *mapping, key string, min, max int64) (int64, bool) {
	n, path := m.at(key)
	if n == nil {
		return 0, false
	}
	return d.integerNode(n, path, min, max)
}

func (d *decoder) integerNode(n *yaml.Node, path string, min, max int64) (int64, bool) {
	if !d.scalar(n, path, "a whole number") {
		return 0, false
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if n.Tag != "!!int" || err != nil && !errors.Is(err, strconv.ErrRange) || strings.HasPrefix(n.Value, "+") {
		d.addf(n, path, "must be a whole number (%q given)", n.Value)
		return 0, false
	}
	if err != nil || v < min || v > max {
		if min == 0 && v < 0 {
			d.addf(n, path, "must not be negative (%s given)", n.Value)
		} else {
			d.addf(n, path, "must be between %d and %d (%s given)", min, max, n.Value)
		}
		return 0, false
	}
	return v, true
}

// boolean decodes true or false.
func (d *decoder) boolean(m *mapping, key string) bool {
	n, path := m.at(key)
	if n == nil {
		return false
	}
	return d.booleanNode(n, path)
}

func (d *decoder) booleanNode(n *yaml.Node, path string) bool {
	if !d.scalar(n, path, "true or false") {
		return false
	}
	v, err := strconv.ParseBool(n.Value)
	if n.Tag != "!!bool" || err != nil {
		d.addf(n, path, "must be true or false (%q given)", n.Value)
		return false
	}
	return v
}

// keyList decodes a list of distinct keys, calling check on each for references.
func (d *decoder) keyList(m *mapping, key string, max int, limitName string, check func(k string, n *yaml.Node, path string)) []string {
	n, path := m.at(key)
	if n == nil {
		return nil
	}
	var keys []string
	seen := map[string]int{}
	d.sequence(n, path, max, limitName, func(i int, item *yaml.Node, p string) {
		k := d.keyNode(item, p)
		if k == "" {
			return
		}
		if line, dup := seen[k]; dup {
			d.addf(item, p, "%q is listed twice (first at line %d)", k, line)
			return
		}
		seen[k] = item.Line
		if check != nil {
			check(k, item, p)
		}
		keys = append(keys, k)
	})
	return keys
}

// entry is one pair of a mapping whose keys the operator chooses (meter keys in
// allowances, entitlement keys, data fields in filters).
type entry struct {
	key   *yaml.Node
	value *yaml.Node // may be a null scalar
	path  string
}

// entries checks that n is a mapping of at most max distinct, well-formed keys.
func (d *decoder) entries(n *yaml.Node, path string, max int, limitName string) []entry {
	var out []entry
	d.pairs(deref(n), path, func(k, v *yaml.Node, p string) bool {
		if msg := checkKey(k.Value); msg != "" {
			d.add(k, p, msg)
			return true
		}
		if len(out) == max {
			d.addf(k, p, "too many entries: at most %d (%s)", max, limitName)
			return false
		}
		out = append(out, entry{key: k, value: v, path: p})
		return true
	})
	return out
}

// filterMap decodes equality filters: data field → value. Values are scalars of any
// type, kept as their text (false → "false"), since events carry JSON of any type. It
// also returns the valid entries, for the caller to check against a meter.
func (d *decoder) filterMap(m *mapping, key string) (map[string]string, []entry) {
	n, path := m.at(key)
	if n == nil {
		return nil, nil
	}
	out := map[string]string{}
	var valid []entry
	for _, e := range d.entries(n, path, FiltersMax, "FiltersMax") {
		v := e.value
		if !d.scalar(v, e.path, "a value to compare with") {
			continue
		}
		if isNull(v) || v.Value == "" || len(v.Value) > FilterValueLengthBytesMax {
			d.addf(v, e.path, "must be a value between 1 and %d bytes long", FilterValueLengthBytesMax)
			continue
		}
		out[e.key.Value] = v.Value
		valid = append(valid, e)
	}
	return out, valid
}
