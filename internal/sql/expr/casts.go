package expr

import (
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"
	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/types"
)

// typmod is a type modifier: numeric(p,s) or varchar(n)/char(n).
type typmod struct {
	precision, scale int // numeric; precision 0: none
	length           int // character types; 0: none
}

// castFunc converts a non-NULL value.
type castFunc func(types.Value) (types.Value, error)

func (c *compiler) cast(x *ast.Cast) (*node, error) {
	n, err := c.compile(x.X)
	if err != nil {
		return nil, err
	}
	k, err := types.KindFromName(x.Type.Name)
	if err != nil {
		return nil, wrapValueError(x.Type.Pos, err)
	}
	if x.Type.Array {
		return nil, errorf(x.Type.Pos, codeFeature, "arrays are not supported")
	}
	tm, err := parseTypmod(x.Type, k)
	if err != nil {
		return nil, err
	}
	if n.unknown && !x.TryCast {
		// 'literal'::type reads the literal as the type, at compile time.
		m, err := c.coerce(n, k)
		if err != nil {
			return nil, err
		}
		if tm == (typmod{}) {
			return m, nil
		}
		n = m
	}
	out, err := c.castNode(n, k, tm, x.TryCast)
	if err != nil {
		return nil, err
	}
	out.pos = x.Pos
	return out, nil
}

func parseTypmod(t ast.TypeName, k types.Kind) (typmod, error) {
	var tm typmod
	if len(t.Args) == 0 {
		return tm, nil
	}
	switch k {
	case types.KindNumeric:
		if len(t.Args) > 2 || t.Args[0] < 1 || t.Args[0] > 1000 {
			return tm, errorf(t.Pos, codeSyntaxError, "NUMERIC precision %d must be between 1 and 1000", t.Args[0])
		}
		tm.precision = t.Args[0]
		if len(t.Args) == 2 {
			tm.scale = t.Args[1]
			if tm.scale < 0 || tm.scale > tm.precision {
				return tm, errorf(t.Pos, codeSyntaxError, "NUMERIC scale %d must be between 0 and precision %d", tm.scale, tm.precision)
			}
		}
	case types.KindText:
		if t.Args[0] < 1 {
			return tm, errorf(t.Pos, codeSyntaxError, "length for type %s must be at least 1", t.Name)
		}
		tm.length = t.Args[0]
	}
	return tm, nil
}

// castNode wraps n in an explicit (or, from coerce, implicit) cast to k.
func (c *compiler) castNode(n *node, k types.Kind, tm typmod, try bool) (*node, error) {
	from := n.typ
	if n.unknown {
		from = types.KindText
	}
	var f castFunc
	if from == types.KindNull {
		return nullNode(k, n.pos), nil
	}
	if from != k {
		f = castFor(from, k)
		if f == nil {
			return nil, errorf(n.pos, codeCannotCoerce, "cannot cast type %s to %s", from, k)
		}
	}
	if tm != (typmod{}) {
		g := typmodFunc(k, tm)
		if f == nil {
			f = g
		} else {
			f0 := f
			f = func(v types.Value) (types.Value, error) {
				v, err := f0(v)
				if err != nil {
					return v, err
				}
				return g(v)
			}
		}
	}
	if f == nil {
		return n, nil
	}
	arg := n.fn
	fn := func(row types.Row) (types.Value, error) {
		v, err := arg(row)
		if err != nil {
			return v, err
		}
		if v.IsNull() {
			return types.Null(k), nil
		}
		return f(v)
	}
	if try {
		inner := fn
		fn = func(row types.Row) (types.Value, error) {
			v, err := inner(row)
			if err != nil {
				// TRY_CAST hides conversion errors only; errors of the
				// operand itself are hidden too, as there is no way to tell
				// them apart once raised (documented).
				return types.Null(k), nil //nolint:nilerr // TRY_CAST turns a failed conversion into NULL
			}
			return v, nil
		}
	}
	return c.newNode(k, n.pos, fn, n), nil
}

func typmodFunc(k types.Kind, tm typmod) castFunc {
	switch k {
	case types.KindNumeric:
		return func(v types.Value) (types.Value, error) { return applyNumericTypmod(v, tm) }
	case types.KindText:
		return func(v types.Value) (types.Value, error) {
			s := v.Text()
			if utf8.RuneCountInString(s) <= tm.length {
				return v, nil
			}
			n := 0
			for i := range s {
				if n == tm.length {
					return types.NewText(s[:i]), nil
				}
				n++
			}
			return v, nil
		}
	}
	return func(v types.Value) (types.Value, error) { return v, nil }
}

