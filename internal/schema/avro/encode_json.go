package avro

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/valyala/fastjson/fastfloat"

	"github.com/tide-data/tide/internal/schema"
)

// maxDepth bounds the nesting of records, arrays, maps and unions a datum
// may have (recursive schemas make it unbounded otherwise); it is
// protobuf-go's default recursion limit. (A document cannot reach it: its
// JSON nesting stops at maxJSONDepth.)
const maxDepth = 10000

// EncodeJSON converts one JSON document to the Avro binary encoding of p
// (no frame). The mapping, by schema type:
//
//	null                 null
//	boolean              true, false
//	int, long            a number with an integral value in range (1, 1.0, 1e3)
//	float, double        a number, or "NaN", "Infinity", "-Infinity"
//	string               a string
//	bytes, fixed         a string whose code points 0-255 are the bytes, as in
//	                     Avro's JSON encoding ("\u00ff" is the byte 0xff); a
//	                     fixed needs exactly its size
//	enum                 one of its symbols
//	array                an array
//	map                  an object
//	record               an object with a member per field, by name; a missing
//	                     field takes its default, an unknown member is an error
//	union                the value itself, given to the first branch that
//	                     accepts it, or Avro's JSON encoding {"branch": value}
//	                     where branch is a primitive's name, "array", "map" or
//	                     a named type's full or short name
//
// An object with a single member named like a branch of the union is read
// as Avro's encoding: write {"map": {"int": 1}} for a map with the key
// "int" in a union that has an int branch. A key twice in a record or a
// map is an error. A document that is not JSON (RFC 8259, nested at most
// 300 levels deep) is a *DataError wrapping ErrValue whose Reason starts
// "invalid JSON"; a value that does not fit is a *DataError wrapping
// ErrValue whose Path is the JSON Pointer of the failing value (when a
// document has several, the first in the order: the members of a record
// by name, then its fields in schema order). EncodeJSON is safe for
// concurrent use.
func EncodeJSON(p schema.Parsed, jsonValue []byte) ([]byte, error) {
	return AppendJSON(nil, p, jsonValue)
}

// AppendJSON is EncodeJSON appending to dst. On error it returns dst
// (bytes past its length may have been written).
//
// The document is read once, the Avro binary written as it goes: the
// walk follows the schema's plan and reads each JSON token where the
// schema expects it. Only a document that fails is read again: checked as
// JSON first (so that a syntax error anywhere wins over a mismatch), then
// walked in the order that names the first error (see EncodeJSON).
func AppendJSON(dst []byte, p schema.Parsed, jsonValue []byte) ([]byte, error) {
	s, ok := p.(*Schema)
	if !ok || s == nil {
		return dst, fmt.Errorf("avro: EncodeJSON needs an Avro schema, got %T", p)
	}
	var e encoder
	defer e.release()
	out, derr := e.encode(dst, s.plan, jsonValue, false)
	if derr == nil {
		return out, nil
	}
	if !e.checkJSON() {
		return dst, &DataError{kind: ErrValue, Offset: -1,
			Reason: fmt.Sprintf("invalid JSON at byte %d: %s", e.syntaxAt, e.syntaxMsg)}
	}
	switch out, derr = e.encode(dst, s.plan, jsonValue, true); derr {
	case nil:
		return out, nil // not reached: the strict walk fails where the fast one did
	case errRetry: // not reached either: the strict walk names its errors
		return dst, &DataError{kind: ErrValue, Offset: -1, Reason: "internal error: the document failed without a reason"}
	}
	return dst, derr.finish()
}

// encoderBuffers keeps the buffers of encoders between calls.
var encoderBuffers = sync.Pool{New: func() any { return new(buffers) }}

// errRetry is the failure of a walk that is not strict: it carries no
// message, only the signal that the document must be walked again to
// name its first error. It is shared, never changed and never returned
// by AppendJSON.
var errRetry = &DataError{kind: ErrValue, Offset: -1, Reason: "avro: internal error: a fast-walk failure escaped"}

