package expr

import (
	"math"

	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/types"
)

// arith compiles + - * / % ^. neg is unary minus, compiled as 0 - x.
func (c *compiler) arith(pos ast.Pos, op string, l, r *node, neg bool) (*node, error) {
	var err error
	// Unknown literals and NULLs adopt the other side's type, except as
	// Postgres resolves them: intervals next to a date/time in +, double
	// precision next to an interval in * and / (interval * NULL).
	otherKind := func(k types.Kind) types.Kind {
		switch {
		case datetimeRank(k) > 0 && op == "+":
			return types.KindInterval
		case k == types.KindInterval && (op == "*" || op == "/"):
			return types.KindFloat8
		}
		return k
	}
	switch {
	case l.unknown && r.unknown:
		return nil, errorf(pos, codeUndefinedFunction, "operator is not unique: unknown %s unknown", op)
	case l.unknown:
		k := otherKind(r.typ)
		if k == types.KindNull {
			k = types.KindNumeric
		}
		if l, err = c.coerce(l, k); err != nil {
			return nil, err
		}
	case r.unknown:
		k := otherKind(l.typ)
		if k == types.KindNull {
			k = types.KindNumeric
		}
		if r, err = c.coerce(r, k); err != nil {
			return nil, err
		}
	}
	if l.typ == types.KindNull && r.typ == types.KindNull {
		return nullNode(types.KindInt4, pos), nil
	}
	if l.typ == types.KindNull {
		l = nullNode(otherKind(r.typ), pos)
	}
	if r.typ == types.KindNull {
		r = nullNode(otherKind(l.typ), pos)
	}
	lt, rt := l.typ, r.typ
	if lt.IsNumeric() && rt.IsNumeric() {
		return c.numberArith(pos, op, l, r, neg)
	}
	if neg && rt == types.KindInterval {
		rf := r.fn
		return c.newNode(types.KindInterval, pos, func(row types.Row) (types.Value, error) {
			v, err := rf(row)
			if err != nil || v.IsNull() {
				return types.Null(types.KindInterval), err
			}
			return negateInterval(v)
		}, r), nil
	}
	return c.datetimeArith(pos, op, l, r)
}

func (c *compiler) numberArith(pos ast.Pos, op string, l, r *node, neg bool) (*node, error) {
	k := l.typ
	if numericRank(r.typ) > numericRank(k) {
		k = r.typ
	}
	if neg {
		k = r.typ
	}
	if op == "^" && k.IsInteger() {
		k = types.KindFloat8
	}
	if op == "%" && k == types.KindFloat8 {
		return nil, opError(pos, op, l.typ, r.typ)
	}
	var err error
	if l, err = c.coerce(l, k); err != nil {
		return nil, err
	}
	if r, err = c.coerce(r, k); err != nil {
		return nil, err
	}
	lf, rf := l.fn, r.fn
	var f func(a, b types.Value) (types.Value, error)
	switch {
	case k.IsInteger():
		f = intArithFunc(op, k)
	case k == types.KindFloat8:
		f = floatArithFunc(op)
	default:
		f = numericArithFunc(op)
	}
	null := types.Null(k)
	// A column op constant, the usual projection shape, skips one call.
	if l.col >= 0 && r.folded && !r.val.IsNull() {
		i, b := l.col, r.val
		return c.newNode(k, pos, func(row types.Row) (types.Value, error) {
			a := row[i]
			if a.IsNull() {
				return null, nil
			}
			return f(a, b)
		}, l, r), nil
	}
	return c.newNode(k, pos, func(row types.Row) (types.Value, error) {
		a, b, isNull, err := eval2(lf, rf, row)
		if isNull || err != nil {
			return null, err
		}
		return f(a, b)
	}, l, r), nil
}

