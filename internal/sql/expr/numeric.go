package expr

import (
	"math"

	"github.com/cockroachdb/apd/v3"
	"github.com/tide-data/tide/internal/sql/types"
)

// Numeric arithmetic with Postgres' result scales:
//
//	a + b, a - b   max(scale a, scale b)       (exact)
//	a * b          scale a + scale b           (exact)
//	a / b          select_div_scale: at least 16 significant digits, and
//	               no less than either input's scale; rounded half away
//	               from zero
//	a % b          exact remainder, sign of a
//	a ^ b          integral b: scale max(16, scale a); else 16 - the
//	               result's decimal exponent, at least the inputs' scales

const numericMinSigDigits = 16

func isNaN(d *apd.Decimal) bool { return d.Form == apd.NaN || d.Form == apd.NaNSignaling }

func numVal(d *apd.Decimal, err error) (types.Value, error) {
	if err != nil {
		return types.Value{}, err
	}
	d, err = types.NormalizeNumeric(d)
	if err != nil {
		return types.Value{}, err
	}
	return types.NewNumeric(d), nil
}

var numericNaN = &apd.Decimal{Form: apd.NaN}

func numericArithFunc(op string) func(a, b types.Value) (types.Value, error) {
	return func(a, b types.Value) (types.Value, error) {
		return numVal(numericOp(op, a.Decimal(), b.Decimal()))
	}
}

func numericOp(op string, x, y *apd.Decimal) (*apd.Decimal, error) {
	if isNaN(x) || isNaN(y) {
		if op == "^" && ((isNaN(x) && y.IsZero()) || (isNaN(y) && x.Cmp(apd.New(1, 0)) == 0 && !isNaN(x))) {
			return apd.New(1, 0), nil
		}
		return numericNaN, nil
	}
	ctx := types.NumericContext
	r := new(apd.Decimal)
	inf := x.Form == apd.Infinite || y.Form == apd.Infinite
	switch op {
	case "+", "-":
		if inf {
			// apd's IEEE rules match Postgres': inf - inf is NaN.
			c := ctx
			c.Traps = 0
			if op == "+" {
				_, _ = c.Add(r, x, y)
			} else {
				_, _ = c.Sub(r, x, y)
			}
			return r, nil
		}
		var err error
		if op == "+" {
			_, err = ctx.Add(r, x, y)
		} else {
			_, err = ctx.Sub(r, x, y)
		}
		if err != nil {
			return nil, types.ErrNumericRange
		}
		return r, nil
	case "*":
		if inf {
			if x.IsZero() || y.IsZero() {
				return numericNaN, nil
			}
			return &apd.Decimal{Form: apd.Infinite, Negative: x.Negative != y.Negative}, nil
		}
		if _, err := ctx.Mul(r, x, y); err != nil {
			return nil, types.ErrNumericRange
		}
		return r, nil
	case "/":
		if y.IsZero() && y.Form == apd.Finite {
			return nil, types.ErrDivisionByZero
		}
		if inf {
			switch {
			case x.Form == apd.Infinite && y.Form == apd.Infinite:
				return numericNaN, nil
			case x.Form == apd.Infinite:
				return &apd.Decimal{Form: apd.Infinite, Negative: x.Negative != y.Negative}, nil
			default:
				return apd.New(0, 0), nil
			}
		}
		return numericDiv(x, y, divScale(x, y))
	case "%":
		if y.IsZero() && y.Form == apd.Finite {
			return nil, types.ErrDivisionByZero
		}
		if inf {
			if x.Form == apd.Infinite {
				return numericNaN, nil
			}
			return x, nil
		}
		if _, err := ctx.Rem(r, x, y); err != nil {
			return nil, types.ErrNumericRange
		}
		return r, nil
	}
	return numericPower(x, y)
}

// weightAndFirst returns Postgres' base-10000 weight of d's first non-zero
// digit group and that group's value; 0, 0 for zero.
func weightAndFirst(d *apd.Decimal) (int, int) {
	if d.IsZero() || d.Form != apd.Finite {
		return 0, 0
	}
	digits := d.Coeff.String()
	n := len(digits)
	p := n - 1 + int(d.Exponent) // power of ten of the leading digit
	w := int(types.FloorDiv(int64(p), 4))
	k := p - 4*w + 1 // digits of the leading group
	x := 0
	for i := 0; i < k; i++ {
		x *= 10
		if i < n {
			x += int(digits[i] - '0')
		}
	}
	return w, x
}

