package format

import (
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"
	hamba "github.com/hamba/avro/v2"
	"github.com/valyala/fastjson"

	"github.com/tide-data/tide/internal/sql/types"
)

// avroDecoder reads Confluent-framed Avro values into rows. The writer's
// schema is the one the frame names; the reader's is the declared
// columns, matched to the writer's fields by name. For every writer
// schema it meets it compiles a program once (avroProgram) and keeps it.
type avroDecoder struct {
	reg  registryFormat
	cols []Column
	// byName maps a column name to its index.
	byName map[string]int

	lastID   int
	lastProg *avroProgram
	progs    map[int]*avroProgram
}

// maxCachedPrograms bounds the programs one decoder keeps: a topic sees a
// handful of schema versions, but a stream of forged ids must not grow
// memory without end.
const maxCachedPrograms = 1024

// avroProgram reads one writer schema's records into the columns.
type avroProgram struct {
	id     int
	fields []avroFieldStep
	// absent are the columns no writer field gives: NULL.
	absent []int
	// err, when the writer schema cannot be read into the columns at all
	// (it is not a record, a field has a type a column cannot take), is
	// every record's error.
	err error
}

type avroFieldStep struct {
	col  int // -1: not a column, skipped
	read avroRead
}

// avroRead reads one value of a compiled writer type. dst is nil for a
// value that is skipped.
type avroRead func(r *avroReader, dst *types.Value) error

func newAvroDecoder(cols []Column, options map[string]string, env Env) (Decoder, error) {
	reg, err := newRegistryFormat("avro", options, env)
	if err != nil {
		return nil, err
	}
	d := &avroDecoder{reg: reg, cols: cols, byName: make(map[string]int, len(cols)), progs: map[int]*avroProgram{}}
	for i, c := range cols {
		d.byName[c.Name] = i
	}
	return d, nil
}

// Decode reads one framed value into row.
func (d *avroDecoder) Decode(data []byte, row types.Row) error {
	id, payload, err := readFrame("avro", data)
	if err != nil {
		return err
	}
	p := d.lastProg
	if p == nil || id != d.lastID {
		if p, err = d.program(id); err != nil {
			return err
		}
		d.lastID, d.lastProg = id, p
	}
	if p.err != nil {
		return p.err
	}
	r := avroReader{b: payload, id: id, items: int64(len(payload)) + maxAvroEmptyItems}
	for i := range p.fields {
		f := &p.fields[i]
		var dst *types.Value
		if f.col >= 0 {
			dst = &row[f.col]
		}
		if err := f.read(&r, dst); err != nil {
			if f.col >= 0 {
				return columnError(&d.cols[f.col], err)
			}
			return err
		}
	}
	if r.i != len(r.b) {
		return r.fail("%d bytes follow the record", len(r.b)-r.i)
	}
	for _, c := range p.absent {
		row[c] = types.Null(d.cols[c].Type)
	}
	return nil
}

// program returns the compiled program of writer schema id.
func (d *avroDecoder) program(id int) (*avroProgram, error) {
	if p, ok := d.progs[id]; ok {
		return p, nil
	}
	s, err := d.reg.schemas.ByID(id)
	if err != nil {
		return nil, &types.Error{Code: codeInvalidText, Message: fmt.Sprintf("format avro: schema id %d: %v", id, err)}
	}
	p := d.compile(s)
	if len(d.progs) >= maxCachedPrograms {
		clear(d.progs)
	}
	d.progs[id] = p
	return p, nil
}

