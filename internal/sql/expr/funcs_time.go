package expr

import (
	"math"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/types"
)

// clockFuncs are the functions of the clock, by the type they return:
// their value depends on when they are evaluated, not only on the row.
var clockFuncs = map[string]types.Kind{
	"now": tTSTZ, "current_timestamp": tTSTZ, "transaction_timestamp": tTSTZ, "statement_timestamp": tTSTZ,
	"clock_timestamp": tTSTZ, "localtimestamp": tTS, "current_date": tDate,
}

// IsClock reports whether name (lower case) is a function of the clock
// (now(), current_timestamp, ...): evaluated twice over the same row, it
// may give two values.
func IsClock(name string) bool {
	_, ok := clockFuncs[name]
	return ok
}

func init() {
	clock := func(k types.Kind) special {
		return func(c *compiler, f *ast.Func, args []*node) (*node, error) {
			if len(args) != 0 {
				return nil, c.noFunction(f, string(f.Name), args)
			}
			now := c.opts.Now
			if now == nil {
				now = time.Now
			}
			return &node{typ: k, pos: f.Pos, col: -1, fn: func(types.Row) (types.Value, error) {
				us := now().UnixMicro()
				switch k {
				case tDate:
					return types.NewDate(int32(types.FloorDiv(us, types.MicrosPerDay))), nil
				case tTS:
					return types.NewTimestamp(us), nil
				}
				return types.NewTimestampTZ(us), nil
			}}, nil
		}
	}
	for name := range clockFuncs {
		specials[name] = clock(clockFuncs[name])
	}
	specials["date_part"] = func(c *compiler, f *ast.Func, args []*node) (*node, error) {
		if len(args) != 2 {
			return nil, c.noFunction(f, "date_part", args)
		}
		return c.extract(f.Pos, args[0], args[1], false)
	}
	specials["extract"] = func(c *compiler, f *ast.Func, args []*node) (*node, error) {
		if len(args) != 2 {
			return nil, c.noFunction(f, "extract", args)
		}
		return c.extract(f.Pos, args[0], args[1], true)
	}
	trunc := func(k types.Kind) overload {
		return overload{args: k2(tText, k), ret: k, fn2: func(a, b types.Value) (types.Value, error) {
			us, err := dateTrunc(a.Text(), b.Micros(), k)
			if err != nil {
				return types.Value{}, err
			}
			if k == tTS {
				return types.NewTimestamp(us), nil
			}
			return types.NewTimestampTZ(us), nil
		}}
	}
	register("date_trunc", trunc(tTSTZ), trunc(tTS))
	register("to_timestamp", overload{args: k(tFloat), ret: tTSTZ, fn1: func(a types.Value) (types.Value, error) {
		f := a.Float()
		switch {
		case math.IsNaN(f):
			return types.Value{}, &types.Error{Code: types.CodeDatetimeFieldOverflow, Message: "timestamp cannot be NaN"}
		case math.IsInf(f, 1):
			return types.NewTimestampTZ(types.TimestampInfinity), nil
		case math.IsInf(f, -1):
			return types.NewTimestampTZ(types.TimestampNegInfinity), nil
		}
		// Rounded to microseconds from 2000-01-01, as Postgres computes it
		// (so the same double rounds the same way).
		const pgEpoch = 946684800 // 2000-01-01 in Unix seconds
		us := math.RoundToEven((f-pgEpoch)*1e6) + pgEpoch*1e6
		if us < -2.1e17 || us > 9.2e18 || types.CheckTimestamp(int64(us)) != nil {
			return types.Value{}, &types.Error{Code: types.CodeDatetimeFieldOverflow, Message: "timestamp out of range: \"" + string(types.AppendFloat(nil, f)) + "\""}
		}
		return types.NewTimestampTZ(int64(us)), nil
	}})
	register("make_date", overload{args: k(tInt4, tInt4, tInt4), ret: tDate, fn3: func(a, b, c types.Value) (types.Value, error) {
		days, err := makeDate(a.Int(), b.Int(), c.Int())
		if err != nil {
			return types.Value{}, err
		}
		return types.NewDate(int32(days)), nil
	}})
	register("make_timestamp", overload{args: k(tInt4, tInt4, tInt4, tInt4, tInt4, tFloat), ret: tTS, fn: makeTimestamp})
}

