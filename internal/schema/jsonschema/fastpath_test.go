package jsonschema

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"testing"

	jsv "github.com/santhosh-tekuri/jsonschema/v6"
)

// fastCorpus are schemas the fast path compiles whole, one per feature of
// its subset and per draft. The differential tests and
// FuzzValidateDifferential validate documents against each with the fast
// path and with the library alone.
var fastCorpus = []string{
	benchEventSchema,
	// Draft 7 (the default): formats are asserted.
	`{
		"type": "object",
		"properties": {
			"id":       {"type": "string", "minLength": 1, "maxLength": 8},
			"amount":   {"type": "number", "minimum": 0, "exclusiveMaximum": 1e6},
			"currency": {"enum": ["EUR", "USD", "é", "a\"b"]},
			"items":    {"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 3},
			"email":    {"type": "string", "format": "email"},
			"when":     {"format": "date-time"},
			"uuid":     {"type": ["string", "null"], "format": "uuid"},
			"re":       {"format": "regex"},
			"zip":      {"type": "string", "pattern": "^[0-9]{5}$"},
			"a/b":      {"type": "boolean"},
			"":         {"type": "null"},
			"nested":   {"type": "object", "properties": {"x": {"type": "integer", "maximum": 10}}, "required": ["x"], "additionalProperties": {"type": "string"}}
		},
		"required": ["id", "amount"],
		"additionalProperties": false
	}`,
	// Numbers: integer, bounds with fractions and exponents, multipleOf.
	`{
		"type": "object",
		"properties": {
			"i":   {"type": "integer"},
			"n":   {"type": "number", "minimum": -1.5e-3, "maximum": 12.25},
			"x":   {"exclusiveMinimum": 0, "exclusiveMaximum": 1},
			"c":   {"multipleOf": 0.01},
			"m":   {"type": "integer", "multipleOf": 3, "minimum": 1e2},
			"t":   {"multipleOf": 7.5},
			"s":   {"multipleOf": 1e-8, "maximum": 1e300},
			"big": {"maximum": 123456789012345678901234567890},
			"k":   {"const": 1.0},
			"e":   {"enum": [1, 2.5, 1e2, -0, "1", null, true]}
		}
	}`,
	// Draft 4: boolean exclusiveMinimum / exclusiveMaximum.
	`{
		"$schema": "http://json-schema.org/draft-04/schema#",
		"type": "object",
		"properties": {
			"p": {"type": "integer", "minimum": 0, "exclusiveMinimum": true, "maximum": 100, "exclusiveMaximum": true},
			"q": {"type": "number", "multipleOf": 0.5},
			"f": {"type": "string", "format": "ipv4"}
		},
		"required": ["p"]
	}`,
	// Draft 6: const, exclusive bounds as numbers, tuples.
	`{
		"$schema": "http://json-schema.org/draft-06/schema#",
		"type": "array",
		"items": [{"const": "head"}, {"type": "integer", "exclusiveMinimum": 0}],
		"additionalItems": false
	}`,
	// Draft 2019-09: format is an annotation; tuple with additionalItems
	// schema.
	`{
		"$schema": "https://json-schema.org/draft/2019-09/schema",
		"type": ["object", "array"],
		"properties": {"mail": {"type": "string", "format": "email"}, "d": {"format": "date"}},
		"items": [{"type": "string"}],
		"additionalItems": {"type": "number"}
	}`,
	// Draft 2020-12: prefixItems and items.
	`{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"type": "object",
		"properties": {
			"pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "number"}], "items": false},
			"list": {"type": "array", "items": {"type": "string", "maxLength": 2}},
			"mail": {"format": "email"}
		},
		"additionalProperties": {"type": ["integer", "boolean"]}
	}`,
	// Strings: code points, patterns over Unicode, enum of mixed scalars.
	`{
		"type": "object",
		"properties": {
			"s": {"type": "string", "minLength": 2, "maxLength": 3},
			"l": {"type": "string", "pattern": "^\\p{L}+$"},
			"e": {"type": "string", "pattern": "é|\\x{FFFD}|\\n"},
			"v": {"enum": ["a", "", "\u0000", "\ud83d\ude00", "\ufffd", 0, false]},
			"c": {"const": "x\ny"}
		},
		"additionalProperties": {"type": "string", "maxLength": 1}
	}`,
	// Required names that are not declared, open and closed.
	`{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a", "b"]}`,
	`{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["b"], "additionalProperties": false}`,
	`{"type": "object", "required": ["b", "c"], "additionalProperties": {"type": "string"}}`,
	// Boolean subschemas and nesting.
	`{"type": "object", "properties": {"no": false, "yes": true, "deep": {"type": "array", "items": {"type": "array", "items": {"type": "object", "properties": {"z": {"type": "null"}}}}}}}`,
	// Nullable unions via type arrays; many properties (hashed lookup).
	`{
		"type": "object",
		"properties": {
			"p01": {"type": ["string", "null"]}, "p02": {"type": ["integer", "null"]}, "p03": {"type": ["number", "string"]},
			"p04": {"type": "boolean"}, "p05": {"type": "integer"}, "p06": {"type": "string"}, "p07": {"type": "number"},
			"p08": {"type": "array"}, "p09": {"type": "object"}, "p10": {"type": "null"}, "p11": {"type": ["array", "object"]}
		},
		"required": ["p01", "p10"],
		"additionalProperties": false
	}`,
	// Combinations: integer with values and bounds, exclusive bounds on
	// negatives, empty strings, substring patterns, closed objects and
	// arrays, extreme numbers, property names needing escapes.
	`{
		"type": "object",
		"properties": {
			"i":  {"type": "integer", "enum": [1, 2.0, 3e0, 4.5], "exclusiveMaximum": 3},
			"j":  {"type": ["integer", "null"], "const": 0},
			"n":  {"type": "number", "exclusiveMinimum": -10.5, "maximum": -0.0},
			"z":  {"type": "string", "maxLength": 0},
			"p":  {"type": "string", "pattern": "b+"},
			"x":  {"enum": [1e400, 1e-400, -1e-400, 123456789012345678901234567890.5]},
			"é":  {"type": "boolean"},
			"a\\b\"c\u0000": {"type": "null"},
			"o":  {"type": "object", "additionalProperties": false},
			"q":  {"type": "object", "additionalProperties": {"type": "object", "additionalProperties": {"type": "integer"}}},
			"m":  {"multipleOf": 0.0001, "minimum": 1e-3},
			"u":  {"multipleOf": 1e20}
		}
	}`,
	`{
		"$schema": "http://json-schema.org/draft-04/schema#",
		"type": ["integer", "string"],
		"minimum": -5, "exclusiveMinimum": true, "maximum": 5,
		"minLength": 1, "maxLength": 2, "enum": [-5, -4, 0, 5, 6, "a", "bb", "ccc", ""]
	}`,
	`{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"type": "array",
		"prefixItems": [true, false],
		"minItems": 0, "maxItems": 2
	}`,
	`{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"type": "array",
		"items": false
	}`,
	`{"items": {"items": {"type": "number", "maximum": 1}}, "type": "array"}`,
	`{}`,
	`true`,
	`false`,
	`{"type": "integer"}`,
	`{"type": "string", "format": "date-time"}`,
	`{"enum": [null, true, false, 0.5, "x"]}`,
}