// encoder writes a JSON document as Avro binary, reading it at pos.
//
// Not strict, it is the fast walk: a record whose members come in the
// schema's field order is encoded as it is read, and a failure is
// errRetry. Strict, it reads every record's members before encoding its
// fields (unknown and repeated keys first, then the fields in order, as
// the fastjson-based encoder did) and builds the error messages; it reads
// a document known to be JSON. With builder set it encodes a field
// default for Parse: a union takes its first branch only, and the
// defaults of missing fields are computed on demand.
type encoder struct {
	doc     []byte
	pos     int
	strict  bool
	builder *builder
	depth   int
	bufs    *buffers // from encoderBuffers, once needed

	syntaxMsg string // the first syntax error, and where
	syntaxAt  int
}

// buffers are what an encoder needs beyond its position in the document:
// none for a record whose members come in schema order, with no escape
// in a string and no map.
type buffers struct {
	spans   []int     // the members of the records being encoded (where their values are), a stack
	keys    []keySpan // the keys of the maps being encoded (offsets in dst), a stack
	scratch []byte    // unescaped strings
	reorder []byte    // the values of a record's members while they are put in order
}

func (e *encoder) buffers() *buffers {
	if e.bufs == nil {
		e.bufs = encoderBuffers.Get().(*buffers)
	}
	return e.bufs
}

// keySpan is where a map key was written in dst.
type keySpan struct{ off, n int }

// Values of a record field's span.
const (
	spanAbsent  = -1 // no member for the field (yet)
	spanEncoded = -2 // the field was encoded by the in-order walk
)

func (e *encoder) encode(dst []byte, p *plan, doc []byte, strict bool) ([]byte, *DataError) {
	e.doc, e.pos, e.strict, e.depth, e.syntaxMsg = doc, 0, strict, 0, ""
	e.ws()
	out, derr := e.value(dst, p, 1)
	if derr != nil {
		return dst, derr
	}
	e.ws()
	if e.pos != len(e.doc) {
		e.syntax("text after the JSON value")
		return dst, e.syntaxError()
	}
	return out, nil
}

// maxPooled bounds the buffers an encoder keeps in the pool.
const maxPooled = 64 << 10

// release returns the encoder's buffers to the pool.
func (e *encoder) release() {
	b := e.bufs
	if b == nil {
		return
	}
	e.bufs = nil
	if cap(b.scratch) > maxPooled {
		b.scratch = nil
	}
	if cap(b.reorder) > maxPooled {
		b.reorder = nil
	}
	if cap(b.spans) > maxPooled/8 {
		b.spans = nil
	}
	if cap(b.keys) > maxPooled/16 {
		b.keys = nil
	}
	b.spans, b.keys = b.spans[:0], b.keys[:0]
	encoderBuffers.Put(b)
}

func (e *encoder) fail(format string, args ...any) *DataError {
	if !e.strict {
		return errRetry
	}
	return &DataError{kind: ErrValue, Offset: -1, Reason: fmt.Sprintf(format, args...)}
}

// syntaxError is the error of the syntax error the scanner recorded.
func (e *encoder) syntaxError() *DataError {
	if !e.strict {
		return errRetry
	}
	return &DataError{kind: ErrValue, Offset: -1, Reason: fmt.Sprintf("invalid JSON at byte %d: %s", e.syntaxAt, e.syntaxMsg)}
}

// mismatch is the error of a value at the position that is not of the
// type the schema wants.
func (e *encoder) mismatch(want string) *DataError {
	if !e.strict {
		return errRetry
	}
	return e.fail("expected %s, got %s", want, e.describe(e.pos))
}

// describe names the JSON value at offset at for messages: its type, and
// the value itself when short.
func (e *encoder) describe(at int) string {
	saved := e.pos
	defer func() { e.pos = saved }()
	e.pos = at
	switch t := jsonTypes[e.peek()]; t {
	case jsonString:
		s, _, ok := e.stringValue()
		if ok && len(s) <= 32 {
			return "string " + strconv.Quote(string(s))
		}
		return "string"
	case jsonNumber:
		if num, ok := e.scanNumber(); ok {
			return "number " + string(num.text)
		}
		return "number"
	default:
		return t.String()
	}
}

