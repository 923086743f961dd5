package jsonschema

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tide-data/tide/internal/schema"
)

func mustParse(t testing.TB, text string, refs map[string]schema.Parsed) schema.Parsed {
	t.Helper()
	p, err := Format().Parse(text, refs)
	if err != nil {
		t.Fatalf("Parse(%s): %v", text, err)
	}
	return p
}

func TestType(t *testing.T) {
	if got := Format().Type(); got != schema.JSON {
		t.Errorf("Type() = %q", got)
	}
	if got := mustParse(t, `{}`, nil).Type(); got != schema.JSON {
		t.Errorf("Parsed.Type() = %q", got)
	}
	if _, ok := Format().(schema.Validator); !ok {
		t.Error("Format() does not implement schema.Validator")
	}
}

func TestCanonical(t *testing.T) {
	a := mustParse(t, `{
		"type": "object",
		"properties": {"b": {"type": "string"}, "a": {"type": "integer", "minimum": 1.5}},
		"required": ["b", "a"]
	}`, nil)
	b := mustParse(t, `{"required":["b","a"],"properties":{"a":{"minimum":1.5,"type":"integer"},"b":{"type":"string"}},"type":"object"}`, nil)
	want := `{"properties":{"a":{"minimum":1.5,"type":"integer"},"b":{"type":"string"}},"required":["b","a"],"type":"object"}`
	if a.Canonical() != want {
		t.Errorf("Canonical() = %s\nwant        %s", a.Canonical(), want)
	}
	if a.Canonical() != b.Canonical() {
		t.Errorf("layouts give different canonical forms:\n%s\n%s", a.Canonical(), b.Canonical())
	}
	// Array order is meaning; HTML characters are not escaped.
	c := mustParse(t, `{"required":["a","b"],"pattern":"<&>"}`, nil)
	if got := c.Canonical(); got != `{"pattern":"<&>","required":["a","b"]}` {
		t.Errorf("Canonical() = %s", got)
	}
}

func TestParseDrafts(t *testing.T) {
	for _, text := range []string{
		`{"$schema": "http://json-schema.org/draft-04/schema#", "type": "number", "maximum": 5, "exclusiveMaximum": true}`,
		`{"$schema": "http://json-schema.org/draft-06/schema#", "type": "number", "exclusiveMaximum": 5}`,
		`{"$schema": "http://json-schema.org/draft-07/schema#", "if": {"type": "string"}, "then": {"minLength": 1}}`,
		`{"$schema": "https://json-schema.org/draft/2019-09/schema", "type": "object", "dependentRequired": {"a": ["b"]}}`,
		`{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "array", "prefixItems": [{"type": "string"}]}`,
		`true`,
		`{}`,
	} {
		if _, err := Format().Parse(text, nil); err != nil {
			t.Errorf("Parse(%s): %v", text, err)
		}
	}
	// Draft 7 by default: draft 4's boolean exclusiveMaximum is invalid.
	if _, err := Format().Parse(`{"type": "number", "maximum": 5, "exclusiveMaximum": true}`, nil); !errors.Is(err, schema.ErrInvalid) {
		t.Errorf("boolean exclusiveMaximum without $schema: err = %v, want ErrInvalid (draft 7 default)", err)
	}
	// Draft 7 by default: 2020-12's prefixItems is an unknown keyword there,
	// so it does not constrain.
	p := mustParse(t, `{"type": "array", "prefixItems": [{"type": "string"}]}`, nil)
	if err := Format().(schema.Validator).Validate(p, []byte(`[1]`)); err != nil {
		t.Errorf("prefixItems under draft 7 constrained: %v", err)
	}
}

type foreign struct{}

func (foreign) Type() schema.Type { return schema.Avro }
func (foreign) Canonical() string { return `"string"` }

func TestParseInvalid(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		refs       map[string]schema.Parsed
		want       string // in the message
	}{
		{"not JSON", `{"type": "object"`, nil, "not JSON"},
		{"trailing data", `{} {}`, nil, "not JSON"},
		{"unknown type", `{"type": "decimal"}`, nil, "/type"},
		{"negative minLength", `{"minLength": -1}`, nil, "minLength"},
		{"bad regex", `{"pattern": "("}`, nil, "pattern"},
		{"not a schema", `"string"`, nil, ""},
		{"missing reference", `{"$ref": "customer.json"}`, nil, "customer.json"},
		{"no fetching files", `{"$ref": "file:///etc/passwd"}`, nil, "does not fetch"},
		{"no fetching URLs", `{"$ref": "https://example.com/s.json"}`, nil, "does not fetch"},
		{"unknown metaschema", `{"$schema": "https://example.com/my-meta", "type": "string"}`, nil, "my-meta"},
		{"missing definition", `{"$ref": "#/definitions/nope"}`, nil, "nope"},
		{"foreign reference", `{"$ref": "a.avsc"}`, map[string]schema.Parsed{"a.avsc": foreign{}}, "not a JSON schema"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Format().Parse(tc.text, tc.refs)
			if !errors.Is(err, schema.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to mention %q", err, tc.want)
			}
			if strings.Contains(err.Error(), rootBase) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %q shows the internal location or spans lines", err)
			}
		})
	}
}