// fastDocuments are payloads every schema of fastCorpus validates; the
// fuzz target starts from them.
var fastDocuments = []string{
	// bench events
	string(benchEventPayload(7, 200)),
	`{"id":1,"user_id":"u","type":"t","amount":1.5,"ts":"x","pad":""}`,
	`{"id":1.0,"user_id":"u","type":"t","amount":1,"ts":"x","pad":""}`,
	`{"id":1.5,"user_id":"u","type":"t","amount":1,"ts":"x","pad":""}`,
	`{"id":1e2,"user_id":"u","type":"t","amount":1,"ts":"x","pad":""}`,
	`{"id":1,"user_id":"u","type":"t","amount":1,"ts":"x"}`,
	`{"id":1,"user_id":"u","type":"t","amount":1,"ts":"x","pad":"","extra":0}`,
	`{"id":1,"user_id":"u","type":"t","amount":"1","ts":"x","pad":""}`,
	`{"id":1,"user_id":"u","type":"t","amount":1,"ts":"x","pad":"","pad":""}`,
	`{"id":1,"user_id":"u","type":"t","amount":1,"ts":"x","pad":7,"pad":""}`,
	`{"id":1,"user_id":"u","type":"t","amount":1,"ts":"x","pad":"","\u0070ad":"y"}`,
	`{"id":1,"user_id":"u\u00e9\n\"","type":"t","amount":-0.0,"ts":"x","pad":"\ud83d\ude00\ud800"}`,
	// order-like
	`{"id": "o1", "amount": 12.5}`,
	`{"id": "o1", "amount": 0, "currency": "EUR", "items": [1, 2], "email": "a@b.c", "when": "2024-05-01T12:34:56Z"}`,
	`{"id": "o1", "amount": 1, "currency": "\u00e9", "a/b": true, "": null, "zip": "69002"}`,
	`{"id": "o1", "amount": 1, "currency": "a\"b", "uuid": null, "re": "^a+$"}`,
	`{"id": "o1", "amount": 1, "uuid": "3f1c5a9e-8b2d-4c6e-9a7f-1b2c3d4e5f60", "re": "("}`,
	`{"id": "", "amount": 1}`,
	`{"id": "123456789", "amount": 1}`,
	`{"id": "éééééééé", "amount": 1}`,
	`{"id": "o1", "amount": 1e6}`,
	`{"id": "o1", "amount": 999999.999999}`,
	`{"id": "o1", "amount": -1e-400}`,
	`{"id": "o1", "amount": 1, "items": []}`,
	`{"id": "o1", "amount": 1, "items": [1, 2, 3, 4]}`,
	`{"id": "o1", "amount": 1, "items": [1, 2.0, 3e0]}`,
	`{"id": "o1", "amount": 1, "email": "nope"}`,
	`{"id": "o1", "amount": 1, "when": "yesterday"}`,
	`{"id": "o1", "amount": 1, "when": 7}`,
	`{"id": "o1", "amount": 1, "zip": "6900"}`,
	`{"id": "o1", "amount": 1, "nested": {"x": 10, "y": "s"}}`,
	`{"id": "o1", "amount": 1, "nested": {"x": 10.5}}`,
	`{"id": "o1", "amount": 1, "nested": {"y": "s"}}`,
	`{"id": "o1", "amount": 1, "nested": {"x": 1, "y": 2}}`,
	// numbers
	`{"i": 9007199254740993, "n": 12.25, "x": 0.5, "c": 19.99, "m": 300, "t": 22.5, "s": 0.00000003, "k": 1}`,
	`{"n": 12.2500000000000000000001}`,
	`{"n": -0.0015}`,
	`{"n": -0.00150000000000000000001}`,
	`{"n": 1.225e1}`,
	`{"x": 0}`,
	`{"x": 1}`,
	`{"x": 1e-400}`,
	`{"c": 19.999}`,
	`{"c": 1e-2}`,
	`{"c": 12345678901234567890.01}`,
	`{"m": 99}`,
	`{"m": 3e2}`,
	`{"m": 3.0e2}`,
	`{"m": 301}`,
	`{"t": 15}`,
	`{"t": -7.5e1}`,
	`{"t": 7.4}`,
	`{"s": 1e300}`,
	`{"s": 1.00000001e300}`,
	`{"big": 123456789012345678901234567890}`,
	`{"big": 123456789012345678901234567891}`,
	`{"k": 1}`,
	`{"k": 1.00}`,
	`{"k": 10e-1}`,
	`{"k": 2}`,
	`{"e": 100}`,
	`{"e": 0}`,
	`{"e": -0.0}`,
	`{"e": 2.50}`,
	`{"e": "1"}`,
	`{"e": 1.1}`,
	`{"e": null}`,
	`{"e": false}`,
	`{"i": 1e400}`,
	`{"i": 1e401}`,
	`{"i": 1E+0400}`,
	`{"i": 1e-0401}`,
	`{"i": ` + strings.Repeat("1", 256) + `}`,
	`{"i": ` + strings.Repeat("1", 257) + `}`,
	`{"z": ` + strings.Repeat("1", 257) + `, "z": 1}`,
	// draft 4 and 6
	`{"p": 0}`,
	`{"p": 1, "q": 1.5, "f": "1.2.3.4"}`,
	`{"p": 100}`,
	`{"p": 99, "q": 0.25}`,
	`{"p": 5, "f": "1.2.3"}`,
	`["head", 1]`,
	`["head", 0]`,
	`["head"]`,
	`["head", 1, 2]`,
	`["tail", 1]`,
	`[]`,
	// 2019-09, 2020-12
	`{"mail": "not an email", "d": "not a date"}`,
	`["a", 1, 2.5]`,
	`["a", "b"]`,
	`{"pair": ["a", 1], "list": ["ab", ""], "other": 1, "more": true}`,
	`{"pair": ["a", 1, 2]}`,
	`{"pair": ["a"], "list": ["abc"]}`,
	`{"pair": [1, 1]}`,
	`{"other": 1.5}`,
	// strings
	`{"s": "éé", "l": "Ünïcödé", "e": "xéx", "v": "\ud83d\ude00", "c": "x\ny"}`,
	`{"s": "\u00e9\u00e9\u00e9"}`,
	`{"s": "\ud83d\ude00\ud83d\ude00"}`,
	`{"s": "a"}`,
	`{"s": "abcd"}`,
	`{"l": "abc1"}`,
	`{"l": ""}`,
	`{"e": "\n"}`,
	`{"e": "abc"}`,
	`{"v": ""}`,
	`{"v": "\u0000"}`,
	`{"v": "\ud83d"}`,
	`{"v": "\ufffd"}`,
	`{"v": 0.0}`,
	`{"v": false}`,
	`{"v": "b"}`,
	`{"c": "x\u000ay"}`,
	`{"c": "xy"}`,
	`{"o": "é"}`,
	`{"o": "éé"}`,
	`{"o": "\ud800"}`,
	`{"\u006f": 1}`,
	// required, boolean subschemas, nesting
	`{"a": 1, "b": null}`,
	`{"a": 1}`,
	`{"b": 1}`,
	`{"b": "x", "c": "y"}`,
	`{"b": "x", "c": 1}`,
	`{"yes": [1, {"a": null}], "deep": [[{"z": null}], []]}`,
	`{"no": 1}`,
	`{"deep": [[{"z": 0}]]}`,
	// unions
	`{"p01": null, "p10": null, "p02": 3, "p03": "x", "p04": true, "p05": -2, "p06": "", "p07": 0.5, "p08": [], "p09": {}, "p11": []}`,
	`{"p01": "s", "p10": null, "p02": null, "p03": 1.5}`,
	`{"p01": 1, "p10": null}`,
	`{"p10": null}`,
	`{"p01": null, "p10": null, "p02": 1.5}`,
	`{"p01": null, "p10": null, "p12": 1}`,
	// combinations
	`{"i": 1, "j": 0, "n": -0.0, "z": "", "p": "abba", "é": true, "a\\b\"c\u0000": null, "o": {}}`,
	`{"i": 2.0, "j": null, "n": -10.4999, "p": "b"}`,
	`{"i": 3}`, `{"i": 4.5}`, `{"j": 0.0}`, `{"j": 1}`, `{"n": -10.5}`, `{"n": 1e-400}`, `{"z": "a"}`, `{"p": "aaa"}`,
	`{"x": 1e+400}`, `{"x": 10e399}`, `{"x": 1e-400}`, `{"x": -0.0001e-396}`, `{"x": 123456789012345678901234567890.50}`, `{"x": 0}`,
	`{"\u00e9": 1}`, `{"\u00e9": false}`, `{"a\u005cb\u0022c\u0000": null}`, `{"a\\b\"c\u0000": 1}`,
	`{"o": {"a": 1}}`, `{"q": {"a": {"b": 1}}}`, `{"q": {"a": {"b": 1.5}}}`, `{"q": {"a": 1}}`,
	`{"m": 0.0011}`, `{"m": 0.00111}`, `{"m": 0.0009}`, `{"m": 12345.6789}`, `{"u": 1e20}`, `{"u": 3e40}`, `{"u": 1e19}`, `{"u": 100000000000000000000}`,
	`-4`, `-5`, `5`, `6`, `-4.0`, `"a"`, `"bb"`, `"ccc"`, `""`, `4`,
	`[true]`, `[true, 1]`, `[1, 2, 3]`, `[[0.5, 1], [2]]`, `[[[1]]]`,
	// plain values
	`0`, `-0`, `1.5`, `-1e-5`, `12`, `"x"`, `"2024-05-01T12:34:56Z"`, `null`, `true`, `false`, `0.5`, `{}`, `[[]]`,
	// grammar
	``, ` `, `{`, `}`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[,1]`, `{,}`, `{"a":1 "b":2}`, `{'a':1}`, `{a:1}`,
	`01`, `-`, `-01`, `1.`, `.5`, `1e`, `1e+`, `+1`, `0x10`, `1.5e3.2`, `NaN`, `Infinity`, `tru`, `nulls`, `true false`,
	`"abc`, `"a\x"`, `"\u12"`, `"\u12G4"`, `"a` + "\x00" + `"`, `"tab	tab"`, `"` + "\xff\xfe" + `"`, `"` + "\xc3\xa9" + `"`,
	`{"id": "o1"} {}`, `{} `, " \t\r\n{}\n ", "\ufeff{}", `{}x`, `[] ]`, `1 2`, `"a" "b"`,
	strings.Repeat("[", 1001) + strings.Repeat("]", 1001),
	strings.Repeat(`{"a":`, 1200) + `1` + strings.Repeat(`}`, 1200),
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
}

