package jsonschema

import (
	"bytes"
	"encoding/binary"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// verdict is the fast path's answer for one payload.
type verdict uint8

const (
	// accepted: the library accepts the payload too.
	accepted verdict = iota
	// rejected: the library rejects it too, unless the payload repeats a
	// key in an object (encoding/json keeps the last value, the fast path
	// checks them all); the library is asked either way, for the reason.
	rejected
	// undecided: the payload reached a subschema the fast path leaves to
	// the library, or nests too deep.
	undecided
)

func (v verdict) String() string {
	switch v {
	case accepted:
		return "accepted"
	case rejected:
		return "rejected"
	}
	return "undecided"
}

// maxFastDepth is the nesting of arrays and objects up to which the fast
// path validates; deeper payloads are left to the library (and
// encoding/json, which refuses more than 10,000 levels).
const maxFastDepth = 1000

// fastScan validates one payload: a recursive descent over the bytes
// that checks the JSON grammar as encoding/json does and each value
// against its fastNode, building nothing. It lives on the caller's stack.
type fastScan struct {
	b       []byte
	i       int
	depth   int
	verdict verdict
	// scratch holds a string unescaped (only strings with escapes or
	// invalid UTF-8 need it), from scratchPool.
	scratch *[]byte
}

var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// maxPooledScratch: a scratch buffer grown larger by a huge string is
// left to the garbage collector rather than kept in the pool.
const maxPooledScratch = 64 << 10

// validateFast validates payload against root.
func validateFast(root *fastNode, payload []byte) verdict {
	s := fastScan{b: payload}
	s.skipSpace()
	if s.value(root) {
		s.skipSpace()
		if s.i != len(s.b) {
			s.verdict = rejected // trailing data
		}
	}
	if s.scratch != nil && cap(*s.scratch) <= maxPooledScratch {
		*s.scratch = (*s.scratch)[:0]
		scratchPool.Put(s.scratch)
	}
	return s.verdict
}

func (s *fastScan) fail() bool {
	s.verdict = rejected
	return false
}

func (s *fastScan) undecided() bool {
	s.verdict = undecided
	return false
}

// peek returns the byte at the cursor, 0 at the end (never valid there).
func (s *fastScan) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// skipSpace skips JSON whitespace, as encoding/json's isSpace.
func (s *fastScan) skipSpace() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value validates the value at the cursor against n and moves past it.
// false: stop, s.verdict says why.
func (s *fastScan) value(n *fastNode) bool {
	if n.fallback {
		return s.undecided()
	}
	if n.never {
		return s.fail()
	}
	switch c := s.peek(); c {
	case '{':
		return s.object(n)
	case '[':
		return s.array(n)
	case '"':
		return s.str(n)
	case 't':
		return s.literal(n, "true", typeBoolean)
	case 'f':
		return s.literal(n, "false", typeBoolean)
	case 'n':
		return s.literal(n, "null", typeNull)
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return s.number(n)
		}
	}
	return s.fail()
}

// enter counts one more level of nesting.
func (s *fastScan) enter() bool {
	s.depth++
	if s.depth > maxFastDepth {
		return s.undecided()
	}
	return true
}

func (s *fastScan) object(n *fastNode) bool {
	if (n.types != 0 && n.types&typeObject == 0) || n.checks&checksValues != 0 {
		return s.fail() // enum and const hold scalars only
	}
	if !s.enter() {
		return false
	}
	s.i++
	s.skipSpace()
	var seen uint64
	guess := 0
	if s.peek() == '}' {
		s.i++
	} else {
		open := len(n.entries) == 0 && !n.closed
		for {
			if s.peek() != '"' {
				return s.fail()
			}
			child := n.additional
			if open {
				if !s.skipString() {
					return false
				}
			} else {
				key, ok := s.stringValue()
				if !ok {
					return false
				}
				if e := n.lookup(key, guess); e >= 0 {
					seen |= n.entries[e].bit
					child = n.entries[e].node
					guess = e + 1
				} else if n.closed {
					return s.fail()
				}
			}
			s.skipSpace()
			if s.peek() != ':' {
				return s.fail()
			}
			s.i++
			s.skipSpace()
			if !s.value(child) {
				return false
			}
			s.skipSpace()
			c := s.peek()
			s.i++
			if c == '}' {
				break
			}
			if c != ',' {
				return s.fail()
			}
			s.skipSpace()
		}
	}
	s.depth--
	if seen&n.requiredMask != n.requiredMask {
		return s.fail()
	}
	return true
}

