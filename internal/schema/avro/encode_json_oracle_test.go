package avro

// The JSON encoder this package had before the one-pass scanner of
// encode_json.go: fastjson validates the document, parses it into a tree,
// and the tree is walked with the schema. It is kept as the oracle of the
// differential tests (encode_json_diff_test.go): both must write the same
// bytes, or both fail.

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	hamba "github.com/hamba/avro/v2"
	"github.com/valyala/fastjson"
)

// oracleEncodeJSON is EncodeJSON as it was, but for one deliberate
// change: fastjson's validator looks for control characters in a string
// only after its last escape (a raw 0x02 byte followed by the escape \n
// passed), where EncodeJSON now refuses them anywhere, as RFC 8259 and
// HTTP ingestion's own scanner do. encoding/json's check, which differs
// from fastjson's in that only (besides taking any nesting up to 10,000,
// which fastjson's parser then refuses), stands for the fix.
func oracleEncodeJSON(s *Schema, jsonValue []byte) ([]byte, error) {
	if err := fastjson.ValidateBytes(jsonValue); err != nil {
		return nil, &DataError{kind: ErrValue, Offset: -1, Reason: "invalid JSON: " + err.Error()}
	}
	if !json.Valid(jsonValue) {
		return nil, &DataError{kind: ErrValue, Offset: -1, Reason: "invalid JSON: a control character in a string"}
	}
	var parser fastjson.Parser
	v, err := parser.ParseBytes(jsonValue)
	if err != nil {
		return nil, &DataError{kind: ErrValue, Offset: -1, Reason: "invalid JSON: " + err.Error()}
	}
	e := &oracleEncoder{records: s.records, enums: s.enums}
	out, derr := e.value(nil, s.avro, v)
	if derr != nil {
		return nil, derr.finish()
	}
	return out, nil
}

// oracleEncoder writes fastjson values as Avro binary.
type oracleEncoder struct {
	records map[*hamba.RecordSchema]*recordInfo
	enums   map[*hamba.EnumSchema]map[string]int
	depth   int
	slots   []*fastjson.Value // the members of the records being encoded, a stack
}

func (e *oracleEncoder) fail(format string, args ...any) *DataError {
	return &DataError{kind: ErrValue, Offset: -1, Reason: fmt.Sprintf(format, args...)}
}

func (e *oracleEncoder) mismatch(want string, v *fastjson.Value) *DataError {
	return e.fail("expected %s, got %s", want, oracleDescribeJSON(v))
}

// describeJSON names a JSON value for messages: its type, and the value
// itself when short.
func oracleDescribeJSON(v *fastjson.Value) string {
	switch v.Type() {
	case fastjson.TypeString:
		s := v.GetStringBytes()
		if len(s) <= 32 {
			return "string " + strconv.Quote(string(s))
		}
		return "string"
	case fastjson.TypeNumber:
		return "number " + string(v.MarshalTo(nil))
	case fastjson.TypeTrue, fastjson.TypeFalse:
		return "boolean"
	}
	return v.Type().String()
}

