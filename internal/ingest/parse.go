package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/tide-data/tide/internal/transport"
)

// bodyForm is how a request body holds its elements.
type bodyForm uint8

const (
	// formJSON is one JSON value; an array's elements are the records.
	formJSON bodyForm = iota
	// formNDJSON is one JSON value per line; blank lines are skipped.
	formNDJSON
)

// maxDepth is encoding/json's nesting limit, so that the two accept the
// same documents.
const maxDepth = 10000

// parseOptions says how elements become records.
type parseOptions struct {
	form     bodyForm
	envelope bool   // elements are {"key", "value", "headers"}
	keyField string // take the key from this top-level field of the value
	idField  string // the event-id field of the value (idempotency)
}

// element is one record read from a body. Key, value and header values
// point into the body (or, for keys and ids with JSON escapes, into fresh
// memory): the body must outlive the element.
type element struct {
	key     []byte // nil: no key
	value   []byte // nil: a null value (a tombstone)
	headers []transport.Header
	id      []byte // the event id, when parseOptions.idField is set
}

// parseError is a body the parser refused: code is the API error code,
// offset the byte position of the first error and index the element it
// belongs to (-1: no element, e.g. an unclosed array).
type parseError struct {
	code   string
	msg    string
	offset int
	index  int
}

// describe renders the error with its position in body.
func (e *parseError) describe(body []byte) string {
	line, col := linePosition(body, e.offset)
	where := fmt.Sprintf("line %d, column %d", line, col)
	if e.index >= 0 {
		where += fmt.Sprintf(", element %d", e.index)
	}
	return fmt.Sprintf("%s (%s)", e.msg, where)
}

// linePosition returns the 1-based line and column (in bytes) of offset.
func linePosition(body []byte, offset int) (line, col int) {
	offset = min(max(offset, 0), len(body))
	before := body[:offset]
	line = 1 + bytes.Count(before, []byte{'\n'})
	return line, offset - bytes.LastIndexByte(before, '\n')
}

// parseBody appends the body's elements to out, or returns the first
// error; nothing of a body with an error is used (all or nothing).
func parseBody(body []byte, opts parseOptions, out []element) ([]element, *parseError) {
	if opts.form == formNDJSON {
		return parseNDJSON(body, opts, out)
	}
	i := skipSpace(body, 0)
	if i == len(body) {
		return out, &parseError{code: codeMalformed, msg: "empty body: expected a JSON value", offset: i, index: -1}
	}
	if body[i] != '[' {
		end, perr := scanValue(body, i, 0)
		if perr != nil {
			perr.index = 0
			return out, perr
		}
		if j := skipSpace(body, end); j != len(body) {
			return out, &parseError{code: codeMalformed, msg: "unexpected data after the JSON value", offset: j, index: 0}
		}
		return appendElement(body, i, end, 0, opts, out)
	}
	i = skipSpace(body, i+1)
	if i < len(body) && body[i] == ']' {
		if j := skipSpace(body, i+1); j != len(body) {
			return out, &parseError{code: codeMalformed, msg: "unexpected data after the JSON array", offset: j, index: -1}
		}
		return out, nil
	}
	for index := 0; ; index++ {
		end, perr := scanValue(body, i, 1)
		if perr != nil {
			perr.index = index
			return out, perr
		}
		var aerr *parseError
		if out, aerr = appendElement(body, i, end, index, opts, out); aerr != nil {
			return out, aerr
		}
		i = skipSpace(body, end)
		if i == len(body) {
			return out, &parseError{code: codeMalformed, msg: "unexpected end of input: the array is not closed", offset: i, index: -1}
		}
		switch body[i] {
		case ',':
			i = skipSpace(body, i+1)
			continue
		case ']':
			if j := skipSpace(body, i+1); j != len(body) {
				return out, &parseError{code: codeMalformed, msg: "unexpected data after the JSON array", offset: j, index: -1}
			}
			return out, nil
		}
		return out, &parseError{code: codeMalformed, msg: fmt.Sprintf("invalid character %s after an array element", quoteChar(body[i])), offset: i, index: index}
	}
}

// parseNDJSON reads one value per line; a line is ended by \n (a \r
// before it is whitespace), and a blank line holds no element.
func parseNDJSON(body []byte, opts parseOptions, out []element) ([]element, *parseError) {
	index := 0
	for start := 0; start < len(body); {
		end := bytes.IndexByte(body[start:], '\n')
		next := start + end + 1
		if end < 0 {
			end, next = len(body), len(body)
		} else {
			end += start
		}
		line := body[:end] // offsets stay those of body
		i := skipSpace(line, start)
		if i < end {
			vend, perr := scanValue(line, i, 0)
			if perr != nil {
				perr.index = index
				if perr.offset == end && end < len(body) {
					perr.msg = "unexpected end of line: NDJSON values are one per line"
				}
				return out, perr
			}
			if j := skipSpace(line, vend); j != end {
				return out, &parseError{code: codeMalformed, msg: "unexpected data after the JSON value on this line", offset: j, index: index}
			}
			var aerr *parseError
			if out, aerr = appendElement(body, i, vend, index, opts, out); aerr != nil {
				return out, aerr
			}
			index++
		}
		start = next
	}
	return out, nil
}

