package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/expr"
)

// A UNION ALL in FROM feeding an aggregation — `SELECT k, count(*) FROM
// (SELECT … FROM a UNION ALL SELECT … FROM b) u GROUP BY k`, or its rows
// windowed, `TUMBLE(TABLE (SELECT … UNION ALL …), DESCRIPTOR(ts), …)` —
// is planned as an aggregation over a source of the union's columns that
// no connector reads (Source.Connector ""). Its rows come from
// Pipeline.Feeds: each query of the UNION ALL, stateless over its own
// source, whose outputs are the union's row; the engine runs each over its
// source and sends its rows to the one aggregation.

// unionFeedSource is the name the union's source takes in the plan when
// the subquery has no alias.
const unionFeedSource = "union_all"

// fedFrom is a query whose FROM reads fed sources: the query with each
// UNION ALL it reads (or, on a side of a join of two streams, each
// subquery) replaced by a reference to a source of its columns, a lookup
// that finds those sources too, and their queries by side: the FROM's own
// (or a join's left side's), then a join's right side's.
type fedFrom struct {
	query  *ast.Select
	lookup func(string) (*Source, bool)
	// base is the lookup without the fed sources: what each side's
	// queries read (one side's cannot read the other's, as without
	// LATERAL in SQL).
	base  func(string) (*Source, bool)
	feeds [2][]*Pipeline
}

func (f *fedFrom) fed() bool { return f.feeds[0] != nil || f.feeds[1] != nil }

// attach gives p, planned over f's query, the queries that feed it, after
// checking that p is what fed rows can feed.
func (f *fedFrom) attach(p *Pipeline, pos ast.Pos) error {
	if err := checkUnionFed(p, pos); err != nil {
		return err
	}
	if f.feeds[1] != nil && p.StreamJoin == nil { // not reached: only a join's right side is fed so
		return unsupported(pos, "a subquery on a join's right side is supported when both sides are streams", "join the stream with the table itself")
	}
	p.Feeds = f.feeds[0]
	if f.feeds[1] != nil {
		p.StreamJoin.RightFeeds = f.feeds[1]
	}
	return nil
}

// unionFeeds finds a UNION ALL in q's FROM (a subquery, or the query of a
// window table function), or a subquery on a side of a join of two
// streams (a UNION ALL, or one query that filters and projects its
// source), and analyzes their queries. Nothing is fed (f.fed() false)
// when there is none.
func unionFeeds(stmt *ast.CreateSink, q *ast.Select, lookup func(string) (*Source, bool), known []string, opts Options) (*fedFrom, error) {
	f := &fedFrom{query: q, lookup: lookup, base: lookup}
	var from ast.TableExpr
	switch t := q.From.(type) {
	case *ast.Subquery:
		if t.Query.UnionAll == nil {
			return f, nil
		}
		src, err := f.feed(stmt, 0, t.Query, t.Alias, t.Pos, known, opts)
		if err != nil {
			return nil, err
		}
		from = &ast.TableName{Pos: t.Pos, Name: ast.Ident(src.Name), Alias: t.Alias}
	case *ast.Join:
		if isTable(t.Right, lookup) {
			// A join with tables: a UNION ALL on its stream side is fed,
			// the lookups made over the union's row; another subquery
			// there is merged (mergeTableJoinSide).
			chain, sub := tableJoinChain(t, lookup)
			if sub == nil || sub.Query.UnionAll == nil {
				return f, nil
			}
			src, err := f.feed(stmt, 0, sub.Query, sub.Alias, sub.Pos, known, opts)
			if err != nil {
				return nil, err
			}
			from = withStream(chain, &ast.TableName{Pos: sub.Pos, Name: ast.Ident(src.Name), Alias: sub.Alias})
			break
		}
		j := *t
		for side, e := range []*ast.TableExpr{&j.Left, &j.Right} {
			if err := checkSideAlias(*e); err != nil {
				return nil, err
			}
			var err error
			if *e, err = f.feedSide(stmt, side, *e, known, opts); err != nil {
				return nil, err
			}
		}
		from = &j
	case *ast.TableFunc:
		i := slices.IndexFunc(t.Args, func(a ast.TableFuncArg) bool { return a.Query != nil && a.Query.UnionAll != nil })
		if i < 0 {
			return f, nil
		}
		var err error
		if from, err = f.feedSide(stmt, 0, t, known, opts); err != nil {
			return nil, err
		}
	}
	if !f.fed() {
		return f, nil
	}
	out := *q
	out.From = from
	f.query = &out
	return f, nil
}

