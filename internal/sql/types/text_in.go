package types

import (
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"
)

// ParseText converts text to a value of kind k with Postgres' input rules,
// as the cast 'text'::k does: surrounding white space is ignored for
// numbers, booleans and date/time kinds; timestamps take ISO 8601, RFC
// 3339 and Postgres' own forms; intervals take Postgres' verbose form,
// its "d hh:mm:ss" form and ISO 8601 durations; bytea takes the \x hex
// form and the escape form; json is validated and stored in jsonb's
// canonical form. The session time zone is UTC: a timestamptz without an
// offset is UTC, and a timestamp without time zone ignores any offset
// given, as Postgres does.
//
// Errors are *Error with Postgres' SQLSTATE and message.
func ParseText(k Kind, s string) (Value, error) {
	switch k {
	case KindText:
		return NewText(s), nil
	case KindBool:
		return parseBool(s)
	case KindInt2, KindInt4, KindInt8:
		return parseInt(k, s)
	case KindFloat8:
		f, err := parseFloat(s)
		if err != nil {
			return Value{}, err
		}
		return NewFloat8(f), nil
	case KindNumeric:
		d, err := ParseNumeric(s)
		if err != nil {
			return Value{}, err
		}
		return NewNumeric(d), nil
	case KindBytea:
		return parseBytea(s)
	case KindTimestamp, KindTimestampTZ:
		us, err := parseTimestamp(s, k == KindTimestampTZ)
		if err != nil {
			return Value{}, err
		}
		return Value{h: head{kind: k}, i: us}, nil
	case KindDate:
		return parseDate(s)
	case KindInterval:
		return ParseInterval(s, "")
	case KindJSON:
		return ParseJSON(s)
	case KindNull:
		return Null(KindNull), nil
	}
	return Value{}, Errorf(CodeFeatureNotSupported, "cannot read type %s from text", k)
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func trimSpace(s string) string {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// parseBool follows Postgres' parse_bool: unique prefixes of true, false,
// yes, no; on and off (at least two letters); 1 and 0.
// parseBool follows Postgres' boolin: any prefix of true/false/yes/no
// (and of off from two letters), on, 1 and 0. The prefix tests are
// deliberately word-first: isPrefixOf(input, word).
func parseBool(s string) (Value, error) {
	t := strings.ToLower(trimSpace(s))
	if t != "" {
		switch {
		case isPrefixOf(t, "true"):
			return NewBool(true), nil
		case isPrefixOf(t, "false"):
			return NewBool(false), nil
		case isPrefixOf(t, "yes"):
			return NewBool(true), nil
		case isPrefixOf(t, "no"):
			return NewBool(false), nil
		case t == "on":
			return NewBool(true), nil
		case len(t) >= 2 && isPrefixOf(t, "off"):
			return NewBool(false), nil
		case t == "1":
			return NewBool(true), nil
		case t == "0":
			return NewBool(false), nil
		}
	}
	return Value{}, syntaxError("boolean", s)
}

func parseInt(k Kind, s string) (Value, error) {
	t := trimSpace(s)
	neg := false
	digits := t
	if len(digits) > 0 && (digits[0] == '+' || digits[0] == '-') {
		neg = digits[0] == '-'
		digits = digits[1:]
	}
	if digits == "" {
		return Value{}, syntaxError(k.String(), s)
	}
	var n uint64
	over := false
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return Value{}, syntaxError(k.String(), s)
		}
		if n > (math.MaxUint64-9)/10 {
			over = true
			continue
		}
		n = n*10 + uint64(c-'0')
	}
	var v int64
	switch {
	case over || (!neg && n > math.MaxInt64) || (neg && n > 1<<63):
		over = true
	case neg:
		v = -int64(n)
	default:
		v = int64(n)
	}
	if over || CheckIntRange(k, v) != nil {
		return Value{}, Errorf(CodeNumericValueOutOfRange, "value %q is out of range for type %s", s, k)
	}
	return NewInt(k, v), nil
}

