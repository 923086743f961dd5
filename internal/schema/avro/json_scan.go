package avro

import (
	"encoding/binary"
	"unicode/utf16"
	"unicode/utf8"
)

// The JSON scanner of EncodeJSON: tokens read straight from the document
// bytes, with the grammar of RFC 8259 (as fastjson's validator, which
// EncodeJSON ran before, reads it):
//
//   - whitespace is space, tab, CR and LF;
//   - a string holds no byte below 0x20, and its escapes are \" \\ \/ \b
//     \f \n \r \t and \u with four hex digits; other bytes pass as they
//     are (UTF-8 is checked where a value is used: a string must be UTF-8,
//     a map key too);
//   - a number is -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?;
//   - a value nested deeper than maxJSONDepth (the top-level value is at
//     depth 1) is refused, as fastjson's parser did.
//
// The scanner methods live on encoder: a position in a document. Those
// that read a token report success; on failure they leave a description
// of the syntax error in the encoder (the first one only).

// maxJSONDepth is how deep a JSON value may be nested (fastjson.MaxDepth).
const maxJSONDepth = 300

// jsonType is the type of a JSON value, told by its first byte.
type jsonType uint8

const (
	jsonInvalid jsonType = iota
	jsonNull
	jsonBoolean
	jsonNumber
	jsonString
	jsonObject
	jsonArray
)

// anyJSON has the bit of every JSON type.
const anyJSON = 0xff

func (t jsonType) bit() uint8 { return 1 << t }

func (t jsonType) String() string {
	switch t {
	case jsonNull:
		return "null"
	case jsonBoolean:
		return "boolean"
	case jsonNumber:
		return "number"
	case jsonString:
		return "string"
	case jsonObject:
		return "object"
	case jsonArray:
		return "array"
	}
	return "invalid JSON"
}

// jsonTypes maps the first byte of a value to its type.
var jsonTypes = func() (t [256]jsonType) {
	t['n'] = jsonNull
	t['t'], t['f'] = jsonBoolean, jsonBoolean
	t['-'] = jsonNumber
	for c := '0'; c <= '9'; c++ {
		t[c] = jsonNumber
	}
	t['"'] = jsonString
	t['{'] = jsonObject
	t['['] = jsonArray
	return t
}()

// Flags of a scanned string.
const (
	strEscaped  = 1 << iota // holds a backslash escape
	strNonASCII             // holds a byte >= 0x80
)

// peek returns the byte at the position, 0 at the end.
func (e *encoder) peek() byte {
	if e.pos < len(e.doc) {
		return e.doc[e.pos]
	}
	return 0
}

// ws skips whitespace.
func (e *encoder) ws() {
	if e.pos < len(e.doc) && e.doc[e.pos] > ' ' {
		return // compact JSON: no whitespace
	}
	e.wsSlow()
}

func (e *encoder) wsSlow() {
	for e.pos < len(e.doc) {
		switch e.doc[e.pos] {
		case ' ', '\n', '\t', '\r':
			e.pos++
		default:
			return
		}
	}
}

// syntax records a syntax error at the position (the first one wins) and
// returns false.
func (e *encoder) syntax(what string) bool {
	if e.syntaxMsg == "" {
		e.syntaxMsg, e.syntaxAt = what, e.pos
	}
	return false
}

// expected records that the byte at the position is not what the grammar
// wants there.
func (e *encoder) expected(what string) bool {
	if e.pos >= len(e.doc) {
		return e.syntax("the document ends where " + what + " should be")
	}
	return e.syntax(what + " expected")
}

// literal reads the literal lit ("true", "false", "null").
func (e *encoder) literal(lit string) bool {
	if len(e.doc)-e.pos >= len(lit) && string(e.doc[e.pos:e.pos+len(lit)]) == lit {
		e.pos += len(lit)
		return true
	}
	return e.syntax("invalid literal (true, false or null expected)")
}

// SWAR constants: a byte of a uint64 is below 0x20, a quote, a backslash
// or beyond ASCII.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// plainASCII reports whether none of the 8 bytes of x needs a look in a
// string: no control character, quote, backslash or byte >= 0x80.
func plainASCII(x uint64) bool {
	below := (x - lsb*0x20) & ^x
	quote := x ^ (lsb * '"')
	quote = (quote - lsb) & ^quote
	bslash := x ^ (lsb * '\\')
	bslash = (bslash - lsb) & ^bslash
	return (below|quote|bslash|x)&msb == 0
}