// parsedCorpus parses fastCorpus once.
var parsedCorpus = sync.OnceValue(func() []*parsed {
	out := make([]*parsed, len(fastCorpus))
	for i, text := range fastCorpus {
		p, err := Format().Parse(text, nil)
		if err != nil {
			panic(err)
		}
		out[i] = p.(*parsed)
	}
	return out
})

// checkAgainstLibrary fails t when the fast path's verdict on payload
// contradicts the library's: an accepted payload the library refuses, or
// a rejected one it accepts (only possible with a repeated key, where
// encoding/json keeps the last value). It returns the verdict.
func checkAgainstLibrary(t testing.TB, d *parsed, schemaText string, payload []byte) verdict {
	t.Helper()
	if d.fast == nil {
		return undecided
	}
	v := validateFast(d.fast, payload)
	f := libraryFailure(d, payload)
	switch {
	case v == accepted && f != nil:
		t.Fatalf("fast path accepts what the library refuses (%v)\nschema:  %s\npayload: %q", f, schemaText, payload)
	case v == rejected && f == nil && !hasRepeatedKey(payload):
		t.Fatalf("fast path refuses what the library accepts\nschema:  %s\npayload: %q", schemaText, payload)
	}
	if got, err := FirstFailure(d, payload); err != nil || (got == nil) != (f == nil) || (got != nil && *got != *f) {
		t.Fatalf("FirstFailure = %v, %v; the library alone says %v\nschema:  %s\npayload: %q", got, err, f, schemaText, payload)
	}
	return v
}

