package format

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// The lexer of the JSON decoder. It accepts exactly what fastjson's
// Parser accepts, no more and no less, because fastjson was the decoder
// before it and records that decoded then must decode now (and records
// rejected then must be rejected now). That grammar is JSON's, with
// fastjson's leniencies:
//
//   - a number is any run of the bytes 0-9 . - + e E, or, at its start
//     or after one sign, "inf" or "nan" in any case; JSON's grammar is
//     enforced later, by validNumber, on the numbers a column reads;
//   - a string ends at the first '"' not escaped by a backslash; escapes
//     are not checked (unescapeBestEffort keeps bad ones as they are) and
//     control characters may appear raw;
//   - nesting deeper than maxDepth values is an error.
//
// Whitespace is JSON's: space, \t, \n, \r. The differential test and
// FuzzDecodeDifferential hold the lexer to fastjson.

// maxDepth is fastjson.MaxDepth: a value nested deeper is an error.
const maxDepth = 300

// tokenKind is the type of one JSON value.
type tokenKind uint8

const (
	tokenInvalid tokenKind = iota
	tokenString
	tokenNumber
	tokenTrue
	tokenFalse
	tokenNull
	tokenArray
	tokenObject
)

// token is one scanned value.
type token struct {
	kind tokenKind
	// escaped says a string's contents hold a backslash: they must be
	// unescaped before use. plain says they are printable ASCII without
	// escapes.
	escaped, plain bool
	// text is the value's text in the input, quotes and brackets
	// included: a subslice of the record.
	text []byte
}

// contents returns a string's text without its quotes, still escaped.
func (t token) contents() []byte { return t.text[1 : len(t.text)-1] }

// numberByte marks the bytes fastjson takes into a number.
var numberByte = [256]bool{
	'0': true, '1': true, '2': true, '3': true, '4': true, '5': true, '6': true, '7': true, '8': true, '9': true,
	'.': true, '-': true, '+': true, 'e': true, 'E': true,
}

// skipSpace returns the index of the first byte at or after i that is
// not JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// scanString scans the contents of a string that start at b[i], just
// past the opening quote. It returns the index of the closing quote, or
// -1 if there is none; whether the contents hold a backslash; and
// whether they are plain: printable ASCII without escapes, text that
// needs neither unescaping nor checking.
func scanString(b []byte, i int) (end int, escaped, plain bool) {
	plain = true
	for {
		j, special := nextStop(b, i)
		if special {
			plain = false
		}
		if j >= len(b) {
			return -1, escaped, false
		}
		if b[j] == '"' {
			return j, escaped, plain && !escaped
		}
		escaped = true
		i = j + 2 // past the escaped byte, whatever it is
	}
}

// SWAR constants: one in each byte's low bit, one in each byte's high
// bit.
const (
	lowBits  = 0x0101010101010101
	highBits = 0x8080808080808080
)

// nextStop returns the index of the first '"' or '\' at or after i
// (len(b) or more if there is none) and whether a control character or a
// non-ASCII byte comes before it. It reads eight bytes at a time: the
// classic test (x - lowBits) &^ x & highBits sets the high bit of the
// first zero byte of x (bytes above it may be set too, by the borrow,
// but never one below it), and x ^ (lowBits * c) turns the bytes equal
// to c into zeros.
func nextStop(b []byte, i int) (int, bool) {
	var special uint64
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q := x ^ (lowBits * '"')
		e := x ^ (lowBits * '\\')
		stop := ((q-lowBits)&^q | (e-lowBits)&^e) & highBits
		// Bytes below 0x20 by the same test, and bytes of 0x80 and up.
		odd := ((x-lowBits*0x20)&^x | x) & highBits
		if stop != 0 {
			n := bits.TrailingZeros64(stop) // 8*k + 7 for the stop at byte k
			below := uint64(1)<<(n-7) - 1   // the bytes before it
			return i + n>>3, special|odd&below != 0
		}
		special |= odd
	}
	for ; i < len(b); i++ {
		c := b[i]
		if c == '"' || c == '\\' {
			break
		}
		if c < 0x20 || c >= 0x80 {
			special = 1
		}
	}
	return i, special != 0
}

// scanNumber scans a number starting at b[i] as fastjson does; ok is
// false when there is none there.
func scanNumber(b []byte, i int) (end int, ok bool) {
	start := i
	for ; i < len(b); i++ {
		if numberByte[b[i]] {
			continue
		}
		if i == start || (i == start+1 && (b[start] == '-' || b[start] == '+')) {
			if len(b)-i >= 3 && isInfOrNaN(b[i:i+3]) {
				return i + 3, true
			}
			return i, false
		}
		return i, true
	}
	return i, true
}

// isInfOrNaN reports whether three bytes spell "inf" or "nan" in any case.
func isInfOrNaN(b []byte) bool {
	x, y, z := b[0]|0x20, b[1]|0x20, b[2]|0x20
	return (x == 'i' && y == 'n' && z == 'f') || (x == 'n' && y == 'a' && z == 'n')
}

