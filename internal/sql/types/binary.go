package types

import (
	"encoding/binary"
	"errors"
	"math"

	"github.com/cockroachdb/apd/v3"
)

// The binary form of a value, for what Tide writes and reads itself
// (repartition topics, group keys, operator state), not for users:
//
//	kind (1 byte) | null (1 byte: 0 NULL, 1 not) | payload
//
// where the payload is a varint (bool, integers, timestamps, dates), a
// varint of the months-and-days word then one of the microseconds
// (interval), 8 little-endian bytes (double), or a uvarint length and the
// bytes (text, bytea, json, numeric as its text). It is compact and cheap
// both ways; the text form (AppendText) would parse numbers again.

// ErrBinary means a binary value is truncated or malformed.
var ErrBinary = errors.New("types: malformed binary value")

// AppendBinary appends v's binary form.
func AppendBinary(dst []byte, v Value) []byte {
	if v.IsNull() {
		return append(dst, byte(v.h.kind), 0)
	}
	dst = append(dst, byte(v.h.kind), 1)
	switch v.h.kind {
	case KindBool, KindInt2, KindInt4, KindInt8, KindTimestamp, KindTimestampTZ, KindDate:
		return binary.AppendVarint(dst, v.i)
	case KindInterval:
		return binary.AppendVarint(binary.AppendVarint(dst, v.n), v.i)
	case KindFloat8:
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(v.Float()))
	case KindNumeric:
		return appendBinaryString(dst, v.Decimal().String())
	default: // text, bytea, json
		return appendBinaryString(dst, v.Text())
	}
}

// AppendGroupKey appends v's binary form with values Postgres holds equal
// for grouping made alike: a numeric without trailing zeros (1.0 and 1.00
// are one group) and -0 as 0. Decoded, it is the canonical value.
func AppendGroupKey(dst []byte, v Value) []byte {
	if v.IsNull() {
		return AppendBinary(dst, v)
	}
	switch v.h.kind {
	case KindNumeric:
		var r apd.Decimal
		r.Reduce(v.Decimal())
		if r.IsZero() {
			r.Negative = false
		}
		return appendBinaryString(append(dst, byte(KindNumeric), 1), r.String())
	case KindFloat8:
		if v.Float() == 0 {
			v = NewFloat8(0) // -0 → +0
		}
	}
	return AppendBinary(dst, v)
}

func appendBinaryString(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

// ReadBinary decodes the value at the start of b and returns the rest.
// Strings in the value are copies: b may be reused.
func ReadBinary(b []byte) (Value, []byte, error) {
	if len(b) < 2 {
		return Value{}, nil, ErrBinary
	}
	k := Kind(b[0])
	if k > KindJSON {
		return Value{}, nil, ErrBinary
	}
	if b[1] == 0 {
		return Null(k), b[2:], nil
	}
	b = b[2:]
	v := Value{h: head{kind: k}}
	var n int
	switch k {
	case KindNull:
		return Value{}, nil, ErrBinary
	case KindBool, KindInt2, KindInt4, KindInt8, KindTimestamp, KindTimestampTZ, KindDate:
		v.i, n = binary.Varint(b)
		if n <= 0 {
			return Value{}, nil, ErrBinary
		}
		return v, b[n:], nil
	case KindInterval:
		v.n, n = binary.Varint(b)
		if n <= 0 {
			return Value{}, nil, ErrBinary
		}
		b = b[n:]
		v.i, n = binary.Varint(b)
		if n <= 0 {
			return Value{}, nil, ErrBinary
		}
		return v, b[n:], nil
	case KindFloat8:
		if len(b) < 8 {
			return Value{}, nil, ErrBinary
		}
		v.i = int64(binary.LittleEndian.Uint64(b))
		return v, b[8:], nil
	}
	l, n := binary.Uvarint(b)
	if n <= 0 || l > uint64(len(b)-n) {
		return Value{}, nil, ErrBinary
	}
	s := string(b[n : n+int(l)])
	b = b[n+int(l):]
	if k == KindNumeric {
		d, _, err := apd.NewFromString(s)
		if err != nil {
			return Value{}, nil, ErrBinary
		}
		return NewNumeric(d), b, nil
	}
	return stringValue(k, s), b, nil
}

// ReadBinaryRow decodes len(row) values from b into row and returns the
// rest.
func ReadBinaryRow(b []byte, row Row) ([]byte, error) {
	for i := range row {
		var err error
		if row[i], b, err = ReadBinary(b); err != nil {
			return nil, err
		}
	}
	return b, nil
}