// divScale is Postgres' select_div_scale.
func divScale(x, y *apd.Decimal) int32 {
	w1, f1 := weightAndFirst(x)
	w2, f2 := weightAndFirst(y)
	qweight := w1 - w2
	if f1 <= f2 {
		qweight--
	}
	rscale := numericMinSigDigits - qweight*4
	rscale = max(rscale, int(types.NumericScale(x)), int(types.NumericScale(y)), 0)
	return int32(min(rscale, types.NumericMaxScale))
}

// numericDiv divides to scale digits after the point, rounding half away
// from zero: the quotient is truncated at a few extra digits first, which
// keeps the final rounding exact.
func numericDiv(x, y *apd.Decimal, scale int32) (*apd.Decimal, error) {
	ctx := types.NumericContext
	ctx.Rounding = apd.RoundDown
	// integer digits of the quotient, generously
	intDigits := int64(x.NumDigits()) + int64(x.Exponent) - int64(y.NumDigits()) - int64(y.Exponent) + 2
	if intDigits < 1 {
		intDigits = 1
	}
	ctx.Precision = uint32(intDigits + int64(scale) + 3)
	q := new(apd.Decimal)
	if _, err := ctx.Quo(q, x, y); err != nil {
		return nil, types.ErrNumericRange
	}
	r := new(apd.Decimal)
	rc := types.NumericContext
	rc.Rounding = apd.RoundHalfUp
	if _, err := rc.Quantize(r, q, -scale); err != nil {
		return nil, types.ErrNumericRange
	}
	return r, nil
}

// roundScale rounds d to scale digits after the point, half away from zero.
func roundScale(d *apd.Decimal, scale int32) (*apd.Decimal, error) {
	r := new(apd.Decimal)
	rc := types.NumericContext
	rc.Rounding = apd.RoundHalfUp
	rc.Precision = uint32(max(int64(d.NumDigits())+int64(d.Exponent)+int64(scale)+2, 1))
	if _, err := rc.Quantize(r, d, -scale); err != nil {
		return nil, types.ErrNumericRange
	}
	return r, nil
}

func numericPower(x, y *apd.Decimal) (*apd.Decimal, error) {
	if x.IsZero() && y.Negative && y.Form == apd.Finite {
		return nil, &types.Error{Code: types.CodeInvalidArgumentForPower, Message: "zero raised to a negative power is undefined"}
	}
	yInt := isIntegral(y)
	// Postgres counts ±Infinity as integral here: (-1) ^ Infinity is 1.
	if x.Negative && !yInt && y.Form != apd.Infinite {
		return nil, &types.Error{Code: types.CodeInvalidArgumentForPower, Message: "a negative number raised to a non-integer power yields a complex result"}
	}
	if x.Form != apd.Finite || y.Form != apd.Finite {
		xf, _ := types.DecimalToFloat(x)
		yf, _ := types.DecimalToFloat(y)
		v, err := floatPower(xf, yf)
		if err != nil {
			return nil, err
		}
		return floatToNumericDecimal(v.Float()), nil
	}
	var rscale int
	if yInt {
		rscale = max(numericMinSigDigits, int(types.NumericScale(x)))
	} else {
		xf, _ := types.DecimalToFloat(x)
		yf, _ := types.DecimalToFloat(y)
		val := yf * math.Log10(math.Abs(xf))
		rscale = numericMinSigDigits - int(val)
		rscale = max(rscale, int(types.NumericScale(x)), int(types.NumericScale(y)))
	}
	rscale = min(max(rscale, 0), types.NumericMaxScale)
	if x.IsZero() {
		if y.IsZero() {
			return roundScale(apd.New(1, 0), int32(rscale))
		}
		return roundScale(apd.New(0, 0), int32(rscale))
	}
	ctx := types.NumericContext
	xf, _ := types.DecimalToFloat(x)
	yf, _ := types.DecimalToFloat(y)
	mag := yf * math.Log10(math.Abs(xf))
	if mag > 131072 {
		return nil, types.ErrNumericRange
	}
	ctx.Precision = uint32(max(int(mag), 0) + rscale + 10)
	r := new(apd.Decimal)
	if _, err := ctx.Pow(r, x, y); err != nil {
		return nil, types.ErrNumericRange
	}
	return roundScale(r, int32(rscale))
}

func isIntegral(d *apd.Decimal) bool {
	if d.Form != apd.Finite {
		return false
	}
	if d.Exponent >= 0 {
		return true
	}
	var frac apd.Decimal
	var integ apd.Decimal
	d.Modf(&integ, &frac)
	return frac.IsZero()
}

func floatToNumericDecimal(f float64) *apd.Decimal {
	v, err := floatToNumeric(f)
	if err != nil {
		return numericNaN
	}
	return v.Decimal()
}
