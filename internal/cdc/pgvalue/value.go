package pgvalue

import (
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/tide-data/tide/internal/format"
)

// Unavailable is the value of a column whose TOASTed value did not change
// and so was not sent (pgoutput's TupleData kind 'u'): Debezium's
// placeholder, written as a JSON string.
const Unavailable = "__debezium_unavailable_value"

// ErrSyntax marks a text that is not what Postgres writes for its type,
// with the run-time parameters the package doc names: a bug, corruption,
// or a connection opened without those parameters. Errors of AppendJSON
// and SplitCopyRow are *SyntaxError values, which match it with
// errors.Is.
var ErrSyntax = errors.New("pgvalue: malformed value")

// SyntaxError describes a malformed text. It holds no part of the text
// itself, which is user data.
type SyntaxError struct {
	Type   string // the type's name; "" for COPY rows
	Offset int    // the byte of the text at which the problem was found
	Reason string
}

func (e *SyntaxError) Error() string {
	if e.Type == "" {
		return fmt.Sprintf("pgvalue: malformed COPY row at byte %d: %s", e.Offset, e.Reason)
	}
	return fmt.Sprintf("pgvalue: malformed %s value at byte %d: %s", e.Type, e.Offset, e.Reason)
}

// Unwrap returns ErrSyntax.
func (e *SyntaxError) Unwrap() error { return ErrSyntax }

func syntaxError(e *entry, offset int, reason string) error {
	return &SyntaxError{Type: e.typ.Name, Offset: offset, Reason: reason}
}

// AppendJSON appends the JSON of a non-NULL value of the type oid, given
// in its text form (as pgoutput sends it, or as it is once a COPY text
// field is unescaped), and returns the extended slice. The package doc
// lists the representations; a type r does not know is a string, never
// an error. The output is valid JSON whatever the text; a text that is
// not what Postgres writes for a known type gives a *SyntaxError and dst
// as it was. AppendJSON does not retain text or dst.
func (r *Registry) AppendJSON(dst []byte, oid uint32, text []byte) ([]byte, error) {
	e := r.lookup(oid)
	if e == nil {
		return format.AppendJSONString(dst, text), nil
	}
	return appendValue(dst, e, text, 0)
}

// appendValue appends the JSON of text, a value of e's type; depth counts
// the arrays the value is an element of.
func appendValue(dst []byte, e *entry, text []byte, depth int) ([]byte, error) {
	if e == nil {
		return format.AppendJSONString(dst, text), nil
	}
	switch e.kind {
	case kindBool:
		if len(text) == 1 {
			switch text[0] {
			case 't':
				return append(dst, "true"...), nil
			case 'f':
				return append(dst, "false"...), nil
			}
		}
		return dst, syntaxError(e, 0, `not "t" or "f"`)
	case kindNumber:
		if end, ok := scanNumber(text, 0); !ok || end != len(text) {
			return dst, syntaxError(e, end, "not a number")
		}
		return append(dst, text...), nil
	case kindFloat:
		if end, ok := scanNumber(text, 0); ok && end == len(text) {
			return append(dst, text...), nil
		}
		switch string(text) {
		case "NaN", "Infinity", "-Infinity":
			dst = append(dst, '"')
			dst = append(dst, text...)
			return append(dst, '"'), nil
		}
		return dst, syntaxError(e, 0, "not a number")
	case kindJSON:
		if !validJSON(text) {
			return dst, syntaxError(e, 0, "not valid JSON")
		}
		return append(dst, text...), nil
	case kindBytea:
		return appendBytea(dst, e, text)
	case kindDate:
		return appendDate(dst, e, text)
	case kindTimestamp:
		return appendTimestamp(dst, e, text, false)
	case kindTimestampTZ:
		return appendTimestamp(dst, e, text, true)
	case kindInterval:
		if (len(text) > 0 && text[0] == 'P') || isInfinity(text) {
			return format.AppendJSONString(dst, text), nil
		}
		return dst, syntaxError(e, 0, "not an ISO 8601 duration (IntervalStyle=iso_8601)")
	case kindArray:
		return appendArray(dst, e, text, depth)
	}
	return format.AppendJSONString(dst, text), nil
}

// isInfinity reports whether text is "infinity" or "-infinity", which
// dates, timestamps and (from Postgres 17) intervals may be.
func isInfinity(text []byte) bool {
	s := string(text) // not allocated: only compared
	return s == "infinity" || s == "-infinity"
}

// unhex maps a hex digit to its value, and every other byte to 0xff.
var unhex = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i, c := range "0123456789abcdef" {
		t[c] = byte(i)
	}
	for i, c := range "ABCDEF" {
		t[c] = byte(10 + i)
	}
	return t
}()

// appendBytea appends bytea's text, hex ("\x0a0b") or escape format
// (bytea_output=escape: "a\\b\001"), as a base64 string. The bytes are
// decoded in chunks on the stack, a multiple of 3 long so base64 pads
// only the last one.
func appendBytea(dst []byte, e *entry, text []byte) ([]byte, error) {
	var chunk [3 * 128]byte
	n := 0
	start := len(dst)
	dst = append(dst, '"')
	if len(text) >= 2 && text[0] == '\\' && text[1] == 'x' {
		if len(text)%2 != 0 {
			return dst[:start], syntaxError(e, len(text), "odd number of hex digits")
		}
		for i := 2; i < len(text); i += 2 {
			hi, lo := unhex[text[i]], unhex[text[i+1]]
			if hi|lo > 0xf {
				return dst[:start], syntaxError(e, i, "not a hex digit")
			}
			chunk[n] = hi<<4 | lo
			if n++; n == len(chunk) {
				dst, n = base64.StdEncoding.AppendEncode(dst, chunk[:]), 0
			}
		}
	} else {
		for i := 0; i < len(text); {
			c := text[i]
			switch {
			case c != '\\':
				i++
			case i+1 < len(text) && text[i+1] == '\\':
				i += 2
			case i+3 < len(text) && text[i+1] >= '0' && text[i+1] <= '3' && isOctal(text[i+2]) && isOctal(text[i+3]):
				c = (text[i+1]-'0')<<6 | (text[i+2]-'0')<<3 | (text[i+3] - '0')
				i += 4
			default:
				return dst[:start], syntaxError(e, i, "bad escape")
			}
			chunk[n] = c
			if n++; n == len(chunk) {
				dst, n = base64.StdEncoding.AppendEncode(dst, chunk[:]), 0
			}
		}
	}
	dst = base64.StdEncoding.AppendEncode(dst, chunk[:n])
	return append(dst, '"'), nil
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