func (e *encoder) value(dst []byte, p *plan, depth int) ([]byte, *DataError) {
	if depth > maxJSONDepth {
		e.syntax("nested more than 300 levels deep")
		return dst, e.syntaxError()
	}
	switch p.kind {
	case kindNull:
		if e.peek() != 'n' {
			return dst, e.mismatch("null")
		}
		if !e.literal("null") {
			return dst, e.syntaxError()
		}
		return dst, nil
	case kindBoolean:
		switch e.peek() {
		case 't':
			if !e.literal("true") {
				return dst, e.syntaxError()
			}
			return append(dst, 1), nil
		case 'f':
			if !e.literal("false") {
				return dst, e.syntaxError()
			}
			return append(dst, 0), nil
		}
		return dst, e.mismatch("boolean")
	case kindInt:
		n, derr := e.integer("int")
		if derr != nil {
			return dst, derr
		}
		if n < math.MinInt32 || n > math.MaxInt32 {
			return dst, e.fail("%d is out of range for int", n)
		}
		return appendLong(dst, n), nil
	case kindLong:
		n, derr := e.integer("long")
		if derr != nil {
			return dst, derr
		}
		return appendLong(dst, n), nil
	case kindFloat:
		f, derr := e.float("float")
		if derr != nil {
			return dst, derr
		}
		if !math.IsInf(f, 0) && !math.IsNaN(f) && math.Abs(f) > math.MaxFloat32 {
			return dst, e.fail("%v is out of range for float", f)
		}
		bits := math.Float32bits(float32(f))
		return append(dst, byte(bits), byte(bits>>8), byte(bits>>16), byte(bits>>24)), nil
	case kindDouble:
		f, derr := e.float("double")
		if derr != nil {
			return dst, derr
		}
		bits := math.Float64bits(f)
		return append(dst, byte(bits), byte(bits>>8), byte(bits>>16), byte(bits>>24),
			byte(bits>>32), byte(bits>>40), byte(bits>>48), byte(bits>>56)), nil
	case kindString:
		if e.peek() != '"' {
			return dst, e.mismatch("string")
		}
		s, flags, ok := e.stringValue()
		if !ok {
			return dst, e.syntaxError()
		}
		if flags&strNonASCII != 0 && !utf8.Valid(s) {
			return dst, e.fail("string is not valid UTF-8")
		}
		dst = appendLong(dst, int64(len(s)))
		return append(dst, s...), nil
	case kindBytes:
		if e.peek() != '"' {
			return dst, e.mismatch("string (bytes as code points 0-255)")
		}
		s, flags, ok := e.stringValue()
		if !ok {
			return dst, e.syntaxError()
		}
		if flags&strNonASCII == 0 && (flags&strEscaped == 0 || isASCII(s)) {
			dst = appendLong(dst, int64(len(s)))
			return append(dst, s...), nil
		}
		// One byte per code point.
		dst = appendLong(dst, int64(utf8.RuneCount(s)))
		return e.codePoints(dst, s)
	case kindFixed:
		if e.peek() != '"' {
			if !e.strict {
				return dst, errRetry
			}
			return dst, e.mismatch(fmt.Sprintf("a string of %d bytes for fixed %s", p.size, p.name))
		}
		s, _, ok := e.stringValue()
		if !ok {
			return dst, e.syntaxError()
		}
		n := len(dst)
		dst, derr := e.codePoints(dst, s)
		if derr != nil {
			return dst, derr
		}
		if got := len(dst) - n; got != p.size {
			return dst[:n], e.fail("fixed %s needs %d bytes, got %d", p.name, p.size, got)
		}
		return dst, nil
	case kindEnum:
		if e.peek() != '"' {
			return dst, e.mismatch("a symbol of enum " + p.name)
		}
		s, _, ok := e.stringValue()
		if !ok {
			return dst, e.syntaxError()
		}
		i, ok := p.symbols[string(s)]
		if !ok {
			return dst, e.fail("%q is not a symbol of enum %s", s, p.name)
		}
		return appendLong(dst, int64(i)), nil
	case kindArray, kindMap, kindRecord, kindUnion:
		if e.depth++; e.depth > maxDepth {
			return dst, e.fail("nested more than %d levels deep", maxDepth)
		}
		var derr *DataError
		switch p.kind {
		case kindArray:
			dst, derr = e.array(dst, p, depth)
		case kindMap:
			dst, derr = e.mapValue(dst, p, depth)
		case kindRecord:
			dst, derr = e.record(dst, p, depth)
		default:
			dst, derr = e.union(dst, p, depth)
		}
		e.depth--
		return dst, derr
	case kindUnsupportedPrimitive:
		return dst, e.fail("unsupported type %s", p.typ)
	}
	return dst, e.fail("unsupported schema type %s", p.typ)
}

