package types

import (
	"github.com/cockroachdb/apd/v3"
)

// NumericMaxScale bounds the scale of a numeric, as Postgres' NUMERIC_MAX_
// DISPLAY_SCALE does.
const NumericMaxScale = 1000

// NumericContext is the apd context numeric arithmetic uses: wide enough
// for Postgres' 131072 digits before the point and 16383 after, and
// trapping what Postgres reports as errors.
var NumericContext = apd.Context{
	Precision:   2000,
	MaxExponent: 131072,
	MinExponent: -16383,
	Traps:       apd.Overflow | apd.InvalidOperation | apd.DivisionByZero,
	Rounding:    apd.RoundHalfUp,
}

// normalizeNumeric gives d Postgres' form: no positive exponent (scale is
// never negative) and no negative zero.
func normalizeNumeric(d *apd.Decimal) (*apd.Decimal, error) {
	if d.Form != apd.Finite {
		return d, nil
	}
	if d.Exponent > 0 {
		if d.Exponent > NumericContext.MaxExponent {
			return nil, ErrNumericRange
		}
		r := new(apd.Decimal)
		if _, err := NumericContext.Quantize(r, d, 0); err != nil {
			return nil, ErrNumericRange
		}
		d = r
	}
	if d.Negative && d.Coeff.Sign() == 0 {
		d.Negative = false
	}
	return d, nil
}

// NumericScale returns the display scale of a finite numeric: the number
// of digits after the point.
func NumericScale(d *apd.Decimal) int32 {
	if d.Exponent >= 0 {
		return 0
	}
	return -d.Exponent
}

// NormalizeNumeric is normalizeNumeric for the expression compiler.
func NormalizeNumeric(d *apd.Decimal) (*apd.Decimal, error) { return normalizeNumeric(d) }

func appendNumeric(dst []byte, d *apd.Decimal) []byte {
	switch d.Form {
	case apd.NaN, apd.NaNSignaling:
		return append(dst, "NaN"...)
	case apd.Infinite:
		if d.Negative {
			return append(dst, "-Infinity"...)
		}
		return append(dst, "Infinity"...)
	}
	if d.Coeff.Sign() == 0 && d.Negative {
		c := *d
		c.Negative = false
		return c.Append(dst, 'f')
	}
	return d.Append(dst, 'f')
}
