package plan

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tide-data/tide/internal/eventtime"
	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/expr"
	"github.com/tide-data/tide/internal/sql/types"
)

// RankFunc is the ranking function of a top-N query.
type RankFunc uint8

// The ranking functions: ROW_NUMBER numbers the rows 1, 2, 3, …; RANK
// gives tied rows one rank and skips the ones they take (1, 1, 3);
// DENSE_RANK does not skip (1, 1, 2).
const (
	RowNumber RankFunc = iota
	Rank
	DenseRank
)

var rankFuncs = map[ast.Ident]RankFunc{"row_number": RowNumber, "rank": Rank, "dense_rank": DenseRank}

func (f RankFunc) String() string {
	return [...]string{"ROW_NUMBER", "RANK", "DENSE_RANK"}[f]
}

// MaxTopN bounds N: each partition keeps its N rows in memory.
const MaxTopN = 10_000

// TopN keeps the first N rows of each partition of a stream in an
// order, the query Flink and Postgres users write as
//
//	SELECT ... FROM (
//	  SELECT ..., ROW_NUMBER() OVER (PARTITION BY p ORDER BY o DESC) AS rn
//	  FROM source [WHERE ...]
//	) WHERE rn <= N
//
// The subquery's columns are the ranked row the outer query reads: its
// expressions (Exprs, over the source row, evaluated as each row
// arrives) and the rank (at RankColumn). Pipeline.Filter is the
// subquery's WHERE, over the source row; Pipeline.Outputs, Key and
// Filter below are over the ranked row.
//
// When PARTITION BY holds the source's event-time column (the one its
// WATERMARK is for), every row of a partition has one event time, and
// the partition is complete once the watermark passes it: its rows are
// emitted then, once, ranked (Time is that partition expression's
// index). Over a window table function (Flink's window top-N), or over
// a subquery aggregating windows (Over), PARTITION BY window_start or
// window_end makes each window's rows final once the watermark passes
// the window's end. Otherwise the result updates: each change to a partition's
// first N rows is emitted as upserts keyed by the partition and the row
// number (ROW_NUMBER only: a rank is not a key).
type TopN struct {
	Func  RankFunc
	Limit int64 // N: rows ranked 1 to N are kept
	// Partition are PARTITION BY's expressions, over the source row.
	Partition     []*expr.Expr
	PartitionText []string
	Order         []SortKey
	Columns       []Column     // the ranked row
	Exprs         []*expr.Expr // Columns' expressions over the source row; nil at RankColumn
	RankColumn    int
	// Time is the index in Partition of the source's event-time column,
	// or of window_start or window_end with a Window; -1 when it has none
	// (an updating result).
	Time int
	// Over is the select list of an aggregating subquery the ranked
	// query reads (the pipeline's Aggregation): the row Partition, Order
	// and Exprs are over, ranked in a second stateful stage as the
	// groups come out — each window's rows as it closes, or, without a
	// window (Retracting), each group's row as it changes. Nil when the
	// ranked query reads the source.
	Over []Output
	// Retracting: the ranked rows update — Over's groups (a GROUP BY
	// without a window), a group's new row replacing its old one, taken
	// back; or an updating join's NULL-padded rows, taken back at their
	// first match — so the top-N keeps every row: any may rise into the
	// first N when the rows before it fall or leave.
	Retracting bool
	// Window is the TUMBLE or HOP the subquery reads; nil without one.
	// The source row is then followed by window_start and window_end,
	// and each row is ranked in each of its windows, its event time the
	// window's end. WindowTime is the time column's index in the row.
	Window     *eventtime.Spec
	WindowText string
	WindowTime int
	// Filter is the outer WHERE without the bound on the rank, over the
	// ranked row; nil without one.
	Filter     *expr.Expr
	FilterText string
}

// SortKey is one ORDER BY expression of a top-N, over the source row.
type SortKey struct {
	Expr       *expr.Expr
	Desc       bool
	NullsFirst bool
	Text       string
}