// scanValue scans the value starting at b[i] (not whitespace), at
// nesting depth depth (the top-level value has depth 1). ok is false if
// it is not a value.
func scanValue(b []byte, i, depth int) (tok token, end int, ok bool) {
	if i >= len(b) || depth > maxDepth {
		return token{}, i, false
	}
	switch c := b[i]; c {
	case '"':
		end, escaped, plain := scanString(b, i+1)
		if end < 0 {
			return token{}, i, false
		}
		return token{kind: tokenString, escaped: escaped, plain: plain, text: b[i : end+1]}, end + 1, true
	case '{', '[':
		end, ok := skipComposite(b, i, depth)
		if !ok {
			return token{}, i, false
		}
		kind := tokenObject
		if c == '[' {
			kind = tokenArray
		}
		return token{kind: kind, text: b[i:end]}, end, true
	case 't':
		if len(b)-i >= 4 && string(b[i:i+4]) == "true" {
			return token{kind: tokenTrue, text: b[i : i+4]}, i + 4, true
		}
		return token{}, i, false
	case 'f':
		if len(b)-i >= 5 && string(b[i:i+5]) == "false" {
			return token{kind: tokenFalse, text: b[i : i+5]}, i + 5, true
		}
		return token{}, i, false
	case 'n':
		if len(b)-i >= 4 && string(b[i:i+4]) == "null" {
			return token{kind: tokenNull, text: b[i : i+4]}, i + 4, true
		}
		if len(b)-i >= 3 && isInfOrNaN(b[i:i+3]) { // "nan", any case but the first
			return token{kind: tokenNumber, text: b[i : i+3]}, i + 3, true
		}
		return token{}, i, false
	}
	end, ok = scanNumber(b, i)
	if !ok {
		return token{}, i, false
	}
	return token{kind: tokenNumber, text: b[i:end]}, end, true
}

// skipComposite checks the array or object starting at b[i] and returns
// the index just past it. It builds nothing: this is how the decoder
// passes over the fields no column reads.
func skipComposite(b []byte, i, depth int) (end int, ok bool) {
	closing := byte(']')
	object := b[i] == '{'
	if object {
		closing = '}'
	}
	i = skipSpace(b, i+1)
	if i >= len(b) {
		return i, false
	}
	if b[i] == closing {
		return i + 1, true
	}
	for {
		if object {
			if b[i] != '"' {
				return i, false
			}
			if i, _, _ = scanString(b, i+1); i < 0 {
				return i, false
			}
			i = skipSpace(b, i+1)
			if i >= len(b) || b[i] != ':' {
				return i, false
			}
			i = skipSpace(b, i+1)
		}
		if i, ok = skipValue(b, i, depth+1); !ok {
			return i, false
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return i, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
			if i >= len(b) {
				return i, false
			}
			continue
		case closing:
			return i + 1, true
		}
		return i, false
	}
}

// skipValue is scanValue for a value nobody reads: scalars are checked
// without making a token.
func skipValue(b []byte, i, depth int) (end int, ok bool) {
	if i >= len(b) || depth > maxDepth {
		return i, false
	}
	switch b[i] {
	case '"':
		if end, _, _ = scanString(b, i+1); end < 0 {
			return i, false
		}
		return end + 1, true
	case '{', '[':
		return skipComposite(b, i, depth)
	case '1', '2', '3', '4', '5', '6', '7', '8', '9', '0', '-':
		return scanNumber(b, i)
	}
	_, end, ok = scanValue(b, i, depth)
	return end, ok
}

// unescapeBestEffort appends s with its escapes replaced, as fastjson
// does: an escape that is not valid JSON is kept as it is (a lone
// surrogate \ud800 stays six characters; a valid high surrogate followed
// by any \uXXXX pairs into one rune, U+FFFD if they do not form one).
func unescapeBestEffort(dst, s []byte) []byte {
	n := bytes.IndexByte(s, '\\')
	if n < 0 {
		return append(dst, s...)
	}
	dst = append(dst, s[:n]...)
	s = s[n+1:]
	for len(s) > 0 {
		ch := s[0]
		s = s[1:]
		switch ch {
		case '"', '\\', '/':
			dst = append(dst, ch)
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
			x, ok := hex4(s)
			if !ok {
				dst = append(dst, `\u`...)
				break
			}
			xs := s[:4]
			s = s[4:]
			if !utf16.IsSurrogate(x) {
				dst = utf8.AppendRune(dst, x)
				break
			}
			var x1 rune
			if len(s) >= 6 && s[0] == '\\' && s[1] == 'u' {
				x1, ok = hex4(s[2:])
			} else {
				ok = false
			}
			if !ok {
				dst = append(dst, `\u`...)
				dst = append(dst, xs...)
				break
			}
			dst = utf8.AppendRune(dst, utf16.DecodeRune(x, x1))
			s = s[6:]
		default:
			dst = append(dst, '\\', ch)
		}
		n = bytes.IndexByte(s, '\\')
		if n < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:n]...)
		s = s[n+1:]
	}
	return dst
}

// hex4 reads four hex digits, either case, from the start of s.
func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var x rune
	for _, c := range s[:4] {
		d, ok := unhex(c)
		if !ok {
			return 0, false
		}
		x = x<<4 | rune(d)
	}
	return x, true
}