func (e *oracleEncoder) value(dst []byte, s hamba.Schema, v *fastjson.Value) ([]byte, *DataError) {
	switch s := s.(type) {
	case *hamba.RefSchema:
		return e.value(dst, s.Schema(), v)
	case *hamba.NullSchema:
		if v.Type() != fastjson.TypeNull {
			return dst, e.mismatch("null", v)
		}
		return dst, nil
	case *hamba.PrimitiveSchema:
		return e.primitive(dst, s.Type(), v)
	case *hamba.RecordSchema:
		return e.record(dst, s, v)
	case *hamba.EnumSchema:
		if v.Type() != fastjson.TypeString {
			return dst, e.mismatch("a symbol of enum "+s.FullName(), v)
		}
		i, ok := e.enums[s][string(v.GetStringBytes())]
		if !ok {
			return dst, e.fail("%q is not a symbol of enum %s", v.GetStringBytes(), s.FullName())
		}
		return appendLong(dst, int64(i)), nil
	case *hamba.FixedSchema:
		if v.Type() != fastjson.TypeString {
			return dst, e.mismatch(fmt.Sprintf("a string of %d bytes for fixed %s", s.Size(), s.FullName()), v)
		}
		n := len(dst)
		dst, derr := e.bytes(dst, v)
		if derr != nil {
			return dst, derr
		}
		if got := len(dst) - n; got != s.Size() {
			return dst[:n], e.fail("fixed %s needs %d bytes, got %d", s.FullName(), s.Size(), got)
		}
		return dst, nil
	case *hamba.ArraySchema:
		if v.Type() != fastjson.TypeArray {
			return dst, e.mismatch("array", v)
		}
		if e.depth++; e.depth > maxDepth {
			return dst, e.fail("nested more than %d levels deep", maxDepth)
		}
		defer func() { e.depth-- }()
		items, _ := v.Array()
		if len(items) > 0 {
			dst = appendLong(dst, int64(len(items)))
			for i, item := range items {
				var derr *DataError
				if dst, derr = e.value(dst, s.Items(), item); derr != nil {
					return dst, derr.inIndex(i)
				}
			}
		}
		return append(dst, 0), nil
	case *hamba.MapSchema:
		return e.mapValue(dst, s, v)
	case *hamba.UnionSchema:
		return e.union(dst, s, v)
	}
	return dst, e.fail("unsupported schema type %s", s.Type())
}

func (e *oracleEncoder) primitive(dst []byte, t hamba.Type, v *fastjson.Value) ([]byte, *DataError) {
	switch t {
	case hamba.Null:
		if v.Type() != fastjson.TypeNull {
			return dst, e.mismatch("null", v)
		}
		return dst, nil
	case hamba.Boolean:
		switch v.Type() {
		case fastjson.TypeTrue:
			return append(dst, 1), nil
		case fastjson.TypeFalse:
			return append(dst, 0), nil
		}
		return dst, e.mismatch("boolean", v)
	case hamba.Int:
		n, derr := e.integer(v, "int")
		if derr != nil {
			return dst, derr
		}
		if n < math.MinInt32 || n > math.MaxInt32 {
			return dst, e.fail("%d is out of range for int", n)
		}
		return appendLong(dst, n), nil
	case hamba.Long:
		n, derr := e.integer(v, "long")
		if derr != nil {
			return dst, derr
		}
		return appendLong(dst, n), nil
	case hamba.Float:
		f, derr := e.float(v, "float")
		if derr != nil {
			return dst, derr
		}
		if !math.IsInf(f, 0) && !math.IsNaN(f) && math.Abs(f) > math.MaxFloat32 {
			return dst, e.fail("%v is out of range for float", f)
		}
		bits := math.Float32bits(float32(f))
		return append(dst, byte(bits), byte(bits>>8), byte(bits>>16), byte(bits>>24)), nil
	case hamba.Double:
		f, derr := e.float(v, "double")
		if derr != nil {
			return dst, derr
		}
		bits := math.Float64bits(f)
		return append(dst, byte(bits), byte(bits>>8), byte(bits>>16), byte(bits>>24),
			byte(bits>>32), byte(bits>>40), byte(bits>>48), byte(bits>>56)), nil
	case hamba.String:
		if v.Type() != fastjson.TypeString {
			return dst, e.mismatch("string", v)
		}
		s := v.GetStringBytes()
		if !utf8.Valid(s) {
			return dst, e.fail("string is not valid UTF-8")
		}
		dst = appendLong(dst, int64(len(s)))
		return append(dst, s...), nil
	case hamba.Bytes:
		if v.Type() != fastjson.TypeString {
			return dst, e.mismatch("string (bytes as code points 0-255)", v)
		}
		// One byte per code point.
		dst = appendLong(dst, int64(utf8.RuneCount(v.GetStringBytes())))
		return e.bytes(dst, v)
	}
	return dst, e.fail("unsupported type %s", t)
}

