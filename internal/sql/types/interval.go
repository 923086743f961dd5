package types

import (
	"math"
	"strconv"
	"strings"
)

// Interval arithmetic constants, as Postgres has them: a month is 30 days
// when an interval must be collapsed to one number (comparison,
// extract(epoch)), a day is 24 hours.
const (
	DaysPerMonth   = 30
	MonthsPerYear  = 12
	secondsPerYear = 365.25 * 86400
)

// intervalAcc accumulates an interval while it is parsed: each field's
// integer part exactly, its fraction apart (as Postgres reads a field:
// the integer by strtoint, the fraction by strtod), spilled into the
// smaller units as Postgres does, the microseconds of fractions rounded
// at the end. Any overflow is remembered and reported by value.
type intervalAcc struct {
	months, days, micros int64
	frac                 float64 // microseconds from fractions
	overflow             bool
}

// intervalNum is one field's number: its integer part and its fraction
// (of the same sign).
type intervalNum struct {
	whole int64
	frac  float64
}

// parseIntervalNum reads a field's number, [+-]digits[.digits]; an
// exponent form, which Tide has always taken, goes through a float.
func parseIntervalNum(tok string) (intervalNum, bool) {
	if strings.ContainsAny(tok, "eE") {
		v, err := strconv.ParseFloat(tok, 64)
		if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
			return intervalNum{}, false
		}
		return intervalNumOf(v)
	}
	intPart, fracPart, dot := strings.Cut(tok, ".")
	neg := strings.HasPrefix(intPart, "-")
	var n intervalNum
	if digits := strings.TrimLeft(intPart, "+-"); digits != "" {
		w, err := strconv.ParseInt(intPart, 10, 64)
		if err != nil {
			return n, false
		}
		n.whole = w
	} else if !dot || fracPart == "" || len(intPart) > 1 {
		return n, false
	}
	if dot && fracPart != "" {
		f, err := strconv.ParseFloat("0."+fracPart, 64)
		if err != nil || strings.ContainsAny(fracPart, "+-") {
			return n, false
		}
		if neg {
			f = -f
		}
		n.frac = f
	}
	return n, true
}

// intervalNumOf splits a float field (ISO 8601's, an exponent form).
func intervalNumOf(v float64) (intervalNum, bool) {
	whole := math.Trunc(v)
	if whole > math.MaxInt64 || whole < math.MinInt64 {
		return intervalNum{}, false
	}
	return intervalNum{whole: int64(whole), frac: v - whole}, true
}

// addInt adds v*scale to *x, remembering an overflow.
func (a *intervalAcc) addInt(x *int64, v, scale int64) {
	if v == 0 {
		return
	}
	p := v * scale
	if p/scale != v {
		a.overflow = true
		return
	}
	sum := *x + p
	if (p > 0 && sum < *x) || (p < 0 && sum > *x) {
		a.overflow = true
		return
	}
	*x = sum
}

// addMicros adds n units of scale microseconds.
func (a *intervalAcc) addMicros(n intervalNum, scale int64) {
	a.addInt(&a.micros, n.whole, scale)
	a.frac += n.frac * float64(scale)
}

// addDays adds n units of scale days (1, or 7 for weeks); a fraction of a
// day becomes time.
func (a *intervalAcc) addDays(n intervalNum, scale int64) {
	a.addInt(&a.days, n.whole, scale)
	a.addFractDays(n.frac * float64(scale))
}

func (a *intervalAcc) addFractDays(fd float64) {
	wd := math.Trunc(fd)
	a.days += int64(wd) // |wd| < 30 * 1000
	a.frac += (fd - wd) * MicrosPerDay
}

// addMonths adds n months; a fraction of a month is 30 days' share.
func (a *intervalAcc) addMonths(n intervalNum) {
	a.addInt(&a.months, n.whole, 1)
	a.addFractDays(n.frac * DaysPerMonth)
}

// addYears adds n units of scale years; a fraction is rounded to whole
// months (Postgres: rint(fval * MONTHS_PER_YEAR)).
func (a *intervalAcc) addYears(n intervalNum, scale int64) {
	a.addInt(&a.months, n.whole, scale*MonthsPerYear)
	a.addInt(&a.months, int64(math.RoundToEven(n.frac*float64(scale*MonthsPerYear))), 1)
}

