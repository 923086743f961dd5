package format

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/tide-data/tide/internal/sql/types"
)

// A json_sr sink registers a JSON Schema of its columns and frames its
// JSON; a source declaring no columns takes them from that schema (or a
// producer's) and reads the JSON after the frame.
func TestJSONSRRoundTrip(t *testing.T) {
	m := newMemSchemas()
	cols := []Column{{Name: "id", Type: types.KindInt8}, {Name: "price", Type: types.KindFloat8}, {Name: "at", Type: types.KindTimestampTZ},
		{Name: "day", Type: types.KindDate}, {Name: "ok", Type: types.KindBool}, {Name: "doc", Type: types.KindJSON}, {Name: "note", Type: types.KindText}}
	env := Env{Schemas: m, Subject: "out-value", Name: "s"}
	enc, err := NewEncoder("json_sr", cols, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	row := types.Row{types.NewInt8(7), types.NewFloat8(1.5), types.NewTimestampTZ(1_700_000_000_000_000), types.NewDate(19000),
		types.NewBool(true), types.NewJSON(`{"a": 1}`), types.Null(types.KindText)}
	out, err := enc.Encode(nil, row)
	if err != nil {
		t.Fatal(err)
	}
	latest, err := m.Latest("out-value")
	if err != nil {
		t.Fatal(err)
	}
	if out[0] != 0 || int(binary.BigEndian.Uint32(out[1:5])) != latest.ID || latest.Type != SchemaJSON {
		t.Fatalf("frame %x for schema %+v", out[:5], latest)
	}
	derived, err := SourceColumns("json_sr", nil, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range derived {
		want := cols[i].Type
		if want == types.KindFloat8 {
			want = types.KindNumeric // ["number", "string"]: see TestJSONSRNumericRoundTrip
		}
		if c.Name != cols[i].Name || c.Type != want {
			t.Errorf("column %d derived as %s %s, want %s %s", i, c.Name, c.Type, cols[i].Name, want)
		}
	}
	dec, err := NewDecoder("json_sr", derived, map[string]string{"json_sr.fail-on-missing-field": "true"}, env)
	if err != nil {
		t.Fatal(err)
	}
	back := make(types.Row, len(cols))
	if err := dec.Decode(out, back); err != nil {
		t.Fatal(err)
	}
	if g, w := strings.Join(rowText(back), " | "), strings.Join(rowText(row), " | "); g != w {
		t.Errorf("round trip: got %s, want %s", g, w)
	}
	if err := dec.Decode([]byte(`{"id":1}`), back); err == nil || !strings.Contains(err.Error(), "frame") {
		t.Errorf("unframed JSON: %v", err)
	}
}

// Columns from a producer's JSON Schema: nullable types, Confluent's
// oneOf of null and a type, and anything else as jsonb.
func TestJSONSRColumnsFromSchema(t *testing.T) {
	m := newMemSchemas()
	m.mustRegister(t, "in-value", SchemaJSON, `{"type":"object","properties":{
	  "id":{"type":"integer"}, "name":{"type":["null","string"]}, "score":{"oneOf":[{"type":"null"},{"type":"number"}]},
	  "tags":{"type":"array","items":{"type":"string"}}, "any":{"$ref":"#/definitions/x"}, "day":{"type":"string","format":"date"}}}`)
	cols, err := SourceColumns("json_sr", nil, nil, Env{Schemas: m, Subject: "in-value"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cols {
		got = append(got, c.Name+" "+c.Type.String())
	}
	want := "id bigint, name text, score double precision, tags jsonb, any jsonb, day date"
	if strings.Join(got, ", ") != want {
		t.Errorf("got %s, want %s", strings.Join(got, ", "), want)
	}
	m.mustRegister(t, "avro-value", SchemaAvro, `"string"`)
	if _, err := SourceColumns("json_sr", nil, nil, Env{Schemas: m, Subject: "avro-value"}); err == nil || !strings.Contains(err.Error(), "holds a schema of type AVRO, not JSON") {
		t.Errorf("an Avro subject: %v", err)
	}
}

// A numeric column survives a json_sr sink and a source whose columns come
// from the sink's schema: ["number", "string"] (how the sink declares both
// double precision and numeric) derives as numeric, which holds either
// exactly; double precision would round the numeric.
func TestJSONSRNumericRoundTrip(t *testing.T) {
	m := newMemSchemas()
	cols := []Column{{Name: "amount", Type: types.KindNumeric}, {Name: "ratio", Type: types.KindFloat8}}
	env := Env{Schemas: m, Subject: "money-value", Name: "s"}
	enc, err := NewEncoder("json_sr", cols, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	amount, err := types.ParseText(types.KindNumeric, "12345678901234567890.12")
	if err != nil {
		t.Fatal(err)
	}
	out, err := enc.Encode(nil, types.Row{amount, types.NewFloat8(0.1)})
	if err != nil {
		t.Fatal(err)
	}
	derived, err := SourceColumns("json_sr", nil, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := NewDecoder("json_sr", derived, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	back := make(types.Row, len(derived))
	if err := dec.Decode(out, back); err != nil {
		t.Fatal(err)
	}
	if g := strings.Join(rowText(back), " | "); g != "12345678901234567890.12 | 0.1" {
		t.Errorf("read back %s (columns %v)", g, derived)
	}
}

// With json_sr.ignore-parse-errors a value without the frame is a record
// that cannot be read at all: skipped, as format json skips one that is
// not a JSON object, not dead-lettered.
func TestJSONSRIgnoreParseErrorsUnframed(t *testing.T) {
	cols := []Column{{Name: "id", Type: types.KindInt8}}
	env := Env{Schemas: newMemSchemas(), Subject: "x-value"}
	dec, err := NewDecoder("json_sr", cols, map[string]string{"json_sr.ignore-parse-errors": "true"}, env)
	if err != nil {
		t.Fatal(err)
	}
	row := make(types.Row, 1)
	for _, v := range [][]byte{[]byte(`{"id":1}`), {0, 0, 0}, append([]byte{0, 0, 0, 0, 1}, "nope"...)} {
		if err := dec.Decode(v, row); !errors.Is(err, ErrSkip) {
			t.Errorf("%q: %v, want ErrSkip", v, err)
		}
	}
	strict, err := NewDecoder("json_sr", cols, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	if err := strict.Decode([]byte(`{"id":1}`), row); err == nil || errors.Is(err, ErrSkip) {
		t.Errorf("unframed without the option: %v", err)
	}
}
