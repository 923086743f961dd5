package format

import (
	"encoding/binary"
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
		if c.Name != cols[i].Name || c.Type != cols[i].Type {
			t.Errorf("column %d derived as %s %s, want %s %s", i, c.Name, c.Type, cols[i].Name, cols[i].Type)
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
