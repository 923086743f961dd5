package plan

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/expr"
	"github.com/tide-data/tide/internal/sql/types"
)

// Metadata column names, in row order after the declared columns.
const (
	ColKey       = "_key"
	ColTopic     = "_topic"
	ColPartition = "_partition"
	ColOffset    = "_offset"
	ColTimestamp = "_timestamp"
)

// metadataColumns are appended to every source's declared columns.
var metadataColumns = []Column{
	{Name: ColKey, Type: types.KindBytea},
	{Name: ColTopic, Type: types.KindText},
	{Name: ColPartition, Type: types.KindInt4},
	{Name: ColOffset, Type: types.KindInt8},
	{Name: ColTimestamp, Type: types.KindTimestampTZ},
}

// NumMetadata is how many metadata columns follow the declared ones.
var NumMetadata = len(metadataColumns)

// Column is one column of a source or an output.
type Column struct {
	Name    string
	Type    types.Kind
	NotNull bool
	// Coerce, for a declared source column with a type modifier
	// (numeric(12, 2)), is the assignment cast a decoded value goes
	// through, as Postgres applies it on INSERT: rounded to the scale, an
	// error beyond the precision. Nil when the type has no modifier.
	Coerce *expr.Expr
}

// Watermark is a source's declared event-time column and its watermark
// expression (the event time minus the allowed lateness, typically).
type Watermark struct {
	Column int // index into Source.Columns
	Expr   *expr.Expr
	Text   string // the expression as written, for DESCRIBE
}

// Source is an analyzed CREATE SOURCE.
type Source struct {
	Name      string
	Columns   []Column // declared columns only
	Watermark *Watermark
	Connector string
	Options   map[string]string // WITH options without "connector" and "primary-key"
	// PrimaryKey is the column the 'primary-key' option names, "" without
	// one: the topic is then a changelog table (the latest row per key),
	// which pipelines can join (join.go).
	PrimaryKey string
}

// RowColumns returns the full row layout a pipeline over s evaluates
// against: the declared columns, then the metadata columns.
func (s *Source) RowColumns() []Column {
	return append(slices.Clip(s.Columns), metadataColumns...)
}

// Output is one projected column of a pipeline.
type Output struct {
	Name string
	Type types.Kind
	Expr *expr.Expr
	Text string // as written, for EXPLAIN
}

// Pipeline is an analyzed CREATE SINK ... AS SELECT over one source:
// source → filter → [aggregate →] project → sink, with a key.
//
// Without an Aggregation it is stateless, evaluated record by record:
// Filter, Outputs and Key are over the input row (Source.RowColumns:
// the declared columns, then the metadata columns).
//
// With one, Filter is still over the input row, applied before
// aggregation; the Aggregation's keys and aggregate arguments are over
// the input row too; Outputs, Key and Aggregation.Having are over the
// aggregated row (Aggregation.RowColumns: keys, window_start and
// window_end with a window, then one value per aggregate).
type Pipeline struct {
	Name       string
	Source     *Source
	Filter     *expr.Expr // WHERE; nil: every record passes
	FilterText string
	// Aggregation is the query's GROUP BY; nil for a stateless pipeline.
	Aggregation *Aggregation
	Outputs     []Output
	// Key is the output record's key (KEY BY). Nil keeps the input
	// record's key, or for an aggregation is the group: its keys and,
	// with a window, window_start and window_end, as the engine encodes
	// them.
	Key     *expr.Expr
	KeyText string
	// Join is the table each event is joined with (join.go); nil
	// without one. The row expressions read is then the source's row
	// followed by the table's columns.
	Join *Join
	// StreamJoin joins the source with a second stream (streamjoin.go);
	// nil without one. Filter, Outputs and Key are then over the joined
	// row: the source's row, then the other stream's.
	StreamJoin *StreamJoin
	// TopN keeps the first rows of each partition of the source
	// (topn.go); nil without one. Outputs and Key are then over its
	// ranked row, Filter over the source's.
	TopN *TopN
	// Outer aggregates the rows of Aggregation, which groups without a
	// window (outer.go); nil without one. Outputs and Key are then over
	// Outer.Aggregation's aggregated row.
	Outer *Outer
	// Union are the queries after UNION ALL (union.go): stateless, each
	// over its own source, with outputs of this pipeline's names and
	// types; the sink gets all of their rows.
	Union []*Pipeline
	// Feeds, when set, are the queries of a UNION ALL in FROM whose rows
	// the Aggregation reads (unionfeed.go): each stateless over its own
	// source, its outputs the row of Source, which is then the union's
	// columns and read by no connector.
	Feeds     []*Pipeline
	Connector string
	Options   map[string]string // sink WITH options without "connector"
}

