package types

import (
	"fmt"
	"math"
	"time"
	"unsafe"

	"github.com/cockroachdb/apd/v3"
)

// Kind is the type of a value.
type Kind uint8

// Kinds. KindNull is the type of an untyped NULL literal only; a NULL of a
// column's type is a Value of that kind with Null() true.
const (
	KindNull Kind = iota
	KindBool
	KindInt2
	KindInt4
	KindInt8
	KindFloat8
	KindNumeric
	KindText
	KindBytea
	KindTimestamp
	KindTimestampTZ
	KindDate
	KindInterval
	KindJSON
)

var kindNames = [...]string{
	KindNull:        "unknown",
	KindBool:        "boolean",
	KindInt2:        "smallint",
	KindInt4:        "integer",
	KindInt8:        "bigint",
	KindFloat8:      "double precision",
	KindNumeric:     "numeric",
	KindText:        "text",
	KindBytea:       "bytea",
	KindTimestamp:   "timestamp without time zone",
	KindTimestampTZ: "timestamp with time zone",
	KindDate:        "date",
	KindInterval:    "interval",
	KindJSON:        "jsonb",
}

// String is the Postgres name of the type, as error messages print it.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// IsInteger reports whether k is smallint, integer or bigint.
func (k Kind) IsInteger() bool { return k == KindInt2 || k == KindInt4 || k == KindInt8 }

// IsNumeric reports whether k is any number type.
func (k Kind) IsNumeric() bool { return k.IsInteger() || k == KindFloat8 || k == KindNumeric }

// Value is one SQL value. The zero Value is an untyped NULL. Values are
// immutable: strings, bytes and decimals inside are never modified after
// construction, so Values may be shared.
//
// A Value is 32 bytes in four fields, the most the Go compiler keeps in
// registers (cmd/compile's CanSSA): a larger struct lives in memory, and
// every call that returns one spills it field by field and copies it back
// in 16-byte moves that stall on the narrower stores (abs(qty) took 30 ns
// with the 56-byte Value this was, 6 ns at 32 bytes). So the fields are
// shared between kinds, and only the accessors below read them;
// TestValueFitsInRegisters keeps the shape.
type Value struct {
	// p is the data of a text, bytea or json (n bytes), or a numeric's
	// *apd.Decimal; nil otherwise.
	p unsafe.Pointer
	// n is the length of a text, bytea or json; an interval's months
	// (high 32 bits) and days (low 32).
	n int64
	// i holds bool (0/1), integers, timestamps (µs since the Unix epoch,
	// UTC for timestamptz), dates (days since the Unix epoch), an
	// interval's microseconds and a double's bits.
	i int64
	h head
}

// head is a Value's kind and NULL flag. Its zero-size func array makes
// Values incomparable: == would compare a string's pointer, not its
// bytes. (It adds no size and keeps Value at four fields.)
type head struct {
	_    [0]func()
	kind Kind
	null bool
}

// stringValue returns a value of kind k (text, bytea, json) holding s.
func stringValue(k Kind, s string) Value {
	return Value{p: unsafe.Pointer(unsafe.StringData(s)), n: int64(len(s)), h: head{kind: k}}
}

// Null returns the NULL of kind k.
func Null(k Kind) Value { return Value{h: head{kind: k, null: true}} }

// NewBool returns a boolean.
func NewBool(b bool) Value {
	v := Value{h: head{kind: KindBool}}
	if b {
		v.i = 1
	}
	return v
}

// NewInt returns an integer of kind k (KindInt2/4/8). It does not check
// range: callers that narrow use CheckIntRange.
func NewInt(k Kind, n int64) Value { return Value{h: head{kind: k}, i: n} }

// NewInt8 returns a bigint.
func NewInt8(n int64) Value { return Value{h: head{kind: KindInt8}, i: n} }

// NewInt4 returns an integer.
func NewInt4(n int32) Value { return Value{h: head{kind: KindInt4}, i: int64(n)} }

