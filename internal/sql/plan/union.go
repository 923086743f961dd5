package plan

import (
	"fmt"
	"slices"

	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/types"
)

// analyzeUnion analyzes SELECT ... UNION ALL SELECT ...: each branch is a
// query of its own over its own source, planned as a sink of its own
// would be, and the sink's rows are all of theirs. Stateless branches run
// in one pipeline; with a stateful one (an aggregation, a top-N, a join
// of two streams), each runs as a pipeline of its own writing the sink. The outputs
// are named by the first branch (as Postgres names a UNION's columns);
// a column whose branches differ in type takes the widest of them, the
// narrower branches' items cast to it (integer and bigint make bigint).
func analyzeUnion(stmt *ast.CreateSink, lookup func(string) (*Source, bool), known []string, opts Options) (*Pipeline, error) {
	_, plans, err := unionBranches(stmt, lookup, known, opts)
	if err != nil {
		return nil, err
	}
	first := plans[0]
	for i, p := range plans[1:] {
		for col := range p.Outputs {
			p.Outputs[col].Name = first.Outputs[col].Name
		}
		p.Name = fmt.Sprintf("%s#%d", first.Name, i+2)
	}
	first.Union = plans[1:]
	return first, nil
}

// unionBranches analyzes each query of stmt's UNION ALL as a sink of its
// own, and returns the queries with the items of a column whose type is
// narrower than the union's cast to it, and their plans. A query that
// filters and projects a UNION ALL of its own is replaced by that union's
// queries, each under it (distributeOverUnion): one level of queries.
func unionBranches(stmt *ast.CreateSink, lookup func(string) (*Source, bool), known []string, opts Options) ([]*ast.Select, []*Pipeline, error) {
	var branches []*ast.Select
	for s := stmt.Query; s != nil; s = s.UnionAll {
		b := *s
		b.UnionAll = nil
		if nested, ok, err := distributeOverUnion(stmt, &b, lookup, known, opts); err != nil {
			return nil, nil, err
		} else if ok {
			for n := nested; n != nil; n = n.UnionAll {
				c := *n
				c.UnionAll = nil
				c.Items = slices.Clone(n.Items)
				branches = append(branches, &c)
			}
			continue
		}
		b.Items = slices.Clone(s.Items) // casts go into the copy, not the statement
		branches = append(branches, &b)
	}
	var first []ast.Ident
	analyze := func(i int, b *ast.Select) (*Pipeline, error) {
		one := *stmt
		one.Query = b
		if i > 0 && len(one.Columns) == 0 && len(b.Items) == len(first) && !slices.ContainsFunc(b.Items, func(it ast.SelectItem) bool { return it.Star }) {
			// A later query's names are not the union's (the first's
			// are): named so, two of its unnamed items ("?column?")
			// do not collide.
			one.Columns = first
		}
		p, err := AnalyzeSink(&one, lookup, known, opts)
		if err != nil {
			return nil, err
		}
		if len(p.Union) > 0 {
			// Not reached: nested unions are spliced above. Refused
			// rather than planned with their later queries dropped.
			return nil, unsupported(b.Pos, "a UNION ALL nested in a query of a UNION ALL is not supported here",
				"write the inner UNION ALL's queries into the outer one")
		}
		return p, nil
	}
	plans := make([]*Pipeline, len(branches))
	for i, b := range branches {
		p, err := analyze(i, b)
		if err != nil {
			return nil, nil, err
		}
		if i == 0 {
			for _, o := range p.Outputs {
				first = append(first, ast.Ident(o.Name))
			}
		}
		if i > 0 && len(p.Outputs) != len(plans[0].Outputs) {
			return nil, nil, errorf(b.Pos, "each UNION query must have the same number of columns: %d, not %d", len(plans[0].Outputs), len(p.Outputs))
		}
		plans[i] = p
	}
	// The common type of each column, then the branches cast to it. A
	// NULL or a string literal takes the others' type (Postgres' unknown);
	// if every branch has one, the column is text.
	for col := range plans[0].Outputs {
		common := types.KindNull
		for i, p := range plans {
			t := p.Outputs[col].Type
			switch {
			case adapts(branches[i], col) || t == common:
			case common == types.KindNull || wider(t, common):
				common = t
			case !wider(common, t):
				return nil, nil, &Error{Pos: branches[i].Pos, Msg: fmt.Sprintf("UNION types %s and %s cannot be matched (column %d, %s)", common, t, col+1, plans[0].Outputs[col].Name),
					Hint: "cast one of them: expr::" + common.String()}
			}
		}
		if common == types.KindNull {
			common = types.KindText
		}
		for i, p := range plans {
			if p.Outputs[col].Type == common {
				continue
			}
			b := branches[i]
			item, ok := itemOf(b, col)
			if !ok {
				return nil, nil, &Error{Pos: b.Pos, Msg: fmt.Sprintf("UNION column %d (%s) is %s in one query and %s in another", col+1, plans[0].Outputs[col].Name, p.Outputs[col].Type, common),
					Hint: "list the columns instead of *, casting the narrower: expr::" + common.String()}
			}
			b.Items[item].Expr = &ast.Cast{Pos: b.Items[item].Pos, X: b.Items[item].Expr, Type: ast.TypeName{Pos: b.Items[item].Pos, Name: common.String()}}
			if b.Items[item].Alias == "" {
				b.Items[item].Alias = ast.Ident(p.Outputs[col].Name)
			}
			var err error
			if plans[i], err = analyze(i, b); err != nil {
				return nil, nil, err
			}
		}
	}
	return branches, plans, nil
}

// itemOf finds the select item that makes output col, when no star comes
// before it.
func itemOf(q *ast.Select, col int) (int, bool) {
	for i, it := range q.Items {
		if it.Star {
			return 0, false
		}
		if i == col {
			return i, true
		}
	}
	return 0, false
}

// adapts reports whether a branch's output col is a NULL or a string
// literal, whose type is the column's.
func adapts(q *ast.Select, col int) bool {
	i, ok := itemOf(q, col)
	if !ok {
		return false
	}
	switch q.Items[i].Expr.(type) {
	case *ast.NullLit, *ast.StringLit:
		return true
	}
	return false
}
