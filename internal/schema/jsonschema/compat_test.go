package jsonschema

import (
	"fmt"
	"strings"
	"testing"
)

// compatCase is a schema change from old to new. backward lists the
// messages of Compatible(new, old) (a reader on new reading data written
// with old: BACKWARD), forward those of Compatible(old, new) (FORWARD);
// nil means compatible. FULL is both.
type compatCase struct {
	name     string
	old, new string
	backward []string
	forward  []string
}

// obj builds an object schema from property schemas and extra keywords.
func obj(props string, extra ...string) string {
	s := `{"type": "object", "properties": {` + props + `}`
	for _, e := range extra {
		s += ", " + e
	}
	return s + "}"
}

const closed = `"additionalProperties": false`

var compatCases = []compatCase{
	// Properties and content models.
	{
		name:     "optional property added to open model",
		old:      obj(`"a": {"type": "string"}`),
		new:      obj(`"a": {"type": "string"}, "b": {"type": "string"}`),
		backward: []string{"#/properties/b: property added to open content model: the writer may have written any value under this name"},
	},
	{
		name: "property with empty schema added to open model",
		old:  obj(`"a": {"type": "string"}`),
		new:  obj(`"a": {"type": "string"}, "b": {}`),
	},
	{
		name:    "optional property added to closed model",
		old:     obj(`"a": {"type": "string"}`, closed),
		new:     obj(`"a": {"type": "string"}, "b": {"type": "string"}`, closed),
		forward: []string{"#/properties/b: property removed from closed content model"},
	},
	{
		name:     "required property added to closed model",
		old:      obj(`"a": {"type": "string"}`, closed),
		new:      obj(`"a": {"type": "string"}, "b": {"type": "string"}`, closed, `"required": ["b"]`),
		backward: []string{"#/properties/b: required property added"},
		forward:  []string{"#/properties/b: property removed from closed content model"},
	},
	{
		name:    "required property with a default added to closed model",
		old:     obj(`"a": {"type": "string"}`, closed),
		new:     obj(`"a": {"type": "string"}, "b": {"type": "string", "default": "x"}`, closed, `"required": ["b"]`),
		forward: []string{"#/properties/b: property removed from closed content model"},
	},
	{
		name: "required property added to open model",
		old:  obj(`"a": {"type": "string"}`),
		new:  obj(`"a": {"type": "string"}, "b": {"type": "string"}`, `"required": ["b"]`),
		backward: []string{
			"#/properties/b: property added to open content model: the writer may have written any value under this name",
			"#/properties/b: required property added",
		},
	},
	{
		name:     "existing property made required",
		old:      obj(`"a": {"type": "string"}`),
		new:      obj(`"a": {"type": "string"}`, `"required": ["a"]`),
		backward: []string{"#/properties/a: property became required"},
	},
	{
		name:    "property removed from open model",
		old:     obj(`"a": {"type": "string"}, "b": {"type": "integer"}`),
		new:     obj(`"a": {"type": "string"}`),
		forward: []string{"#/properties/b: property added to open content model: the writer may have written any value under this name"},
	},
	{
		name:     "property removed from closed model",
		old:      obj(`"a": {"type": "string"}, "b": {"type": "integer"}`, closed),
		new:      obj(`"a": {"type": "string"}`, closed),
		backward: []string{"#/properties/b: property removed from closed content model"},
	},
	{
		name: "property added covered by partially open model",
		old:  obj(`"a": {"type": "string"}`, `"additionalProperties": {"type": "string"}`),
		new:  obj(`"a": {"type": "string"}, "b": {"type": "string", "maxLength": 3}`, `"additionalProperties": {"type": "string"}`),
		backward: []string{
			"#/properties/b: property added is not covered by the writer's additionalProperties",
			"#/properties/b: maxLength added: 3",
		},
	},
	{
		name: "property added not covered by partially open model",
		old:  obj(`"a": {"type": "string"}`, `"additionalProperties": {"type": "string"}`),
		new:  obj(`"a": {"type": "string"}, "b": {"type": "integer"}`, `"additionalProperties": {"type": "string"}`),
		backward: []string{
			"#/properties/b: property added is not covered by the writer's additionalProperties",
			"#/properties/b: type changed from [string] to [integer]",
		},
		forward: []string{
			"#/properties/b: property removed is not covered by the reader's additionalProperties",
			"#/additionalProperties: type changed from [integer] to [string]",
		},
	},
	{
		name:     "model closed",
		old:      obj(`"a": {"type": "string"}`),
		new:      obj(`"a": {"type": "string"}`, closed),
		backward: []string{"#/additionalProperties: additionalProperties removed: the reader rejects properties the writer may write"},
	},
	{
		name:     "additionalProperties narrowed",
		old:      obj(`"a": {"type": "string"}`),
		new:      obj(`"a": {"type": "string"}`, `"additionalProperties": {"type": "string"}`),
		backward: []string{"#/additionalProperties: additionalProperties narrowed: the writer's additional properties were unconstrained"},
	},
	{
		name:     "patternProperties added",
		old:      obj(`"a": {"type": "string"}`),
		new:      obj(`"a": {"type": "string"}`, `"patternProperties": {"^x-": {"type": "string"}}`),
		backward: []string{"#/patternProperties/^x-: patternProperties added: the writer may have written any value under names matching it"},
	},
	{
		name:     "patternProperties changed",
		old:      obj(``, `"patternProperties": {"^x-": {"type": "string"}}`),
		new:      obj(``, `"patternProperties": {"^x-": {"type": "integer"}}`),
		backward: []string{"#/patternProperties/^x-: type changed from [string] to [integer]"},
		forward:  []string{"#/patternProperties/^x-: type changed from [integer] to [string]"},
	},
	{
		name:     "minProperties and maxProperties",
		old:      obj(``, `"maxProperties": 5`),
		new:      obj(``, `"minProperties": 1`, `"maxProperties": 3`),
		backward: []string{"#: minProperties added: 1", "#: maxProperties decreased from 5 to 3"},
	},
	{
		name:     "dependentRequired added",
		old:      `{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"}`,
		new:      `{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "dependentRequired": {"card": ["billing"]}}`,
		backward: []string{`#/dependentRequired/card: dependentRequired added: "card" now requires "billing"`},
	},
	{
		name:     "property names with pointer characters",
		old:      obj(`"a/b": {"type": "string"}, "c~d": {"type": "string"}`),
		new:      obj(`"a/b": {"type": "integer"}, "c~d": {"type": "integer"}`),
		backward: []string{"#/properties/a~1b: type changed from [string] to [integer]", "#/properties/c~0d: type changed from [string] to [integer]"},
		forward:  []string{"#/properties/a~1b: type changed from [integer] to [string]", "#/properties/c~0d: type changed from [integer] to [string]"},
	},

	// Types.
	{
		name:    "integer widened to number",
		old:     obj(`"n": {"type": "integer"}`),
		new:     obj(`"n": {"type": "number"}`),
		forward: []string{"#/properties/n: type narrowed from [number] to [integer]"},
	},
	{
		name:     "type narrowed",
		old:      obj(`"amount": {"type": ["number", "string"]}`),
		new:      obj(`"amount": {"type": "number"}`),
		backward: []string{"#/properties/amount: type narrowed from [number string] to [number]"},
	},
	{
		name:    "null added",
		old:     `{"type": "string"}`,
		new:     `{"type": ["string", "null"]}`,
		forward: []string{"#: type narrowed from [null string] to [string]"},
	},
	{
		name:     "type changed",
		old:      `{"type": "string"}`,
		new:      `{"type": "integer"}`,
		backward: []string{"#: type changed from [string] to [integer]"},
		forward:  []string{"#: type changed from [integer] to [string]"},
	},
	{
		name:     "type added to an untyped schema",
		old:      `{"properties": {"a": {"type": "string"}}}`,
		new:      `{"type": "object", "properties": {"a": {"type": "string"}}}`,
		backward: []string{"#: type narrowed from any to [object]"},
	},
	{
		name: "true and empty schemas",
		old:  `true`,
		new:  `{}`,
	},
	{
		name:     "false schema",
		old:      `{}`,
		new:      `false`,
		backward: []string{"#: the reader's schema is false: it accepts no value"},
	},

	// Enums and consts.
	{
		name:    "enum extended",
		old:     obj(`"c": {"enum": ["EUR", "USD"]}`),
		new:     obj(`"c": {"enum": ["EUR", "USD", "GBP"]}`),
		forward: []string{`#/properties/c: enum narrowed: value "GBP" of the writer not allowed`},
	},
	{
		name:     "enum changed",
		old:      `{"enum": ["a", "b", 1]}`,
		new:      `{"enum": ["a", "c", 1.0]}`,
		backward: []string{`#: enum narrowed: value "b" of the writer not allowed`},
		forward:  []string{`#: enum narrowed: value "c" of the writer not allowed`},
	},
	{
		name:     "enum added",
		old:      `{"type": "string"}`,
		new:      `{"type": "string", "enum": ["a", "b"]}`,
		backward: []string{"#: enum added: the reader allows 2 values, the writer's are not limited"},
	},
	{
		name:    "const to enum",
		old:     `{"const": "a"}`,
		new:     `{"enum": ["a", "b"]}`,
		forward: []string{`#: const narrowed: value "b" of the writer not allowed`},
	},
	{
		name:     "const added",
		old:      `{"type": "string"}`,
		new:      `{"const": "v1"}`,
		backward: []string{`#: const added: the reader allows only "v1"`},
	},
	{
		name:     "large enums compared as sets",
		old:      `{"enum": [` + numbers(0, 300) + `]}`,
		new:      `{"enum": [` + numbers(2, 300) + `]}`,
		backward: []string{"#: enum narrowed: values 0, 1 of the writer not allowed"},
	},
	{
		name:     "enum values checked against the reader's other keywords",
		old:      `{"enum": ["ab", "abcd"]}`,
		new:      `{"type": "string", "maxLength": 3}`,
		backward: []string{`#: the writer's value "abcd" is rejected (maxLength: got 4, want 3)`},
		forward:  []string{"#: enum added: the reader allows 2 values, the writer's are not limited"},
	},
	{
		name: "boolean writer against an enum reader",
		old:  `{"type": "boolean"}`,
		new:  `{"enum": [true, false, null]}`,
		forward: []string{
			"#: the writer's value null is rejected (got null, want boolean)",
		},
	},

	// Constraints.
	{
		name:     "maxLength decreased",
		old:      `{"type": "string", "maxLength": 10}`,
		new:      `{"type": "string", "maxLength": 5}`,
		backward: []string{"#: maxLength decreased from 10 to 5"},
	},
	{
		name:     "minLength added",
		old:      `{"type": "string"}`,
		new:      `{"type": "string", "minLength": 2}`,
		backward: []string{"#: minLength added: 2"},
	},
	{
		name:     "pattern changed",
		old:      `{"type": "string", "pattern": "^[a-z]+$"}`,
		new:      `{"type": "string", "pattern": "^[a-z0-9]+$"}`,
		backward: []string{`#: pattern changed from "^[a-z]+$" to "^[a-z0-9]+$"`},
		forward:  []string{`#: pattern changed from "^[a-z0-9]+$" to "^[a-z]+$"`},
	},
	{
		name:     "format added",
		old:      `{"type": "string"}`,
		new:      `{"type": "string", "format": "email"}`,
		backward: []string{`#: format added: "email"`},
	},
	{
		name:     "minimum increased, maximum added",
		old:      `{"type": "number", "minimum": 0}`,
		new:      `{"type": "number", "minimum": 5, "maximum": 100}`,
		backward: []string{"#: minimum increased from 0 to 5", "#: maximum added: 100"},
	},
	{
		name:     "minimum made exclusive",
		old:      `{"type": "number", "minimum": 0}`,
		new:      `{"type": "number", "exclusiveMinimum": 0}`,
		backward: []string{"#: exclusiveMinimum increased from >= 0 to > 0"},
	},
	{
		name: "draft 4 and draft 6 exclusiveMaximum are the same",
		old:  `{"$schema": "http://json-schema.org/draft-04/schema#", "type": "number", "maximum": 1.5, "exclusiveMaximum": true}`,
		new:  `{"$schema": "http://json-schema.org/draft-06/schema#", "type": "number", "exclusiveMaximum": 1.5}`,
	},
	{
		name:    "multipleOf",
		old:     `{"type": "number", "multipleOf": 0.5}`,
		new:     `{"type": "number", "multipleOf": 0.25}`,
		forward: []string{"#: multipleOf changed from 0.25 to 0.5"},
	},
	{
		name: "constraints of another type do not matter",
		old:  `{"type": "string"}`,
		new:  `{"type": "string", "minimum": 3, "minItems": 2, "required": ["a"]}`,
	},

	{
		name:     "property forbidden",
		old:      obj(`"a": {"type": "string"}`),
		new:      obj(`"a": false`),
		backward: []string{"#/properties/a: property forbidden (false schema) in the reader"},
	},
	{
		name:     "$ref with siblings (2019-09)",
		old:      `{"$schema": "https://json-schema.org/draft/2019-09/schema", "$defs": {"o": {"type": "object", "properties": {"a": {"type": "string"}}}}, "$ref": "#/$defs/o"}`,
		new:      `{"$schema": "https://json-schema.org/draft/2019-09/schema", "$defs": {"o": {"type": "object", "properties": {"a": {"type": "string"}}}}, "$ref": "#/$defs/o", "required": ["a"]}`,
		backward: []string{`#/required: property "a" became required`},
	},
	{
		name: "$ref siblings ignored before 2019-09",
		old:  `{"definitions": {"o": {"type": "object"}}, "$ref": "#/definitions/o"}`,
		new:  `{"definitions": {"o": {"type": "object"}}, "$ref": "#/definitions/o", "required": ["a"]}`,
	},

	// Nested objects.
	{
		name: "nested object changed",
		old:  obj(`"address": ` + obj(`"zip": {"type": "string"}, "city": {"type": "string"}`, closed)),
		new:  obj(`"address": ` + obj(`"zip": {"type": "integer"}, "city": {"type": "string"}`, closed, `"required": ["city"]`)),
		backward: []string{
			"#/properties/address/properties/zip: type changed from [string] to [integer]",
			"#/properties/address/properties/city: property became required",
		},
		forward: []string{"#/properties/address/properties/zip: type changed from [integer] to [string]"},
	},
	{
		name:    "definitions through $ref",
		old:     `{"definitions": {"m": {"type": "object", "properties": {"cents": {"type": "integer"}}}}, "type": "object", "properties": {"price": {"$ref": "#/definitions/m"}, "tax": {"$ref": "#/definitions/m"}}}`,
		new:     `{"definitions": {"m": {"type": "object", "properties": {"cents": {"type": "number"}}}}, "type": "object", "properties": {"price": {"$ref": "#/definitions/m"}, "tax": {"$ref": "#/definitions/m"}}}`,
		forward: []string{"#/properties/price/properties/cents: type narrowed from [number] to [integer]", "#/properties/tax/properties/cents: type narrowed from [number] to [integer]"},
	},
	{
		name:    "recursive schema",
		old:     `{"$defs": {"node": {"type": "object", "properties": {"value": {"type": "integer"}, "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}}, "$ref": "#/$defs/node"}`,
		new:     `{"$defs": {"node": {"type": "object", "properties": {"value": {"type": "number"}, "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}}, "$ref": "#/$defs/node"}`,
		forward: []string{"#/properties/value: type narrowed from [number] to [integer]"},
	},
	{
		name: "inlined definition is the same schema",
		old:  `{"definitions": {"s": {"type": "string", "maxLength": 3}}, "type": "object", "properties": {"a": {"$ref": "#/definitions/s"}}}`,
		new:  `{"type": "object", "properties": {"a": {"type": "string", "maxLength": 3}}}`,
	},

	// Arrays.
	{
		name:     "items type narrowed",
		old:      `{"type": "array", "items": {"type": ["string", "integer"]}}`,
		new:      `{"type": "array", "items": {"type": "string"}}`,
		backward: []string{"#/items: type narrowed from [integer string] to [string]"},
	},
	{
		name:     "items constrained",
		old:      `{"type": "array"}`,
		new:      `{"type": "array", "items": {"type": "string"}}`,
		backward: []string{"#/items: items narrowed: the writer's items were unconstrained"},
	},
	{
		name:     "array limits",
		old:      `{"type": "array", "items": {"type": "string"}, "maxItems": 10}`,
		new:      `{"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 5, "uniqueItems": true}`,
		backward: []string{"#: minItems added: 1", "#: maxItems decreased from 10 to 5", "#: uniqueItems added"},
	},
	{
		name:     "tuple item added to open tuple",
		old:      `{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "array", "prefixItems": [{"type": "string"}]}`,
		new:      `{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]}`,
		backward: []string{"#/prefixItems/1: item added to open content model: the writer may have written any value at this position"},
	},
	{
		name:     "tuple item removed from closed tuple",
		old:      `{"type": "array", "items": [{"type": "string"}, {"type": "integer"}], "additionalItems": false}`,
		new:      `{"type": "array", "items": [{"type": "string"}], "additionalItems": false}`,
		backward: []string{"#/items/1: item removed from closed content model"},
	},
	{
		name: "draft 7 tuple and draft 2020-12 tuple are the same",
		old:  `{"type": "array", "items": [{"type": "string"}], "additionalItems": {"type": "integer"}}`,
		new:  `{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "array", "prefixItems": [{"type": "string"}], "items": {"type": "integer"}}`,
	},

	// Combined schemas.
	{
		name:    "oneOf branch added",
		old:     `{"oneOf": [{"type": "string"}, {"type": "integer"}]}`,
		new:     `{"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "boolean"}]}`,
		forward: []string{"#/oneOf/2: oneOf narrowed: no branch of the reader's oneOf accepts all of the writer's schema", "#/oneOf/2: type changed from [boolean] to [string]"},
	},
	{
		name:     "anyOf branch removed",
		old:      `{"anyOf": [{"type": "string"}, {"type": "object", "properties": {"a": {"type": "string"}}}]}`,
		new:      `{"anyOf": [{"type": "string"}]}`,
		backward: []string{"#/anyOf/1: anyOf narrowed: no branch of the reader's anyOf accepts all of the writer's schema", "#/anyOf/1: type changed from [object] to [string]"},
	},
	{
		name: "anyOf branches reordered",
		old:  `{"anyOf": [{"type": "string"}, {"type": "integer"}]}`,
		new:  `{"anyOf": [{"type": "integer"}, {"type": "string"}]}`,
	},
	{
		name: "type union and anyOf are the same",
		old:  `{"type": ["string", "null"]}`,
		new:  `{"anyOf": [{"type": "string"}, {"type": "null"}]}`,
	},
	{
		name:    "schema becomes a union member",
		old:     `{"type": "string", "maxLength": 5}`,
		new:     `{"oneOf": [{"type": "string", "maxLength": 5}, {"type": "null"}]}`,
		forward: []string{"#/oneOf/1: type changed from [null] to [string]"},
	},
	{
		name: "nested union branch changed",
		old:  obj(`"v": {"oneOf": [{"type": "string"}, ` + obj(`"x": {"type": "integer"}`, closed) + `]}`),
		new:  obj(`"v": {"oneOf": [{"type": "string"}, ` + obj(`"x": {"type": "string"}`, closed) + `]}`),
		backward: []string{
			"#/properties/v/oneOf/1: oneOf narrowed: no branch of the reader's oneOf accepts all of the writer's schema",
			"#/properties/v/oneOf/1/properties/x: type changed from [integer] to [string]",
		},
		forward: []string{
			"#/properties/v/oneOf/1: oneOf narrowed: no branch of the reader's oneOf accepts all of the writer's schema",
			"#/properties/v/oneOf/1/properties/x: type changed from [string] to [integer]",
		},
	},
	{
		name:     "allOf constraint added",
		old:      `{"allOf": [{"type": "object", "properties": {"a": {"type": "string"}}}]}`,
		new:      `{"allOf": [{"type": "object", "properties": {"a": {"type": "string"}}}, {"required": ["a"]}]}`,
		backward: []string{`#/allOf/1/required: property "a" became required`},
	},
	{
		name:     "not",
		old:      `{"type": "string", "not": {"enum": ["x"]}}`,
		new:      `{"type": "string", "not": {"enum": ["x", "y"]}}`,
		backward: []string{"#/not: not changed (not analysed)"},
	},
	{
		name: "not excluding another type",
		old:  `{"type": "string"}`,
		new:  `{"type": "string", "not": {"type": "null"}}`,
	},

	// Keywords not analysed.
	{
		name: "if/then/else unchanged",
		old:  `{"type": "object", "if": {"properties": {"k": {"const": 1}}}, "then": {"required": ["a"]}}`,
		new:  `{"type": "object", "if": {"properties": {"k": {"const": 1}}}, "then": {"required": ["a"]}, "title": "t"}`,
	},
	{
		name:     "if/then/else changed",
		old:      `{"type": "object", "if": {"properties": {"k": {"const": 1}}}, "then": {"required": ["a"]}}`,
		new:      `{"type": "object", "if": {"properties": {"k": {"const": 1}}}, "then": {"required": ["b"]}}`,
		backward: []string{"#: if/then/else changed (not analysed)"},
		forward:  []string{"#: if/then/else changed (not analysed)"},
	},
	{
		name:     "if/then/else added",
		old:      `{"type": "object"}`,
		new:      `{"type": "object", "if": {"required": ["k"]}, "then": {"required": ["a"]}}`,
		backward: []string{"#: if/then/else added (not analysed)"},
	},
	{
		name:     "dependentSchemas and propertyNames",
		old:      `{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"}`,
		new:      `{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "dependentSchemas": {"a": {"required": ["b"]}}, "propertyNames": {"maxLength": 8}}`,
		backward: []string{"#/propertyNames: propertyNames added (not analysed)", "#/dependentSchemas/a: dependentSchemas added (not analysed)"},
	},
	{
		name:     "contains",
		old:      `{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "array", "contains": {"type": "string"}}`,
		new:      `{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "array", "contains": {"type": "string"}, "minContains": 2}`,
		backward: []string{"#/contains: contains changed (not analysed)"},
	},

	// Annotations are not changes.
	{
		name: "annotations",
		old:  `{"title": "a", "description": "b", "type": "string", "default": "x", "examples": ["y"], "$comment": "c"}`,
		new:  `{"title": "A", "description": "B", "type": "string", "default": "z"}`,
	},
}

