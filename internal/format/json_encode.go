package format

import (
	"fmt"
	"math"
	"strconv"

	"github.com/cockroachdb/apd/v3"

	"github.com/tide-data/tide/internal/sql/types"
)

// jsonEncoder writes a row as one JSON object. It is immutable after
// construction: safe for concurrent use.
type jsonEncoder struct {
	cols []Column
	// keys[i] is column i's key with its punctuation, `{"id":` for the
	// first and `,"name":` for the others, escaped once here.
	keys []string
}

var _ Encoder = (*jsonEncoder)(nil)

func newJSONEncoder(cols []Column, _ map[string]string) (Encoder, error) {
	e := &jsonEncoder{cols: cols, keys: make([]string, len(cols))}
	for i, c := range cols {
		var k []byte
		if i == 0 {
			k = append(k, '{')
		} else {
			k = append(k, ',')
		}
		k = appendString(k, c.Name, true)
		e.keys[i] = string(append(k, ':'))
	}
	return e, nil
}

// Encode appends row's values as a JSON object. Each value is written as
// its own kind says (a value need not have exactly its column's type).
func (e *jsonEncoder) Encode(dst []byte, row types.Row) ([]byte, error) {
	if len(row) < len(e.cols) {
		return dst, fmt.Errorf("format json: row has %d values for %d columns", len(row), len(e.cols))
	}
	if len(e.cols) == 0 {
		return append(dst, "{}"...), nil
	}
	for i, key := range e.keys {
		dst = append(dst, key...)
		var err error
		// By pointer: read in place. (Measured when a Value was seven
		// words, whose copies were a fair share of the encoder's time; at
		// four words it would pass in registers.)
		if dst, err = appendJSONValue(dst, &row[i]); err != nil {
			return dst, fmt.Errorf("format json: column %q: %w", e.cols[i].Name, err)
		}
	}
	return append(dst, '}'), nil
}

