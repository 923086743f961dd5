package plan

import (
	"fmt"
	"strings"

	"github.com/tide-data/tide/internal/eventtime"
	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/expr"
)

// Outer is an aggregation over the rows of another: a GROUP BY over a
// subquery that itself aggregates. Over a GROUP BY without a window
// (Nexmark q4's average of per-auction maxima) the subquery's rows update
// as events come, so each change reaches the outer aggregation as the row
// it replaces, taken back, and the new one (a retraction and an
// insertion, as Flink's changelog carries them). Over windows the
// subquery's rows are final as each window closes: they only come. An
// outer GROUP BY holding the subquery's window_start and window_end
// aggregates them by that window (eventtime.Attached: a cascading window
// aggregation, each window's row emitted once the watermark passes its
// end; eventtime.Given over SESSION windows, each of its own length); one without them is a GROUP BY without a window, updated as the
// windows close.
//
// The pipeline's Aggregation is the subquery's; Over its select list,
// over the subquery's aggregated row (Aggregation.RowColumns): the row
// Filter, Aggregation's keys and arguments are over. The pipeline's
// Outputs and Key are over Aggregation's aggregated row.
type Outer struct {
	Over []Output
	// Filter is the outer WHERE, over Over's row; nil without one.
	Filter      *expr.Expr
	FilterText  string
	Aggregation *Aggregation
}

// aggregatingSubquery reports whether q aggregates over a subquery that
// aggregates too, returning the subquery and its query flattened.
func aggregatingSubquery(q *ast.Select, lookup func(string) (*Source, bool), opts Options) (*ast.Subquery, *ast.Select, error) {
	sub, ok := q.From.(*ast.Subquery)
	if !ok || sub.Query.UnionAll != nil || (len(q.GroupBy) == 0 && q.Having == nil && !aggregatesAny(q)) {
		return nil, nil, nil
	}
	if _, ranked := rankedQuery(sub.Query); ranked >= 0 {
		return nil, nil, nil
	}
	inner, err := flattenSubqueries(sub.Query, lookup, opts)
	if err != nil {
		return nil, nil, err
	}
	if len(inner.GroupBy) == 0 && inner.Having == nil && !aggregatesAny(inner) {
		return nil, nil, nil
	}
	return sub, inner, nil
}

// clockCall returns the first call of a clock function (now(), ...) in
// exprs, or nil: a row taken back is evaluated again, and must give what
// it gave when it was sent.
func clockCall(exprs []ast.Expr) *ast.Func {
	for _, e := range exprs {
		if f := find(e, func(f *ast.Func) bool { return expr.IsClock(strings.ToLower(string(f.Name))) }); f != nil {
			return f
		}
	}
	return nil
}

// aggregateArgs are the arguments of the aggregate calls in exprs, not
// what is computed over their results.
func aggregateArgs(exprs []ast.Expr) []ast.Expr {
	var args []ast.Expr
	for _, e := range exprs {
		inspect(e, func(x ast.Expr) bool {
			if f, ok := x.(*ast.Func); ok && isAggregate(strings.ToLower(string(f.Name))) {
				args = append(args, f.Args...)
				return false
			}
			return true
		})
	}
	return args
}

// subqueryInput is the input a query reads from an aggregating subquery
// whose select list is over: its columns, under the subquery's alias,
// as a source's.
func subqueryInput(sub *ast.Subquery, over []Output) *input {
	alias := string(sub.Alias)
	if alias == "" {
		alias = "subquery"
	}
	row := make([]Column, len(over))
	for i, o := range over {
		row[i] = Column{Name: o.Name, Type: o.Type}
	}
	in := &input{src: &Source{Name: alias, Columns: row}, alias: alias}
	in.cols = exprColumns(alias, row)
	return in
}