// numbers lists the integers from..to-1 as JSON.
func numbers(from, to int) string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprint(i))
	}
	return strings.Join(out, ", ")
}

func TestCompatible(t *testing.T) {
	f := Format()
	for _, tc := range compatCases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			old := mustParse(t, tc.old, nil)
			neu := mustParse(t, tc.new, nil)
			if got := f.Compatible(neu, old); !equalStrings(got, tc.backward) {
				t.Errorf("backward: Compatible(new, old)\n got %q\nwant %q", got, tc.backward)
			}
			if got := f.Compatible(old, neu); !equalStrings(got, tc.forward) {
				t.Errorf("forward: Compatible(old, new)\n got %q\nwant %q", got, tc.forward)
			}
			// A schema is compatible with itself, parsed twice.
			for _, text := range []string{tc.old, tc.new} {
				if got := f.Compatible(mustParse(t, text, nil), mustParse(t, text, nil)); len(got) > 0 {
					t.Errorf("%s not compatible with itself: %q", text, got)
				}
			}
		})
	}
}

func TestCompatibleForeign(t *testing.T) {
	f := Format()
	p := mustParse(t, `{}`, nil)
	if got := f.Compatible(foreign{}, p); len(got) != 1 || !strings.Contains(got[0], "not a JSON schema") {
		t.Errorf("foreign reader: %q", got)
	}
	if got := f.Compatible(p, foreign{}); len(got) != 1 || !strings.Contains(got[0], "not a JSON schema") {
		t.Errorf("foreign writer: %q", got)
	}
}

