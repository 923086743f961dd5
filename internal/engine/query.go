package engine

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/tide-data/tide/internal/format"
	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/parser"
	"github.com/tide-data/tide/internal/sql/plan"
	"github.com/tide-data/tide/internal/sql/types"
)

// QueryResult is an ad-hoc query's answer: the columns, and each row as
// a JSON object of them (the views' and sinks' JSON encoding).
type QueryResult struct {
	Columns []string          `json:"columns"`
	Rows    []json.RawMessage `json:"rows"`
	// Scanned is how many of the view's rows the query looked at.
	Scanned int `json:"scanned"`
}

// Query runs an ad-hoc SELECT over one materialized view's rows as they
// are now: WHERE and the SELECT list, compiled once as a pipeline's are,
// over every row (a scan), up to limit rows out (no limit when limit <=
// 0). GROUP BY, windows and joins are for pipelines, not queries.
func (e *Engine) Query(ctx context.Context, text string, limit int) (QueryResult, error) {
	var res QueryResult
	stmt, err := parser.ParseOne(text)
	if err != nil {
		return res, classify(err, 0, ast.Pos{Line: 1, Col: 1})
	}
	sel, ok := stmt.(*ast.Select)
	if !ok {
		return res, &Error{Code: CodeInvalid, Message: "a query is one SELECT over a materialized view",
			Hint: "SELECT columns FROM view [WHERE ...]; statements go to POST /v1/sql"}
	}
	lookup := func(name string) (*plan.Source, bool) {
		found, ok := e.View(name)
		if !ok {
			return nil, false
		}
		src := &plan.Source{Name: name, Connector: "view", Options: map[string]string{}}
		for _, c := range found.Columns {
			src.Columns = append(src.Columns, plan.Column{Name: c.Name, Type: c.Type})
		}
		return src, true
	}
	sink := &ast.CreateSink{Pos: sel.Pos, Name: "(query)", Query: sel, With: []ast.Option{{Pos: sel.Pos, Key: "connector", Value: "stdout"}}}
	p, err := plan.AnalyzeSink(sink, lookup, []string{"stdout"}, e.planOptions())
	if err != nil {
		return res, classify(err, 0, ast.Pos{Line: 1, Col: 1})
	}
	if p.Aggregation != nil {
		return res, &Error{Code: CodeNotSupported, Pos: sel.Pos, Message: "a query over a view filters and projects its rows; GROUP BY and windows are not supported in queries",
			Hint: "aggregate in the view itself: CREATE MATERIALIZED VIEW ... AS SELECT ... GROUP BY ..."}
	}
	if p.TopN != nil {
		return res, &Error{Code: CodeNotSupported, Pos: sel.Pos, Message: "a query over a view filters and projects its rows; top-N is not supported in queries",
			Hint: "rank in the view itself: CREATE MATERIALIZED VIEW ... AS SELECT ... FROM (SELECT ..., ROW_NUMBER() OVER (...) AS rn FROM ...) WHERE rn <= N"}
	}
	if p.Join != nil || p.StreamJoin != nil || len(p.Union) > 0 {
		return res, &Error{Code: CodeNotSupported, Pos: sel.Pos, Message: "a query reads one view; joins and UNION ALL are not supported in queries",
			Hint: "join or unite in a materialized view: CREATE MATERIALIZED VIEW ... AS SELECT ... JOIN ..."}
	}
	v, ok := e.View(p.Source.Name)
	if !ok {
		return res, &Error{Code: CodeNotFound, Message: fmt.Sprintf("view %s was dropped", p.Source.Name)}
	}
	dec, err := format.NewDecoder("json", v.Columns, nil, format.Env{})
	if err != nil {
		return res, err
	}
	out := outputColumns(p)
	enc, err := format.NewEncoder("json", out, nil, format.Env{})
	if err != nil {
		return res, err
	}
	for _, c := range out {
		res.Columns = append(res.Columns, c.Name)
	}
	row := make(types.Row, len(p.Source.RowColumns()))
	projected := make(types.Row, len(p.Outputs))
	for _, r := range v.Table.Rows(nil, 0) {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if limit > 0 && len(res.Rows) >= limit {
			break
		}
		res.Scanned++
		clear(row)
		if err := dec.Decode(r.Value, row); err != nil {
			return res, fmt.Errorf("view %s: row %q: %w", v.Name, r.Key, err)
		}
		row[len(v.Columns)] = types.NewBytea([]byte(r.Key)) // _key; the other metadata columns are NULL
		for i := len(v.Columns) + 1; i < len(row); i++ {
			row[i] = types.Null(p.Source.RowColumns()[i].Type)
		}
		if p.Filter != nil {
			keep, err := p.Filter.Eval(row)
			if err != nil {
				return res, &Error{Code: CodeInvalid, Message: fmt.Sprintf("WHERE on row %q: %v", r.Key, err), err: err}
			}
			if keep.IsNull() || !keep.Bool() {
				continue
			}
		}
		for i, o := range p.Outputs {
			if projected[i], err = o.Expr.Eval(row); err != nil {
				return res, &Error{Code: CodeInvalid, Message: fmt.Sprintf("%s on row %q: %v", o.Text, r.Key, err), err: err}
			}
		}
		b, err := enc.Encode(nil, projected)
		if err != nil {
			return res, err
		}
		res.Rows = append(res.Rows, b)
	}
	return res, nil
}
