package catalog_test

import (
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/billowhq/billow/catalog"
)

// TestCatalogFieldTypes guards what the HTTP layer relies on: the Catalog is served as
// is and huma derives its OpenAPI schema by reflection, so every field has a snake_case
// JSON name and a plain type (no float, interface, decimal or duration anywhere).
func TestCatalogFieldTypes(t *testing.T) {
	snake := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	seen := map[reflect.Type]bool{}
	var check func(t *testing.T, typ reflect.Type, path string)
	check = func(t *testing.T, typ reflect.Type, path string) {
		switch typ.Kind() {
		case reflect.String, reflect.Bool, reflect.Int64:
			if typ.PkgPath() != "" {
				t.Errorf("%s: named type %s; use a plain %s", path, typ, typ.Kind())
			}
		case reflect.Slice:
			check(t, typ.Elem(), path+"[]")
		case reflect.Map:
			if typ.Key().Kind() != reflect.String || (typ.Elem().Kind() != reflect.String && typ.Elem().Kind() != reflect.Int64) {
				t.Errorf("%s: %s; maps are map[string]string or map[string]int64", path, typ)
			}
		case reflect.Pointer:
			if typ.Elem().Kind() != reflect.Struct {
				t.Errorf("%s: pointer to %s; only pointers to structs", path, typ.Elem())
			}
			check(t, typ.Elem(), path)
		case reflect.Struct:
			if typ.PkgPath() != reflect.TypeFor[catalog.Catalog]().PkgPath() {
				t.Errorf("%s: %s from another package", path, typ)
				return
			}
			if seen[typ] {
				return
			}
			seen[typ] = true
			for i := range typ.NumField() {
				f := typ.Field(i)
				if !f.IsExported() {
					t.Errorf("%s.%s: unexported field in a served type", path, f.Name)
					continue
				}
				name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				if !snake.MatchString(name) {
					t.Errorf("%s.%s: json name %q is not snake_case", path, f.Name, name)
				}
				check(t, f.Type, path+"."+name)
			}
		default:
			t.Errorf("%s: %s is not a plain type", path, typ)
		}
	}
	check(t, reflect.TypeFor[catalog.Catalog](), "catalog")
	if len(seen) < 15 {
		t.Errorf("walked %d struct types; the walk is broken", len(seen))
	}
}
