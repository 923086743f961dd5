package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/tide-data/tide/internal/connector"
	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/parser"
	"github.com/tide-data/tide/internal/sql/plan"
	"github.com/tide-data/tide/internal/view"
)

func (e *Engine) show(ctx context.Context, s *ast.Show) (Result, error) {
	res := Result{Statement: "SHOW " + s.What}
	switch s.What {
	case "SOURCES":
		res.Columns = []string{"name", "connector", "options", "columns", "capture"}
		e.mu.Lock()
		for _, name := range slices.Sorted(maps.Keys(e.mu.sources)) {
			src := e.mu.sources[name]
			capture := ""
			if src.capture != nil {
				capture = src.capture.status()
			}
			res.Rows = append(res.Rows, []string{name, src.def.Connector, strings.Join(plan.SortedOptions(src.def.Options), ", "),
				strconv.Itoa(len(src.def.Columns)), capture})
		}
		e.mu.Unlock()
	case "SINKS", "PIPELINES":
		res.Columns = []string{"name", "source", "connector", "options", "state", "records_in", "records_out", "filtered", "dead_lettered"}
		e.mu.Lock()
		pipes := make([]*pipeline, 0, len(e.mu.pipelines))
		for _, name := range slices.Sorted(maps.Keys(e.mu.pipelines)) {
			pipes = append(pipes, e.mu.pipelines[name])
		}
		e.mu.Unlock()
		for _, p := range pipes {
			if s.What == "SINKS" && p.entry.Kind == ast.KindView {
				continue // SHOW VIEWS lists them
			}
			st := p.status()
			res.Rows = append(res.Rows, []string{p.plan.Name, sourceNames(p.sinkPlan()), p.plan.Connector, strings.Join(plan.SortedOptions(p.plan.Options), ", "),
				st.State, itoa(st.In), itoa(st.Out), itoa(st.Filtered), itoa(st.DeadLettered)})
		}
	case "VIEWS":
		res.Columns = []string{"name", "source", "state", "rows", "records_in", "records_out"}
		e.mu.Lock()
		pipes := make([]*pipeline, 0, len(e.mu.pipelines))
		var tables []*view.Table
		for _, name := range slices.Sorted(maps.Keys(e.mu.pipelines)) {
			if p := e.mu.pipelines[name]; p.entry.Kind == ast.KindView {
				pipes = append(pipes, p)
				tables = append(tables, p.view)
			}
		}
		e.mu.Unlock()
		for i, p := range pipes {
			st := p.status()
			rows := "-"
			if t := tables[i]; t != nil {
				rows = strconv.Itoa(t.Len())
			}
			res.Rows = append(res.Rows, []string{p.plan.Name, sourceNames(p.sinkPlan()), st.State, rows, itoa(st.In), itoa(st.Out)})
		}
	case "TOPICS":
		topics, err := e.cfg.Transport.Topics(ctx)
		if err != nil {
			return res, &Error{Code: CodeUnavailable, Message: err.Error(), err: err}
		}
		res.Columns = []string{"name", "partitions"}
		for _, t := range topics {
			res.Rows = append(res.Rows, []string{t.Name, strconv.Itoa(int(t.Partitions))})
		}
	default:
		return res, &Error{Code: CodeNotSupported, Pos: s.Pos, Message: fmt.Sprintf("line %s: SHOW %s is not supported", s.Pos, s.What),
			Hint: "SHOW SOURCES, SHOW SINKS, SHOW VIEWS or SHOW TOPICS"}
	}
	return res, nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func (e *Engine) describe(s *ast.Describe) (Result, error) {
	name := string(s.Name)
	res := Result{Statement: "DESCRIBE", Columns: []string{"column", "type", "detail"}}
	e.mu.Lock()
	src, isSource := e.mu.sources[name]
	p, isSink := e.mu.pipelines[name]
	e.mu.Unlock()
	switch {
	case isSource:
		for _, c := range src.def.Columns {
			detail := ""
			if c.NotNull {
				detail = "NOT NULL"
			}
			if wm := src.def.Watermark; wm != nil && src.def.Columns[wm.Column].Name == c.Name {
				detail = strings.TrimSpace(detail + " WATERMARK AS " + wm.Text)
			}
			res.Rows = append(res.Rows, []string{c.Name, c.Type.String(), detail})
		}
		res.Message = fmt.Sprintf("source %s (%s)\n%s", name, src.def.Connector, displaySQL(src.entry.SQL))
		if src.capture != nil {
			res.Message = fmt.Sprintf("source %s (%s): capture %s\n%s", name, src.def.Connector, src.capture.status(), displaySQL(src.entry.SQL))
		}
	case isSink:
		for _, o := range p.plan.Outputs {
			res.Rows = append(res.Rows, []string{o.Name, o.Type.String(), o.Text})
		}
		st := p.status()
		what := "sink"
		if p.entry.Kind == ast.KindView {
			what = "materialized view"
		}
		res.Message = fmt.Sprintf("%s %s: %s; group %s; in %d, out %d, filtered %d, dead-lettered %d to %s",
			what, name, st.State, p.group, st.In, st.Out, st.Filtered, st.DeadLettered, p.dlqTopic)
		if st.LastError != "" {
			res.Message += "; last error: " + st.LastError
		}
		res.Message += "\n" + displaySQL(p.entry.SQL)
	default:
		if entry, ok := e.catalog.Get(name); ok {
			return res, &Error{Code: CodeInvalid, Pos: s.Pos, Message: fmt.Sprintf("%s %s is in the catalog but not running", strings.ToLower(string(entry.Kind)), name),
				Hint: "the server log says why it could not be restored; DROP and re-create it"}
		}
		return res, &Error{Code: CodeNotFound, Pos: s.Pos, Message: fmt.Sprintf("%q does not exist", name), Hint: "SHOW SOURCES and SHOW SINKS list what exists"}
	}
	return res, nil
}

func (e *Engine) explain(s *ast.Explain) (Result, error) {
	res := Result{Statement: "EXPLAIN", Columns: []string{"plan"}}
	var p *plan.Pipeline
	var err error
	switch inner := s.Statement.(type) {
	case *ast.CreateSink:
		p, err = plan.AnalyzeSink(inner, e.lookupSource, connector.SinkKinds(), e.planOptions())
	case *ast.Select:
		sink := &ast.CreateSink{Pos: inner.Pos, Name: "(query)", Query: inner,
			With: []ast.Option{{Pos: inner.Pos, Key: "connector", Value: "stdout"}}}
		p, err = plan.AnalyzeSink(sink, e.lookupSource, connector.SinkKinds(), e.planOptions())
	default:
		return res, &Error{Code: CodeNotSupported, Pos: s.Pos, Message: fmt.Sprintf("line %s: EXPLAIN takes CREATE SINK ... AS SELECT or SELECT", s.Pos)}
	}
	if err != nil {
		return res, err
	}
	for _, line := range strings.Split(strings.TrimRight(p.Explain(), "\n"), "\n") {
		res.Rows = append(res.Rows, []string{line})
	}
	return res, nil
}

// displaySQL is a catalog statement as DESCRIBE shows it: secrets in its
// options redacted.
func displaySQL(text string) string {
	stmt, err := parser.ParseOne(text)
	if err != nil {
		return text
	}
	return plan.RedactStatement(stmt, text)
}
