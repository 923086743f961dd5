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

// put2 writes n (0..99) as two digits at b[0:2].
func put2(b []byte, n uint32) {
	_ = b[1]
	b[0], b[1] = byte('0'+n/10), byte('0'+n%10)
}

// The days since 1970-01-01 of 0001-01-01 and 9999-12-31: the dates the
// fast paths write.
const (
	minISODays = -719162
	maxISODays = 2932896
)

// putISODate writes YYYY-MM-DD at b[0:10] for days in [minISODays,
// maxISODays]. It is types.CivilFromDays (Hinnant's days_from_civil
// inverse) in unsigned 32-bit arithmetic, which that range allows: the
// shifted day number is positive, so the divisions by constants need no
// sign corrections (tested against time.Time over the whole range).
func putISODate(b []byte, days int64) {
	_ = b[9]
	z := uint32(days + 719468) // days since 0000-03-01
	era := z / 146097
	doe := z - era*146097                                  // [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // [0, 399]
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100) // [0, 365], from March 1
	mp := (5*doy + 2) / 153                  // [0, 11], March = 0
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if mp >= 10 {
		m = mp - 9
		y++
	}
	put2(b[0:], y/100)
	put2(b[2:], y%100)
	b[4] = '-'
	put2(b[5:], m)
	b[7] = '-'
	put2(b[8:], d)
}

// appendISODate appends YYYY-MM-DD for years 1..9999; ok is false
// (and dst unchanged) outside them.
func appendISODate(dst []byte, days int64) ([]byte, bool) {
	if days < minISODays || days > maxISODays {
		return dst, false
	}
	var b [10]byte
	putISODate(b[:], days)
	return append(dst, b[:]...), true
}

// appendISOTimestamp appends YYYY-MM-DDTHH:MM:SS[.ffffff] with the
// fraction's trailing zeros dropped, as Postgres' XSD style does; ok is
// false (and dst unchanged) outside years 1..9999.
func appendISOTimestamp(dst []byte, micros int64) ([]byte, bool) {
	days := floorDiv(micros, microsPerDay)
	if days < minISODays || days > maxISODays {
		return dst, false
	}
	var b [26]byte
	putISODate(b[:], days)
	rem := uint64(micros - days*microsPerDay) // [0, microsPerDay)
	secs, frac := uint32(rem/microsPerSecond), uint32(rem%microsPerSecond)
	b[10] = 'T'
	put2(b[11:], secs/3600)
	b[13] = ':'
	put2(b[14:], secs/60%60)
	b[16] = ':'
	put2(b[17:], secs%60)
	n := 19
	if frac != 0 {
		b[19] = '.'
		for i := 25; i >= 20; i-- {
			b[i] = byte('0' + frac%10)
			frac /= 10
		}
		n = 26
		for b[n-1] == '0' {
			n--
		}
	}
	return append(dst, b[:n]...), true
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
