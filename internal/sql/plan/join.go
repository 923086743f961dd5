package plan

import (
	"fmt"
	"iter"
	"slices"

	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/expr"
	"github.com/tide-data/tide/internal/sql/types"
)

// Join is a stream-to-table join: each event of the pipeline's source is
// joined with the row of a table — a source with a primary key, whose
// topic holds the latest row per key — that has the event's key, as the
// table stands when the event is processed (Kafka Streams' join of a
// stream with a global table; Flink's lookup join). Every worker holds
// the whole table, so the stream needs no repartitioning.
type Join struct {
	Table *Source
	Alias string // the table's qualifier in the query
	// Left keeps an event whose key has no row, with NULL table columns
	// (LEFT JOIN); an inner join drops it.
	Left bool
	// Key is the event's side of ON, over the source's row; TableKey the
	// primary key's index among the table's columns.
	Key      *expr.Expr
	KeyText  string
	TableKey int
	// IndexKey, when the event's side has the wider type (numeric or
	// float8 against an integer key, bigint against integer), is the
	// primary key cast to that type, over the table's columns: the two
	// are compared in their common type, as Postgres' = compares them,
	// so 1.5 finds no row rather than 2's. Nil: Key is of the primary
	// key's type.
	IndexKey *expr.Expr
	// Offset is where the table's columns start in the joined row: after
	// the source's declared and metadata columns.
	Offset int
	// StreamFilter, over the source's row, drops an event before it is
	// looked up: the WHERE of a subquery on the stream side merged into
	// the join (mergeTableJoinSide). Nil without one.
	StreamFilter     *expr.Expr
	StreamFilterText string
	// Then is a further table joined to this join's rows (FROM s JOIN a
	// ON … JOIN b ON …), its key over them (a's columns too), its
	// columns after a's; nil for the last. Lookups go in order.
	Then *Join
}

// Joins iterates over j and the tables joined after it, in order.
func (j *Join) Joins() iter.Seq[*Join] {
	return func(yield func(*Join) bool) {
		for ; j != nil; j = j.Then {
			if !yield(j) {
				return
			}
		}
	}
}

// last is the last table of j's chain.
func (j *Join) last() *Join {
	for j.Then != nil {
		j = j.Then
	}
	return j
}

// Width is how many columns the joins add to the stream's row.
func (j *Join) Width() int {
	n := 0
	for t := range j.Joins() {
		n += len(t.Table.Columns)
	}
	return n
}

// tableOf returns the joined table that a bare column name resolves to
// when the stream has no such column: the first that has it, or nil.
func (j *Join) tableOf(name string) *Join {
	for t := range j.Joins() {
		if slices.ContainsFunc(t.Table.Columns, func(c Column) bool { return c.Name == name }) {
			return t
		}
	}
	return nil
}

