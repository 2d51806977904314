package http

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/billowhq/billow"
)

// The API reference at /docs is rendered on the server from the OpenAPI document, once, at
// startup. It loads nothing: no script, no font, no stylesheet from elsewhere, so it works
// on a machine without internet, and its Content-Security-Policy says so.

// docsMaxDepth is how many levels of nested objects a request body or the problem shape is
// expanded to; deeper objects name their schema and point at /openapi.json.
const docsMaxDepth = 6

// docsCSP forbids everything but the page's own inline styles and data: images.
const docsCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

//go:embed templates/docs.html
var docsTemplateText string

var docsTemplate = template.Must(template.New("docs").Funcs(template.FuncMap{"lower": strings.ToLower}).Parse(docsTemplateText))

// docsHandler renders the reference from the API's OpenAPI document as it is now, so it
// is called after every operation is registered.
func (s *Server) docsHandler() http.Handler {
	page, err := renderDocs(s.api.OpenAPI())
	if err != nil {
		s.logger.Error("the API reference does not render; /docs answers 500", "error", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err != nil {
			writeProblem(w, r, newProblem(http.StatusInternalServerError, billow.CodeInternal, "the API reference does not render"))
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", docsCSP)
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		w.Write(page)
	})
}

// renderDocs renders the HTML reference of an OpenAPI document.
func renderDocs(oa *huma.OpenAPI) ([]byte, error) {
	var buf bytes.Buffer
	if err := docsTemplate.Execute(&buf, buildDocsPage(oa)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// The view model of the page. Descriptions are template.HTML made by docText, which
// escapes them; everything else is escaped by html/template.
type (
	docsPage struct {
		Title, Version  string
		VersionLabel    string // v1.2.3, or dev
		Description     template.HTML
		Auth            []docsAuth
		Groups          []docsGroup
		Problem         *docsSchemaView
		ProblemTypeBase string
		Schemas         []docsSchemaView
		OperationCount  int
	}
	docsAuth struct {
		Name, Kind, Header string
		Description        template.HTML
	}
	docsGroup struct {
		Name, ID    string
		Description template.HTML
		Ops         []docsOp
	}
	docsOp struct {
		ID, OperationID, Method, Summary string
		Path                             []docsPathPart
		Description                      template.HTML
		Deprecated                       bool
		Auth                             []string
		Idempotent                       bool
		Params                           []docsParam
		Body                             *docsBody
		Responses                        []docsResponse
	}
	docsPathPart struct {
		Text  string
		Param bool
	}
	docsParam struct {
		Name, In    string
		Type        docsType
		Required    bool
		Constraints []docsConstraint
		Description template.HTML
	}
	docsBody struct {
		Schema      docsType
		ContentType string
		Required    bool
		Description template.HTML
		Fields      []docsField
		Note        string
		// Also lists the other media types the body may have, with their types.
		Also []docsMedia
	}
	docsMedia struct {
		ContentType string
		Type        *docsType
	}
	// docsResponse is a row of the responses table: one status, or several error statuses
	// answered with the same body.
	docsResponse struct {
		Statuses    []docsStatus
		ContentType string
		Schema      *docsType
		Headers     []string
	}
	docsStatus struct {
		Code, Class, Description string
	}
	docsField struct {
		Name        string
		Type        docsType
		Required    bool
		Constraints []docsConstraint
		Description template.HTML
		Children    []docsField
		Note        string
	}
	// docsType reads Prefix+Name, as []Account or map[string]string; Link is the anchor of
	// the named schema when the page shows it.
	docsType struct {
		Prefix, Name, Format, Link string
	}
	docsConstraint struct {
		Name   string
		Values []string
	}
	docsSchemaView struct {
		Name, ID    string
		Description template.HTML
		Fields      []docsField
		Type        *docsType
		Constraints []docsConstraint
	}
)

// docsBuilder resolves $refs against components.schemas.
type docsBuilder struct {
	schemas map[string]*huma.Schema
	shown   map[string]bool // schemas the Schemas section lists
}

func buildDocsPage(oa *huma.OpenAPI) docsPage {
	b := &docsBuilder{schemas: map[string]*huma.Schema{}, shown: map[string]bool{}}
	if oa.Components != nil && oa.Components.Schemas != nil {
		b.schemas = oa.Components.Schemas.Map()
	}
	page := docsPage{ProblemTypeBase: problemTypeBase}
	if oa.Info != nil {
		page.Title, page.Version, page.Description = oa.Info.Title, oa.Info.Version, docText(oa.Info.Description)
	}
	page.VersionLabel = page.Version
	if page.Version != "" && page.Version[0] >= '0' && page.Version[0] <= '9' {
		page.VersionLabel = "v" + page.Version
	}
	if page.Title == "" {
		page.Title = "API reference"
	}
	if oa.Components != nil {
		names := make([]string, 0, len(oa.Components.SecuritySchemes))
		for name := range oa.Components.SecuritySchemes {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			page.Auth = append(page.Auth, docsAuthFor(name, oa.Components.SecuritySchemes[name]))
		}
	}

	// The Schemas section shows what successful answers return, and what those refer to.
	ops := docsOperations(oa)
	var pending []string
	for _, o := range ops {
		for status, resp := range o.op.Responses {
			if !strings.HasPrefix(status, "2") || resp == nil {
				continue
			}
			if _, mt := docsMediaType(resp.Content); mt != nil {
				pending = append(pending, b.refsOf(mt.Schema)...)
			}
		}
	}
	for len(pending) > 0 {
		name := pending[0]
		pending = pending[1:]
		if b.shown[name] || name == "Problem" || b.schemas[name] == nil {
			continue
		}
		b.shown[name] = true
		for _, p := range b.schemas[name].Properties {
			pending = append(pending, b.refsOf(p)...)
		}
		if s := b.schemas[name]; s.Items != nil {
			pending = append(pending, b.refsOf(s.Items)...)
		}
	}
	shown := make([]string, 0, len(b.shown))
	for name := range b.shown {
		shown = append(shown, name)
	}
	sort.Strings(shown)
	for _, name := range shown {
		s := b.schemas[name]
		v := docsSchemaView{Name: name, ID: "schema-" + docsAnchor(name), Description: docText(s.Description)}
		if len(s.Properties) > 0 {
			v.Fields, _ = b.fields(s, 0, nil, false)
		} else {
			t := b.typeOf(s)
			v.Type, v.Constraints = &t, docsConstraints(s)
		}
		page.Schemas = append(page.Schemas, v)
	}

	if p := b.schemas["Problem"]; p != nil {
		fields, _ := b.fields(p, 0, []string{"Problem"}, true)
		page.Problem = &docsSchemaView{Name: "Problem", ID: "errors", Description: docText(p.Description), Fields: fields}
	}

	// Groups follow the document's tag list, then the order in which tags first appear.
	groupIndex := map[string]int{}
	addGroup := func(name, description string) int {
		if i, ok := groupIndex[name]; ok {
			return i
		}
		page.Groups = append(page.Groups, docsGroup{Name: name, ID: "tag-" + docsAnchor(strings.ToLower(name)), Description: docText(description)})
		groupIndex[name] = len(page.Groups) - 1
		return len(page.Groups) - 1
	}
	for _, t := range oa.Tags {
		if t != nil {
			addGroup(t.Name, t.Description)
		}
	}
	for _, o := range ops {
		tag := "Other"
		if len(o.op.Tags) > 0 {
			tag = o.op.Tags[0]
		}
		i := addGroup(tag, "")
		page.Groups[i].Ops = append(page.Groups[i].Ops, b.operation(oa, o.method, o.path, o.op))
		page.OperationCount++
	}
	page.Groups = slices.DeleteFunc(page.Groups, func(g docsGroup) bool { return len(g.Ops) == 0 })
	return page
}

type docsOpRef struct {
	method, path string
	op           *huma.Operation
}

// docsOperations lists the document's operations in path order, then method order.
func docsOperations(oa *huma.OpenAPI) []docsOpRef {
	paths := make([]string, 0, len(oa.Paths))
	for p := range oa.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var ops []docsOpRef
	for _, p := range paths {
		item := oa.Paths[p]
		if item == nil {
			continue
		}
		for _, mo := range []struct {
			method string
			op     *huma.Operation
		}{
			{"GET", item.Get}, {"HEAD", item.Head}, {"POST", item.Post}, {"PUT", item.Put},
			{"PATCH", item.Patch}, {"DELETE", item.Delete}, {"OPTIONS", item.Options}, {"TRACE", item.Trace},
		} {
			if mo.op != nil && !mo.op.Hidden {
				ops = append(ops, docsOpRef{mo.method, p, mo.op})
			}
		}
	}
	return ops
}

func docsAuthFor(name string, s *huma.SecurityScheme) docsAuth {
	a := docsAuth{Name: name, Kind: s.Type, Description: docText(s.Description)}
	switch {
	case s.Type == "http" && strings.EqualFold(s.Scheme, "bearer"):
		a.Kind, a.Header = "HTTP bearer", "Authorization: Bearer <key>"
	case s.Type == "http" && strings.EqualFold(s.Scheme, "basic"):
		a.Kind, a.Header = "HTTP basic", "Authorization: Basic <credentials>"
	case s.Type == "apiKey":
		a.Kind, a.Header = "API key in "+s.In, s.Name
	}
	return a
}

func (b *docsBuilder) operation(oa *huma.OpenAPI, method, path string, op *huma.Operation) docsOp {
	id := op.OperationID
	if id == "" {
		id = strings.ToLower(method) + path
	}
	o := docsOp{
		ID: "op-" + docsAnchor(id), OperationID: op.OperationID, Method: method, Summary: op.Summary,
		Path: docsPath(path), Description: docText(op.Description), Deprecated: op.Deprecated,
	}
	if o.Summary == "" {
		o.Summary = method + " " + path
	}
	security := oa.Security
	if op.Security != nil {
		security = op.Security
	}
	for _, req := range security {
		names := make([]string, 0, len(req))
		for name := range req {
			names = append(names, name)
		}
		sort.Strings(names)
		if len(names) > 0 {
			o.Auth = append(o.Auth, strings.Join(names, " + "))
		}
	}

	params := slices.Clone(op.Parameters)
	if item := oa.Paths[path]; item != nil {
		params = append(params, item.Parameters...)
	}
	inOrder := map[string]int{"path": 0, "query": 1, "header": 2, "cookie": 3}
	sort.SliceStable(params, func(i, j int) bool { return inOrder[params[i].In] < inOrder[params[j].In] })
	for _, p := range params {
		if p == nil {
			continue
		}
		if p.Ref != "" && oa.Components != nil {
			if resolved := oa.Components.Parameters[docsRefName(p.Ref)]; resolved != nil {
				p = resolved
			}
		}
		if p.In == "header" && strings.EqualFold(p.Name, "Idempotency-Key") {
			o.Idempotent = true
		}
		desc := p.Description
		if desc == "" && p.Schema != nil {
			desc = p.Schema.Description
		}
		dp := docsParam{Name: p.Name, In: p.In, Required: p.Required, Description: docText(desc), Type: docsType{Name: "any"}}
		if p.Schema != nil {
			dp.Type, dp.Constraints = b.typeOf(p.Schema), docsConstraints(b.resolve(p.Schema))
		}
		if p.Deprecated {
			dp.Constraints = append(dp.Constraints, docsConstraint{Name: "deprecated"})
		}
		o.Params = append(o.Params, dp)
	}

	if rb := op.RequestBody; rb != nil {
		ct, mt := docsMediaType(rb.Content)
		body := &docsBody{ContentType: ct, Required: rb.Required, Description: docText(rb.Description)}
		if mt != nil && mt.Schema != nil {
			body.Schema = b.typeOf(mt.Schema)
			body.Schema.Link = "" // the fields follow right here
			var ancestors []string
			if name := docsRefName(mt.Schema.Ref); name != "" {
				ancestors = []string{name}
			}
			body.Fields, body.Note = b.fields(mt.Schema, 0, ancestors, true)
			if body.Description == "" {
				body.Description = docText(b.resolve(mt.Schema).Description)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(rb.Content)) {
			if name == ct || rb.Content[name] == nil {
				continue
			}
			m := docsMedia{ContentType: name}
			if sch := rb.Content[name].Schema; sch != nil {
				t := b.typeOf(sch)
				m.Type = &t
			}
			body.Also = append(body.Also, m)
		}
		o.Body = body
	}

	statuses := make([]string, 0, len(op.Responses))
	for status := range op.Responses {
		statuses = append(statuses, status)
	}
	sort.Slice(statuses, func(i, j int) bool {
		// "default" and ranges such as "4XX" after the exact codes.
		return docsStatusKey(statuses[i]) < docsStatusKey(statuses[j])
	})
	for _, status := range statuses {
		resp := op.Responses[status]
		if resp == nil {
			continue
		}
		if resp.Ref != "" && oa.Components != nil {
			if resolved := oa.Components.Responses[docsRefName(resp.Ref)]; resolved != nil {
				resp = resolved
			}
		}
		st := docsStatus{Code: status, Class: "s" + strings.ToLower(status[:1]), Description: resp.Description}
		if status == "default" {
			st.Class = "sd"
		}
		dr := docsResponse{Statuses: []docsStatus{st}}
		if ct, mt := docsMediaType(resp.Content); mt != nil {
			dr.ContentType = ct
			if mt.Schema != nil {
				t := b.typeOf(mt.Schema)
				if t.Name == "Problem" {
					t.Link = "errors"
				}
				dr.Schema = &t
			}
		}
		for name := range resp.Headers {
			dr.Headers = append(dr.Headers, name)
		}
		sort.Strings(dr.Headers)
		if n := len(o.Responses); n > 0 && docsSameError(o.Responses[n-1], dr) {
			o.Responses[n-1].Statuses = append(o.Responses[n-1].Statuses, st)
			continue
		}
		o.Responses = append(o.Responses, dr)
	}
	return o
}

// docsSameError reports whether two responses are errors with the same body, to be shown
// in one row.
func docsSameError(a, b docsResponse) bool {
	isError := func(r docsResponse) bool {
		c := r.Statuses[0].Code[0]
		return (c == '4' || c == '5') && len(r.Headers) == 0
	}
	if !isError(a) || !isError(b) || a.ContentType != b.ContentType || (a.Schema == nil) != (b.Schema == nil) {
		return false
	}
	return a.Schema == nil || *a.Schema == *b.Schema
}

func docsStatusKey(status string) string {
	if _, err := strconv.Atoi(status); err == nil {
		return "0" + status
	}
	return "1" + status
}

// docsMediaType picks the JSON representation of a body, or else the first in name order.
func docsMediaType(content map[string]*huma.MediaType) (string, *huma.MediaType) {
	if len(content) == 0 {
		return "", nil
	}
	names := make([]string, 0, len(content))
	for name := range content {
		names = append(names, name)
	}
	sort.Strings(names)
	if mt := content["application/json"]; mt != nil {
		return "application/json", mt
	}
	for _, name := range names {
		if strings.HasSuffix(name, "+json") {
			return name, content[name]
		}
	}
	return names[0], content[names[0]]
}

// resolve follows $refs to the schema they name; it gives up after docsMaxDepth hops.
func (b *docsBuilder) resolve(s *huma.Schema) *huma.Schema {
	for i := 0; s != nil && s.Ref != "" && i < docsMaxDepth; i++ {
		target := b.schemas[docsRefName(s.Ref)]
		if target == nil {
			return s
		}
		s = target
	}
	return s
}

// refsOf names the component schemas s refers to directly, through arrays and maps.
func (b *docsBuilder) refsOf(s *huma.Schema) []string {
	var names []string
	for depth := 0; s != nil && depth < docsMaxDepth; depth++ {
		if name := docsRefName(s.Ref); name != "" {
			return append(names, name)
		}
		for _, alt := range slices.Concat(s.OneOf, s.AnyOf, s.AllOf) {
			names = append(names, b.refsOf(alt)...)
		}
		switch {
		case s.Items != nil:
			s = s.Items
		case docsAdditional(s) != nil:
			s = docsAdditional(s)
		default:
			return names
		}
	}
	return names
}

func docsAdditional(s *huma.Schema) *huma.Schema {
	ap, _ := s.AdditionalProperties.(*huma.Schema)
	return ap
}

// typeOf describes a schema's type the way a Go reader expects: string, []Account,
// map[string]string, BillingContact.
func (b *docsBuilder) typeOf(s *huma.Schema) docsType {
	var prefix string
	for depth := 0; depth <= docsMaxDepth; depth++ {
		switch {
		case s == nil:
			return docsType{Prefix: prefix, Name: "any"}
		case s.Ref != "":
			name := docsRefName(s.Ref)
			t := docsType{Prefix: prefix, Name: name}
			if b.shown[name] {
				t.Link = "schema-" + docsAnchor(name)
			}
			return t
		case s.Type == "array":
			prefix += "[]"
			s = s.Items
		case s.Type == "object" && docsAdditional(s) != nil && len(s.Properties) == 0:
			prefix += "map[string]"
			s = docsAdditional(s)
		case len(s.OneOf) > 0 || len(s.AnyOf) > 0:
			alts := s.OneOf
			if len(alts) == 0 {
				alts = s.AnyOf
			}
			names := make([]string, 0, len(alts))
			for _, alt := range alts {
				t := b.typeOf(alt)
				names = append(names, t.Prefix+t.Name)
			}
			return docsType{Prefix: prefix, Name: strings.Join(names, " | ")}
		case s.Type == "":
			return docsType{Prefix: prefix, Name: "any"}
		default:
			return docsType{Prefix: prefix, Name: s.Type, Format: s.Format}
		}
	}
	return docsType{Prefix: prefix, Name: "…"}
}

// objectOf is the object whose fields a value of schema s has: s itself, the element of
// an array, the value of a map. It returns the schema's name, when it has one, for the
// cycle guard.
func (b *docsBuilder) objectOf(s *huma.Schema) (string, *huma.Schema) {
	for depth := 0; s != nil && depth <= docsMaxDepth; depth++ {
		if s.Ref != "" {
			name := docsRefName(s.Ref)
			target := b.schemas[name]
			if target == nil {
				return "", nil
			}
			if len(target.Properties) > 0 {
				return name, target
			}
			s = target
			continue
		}
		switch {
		case len(s.Properties) > 0:
			return "", s
		case s.Items != nil:
			s = s.Items
		case docsAdditional(s) != nil:
			s = docsAdditional(s)
		default:
			return "", nil
		}
	}
	return "", nil
}

// fields lists the properties of the object schema s, required ones first. With expand,
// nested objects are listed under their field down to docsMaxDepth levels, and a schema
// already being expanded above (ancestors) is not expanded again. The note says why an
// object was not expanded.
func (b *docsBuilder) fields(s *huma.Schema, depth int, ancestors []string, expand bool) ([]docsField, string) {
	name, obj := b.objectOf(s)
	if obj == nil {
		return nil, ""
	}
	if depth > 0 && name != "" && slices.Contains(ancestors, name) {
		return nil, "Recursive: has the shape of " + name + " above."
	}
	if depth >= docsMaxDepth {
		return nil, fmt.Sprintf("Nested more than %d levels deep; see /openapi.json for its fields.", docsMaxDepth)
	}
	if depth > 0 && name != "" {
		ancestors = append(slices.Clip(ancestors), name)
	}
	required := map[string]bool{}
	for _, r := range obj.Required {
		required[r] = true
	}
	names := make([]string, 0, len(obj.Properties))
	for n := range obj.Properties {
		names = append(names, n)
	}
	sort.SliceStable(names, func(i, j int) bool {
		if required[names[i]] != required[names[j]] {
			return required[names[i]]
		}
		return names[i] < names[j]
	})
	out := make([]docsField, 0, len(names))
	for _, n := range names {
		p := obj.Properties[n]
		if p == nil {
			continue
		}
		resolved := b.resolve(p)
		desc := p.Description
		if desc == "" && resolved != nil {
			desc = resolved.Description
		}
		f := docsField{Name: n, Type: b.typeOf(p), Required: required[n], Constraints: docsConstraints(resolved), Description: docText(desc)}
		if p.Nullable && (resolved == nil || !resolved.Nullable) {
			f.Constraints = append(f.Constraints, docsConstraint{Name: "nullable"})
		}
		if expand {
			f.Children, f.Note = b.fields(p, depth+1, ancestors, true)
		}
		out = append(out, f)
	}
	return out, ""
}

// docsConstraints lists what a value of schema s must satisfy, in JSON Schema's words.
func docsConstraints(s *huma.Schema) []docsConstraint {
	if s == nil {
		return nil
	}
	var cs []docsConstraint
	add := func(name string, values ...string) { cs = append(cs, docsConstraint{Name: name, Values: values}) }
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	if len(s.Enum) > 0 {
		values := make([]string, 0, len(s.Enum))
		for _, v := range s.Enum {
			values = append(values, docsValue(v))
		}
		add("one of", values...)
	}
	if s.Default != nil {
		add("default", docsValue(s.Default))
	}
	if s.MinLength != nil {
		add("minLength", strconv.Itoa(*s.MinLength))
	}
	if s.MaxLength != nil {
		add("maxLength", strconv.Itoa(*s.MaxLength))
	}
	if s.Minimum != nil {
		add("minimum", num(*s.Minimum))
	}
	if s.ExclusiveMinimum != nil {
		add("exclusiveMinimum", num(*s.ExclusiveMinimum))
	}
	if s.Maximum != nil {
		add("maximum", num(*s.Maximum))
	}
	if s.ExclusiveMaximum != nil {
		add("exclusiveMaximum", num(*s.ExclusiveMaximum))
	}
	if s.MultipleOf != nil {
		add("multipleOf", num(*s.MultipleOf))
	}
	if s.Pattern != "" {
		add("pattern", s.Pattern)
	}
	if s.MinItems != nil {
		add("minItems", strconv.Itoa(*s.MinItems))
	}
	if s.MaxItems != nil {
		add("maxItems", strconv.Itoa(*s.MaxItems))
	}
	if s.UniqueItems {
		add("uniqueItems")
	}
	if s.MinProperties != nil {
		add("minProperties", strconv.Itoa(*s.MinProperties))
	}
	if s.MaxProperties != nil {
		add("maxProperties", strconv.Itoa(*s.MaxProperties))
	}
	if s.Nullable {
		add("nullable")
	}
	if s.ReadOnly {
		add("read-only")
	}
	if s.WriteOnly {
		add("write-only")
	}
	if s.Deprecated {
		add("deprecated")
	}
	if len(s.Examples) > 0 {
		add("example", docsValue(s.Examples[0]))
	}
	return cs
}

// docsValue shows a value from the schema: a string as itself, anything else as JSON.
func docsValue(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func docsRefName(ref string) string {
	if ref == "" {
		return ""
	}
	return ref[strings.LastIndexByte(ref, '/')+1:]
}

// docsAnchor makes s usable as an element id: letters, digits, - and _ stay, the rest
// becomes -.
func docsAnchor(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, s)
}

// docsPath splits a path template so that its {parameters} can be set apart.
func docsPath(path string) []docsPathPart {
	var parts []docsPathPart
	for path != "" {
		open := strings.IndexByte(path, '{')
		if open < 0 {
			break
		}
		end := strings.IndexByte(path[open:], '}')
		if end < 0 {
			break
		}
		if open > 0 {
			parts = append(parts, docsPathPart{Text: path[:open]})
		}
		parts = append(parts, docsPathPart{Text: path[open : open+end+1], Param: true})
		path = path[open+end+1:]
	}
	if path != "" {
		parts = append(parts, docsPathPart{Text: path})
	}
	return parts
}

// docText renders a description: HTML-escaped, `backtick` spans as <code>, blank lines
// between paragraphs. Nothing else of Markdown.
func docText(s string) template.HTML {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
	if s == "" {
		return ""
	}
	paras := strings.Split(s, "\n\n")
	var out strings.Builder
	for _, para := range paras {
		if len(paras) > 1 {
			out.WriteString("<p>")
		}
		spans := strings.Split(strings.TrimSpace(para), "`")
		for j, span := range spans {
			switch {
			case j%2 == 0:
				out.WriteString(template.HTMLEscapeString(span))
			case j == len(spans)-1: // an unmatched backtick stays a backtick
				out.WriteString("`" + template.HTMLEscapeString(span))
			default:
				out.WriteString("<code>" + template.HTMLEscapeString(span) + "</code>")
			}
		}
		if len(paras) > 1 {
			out.WriteString("</p>")
		}
	}
	return template.HTML(out.String())
}