func (s *fastScan) array(n *fastNode) bool {
	if (n.types != 0 && n.types&typeArray == 0) || n.checks&checksValues != 0 {
		return s.fail()
	}
	if !s.enter() {
		return false
	}
	s.i++
	s.skipSpace()
	count := 0
	if s.peek() == ']' {
		s.i++
	} else {
		for {
			child := n.rest
			if count < len(n.prefix) {
				child = n.prefix[count]
			} else if n.restClosed {
				return s.fail()
			}
			if !s.value(child) {
				return false
			}
			count++
			if n.checks&checkMaxItems != 0 && count > n.maxItems {
				return s.fail()
			}
			s.skipSpace()
			c := s.peek()
			s.i++
			if c == ']' {
				break
			}
			if c != ',' {
				return s.fail()
			}
			s.skipSpace()
		}
	}
	s.depth--
	if n.checks&checkMinItems != 0 && count < n.minItems {
		return s.fail()
	}
	return true
}

func (s *fastScan) literal(n *fastNode, word string, t typeMask) bool {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return s.fail()
	}
	s.i += len(word)
	if n.types != 0 && n.types&t == 0 {
		return s.fail()
	}
	if n.checks&checkEnum != 0 && !n.enum.hasLiteral(word[0]) ||
		n.checks&checkConst != 0 && !n.konst.hasLiteral(word[0]) {
		return s.fail()
	}
	return true
}

func (s *fastScan) number(n *fastNode) bool {
	start := s.i
	fractional, exponent, ok := s.scanNumber()
	if !ok {
		return s.fail()
	}
	lit := s.b[start:s.i]
	if len(lit) > maxNumberText || exponent > 0 && !exponentIsSmall(s.b[start+exponent:s.i]) {
		return s.fail() // FirstFailure refuses it before validating
	}
	if n.types != 0 && n.types&(typeNumber|typeInteger) == 0 {
		return s.fail()
	}
	integerOnly := n.types != 0 && n.types&typeNumber == 0
	if n.checks&(checksNumber|checksValues) == 0 && (!integerOnly || !fractional) {
		return true
	}
	var buf [maxNumberText]byte
	d := decimalOf(lit, &buf)
	if integerOnly && !d.isInteger() {
		return s.fail()
	}
	if n.checks&checkEnum != 0 && !n.enum.hasNumber(d) {
		return s.fail()
	}
	if n.checks&checkConst != 0 && !n.konst.hasNumber(d) {
		return s.fail()
	}
	if n.checks&checkMinimum != 0 && d.cmp(n.minimum) < 0 ||
		n.checks&checkMaximum != 0 && d.cmp(n.maximum) > 0 ||
		n.checks&checkExclusiveMinimum != 0 && d.cmp(n.exclusiveMinimum) <= 0 ||
		n.checks&checkExclusiveMaximum != 0 && d.cmp(n.exclusiveMaximum) >= 0 {
		return s.fail()
	}
	if n.checks&checkMultipleOf != 0 {
		divides, known := n.multipleOf.divides(d)
		if !known {
			return s.undecided()
		}
		if !divides {
			return s.fail()
		}
	}
	return true
}

// scanNumber moves past a number literal as JSON spells it:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?. fractional reports a
// fraction or an exponent: a literal that may not be an integer.
// exponent is the offset in the literal of the exponent after the "e",
// 0 without one.
func (s *fastScan) scanNumber() (fractional bool, exponent int, ok bool) {
	b, i := s.b, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i++; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
	default:
		return false, 0, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false, 0, false
		}
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
		fractional = true
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		exponent = i - s.i
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false, 0, false
		}
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
		fractional = true
	}
	s.i = i
	return fractional, exponent, true
}

func (s *fastScan) str(n *fastNode) bool {
	if n.types != 0 && n.types&typeString == 0 {
		return s.fail()
	}
	if n.checks&(checksString|checksValues) == 0 {
		return s.skipString()
	}
	v, ok := s.stringValue()
	if !ok {
		return false
	}
	if n.checks&(checkMinLength|checkMaxLength) != 0 {
		length := utf8.RuneCount(v)
		if n.checks&checkMinLength != 0 && length < n.minLength ||
			n.checks&checkMaxLength != 0 && length > n.maxLength {
			return s.fail()
		}
	}
	if n.checks&checkEnum != 0 && !n.enum.hasString(v) ||
		n.checks&checkConst != 0 && !n.konst.hasString(v) {
		return s.fail()
	}
	if n.checks&checkPattern != 0 && !n.pattern.Match(v) {
		return s.fail()
	}
	if n.checks&checkFormat != 0 && n.format(string(v)) != nil {
		return s.fail()
	}
	return true
}