// Updating reports whether the top-N's rows update: it has no event time
// that completes its partitions.
func (t *TopN) Updating() bool { return t.Time < 0 }

// rankedQuery finds a top-N's subquery: q reads a subquery whose select
// list has a window function call. It returns the subquery, and the
// index of that call in its select list, or -1.
func rankedQuery(q *ast.Select) (*ast.Subquery, int) {
	sub, ok := q.From.(*ast.Subquery)
	if !ok {
		return nil, -1
	}
	for i, it := range sub.Query.Items {
		if it.Expr != nil && findOver(it.Expr) != nil {
			return sub, i
		}
	}
	return sub, -1
}

func findOver(e ast.Expr) *ast.Func {
	return find(e, func(f *ast.Func) bool { return f.Over != nil })
}

// topNHint is how a top-N is written.
const topNHint = "SELECT ... FROM (SELECT ..., ROW_NUMBER() OVER (PARTITION BY ... ORDER BY ...) AS rn FROM source) WHERE rn <= N"

// analyzeTopN plans a sink whose query ranks a subquery (rankedQuery):
// the TopN, the subquery's WHERE as the pipeline's filter, and the outer
// query over the ranked row.
func analyzeTopN(p *Pipeline, q *ast.Select, sub *ast.Subquery, lookup func(string) (*Source, bool), opts Options) error {
	switch {
	case len(q.GroupBy) > 0 || q.Having != nil || aggregatesAny(q):
		return unsupported(q.Pos, "aggregating a top-N is not supported yet", "write the top-N to a topic with one sink and aggregate that topic with another")
	case q.Distinct:
		return unsupported(q.Pos, "SELECT DISTINCT is not supported yet", "")
	}
	for _, e := range append([]ast.Expr{q.Where, q.Key}, itemExprs(q.Items)...) {
		if f := findOver(e); f != nil {
			return unsupported(f.Over.Pos, "window functions are supported only in the select list of a top-N's subquery", topNHint)
		}
	}
	t := &TopN{RankColumn: -1, Time: -1}
	inner, in, err := rankedInput(p, t, sub, lookup, opts)
	if err != nil {
		return err
	}
	items, err := in.expandItems(inner.Items)
	if err != nil {
		return err
	}
	for i, it := range items {
		f, _ := it.expr.(*ast.Func)
		if f == nil || f.Over == nil {
			if over := findOver(it.expr); over != nil {
				return unsupported(over.Pos, "a window function is supported as a column of its own, not inside an expression", topNHint)
			}
			e, err := expr.CompileWith(it.expr, in.cols, opts.Compile)
			if err != nil {
				return err
			}
			t.Columns = append(t.Columns, Column{Name: it.name, Type: e.Type()})
			t.Exprs = append(t.Exprs, e)
			continue
		}
		if t.RankColumn >= 0 {
			return unsupported(f.Pos, "a top-N ranks by one window function", "keep one ROW_NUMBER(), RANK() or DENSE_RANK() in the subquery")
		}
		if err := planRanking(p, t, f, in, opts); err != nil {
			return err
		}
		t.RankColumn = i
		t.Columns = append(t.Columns, Column{Name: it.name, Type: types.KindInt8})
		t.Exprs = append(t.Exprs, nil)
	}
	// The outer query reads the ranked row under the subquery's alias.
	alias := string(sub.Alias)
	ranked := &input{src: &Source{Name: alias, Columns: t.Columns}, alias: alias}
	ranked.cols = exprColumns(alias, t.Columns)
	rest, err := takeRankBound(t, q, alias)
	if err != nil {
		return err
	}
	if t.Filter, t.FilterText, err = andAll(rest, ranked.cols, opts); err != nil {
		return err
	}
	if t.Window != nil && t.Updating() {
		return &Error{Pos: sub.Pos, Msg: "a top-N over a window table function partitions by window_start or window_end",
			Hint: "rank within each window: ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY ...)"}
	}
	if t.Updating() && t.Func != RowNumber {
		hint := "rank with ROW_NUMBER() for a top-N that updates as rows arrive, or partition by the column the source's WATERMARK is for"
		switch {
		case t.Retracting:
			hint = "rank with ROW_NUMBER(): a top-N over a GROUP BY without a window updates, keyed by partition and row number"
		case t.Over != nil:
			hint = "partition by the subquery's window_start or window_end (each window's ranks are then final), or rank with ROW_NUMBER()"
		}
		return unsupported(sub.Pos, fmt.Sprintf("%s is supported when PARTITION BY holds the event time (each partition is then complete once the watermark passes it)", t.Func), hint)
	}
	if t.Updating() && q.Key != nil {
		return &Error{Pos: q.Key.Position(), Msg: "KEY BY is not allowed on a top-N that updates: its rows are keyed by partition and row number",
			Hint: "leave KEY BY out: a row that drops out of the top N is replaced under the same key"}
	}
	p.TopN = t
	outer := *q
	outer.From, outer.Where = &ast.TableName{Pos: sub.Pos, Name: ast.Ident(alias)}, nil
	outItems, err := ranked.expandItems(outer.Items)
	if err != nil {
		return err
	}
	return planProjection(p, &outer, ranked, outItems, opts)
}

