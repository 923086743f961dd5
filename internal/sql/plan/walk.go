package plan

import "github.com/tide-data/tide/internal/sql/ast"

// walkExpr calls fn for e and every expression below it, parents first.
func walkExpr(e ast.Expr, fn func(ast.Expr)) {
	if e == nil {
		return
	}
	fn(e)
	switch x := e.(type) {
	case *ast.Unary:
		walkExpr(x.X, fn)
	case *ast.Binary:
		walkExpr(x.L, fn)
		walkExpr(x.R, fn)
	case *ast.Like:
		walkExpr(x.X, fn)
		walkExpr(x.Pattern, fn)
		walkExpr(x.Escape, fn)
	case *ast.Between:
		walkExpr(x.X, fn)
		walkExpr(x.Lo, fn)
		walkExpr(x.Hi, fn)
	case *ast.In:
		walkExpr(x.X, fn)
		for _, y := range x.List {
			walkExpr(y, fn)
		}
	case *ast.IsNull:
		walkExpr(x.X, fn)
	case *ast.IsBool:
		walkExpr(x.X, fn)
	case *ast.IsDistinct:
		walkExpr(x.L, fn)
		walkExpr(x.R, fn)
	case *ast.Case:
		walkExpr(x.Operand, fn)
		for _, w := range x.Whens {
			walkExpr(w.Cond, fn)
			walkExpr(w.Result, fn)
		}
		walkExpr(x.Else, fn)
	case *ast.Cast:
		walkExpr(x.X, fn)
	case *ast.Func:
		for _, y := range x.Args {
			walkExpr(y, fn)
		}
		walkExpr(x.Filter, fn)
	case *ast.Extract:
		walkExpr(x.X, fn)
	}
}
