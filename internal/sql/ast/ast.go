package ast

import "fmt"

// Pos is a position in the statement text: 1-based line and column (in
// runes), and the 0-based byte offset.
type Pos struct {
	Line, Col, Offset int
}

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// Node is any syntax tree node.
type Node interface {
	Position() Pos
}

// Statement is a top-level statement.
type Statement interface {
	Node
	statement()
}

// Expr is a scalar expression.
type Expr interface {
	Node
	expr()
}

// TableExpr is an item of a FROM clause.
type TableExpr interface {
	Node
	tableExpr()
}

// ObjectKind names the kind of catalog object a statement is about.
type ObjectKind string

// Catalog object kinds.
const (
	KindSource ObjectKind = "SOURCE"
	KindSink   ObjectKind = "SINK"
	KindTable  ObjectKind = "TABLE"
	KindView   ObjectKind = "MATERIALIZED VIEW"
)

// ---- statements ----

// CreateSource is CREATE SOURCE [IF NOT EXISTS] name (columns [, WATERMARK
// FOR col AS expr]) WITH (options).
type CreateSource struct {
	Pos         Pos
	IfNotExists bool
	Name        Ident
	Columns     []ColumnDef
	Watermark   *Watermark // nil without a WATERMARK clause
	With        []Option
}

// ColumnDef is one declared column.
type ColumnDef struct {
	Pos     Pos
	Name    Ident
	Type    TypeName
	NotNull bool
}

// Watermark is WATERMARK FOR column AS expr.
type Watermark struct {
	Pos    Pos
	Column Ident
	Expr   Expr
}

// Option is one key = value item of a WITH clause. Keys are dotted names
// or string literals ('format.json.fail-on-missing'); values are
// literals, kept as their text.
type Option struct {
	Pos      Pos
	Key      string
	Value    string
	ValuePos Pos
}

// CreateSink is CREATE SINK [IF NOT EXISTS] name [(columns)] WITH
// (options) AS query. Columns, if given, rename the query's outputs.
// View marks CREATE MATERIALIZED VIEW name [(columns)] [WITH (options)]
// AS query: a sink whose results Tide keeps and serves itself.
type CreateSink struct {
	Pos         Pos
	View        bool
	IfNotExists bool
	Name        Ident
	Columns     []Ident
	With        []Option
	Query       *Select
}

// Drop is DROP SOURCE|SINK [IF EXISTS] name.
type Drop struct {
	Pos      Pos
	Kind     ObjectKind
	IfExists bool
	Name     Ident
}

// Show is SHOW SOURCES|SINKS|TOPICS|... What is the upper-case keyword.
type Show struct {
	Pos  Pos
	What string
}

// Describe is DESCRIBE name.
type Describe struct {
	Pos  Pos
	Name Ident
}

// Explain is EXPLAIN statement (a CREATE SINK or a SELECT).
type Explain struct {
	Pos       Pos
	Statement Statement
}

// Select is a query. It is a Statement too: on its own it is only
// accepted by EXPLAIN until ad-hoc queries exist.
type Select struct {
	Pos      Pos
	Distinct bool
	Items    []SelectItem
	From     TableExpr // nil for SELECT without FROM
	Where    Expr      // nil without WHERE
	GroupBy  []Expr
	Having   Expr
	// Key is Tide's extension KEY BY expr (may also be given as the
	// sink's key option); nil keeps the input key.
	Key Expr
	// UnionAll is the query after UNION ALL, whose rows are appended to
	// this one's (it may have a UnionAll of its own); nil without one.
	UnionAll *Select
}

// SelectItem is one output of a SELECT list: an expression with an
// optional alias, or * / table.*.
type SelectItem struct {
	Pos       Pos
	Expr      Expr // nil for a star
	Alias     Ident
	Star      bool
	StarTable Ident // table.*; empty for a bare *
}

// TableName is a named source in FROM, with an optional alias.
type TableName struct {
	Pos   Pos
	Name  Ident
	Alias Ident
}

// TableFunc is a table function in FROM: TUMBLE(TABLE src, DESCRIPTOR(ts),
// INTERVAL '1' MINUTE) and its kin, with an optional alias.
type TableFunc struct {
	Pos   Pos
	Name  Ident
	Args  []TableFuncArg
	Alias Ident
}

// TableFuncArg is an argument of a table function: exactly one of Table
// (TABLE name), Query (TABLE (SELECT ...)), Descriptor (DESCRIPTOR(col,
// ...)) or Expr is set. Name is set for named arguments (name => value).
type TableFuncArg struct {
	Pos        Pos
	Name       Ident
	Table      *TableName
	Query      *Select
	Descriptor []Ident
	Expr       Expr
}

