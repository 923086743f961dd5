package format

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	hamba "github.com/hamba/avro/v2"

	"github.com/tide-data/tide/internal/sql/types"
)

// frameRaw frames a hand-made Avro payload with schema id.
func frameRaw(id int, payload []byte) []byte {
	return append(binary.BigEndian.AppendUint32([]byte{0}, uint32(id)), payload...)
}

// avroFixture registers schemaText under "e-value" and returns a decoder
// of cols over it with the schema's id.
func avroFixture(t *testing.T, schemaText string, cols []Column) (Decoder, int) {
	t.Helper()
	m := newMemSchemas()
	id := m.mustRegister(t, "e-value", SchemaAvro, schemaText)
	dec, err := NewDecoder("avro", cols, nil, Env{Schemas: m, Subject: "e-value"})
	if err != nil {
		t.Fatal(err)
	}
	return dec, id
}

// A field of type "null" carries no bytes: skipped or read, it is NULL
// (compiling its skip once asserted a primitive and panicked).
func TestAvroNullField(t *testing.T) {
	const s = `{"type":"record","name":"P","fields":[{"name":"a","type":"long"},{"name":"z","type":"null"},{"name":"b","type":"string"}]}`
	for _, cols := range [][]Column{
		{{Name: "a", Type: types.KindInt8}, {Name: "b", Type: types.KindText}},
		{{Name: "a", Type: types.KindInt8}, {Name: "b", Type: types.KindText}, {Name: "z", Type: types.KindJSON}},
	} {
		m := newMemSchemas()
		m.mustRegister(t, "e-value", SchemaAvro, s)
		if _, err := SourceColumns("avro", cols, nil, Env{Schemas: m, Subject: "e-value"}); err != nil {
			t.Fatal(err)
		}
		dec, id := avroFixture(t, s, cols)
		row := make(types.Row, len(cols))
		if err := dec.Decode(frameRaw(id, []byte{4, 2, 'x'}), row); err != nil {
			t.Fatal(err)
		}
		want := "2 x"
		if len(cols) == 3 {
			want += " NULL"
		}
		if g := strings.Join(rowText(row), " "); g != want {
			t.Errorf("got %q, want %q", g, want)
		}
	}
}

// Items that take no bytes (nulls, empty records) cannot be bounded by
// the bytes left: a few bytes of block counts must not stand for
// millions of items, read or skipped. A long array of real items and a
// modest one of nulls still decode.
func TestAvroBlockCountsBounded(t *testing.T) {
	const s = `{"type":"record","name":"P","fields":[
	  {"name":"nulls","type":{"type":"array","items":"null"}},
	  {"name":"empty","type":{"type":"map","values":{"type":"record","name":"E","fields":[]}}},
	  {"name":"longs","type":{"type":"array","items":"long"}}]}`
	for _, cols := range [][]Column{
		{{Name: "longs", Type: types.KindJSON}},                                        // the others skipped
		{{Name: "nulls", Type: types.KindJSON}, {Name: "empty", Type: types.KindJSON}}, // rendered
	} {
		dec, id := avroFixture(t, s, cols)
		row := make(types.Row, len(cols))

		var bomb []byte
		for range 64 {
			bomb = appendVarlong(bomb, 1<<20) // a block of a million nulls
		}
		bomb = append(bomb, 0, 0, 0) // end of nulls; empty map; empty longs
		err := dec.Decode(frameRaw(id, bomb), row)
		var te *types.Error
		if !errors.As(err, &te) || !strings.Contains(err.Error(), "items") {
			t.Errorf("%d bytes of block counts: %v, want an error about items", len(bomb), err)
		}

		// A map with a key of one byte per item is bounded by its bytes.
		var ok []byte
		ok = appendVarlong(ok, 100)
		ok = append(ok, 0)
		ok = appendVarlong(ok, -3)
		ok = appendVarlong(ok, 6)
		for _, k := range "abc" {
			ok = append(ok, 2, byte(k))
		}
		ok = append(ok, 0)
		ok = appendVarlong(ok, 200_000)
		for range 200_000 {
			ok = append(ok, 2)
		}
		ok = append(ok, 0)
		if err := dec.Decode(frameRaw(id, ok), row); err != nil {
			t.Fatalf("a valid value: %v", err)
		}
	}
}

