package plan

import "github.com/tide-data/tide/internal/sql/ast"

// inspect calls fn for e and the expressions below it, parents first and
// left to right, as go/ast.Inspect does: when fn returns false, the
// children of that expression are skipped.
func inspect(e ast.Expr, fn func(ast.Expr) bool) {
	if e == nil || !fn(e) {
		return
	}
	switch x := e.(type) {
	case *ast.Unary:
		inspect(x.X, fn)
	case *ast.Binary:
		inspect(x.L, fn)
		inspect(x.R, fn)
	case *ast.Like:
		inspect(x.X, fn)
		inspect(x.Pattern, fn)
		inspect(x.Escape, fn)
	case *ast.Between:
		inspect(x.X, fn)
		inspect(x.Lo, fn)
		inspect(x.Hi, fn)
	case *ast.In:
		inspect(x.X, fn)
		for _, y := range x.List {
			inspect(y, fn)
		}
	case *ast.IsNull:
		inspect(x.X, fn)
	case *ast.IsBool:
		inspect(x.X, fn)
	case *ast.IsDistinct:
		inspect(x.L, fn)
		inspect(x.R, fn)
	case *ast.Case:
		inspect(x.Operand, fn)
		for _, w := range x.Whens {
			inspect(w.Cond, fn)
			inspect(w.Result, fn)
		}
		inspect(x.Else, fn)
	case *ast.Cast:
		inspect(x.X, fn)
	case *ast.Func:
		for _, y := range x.Args {
			inspect(y, fn)
		}
		inspect(x.Filter, fn)
		if x.Over != nil {
			for _, y := range x.Over.PartitionBy {
				inspect(y, fn)
			}
			for _, it := range x.Over.OrderBy {
				inspect(it.X, fn)
			}
		}
	case *ast.Extract:
		inspect(x.X, fn)
	}
}

// find returns the first expression in e, parents first, that match
// accepts, or nil.
func find[T ast.Expr](e ast.Expr, match func(T) bool) T {
	var found T
	done := false
	inspect(e, func(x ast.Expr) bool {
		if done {
			return false
		}
		if t, ok := x.(T); ok && match(t) {
			found, done = t, true
		}
		return !done
	})
	return found
}

// rewriteExpr returns a copy of e in which every expression that fn
// replaces (returns non-nil for) is replaced, without descending into
// it; below expressions fn leaves (returns nil for), it carries on. The
// nodes it does not change are shared with e, which stays unmodified.
// The first error fn returns stops the rewrite.
func rewriteExpr(e ast.Expr, fn func(ast.Expr) (ast.Expr, error)) (ast.Expr, error) {
	if e == nil {
		return nil, nil
	}
	if r, err := fn(e); err != nil || r != nil {
		return r, err
	}
	var err error
	sub := func(x ast.Expr) ast.Expr {
		if err != nil || x == nil {
			return x
		}
		var r ast.Expr
		r, err = rewriteExpr(x, fn)
		return r
	}
	list := func(xs []ast.Expr) []ast.Expr {
		if xs == nil {
			return nil
		}
		out := make([]ast.Expr, len(xs))
		for i, x := range xs {
			out[i] = sub(x)
		}
		return out
	}
	switch x := e.(type) {
	case *ast.Unary:
		c := *x
		c.X = sub(x.X)
		e = &c
	case *ast.Binary:
		c := *x
		c.L, c.R = sub(x.L), sub(x.R)
		e = &c
	case *ast.Like:
		c := *x
		c.X, c.Pattern, c.Escape = sub(x.X), sub(x.Pattern), sub(x.Escape)
		e = &c
	case *ast.Between:
		c := *x
		c.X, c.Lo, c.Hi = sub(x.X), sub(x.Lo), sub(x.Hi)
		e = &c
	case *ast.In:
		c := *x
		c.X, c.List = sub(x.X), list(x.List)
		e = &c
	case *ast.IsNull:
		c := *x
		c.X = sub(x.X)
		e = &c
	case *ast.IsBool:
		c := *x
		c.X = sub(x.X)
		e = &c
	case *ast.IsDistinct:
		c := *x
		c.L, c.R = sub(x.L), sub(x.R)
		e = &c
	case *ast.Case:
		c := *x
		c.Operand = sub(x.Operand)
		c.Whens = make([]ast.When, len(x.Whens))
		for i, w := range x.Whens {
			c.Whens[i] = ast.When{Pos: w.Pos, Cond: sub(w.Cond), Result: sub(w.Result)}
		}
		c.Else = sub(x.Else)
		e = &c
	case *ast.Cast:
		c := *x
		c.X = sub(x.X)
		e = &c
	case *ast.Func:
		c := *x
		c.Args, c.Filter = list(x.Args), sub(x.Filter)
		if x.Over != nil {
			over := *x.Over
			over.PartitionBy = list(x.Over.PartitionBy)
			over.OrderBy = make([]ast.OrderItem, len(x.Over.OrderBy))
			for i, it := range x.Over.OrderBy {
				it.X = sub(it.X)
				over.OrderBy[i] = it
			}
			c.Over = &over
		}
		e = &c
	case *ast.Extract:
		c := *x
		c.X = sub(x.X)
		e = &c
	}
	return e, err
}