// Join is left JOIN right ON cond (later issues run it).
type Join struct {
	Pos   Pos
	Kind  string // "INNER", "LEFT", "RIGHT", "FULL", "CROSS"
	Left  TableExpr
	Right TableExpr
	On    Expr
	// Window and WindowTime are not syntax: the planner sets them when
	// it turns TUMBLE(TABLE (SELECT ... FROM a JOIN b ...), DESCRIPTOR(c),
	// ...) into a query over the join, to the window function and the
	// side's column c stands for. Format leaves them out.
	Window     *TableFunc
	WindowTime *ColumnRef
	// LeftWhere is not syntax either: the WHERE of a subquery on the
	// stream side of a join with a table, merged into the join, which
	// filters the stream's events before they are looked up.
	LeftWhere Expr
}

// Subquery is (SELECT ...) alias in FROM.
type Subquery struct {
	Pos   Pos
	Query *Select
	Alias Ident
}

// ---- expressions ----

// Ident is an identifier: folded to lower case unless it was quoted.
type Ident string

// TypeName is a type as written, canonicalised: lower case, multi-word
// names joined by one space ("double precision", "timestamp with time
// zone", "character varying"), with its modifiers (numeric(10,2),
// varchar(20)) and array marker.
type TypeName struct {
	Pos   Pos
	Name  string
	Args  []int
	Array bool
}

// NumberLit is a numeric literal as written ("42", "1.5", "1e3").
type NumberLit struct {
	Pos  Pos
	Text string
}

// StringLit is a string literal, escapes resolved ('it”s', E'\n').
type StringLit struct {
	Pos   Pos
	Value string
}

// BoolLit is TRUE or FALSE.
type BoolLit struct {
	Pos   Pos
	Value bool
}

// NullLit is NULL.
type NullLit struct {
	Pos Pos
}

// TypedLit is type 'text': TIMESTAMP '2024-01-01 00:00', DATE '...',
// INTERVAL '1 hour', INTERVAL '5' MINUTE (Qualifier "minute"), JSON '{}'.
type TypedLit struct {
	Pos       Pos
	Type      TypeName
	Value     string
	Qualifier string // interval field qualifier, lower case; "" if none
}

// ColumnRef is [table.]column.
type ColumnRef struct {
	Pos   Pos
	Table Ident
	Name  Ident
}

// Unary is a prefix operator: "-", "+", "NOT", "~" (bitwise not).
type Unary struct {
	Pos Pos
	Op  string
	X   Expr
}

// Binary is an infix operator. Op is the operator as written for symbols
// ("+", "||", "->>", "~*", "<>" (also for "!=")) and upper case for
// keywords ("AND", "OR").
type Binary struct {
	Pos  Pos
	Op   string
	L, R Expr
}

// Like is x [NOT] LIKE|ILIKE pattern [ESCAPE esc], and SIMILAR TO.
type Like struct {
	Pos             Pos
	X, Pattern      Expr
	Escape          Expr // nil: backslash
	Not             bool
	CaseInsensitive bool // ILIKE
	Similar         bool // SIMILAR TO
}

// Between is x [NOT] BETWEEN [SYMMETRIC] lo AND hi.
type Between struct {
	Pos       Pos
	X, Lo, Hi Expr
	Not       bool
	Symmetric bool
}

// In is x [NOT] IN (list).
type In struct {
	Pos  Pos
	X    Expr
	List []Expr
	Not  bool
}

// IsNull is x IS [NOT] NULL.
type IsNull struct {
	Pos Pos
	X   Expr
	Not bool
}

// IsBool is x IS [NOT] TRUE|FALSE|UNKNOWN. Value is nil for UNKNOWN.
type IsBool struct {
	Pos   Pos
	X     Expr
	Not   bool
	Value *bool
}

// IsDistinct is l IS [NOT] DISTINCT FROM r.
type IsDistinct struct {
	Pos  Pos
	L, R Expr
	Not  bool
}

// Case is CASE [operand] WHEN ... THEN ... [ELSE ...] END.
type Case struct {
	Pos     Pos
	Operand Expr // nil for a searched CASE
	Whens   []When
	Else    Expr // nil: NULL
}

// When is one WHEN cond THEN result arm.
type When struct {
	Pos          Pos
	Cond, Result Expr
}

// Cast is CAST(x AS type) or x::type. TryCast is TRY_CAST (NULL instead
// of an error).
type Cast struct {
	Pos     Pos
	X       Expr
	Type    TypeName
	TryCast bool
}

// Func is a function call: name(args), count(*) (Star), agg(DISTINCT x),
// agg(x) FILTER (WHERE cond), and a window function's call with its
// OVER clause (Over). Name is lower case unless quoted.
// COALESCE, NULLIF, GREATEST, LEAST, POSITION(a IN b), SUBSTRING(s FROM
// i FOR n), TRIM(BOTH x FROM s) and OVERLAY arrive as Func with their
// arguments in the function's positional order.
type Func struct {
	Pos      Pos
	Name     Ident
	Args     []Expr
	Distinct bool
	Star     bool
	Filter   Expr
	Over     *Over // nil unless called as a window function
}