// Sources returns the sources the pipeline reads as streams: its
// Source (or its feeds'), a joined stream's (or its feeds'), the queries'
// after UNION ALL (not a joined table).
func (p *Pipeline) Sources() []*Source {
	out := p.SideSources(0)
	if p.StreamJoin != nil {
		for _, j := range p.StreamJoin.Before.Chain() { // the streams joined before the last
			out = append(out, j.Right)
		}
		out = append(out, p.SideSources(1)...)
	}
	for _, q := range p.Union { // a later query's own feeds and joined stream too
		out = append(out, q.Sources()...)
	}
	return out
}

// Queries returns the pipeline's query and every other it runs over its
// own source: the queries after UNION ALL, and those that feed each
// (Feeds, a join's RightFeeds).
func (p *Pipeline) Queries() []*Pipeline {
	var out []*Pipeline
	for _, q := range append([]*Pipeline{p}, p.Union...) {
		out = append(append(out, q), q.Feeds...)
		if q.StreamJoin != nil {
			out = append(out, q.StreamJoin.RightFeeds...)
		}
	}
	return out
}

// TableJoins returns every join with a table the pipeline's queries
// (Queries) make, each table of a chain apart.
func (p *Pipeline) TableJoins() []*Join {
	var out []*Join
	for _, q := range p.Queries() {
		out = slices.AppendSeq(out, q.Join.Joins())
		if q.StreamJoin != nil {
			out = slices.AppendSeq(out, q.StreamJoin.Tables.Joins())
		}
	}
	return out
}

// SideSources returns the sources a side reads: 0, the pipeline's Source
// (the left side of a join of two streams), 1, the stream it joins; for a
// fed side, its queries' sources.
func (p *Pipeline) SideSources(side int) []*Source {
	src, feeds := p.Source, p.Feeds
	if side == 1 {
		src, feeds = p.StreamJoin.Right, p.StreamJoin.RightFeeds
	}
	if len(feeds) == 0 {
		return []*Source{src}
	}
	out := make([]*Source, len(feeds))
	for i, f := range feeds {
		out[i] = f.Source
	}
	return out
}

// Stateful reports whether the query keeps state between events: it
// aggregates, ranks or joins two streams (a join with a table does not).
func (p *Pipeline) Stateful() bool {
	return p.Aggregation != nil || p.StreamJoin != nil || p.TopN != nil
}

// Updating reports whether the pipeline's result is a changelog: an
// aggregation without a window emits each group's row anew, as an
// upsert by the group key, whenever an event changes it; a top-N
// without event time, its partitions' rows by row number; an outer join
// without a time bound, its rows by KEY BY (a lonely row taken back when
// its first partner comes). A windowed
// aggregation emits each window's rows once, when the watermark passes
// its end; a stateless pipeline emits one row per record.
func (p *Pipeline) Updating() bool {
	agg := p.Aggregation
	if p.Outer != nil { // the result is the outer aggregation's
		agg = p.Outer.Aggregation
	}
	return agg != nil && agg.Window == nil || p.TopN != nil && p.TopN.Updating() ||
		p.StreamJoin != nil && p.StreamJoin.Updates()
}

// Error is a semantic error at a position in the statement.
type Error struct {
	Pos  ast.Pos
	Msg  string
	Hint string
	// Unsupported marks valid SQL the runtime does not run yet (joins,
	// DISTINCT, subqueries, arrays, aggregates other than count, sum,
	// avg, min and max, a window without GROUP BY), as opposed to a
	// mistake in the statement; errors.Is(err, ErrNotSupported) reports it.
	Unsupported bool
}

func (e *Error) Error() string {
	s := fmt.Sprintf("line %s: %s", e.Pos, e.Msg)
	if e.Hint != "" {
		s += "\nHINT: " + e.Hint
	}
	return s
}