// feedSide feeds one side of a join of two streams (or a window table
// function's query) when it is a query: a UNION ALL, or a query that
// filters and projects its source's rows; it returns the side reading the
// fed source instead, or the side as it is.
func (f *fedFrom) feedSide(stmt *ast.CreateSink, side int, t ast.TableExpr, known []string, opts Options) (ast.TableExpr, error) {
	switch t := t.(type) {
	case *ast.Subquery:
		if err := checkSideQuery(t.Query); err != nil {
			return nil, err
		}

		src, err := f.feed(stmt, side, t.Query, t.Alias, t.Pos, known, opts)
		if err != nil {
			return nil, err
		}
		return &ast.TableName{Pos: t.Pos, Name: ast.Ident(src.Name), Alias: t.Alias}, nil
	case *ast.TableFunc:
		i := slices.IndexFunc(t.Args, func(a ast.TableFuncArg) bool { return a.Query != nil })
		if i < 0 {
			return t, nil
		}
		if err := checkSideQuery(t.Args[i].Query); err != nil {
			return nil, err
		}
		pos := t.Args[i].Pos

		src, err := f.feed(stmt, side, t.Args[i].Query, t.Alias, pos, known, opts)
		if err != nil {
			return nil, err
		}
		fn := *t
		fn.Args = slices.Clone(t.Args)
		fn.Args[i] = ast.TableFuncArg{Pos: pos, Name: t.Args[i].Name, Table: &ast.TableName{Pos: pos, Name: ast.Ident(src.Name)}}
		if err := checkUnionTime(&fn, src, f.feeds[side]); err != nil {
			return nil, err
		}
		return &fn, nil
	}
	return t, nil
}

// checkSideAlias asks a query on a join's side for an alias: both sides'
// columns are named through theirs.
func checkSideAlias(t ast.TableExpr) error {
	switch t := t.(type) {
	case *ast.Subquery:
		if t.Alias == "" {
			return errorf(t.Pos, "a subquery on a side of a join needs an alias: (SELECT …) AS x")
		}
	case *ast.TableFunc:
		if t.Alias == "" && slices.ContainsFunc(t.Args, func(a ast.TableFuncArg) bool { return a.Query != nil }) {
			return errorf(t.Pos, "a window table function over a query on a side of a join needs an alias: %s(TABLE (SELECT …), …) AS x", strings.ToUpper(string(t.Name)))
		}
	}
	return nil
}

// checkSideQuery refuses a query on a join's side (or under a window
// table function) that is not a UNION ALL and does more than filter and
// project one source's rows.
func checkSideQuery(q *ast.Select) error {
	if q.UnionAll != nil {
		return nil
	}
	if !rowByRow(q) {
		return unsupported(q.Pos, "a subquery on a side of a join of two streams must filter and project one source's rows, joined with tables or not (no GROUP BY, aggregate, DISTINCT, window function or join of two streams) for now",
			"write that subquery's rows to a topic with a sink of their own, and join the topic")
	}
	return nil
}

// feed analyzes the queries of union (a UNION ALL, or one query) and adds
// the source of their columns, named name (unionFeedSource without one),
// to f's lookup, fed on side.
func (f *fedFrom) feed(stmt *ast.CreateSink, side int, union *ast.Select, name ast.Ident, pos ast.Pos, known []string, opts Options) (*Source, error) {
	if f.feeds[side] != nil {
		return nil, unsupported(pos, "one UNION ALL per FROM or join side", "merge the UNION ALLs into one")
	}
	one := *stmt
	one.Query, one.Columns = union, nil
	first, err := analyzeUnion(&one, f.base, known, opts)
	if err != nil {
		return nil, err
	}
	feeds := append([]*Pipeline{first}, first.Union...)
	first.Union = nil
	for _, q := range feeds {
		if q.Aggregation != nil || q.StreamJoin != nil || q.TopN != nil || len(q.Feeds) > 0 {
			// Its rows are evaluated in the stateful stage's shuffle
			// tasks, from its source's row (and tables joined) alone.
			return nil, unsupported(pos, "a query that aggregates, joins two streams or ranks, read by a GROUP BY, a top-N or a join through a UNION ALL or subquery, is not supported yet",
				"write that query's rows to a topic with a sink of their own, and read the topic here")
		}
		if q.Key != nil {
			return nil, unsupported(pos, "KEY BY in a query of a UNION ALL, or of a join's side, is not supported",
				"the stateful stage keys the rows it reads (by its groups, the join key or the partition): drop KEY BY")
		}
		if q.Source.PrimaryKey != "" {
			return nil, unsupported(pos, fmt.Sprintf("a query over a table (%s has a primary key) cannot be read as a stream here", q.Source.Name),
				"join the table itself, FROM stream JOIN table ON ..., and filter its columns in WHERE")
		}
	}
	src := &Source{Name: string(name)}
	if src.Name == "" {
		src.Name = unionFeedSource
	}
	if _, taken := f.lookup(src.Name); taken {
		return nil, &Error{Pos: pos, Msg: fmt.Sprintf("the subquery's alias %q is the name of a source", src.Name),
			Hint: "give the subquery another alias: (SELECT … UNION ALL …) AS u"}
	}
	for _, o := range first.Outputs {
		if slices.ContainsFunc(metadataColumns, func(m Column) bool { return m.Name == o.Name }) {
			// The union's row has the metadata columns of the source each
			// row comes from; a column of that name would hide one.
			return nil, &Error{Pos: pos, Msg: fmt.Sprintf("column name %q of the subquery is reserved", o.Name),
				Hint: "metadata columns _key, _topic, _partition, _offset and _timestamp exist on a subquery's rows: give the column another name"}
		}
		src.Columns = append(src.Columns, Column{Name: o.Name, Type: o.Type})
	}
	if src.Watermark, err = unionWatermark(src, feeds, opts); err != nil {
		return nil, err
	}
	f.feeds[side] = feeds
	lookup := f.lookup
	f.lookup = func(n string) (*Source, bool) {
		if n == src.Name {
			return src, true
		}
		return lookup(n)
	}
	return src, nil
}