func isASCII(s []byte) bool {
	for _, c := range s {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// codePoints appends the code points of a string's value as bytes.
func (e *encoder) codePoints(dst []byte, s []byte) ([]byte, *DataError) {
	n := len(dst)
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r > 0xff || (r == utf8.RuneError && size == 1) {
			return dst[:n], e.fail("code point %U at character %d is not a byte (bytes are written as code points 0-255)", r, i)
		}
		dst = append(dst, byte(r))
		i += size
	}
	return dst, nil
}

// integer reads an int or a long: a number with an integral value.
func (e *encoder) integer(typ string) (int64, *DataError) {
	if jsonTypes[e.peek()] != jsonNumber {
		return 0, e.mismatch(typ)
	}
	num, ok := e.scanNumber()
	if !ok {
		return 0, e.syntaxError()
	}
	if num.isInt {
		return num.n, nil
	}
	// As fastjson read them: an integer in range exactly, else (1.0, 1e3:
	// integral values written otherwise) through float64.
	if n, err := fastfloat.ParseInt64(unsafeString(num.text)); err == nil {
		return n, nil
	}
	f, err := num.float()
	if err != nil || f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, e.fail("%s is not an integer in range for %s", num.text, typ)
	}
	return int64(f), nil
}

// float reads a float or a double: a number, or the string "NaN",
// "Infinity" or "-Infinity".
func (e *encoder) float(typ string) (float64, *DataError) {
	switch jsonTypes[e.peek()] {
	case jsonNumber:
		num, ok := e.scanNumber()
		if !ok {
			return 0, e.syntaxError()
		}
		f, err := num.float()
		if err != nil {
			return 0, e.fail("%s is not a number: %v", num.text, err)
		}
		return f, nil
	case jsonString:
		at := e.pos
		s, _, ok := e.stringValue()
		if !ok {
			return 0, e.syntaxError()
		}
		switch string(s) {
		case "NaN":
			return math.NaN(), nil
		case "Infinity":
			return math.Inf(1), nil
		case "-Infinity":
			return math.Inf(-1), nil
		}
		e.pos = at
	}
	return 0, e.mismatch(typ)
}

// float is the number's value as fastjson read numbers, with
// fastfloat.Parse (whose rounding differs from strconv.ParseFloat's in
// the last bit at times).
func (num *number) float() (float64, error) {
	if num.isFloat {
		return num.f, nil
	}
	return fastfloat.Parse(unsafeString(num.text))
}

// unsafeString is b as a string without a copy, for a call that neither
// keeps it nor outlives b's contents.
func unsafeString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

func (e *encoder) array(dst []byte, p *plan, depth int) ([]byte, *DataError) {
	if e.peek() != '[' {
		return dst, e.mismatch("array")
	}
	e.pos++
	e.ws()
	if e.peek() == ']' {
		e.pos++
		return append(dst, 0), nil
	}
	// The count comes first; one byte holds counts up to 63, and the items
	// are moved when it takes more.
	mark := len(dst)
	dst = append(dst, 0)
	n := 0
	for {
		var derr *DataError
		if dst, derr = e.value(dst, p.items, depth+1); derr != nil {
			return dst, derr.inIndex(n)
		}
		n++
		end, ok := e.next(']')
		if !ok {
			return dst, e.syntaxError()
		}
		if end {
			break
		}
	}
	return append(putCount(dst, mark, n), 0), nil
}

// putCount writes the block count n at mark, where one byte was reserved
// for it, moving what follows when it takes more.
func putCount(dst []byte, mark, n int) []byte {
	if n < 64 {
		dst[mark] = byte(n << 1)
		return dst
	}
	var buf [10]byte
	c := appendLong(buf[:0], int64(n))
	extra := len(c) - 1
	dst = append(dst, c[:extra]...) // room
	copy(dst[mark+len(c):], dst[mark+1:len(dst)-extra])
	copy(dst[mark:], c)
	return dst
}

