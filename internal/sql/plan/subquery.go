package plan

import (
	"fmt"

	"github.com/tide-data/tide/internal/sql/ast"
)

// flattenSubqueries merges a subquery in FROM into the query that reads
// it, at any depth (what planners call view merging): a subquery that
// neither aggregates nor windows has columns that are expressions over
// what it reads, so the outer query's references to them become those
// expressions, its WHERE goes before the outer one, and its FROM becomes
// the outer FROM. The pipeline then runs one compiled query, as if it
// had been written flat. A subquery that aggregates, windows or keys its
// rows is not merged: a pipeline over its results is a second sink
// reading the first one's topic, for now.
func flattenSubqueries(q *ast.Select, lookup func(string) (*Source, bool), opts Options) (*ast.Select, error) {
	sub, ok := q.From.(*ast.Subquery)
	if !ok {
		return q, nil
	}
	if sub.Query.UnionAll != nil {
		return nil, unsupported(sub.Pos, "UNION ALL in a subquery in FROM is not supported yet", "write the UNION ALL at the top of the sink's query, each query selecting what the outer one would")
	}
	inner, err := flattenSubqueries(sub.Query, lookup, opts)
	if err != nil {
		return nil, err
	}
	if inner.From == nil {
		return nil, errorf(sub.Pos, "a subquery in FROM needs FROM source")
	}
	for _, e := range itemExprs(inner.Items) {
		if f := findOver(e); f != nil {
			return nil, unsupported(f.Pos, "a top-N's subquery is read by the query right around it, which filters on its rank", topNHint)
		}
	}
	if _, win := inner.From.(*ast.TableFunc); win || inner.Distinct || len(inner.GroupBy) > 0 || inner.Having != nil || inner.Key != nil || aggregatesAny(inner) {
		return nil, unsupported(sub.Pos, "subqueries in FROM that aggregate, window, key or use DISTINCT are not supported yet",
			"aggregate in the outer query, or write the subquery's results to a topic with one sink and read them with another")
	}
	in, err := resolveFrom(inner.From, lookup, opts)
	if err != nil {
		return nil, err
	}
	items, err := in.expandItems(inner.Items)
	if err != nil {
		return nil, err
	}
	alias := string(sub.Alias)
	columns := map[string]ast.Expr{}
	ambiguous := map[string]bool{}
	for _, it := range items {
		if _, dup := columns[it.name]; dup {
			ambiguous[it.name] = true
		}
		columns[it.name] = it.expr
	}
	rewrite := func(e ast.Expr) (ast.Expr, error) {
		return rewriteExpr(e, func(x ast.Expr) (ast.Expr, error) {
			ref, ok := x.(*ast.ColumnRef)
			if !ok {
				return nil, nil
			}
			if ref.Table != "" && string(ref.Table) != alias {
				return nil, errorf(ref.Pos, "missing FROM-clause entry for table %q", ref.Table)
			}
			col, ok := columns[string(ref.Name)]
			switch {
			case !ok:
				return nil, &Error{Pos: ref.Pos, Msg: fmt.Sprintf("column %q does not exist", ref.Name),
					Hint: "a query reads the columns its subquery selects; select it there too"}
			case ambiguous[string(ref.Name)]:
				return nil, errorf(ref.Pos, "column reference %q is ambiguous", ref.Name)
			}
			return col, nil
		})
	}
	out := *q
	out.From = inner.From
	out.Items = nil
	for _, it := range q.Items {
		if it.Star {
			if it.StarTable != "" && string(it.StarTable) != alias {
				return nil, errorf(it.Pos, "missing FROM-clause entry for table %q", it.StarTable)
			}
			for _, c := range items {
				out.Items = append(out.Items, ast.SelectItem{Pos: it.Pos, Expr: c.expr, Alias: ast.Ident(c.name)})
			}
			continue
		}
		e, err := rewrite(it.Expr)
		if err != nil {
			return nil, err
		}
		name := it.Alias
		if name == "" {
			name = ast.Ident(outputName(it.Expr)) // the name the outer query gives it
		}
		out.Items = append(out.Items, ast.SelectItem{Pos: it.Pos, Expr: e, Alias: name})
	}
	if out.Where, err = rewrite(q.Where); err != nil {
		return nil, err
	}
	if inner.Where != nil {
		if out.Where == nil {
			out.Where = inner.Where
		} else {
			// (inner) IS TRUE AND outer: AND stops at a false left side,
			// so the outer condition is never evaluated (nor its errors
			// raised) on rows the subquery's WHERE drops — NULL included.
			isTrue := true
			first := &ast.IsBool{Pos: inner.Where.Position(), X: inner.Where, Value: &isTrue}
			out.Where = &ast.Binary{Pos: inner.Where.Position(), Op: "AND", L: first, R: out.Where}
		}
	}
	out.GroupBy = make([]ast.Expr, len(q.GroupBy))
	for i, g := range q.GroupBy {
		if out.GroupBy[i], err = rewriteGroupBy(g, rewrite); err != nil {
			return nil, err
		}
	}
	if out.Having, err = rewrite(q.Having); err != nil {
		return nil, err
	}
	if out.Key, err = rewrite(q.Key); err != nil {
		return nil, err
	}
	return &out, nil
}

// rewriteGroupBy rewrites a GROUP BY item; a position (GROUP BY 1) stays
// as it is: it names an output, not a column.
func rewriteGroupBy(g ast.Expr, rewrite func(ast.Expr) (ast.Expr, error)) (ast.Expr, error) {
	if _, ok := g.(*ast.NumberLit); ok {
		return g, nil
	}
	return rewrite(g)
}

// aggregatesAny reports whether q's select list calls an aggregate.
func aggregatesAny(q *ast.Select) bool {
	for _, it := range q.Items {
		if it.Expr != nil && findAggregate(it.Expr) != nil {
			return true
		}
	}
	return false
}
