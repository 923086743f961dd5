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

// unionFeeds finds a UNION ALL in q's FROM (a subquery, or the query of
// a window table function) and analyzes its queries. It returns q with the
// union replaced by a reference to the source of its columns, a lookup
// that finds that source too, and the queries; q itself and a nil feeds
// when there is no union there.
func unionFeeds(stmt *ast.CreateSink, q *ast.Select, lookup func(string) (*Source, bool), known []string, opts Options) (*ast.Select, func(string) (*Source, bool), []*Pipeline, error) {
	var union *ast.Select
	var name ast.Ident
	var pos ast.Pos
	var from func(src string) ast.TableExpr // q's FROM reading the union's source
	switch f := q.From.(type) {
	case *ast.Subquery:
		if f.Query.UnionAll == nil {
			return q, lookup, nil, nil
		}
		union, name, pos = f.Query, f.Alias, f.Pos
		from = func(src string) ast.TableExpr {
			return &ast.TableName{Pos: f.Pos, Name: ast.Ident(src), Alias: f.Alias}
		}
	case *ast.Join:
		// The left side of a join of two streams: its rows the union's.
		left, ok := f.Left.(*ast.Subquery)
		if !ok || left.Query.UnionAll == nil {
			return q, lookup, nil, nil
		}
		union, name, pos = left.Query, left.Alias, left.Pos
		from = func(src string) ast.TableExpr {
			j := *f
			j.Left = &ast.TableName{Pos: left.Pos, Name: ast.Ident(src), Alias: left.Alias}
			return &j
		}
	case *ast.TableFunc:
		i := slices.IndexFunc(f.Args, func(a ast.TableFuncArg) bool { return a.Query != nil && a.Query.UnionAll != nil })
		if i < 0 {
			return q, lookup, nil, nil
		}
		union, pos = f.Args[i].Query, f.Args[i].Pos
		from = func(src string) ast.TableExpr {
			fn := *f
			fn.Args = slices.Clone(f.Args)
			fn.Args[i] = ast.TableFuncArg{Pos: pos, Name: f.Args[i].Name, Table: &ast.TableName{Pos: pos, Name: ast.Ident(src)}}
			return &fn
		}
	default:
		return q, lookup, nil, nil
	}
	one := *stmt
	one.Query, one.Columns = union, nil
	first, err := analyzeUnion(&one, lookup, known, opts)
	if err != nil {
		return nil, nil, nil, err
	}
	feeds := append([]*Pipeline{first}, first.Union...)
	first.Union = nil
	for _, f := range feeds {
		if f.Key != nil {
			return nil, nil, nil, unsupported(pos, "KEY BY in a query of a UNION ALL that is aggregated is not supported",
				"the aggregation keys its rows by its groups: drop KEY BY")
		}
	}
	src := &Source{Name: string(name)}
	if src.Name == "" {
		src.Name = unionFeedSource
	}
	if _, taken := lookup(src.Name); taken {
		return nil, nil, nil, &Error{Pos: pos, Msg: fmt.Sprintf("the UNION ALL's alias %q is the name of a source", src.Name),
			Hint: "give the subquery another alias: (SELECT … UNION ALL …) AS u"}
	}
	for _, o := range first.Outputs {
		if slices.ContainsFunc(metadataColumns, func(m Column) bool { return m.Name == o.Name }) {
			// The union's row has the metadata columns of the source each
			// row comes from; a column of that name would hide one.
			return nil, nil, nil, &Error{Pos: pos, Msg: fmt.Sprintf("column name %q of the UNION ALL is reserved", o.Name),
				Hint: "metadata columns _key, _topic, _partition, _offset and _timestamp exist on a union's rows: give the column another name"}
		}
		src.Columns = append(src.Columns, Column{Name: o.Name, Type: o.Type})
	}
	if src.Watermark, err = unionWatermark(src, feeds, opts); err != nil {
		return nil, nil, nil, err
	}
	if err := checkUnionTime(q.From, src, feeds); err != nil {
		return nil, nil, nil, err
	}
	out := *q
	out.From = from(src.Name)
	withUnion := func(n string) (*Source, bool) {
		if n == src.Name {
			return src, true
		}
		return lookup(n)
	}
	return &out, withUnion, feeds, nil
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
// whose left side they are (and what follows that join).
func checkUnionFed(p *Pipeline, pos ast.Pos) error {
	fed := p.StreamJoin != nil || p.Aggregation != nil && p.TopN == nil || p.TopN != nil && p.Aggregation == nil
	if !fed || p.Join != nil || p.Outer != nil {
		return unsupported(pos, "a UNION ALL in FROM is supported under GROUP BY (its rows aggregated, windowed or not), a top-N ranking its rows, a join of two streams (as its left side), or a query that filters and projects them",
			"write the UNION ALL to a topic with one sink, and join that topic's rows with a table in another")
	}
	return nil
}
