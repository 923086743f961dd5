package plan

import (
	"fmt"

	"github.com/tide-data/tide/internal/sql/ast"
)

// distributeOverUnion rewrites a query that reads a UNION ALL in FROM row
// by row — it filters, projects and keys, but neither aggregates, ranks
// nor uses DISTINCT — into a UNION ALL of that query over each of the
// union's queries:
//
//	SELECT f(c) FROM (SELECT a AS c FROM x UNION ALL SELECT b FROM y) u WHERE p(c)
//	  = SELECT f(c) FROM (SELECT a AS c FROM x) u WHERE p(c)
//	    UNION ALL SELECT f(c) FROM (SELECT b AS c FROM y) u WHERE p(c)
//
// (selection and projection distribute over a union). Each of those then
// merges into one stateless query (flattenSubqueries), and the sink runs
// a UNION ALL of stateless queries. The union's queries are first given
// the union's column types (a narrower one cast, as analyzeUnion does) and
// its column names (the first query's), so that the outer query's
// expressions see what they would over the union. The same holds at any
// depth: a stateless query over a stateless query over a union is
// distributed from the inside out. It returns q unchanged and false when
// q is not such a query.
func distributeOverUnion(stmt *ast.CreateSink, q *ast.Select, lookup func(string) (*Source, bool), known []string, opts Options) (*ast.Select, bool, error) {
	// The union is q's FROM, or the stream joined with a table there:
	// a lookup join is row by row too.
	var sub *ast.Subquery
	from := func(s *ast.Subquery) ast.TableExpr { return s }
	switch f := q.From.(type) {
	case *ast.Subquery:
		sub = f
	case *ast.Join: // joined with tables, one after another
		if chain, s := tableJoinChain(f, lookup); s != nil {
			sub = s
			from = func(s *ast.Subquery) ast.TableExpr { return withStream(chain, s) }
		}
	}
	if sub == nil || q.UnionAll != nil || !rowByRow(q) {
		return q, false, nil
	}
	union := sub.Query
	if union.UnionAll == nil {
		var err error
		var ok bool
		if union, ok, err = distributeOverUnion(stmt, union, lookup, known, opts); err != nil || !ok {
			return q, false, err
		}
	}
	one := *stmt
	one.Query, one.Columns = union, nil
	branches, plans, err := unionBranches(&one, lookup, known, opts)
	if err != nil {
		return nil, false, err
	}
	var first, last *ast.Select
	for i, b := range branches {
		if i > 0 {
			if err := nameLikeFirst(b, plans[i], plans[0]); err != nil {
				return nil, false, err
			}
		}
		over := *q
		over.From = from(&ast.Subquery{Pos: sub.Pos, Query: b, Alias: sub.Alias})
		if first == nil {
			first = &over
		} else {
			last.UnionAll = &over
		}
		last = &over
	}
	return first, true, nil
}

// rowByRow reports whether q computes each output row from one input row
// alone: no GROUP BY, HAVING, aggregate, DISTINCT or window function.
func rowByRow(q *ast.Select) bool {
	if len(q.GroupBy) > 0 || q.Having != nil || q.Distinct || aggregatesAny(q) {
		return false
	}
	for _, e := range itemExprs(q.Items) {
		if findOver(e) != nil {
			return false
		}
	}
	return true
}

// nameLikeFirst aliases b's items to the union's column names, the first
// query's (Postgres names a union's columns so); a * whose columns are
// named otherwise cannot be renamed and is refused.
func nameLikeFirst(b *ast.Select, p, first *Pipeline) error {
	for col, o := range p.Outputs {
		name := first.Outputs[col].Name
		if item, ok := itemOf(b, col); ok {
			b.Items[item].Alias = ast.Ident(name)
			continue
		}
		if o.Name != name { // after a *: p is named as b names it
			return &Error{Pos: b.Pos, Msg: fmt.Sprintf("UNION column %d is %s in the first query and %s in this one, which selects *", col+1, name, o.Name),
				Hint: "list this query's columns instead of *, naming them as the first query does"}
		}
	}
	return nil
}