// add adds n in unit (a unit word); false for an unknown unit.
func (a *intervalAcc) add(unit string, n intervalNum) bool {
	switch unit {
	case "microsecond", "microseconds", "us", "usec", "usecs", "useconds":
		a.addMicros(n, 1)
	case "millisecond", "milliseconds", "ms", "msec", "msecs", "mseconds":
		a.addMicros(n, 1000)
	case "second", "seconds", "s", "sec", "secs":
		a.addMicros(n, MicrosPerSecond)
	case "minute", "minutes", "m", "min", "mins":
		a.addMicros(n, MicrosPerMinute)
	case "hour", "hours", "h", "hr", "hrs":
		a.addMicros(n, MicrosPerHour)
	case "day", "days", "d":
		a.addDays(n, 1)
	case "week", "weeks", "w":
		a.addDays(n, 7)
	case "month", "months", "mon", "mons":
		a.addMonths(n)
	case "year", "years", "y", "yr", "yrs":
		a.addYears(n, 1)
	case "decade", "decades", "dec", "decs":
		a.addYears(n, 10)
	case "century", "centuries", "c", "cent":
		a.addYears(n, 100)
	case "millennium", "millennia", "millenniums", "mil", "mils":
		a.addYears(n, 1000)
	default:
		return false
	}
	return true
}

func (a *intervalAcc) negate() {
	a.months, a.days, a.micros, a.frac = -a.months, -a.days, -a.micros, -a.frac
}

func (a *intervalAcc) value(s string) (Value, error) {
	us := a.micros
	if r := math.RoundToEven(a.frac); r != 0 {
		if math.Abs(r) >= 9.3e18 {
			a.overflow = true
		} else {
			a.addInt(&us, int64(r), 1)
		}
	}
	if a.overflow || a.months > math.MaxInt32 || a.months < math.MinInt32 || a.days > math.MaxInt32 || a.days < math.MinInt32 {
		return Value{}, Errorf(CodeDatetimeFieldOverflow, "interval field value out of range: %q", s)
	}
	return NewInterval(int32(a.months), int32(a.days), us), nil
}

// ParseInterval reads an interval in Postgres' forms: '1 year 2 mons 3
// days 04:05:06.5', '@ 1 hour ago', '-1 day +02:00', '1.5 hours', '1
// 2:03:04' (days before a time), SQL-standard year-month '1-2', ISO 8601
// 'P1Y2M3DT4H5M6S' and 'PT0.5S'. qualifier is the field qualifier of
// INTERVAL '5' MINUTE ("minute", "day to second", ...; "" for none): a
// bare number is read in the qualifier's last unit (seconds without one),
// and fields below that unit are dropped.
func ParseInterval(s, qualifier string) (Value, error) {
	t := strings.ToLower(trimSpace(s))
	var acc intervalAcc
	var ok bool
	if strings.HasPrefix(t, "p") {
		ok = parseISOInterval(t[1:], &acc)
	} else {
		ok = parsePGInterval(t, lastQualifierUnit(qualifier), strings.EqualFold(qualifier, "minute to second"), &acc)
	}
	if !ok {
		return Value{}, datetimeSyntaxError("interval", s)
	}
	v, err := acc.value(s)
	if err != nil {
		return v, err
	}
	if qualifier != "" {
		v = truncateInterval(v, lastQualifierUnit(qualifier))
	}
	return v, nil
}

func lastQualifierUnit(q string) string {
	q = strings.TrimSpace(strings.ToLower(q))
	if i := strings.LastIndexByte(q, ' '); i >= 0 {
		q = q[i+1:]
	}
	if i := strings.IndexByte(q, '('); i >= 0 {
		q = q[:i]
	}
	if q == "" {
		return "second"
	}
	return q
}

func truncateInterval(v Value, unit string) Value {
	months, days, us := v.Interval()
	switch unit {
	case "year":
		return NewInterval(months/12*12, 0, 0)
	case "month":
		return NewInterval(months, 0, 0)
	case "day":
		return NewInterval(months, days, 0)
	case "hour":
		return NewInterval(months, days, us/MicrosPerHour*MicrosPerHour)
	case "minute":
		return NewInterval(months, days, us/MicrosPerMinute*MicrosPerMinute)
	}
	return v
}

func splitIntervalTokens(t string) []string {
	var toks []string
	i := 0
	for i < len(t) {
		c := t[i]
		switch {
		case isSpace(c) || c == ',':
			i++
		case c == '@' && len(toks) == 0:
			i++
		case (c >= '0' && c <= '9') || c == '.' || c == '+' || c == '-' || c == ':':
			j := i + 1
			// A '-' after a digit continues the token: the year-month '1-2'.
			for j < len(t) && ((t[j] >= '0' && t[j] <= '9') || t[j] == '.' || t[j] == ':' || ((t[j] == 'e') && j+1 < len(t) && t[j+1] >= '0' && t[j+1] <= '9') ||
				(t[j] == '-' && t[j-1] >= '0' && t[j-1] <= '9')) {
				j++
			}
			toks = append(toks, t[i:j])
			i = j
		case c >= 'a' && c <= 'z':
			j := i + 1
			for j < len(t) && t[j] >= 'a' && t[j] <= 'z' {
				j++
			}
			toks = append(toks, t[i:j])
			i = j
		default:
			return nil
		}
	}
	return toks
}