// hasRepeatedKey reports whether payload, valid JSON, repeats a key in an
// object, by encoding/json's decoding of keys.
func hasRepeatedKey(payload []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber() // 1e1000 is no float64, but a fine token
	type frame struct {
		keys     map[string]bool
		isObject bool
		wantKey  bool
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		top := len(stack) - 1
		if top >= 0 && stack[top].isObject && stack[top].wantKey {
			if key, ok := tok.(string); ok {
				if stack[top].keys[key] {
					return true
				}
				stack[top].keys[key] = true
				stack[top].wantKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{keys: map[string]bool{}, isObject: true, wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:top]
			top--
		}
		if top >= 0 && stack[top].isObject {
			stack[top].wantKey = true // a value ended
		}
	}
}

func TestFastPathAgainstLibrary(t *testing.T) {
	counts := map[verdict]int{}
	for i, d := range parsedCorpus() {
		if d.fast == nil {
			t.Fatalf("corpus schema %d is not compiled: %s", i, fastCorpus[i])
		}
		if why := fallbackIn(d.fast); why != "" {
			t.Fatalf("corpus schema %d has a fallback (%s): %s", i, why, fastCorpus[i])
		}
		for _, doc := range fastDocuments {
			counts[checkAgainstLibrary(t, d, fastCorpus[i], []byte(doc))]++
		}
	}
	t.Logf("verdicts: %v", counts)
	if counts[accepted] < 100 || counts[rejected] < 100 {
		t.Errorf("the table exercises too little: %v", counts)
	}
}

// fallbackIn returns the reason of the first fallback node under n.
func fallbackIn(n *fastNode) string {
	if n.fallback {
		return n.reason
	}
	children := append([]*fastNode{n.additional, n.rest}, n.prefix...)
	for _, e := range n.entries {
		children = append(children, e.node)
	}
	for _, c := range children {
		if c != nil && c != n {
			if why := fallbackIn(c); why != "" {
				return why
			}
		}
	}
	return ""
}

// TestFastPathVerdicts pins the fast path's own verdict where it matters:
// what it must decide itself and what it must leave to the library.
func TestFastPathVerdicts(t *testing.T) {
	for _, tc := range []struct {
		schema, payload string
		want            verdict
	}{
		{benchEventSchema, string(benchEventPayload(1, 200)), accepted},
		{benchEventSchema, `{"id":1,"user_id":"u","type":"t","amount":1,"ts":"x"}`, rejected},
		{benchEventSchema, `{"id":1,"user_id":"u","type":"t","amount":1,"ts":"x","pad":"","x":1}`, rejected},
		{benchEventSchema, `{"id":1,"user_id":"u","type":"t","amount":1,"ts":"x","pad":""} x`, rejected},
		// orderSchema: the "customer" $ref and the "note" anyOf are left
		// to the library, the rest is decided here.
		{orderSchema, `{"id": "o1", "amount": 1, "items": [1]}`, accepted},
		{orderSchema, `{"id": "o1", "amount": -1, "customer": {}}`, rejected},
		{orderSchema, `{"id": "o1", "amount": 1, "customer": {"email": "a@b.c"}}`, undecided},
		{orderSchema, `{"id": "o1", "amount": 1, "note": null}`, undecided},
		{`{"type": "array", "uniqueItems": true}`, `[]`, undecided},
		{`{"multipleOf": 3}`, `123456789012345678901234567890`, undecided},
		{`{}`, strings.Repeat("[", maxFastDepth+1) + strings.Repeat("]", maxFastDepth+1), undecided},
		{`{}`, strings.Repeat("[", maxFastDepth) + strings.Repeat("]", maxFastDepth), accepted},
	} {
		d := mustParse(t, tc.schema, nil).(*parsed)
		got := undecided
		if d.fast != nil {
			got = validateFast(d.fast, []byte(tc.payload))
		}
		if got != tc.want {
			t.Errorf("%s\n on %.60q: %v, want %v", tc.schema, tc.payload, got, tc.want)
		}
		checkAgainstLibrary(t, d, tc.schema, []byte(tc.payload))
	}
}

// TestFastPathFallbacks: schemas using keywords outside the subset are
// left to the library where they use them.
func TestFastPathFallbacks(t *testing.T) {
	for _, tc := range []struct{ schema, reason string }{
		{`{"$ref": "#/definitions/a", "definitions": {"a": {}}}`, "$ref"},
		{`{"allOf": [{}]}`, "allOf"},
		{`{"anyOf": [{}]}`, "anyOf"},
		{`{"oneOf": [{}]}`, "oneOf"},
		{`{"not": {}}`, "not"},
		{`{"if": {}, "then": {}}`, "if/then/else"},
		{`{"minProperties": 1}`, "minProperties"},
		{`{"maxProperties": 1}`, "maxProperties"},
		{`{"patternProperties": {"a": {}}}`, "patternProperties"},
		{`{"propertyNames": {"maxLength": 3}}`, "propertyNames"},
		{`{"dependencies": {"a": ["b"]}}`, "dependencies"},
		{`{"uniqueItems": true}`, "uniqueItems"},
		{`{"contains": {}}`, "contains"},
		{`{"$schema": "https://json-schema.org/draft/2020-12/schema", "unevaluatedProperties": false}`, "unevaluatedProperties"},
		{`{"$schema": "https://json-schema.org/draft/2019-09/schema", "dependentRequired": {"a": ["b"]}}`, "dependentRequired"},
		{`{"const": {"a": 1}}`, "const: a value of type map[string]interface {}"},
		{`{"enum": [[1]]}`, "enum: a value of type []interface {}"},
		{`{"multipleOf": 0.12345678901234567890123}`, "multipleOf 12345678901234567890123/100000000000000000000000"},
		{`{"format": "unknown-format", "properties": {"a": {"not": {}}}}`, ""},
	} {
		d := mustParse(t, tc.schema, nil).(*parsed)
		why := ""
		if d.fast == nil {
			why = compileFast(d.compiled).reason
		} else {
			why = fallbackIn(d.fast)
			if tc.reason == "" && why != "not" {
				t.Errorf("%s: fallback %q, want one at /properties/a", tc.schema, why)
			}
			continue
		}
		if why != tc.reason {
			t.Errorf("%s: fallback %q, want %q", tc.schema, why, tc.reason)
		}
	}
}

// TestFastSchemaFields: every field of the library's Schema is either
// compiled, refused by unsupportedKeyword, or without effect on
// validation. A library upgrade that adds a field fails here until it is
// classified.
func TestFastSchemaFields(t *testing.T) {
	known := map[string]string{
		// compiled
		"Bool": "compiled", "Types": "compiled", "Enum": "compiled", "Const": "compiled", "Format": "compiled",
		"Required": "compiled", "Properties": "compiled", "AdditionalProperties": "compiled",
		"MinItems": "compiled", "MaxItems": "compiled", "Items": "compiled", "AdditionalItems": "compiled",
		"PrefixItems": "compiled", "Items2020": "compiled", "MinLength": "compiled", "MaxLength": "compiled",
		"Pattern": "compiled", "Maximum": "compiled", "Minimum": "compiled", "ExclusiveMaximum": "compiled",
		"ExclusiveMinimum": "compiled", "MultipleOf": "compiled", "DraftVersion": "compiled",
		// refused
		"Ref": "refused", "RecursiveRef": "refused", "DynamicRef": "refused", "Not": "refused", "AllOf": "refused",
		"AnyOf": "refused", "OneOf": "refused", "If": "refused", "Then": "refused", "Else": "refused",
		"MaxProperties": "refused", "MinProperties": "refused", "PropertyNames": "refused",
		"PatternProperties": "refused", "Dependencies": "refused", "DependentRequired": "refused",
		"DependentSchemas": "refused", "UnevaluatedProperties": "refused", "UniqueItems": "refused",
		"Contains": "refused", "MinContains": "refused", "MaxContains": "refused", "UnevaluatedItems": "refused",
		"ContentEncoding": "refused", "ContentMediaType": "refused", "ContentSchema": "refused",
		"Extensions": "refused",
		// identifiers, only used through references (refused)
		"Location": "none", "ID": "none", "Anchor": "none", "RecursiveAnchor": "none", "DynamicAnchor": "none",
		// annotations
		"Title": "none", "Description": "none", "Default": "none", "Comment": "none", "ReadOnly": "none",
		"WriteOnly": "none", "Examples": "none", "Deprecated": "none",
	}
	typ := reflect.TypeFor[jsv.Schema]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.IsExported() && known[f.Name] == "" {
			t.Errorf("jsonschema.Schema.%s is new: compile it, refuse it in unsupportedKeyword, or list it as without effect", f.Name)
		}
	}
}

