package expr

import (
	"math"

	"github.com/cockroachdb/apd/v3"
	"github.com/tide-data/tide/internal/sql/types"
)

func f1(f func(float64) (float64, error)) overload {
	return overload{args: k(tFloat), ret: tFloat, fn1: func(a types.Value) (types.Value, error) {
		r, err := f(a.Float())
		if err != nil {
			return types.Value{}, err
		}
		return types.NewFloat8(r), nil
	}}
}

func pure(f func(float64) float64) func(float64) (float64, error) {
	return func(x float64) (float64, error) { return f(x), nil }
}

func n1(f func(d *apd.Decimal) (*apd.Decimal, error)) overload {
	return overload{args: k(tNum), ret: tNum, fn1: func(a types.Value) (types.Value, error) { return numVal(f(a.Decimal())) }}
}

func errLog(x float64) error {
	if x == 0 {
		return &types.Error{Code: types.CodeInvalidArgumentForLog, Message: "cannot take logarithm of zero"}
	}
	return &types.Error{Code: types.CodeInvalidArgumentForLog, Message: "cannot take logarithm of a negative number"}
}

func numericRound(d *apd.Decimal, scale int64, mode apd.Rounder) (*apd.Decimal, error) {
	if d.Form != apd.Finite {
		return d, nil
	}
	scale = min(max(scale, -1000), 1000)
	if !d.IsZero() && int64(d.NumDigits())+int64(d.Exponent)+scale < 0 {
		// Quantize zeroes a value lying wholly below the rounding position
		// whatever the mode; one digit just below it rounds the same way in
		// every mode (ceil(0.01) = 1, floor(-0.01) = -1).
		d = &apd.Decimal{Negative: d.Negative, Coeff: *apd.NewBigInt(1), Exponent: int32(-scale - 1)}
	}
	r := new(apd.Decimal)
	ctx := types.NumericContext
	ctx.Rounding = mode
	ctx.Precision = uint32(max(int64(d.NumDigits())+int64(d.Exponent)+scale+2, 1))
	if _, err := ctx.Quantize(r, d, -int32(scale)); err != nil {
		return nil, types.ErrNumericRange
	}
	if scale < 0 {
		// Postgres keeps scale 0 for negative rounding positions.
		if _, err := types.NumericContext.Quantize(r, r, 0); err != nil {
			return nil, types.ErrNumericRange
		}
	}
	return r, nil
}

// numericTranscendental computes f in float precision-independent apd
// arithmetic, rounded to 16 significant digits at least, as Postgres'
// ln/log/exp pick their result scale.
func numericTranscendental(d *apd.Decimal, resultMag float64, f func(ctx *apd.Context, r, x *apd.Decimal) error) (*apd.Decimal, error) {
	dweight := 0
	if resultMag != 0 && !math.IsInf(resultMag, 0) && !math.IsNaN(resultMag) {
		dweight = int(math.Log10(math.Abs(resultMag))) // truncation, as Postgres' (int) cast
	}
	return numericTranscendentalAt(d, dweight, f)
}

// numericTranscendentalAt is numericTranscendental for a result of
// decimal weight dweight.
func numericTranscendentalAt(d *apd.Decimal, dweight int, f func(ctx *apd.Context, r, x *apd.Decimal) error) (*apd.Decimal, error) {
	rscale := numericMinSigDigits - dweight
	rscale = min(max(rscale, int(types.NumericScale(d)), 0), types.NumericMaxScale)
	ctx := types.NumericContext
	ctx.Precision = uint32(max(dweight, 0) + rscale + 10)
	r := new(apd.Decimal)
	if err := f(&ctx, r, d); err != nil {
		return nil, types.ErrNumericRange
	}
	return roundScale(r, int32(rscale))
}

