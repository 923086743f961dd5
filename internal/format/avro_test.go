package format

import (
	"encoding/binary"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	hamba "github.com/hamba/avro/v2"

	"github.com/tide-data/tide/internal/sql/types"
)

// A writer schema with every kind of field a producer uses.
const orderSchema = `{"type":"record","name":"Order","namespace":"shop","fields":[
 {"name":"id","type":"long"},
 {"name":"qty","type":"int"},
 {"name":"note","type":["null","string"],"default":null},
 {"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
 {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"local","type":{"type":"long","logicalType":"local-timestamp-micros"}},
 {"name":"day","type":{"type":"int","logicalType":"date"}},
 {"name":"paid","type":"boolean"},
 {"name":"ratio","type":"float"},
 {"name":"weight","type":"double"},
 {"name":"raw","type":"bytes"},
 {"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID"]}},
 {"name":"tags","type":{"type":"array","items":"string"}},
 {"name":"attrs","type":{"type":"map","values":"long"}},
 {"name":"ship","type":{"type":"record","name":"Ship","fields":[{"name":"city","type":"string"},{"name":"zip","type":["null","int"]}]}},
 {"name":"either","type":["null","long","string"]},
 {"name":"wait","type":{"type":"fixed","name":"Dur","size":12,"logicalType":"duration"}},
 {"name":"ignored","type":{"type":"array","items":{"type":"map","values":"string"}}}
]}`

func orderValue() map[string]any {
	return map[string]any{
		"id": int64(42), "qty": int32(3), "note": "gift",
		"price":   big.NewRat(-12345, 100),
		"at":      time.Date(2024, 1, 2, 3, 4, 5, 6e6, time.UTC),
		"local":   time.Date(2024, 1, 2, 3, 4, 5, 123456e3, time.UTC),
		"day":     time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
		"paid":    true,
		"ratio":   float32(0.5),
		"weight":  2.25,
		"raw":     []byte{0, 1, 0xff},
		"status":  "PAID",
		"tags":    []string{"a", "b\"c"},
		"attrs":   map[string]int64{"x": 1},
		"ship":    map[string]any{"city": "Zürich", "zip": map[string]any{"int": int32(8001)}},
		"either":  map[string]any{"string": "s"},
		"wait":    hamba.LogicalDuration{Months: 1, Days: 2, Milliseconds: 3000},
		"ignored": []map[string]string{{"k": "v"}},
	}
}

func framed(t testing.TB, id int, schemaText string, v any) []byte {
	t.Helper()
	payload, err := hamba.Marshal(hamba.MustParse(schemaText), v)
	if err != nil {
		t.Fatal(err)
	}
	return append(binary.BigEndian.AppendUint32([]byte{0}, uint32(id)), payload...)
}

// rowText renders a row as its values' Postgres text, NULL as "NULL".
func rowText(row types.Row) []string {
	out := make([]string, len(row))
	for i, v := range row {
		out[i] = v.String()
	}
	return out
}

