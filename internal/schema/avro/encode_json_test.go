package avro

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	hamba "github.com/hamba/avro/v2"
)

func TestEncodeJSON(t *testing.T) {
	str := func(s string) []byte { return append(appendLong(nil, int64(len(s))), s...) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	cases := []struct {
		name, schema, doc string
		want              []byte
	}{
		{"null", `"null"`, `null`, nil},
		{"true", `"boolean"`, `true`, []byte{1}},
		{"int", `"int"`, `-3`, []byte{5}},
		{"int written 1.0", `"int"`, `1.0`, []byte{2}},
		{"long 1e3", `"long"`, `1e3`, appendLong(nil, 1000)},
		{"long max", `"long"`, `9223372036854775807`, appendLong(nil, math.MaxInt64)},
		{"float", `"float"`, `1.5`, []byte{0, 0, 0xc0, 0x3f}},
		{"double NaN", `"double"`, `"NaN"`, nil}, // checked below by decoding
		{"string", `"string"`, `"héllo"`, str("héllo")},
		{"bytes as code points", `"bytes"`, `"\u0000\u00ffA"`, []byte{6, 0, 0xff, 'A'}},
		{"fixed", `{"type":"fixed","name":"F","size":2}`, `"\u00ab\u00cd"`, []byte{0xab, 0xcd}},
		{"enum", `{"type":"enum","name":"E","symbols":["A","B"]}`, `"B"`, []byte{2}},
		{"array", `{"type":"array","items":"int"}`, `[1,2]`, []byte{4, 2, 4, 0}},
		{"empty array", `{"type":"array","items":"int"}`, `[]`, []byte{0}},
		{"map", `{"type":"map","values":"int"}`, `{"a":1}`, cat([]byte{2}, str("a"), []byte{2, 0})},
		{"union plain null", `["null","string"]`, `null`, []byte{0}},
		{"union plain value", `["null","string"]`, `"x"`, cat([]byte{2}, str("x"))},
		{"union first branch that fits", `["null","int","long","string"]`, `4294967296`, cat([]byte{4}, appendLong(nil, 1<<32))},
		{"union tagged", `["null","int","long"]`, `{"long":5}`, []byte{4, 10}},
		{"union tagged named", `["null",{"type":"record","name":"com.x.P","fields":[{"name":"a","type":"int"}]}]`, `{"com.x.P":{"a":1}}`, []byte{2, 2}},
		{"union tagged by short name", `["null",{"type":"record","name":"com.x.P","fields":[{"name":"a","type":"int"}]}]`, `{"P":{"a":1}}`, []byte{2, 2}},
		{"union record plain", `["null",{"type":"record","name":"P","fields":[{"name":"a","type":"int"}]}]`, `{"a":1}`, []byte{2, 2}},
		{"union map vs tag", `["int",{"type":"map","values":"int"}]`, `{"map":{"int":1}}`, cat([]byte{2, 2}, str("int"), []byte{2, 0})},
		{"record fields in any order", record("R", `{"name":"a","type":"int"}`, `{"name":"b","type":"string"}`), `{"b":"x","a":1}`, cat([]byte{2}, str("x"))},
		{"record defaults", record("R", `{"name":"a","type":"int","default":7}`, `{"name":"u","type":["null","string"],"default":null}`,
			`{"name":"r","type":`+record("In", `{"name":"x","type":"long","default":1}`, `{"name":"y","type":"string"}`)+`,"default":{"y":"d"}}`),
			`{}`, cat([]byte{14, 0, 2}, str("d"))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := mustParse(t, tc.schema)
			got, err := EncodeJSON(s, []byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != nil && !bytes.Equal(got, tc.want) {
				t.Errorf("EncodeJSON(%s) = %x, want %x", tc.doc, got, tc.want)
			}
			if err := s.Validate(got); err != nil {
				t.Errorf("output does not validate: %v", err)
			}
		})
	}

	s := mustParse(t, `{"type":"array","items":["float","double"]}`)
	got, err := EncodeJSON(s, []byte(`["NaN","Infinity","-Infinity",1e300]`))
	if err != nil {
		t.Fatal(err)
	}
	var v []any
	if err := hamba.Unmarshal(s.Avro(), got, &v); err != nil {
		t.Fatal(err)
	}
	// hamba decodes a union of primitives to the plain value.
	f32 := func(x any) float64 { f, _ := x.(float32); return float64(f) }
	if len(v) != 4 || !math.IsNaN(f32(v[0])) || !math.IsInf(f32(v[1]), 1) || !math.IsInf(f32(v[2]), -1) || v[3] != 1e300 {
		t.Errorf("decoded %#v", v)
	}
}

// TestEncodeJSONDecodes: hamba/avro decodes what EncodeJSON writes to the
// values of the JSON document.
func TestEncodeJSONDecodes(t *testing.T) {
	s := mustParse(t, allTypes)
	got := encode(t, s, allTypesJSON)
	var v map[string]any
	if err := hamba.Unmarshal(s.Avro(), got, &v); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"n": nil, "b": true, "i": -7, "l": int64(1099511627776), "f": float32(1.5), "d": -2.25,
		"by": []byte{0, 0xff}, "s": "héllo", "fx": [4]byte{'a', 'b', 'c', 'd'}, "e": "C",
		"a": []any{1, 2, 3}, "m": map[string]any{"k": "v", "k2": "v2"},
		// hamba's decoding of unions: a primitive plainly, a record of a
		// nullable union wrapped in its name.
		"u": int64(9), "r": map[string]any{"x": 1},
		"list": map[string]any{"Node": map[string]any{"v": 1, "next": map[string]any{"Node": map[string]any{"v": 2, "next": nil}}}},
	}
	for k, w := range want {
		if !reflect.DeepEqual(v[k], w) {
			t.Errorf("%s = %#v, want %#v", k, v[k], w)
		}
	}
}

