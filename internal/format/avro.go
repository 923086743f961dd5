package format

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	hamba "github.com/hamba/avro/v2"

	"github.com/tide-data/tide/internal/sql/types"
)

// avroFormat is format='avro': Avro binary in the schema registry's
// frame; see the package doc for its rules.
var avroFormat = Format{
	Name: "avro",
	Options: map[string]string{
		"avro.subject":     "the registry subject the columns come from and a sink registers under; default '<topic>-value'",
		"avro.record-name": "the full name of the record a sink's schema declares; default 'tide.<sink name>'",
	},
	NewDecoder: newAvroDecoder,
	NewEncoder: newAvroEncoder,
	Columns:    avroColumns,
}

// avroColumns gives a source the fields of the latest schema of its
// subject, which must be a record, or checks its declared columns
// against them.
func avroColumns(declared []Column, options map[string]string, env Env) ([]Column, error) {
	reg, err := newRegistryFormat("avro", options, env)
	if err != nil {
		return nil, err
	}
	latest, err := reg.latest(SchemaAvro)
	if len(declared) > 0 {
		if errors.Is(err, ErrNotRegistered) {
			return declared, nil // producers may register it later
		}
		if err != nil {
			return nil, err
		}
		d := &avroDecoder{cols: declared, byName: map[string]int{}}
		for i, c := range declared {
			d.byName[c.Name] = i
		}
		if p := d.compile(latest); p.err != nil {
			return nil, fmt.Errorf("%w (the latest version of subject %s)", p.err, reg.subject)
		}
		return declared, nil
	}
	if err != nil {
		return nil, err
	}
	rec, ok := deref(latest.Avro).(*hamba.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("format avro: subject %s holds %s values, not records; a source reads records", reg.subject, describeAvro(latest.Avro))
	}
	cols := make([]Column, 0, len(rec.Fields()))
	for _, f := range rec.Fields() {
		cols = append(cols, Column{Name: f.Name(), Type: columnKind(f.Type())})
	}
	return cols, nil
}

// columnKind is the column type a field of type s gets: its natural kind,
// a nullable union's other branch's, and jsonb for records, arrays, maps
// and other unions.
func columnKind(s hamba.Schema) types.Kind {
	s = deref(s)
	if u, ok := s.(*hamba.UnionSchema); ok {
		var kind types.Kind
		n := 0
		for _, b := range u.Types() {
			if k := naturalKind(b); k != types.KindNull {
				kind, n = k, n+1
			}
		}
		if n == 1 {
			return kind
		}
		return types.KindJSON
	}
	if k := naturalKind(s); k != types.KindNull {
		return k
	}
	return types.KindJSON
}

// avroEncoder writes rows as framed Avro records of the schema it
// registered: every column nullable, in column order.
type avroEncoder struct {
	cols []Column
	id   int
}

func newAvroEncoder(cols []Column, options map[string]string, env Env) (Encoder, error) {
	reg, err := newRegistryFormat("avro", options, env)
	if err != nil {
		return nil, err
	}
	name, ok := options["avro.record-name"]
	if !ok {
		name = "tide." + avroName(env.Name)
	}
	text, err := avroSchemaText(name, cols)
	if err != nil {
		return nil, err
	}
	id, err := reg.register(SchemaAvro, text)
	if err != nil {
		return nil, err
	}
	return &avroEncoder{cols: cols, id: id}, nil
}