// Avro's decimal scale is any int: one past int32 must not wrap, and one
// past numeric's 16383, or a coefficient past its digits, is out of range
// rather than a value of gigabytes of text. Sane decimals read.
func TestAvroDecimalRange(t *testing.T) {
	cols := []Column{{Name: "a", Type: types.KindNumeric}, {Name: "j", Type: types.KindJSON}}
	for _, c := range []struct {
		typ     string
		payload []byte
		want    string // the row, or the error's text
	}{
		{`{"type":"bytes","logicalType":"decimal","precision":8,"scale":2}`, []byte{4, 0xff, 0x85}, "-1.23 [-1.23]"},
		{`{"type":"bytes","logicalType":"decimal","precision":4294967297,"scale":4294967296}`, []byte{2, 5}, "out of range"},
		{`{"type":"bytes","logicalType":"decimal","precision":2000000000,"scale":2000000000}`, []byte{2, 5}, "out of range"},
		{`{"type":"bytes","logicalType":"decimal","precision":20000,"scale":16384}`, []byte{2, 5}, "out of range"},
		{`{"type":"bytes","logicalType":"decimal","precision":20000,"scale":16383}`, []byte{2, 5}, "0." + strings.Repeat("0", 16382) + "5"},
		{`{"type":"fixed","name":"F","size":2,"logicalType":"decimal","precision":4,"scale":3}`, []byte{0x04, 0xd2}, "1.234 [1.234]"},
	} {
		// a, the decimal; j, an array of one more of the same type (a
		// fixed renamed), rendered as jsonb.
		items := strings.Replace(c.typ, `"name":"F"`, `"name":"G"`, 1)
		s := `{"type":"record","name":"P","fields":[{"name":"a","type":` + c.typ + `},{"name":"j","type":{"type":"array","items":` + items + `}}]}`
		dec, id := avroFixture(t, s, cols)
		row := make(types.Row, len(cols))
		payload := append(append(append([]byte{}, c.payload...), 2), c.payload...) // a; one block of 1 item
		payload = append(payload, 0)
		err := dec.Decode(frameRaw(id, payload), row)
		got := strings.Join(rowText(row), " ")
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.typ, got, c.want)
		}
	}

	// A coefficient of more digits than numeric holds before the point:
	// by its bytes alone, or by its digits.
	dec, id := avroFixture(t, `{"type":"record","name":"P","fields":[{"name":"a","type":{"type":"bytes","logicalType":"decimal","precision":1,"scale":0}}]}`, cols[:1])
	for _, size := range []int{200_000, 60_000} {
		big := make([]byte, size)
		big[0] = 0x7f
		err := dec.Decode(frameRaw(id, append(appendVarlong(nil, int64(len(big))), big...)), make(types.Row, 1))
		var te *types.Error
		if !errors.As(err, &te) || te.Code != types.CodeNumericValueOutOfRange {
			t.Errorf("a decimal of %d bytes: %v", size, err)
		}
	}
}

// Into a jsonb column, an enum symbol and a time of day are JSON strings
// (a string field is still taken as JSON text, as its cast reads it).
func TestAvroScalarsIntoJSON(t *testing.T) {
	const s = `{"type":"record","name":"P","fields":[
	  {"name":"e","type":{"type":"enum","name":"E","symbols":["NEW","OLD"]}},
	  {"name":"t","type":{"type":"int","logicalType":"time-millis"}},
	  {"name":"u","type":["null",{"type":"enum","name":"U","symbols":["X"]}]},
	  {"name":"s","type":"string"}]}`
	cols := []Column{{Name: "e", Type: types.KindJSON}, {Name: "t", Type: types.KindJSON}, {Name: "u", Type: types.KindJSON}, {Name: "s", Type: types.KindJSON}}
	m := newMemSchemas()
	m.mustRegister(t, "e-value", SchemaAvro, s)
	if _, err := SourceColumns("avro", cols, nil, Env{Schemas: m, Subject: "e-value"}); err != nil {
		t.Fatal(err)
	}
	dec, id := avroFixture(t, s, cols)
	row := make(types.Row, len(cols))
	payload := []byte{2}                                             // OLD
	payload = appendVarlong(payload, 3723004)                        // 01:02:03.004
	payload = append(payload, 2, 0)                                  // X
	payload = append(payload, 14, '{', '"', 'a', '"', ':', '1', '}') // {"a":1}
	if err := dec.Decode(frameRaw(id, payload), row); err != nil {
		t.Fatal(err)
	}
	want := `"OLD" | "01:02:03.004" | "X" | {"a": 1}`
	if g := strings.Join(rowText(row), " | "); g != want {
		t.Errorf("got %s, want %s", g, want)
	}
}