// compile builds the program reading writer schema s into the columns.
func (d *avroDecoder) compile(s RegisteredSchema) *avroProgram {
	p := &avroProgram{id: s.ID}
	fail := func(format string, args ...any) *avroProgram {
		p.err = &types.Error{Code: codeInvalidText, Message: fmt.Sprintf("format avro: schema id %d: ", s.ID) + fmt.Sprintf(format, args...)}
		return p
	}
	if s.Type != SchemaAvro || s.Avro == nil {
		return fail("a %s schema, not Avro", s.Type)
	}
	rec, ok := deref(s.Avro).(*hamba.RecordSchema)
	if !ok {
		return fail("the values are %s, not records; a source reads records", describeAvro(s.Avro))
	}
	given := make([]bool, len(d.cols))
	for _, f := range rec.Fields() {
		col, ok := d.byName[f.Name()]
		if !ok || given[col] {
			p.fields = append(p.fields, avroFieldStep{col: -1, read: compileAvro(f.Type(), types.KindNull)})
			continue
		}
		given[col] = true
		read, err := compileAvroChecked(f.Type(), d.cols[col].Type)
		if err != nil {
			return fail("column %q (%s) cannot be read from field %s: %v", d.cols[col].Name, d.cols[col].Type, f.Name(), err)
		}
		p.fields = append(p.fields, avroFieldStep{col: col, read: read})
	}
	for i, ok := range given {
		if !ok {
			p.absent = append(p.absent, i)
		}
	}
	return p
}

// deref follows a reference to a named type defined elsewhere.
func deref(s hamba.Schema) hamba.Schema {
	for {
		r, ok := s.(*hamba.RefSchema)
		if !ok {
			return s
		}
		s = r.Schema()
	}
}

// compileAvroChecked compiles a read of writer type s into kind k, or
// says why a k column cannot hold it. A union compiles when at least one
// branch does; a record with another branch fails when it comes.
func compileAvroChecked(s hamba.Schema, k types.Kind) (avroRead, error) {
	s = deref(s)
	if u, ok := s.(*hamba.UnionSchema); ok {
		var firstErr error
		usable := false
		for _, b := range u.Types() {
			if _, err := compileAvroChecked(b, k); err != nil {
				firstErr = err
			} else {
				usable = true
			}
		}
		if !usable {
			return nil, firstErr
		}
		return compileAvro(s, k), nil
	}
	if !convertible(naturalKind(s), k) || !enumInto(s, k) {
		return nil, fmt.Errorf("the Avro type %s does not convert to %s", describeAvro(s), k)
	}
	return compileAvro(s, k), nil
}

// enumInto reports whether an enum's symbols can go to kind k: they are
// names, so text or json; other types pass.
func enumInto(s hamba.Schema, k types.Kind) bool {
	_, isEnum := s.(*hamba.EnumSchema)
	return !isEnum || k == types.KindText || k == types.KindJSON
}

// compileAvro compiles a read of writer type s into kind k (KindNull:
// skip it). A conversion that cannot work is a read that fails with the
// reason, so a union's unusable branch errors only when it is met.
func compileAvro(s hamba.Schema, k types.Kind) avroRead {
	s = deref(s)
	if k == types.KindNull {
		return compileSkip(s)
	}
	switch t := s.(type) {
	case *hamba.UnionSchema:
		if k == types.KindJSON && columnKind(t) == types.KindJSON {
			// A value of several types ["null", "long", "string"] is
			// rendered as what it is (a string as a JSON string), not
			// cast from its text as a lone string is.
			return compileJSON(s)
		}
		branches := make([]avroRead, len(t.Types()))
		for i, b := range t.Types() {
			branches[i] = compileAvro(b, k)
		}
		return func(r *avroReader, dst *types.Value) error {
			n, err := r.long()
			if err != nil {
				return err
			}
			if n < 0 || n >= int64(len(branches)) {
				return r.fail("union index %d out of range (%d branches)", n, len(branches))
			}
			return branches[n](r, dst)
		}
	case *hamba.NullSchema:
		return func(_ *avroReader, dst *types.Value) error {
			*dst = types.Null(k)
			return nil
		}
	case *hamba.RecordSchema, *hamba.ArraySchema, *hamba.MapSchema:
		read := compileJSON(s)
		if k == types.KindJSON {
			return read
		}
		return func(r *avroReader, dst *types.Value) error {
			if err := read(r, dst); err != nil {
				return err
			}
			if k == types.KindText {
				*dst = types.NewText(dst.Text())
				return nil
			}
			return r.fail("Avro %s does not convert to %s", describeAvro(s), k)
		}
	}
	if k == types.KindJSON && !isAvroString(s) {
		// An enum symbol, a time of day, a timestamp: the JSON value
		// to_json gives (a string is cast: its text is JSON).
		return compileJSON(s)
	}
	read := compileNatural(s)
	nk := naturalKind(s)
	if nk == k {
		return read
	}
	if !convertible(nk, k) {
		return func(r *avroReader, _ *types.Value) error {
			return r.fail("Avro %s does not convert to %s", describeAvro(s), k)
		}
	}
	return func(r *avroReader, dst *types.Value) error {
		var v types.Value
		if err := read(r, &v); err != nil {
			return err
		}
		return convertTo(v, k, dst)
	}
}