// Is makes errors.Is(err, ErrNotSupported) hold for Unsupported errors.
func (e *Error) Is(target error) bool { return e.Unsupported && target == ErrNotSupported }

// unsupported is an Error for a feature the runtime does not run yet.
func unsupported(pos ast.Pos, msg, hint string) *Error {
	return &Error{Pos: pos, Msg: msg, Hint: hint, Unsupported: true}
}

func errorf(pos ast.Pos, format string, args ...any) *Error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// Options for analysis.
type Options struct {
	// CompileOptions are passed to the expression compiler (its clock).
	Compile expr.CompileOptions
}

// AnalyzeSource checks a CREATE SOURCE and returns its definition.
// knownConnectors lists the source connectors that exist.
func AnalyzeSource(stmt *ast.CreateSource, knownConnectors []string, opts Options) (*Source, error) {
	src := &Source{Name: string(stmt.Name)}
	if strings.HasPrefix(src.Name, "_") {
		return nil, &Error{Pos: stmt.Pos, Msg: fmt.Sprintf("invalid source name %q", src.Name), Hint: "names starting with _ are reserved"}
	}
	// A source without columns (one that only captures, postgres-cdc) is
	// the engine's to allow or refuse: it knows the connectors.
	seen := map[string]bool{}
	type typmod struct {
		index int
		def   ast.ColumnDef
	}
	var typmods []typmod
	for _, c := range stmt.Columns {
		name := string(c.Name)
		if seen[name] {
			return nil, errorf(c.Pos, "column %q specified more than once", name)
		}
		if strings.HasPrefix(name, "_") && slices.ContainsFunc(metadataColumns, func(m Column) bool { return m.Name == name }) {
			return nil, &Error{Pos: c.Pos, Msg: fmt.Sprintf("column name %q is reserved", name), Hint: "metadata columns _key, _topic, _partition, _offset and _timestamp exist on every source"}
		}
		seen[name] = true
		kind, err := kindOf(c.Type)
		if err != nil {
			return nil, err
		}
		src.Columns = append(src.Columns, Column{Name: name, Type: kind, NotNull: c.NotNull})
		if kind == types.KindNumeric && len(c.Type.Args) > 0 {
			typmods = append(typmods, typmod{index: len(src.Columns) - 1, def: c})
		}
	}
	for _, tm := range typmods {
		cast := &ast.Cast{Pos: tm.def.Pos, X: &ast.ColumnRef{Pos: tm.def.Pos, Name: tm.def.Name}, Type: tm.def.Type}
		e, err := expr.CompileWith(cast, exprColumns(src.Name, src.RowColumns()), opts.Compile)
		if err != nil {
			return nil, err
		}
		src.Columns[tm.index].Coerce = e
	}
	if wm := stmt.Watermark; wm != nil {
		idx := slices.IndexFunc(src.Columns, func(c Column) bool { return c.Name == string(wm.Column) })
		if idx < 0 {
			return nil, errorf(wm.Pos, "watermark column %q is not a column of %s", wm.Column, src.Name)
		}
		if k := src.Columns[idx].Type; k != types.KindTimestamp && k != types.KindTimestampTZ {
			return nil, &Error{Pos: wm.Pos, Msg: fmt.Sprintf("watermark column %q must be a timestamp, not %s", wm.Column, k), Hint: "declare it as timestamp or timestamptz"}
		}
		e, err := expr.CompileWith(wm.Expr, exprColumns(src.Name, src.RowColumns()), opts.Compile)
		if err != nil {
			return nil, err
		}
		if k := e.Type(); k != types.KindTimestamp && k != types.KindTimestampTZ {
			return nil, errorf(wm.Expr.Position(), "watermark expression must be a timestamp, not %s", k)
		}
		src.Watermark = &Watermark{Column: idx, Expr: e, Text: ast.Format(wm.Expr)}
	}
	var err error
	src.Connector, src.Options, err = connectorOptions(stmt.Pos, stmt.With, knownConnectors, "source")
	if err != nil {
		return nil, err
	}
	if pk, ok := src.Options["primary-key"]; ok {
		delete(src.Options, "primary-key")
		src.PrimaryKey = strings.ToLower(strings.TrimSpace(pk))
		if !slices.ContainsFunc(src.Columns, func(c Column) bool { return c.Name == src.PrimaryKey }) {
			return nil, &Error{Pos: stmt.Pos, Msg: fmt.Sprintf("primary key %q is not a column of %s", pk, src.Name),
				Hint: "'primary-key' names the one column that identifies a row of the table the topic holds"}
		}
	}
	return src, nil
}

