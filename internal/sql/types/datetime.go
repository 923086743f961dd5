package types

import (
	"math"
	"strings"
)

// Special timestamp and date values: Postgres' 'infinity' and '-infinity'.
const (
	TimestampInfinity    = math.MaxInt64
	TimestampNegInfinity = math.MinInt64
	DateInfinity         = math.MaxInt32
	DateNegInfinity      = math.MinInt32
)

// Microsecond units.
const (
	MicrosPerSecond = 1_000_000
	MicrosPerMinute = 60 * MicrosPerSecond
	MicrosPerHour   = 60 * MicrosPerMinute
	MicrosPerDay    = 24 * MicrosPerHour
)

// Range limits, as Postgres has them: 4714-11-24 BC to 294276 AD for
// timestamps (clipped at the top to what int64 microseconds since 1970
// hold), 4714-11-24 BC to 5874897 AD for dates.
const (
	minTimestampMicros = -210866803200000000 // 4714-11-24 00:00:00 BC
	minDateDays        = -2440588            // 4714-11-24 BC
	maxDateDays        = 2145031948          // 5874897-12-31
)

// DaysFromCivil returns days since 1970-01-01 of a proleptic Gregorian
// date; year 0 is 1 BC.
func DaysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// CivilFromDays is the inverse of DaysFromCivil.
func CivilFromDays(z int64) (y, m, d int64) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// FloorDiv divides rounding toward negative infinity.
func FloorDiv(a, b int64) int64 { return floorDiv(a, b) }

