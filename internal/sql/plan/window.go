package plan

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/tide-data/tide/internal/eventtime"
	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/expr"
	"github.com/tide-data/tide/internal/sql/types"
)

// The columns a window table function adds to its source's, named as
// Flink names them.
const (
	ColWindowStart = "window_start"
	ColWindowEnd   = "window_end"
)

// windowFunction is a window table function's signature: its parameters
// in positional order (Flink's, and the names => binds), how many are
// required, and what it is called in messages.
type windowFunction struct {
	kind      eventtime.Kind
	params    []string
	required  int
	signature string
}

var windowFunctions = map[ast.Ident]windowFunction{
	"tumble":  {eventtime.Tumble, []string{"data", "timecol", "size", "offset"}, 3, "TUMBLE(TABLE source, DESCRIPTOR(time_column), size [, offset])"},
	"hop":     {eventtime.Hop, []string{"data", "timecol", "slide", "size", "offset"}, 4, "HOP(TABLE source, DESCRIPTOR(time_column), slide, size [, offset])"},
	"session": {eventtime.Session, []string{"data", "timecol", "gap"}, 3, "SESSION(TABLE source, DESCRIPTOR(time_column), gap)"},
}

// window is a resolved window table function in FROM, or the windows
// of a windowed subquery's rows (over set, fn nil).
type window struct {
	fn       *ast.TableFunc
	over     *eventtime.Spec // the subquery's window function; nil for a table function's
	spec     eventtime.Spec
	text     string     // the call without its alias, for EXPLAIN
	time     int        // the time column's index in the source's row
	timeType types.Kind // timestamp or timestamptz: window_start and window_end's type
	aliases  []string   // more qualifiers of window_start and window_end: a window join's sides
}