// AnalyzeSink checks a CREATE SINK ... AS SELECT against the sources it
// reads (found by lookup) and compiles its expressions.
func AnalyzeSink(stmt *ast.CreateSink, lookup func(name string) (*Source, bool), knownConnectors []string, opts Options) (*Pipeline, error) {
	if stmt.Query.UnionAll != nil {
		return analyzeUnion(stmt, lookup, knownConnectors, opts)
	}
	p := &Pipeline{Name: string(stmt.Name)}
	if strings.HasPrefix(p.Name, "_") {
		return nil, &Error{Pos: stmt.Pos, Msg: fmt.Sprintf("invalid sink name %q", p.Name), Hint: "names starting with _ are reserved"}
	}
	if q, ok, err := distributeOverUnion(stmt, stmt.Query, lookup, knownConnectors, opts); err != nil {
		return nil, err
	} else if ok {
		over := *stmt
		over.Query = q
		return analyzeUnion(&over, lookup, knownConnectors, opts)
	}
	if fed, err := unionFeeds(stmt, stmt.Query, lookup, knownConnectors, opts); err != nil {
		return nil, err
	} else if fed.fed() {
		over := *stmt
		over.Query = fed.query
		if p, err = AnalyzeSink(&over, fed.lookup, knownConnectors, opts); err != nil {
			return nil, err
		}
		if err := fed.attach(p, stmt.Query.Pos); err != nil {
			return nil, err
		}
		return p, nil
	}
	if sub, i := rankedQuery(stmt.Query); i >= 0 {
		if fed, err := unionFeeds(stmt, sub.Query, lookup, knownConnectors, opts); err != nil {
			return nil, err
		} else if fed.fed() {
			// A top-N of a UNION ALL's rows: ranked over a source of the
			// union's columns, fed by its queries as an aggregation is.
			rankedSub := *sub
			rankedSub.Query = fed.query
			outer := *stmt.Query
			outer.From = &rankedSub
			if err := analyzeTopN(p, &outer, &rankedSub, fed.lookup, opts); err != nil {
				return nil, err
			}
			if err := fed.attach(p, sub.Pos); err != nil {
				return nil, err
			}
			return finishSink(p, stmt, &outer, knownConnectors)
		}
		if err := analyzeTopN(p, stmt.Query, sub, lookup, opts); err != nil {
			return nil, err
		}
		return finishSink(p, stmt, stmt.Query, knownConnectors)
	}
	sub, inner, err := aggregatingSubquery(stmt.Query, lookup, opts)
	if err != nil {
		return nil, err
	}
	if sub != nil {
		if err := planOuterAggregation(p, stmt.Query, sub, inner, lookup, opts); err != nil {
			return nil, err
		}
		return finishSink(p, stmt, stmt.Query, knownConnectors)
	}
	q, err := flattenSubqueries(stmt.Query, lookup, opts)
	if err != nil {
		return nil, err
	}
	if err := planQuery(p, q, lookup, opts); err != nil {
		return nil, err
	}
	return finishSink(p, stmt, q, knownConnectors)
}

