package expr

import (
	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/types"
)

// in compiles x [NOT] IN (list): TRUE if x equals an element; otherwise
// NULL if x or any element is NULL; otherwise FALSE. NOT IN negates, so a
// NULL in the list makes NOT IN never TRUE, as in Postgres.
func (c *compiler) in(x *ast.In) (*node, error) {
	xn, err := c.compile(x.X)
	if err != nil {
		return nil, err
	}
	all := []*node{xn}
	for _, e := range x.List {
		n, err := c.compile(e)
		if err != nil {
			return nil, err
		}
		all = append(all, n)
	}
	k, err := commonType("IN", x.Pos, all...)
	if err != nil {
		return nil, err
	}
	if k == types.KindNull {
		k = types.KindText
	}
	if err := c.coerceAll(all, k); err != nil {
		return nil, err
	}
	xf := all[0].fn
	list := make([]evalFn, len(all)-1)
	for i, n := range all[1:] {
		list[i] = n.fn
	}
	cmp := comparator(k, k)
	not := x.Not
	return c.newNode(types.KindBool, x.Pos, func(row types.Row) (types.Value, error) {
		v, err := xf(row)
		if err != nil {
			return v, err
		}
		if v.IsNull() {
			return nullBool, nil
		}
		sawNull := false
		for _, f := range list {
			e, err := f(row)
			if err != nil {
				return e, err
			}
			if e.IsNull() {
				sawNull = true
				continue
			}
			if cmp(v, e) == 0 {
				return boolVal(!not), nil
			}
		}
		if sawNull {
			return nullBool, nil
		}
		return boolVal(not), nil
	}, all...), nil
}

// between compiles x [NOT] BETWEEN [SYMMETRIC] lo AND hi as lo <= x AND
// x <= hi (either order for SYMMETRIC), with three-valued logic.
func (c *compiler) between(x *ast.Between) (*node, error) {
	xn, err := c.compile(x.X)
	if err != nil {
		return nil, err
	}
	lo, err := c.compile(x.Lo)
	if err != nil {
		return nil, err
	}
	hi, err := c.compile(x.Hi)
	if err != nil {
		return nil, err
	}
	k, err := commonType("BETWEEN", x.Pos, xn, lo, hi)
	if err != nil {
		return nil, err
	}
	if k == types.KindNull {
		k = types.KindText
	}
	ns := []*node{xn, lo, hi}
	if err := c.coerceAll(ns, k); err != nil {
		return nil, err
	}
	ge, err := c.compare(x.Pos, ">=", ns[0], ns[1])
	if err != nil {
		return nil, err
	}
	le, err := c.compare(x.Pos, "<=", ns[0], ns[2])
	if err != nil {
		return nil, err
	}
	res, err := c.logic(x.Pos, "AND", ge, le)
	if err != nil {
		return nil, err
	}
	if x.Symmetric {
		ge2, _ := c.compare(x.Pos, ">=", ns[0], ns[2])
		le2, _ := c.compare(x.Pos, "<=", ns[0], ns[1])
		res2, _ := c.logic(x.Pos, "AND", ge2, le2)
		if res, err = c.logic(x.Pos, "OR", res, res2); err != nil {
			return nil, err
		}
	}
	if x.Not {
		return c.not(x.Pos, res), nil
	}
	return res, nil
}

func (c *compiler) not(pos ast.Pos, n *node) *node {
	f := n.fn
	return c.newNode(types.KindBool, pos, func(row types.Row) (types.Value, error) {
		v, err := f(row)
		if err != nil || v.IsNull() {
			return nullBool, err
		}
		return boolVal(!v.Bool()), nil
	}, n)
}

func (c *compiler) isNull(x *ast.IsNull) (*node, error) {
	n, err := c.compile(x.X)
	if err != nil {
		return nil, err
	}
	f, not := n.fn, x.Not
	return c.newNode(types.KindBool, x.Pos, func(row types.Row) (types.Value, error) {
		v, err := f(row)
		if err != nil {
			return v, err
		}
		return boolVal(v.IsNull() != not), nil
	}, n), nil
}

