package plan

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tide-data/tide/internal/eventtime"
	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/expr"
	"github.com/tide-data/tide/internal/sql/types"
)

// Aggregation is a pipeline's GROUP BY: the groups its rows fall in, the
// aggregates it computes per group, and the HAVING that filters groups.
// A query with aggregates but no GROUP BY has one group (Keys empty).
//
// Two row layouts meet here. Keys and the aggregates' arguments are
// evaluated over the input row (the source's row, Source.RowColumns).
// Having, and the pipeline's Outputs and Key, over the aggregated row
// (RowColumns):
//
//	Keys[0] … Keys[k-1]              the group key's values, in GROUP BY order
//	window_start, window_end         with a window only; of the time column's type
//	Aggs[0] … Aggs[a-1]              each aggregate's result, of its Agg.Result type
type Aggregation struct {
	// Window is the window table function grouped by, nil for a plain
	// GROUP BY (an updating result, a changelog).
	Window     *eventtime.Spec
	WindowText string // e.g. "TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE)" for EXPLAIN
	// Time is the input-row index of the window's time column
	// (DESCRIPTOR(col)); -1 without a window. It is the source's
	// WATERMARK column, or _timestamp for a source without a WATERMARK.
	Time int
	// TimeType is the time column's type, timestamp or timestamptz, and
	// so window_start and window_end's; 0 without a window.
	TimeType types.Kind
	// Keys are the GROUP BY expressions over the input row, window_start
	// and window_end excluded, in GROUP BY order, each once. A key's
	// Name is the output name of the SELECT item it matches, else a
	// column's name or a synthetic one, unique within RowColumns.
	Keys []Output
	// Aggs are the distinct aggregate calls of the query (SELECT, HAVING
	// and KEY BY), in order of appearance, each with its argument over
	// the input row (nil for count(*)).
	Aggs []AggregateCall
	// Having filters groups; over the aggregated row. Nil when absent.
	Having     *expr.Expr
	HavingText string
}

// AggregateCall is one aggregate the query computes.
type AggregateCall struct {
	Agg  expr.Aggregate
	Arg  *expr.Expr // nil for count(*)
	Text string     // as written, "sum(amount)"
}

// RowColumns returns the aggregated row's layout (see Aggregation): the
// keys by name, window_start and window_end with a window, and the
// aggregates as _agg1, _agg2, ….
func (a *Aggregation) RowColumns() []Column {
	cols := make([]Column, 0, len(a.Keys)+2+len(a.Aggs))
	for _, k := range a.Keys {
		cols = append(cols, Column{Name: k.Name, Type: k.Type})
	}
	if a.Window != nil {
		cols = append(cols, Column{Name: ColWindowStart, Type: a.TimeType, NotNull: true}, Column{Name: ColWindowEnd, Type: a.TimeType, NotNull: true})
	}
	for i, c := range a.Aggs {
		cols = append(cols, Column{Name: aggColumnName(i), Type: c.Agg.Result, NotNull: c.Agg.Func == expr.AggCount})
	}
	return cols
}

func aggColumnName(i int) string { return "_agg" + strconv.Itoa(i+1) }

// isAggregate reports whether name is an aggregate function, run or not:
// the ones expr.NewAggregate does not know are refused as unsupported.
func isAggregate(name string) bool {
	if expr.IsAggregate(name) {
		return true
	}
	switch name {
	case "bool_and", "bool_or", "every", "string_agg", "array_agg", "json_agg", "jsonb_agg", "json_object_agg", "jsonb_object_agg",
		"stddev", "stddev_pop", "stddev_samp", "variance", "var_pop", "var_samp", "percentile_cont", "percentile_disc", "mode":
		return true
	}
	return false
}

func findAggregate(e ast.Expr) *ast.Func {
	return find(e, func(f *ast.Func) bool { return isAggregate(string(f.Name)) && f.Over == nil })
}

// aggregates reports whether a query aggregates: it has GROUP BY, HAVING
// or an aggregate in its select list.
func aggregates(q *ast.Select, items []selectItem) bool {
	if len(q.GroupBy) > 0 || q.Having != nil {
		return true
	}
	for _, it := range items {
		if findAggregate(it.expr) != nil {
			return true
		}
	}
	return false
}

// groupKey is one GROUP BY expression, resolved to an input-row
// expression.
type groupKey struct {
	expr  ast.Expr
	canon string // the expression's canonical text, table qualifiers resolved
}

// aggPlanner plans one query's aggregation.
type aggPlanner struct {
	in    *input
	opts  Options
	items []selectItem
	agg   *Aggregation
	keys  []groupKey
	// keyCol and aggCol map the canonical text of each group key and
	// aggregate call to its column's name in the aggregated row.
	keyCol map[string]string
	aggCol map[string]string
	row    []expr.Column // the aggregated row, for the compiler
}

