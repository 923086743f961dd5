package parser

import (
	"github.com/tide-data/tide/internal/sql/ast"
)

// parseCall parses a function call whose name token has been consumed;
// the current token is "(". The SQL-standard forms with keywords between
// their arguments (EXTRACT, POSITION, SUBSTRING, TRIM, OVERLAY, TRY_CAST)
// are recognised only for unquoted names, and arrive as the Func (or
// Extract, Cast) the ast documents.
func (p *parser) parseCall(name token) ast.Expr {
	next := p.peek(1)
	plain := next.kind == tokOp && (next.val == ")" || next.val == "*") || next.kind == tokWord && (next.val == "distinct" || next.val == "all")
	if name.kind == tokWord && !plain {
		switch name.val {
		case "extract":
			return p.parseExtract(name)
		case "try_cast":
			return p.parseCastCall(name, true)
		case "position":
			return p.parseCallSuffix(p.parsePosition(name))
		case "substring":
			return p.parseCallSuffix(p.parseSubstring(name))
		case "trim":
			return p.parseCallSuffix(p.parseTrim(name))
		case "overlay":
			return p.parseCallSuffix(p.parseOverlay(name))
		}
	}
	f := &ast.Func{Pos: name.pos, Name: ast.Ident(name.val)}
	p.advance() // (
	switch {
	case p.acceptOp("*"):
		f.Star = true
	case p.isOp(0, ")"):
	default:
		if p.acceptWord("distinct") {
			f.Distinct = true
		} else {
			p.acceptWord("all")
		}
		f.Args = p.parseExprList()
	}
	p.closeCall()
	return p.parseCallSuffix(f)
}

// parseCallSuffix parses what may follow a call: FILTER (WHERE cond),
// then OVER (...).
func (p *parser) parseCallSuffix(f *ast.Func) ast.Expr {
	p.parseFilter(f)
	if p.isWord(0, "over") && p.isOp(1, "(") {
		f.Over = p.parseOver()
	}
	return f
}

// parseOver parses OVER ( [PARTITION BY exprs] [ORDER BY items] ) after
// a window function's call; the current token is OVER.
func (p *parser) parseOver() *ast.Over {
	o := &ast.Over{Pos: p.advance().pos}
	p.advance() // (
	if p.acceptWord("partition") {
		p.expectWord("by")
		o.PartitionBy = p.parseExprList()
	}
	if p.acceptWord("order") {
		p.expectWord("by")
		for {
			it := ast.OrderItem{Pos: p.tok().pos, X: p.parseExpr()}
			if p.acceptWord("desc") {
				it.Desc = true
			} else {
				p.acceptWord("asc")
			}
			if p.acceptWord("nulls") {
				if p.acceptWord("last") {
					it.Nulls = ast.NullsLast
				} else {
					p.expectWord("first", "LAST")
					it.Nulls = ast.NullsFirst
				}
			}
			o.OrderBy = append(o.OrderBy, it)
			if !p.acceptOp(",") {
				break
			}
		}
	}
	if !p.isOp(0, ")") {
		switch {
		case o.OrderBy == nil && o.PartitionBy == nil:
			p.unexpected("PARTITION BY", "ORDER BY", `")"`)
		case o.OrderBy == nil:
			p.unexpected(`","`, "ORDER BY", `")"`)
		default:
			p.unexpected(`","`, "ASC", "DESC", "NULLS", `")"`)
		}
	}
	p.advance()
	return o
}

// closeCall expects the ")" that ends an argument list.
func (p *parser) closeCall() {
	if !p.isOp(0, ")") {
		p.unexpected(`","`, `")"`)
	}
	p.advance()
}

// parseFilter parses an optional FILTER (WHERE cond) after a call.
func (p *parser) parseFilter(f *ast.Func) ast.Expr {
	if !p.isWord(0, "filter") || !p.isOp(1, "(") {
		return f
	}
	p.advance()
	p.advance()
	p.expectWord("where")
	f.Filter = p.parseExpr()
	p.expectOp(")")
	return f
}