// Over is a window function's OVER (PARTITION BY ... ORDER BY ...).
type Over struct {
	Pos         Pos
	PartitionBy []Expr
	OrderBy     []OrderItem
}

// OrderItem is one expression of an ORDER BY, with its direction and
// where its NULLs go.
type OrderItem struct {
	Pos  Pos
	X    Expr
	Desc bool
	// Nulls is NullsDefault (Postgres: last ascending, first
	// descending), NullsFirst or NullsLast.
	Nulls NullsOrder
}

// NullsOrder is an ORDER BY item's NULLS FIRST or NULLS LAST.
type NullsOrder uint8

// The NULLS placements of an ORDER BY item.
const (
	NullsDefault NullsOrder = iota
	NullsFirst
	NullsLast
)

// First reports whether the item's NULLs sort before its other values.
func (o OrderItem) First() bool {
	if o.Nulls == NullsDefault {
		return o.Desc // Postgres: NULL is larger than every value
	}
	return o.Nulls == NullsFirst
}

// Extract is EXTRACT(field FROM x); Field is lower case ("epoch", "dow").
type Extract struct {
	Pos   Pos
	Field string
	X     Expr
}

// Position returns where the CreateSource starts.
func (n *CreateSource) Position() Pos { return n.Pos }

// Position returns where the CreateSink starts.
func (n *CreateSink) Position() Pos { return n.Pos }

// Position returns where the Drop starts.
func (n *Drop) Position() Pos { return n.Pos }

// Position returns where the Show starts.
func (n *Show) Position() Pos { return n.Pos }

// Position returns where the Describe starts.
func (n *Describe) Position() Pos { return n.Pos }

// Position returns where the Explain starts.
func (n *Explain) Position() Pos { return n.Pos }

// Position returns where the Select starts.
func (n *Select) Position() Pos { return n.Pos }

// Position returns where the TableName starts.
func (n *TableName) Position() Pos { return n.Pos }

// Position returns where the TableFunc starts.
func (n *TableFunc) Position() Pos { return n.Pos }

// Position returns where the Join starts.
func (n *Join) Position() Pos { return n.Pos }

// Position returns where the Subquery starts.
func (n *Subquery) Position() Pos { return n.Pos }

// Position returns where the NumberLit starts.
func (n *NumberLit) Position() Pos { return n.Pos }

// Position returns where the StringLit starts.
func (n *StringLit) Position() Pos { return n.Pos }

// Position returns where the BoolLit starts.
func (n *BoolLit) Position() Pos { return n.Pos }

// Position returns where the NullLit starts.
func (n *NullLit) Position() Pos { return n.Pos }

// Position returns where the TypedLit starts.
func (n *TypedLit) Position() Pos { return n.Pos }

// Position returns where the ColumnRef starts.
func (n *ColumnRef) Position() Pos { return n.Pos }

// Position returns where the Unary starts.
func (n *Unary) Position() Pos { return n.Pos }

// Position returns where the Binary starts.
func (n *Binary) Position() Pos { return n.Pos }

// Position returns where the Like starts.
func (n *Like) Position() Pos { return n.Pos }

// Position returns where the Between starts.
func (n *Between) Position() Pos { return n.Pos }

// Position returns where the In starts.
func (n *In) Position() Pos { return n.Pos }

// Position returns where the IsNull starts.
func (n *IsNull) Position() Pos { return n.Pos }

// Position returns where the IsBool starts.
func (n *IsBool) Position() Pos { return n.Pos }

// Position returns where the IsDistinct starts.
func (n *IsDistinct) Position() Pos { return n.Pos }

// Position returns where the Case starts.
func (n *Case) Position() Pos { return n.Pos }

// Position returns where the Cast starts.
func (n *Cast) Position() Pos { return n.Pos }

// Position returns where the Func starts.
func (n *Func) Position() Pos { return n.Pos }

// Position returns where the Extract starts.
func (n *Extract) Position() Pos { return n.Pos }

func (*CreateSource) statement() {}
func (*CreateSink) statement()   {}
func (*Drop) statement()         {}
func (*Show) statement()         {}
func (*Describe) statement()     {}
func (*Explain) statement()      {}
func (*Select) statement()       {}

func (*TableName) tableExpr() {}
func (*TableFunc) tableExpr() {}
func (*Join) tableExpr()      {}
func (*Subquery) tableExpr()  {}

func (*NumberLit) expr()  {}
func (*StringLit) expr()  {}
func (*BoolLit) expr()    {}
func (*NullLit) expr()    {}
func (*TypedLit) expr()   {}
func (*ColumnRef) expr()  {}
func (*Unary) expr()      {}
func (*Binary) expr()     {}
func (*Like) expr()       {}
func (*Between) expr()    {}
func (*In) expr()         {}
func (*IsNull) expr()     {}
func (*IsBool) expr()     {}
func (*IsDistinct) expr() {}
func (*Case) expr()       {}
func (*Cast) expr()       {}
func (*Func) expr()       {}
func (*Extract) expr()    {}