// parsePGInterval reads the fields right to left, as Postgres does: a unit
// word names the number before it; a number without one is in days just
// before an h:m[:s] time or a number of hours ('1 2:03:04' is 1 day
// 02:03:04), in bareUnit when last, and invalid anywhere else ('2 3').
// minSec reads a time 'a:b' as minutes and seconds (MINUTE TO SECOND).
func parsePGInterval(t, bareUnit string, minSec bool, acc *intervalAcc) bool {
	toks := splitIntervalTokens(t)
	ago := len(toks) > 0 && toks[len(toks)-1] == "ago"
	if ago {
		toks = toks[:len(toks)-1]
	}
	if len(toks) == 0 {
		return false
	}
	isWord := func(tok string) bool { return tok[0] >= 'a' && tok[0] <= 'z' }
	next := bareUnit // the unit of a number without a unit word
	for i := len(toks) - 1; i >= 0; i-- {
		tok, unit := toks[i], next
		if isWord(tok) {
			if i == 0 || isWord(toks[i-1]) || strings.IndexByte(toks[i-1], ':') >= 0 {
				return false
			}
			i--
			tok, unit = toks[i], tok
		}
		next = ""
		switch {
		case strings.IndexByte(tok, ':') >= 0:
			if !parseIntervalTime(tok, minSec, acc) {
				return false
			}
			next = "day"
		case strings.IndexByte(tok[1:], '-') >= 0:
			if !parseYearMonth(tok, acc) {
				return false
			}
		default:
			v, ok := parseIntervalNum(tok)
			if !ok || !acc.add(unit, v) {
				return false
			}
			switch unit {
			case "hour", "hours", "h", "hr", "hrs":
				next = "day"
			}
		}
	}
	if ago {
		acc.negate()
	}
	return true
}

// parseYearMonth reads the SQL-standard year-month form [+-]y-m (m < 12);
// the sign applies to both.
func parseYearMonth(tok string, acc *intervalAcc) bool {
	neg := tok[0] == '-'
	if tok[0] == '-' || tok[0] == '+' {
		tok = tok[1:]
	}
	ys, ms, _ := strings.Cut(tok, "-")
	y, err1 := strconv.ParseUint(ys, 10, 31)
	m, err2 := strconv.ParseUint(ms, 10, 31)
	if err1 != nil || err2 != nil || m >= MonthsPerYear {
		return false
	}
	months := int64(y)*MonthsPerYear + int64(m)
	if neg {
		months = -months
	}
	acc.addInt(&acc.months, months, 1)
	return true
}

// parseIntervalTime reads [+-]h:mm[:ss[.frac]], or [+-]m:ss[.frac] when
// minSec is set or the second field has a fraction, as Postgres does.
func parseIntervalTime(tok string, minSec bool, acc *intervalAcc) bool {
	neg := false
	if tok[0] == '+' || tok[0] == '-' {
		neg = tok[0] == '-'
		tok = tok[1:]
	}
	parts := strings.Split(tok, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return false
	}
	if len(parts) == 2 && (minSec || strings.IndexByte(parts[1], '.') >= 0) {
		parts = append([]string{"0"}, parts...)
	}
	h, err1 := strconv.ParseInt(parts[0], 10, 64)
	m, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil || m > 59 || m < 0 || h < 0 {
		return false
	}
	var sec intervalNum
	if len(parts) == 3 {
		if strings.ContainsAny(parts[2], "+-eE") || parts[2] == "" {
			return false
		}
		var ok bool
		if sec, ok = parseIntervalNum(parts[2]); !ok || sec.whole >= 60 {
			return false
		}
	}
	sign := int64(1)
	if neg {
		sign = -1
	}
	acc.addMicros(intervalNum{whole: sign * h}, MicrosPerHour)
	acc.addMicros(intervalNum{whole: sign * m}, MicrosPerMinute)
	acc.addMicros(intervalNum{whole: sign * sec.whole, frac: float64(sign) * sec.frac}, MicrosPerSecond)
	return true
}

