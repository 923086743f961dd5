package expr

import (
	"math"

	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/types"
)

// datetimeArith compiles the date/time operators:
//
//	timestamp[tz] ± interval → timestamp[tz]   interval + timestamp[tz]
//	date ± interval → timestamp                 date ± integer → date
//	date - date → integer                       timestamp[tz] - timestamp[tz] → interval (justified hours)
//	interval ± interval → interval              interval * double, double * interval, interval / double
func (c *compiler) datetimeArith(pos ast.Pos, op string, l, r *node) (*node, error) {
	lt, rt := l.typ, r.typ
	iv := types.KindInterval
	switch {
	case op == "+" && lt == iv && datetimeRank(rt) > 0:
		l, r = r, l
		lt, rt = rt, lt
	case op == "+" && lt.IsInteger() && rt == types.KindDate:
		l, r = r, l
		lt, rt = rt, lt
	case op == "*" && lt.IsNumeric() && rt == iv:
		l, r = r, l
		lt, rt = rt, lt
	}
	switch {
	case (op == "+" || op == "-") && datetimeRank(lt) > 0 && rt == iv:
		k := lt
		if lt == types.KindDate {
			k = types.KindTimestamp
			var err error
			if l, err = c.castNode(l, k, typmod{}, false); err != nil {
				return nil, err
			}
		}
		sign := int64(1)
		if op == "-" {
			sign = -1
		}
		return c.binaryFn(pos, k, l, r, func(a, b types.Value) (types.Value, error) {
			m, d, us := b.Interval()
			t, err := addInterval(a.Micros(), sign*int64(m), sign*int64(d), sign*us)
			if err != nil {
				return types.Value{}, err
			}
			if k == types.KindTimestamp {
				return types.NewTimestamp(t), nil
			}
			return types.NewTimestampTZ(t), nil
		}), nil
	case (op == "+" || op == "-") && lt == types.KindDate && rt.IsInteger():
		sign := int64(1)
		if op == "-" {
			sign = -1
		}
		return c.binaryFn(pos, types.KindDate, l, r, func(a, b types.Value) (types.Value, error) {
			d := a.Days()
			if d == types.DateInfinity || d == types.DateNegInfinity {
				return a, nil
			}
			n := int64(d) + sign*b.Int()
			if err := types.CheckDate(n); err != nil {
				return types.Value{}, err
			}
			return types.NewDate(int32(n)), nil
		}), nil
	case op == "-" && lt == types.KindDate && rt == types.KindDate:
		return c.binaryFn(pos, types.KindInt4, l, r, func(a, b types.Value) (types.Value, error) {
			x, y := a.Days(), b.Days()
			if x == types.DateInfinity || x == types.DateNegInfinity || y == types.DateInfinity || y == types.DateNegInfinity {
				return types.Value{}, &types.Error{Code: "22008", Message: "cannot subtract infinite dates"}
			}
			return types.NewInt4(x - y), nil
		}), nil
	case op == "-" && datetimeRank(lt) > 0 && datetimeRank(rt) > 0:
		k := lt
		if datetimeRank(rt) > datetimeRank(k) {
			k = rt
		}
		if k == types.KindDate {
			k = types.KindTimestamp
		}
		var err error
		if l, err = c.coerce(l, k); err != nil {
			return nil, err
		}
		if r, err = c.coerce(r, k); err != nil {
			return nil, err
		}
		return c.binaryFn(pos, types.KindInterval, l, r, func(a, b types.Value) (types.Value, error) {
			x, y := a.Micros(), b.Micros()
			if x == types.TimestampInfinity || x == types.TimestampNegInfinity || y == types.TimestampInfinity || y == types.TimestampNegInfinity {
				return types.Value{}, &types.Error{Code: "22008", Message: "cannot subtract infinite timestamps"}
			}
			diff := x - y
			if (x >= 0) != (y >= 0) && (diff >= 0) != (x >= 0) {
				return types.Value{}, types.ErrIntervalRange
			}
			days := diff / types.MicrosPerDay
			return types.NewInterval(0, int32(days), diff-days*types.MicrosPerDay), nil
		}), nil
	case (op == "+" || op == "-") && lt == iv && rt == iv:
		sign := int64(1)
		if op == "-" {
			sign = -1
		}
		return c.binaryFn(pos, iv, l, r, func(a, b types.Value) (types.Value, error) {
			am, ad, au := a.Interval()
			bm, bd, bu := b.Interval()
			m := int64(am) + sign*int64(bm)
			d := int64(ad) + sign*int64(bd)
			us := au + sign*bu
			if m != int64(int32(m)) || d != int64(int32(d)) || (sign > 0 && (au >= 0) == (bu >= 0) && (us >= 0) != (au >= 0)) ||
				(sign < 0 && (au >= 0) != (bu >= 0) && (us >= 0) != (au >= 0)) {
				return types.Value{}, types.ErrIntervalRange
			}
			return types.NewInterval(int32(m), int32(d), us), nil
		}), nil
	case (op == "*" || op == "/") && lt == iv && rt.IsNumeric():
		var err error
		if r, err = c.coerce(r, types.KindFloat8); err != nil {
			return nil, err
		}
		div := op == "/"
		return c.binaryFn(pos, iv, l, r, func(a, b types.Value) (types.Value, error) {
			if div {
				return intervalDiv(a, b.Float())
			}
			return intervalMul(a, b.Float())
		}), nil
	}
	return nil, opError(pos, op, lt, rt)
}

