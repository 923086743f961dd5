package ast

import "strings"

// expr prints an expression. Operands that are themselves operator
// expressions are parenthesised (see operand), so the printed text never
// depends on precedence rules.
func (f *formatter) expr(e Expr) {
	switch e := e.(type) {
	case nil:
		f.WriteString("NULL")
	case *NumberLit:
		if e == nil {
			return
		}
		f.WriteString(e.Text)
	case *StringLit:
		if e == nil {
			return
		}
		f.WriteString(QuoteString(e.Value))
	case *BoolLit:
		if e == nil {
			return
		}
		if e.Value {
			f.WriteString("TRUE")
		} else {
			f.WriteString("FALSE")
		}
	case *NullLit:
		f.WriteString("NULL")
	case *TypedLit:
		if e == nil {
			return
		}
		f.typedLit(e)
	case *ColumnRef:
		if e == nil {
			return
		}
		if e.Table != "" {
			f.ident(e.Table)
			f.WriteByte('.')
		}
		f.ident(e.Name)
	case *Unary:
		if e == nil {
			return
		}
		op := strings.ToUpper(e.Op)
		f.WriteString(op)
		if isWordOp(op) {
			f.WriteByte(' ')
		}
		if _, ok := e.X.(*Unary); ok {
			// Never "--1", which would start a comment.
			f.WriteByte('(')
			f.expr(e.X)
			f.WriteByte(')')
		} else {
			f.operand(e.X)
		}
	case *Binary:
		if e == nil {
			return
		}
		f.binary(e)
	case *Like:
		if e == nil {
			return
		}
		f.operand(e.X)
		if e.Not {
			f.WriteString(" NOT")
		}
		switch {
		case e.Similar:
			f.WriteString(" SIMILAR TO ")
		case e.CaseInsensitive:
			f.WriteString(" ILIKE ")
		default:
			f.WriteString(" LIKE ")
		}
		f.operand(e.Pattern)
		if e.Escape != nil {
			f.WriteString(" ESCAPE ")
			f.operand(e.Escape)
		}
	case *Between:
		if e == nil {
			return
		}
		f.operand(e.X)
		if e.Not {
			f.WriteString(" NOT")
		}
		f.WriteString(" BETWEEN ")
		if e.Symmetric {
			f.WriteString("SYMMETRIC ")
		}
		f.operand(e.Lo)
		f.WriteString(" AND ")
		f.operand(e.Hi)
	case *In:
		if e == nil {
			return
		}
		f.operand(e.X)
		if e.Not {
			f.WriteString(" NOT")
		}
		f.WriteString(" IN (")
		f.exprList(e.List)
		f.WriteByte(')')
	case *IsNull:
		if e == nil {
			return
		}
		f.operand(e.X)
		f.WriteString(" IS ")
		if e.Not {
			f.WriteString("NOT ")
		}
		f.WriteString("NULL")
	case *IsBool:
		if e == nil {
			return
		}
		f.operand(e.X)
		f.WriteString(" IS ")
		if e.Not {
			f.WriteString("NOT ")
		}
		switch {
		case e.Value == nil:
			f.WriteString("UNKNOWN")
		case *e.Value:
			f.WriteString("TRUE")
		default:
			f.WriteString("FALSE")
		}
	case *IsDistinct:
		if e == nil {
			return
		}
		f.operand(e.L)
		f.WriteString(" IS ")
		if e.Not {
			f.WriteString("NOT ")
		}
		f.WriteString("DISTINCT FROM ")
		f.operand(e.R)
	case *Case:
		if e == nil {
			return
		}
		f.WriteString("CASE")
		if e.Operand != nil {
			f.WriteByte(' ')
			f.expr(e.Operand)
		}
		for _, w := range e.Whens {
			f.WriteString(" WHEN ")
			f.expr(w.Cond)
			f.WriteString(" THEN ")
			f.expr(w.Result)
		}
		if e.Else != nil {
			f.WriteString(" ELSE ")
			f.expr(e.Else)
		}
		f.WriteString(" END")
	case *Cast:
		if e == nil {
			return
		}
		if e.TryCast {
			f.WriteString("TRY_CAST(")
		} else {
			f.WriteString("CAST(")
		}
		f.expr(e.X)
		f.WriteString(" AS ")
		f.WriteString(FormatType(e.Type))
		f.WriteByte(')')
	case *Func:
		if e == nil {
			return
		}
		f.call(e)
	case *Extract:
		if e == nil {
			return
		}
		f.WriteString("EXTRACT(")
		if isBareWord(e.Field) {
			f.WriteString(e.Field)
		} else {
			f.WriteString(QuoteString(e.Field))
		}
		f.WriteString(" FROM ")
		f.expr(e.X)
		f.WriteByte(')')
	default:
		f.WriteString("<unknown expression>")
	}
}

func (f *formatter) exprList(list []Expr) {
	for i, e := range list {
		if i > 0 {
			f.WriteString(", ")
		}
		f.expr(e)
	}
}

// operand prints e as the operand of an operator: in parentheses unless
// it is atomic.
func (f *formatter) operand(e Expr) {
	if isAtomic(e) {
		f.expr(e)
		return
	}
	f.WriteByte('(')
	f.expr(e)
	f.WriteByte(')')
}