// resolveWindow checks a window table function's arguments: the source
// (returned), its event-time column, and the constant intervals.
func resolveWindow(fn *ast.TableFunc, lookup func(string) (*Source, bool), opts Options) (*Source, *window, error) {
	wf, ok := windowFunctions[fn.Name]
	if !ok {
		return nil, nil, &Error{Pos: fn.Pos, Msg: fmt.Sprintf("table function %s does not exist", fn.Name), Hint: "the table functions are the windows TUMBLE, HOP and SESSION"}
	}
	name := strings.ToUpper(string(fn.Name))
	usage := func(pos ast.Pos, format string, args ...any) *Error {
		return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...), Hint: "it is called as " + wf.signature}
	}
	// Bind the arguments to the parameters, as Postgres binds named
	// notation: positional ones first, then any by name.
	bound := make([]*ast.TableFuncArg, len(wf.params))
	named := false
	for i := range fn.Args {
		a := &fn.Args[i]
		var p int
		switch {
		case a.Name != "":
			named = true
			p = slices.Index(wf.params, string(a.Name))
			if p < 0 {
				return nil, nil, usage(a.Pos, "%s has no argument named %q", name, a.Name)
			}
		case named:
			return nil, nil, usage(a.Pos, "positional argument cannot follow named argument")
		default:
			p = i
			if p >= len(wf.params) {
				return nil, nil, usage(a.Pos, "too many arguments for %s", name)
			}
		}
		if bound[p] != nil {
			return nil, nil, usage(a.Pos, "argument %q of %s given more than once", wf.params[p], name)
		}
		bound[p] = a
	}
	for p := range wf.required {
		if bound[p] == nil {
			return nil, nil, usage(fn.Pos, "%s is missing its %s argument", name, wf.params[p])
		}
	}

	data := bound[0]
	if data.Query != nil {
		return nil, nil, unsupported(data.Pos, fmt.Sprintf("%s over a query is not supported here (a side of a join)", name),
			"window the source itself in the join, and put the query's conditions in the join's WHERE")
	}
	if data.Table == nil {
		return nil, nil, usage(data.Pos, "the data argument of %s must be TABLE source or TABLE (query)", name)
	}
	src, ok := lookup(string(data.Table.Name))
	if !ok {
		return nil, nil, &Error{Pos: data.Table.Pos, Msg: fmt.Sprintf("source %q does not exist", data.Table.Name), Hint: "SHOW SOURCES lists them; create it with CREATE SOURCE"}
	}
	row := src.RowColumns()
	for _, c := range []string{ColWindowStart, ColWindowEnd} {
		if slices.ContainsFunc(src.Columns, func(sc Column) bool { return sc.Name == c }) {
			return nil, nil, &Error{Pos: data.Table.Pos, Msg: fmt.Sprintf("source %s has a column %s, which %s adds too", src.Name, c, name), Hint: "rename the source's column"}
		}
	}

	w := &window{fn: fn, spec: eventtime.Spec{Kind: wf.kind}}
	timecol := bound[1]
	if len(timecol.Descriptor) != 1 {
		return nil, nil, usage(timecol.Pos, "the timecol argument of %s must be DESCRIPTOR(time_column), naming one column", name)
	}
	col := string(timecol.Descriptor[0])
	w.time = slices.IndexFunc(row, func(c Column) bool { return c.Name == col })
	if w.time < 0 {
		return nil, nil, errorf(timecol.Pos, "column %q does not exist in %s", col, src.Name)
	}
	w.timeType = row[w.time].Type
	if w.timeType != types.KindTimestamp && w.timeType != types.KindTimestampTZ {
		return nil, nil, &Error{Pos: timecol.Pos, Msg: fmt.Sprintf("time column %q of %s must be a timestamp, not %s", col, name, w.timeType), Hint: "windows are over event time: a timestamp or timestamptz column with a WATERMARK, or _timestamp"}
	}
	// Event time is what the watermark follows: the declared WATERMARK
	// column, or the record timestamp for a source that declares none.
	// Windowing one column while the watermark follows another would
	// fire windows before, or long after, their events arrive.
	switch wm := src.Watermark; {
	case wm != nil && wm.Column != w.time:
		wcol := src.Columns[wm.Column].Name
		return nil, nil, &Error{Pos: timecol.Pos, Msg: fmt.Sprintf("time column %q of %s is not the watermark column of %s", col, name, src.Name),
			Hint: fmt.Sprintf("%s declares WATERMARK FOR %s: window by DESCRIPTOR(%s)", src.Name, wcol, wcol)}
	case wm == nil && col != ColTimestamp:
		return nil, nil, &Error{Pos: timecol.Pos, Msg: fmt.Sprintf("time column %q of %s has no watermark", col, name),
			Hint: fmt.Sprintf("declare WATERMARK FOR %s AS %s - INTERVAL '5' SECOND in the source, or window by the record timestamp: DESCRIPTOR(_timestamp)", col, col)}
	}

	for p := 2; p < len(wf.params); p++ {
		a := bound[p]
		if a == nil {
			continue
		}
		param := wf.params[p]
		if a.Expr == nil {
			return nil, nil, usage(a.Pos, "the %s argument of %s must be an interval", param, name)
		}
		us, err := constInterval(a.Expr, name+" "+param, param != "offset", opts)
		if err != nil {
			return nil, nil, err
		}
		switch param {
		case "size":
			w.spec.Size = us
		case "slide":
			w.spec.Slide = us
		case "gap":
			w.spec.Gap = us
		case "offset":
			w.spec.Offset = us
		}
	}
	if err := w.spec.Check(); err != nil {
		return nil, nil, errorf(fn.Pos, "%s", err)
	}
	call := *fn
	call.Alias = ""
	w.text = ast.Format(&call)
	return src, w, nil
}

// maxIntervalDays is the most days an interval can hold in microseconds
// of an int64.
const maxIntervalDays = math.MaxInt64 / (24 * 3600 * 1_000_000)