func applyNumericTypmod(v types.Value, tm typmod) (types.Value, error) {
	d := v.Decimal()
	if d.Form != apd.Finite {
		if d.Form == apd.Infinite {
			return v, &types.Error{Code: types.CodeNumericValueOutOfRange, Message: "numeric field overflow"}
		}
		return v, nil
	}
	r := new(apd.Decimal)
	ctx := types.NumericContext
	if _, err := ctx.Quantize(r, d, -int32(tm.scale)); err != nil {
		return v, types.ErrNumericRange
	}
	// digits before the point must fit precision - scale
	intDigits := int(r.NumDigits()) + int(r.Exponent)
	if r.Coeff.Sign() != 0 && intDigits > tm.precision-tm.scale {
		return v, &types.Error{Code: types.CodeNumericValueOutOfRange, Message: "numeric field overflow"}
	}
	r, _ = types.NormalizeNumeric(r)
	return types.NewNumeric(r), nil
}

// castFor returns the conversion from one kind to another, or nil if
// Postgres has no such cast.
func castFor(from, to types.Kind) castFunc {
	switch {
	case to == types.KindText:
		switch from {
		case types.KindBool:
			return func(v types.Value) (types.Value, error) {
				if v.Bool() {
					return types.NewText("true"), nil
				}
				return types.NewText("false"), nil
			}
		case types.KindJSON:
			return func(v types.Value) (types.Value, error) { return types.NewText(v.Text()), nil }
		}
		return func(v types.Value) (types.Value, error) { return types.NewText(string(v.AppendText(nil))), nil }
	case from == types.KindText:
		return func(v types.Value) (types.Value, error) { return types.ParseText(to, v.Text()) }
	case from.IsInteger() && to.IsInteger():
		return func(v types.Value) (types.Value, error) {
			if err := types.CheckIntRange(to, v.Int()); err != nil {
				return v, err
			}
			return types.NewInt(to, v.Int()), nil
		}
	case from.IsInteger() && to == types.KindFloat8:
		return func(v types.Value) (types.Value, error) { return types.NewFloat8(float64(v.Int())), nil }
	case from.IsInteger() && to == types.KindNumeric:
		return func(v types.Value) (types.Value, error) { return types.NewNumeric(apd.New(v.Int(), 0)), nil }
	case from == types.KindFloat8 && to.IsInteger():
		return func(v types.Value) (types.Value, error) {
			f := math.RoundToEven(v.Float())
			if math.IsNaN(f) || f < -9.223372036854775808e18 || f >= 9.223372036854775808e18 {
				return v, types.RangeError(to)
			}
			if err := types.CheckIntRange(to, int64(f)); err != nil {
				return v, err
			}
			return types.NewInt(to, int64(f)), nil
		}
	case from == types.KindFloat8 && to == types.KindNumeric:
		return func(v types.Value) (types.Value, error) { return floatToNumeric(v.Float()) }
	case from == types.KindNumeric && to == types.KindFloat8:
		return func(v types.Value) (types.Value, error) {
			f, err := types.DecimalToFloat(v.Decimal())
			// Postgres reads the numeric's text as a double: overflow and
			// underflow to zero (1e-400) are out of range.
			if err != nil || (math.IsInf(f, 0) && v.Decimal().Form == apd.Finite) || (f == 0 && !v.Decimal().IsZero()) {
				return v, types.ErrFloatRange
			}
			return types.NewFloat8(f), nil
		}
	case from == types.KindNumeric && to.IsInteger():
		return func(v types.Value) (types.Value, error) { return numericToInt(v.Decimal(), to) }
	case from == types.KindBool && to == types.KindInt4:
		return func(v types.Value) (types.Value, error) {
			if v.Bool() {
				return types.NewInt4(1), nil
			}
			return types.NewInt4(0), nil
		}
	case from == types.KindInt4 && to == types.KindBool:
		return func(v types.Value) (types.Value, error) { return types.NewBool(v.Int() != 0), nil }
	case from == types.KindDate && (to == types.KindTimestamp || to == types.KindTimestampTZ):
		return func(v types.Value) (types.Value, error) {
			us, err := dateToMicros(v.Days())
			if err != nil {
				return v, err
			}
			if to == types.KindTimestamp {
				return types.NewTimestamp(us), nil
			}
			return types.NewTimestampTZ(us), nil
		}
	case (from == types.KindTimestamp || from == types.KindTimestampTZ) && to == types.KindDate:
		return func(v types.Value) (types.Value, error) {
			switch v.Micros() {
			case types.TimestampInfinity:
				return types.NewDate(types.DateInfinity), nil
			case types.TimestampNegInfinity:
				return types.NewDate(types.DateNegInfinity), nil
			}
			return types.NewDate(int32(types.FloorDiv(v.Micros(), types.MicrosPerDay))), nil
		}
	case from == types.KindTimestamp && to == types.KindTimestampTZ:
		return func(v types.Value) (types.Value, error) { return types.NewTimestampTZ(v.Micros()), nil }
	case from == types.KindTimestampTZ && to == types.KindTimestamp:
		return func(v types.Value) (types.Value, error) { return types.NewTimestamp(v.Micros()), nil }
	case from == types.KindJSON:
		return jsonScalarCast(to)
	case to == types.KindJSON:
		return nil
	}
	return nil
}