// rankedInput resolves what the ranked subquery reads, into the
// pipeline's source, filter and (for an aggregating subquery below it)
// aggregation: a source, a TUMBLE or HOP of one, or a subquery that
// aggregates over windows, whose rows the top-N then ranks as they come
// out (t.Over). It returns the ranked subquery, flattened, and its input.
func rankedInput(p *Pipeline, t *TopN, sub *ast.Subquery, lookup func(string) (*Source, bool), opts Options) (*ast.Select, *input, error) {
	// The ranked query and an aggregating query below it are planned
	// one SELECT each: a UNION ALL of either would be dropped.
	for _, s := range []*ast.Subquery{sub, belowOf(sub)} {
		if s != nil && s.Query.UnionAll != nil {
			return nil, nil, unsupported(s.Pos, "UNION ALL in a subquery in FROM is not supported yet", "write the UNION ALL to a topic with one sink and rank that topic's rows with another")
		}
	}
	if below, ok := sub.Query.From.(*ast.Subquery); ok {
		aggregating, err := flattenSubqueries(below.Query, lookup, opts)
		if err != nil {
			return nil, nil, err
		}
		if len(aggregating.GroupBy) > 0 || aggregating.Having != nil || aggregatesAny(aggregating) {
			in, err := planRankedAggregation(p, t, sub.Query, below, aggregating, lookup, opts)
			return sub.Query, in, err
		}
	}
	inner, err := flattenSubqueries(sub.Query, lookup, opts)
	if err != nil {
		return nil, nil, err
	}
	if inner.Distinct || len(inner.GroupBy) > 0 || inner.Having != nil || inner.Key != nil || aggregatesAny(inner) {
		return nil, nil, unsupported(sub.Pos, "a top-N's ranked query cannot aggregate, key or use DISTINCT",
			"aggregate in a subquery of it: SELECT ... FROM (SELECT ..., RANK() OVER (...) AS r FROM (SELECT ... GROUP BY ...)) WHERE r <= N")
	}
	switch inner.From.(type) {
	case *ast.TableName, *ast.TableFunc, *ast.Join:
	default:
		return nil, nil, unsupported(sub.Pos, "a top-N reads one source, a TUMBLE or HOP window of one, a join of two streams, or a query that aggregates one",
			"write the rows to a topic with one sink, and rank that topic's rows with another")
	}
	in, err := resolveFrom(inner.From, lookup, opts)
	if err != nil {
		return nil, nil, err
	}
	p.Source = in.src
	switch {
	case in.join != nil && in.window != nil:
		if in.window.over != nil || len(p.Feeds) > 0 {
			return nil, nil, unsupported(sub.Pos, "a top-N over a window of a subquery joined with a table is not supported yet",
				"window the source itself: TUMBLE(TABLE source, …) AS s JOIN table ON …")
		}
		// Each event looked up, then in each of its windows: the
		// window's bounds follow the tables' columns in the row.
		p.Join = in.join
	case in.join != nil:
		// The shuffle tasks look each event up as they decode it: the
		// top-N ranks the joined rows, as a GROUP BY aggregates them.
		p.Join = in.join
	case in.sjoin != nil:
		// The join's tasks send its rows, WHERE applied, to the top-N's
		// (engine/chain.go); an updating join's NULL-padded rows are
		// taken back there.
		p.StreamJoin = in.sjoin
		if err := finishStreamJoin(p, inner.Where, in, opts); err != nil {
			return nil, nil, err
		}
		if in.sjoin.Updates() {
			t.Retracting = true
			if f := clockCall(append(rankedExprs(inner.Items), in.sjoin.residue...)); f != nil {
				return nil, nil, unsupported(f.Pos, fmt.Sprintf("%s in a top-N over an updating join is not supported: a NULL-padded row is evaluated again to be taken back, and the clock would have moved", ast.Format(f)),
					"compute the time in a source, or rank the join's topic in a sink of its own")
			}
		}
		return inner, in, nil
	}
	if w := in.window; w != nil {
		// Flink's window top-N: each row in each of its windows, whose
		// bounds follow the source's columns.
		if w.spec.Kind == eventtime.Session {
			return nil, nil, unsupported(w.fn.Pos, "a top-N over SESSION windows is not supported yet", "rank TUMBLE or HOP windows")
		}
		t.Window, t.WindowText, t.WindowTime = &w.spec, w.text, w.time
		bounds := sideRow(in.src, w)[len(in.src.RowColumns()):]
		in.cols = append(slices.Clip(in.cols), exprColumns(in.alias, bounds)...)
	}
	if inner.Where != nil {
		if f := findAggregate(inner.Where); f != nil {
			return nil, nil, errorf(f.Pos, "aggregate functions are not allowed in WHERE")
		}
		if f := findOver(inner.Where); f != nil {
			return nil, nil, errorf(f.Pos, "window functions are not allowed in WHERE")
		}
		f, err := expr.CompilePredicateWith(inner.Where, in.cols, opts.Compile)
		if err != nil {
			return nil, nil, err
		}
		p.Filter, p.FilterText = f, ast.Format(inner.Where)
	}
	return inner, in, nil
}

