package expr

import (
	"math"
	"strings"

	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/types"
)

var (
	valTrue  = types.NewBool(true)
	valFalse = types.NewBool(false)
	nullBool = types.Null(types.KindBool)
)

func boolVal(b bool) types.Value {
	if b {
		return valTrue
	}
	return valFalse
}

func (c *compiler) unary(x *ast.Unary) (*node, error) {
	// Postgres folds a minus into a number literal before typing it
	// (doNegate): -2147483648 is an integer, not a negated bigint.
	if lit, ok := x.X.(*ast.NumberLit); ok && x.Op == "-" && !strings.HasPrefix(lit.Text, "-") {
		return c.numberLit(&ast.NumberLit{Pos: x.Pos, Text: "-" + lit.Text})
	}
	n, err := c.compile(x.X)
	if err != nil {
		return nil, err
	}
	switch strings.ToUpper(x.Op) {
	case "NOT":
		if n, err = c.coerceOperand(n, types.KindBool, "NOT"); err != nil {
			return nil, err
		}
		arg := n.fn
		return c.newNode(types.KindBool, x.Pos, func(row types.Row) (types.Value, error) {
			v, err := arg(row)
			if err != nil || v.IsNull() {
				return nullBool, err
			}
			return boolVal(!v.Bool()), nil
		}, n), nil
	case "+":
		if n.unknown {
			n, _ = c.coerce(n, types.KindFloat8)
		}
		if !n.typ.IsNumeric() && n.typ != types.KindInterval {
			return nil, opError(x.Pos, "+", types.KindNull, n.typ)
		}
		return n, nil
	case "-":
		if n.unknown {
			if n, err = c.coerce(n, types.KindFloat8); err != nil {
				return nil, err
			}
		}
		// 0 - x, with a zero of x's type so that -smallint stays smallint
		// (and -(-32768) overflows), and -0 for floats so that -(0.0) is -0
		// as Postgres' float8um gives.
		zero := constNode(types.NewInt4(0), x.Pos)
		switch {
		case n.typ.IsInteger():
			zero = constNode(types.NewInt(n.typ, 0), x.Pos)
		case n.typ == types.KindFloat8:
			zero = constNode(types.NewFloat8(math.Copysign(0, -1)), x.Pos)
		}
		return c.arith(x.Pos, "-", zero, n, true)
	case "~":
		if !n.typ.IsInteger() {
			return nil, opError(x.Pos, "~", types.KindNull, n.typ)
		}
		arg, k := n.fn, n.typ
		return c.newNode(k, x.Pos, func(row types.Row) (types.Value, error) {
			v, err := arg(row)
			if err != nil || v.IsNull() {
				return types.Null(k), err
			}
			return types.NewInt(k, ^v.Int()), nil
		}, n), nil
	}
	return nil, errorf(x.Pos, codeUndefinedFunction, "operator does not exist: %s %s", x.Op, n.typ)
}

// coerceOperand coerces an operand of a boolean operator, with Postgres'
// "argument of AND must be type boolean" message.
func (c *compiler) coerceOperand(n *node, k types.Kind, op string) (*node, error) {
	if n.typ == k && !n.unknown {
		return n, nil
	}
	if n.unknown || n.typ == types.KindNull {
		return c.coerce(n, k)
	}
	return nil, errorf(n.pos, codeDatatypeMismatch, "argument of %s must be type %s, not type %s", op, k, n.typ)
}

func opError(pos ast.Pos, op string, l, r types.Kind) *Error {
	e := errorf(pos, codeUndefinedFunction, "operator does not exist: %s %s %s", l, op, r)
	if l == types.KindNull {
		e.Msg = "operator does not exist: " + op + " " + r.String()
	}
	e.Hint = "No operator matches the given name and argument types. You might need to add explicit type casts."
	return e
}