// isAvroString reports whether s is Avro's string (uuid included).
func isAvroString(s hamba.Schema) bool {
	p, ok := s.(*hamba.PrimitiveSchema)
	return ok && p.Type() == hamba.String
}

// compileJSON reads a value of s rendered as json. A union's null branch
// is SQL NULL, as in a column of any other type (and as JSON null is in
// format json): only a null renders as the bare text null.
func compileJSON(s hamba.Schema) avroRead {
	render := compileRender(s)
	return func(r *avroReader, dst *types.Value) error {
		text, err := render(r, nil)
		if err != nil {
			return err
		}
		if string(text) == "null" {
			*dst = types.Null(types.KindJSON)
			return nil
		}
		v, err := canonicalJSON(text)
		if err != nil {
			return err
		}
		*dst = v
		return nil
	}
}

// naturalKind is the SQL kind a writer type reads as unconverted.
func naturalKind(s hamba.Schema) types.Kind {
	s = deref(s)
	switch t := s.(type) {
	case *hamba.PrimitiveSchema:
		if l := t.Logical(); l != nil {
			switch l.Type() {
			case hamba.Date:
				return types.KindDate
			case hamba.TimestampMillis, hamba.TimestampMicros:
				return types.KindTimestampTZ
			case hamba.LocalTimestampMillis, hamba.LocalTimestampMicros:
				return types.KindTimestamp
			case hamba.Decimal:
				return types.KindNumeric
			case hamba.TimeMillis, hamba.TimeMicros:
				return types.KindText
			}
		}
		switch t.Type() {
		case hamba.Boolean:
			return types.KindBool
		case hamba.Int:
			return types.KindInt4
		case hamba.Long:
			return types.KindInt8
		case hamba.Float, hamba.Double:
			return types.KindFloat8
		case hamba.String:
			return types.KindText
		case hamba.Bytes:
			return types.KindBytea
		}
	case *hamba.FixedSchema:
		if l := t.Logical(); l != nil {
			switch l.Type() {
			case hamba.Decimal:
				return types.KindNumeric
			case hamba.Duration:
				return types.KindInterval
			}
		}
		return types.KindBytea
	case *hamba.EnumSchema:
		return types.KindText
	case *hamba.NullSchema:
		return types.KindNull
	}
	return types.KindJSON
}