// constInterval evaluates a window's size (what names it: "TUMBLE size")
// at plan time, in microseconds: a constant interval without months,
// positive unless it is an offset.
func constInterval(x ast.Expr, what string, positive bool, opts Options) (int64, error) {
	hint := "write a constant interval, such as INTERVAL '1' MINUTE"
	if ref := find(x, func(*ast.ColumnRef) bool { return true }); ref != nil {
		return 0, &Error{Pos: ref.Pos, Msg: what + " must be a constant", Hint: hint}
	}
	if f := find(x, func(f *ast.Func) bool { return isAggregate(string(f.Name)) }); f != nil {
		return 0, errorf(f.Pos, "aggregate functions are not allowed in functions in FROM")
	}
	if s, ok := x.(*ast.StringLit); ok { // '1 minute': an untyped literal takes the parameter's type
		x = &ast.Cast{Pos: s.Pos, X: s, Type: ast.TypeName{Pos: s.Pos, Name: "interval"}}
	}
	e, err := expr.CompileWith(x, nil, opts.Compile)
	if err != nil {
		return 0, err
	}
	if k := e.Type(); k != types.KindInterval {
		return 0, &Error{Pos: x.Position(), Msg: fmt.Sprintf("%s must be an interval, not %s", what, k), Hint: hint}
	}
	v, err := e.Eval(nil)
	if err != nil {
		return 0, errorf(x.Position(), "%s: %v", what, err)
	}
	if v.IsNull() {
		return 0, &Error{Pos: x.Position(), Msg: what + " must not be NULL", Hint: hint}
	}
	months, days, us := v.Interval()
	if months != 0 {
		return 0, &Error{Pos: x.Position(), Msg: what + " cannot be in months or years, which vary in length", Hint: "use days: INTERVAL '30' DAY"}
	}
	if int64(days) > maxIntervalDays || int64(days) < -maxIntervalDays {
		return 0, errorf(x.Position(), "%s is out of range", what)
	}
	dayUS := int64(days) * 24 * 3600 * 1_000_000
	total := dayUS + us
	if (us > 0 && total < dayUS) || (us < 0 && total > dayUS) {
		return 0, errorf(x.Position(), "%s is out of range", what)
	}
	if positive && total <= 0 {
		return 0, &Error{Pos: x.Position(), Msg: what + " must be positive", Hint: hint}
	}
	return total, nil
}

// windowOverQuery rewrites a window table function over a query —
// TUMBLE(TABLE (SELECT ... FROM source WHERE ...), DESCRIPTOR(c), size) —
// into the subquery it stands for: the query's select list, then
// window_start and window_end, over the same window function of its
// source, whose time column is the source column c selects, and the
// query's WHERE. A query over a join of two streams becomes a query over
// the join marked with the window (windowOverJoin). A query that
// aggregates, windows or keys is refused. f is returned as it is when it
// is not over a query.
func windowOverQuery(f ast.TableExpr, lookup func(string) (*Source, bool), opts Options) (ast.TableExpr, error) {
	fn, ok := f.(*ast.TableFunc)
	if !ok {
		return f, nil
	}
	data := slices.IndexFunc(fn.Args, func(a ast.TableFuncArg) bool { return a.Query != nil })
	if data < 0 {
		return f, nil
	}
	name := strings.ToUpper(string(fn.Name))
	pos := fn.Args[data].Pos
	q, err := flattenSubqueries(fn.Args[data].Query, lookup, opts)
	if err != nil {
		return nil, err
	}
	join, overJoin := q.From.(*ast.Join)
	if _, overSource := q.From.(*ast.TableName); !overSource && !overJoin {
		return nil, unsupported(pos, fmt.Sprintf("%s over a query that windows or reads no source is not supported", name), "window the source itself")
	}
	if len(q.GroupBy) > 0 || q.Having != nil || aggregatesAny(q) || q.Distinct || q.Key != nil || q.UnionAll != nil {
		return nil, unsupported(pos, fmt.Sprintf("%s over a query that aggregates, keys or uses DISTINCT or UNION ALL is not supported", name),
			"window the source and filter and project in the query over the window; aggregate windows' rows in a GROUP BY over a windowed subquery")
	}
	in, items, err := subqueryItems(q, lookup, opts)
	if err != nil {
		return nil, err
	}
	// The query reads its source's columns: window_start and window_end
	// are not among them (they mean the window's bounds once the query is
	// over the window).
	for _, it := range items {
		if _, err := expr.CompileWith(it.expr, in.cols, opts.Compile); err != nil {
			return nil, err
		}
	}
	if q.Where != nil {
		if _, err := expr.CompilePredicateWith(q.Where, in.cols, opts.Compile); err != nil {
			return nil, err
		}
	}
	args := slices.Clone(fn.Args)
	args[data] = ast.TableFuncArg{Pos: pos, Name: fn.Args[data].Name, Table: &ast.TableName{Pos: pos, Name: ast.Ident(in.src.Name)}}
	inner := *q
	for i, a := range args {
		if len(a.Descriptor) != 1 {
			continue
		}
		// The time column is the source column the query selects under
		// that name: the watermark follows the source's.
		col := string(a.Descriptor[0])
		at, named := -1, 0
		for j, it := range items {
			if it.name == col {
				at, named = j, named+1
			}
		}
		switch {
		case named == 0:
			return nil, errorf(a.Pos, "column %q does not exist in the query %s windows", col, name)
		case named > 1:
			return nil, errorf(a.Pos, "column reference %q is ambiguous", col)
		}
		ref, isRef := items[at].expr.(*ast.ColumnRef)
		if overJoin {
			if !isRef {
				return nil, &Error{Pos: a.Pos, Msg: fmt.Sprintf("time column %q of %s is computed by its query, not a column of the join", col, name),
					Hint: "select a side's time column as it is"}
			}
			return windowOverJoin(fn, q, join, items, ref, in, pos)
		}
		if !isRef || in.qualifier(ref) != in.alias {
			return nil, &Error{Pos: a.Pos, Msg: fmt.Sprintf("time column %q of %s is computed by its query, not a column of %s", col, name, in.src.Name),
				Hint: "select the source's time column as it is"}
		}
		// The watermark follows one column of the source (resolveWindow
		// checks it again, in the source's names).
		wcol := ColTimestamp
		if wm := in.src.Watermark; wm != nil {
			wcol = in.src.Columns[wm.Column].Name
		}
		if string(ref.Name) != wcol {
			return nil, &Error{Pos: a.Pos, Msg: fmt.Sprintf("time column %q of %s is the query's %s, not %s, which the watermark of %s follows", col, name, ref.Name, wcol, in.src.Name),
				Hint: fmt.Sprintf("select %s in the query and name it in DESCRIPTOR", wcol)}
		}
		args[i].Descriptor = []ast.Ident{ref.Name}
	}
	if inner.Items, err = windowedItems(items, name, pos); err != nil {
		return nil, err
	}
	inner.From = &ast.TableFunc{Pos: fn.Pos, Name: fn.Name, Args: args, Alias: ast.Ident(in.alias)}
	return &ast.Subquery{Pos: fn.Pos, Query: &inner, Alias: fn.Alias}, nil
}