func init() {
	register("abs",
		overload{args: k(tInt2), ret: tInt2, fn1: absInt(tInt2)},
		overload{args: k(tInt4), ret: tInt4, fn1: absInt(tInt4)},
		overload{args: k(tInt8), ret: tInt8, fn1: absInt(tInt8)},
		f1(pure(math.Abs)),
		n1(func(d *apd.Decimal) (*apd.Decimal, error) { r := new(apd.Decimal); r.Abs(d); return r, nil }))
	ceil := []overload{f1(pure(math.Ceil)), n1(func(d *apd.Decimal) (*apd.Decimal, error) { return numericRound(d, 0, apd.RoundCeiling) })}
	register("ceil", ceil...)
	register("ceiling", ceil...)
	register("floor", f1(pure(math.Floor)), n1(func(d *apd.Decimal) (*apd.Decimal, error) { return numericRound(d, 0, apd.RoundFloor) }))
	register("round",
		f1(pure(math.RoundToEven)),
		n1(func(d *apd.Decimal) (*apd.Decimal, error) { return numericRound(d, 0, apd.RoundHalfUp) }),
		overload{args: k(tNum, tInt4), ret: tNum, fn2: func(a, b types.Value) (types.Value, error) {
			return numVal(numericRound(a.Decimal(), b.Int(), apd.RoundHalfUp))
		}})
	register("trunc",
		f1(pure(math.Trunc)),
		n1(func(d *apd.Decimal) (*apd.Decimal, error) { return numericRound(d, 0, apd.RoundDown) }),
		overload{args: k(tNum, tInt4), ret: tNum, fn2: func(a, b types.Value) (types.Value, error) {
			return numVal(numericRound(a.Decimal(), b.Int(), apd.RoundDown))
		}})
	register("sqrt", f1(func(x float64) (float64, error) {
		if x < 0 {
			return 0, &types.Error{Code: types.CodeInvalidArgumentForPower, Message: "cannot take square root of a negative number"}
		}
		return math.Sqrt(x), nil
	}), n1(numericSqrt))
	register("cbrt", f1(pure(math.Cbrt)))
	pow := []overload{
		{args: k(tFloat, tFloat), ret: tFloat, fn2: func(a, b types.Value) (types.Value, error) { return floatPower(a.Float(), b.Float()) }},
		{args: k(tNum, tNum), ret: tNum, fn2: func(a, b types.Value) (types.Value, error) {
			return numVal(numericPower(a.Decimal(), b.Decimal()))
		}},
	}
	register("power", pow...)
	register("pow", pow...)
	register("exp", f1(func(x float64) (float64, error) {
		r := math.Exp(x)
		if math.IsInf(r, 0) && !math.IsInf(x, 0) {
			return 0, types.ErrFloatRange
		}
		if r == 0 && !math.IsInf(x, 0) {
			return 0, types.ErrFloatUnderflow
		}
		return r, nil
	}), n1(func(d *apd.Decimal) (*apd.Decimal, error) {
		switch {
		case d.Form == apd.Infinite && d.Negative:
			return apd.New(0, 0), nil // exp(-Infinity) = 0, per POSIX
		case d.Form != apd.Finite:
			return d, nil
		}
		x, _ := types.DecimalToFloat(d)
		exp := func(ctx *apd.Context, r, x *apd.Decimal) error { _, err := ctx.Exp(r, x); return err }
		// As Postgres' exp_var: beyond |x| = 6000 the result overflows, or
		// is zero at the result scale.
		if math.Abs(x) >= 6000 {
			if x > 0 {
				return nil, types.ErrNumericRange
			}
			exp = func(_ *apd.Context, r, _ *apd.Decimal) error { r.SetInt64(0); return nil }
		}
		// The result's decimal weight is x·log10(e), as Postgres estimates
		// it; a float exp() would overflow or underflow beyond |x| ~ 709.
		return numericTranscendentalAt(d, int(x*0.434294481903252), exp)
	}))
	lnF := func(x float64) (float64, error) {
		if x <= 0 {
			return 0, errLog(x)
		}
		return math.Log(x), nil
	}
	register("ln", f1(lnF), n1(func(d *apd.Decimal) (*apd.Decimal, error) {
		x, _ := types.DecimalToFloat(d)
		if x <= 0 || d.Negative || d.IsZero() {
			return nil, errLog(x)
		}
		if d.Form != apd.Finite {
			return d, nil
		}
		return numericTranscendental(d, math.Log(x), func(ctx *apd.Context, r, x *apd.Decimal) error { _, err := ctx.Ln(r, x); return err })
	}))
	// log(x) and log10(x) are one function, with double and numeric
	// overloads, as in Postgres.
	log10 := []overload{
		f1(func(x float64) (float64, error) {
			if x <= 0 {
				return 0, errLog(x)
			}
			return math.Log10(x), nil
		}),
		n1(func(d *apd.Decimal) (*apd.Decimal, error) {
			x, _ := types.DecimalToFloat(d)
			if x <= 0 || d.Negative || d.IsZero() {
				return nil, errLog(x)
			}
			if d.Form != apd.Finite {
				return d, nil
			}
			return numericTranscendental(d, math.Log10(x), func(ctx *apd.Context, r, x *apd.Decimal) error { _, err := ctx.Log10(r, x); return err })
		}),
	}
	register("log", log10...)
	register("log",
		overload{args: k(tNum, tNum), ret: tNum, fn2: func(bv, xv types.Value) (types.Value, error) {
			b, x := bv.Decimal(), xv.Decimal()
			bf, _ := types.DecimalToFloat(b)
			xf, _ := types.DecimalToFloat(x)
			if bf <= 0 || xf <= 0 {
				return types.Value{}, errLog(math.Min(bf, xf))
			}
			if bf == 1 {
				return types.Value{}, types.ErrDivisionByZero
			}
			res := math.Log(xf) / math.Log(bf)
			dw := 0
			if res != 0 {
				dw = int(math.Log10(math.Abs(math.Log(xf)))) - int(math.Log10(math.Abs(math.Log(bf))))
			}
			rscale := min(max(numericMinSigDigits-dw, int(types.NumericScale(b)), int(types.NumericScale(x)), 0), types.NumericMaxScale)
			ctx := types.NumericContext
			ctx.Precision = uint32(rscale + 30)
			lx, lb, q := new(apd.Decimal), new(apd.Decimal), new(apd.Decimal)
			if _, err := ctx.Ln(lx, x); err != nil {
				return types.Value{}, types.ErrNumericRange
			}
			if _, err := ctx.Ln(lb, b); err != nil {
				return types.Value{}, types.ErrNumericRange
			}
			if _, err := ctx.Quo(q, lx, lb); err != nil {
				return types.Value{}, types.ErrNumericRange
			}
			return numVal(roundScale(q, int32(rscale)))
		}})
	register("log10", log10...)
	register("mod",
		overload{args: k(tInt2, tInt2), ret: tInt2, fn2: func(a, b types.Value) (types.Value, error) { return intArithFunc("%", tInt2)(a, b) }},
		overload{args: k(tInt4, tInt4), ret: tInt4, fn2: func(a, b types.Value) (types.Value, error) { return intArithFunc("%", tInt4)(a, b) }},
		overload{args: k(tInt8, tInt8), ret: tInt8, fn2: func(a, b types.Value) (types.Value, error) { return intArithFunc("%", tInt8)(a, b) }},
		overload{args: k(tNum, tNum), ret: tNum, fn2: func(a, b types.Value) (types.Value, error) { return numericArithFunc("%")(a, b) }})
	register("sign",
		f1(func(x float64) (float64, error) {
			switch {
			case x > 0:
				return 1, nil
			case x < 0:
				return -1, nil
			}
			return 0, nil // also for -0 and NaN, as Postgres' dsign
		}),
		n1(func(d *apd.Decimal) (*apd.Decimal, error) {
			if isNaN(d) {
				return d, nil
			}
			if d.IsZero() {
				return apd.New(0, 0), nil
			}
			if d.Negative {
				return apd.New(-1, 0), nil
			}
			return apd.New(1, 0), nil
		}))
	register("pi", overload{ret: tFloat, fn: func([]types.Value) (types.Value, error) { return types.NewFloat8(math.Pi), nil }})
	register("degrees", f1(pure(func(x float64) float64 { return x * (180 / math.Pi) })))
	register("radians", f1(pure(func(x float64) float64 { return x * (math.Pi / 180) })))
	trig := func(f func(float64) float64, domain func(float64) bool) overload {
		return f1(func(x float64) (float64, error) {
			if domain != nil && !domain(x) || math.IsInf(x, 0) {
				return 0, &types.Error{Code: types.CodeNumericValueOutOfRange, Message: "input is out of range"}
			}
			return f(x), nil
		})
	}
	unit := func(x float64) bool { return x >= -1 && x <= 1 || math.IsNaN(x) }
	register("sin", trig(math.Sin, nil))
	register("cos", trig(math.Cos, nil))
	register("tan", trig(math.Tan, nil))
	register("asin", trig(math.Asin, unit))
	register("acos", trig(math.Acos, unit))
	register("atan", f1(pure(math.Atan)))
	register("atan2", overload{args: k(tFloat, tFloat), ret: tFloat, fn2: func(a, b types.Value) (types.Value, error) {
		return types.NewFloat8(math.Atan2(a.Float(), b.Float())), nil
	}})
}