// compileNatural reads a primitive, fixed or enum value as its natural
// kind.
func compileNatural(s hamba.Schema) avroRead {
	switch t := s.(type) {
	case *hamba.EnumSchema:
		symbols := t.Symbols()
		return func(r *avroReader, dst *types.Value) error {
			n, err := r.long()
			if err != nil {
				return err
			}
			if n < 0 || n >= int64(len(symbols)) {
				return r.fail("enum index %d out of range (%d symbols)", n, len(symbols))
			}
			*dst = types.NewText(symbols[n])
			return nil
		}
	case *hamba.FixedSchema:
		size := t.Size()
		logical := t.Logical()
		return func(r *avroReader, dst *types.Value) error {
			b, err := r.take(size)
			if err != nil {
				return err
			}
			return fixedValue(r, b, logical, dst)
		}
	}
	t, ok := s.(*hamba.PrimitiveSchema)
	if !ok {
		return func(r *avroReader, _ *types.Value) error { return r.fail("unsupported Avro type %s", s.Type()) }
	}
	var logical hamba.LogicalType
	if l := t.Logical(); l != nil {
		logical = l.Type()
	}
	switch t.Type() {
	case hamba.Boolean:
		return func(r *avroReader, dst *types.Value) error {
			b, err := r.take(1)
			if err != nil {
				return err
			}
			if b[0] > 1 {
				return r.fail("boolean byte %d", b[0])
			}
			*dst = types.NewBool(b[0] == 1)
			return nil
		}
	case hamba.Int, hamba.Long:
		isInt := t.Type() == hamba.Int
		return func(r *avroReader, dst *types.Value) error {
			n, err := r.long()
			if err != nil {
				return err
			}
			if isInt && (n < math.MinInt32 || n > math.MaxInt32) {
				return r.fail("int %d out of range", n)
			}
			return integerValue(r, n, isInt, logical, dst)
		}
	case hamba.Float:
		return func(r *avroReader, dst *types.Value) error {
			b, err := r.take(4)
			if err != nil {
				return err
			}
			*dst = types.NewFloat8(float64(math.Float32frombits(binary.LittleEndian.Uint32(b))))
			return nil
		}
	case hamba.Double:
		return func(r *avroReader, dst *types.Value) error {
			b, err := r.take(8)
			if err != nil {
				return err
			}
			*dst = types.NewFloat8(math.Float64frombits(binary.LittleEndian.Uint64(b)))
			return nil
		}
	case hamba.String:
		return func(r *avroReader, dst *types.Value) error {
			b, err := r.bytes()
			if err != nil {
				return err
			}
			if err := checkText(b); err != nil {
				return err
			}
			*dst = types.NewText(string(b))
			return nil
		}
	case hamba.Bytes:
		var scale int
		if d, ok := t.Logical().(*hamba.DecimalLogicalSchema); ok {
			scale = d.Scale()
		}
		return func(r *avroReader, dst *types.Value) error {
			b, err := r.bytes()
			if err != nil {
				return err
			}
			if logical == hamba.Decimal {
				return decimalValue(r, b, scale, dst)
			}
			*dst = types.NewBytea(b)
			return nil
		}
	}
	return func(r *avroReader, _ *types.Value) error { return r.fail("unsupported Avro type %s", t.Type()) }
}

// integerValue is an int or long with its logical type.
func integerValue(r *avroReader, n int64, isInt bool, logical hamba.LogicalType, dst *types.Value) error {
	switch logical {
	case hamba.Date:
		if err := types.CheckDate(n); err != nil {
			return err
		}
		*dst = types.NewDate(int32(n))
	case hamba.TimestampMillis, hamba.LocalTimestampMillis:
		if n > math.MaxInt64/1000 || n < math.MinInt64/1000 {
			return types.ErrTimestampRange
		}
		n *= 1000
		fallthrough
	case hamba.TimestampMicros, hamba.LocalTimestampMicros:
		if err := types.CheckTimestamp(n); err != nil {
			return err
		}
		if logical == hamba.LocalTimestampMillis || logical == hamba.LocalTimestampMicros {
			*dst = types.NewTimestamp(n)
		} else {
			*dst = types.NewTimestampTZ(n)
		}
	case hamba.TimeMillis, hamba.TimeMicros:
		if logical == hamba.TimeMillis {
			n *= 1000
		}
		if n < 0 || n > types.MicrosPerDay {
			return r.fail("time of day %d µs out of range", n)
		}
		*dst = types.NewText(string(appendTimeOfDay(nil, n)))
	default:
		if isInt {
			*dst = types.NewInt4(int32(n))
		} else {
			*dst = types.NewInt8(n)
		}
	}
	return nil
}