// appendElement turns the valid JSON value body[start:end] into a record.
func appendElement(body []byte, start, end, index int, opts parseOptions, out []element) ([]element, *parseError) {
	el := element{value: body[start:end]}
	if opts.envelope {
		if body[start] != '{' {
			return out, &parseError{code: codeInvalidEnvelope, msg: "an envelope must be a JSON object {\"key\", \"value\", \"headers\"}", offset: start, index: index}
		}
		var perr *parseError
		if el, perr = readEnvelope(body, start, index); perr != nil {
			return out, perr
		}
	}
	if opts.keyField != "" && el.key == nil {
		k, ok := topField(el.value, opts.keyField)
		if !ok || bytes.Equal(k, nullText) {
			return out, &parseError{code: codeMissingKeyField, msg: fmt.Sprintf("the value has no field %q to take the key from (or it is null)", opts.keyField), offset: start, index: index}
		}
		el.key = fieldText(k)
	}
	if opts.idField != "" {
		id, ok := topField(el.value, opts.idField)
		if !ok || bytes.Equal(id, nullText) {
			return out, &parseError{code: codeMissingEventID, msg: fmt.Sprintf("the value has no event-id field %q (or it is null)", opts.idField), offset: start, index: index}
		}
		el.id = fieldText(id)
	}
	return append(out, el), nil
}

var nullText = []byte("null")

// readEnvelope reads {"key": any, "value": any, "headers": {"k": "v"}}
// at body[start:] (a valid object). A missing or null key is no key; a
// missing or null value is a null value; the last of repeated members
// wins, as encoding/json's.
func readEnvelope(body []byte, start, index int) (element, *parseError) {
	var el element
	bad := func(at int, format string, args ...any) (element, *parseError) {
		return element{}, &parseError{code: codeInvalidEnvelope, msg: fmt.Sprintf(format, args...), offset: at, index: index}
	}
	var err *parseError
	eachMember(body, start, func(name []byte, vstart, vend int) bool {
		v := body[vstart:vend]
		switch string(name) {
		case "key":
			el.key = nil
			if !bytes.Equal(v, nullText) {
				el.key = fieldText(v)
			}
		case "value":
			el.value = nil
			if !bytes.Equal(v, nullText) {
				el.value = v
			}
		case "headers":
			el.headers = el.headers[:0]
			if bytes.Equal(v, nullText) {
				return true
			}
			if v[0] != '{' {
				_, err = bad(vstart, "envelope headers must be an object of strings")
				return false
			}
			eachMember(body, vstart, func(hname []byte, hs, he int) bool {
				if body[hs] != '"' {
					_, err = bad(hs, "envelope header %q must be a string", hname)
					return false
				}
				el.headers = append(el.headers, transport.Header{Key: string(hname), Value: fieldText(body[hs:he])})
				return true
			})
			return err == nil
		default:
			_, err = bad(vstart, "unknown envelope member %q (expected key, value, headers)", name)
			return false
		}
		return true
	})
	return el, err
}

// topField returns the JSON text of the last top-level member called
// name of the valid JSON value v, or false (v is not an object, or has no
// such member).
func topField(v []byte, name string) ([]byte, bool) {
	if len(v) == 0 || v[0] != '{' {
		return nil, false
	}
	var found []byte
	eachMember(v, 0, func(n []byte, s, e int) bool {
		if string(n) == name {
			found = v[s:e]
		}
		return true
	})
	return found, found != nil
}

// fieldText is a field's key text: a string's contents (unescaped), any
// other value's JSON text as sent.
func fieldText(v []byte) []byte {
	if len(v) == 0 || v[0] != '"' {
		return v
	}
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return inner
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return inner // cannot happen: v was validated
	}
	return []byte(s)
}

// eachMember calls fn with each member of the valid object at b[i]: its
// name (unescaped; it may point into b) and its value's span, until fn
// returns false.
func eachMember(b []byte, i int, fn func(name []byte, start, end int) bool) {
	i = skipSpace(b, i+1)
	for i < len(b) && b[i] == '"' {
		nend, _ := scanString(b, i)
		name := fieldText(b[i:nend])
		i = skipSpace(b, nend)
		i = skipSpace(b, i+1) // ':'
		vend, _ := scanValue(b, i, 0)
		if !fn(name, i, vend) {
			return
		}
		i = skipSpace(b, vend)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
			continue
		}
		return i
	}
	return i
}