// planAggregation plans an aggregating query's GROUP BY, aggregates,
// HAVING, select list and KEY BY into p.
func planAggregation(p *Pipeline, q *ast.Select, in *input, items []selectItem, opts Options) error {
	pl := &aggPlanner{in: in, opts: opts, items: items, agg: &Aggregation{Time: -1}, keyCol: map[string]string{}, aggCol: map[string]string{}}
	a := pl.agg
	if w := in.window; w != nil {
		a.Window, a.WindowText, a.Time, a.TimeType = &w.spec, w.text, w.time, w.timeType
	}
	if err := pl.groupBy(q); err != nil {
		return err
	}
	// Collect the aggregates, checking each, before anything is compiled
	// over the aggregated row, whose layout they complete.
	exprs := make([]ast.Expr, 0, len(items)+2)
	for _, it := range items {
		exprs = append(exprs, it.expr)
	}
	exprs = append(exprs, q.Having)
	if q.Key != nil {
		if f := findAggregate(q.Key); f != nil && a.Window == nil {
			return &Error{Pos: f.Pos, Msg: "KEY BY of an updating aggregation cannot use aggregate functions",
				Hint: "a group's key must stay the same as its row is updated: key by GROUP BY expressions, or leave KEY BY out to key by the group"}
		}
		exprs = append(exprs, q.Key)
	}
	for _, e := range exprs {
		if err := pl.collectAggregates(e); err != nil {
			return err
		}
	}
	if err := pl.compileKeys(); err != nil {
		return err
	}
	for _, c := range a.RowColumns() {
		pl.row = append(pl.row, expr.Column{Name: c.Name, Type: c.Type})
	}

	for _, it := range items {
		e, err := pl.compile(it.expr)
		if err != nil {
			return err
		}
		p.Outputs = append(p.Outputs, Output{Name: it.name, Type: e.Type(), Expr: e, Text: it.text})
	}
	if q.Having != nil {
		x, err := pl.rewrite(q.Having)
		if err != nil {
			return err
		}
		h, err := expr.CompilePredicateWith(x, pl.row, opts.Compile)
		if err != nil {
			var xe *expr.Error
			if errors.As(err, &xe) && strings.HasPrefix(xe.Msg, "argument of WHERE") {
				c := *xe // the compiler checks a WHERE; this one is HAVING's
				c.Msg = strings.Replace(c.Msg, "WHERE", "HAVING", 1)
				return &c
			}
			return err
		}
		a.Having, a.HavingText = h, ast.Format(q.Having)
	}
	if q.Key != nil {
		k, err := pl.compile(q.Key)
		if err != nil {
			return err
		}
		p.Key, p.KeyText = k, ast.Format(q.Key)
	}
	p.Aggregation = a
	return nil
}

// groupBy resolves the GROUP BY list into pl.keys, as Postgres does: an
// integer constant is a select-list position, a bare name an input
// column or else a select-list output name, anything else an expression
// of the input. With a window it must hold window_start and window_end.
func (pl *aggPlanner) groupBy(q *ast.Select) error {
	// Windows that came with the rows (a windowed subquery's, a window
	// join's) are grouped by only with both bounds; otherwise the bounds
	// are columns like any, the result updating.
	if w := pl.in.window; w != nil && w.over != nil {
		both, err := pl.groupsByBothBounds(q)
		if err != nil {
			return err
		}
		if !both {
			pl.in.window = nil
			pl.agg.Window, pl.agg.WindowText, pl.agg.Time, pl.agg.TimeType = nil, "", -1, 0
		}
	}
	seen := map[string]bool{}
	var start, end bool
	for _, g := range q.GroupBy {
		e, err := pl.resolveGroupBy(g)
		if err != nil {
			return err
		}
		if f := findAggregate(e); f != nil {
			return errorf(f.Pos, "aggregate functions are not allowed in GROUP BY")
		}
		canon := pl.in.canonical(e)
		if seen[canon] {
			continue
		}
		seen[canon] = true
		if ref, ok := e.(*ast.ColumnRef); ok && pl.in.isWindowColumn(ref) {
			start = start || ref.Name == ColWindowStart
			end = end || ref.Name == ColWindowEnd
			continue
		}
		if ref := pl.in.findWindowColumn(e); ref != nil {
			return unsupported(ref.Pos, fmt.Sprintf("GROUP BY expressions of %s are not supported", ref.Name), "group by window_start and window_end themselves and compute the expression in the select list")
		}
		pl.keys = append(pl.keys, groupKey{expr: e, canon: canon})
	}
	if w := pl.in.window; w != nil && (!start || !end) {
		pos := w.fn.Pos
		if len(q.GroupBy) > 0 {
			pos = q.GroupBy[0].Position()
		}
		name := strings.ToUpper(string(w.fn.Name))
		return &Error{Pos: pos, Msg: fmt.Sprintf("GROUP BY must contain window_start and window_end to aggregate over %s windows", name),
			Hint: "GROUP BY window_start, window_end [, other keys]"}
	}
	return nil
}