// binaryFn builds a strict binary node: NULL in, NULL out.
func (c *compiler) binaryFn(pos ast.Pos, k types.Kind, l, r *node, f func(a, b types.Value) (types.Value, error)) *node {
	lf, rf := l.fn, r.fn
	null := types.Null(k)
	return c.newNode(k, pos, func(row types.Row) (types.Value, error) {
		a, b, isNull, err := eval2(lf, rf, row)
		if isNull || err != nil {
			return null, err
		}
		return f(a, b)
	}, l, r)
}

// addInterval adds months (clamping the day to the month's end), then
// days, then microseconds, as Postgres' timestamp_pl_interval does.
func addInterval(t, months, days, us int64) (int64, error) {
	if t == types.TimestampInfinity || t == types.TimestampNegInfinity {
		return t, nil
	}
	if months != 0 {
		day := types.FloorDiv(t, types.MicrosPerDay)
		tod := t - day*types.MicrosPerDay
		y, m, d := types.CivilFromDays(day)
		total := y*12 + (m - 1) + months
		y, m = types.FloorDiv(total, 12), total-types.FloorDiv(total, 12)*12+1
		if dim := types.DaysInMonth(y, m); d > dim {
			d = dim
		}
		if y < -4713 || y > 294276 {
			return 0, types.ErrTimestampRange
		}
		t = types.DaysFromCivil(y, m, d)*types.MicrosPerDay + tod
	}
	t += days*types.MicrosPerDay + us
	if err := types.CheckTimestamp(t); err != nil {
		return 0, err
	}
	return t, nil
}

func negateInterval(v types.Value) (types.Value, error) {
	m, d, us := v.Interval()
	if m == math.MinInt32 || d == math.MinInt32 || us == math.MinInt64 {
		return types.Value{}, types.ErrIntervalRange
	}
	return types.NewInterval(-m, -d, -us), nil
}

// tsround rounds to microsecond precision, Postgres' TSROUND.
func tsround(x float64) float64 { return math.RoundToEven(x*1e6) / 1e6 }

// intervalMul is Postgres' interval_mul: fractional months spill into
// days (30 per month), fractional days into time.
func intervalMul(v types.Value, f float64) (types.Value, error) { return intervalScale(v, f, false) }

// intervalDiv is Postgres' interval_div: interval_mul's arithmetic with
// each part divided by f, not multiplied by 1/f (they round differently).
func intervalDiv(v types.Value, f float64) (types.Value, error) {
	if f == 0 {
		return types.Value{}, types.ErrDivisionByZero
	}
	return intervalScale(v, f, true)
}

func intervalScale(v types.Value, f float64, divide bool) (types.Value, error) {
	scale := func(x float64) float64 {
		if divide {
			return x / f
		}
		return x * f
	}
	om, od, ous := v.Interval()
	rm := scale(float64(om))
	if math.IsNaN(rm) || rm > math.MaxInt32 || rm < math.MinInt32 {
		return types.Value{}, types.ErrIntervalRange
	}
	month := int32(rm)
	rd := scale(float64(od))
	if math.IsNaN(rd) || rd > math.MaxInt32 || rd < math.MinInt32 {
		return types.Value{}, types.ErrIntervalRange
	}
	day := int32(rd)
	monthRemainderDays := tsround((scale(float64(om)) - float64(month)) * types.DaysPerMonth)
	secRemainder := tsround((scale(float64(od)) - float64(day) + monthRemainderDays - math.Trunc(monthRemainderDays)) * 86400)
	if math.Abs(secRemainder) >= 86400 {
		day += int32(secRemainder / 86400)
		secRemainder -= math.Trunc(secRemainder/86400) * 86400
	}
	day += int32(monthRemainderDays)
	us := math.RoundToEven(scale(float64(ous)) + secRemainder*1e6)
	if math.IsNaN(us) || math.Abs(us) > 9.2e18 {
		return types.Value{}, types.ErrIntervalRange
	}
	return types.NewInterval(month, day, int64(us)), nil
}