// scanString reads the string at the position (its opening quote) and
// returns its raw content, between the quotes and still escaped, with its
// flags. The content is a slice of the document.
func (e *encoder) scanString() (raw []byte, flags uint8, ok bool) {
	doc := e.doc
	i := e.pos + 1
	start := i
	for {
		for i+8 <= len(doc) && plainASCII(binary.LittleEndian.Uint64(doc[i:])) {
			i += 8
		}
		if i >= len(doc) {
			e.pos = i
			return nil, 0, e.syntax("the document ends inside a string")
		}
		switch c := doc[i]; {
		case c == '"':
			e.pos = i + 1
			return doc[start:i], flags, true
		case c == '\\':
			flags |= strEscaped
			if i+1 >= len(doc) {
				e.pos = i
				return nil, 0, e.syntax("the document ends inside a string")
			}
			switch doc[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(doc) || !isHex4(doc[i+2:i+6]) {
					e.pos = i
					return nil, 0, e.syntax(`invalid \u escape (four hex digits expected)`)
				}
				i += 6
			default:
				e.pos = i
				return nil, 0, e.syntax("invalid escape in a string")
			}
		case c < 0x20:
			e.pos = i
			return nil, 0, e.syntax("control character in a string")
		case c >= 0x80:
			flags |= strNonASCII
			i++
		default:
			i++
		}
	}
}

// stringValue reads the string at the position and returns its value:
// the raw content when it has no escape, else the content unescaped into
// the encoder's scratch buffer, valid until the next call.
func (e *encoder) stringValue() (s []byte, flags uint8, ok bool) {
	raw, flags, ok := e.scanString()
	if !ok || flags&strEscaped == 0 {
		return raw, flags, ok
	}
	b := e.buffers()
	b.scratch = appendUnescaped(b.scratch[:0], raw)
	return b.scratch, flags, true
}

// appendUnescaped appends the value of the raw content of a string that
// scanString accepted, unescaping it as fastjson did: a \u escape of a
// UTF-16 surrogate followed by another \u escape is decoded with it as a
// pair (U+FFFD when they do not make one), and one not followed by a \u
// escape is kept as it was written, six characters.
func appendUnescaped(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			j := i + 1
			for j < len(raw) && raw[j] != '\\' {
				j++
			}
			dst = append(dst, raw[i:j]...)
			i = j
			continue
		}
		switch esc := raw[i+1]; esc {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := rune(hex4(raw[i+2 : i+6]))
			i += 6
			if !utf16.IsSurrogate(r) {
				dst = utf8.AppendRune(dst, r)
				continue
			}
			if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
				dst = utf8.AppendRune(dst, utf16.DecodeRune(r, rune(hex4(raw[i+2:i+6]))))
				i += 6
				continue
			}
			dst = append(dst, raw[i-6:i]...)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, esc)
		}
		i += 2
	}
	return dst
}

func isHex4(b []byte) bool {
	return hexVal[b[0]]|hexVal[b[1]]|hexVal[b[2]]|hexVal[b[3]] < 16
}

// hex4 is the value of four hex digits isHex4 accepted.
func hex4(b []byte) uint16 {
	return uint16(hexVal[b[0]])<<12 | uint16(hexVal[b[1]])<<8 | uint16(hexVal[b[2]])<<4 | uint16(hexVal[b[3]])
}

// hexVal is the value of a hex digit, 0xff for other bytes.
var hexVal = func() (t [256]uint8) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = uint8(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = uint8(c - 'a' + 10)
		t[c-'a'+'A'] = uint8(c - 'a' + 10)
	}
	return t
}()

// A number is a JSON number scanned: its text, and its value when it was
// cheap to compute on the way.
type number struct {
	text []byte
	// isInt: an integer of at most 18 digits (no fraction, no exponent),
	// whose value is n.
	isInt bool
	n     int64
	// isFloat: f is the value fastfloat.Parse gives the text, computed as
	// it does for a number without exponent of at most 15 digits: the
	// digits as an integer divided by the power of ten of the fraction.
	isFloat bool
	f       float64
}