func TestEncodeJSONErrors(t *testing.T) {
	order := record("Order",
		`{"name":"id","type":"long"}`,
		`{"name":"items","type":{"type":"array","items":`+record("Item", `{"name":"sku","type":"string"}`, `{"name":"price","type":"double"}`)+`}}`,
		`{"name":"note","type":["null","string"],"default":null}`,
		`{"name":"attrs","type":{"type":"map","values":"int"},"default":{}}`,
	)
	cases := []struct {
		name, schema, doc, path, want string
	}{
		{"not JSON", `"int"`, `{`, "", "invalid JSON"},
		{"JSON after a mismatch", `["int"]`, `["x",}`, "", "invalid JSON"},
		{"nested beyond 300 levels", `{"type":"array","items":"int"}`, strings.Repeat("[", 301) + strings.Repeat("]", 301), "", "invalid JSON"},
		// fastjson let a control character before a string's last escape
		// through; RFC 8259 does not.
		{"control character before an escape", `"string"`, "\"\x02\\n\"", "", "invalid JSON at byte 1: control character in a string"},
		{"type", `"int"`, `"1"`, "", `expected int, got string "1"`},
		{"fraction", `"int"`, `1.5`, "", "1.5 is not an integer in range for int"},
		{"int range", `"int"`, `2147483648`, "", "2147483648 is out of range for int"},
		{"long range", `"long"`, `9223372036854775808`, "", "not an integer in range for long"},
		{"float range", `"float"`, `1e39`, "", "out of range for float"},
		{"bytes beyond 0xff", `"bytes"`, `"\u0100"`, "", "is not a byte"},
		{"fixed size", `{"type":"fixed","name":"F","size":2}`, `"a"`, "", "fixed F needs 2 bytes, got 1"},
		{"enum symbol", `{"type":"enum","name":"E","symbols":["A"]}`, `"Z"`, "", `"Z" is not a symbol of enum E`},
		{"deep field", order, `{"id":1,"items":[{"sku":"a","price":1},{"sku":"b","price":"x"}]}`, "/items/1/price", `expected double, got string "x"`},
		{"missing field", order, `{"items":[]}`, "", `missing field "id" of record Order, which has no default`},
		{"unknown field", order, `{"id":1,"items":[],"colour":"red"}`, "", `record Order has no field "colour"`},
		{"duplicate field", order, `{"id":1,"id":2,"items":[]}`, "/id", `field "id" appears twice`},
		{"map value", order, `{"id":1,"items":[],"attrs":{"a/b":"x"}}`, "/attrs/a~1b", "expected int"},
		{"duplicate map key", order, `{"id":1,"items":[],"attrs":{"a":1,"a":2}}`, "/attrs/a", `key "a" appears twice`},
		{"nullable union gives the branch's error", order, `{"id":1,"items":[],"note":5}`, "/note", "expected string, got number 5"},
		{"union without a fit", `["int","string"]`, `true`, "", "no branch of union [int, string] accepts boolean"},
		{"tagged union branch error", `["null","int"]`, `{"int":"x"}`, "/int", `expected int, got string "x"`},
		{"record in union", `["null",` + record("P", `{"name":"a","type":"int"}`) + `]`, `{"a":"x"}`, "/a", "expected int"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := EncodeJSON(mustParse(t, tc.schema), []byte(tc.doc))
			if !errors.Is(err, ErrValue) {
				t.Fatalf("EncodeJSON = %v, want ErrValue", err)
			}
			var de *DataError
			if !errors.As(err, &de) {
				t.Fatalf("%T is not a *DataError", err)
			}
			if de.Path != tc.path {
				t.Errorf("Path = %q, want %q (%v)", de.Path, tc.path, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
		})
	}
}

func TestAppendJSON(t *testing.T) {
	s := mustParse(t, `"string"`)
	dst := []byte{0, 0, 0, 0, 1} // a frame
	out, err := AppendJSON(dst, s, []byte(`"x"`))
	if err != nil || !bytes.Equal(out, []byte{0, 0, 0, 0, 1, 2, 'x'}) {
		t.Errorf("AppendJSON = %x, %v", out, err)
	}
	out, err = AppendJSON(dst, s, []byte(`1`))
	if err == nil || !bytes.Equal(out, dst) {
		t.Errorf("failed AppendJSON = %x, %v; want dst unchanged", out, err)
	}
}