func (e *encoder) mapValue(dst []byte, p *plan, depth int) ([]byte, *DataError) {
	if e.peek() != '{' {
		return dst, e.mismatch("object for map")
	}
	e.pos++
	e.ws()
	if e.peek() == '}' {
		e.pos++
		return append(dst, 0), nil
	}
	mark := len(dst)
	dst = append(dst, 0)
	bufs := e.buffers()
	base := len(bufs.keys)
	defer func() { bufs.keys = bufs.keys[:base] }()
	var seen map[string]struct{} // for large maps
	n := 0
	for {
		if e.peek() != '"' {
			e.expected("a string (an object key)")
			return dst, e.syntaxError()
		}
		k, flags, ok := e.stringValue()
		if !ok {
			return dst, e.syntaxError()
		}
		if e.repeated(dst, base, k, &seen) {
			return dst, e.fail("key %q appears twice", k).in(string(k))
		}
		if flags&strNonASCII != 0 && !utf8.Valid(k) {
			return dst, e.fail("map key is not valid UTF-8")
		}
		dst = appendLong(dst, int64(len(k)))
		key := keySpan{len(dst), len(k)}
		dst = append(dst, k...)
		bufs.keys = append(bufs.keys, key)
		if !e.colon() {
			return dst, e.syntaxError()
		}
		var derr *DataError
		if dst, derr = e.value(dst, p.items, depth+1); derr != nil {
			if derr != errRetry {
				derr = derr.in(string(dst[key.off : key.off+key.n]))
			}
			return dst, derr
		}
		n++
		end, ok := e.next('}')
		if !ok {
			return dst, e.syntaxError()
		}
		if end {
			break
		}
	}
	return append(putCount(dst, mark, n), 0), nil
}

// manyKeys is where a map's repeated keys are looked for with a hash set
// rather than by comparing with each key before.
const manyKeys = 16

// repeated reports whether the map whose keys are e.bufs.keys[base:], written
// in dst, has the key k already.
func (e *encoder) repeated(dst []byte, base int, k []byte, seen *map[string]struct{}) bool {
	keys := e.bufs.keys[base:]
	if len(keys) < manyKeys {
		for _, key := range keys {
			if bytes.Equal(dst[key.off:key.off+key.n], k) {
				return true
			}
		}
		return false
	}
	if *seen == nil {
		*seen = make(map[string]struct{}, 2*len(keys))
		for _, key := range keys {
			(*seen)[string(dst[key.off:key.off+key.n])] = struct{}{}
		}
	}
	if _, ok := (*seen)[string(k)]; ok {
		return true
	}
	(*seen)[string(k)] = struct{}{}
	return false
}

// record encodes an object as a record. The fast walk encodes the members
// as they come while they are the fields in schema order; from the first
// that is not, recordSpans takes over.
func (e *encoder) record(dst []byte, p *plan, depth int) ([]byte, *DataError) {
	if e.peek() != '{' {
		return dst, e.mismatch("object for record " + p.name)
	}
	if p.record == nil {
		return dst, e.fail("internal error: no field table for record %s", p.name)
	}
	if e.strict {
		e.pos++
		e.ws()
		return e.recordSpans(dst, p, 0, depth)
	}
	e.pos++
	e.ws()
	i := 0
	if e.peek() == '}' {
		e.pos++
	} else {
		for {
			if i == len(p.fields) || !e.atKey(&p.fields[i]) {
				return e.recordReorder(dst, p, i, depth)
			}
			f := &p.fields[i]
			e.pos += len(f.name) + 2
			if !e.colon() {
				return dst, e.syntaxError()
			}
			var derr *DataError
			if dst, derr = e.value(dst, f.plan, depth+1); derr != nil {
				return dst, derr.in(f.name)
			}
			i++
			end, ok := e.next('}')
			if !ok {
				return dst, e.syntaxError()
			}
			if end {
				break
			}
		}
	}
	for ; i < len(p.fields); i++ {
		var derr *DataError
		if dst, derr = e.fieldDefault(dst, p, i); derr != nil {
			return dst, derr
		}
	}
	return dst, nil
}

// atKey reports whether the key at the position is the field's name,
// written plainly.
func (e *encoder) atKey(f *fieldPlan) bool {
	end := e.pos + 1 + len(f.name)
	return f.plain && end < len(e.doc) && e.doc[e.pos] == '"' && e.doc[end] == '"' &&
		string(e.doc[e.pos+1:end]) == f.name
}