// unionWatermark is the union's event time: a column that is, in every
// query, its source's WATERMARK column as it is (no expression, no cast).
// Each query's rows then keep their source's watermark, which the engine
// computes over the source's row. Without such a column the union has no
// event time (windows over it are refused as over any source without a
// WATERMARK).
func unionWatermark(src *Source, feeds []*Pipeline, opts Options) (*Watermark, error) {
	for col := range src.Columns {
		texts := make([]string, 0, len(feeds))
		for _, f := range feeds {
			wm := f.Source.Watermark
			c, ok := f.Outputs[col].Expr.Column()
			if wm == nil || !ok || c != wm.Column {
				texts = nil
				break
			}
			texts = append(texts, f.Source.Name+": "+wm.Text)
		}
		if texts == nil {
			continue
		}
		// Over the union's row the watermark is the column itself; the
		// engine evaluates each source's own expression over its row.
		e, err := expr.CompileWith(&ast.ColumnRef{Name: ast.Ident(src.Columns[col].Name)}, exprColumns(src.Name, src.RowColumns()), opts.Compile)
		if err != nil {
			return nil, err
		}
		return &Watermark{Column: col, Expr: e, Text: strings.Join(texts, "; ")}, nil
	}
	return nil, nil
}

// checkUnionTime explains why a window over the union by one of its
// columns has no event time, before the window's own check would ask for
// a WATERMARK in a source that has one: the column is, in some query,
// not its source's WATERMARK column as it is.
func checkUnionTime(from ast.TableExpr, src *Source, feeds []*Pipeline) error {
	fn, ok := from.(*ast.TableFunc)
	if !ok {
		return nil
	}
	for _, a := range fn.Args {
		if len(a.Descriptor) != 1 {
			continue
		}
		col := slices.IndexFunc(src.Columns, func(c Column) bool { return c.Name == string(a.Descriptor[0]) })
		if col < 0 || src.Watermark != nil && src.Watermark.Column == col {
			return nil
		}
		for _, f := range feeds {
			var why string
			c, plain := f.Outputs[col].Expr.Column()
			switch wm := f.Source.Watermark; {
			case wm == nil:
				why = fmt.Sprintf("%s declares no WATERMARK", f.Source.Name)
			case !plain || c >= len(f.Source.Columns):
				why = fmt.Sprintf("the query over %s computes it (%s)", f.Source.Name, f.Outputs[col].Text)
			case c != wm.Column:
				why = fmt.Sprintf("%s's WATERMARK is on %s, not %s", f.Source.Name, f.Source.Columns[wm.Column].Name, f.Source.Columns[c].Name)
			case f.Outputs[col].Type != f.Source.Columns[c].Type:
				why = fmt.Sprintf("the union casts %s's %s (%s) to %s", f.Source.Name, f.Source.Columns[c].Name, f.Source.Columns[c].Type, f.Outputs[col].Type)
			default:
				continue
			}
			return &Error{Pos: a.Pos, Msg: fmt.Sprintf("the UNION ALL's column %q has no event time: %s", src.Columns[col].Name, why),
				Hint: "window a union by a column that is, in every query, its source's WATERMARK column as it is, of one type in all; or by DESCRIPTOR(_timestamp)"}
		}
	}
	return nil
}

// checkUnionFed refuses what a union's rows cannot feed yet: anything but
// the first stateful stage reading them straight — an aggregation of them
// (GROUP BY, windowed or not), a top-N of them, or a join of two streams
// whose side they are (and what follows that join).
func checkUnionFed(p *Pipeline, pos ast.Pos) error {
	fed := p.StreamJoin != nil || p.Aggregation != nil && p.TopN == nil || p.TopN != nil && p.Aggregation == nil
	if !fed || p.Join != nil && p.StreamJoin != nil || p.Outer != nil {
		return unsupported(pos, "a UNION ALL in FROM is supported under GROUP BY (its rows aggregated, windowed or not), a top-N ranking its rows, a join of two streams (as either side), or a query that filters and projects them",
			"write the UNION ALL to a topic with one sink, and join that topic's rows with a table in another")
	}
	return nil
}
