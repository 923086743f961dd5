package plan

import (
	"fmt"

	"github.com/tide-data/tide/internal/sql/ast"
)

// flattenSubqueries merges a subquery in FROM into the query that reads
// it, at any depth (what planners call view merging): a subquery that
// does not aggregate has columns that are expressions over what it reads
// (a window table function's bounds included), so the outer query's
// references to them become those expressions, its WHERE goes before the
// outer one, and its FROM becomes the outer FROM. The pipeline then runs
// one compiled query, as if it had been written flat. A window table
// function over a query is first turned into such a subquery
// (windowOverQuery). A subquery that aggregates is planned by the callers
// (an aggregation or top-N over it); one that keys its rows or uses
// DISTINCT is refused.
func flattenSubqueries(q *ast.Select, lookup func(string) (*Source, bool), opts Options) (*ast.Select, error) {
	from, err := windowOverQuery(q.From, lookup, opts)
	if err != nil {
		return nil, err
	}
	if from != q.From {
		c := *q
		c.From = from
		q = &c
	}
	if q, err = mergeTableJoinSide(q, lookup, opts); err != nil {
		return nil, err
	}
	sub, ok := q.From.(*ast.Subquery)
	if !ok {
		return q, nil
	}
	if sub.Query.UnionAll != nil {
		return nil, unsupported(sub.Pos, "a UNION ALL in a subquery in FROM is supported only under queries that filter and project its rows, or in the FROM of the sink's own query when that query groups",
			"aggregate the union's rows in the sink's query and write that to a topic, then filter, rank or aggregate again in another sink")
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
	aggregating := len(inner.GroupBy) > 0 || inner.Having != nil || aggregatesAny(inner)
	plain := len(q.GroupBy) == 0 && q.Having == nil && !aggregatesAny(q) && !q.Distinct
	if aggregating && plain && !inner.Distinct {
		return mergeAggregating(q, sub, inner, lookup, opts)
	}
	// A subquery over a window table function merges as any other: the
	// window becomes the outer query's, which must then group by it (a
	// window without GROUP BY is refused there).
	if inner.Distinct || aggregating || inner.Key != nil {
		return nil, unsupported(sub.Pos, "subqueries in FROM that aggregate, key or use DISTINCT are not supported here",
			"aggregate in the outer query, or write the subquery's results to a topic with one sink and read them with another")
	}
	_, items, err := subqueryItems(inner, lookup, opts)
	if err != nil {
		return nil, err
	}
	rewrite := subqueryColumns(string(sub.Alias), items)
	out := *q
	out.From = inner.From
	if out.Items, err = outerItems(q.Items, string(sub.Alias), items, rewrite); err != nil {
		return nil, err
	}
	if out.Where, err = rewrite(q.Where); err != nil {
		return nil, err
	}
	out.Where = andThen(inner.Where, out.Where)
	if err := rewriteAfterWhere(&out, q, rewrite); err != nil {
		return nil, err
	}
	return &out, nil
}

// rewriteAfterWhere sets out's GROUP BY, HAVING and KEY BY to q's, each
// rewritten (a subquery's columns into its expressions).
func rewriteAfterWhere(out, q *ast.Select, rewrite func(ast.Expr) (ast.Expr, error)) error {
	var err error
	out.GroupBy = make([]ast.Expr, len(q.GroupBy))
	for i, g := range q.GroupBy {
		if out.GroupBy[i], err = rewriteGroupBy(g, rewrite); err != nil {
			return err
		}
	}
	if out.Having, err = rewrite(q.Having); err != nil {
		return err
	}
	out.Key, err = rewrite(q.Key)
	return err
}

// mergeAggregating merges a query that filters and projects the rows of
// an aggregating subquery into it: its select list and KEY BY become the
// aggregation's, over the subquery's columns (each the expression the
// subquery selects, aggregates included), and its WHERE a conjunct of
// HAVING — which filters the aggregated rows as the outer WHERE would,
// a group's row leaving an updating result when it no longer passes.
// The subquery's GROUP BY items that name its outputs or their positions
// are resolved first, since its select list is replaced.
func mergeAggregating(q *ast.Select, sub *ast.Subquery, inner *ast.Select, lookup func(string) (*Source, bool), opts Options) (*ast.Select, error) {
	if inner.Key != nil && q.Key != nil {
		return nil, unsupported(sub.Pos, "KEY BY in both a query and its aggregating subquery", "key the outer query's rows only")
	}
	in, items, err := subqueryItems(inner, lookup, opts)
	if err != nil {
		return nil, err
	}
	out := *inner
	grouping := &aggPlanner{in: in, items: items}
	out.GroupBy = make([]ast.Expr, len(inner.GroupBy))
	for i, g := range inner.GroupBy {
		if out.GroupBy[i], err = grouping.resolveGroupBy(g); err != nil {
			return nil, err
		}
	}
	rewrite := subqueryColumns(string(sub.Alias), items)
	if out.Items, err = outerItems(q.Items, string(sub.Alias), items, rewrite); err != nil {
		return nil, err
	}
	where, err := rewrite(q.Where)
	if err != nil {
		return nil, err
	}
	out.Having = andThen(inner.Having, where)
	if q.Key != nil {
		if out.Key, err = rewrite(q.Key); err != nil {
			return nil, err
		}
	}
	return &out, nil
}

// subqueryItems resolves a subquery's FROM and its select list, stars
// expanded.
func subqueryItems(inner *ast.Select, lookup func(string) (*Source, bool), opts Options) (*input, []selectItem, error) {
	in, err := resolveFrom(inner.From, lookup, opts)
	if err != nil {
		return nil, nil, err
	}
	items, err := in.expandItems(inner.Items)
	return in, items, err
}

// andThen is a subquery's condition followed by the outer query's, either
// possibly nil: (first) IS TRUE AND then. AND stops at a false left
// side, so the outer condition is never evaluated (nor its errors
// raised) on rows the subquery's drops — NULL included.
func andThen(first, then ast.Expr) ast.Expr {
	switch {
	case first == nil:
		return then
	case then == nil:
		return first
	}
	isTrue := true
	return &ast.Binary{Pos: first.Position(), Op: "AND", L: &ast.IsBool{Pos: first.Position(), X: first, Value: &isTrue}, R: then}
}

// subqueryColumns returns the rewrite of an outer query's expressions
// over a subquery's columns (alias.name, or name) into the expressions
// the subquery selects (items).
func subqueryColumns(alias string, items []selectItem) func(ast.Expr) (ast.Expr, error) {
	columns := map[string]ast.Expr{}
	ambiguous := map[string]bool{}
	for _, it := range items {
		if _, dup := columns[it.name]; dup {
			ambiguous[it.name] = true
		}
		columns[it.name] = it.expr
	}
	return func(e ast.Expr) (ast.Expr, error) {
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
}

// outerItems is an outer query's select list over a subquery's columns
// (items), rewritten into the subquery's expressions, each named as the
// outer query names it; a star is every column of the subquery.
func outerItems(list []ast.SelectItem, alias string, items []selectItem, rewrite func(ast.Expr) (ast.Expr, error)) ([]ast.SelectItem, error) {
	var out []ast.SelectItem
	for _, it := range list {
		if it.Star {
			if it.StarTable != "" && string(it.StarTable) != alias {
				return nil, errorf(it.Pos, "missing FROM-clause entry for table %q", it.StarTable)
			}
			for _, c := range items {
				out = append(out, ast.SelectItem{Pos: it.Pos, Expr: c.expr, Alias: ast.Ident(c.name)})
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
		out = append(out, ast.SelectItem{Pos: it.Pos, Expr: e, Alias: name})
	}
	return out, nil
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