func (c *compiler) binary(x *ast.Binary) (*node, error) {
	op := x.Op
	if op == "!=" {
		op = "<>"
	}
	l, err := c.compile(x.L)
	if err != nil {
		return nil, err
	}
	r, err := c.compile(x.R)
	if err != nil {
		return nil, err
	}
	switch strings.ToUpper(op) {
	case "AND", "OR":
		return c.logic(x.Pos, strings.ToUpper(op), l, r)
	case "=", "<>", "<", "<=", ">", ">=":
		return c.compare(x.Pos, op, l, r)
	case "+", "-", "*", "/", "%", "^":
		return c.arith(x.Pos, op, l, r, false)
	case "||":
		return c.concatOp(x.Pos, l, r)
	case "~", "~*", "!~", "!~*":
		return c.regexOp(x.Pos, op, l, r)
	case "~~", "~~*", "!~~", "!~~*":
		return c.likeNodes(x.Pos, l, r, nil, strings.HasPrefix(op, "!"), strings.HasSuffix(op, "*"))
	case "->", "->>", "#>", "#>>":
		return c.jsonOp(x.Pos, op, l, r)
	case "&", "|", "#", "<<", ">>":
		return c.bitwise(x.Pos, op, l, r)
	}
	return nil, opError(x.Pos, op, l.typ, r.typ)
}

// logic is AND/OR with three-valued logic: FALSE AND NULL is FALSE, TRUE
// OR NULL is TRUE; otherwise NULL wins. The right side is not evaluated
// when the left decides (so its errors are not raised either).
func (c *compiler) logic(pos ast.Pos, op string, l, r *node) (*node, error) {
	var err error
	if l, err = c.coerceOperand(l, types.KindBool, op); err != nil {
		return nil, err
	}
	if r, err = c.coerceOperand(r, types.KindBool, op); err != nil {
		return nil, err
	}
	lf, rf := l.fn, r.fn
	if op == "AND" {
		return c.newNode(types.KindBool, pos, func(row types.Row) (types.Value, error) {
			a, err := lf(row)
			if err != nil {
				return a, err
			}
			if !a.IsNull() && !a.Bool() {
				return valFalse, nil
			}
			b, err := rf(row)
			if err != nil {
				return b, err
			}
			if b.IsNull() {
				return nullBool, nil
			}
			if !b.Bool() {
				return valFalse, nil
			}
			if a.IsNull() {
				return nullBool, nil
			}
			return valTrue, nil
		}, l, r), nil
	}
	return c.newNode(types.KindBool, pos, func(row types.Row) (types.Value, error) {
		a, err := lf(row)
		if err != nil {
			return a, err
		}
		if !a.IsNull() && a.Bool() {
			return valTrue, nil
		}
		b, err := rf(row)
		if err != nil {
			return b, err
		}
		if b.IsNull() {
			return nullBool, nil
		}
		if b.Bool() {
			return valTrue, nil
		}
		if a.IsNull() {
			return nullBool, nil
		}
		return valFalse, nil
	}, l, r), nil
}

// comparable resolves the operand types of a comparison: unknown
// literals adopt the other side's type; numbers and date/times widen.
func (c *compiler) comparable(pos ast.Pos, op string, l, r *node) (*node, *node, error) {
	var k types.Kind
	switch {
	case l.unknown && r.unknown:
		k = types.KindText
	case l.unknown || l.typ == types.KindNull:
		k = r.typ
	case r.unknown || r.typ == types.KindNull:
		k = l.typ
	case l.typ == r.typ:
		k = l.typ
	case numericRank(l.typ) > 0 && numericRank(r.typ) > 0:
		k = l.typ
		if numericRank(r.typ) > numericRank(k) {
			k = r.typ
		}
		if l.typ.IsInteger() && r.typ.IsInteger() {
			// integers of different widths compare as they are
			return l, r, nil
		}
	case datetimeRank(l.typ) > 0 && datetimeRank(r.typ) > 0:
		k = l.typ
		if datetimeRank(r.typ) > datetimeRank(k) {
			k = r.typ
		}
	default:
		return nil, nil, opError(pos, op, l.typ, r.typ)
	}
	if k == types.KindNull {
		k = types.KindText
	}
	var err error
	if l, err = c.coerce(l, k); err != nil {
		return nil, nil, err
	}
	if r, err = c.coerce(r, k); err != nil {
		return nil, nil, err
	}
	return l, r, nil
}

