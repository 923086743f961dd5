package expr

import (
	"strings"

	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/types"
)

// overload is one signature of a strict function: NULL in any argument
// gives NULL without calling the implementation.
//
// Exactly one implementation is set. fn1, fn2 and fn3 take a fixed number
// of arguments by value, so calling them allocates nothing; fn takes a
// slice, which escapes to the heap on every call (the compiler cannot see
// through a function value), and is for the rest: no arguments, more than
// three, or a variadic tail. register checks that the implementation fits
// the signature.
type overload struct {
	args     []types.Kind
	variadic types.Kind // 0: none; else extra args of this kind
	ret      types.Kind
	fn1      func(a types.Value) (types.Value, error)
	fn2      func(a, b types.Value) (types.Value, error)
	fn3      func(a, b, c types.Value) (types.Value, error)
	fn       func(args []types.Value) (types.Value, error)
	volatile bool // depends on more than its arguments (the clock)
}

// arity is the number of arguments of a fixed-arity implementation, or -1
// for fn.
func (ov *overload) arity() int {
	n, set := -1, 0
	if ov.fn1 != nil {
		n, set = 1, set+1
	}
	if ov.fn2 != nil {
		n, set = 2, set+1
	}
	if ov.fn3 != nil {
		n, set = 3, set+1
	}
	if ov.fn != nil {
		set++
	}
	if set != 1 {
		return -2
	}
	return n
}

// special builds a function that is not a plain strict overload
// (COALESCE, concat, now(), ...). It returns nil, nil to leave the call
// to the name's overloads (substring(s, pattern) is special, substring(s,
// i) an overload).
type special func(c *compiler, f *ast.Func, args []*node) (*node, error)

var (
	overloads = map[string][]overload{}
	specials  = map[string]special{}
)

func register(name string, ovs ...overload) {
	for _, ov := range ovs {
		switch n := ov.arity(); {
		case n == -2:
			panic("expr: overload of " + name + " needs exactly one implementation")
		case n > 0 && (ov.variadic != 0 || len(ov.args) != n):
			panic("expr: overload of " + name + " has an implementation of the wrong arity")
		}
	}
	overloads[name] = append(overloads[name], ovs...)
}

func k(ks ...types.Kind) []types.Kind { return ks }

const (
	tBool  = types.KindBool
	tInt2  = types.KindInt2
	tInt4  = types.KindInt4
	tInt8  = types.KindInt8
	tFloat = types.KindFloat8
	tNum   = types.KindNumeric
	tText  = types.KindText
	tBytea = types.KindBytea
	tTS    = types.KindTimestamp
	tTSTZ  = types.KindTimestampTZ
	tDate  = types.KindDate
	tIv    = types.KindInterval
	tJSON  = types.KindJSON
)

func (c *compiler) call(f *ast.Func) (*node, error) {
	name := strings.ToLower(string(f.Name))
	if f.Star || f.Distinct || f.Filter != nil {
		return nil, errorf(f.Pos, codeFeature, "aggregate %s(...) is not allowed here", name)
	}
	args := make([]*node, len(f.Args))
	for i, a := range f.Args {
		n, err := c.compile(a)
		if err != nil {
			return nil, err
		}
		args[i] = n
	}
	if sp, ok := specials[name]; ok {
		if n, err := sp(c, f, args); n != nil || err != nil {
			return n, err
		}
	}
	ovs, ok := overloads[name]
	if !ok {
		return nil, c.noFunction(f, name, args)
	}
	best, bestCost := -1, 1<<30
	for i, ov := range ovs {
		cost, ok := matchCost(ov, args)
		if ok && cost < bestCost {
			best, bestCost = i, cost
		}
	}
	if best < 0 {
		return nil, c.noFunction(f, name, args)
	}
	ov := ovs[best]
	for i, a := range args {
		want := ov.variadic
		if i < len(ov.args) {
			want = ov.args[i]
		}
		n, err := c.coerce(a, want)
		if err != nil {
			return nil, err
		}
		args[i] = n
	}
	return c.strictCall(f.Pos, ov, args), nil
}

func matchCost(ov overload, args []*node) (int, bool) {
	if len(args) < len(ov.args) || (ov.variadic == 0 && len(args) != len(ov.args)) {
		return 0, false
	}
	cost := 0
	for i, a := range args {
		want := ov.variadic
		if i < len(ov.args) {
			want = ov.args[i]
		}
		switch {
		case a.unknown:
			if want != tText {
				cost++
			}
		case a.typ == want || a.typ == types.KindNull:
		case canImplicit(a.typ, want):
			// Postgres prefers double precision and timestamptz, the
			// preferred types of their categories.
			cost += 10
			if want != tFloat && want != tTSTZ {
				cost++
			}
		default:
			return 0, false
		}
	}
	return cost, true
}

func (c *compiler) noFunction(f *ast.Func, name string, args []*node) *Error {
	ks := make([]types.Kind, len(args))
	for i, a := range args {
		ks[i] = a.typ
		if a.unknown {
			ks[i] = types.KindNull
		}
	}
	e := errorf(f.Pos, codeUndefinedFunction, "function %s(%s) does not exist", name, typeNames(ks))
	if _, ok := overloads[name]; ok {
		e.Hint = "No function matches the given name and argument types. You might need to add explicit type casts."
	} else {
		e.Hint = "No function matches the given name. See the list of supported functions in the expr package documentation."
	}
	return e
}