// appendTimeOfDay appends HH:MM:SS[.ffffff] as Postgres' time prints.
func appendTimeOfDay(dst []byte, us int64) []byte {
	two := func(dst []byte, n int64) []byte { return append(dst, byte('0'+n/10), byte('0'+n%10)) }
	dst = two(dst, us/types.MicrosPerHour)
	dst = two(append(dst, ':'), us/types.MicrosPerMinute%60)
	dst = two(append(dst, ':'), us/types.MicrosPerSecond%60)
	if frac := us % types.MicrosPerSecond; frac != 0 {
		digits := []byte(fmt.Sprintf(".%06d", frac))
		for digits[len(digits)-1] == '0' {
			digits = digits[:len(digits)-1]
		}
		dst = append(dst, digits...)
	}
	return dst
}

// fixedValue is a fixed with its logical type.
func fixedValue(r *avroReader, b []byte, logical hamba.LogicalSchema, dst *types.Value) error {
	if logical != nil {
		switch l := logical.(type) {
		case *hamba.DecimalLogicalSchema:
			return decimalValue(r, b, l.Scale(), dst)
		default:
			if logical.Type() == hamba.Duration && len(b) == 12 {
				months := binary.LittleEndian.Uint32(b)
				days := binary.LittleEndian.Uint32(b[4:])
				millis := binary.LittleEndian.Uint32(b[8:])
				if months > math.MaxInt32 || days > math.MaxInt32 {
					return r.fail("duration out of range")
				}
				*dst = types.NewInterval(int32(months), int32(days), int64(millis)*1000)
				return nil
			}
		}
	}
	*dst = types.NewBytea(b)
	return nil
}

// Numeric's limits, as Postgres stores them: 131072 digits before the
// point and 16383 after.
const (
	maxNumericIntegerDigits = 131072
	maxNumericScale         = 16383
	// maxAvroDecimalBytes is the most bytes a decimal's unscaled integer
	// within those limits takes: 147455 digits in 489836 bits, the sign
	// included.
	maxAvroDecimalBytes = 61230
)

// decimalValue reads Avro's decimal: a big-endian two's-complement
// unscaled integer. A scale or a value numeric cannot hold is out of
// range (Avro's scale is any int: it must neither wrap in int32 nor
// print as gigabytes of zeros).
func decimalValue(r *avroReader, b []byte, scale int, dst *types.Value) error {
	if scale < 0 || scale > maxNumericScale || len(b) > maxAvroDecimalBytes {
		return r.failCode(types.CodeNumericValueOutOfRange, "decimal of scale %d in %d bytes: out of range for numeric", scale, len(b))
	}
	var coeff apd.BigInt
	coeff.SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		var full apd.BigInt
		full.Lsh(apd.NewBigInt(1), uint(8*len(b)))
		coeff.Sub(&coeff, &full)
	}
	if apd.NumDigits(&coeff)-int64(scale) > maxNumericIntegerDigits {
		return r.failCode(types.CodeNumericValueOutOfRange, "decimal of %d digits and scale %d: out of range for numeric", apd.NumDigits(&coeff), scale)
	}
	*dst = types.NewNumeric(apd.NewWithBigInt(&coeff, -int32(scale)))
	return nil
}

// compileSkip skips a value of type s. Scalars are stepped over without
// being converted (a field no column wants costs no allocation, and a
// value only a conversion would refuse does not fail the record).
func compileSkip(s hamba.Schema) avroRead {
	switch t := deref(s).(type) {
	case *hamba.RecordSchema, *hamba.ArraySchema, *hamba.MapSchema, *hamba.UnionSchema:
		render := compileRender(s)
		return func(r *avroReader, _ *types.Value) error {
			_, err := render(r, nil)
			return err
		}
	case *hamba.NullSchema:
		return func(*avroReader, *types.Value) error { return nil }
	case *hamba.FixedSchema:
		size := t.Size()
		return func(r *avroReader, _ *types.Value) error {
			_, err := r.take(size)
			return err
		}
	case *hamba.EnumSchema:
		return func(r *avroReader, _ *types.Value) error {
			_, err := r.long()
			return err
		}
	case *hamba.PrimitiveSchema:
		switch t.Type() {
		case hamba.Int, hamba.Long:
			return func(r *avroReader, _ *types.Value) error {
				_, err := r.long()
				return err
			}
		case hamba.String, hamba.Bytes:
			return func(r *avroReader, _ *types.Value) error {
				_, err := r.bytes()
				return err
			}
		}
	}
	read := compileNatural(deref(s)) // boolean, float, double: checked
	return func(r *avroReader, _ *types.Value) error {
		var v types.Value
		return read(r, &v)
	}
}