// planQuery plans a flattened query into p: its source, join, filter,
// aggregation or projection.
func planQuery(p *Pipeline, q *ast.Select, lookup func(string) (*Source, bool), opts Options) error {
	if err := checkSupported(q); err != nil {
		return err
	}
	in, err := resolveFrom(q.From, lookup, opts)
	if err != nil {
		return err
	}
	p.Source, p.Join, p.StreamJoin = in.src, in.join, in.sjoin
	if in.sjoin != nil {
		// Aggregated, the joined rows feed a second stateful stage
		// (engine/chain.go); WHERE's residue applies to them first.
		if err := finishStreamJoin(p, q.Where, in, opts); err != nil {
			return err
		}
	} else if q.Where != nil {
		if f := findAggregate(q.Where); f != nil {
			return errorf(f.Pos, "aggregate functions are not allowed in WHERE")
		}
		if ref := in.findWindowColumn(q.Where); ref != nil {
			return &Error{Pos: ref.Pos, Msg: fmt.Sprintf("%s is not allowed in WHERE", ref.Name), Hint: "WHERE filters the source's records before they are windowed; filter windows in HAVING"}
		}
		f, err := expr.CompilePredicateWith(q.Where, in.cols, opts.Compile)
		if err != nil {
			return err
		}
		p.Filter, p.FilterText = f, ast.Format(q.Where)
	}
	items, err := in.expandItems(q.Items)
	if err != nil {
		return err
	}
	if aggregates(q, items) {
		if j := in.sjoin; j != nil {
			in.window = j.attachedWindows(in.cols)
			if f, ok := q.From.(*ast.Join); ok && f.Window != nil {
				if in.window, err = joinRowsWindow(f, j, in, lookup, opts); err != nil {
					return err
				}
			}
		}
		if err := planAggregation(p, q, in, items, opts); err != nil {
			return err
		}
		if j := p.StreamJoin; j != nil {
			// Aggregated by their windows, the pairs are counted where
			// the join's watermark closes them: a stage of its own.
			j.Grouped = p.Aggregation.Window == nil && groupedByJoinKey(j, p.Aggregation)
		}
	} else {
		if f, ok := q.From.(*ast.Join); ok && f.Window != nil { // its window must be grouped by, as a source's
			return unsupported(f.Window.Pos, fmt.Sprintf("window table function %s without GROUP BY is not supported yet", strings.ToUpper(string(f.Window.Name))),
				"aggregate over its windows: GROUP BY window_start, window_end")
		}
		if err := planProjection(p, q, in, items, opts); err != nil {
			return err
		}
	}
	return checkUpdating(p, q)
}

// finishSink names a planned query's outputs and reads the sink's
// connector options.
func finishSink(p *Pipeline, stmt *ast.CreateSink, q *ast.Select, knownConnectors []string) (*Pipeline, error) {
	if len(stmt.Columns) > 0 {
		if len(stmt.Columns) != len(p.Outputs) {
			return nil, errorf(stmt.Pos, "sink %s names %d columns but its query has %d", p.Name, len(stmt.Columns), len(p.Outputs))
		}
		for i, c := range stmt.Columns {
			p.Outputs[i].Name = string(c)
		}
	}
	names := map[string]bool{}
	for _, o := range p.Outputs {
		if names[o.Name] {
			return nil, &Error{Pos: q.Pos, Msg: fmt.Sprintf("output column %q appears more than once", o.Name), Hint: "give one of them an alias: expr AS other_name"}
		}
		names[o.Name] = true
	}
	var err error
	p.Connector, p.Options, err = connectorOptions(stmt.Pos, stmt.With, knownConnectors, "sink")
	if err != nil {
		return nil, err
	}
	return p, nil
}

// planProjection plans a query without aggregation: its select list and
// KEY BY over the input row.
func planProjection(p *Pipeline, q *ast.Select, in *input, items []selectItem, opts Options) error {
	if w := in.window; w != nil {
		return unsupported(w.fn.Pos, fmt.Sprintf("window table function %s without GROUP BY is not supported yet", strings.ToUpper(string(w.fn.Name))),
			"aggregate over its windows: GROUP BY window_start, window_end")
	}
	for _, it := range items {
		e, err := expr.CompileWith(it.expr, in.cols, opts.Compile)
		if err != nil {
			return err
		}
		p.Outputs = append(p.Outputs, Output{Name: it.name, Type: e.Type(), Expr: e, Text: it.text})
	}
	if q.Key != nil {
		if f := findAggregate(q.Key); f != nil {
			return errorf(f.Pos, "aggregate functions are not allowed in KEY BY")
		}
		k, err := expr.CompileWith(q.Key, in.cols, opts.Compile)
		if err != nil {
			return err
		}
		p.Key, p.KeyText = k, ast.Format(q.Key)
	}
	return nil
}

// checkSupported rejects what the runtime does not run, naming what is
// missing.
func checkSupported(q *ast.Select) error {
	switch {
	case q.From == nil:
		return errorf(q.Pos, "a sink's query needs FROM source")
	case q.Distinct:
		return unsupported(q.Pos, "SELECT DISTINCT is not supported yet", "group instead: SELECT a, b ... GROUP BY a, b")
	}
	return nil
}

