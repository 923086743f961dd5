package avro

import (
	"errors"
	"strings"
	"sync"
	"testing"

	hamba "github.com/hamba/avro/v2"

	"github.com/tide-data/tide/internal/schema"
)

func TestParseInvalid(t *testing.T) {
	cases := []struct {
		name, text, want string
	}{
		{"empty", ``, "the text ends inside the schema"},
		{"unterminated", `{"type":"record","name":"A","fields":[]`, "the text ends inside the schema"},
		{"syntax", "{\"type\":\n \"record\",,}", "line 2, column 11"},
		{"not JSON", `int`, "line 1, column 1"},
		{"two values", `"int" "long"`, "text after the schema"},
		{"unknown type", `"strnig"`, "unknown type: strnig"},
		{"unknown type in field", record("A", `{"name":"a","type":"Money"}`), "unknown type: Money"},
		{"record without fields", `{"type":"record","name":"A"}`, "record must have an array of fields"},
		{"record without name", `{"type":"record","fields":[]}`, "name"},
		{"bad name", record("1A"), "invalid name"},
		{"duplicate field", record("A", `{"name":"a","type":"int"}`, `{"name":"a","type":"int"}`), `duplicate field name "a"`},
		{"duplicate key", `{"type":"record","name":"A","fields":[],"name":"B"}`, `key "name" appears twice in the object at /`},
		{"enum without symbols", `{"type":"enum","name":"E","symbols":[]}`, "enum must have a non-empty array of symbols"},
		{"enum duplicate symbol", `{"type":"enum","name":"E","symbols":["A","A"]}`, "duplicate symbol"},
		{"enum default not a symbol", `{"type":"enum","name":"E","symbols":["A"],"default":"B"}`, "must be a symbol"},
		{"union in union", `["null",["int"]]`, "union type cannot be a union"},
		{"union duplicate", `["int","int"]`, "union type must be unique"},
		{"fixed without size", `{"type":"fixed","name":"F"}`, "fixed must have a size"},
		{"array without items", `{"type":"array"}`, "array must have an items key"},
		{"type redefined", `[` + record("A") + `,` + record("A") + `]`, `duplicate name "A"`},
		{"bad default: string for int", record("A", `{"name":"a","type":"int","default":"x"}`),
			`invalid default for field "a" of A: expected int, got string "x"`},
		{"bad default: fraction for int", record("A", `{"name":"a","type":"int","default":1.5}`),
			`invalid default for field "a" of A: 1.5 is not an integer in range for int`},
		{"bad default: int out of range", record("A", `{"name":"a","type":"int","default":2147483648}`),
			"2147483648 is out of range for int"},
		{"bad default: long out of range", record("A", `{"name":"a","type":"long","default":12345678901234567890}`),
			"not an integer in range for long"},
		{"bad default: float out of range", record("A", `{"name":"a","type":"float","default":1e40}`), "1e+40 is out of range for float"},
		{"bad default: null for string", record("A", `{"name":"a","type":"string","default":null}`), "expected string, got null"},
		{"bad default: union takes the first branch", record("A", `{"name":"a","type":["null","string"],"default":"x"}`),
			`expected null, got string "x"`},
		{"bad default: enum", record("A", `{"name":"a","type":{"type":"enum","name":"E","symbols":["X"]},"default":"Y"}`),
			`"Y" is not a symbol of enum E`},
		{"bad default: fixed length", record("A", `{"name":"a","type":{"type":"fixed","name":"F","size":4},"default":"abc"}`),
			"fixed F needs 4 bytes, got 3"},
		{"bad default: huge fixed", record("A", `{"name":"a","type":{"type":"fixed","name":"F","size":1099511627776},"default":""}`),
			"fixed F needs 1099511627776 bytes, got 0"},
		{"bad default: bytes beyond 0xff", record("A", `{"name":"a","type":"bytes","default":"\u0100"}`), "is not a byte"},
		{"bad default: record misses a field", record("A", `{"name":"a","type":`+record("B", `{"name":"x","type":"int"}`)+`,"default":{}}`),
			`missing field "x" of record B, which has no default`},
		{"bad default: nested path", record("A", `{"name":"a","type":{"type":"array","items":"int"},"default":[1,"two"]}`),
			`invalid default for field "a" of A at /1: expected int, got string "two"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Format().Parse(tc.text, nil)
			if err == nil {
				t.Fatal("parsed")
			}
			if !errors.Is(err, schema.ErrInvalid) {
				t.Errorf("%v does not wrap schema.ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
		})
	}
}

func TestParseValid(t *testing.T) {
	for _, text := range []string{
		`"null"`, `"boolean"`, `"int"`, `"long"`, `"float"`, `"double"`, `"bytes"`, `"string"`, `null`,
		`{"type":"int","logicalType":"date"}`,
		`{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}`,
		`{"type":"fixed","name":"D","size":12,"logicalType":"duration"}`,
		`{"type":"error","name":"Oops","fields":[{"name":"msg","type":"string"}]}`,
		`{"type":["null","int"]}`, // hamba/avro's leniency: a union under "type"
		record("A", `{"name":"a","type":"int","default":1.0}`, `{"name":"b","type":"long","default":1e3}`),
		record("A", `{"name":"a","type":"bytes","default":"\u00ff\u0000"}`),
	} {
		if _, err := Parse(text, nil); err != nil {
			t.Errorf("Parse(%s): %v", text, err)
		}
	}
}

func TestCanonical(t *testing.T) {
	same := [][]string{
		{
			`{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"id","type":"long"}]}`,
			`{ "fields" : [ { "type" : {"type": "long"}, "name" : "id", "order": "ascending" } ], "name" : "com.acme.Order", "type" : "record" }`,
			`{"namespace":"com.acme","type":"record","name":"Order","fields":[{"name":"id","type":"long"}]}`,
		},
		{
			// A name referenced relative to the enclosing namespace.
			`{"type":"record","name":"com.acme.A","fields":[{"name":"e","type":{"type":"enum","name":"E","symbols":["X"]}},{"name":"f","type":"E"}]}`,
			`{"type":"record","name":"A","namespace":"com.acme","fields":[{"name":"e","type":{"type":"enum","name":"com.acme.E","symbols":["X"]}},{"name":"f","type":"com.acme.E"}]}`,
		},
		{
			`{"type":"string","connect.version":1,"avro.java.string":"String"}`,
			`{"avro.java.string":"String","type":"string","connect.version":1}`,
		},
		{
			record("A", `{"name":"m","type":{"type":"map","values":"int"},"default":{"b":1,"a":2}}`),
			record("A", `{"name":"m","type":{"type":"map","values":"int"},"default":{"a":2,"b":1}}`),
		},
		{
			record("A", `{"name":"s","type":"string","default":"\u00e9\u0041"}`),
			record("A", `{"name":"s","type":"string","default":"éA"}`),
		},
	}
	for _, group := range same {
		want := mustParse(t, group[0]).Canonical()
		for _, text := range group[1:] {
			if got := mustParse(t, text).Canonical(); got != want {
				t.Errorf("Canonical(%s) =\n%s\nwant\n%s", text, got, want)
			}
		}
	}

	different := [][2]string{
		{record("A", `{"name":"a","type":"int","default":0}`), record("A", `{"name":"a","type":"int","default":1}`)},
		{record("A", `{"name":"a","type":"int","default":0}`), record("A", `{"name":"a","type":"int"}`)},
		{`{"type":"record","name":"A","doc":"x","fields":[]}`, `{"type":"record","name":"A","fields":[]}`},
		{record("A", `{"name":"a","type":"int","aliases":["b"]}`), record("A", `{"name":"a","type":"int"}`)},
		{`{"type":"enum","name":"E","symbols":["X","Y"],"default":"X"}`, `{"type":"enum","name":"E","symbols":["X","Y"]}`},
		{`{"type":"long","logicalType":"timestamp-millis"}`, `"long"`},
		{record("A", `{"name":"a","type":"int","order":"descending"}`), record("A", `{"name":"a","type":"int"}`)},
	}
	for _, pair := range different {
		if a, b := mustParse(t, pair[0]).Canonical(), mustParse(t, pair[1]).Canonical(); a == b {
			t.Errorf("%s and %s share the canonical form %s", pair[0], pair[1], a)
		}
	}

	got := mustParse(t, `{"type":"record","name":"Order","namespace":"com.acme","doc":"An order.","aliases":["Purchase"],`+
		`"fields":[{"name":"id","type":"long","doc":"Key."},{"name":"tags","type":{"type":"array","items":"string"},"default":[]},`+
		`{"name":"kind","type":{"type":"enum","name":"Kind","symbols":["A","B"],"default":"A"},"default":"B"}],"connect.name":"Order"}`).Canonical()
	want := `{"type":"record","name":"com.acme.Order","aliases":["com.acme.Purchase"],"doc":"An order.","fields":[` +
		`{"name":"id","type":"long","doc":"Key."},{"name":"tags","type":{"type":"array","items":"string"},"default":[]},` +
		`{"name":"kind","type":{"type":"enum","name":"com.acme.Kind","symbols":["A","B"],"default":"A"},"default":"B"}],"connect.name":"Order"}`
	if got != want {
		t.Errorf("Canonical =\n%s\nwant\n%s", got, want)
	}
}

// TestCanonicalIsStable: the canonical form parses, to itself.
func TestCanonicalIsStable(t *testing.T) {
	texts := []string{
		tenFields,
		`{"type":"record","name":"x.L","doc":"\u0007bell \"q\" \\","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","L"],"default":null}]}`,
		`{"type":"fixed","name":"F","size":2,"doc":"fixed has no doc in hamba"}`,
		record("A", `{"name":"b","type":"bytes","default":"\u0000\u00ff"}`),
	}
	for _, c := range compatCases {
		texts = append(texts, c.old, c.new)
	}
	for _, text := range texts {
		c1 := mustParse(t, text).Canonical()
		c2 := mustParse(t, c1).Canonical()
		if c1 != c2 {
			t.Errorf("Canonical of %s:\n%s\nreparsed:\n%s", text, c1, c2)
		}
	}
}

const money = `{"type":"record","name":"Money","namespace":"com.acme","fields":[{"name":"units","type":"long"},` +
	`{"name":"currency","type":{"type":"enum","name":"Currency","symbols":["EUR","USD"]},"default":"EUR"}]}`

const order = `{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"id","type":"long"},` +
	`{"name":"total","type":"Money"},{"name":"paid","type":["null","com.acme.Money"],"default":null},{"name":"cur","type":"Currency"}]}`

func TestReferences(t *testing.T) {
	m := mustParse(t, money)
	o, err := Parse(order, map[string]schema.Parsed{"com.acme.Money": m})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"record","name":"com.acme.Order","fields":[{"name":"id","type":"long"},` +
		`{"name":"total","type":"com.acme.Money"},{"name":"paid","type":["null","com.acme.Money"],"default":null},{"name":"cur","type":"com.acme.Currency"}]}`
	if o.Canonical() != want {
		t.Errorf("Canonical = %s, want the references by name: %s", o.Canonical(), want)
	}
	// The referenced type's default is known to EncodeJSON.
	bin, err := EncodeJSON(o, []byte(`{"id":1,"total":{"units":5},"paid":null,"cur":"USD"}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Validate(bin); err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := hamba.Unmarshal(o.Avro(), bin, &v); err != nil {
		t.Fatal(err)
	}
	if total := v["total"].(map[string]any); total["currency"] != "EUR" || total["units"] != int64(5) {
		t.Errorf("total = %v", total)
	}

	// Transitively: a schema referencing Order gets Money through it.
	wrapper := `{"type":"record","name":"com.acme.Batch","fields":[{"name":"orders","type":{"type":"array","items":"Order"}},{"name":"sum","type":"Money"}]}`
	if _, err := Parse(wrapper, map[string]schema.Parsed{"com.acme.Order": o}); err != nil {
		t.Fatal(err)
	}

	// Without the reference the name is unknown.
	if _, err := Parse(order, nil); !errors.Is(err, schema.ErrInvalid) || !strings.Contains(err.Error(), "unknown type") {
		t.Errorf("without reference: %v", err)
	}
	if _, err := Parse(order, map[string]schema.Parsed{"x": otherParsed{}}); !errors.Is(err, schema.ErrInvalid) {
		t.Errorf("non-Avro reference: %v", err)
	}
	// The reference's tree is not touched: it still validates its own data.
	bin, err = EncodeJSON(m, []byte(`{"units":7,"currency":"USD"}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(bin); err != nil {
		t.Fatal(err)
	}
}

// TestReferencesConcurrent parses schemas that reference one Schema while
// other goroutines use it: with -race, it shows parsing leaves a
// reference's tree alone (hamba/avro's parser rewrites the trees it
// resolves names into).
func TestReferencesConcurrent(t *testing.T) {
	m := mustParse(t, money)
	bin, err := EncodeJSON(m, []byte(`{"units":7}`))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				if _, err := Parse(order, map[string]schema.Parsed{"Money": m}); err != nil {
					t.Error(err)
					return
				}
			}
		})
		wg.Go(func() {
			for range 200 {
				if err := m.Validate(bin); err != nil {
					t.Error(err)
					return
				}
				if _, err := EncodeJSON(m, []byte(`{"units":1,"currency":"USD"}`)); err != nil {
					t.Error(err)
					return
				}
				_ = Compatible(m.Avro(), m.Avro())
			}
		})
	}
	wg.Wait()
}