func (c *compiler) isBool(x *ast.IsBool) (*node, error) {
	n, err := c.compile(x.X)
	if err != nil {
		return nil, err
	}
	what := "UNKNOWN"
	if x.Value != nil {
		what = "TRUE"
		if !*x.Value {
			what = "FALSE"
		}
	}
	if n, err = c.coerceOperand(n, types.KindBool, "IS "+what); err != nil {
		return nil, err
	}
	f, not, want := n.fn, x.Not, x.Value
	return c.newNode(types.KindBool, x.Pos, func(row types.Row) (types.Value, error) {
		v, err := f(row)
		if err != nil {
			return v, err
		}
		var r bool
		if want == nil {
			r = v.IsNull()
		} else {
			r = !v.IsNull() && v.Bool() == *want
		}
		return boolVal(r != not), nil
	}, n), nil
}

func (c *compiler) isDistinct(x *ast.IsDistinct) (*node, error) {
	l, err := c.compile(x.L)
	if err != nil {
		return nil, err
	}
	r, err := c.compile(x.R)
	if err != nil {
		return nil, err
	}
	if l, r, err = c.comparable(x.Pos, "=", l, r); err != nil {
		return nil, err
	}
	cmp := comparator(l.typ, r.typ)
	lf, rf, not := l.fn, r.fn, x.Not
	return c.newNode(types.KindBool, x.Pos, func(row types.Row) (types.Value, error) {
		a, err := lf(row)
		if err != nil {
			return a, err
		}
		b, err := rf(row)
		if err != nil {
			return b, err
		}
		var distinct bool
		switch {
		case a.IsNull() && b.IsNull():
			distinct = false
		case a.IsNull() || b.IsNull():
			distinct = true
		default:
			distinct = cmp(a, b) != 0
		}
		return boolVal(distinct != not), nil
	}, l, r), nil
}

// caseExpr compiles both CASE forms. Only the chosen arm is evaluated.
func (c *compiler) caseExpr(x *ast.Case) (*node, error) {
	var operand *node
	var err error
	if x.Operand != nil {
		if operand, err = c.compile(x.Operand); err != nil {
			return nil, err
		}
	}
	conds := make([]*node, len(x.Whens))
	results := make([]*node, 0, len(x.Whens)+1)
	for i, w := range x.Whens {
		cond, err := c.compile(w.Cond)
		if err != nil {
			return nil, err
		}
		if operand != nil {
			if cond, err = c.compare(w.Pos, "=", operand, cond); err != nil {
				return nil, err
			}
		} else if cond.typ != types.KindBool || cond.unknown {
			if cond.unknown || cond.typ == types.KindNull {
				if cond, err = c.coerce(cond, types.KindBool); err != nil {
					return nil, err
				}
			} else {
				return nil, errorf(cond.pos, codeDatatypeMismatch, "argument of CASE/WHEN must be type boolean, not type %s", cond.typ)
			}
		}
		conds[i] = cond
		res, err := c.compile(w.Result)
		if err != nil {
			return nil, err
		}
		results = append(results, res)
	}
	var elseNode *node
	if x.Else != nil {
		if elseNode, err = c.compile(x.Else); err != nil {
			return nil, err
		}
	} else {
		elseNode = nullNode(types.KindNull, x.Pos)
	}
	results = append(results, elseNode)
	k, err := commonType("CASE", x.Pos, results...)
	if err != nil {
		return nil, err
	}
	if k == types.KindNull {
		k = types.KindText
	}
	if err := c.coerceAll(results, k); err != nil {
		return nil, err
	}
	cf := make([]evalFn, len(conds))
	rf := make([]evalFn, len(results))
	for i := range conds {
		cf[i] = conds[i].fn
	}
	for i := range results {
		rf[i] = results[i].fn
	}
	all := append(append([]*node{}, conds...), results...)
	return c.newNode(k, x.Pos, func(row types.Row) (types.Value, error) {
		for i, f := range cf {
			v, err := f(row)
			if err != nil {
				return v, err
			}
			if !v.IsNull() && v.Bool() {
				return rf[i](row)
			}
		}
		return rf[len(rf)-1](row)
	}, all...), nil
}