func TestReferences(t *testing.T) {
	f := Format()
	v := f.(schema.Validator)
	address := mustParse(t, `{"type": "object", "properties": {"zip": {"type": "string"}}, "required": ["zip"]}`, nil)
	customer := mustParse(t, `{"type": "object", "properties": {"name": {"type": "string"}, "address": {"$ref": "address.json"}}}`,
		map[string]schema.Parsed{"address.json": address})
	absolute := mustParse(t, `{"$id": "https://example.com/schemas/money.json", "type": "object", "properties": {"cents": {"type": "integer"}}}`, nil)

	for _, tc := range []struct {
		name string
		text string
		refs map[string]schema.Parsed
	}{
		{"relative name", `{"type": "object", "properties": {"customer": {"$ref": "customer.json"}}}`,
			map[string]schema.Parsed{"customer.json": customer}},
		{"relative to $id", `{"$id": "https://example.com/schemas/order.json", "type": "object", "properties": {"customer": {"$ref": "customer.json"}}}`,
			map[string]schema.Parsed{"customer.json": customer}},
		{"absolute name", `{"type": "object", "properties": {"customer": {"$ref": "https://example.com/schemas/customer.json"}}}`,
			map[string]schema.Parsed{"https://example.com/schemas/customer.json": customer}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, tc.text, tc.refs)
			if err := v.Validate(p, []byte(`{"customer": {"name": "ada", "address": {"zip": "12345"}}}`)); err != nil {
				t.Errorf("valid payload: %v", err)
			}
			err := v.Validate(p, []byte(`{"customer": {"name": "ada", "address": {"zip": 12345}}}`))
			if err == nil || err.Error() != "/customer/address/zip: got number, want string" {
				t.Errorf("transitive reference not applied: err = %v", err)
			}
		})
	}

	t.Run("referenced by its $id", func(t *testing.T) {
		p := mustParse(t, `{"type": "object", "properties": {"total": {"$ref": "https://example.com/schemas/money.json"}}}`,
			map[string]schema.Parsed{"money.json": absolute})
		if err := v.Validate(p, []byte(`{"total": {"cents": 1.5}}`)); err == nil {
			t.Error("reference by $id not applied")
		}
		byName := mustParse(t, `{"type": "object", "properties": {"total": {"$ref": "money.json"}}}`,
			map[string]schema.Parsed{"money.json": absolute})
		if err := v.Validate(byName, []byte(`{"total": {"cents": 1.5}}`)); err == nil {
			t.Error("reference by name to a schema with an $id not applied")
		}
	})

	t.Run("conflicting names", func(t *testing.T) {
		other := mustParse(t, `{"type": "object", "properties": {"zip": {"type": "integer"}}}`, nil)
		_, err := f.Parse(`{"properties": {"a": {"$ref": "customer.json"}, "b": {"$ref": "address.json"}}}`,
			map[string]schema.Parsed{"customer.json": customer, "address.json": other})
		if !errors.Is(err, schema.ErrInvalid) {
			t.Errorf("one name for two schemas: err = %v", err)
		}
	})

	t.Run("shared references", func(t *testing.T) {
		// Each schema refers to the two before it: the references form a
		// DAG with over a million paths, placed once each.
		schemas := []schema.Parsed{address, customer}
		for i := 2; i < 32; i++ {
			text := fmt.Sprintf(`{"type": "object", "properties": {"a": {"$ref": "s%d.json"}, "b": {"$ref": "s%d.json"}}}`, i-1, i-2)
			refs := map[string]schema.Parsed{fmt.Sprintf("s%d.json", i-1): schemas[i-1], fmt.Sprintf("s%d.json", i-2): schemas[i-2]}
			if i == 2 {
				refs = map[string]schema.Parsed{"s1.json": customer, "s0.json": address, "address.json": address}
			}
			schemas = append(schemas, mustParse(t, text, refs))
		}
		// One relative name for two documents is ambiguous: both would
		// sit at the same location.
		_, err := f.Parse(`{"$ref": "s1.json"}`, map[string]schema.Parsed{
			"s1.json": schemas[5], "s4.json": schemas[3],
		})
		if !errors.Is(err, schema.ErrInvalid) || !strings.Contains(err.Error(), "both at s1.json") {
			t.Errorf("conflicting placement: err = %v", err)
		}
	})

	t.Run("reference at the schema's own location", func(t *testing.T) {
		_, err := f.Parse(`{"$ref": "__root__.json"}`, map[string]schema.Parsed{"__root__.json": address})
		if !errors.Is(err, schema.ErrInvalid) {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("compatibility through references", func(t *testing.T) {
		address2 := mustParse(t, `{"type": "object", "properties": {"zip": {"type": "integer"}}, "required": ["zip"]}`, nil)
		customer2 := mustParse(t, `{"type": "object", "properties": {"name": {"type": "string"}, "address": {"$ref": "address.json"}}}`,
			map[string]schema.Parsed{"address.json": address2})
		text := `{"type": "object", "properties": {"customer": {"$ref": "customer.json"}}}`
		old := mustParse(t, text, map[string]schema.Parsed{"customer.json": customer})
		neu := mustParse(t, text, map[string]schema.Parsed{"customer.json": customer2})
		got := f.Compatible(neu, old)
		want := []string{"#/properties/customer/properties/address/properties/zip: type changed from [string] to [integer]"}
		if !equalStrings(got, want) {
			t.Errorf("Compatible = %q\nwant %q", got, want)
		}
	})
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