// appendJSONValue appends v as Postgres' to_json renders it (TimeZone=UTC).
func appendJSONValue(dst []byte, v *types.Value) ([]byte, error) {
	if v.IsNull() {
		return append(dst, "null"...), nil
	}
	switch v.Kind() {
	case types.KindBool:
		if v.Bool() {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case types.KindInt2, types.KindInt4, types.KindInt8:
		return strconv.AppendInt(dst, v.Int(), 10), nil
	case types.KindFloat8:
		return appendJSONFloat(dst, v.Float()), nil
	case types.KindNumeric:
		if v.Decimal().Form != apd.Finite { // NaN, ±Infinity: not JSON numbers
			dst = append(dst, '"')
			dst = v.AppendText(dst)
			return append(dst, '"'), nil
		}
		return v.AppendText(dst), nil
	case types.KindText:
		if s := v.Text(); !needsEscape(s) {
			dst = append(dst, '"')
			dst = append(dst, s...)
			return append(dst, '"'), nil
		}
		return appendString(dst, v.Text(), true), nil
	case types.KindJSON:
		return append(dst, v.Text()...), nil
	case types.KindBytea:
		b := v.Bytes()
		dst = append(dst, `"\\x`...)
		for i := 0; i < len(b); i++ {
			dst = append(dst, hexDigits[b[i]>>4], hexDigits[b[i]&0xf])
		}
		return append(dst, '"'), nil
	case types.KindTimestamp, types.KindTimestampTZ:
		n := len(dst)
		dst = append(dst, '"')
		var ok bool
		if dst, ok = appendISOTimestamp(dst, v.Micros()); ok {
			if v.Kind() == types.KindTimestampTZ {
				dst = append(dst, "+00:00"...)
			}
			return append(dst, '"'), nil
		}
		return appendTextXSD(dst[:n], *v), nil
	case types.KindDate:
		n := len(dst)
		dst = append(dst, '"')
		var ok bool
		if dst, ok = appendISODate(dst, int64(v.Days())); ok {
			return append(dst, '"'), nil
		}
		return appendTextXSD(dst[:n], *v), nil
	case types.KindInterval:
		return appendTextString(dst, *v), nil
	}
	return dst, fmt.Errorf("cannot encode a value of type %s", v.Kind())
}

// appendShortDecimal is appendJSONFloat's fast path for the numbers
// people write (prices, measurements): at most 6 decimals and 15 digits,
// with |f| in [1e-4, 1e9). Then m = round(|f| * 1e6) is exact (< 2^53),
// and if m / 1e6 (one correctly rounded division: what parsing the
// decimal gives) is |f|, the decimal m*10^-6 reads back as f. It is also
// the shortest such decimal, trailing zeros dropped: the decimals that
// read back as f lie within half an ulp of it, less than 0.2 apart once
// scaled by 1e6 (ulp(f) <= f * 2^-52 and f * 1e6 < 1e15), so m is the
// only integer among them and a shorter decimal, scaled, would be m
// too. ok is false, and dst unchanged, for any other f.
func appendShortDecimal(dst []byte, f float64) ([]byte, bool) {
	a := math.Abs(f)
	if !(a >= 1e-4 && a < 1e9) {
		return dst, false
	}
	m := uint64(a*1e6 + 0.5)
	if float64(m)/1e6 != a {
		return dst, false
	}
	frac := 6
	for frac > 0 && m%10 == 0 {
		m /= 10
		frac--
	}
	if f < 0 {
		dst = append(dst, '-')
	}
	if frac == 0 {
		return strconv.AppendUint(dst, m, 10), true
	}
	var buf [24]byte
	digits := strconv.AppendUint(buf[:0], m, 10)
	if len(digits) <= frac { // 0.000123
		dst = append(dst, '0', '.')
		for range frac - len(digits) {
			dst = append(dst, '0')
		}
		return append(dst, digits...), true
	}
	point := len(digits) - frac
	dst = append(dst, digits[:point]...)
	dst = append(dst, '.')
	return append(dst, digits[point:]...), true
}

// appendTextString appends v's Postgres text form as a JSON string.
func appendTextString(dst []byte, v types.Value) []byte {
	var buf [64]byte
	return appendString(dst, v.AppendText(buf[:0]), true)
}

// appendTextXSD is the slow path of dates and timestamps outside years
// 1..9999 (BC, infinity): Postgres' text form with the XSD changes to_json
// makes, 'T' between date and time and a zone of "+00:00" for "+00".
func appendTextXSD(dst []byte, v types.Value) []byte {
	var buf [64]byte
	text := v.AppendText(buf[:0])
	if v.Kind() != types.KindDate {
		for i, c := range text {
			if c == ' ' {
				if i+1 < len(text) && text[i+1] >= '0' && text[i+1] <= '9' {
					text[i] = 'T'
				}
				break
			}
		}
		if v.Kind() == types.KindTimestampTZ {
			// "+00" becomes "+00:00", also before a trailing " BC".
			if i := indexZone(text); i >= 0 && (i+3 == len(text) || text[i+3] == ' ') {
				text = append(text[:i+3:i+3], append([]byte(":00"), text[i+3:]...)...)
			}
		}
	}
	return appendString(dst, text, true)
}

// indexZone finds the "+HH"/"-HH" of a timestamptz's text after its time.
func indexZone(text []byte) int {
	for i := len(text) - 3; i > 10; i-- {
		if (text[i] == '+' || text[i] == '-') && text[i-1] >= '0' && text[i-1] <= '9' {
			return i
		}
	}
	return -1
}

// appendJSONFloat writes f as Postgres' float8out does (shortest digits
// that read back exactly), and NaN and the infinities as strings, as
// to_json does.
func appendJSONFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	}
	// float8out's rule, without its second pass: positional for
	// magnitudes in [1e-4, 1e15), where the shortest digits' exponent lies
	// in [-4, 15), else exponent form (tested against types.AppendFloat).
	if a := math.Abs(f); a == 0 || (a >= 1e-4 && a < 1e15) {
		if a == 0 && math.Signbit(f) {
			return append(dst, "-0"...)
		}
		if out, ok := appendShortDecimal(dst, f); ok {
			return out
		}
		return strconv.AppendFloat(dst, f, 'f', -1, 64)
	}
	return strconv.AppendFloat(dst, f, 'e', -1, 64)
}