// A source declaring no columns gets the record's fields, typed; records
// written by an independent encoder (hamba/avro) read back exactly.
func TestAvroColumnsAndDecode(t *testing.T) {
	m := newMemSchemas()
	id := m.mustRegister(t, "orders-value", SchemaAvro, orderSchema)
	env := Env{Schemas: m, Subject: "orders-value"}
	cols, err := SourceColumns("avro", nil, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cols {
		got = append(got, c.Name+" "+c.Type.String())
	}
	want := []string{"id bigint", "qty integer", "note text", "price numeric", "at timestamp with time zone",
		"local timestamp without time zone", "day date", "paid boolean", "ratio double precision", "weight double precision",
		"raw bytea", "status text", "tags jsonb", "attrs jsonb", "ship jsonb", "either jsonb", "wait interval", "ignored jsonb"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Fatalf("columns:\n got %v\nwant %v", got, want)
	}
	dec, err := NewDecoder("avro", cols, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	row := make(types.Row, len(cols))
	if err := dec.Decode(framed(t, id, orderSchema, orderValue()), row); err != nil {
		t.Fatal(err)
	}
	wantVals := []string{"42", "3", "gift", "-123.45", "2024-01-02 03:04:05.006+00", "2024-01-02 03:04:05.123456", "2024-02-29",
		"t", "0.5", "2.25", `\x0001ff`, "PAID", `["a", "b\"c"]`, `{"x": 1}`, `{"zip": 8001, "city": "Zürich"}`, `"s"`,
		"1 mon 2 days 00:00:03", `[{"k": "v"}]`}
	if g := rowText(row); strings.Join(g, " | ") != strings.Join(wantVals, " | ") {
		t.Errorf("values:\n got %q\nwant %q", g, wantVals)
	}
}

// Declared columns take fields by name, converted to the declared type;
// columns the writer lacks are NULL; fields without a column are skipped.
func TestAvroDecodeDeclaredColumns(t *testing.T) {
	m := newMemSchemas()
	id := m.mustRegister(t, "orders-value", SchemaAvro, orderSchema)
	env := Env{Schemas: m, Subject: "orders-value"}
	cols := []Column{
		{Name: "weight", Type: types.KindNumeric}, {Name: "id", Type: types.KindText}, {Name: "missing", Type: types.KindInt4},
		{Name: "day", Type: types.KindTimestampTZ}, {Name: "qty", Type: types.KindInt2}, {Name: "ship", Type: types.KindText},
		{Name: "either", Type: types.KindText},
	}
	if _, err := SourceColumns("avro", cols, nil, env); err != nil {
		t.Fatal(err)
	}
	dec, err := NewDecoder("avro", cols, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	row := make(types.Row, len(cols))
	if err := dec.Decode(framed(t, id, orderSchema, orderValue()), row); err != nil {
		t.Fatal(err)
	}
	want := []string{"2.25", "42", "NULL", "2024-02-29 00:00:00+00", "3", `{"zip": 8001, "city": "Zürich"}`, "s"}
	if g := rowText(row); strings.Join(g, " | ") != strings.Join(want, " | ") {
		t.Errorf("values:\n got %q\nwant %q", g, want)
	}

	// A declared type the field cannot convert to is refused at once.
	bad := []Column{{Name: "status", Type: types.KindInt4}}
	if _, err := SourceColumns("avro", bad, nil, env); err == nil || !strings.Contains(err.Error(), `column "status" (integer) cannot be read from field status`) {
		t.Errorf("an enum into an integer column: %v", err)
	}
	// Before anything is registered, declared columns pass.
	if _, err := SourceColumns("avro", bad, nil, Env{Schemas: m, Subject: "later-value"}); err != nil {
		t.Errorf("declared columns of a subject not registered yet: %v", err)
	}
	if _, err := SourceColumns("avro", nil, nil, Env{Schemas: m, Subject: "later-value"}); !errors.Is(err, ErrNotRegistered) {
		t.Errorf("no columns and no subject: %v", err)
	}
}

// Records of several versions of the writer's schema read into the same
// columns (schema evolution), and bad values are errors, never panics.
func TestAvroDecodeVersionsAndErrors(t *testing.T) {
	m := newMemSchemas()
	const v1 = `{"type":"record","name":"U","fields":[{"name":"id","type":"long"}]}`
	const v2 = `{"type":"record","name":"U","fields":[{"name":"email","type":["null","string"],"default":null},{"name":"id","type":"long"}]}`
	id1 := m.mustRegister(t, "u-value", SchemaAvro, v1)
	id2 := m.mustRegister(t, "u-value", SchemaAvro, v2)
	notRecord := m.mustRegister(t, "s-value", SchemaAvro, `"string"`)
	env := Env{Schemas: m, Subject: "u-value"}
	cols, err := SourceColumns("avro", nil, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := NewDecoder("avro", cols, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	row := make(types.Row, len(cols))
	for _, c := range []struct {
		data []byte
		want string
	}{
		{framed(t, id2, v2, map[string]any{"id": int64(1), "email": map[string]any{"string": "a@b"}}), "a@b 1"},
		{framed(t, id1, v1, map[string]any{"id": int64(2)}), "NULL 2"},
		{framed(t, id2, v2, map[string]any{"id": int64(3), "email": nil}), "NULL 3"},
	} {
		if err := dec.Decode(c.data, row); err != nil {
			t.Fatal(err)
		}
		if g := strings.Join(rowText(row), " "); g != c.want {
			t.Errorf("got %q, want %q", g, c.want)
		}
	}
	good := framed(t, id1, v1, map[string]any{"id": int64(300)})
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"not framed", []byte(`{"id":1}`), "does not start with the schema registry's frame"},
		{"short", []byte{0, 0, 0}, "does not start with the schema registry's frame"},
		{"unknown id", append([]byte{0, 0, 0, 0, 99}, good[5:]...), "schema id 99"},
		{"not a record", framed(t, notRecord, `"string"`, "x"), "not records"},
		{"truncated", good[:len(good)-1], "ends early"},
		{"trailing", append(good[:len(good):len(good)], 0), "1 bytes follow the record"},
		{"long varint", append(good[:5:5], 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), "varint longer than 64 bits"},
	} {
		err := dec.Decode(c.data, row)
		var te *types.Error
		if !errors.As(err, &te) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a *types.Error with %q", c.name, err, c.want)
		}
	}
}

// What an avro sink writes: the schema it registers, read back by an
// independent decoder (hamba/avro) and by the source's decoder.
func TestAvroEncodeRoundTrip(t *testing.T) {
	m := newMemSchemas()
	cols := []Column{
		{Name: "b", Type: types.KindBool}, {Name: "s", Type: types.KindInt2}, {Name: "i", Type: types.KindInt4},
		{Name: "l", Type: types.KindInt8}, {Name: "d", Type: types.KindFloat8}, {Name: "n", Type: types.KindNumeric},
		{Name: "t", Type: types.KindText}, {Name: "raw", Type: types.KindBytea}, {Name: "ts", Type: types.KindTimestamp},
		{Name: "tz", Type: types.KindTimestampTZ}, {Name: "day", Type: types.KindDate}, {Name: "span", Type: types.KindInterval},
		{Name: "doc", Type: types.KindJSON}, {Name: "gone", Type: types.KindText},
	}
	env := Env{Schemas: m, Subject: "out-value", Name: "my sink"}
	enc, err := NewEncoder("avro", cols, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	row := make(types.Row, len(cols))
	texts := []string{"true", "-7", "70000", "-9000000000", "1.5", "123.4500", "héllo", `\x00ff`, "2024-01-02 03:04:05.123456",
		"2024-01-02 03:04:05.5+00", "2024-02-29", "1 mon 2 days 03:04:05", `{"a": [1, null]}`}
	for i, s := range texts {
		v, err := types.ParseText(cols[i].Type, s)
		if err != nil {
			t.Fatal(err)
		}
		row[i] = v
	}
	row[len(cols)-1] = types.Null(types.KindText)
	row[2] = types.NewInt8(70000) // another integer kind than declared: converted
	out, err := enc.Encode(nil, row)
	if err != nil {
		t.Fatal(err)
	}
	latest, err := m.Latest("out-value")
	if err != nil {
		t.Fatal(err)
	}
	if id := int(binary.BigEndian.Uint32(out[1:5])); out[0] != 0 || id != latest.ID {
		t.Fatalf("frame %x, want schema id %d", out[:5], latest.ID)
	}
	if !strings.Contains(latest.Text, `"name":"tide.my_sink"`) {
		t.Errorf("record name in %s", latest.Text)
	}
	var generic map[string]any
	if err := hamba.Unmarshal(hamba.MustParse(latest.Text), out[5:], &generic); err != nil {
		t.Fatalf("hamba cannot read what the sink wrote: %v", err)
	}
	if generic["t"] != "héllo" || generic["gone"] != nil || generic["l"] != int64(-9000000000) || generic["n"] != "123.4500" {
		t.Errorf("hamba read %v", generic)
	}
	if tz, ok := generic["tz"].(time.Time); !ok || !tz.Equal(time.Date(2024, 1, 2, 3, 4, 5, 5e8, time.UTC)) {
		t.Errorf("tz read as %v", generic["tz"])
	}
	derived, err := SourceColumns("avro", nil, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range derived {
		want := cols[i].Type
		if want == types.KindInt2 {
			want = types.KindInt4 // Avro has no 16-bit integer
		}
		if want == types.KindNumeric || want == types.KindInterval || want == types.KindJSON {
			want = types.KindText // written as their text
		}
		if c.Name != cols[i].Name || c.Type != want {
			t.Errorf("column %d derived as %s %s", i, c.Name, c.Type)
		}
	}
	dec, err := NewDecoder("avro", cols, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	back := make(types.Row, len(cols))
	if err := dec.Decode(out, back); err != nil {
		t.Fatal(err)
	}
	want := append([]string{"t"}, texts[1:]...)
	want = append(want, "NULL")
	if g := rowText(back); strings.Join(g, " | ") != strings.Join(want, " | ") {
		t.Errorf("round trip:\n got %q\nwant %q", g, want)
	}

	// A column name Avro cannot take is refused with the fix.
	if _, err := NewEncoder("avro", []Column{{Name: "order id", Type: types.KindInt4}}, nil, env); err == nil || !strings.Contains(err.Error(), "rename it with AS") {
		t.Errorf("an invalid field name: %v", err)
	}
}

// FuzzAvroDecode: any payload after a frame decodes or fails with an
// error; it never panics or hangs. which picks the writer schema: the
// order, a recursive list, or one of the awkward types (fields of type
// null, items of no bytes, decimals, enums and times into jsonb, a
// recursive tree).
func FuzzAvroDecode(f *testing.F) {
	m := newMemSchemas()
	id := m.mustRegister(f, "orders-value", SchemaAvro, orderSchema)
	const recursive = `{"type":"record","name":"Node","fields":[{"name":"v","type":"long"},{"name":"next","type":["null","Node"]}]}`
	rid := m.mustRegister(f, "list-value", SchemaAvro, recursive)
	const awkward = `{"type":"record","name":"Odd","fields":[
	  {"name":"z","type":"null"},
	  {"name":"nulls","type":{"type":"array","items":"null"}},
	  {"name":"empties","type":{"type":"map","values":{"type":"record","name":"E","fields":[{"name":"n","type":"null"}]}}},
	  {"name":"cost","type":{"type":"bytes","logicalType":"decimal","precision":40,"scale":3}},
	  {"name":"wide","type":{"type":"bytes","logicalType":"decimal","precision":4000,"scale":2000}},
	  {"name":"state","type":{"type":"enum","name":"S","symbols":["A","B"]}},
	  {"name":"tod","type":{"type":"int","logicalType":"time-millis"}},
	  {"name":"tree","type":{"type":"record","name":"T","fields":[{"name":"l","type":["null","T"]},{"name":"r","type":["null","T"]}]}},
	  {"name":"skipped","type":["null",{"type":"fixed","name":"X","size":3},{"type":"long","logicalType":"timestamp-millis"}]}]}`
	aid := m.mustRegister(f, "odd-value", SchemaAvro, awkward)
	f.Add(framed(f, id, orderSchema, orderValue())[5:], uint8(0))
	f.Add(framed(f, rid, recursive, map[string]any{"v": int64(1), "next": map[string]any{"Node": map[string]any{"v": int64(2), "next": nil}}})[5:], uint8(1))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, uint8(0))
	f.Add([]byte{4, 0, 2, 2, 'k', 0, 4, 0x30, 0x39, 2, 5, 2, 6, 2, 0, 0, 0, 4, 0}, uint8(2))
	env := Env{Schemas: m, Subject: "orders-value"}
	cols, err := SourceColumns("avro", nil, nil, env)
	if err != nil {
		f.Fatal(err)
	}
	cols = append(cols, Column{Name: "next", Type: types.KindText}, Column{Name: "v", Type: types.KindNumeric},
		Column{Name: "z", Type: types.KindInt4}, Column{Name: "nulls", Type: types.KindJSON}, Column{Name: "empties", Type: types.KindText},
		Column{Name: "cost", Type: types.KindFloat8}, Column{Name: "wide", Type: types.KindNumeric}, Column{Name: "tree", Type: types.KindJSON},
		Column{Name: "state", Type: types.KindJSON}, Column{Name: "tod", Type: types.KindJSON})
	f.Fuzz(func(t *testing.T, payload []byte, which uint8) {
		dec, err := NewDecoder("avro", cols, nil, env)
		if err != nil {
			t.Fatal(err)
		}
		schemaID := []int{id, rid, aid}[int(which)%3]
		data := append(binary.BigEndian.AppendUint32([]byte{0}, uint32(schemaID)), payload...)
		row := make(types.Row, len(cols))
		if err := dec.Decode(data, row); err != nil {
			var te *types.Error
			if !errors.As(err, &te) {
				t.Fatalf("error of type %T: %v", err, err)
			}
		}
	})
}
