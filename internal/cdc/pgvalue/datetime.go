package pgvalue

import (
	"strconv"

	"github.com/tide-data/tide/internal/sql/types"
)

// Dates and timestamps in Postgres' ISO DateStyle:
//
//	date         YYYY-MM-DD[ BC]
//	timestamp    YYYY-MM-DD HH:MM:SS[.ffffff][ BC]
//	timestamptz  YYYY-MM-DD HH:MM:SS[.ffffff]±hh[:mm[:ss]][ BC]
//
// with a year of 4 digits or more, or "infinity", "-infinity". The shapes
// are checked, so that a connection without DateStyle=ISO fails rather
// than writing another format; what is checked holds no byte JSON must
// escape.

// appendDate appends a date's text as it is, as a string.
func appendDate(dst []byte, e *entry, text []byte) ([]byte, error) {
	if n := scanDate(text); (n > 0 && (n == len(text) || string(text[n:]) == " BC")) || isInfinity(text) {
		return appendQuoted(dst, text), nil
	}
	return dst, syntaxError(e, 0, "not an ISO date (DateStyle=ISO)")
}

// appendTimestamp appends a timestamp's text as a string with the space
// before the time replaced by 'T'; for a timestamptz (tz), in UTC with
// its offset replaced by 'Z'. BC stays a " BC" suffix, as Postgres'
// to_jsonb writes it.
func appendTimestamp(dst []byte, e *entry, text []byte, tz bool) ([]byte, error) {
	if isInfinity(text) {
		return appendQuoted(dst, text), nil
	}
	d := scanDate(text) // the space before the time
	if d == 0 || len(text) < d+9 || text[d] != ' ' || !digits2(text[d+1:]) || text[d+3] != ':' ||
		!digits2(text[d+4:]) || text[d+6] != ':' || !digits2(text[d+7:]) {
		return dst, syntaxError(e, 0, "not an ISO timestamp (DateStyle=ISO)")
	}
	secEnd := d + 9
	end := secEnd // after the fraction of a second
	if end < len(text) && text[end] == '.' {
		if end = skipDigits(text, end+1); end == secEnd+1 {
			return dst, syntaxError(e, end, "no digits after '.'")
		}
	}
	off, offEnd := end, end // the UTC offset
	if tz {
		if off+3 > len(text) || (text[off] != '+' && text[off] != '-') || !digits2(text[off+1:]) {
			return dst, syntaxError(e, off, "no UTC offset")
		}
		offEnd = off + 3
		for k := 0; k < 2 && offEnd+3 <= len(text) && text[offEnd] == ':' && digits2(text[offEnd+1:]); k++ {
			offEnd += 3
		}
	}
	var bc bool
	switch string(text[offEnd:]) {
	case "":
	case " BC":
		bc = true
	default:
		return dst, syntaxError(e, offEnd, "unexpected text after the timestamp")
	}
	dst = append(dst, '"')
	if !tz || zeroOffset(text[off+1:offEnd]) {
		dst = append(dst, text[:d]...)
		dst = append(dst, 'T')
		dst = append(dst, text[d+1:end]...)
		if tz {
			dst = append(dst, 'Z')
		}
	} else {
		dst, bc = appendUTC(dst, text, d, end, off, offEnd, bc)
	}
	if bc {
		dst = append(dst, " BC"...)
	}
	return append(dst, '"'), nil
}

// appendUTC appends the timestamp of text, checked by appendTimestamp, in
// UTC without the " BC" suffix, which it reports: the date before the
// space at d, the time to end, the offset in text[off:offEnd].
func appendUTC(dst, text []byte, d, end, off, offEnd int, bc bool) ([]byte, bool) {
	y := atoi(text[:d-6])
	if bc {
		y = 1 - y // 1 BC is year 0
	}
	offset := 3600 * atoi(text[off+1:off+3])
	if offEnd >= off+6 {
		offset += 60 * atoi(text[off+4:off+6])
	}
	if offEnd >= off+9 {
		offset += atoi(text[off+7 : off+9])
	}
	if text[off] == '-' {
		offset = -offset
	}
	secs := 3600*atoi(text[d+1:d+3]) + 60*atoi(text[d+4:d+6]) + atoi(text[d+7:d+9]) - offset
	days := types.DaysFromCivil(y, atoi(text[d-5:d-3]), atoi(text[d-2:d])) + floorDiv(secs, 86400)
	secs -= floorDiv(secs, 86400) * 86400
	y, m, day := types.CivilFromDays(days)
	if bc = y <= 0; bc {
		y = 1 - y
	}
	for p := int64(1000); p > 1 && y < p; p /= 10 {
		dst = append(dst, '0')
	}
	dst = strconv.AppendInt(dst, y, 10)
	dst = append(dst, '-')
	dst = append2(dst, m)
	dst = append(dst, '-')
	dst = append2(dst, day)
	dst = append(dst, 'T')
	dst = append2(dst, secs/3600)
	dst = append(dst, ':')
	dst = append2(dst, secs/60%60)
	dst = append(dst, ':')
	dst = append2(dst, secs%60)
	dst = append(dst, text[d+9:end]...) // the fraction
	return append(dst, 'Z'), bc
}

// scanDate returns the length of the ISO date at the start of t: a year
// of 4 to 7 digits (Postgres' dates end in 5874897), "-MM-DD"; 0 if there
// is none.
func scanDate(t []byte) int {
	y := 0
	for y < len(t) && y < 8 && isDigit(t[y]) {
		y++
	}
	if y < 4 || y > 7 || len(t) < y+6 || t[y] != '-' || !digits2(t[y+1:]) || t[y+3] != '-' || !digits2(t[y+4:]) {
		return 0
	}
	return y + 6
}

func digits2(b []byte) bool { return len(b) >= 2 && isDigit(b[0]) && isDigit(b[1]) }

// zeroOffset reports whether an offset's digits, "00:00", are all zero.
func zeroOffset(b []byte) bool {
	for _, c := range b {
		if c != '0' && c != ':' {
			return false
		}
	}
	return true
}

// atoi returns the value of b, at most 7 digits.
func atoi(b []byte) int64 {
	var n int64
	for _, c := range b {
		n = 10*n + int64(c-'0')
	}
	return n
}

func append2(dst []byte, n int64) []byte { return append(dst, byte('0'+n/10), byte('0'+n%10)) }

// appendQuoted appends text as a string, which holds nothing to escape.
func appendQuoted(dst, text []byte) []byte {
	dst = append(dst, '"')
	dst = append(dst, text...)
	return append(dst, '"')
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