// avroSchemaText declares a record of the columns, each a union of null
// and the column's Avro type with a null default:
//
//	boolean     boolean            bytea        bytes
//	smallint,   int                timestamp    long (local-timestamp-micros)
//	integer                        timestamptz  long (timestamp-micros)
//	bigint      long               date         int (date)
//	double      double             interval,    string (Postgres' text)
//	numeric     string (its text:  json         string (the JSON text)
//	            exact, any scale)  text         string
func avroSchemaText(fullName string, cols []Column) (string, error) {
	b := []byte(`{"type":"record","name":`)
	b = appendString(b, fullName, false)
	b = append(b, `,"fields":[`...)
	for i, c := range cols {
		if !validAvroName(c.Name) {
			return "", fmt.Errorf("format avro: column %q is not a valid Avro field name (a letter or _, then letters, digits or _): rename it with AS", c.Name)
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendString(b, c.Name, false)
		b = append(b, `,"type":["null",`...)
		b = append(b, avroTypeOf(c.Type)...)
		b = append(b, `],"default":null}`...)
	}
	b = append(b, "]}"...)
	// A cache of its own: hamba's default one is process-wide, and would
	// keep every sink's record name and resolve it in unrelated schemas.
	if _, err := hamba.ParseWithCache(string(b), "", &hamba.SchemaCache{}); err != nil {
		return "", fmt.Errorf("format avro: the record name %q is not a valid Avro name: %w", fullName, err)
	}
	return string(b), nil
}

func avroTypeOf(k types.Kind) string {
	switch k {
	case types.KindBool:
		return `"boolean"`
	case types.KindInt2, types.KindInt4:
		return `"int"`
	case types.KindInt8:
		return `"long"`
	case types.KindFloat8:
		return `"double"`
	case types.KindBytea:
		return `"bytes"`
	case types.KindTimestamp:
		return `{"type":"long","logicalType":"local-timestamp-micros"}`
	case types.KindTimestampTZ:
		return `{"type":"long","logicalType":"timestamp-micros"}`
	case types.KindDate:
		return `{"type":"int","logicalType":"date"}`
	}
	return `"string"`
}

func validAvroName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !avroNameByte(s[i], i == 0) {
			return false
		}
	}
	return true
}

// avroNameByte reports whether c may be in an Avro name: a letter or _,
// or a digit after the first.
func avroNameByte(c byte, first bool) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || !first && '0' <= c && c <= '9'
}

// avroName makes a name valid in Avro: other characters become '_'.
func avroName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !avroNameByte(c, i == 0) {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "record"
	}
	return string(b)
}

// Encode appends the frame and the row as an Avro record.
func (e *avroEncoder) Encode(dst []byte, row types.Row) ([]byte, error) {
	if len(row) < len(e.cols) {
		return dst, fmt.Errorf("format avro: row has %d values for %d columns", len(row), len(e.cols))
	}
	dst = appendFrame(dst, e.id)
	for i := range e.cols {
		c := &e.cols[i]
		v := &row[i]
		if v.IsNull() {
			dst = append(dst, 0) // union branch 0: null
			continue
		}
		dst = append(dst, 2) // union branch 1, zig-zag encoded
		var err error
		if dst, err = appendAvroValue(dst, c.Type, v); err != nil {
			return dst, fmt.Errorf("format avro: column %q: %w", c.Name, err)
		}
	}
	return dst, nil
}

// appendAvroValue appends v as the Avro type of kind k (see
// avroSchemaText), converting a value of another kind first.
func appendAvroValue(dst []byte, k types.Kind, v *types.Value) ([]byte, error) {
	if v.Kind() != k {
		var conv types.Value
		if err := convertTo(*v, k, &conv); err != nil {
			return dst, err
		}
		v = &conv
	}
	switch k {
	case types.KindBool:
		if v.Bool() {
			return append(dst, 1), nil
		}
		return append(dst, 0), nil
	case types.KindInt2, types.KindInt4, types.KindInt8, types.KindTimestamp, types.KindTimestampTZ:
		return appendVarlong(dst, v.Int()), nil
	case types.KindDate:
		return appendVarlong(dst, int64(v.Days())), nil
	case types.KindFloat8:
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(v.Float())), nil
	case types.KindBytea:
		return append(appendVarlong(dst, int64(len(v.Bytes()))), v.Bytes()...), nil
	case types.KindText, types.KindJSON:
		return append(appendVarlong(dst, int64(len(v.Text()))), v.Text()...), nil
	}
	// numeric and interval: their Postgres text.
	var buf [64]byte
	text := v.AppendText(buf[:0])
	return append(appendVarlong(dst, int64(len(text))), text...), nil
}

// appendVarlong appends n zig-zag varint encoded, as Avro's int and long.
func appendVarlong(dst []byte, n int64) []byte {
	return binary.AppendUvarint(dst, uint64(n<<1^(n>>63)))
}