// IsLeap reports whether y (0 = 1 BC) is a Gregorian leap year.
func IsLeap(y int64) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// DaysInMonth returns the days of month m of year y.
func DaysInMonth(y, m int64) int64 {
	switch m {
	case 2:
		if IsLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// dtParsed is a date and time read from text.
type dtParsed struct {
	year, month, day     int64
	hour, minute, second int64
	micros               int64
	hasTime              bool
	hasZone              bool
	zoneSeconds          int64 // east of UTC
	special              int   // 0, +1 infinity, -1 -infinity, 2 epoch
}

type dtScanner struct {
	s string
	i int
}

func (sc *dtScanner) digits() (int64, int, bool) {
	start := sc.i
	var n int64
	for sc.i < len(sc.s) && sc.s[sc.i] >= '0' && sc.s[sc.i] <= '9' {
		if sc.i-start < 18 {
			n = n*10 + int64(sc.s[sc.i]-'0')
		}
		sc.i++
	}
	return n, sc.i - start, sc.i > start
}

func (sc *dtScanner) peek() byte {
	if sc.i < len(sc.s) {
		return sc.s[sc.i]
	}
	return 0
}

func (sc *dtScanner) skipSpace() {
	for sc.i < len(sc.s) && isSpace(sc.s[sc.i]) {
		sc.i++
	}
}

// parseDateTime reads [date][T| ][time][zone][ BC|AD]. errSyntax is
// returned as (false, nil); a field out of range as (true, err).
func parseDateTime(s string) (dtParsed, bool, *Error) {
	var p dtParsed
	t := strings.ToLower(trimSpace(s))
	switch t {
	case "infinity", "+infinity":
		p.special = 1
		return p, true, nil
	case "-infinity":
		p.special = -1
		return p, true, nil
	case "epoch":
		p.special = 2
		return p, true, nil
	}
	sc := &dtScanner{s: t}
	y, ny, ok := sc.digits()
	if !ok {
		return p, false, nil
	}
	switch {
	case ny == 8 && (sc.peek() == 0 || sc.peek() == 't' || sc.peek() == ' '):
		p.year, p.month, p.day = y/10000, y/100%100, y%100
	default:
		sep := sc.peek()
		if sep != '-' && sep != '/' && sep != '.' {
			return p, false, nil
		}
		sc.i++
		m, _, ok := sc.digits()
		if !ok || sc.peek() != sep {
			return p, false, nil
		}
		sc.i++
		d, nd, ok := sc.digits()
		if !ok {
			return p, false, nil
		}
		p.year, p.month, p.day = y, m, d
		if ny <= 2 && nd >= 3 {
			// A year last after two short fields is month/day/year, as
			// Postgres reads it with DateStyle MDY ('01/02/2024').
			p.year, p.month, p.day = d, y, m
		}
	}
	// time
	save := sc.i
	if c := sc.peek(); c == 't' {
		sc.i++
	} else {
		sc.skipSpace()
	}
	if c := sc.peek(); c >= '0' && c <= '9' {
		h, _, _ := sc.digits()
		if sc.peek() != ':' {
			return p, false, nil
		}
		sc.i++
		mi, _, ok := sc.digits()
		if !ok {
			return p, false, nil
		}
		p.hour, p.minute, p.hasTime = h, mi, true
		if sc.peek() == ':' {
			sc.i++
			se, _, ok := sc.digits()
			if !ok {
				return p, false, nil
			}
			p.second = se
			if sc.peek() == '.' {
				sc.i++
				start := sc.i
				var frac, scale int64 = 0, 1
				nd := 0
				for sc.i < len(sc.s) && sc.s[sc.i] >= '0' && sc.s[sc.i] <= '9' {
					if nd < 7 {
						frac = frac*10 + int64(sc.s[sc.i]-'0')
						scale *= 10
						nd++
					}
					sc.i++
				}
				_ = start
				// Round to microseconds (half to even, as rint does).
				us := frac * 1_000_000 / scale
				if rem := frac*1_000_000 - us*scale; rem*2 > scale || (rem*2 == scale && us%2 == 1) {
					us++
				}
				p.micros = us
			}
		}
	} else {
		sc.i = save
	}
	// zone
	sc.skipSpace()
	switch c := sc.peek(); {
	case c == 'z':
		sc.i++
		p.hasZone = true
	case strings.HasPrefix(t[sc.i:], "utc") || strings.HasPrefix(t[sc.i:], "gmt"):
		sc.i += 3
		p.hasZone = true
	case c == '+' || c == '-':
		sc.i++
		sign := int64(1)
		if c == '-' {
			sign = -1
		}
		h, nh, ok := sc.digits()
		if !ok {
			return p, false, nil
		}
		var m, sec int64
		if nh == 4 {
			h, m = h/100, h%100
		} else if nh > 2 {
			return p, false, nil
		}
		if sc.peek() == ':' {
			sc.i++
			if m, _, ok = sc.digits(); !ok {
				return p, false, nil
			}
			if sc.peek() == ':' {
				sc.i++
				if sec, _, ok = sc.digits(); !ok {
					return p, false, nil
				}
			}
		}
		if h > 15 || m > 59 || sec > 59 {
			return p, true, Errorf(CodeInvalidDatetimeFormat, "time zone displacement out of range: %q", s)
		}
		p.hasZone = true
		p.zoneSeconds = sign * (h*3600 + m*60 + sec)
	}
	sc.skipSpace()
	if p.year == 0 { // no year 0 in AD/BC notation, as Postgres' ValidateDate
		return p, true, Errorf(CodeDatetimeFieldOverflow, "date/time field value out of range: %q", s)
	}
	if strings.HasPrefix(t[sc.i:], "bc") {
		sc.i += 2
		p.year = 1 - p.year
	} else if strings.HasPrefix(t[sc.i:], "ad") {
		sc.i += 2
	}
	sc.skipSpace()
	if sc.i != len(t) {
		return p, false, nil
	}
	if p.month < 1 || p.month > 12 || p.day < 1 || p.day > DaysInMonth(p.year, p.month) ||
		p.hour > 24 || p.minute > 59 || p.second > 60 ||
		(p.hour == 24 && (p.minute != 0 || p.second != 0 || p.micros != 0)) {
		return p, true, Errorf(CodeDatetimeFieldOverflow, "date/time field value out of range: %q", s)
	}
	return p, true, nil
}

func timestampTypeName(tz bool) string {
	if tz {
		return "timestamp with time zone"
	}
	return "timestamp"
}

func parseTimestamp(s string, tz bool) (int64, error) {
	p, ok, err := parseDateTime(s)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, datetimeSyntaxError(timestampTypeName(tz), s)
	}
	switch p.special {
	case 1:
		return TimestampInfinity, nil
	case -1:
		return TimestampNegInfinity, nil
	case 2:
		return 0, nil
	}
	if p.year < -4713 || p.year > 294276 {
		return 0, Errorf(CodeDatetimeFieldOverflow, "timestamp out of range: %q", s)
	}
	days := DaysFromCivil(p.year, p.month, p.day)
	us := days*MicrosPerDay + p.hour*MicrosPerHour + p.minute*MicrosPerMinute + p.second*MicrosPerSecond + p.micros
	if tz {
		us -= p.zoneSeconds * MicrosPerSecond
	}
	if us < minTimestampMicros || us >= TimestampInfinity-MicrosPerDay {
		return 0, Errorf(CodeDatetimeFieldOverflow, "timestamp out of range: %q", s)
	}
	return us, nil
}

func parseDate(s string) (Value, error) {
	p, ok, err := parseDateTime(s)
	if err != nil {
		return Value{}, err
	}
	if !ok {
		return Value{}, datetimeSyntaxError("date", s)
	}
	switch p.special {
	case 1:
		return NewDate(DateInfinity), nil
	case -1:
		return NewDate(DateNegInfinity), nil
	case 2:
		return NewDate(0), nil
	}
	days := DaysFromCivil(p.year, p.month, p.day)
	if days < minDateDays || days > maxDateDays {
		return Value{}, Errorf(CodeDatetimeFieldOverflow, "date out of range: %q", s)
	}
	return NewDate(int32(days)), nil
}

// CheckTimestamp returns ErrTimestampRange if us lies outside the range
// of timestamps (infinities excluded).
func CheckTimestamp(us int64) error {
	if us < minTimestampMicros || us >= TimestampInfinity-MicrosPerDay {
		return ErrTimestampRange
	}
	return nil
}

// CheckDate returns ErrDateRange if days lies outside the range of dates.
func CheckDate(days int64) error {
	if days < minDateDays || days > maxDateDays {
		return ErrDateRange
	}
	return nil
}

func appendPad(dst []byte, n int64, width int) []byte {
	var buf [20]byte
	i := len(buf)
	if n == 0 {
		i--
		buf[i] = '0'
	}
	for n > 0 {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	for len(buf)-i < width {
		i--
		buf[i] = '0'
	}
	return append(dst, buf[i:]...)
}

func appendDate(dst []byte, days int64) ([]byte, bool) {
	y, m, d := CivilFromDays(days)
	bc := y <= 0
	if bc {
		y = 1 - y
	}
	dst = appendPad(dst, y, 4)
	dst = append(dst, '-')
	dst = appendPad(dst, m, 2)
	dst = append(dst, '-')
	dst = appendPad(dst, d, 2)
	return dst, bc
}

// appendFraction appends .ffffff without trailing zeros, or nothing.
func appendFraction(dst []byte, us int64) []byte {
	if us == 0 {
		return dst
	}
	dst = append(dst, '.')
	w := 6
	for us%10 == 0 {
		us /= 10
		w--
	}
	return appendPad(dst, us, w)
}

func appendTimestamp(dst []byte, us int64, tz bool) []byte {
	switch us {
	case TimestampInfinity:
		return append(dst, "infinity"...)
	case TimestampNegInfinity:
		return append(dst, "-infinity"...)
	}
	days := floorDiv(us, MicrosPerDay)
	tod := us - days*MicrosPerDay
	dst, bc := appendDate(dst, days)
	dst = append(dst, ' ')
	dst = appendPad(dst, tod/MicrosPerHour, 2)
	dst = append(dst, ':')
	dst = appendPad(dst, tod/MicrosPerMinute%60, 2)
	dst = append(dst, ':')
	dst = appendPad(dst, tod/MicrosPerSecond%60, 2)
	dst = appendFraction(dst, tod%MicrosPerSecond)
	if tz {
		dst = append(dst, "+00"...)
	}
	if bc {
		dst = append(dst, " BC"...)
	}
	return dst
}