// resolveJoin resolves FROM source [AS a] [INNER | LEFT] JOIN table [AS b]
// ON a_expr = b.primary_key.
func resolveJoin(f *ast.Join, lookup func(string) (*Source, bool), opts Options) (*input, error) {
	if f.Kind != "INNER" && f.Kind != "LEFT" && f.Kind != "RIGHT" && f.Kind != "FULL" {
		return nil, unsupported(f.Pos, f.Kind+" JOIN is not supported yet", "FROM stream [LEFT] JOIN table ON stream.col = table.primary_key, or FROM stream [LEFT | RIGHT | FULL] JOIN stream ON ...")
	}
	_, chained := f.Left.(*ast.Join)
	if chained && !isTable(f.Right, lookup) && !isStream(f.Right, lookup) || !chained && !isJoinSide(f.Left) {
		return nil, unsupported(f.Left.Position(), "a join reads sources, window table functions or subqueries on each side of a join of two streams, then further streams or tables one after another",
			"FROM stream [LEFT] JOIN table_or_stream ON ... [[LEFT] JOIN table_or_stream ON ...]")
	}
	in, err := resolveFrom(f.Left, lookup, opts)
	if err != nil {
		return nil, err
	}
	if chained && isStream(f.Right, lookup) && in.sjoin == nil {
		return nil, unsupported(f.Right.Position(), "a stream joined after a table is not supported yet",
			"join the streams first, then the tables: FROM a JOIN b ON … JOIN table ON …")
	}
	if chained && in.sjoin != nil && in.sjoin.Updates() {
		return nil, unsupported(f.Right.Position(), fmt.Sprintf("a table joined to a %s JOIN without a time bound is not supported: a NULL-padded row it takes back would be looked up again, and the table may have changed", in.sjoin.Kind()),
			in.sjoin.boundHint+", or join the table in a subquery on a side: (SELECT … FROM s JOIN table ON …) AS a")
	}
	if fn, ok := f.Right.(*ast.TableFunc); ok { // a window join: two streams
		src, w, err := resolveWindow(fn, lookup, opts)
		if err != nil {
			return nil, err
		}
		alias := src.Name
		if fn.Alias != "" {
			alias = string(fn.Alias)
		}
		return resolveStreamJoin(f, in, &joinSide{src: src, alias: alias, window: w, pos: fn.Pos}, opts)
	}
	right, ok := f.Right.(*ast.TableName)
	if !ok {
		return nil, unsupported(f.Right.Position(), "a join reads two sources for now (no nested joins or subqueries on its sides)", "FROM stream [LEFT] JOIN table_or_stream ON ...")
	}
	table, ok := lookup(string(right.Name))
	if !ok {
		return nil, &Error{Pos: right.Pos, Msg: fmt.Sprintf("source %q does not exist", right.Name), Hint: "SHOW SOURCES lists them; create it with CREATE SOURCE"}
	}
	if table.PrimaryKey == "" { // two streams
		alias := string(right.Name)
		if right.Alias != "" {
			alias = string(right.Alias)
		}
		return resolveStreamJoin(f, in, &joinSide{src: table, alias: alias, pos: right.Pos}, opts)
	}
	if f.Kind != "INNER" && f.Kind != "LEFT" {
		return nil, unsupported(f.Pos, f.Kind+" JOIN of a stream with a table is not supported yet", "FROM stream [LEFT] JOIN table ON stream.col = table.primary_key")
	}
	j := &Join{Table: table, Alias: string(right.Name), Left: f.Kind == "LEFT", Offset: len(in.cols)}
	if right.Alias != "" {
		j.Alias = string(right.Alias)
	}
	if j.Alias == in.alias || in.join != nil && in.join.tableAlias(j.Alias) ||
		in.sjoin != nil && (slices.Contains(in.sjoin.aliases(), j.Alias) || in.sjoin.Tables != nil && in.sjoin.Tables.tableAlias(j.Alias)) {
		return nil, errorf(right.Pos, "table name %q specified more than once", j.Alias)
	}
	j.TableKey = slices.IndexFunc(table.Columns, func(c Column) bool { return c.Name == table.PrimaryKey })
	streamCols := in.cols
	in.cols = append(slices.Clip(in.cols), exprColumns(j.Alias, table.Columns)...)
	// ON must be stream_expr = table.primary_key, either way round.
	on, ok := f.On.(*ast.Binary)
	if f.On == nil || !ok || on.Op != "=" {
		return nil, onError(f, j, table)
	}
	isKey := func(e ast.Expr) bool {
		ref, ok := e.(*ast.ColumnRef)
		return ok && string(ref.Name) == table.PrimaryKey && (string(ref.Table) == j.Alias || (ref.Table == "" && !slices.ContainsFunc(streamCols, func(c expr.Column) bool { return c.Name == string(ref.Name) })))
	}
	streamSide := on.L
	switch {
	case isKey(on.R):
	case isKey(on.L):
		streamSide = on.R
	default:
		return nil, onError(f, j, table)
	}
	// Compared as the key's type: an integer event key finds a bigint
	// key's row, as Postgres's = would. A wider event key (numeric,
	// float8, bigint against integer) is not cast down, which would
	// round it or fail: the primary key is cast up to it instead.
	keyType := table.Columns[j.TableKey].Type
	k, err := expr.CompileWith(streamSide, streamCols, opts.Compile)
	if err == nil && wider(k.Type(), keyType) {
		pk := &ast.Cast{Pos: f.Pos, X: &ast.ColumnRef{Pos: f.Pos, Name: ast.Ident(table.PrimaryKey)}, Type: ast.TypeName{Pos: f.Pos, Name: k.Type().String()}}
		if j.IndexKey, err = expr.CompileWith(pk, exprColumns(j.Alias, table.Columns), opts.Compile); err != nil {
			return nil, err
		}
	} else if err == nil {
		cast := &ast.Cast{Pos: streamSide.Position(), X: streamSide, Type: ast.TypeName{Pos: streamSide.Position(), Name: keyType.String()}}
		k, err = expr.CompileWith(cast, streamCols, opts.Compile)
	}
	if err != nil {
		return nil, &Error{Pos: streamSide.Position(), Msg: fmt.Sprintf("the join's key must be an expression over %s's columns: %v", in.alias, err),
			Hint: "FROM stream [LEFT] JOIN table ON stream.col = table.primary_key"}
	}
	j.Key, j.KeyText = k, ast.Format(streamSide)
	if sj := in.sjoin; sj != nil { // joined to the rows of a join of two streams
		if sj.Tables == nil {
			sj.Tables = j
		} else {
			sj.Tables.last().Then = j
		}
		return in, nil
	}
	if first := in.join; first != nil { // a further table: after the others
		first.last().Then = j
		return in, nil
	}
	if f.LeftWhere != nil {
		if j.StreamFilter, err = expr.CompilePredicateWith(f.LeftWhere, streamCols, opts.Compile); err != nil {
			return nil, err
		}
		j.StreamFilterText = ast.Format(f.LeftWhere)
	}
	in.join = j
	return in, nil
}