// TestEveryRecordHasATable: the walk found every record of the tree, so
// EncodeJSON never meets a record it knows nothing of.
func TestEveryRecordHasATable(t *testing.T) {
	m := mustParse(t, money)
	o, err := Parse(order, map[string]schema.Parsed{"Money": m})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Schema{mustParse(t, tenFields), m, o} {
		seen := map[hamba.Schema]bool{}
		var walk func(h hamba.Schema)
		walk = func(h hamba.Schema) {
			h = deref(h)
			if seen[h] {
				return
			}
			seen[h] = true
			switch h := h.(type) {
			case *hamba.RecordSchema:
				if s.records[h] == nil {
					t.Errorf("%s: no table for record %s", s.Name(), h.FullName())
				}
				for _, f := range h.Fields() {
					walk(f.Type())
				}
			case *hamba.EnumSchema:
				if s.enums[h] == nil {
					t.Errorf("%s: no table for enum %s", s.Name(), h.FullName())
				}
			case *hamba.ArraySchema:
				walk(h.Items())
			case *hamba.MapSchema:
				walk(h.Values())
			case *hamba.UnionSchema:
				for _, b := range h.Types() {
					walk(b)
				}
			}
		}
		walk(s.Avro())
	}
}

func TestName(t *testing.T) {
	if got := mustParse(t, money).Name(); got != "com.acme.Money" {
		t.Errorf("Name = %q", got)
	}
	if got := mustParse(t, `["null","int"]`).Name(); got != "union" {
		t.Errorf("Name = %q", got)
	}
}
