package types

import (
	"math"
	"strconv"
)

// AppendText appends Postgres' text output of v, what psql shows:
// timestamps as '2024-01-02 03:04:05.123456' (timestamptz with '+00', the
// session zone being UTC), intervals as '1 day 02:00:00', doubles as the
// shortest text that reads back to the same value (Postgres 12+), numeric
// with its scale, bytea as '\x0102', booleans as 't'/'f', json as stored.
// A NULL appends nothing: callers check IsNull.
func (v Value) AppendText(dst []byte) []byte {
	if v.IsNull() {
		return dst
	}
	switch v.h.kind {
	case KindBool:
		if v.i != 0 {
			return append(dst, 't')
		}
		return append(dst, 'f')
	case KindInt2, KindInt4, KindInt8:
		return strconv.AppendInt(dst, v.i, 10)
	case KindFloat8:
		return AppendFloat(dst, v.Float())
	case KindNumeric:
		return appendNumeric(dst, v.Decimal())
	case KindText, KindJSON:
		return append(dst, v.Text()...)
	case KindBytea:
		dst = append(dst, `\x`...)
		b := v.Text()
		for i := 0; i < len(b); i++ {
			dst = append(dst, "0123456789abcdef"[b[i]>>4], "0123456789abcdef"[b[i]&15])
		}
		return dst
	case KindTimestamp:
		return appendTimestamp(dst, v.i, false)
	case KindTimestampTZ:
		return appendTimestamp(dst, v.i, true)
	case KindDate:
		switch v.i {
		case DateInfinity:
			return append(dst, "infinity"...)
		case DateNegInfinity:
			return append(dst, "-infinity"...)
		}
		dst, bc := appendDate(dst, v.i)
		if bc {
			dst = append(dst, " BC"...)
		}
		return dst
	case KindInterval:
		months, days, us := v.Interval()
		return appendInterval(dst, months, days, us)
	}
	return dst
}

// String returns the text output of v, or "NULL".
func (v Value) String() string {
	if v.IsNull() {
		return "NULL"
	}
	var buf [32]byte
	return string(v.AppendText(buf[:0]))
}

// AppendFloat appends f as Postgres' float8out does with
// extra_float_digits > 0: the shortest digits that read back exactly, in
// positional form for decimal exponents -4..14 and as d.ddde+XX otherwise.
func AppendFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	case f == 0:
		if math.Signbit(f) {
			return append(dst, "-0"...)
		}
		return append(dst, '0')
	}
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, 64)
	// e is [-]d[.ddd]e[+-]xx
	neg := e[0] == '-'
	if neg {
		e = e[1:]
	}
	var digits [24]byte
	nd := 0
	i := 0
	for ; e[i] != 'e'; i++ {
		if e[i] != '.' {
			digits[nd] = e[i]
			nd++
		}
	}
	exp, _ := strconv.Atoi(string(e[i+1:]))
	if neg {
		dst = append(dst, '-')
	}
	if exp < -4 || exp >= 15 {
		dst = append(dst, digits[0])
		if nd > 1 {
			dst = append(dst, '.')
			dst = append(dst, digits[1:nd]...)
		}
		dst = append(dst, 'e')
		if exp < 0 {
			dst = append(dst, '-')
			exp = -exp
		} else {
			dst = append(dst, '+')
		}
		if exp < 10 {
			dst = append(dst, '0')
		}
		return strconv.AppendInt(dst, int64(exp), 10)
	}
	if exp < 0 {
		dst = append(dst, "0."...)
		for j := -1; j > exp; j-- {
			dst = append(dst, '0')
		}
		return append(dst, digits[:nd]...)
	}
	if nd <= exp+1 {
		dst = append(dst, digits[:nd]...)
		for j := nd; j <= exp; j++ {
			dst = append(dst, '0')
		}
		return dst
	}
	dst = append(dst, digits[:exp+1]...)
	dst = append(dst, '.')
	return append(dst, digits[exp+1:nd]...)
}