func absInt(kind types.Kind) func(a types.Value) (types.Value, error) {
	return func(a types.Value) (types.Value, error) {
		n := a.Int()
		if n < 0 {
			n = -n
		}
		if n < 0 || types.CheckIntRange(kind, n) != nil {
			return types.Value{}, types.RangeError(kind)
		}
		return types.NewInt(kind, n), nil
	}
}

// numericSqrt uses Postgres' result scale: 16 significant digits, no less
// than the input's scale.
func numericSqrt(d *apd.Decimal) (*apd.Decimal, error) {
	if d.Negative && !d.IsZero() {
		return nil, &types.Error{Code: types.CodeInvalidArgumentForPower, Message: "cannot take square root of a negative number"}
	}
	if d.Form != apd.Finite {
		return d, nil
	}
	w, _ := weightAndFirst(d)
	sweight := (w+1)*4/2 - 1
	rscale := min(max(numericMinSigDigits-sweight, int(types.NumericScale(d)), 0), types.NumericMaxScale)
	ctx := types.NumericContext
	ctx.Precision = uint32(max(sweight, 0) + rscale + 10)
	ctx.Rounding = apd.RoundDown
	r := new(apd.Decimal)
	if _, err := ctx.Sqrt(r, d); err != nil {
		return nil, types.ErrNumericRange
	}
	return roundScale(r, int32(rscale))
}