// strictCall compiles a call of a strict overload. Calls of fn1–fn3 keep
// their arguments in registers and on the stack; fn gets a slice that
// escapes, one allocation per call.
func (c *compiler) strictCall(pos ast.Pos, ov overload, args []*node) *node {
	null := types.Null(ov.ret)
	var fn evalFn
	switch ov.arity() {
	case 1:
		impl, af := ov.fn1, args[0].fn
		fn = func(row types.Row) (types.Value, error) {
			a, err := af(row)
			if err != nil || a.IsNull() {
				return nullOr(a, null, err)
			}
			return impl(a)
		}
	case 2:
		impl, af, bf := ov.fn2, args[0].fn, args[1].fn
		fn = func(row types.Row) (types.Value, error) {
			a, err := af(row)
			if err != nil || a.IsNull() {
				return nullOr(a, null, err)
			}
			b, err := bf(row)
			if err != nil || b.IsNull() {
				return nullOr(b, null, err)
			}
			return impl(a, b)
		}
	case 3:
		impl, af, bf, cf := ov.fn3, args[0].fn, args[1].fn, args[2].fn
		fn = func(row types.Row) (types.Value, error) {
			a, err := af(row)
			if err != nil || a.IsNull() {
				return nullOr(a, null, err)
			}
			b, err := bf(row)
			if err != nil || b.IsNull() {
				return nullOr(b, null, err)
			}
			cv, err := cf(row)
			if err != nil || cv.IsNull() {
				return nullOr(cv, null, err)
			}
			return impl(a, b, cv)
		}
	default:
		fns := fnsOf(args)
		impl := ov.fn
		fn = func(row types.Row) (types.Value, error) {
			vals := make([]types.Value, 0, len(fns))
			for _, f := range fns {
				v, err := f(row)
				if err != nil || v.IsNull() {
					return nullOr(v, null, err)
				}
				vals = append(vals, v)
			}
			return impl(vals)
		}
	}
	if ov.volatile {
		return &node{typ: ov.ret, fn: fn, pos: pos, col: -1}
	}
	return c.newNode(ov.ret, pos, fn, args...)
}

// nullOr is what a strict call returns when evaluating an argument gave v
// and err: v with the error, else the typed NULL.
func nullOr(v, null types.Value, err error) (types.Value, error) {
	if err != nil {
		return v, err
	}
	return null, nil
}

func init() {
	specials["coalesce"] = func(c *compiler, f *ast.Func, args []*node) (*node, error) {
		if len(args) == 0 {
			return nil, errorf(f.Pos, codeSyntaxError, "syntax error: COALESCE needs arguments")
		}
		k, err := commonType("COALESCE", f.Pos, args...)
		if err != nil {
			return nil, err
		}
		if k == types.KindNull {
			k = types.KindText
		}
		if err := c.coerceAll(args, k); err != nil {
			return nil, err
		}
		fns := fnsOf(args)
		null := types.Null(k)
		return c.newNode(k, f.Pos, func(row types.Row) (types.Value, error) {
			for _, g := range fns {
				v, err := g(row)
				if err != nil || !v.IsNull() {
					return v, err
				}
			}
			return null, nil
		}, args...), nil
	}
	specials["nullif"] = func(c *compiler, f *ast.Func, args []*node) (*node, error) {
		if len(args) != 2 {
			return nil, errorf(f.Pos, codeUndefinedFunction, "function nullif requires 2 arguments")
		}
		l, r, err := c.comparable(f.Pos, "=", args[0], args[1])
		if err != nil {
			return nil, err
		}
		// The result has the first argument's type.
		k := args[0].typ
		if args[0].unknown || k == types.KindNull {
			k = l.typ
		}
		// Postgres has = across integer widths but not between an integer
		// and numeric or double (nor numeric and double): the first
		// argument is promoted, and so is the result (NULLIF(1, 2.0) is
		// numeric).
		if k.IsNumeric() && (!k.IsInteger() || !l.typ.IsInteger()) && numericRank(l.typ) > numericRank(k) {
			k = l.typ
		}
		if l, err = c.coerce(args[0], k); err != nil {
			l, _ = c.coerce(args[0], r.typ)
		}
		cmp := comparator(l.typ, r.typ)
		lf, rf := l.fn, r.fn
		null := types.Null(l.typ)
		return c.newNode(l.typ, f.Pos, func(row types.Row) (types.Value, error) {
			a, err := lf(row)
			if err != nil || a.IsNull() {
				return a, err
			}
			b, err := rf(row)
			if err != nil {
				return b, err
			}
			if !b.IsNull() && cmp(a, b) == 0 {
				return null, nil
			}
			return a, nil
		}, l, r), nil
	}
	minMax := func(greatest bool) special {
		return func(c *compiler, f *ast.Func, args []*node) (*node, error) {
			what := "LEAST"
			if greatest {
				what = "GREATEST"
			}
			if len(args) == 0 {
				return nil, errorf(f.Pos, codeSyntaxError, "%s needs arguments", what)
			}
			k, err := commonType(what, f.Pos, args...)
			if err != nil {
				return nil, err
			}
			if k == types.KindNull {
				k = types.KindText
			}
			if err := c.coerceAll(args, k); err != nil {
				return nil, err
			}
			fns := fnsOf(args)
			cmp := comparator(k, k)
			null := types.Null(k)
			return c.newNode(k, f.Pos, func(row types.Row) (types.Value, error) {
				best := null
				for _, g := range fns {
					v, err := g(row)
					if err != nil {
						return v, err
					}
					if v.IsNull() {
						continue
					}
					if best.IsNull() || (cmp(v, best) > 0) == greatest && cmp(v, best) != 0 {
						best = v
					}
				}
				return best, nil
			}, args...), nil
		}
	}
	specials["greatest"] = minMax(true)
	specials["least"] = minMax(false)
}

func fnsOf(ns []*node) []evalFn {
	fns := make([]evalFn, len(ns))
	for i, n := range ns {
		fns[i] = n.fn
	}
	return fns
}