// attachedWindows is the window of the rows of a's windows, as a query
// over them reads it: its select list over holds window_start and
// window_end as they are. Nil without them, or without a window.
func attachedWindows(a *Aggregation, over []Output) *window {
	if a.Window == nil {
		return nil
	}
	start, end := -1, -1
	for i, o := range over {
		c, ok := o.Expr.Column()
		switch {
		case !ok:
		case c == len(a.Keys) && o.Name == ColWindowStart:
			start = i
		case c == len(a.Keys)+1 && o.Name == ColWindowEnd:
			end = i
		}
	}
	if start < 0 || end < 0 {
		return nil
	}
	text := a.WindowText
	if a.Window.Kind != eventtime.Attached && a.Window.Kind != eventtime.Given { // already "the windows of ..."
		text = "the windows of " + text
	}
	spec := eventtime.Spec{Kind: eventtime.Attached, Size: a.Window.Size}
	if a.Window.Kind == eventtime.Session || a.Window.Kind == eventtime.Given {
		// Each session has a length of its own: its row carries its end.
		spec = eventtime.Spec{Kind: eventtime.Given}
	}
	return &window{over: a.Window, spec: spec, text: text, time: start, timeType: a.TimeType}
}

// planOuterAggregation plans q, a GROUP BY over sub, whose flattened
// query inner aggregates: inner is the pipeline's Aggregation (over its
// source or join), q the Outer one over inner's rows.
func planOuterAggregation(p *Pipeline, q *ast.Select, sub *ast.Subquery, inner *ast.Select, lookup func(string) (*Source, bool), opts Options) error {
	stage := &Pipeline{Name: p.Name}
	if err := planQuery(stage, inner, lookup, opts); err != nil {
		return err
	}
	a := stage.Aggregation
	switch {
	case inner.Distinct || q.Distinct:
		return unsupported(sub.Pos, "DISTINCT with a GROUP BY over an aggregating subquery is not supported yet", "group by the columns instead")
	case inner.Key != nil:
		return unsupported(sub.Pos, "KEY BY in an aggregating subquery has no effect", "key the outer query's rows")
	}
	// Each old row is evaluated again when it is taken back, so it must
	// evaluate as it did when it was sent: no clock on that path. A
	// window's row is final, never taken back.
	if a.Window == nil {
		retaken := append(append(itemExprs(inner.Items), inner.Having, q.Where), q.GroupBy...)
		retaken = append(retaken, aggregateArgs(append(itemExprs(q.Items), q.Having, q.Key))...)
		if f := clockCall(retaken); f != nil {
			return unsupported(f.Pos, fmt.Sprintf("%s in a GROUP BY over an aggregating subquery is not supported: a row the subquery replaces is evaluated again to be taken back, and the clock would have moved", ast.Format(f)),
				"compute the time in the subquery's source, or aggregate the subquery's topic in a sink of its own")
		}
	}
	p.Source, p.Filter, p.FilterText, p.Aggregation = stage.Source, stage.Filter, stage.FilterText, a
	p.Join, p.StreamJoin = stage.Join, stage.StreamJoin
	outer := &Outer{Over: stage.Outputs}
	in := subqueryInput(sub, outer.Over)
	in.window = attachedWindows(a, outer.Over)
	if q.Where != nil {
		if f := findAggregate(q.Where); f != nil {
			return errorf(f.Pos, "aggregate functions are not allowed in WHERE")
		}
		f, err := expr.CompilePredicateWith(q.Where, in.cols, opts.Compile)
		if err != nil {
			return err
		}
		outer.Filter, outer.FilterText = f, ast.Format(q.Where)
	}
	items, err := in.expandItems(q.Items)
	if err != nil {
		return err
	}
	top := &Pipeline{Name: p.Name}
	if err := planAggregation(top, q, in, items, opts); err != nil {
		return err
	}
	outer.Aggregation = top.Aggregation
	p.Outer = outer
	p.Outputs, p.Key, p.KeyText = top.Outputs, top.Key, top.KeyText
	return nil
}