func TestFastPathAllocations(t *testing.T) {
	d := mustParse(t, benchEventSchema, nil)
	payload := benchEventPayload(99, 200)
	if n := testing.AllocsPerRun(100, func() {
		if err := (format{}).Validate(d, payload); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations per valid event, want 0", n)
	}
}

func TestUnquoteInto(t *testing.T) {
	for _, raw := range []string{
		`plain`, `a\"b\\c\/d\be\ff\ng\rh\ti`, `\u00e9\u0000\uFFFD`, `\ud83d\ude00`, `\ud83d`, `\ude00\ud83d`,
		`\ud83dx`, `\ud83d\u0041`, `\ud83d\ud83d\ude00`, `\ud83d\\u0041`, "\xff\xc3(\xe2\x82", "ok\xc3\xa9",
	} {
		var want string
		if err := json.Unmarshal([]byte(`"`+raw+`"`), &want); err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		if got := string(unquoteInto(nil, []byte(raw))); got != want {
			t.Errorf("unquoteInto(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestDecimal(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"0", "-0", 0}, {"0.0", "0e5", 0}, {"1", "1.0", 0}, {"10", "1e1", 0}, {"0.19", "0.2", -1}, {"0.1", "0.12", -1},
		{"-1", "1", -1}, {"-2", "-1", -1}, {"1e-400", "0", 1}, {"123.456e2", "12345.6", 0}, {"99", "100", -1},
		{"0.00150", "15e-4", 0}, {"-0.0015", "-0.00150000000000000000001", 1},
	} {
		var ba, bb [maxNumberText]byte
		got := decimalOf([]byte(tc.a), &ba).cmp(decimalOf([]byte(tc.b), &bb))
		if got != tc.want {
			t.Errorf("cmp(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// FuzzValidateDifferential validates fuzzed payloads against the
// schemas of fastCorpus with the fast path and with the library alone:
// the verdicts must agree.
func FuzzValidateDifferential(f *testing.F) {
	for i := range fastCorpus {
		for _, doc := range fastDocuments {
			if len(doc) < 1000 {
				f.Add(uint8(i), []byte(doc))
			}
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, payload []byte) {
		i := int(which) % len(fastCorpus)
		checkAgainstLibrary(t, parsedCorpus()[i], fastCorpus[i], payload)
	})
}