func k2(a, b types.Kind) []types.Kind { return []types.Kind{a, b} }

func makeDate(y, m, d int64) (int64, error) {
	orig := y
	if y < 0 {
		y++ // year -1 is 1 BC, our year 0
	}
	if orig == 0 || m < 1 || m > 12 || d < 1 || d > types.DaysInMonth(y, m) {
		return 0, types.Errorf(types.CodeDatetimeFieldOverflow, "date field value out of range: %d-%02d-%02d", orig, m, d)
	}
	days := types.DaysFromCivil(y, m, d)
	if types.CheckDate(days) != nil {
		return 0, types.Errorf(types.CodeDatetimeFieldOverflow, "date out of range: %d-%02d-%02d", orig, m, d)
	}
	return days, nil
}

func makeTimestamp(a []types.Value) (types.Value, error) {
	days, err := makeDate(a[0].Int(), a[1].Int(), a[2].Int())
	if err != nil {
		return types.Value{}, err
	}
	h, mi, sec := a[3].Int(), a[4].Int(), a[5].Float()
	if h < 0 || h > 24 || mi < 0 || mi > 59 || sec < 0 || sec > 60 || math.IsNaN(sec) ||
		(h == 24 && (mi != 0 || sec != 0)) {
		return types.Value{}, types.Errorf(types.CodeDatetimeFieldOverflow, "time field value out of range: %d:%02d:%s", h, mi, string(types.AppendFloat(nil, sec)))
	}
	us := days*types.MicrosPerDay + h*types.MicrosPerHour + mi*types.MicrosPerMinute + int64(math.RoundToEven(sec*1e6))
	if err := types.CheckTimestamp(us); err != nil {
		return types.Value{}, err
	}
	return types.NewTimestamp(us), nil
}

func unitError(field string, k types.Kind) error {
	return types.Errorf(types.CodeFeatureNotSupported, "unit %q not supported for type %s", field, k)
}

func unknownUnit(field string, k types.Kind) error {
	return types.Errorf(types.CodeInvalidParameterValue, "unit %q not recognized for type %s", field, k)
}

// canonicalField maps the abbreviations Postgres accepts to one name.
func canonicalField(f string) string {
	f = strings.ToLower(strings.TrimSpace(f))
	switch f {
	case "microseconds", "microsecond", "us", "usec", "usecs", "useconds":
		return "microseconds"
	case "milliseconds", "millisecond", "ms", "msec", "msecs", "mseconds":
		return "milliseconds"
	case "second", "seconds", "s", "sec", "secs":
		return "second"
	case "minute", "minutes", "m", "min", "mins":
		return "minute"
	case "hour", "hours", "h", "hr", "hrs":
		return "hour"
	case "day", "days", "d":
		return "day"
	case "week", "weeks", "w":
		return "week"
	case "month", "months", "mon", "mons":
		return "month"
	case "quarter", "qtr":
		return "quarter"
	case "year", "years", "y", "yr", "yrs":
		return "year"
	case "decade", "decades":
		return "decade"
	case "century", "centuries":
		return "century"
	case "millennium", "millennia", "millenniums":
		return "millennium"
	}
	return f
}

