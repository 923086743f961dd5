package format

// Calendar arithmetic for the fast paths of timestamps and dates in the
// proleptic Gregorian calendar, years 1 to 9999. Anything else (BC,
// infinity, unusual spellings) goes through types.ParseText and
// Value.AppendText, which know all of Postgres' rules; tests check the
// fast paths against them.

import "github.com/tide-data/tide/internal/sql/types"

const (
	microsPerSecond = types.MicrosPerSecond
	microsPerDay    = types.MicrosPerDay
	millisPerDay    = 86_400_000
)

func floorDiv(a, b int64) int64 { return types.FloorDiv(a, b) }

func daysIn(year int64, month int) int { return int(types.DaysInMonth(year, int64(month))) }

func append2(dst []byte, n int) []byte {
	return append(dst, byte('0'+n/10), byte('0'+n%10))
}

// appendISODate appends YYYY-MM-DD for years 1..9999; ok is false
// (and dst unchanged) outside them.
func appendISODate(dst []byte, days int64) ([]byte, bool) {
	y, m64, d64 := types.CivilFromDays(days)
	if y < 1 || y > 9999 {
		return dst, false
	}
	yy, m, d := int(y), int(m64), int(d64)
	dst = append2(dst, yy/100)
	dst = append2(dst, yy%100)
	dst = append(dst, '-')
	dst = append2(dst, m)
	dst = append(dst, '-')
	return append2(dst, d), true
}

// appendISOTimestamp appends YYYY-MM-DDTHH:MM:SS[.ffffff] with the
// fraction's trailing zeros dropped, as Postgres' XSD style does.
func appendISOTimestamp(dst []byte, micros int64) ([]byte, bool) {
	days := floorDiv(micros, microsPerDay)
	dst, ok := appendISODate(dst, days)
	if !ok {
		return dst, false
	}
	rem := micros - days*microsPerDay
	secs := int(rem / microsPerSecond)
	frac := int(rem % microsPerSecond)
	dst = append(dst, 'T')
	dst = append2(dst, secs/3600)
	dst = append(dst, ':')
	dst = append2(dst, secs/60%60)
	dst = append(dst, ':')
	dst = append2(dst, secs%60)
	if frac != 0 {
		var digits [7]byte
		digits[0] = '.'
		for i := 6; i >= 1; i-- {
			digits[i] = byte('0' + frac%10)
			frac /= 10
		}
		n := 7
		for digits[n-1] == '0' {
			n--
		}
		dst = append(dst, digits[:n]...)
	}
	return dst, true
}

func digits2(b []byte, i int) (int, bool) {
	c0, c1 := b[i]-'0', b[i+1]-'0'
	if c0 > 9 || c1 > 9 {
		return 0, false
	}
	return int(c0)*10 + int(c1), true
}

// parseISODate reads exactly YYYY-MM-DD (years 1..9999) and returns days
// since 1970-01-01; ok false means "not this spelling, ask ParseText".
func parseISODate(b []byte) (days int64, ok bool) {
	if len(b) < 10 || b[4] != '-' || b[7] != '-' {
		return 0, false
	}
	hi, ok1 := digits2(b, 0)
	lo, ok2 := digits2(b, 2)
	month, ok3 := digits2(b, 5)
	day, ok4 := digits2(b, 8)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return 0, false
	}
	year := int64(hi*100 + lo)
	if year < 1 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) {
		return 0, false
	}
	return types.DaysFromCivil(year, int64(month), int64(day)), true
}

// parseISOTimestamp reads YYYY-MM-DD[T ]HH:MM:SS[.f{1,6}][Z|±HH[[:]MM]]
// with fields in their ordinary ranges, and returns the wall-clock
// microseconds since 1970 and the zone's offset east of UTC in seconds.
// ok false means "not this spelling, ask ParseText".
func parseISOTimestamp(b []byte) (wall int64, offset int64, hasZone, ok bool) {
	if len(b) < 19 || (b[10] != 'T' && b[10] != ' ') || b[13] != ':' || b[16] != ':' {
		return 0, 0, false, false
	}
	days, ok := parseISODate(b[:10])
	if !ok {
		return 0, 0, false, false
	}
	hour, ok1 := digits2(b, 11)
	minute, ok2 := digits2(b, 14)
	sec, ok3 := digits2(b, 17)
	if !ok1 || !ok2 || !ok3 || hour > 23 || minute > 59 || sec > 59 {
		return 0, 0, false, false
	}
	wall = days*microsPerDay + int64(hour*3600+minute*60+sec)*microsPerSecond
	i := 19
	if i < len(b) && b[i] == '.' {
		i++
		start := i
		frac := int64(0)
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			frac = frac*10 + int64(b[i]-'0')
			i++
		}
		n := i - start
		if n == 0 || n > 6 {
			return 0, 0, false, false // Postgres rounds longer fractions: leave it to ParseText
		}
		for ; n < 6; n++ {
			frac *= 10
		}
		wall += frac
	}
	switch {
	case i == len(b):
		return wall, 0, false, true
	case b[i] == 'Z' && i+1 == len(b):
		return wall, 0, true, true
	case b[i] == '+' || b[i] == '-':
		rest := b[i+1:]
		var hh, mm int
		switch {
		case len(rest) == 2:
			hh, ok1 = digits2(rest, 0)
			ok2 = true
		case len(rest) == 4:
			hh, ok1 = digits2(rest, 0)
			mm, ok2 = digits2(rest, 2)
		case len(rest) == 5 && rest[2] == ':':
			hh, ok1 = digits2(rest, 0)
			mm, ok2 = digits2(rest, 3)
		default:
			return 0, 0, false, false
		}
		if !ok1 || !ok2 || hh > 15 || mm > 59 {
			return 0, 0, false, false
		}
		offset = int64(hh*3600 + mm*60)
		if b[i] == '-' {
			offset = -offset
		}
		return wall, offset, true, true
	}
	return 0, 0, false, false
}