// windowedItems is the select list of a query a window function reads,
// each item under its name, then window_start and window_end: the
// columns of the subquery the window table function stands for.
func windowedItems(items []selectItem, name string, pos ast.Pos) ([]ast.SelectItem, error) {
	out := make([]ast.SelectItem, 0, len(items)+2)
	for _, it := range items {
		if it.name == ColWindowStart || it.name == ColWindowEnd {
			return nil, errorf(pos, "the query %s windows has a column %s, which %s adds too", name, it.name, name)
		}
		out = append(out, ast.SelectItem{Pos: pos, Expr: it.expr, Alias: ast.Ident(it.name)})
	}
	for _, c := range []string{ColWindowStart, ColWindowEnd} {
		out = append(out, ast.SelectItem{Pos: pos, Expr: &ast.ColumnRef{Pos: pos, Name: ast.Ident(c)}})
	}
	return out, nil
}

// windowOverJoin is windowOverQuery's subquery for a query over a join of
// two streams: its select list, then window_start and window_end, over
// the join marked with the window function and the side's time column
// (ast.Join.Window), which planQuery makes the window of the joined rows
// once the join is resolved (joinRowsWindow). The query's WHERE stays
// its own: the join's bounds are read from it as from any join's.
func windowOverJoin(fn *ast.TableFunc, q *ast.Select, join *ast.Join, items []selectItem, time *ast.ColumnRef, in *input, pos ast.Pos) (ast.TableExpr, error) {
	j := in.sjoin
	if j == nil {
		return nil, unsupported(pos, fmt.Sprintf("%s over a stream joined with a table is not supported yet", strings.ToUpper(string(fn.Name))),
			"window the stream, then join it with the table in the query over the windows' rows")
	}
	if err := refuseChained(j, pos, strings.ToUpper(string(fn.Name))); err != nil {
		return nil, err
	}
	if j.LeftWindow != nil || j.RightWindow != nil {
		return nil, unsupported(pos, fmt.Sprintf("%s over a window join's rows is not supported", strings.ToUpper(string(fn.Name))),
			"aggregate the window join by its own windows: GROUP BY window_start, window_end")
	}
	t := *time
	if t.Table == "" {
		t.Table = ast.Ident(in.qualifier(time))
	}
	marked := *join
	marked.Window, marked.WindowTime = fn, &t
	inner := *q
	var err error
	if inner.Items, err = windowedItems(items, strings.ToUpper(string(fn.Name)), pos); err != nil {
		return nil, err
	}
	inner.From = &marked
	return &ast.Subquery{Pos: fn.Pos, Query: &inner, Alias: fn.Alias}, nil
}

