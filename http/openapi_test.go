package http_test

import (
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/billowhq/billow/sqlstore/storetest"
)

// TestOpenAPIValidates fetches /openapi.json over a real listener and checks it with an
// independent validator (pb33f's libopenapi-validator, against the OpenAPI 3.1 schema).
func TestOpenAPIValidates(t *testing.T) {
	env := storetest.Open(t, "sqlite")
	c := newServer(t, env).as("")
	a := c.do("GET", "/openapi.json", nil)
	if a.status != 200 {
		t.Fatalf("/openapi.json = %d", a.status)
	}
	doc, err := libopenapi.NewDocument(a.body)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if v := doc.GetVersion(); !strings.HasPrefix(v, "3.1") {
		t.Fatalf("OpenAPI version %s, want 3.1", v)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	valid, problems := v.ValidateDocument()
	for _, p := range problems {
		t.Errorf("%s: %s", p.Message, p.Reason)
		for _, se := range p.SchemaValidationErrors {
			t.Errorf("  %s at %s (line %d)", se.Reason, se.FieldPath, se.Line)
		}
	}
	if !valid {
		t.Fatal("the OpenAPI document is not valid")
	}
	// Every POST documents Idempotency-Key; every operation the bearer scheme.
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatalf("model: %v", err)
	}
	posts := 0
	for pair := model.Model.Paths.PathItems.First(); pair != nil; pair = pair.Next() {
		if op := pair.Value().Post; op != nil {
			posts++
			found := false
			for _, p := range op.Parameters {
				found = found || (p.Name == "Idempotency-Key" && p.In == "header")
			}
			if !found {
				t.Errorf("POST %s does not document Idempotency-Key", pair.Key())
			}
		}
	}
	if posts < 5 {
		t.Fatalf("only %d POST operations documented", posts)
	}
}