// isAtomic reports whether e prints as a single primary, needing no
// parentheses as an operand.
func isAtomic(e Expr) bool {
	switch e := e.(type) {
	case *NumberLit:
		return e == nil || !strings.HasPrefix(e.Text, "-") && !strings.HasPrefix(e.Text, "+")
	case *StringLit, *BoolLit, *NullLit, *TypedLit, *ColumnRef, *Case, *Cast, *Func, *Extract, nil:
		return true
	case *Unary:
		// A negative number reads best bare: a = -1.
		n, ok := e.X.(*NumberLit)
		return e != nil && (e.Op == "-" || e.Op == "+") && ok && isAtomic(n)
	}
	return false
}

// comparisonOps do not associate, so a chain of them keeps its
// parentheses.
var comparisonOps = map[string]bool{"=": true, "<": true, ">": true, "<=": true, ">=": true, "<>": true, "!=": true}

func (f *formatter) binary(e *Binary) {
	op := strings.ToUpper(e.Op)
	if op == "!=" {
		op = "<>"
	}
	// A left-leaning chain of one associative operator (a AND b AND c,
	// a || b || c) reads the same without parentheses.
	if l, ok := e.L.(*Binary); ok && l != nil && strings.EqualFold(l.Op, e.Op) && !comparisonOps[op] {
		f.binary(l)
	} else {
		f.operand(e.L)
	}
	f.WriteString(" " + op + " ")
	f.operand(e.R)
}

func isWordOp(op string) bool {
	return op != "" && op[0] >= 'A' && op[0] <= 'Z'
}

func (f *formatter) typedLit(e *TypedLit) {
	switch e.Type.Name {
	case "timetz":
		f.WriteString("TIME WITH TIME ZONE")
	case "timestamp", "timestamptz", "date", "time", "interval", "json", "jsonb":
		f.WriteString(strings.ToUpper(e.Type.Name))
	default:
		// Not a typed literal the parser reads: print the equivalent cast.
		f.WriteString("CAST(" + QuoteString(e.Value) + " AS " + FormatType(e.Type) + ")")
		return
	}
	f.WriteByte(' ')
	f.WriteString(QuoteString(e.Value))
	if e.Qualifier != "" {
		f.WriteString(" " + strings.ToUpper(e.Qualifier))
	}
}

// niladicFuncs are called without parentheses (CURRENT_TIMESTAMP).
var niladicFuncs = map[Ident]bool{
	"current_timestamp": true, "current_date": true, "current_time": true,
	"localtimestamp": true, "localtime": true,
}

// specialCallNames are function names the parser reads with special
// syntax when unquoted; calls that don't fit that syntax quote the name.
var specialCallNames = map[Ident]bool{"extract": true, "try_cast": true, "trim": true, "position": true, "overlay": true}

func (f *formatter) call(e *Func) {
	plain := !e.Star && !e.Distinct
	switch {
	case niladicFuncs[e.Name] && plain && len(e.Args) == 0 && e.Filter == nil && e.Over == nil:
		f.WriteString(strings.ToUpper(string(e.Name)))
		return
	case e.Name == "position" && plain && len(e.Args) == 2:
		f.WriteString("position(")
		f.operand(e.Args[0])
		f.WriteString(" IN ")
		f.expr(e.Args[1])
		f.WriteByte(')')
		f.filter(e)
		return
	case e.Name == "overlay" && plain && len(e.Args) >= 2:
		f.WriteString("overlay")
	case e.Name == "left" || e.Name == "right":
		f.WriteString(string(e.Name))
	case niladicFuncs[e.Name] || specialCallNames[e.Name]:
		f.WriteString(QuoteIdent(string(e.Name)))
	default:
		f.ident(e.Name)
	}
	f.WriteByte('(')
	switch {
	case e.Star:
		f.WriteByte('*')
	case e.Distinct:
		f.WriteString("DISTINCT ")
		f.exprList(e.Args)
	default:
		f.exprList(e.Args)
	}
	f.WriteByte(')')
	f.filter(e)
}

func (f *formatter) filter(e *Func) {
	if e.Filter != nil {
		f.WriteString(" FILTER (WHERE ")
		f.expr(e.Filter)
		f.WriteByte(')')
	}
	if o := e.Over; o != nil {
		f.WriteString(" OVER (")
		if len(o.PartitionBy) > 0 {
			f.WriteString("PARTITION BY ")
			f.exprList(o.PartitionBy)
		}
		for i, it := range o.OrderBy {
			switch {
			case i > 0:
				f.WriteString(", ")
			case len(o.PartitionBy) > 0:
				f.WriteString(" ORDER BY ")
			default:
				f.WriteString("ORDER BY ")
			}
			f.expr(it.X)
			if it.Desc {
				f.WriteString(" DESC")
			}
			switch it.Nulls {
			case NullsFirst:
				f.WriteString(" NULLS FIRST")
			case NullsLast:
				f.WriteString(" NULLS LAST")
			}
		}
		f.WriteByte(')')
	}
}
