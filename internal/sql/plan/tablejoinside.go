package plan

import (
	"fmt"
	"slices"

	"github.com/tide-data/tide/internal/sql/ast"
)

// tableJoinChain returns the joins with tables of from, a stream joined
// with tables one after another, from the stream's outward — FROM (sub) o
// JOIN a ON … JOIN b ON … nests as ((sub JOIN a) JOIN b) — when the stream
// is a subquery, and that subquery; nil otherwise.
func tableJoinChain(from ast.TableExpr, lookup func(string) (*Source, bool)) ([]*ast.Join, *ast.Subquery) {
	var chain []*ast.Join
	for {
		j, ok := from.(*ast.Join)
		if !ok || !isTable(j.Right, lookup) {
			return nil, nil
		}
		chain = append([]*ast.Join{j}, chain...)
		if sub, ok := j.Left.(*ast.Subquery); ok {
			return chain, sub
		}
		from = j.Left
	}
}

// withStream rebuilds a chain of joins with tables (tableJoinChain) over
// another stream side.
func withStream(chain []*ast.Join, stream ast.TableExpr) ast.TableExpr {
	for _, j := range chain {
		join := *j
		join.Left = stream
		stream = &join
	}
	return stream
}

// mergeTableJoinSide merges a subquery on the stream side of a join with
// a table — FROM (SELECT … FROM s WHERE w) o [LEFT] JOIN t ON … — into the
// join: FROM s AS o [LEFT] JOIN t ON …, the outer query's references to
// o's columns replaced by the expressions the subquery selects (over s,
// qualified by o), and w the filter of the events before they are looked
// up (ast.Join.LeftWhere, plan.Join.StreamFilter). It returns q unchanged
// when its FROM is not such a join.
func mergeTableJoinSide(q *ast.Select, lookup func(string) (*Source, bool), opts Options) (*ast.Select, error) {
	chain, sub := tableJoinChain(q.From, lookup)
	if sub == nil {
		return q, nil
	}
	if sub.Query.UnionAll != nil { // not reached: distributeOverUnion runs the join over each query
		return nil, unsupported(sub.Pos, "a UNION ALL joined with a table is supported when the query around the join only filters and projects",
			"aggregate in a sink of its own over a topic the joined rows are written to")
	}
	inner, err := flattenSubqueries(sub.Query, lookup, opts)
	if err != nil {
		return nil, err
	}
	stream, isName := inner.From.(*ast.TableName)
	if !isName || !rowByRow(inner) || inner.Distinct || inner.Key != nil {
		return nil, unsupported(sub.Pos, "a subquery joined with a table must filter and project one source's rows (no GROUP BY, aggregate, DISTINCT, KEY BY, window or join) for now",
			"write that subquery's rows to a topic with a sink of their own, and join the topic with the table")
	}
	_, items, err := subqueryItems(inner, lookup, opts)
	if err != nil {
		return nil, err
	}
	alias := string(sub.Alias)
	if alias == "" {
		alias = string(stream.Name)
	}
	type joinedTable struct {
		alias string
		src   *Source
	}
	var tables []joinedTable
	for _, j := range chain {
		table := j.Right.(*ast.TableName)
		t := joinedTable{alias: string(table.Name)}
		if table.Alias != "" {
			t.alias = string(table.Alias)
		}
		if t.alias == alias {
			return nil, errorf(table.Pos, "table name %q specified more than once", alias)
		}
		t.src, _ = lookup(string(table.Name)) // found: isTable looked it up
		tables = append(tables, t)
	}
	// The subquery's expressions read its source's columns, which the
	// merged join names by the subquery's alias.
	qualify := func(e ast.Expr) (ast.Expr, error) {
		return rewriteExpr(e, func(x ast.Expr) (ast.Expr, error) {
			if ref, ok := x.(*ast.ColumnRef); ok {
				c := *ref
				c.Table = ast.Ident(alias)
				return &c, nil
			}
			return nil, nil
		})
	}
	columns := map[string]ast.Expr{}
	ambiguous := map[string]bool{}
	for _, it := range items {
		if _, dup := columns[it.name]; dup {
			ambiguous[it.name] = true
		}
		if columns[it.name], err = qualify(it.expr); err != nil {
			return nil, err
		}
	}
	// The joined row has the tables' declared columns (not their
	// metadata). scope is the tables an expression sees: all of them;
	// for a join's ON, as when the stream is no subquery, those joined
	// before it, then the join's own table for a name none of them has.
	rewriteIn := func(scope []joinedTable, own *joinedTable) func(ast.Expr) (ast.Expr, error) {
		// tablesWith are the aliases of the tables in scope with a column
		// name: a bare name two of them have is ambiguous.
		tablesWith := func(name string) []string {
			var out []string
			for _, t := range scope {
				if slices.ContainsFunc(t.src.Columns, func(c Column) bool { return c.Name == name }) {
					out = append(out, t.alias)
				}
			}
			return out
		}
		return func(e ast.Expr) (ast.Expr, error) {
			return rewriteExpr(e, func(x ast.Expr) (ast.Expr, error) {
				ref, ok := x.(*ast.ColumnRef)
				if !ok || ref.Table != "" && string(ref.Table) != alias {
					return nil, nil // the table's column, or a name resolution refuses
				}
				col, found := columns[string(ref.Name)]
				var owners []string
				if ref.Table == "" {
					owners = tablesWith(string(ref.Name))
					if len(owners) == 0 && !found && own != nil && slices.ContainsFunc(own.src.Columns, func(c Column) bool { return c.Name == string(ref.Name) }) {
						owners = []string{own.alias}
					}
				}
				switch {
				case ambiguous[string(ref.Name)] || len(owners) > 1 || found && len(owners) > 0:
					return nil, errorf(ref.Pos, "column reference %q is ambiguous", ref.Name)
				case len(owners) == 1:
					// A table's: qualified, since the merged stream may
					// have a column of that name the subquery left out.
					c := *ref
					c.Table = ast.Ident(owners[0])
					return &c, nil
				case ref.Table == "" && !found:
					return nil, &Error{Pos: ref.Pos, Msg: fmt.Sprintf("column %q does not exist", ref.Name),
						Hint: "a query reads the columns its subquery selects; select it there too"}
				case !found:
					return nil, &Error{Pos: ref.Pos, Msg: fmt.Sprintf("column %s.%s does not exist", ref.Table, ref.Name),
						Hint: "a query reads the columns its subquery selects; select it there too"}
				}
				return col, nil
			})
		}
	}
	rewrite := rewriteIn(tables, nil)
	// The chain again, each ON rewritten, the stream in the innermost.
	var merged ast.TableExpr = &ast.TableName{Pos: sub.Pos, Name: stream.Name, Alias: ast.Ident(alias)}
	var first *ast.Join
	for i, j := range chain {
		join := *j
		join.Left = merged
		if join.On, err = rewriteIn(tables[:i], &tables[i])(j.On); err != nil {
			return nil, err
		}
		if first == nil {
			first = &join
		}
		merged = &join
	}
	out := *q
	out.From = merged
	out.Items = nil
	for _, it := range q.Items {
		switch {
		case it.Star && (it.StarTable == "" || string(it.StarTable) == alias):
			for _, c := range items {
				out.Items = append(out.Items, ast.SelectItem{Pos: it.Pos, Expr: columns[c.name], Alias: ast.Ident(c.name)})
			}
			if it.StarTable == "" {
				for _, t := range tables {
					out.Items = append(out.Items, ast.SelectItem{Pos: it.Pos, Star: true, StarTable: ast.Ident(t.alias)})
				}
			}
		case it.Star:
			out.Items = append(out.Items, it)
		default:
			e, err := rewrite(it.Expr)
			if err != nil {
				return nil, err
			}
			name := it.Alias
			if name == "" {
				name = ast.Ident(outputName(it.Expr)) // the name the query gives it
			}
			out.Items = append(out.Items, ast.SelectItem{Pos: it.Pos, Expr: e, Alias: name})
		}
	}
	if out.Where, err = rewrite(q.Where); err != nil {
		return nil, err
	}
	// The subquery's WHERE filters the events before their lookup, which
	// could fail for an event it drops (a key that does not cast).
	if first.LeftWhere, err = qualify(inner.Where); err != nil {
		return nil, err
	}
	if err := rewriteAfterWhere(&out, q, rewrite); err != nil {
		return nil, err
	}
	return &out, nil
}