func intArithFunc(op string, k types.Kind) func(a, b types.Value) (types.Value, error) {
	rangeErr := types.RangeError(k)
	check := func(n int64) (types.Value, error) {
		if err := types.CheckIntRange(k, n); err != nil {
			return types.Value{}, err
		}
		return types.NewInt(k, n), nil
	}
	switch op {
	case "+":
		return func(a, b types.Value) (types.Value, error) {
			x, y := a.Int(), b.Int()
			s := x + y
			if (x >= 0) == (y >= 0) && (s >= 0) != (x >= 0) {
				return types.Value{}, rangeErr
			}
			return check(s)
		}
	case "-":
		return func(a, b types.Value) (types.Value, error) {
			x, y := a.Int(), b.Int()
			s := x - y
			if (x >= 0) != (y >= 0) && (s >= 0) != (x >= 0) {
				return types.Value{}, rangeErr
			}
			return check(s)
		}
	case "*":
		return func(a, b types.Value) (types.Value, error) {
			x, y := a.Int(), b.Int()
			if x == 0 || y == 0 {
				return types.NewInt(k, 0), nil
			}
			p := x * y
			if p/y != x || (x == -1 && y == math.MinInt64) || (y == -1 && x == math.MinInt64) {
				return types.Value{}, rangeErr
			}
			return check(p)
		}
	case "/":
		return func(a, b types.Value) (types.Value, error) {
			x, y := a.Int(), b.Int()
			if y == 0 {
				return types.Value{}, types.ErrDivisionByZero
			}
			if y == -1 {
				if x == math.MinInt64 {
					return types.Value{}, rangeErr
				}
				return check(-x)
			}
			return types.NewInt(k, x/y), nil
		}
	case "%":
		return func(a, b types.Value) (types.Value, error) {
			x, y := a.Int(), b.Int()
			if y == 0 {
				return types.Value{}, types.ErrDivisionByZero
			}
			if y == -1 {
				return types.NewInt(k, 0), nil
			}
			return types.NewInt(k, x%y), nil
		}
	}
	return func(a, b types.Value) (types.Value, error) {
		return types.Value{}, &types.Error{Code: "42883", Message: "operator does not exist: " + op}
	}
}

// checkFloat reports overflow (an infinite result of finite inputs) and
// underflow (zero from non-zero inputs) as Postgres' float8 operators do.
func checkFloat(r float64, infOK bool, zeroOK bool) (types.Value, error) {
	if math.IsInf(r, 0) && !infOK {
		return types.Value{}, types.ErrFloatRange
	}
	if r == 0 && !zeroOK {
		return types.Value{}, types.ErrFloatUnderflow
	}
	return types.NewFloat8(r), nil
}

func floatArithFunc(op string) func(a, b types.Value) (types.Value, error) {
	switch op {
	case "+":
		return func(a, b types.Value) (types.Value, error) {
			x, y := a.Float(), b.Float()
			return checkFloat(x+y, math.IsInf(x, 0) || math.IsInf(y, 0), true)
		}
	case "-":
		return func(a, b types.Value) (types.Value, error) {
			x, y := a.Float(), b.Float()
			return checkFloat(x-y, math.IsInf(x, 0) || math.IsInf(y, 0), true)
		}
	case "*":
		return func(a, b types.Value) (types.Value, error) {
			x, y := a.Float(), b.Float()
			return checkFloat(x*y, math.IsInf(x, 0) || math.IsInf(y, 0), x == 0 || y == 0)
		}
	case "/":
		return func(a, b types.Value) (types.Value, error) {
			x, y := a.Float(), b.Float()
			if y == 0 && !math.IsNaN(x) {
				return types.Value{}, types.ErrDivisionByZero
			}
			return checkFloat(x/y, math.IsInf(x, 0), x == 0 || math.IsInf(y, 0))
		}
	}
	return func(a, b types.Value) (types.Value, error) { return floatPower(a.Float(), b.Float()) }
}

// floatPower is Postgres' dpow.
func floatPower(x, y float64) (types.Value, error) {
	if math.IsNaN(x) {
		if y == 0 {
			return types.NewFloat8(1), nil
		}
		return types.NewFloat8(math.NaN()), nil
	}
	if math.IsNaN(y) {
		if x == 1 {
			return types.NewFloat8(1), nil
		}
		return types.NewFloat8(math.NaN()), nil
	}
	if x == 0 && y < 0 {
		return types.Value{}, &types.Error{Code: types.CodeInvalidArgumentForPower, Message: "zero raised to a negative power is undefined"}
	}
	if x < 0 && y != math.Trunc(y) && !math.IsInf(y, 0) {
		return types.Value{}, &types.Error{Code: types.CodeInvalidArgumentForPower, Message: "a negative number raised to a non-integer power yields a complex result"}
	}
	r := math.Pow(x, y)
	return checkFloat(r, math.IsInf(x, 0) || math.IsInf(y, 0), x == 0 || math.IsInf(y, -1) || (math.IsInf(y, 1) && math.Abs(x) < 1) || math.IsInf(x, 0))
}
