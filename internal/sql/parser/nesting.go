package parser

import "github.com/tide-data/tide/internal/sql/ast"

// Two limits keep hostile input from exhausting the stack while
// guaranteeing that whatever parses also parses after a round trip
// through ast.Format (statements are persisted as their Format text):
//
//   - maxDepth bounds the parser's recursion on any input, parentheses
//     included;
//   - maxNesting bounds the nesting of the tree as Format prints it, where
//     each level costs the parser at most 3 recursion steps.
//
// Since 3*maxNesting plus the few steps of a statement's frame stays
// below maxDepth, the formatted text of an accepted tree never hits
// maxDepth. Left-leaning chains of one operator (a OR b OR c ...) print
// flat and do not count, so long generated chains are fine.
const (
	maxDepth   = 1000
	maxNesting = 300
)

// checkNesting fails if n nests deeper than maxNesting.
func (p *parser) checkNesting(n ast.Node) {
	var d int
	switch n := n.(type) {
	case ast.Statement:
		d = stmtNesting(n)
	case ast.Expr:
		d = exprNesting(n)
	}
	if d > maxNesting {
		p.fail(&Error{Pos: n.Position(), Msg: "statement too deeply nested"})
	}
}

func stmtNesting(s ast.Statement) int {
	switch s := s.(type) {
	case *ast.CreateSource:
		if s.Watermark != nil {
			return 1 + exprNesting(s.Watermark.Expr)
		}
	case *ast.CreateSink:
		return 1 + selectNesting(s.Query)
	case *ast.Explain:
		return 1 + stmtNesting(s.Statement)
	case *ast.Select:
		return selectNesting(s)
	}
	return 1
}

func selectNesting(s *ast.Select) int {
	if s == nil {
		return 0
	}
	d := 0
	for _, item := range s.Items {
		d = max(d, exprNesting(item.Expr))
	}
	d = max(d, tableNesting(s.From), exprNesting(s.Where), exprNesting(s.Having), exprNesting(s.Key))
	for _, e := range s.GroupBy {
		d = max(d, exprNesting(e))
	}
	return 1 + d
}

func tableNesting(t ast.TableExpr) int {
	switch t := t.(type) {
	case *ast.TableFunc:
		d := 0
		for _, a := range t.Args {
			d = max(d, exprNesting(a.Expr))
			if a.Query != nil { // TABLE (query)
				d = max(d, selectNesting(a.Query))
			}
		}
		return 1 + d
	case *ast.Join:
		// The left spine prints flat; each right side is one level in.
		d := 0
		for {
			d = max(d, 1+tableNesting(t.Right), exprNesting(t.On))
			left, ok := t.Left.(*ast.Join)
			if !ok {
				return 1 + max(d, tableNesting(t.Left))
			}
			t = left
		}
	case *ast.Subquery:
		return 1 + selectNesting(t.Query)
	case nil:
		return 0
	}
	return 1
}

func exprNesting(e ast.Expr) int {
	switch e := e.(type) {
	case nil:
		return 0
	case *ast.Binary:
		// Walk the left spine of one operator iteratively: it prints flat.
		d := 0
		for {
			d = max(d, exprNesting(e.R))
			left, ok := e.L.(*ast.Binary)
			if !ok || left.Op != e.Op || comparisonOps[e.Op] != "" {
				return 1 + max(d, exprNesting(e.L))
			}
			e = left
		}
	case *ast.Unary:
		return 1 + exprNesting(e.X)
	case *ast.Like:
		return 1 + max(exprNesting(e.X), exprNesting(e.Pattern), exprNesting(e.Escape))
	case *ast.Between:
		return 1 + max(exprNesting(e.X), exprNesting(e.Lo), exprNesting(e.Hi))
	case *ast.In:
		return 1 + max(exprNesting(e.X), listNesting(e.List))
	case *ast.IsNull:
		return 1 + exprNesting(e.X)
	case *ast.IsBool:
		return 1 + exprNesting(e.X)
	case *ast.IsDistinct:
		return 1 + max(exprNesting(e.L), exprNesting(e.R))
	case *ast.Case:
		d := max(exprNesting(e.Operand), exprNesting(e.Else))
		for _, w := range e.Whens {
			d = max(d, exprNesting(w.Cond), exprNesting(w.Result))
		}
		return 1 + d
	case *ast.Cast:
		return 1 + exprNesting(e.X)
	case *ast.Func:
		d := max(listNesting(e.Args), exprNesting(e.Filter))
		if e.Over != nil {
			d = max(d, listNesting(e.Over.PartitionBy))
			for _, it := range e.Over.OrderBy {
				d = max(d, exprNesting(it.X))
			}
		}
		return 1 + d
	case *ast.Extract:
		return 1 + exprNesting(e.X)
	}
	return 1
}

func listNesting(list []ast.Expr) int {
	d := 0
	for _, e := range list {
		d = max(d, exprNesting(e))
	}
	return d
}
