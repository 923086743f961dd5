package expr

import (
	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/types"
)

// Implicit coercions, as Postgres applies them when an operator, function
// or CASE needs its operands to share a type:
//
//	from            to (implicitly)
//	smallint        integer, bigint, numeric, double precision
//	integer         bigint, numeric, double precision
//	bigint          numeric, double precision
//	numeric         double precision
//	date            timestamp, timestamptz
//	timestamp       timestamptz
//	unknown literal any type: the literal is read as that type at compile time
//	NULL literal    any type
//
// Everything else needs an explicit cast.

// category ranks kinds within a Postgres type category; the preferred
// common type is the highest rank present.
func numericRank(k types.Kind) int {
	switch k {
	case types.KindInt2:
		return 1
	case types.KindInt4:
		return 2
	case types.KindInt8:
		return 3
	case types.KindNumeric:
		return 4
	case types.KindFloat8:
		return 5
	}
	return 0
}

func datetimeRank(k types.Kind) int {
	switch k {
	case types.KindDate:
		return 1
	case types.KindTimestamp:
		return 2
	case types.KindTimestampTZ:
		return 3
	}
	return 0
}

// canImplicit reports whether from coerces implicitly to to.
func canImplicit(from, to types.Kind) bool {
	if from == to || from == types.KindNull {
		return true
	}
	if a, b := numericRank(from), numericRank(to); a > 0 && b > 0 {
		return a < b
	}
	if a, b := datetimeRank(from), datetimeRank(to); a > 0 && b > 0 {
		return a < b
	}
	return false
}

// coerce converts n implicitly to k, or fails with Postgres' message.
func (c *compiler) coerce(n *node, k types.Kind) (*node, error) {
	if n.typ == k && !n.unknown {
		return n, nil
	}
	if n.unknown {
		if k == types.KindText {
			m := *n
			m.unknown = false
			return &m, nil
		}
		v, err := types.ParseText(k, n.val.Text())
		if err != nil {
			return nil, wrapValueError(n.pos, err)
		}
		return constNode(v, n.pos), nil
	}
	if n.typ == types.KindNull {
		return nullNode(k, n.pos), nil
	}
	if !canImplicit(n.typ, k) {
		return nil, errorf(n.pos, codeDatatypeMismatch, "cannot coerce type %s to %s implicitly", n.typ, k)
	}
	return c.castNode(n, k, typmod{}, false)
}

// commonType picks the type a list of nodes (CASE results, COALESCE, IN,
// BETWEEN) is coerced to, as Postgres' select_common_type does: unknown
// literals adopt the others' type, numbers and date/times take the
// widest, text if all are unknown.
func commonType(what string, pos ast.Pos, ns ...*node) (types.Kind, error) {
	k := types.KindNull
	allUnknown := true
	for _, n := range ns {
		if n.unknown || n.typ == types.KindNull {
			continue
		}
		allUnknown = false
		switch {
		case k == types.KindNull:
			k = n.typ
		case k == n.typ:
		case numericRank(k) > 0 && numericRank(n.typ) > 0:
			if numericRank(n.typ) > numericRank(k) {
				k = n.typ
			}
		case datetimeRank(k) > 0 && datetimeRank(n.typ) > 0:
			if datetimeRank(n.typ) > datetimeRank(k) {
				k = n.typ
			}
		default:
			return 0, errorf(n.pos, codeDatatypeMismatch, "%s types %s and %s cannot be matched", what, k, n.typ)
		}
	}
	if allUnknown {
		for _, n := range ns {
			if n.unknown {
				return types.KindText, nil
			}
		}
		return types.KindNull, nil
	}
	return k, nil
}

// coerceAll coerces every node to k.
func (c *compiler) coerceAll(ns []*node, k types.Kind) error {
	for i, n := range ns {
		m, err := c.coerce(n, k)
		if err != nil {
			return err
		}
		ns[i] = m
	}
	return nil
}
