package avro

import (
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"

	hamba "github.com/hamba/avro/v2"

	"github.com/tide-data/tide/internal/schema"
)

// Validate checks that payload (Avro binary, without the frame) is exactly
// one datum of p: every length and index in range, every boolean 0 or 1,
// every string valid UTF-8, and no byte left over. A failure is a
// *DataError wrapping ErrPayload with the path of the value and the byte
// offset. Validate allocates nothing when the payload is valid.
func (format) Validate(p schema.Parsed, payload []byte) error {
	s, ok := p.(*Schema)
	if !ok || s == nil {
		return fmt.Errorf("avro: Validate needs an Avro schema, got %T", p)
	}
	return s.Validate(payload)
}

// Validate is Format().Validate for s.
func (s *Schema) Validate(payload []byte) error {
	d := decoder{buf: payload}
	if err := d.value(s.avro); err != nil {
		return err.finish()
	}
	if d.pos != len(d.buf) {
		return d.fail("%d bytes left after the value", len(d.buf)-d.pos).finish()
	}
	return nil
}

// decoder walks a payload with its schema without building values.
type decoder struct {
	buf   []byte
	pos   int
	depth int
}

func (d *decoder) fail(format string, args ...any) *DataError {
	return &DataError{kind: ErrPayload, Offset: d.pos, Reason: fmt.Sprintf(format, args...)}
}

func (d *decoder) value(s hamba.Schema) *DataError {
	switch s := s.(type) {
	case *hamba.RefSchema:
		return d.value(s.Schema())
	case *hamba.NullSchema:
		return nil
	case *hamba.PrimitiveSchema:
		return d.primitive(s.Type())
	case *hamba.RecordSchema:
		if d.depth++; d.depth > maxDepth {
			return d.fail("nested more than %d levels deep", maxDepth)
		}
		for _, f := range s.Fields() {
			if err := d.value(f.Type()); err != nil {
				return err.in(f.Name())
			}
		}
		d.depth--
		return nil
	case *hamba.EnumSchema:
		start := d.pos
		i, err := d.long("enum index")
		if err != nil {
			return err
		}
		if i < 0 || i >= int64(len(s.Symbols())) {
			d.pos = start
			return d.fail("enum %s has %d symbols, index %d is out of range", s.FullName(), len(s.Symbols()), i)
		}
		return nil
	case *hamba.FixedSchema:
		if len(d.buf)-d.pos < s.Size() {
			return d.fail("fixed %s needs %d bytes, %d left", s.FullName(), s.Size(), len(d.buf)-d.pos)
		}
		d.pos += s.Size()
		return nil
	case *hamba.ArraySchema:
		return d.blocks(s.Items(), nil)
	case *hamba.MapSchema:
		return d.blocks(s.Values(), s)
	case *hamba.UnionSchema:
		start := d.pos
		i, err := d.long("union index")
		if err != nil {
			return err
		}
		types := s.Types()
		if i < 0 || i >= int64(len(types)) {
			d.pos = start
			return d.fail("union %s has %d branches, index %d is out of range", describeUnion(types), len(types), i)
		}
		if d.depth++; d.depth > maxDepth {
			return d.fail("nested more than %d levels deep", maxDepth)
		}
		if err := d.value(types[i]); err != nil {
			return err
		}
		d.depth--
		return nil
	}
	return d.fail("unsupported schema type %s", s.Type())
}

func (d *decoder) primitive(t hamba.Type) *DataError {
	switch t {
	case hamba.Null:
		return nil
	case hamba.Boolean:
		if d.pos >= len(d.buf) {
			return d.fail("boolean needs 1 byte, none left")
		}
		if b := d.buf[d.pos]; b > 1 {
			return d.fail("boolean byte is %#x, not 0 or 1", b)
		}
		d.pos++
		return nil
	case hamba.Int:
		start := d.pos
		n, err := d.long("int")
		if err != nil {
			return err
		}
		if n < math.MinInt32 || n > math.MaxInt32 {
			d.pos = start
			return d.fail("int %d is out of range", n)
		}
		return nil
	case hamba.Long:
		_, err := d.long("long")
		return err
	case hamba.Float:
		return d.skip(4, "float")
	case hamba.Double:
		return d.skip(8, "double")
	case hamba.String:
		_, err := d.str()
		return err
	case hamba.Bytes:
		start := d.pos
		n, err := d.long("bytes length")
		if err != nil {
			return err
		}
		if left := len(d.buf) - d.pos; n < 0 || n > int64(left) {
			d.pos = start
			return d.fail("bytes length %d with %d bytes left", n, left)
		}
		d.pos += int(n)
		return nil
	}
	return d.fail("unsupported type %s", t)
}