// avroRender appends a value as JSON text.
type avroRender func(r *avroReader, dst []byte) ([]byte, error)

// compileRender renders values of s as JSON: records as objects, arrays,
// maps as objects, unions as the branch's value, scalars as Tide's JSON
// encoder writes their natural kind.
func compileRender(s hamba.Schema) avroRender {
	return renderCompiler{}.render(s)
}

// renderCompiler compiles each record type once, so a recursive schema
// gives a cycle of closures rather than a copy per level of nesting.
type renderCompiler map[*hamba.RecordSchema]avroRender

func (c renderCompiler) render(s hamba.Schema) avroRender {
	switch t := deref(s).(type) {
	case *hamba.NullSchema:
		return func(_ *avroReader, dst []byte) ([]byte, error) { return append(dst, "null"...), nil }
	case *hamba.RecordSchema:
		if render, ok := c[t]; ok {
			return render
		}
		fields := t.Fields()
		names := make([][]byte, len(fields))
		renders := make([]avroRender, len(fields))
		render := func(r *avroReader, dst []byte) ([]byte, error) {
			if r.depth++; r.depth > maxAvroDepth {
				return dst, r.fail("values nested deeper than %d", maxAvroDepth)
			}
			defer func() { r.depth-- }()
			dst = append(dst, '{')
			for i := range renders {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = append(dst, names[i]...)
				var err error
				if dst, err = renders[i](r, dst); err != nil {
					return dst, err
				}
			}
			return append(dst, '}'), nil
		}
		c[t] = render // before the fields: they may name this record
		for i, f := range fields {
			names[i] = append(appendString(nil, f.Name(), true), ':')
			renders[i] = c.render(f.Type())
		}
		return render
	case *hamba.ArraySchema:
		item := c.render(t.Items())
		return func(r *avroReader, dst []byte) ([]byte, error) {
			return r.blocks(dst, '[', ']', false, item)
		}
	case *hamba.MapSchema:
		value := c.render(t.Values())
		return func(r *avroReader, dst []byte) ([]byte, error) {
			return r.blocks(dst, '{', '}', true, value)
		}
	case *hamba.UnionSchema:
		branches := make([]avroRender, len(t.Types()))
		for i, b := range t.Types() {
			branches[i] = c.render(b)
		}
		return func(r *avroReader, dst []byte) ([]byte, error) {
			n, err := r.long()
			if err != nil {
				return dst, err
			}
			if n < 0 || n >= int64(len(branches)) {
				return dst, r.fail("union index %d out of range (%d branches)", n, len(branches))
			}
			return branches[n](r, dst)
		}
	}
	read := compileNatural(deref(s))
	return func(r *avroReader, dst []byte) ([]byte, error) {
		var v types.Value
		if err := read(r, &v); err != nil {
			return dst, err
		}
		return appendJSONValue(dst, &v)
	}
}

// maxAvroDepth bounds the nesting of rendered values (a recursive schema
// can nest without end).
const maxAvroDepth = 1000

// maxAvroEmptyItems is how many array or map items one value may hold
// beyond one per byte of it: items of no bytes (null, an empty record)
// cost nothing to encode, and a few bytes of block counts must not stand
// for billions of them.
const maxAvroEmptyItems = 1 << 16