func quoteChar(c byte) string {
	if c < 0x20 || c >= 0x7f {
		return fmt.Sprintf("0x%02x", c)
	}
	return fmt.Sprintf("%q", c)
}

func malformed(at int, format string, args ...any) *parseError {
	return &parseError{code: codeMalformed, msg: fmt.Sprintf(format, args...), offset: at, index: -1}
}

// scanValue validates the JSON value at b[i] (no leading space) and
// returns the offset after it. The grammar is RFC 8259's, strings must be
// valid UTF-8, and nesting is limited as encoding/json limits it.
func scanValue(b []byte, i, depth int) (int, *parseError) {
	if i >= len(b) {
		return i, malformed(i, "unexpected end of input: expected a JSON value")
	}
	switch c := b[i]; c {
	case '"':
		return scanString(b, i)
	case '{', '[':
		if depth >= maxDepth {
			return i, malformed(i, "nesting deeper than %d levels", maxDepth)
		}
		return scanComposite(b, i, depth+1)
	case 't':
		return scanLiteral(b, i, "true")
	case 'f':
		return scanLiteral(b, i, "false")
	case 'n':
		return scanLiteral(b, i, "null")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return scanNumber(b, i)
		}
		return i, malformed(i, "invalid character %s looking for the beginning of a value", quoteChar(c))
	}
}

func scanLiteral(b []byte, i int, lit string) (int, *parseError) {
	for k := 0; k < len(lit); k++ {
		if i+k >= len(b) {
			return i + k, malformed(i+k, "unexpected end of input in literal %s", lit)
		}
		if b[i+k] != lit[k] {
			return i + k, malformed(i+k, "invalid character %s in literal %s", quoteChar(b[i+k]), lit)
		}
	}
	return i + len(lit), nil
}

func scanComposite(b []byte, i, depth int) (int, *parseError) {
	object := b[i] == '{'
	closer := byte(']')
	if object {
		closer = '}'
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == closer {
		return i + 1, nil
	}
	for {
		if object {
			if i >= len(b) {
				return i, malformed(i, "unexpected end of input: expected an object member name")
			}
			if b[i] != '"' {
				return i, malformed(i, "invalid character %s looking for the beginning of an object member name", quoteChar(b[i]))
			}
			end, err := scanString(b, i)
			if err != nil {
				return end, err
			}
			i = skipSpace(b, end)
			if i >= len(b) {
				return i, malformed(i, "unexpected end of input: expected ':'")
			}
			if b[i] != ':' {
				return i, malformed(i, "invalid character %s after an object member name", quoteChar(b[i]))
			}
			i = skipSpace(b, i+1)
		}
		end, err := scanValue(b, i, depth)
		if err != nil {
			return end, err
		}
		i = skipSpace(b, end)
		if i >= len(b) {
			return i, malformed(i, "unexpected end of input: expected ',' or '%c'", closer)
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
			continue
		case closer:
			return i + 1, nil
		}
		return i, malformed(i, "invalid character %s: expected ',' or '%c'", quoteChar(b[i]), closer)
	}
}

// scanString validates the string at b[i] == '"' and returns the offset
// after its closing quote.
func scanString(b []byte, i int) (int, *parseError) {
	start := i
	i++
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			if i+1 >= len(b) {
				return i + 1, malformed(i+1, "unexpected end of input in a string escape")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for k := 2; k < 6; k++ {
					if i+k >= len(b) {
						return i + k, malformed(i+k, "unexpected end of input in a \\u escape")
					}
					if !isHex(b[i+k]) {
						return i + k, malformed(i+k, "invalid character %s in a \\u escape", quoteChar(b[i+k]))
					}
				}
				i += 6
			default:
				return i + 1, malformed(i+1, "invalid escape character %s in a string", quoteChar(b[i+1]))
			}
		case c < 0x20:
			return i, malformed(i, "invalid control character %s in a string (escape it)", quoteChar(c))
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size <= 1 {
				return i, malformed(i, "invalid UTF-8 in a string")
			}
			i += size
		}
	}
	return i, malformed(i, "unexpected end of input: the string starting at byte %d is not closed", start)
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scanNumber validates -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(b []byte, i int) (int, *parseError) {
	if b[i] == '-' {
		i++
	}
	digits := func(what string) (int, *parseError) {
		if i >= len(b) || !isDigit(b[i]) {
			if i >= len(b) {
				return i, malformed(i, "unexpected end of input in a number: expected %s", what)
			}
			return i, malformed(i, "invalid character %s in a number: expected %s", quoteChar(b[i]), what)
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
		return i, nil
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if _, err := digits("a digit"); err != nil {
		return i, err
	}
	if i < len(b) && b[i] == '.' {
		i++
		if _, err := digits("a digit after the decimal point"); err != nil {
			return i, err
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if _, err := digits("a digit in the exponent"); err != nil {
			return i, err
		}
	}
	return i, nil
}
