package expr

import (
	"strings"

	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/types"
)

// overload is one signature of a strict function: NULL in any argument
// gives NULL without calling fn.
type overload struct {
	args      []types.Kind
	variadic  types.Kind // 0: none; else extra args of this kind
	ret       types.Kind
	fn        func(args []types.Value) (types.Value, error)
	volatile  bool // depends on more than its arguments (the clock)
	nonStrict bool
}

// special builds a function that is not a plain strict overload
// (COALESCE, concat, now(), ...).
type special func(c *compiler, f *ast.Func, args []*node) (*node, error)

var (
	overloads = map[string][]overload{}
	specials  = map[string]special{}
)

func register(name string, ovs ...overload) {
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
		return sp(c, f, args)
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

// strictCall evaluates args into a fixed array (no allocation for up to
// four arguments) and calls the overload.
func (c *compiler) strictCall(pos ast.Pos, ov overload, args []*node) *node {
	fns := make([]evalFn, len(args))
	for i, a := range args {
		fns[i] = a.fn
	}
	null := types.Null(ov.ret)
	impl, strict := ov.fn, !ov.nonStrict
	fn := func(row types.Row) (types.Value, error) {
		var buf [4]types.Value
		vals := buf[:0]
		for _, f := range fns {
			v, err := f(row)
			if err != nil {
				return v, err
			}
			if strict && v.IsNull() {
				return null, nil
			}
			vals = append(vals, v)
		}
		return impl(vals)
	}
	if ov.volatile {
		return &node{typ: ov.ret, fn: fn, pos: pos, col: -1}
	}
	return c.newNode(ov.ret, pos, fn, args...)
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