// Past its step budget the checker answers "incompatible" rather than
// keep going.
func TestCompatibleBudget(t *testing.T) {
	text := obj(`"a": {"type": "string"}, "b": {"type": "string"}, "c": {"type": "string"}`)
	a := mustParse(t, text, nil).(*parsed)
	b := mustParse(t, text, nil).(*parsed)
	c := newChecker()
	c.budget = 2
	got := render(c.check(node{s: a.compiled}, node{s: b.compiled}))
	if len(got) == 0 || !strings.Contains(got[0], "too large or too branched") {
		t.Errorf("over budget: %q", got)
	}
	if got := render(newChecker().check(node{s: a.compiled}, node{s: b.compiled})); len(got) > 0 {
		t.Errorf("within budget: %q", got)
	}
}

// A recursive union is matched branch by branch at every level without
// blowing up: pairs met again are assumed compatible, the rest memoized.
func TestCompatibleRecursiveUnion(t *testing.T) {
	var props []string
	for i := range 16 {
		props = append(props, fmt.Sprintf(`"p%d": {"$ref": "#/$defs/n"}`, i))
	}
	text := `{"$defs": {"n": {"anyOf": [
		{"type": "object", "properties": {` + strings.Join(props, ", ") + `}},
		{"type": "array", "items": {"$ref": "#/$defs/n"}},
		{"type": "string", "maxLength": 5}
	]}}, "$ref": "#/$defs/n"}`
	a := mustParse(t, text, nil).(*parsed)
	b := mustParse(t, strings.Replace(text, `"maxLength": 5`, `"maxLength": 4`, 1), nil).(*parsed)
	c := newChecker()
	got := render(c.check(node{s: a.compiled}, node{s: b.compiled}))
	want := []string{
		"#/anyOf/2: anyOf narrowed: no branch of the reader's anyOf accepts all of the writer's schema",
		"#/anyOf/2: maxLength decreased from 5 to 4",
	}
	if !equalStrings(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if c.steps > 1000 {
		t.Errorf("%d steps for a 20-node schema", c.steps)
	}
}