// rankedExprs are the expressions of a ranked query's select list: its
// columns, and its ranking's PARTITION BY and ORDER BY.
func rankedExprs(items []ast.SelectItem) []ast.Expr {
	var exprs []ast.Expr
	for _, it := range items {
		f := findOver(it.Expr)
		if f == nil {
			exprs = append(exprs, it.Expr)
			continue
		}
		exprs = append(exprs, f.Over.PartitionBy...)
		for _, o := range f.Over.OrderBy {
			exprs = append(exprs, o.X)
		}
	}
	return exprs
}

// belowOf is the subquery the ranked subquery reads, or nil.
func belowOf(sub *ast.Subquery) *ast.Subquery {
	below, _ := sub.Query.From.(*ast.Subquery)
	return below
}

// planRankedAggregation plans a top-N over a subquery that aggregates
// (Flink's window top-N after a window aggregation): the aggregation is
// the pipeline's, its windows' rows (t.Over, the subquery's select list)
// are what the top-N ranks, in a second stateful stage. The ranked query
// reads them as the columns of a source named after the subquery.
func planRankedAggregation(p *Pipeline, t *TopN, ranked *ast.Select, below *ast.Subquery, aggregating *ast.Select, lookup func(string) (*Source, bool), opts Options) (*input, error) {
	if ranked.Where != nil {
		return nil, unsupported(ranked.Where.Position(), "WHERE in a top-N's query over an aggregating subquery is not supported yet",
			"filter the groups in the subquery's HAVING")
	}
	if ranked.Distinct || len(ranked.GroupBy) > 0 || ranked.Having != nil || ranked.Key != nil || aggregatesAny(ranked) {
		return nil, unsupported(ranked.Pos, "a top-N's ranked query cannot aggregate, key or use DISTINCT",
			"aggregate in the subquery it reads; rank its rows as they are")
	}
	stage := &Pipeline{Name: p.Name}
	if err := planQuery(stage, aggregating, lookup, opts); err != nil {
		return nil, err
	}
	a := stage.Aggregation
	switch {
	case a == nil:
		return nil, unsupported(below.Pos, "a top-N's subquery aggregates without GROUP BY: it has one row", "rank the rows of a GROUP BY")
	case a.Window != nil && a.Window.Kind == eventtime.Session:
		// Sessions that start together end apart: a partition by
		// window_start would be emitted when the first one closes.
		return nil, unsupported(below.Pos, "a top-N over SESSION windows is not supported yet", "aggregate over TUMBLE or HOP windows")
	case aggregating.Key != nil:
		return nil, unsupported(below.Pos, "KEY BY in a top-N's aggregating subquery has no effect", "key the top-N's rows in the outer query")
	}
	if a.Window == nil {
		// A group's row is taken back by evaluating it again: it must
		// give what it gave when it was sent.
		t.Retracting = true
		retaken := append(append(itemExprs(aggregating.Items), aggregating.Having), rankedExprs(ranked.Items)...)
		if f := clockCall(retaken); f != nil {
			return nil, unsupported(f.Pos, fmt.Sprintf("%s in a top-N over a GROUP BY without a window is not supported: a group's replaced row is evaluated again to be taken back, and the clock would have moved", ast.Format(f)),
				"compute the time in the subquery's source, or rank the groups' topic in a sink of its own")
		}
	}
	p.Source, p.Filter, p.FilterText, p.Aggregation = stage.Source, stage.Filter, stage.FilterText, a
	p.Join, p.StreamJoin = stage.Join, stage.StreamJoin
	t.Over = stage.Outputs
	return subqueryInput(below, t.Over), nil
}