// parseFloat follows float8in: strtod forms plus NaN and [+-]Infinity/inf,
// case-insensitive; overflow and underflow are errors.
func parseFloat(s string) (float64, error) {
	t := trimSpace(s)
	switch strings.ToLower(t) {
	case "nan":
		return math.NaN(), nil
	case "infinity", "+infinity", "inf", "+inf":
		return math.Inf(1), nil
	case "-infinity", "-inf":
		return math.Inf(-1), nil
	}
	if t == "" || strings.ContainsAny(t, "_iInN") || strings.HasPrefix(t, "0x") || strings.HasPrefix(t, "0X") {
		return 0, syntaxError("double precision", s)
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil {
		var ne *strconv.NumError
		if asNumError(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return 0, Errorf(CodeNumericValueOutOfRange, "%q is out of range for type double precision", t)
		}
		return 0, syntaxError("double precision", s)
	}
	if f == 0 && hasNonZeroDigit(t) {
		return 0, Errorf(CodeNumericValueOutOfRange, "%q is out of range for type double precision", t)
	}
	return f, nil
}

func asNumError(err error, target **strconv.NumError) bool {
	ne, ok := err.(*strconv.NumError) //nolint:errorlint // strconv returns *NumError unwrapped
	if ok {
		*target = ne
	}
	return ok
}

func hasNonZeroDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 'e' || s[i] == 'E' {
			return false
		}
		if s[i] >= '1' && s[i] <= '9' {
			return true
		}
	}
	return false
}

// ParseNumeric parses numeric text: [sign] digits [. digits] [e [sign]
// digits], NaN, [+-]Infinity. The result's scale is the number of digits
// after the point (never negative), as Postgres keeps it.
func ParseNumeric(s string) (*apd.Decimal, error) {
	t := trimSpace(s)
	switch strings.ToLower(t) {
	case "nan":
		return &apd.Decimal{Form: apd.NaN}, nil
	case "infinity", "+infinity", "inf", "+inf":
		return &apd.Decimal{Form: apd.Infinite}, nil
	case "-infinity", "-inf":
		return &apd.Decimal{Form: apd.Infinite, Negative: true}, nil
	}
	if !validNumericText(t) {
		return nil, syntaxError("numeric", s)
	}
	d, _, err := apd.NewFromString(t)
	if err != nil {
		return nil, syntaxError("numeric", s)
	}
	return normalizeNumeric(d)
}

func validNumericText(t string) bool {
	i := 0
	if i < len(t) && (t[i] == '+' || t[i] == '-') {
		i++
	}
	digits := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
		digits++
	}
	if i < len(t) && t[i] == '.' {
		i++
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(t) && (t[i] == 'e' || t[i] == 'E') {
		i++
		if i < len(t) && (t[i] == '+' || t[i] == '-') {
			i++
		}
		exp := 0
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(t)
}

// parseBytea reads the hex form (\x0102, white space between bytes
// allowed) and the escape form (backslash-octal \nnn and \\).
func parseBytea(s string) (Value, error) {
	if strings.HasPrefix(s, `\x`) || strings.HasPrefix(s, `\X`) {
		h := s[2:]
		out := make([]byte, 0, len(h)/2)
		for i := 0; i < len(h); {
			if isSpace(h[i]) {
				i++
				continue
			}
			hi, ok := unhex(h[i])
			if !ok {
				return Value{}, Errorf(CodeInvalidParameterValue, "invalid hexadecimal digit: %q", h[i:i+1])
			}
			if i+1 >= len(h) {
				return Value{}, Errorf(CodeInvalidParameterValue, "invalid hexadecimal data: odd number of digits")
			}
			lo, ok := unhex(h[i+1])
			if !ok {
				return Value{}, Errorf(CodeInvalidParameterValue, "invalid hexadecimal digit: %q", h[i+1:i+2])
			}
			out = append(out, hi<<4|lo)
			i += 2
		}
		return NewBytea(out), nil
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i+1 < len(s) && s[i+1] == '\\' {
			out = append(out, '\\')
			i++
			continue
		}
		if i+3 < len(s) && s[i+1] >= '0' && s[i+1] <= '3' && s[i+2] >= '0' && s[i+2] <= '7' && s[i+3] >= '0' && s[i+3] <= '7' {
			out = append(out, (s[i+1]-'0')<<6|(s[i+2]-'0')<<3|(s[i+3]-'0'))
			i += 3
			continue
		}
		return Value{}, Errorf(CodeInvalidTextRepresentation, "invalid input syntax for type bytea")
	}
	return NewBytea(out), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// isPrefixOf reports whether prefix begins word.
func isPrefixOf(prefix, word string) bool { return strings.HasPrefix(word, prefix) }