// A recursive schema compiles to a fixed set of closures: decoding values
// that take new paths through it allocates no more than decoding the same
// value again (the lazily compiled fields once compiled a fresh copy of
// the schema per level and path, kept for the decoder's life).
func TestAvroRecursiveProgramBounded(t *testing.T) {
	const s = `{"type":"record","name":"Node","fields":[{"name":"l","type":["null","Node"]},{"name":"r","type":["null","Node"]}]}`
	cols := []Column{{Name: "l", Type: types.KindJSON}}
	dec, id := avroFixture(t, s, cols)
	const depth = 40
	rng := rand.New(rand.NewPCG(1, 2))
	// A chain of depth nodes, each the left or the right child of the
	// one before; the top record's l holds it and its r is null.
	var node func(d int) []byte
	node = func(d int) []byte {
		switch {
		case d == 0:
			return []byte{0, 0}
		case rng.IntN(2) == 0:
			return append(append([]byte{2}, node(d-1)...), 0)
		default:
			return append([]byte{0, 2}, node(d-1)...)
		}
	}
	path := func() []byte { return frameRaw(id, append(append([]byte{2}, node(depth)...), 0)) }
	row := make(types.Row, 1)
	same := path()
	if err := dec.Decode(same, row); err != nil {
		t.Fatal(err)
	}
	sameAllocs := testing.AllocsPerRun(100, func() {
		if err := dec.Decode(same, row); err != nil {
			t.Fatal(err)
		}
	})
	paths := make([][]byte, 101)
	for i := range paths {
		paths[i] = path()
	}
	next := 0
	newAllocs := testing.AllocsPerRun(100, func() {
		if err := dec.Decode(paths[next], row); err != nil {
			t.Fatal(err)
		}
		next++
	})
	if newAllocs > sameAllocs+10 {
		t.Errorf("a value of a new path allocates %.0f times, the same value %.0f: the program grows with the values seen", newAllocs, sameAllocs)
	}
}

// The schema a sink registers is parsed privately: it must not leave its
// record name in hamba/avro's process-wide cache, where any later parse
// of an unrelated schema would resolve the name (and which would grow
// with every sink).
func TestAvroSinkSchemaNotCachedGlobally(t *testing.T) {
	m := newMemSchemas()
	if _, err := NewEncoder("avro", []Column{{Name: "a", Type: types.KindInt8}}, nil, Env{Schemas: m, Subject: "x-value", Name: "leak_probe"}); err != nil {
		t.Fatal(err)
	}
	if _, err := hamba.ParseWithCache(`{"type":"array","items":"tide.leak_probe"}`, "", hamba.DefaultSchemaCache); err == nil {
		t.Error("tide.leak_probe resolves in hamba's global schema cache")
	}
}

// The engine shares one encoder among a pipeline's tasks: the registry
// formats' encoders give every goroutine the bytes one alone gets (run
// with -race).
func TestRegistryEncodersConcurrent(t *testing.T) {
	cols := []Column{{Name: "id", Type: types.KindInt8}, {Name: "n", Type: types.KindNumeric}, {Name: "s", Type: types.KindText}}
	amount, err := types.ParseText(types.KindNumeric, "1.50")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"avro", "json_sr"} {
		enc, err := NewEncoder(name, cols, nil, Env{Schemas: newMemSchemas(), Subject: "c-value", Name: "c"})
		if err != nil {
			t.Fatal(err)
		}
		row := func(i int) types.Row {
			return types.Row{types.NewInt8(int64(i)), amount, types.NewInt4(int32(i))} // s converted
		}
		want := make([][]byte, 100)
		for i := range want {
			if want[i], err = enc.Encode(nil, row(i)); err != nil {
				t.Fatal(err)
			}
		}
		errs := make(chan error, 8)
		for range 8 {
			go func() {
				var buf []byte
				for i := range 100 * 10 {
					var err error
					if buf, err = enc.Encode(buf[:0], row(i%100)); err != nil || string(buf) != string(want[i%100]) {
						errs <- errors.Join(err, errors.New(name+": concurrent Encode differs"))
						return
					}
				}
				errs <- nil
			}()
		}
		for range 8 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
}

// A union's null branch is SQL NULL in a jsonb column too, as it is in a
// column of any other type and as JSON null is in format json: an
// optional record (["null", Record]) that is absent IS NULL.
func TestAvroUnionNullIntoJSON(t *testing.T) {
	const s = `{"type":"record","name":"P","fields":[
	  {"name":"r","type":["null",{"type":"record","name":"R","fields":[{"name":"x","type":"long"}]}]},
	  {"name":"m","type":["null","long","string"]},
	  {"name":"s","type":["null","string"]}]}`
	cols := []Column{{Name: "r", Type: types.KindJSON}, {Name: "m", Type: types.KindJSON}, {Name: "s", Type: types.KindJSON}}
	dec, id := avroFixture(t, s, cols)
	row := make(types.Row, len(cols))
	if err := dec.Decode(frameRaw(id, []byte{0, 0, 0}), row); err != nil {
		t.Fatal(err)
	}
	for i, v := range row {
		if !v.IsNull() {
			t.Errorf("column %s: %s, want NULL", cols[i].Name, v)
		}
	}
	if err := dec.Decode(frameRaw(id, []byte{2, 4, 4, 2, 'x', 2, 8, 'n', 'u', 'l', 'l'}), row); err != nil {
		t.Fatal(err)
	}
	if g := strings.Join(rowText(row), " | "); g != `{"x": 2} | "x" | null` {
		t.Errorf("got %s", g) // the string "null" cast as JSON text is JSON null, not NULL
	}
}