// isTimeColumn reports whether column col of the ranked query's input
// row holds its event time, which PARTITION BY makes final: the source's
// WATERMARK column; window_start or window_end of a window table
// function; an aggregating subquery's column that is its window_start
// or window_end.
func isTimeColumn(p *Pipeline, t *TopN, in *input, col int) bool {
	switch {
	case t.Over != nil:
		c, ok := t.Over[col].Expr.Column()
		k := len(p.Aggregation.Keys)
		return ok && p.Aggregation.Window != nil && (c == k || c == k+1)
	case t.Window != nil: // the bounds: the row's last two columns, after any table's
		return col >= len(in.cols)-2
	case p.StreamJoin != nil:
		// A join's rows are ranked as they are made: the result updates;
		// but an inner window join's pairs of a window all come before
		// the join's watermark passes the window's end (a row behind it
		// is late), so a partition by window_end is complete then.
		return p.StreamJoin.isWindowEnd(col)
	}
	wm := in.src.Watermark
	return wm != nil && col == wm.Column
}

// planRanking checks a top-N's window function call and compiles its
// PARTITION BY and ORDER BY.
func planRanking(p *Pipeline, t *TopN, f *ast.Func, in *input, opts Options) error {
	fn, ok := rankFuncs[f.Name]
	switch {
	case !ok:
		return unsupported(f.Pos, fmt.Sprintf("window function %s() is not supported", f.Name), "rank with ROW_NUMBER(), RANK() or DENSE_RANK()")
	case len(f.Args) > 0 || f.Star || f.Distinct || f.Filter != nil:
		return errorf(f.Pos, "%s() takes no arguments", strings.ToUpper(string(f.Name)))
	case len(f.Over.OrderBy) == 0:
		return errorf(f.Over.Pos, "a top-N needs ORDER BY in OVER (...): it ranks the rows in that order")
	}
	t.Func = fn
	for _, pe := range f.Over.PartitionBy {
		e, err := expr.CompileWith(pe, in.cols, opts.Compile)
		if err != nil {
			return err
		}
		if col, ok := e.Column(); ok && t.Time < 0 && isTimeColumn(p, t, in, col) {
			t.Time = len(t.Partition)
		}
		t.Partition = append(t.Partition, e)
		t.PartitionText = append(t.PartitionText, ast.Format(pe))
	}
	for _, it := range f.Over.OrderBy {
		e, err := expr.CompileWith(it.X, in.cols, opts.Compile)
		if err != nil {
			return err
		}
		if e.Type() == types.KindJSON {
			return errorf(it.Pos, "cannot order by a json value: cast it to a type with an order (text, numeric, ...)")
		}
		t.Order = append(t.Order, SortKey{Expr: e, Desc: it.Desc, NullsFirst: it.First(), Text: formatOrderItem(it)})
	}
	return nil
}