// skipString moves past the string at the cursor, checking its grammar.
func (s *fastScan) skipString() bool {
	_, _, ok := s.scanString()
	return ok
}

// stringValue moves past the string at the cursor and returns its value
// as encoding/json decodes it: the bytes between the quotes, or, when
// they hold an escape or invalid UTF-8, the string unescaped into
// s.scratch (valid until the next call).
func (s *fastScan) stringValue() ([]byte, bool) {
	start := s.i + 1
	end, plain, ok := s.scanString()
	if !ok {
		return nil, false
	}
	raw := s.b[start:end]
	if plain {
		return raw, true
	}
	if s.scratch == nil {
		s.scratch = scratchPool.Get().(*[]byte)
	}
	*s.scratch = unquoteInto((*s.scratch)[:0], raw)
	return *s.scratch, true
}

// The SWAR constants of plainSpan: a byte in each lane.
const (
	lanes01 = 0x0101010101010101
	lanes80 = 0x8080808080808080
)

// scanString moves past the string whose opening quote is at the cursor.
// end is the index of its closing quote; plain reports that it has
// neither escapes nor invalid UTF-8, so its bytes are its value. The
// grammar is encoding/json's: no byte below 0x20, escapes \" \\ \/ \b \f
// \n \r \t and \u with four hex digits; invalid UTF-8 is allowed.
func (s *fastScan) scanString() (end int, plain, ok bool) {
	i := s.i + 1
	// Most strings are ASCII without escapes: find the closing quote
	// (vectorised) and check that nothing before it needs a closer look.
	q := bytes.IndexByte(s.b[i:], '"')
	if q < 0 {
		return 0, false, s.fail()
	}
	if plainSpan(s.b[i : i+q]) {
		s.i = i + q + 1
		return i + q, true, true
	}
	return s.scanStringSlowly(i)
}

// plainSpan reports whether b has only printable ASCII but the backslash,
// eight bytes at a time.
func plainSpan(b []byte) bool {
	for len(b) >= 8 {
		w := binary.LittleEndian.Uint64(b)
		backslash := w ^ (lanes01 * '\\')
		// A lane below 0x20 or from 0x80 up sets its top bit in
		// (w - 0x20) | w; a backslash lane becomes 0 and sets its top
		// bit in (x - 1) &^ x. Borrows only spread above a lane that is
		// found anyway.
		if ((w-lanes01*0x20)|w|((backslash-lanes01)&^backslash))&lanes80 != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c < 0x20 || c >= utf8.RuneSelf || c == '\\' {
			return false
		}
	}
	return true
}

// scanStringSlowly is scanString from i, inside the string, byte by
// byte: escapes, control characters and UTF-8.
func (s *fastScan) scanStringSlowly(i int) (end int, plain, ok bool) {
	b := s.b
	plain = true
	for i < len(b) {
		switch c := b[i]; {
		case c == '"':
			s.i = i + 1
			return i, plain, true
		case c == '\\':
			plain = false
			if i+1 >= len(b) {
				return 0, false, s.fail()
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return 0, false, s.fail()
				}
				i += 6
			default:
				return 0, false, s.fail()
			}
		case c < 0x20:
			return 0, false, s.fail()
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				plain = false
			}
			i += size
		}
	}
	return 0, false, s.fail()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// unquoteInto appends the value of raw, the grammatical contents of a
// JSON string, to dst exactly as encoding/json's unquoteBytes decodes it:
// a \u escape of a lone or mismatched surrogate and each byte of invalid
// UTF-8 become U+FFFD.
func unquoteInto(dst, raw []byte) []byte {
	for r := 0; r < len(raw); {
		c := raw[r]
		switch {
		case c == '\\':
			switch e := raw[r+1]; e {
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
				rr := hex4(raw[r+2:])
				r += 6
				if utf16.IsSurrogate(rr) {
					if r+6 <= len(raw) && raw[r] == '\\' && raw[r+1] == 'u' {
						if dec := utf16.DecodeRune(rr, hex4(raw[r+2:])); dec != unicode.ReplacementChar {
							dst = utf8.AppendRune(dst, dec)
							r += 6
							continue
						}
					}
					rr = unicode.ReplacementChar
				}
				dst = utf8.AppendRune(dst, rr)
				continue
			default: // '"', '\\', '/'
				dst = append(dst, e)
			}
			r += 2
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			r++
		default:
			rr, size := utf8.DecodeRune(raw[r:])
			dst = utf8.AppendRune(dst, rr)
			r += size
		}
	}
	return dst
}

// hex4 is the value of four hex digits, checked by scanString.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c >= 'a':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r*16 + rune(c)
	}
	return r
}