// joinRowsWindow is the window of the rows of a join of two streams that
// a window table function over a query of the join asked for (f.Window,
// f.WindowTime): the function's arguments checked as over the time
// column's source, its time the column's index in the joined row. A
// pair's time lags the join's watermark by as long as its side's rows are
// kept (a stored row meets a newer one): the join's tasks hold their
// watermark back by that much for the windows (StreamJoin.WindowLag). A
// side the join pads with NULLs, or one kept for ever, has no such bound.
func joinRowsWindow(f *ast.Join, j *StreamJoin, in *input, lookup func(string) (*Source, bool), opts Options) (*window, error) {
	name := strings.ToUpper(string(f.Window.Name))
	pos := f.WindowTime.Pos
	c, err := expr.CompileWith(f.WindowTime, in.cols, opts.Compile)
	if err != nil {
		return nil, err
	}
	col, _ := c.Column()
	side, src, srcCol := 0, in.src, col
	switch col {
	case j.LeftTime:
	case j.Offset + j.RightTime:
		side, src, srcCol = 1, j.Right, col-j.Offset
	default:
		return nil, &Error{Pos: pos, Msg: fmt.Sprintf("time column %s of %s is not a side's event time", ast.Format(f.WindowTime), name),
			Hint: "window by a side's WATERMARK column (or _timestamp for a side without one)"}
	}
	if j.Outer[1-side] {
		return nil, unsupported(pos, fmt.Sprintf("%s over an outer join's rows by %s, which the join pads with NULLs, is not supported", name, ast.Format(f.WindowTime)),
			"window by the time of the side whose every row the join keeps")
	}
	// Both sides need a bound: the windowed side's rows wait in the join
	// at most Keep[side], and only when the other side's rows do not stay
	// for ever does the join refuse a row behind its watermark as late
	// (join.Operator.Add). A regular join's state.ttl bounds its state,
	// not when a pair may come.
	keep := [2]int64{}
	keep[0], keep[1] = j.Keep()
	if keep[0] == Forever || keep[1] == Forever {
		return nil, unsupported(pos, fmt.Sprintf("%s over the rows of a join without a time bound on both sides is not supported: a pair may come at any time after its window", name),
			j.boundHint+" (a bound with a lower and an upper end; none is read between a timestamp and a timestamptz column)")
	}
	args := slices.Clone(f.Window.Args)
	for i := range args {
		switch {
		case args[i].Query != nil:
			args[i] = ast.TableFuncArg{Pos: args[i].Pos, Name: args[i].Name, Table: &ast.TableName{Pos: args[i].Pos, Name: ast.Ident(src.Name)}}
		case len(args[i].Descriptor) == 1:
			args[i].Descriptor = []ast.Ident{ast.Ident(src.RowColumns()[srcCol].Name)}
		}
	}
	_, w, err := resolveWindow(&ast.TableFunc{Pos: f.Window.Pos, Name: f.Window.Name, Args: args}, lookup, opts)
	if err != nil {
		return nil, err
	}
	w.time = col
	w.text = joinRowsWindowText(f)
	w.aliases = []string{j.LeftAlias, j.RightAlias}
	// A negative Keep (a bound entirely on one side of the other's time)
	// keeps rows no time at all, as the join operator clamps it.
	j.WindowLag = max(keep[side], 0)
	return w, nil
}

// joinRowsWindowText renders the window of a join's rows for EXPLAIN:
// the function over "(the join's rows)", by the side's column.
func joinRowsWindowText(f *ast.Join) string {
	rest := &ast.TableFunc{Name: f.Window.Name}
	for _, a := range f.Window.Args {
		if a.Query == nil && a.Descriptor == nil {
			rest.Args = append(rest.Args, a)
		}
	}
	args := strings.TrimPrefix(ast.Format(rest), strings.ToUpper(string(f.Window.Name))+"(")
	text := strings.ToUpper(string(f.Window.Name)) + "(TABLE (the join's rows), DESCRIPTOR(" + ast.Format(f.WindowTime) + ")"
	if args != ")" {
		text += ", " + args
	} else {
		text += ")"
	}
	return text
}
