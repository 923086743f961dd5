package pgvalue

import "errors"

// Arrays in Postgres' text form (array_out), parsed as array_in does:
//
//	[lo:hi][lo:hi]=      optional dimensions, when a lower bound is not 1
//	{ item D item ... }  D the element type's delimiter (typdelim)
//	item                 { ... } (a sub-array), NULL, "quoted", or unquoted
//
// Quoted elements may hold anything, with '"' and '\' escaped by '\'.
// Unquoted ones hold no '"', '{', '}' or delimiter unless escaped by '\';
// white space around them is not theirs. NULL (any case, unquoted) is
// SQL NULL. Sub-arrays nest, up to 6 deep as in Postgres.

const (
	// maxArrayDims is Postgres' MAXDIM.
	maxArrayDims = 6
	// maxArrayNesting bounds arrays whose elements are (domains over)
	// arrays, so that a cycle of types given to Registry.Add ends.
	maxArrayNesting = 8
)

// appendArray appends an array's text, a value of e's type, as a JSON
// array (nested for each dimension), its elements converted as values of
// e.elem. depth counts the arrays this one is an element of.
func appendArray(dst []byte, e *entry, text []byte, depth int) ([]byte, error) {
	start := len(dst)
	if depth >= maxArrayNesting {
		return dst, syntaxError(e, 0, "arrays nested too deep")
	}
	i := 0
	if len(text) > 0 && text[0] == '[' {
		if i = skipDims(text); i < 0 {
			return dst, syntaxError(e, 0, "malformed dimensions")
		}
	}
	i = skipArraySpace(text, i)
	if i >= len(text) || text[i] != '{' {
		return dst, syntaxError(e, i, `no "{"`)
	}
	level := 0       // the open braces
	wantItem := true // after '{' or a delimiter
	opened := false  // just after '{': '}' may close an empty array
	for {
		i = skipArraySpace(text, i)
		if i >= len(text) {
			return dst[:start], syntaxError(e, i, "unterminated array")
		}
		c := text[i]
		if !wantItem {
			switch c {
			case e.delim:
				dst = append(dst, ',')
				wantItem = true
			case '}':
				dst = append(dst, ']')
				level--
			default:
				return dst[:start], syntaxError(e, i, "expected a delimiter or \"}\"")
			}
			i++
			if level == 0 {
				break
			}
			continue
		}
		if c == '{' {
			if level++; level > maxArrayDims {
				return dst[:start], syntaxError(e, i, "more than 6 dimensions")
			}
			dst = append(dst, '[')
			i++
			opened = true
			continue
		}
		if c == '}' && opened {
			dst = append(dst, ']')
			i++
			opened, wantItem = false, false
			if level--; level == 0 {
				break
			}
			continue
		}
		at := i
		var err error
		if dst, i, err = appendElement(dst, e, text, i, depth); err != nil {
			reason := err.Error()
			var inner *SyntaxError
			if errors.As(err, &inner) {
				reason = inner.Type + " element: " + inner.Reason
			}
			return dst[:start], syntaxError(e, at, reason)
		}
		opened, wantItem = false, false
	}
	if i = skipArraySpace(text, i); i != len(text) {
		return dst[:start], syntaxError(e, i, "text after the array")
	}
	return dst, nil
}

// appendElement appends the JSON of the element at text[i], quoted or
// not, and returns the index after it.
func appendElement(dst []byte, e *entry, text []byte, i, depth int) ([]byte, int, error) {
	var raw []byte // the element's text, escapes included
	escaped := false
	if text[i] == '"' {
		j := i + 1
		for ; j < len(text) && text[j] != '"'; j++ {
			if text[j] == '\\' {
				escaped = true
				j++
			}
		}
		if j >= len(text) {
			return dst, i, syntaxError(e, i, "unterminated quoted element")
		}
		raw, i = text[i+1:j], j+1
	} else {
		j, end := i, i // end: after the last byte that is not unescaped white space
		for ; j < len(text); j++ {
			c := text[j]
			if c == e.delim || c == '}' {
				break
			}
			switch c {
			case '{', '"':
				return dst, i, syntaxError(e, j, "unexpected \"{\" or '\"' in an unquoted element")
			case '\\':
				if j++; j == len(text) {
					return dst, i, syntaxError(e, j, "'\\' at the end")
				}
				escaped = true
				end = j + 1
			default:
				if !isArraySpace(c) {
					end = j + 1
				}
			}
		}
		raw, i = text[i:end], j
		if len(raw) == 0 {
			return dst, i, syntaxError(e, i, "empty unquoted element")
		}
		if !escaped && len(raw) == 4 && raw[0]|0x20 == 'n' && raw[1]|0x20 == 'u' && raw[2]|0x20 == 'l' && raw[3]|0x20 == 'l' {
			return append(dst, "null"...), i, nil
		}
	}
	if !escaped {
		dst, err := appendValue(dst, e.elem, raw, depth+1)
		return dst, i, err
	}
	// Unescape the element into dst's spare room, convert it from there,
	// and move the result over it: no allocation once dst has grown.
	u := len(dst)
	for k := 0; k < len(raw); k++ {
		if raw[k] == '\\' {
			k++
		}
		dst = append(dst, raw[k])
	}
	n := len(dst) - u
	out, err := appendValue(dst, e.elem, dst[u:u+n:u+n], depth+1)
	if err != nil {
		return dst[:u], i, err
	}
	return append(out[:u], out[u+n:]...), i, nil
}

// skipDims returns the index after the dimensions "[lo:hi]...=" at the
// start of text, or -1 if they are malformed.
func skipDims(text []byte) int {
	i := 0
	for i < len(text) && text[i] == '[' {
		i++
		for part := 0; part < 2; part++ {
			if i < len(text) && (text[i] == '-' || text[i] == '+') {
				i++
			}
			if i >= len(text) || !isDigit(text[i]) {
				return -1
			}
			i = skipDigits(text, i)
			if part == 0 {
				if i >= len(text) || text[i] != ':' {
					return -1
				}
				i++
			}
		}
		if i >= len(text) || text[i] != ']' {
			return -1
		}
		i++
	}
	if i == 0 || i >= len(text) || text[i] != '=' {
		return -1
	}
	return i + 1
}

// isArraySpace is array_in's white space (scanner_isspace).
func isArraySpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func skipArraySpace(text []byte, i int) int {
	for i < len(text) && isArraySpace(text[i]) {
		i++
	}
	return i
}