// str reads a string and returns its bytes, which alias the payload.
func (d *decoder) str() ([]byte, *DataError) {
	start := d.pos
	n, err := d.long("string length")
	if err != nil {
		return nil, err
	}
	if left := len(d.buf) - d.pos; n < 0 || n > int64(left) {
		d.pos = start
		return nil, d.fail("string length %d with %d bytes left", n, left)
	}
	s := d.buf[d.pos : d.pos+int(n)]
	if !utf8.Valid(s) {
		return nil, d.fail("string is not valid UTF-8")
	}
	d.pos += int(n)
	return s, nil
}

func (d *decoder) skip(n int, what string) *DataError {
	if len(d.buf)-d.pos < n {
		return d.fail("%s needs %d bytes, %d left", what, n, len(d.buf)-d.pos)
	}
	d.pos += n
	return nil
}

// long reads a zig-zag variable-length integer of at most 10 bytes.
func (d *decoder) long(what string) (int64, *DataError) {
	u, n := binary.Uvarint(d.buf[d.pos:])
	switch {
	case n == 0:
		return 0, d.fail("%s: payload ends inside a variable-length integer", what)
	case n < 0:
		return 0, d.fail("%s: variable-length integer longer than 10 bytes", what)
	}
	d.pos += n
	return int64(u>>1) ^ -int64(u&1), nil
}

// blocks walks the blocks of an array (m nil) or a map: a count, the
// items, repeated until a count of 0; a negative count -n is followed by
// the block's size in bytes, which must match what its n items take.
func (d *decoder) blocks(item hamba.Schema, m *hamba.MapSchema) *DataError {
	if d.depth++; d.depth > maxDepth {
		return d.fail("nested more than %d levels deep", maxDepth)
	}
	index := 0
	for {
		start := d.pos
		count, err := d.long("block count")
		if err != nil {
			return err
		}
		if count == 0 {
			d.depth--
			return nil
		}
		size := int64(-1)
		if count < 0 {
			if count == math.MinInt64 {
				d.pos = start
				return d.fail("block count %d is out of range", count)
			}
			count = -count
			if size, err = d.long("block size"); err != nil {
				return err
			}
			if size < 0 || size > int64(len(d.buf)-d.pos) {
				return d.fail("block size %d with %d bytes left", size, len(d.buf)-d.pos)
			}
		}
		blockStart := d.pos
		// Every map entry and every item of a type that takes room needs
		// at least a byte: a larger count is corrupt, and looping on it
		// would let a few bytes keep the validator busy.
		if left := len(d.buf) - d.pos; count > int64(left) {
			if m != nil || !zeroWidth(item, nil) {
				d.pos = start
				return d.fail("block count %d with %d bytes left", count, left)
			}
			// Items of zero width (null, empty records): nothing to read.
			index += int(min(count, math.MaxInt32))
			continue
		}
		for range count {
			if m == nil {
				if err := d.value(item); err != nil {
					return err.inIndex(index)
				}
				index++
				continue
			}
			key, err := d.str()
			if err != nil {
				return err.in(fmt.Sprintf("#%d (key)", index))
			}
			if err := d.value(item); err != nil {
				return err.in(string(key))
			}
			index++
		}
		if size >= 0 && int64(d.pos-blockStart) != size {
			return d.fail("block of %d items declared %d bytes, took %d", count, size, d.pos-blockStart)
		}
	}
}

// zeroWidth tells whether every value of s encodes to no bytes.
func zeroWidth(s hamba.Schema, seen map[*hamba.RecordSchema]bool) bool {
	switch s := deref(s).(type) {
	case *hamba.NullSchema:
		return true
	case *hamba.PrimitiveSchema:
		return s.Type() == hamba.Null
	case *hamba.FixedSchema:
		return s.Size() == 0
	case *hamba.RecordSchema:
		if seen[s] {
			return false
		}
		if seen == nil {
			seen = map[*hamba.RecordSchema]bool{}
		}
		seen[s] = true
		for _, f := range s.Fields() {
			if !zeroWidth(f.Type(), seen) {
				return false
			}
		}
		return true
	}
	return false
}
