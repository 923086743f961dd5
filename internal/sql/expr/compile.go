package expr

import (
	"strings"
	"time"

	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/types"
)

// Column is one column of the input row: row[i] is column i.
type Column struct {
	Table, Name string
	Type        types.Kind
}

// Expr is a compiled expression. It holds no per-evaluation state: Eval
// is safe for concurrent use.
type Expr struct {
	typ  types.Kind
	eval evalFn
	col  int    // the row index if the expression is a plain column reference, else -1
	refs []bool // refs[i]: evaluation may read row[i]
}

// Type returns the type of the expression's values.
func (e *Expr) Type() types.Kind { return e.typ }

// Eval evaluates the expression over row, laid out as the columns it was
// compiled with. Errors are *types.Error with a SQLSTATE. The returned
// Value may share memory with row (Values are immutable).
func (e *Expr) Eval(row types.Row) (types.Value, error) { return e.eval(row) }

// Column returns the row index a plain column reference reads: then
// Eval(row) is row[i], of the expression's type, and a caller may copy
// it without calling Eval.
func (e *Expr) Column() (i int, ok bool) { return e.col, e.col >= 0 }

// References reports whether evaluating the expression may read row[i].
// A caller may leave the columns no expression references unset.
func (e *Expr) References(i int) bool { return i >= 0 && i < len(e.refs) && e.refs[i] }

// CompileOptions tune compilation.
type CompileOptions struct {
	// Now is the clock of now(), current_timestamp, current_date; nil is
	// time.Now. It is read at each evaluation.
	Now func() time.Time
}

// Compile compiles x over the input columns cols.
func Compile(x ast.Expr, cols []Column) (*Expr, error) {
	return CompileWith(x, cols, CompileOptions{})
}

// CompilePredicate compiles a WHERE-like condition, which must be boolean.
func CompilePredicate(x ast.Expr, cols []Column) (*Expr, error) {
	return CompilePredicateWith(x, cols, CompileOptions{})
}

// CompilePredicateWith is CompilePredicate with options.
func CompilePredicateWith(x ast.Expr, cols []Column, opts CompileOptions) (*Expr, error) {
	c := &compiler{cols: cols, opts: opts}
	n, err := c.compile(x)
	if err != nil {
		return nil, err
	}
	if n.typ == types.KindNull || n.unknown {
		n, err = c.coerce(n, types.KindBool)
		if err != nil {
			return nil, err
		}
	}
	if n.typ != types.KindBool {
		return nil, errorf(x.Position(), codeDatatypeMismatch, "argument of WHERE must be type boolean, not type %s", n.typ)
	}
	return c.expr(n), nil
}

// CompileWith is Compile with options.
func CompileWith(x ast.Expr, cols []Column, opts CompileOptions) (*Expr, error) {
	c := &compiler{cols: cols, opts: opts}
	n, err := c.compile(x)
	if err != nil {
		return nil, err
	}
	if n.unknown {
		// An untyped literal standing alone is text, as in Postgres.
		n = constNode(types.NewText(n.val.Text()), n.pos)
	}
	return c.expr(n), nil
}

// evalFn evaluates one compiled node over a row.
type evalFn func(types.Row) (types.Value, error)

// node is an expression being compiled.
type node struct {
	typ types.Kind
	fn  evalFn
	pos ast.Pos
	// konst: the node does not depend on the row and is not volatile; if
	// folded, val holds its value.
	konst  bool
	folded bool
	val    types.Value
	// unknown: a string literal whose type is still open (Postgres'
	// "unknown"); val holds it as text.
	unknown bool
	// col is the column index of a plain column reference, or -1.
	col int
	// typmod is the varchar(n)/numeric(p,s) modifier of a cast, kept for
	// nothing but documentation of the result today.
}

func constNode(v types.Value, pos ast.Pos) *node {
	return &node{typ: v.Kind(), fn: func(types.Row) (types.Value, error) { return v, nil }, pos: pos, konst: true, folded: true, val: v, col: -1}
}

func nullNode(k types.Kind, pos ast.Pos) *node { return constNode(types.Null(k), pos) }

type compiler struct {
	cols []Column
	opts CompileOptions
	refs []bool // the columns column references resolved to
}

func (c *compiler) expr(n *node) *Expr {
	return &Expr{typ: n.typ, eval: n.fn, col: n.col, refs: c.refs}
}

// newNode makes a node of type k computing fn from args; it is constant
// if all args are, and then folded now. A fold that fails keeps the
// closure, so the error surfaces at evaluation (and only if the branch is
// taken, as in CASE).
func (c *compiler) newNode(k types.Kind, pos ast.Pos, fn evalFn, args ...*node) *node {
	n := &node{typ: k, fn: fn, pos: pos, konst: true, col: -1}
	for _, a := range args {
		if !a.konst {
			n.konst = false
			break
		}
	}
	return c.fold(n)
}