// parseCastCall parses (x AS type) after CAST or TRY_CAST.
func (p *parser) parseCastCall(name token, try bool) ast.Expr {
	if !p.isOp(0, "(") {
		p.unexpected(`"("`)
	}
	p.advance()
	c := &ast.Cast{Pos: name.pos, X: p.parseExpr(), TryCast: try}
	if !p.isWord(0, "as") {
		p.unexpectedHint(p.tok(), "", "AS")
	}
	p.advance()
	c.Type = p.parseType()
	p.expectOp(")")
	return c
}

// parseExtract parses EXTRACT(field FROM x); the field may be a word or a
// string literal.
func (p *parser) parseExtract(name token) ast.Expr {
	p.advance() // (
	t := p.tok()
	if t.kind != tokWord && t.kind != tokString {
		p.unexpected("a field name")
	}
	p.advance()
	e := &ast.Extract{Pos: name.pos, Field: foldIdent(t.val)}
	p.expectWord("from")
	e.X = p.parseExpr()
	p.expectOp(")")
	return e
}

// parsePosition parses POSITION(a IN b). The needle is parsed above the
// level of IN, as Postgres does, so that the IN is POSITION's.
func (p *parser) parsePosition(name token) *ast.Func {
	p.advance() // (
	a := p.parseOther()
	p.expectWord("in")
	b := p.parseExpr()
	p.expectOp(")")
	return &ast.Func{Pos: name.pos, Name: "position", Args: []ast.Expr{a, b}}
}

// parseSubstring parses SUBSTRING(s FROM i [FOR n]), SUBSTRING(s FOR n
// [FROM i]) and SUBSTRING(s, i [, n]).
func (p *parser) parseSubstring(name token) *ast.Func {
	p.advance() // (
	f := &ast.Func{Pos: name.pos, Name: "substring", Args: []ast.Expr{p.parseExpr()}}
	switch {
	case p.acceptWord("from"):
		f.Args = append(f.Args, p.parseExpr())
		if p.acceptWord("for") {
			f.Args = append(f.Args, p.parseExpr())
		}
	case p.isWord(0, "for"):
		t := p.advance()
		n := p.parseExpr()
		var from ast.Expr = &ast.NumberLit{Pos: t.pos, Text: "1"}
		if p.acceptWord("from") {
			from = p.parseExpr()
		}
		f.Args = append(f.Args, from, n)
	case p.acceptOp(","):
		f.Args = append(f.Args, p.parseExprList()...)
	}
	if !p.isOp(0, ")") {
		p.unexpected("FROM", "FOR", `","`, `")"`)
	}
	p.advance()
	return f
}

// parseTrim parses TRIM([BOTH|LEADING|TRAILING] [chars] FROM s) and
// TRIM(s [, chars]) into btrim, ltrim or rtrim(s [, chars]).
func (p *parser) parseTrim(name token) *ast.Func {
	p.advance() // (
	f := &ast.Func{Pos: name.pos, Name: "btrim"}
	switch {
	case p.acceptWord("both"):
	case p.acceptWord("leading"):
		f.Name = "ltrim"
	case p.acceptWord("trailing"):
		f.Name = "rtrim"
	}
	if p.acceptWord("from") {
		f.Args = p.parseExprList()
	} else {
		first := p.parseExpr()
		if p.acceptWord("from") {
			f.Args = append(p.parseExprList(), first)
		} else {
			f.Args = []ast.Expr{first}
			if p.acceptOp(",") {
				f.Args = append(f.Args, p.parseExprList()...)
			}
		}
	}
	if !p.isOp(0, ")") {
		p.unexpected("FROM", `","`, `")"`)
	}
	p.advance()
	return f
}

// parseOverlay parses OVERLAY(s PLACING r FROM i [FOR n]) and the plain
// form overlay(s, r, i [, n]).
func (p *parser) parseOverlay(name token) *ast.Func {
	p.advance() // (
	f := &ast.Func{Pos: name.pos, Name: "overlay", Args: []ast.Expr{p.parseExpr()}}
	switch {
	case p.acceptWord("placing"):
		f.Args = append(f.Args, p.parseExpr())
		p.expectWord("from")
		f.Args = append(f.Args, p.parseExpr())
		if p.acceptWord("for") {
			f.Args = append(f.Args, p.parseExpr())
		}
	case p.acceptOp(","):
		f.Args = append(f.Args, p.parseExprList()...)
	default:
		p.unexpected("PLACING", `","`)
	}
	p.expectOp(")")
	return f
}
