package expr

// A sweep of expressions over every kind: operators over every pair,
// casts, every function with one and two arguments, every overload called
// with values of its argument kinds. Each result that is not an error or
// NULL must have the kind its node (or overload) declares — what lets the
// Value accessors read the right shared field (types.Value) — and nothing
// may panic.

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/tide-data/tide/internal/sql/parser"
	"github.com/tide-data/tide/internal/sql/types"
)

type kindSample struct {
	kind  types.Kind
	name  string
	texts []string
}

var kindSamples = []kindSample{
	{types.KindBool, "bo", []string{"true", "false", "true"}},
	{types.KindInt2, "i2", []string{"7", "-3", "0"}},
	{types.KindInt4, "i4", []string{"42", "-7", "2147483647"}},
	{types.KindInt8, "i8", []string{"9000000000", "-1", "0"}},
	{types.KindFloat8, "fl", []string{"2.5", "-0", "1e300"}},
	{types.KindNumeric, "nu", []string{"123.450", "-0.5", "NaN"}},
	{types.KindText, "tx", []string{"Hello World", "", "2"}},
	{types.KindBytea, "by", []string{`\x0102ff`, `\x`, `\x41`}},
	{types.KindTimestamp, "ts", []string{"2024-03-15 10:30:45.123456", "1970-01-01", "infinity"}},
	{types.KindTimestampTZ, "tz", []string{"2024-03-15 10:30:45+00", "1999-12-31 23:59:59+00", "-infinity"}},
	{types.KindDate, "da", []string{"2024-02-29", "infinity", "1970-01-01"}},
	{types.KindInterval, "iv", []string{"1 day 02:03:04", "-1 mon", "0"}},
	{types.KindJSON, "js", []string{`{"a": 1, "b": [1, 2]}`, `"s"`, `2`}},
}

func kindSweepRows(t *testing.T) ([]Column, []types.Row) {
	var cols []Column
	rows := make([]types.Row, 4) // 3 variants, then all NULL
	for _, s := range kindSamples {
		cols = append(cols, Column{Name: s.name, Type: s.kind})
		for r := 0; r < 3; r++ {
			v, err := types.ParseText(s.kind, s.texts[r])
			if err != nil {
				t.Fatalf("%s %q: %v", s.kind, s.texts[r], err)
			}
			rows[r] = append(rows[r], v)
		}
		rows[3] = append(rows[3], types.Null(s.kind))
	}
	return cols, rows
}