func (c *compiler) fold(n *node) *node {
	if !n.konst || n.folded {
		return n
	}
	v, err := n.fn(nil)
	if err != nil {
		return n
	}
	f := constNode(v, n.pos)
	if v.Kind() == types.KindNull || (v.IsNull() && n.typ != types.KindNull) {
		f = nullNode(n.typ, n.pos)
	}
	f.typ = n.typ
	return f
}

func (c *compiler) compile(x ast.Expr) (*node, error) {
	switch x := x.(type) {
	case *ast.NumberLit:
		return c.numberLit(x)
	case *ast.StringLit:
		v := types.NewText(x.Value)
		n := constNode(v, x.Pos)
		n.unknown = true
		return n, nil
	case *ast.BoolLit:
		return constNode(types.NewBool(x.Value), x.Pos), nil
	case *ast.NullLit:
		return nullNode(types.KindNull, x.Pos), nil
	case *ast.TypedLit:
		return c.typedLit(x)
	case *ast.ColumnRef:
		return c.columnRef(x)
	case *ast.Unary:
		return c.unary(x)
	case *ast.Binary:
		return c.binary(x)
	case *ast.Like:
		return c.like(x)
	case *ast.Between:
		return c.between(x)
	case *ast.In:
		return c.in(x)
	case *ast.IsNull:
		return c.isNull(x)
	case *ast.IsBool:
		return c.isBool(x)
	case *ast.IsDistinct:
		return c.isDistinct(x)
	case *ast.Case:
		return c.caseExpr(x)
	case *ast.Cast:
		return c.cast(x)
	case *ast.Func:
		if x.Over != nil {
			return nil, &Error{Pos: x.Over.Pos, Code: codeFeature,
				Msg:  "window function " + string(x.Name) + "() OVER is supported only to keep the top N rows of each partition",
				Hint: "SELECT ... FROM (SELECT ..., ROW_NUMBER() OVER (PARTITION BY ... ORDER BY ...) AS rn FROM source) WHERE rn <= N"}
		}
		return c.call(x)
	case *ast.Extract:
		arg, err := c.compile(x.X)
		if err != nil {
			return nil, err
		}
		field := constNode(types.NewText(x.Field), x.Pos)
		field.unknown = true
		return c.extract(x.Pos, field, arg, true)
	case nil:
		return nil, &Error{Msg: "missing expression", Code: codeSyntaxError}
	}
	return nil, errorf(x.Position(), codeFeature, "unsupported expression %T", x)
}

func (c *compiler) numberLit(x *ast.NumberLit) (*node, error) {
	t := x.Text
	if !strings.ContainsAny(t, ".eE") {
		if v, err := types.ParseText(types.KindInt4, t); err == nil {
			return constNode(v, x.Pos), nil
		}
		if v, err := types.ParseText(types.KindInt8, t); err == nil {
			return constNode(v, x.Pos), nil
		}
	}
	v, err := types.ParseText(types.KindNumeric, t)
	if err != nil {
		return nil, wrapValueError(x.Pos, err)
	}
	return constNode(v, x.Pos), nil
}

func (c *compiler) typedLit(x *ast.TypedLit) (*node, error) {
	k, err := types.KindFromName(x.Type.Name)
	if err != nil {
		return nil, wrapValueError(x.Type.Pos, err)
	}
	var v types.Value
	if k == types.KindInterval {
		v, err = types.ParseInterval(x.Value, x.Qualifier)
	} else {
		v, err = types.ParseText(k, x.Value)
	}
	if err != nil {
		return nil, wrapValueError(x.Pos, err)
	}
	n := constNode(v, x.Pos)
	if len(x.Type.Args) > 0 {
		return c.applyTypmod(n, x.Type, false)
	}
	return n, nil
}

func (c *compiler) columnRef(x *ast.ColumnRef) (*node, error) {
	name := string(x.Name)
	table := string(x.Table)
	found := -1
	for i, col := range c.cols {
		if col.Name != name || (table != "" && col.Table != table) {
			continue
		}
		if found >= 0 {
			return nil, errorf(x.Pos, codeAmbiguousColumn, "column reference %q is ambiguous", name)
		}
		found = i
	}
	if found < 0 {
		full := name
		if table != "" {
			full = table + "." + name
		}
		e := errorf(x.Pos, codeUndefinedColumn, "column %q does not exist", full)
		if best := c.closestColumn(name); best != "" {
			e.Hint = "Perhaps you meant to reference the column " + best + "."
		}
		return nil, e
	}
	i := found
	if c.refs == nil {
		c.refs = make([]bool, len(c.cols))
	}
	c.refs[i] = true
	return &node{typ: c.cols[i].Type, fn: func(row types.Row) (types.Value, error) { return row[i], nil }, pos: x.Pos, col: i}, nil
}

func (c *compiler) closestColumn(name string) string {
	best, bestDist := "", 1<<30
	for _, col := range c.cols {
		d := levenshtein(name, col.Name)
		if d < bestDist {
			bestDist = d
			if col.Table != "" {
				best = `"` + col.Table + "." + col.Name + `"`
			} else {
				best = `"` + col.Name + `"`
			}
		}
	}
	if bestDist > len(name)/2+2 {
		return ""
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
