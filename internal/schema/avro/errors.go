package avro

import (
	"errors"
	"strconv"
	"strings"
)

var (
	// ErrPayload marks an Avro binary payload that its schema cannot
	// decode: the strict check of a topic's schema failed.
	ErrPayload = errors.New("avro: payload does not match its schema")
	// ErrValue marks a JSON document that EncodeJSON cannot convert.
	ErrValue = errors.New("avro: JSON value does not match the schema")
)

// A DataError says where a payload or a JSON value breaks its schema. It
// wraps ErrPayload (from Validate) or ErrValue (from EncodeJSON).
type DataError struct {
	// Path is the JSON Pointer (RFC 6901) of the failing value in the
	// JSON form of the datum: record fields by name, array items by
	// index, map values by key, "" for the whole datum.
	Path string
	// Offset is the payload's byte offset where decoding failed; -1 for
	// JSON input.
	Offset int
	// Reason says what is wrong, without the path.
	Reason string

	kind error
	segs []string // path segments, innermost first, while unwinding
}

func (e *DataError) Error() string {
	var b strings.Builder
	b.WriteString(e.kind.Error())
	if e.Path != "" {
		b.WriteString(" at ")
		b.WriteString(e.Path)
	}
	if e.Offset >= 0 {
		b.WriteString(" (byte ")
		b.WriteString(strconv.Itoa(e.Offset))
		b.WriteString(")")
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// Unwrap returns ErrPayload or ErrValue.
func (e *DataError) Unwrap() error { return e.kind }

// in adds the segment the error happened in, on the way out of the walk.
// The shared errRetry has no path and is left alone.
func (e *DataError) in(seg string) *DataError {
	if e == errRetry {
		return e
	}
	e.segs = append(e.segs, seg)
	return e
}

func (e *DataError) inIndex(i int) *DataError {
	return e.in(strconv.Itoa(i))
}

// finish builds Path from the collected segments.
func (e *DataError) finish() *DataError {
	var b strings.Builder
	for i := len(e.segs) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(escapePointer(e.segs[i]))
	}
	e.Path = b.String()
	e.segs = nil
	return e
}