// canonicalJSON turns rendered JSON into a json value in jsonb's text.
func canonicalJSON(text []byte) (types.Value, error) {
	var p fastjson.Parser
	v, err := p.ParseBytes(text)
	if err != nil {
		return types.Value{}, fmt.Errorf("rendering a nested value as JSON: %w", err)
	}
	out, err := types.AppendJSONB(nil, v)
	if err != nil {
		return types.Value{}, err
	}
	return types.NewJSON(string(out)), nil
}

// avroReader reads Avro's binary encoding from b.
type avroReader struct {
	b     []byte
	i     int
	id    int
	depth int
	// items is how many more array and map items the value may hold.
	items int64
}

func (r *avroReader) fail(format string, args ...any) error {
	return r.failCode(codeInvalidText, format, args...)
}

func (r *avroReader) failCode(code, format string, args ...any) error {
	return &types.Error{Code: code, Message: fmt.Sprintf("format avro: schema id %d: byte %d: ", r.id, r.i) + fmt.Sprintf(format, args...)}
}

// long reads a zig-zag varint.
func (r *avroReader) long() (int64, error) {
	var u uint64
	for shift := uint(0); shift < 70; shift += 7 {
		if r.i >= len(r.b) {
			return 0, r.fail("the value ends early")
		}
		c := r.b[r.i]
		r.i++
		if shift == 63 && c > 1 {
			return 0, r.fail("a varint longer than 64 bits")
		}
		u |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), nil
		}
	}
	return 0, r.fail("a varint longer than 64 bits")
}

func (r *avroReader) take(n int) ([]byte, error) {
	if n < 0 || n > len(r.b)-r.i {
		return nil, r.fail("the value ends early")
	}
	b := r.b[r.i : r.i+n]
	r.i += n
	return b, nil
}

// bytes reads a length-prefixed byte string.
func (r *avroReader) bytes() ([]byte, error) {
	n, err := r.long()
	if err != nil {
		return nil, err
	}
	if n < 0 || n > int64(len(r.b)-r.i) {
		return nil, r.fail("a length of %d with %d bytes left", n, len(r.b)-r.i)
	}
	return r.take(int(n))
}

// blocks renders an array or map: blocks of a count (negative: followed
// by the block's size in bytes) and that many items, ending at count 0.
func (r *avroReader) blocks(dst []byte, open, closing byte, keyed bool, item avroRender) ([]byte, error) {
	if r.depth++; r.depth > maxAvroDepth {
		return dst, r.fail("values nested deeper than %d", maxAvroDepth)
	}
	defer func() { r.depth-- }()
	dst = append(dst, open)
	first := true
	for {
		n, err := r.long()
		if err != nil {
			return dst, err
		}
		if n == 0 {
			return append(dst, closing), nil
		}
		if n < 0 {
			if n == math.MinInt64 {
				return dst, r.fail("block count out of range")
			}
			n = -n
			if _, err := r.long(); err != nil {
				return dst, err
			}
		}
		// Items take a byte or more, except nulls and empty records: a
		// count far beyond the bytes of the value is corrupt, not a
		// long array.
		if n > r.items {
			return dst, r.fail("a block of %d items with %d bytes left", n, len(r.b)-r.i)
		}
		r.items -= n
		for range n {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			if keyed {
				k, err := r.bytes()
				if err != nil {
					return dst, err
				}
				if !utf8.Valid(k) {
					return dst, r.fail("a map key that is not UTF-8")
				}
				dst = append(appendString(dst, string(k), false), ':')
			}
			if dst, err = item(r, dst); err != nil {
				return dst, err
			}
		}
	}
}

// describeAvro names a writer type in messages.
func describeAvro(s hamba.Schema) string {
	s = deref(s)
	if p, ok := s.(*hamba.PrimitiveSchema); ok && p.Logical() != nil {
		return fmt.Sprintf("%s (%s)", p.Type(), p.Logical().Type())
	}
	if n, ok := s.(hamba.NamedSchema); ok {
		return fmt.Sprintf("%s %s", s.Type(), n.FullName())
	}
	return string(s.Type())
}