// input is what a query reads: a source, under its alias, windowed or
// not.
type input struct {
	src    *Source
	alias  string        // the name columns are qualified with
	cols   []expr.Column // the input row: the source's row under alias
	window *window       // the window table function; nil without one
	join   *Join         // the table joined to each event; nil without one
	sjoin  *StreamJoin   // the stream joined with the source; nil without one
}

// resolveFrom resolves the FROM clause: a source, or a window table
// function over one.
func resolveFrom(from ast.TableExpr, lookup func(string) (*Source, bool), opts Options) (*input, error) {
	in := &input{}
	switch f := from.(type) {
	case *ast.TableName:
		src, ok := lookup(string(f.Name))
		if !ok {
			return nil, &Error{Pos: f.Pos, Msg: fmt.Sprintf("source %q does not exist", f.Name), Hint: "SHOW SOURCES lists them; create it with CREATE SOURCE"}
		}
		in.src, in.alias = src, string(f.Name)
		if f.Alias != "" {
			in.alias = string(f.Alias)
		}
	case *ast.TableFunc:
		src, w, err := resolveWindow(f, lookup, opts)
		if err != nil {
			return nil, err
		}
		// Unaliased, the window's columns are qualified by the source's
		// name (Postgres would use the function's).
		in.src, in.window, in.alias = src, w, src.Name
		if f.Alias != "" {
			in.alias = string(f.Alias)
		}
	case *ast.Join:
		return resolveJoin(f, lookup, opts)
	default:
		return nil, errorf(from.Position(), "a sink's query reads from exactly one source: SELECT ... FROM source")
	}
	in.cols = exprColumns(in.alias, in.src.RowColumns())
	return in, nil
}

func (in *input) hasColumn(name string) bool {
	return slices.ContainsFunc(in.cols, func(c expr.Column) bool { return c.Name == name })
}

// isWindowColumn reports whether ref is window_start or window_end of the
// query's window table function.
func (in *input) isWindowColumn(ref *ast.ColumnRef) bool {
	w := in.window
	if w == nil || ref.Name != ColWindowStart && ref.Name != ColWindowEnd {
		return false
	}
	return ref.Table == "" || string(ref.Table) == in.alias || slices.Contains(w.aliases, string(ref.Table))
}

// findWindowColumn returns the first reference to window_start or
// window_end in e, or nil.
func (in *input) findWindowColumn(e ast.Expr) *ast.ColumnRef {
	return find(e, in.isWindowColumn)
}

// canonical returns e's text with the input's own qualifier dropped from
// column references (o.id is id), so that expressions that mean the same
// compare equal, as GROUP BY matching needs.
func (in *input) canonical(e ast.Expr) string {
	x, _ := rewriteExpr(e, func(x ast.Expr) (ast.Expr, error) {
		ref, ok := x.(*ast.ColumnRef)
		if ok && string(ref.Table) == in.alias {
			return &ast.ColumnRef{Pos: ref.Pos, Name: ref.Name}, nil
		}
		// A joined table's column named bare is its qualified name (tier
		// is c.tier), so GROUP BY tier matches SELECT c.tier.
		if ok && ref.Table == "" && in.join != nil {
			if q := in.qualifier(ref); q != in.alias {
				return &ast.ColumnRef{Pos: ref.Pos, Table: ast.Ident(q), Name: ref.Name}, nil
			}
		}
		return nil, nil
	})
	return ast.Format(x)
}

// qualifier is the alias a column reference resolves to: its own, or
// for a bare name the stream's unless only the joined table has it.
func (in *input) qualifier(ref *ast.ColumnRef) string {
	if ref.Table != "" {
		return string(ref.Table)
	}
	if j := in.join; j != nil && !slices.ContainsFunc(in.cols[:j.Offset], func(c expr.Column) bool { return c.Name == string(ref.Name) }) {
		if t := j.tableOf(string(ref.Name)); t != nil {
			return t.Alias
		}
	}
	return in.alias
}

// selectItem is one item of the select list, stars expanded.
type selectItem struct {
	expr ast.Expr
	name string // the alias, or the name Postgres gives the expression
	text string // as written, for EXPLAIN
}