// dateTrunc truncates microseconds since the epoch to a field (UTC).
func dateTrunc(field string, us int64, k types.Kind) (int64, error) {
	if us == types.TimestampInfinity || us == types.TimestampNegInfinity {
		return us, nil
	}
	day := types.FloorDiv(us, types.MicrosPerDay)
	tod := us - day*types.MicrosPerDay
	y, m, _ := types.CivilFromDays(day)
	f := canonicalField(field)
	switch f {
	case "microseconds":
		return us, nil
	case "milliseconds":
		return types.FloorDiv(us, 1000) * 1000, nil
	case "second":
		return types.FloorDiv(us, types.MicrosPerSecond) * types.MicrosPerSecond, nil
	case "minute":
		return types.FloorDiv(us, types.MicrosPerMinute) * types.MicrosPerMinute, nil
	case "hour":
		return types.FloorDiv(us, types.MicrosPerHour) * types.MicrosPerHour, nil
	case "day":
		return day * types.MicrosPerDay, nil
	case "week":
		// ISO weeks start on Monday; 1970-01-01 was a Thursday.
		dow := (day%7 + 7 + 3) % 7 // 0 = Monday
		return (day - dow) * types.MicrosPerDay, nil
	case "month":
		return types.DaysFromCivil(y, m, 1) * types.MicrosPerDay, nil
	case "quarter":
		return types.DaysFromCivil(y, (m-1)/3*3+1, 1) * types.MicrosPerDay, nil
	case "year":
		return types.DaysFromCivil(y, 1, 1) * types.MicrosPerDay, nil
	case "decade":
		return types.DaysFromCivil(types.FloorDiv(y, 10)*10, 1, 1) * types.MicrosPerDay, nil
	case "century":
		return types.DaysFromCivil(types.FloorDiv(y-1, 100)*100+1, 1, 1) * types.MicrosPerDay, nil
	case "millennium":
		return types.DaysFromCivil(types.FloorDiv(y-1, 1000)*1000+1, 1, 1) * types.MicrosPerDay, nil
	}
	_ = tod
	return 0, unknownUnit(field, k)
}

// extract compiles EXTRACT (numeric result, as Postgres 14+) and
// date_part (double precision).
func (c *compiler) extract(pos ast.Pos, field, arg *node, numeric bool) (*node, error) {
	var err error
	if field, err = c.coerceText(field, "extract"); err != nil {
		return nil, err
	}
	if arg.unknown {
		if arg, err = c.coerce(arg, tTSTZ); err != nil {
			return nil, err
		}
	}
	k := arg.typ
	if k != tTS && k != tTSTZ && k != tDate && k != tIv {
		return nil, errorf(pos, codeUndefinedFunction, "function extract(unknown, %s) does not exist", k)
	}
	if !numeric && k == tDate {
		// date_part(text, date) is date_part(text, timestamp) in Postgres.
		if arg, err = c.castNode(arg, tTS, typmod{}, false); err != nil {
			return nil, err
		}
	}
	ret := tNum
	if !numeric {
		ret = tFloat
	}
	return c.binaryFn(pos, ret, field, arg, func(a, b types.Value) (types.Value, error) {
		d, err := extractField(a.Text(), b)
		if err != nil {
			return types.Value{}, err
		}
		if d == nil {
			return types.Null(ret), nil
		}
		if numeric {
			return types.NewNumeric(d), nil
		}
		f, _ := types.DecimalToFloat(d)
		return types.NewFloat8(f), nil
	}), nil
}

