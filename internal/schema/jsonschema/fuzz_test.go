package jsonschema

import (
	"testing"
)

// FuzzParseCompatible parses arbitrary text; whatever parses must not
// make Compatible panic, must be compatible with itself (parsed a second
// time, so no pointer is shared), and must validate a payload from the
// same corpus with the fast path as the library does.
func FuzzParseCompatible(f *testing.F) {
	for _, tc := range compatCases {
		f.Add(tc.old, tc.new)
	}
	f.Add(orderSchema, `{"id": "o1", "amount": 1}`)
	f.Add(`{"$ref": "#"}`, `1`)
	f.Add(`{"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}`, `{}`)
	f.Add(`{"enum": [1, 1.0, 1e2, 100]}`, `100`)
	f.Add(`{"$schema": "http://json-schema.org/draft-04/schema#", "minimum": 1, "exclusiveMinimum": true}`, `1`)
	f.Add(`{"$schema": "https://json-schema.org/draft/2019-09/schema", "$recursiveAnchor": true, "type": "object", "properties": {"c": {"$recursiveRef": "#"}}}`, `{"c": {}}`)
	f.Add(`{"$schema": "https://json-schema.org/draft/2020-12/schema", "$dynamicAnchor": "n", "type": "object", "properties": {"c": {"$dynamicRef": "#n"}}, "unevaluatedProperties": false}`, `{"c": {}}`)
	f.Add(`{"$schema": "https://json-schema.org/draft/2019-09/schema", "$ref": "#/$defs/a", "minProperties": 1, "$defs": {"a": {"type": "object"}}}`, `{}`)

	format := Format()
	f.Fuzz(func(t *testing.T, text, other string) {
		a, err := format.Parse(text, nil)
		if err != nil {
			return
		}
		again, err := format.Parse(text, nil)
		if err != nil {
			t.Fatalf("parsed once, not twice: %v", err)
		}
		if a.Canonical() != again.Canonical() {
			t.Fatalf("canonical form not stable: %s vs %s", a.Canonical(), again.Canonical())
		}
		if msgs := format.Compatible(again, a); len(msgs) > 0 {
			t.Fatalf("%s is not compatible with itself: %q", text, msgs)
		}
		// Whatever the schema, the fast path agrees with the library.
		checkAgainstLibrary(t, a.(*parsed), text, []byte(other))
		if b, err := format.Parse(other, nil); err == nil {
			format.Compatible(a, b)
			format.Compatible(b, a)
		}
	})
}