// expandItems expands the stars of a select list into the declared
// columns (and window_start, window_end of a window) and names the items.
func (in *input) expandItems(list []ast.SelectItem) ([]selectItem, error) {
	var items []selectItem
	for _, item := range list {
		if !item.Star {
			name := string(item.Alias)
			if name == "" {
				name = outputName(item.Expr)
			}
			items = append(items, selectItem{expr: item.Expr, name: name, text: ast.Format(item.Expr)})
			continue
		}
		if j := in.sjoin; j != nil {
			type side struct {
				alias    string
				src      *Source
				windowed bool
			}
			// Each stream's, in join order (the first join's left side
			// is the pipeline's source).
			chain := j.Chain()
			sides := []side{{in.alias, in.src, chain[0].LeftWindow != nil}}
			for _, x := range chain {
				sides = append(sides, side{x.RightAlias, x.Right, x.RightWindow != nil})
			}
			found := false
			for _, side := range sides {
				if item.StarTable != "" && string(item.StarTable) != side.alias {
					continue
				}
				found = true
				names := make([]string, 0, len(side.src.Columns)+2)
				for _, c := range side.src.Columns {
					names = append(names, c.Name)
				}
				if side.windowed {
					names = append(names, ColWindowStart, ColWindowEnd)
				}
				for _, name := range names {
					ref := &ast.ColumnRef{Pos: item.Pos, Table: ast.Ident(side.alias), Name: ast.Ident(name)}
					items = append(items, selectItem{expr: ref, name: name, text: side.alias + "." + name})
				}
			}
			// Then the tables joined to the pairs, in join order.
			for t := range j.Tables.Joins() {
				if item.StarTable != "" && string(item.StarTable) != t.Alias {
					continue
				}
				found = true
				for _, c := range t.Table.Columns {
					ref := &ast.ColumnRef{Pos: item.Pos, Table: ast.Ident(t.Alias), Name: ast.Ident(c.Name)}
					items = append(items, selectItem{expr: ref, name: c.Name, text: t.Alias + "." + c.Name})
				}
			}
			if !found {
				return nil, errorf(item.Pos, "missing FROM-clause entry for table %q", item.StarTable)
			}
			continue
		}
		if item.StarTable != "" && string(item.StarTable) != in.alias && (in.join == nil || !in.join.tableAlias(string(item.StarTable))) {
			return nil, errorf(item.Pos, "missing FROM-clause entry for table %q", item.StarTable)
		}
		if j := in.join; j != nil && (item.StarTable == "" || string(item.StarTable) != in.alias) {
			// * is the stream's columns (and a window's bounds), then
			// each table's in join order; t.* one table's.
			if item.StarTable == "" {
				names := make([]string, 0, len(in.src.Columns)+2)
				for _, c := range in.src.Columns {
					names = append(names, c.Name)
				}
				if in.window != nil && in.window.over == nil {
					names = append(names, ColWindowStart, ColWindowEnd)
				}
				for _, n := range names {
					ref := &ast.ColumnRef{Pos: item.Pos, Table: ast.Ident(in.alias), Name: ast.Ident(n)}
					items = append(items, selectItem{expr: ref, name: n, text: n})
				}
			}
			for t := range j.Joins() {
				if item.StarTable != "" && string(item.StarTable) != t.Alias {
					continue
				}
				for _, c := range t.Table.Columns {
					ref := &ast.ColumnRef{Pos: item.Pos, Table: ast.Ident(t.Alias), Name: ast.Ident(c.Name)}
					items = append(items, selectItem{expr: ref, name: c.Name, text: c.Name})
				}
			}
			continue
		}
		names := make([]string, 0, len(in.src.Columns)+2)
		for _, c := range in.src.Columns {
			names = append(names, c.Name)
		}
		if in.window != nil && in.window.over == nil { // a subquery's rows have theirs among their columns
			names = append(names, ColWindowStart, ColWindowEnd)
		}
		for _, n := range names {
			ref := &ast.ColumnRef{Pos: item.Pos, Table: ast.Ident(in.alias), Name: ast.Ident(n)}
			items = append(items, selectItem{expr: ref, name: n, text: n})
		}
	}
	return items, nil
}

// outputName is the column name Postgres gives an unaliased expression.
func outputName(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.ColumnRef:
		return string(x.Name)
	case *ast.Func:
		return string(x.Name)
	case *ast.Cast:
		return outputName(x.X)
	case *ast.Binary:
		if x.Op == "->" || x.Op == "->>" {
			if s, ok := x.R.(*ast.StringLit); ok {
				return s.Value
			}
		}
	case *ast.Extract:
		return "extract"
	case *ast.Case:
		return "case"
	}
	return "?column?"
}