// cmpTest maps a comparison result (-1, 0, 1) to the operator's answer.
func cmpTest(op string) func(int) bool {
	switch op {
	case "=":
		return func(c int) bool { return c == 0 }
	case "<>":
		return func(c int) bool { return c != 0 }
	case "<":
		return func(c int) bool { return c < 0 }
	case "<=":
		return func(c int) bool { return c <= 0 }
	case ">":
		return func(c int) bool { return c > 0 }
	}
	return func(c int) bool { return c >= 0 }
}

// comparator returns a three-way comparison of non-NULL values of kinds
// already made comparable.
func comparator(l, r types.Kind) func(a, b types.Value) int {
	switch {
	case l.IsInteger() && r.IsInteger(), l == r && (l == types.KindBool || datetimeRank(l) > 0):
		return func(a, b types.Value) int { return cmpInt64(a.Int(), b.Int()) }
	case l == types.KindFloat8 && r == types.KindFloat8:
		return func(a, b types.Value) int { return types.CompareFloat(a.Float(), b.Float()) }
	case l == r && (l == types.KindText || l == types.KindBytea):
		return func(a, b types.Value) int { return strings.Compare(a.Text(), b.Text()) }
	}
	return func(a, b types.Value) int {
		n, _ := types.Compare(a, b)
		return n
	}
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (c *compiler) compare(pos ast.Pos, op string, l, r *node) (*node, error) {
	l, r, err := c.comparable(pos, op, l, r)
	if err != nil {
		return nil, err
	}
	if l.typ == types.KindInterval || l.typ == types.KindJSON || l.typ == types.KindBytea || l.typ == types.KindBool || l.typ == types.KindText ||
		l.typ.IsNumeric() || datetimeRank(l.typ) > 0 {
		if fast := intCompareFast(op, l, r); fast != nil {
			return c.newNode(types.KindBool, pos, fast, l, r), nil
		}
		test := cmpTest(op)
		cmp := comparator(l.typ, r.typ)
		lf, rf := l.fn, r.fn
		return c.newNode(types.KindBool, pos, func(row types.Row) (types.Value, error) {
			a, err := lf(row)
			if err != nil {
				return a, err
			}
			b, err := rf(row)
			if err != nil {
				return b, err
			}
			if a.IsNull() || b.IsNull() {
				return nullBool, nil
			}
			return boolVal(test(cmp(a, b))), nil
		}, l, r), nil
	}
	return nil, opError(pos, op, l.typ, r.typ)
}

// intCompareFast specialises column-versus-constant comparisons of
// integers, floats and text, the usual filter shape, to one closure
// without indirect calls.
func intCompareFast(op string, l, r *node) evalFn {
	if l.col < 0 || !r.folded || r.val.IsNull() {
		return nil
	}
	i := l.col
	switch {
	case l.typ.IsInteger() && r.typ.IsInteger():
		k := r.val.Int()
		switch op {
		case "=":
			return func(row types.Row) (types.Value, error) {
				v := &row[i]
				if v.IsNull() {
					return nullBool, nil
				}
				return boolVal(v.Int() == k), nil
			}
		case ">":
			return func(row types.Row) (types.Value, error) {
				v := &row[i]
				if v.IsNull() {
					return nullBool, nil
				}
				return boolVal(v.Int() > k), nil
			}
		case "<":
			return func(row types.Row) (types.Value, error) {
				v := &row[i]
				if v.IsNull() {
					return nullBool, nil
				}
				return boolVal(v.Int() < k), nil
			}
		}
		test := cmpTest(op)
		return func(row types.Row) (types.Value, error) {
			v := &row[i]
			if v.IsNull() {
				return nullBool, nil
			}
			return boolVal(test(cmpInt64(v.Int(), k))), nil
		}
	case l.typ == types.KindFloat8 && r.typ == types.KindFloat8:
		k := r.val.Float()
		test := cmpTest(op)
		return func(row types.Row) (types.Value, error) {
			v := &row[i]
			if v.IsNull() {
				return nullBool, nil
			}
			return boolVal(test(types.CompareFloat(v.Float(), k))), nil
		}
	case l.typ == types.KindText && r.typ == types.KindText && (op == "=" || op == "<>"):
		k := r.val.Text()
		eq := op == "="
		return func(row types.Row) (types.Value, error) {
			v := &row[i]
			if v.IsNull() {
				return nullBool, nil
			}
			return boolVal((v.Text() == k) == eq), nil
		}
	}
	return nil
}

// concatOp is ||: text || text, and text with any non-array value (cast
// to text); bytea || bytea.
func (c *compiler) concatOp(pos ast.Pos, l, r *node) (*node, error) {
	if l.typ == types.KindBytea && (r.typ == types.KindBytea || r.unknown) || (l.unknown && r.typ == types.KindBytea) {
		var err error
		if l, err = c.coerce(l, types.KindBytea); err != nil {
			return nil, err
		}
		if r, err = c.coerce(r, types.KindBytea); err != nil {
			return nil, err
		}
		lf, rf := l.fn, r.fn
		return c.newNode(types.KindBytea, pos, func(row types.Row) (types.Value, error) {
			a, b, null, err := eval2(lf, rf, row)
			if null || err != nil {
				return types.Null(types.KindBytea), err
			}
			return types.NewBytea([]byte(a.Bytes() + b.Bytes())), nil
		}, l, r), nil
	}
	if l.typ == types.KindJSON && r.typ == types.KindJSON {
		return c.jsonConcat(pos, l, r)
	}
	isText := func(n *node) bool { return n.unknown || n.typ == types.KindText || n.typ == types.KindNull }
	if !isText(l) && !isText(r) {
		return nil, opError(pos, "||", l.typ, r.typ)
	}
	var err error
	if l, err = c.toText(l); err != nil {
		return nil, err
	}
	if r, err = c.toText(r); err != nil {
		return nil, err
	}
	lf, rf := l.fn, r.fn
	return c.newNode(types.KindText, pos, func(row types.Row) (types.Value, error) {
		a, b, null, err := eval2(lf, rf, row)
		if null || err != nil {
			return types.Null(types.KindText), err
		}
		return types.NewText(a.Text() + b.Text()), nil
	}, l, r), nil
}

// toText casts any node to text (for ||, concat and friends).
func (c *compiler) toText(n *node) (*node, error) {
	if n.unknown || n.typ == types.KindNull {
		return c.coerce(n, types.KindText)
	}
	if n.typ == types.KindText {
		return n, nil
	}
	return c.castNode(n, types.KindText, typmod{}, false)
}

// eval2 evaluates two operands; null reports that either is NULL.
func eval2(lf, rf evalFn, row types.Row) (a, b types.Value, null bool, err error) {
	a, err = lf(row)
	if err != nil {
		return
	}
	b, err = rf(row)
	if err != nil {
		return
	}
	null = a.IsNull() || b.IsNull()
	return
}

func (c *compiler) bitwise(pos ast.Pos, op string, l, r *node) (*node, error) {
	var err error
	if l.unknown {
		if l, err = c.coerce(l, r.typ); err != nil {
			return nil, err
		}
	}
	if r.unknown {
		if r, err = c.coerce(r, l.typ); err != nil {
			return nil, err
		}
	}
	if !l.typ.IsInteger() || !r.typ.IsInteger() {
		return nil, opError(pos, op, l.typ, r.typ)
	}
	k := l.typ
	if op != "<<" && op != ">>" {
		if numericRank(r.typ) > numericRank(k) {
			k = r.typ
		}
	}
	lf, rf := l.fn, r.fn
	return c.newNode(k, pos, func(row types.Row) (types.Value, error) {
		a, b, null, err := eval2(lf, rf, row)
		if null || err != nil {
			return types.Null(k), err
		}
		x, y := a.Int(), b.Int()
		var res int64
		switch op {
		case "&":
			res = x & y
		case "|":
			res = x | y
		case "#":
			res = x ^ y
		case "<<", ">>":
			bits := int64(64)
			switch k {
			case types.KindInt2:
				bits = 16
			case types.KindInt4:
				bits = 32
			}
			s := uint64(y) % uint64(bits)
			if op == "<<" {
				res = x << s
				res = res << (64 - bits) >> (64 - bits)
			} else {
				res = x >> s
			}
		}
		return types.NewInt(k, res), nil
	}, l, r), nil
}