// pow10 are the exact powers of ten up to 1e15.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// scanNumber reads the number at the position.
func (e *encoder) scanNumber() (num number, ok bool) {
	doc := e.doc
	start := e.pos
	i := start
	neg := i < len(doc) && doc[i] == '-'
	if neg {
		i++
	}
	digits := i
	var u uint64
	for i < len(doc) && doc[i]-'0' <= 9 {
		u = u*10 + uint64(doc[i]-'0')
		i++
	}
	intDigits := i - digits
	switch {
	case intDigits == 0:
		e.pos = i
		return num, e.syntax("invalid number (a digit expected)")
	case doc[digits] == '0' && intDigits > 1:
		e.pos = digits
		return num, e.syntax("invalid number (a leading zero)")
	}
	num.isInt = intDigits <= 18
	fracDigits := 0
	if i < len(doc) && doc[i] == '.' {
		i++
		frac := i
		for i < len(doc) && doc[i]-'0' <= 9 {
			u = u*10 + uint64(doc[i]-'0')
			i++
		}
		if fracDigits = i - frac; fracDigits == 0 {
			e.pos = i
			return num, e.syntax("invalid number (a digit expected after the point)")
		}
		num.isInt = false
	}
	exponent := false
	if i < len(doc) && doc[i]|0x20 == 'e' {
		i++
		if i < len(doc) && (doc[i] == '+' || doc[i] == '-') {
			i++
		}
		exp := i
		for i < len(doc) && doc[i]-'0' <= 9 {
			i++
		}
		if i == exp {
			e.pos = i
			return num, e.syntax("invalid number (a digit expected in the exponent)")
		}
		num.isInt, exponent = false, true
	}
	e.pos = i
	num.text = doc[start:i]
	if num.isInt {
		num.n = int64(u)
		if neg {
			num.n = -num.n
		}
	}
	if !exponent && intDigits+fracDigits <= 15 {
		num.isFloat = true
		num.f = float64(u) / pow10[fracDigits]
		if neg {
			num.f = -num.f
		}
	}
	return num, true
}

// skip reads the value at the position, at the given depth, checking its
// syntax and building nothing.
func (e *encoder) skip(depth int) bool {
	if depth > maxJSONDepth {
		return e.syntax("nested more than 300 levels deep")
	}
	switch c := e.peek(); c {
	case '"':
		_, _, ok := e.scanString()
		return ok
	case '{':
		e.pos++
		e.ws()
		if e.peek() == '}' {
			e.pos++
			return true
		}
		for {
			if e.peek() != '"' {
				return e.expected("a string (an object key)")
			}
			if _, _, ok := e.scanString(); !ok {
				return false
			}
			if !e.colon() || !e.skip(depth+1) {
				return false
			}
			if end, ok := e.next('}'); !ok || end {
				return ok
			}
		}
	case '[':
		e.pos++
		e.ws()
		if e.peek() == ']' {
			e.pos++
			return true
		}
		for {
			if !e.skip(depth + 1) {
				return false
			}
			if end, ok := e.next(']'); !ok || end {
				return ok
			}
		}
	case 't':
		return e.literal("true")
	case 'f':
		return e.literal("false")
	case 'n':
		return e.literal("null")
	default:
		if jsonTypes[c] != jsonNumber {
			return e.expected("a value")
		}
		_, ok := e.scanNumber()
		return ok
	}
}

// colon reads the colon after an object key, with the whitespace around.
func (e *encoder) colon() bool {
	e.ws()
	if e.peek() != ':' {
		return e.expected("a colon after an object key")
	}
	e.pos++
	e.ws()
	return true
}

// next reads what follows a member of an object or an element of an
// array: a comma (and the whitespace after), or the closing byte. end
// tells which.
func (e *encoder) next(closing byte) (end, ok bool) {
	e.ws()
	switch e.peek() {
	case ',':
		e.pos++
		e.ws()
		return false, true
	case closing:
		e.pos++
		return true, true
	}
	if closing == '}' {
		return false, e.expected("a comma or '}' after an object member")
	}
	return false, e.expected("a comma or ']' after an array element")
}

// checkJSON reports whether the whole document is one JSON value, with
// whitespace around.
func (e *encoder) checkJSON() bool {
	e.pos, e.syntaxMsg = 0, ""
	e.ws()
	if !e.skip(1) {
		return false
	}
	e.ws()
	if e.pos != len(e.doc) {
		return e.syntax("text after the JSON value")
	}
	return true
}
