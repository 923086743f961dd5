package format

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// jsonSafe[b] is true for the ASCII bytes a JSON string may hold as they
// are; htmlSafe also excludes '<', '>' and '&', which encoding/json
// escapes by default.
var jsonSafe, htmlSafe = func() (safe, html [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		safe[b] = b != '"' && b != '\\'
		html[b] = safe[b] && b != '<' && b != '>' && b != '&'
	}
	return safe, html
}()

// needsEscape reports whether appendString (escaping HTML) would change
// any byte of s: whether it holds a control character, a byte of 0x80 or
// more, or one of " \\ < > &. Eight bytes at a time, with the SWAR tests
// of nextStop: '<' (0x3c) and '>' (0x3e) differ in one bit, as do '"'
// (0x22) and '&' (0x26), so masking that bit out tests both at once.
func needsEscape(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		angle := (x ^ (lowBits * '<')) &^ (lowBits * 0x02)
		quote := (x ^ (lowBits * '"')) &^ (lowBits * 0x04)
		slash := x ^ (lowBits * '\\')
		zero := (angle-lowBits)&^angle | (quote-lowBits)&^quote | (slash-lowBits)&^slash
		control := (x - lowBits*0x20) &^ x
		if (zero|control|x)&highBits != 0 {
			return true
		}
	}
	for ; i < len(s); i++ {
		if b := s[i]; b >= utf8.RuneSelf || !htmlSafe[b] {
			return true
		}
	}
	return false
}

// AppendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it except that '<', '>' and '&' are left as they are: valid
// JSON and valid UTF-8 whatever s holds (invalid bytes become U+FFFD).
// For the CLI's and the HTTP API's JSON written by hand.
func AppendJSONString[S ~string | ~[]byte](dst []byte, s S) []byte {
	return appendString(dst, s, false)
}

// appendString appends s as a JSON string, escaped exactly as
// encoding/json escapes it (escapeHTML as with Encoder.SetEscapeHTML):
// control characters as \b \f \n \r \t or \u00XX, each invalid UTF-8 byte
// as \ufffd, and U+2028 and U+2029 escaped, so the result is valid JSON
// and valid UTF-8 whatever s holds.
func appendString[S ~string | ~[]byte](dst []byte, s S, escapeHTML bool) []byte {
	safe := &jsonSafe
	if escapeHTML {
		safe = &htmlSafe
	}
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if safe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := decodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func decodeRune[S ~string | ~[]byte](s S) (rune, int) {
	if len(s) > utf8.UTFMax {
		s = s[:utf8.UTFMax]
	}
	return utf8.DecodeRuneInString(string(s)) // a short non-escaping conversion: no allocation
}