// fewFields is up to where the fields of a record are told from a key by
// comparing it with each name rather than by a hash look-up.
const fewFields = 16

// key reads the key of a record member at the position and returns the
// field it names, -1 for none.
func (e *encoder) key(p *plan) (field int, ok bool) {
	if len(p.fields) <= fewFields {
		for i := range p.fields {
			if e.atKey(&p.fields[i]) {
				e.pos += len(p.fields[i].name) + 2
				return i, true
			}
		}
	}
	k, _, ok := e.stringValue()
	if !ok {
		return -1, false
	}
	i, found := p.record.index[string(k)]
	if !found {
		return -1, true
	}
	return i, true
}

// recordReorder is the fast walk's way with the members of a record from
// the first that is not the next field in schema order (field done): it
// encodes each as it comes, after the fields before done, then puts the
// encoded values in schema order, with the defaults of the missing
// fields. Any error is errRetry: the strict walk names it.
func (e *encoder) recordReorder(dst []byte, p *plan, done, depth int) ([]byte, *DataError) {
	bufs := e.buffers()
	base := len(bufs.spans)
	for range p.fields {
		bufs.spans = append(bufs.spans, spanAbsent, 0) // start and end in dst
	}
	defer func() { bufs.spans = bufs.spans[:base] }()
	spans := bufs.spans[base:]
	for i := range done {
		spans[2*i] = spanEncoded
	}
	region := len(dst)
	for {
		if e.peek() != '"' {
			return dst, errRetry
		}
		i, ok := e.key(p)
		if !ok || i < 0 || spans[2*i] != spanAbsent || !e.colon() {
			return dst, errRetry
		}
		start := len(dst)
		var derr *DataError
		if dst, derr = e.value(dst, p.fields[i].plan, depth+1); derr != nil {
			return dst, derr
		}
		spans[2*i], spans[2*i+1] = start, len(dst)
		end, ok := e.next('}')
		if !ok {
			return dst, errRetry
		}
		if end {
			break
		}
	}
	// The values encoded go aside, and come back in order. (A record
	// nested in one used the buffer, and was done with it, before.)
	bufs.reorder = append(bufs.reorder[:0], dst[region:]...)
	dst = dst[:region]
	for i := done; i < len(p.fields); i++ {
		if spans[2*i] == spanAbsent {
			var derr *DataError
			if dst, derr = e.fieldDefault(dst, p, i); derr != nil {
				return dst, derr
			}
			continue
		}
		dst = append(dst, bufs.reorder[spans[2*i]-region:spans[2*i+1]-region]...)
	}
	return dst, nil
}

// recordSpans encodes the fields from done on of a record whose members
// from the position on (after '{' or a comma) are read first: each key
// must name a field not seen before, and its value is encoded once all
// are read, in the schema's field order.
func (e *encoder) recordSpans(dst []byte, p *plan, done, depth int) ([]byte, *DataError) {
	bufs := e.buffers()
	base := len(bufs.spans)
	for i := range p.fields {
		span := spanAbsent
		if i < done {
			span = spanEncoded
		}
		bufs.spans = append(bufs.spans, span)
	}
	defer func() { bufs.spans = bufs.spans[:base] }()

	if e.peek() == '}' && done == 0 {
		e.pos++
	} else {
		for {
			if e.peek() != '"' {
				e.expected("a string (an object key)")
				return dst, e.syntaxError()
			}
			k, _, ok := e.stringValue()
			if !ok {
				return dst, e.syntaxError()
			}
			i, ok := p.record.index[string(k)]
			switch {
			case !ok:
				return dst, e.fail("record %s has no field %q", p.name, k)
			case bufs.spans[base+i] != spanAbsent:
				return dst, e.fail("field %q appears twice", k).in(string(k))
			}
			if !e.colon() {
				return dst, e.syntaxError()
			}
			bufs.spans[base+i] = e.pos
			if !e.skip(depth + 1) {
				return dst, e.syntaxError()
			}
			end, ok := e.next('}')
			if !ok {
				return dst, e.syntaxError()
			}
			if end {
				break
			}
		}
	}
	after := e.pos
	for i := done; i < len(p.fields); i++ {
		span := bufs.spans[base+i]
		if span == spanAbsent {
			var derr *DataError
			if dst, derr = e.fieldDefault(dst, p, i); derr != nil {
				return dst, derr
			}
			continue
		}
		e.pos = span
		var derr *DataError
		if dst, derr = e.value(dst, p.fields[i].plan, depth+1); derr != nil {
			return dst, derr.in(p.fields[i].name)
		}
	}
	e.pos = after
	return dst, nil
}

