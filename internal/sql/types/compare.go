package types

import (
	"math"
	"strings"

	"github.com/cockroachdb/apd/v3"
)

// Compare orders two non-NULL values of the same kind, or of two number
// kinds (integers, numeric and double compare by value, as Postgres'
// cross-type operators do). It returns -1, 0 or +1. Doubles and numerics
// order NaN above every other value and equal to itself, as Postgres
// does; text compares bytewise (the C collation), json as Postgres' jsonb
// (see compareJSONB); intervals
// compare by their span with a month of 30 days; timestamp, timestamptz
// and date compare among themselves (a date is its midnight, UTC).
func Compare(a, b Value) (int, error) {
	if a.IsNull() || b.IsNull() {
		return 0, Errorf(CodeDataException, "cannot compare NULL values")
	}
	ak, bk := a.h.kind, b.h.kind
	if ak == bk {
		switch ak {
		case KindBool, KindInt2, KindInt4, KindInt8, KindTimestamp, KindTimestampTZ, KindDate:
			return cmpInt(a.i, b.i), nil
		case KindFloat8:
			return CompareFloat(a.Float(), b.Float()), nil
		case KindNumeric:
			return CompareDecimal(a.Decimal(), b.Decimal()), nil
		case KindText, KindBytea:
			return strings.Compare(a.Text(), b.Text()), nil
		case KindJSON:
			return compareJSONB(a.Text(), b.Text()), nil
		case KindInterval:
			return CompareInterval(a, b), nil
		}
	}
	if ak.IsNumeric() && bk.IsNumeric() {
		switch {
		case ak.IsInteger() && bk.IsInteger():
			return cmpInt(a.i, b.i), nil
		case ak == KindFloat8 || bk == KindFloat8:
			return CompareFloat(a.asFloat(), b.asFloat()), nil
		default:
			return CompareDecimal(a.asDecimal(), b.asDecimal()), nil
		}
	}
	if isDateTime(ak) && isDateTime(bk) {
		return cmpInt(a.timestampMicros(), b.timestampMicros()), nil
	}
	return 0, Errorf(CodeCannotCoerce, "cannot compare %s with %s", ak, bk)
}

func isDateTime(k Kind) bool { return k == KindTimestamp || k == KindTimestampTZ || k == KindDate }

// timestampMicros returns a timestamp's microseconds or a date's midnight.
func (v Value) timestampMicros() int64 {
	if v.h.kind == KindDate {
		switch v.i {
		case DateInfinity:
			return TimestampInfinity
		case DateNegInfinity:
			return TimestampNegInfinity
		}
		return v.i * MicrosPerDay
	}
	return v.i
}

func (v Value) asFloat() float64 {
	switch v.h.kind {
	case KindFloat8:
		return v.Float()
	case KindNumeric:
		f, _ := DecimalToFloat(v.Decimal())
		return f
	}
	return float64(v.i)
}

func (v Value) asDecimal() *apd.Decimal {
	if v.h.kind == KindNumeric {
		return v.Decimal()
	}
	return apd.New(v.i, 0)
}

// DecimalToFloat converts a numeric to the nearest double.
func DecimalToFloat(d *apd.Decimal) (float64, error) {
	switch d.Form {
	case apd.NaN, apd.NaNSignaling:
		return math.NaN(), nil
	case apd.Infinite:
		if d.Negative {
			return math.Inf(-1), nil
		}
		return math.Inf(1), nil
	}
	return d.Float64()
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// CompareFloat orders doubles as Postgres does: NaN is greater than any
// number and equal to NaN.
func CompareFloat(a, b float64) int {
	an, bn := math.IsNaN(a), math.IsNaN(b)
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// CompareDecimal orders numerics as Postgres does: NaN above +Infinity.
func CompareDecimal(a, b *apd.Decimal) int {
	an := a.Form == apd.NaN || a.Form == apd.NaNSignaling
	bn := b.Form == apd.NaN || b.Form == apd.NaNSignaling
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	}
	return a.Cmp(b)
}

// CompareInterval orders intervals by span, a month counting 30 days.
func CompareInterval(a, b Value) int {
	am, ad, au := a.Interval()
	bm, bd, bu := b.Interval()
	ah, al := IntervalSpan(am, ad, au)
	bh, bl := IntervalSpan(bm, bd, bu)
	switch {
	case ah < bh:
		return -1
	case ah > bh:
		return 1
	case al < bl:
		return -1
	case al > bl:
		return 1
	}
	return 0
}