// groupsByBothBounds reports whether GROUP BY holds window_start and
// window_end themselves.
func (pl *aggPlanner) groupsByBothBounds(q *ast.Select) (bool, error) {
	var start, end bool
	for _, g := range q.GroupBy {
		e, err := pl.resolveGroupBy(g)
		if err != nil {
			return false, err
		}
		if ref, ok := e.(*ast.ColumnRef); ok && pl.in.isWindowColumn(ref) {
			start = start || ref.Name == ColWindowStart
			end = end || ref.Name == ColWindowEnd
		}
	}
	return start && end, nil
}

// resolveGroupBy returns the expression a GROUP BY item stands for.
func (pl *aggPlanner) resolveGroupBy(g ast.Expr) (ast.Expr, error) {
	switch x := g.(type) {
	case *ast.NumberLit:
		n, err := strconv.Atoi(x.Text)
		if err != nil {
			return nil, errorf(x.Pos, "non-integer constant in GROUP BY")
		}
		return pl.position(x.Pos, n)
	case *ast.Unary:
		if n, ok := x.X.(*ast.NumberLit); ok && x.Op == "-" {
			if i, err := strconv.Atoi(n.Text); err == nil {
				return pl.position(x.Pos, -i)
			}
			return nil, errorf(x.Pos, "non-integer constant in GROUP BY")
		}
	case *ast.StringLit, *ast.BoolLit, *ast.NullLit:
		return nil, errorf(g.Position(), "non-integer constant in GROUP BY")
	case *ast.ColumnRef:
		// An input column wins over an output name (Postgres' rule).
		if x.Table != "" || pl.in.hasColumn(string(x.Name)) || pl.in.isWindowColumn(x) {
			return x, nil
		}
		var match *selectItem
		for i := range pl.items {
			it := &pl.items[i]
			if it.name != string(x.Name) {
				continue
			}
			if match != nil && pl.in.canonical(match.expr) != pl.in.canonical(it.expr) {
				return nil, errorf(x.Pos, "GROUP BY %q is ambiguous", x.Name)
			}
			if match == nil {
				match = it
			}
		}
		if match != nil {
			return match.expr, nil
		}
	}
	return g, nil
}

func (pl *aggPlanner) position(pos ast.Pos, n int) (ast.Expr, error) {
	if n < 1 || n > len(pl.items) {
		return nil, errorf(pos, "GROUP BY position %d is not in select list", n)
	}
	return pl.items[n-1].expr, nil
}

// collectAggregates checks the aggregate calls in e and adds the ones not
// seen yet to the aggregation.
func (pl *aggPlanner) collectAggregates(e ast.Expr) error {
	var err error
	inspect(e, func(x ast.Expr) bool {
		f, ok := x.(*ast.Func)
		if err != nil || !ok || !isAggregate(string(f.Name)) {
			return err == nil
		}
		err = pl.addAggregate(f)
		return false
	})
	return err
}