// bytes appends the code points of a JSON string as bytes.
func (e *oracleEncoder) bytes(dst []byte, v *fastjson.Value) ([]byte, *DataError) {
	s := v.GetStringBytes()
	n := len(dst)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRune(s[i:])
		if r > 0xff || (r == utf8.RuneError && size == 1) {
			return dst[:n], e.fail("code point %U at character %d is not a byte (bytes are written as code points 0-255)", r, i)
		}
		dst = append(dst, byte(r))
		i += size
	}
	return dst, nil
}

func (e *oracleEncoder) integer(v *fastjson.Value, typ string) (int64, *DataError) {
	if v.Type() != fastjson.TypeNumber {
		return 0, e.mismatch(typ, v)
	}
	if n, err := v.Int64(); err == nil {
		return n, nil
	}
	// 1.0, 1e3: integral values written otherwise.
	f, err := v.Float64()
	if err != nil || f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, e.fail("%s is not an integer in range for %s", v.MarshalTo(nil), typ)
	}
	return int64(f), nil
}

func (e *oracleEncoder) float(v *fastjson.Value, typ string) (float64, *DataError) {
	switch v.Type() {
	case fastjson.TypeNumber:
		f, err := v.Float64()
		if err != nil {
			return 0, e.fail("%s is not a number: %v", v.MarshalTo(nil), err)
		}
		return f, nil
	case fastjson.TypeString:
		switch string(v.GetStringBytes()) {
		case "NaN":
			return math.NaN(), nil
		case "Infinity":
			return math.Inf(1), nil
		case "-Infinity":
			return math.Inf(-1), nil
		}
	}
	return 0, e.mismatch(typ, v)
}

func (e *oracleEncoder) record(dst []byte, s *hamba.RecordSchema, v *fastjson.Value) ([]byte, *DataError) {
	if v.Type() != fastjson.TypeObject {
		return dst, e.mismatch("object for record "+s.FullName(), v)
	}
	ri := e.records[s]
	if ri == nil {
		return dst, e.fail("internal error: no field table for record %s", s.FullName())
	}
	if e.depth++; e.depth > maxDepth {
		return dst, e.fail("nested more than %d levels deep", maxDepth)
	}
	defer func() { e.depth-- }()

	fields := s.Fields()
	base := len(e.slots)
	for range fields {
		e.slots = append(e.slots, nil)
	}
	defer func() { e.slots = e.slots[:base] }()

	o, _ := v.Object()
	var derr *DataError
	o.Visit(func(k []byte, member *fastjson.Value) {
		if derr != nil {
			return
		}
		i, ok := ri.index[string(k)]
		switch {
		case !ok:
			derr = e.fail("record %s has no field %q", s.FullName(), k)
		case e.slots[base+i] != nil:
			derr = e.fail("field %q appears twice", k).in(string(k))
		default:
			e.slots[base+i] = member
		}
	})
	if derr != nil {
		return dst, derr
	}
	for i, f := range fields {
		member := e.slots[base+i]
		if member == nil {
			def, err := e.fieldDefault(ri, i)
			if err != nil {
				return dst, e.fail("%v", err)
			}
			if def == nil {
				return dst, e.fail("missing field %q of record %s, which has no default", f.Name(), s.FullName())
			}
			dst = append(dst, def...)
			continue
		}
		if dst, derr = e.value(dst, f.Type(), member); derr != nil {
			return dst, derr.in(f.Name())
		}
	}
	return dst, nil
}

func (e *oracleEncoder) fieldDefault(ri *recordInfo, i int) ([]byte, error) {
	return ri.defaults[i], nil
}