// fieldDefault appends the default of field i, missing from the object.
func (e *encoder) fieldDefault(dst []byte, p *plan, i int) ([]byte, *DataError) {
	ri := p.record
	def := ri.defaults[i]
	if e.builder != nil {
		var err error
		if def, err = e.builder.ensureDefault(ri, i); err != nil {
			return dst, e.fail("%v", err)
		}
	}
	if def == nil {
		return dst, e.fail("missing field %q of record %s, which has no default", p.fields[i].name, p.name)
	}
	return append(dst, def...), nil
}

func (e *encoder) union(dst []byte, p *plan, depth int) ([]byte, *DataError) {
	if len(p.branches) == 0 {
		return dst, e.fail("an empty union holds no value")
	}
	if e.builder != nil {
		// A default is a value of the union's first branch.
		dst = appendLong(dst, 0)
		return e.value(dst, p.branches[0], depth)
	}
	start := e.pos
	jt := jsonTypes[e.peek()]
	if jt == jsonInvalid {
		e.expected("a value")
		return dst, e.syntaxError()
	}
	if jt == jsonObject {
		if out, derr, tagged := e.taggedUnion(dst, p, depth); tagged {
			return out, derr
		}
		e.pos = start
	}
	// The first branch that accepts the value. When only one branch could
	// (the value is not null and the union is [null, T]), its error is the
	// useful one.
	only := p.only
	if jt == jsonNull {
		only = -1
	}
	mark := len(dst)
	for i, b := range p.branches {
		if i != only && b.accepts&jt.bit() == 0 {
			continue
		}
		e.pos = start
		out := appendLong(dst, int64(i))
		out, derr := e.value(out, b, depth)
		if derr == nil {
			return out, nil
		}
		dst = out[:mark]
		if i == only {
			return dst, derr
		}
	}
	if !e.strict {
		return dst, errRetry
	}
	return dst, e.fail("no branch of union %s accepts %s", describeUnion(p.types), e.describe(start))
}

// taggedUnion encodes an object that is Avro's JSON encoding of a union
// value, {"branch": value}; tagged is false when the object is not that
// (its one key names no branch, or it has other members).
func (e *encoder) taggedUnion(dst []byte, p *plan, depth int) (out []byte, derr *DataError, tagged bool) {
	e.pos++ // '{'
	e.ws()
	if e.peek() != '"' {
		return dst, nil, false
	}
	k, _, ok := e.stringValue()
	if !ok {
		return dst, nil, false
	}
	i := p.tag(k)
	if i < 0 || !e.colon() {
		return dst, nil, false
	}
	var key string
	if e.strict {
		key = string(k)
	}
	inner := e.pos
	out = appendLong(dst, int64(i))
	out, derr = e.value(out, p.branches[i], depth+1)
	if derr != nil {
		// Tagged only if the object has no other member.
		e.pos = inner
		if !e.skip(depth + 1) {
			return dst, e.syntaxError(), true
		}
	}
	e.ws()
	switch e.peek() {
	case '}':
		e.pos++
		if derr != nil {
			return dst, derr.in(key), true
		}
		return out, nil, true
	case ',':
		return dst, nil, false
	}
	e.expected("a comma or '}' after an object member")
	return dst, e.syntaxError(), true
}

// appendLong appends n zig-zag encoded as a variable-length integer, as
// Avro writes int and long.
func appendLong(dst []byte, n int64) []byte {
	u := uint64(n<<1) ^ uint64(n>>63)
	for u >= 0x80 {
		dst = append(dst, byte(u)|0x80)
		u >>= 7
	}
	return append(dst, byte(u))
}

// AppendJSON is schema.JSONEncoder: the Avro binary of a JSON document.
func (format) AppendJSON(dst []byte, p schema.Parsed, jsonValue []byte) ([]byte, error) {
	return AppendJSON(dst, p, jsonValue)
}