func (pl *aggPlanner) addAggregate(f *ast.Func) error {
	name := string(f.Name)
	if !expr.IsAggregate(name) {
		return unsupported(f.Pos, fmt.Sprintf("aggregate function %s is not supported yet", name), "the aggregate functions are count, sum, avg, min and max")
	}
	for _, a := range f.Args {
		if g := findAggregate(a); g != nil {
			return errorf(g.Pos, "aggregate function calls cannot be nested")
		}
		// The bounds of windows the rows came with are columns of them;
		// a window table function's are not the source's.
		if w := pl.in.window; w != nil && w.over == nil {
			if ref := pl.in.findWindowColumn(a); ref != nil {
				return unsupported(ref.Pos, fmt.Sprintf("%s in an aggregate's argument is not supported", ref.Name), "aggregates take columns of the source")
			}
		}
	}
	if f.Filter != nil {
		return unsupported(f.Pos, "aggregate FILTER (WHERE ...) is not supported yet", "put the condition in the argument: sum(CASE WHEN cond THEN x END), count(CASE WHEN cond THEN 1 END)")
	}
	canon := pl.in.canonical(f)
	if _, ok := pl.aggCol[canon]; ok {
		return nil
	}
	call := AggregateCall{Text: ast.Format(f)}
	argType := types.KindNull
	switch {
	case f.Star:
	case len(f.Args) == 1:
		arg, err := expr.CompileWith(f.Args[0], pl.in.cols, pl.opts.Compile)
		if err != nil {
			return err
		}
		call.Arg, argType = arg, arg.Type()
	case len(f.Args) == 0 && name == "count":
		return &expr.Error{Pos: f.Pos, Msg: "count(*) must be used to call a parameterless aggregate function", Code: "42809"}
	default:
		kinds := make([]string, len(f.Args))
		for i, a := range f.Args {
			x, err := expr.CompileWith(a, pl.in.cols, pl.opts.Compile)
			if err != nil {
				return err
			}
			kinds[i] = x.Type().String()
		}
		return &expr.Error{Pos: f.Pos, Msg: fmt.Sprintf("function %s(%s) does not exist", name, strings.Join(kinds, ", ")), Hint: name + " takes one argument", Code: "42883"}
	}
	agg, err := expr.NewAggregate(name, f.Star, f.Distinct, argType)
	if err != nil {
		var te *types.Error
		if errors.As(err, &te) {
			return &expr.Error{Pos: f.Pos, Msg: te.Message, Code: te.Code}
		}
		return errorf(f.Pos, "%v", err)
	}
	call.Agg = agg
	pl.aggCol[canon] = aggColumnName(len(pl.agg.Aggs))
	pl.agg.Aggs = append(pl.agg.Aggs, call)
	return nil
}

// compileKeys compiles the group keys over the input row and names them
// (see Aggregation.Keys).
func (pl *aggPlanner) compileKeys() error {
	used := map[string]bool{}
	if pl.agg.Window != nil {
		used[ColWindowStart], used[ColWindowEnd] = true, true
	}
	for i := range pl.agg.Aggs {
		used[aggColumnName(i)] = true
	}
	for i, k := range pl.keys {
		e, err := expr.CompileWith(k.expr, pl.in.cols, pl.opts.Compile)
		if err != nil {
			return err
		}
		name := ""
		for _, it := range pl.items {
			if pl.in.canonical(it.expr) == k.canon {
				name = it.name
				break
			}
		}
		if name == "" {
			name = outputName(k.expr)
		}
		if name == "?column?" {
			name = "_group" + strconv.Itoa(i+1)
		}
		for base, n := name, 2; used[name]; n++ {
			name = base + "_" + strconv.Itoa(n)
		}
		used[name] = true
		pl.agg.Keys = append(pl.agg.Keys, Output{Name: name, Type: e.Type(), Expr: e, Text: ast.Format(k.expr)})
		pl.keyCol[k.canon] = name
	}
	return nil
}

// compile compiles an expression of the select list, HAVING or KEY BY
// over the aggregated row.
func (pl *aggPlanner) compile(e ast.Expr) (*expr.Expr, error) {
	x, err := pl.rewrite(e)
	if err != nil {
		return nil, err
	}
	return expr.CompileWith(x, pl.row, pl.opts.Compile)
}

// rewrite maps an expression over the input to one over the aggregated
// row: each aggregate call and each subexpression that is a group key
// becomes a reference to its column. A column left outside both is the
// query's mistake.
func (pl *aggPlanner) rewrite(e ast.Expr) (ast.Expr, error) {
	return rewriteExpr(e, func(x ast.Expr) (ast.Expr, error) {
		switch x := x.(type) {
		case *ast.NumberLit, *ast.StringLit, *ast.BoolLit, *ast.NullLit, *ast.TypedLit:
			return nil, nil
		case *ast.Func:
			if isAggregate(string(x.Name)) {
				return &ast.ColumnRef{Pos: x.Pos, Name: ast.Ident(pl.aggCol[pl.in.canonical(x)])}, nil
			}
		}
		if len(pl.keyCol) > 0 {
			if col, ok := pl.keyCol[pl.in.canonical(x)]; ok {
				return &ast.ColumnRef{Pos: x.Position(), Name: ast.Ident(col)}, nil
			}
		}
		ref, ok := x.(*ast.ColumnRef)
		if !ok {
			return nil, nil
		}
		if pl.in.isWindowColumn(ref) {
			return &ast.ColumnRef{Pos: ref.Pos, Name: ref.Name}, nil
		}
		// An unknown column is reported as such, not as ungrouped.
		if _, err := expr.CompileWith(ref, pl.in.cols, pl.opts.Compile); err != nil {
			return nil, err
		}
		return nil, errorf(ref.Pos, "column \"%s.%s\" must appear in the GROUP BY clause or be used in an aggregate function", pl.in.qualifier(ref), ref.Name)
	})
}
