package pgvalue

// A validator of JSON texts, for json and jsonb values, which are embedded
// as they are: a broken one would break the whole event. It accepts
// exactly what encoding/json.Valid accepts (FuzzValidJSON checks that),
// at several times its speed, without allocating.

// maxJSONDepth is encoding/json's limit on nesting.
const maxJSONDepth = 10000

// strSafe[c] is true for the bytes a JSON string holds as they are: all
// but control characters, '"' and '\\'. Like encoding/json, it does not
// check UTF-8.
var strSafe = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// validJSON reports whether b is one JSON value, with white space around
// it allowed.
func validJSON(b []byte) bool {
	// Bit d of objects: the container at depth d is an object. Documents
	// nested deeper than 256 grow it on the heap.
	var small [4]uint64
	objects := small[:]
	depth := 0
	i := skipJSONSpace(b, 0)
	for {
		// A value starts at i.
		if i >= len(b) {
			return false
		}
		var ok bool
		switch c := b[i]; c {
		case '{', '[':
			if depth == maxJSONDepth {
				return false
			}
			word, bit := depth>>6, uint64(1)<<(depth&63)
			if word == len(objects) {
				objects = append(objects, 0)
			}
			if c == '{' {
				objects[word] |= bit
			} else {
				objects[word] &^= bit
			}
			depth++
			i = skipJSONSpace(b, i+1)
			if i < len(b) && b[i] == c+2 { // '}' is '{'+2, ']' is '['+2: empty
				depth--
				i++
				ok = true
				break
			}
			if c == '{' {
				if i, ok = scanKey(b, i); !ok {
					return false
				}
			}
			continue
		case '"':
			i, ok = scanString(b, i)
		case 't':
			i, ok = scanLiteral(b, i, "true")
		case 'f':
			i, ok = scanLiteral(b, i, "false")
		case 'n':
			i, ok = scanLiteral(b, i, "null")
		default:
			i, ok = scanNumber(b, i)
		}
		if !ok {
			return false
		}
		// After a value: containers close, or a comma starts the next value.
		for {
			i = skipJSONSpace(b, i)
			if depth == 0 {
				return i == len(b)
			}
			if i >= len(b) {
				return false
			}
			d := depth - 1
			object := objects[d>>6]>>(d&63)&1 != 0
			if b[i] == ',' {
				i = skipJSONSpace(b, i+1)
				if object {
					if i, ok = scanKey(b, i); !ok {
						return false
					}
				}
				break
			}
			if (object && b[i] == '}') || (!object && b[i] == ']') {
				depth--
				i++
				continue
			}
			return false
		}
	}
}

func skipJSONSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// scanKey scans an object's key and the colon after it, from i; it
// returns where the member's value starts.
func scanKey(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	i, ok := scanString(b, i)
	if !ok {
		return i, false
	}
	if i = skipJSONSpace(b, i); i >= len(b) || b[i] != ':' {
		return i, false
	}
	return skipJSONSpace(b, i+1), true
}

// scanString scans the string whose quote is at i; it returns the index
// after its closing quote.
func scanString(b []byte, i int) (int, bool) {
	i++
	for {
		for i < len(b) && strSafe[b[i]] {
			i++
		}
		if i >= len(b) {
			return i, false
		}
		switch b[i] {
		case '"':
			return i + 1, true
		case '\\':
			if i+1 >= len(b) {
				return i, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || unhex[b[i+2]]|unhex[b[i+3]]|unhex[b[i+4]]|unhex[b[i+5]] > 0xf {
					return i, false
				}
				i += 6
			default:
				return i, false
			}
		default: // a control character
			return i, false
		}
	}
}

func scanLiteral(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

// scanNumber scans a JSON number from i: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
// It returns the index after it, or where it found a problem.
func scanNumber(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return i, false
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		if i++; i >= len(b) || !isDigit(b[i]) {
			return i, false
		}
		i = skipDigits(b, i)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		if i++; i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return i, false
		}
		i = skipDigits(b, i)
	}
	return i, true
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}