func (e *oracleEncoder) mapValue(dst []byte, s *hamba.MapSchema, v *fastjson.Value) ([]byte, *DataError) {
	if v.Type() != fastjson.TypeObject {
		return dst, e.mismatch("object for map", v)
	}
	if e.depth++; e.depth > maxDepth {
		return dst, e.fail("nested more than %d levels deep", maxDepth)
	}
	defer func() { e.depth-- }()
	o, _ := v.Object()
	if o.Len() == 0 {
		return append(dst, 0), nil
	}
	dst = appendLong(dst, int64(o.Len()))
	var (
		derr *DataError
		seen map[string]bool
	)
	if o.Len() > 1 {
		seen = make(map[string]bool, o.Len())
	}
	o.Visit(func(k []byte, member *fastjson.Value) {
		if derr != nil {
			return
		}
		if seen != nil {
			if seen[string(k)] {
				derr = e.fail("key %q appears twice", k).in(string(k))
				return
			}
			seen[string(k)] = true
		}
		if !utf8.Valid(k) {
			derr = e.fail("map key is not valid UTF-8")
			return
		}
		dst = appendLong(dst, int64(len(k)))
		dst = append(dst, k...)
		if dst, derr = e.value(dst, s.Values(), member); derr != nil {
			derr = derr.in(string(k))
		}
	})
	if derr != nil {
		return dst, derr
	}
	return append(dst, 0), nil
}

func (e *oracleEncoder) union(dst []byte, s *hamba.UnionSchema, v *fastjson.Value) ([]byte, *DataError) {
	types := s.Types()
	if e.depth++; e.depth > maxDepth {
		return dst, e.fail("nested more than %d levels deep", maxDepth)
	}
	defer func() { e.depth-- }()
	if v.Type() == fastjson.TypeObject {
		if o, _ := v.Object(); o.Len() == 1 {
			var (
				key   string
				inner *fastjson.Value
			)
			o.Visit(func(k []byte, member *fastjson.Value) { key, inner = string(k), member })
			if i := oracleUnionBranch(types, key); i >= 0 {
				dst = appendLong(dst, int64(i))
				out, derr := e.value(dst, types[i], inner)
				if derr != nil {
					return out, derr.in(key)
				}
				return out, nil
			}
		}
	}
	// The first branch that accepts the value. When only one branch could
	// (the value is not null and the union is [null, T]), its error is the
	// useful one.
	var (
		only     = -1
		nonNulls = 0
	)
	for i, t := range types {
		if deref(t).Type() != hamba.Null {
			nonNulls++
			only = i
		}
	}
	if nonNulls != 1 || v.Type() == fastjson.TypeNull {
		only = -1
	}
	mark := len(dst)
	for i, t := range types {
		if i != only && !oracleMayAccept(t, v.Type()) {
			continue
		}
		out := appendLong(dst, int64(i))
		out, derr := e.value(out, t, v)
		if derr == nil {
			return out, nil
		}
		dst = out[:mark]
		if i == only {
			return dst, derr
		}
	}
	return dst, e.fail("no branch of union %s accepts %s", describeUnion(types), oracleDescribeJSON(v))
}

// mayAccept tells whether a value of JSON type jt could be one of s, to
// skip the branches of a union that cannot take it without building an
// error for each.
func oracleMayAccept(s hamba.Schema, jt fastjson.Type) bool {
	switch deref(s).Type() {
	case hamba.Null:
		return jt == fastjson.TypeNull
	case hamba.Boolean:
		return jt == fastjson.TypeTrue || jt == fastjson.TypeFalse
	case hamba.Int, hamba.Long:
		return jt == fastjson.TypeNumber
	case hamba.Float, hamba.Double:
		return jt == fastjson.TypeNumber || jt == fastjson.TypeString
	case hamba.String, hamba.Bytes, hamba.Fixed, hamba.Enum:
		return jt == fastjson.TypeString
	case hamba.Record, hamba.Error, hamba.Map:
		return jt == fastjson.TypeObject
	case hamba.Array:
		return jt == fastjson.TypeArray
	}
	return true
}

// unionBranch finds the branch a name in Avro's JSON encoding of a union
// designates, -1 for none.
func oracleUnionBranch(types hamba.Schemas, name string) int {
	for i, t := range types {
		t = deref(t)
		if n, ok := t.(hamba.NamedSchema); ok {
			if n.FullName() == name || n.Name() == name {
				return i
			}
			continue
		}
		if string(t.Type()) == name {
			return i
		}
	}
	return -1
}