func formatOrderItem(it ast.OrderItem) string {
	s := ast.Format(it.X)
	if it.Desc {
		s += " DESC"
	}
	switch it.Nulls {
	case ast.NullsFirst:
		s += " NULLS FIRST"
	case ast.NullsLast:
		s += " NULLS LAST"
	}
	return s
}

// takeRankBound finds the bound on the rank among the conjuncts of the
// outer WHERE (rn <= N, rn < N, rn = 1, N >= rn, rn BETWEEN 1 AND N)
// into t.Limit, and returns the other conjuncts.
func takeRankBound(t *TopN, q *ast.Select, alias string) ([]ast.Expr, error) {
	rankName := t.Columns[t.RankColumn].Name
	isRank := func(e ast.Expr) bool {
		ref, ok := e.(*ast.ColumnRef)
		return ok && string(ref.Name) == rankName && (ref.Table == "" || string(ref.Table) == alias)
	}
	bound := func(e ast.Expr) (int64, bool) {
		lit, ok := e.(*ast.NumberLit)
		if !ok {
			return 0, false
		}
		n, err := strconv.ParseInt(lit.Text, 10, 64)
		return n, err == nil
	}
	var rest []ast.Expr
	found := false
	var all []ast.Expr
	if q.Where != nil {
		all = conjuncts(q.Where)
	}
	for _, c := range all {
		n, ok := int64(0), false
		switch x := c.(type) {
		case *ast.Binary:
			op, l, r := x.Op, x.L, x.R
			if isRank(r) { // N >= rn is rn <= N
				op, l, r = map[string]string{">=": "<=", ">": "<", "=": "="}[op], r, l
			}
			if !isRank(l) {
				break
			}
			v, isNum := bound(r)
			switch {
			case !isNum:
			case op == "<=":
				n, ok = v, true
			case op == "<":
				n, ok = v-1, true
			case op == "=" && v == 1:
				n, ok = 1, true
			}
		case *ast.Between:
			lo, loOK := bound(x.Lo)
			hi, hiOK := bound(x.Hi)
			if isRank(x.X) && !x.Not && !x.Symmetric && loOK && hiOK && lo <= 1 {
				n, ok = hi, true
			}
		}
		if !ok || found {
			rest = append(rest, c)
			continue
		}
		if n < 1 || n > MaxTopN {
			return nil, errorf(c.Position(), "a top-N keeps between 1 and %d rows per partition, not %d", MaxTopN, n)
		}
		t.Limit, found = n, true
	}
	if !found {
		return nil, &Error{Pos: q.Pos, Msg: fmt.Sprintf("a query over %s() OVER (...) needs a bound on %s in its WHERE: a stream's partitions grow for ever", t.Func, rankName),
			Hint: topNHint, Unsupported: true}
	}
	return rest, nil
}

func itemExprs(items []ast.SelectItem) []ast.Expr {
	var out []ast.Expr
	for _, it := range items {
		if it.Expr != nil {
			out = append(out, it.Expr)
		}
	}
	return out
}