func parseISOInterval(t string, acc *intervalAcc) bool {
	if t == "" {
		return false
	}
	inTime := false
	for len(t) > 0 {
		if t[0] == 't' {
			if inTime {
				return false
			}
			inTime = true
			t = t[1:]
			if t == "" {
				return false
			}
			continue
		}
		j := 0
		for j < len(t) && (t[j] == '-' || t[j] == '+' || t[j] == '.' || (t[j] >= '0' && t[j] <= '9')) {
			j++
		}
		if j == 0 || j == len(t) {
			return false
		}
		f, err := strconv.ParseFloat(t[:j], 64)
		if err != nil {
			return false
		}
		v, ok := intervalNumOf(f)
		if !ok {
			return false
		}
		unit := t[j]
		t = t[j+1:]
		switch {
		case !inTime && unit == 'y':
			acc.addYears(v, 1)
		case !inTime && unit == 'm':
			acc.addMonths(v)
		case !inTime && unit == 'w':
			acc.addDays(v, 7)
		case !inTime && unit == 'd':
			acc.addDays(v, 1)
		case inTime && unit == 'h':
			acc.addMicros(v, MicrosPerHour)
		case inTime && unit == 'm':
			acc.addMicros(v, MicrosPerMinute)
		case inTime && unit == 's':
			acc.addMicros(v, MicrosPerSecond)
		default:
			return false
		}
	}
	return true
}

func appendIntervalPart(dst []byte, v int64, unit string, isZero, isBefore *bool) []byte {
	if v == 0 {
		return dst
	}
	if !*isZero {
		dst = append(dst, ' ')
	}
	if *isBefore && v > 0 {
		dst = append(dst, '+')
	}
	dst = strconv.AppendInt(dst, v, 10)
	dst = append(dst, ' ')
	dst = append(dst, unit...)
	if v != 1 {
		dst = append(dst, 's')
	}
	*isBefore = v < 0
	*isZero = false
	return dst
}

// appendInterval writes Postgres' IntervalStyle=postgres output.
func appendInterval(dst []byte, months, days int32, us int64) []byte {
	isZero, isBefore := true, false
	years := int64(months) / 12
	mons := int64(months) % 12
	dst = appendIntervalPart(dst, years, "year", &isZero, &isBefore)
	dst = appendIntervalPart(dst, mons, "mon", &isZero, &isBefore)
	dst = appendIntervalPart(dst, int64(days), "day", &isZero, &isBefore)
	if isZero || us != 0 {
		if !isZero {
			dst = append(dst, ' ')
		}
		var abs uint64
		if us < 0 {
			dst = append(dst, '-')
			abs = uint64(-us)
		} else {
			if isBefore {
				dst = append(dst, '+')
			}
			abs = uint64(us)
		}
		h := abs / MicrosPerHour
		dst = appendPad(dst, int64(h), 2)
		dst = append(dst, ':')
		dst = appendPad(dst, int64(abs/MicrosPerMinute%60), 2)
		dst = append(dst, ':')
		dst = appendPad(dst, int64(abs/MicrosPerSecond%60), 2)
		dst = appendFraction(dst, int64(abs%MicrosPerSecond))
	}
	return dst
}

// IntervalSpan collapses an interval to one comparable number of
// microseconds as 128 bits (hi, lo), counting a month as 30 days, as
// Postgres' interval_cmp does.
func IntervalSpan(months, days int32, us int64) (hi int64, lo uint64) {
	// days total fits in int64 comfortably; days*MicrosPerDay may not.
	totalDays := int64(months)*DaysPerMonth + int64(days)
	// 128-bit: totalDays * MicrosPerDay + us
	h, l := mul64x64(totalDays, MicrosPerDay)
	return add128(h, l, us)
}

func mul64x64(a, b int64) (int64, uint64) {
	neg := (a < 0) != (b < 0)
	ua, ub := uint64(a), uint64(b)
	if a < 0 {
		ua = uint64(-a)
	}
	if b < 0 {
		ub = uint64(-b)
	}
	hi, lo := mulU(ua, ub)
	if neg {
		lo = ^lo + 1
		hi = ^hi
		if lo == 0 {
			hi++
		}
	}
	return int64(hi), lo
}

func mulU(a, b uint64) (uint64, uint64) {
	const mask32 = 1<<32 - 1
	a0, a1 := a&mask32, a>>32
	b0, b1 := b&mask32, b>>32
	w0 := a0 * b0
	t := a1*b0 + w0>>32
	w1 := t & mask32
	w2 := t >> 32
	w1 += a0 * b1
	hi := a1*b1 + w2 + w1>>32
	return hi, a * b
}

func add128(hi int64, lo uint64, v int64) (int64, uint64) {
	nlo := lo + uint64(v)
	carry := int64(0)
	if nlo < lo {
		carry = 1
	}
	ext := int64(0)
	if v < 0 {
		ext = -1
	}
	return hi + ext + carry, nlo
}