// tableAlias reports whether alias names j or a table joined after it.
func (j *Join) tableAlias(alias string) bool {
	for t := range j.Joins() {
		if t.Alias == alias {
			return true
		}
	}
	return false
}

// isTable reports whether a join side is a table: a source with a
// primary key.
func isTable(t ast.TableExpr, lookup func(string) (*Source, bool)) bool {
	n, ok := t.(*ast.TableName)
	if !ok {
		return false
	}
	src, found := lookup(string(n.Name))
	return found && src.PrimaryKey != ""
}

func onError(f *ast.Join, j *Join, table *Source) error {
	return &Error{Pos: f.Pos, Msg: fmt.Sprintf("a join with table %s needs ON <expression over the stream> = %s.%s", j.Alias, j.Alias, table.PrimaryKey),
		Hint: "a stream joins a table on the table's primary key; other conditions go in WHERE"}
}

// wider reports whether a value of kind a compares with one of kind b in
// a's type: both numbers or both date/times, a of the higher rank
// (Postgres' implicit coercions, as the expression compiler applies them).
func wider(a, b types.Kind) bool {
	rank := func(k types.Kind, order ...types.Kind) int { return slices.Index(order, k) }
	if ra, rb := rank(a, types.KindInt2, types.KindInt4, types.KindInt8, types.KindNumeric, types.KindFloat8), rank(b, types.KindInt2, types.KindInt4, types.KindInt8, types.KindNumeric, types.KindFloat8); ra >= 0 && rb >= 0 {
		return ra > rb
	}
	ra, rb := rank(a, types.KindDate, types.KindTimestamp, types.KindTimestampTZ), rank(b, types.KindDate, types.KindTimestamp, types.KindTimestampTZ)
	return ra >= 0 && rb >= 0 && ra > rb
}

// isStream reports whether a join side is a stream: a source without a
// primary key.
func isStream(t ast.TableExpr, lookup func(string) (*Source, bool)) bool {
	n, ok := t.(*ast.TableName)
	if !ok {
		return false
	}
	src, found := lookup(string(n.Name))
	return found && src.PrimaryKey == ""
}

// isJoinSide reports whether a side of a join is one this planner
// reads: a source, or a window table function over one.
func isJoinSide(t ast.TableExpr) bool {
	switch t.(type) {
	case *ast.TableName, *ast.TableFunc:
		return true
	}
	return false
}