func TestResultKindsMatchDeclaredTypes(t *testing.T) {
	cols, rows := kindSweepRows(t)
	mismatch := 0
	var dcols []Column
	var drow types.Row
	for _, c := range diffColumns {
		dcols = append(dcols, Column{Name: c.name, Type: c.kind})
		if c.null {
			drow = append(drow, types.Null(c.kind))
			continue
		}
		v, err := types.ParseText(c.kind, c.text)
		if err != nil {
			t.Fatal(err)
		}
		drow = append(drow, v)
	}
	evalIn := func(src string, cols []Column, rows []types.Row) {
		x, err := parser.ParseExpr(src)
		if err != nil {
			return
		}
		e, err := Compile(x, cols)
		if err != nil {
			return
		}
		for r, row := range rows {
			v, err := func() (v types.Value, err error) {
				defer func() {
					if p := recover(); p != nil {
						err = fmt.Errorf("PANIC %v", p)
					}
				}()
				return e.Eval(row)
			}()
			if err != nil && strings.HasPrefix(err.Error(), "PANIC") {
				t.Errorf("%s (row %d): %v", src, r, err)
			}
			if err == nil && !v.IsNull() && v.Kind() != e.Type() && mismatch < 50 {
				mismatch++
				t.Errorf("%s (row %d): node type %s, value kind %s (%s)", src, r, e.Type(), v.Kind(), v)
			}
		}
	}
	eval := func(src string) { evalIn(src, cols, rows) }

	// 1. The differential corpus, over this sweep's columns renamed.
	for _, src := range diffExprs {
		if src = strings.TrimSpace(src); src != "" {
			evalIn(src, dcols, []types.Row{drow})
		}
	}
	// 2. Operators over every pair of kinds.
	ops := []string{"+", "-", "*", "/", "%", "^", "=", "<>", "<", "<=", ">", ">=", "||", "&", "|", "#", "<<", ">>",
		"->", "->>", "@>", "<@", "?", "IS DISTINCT FROM", "IS NOT DISTINCT FROM", "LIKE", "AND", "OR"}
	for _, a := range kindSamples {
		eval("-" + a.name)
		eval("~" + a.name)
		eval("NOT " + a.name)
		eval("@" + a.name)
		eval(a.name + " IS TRUE")
		for _, b := range kindSamples {
			for _, op := range ops {
				eval(a.name + " " + op + " " + b.name)
			}
			eval("coalesce(" + a.name + ", " + b.name + ")")
			eval("greatest(" + a.name + ", " + b.name + ")")
			eval("least(" + a.name + ", " + b.name + ")")
			eval("nullif(" + a.name + ", " + b.name + ")")
			eval("CASE WHEN bo THEN " + a.name + " ELSE " + b.name + " END")
			eval(a.name + " IN (" + b.name + ", " + a.name + ")")
			eval(a.name + " BETWEEN " + b.name + " AND " + a.name)
			eval("concat(" + a.name + ", " + b.name + ")")
			eval("to_jsonb(" + a.name + ")")
			eval("jsonb_build_object('k', " + a.name + ", 'l', " + b.name + ")")
		}
		// Casts to every type, and literals of several kinds.
		for _, to := range []string{"boolean", "smallint", "integer", "bigint", "double precision", "numeric", "numeric(5,1)",
			"text", "varchar(3)", "bytea", "timestamp", "timestamptz", "date", "interval", "jsonb"} {
			eval("CAST(" + a.name + " AS " + to + ")")
			eval("TRY_CAST(" + a.name + " AS " + to + ")")
		}
		for _, lit := range []string{"1", "2.5", "1.5e0", "'3'", "NULL", "TRUE", "INTERVAL '1' DAY", "DATE '2020-01-01'"} {
			for _, op := range []string{"+", "-", "*", "/", "=", "<", "||"} {
				eval(a.name + " " + op + " " + lit)
				eval(lit + " " + op + " " + a.name)
			}
		}
	}
	// 3. Every function name, with one and two columns of every kind.
	var names []string
	for name := range overloads {
		names = append(names, name)
	}
	for name := range specials {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if name == "now" || name == "random" || strings.Contains(name, "timestamp") && strings.Contains(name, "current") {
			continue
		}
		for _, a := range kindSamples {
			eval(name + "(" + a.name + ")")
			for _, b := range kindSamples {
				eval(name + "(" + a.name + ", " + b.name + ")")
			}
		}
	}
	// 4. Overload implementations called directly with values of exactly
	// their argument kinds.
	samples := map[types.Kind][]types.Value{}
	for i, s := range kindSamples {
		for r := 0; r < 3; r++ {
			samples[s.kind] = append(samples[s.kind], rows[r][i])
		}
	}
	for _, name := range names {
		for oi, ov := range overloads[name] {
			if ov.volatile {
				continue
			}
			kinds := append([]types.Kind(nil), ov.args...)
			if ov.variadic != 0 {
				kinds = append(kinds, ov.variadic)
			}
			var rec func(args []types.Value)
			rec = func(args []types.Value) {
				if len(args) == len(kinds) {
					v, err := func() (v types.Value, err error) {
						defer func() {
							if p := recover(); p != nil {
								err = fmt.Errorf("PANIC %v", p)
							}
						}()
						switch {
						case ov.fn1 != nil:
							return ov.fn1(args[0])
						case ov.fn2 != nil:
							return ov.fn2(args[0], args[1])
						case ov.fn3 != nil:
							return ov.fn3(args[0], args[1], args[2])
						}
						return ov.fn(append([]types.Value(nil), args...))
					}()
					if err != nil && strings.HasPrefix(err.Error(), "PANIC") {
						t.Errorf("%s#%d%v: %v", name, oi, args, err)
					}
					if err == nil && !v.IsNull() && v.Kind() != ov.ret && mismatch < 50 {
						mismatch++
						t.Errorf("%s#%d%v: returns %s, declared %s", name, oi, args, v.Kind(), ov.ret)
					}
					return
				}
				for _, v := range samples[kinds[len(args)]] {
					rec(append(args, v))
				}
			}
			rec(nil)
		}
	}
}