func extractField(field string, v types.Value) (*apd.Decimal, error) {
	f := canonicalField(field)
	k := v.Kind()
	if k == tIv {
		return extractInterval(f, field, v)
	}
	var us int64
	if k == tDate {
		days := v.Days()
		if days == types.DateInfinity || days == types.DateNegInfinity {
			return infExtract(f, days > 0)
		}
		us = int64(days) * types.MicrosPerDay
		switch f {
		case "microseconds", "milliseconds", "second", "minute", "hour", "timezone", "timezone_hour", "timezone_minute":
			return nil, unitError(field, k)
		}
	} else {
		us = v.Micros()
		if us == types.TimestampInfinity || us == types.TimestampNegInfinity {
			return infExtract(f, us > 0)
		}
	}
	day := types.FloorDiv(us, types.MicrosPerDay)
	tod := us - day*types.MicrosPerDay
	y, m, d := types.CivilFromDays(day)
	year := y
	if year <= 0 {
		year-- // 1 BC is year -1
	}
	switch f {
	case "microseconds":
		return apd.New(tod%types.MicrosPerMinute, 0), nil
	case "milliseconds":
		return apd.New(tod%types.MicrosPerMinute, -3), nil
	case "second":
		return apd.New(tod%types.MicrosPerMinute, -6), nil
	case "minute":
		return apd.New(tod/types.MicrosPerMinute%60, 0), nil
	case "hour":
		return apd.New(tod/types.MicrosPerHour, 0), nil
	case "day":
		return apd.New(d, 0), nil
	case "month":
		return apd.New(m, 0), nil
	case "quarter":
		return apd.New((m-1)/3+1, 0), nil
	case "year":
		return apd.New(year, 0), nil
	case "decade":
		return apd.New(types.FloorDiv(y, 10), 0), nil
	case "century":
		if y > 0 {
			return apd.New((y+99)/100, 0), nil
		}
		return apd.New(-((99 - (y - 1)) / 100), 0), nil
	case "millennium":
		if y > 0 {
			return apd.New((y+999)/1000, 0), nil
		}
		return apd.New(-((999 - (y - 1)) / 1000), 0), nil
	case "dow":
		return apd.New((day%7+7+4)%7, 0), nil
	case "isodow":
		return apd.New((day%7+7+3)%7+1, 0), nil
	case "doy":
		return apd.New(day-types.DaysFromCivil(y, 1, 1)+1, 0), nil
	case "week", "isoyear":
		iy, iw := time.Unix(day*86400, 0).UTC().ISOWeek()
		if f == "week" {
			return apd.New(int64(iw), 0), nil
		}
		if iy <= 0 {
			iy-- // Postgres numbers years before 1 AD as BC: year 0 is -1
		}
		return apd.New(int64(iy), 0), nil
	case "julian":
		jd := day + 2440588
		if k == tDate {
			return apd.New(jd, 0), nil
		}
		// As Postgres: the day number plus the time of day over a day's
		// microseconds, divided at that division's own scale.
		t, d := apd.New(tod, 0), apd.New(types.MicrosPerDay, 0)
		q, err := numericDiv(t, d, divScale(t, d))
		if err != nil {
			return nil, err
		}
		r := new(apd.Decimal)
		if _, err := types.NumericContext.Add(r, apd.New(jd, 0), q); err != nil {
			return nil, types.ErrNumericRange
		}
		return r, nil
	case "epoch":
		if k == tDate {
			return apd.New(us/types.MicrosPerSecond, 0), nil
		}
		return apd.New(us, -6), nil
	case "timezone", "timezone_hour", "timezone_minute":
		if k == tTSTZ {
			return apd.New(0, 0), nil
		}
		return nil, unitError(field, k)
	}
	return nil, unknownUnit(field, k)
}

func infExtract(f string, positive bool) (*apd.Decimal, error) {
	switch f {
	case "year", "decade", "century", "millennium", "julian", "isoyear", "epoch":
		return &apd.Decimal{Form: apd.Infinite, Negative: !positive}, nil
	}
	return nil, nil //nolint:nilnil // a NULL result; callers treat nil as NULL
}

func extractInterval(f, field string, v types.Value) (*apd.Decimal, error) {
	months, days, us := v.Interval()
	switch f {
	case "microseconds":
		return apd.New(us%types.MicrosPerMinute, 0), nil
	case "milliseconds":
		return apd.New(us%types.MicrosPerMinute, -3), nil
	case "second":
		return apd.New(us%types.MicrosPerMinute, -6), nil
	case "minute":
		return apd.New(us/types.MicrosPerMinute%60, 0), nil
	case "hour":
		return apd.New(us/types.MicrosPerHour, 0), nil
	case "day":
		return apd.New(int64(days), 0), nil
	case "month":
		return apd.New(int64(months%12), 0), nil
	case "quarter":
		return apd.New(int64(months%12/3+1), 0), nil
	case "year":
		return apd.New(int64(months/12), 0), nil
	case "decade":
		return apd.New(int64(months/120), 0), nil
	case "century":
		return apd.New(int64(months/1200), 0), nil
	case "millennium":
		return apd.New(int64(months/12000), 0), nil
	case "epoch":
		secs := (1461*int64(months/12) + 120*int64(months%12) + 4*int64(days)) * (86400 / 4)
		r := new(apd.Decimal)
		_, _ = types.NumericContext.Add(r, apd.New(secs*types.MicrosPerSecond, -6), apd.New(us, -6))
		return r, nil
	}
	return nil, unknownUnit(field, tIv)
}