func kindOf(t ast.TypeName) (types.Kind, error) {
	if t.Array {
		return 0, unsupported(t.Pos, fmt.Sprintf("array types are not supported yet: %s[]", t.Name), "declare the column as json and read its elements with -> and ->>")
	}
	k, err := types.KindFromName(t.Name)
	if err != nil {
		return 0, &Error{Pos: t.Pos, Msg: err.Error()}
	}
	return k, nil
}

func exprColumns(table string, cols []Column) []expr.Column {
	out := make([]expr.Column, len(cols))
	for i, c := range cols {
		out[i] = expr.Column{Table: table, Name: c.Name, Type: c.Type}
	}
	return out
}

// connectorOptions splits the WITH options into the connector kind and
// the rest, checking the connector exists.
func connectorOptions(pos ast.Pos, with []ast.Option, known []string, what string) (string, map[string]string, error) {
	opts := map[string]string{}
	var connector string
	for _, o := range with {
		key := strings.ToLower(o.Key)
		if _, dup := opts[key]; dup || (key == "connector" && connector != "") {
			return "", nil, errorf(o.Pos, "option %q given twice", key)
		}
		if key == "connector" {
			connector = o.Value
			if !slices.Contains(known, connector) {
				return "", nil, &Error{Pos: o.ValuePos, Msg: fmt.Sprintf("unknown %s connector %q", what, connector), Hint: "available: " + strings.Join(known, ", ")}
			}
			continue
		}
		opts[key] = o.Value
	}
	if connector == "" {
		return "", nil, &Error{Pos: pos, Msg: fmt.Sprintf("the %s has no connector", what), Hint: fmt.Sprintf("add WITH (connector = '...'); available: %s", strings.Join(known, ", "))}
	}
	return connector, opts, nil
}

// SortedOptions returns options as "key = 'value'" lines in key order,
// secrets redacted (see Redact).
func SortedOptions(opts map[string]string) []string {
	keys := slices.Sorted(maps.Keys(opts))
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fmt.Sprintf("%s = '%s'", k, strings.ReplaceAll(Redact(k, opts[k]), "'", "''"))
	}
	return out
}

// Redacted stands for a secret in what SHOW, DESCRIBE and EXPLAIN print.
const Redacted = "****"

// Redact returns an option's value as it may be shown: the value of a key
// naming a secret (…secret…, …password…, …token…) is hidden, and so is
// the password of a URL (postgres://user:pass@host/db).
func Redact(key, value string) string {
	k := strings.ToLower(key)
	if strings.Contains(k, "secret") || strings.Contains(k, "password") || strings.Contains(k, "token") {
		if strings.HasSuffix(k, ".env") { // the name of a variable holding it, not the secret
			return value
		}
		return Redacted
	}
	if u, err := url.Parse(value); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), Redacted)
			return strings.Replace(u.String(), url.QueryEscape(Redacted), Redacted, 1)
		}
	}
	if m := conninfoPassword.FindStringSubmatchIndex(value); m != nil {
		return value[:m[2]] + Redacted + value[m[3]:]
	}
	return value
}

// conninfoPassword finds the password of a libpq key/value connection
// string (host=db password=secret), quoted or not.
var conninfoPassword = regexp.MustCompile(`(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)`)

// RedactStatement returns a statement's text for display: as written when
// it holds nothing to hide, else in canonical form with its WITH options'
// secrets redacted.
func RedactStatement(stmt ast.Statement, text string) string {
	var with []ast.Option
	switch s := stmt.(type) {
	case *ast.CreateSource:
		with = s.With
	case *ast.CreateSink:
		with = s.With
	}
	redacted := false
	for i, o := range with {
		if r := Redact(o.Key, o.Value); r != o.Value {
			with[i].Value, redacted = r, true
		}
	}
	if !redacted {
		return text
	}
	return ast.Format(stmt)
}

// ErrNotSupported marks statements the engine parses but does not run:
// errors.Is(err, ErrNotSupported) holds for an *Error with Unsupported set.
var ErrNotSupported = errors.New("plan: not supported")