func dateToMicros(days int32) (int64, error) {
	switch days {
	case types.DateInfinity:
		return types.TimestampInfinity, nil
	case types.DateNegInfinity:
		return types.TimestampNegInfinity, nil
	}
	us := int64(days) * types.MicrosPerDay
	if err := types.CheckTimestamp(us); err != nil {
		return 0, &types.Error{Code: "22008", Message: "date out of range for timestamp"}
	}
	return us, nil
}

// floatToNumeric converts as Postgres' float8_numeric does: through 15
// significant digits (DBL_DIG), so 0.1::float8::numeric is 0.1.
func floatToNumeric(f float64) (types.Value, error) {
	switch {
	case math.IsNaN(f):
		return types.NewNumeric(&apd.Decimal{Form: apd.NaN}), nil
	case math.IsInf(f, 1):
		return types.NewNumeric(&apd.Decimal{Form: apd.Infinite}), nil
	case math.IsInf(f, -1):
		return types.NewNumeric(&apd.Decimal{Form: apd.Infinite, Negative: true}), nil
	}
	s := strconv.FormatFloat(f, 'g', 15, 64)
	d, _, err := apd.NewFromString(s)
	if err != nil {
		return types.Value{}, err
	}
	// %g drops trailing zeros, and so does Postgres: 2.50 prints 2.5.
	d.Reduce(d)
	d, err = types.NormalizeNumeric(d)
	if err != nil {
		return types.Value{}, err
	}
	return types.NewNumeric(d), nil
}

// numericToInt rounds half away from zero, as Postgres does.
func numericToInt(d *apd.Decimal, to types.Kind) (types.Value, error) {
	switch d.Form {
	case apd.NaN, apd.NaNSignaling:
		return types.Value{}, &types.Error{Code: types.CodeFeatureNotSupported, Message: "cannot convert NaN to " + to.String()}
	case apd.Infinite:
		return types.Value{}, &types.Error{Code: types.CodeFeatureNotSupported, Message: "cannot convert infinity to " + to.String()}
	}
	var r apd.Decimal
	ctx := types.NumericContext
	ctx.Rounding = apd.RoundHalfUp
	if _, err := ctx.Quantize(&r, d, 0); err != nil {
		return types.Value{}, types.RangeError(to)
	}
	n, err := r.Int64()
	if err != nil {
		return types.Value{}, types.RangeError(to)
	}
	if err := types.CheckIntRange(to, n); err != nil {
		return types.Value{}, err
	}
	return types.NewInt(to, n), nil
}

// applyTypmod applies a literal's type modifier (NUMERIC(10,2) '1.005').
func (c *compiler) applyTypmod(n *node, t ast.TypeName, try bool) (*node, error) {
	k, err := types.KindFromName(t.Name)
	if err != nil {
		return nil, wrapValueError(t.Pos, err)
	}
	tm, err := parseTypmod(t, k)
	if err != nil {
		return nil, err
	}
	return c.castNode(n, k, tm, try)
}