// NewFloat8 returns a double precision.
func NewFloat8(f float64) Value {
	return Value{h: head{kind: KindFloat8}, i: int64(math.Float64bits(f))}
}

// NewNumeric returns a numeric; d must not be modified afterwards.
func NewNumeric(d *apd.Decimal) Value { return Value{p: unsafe.Pointer(d), h: head{kind: KindNumeric}} }

// NewText returns a text.
func NewText(s string) Value { return stringValue(KindText, s) }

// NewBytea returns a bytea holding a copy of b's bytes.
func NewBytea(b []byte) Value { return stringValue(KindBytea, string(b)) }

// NewJSON returns a json value from its text, which must be valid JSON.
func NewJSON(text string) Value { return stringValue(KindJSON, text) }

// NewTimestamp returns a timestamp without time zone from microseconds
// since 1970-01-01 00:00:00.
func NewTimestamp(micros int64) Value { return Value{h: head{kind: KindTimestamp}, i: micros} }

// NewTimestampTZ returns a timestamptz from microseconds since the Unix
// epoch.
func NewTimestampTZ(micros int64) Value { return Value{h: head{kind: KindTimestampTZ}, i: micros} }

// NewDate returns a date from days since 1970-01-01.
func NewDate(days int32) Value { return Value{h: head{kind: KindDate}, i: int64(days)} }

// NewInterval returns an interval of months, days and microseconds, kept
// apart as Postgres keeps them ('1 month' is not '30 days').
func NewInterval(months, days int32, micros int64) Value {
	return Value{n: int64(months)<<32 | int64(uint32(days)), i: micros, h: head{kind: KindInterval}}
}

// Accessors. Each is valid only for its kinds and a non-NULL value.

// Kind returns the value's type.
func (v Value) Kind() Kind { return v.h.kind }

// IsNull reports whether v is NULL.
func (v Value) IsNull() bool { return v.h.null || v.h.kind == KindNull }

// Bool returns a boolean's value.
func (v Value) Bool() bool { return v.i != 0 }

// Int returns an integer's value (any width).
func (v Value) Int() int64 { return v.i }

// Float returns a double's value.
func (v Value) Float() float64 { return math.Float64frombits(uint64(v.i)) }

// Decimal returns a numeric's value; the caller must not modify it.
func (v Value) Decimal() *apd.Decimal {
	if v.h.kind != KindNumeric {
		return nil
	}
	return (*apd.Decimal)(v.p)
}

// Text returns a text's (or json's) string; "" for kinds other than
// text, bytea and json (p is nil but for those and numerics).
func (v Value) Text() string {
	if v.p == nil || v.h.kind == KindNumeric {
		return ""
	}
	return unsafe.String((*byte)(v.p), int(v.n))
}

// Bytes returns a bytea's bytes as a string (no copy).
func (v Value) Bytes() string { return v.Text() }

// Micros returns a timestamp's microseconds since the Unix epoch.
func (v Value) Micros() int64 { return v.i }

// Days returns a date's days since the Unix epoch.
func (v Value) Days() int32 { return int32(v.i) }

// Interval returns an interval's parts.
func (v Value) Interval() (months, days int32, micros int64) {
	return int32(v.n >> 32), int32(uint32(v.n)), v.i
}

// Time returns a timestamp, timestamptz or date as a time.Time in UTC.
func (v Value) Time() time.Time {
	if v.h.kind == KindDate {
		return time.Unix(v.i*86400, 0).UTC()
	}
	return time.UnixMicro(v.i).UTC()
}

// CheckIntRange returns an error if n does not fit kind k, with
// Postgres' message.
func CheckIntRange(k Kind, n int64) error {
	switch k {
	case KindInt2:
		if n < math.MinInt16 || n > math.MaxInt16 {
			return ErrSmallintRange
		}
	case KindInt4:
		if n < math.MinInt32 || n > math.MaxInt32 {
			return ErrIntegerRange
		}
	}
	return nil
}

// Row is one tuple of values, laid out as the plan that made it says.
type Row []Value
