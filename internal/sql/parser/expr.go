package parser

import (
	"strings"

	"github.com/tide-data/tide/internal/sql/ast"
)

// Expressions are parsed by one function per precedence level, lowest
// first (see doc.go for the table).

func (p *parser) parseExpr() ast.Expr {
	p.enter()
	defer p.leave()
	return p.parseOr()
}

func (p *parser) parseOr() ast.Expr {
	l := p.parseAnd()
	for p.acceptWord("or") {
		l = &ast.Binary{Pos: l.Position(), Op: "OR", L: l, R: p.parseAnd()}
	}
	return l
}

func (p *parser) parseAnd() ast.Expr {
	l := p.parseNot()
	for p.acceptWord("and") {
		l = &ast.Binary{Pos: l.Position(), Op: "AND", L: l, R: p.parseNot()}
	}
	return l
}

func (p *parser) parseNot() ast.Expr {
	if !p.isWord(0, "not") {
		return p.parseIs()
	}
	t := p.advance()
	p.enter()
	defer p.leave()
	return &ast.Unary{Pos: t.pos, Op: "NOT", X: p.parseNot()}
}

// parseIs parses the postfix IS tests, ISNULL and NOTNULL.
func (p *parser) parseIs() ast.Expr {
	x := p.parseComparison()
	for {
		switch {
		case p.acceptWord("isnull"):
			x = &ast.IsNull{Pos: x.Position(), X: x}
		case p.acceptWord("notnull"):
			x = &ast.IsNull{Pos: x.Position(), X: x, Not: true}
		case p.acceptWord("is"):
			not := p.acceptWord("not")
			t := p.tok()
			switch {
			case p.acceptWord("null"):
				x = &ast.IsNull{Pos: x.Position(), X: x, Not: not}
			case p.acceptWord("true"), p.acceptWord("false"):
				v := t.val == "true"
				x = &ast.IsBool{Pos: x.Position(), X: x, Not: not, Value: &v}
			case p.acceptWord("unknown"):
				x = &ast.IsBool{Pos: x.Position(), X: x, Not: not}
			case p.acceptWord("distinct"):
				p.expectWord("from")
				x = &ast.IsDistinct{Pos: x.Position(), L: x, R: p.parseComparison(), Not: not}
			default:
				expected := []string{"NULL", "TRUE", "FALSE", "UNKNOWN", "DISTINCT FROM"}
				if !not {
					expected = append([]string{"NOT"}, expected...)
				}
				p.unexpected(expected...)
			}
		default:
			return x
		}
	}
}

// comparisonOps maps the comparison operators to their canonical form.
var comparisonOps = map[string]string{"=": "=", "<": "<", ">": ">", "<=": "<=", ">=": ">=", "<>": "<>", "!=": "<>"}

func (p *parser) comparisonOp() string {
	if t := p.tok(); t.kind == tokOp {
		return comparisonOps[t.val]
	}
	return ""
}

// parseComparison parses the comparisons, which do not associate: a < b <
// c is an error, as in Postgres.
func (p *parser) parseComparison() ast.Expr {
	l := p.parsePredicate()
	op := p.comparisonOp()
	if op == "" {
		return l
	}
	p.advance()
	l = &ast.Binary{Pos: l.Position(), Op: op, L: l, R: p.parsePredicate()}
	if p.comparisonOp() != "" {
		t := p.tok()
		p.failAt(t, nearText(t), "comparisons do not chain; combine them with AND")
	}
	return l
}

// parsePredicate parses [NOT] BETWEEN, IN, LIKE, ILIKE and SIMILAR TO.
func (p *parser) parsePredicate() ast.Expr {
	x := p.parseOther()
	not := false
	if p.isWord(0, "not") {
		switch p.peek(1).val {
		case "between", "in", "like", "ilike", "similar":
			if p.peek(1).kind == tokWord {
				p.advance()
				not = true
			}
		}
	}
	switch {
	case p.acceptWord("between"):
		b := &ast.Between{Pos: x.Position(), X: x, Not: not}
		if p.acceptWord("symmetric") {
			b.Symmetric = true
		} else {
			p.acceptWord("asymmetric")
		}
		b.Lo = p.parseOther()
		p.expectWord("and")
		b.Hi = p.parseOther()
		return b
	case p.acceptWord("in"):
		in := &ast.In{Pos: x.Position(), X: x, Not: not}
		if !p.isOp(0, "(") {
			p.unexpectedHint(p.tok(), "IN takes a parenthesised list: x IN (1, 2)", `"("`)
		}
		p.advance()
		if p.isWord(0, "select") {
			p.failAt(p.tok(), nearText(p.tok())+": subqueries are not supported", "")
		}
		in.List = p.parseExprList()
		p.expectOp(")")
		return in
	case p.isWord(0, "like"), p.isWord(0, "ilike"):
		t := p.advance()
		l := &ast.Like{Pos: x.Position(), X: x, Not: not, CaseInsensitive: t.val == "ilike"}
		l.Pattern = p.parseOther()
		if p.acceptWord("escape") {
			l.Escape = p.parseOther()
		}
		return l
	case p.acceptWord("similar"):
		p.expectWord("to")
		l := &ast.Like{Pos: x.Position(), X: x, Not: not, Similar: true}
		l.Pattern = p.parseOther()
		if p.acceptWord("escape") {
			l.Escape = p.parseOther()
		}
		return l
	}
	return x
}

// otherOps are the operators of the "any other operator" level.
var otherOps = map[string]bool{
	"||": true, "->": true, "->>": true, "#>": true, "#>>": true, "#-": true,
	"~": true, "~*": true, "!~": true, "!~*": true, "@>": true, "<@": true,
	"&": true, "|": true, "#": true, "<<": true, ">>": true,
}

// isOperator reports whether t is an operator (not punctuation).
func isOperator(t token) bool {
	return t.kind == tokOp && t.val != "" && strings.IndexByte(opChars, t.val[0]) >= 0
}

// parseOther parses the user-level operators (||, ->, ~, @>, ...); an
// operator the parser does not know is reported here.
func (p *parser) parseOther() ast.Expr {
	l := p.parseAdditive()
	for {
		t := p.tok()
		if !isOperator(t) {
			return l
		}
		if !knownOps[t.val] {
			p.failAt(t, nearText(t)+": unknown operator", guessHint(t, nil))
		}
		if !otherOps[t.val] {
			return l
		}
		p.advance()
		l = &ast.Binary{Pos: l.Position(), Op: t.val, L: l, R: p.parseAdditive()}
	}
}

func (p *parser) parseAdditive() ast.Expr {
	l := p.parseMultiplicative()
	for p.isOp(0, "+") || p.isOp(0, "-") {
		t := p.advance()
		l = &ast.Binary{Pos: l.Position(), Op: t.val, L: l, R: p.parseMultiplicative()}
	}
	return l
}

func (p *parser) parseMultiplicative() ast.Expr {
	l := p.parseExponent()
	for p.isOp(0, "*") || p.isOp(0, "/") || p.isOp(0, "%") {
		t := p.advance()
		l = &ast.Binary{Pos: l.Position(), Op: t.val, L: l, R: p.parseExponent()}
	}
	return l
}

func (p *parser) parseExponent() ast.Expr {
	l := p.parseUnary()
	for p.isOp(0, "^") {
		p.advance()
		l = &ast.Binary{Pos: l.Position(), Op: "^", L: l, R: p.parseUnary()}
	}
	return l
}

func (p *parser) parseUnary() ast.Expr {
	if p.isOp(0, "-") || p.isOp(0, "+") || p.isOp(0, "~") {
		t := p.advance()
		p.enter()
		defer p.leave()
		return &ast.Unary{Pos: t.pos, Op: t.val, X: p.parseUnary()}
	}
	return p.parseCastSuffix()
}

// parseCastSuffix parses a primary followed by any number of ::type.
func (p *parser) parseCastSuffix() ast.Expr {
	x := p.parsePrimary()
	for p.acceptOp("::") {
		x = &ast.Cast{Pos: x.Position(), X: x, Type: p.parseType()}
	}
	return x
}

// niladic are the SQL-standard functions called without parentheses.
var niladic = map[string]bool{
	"current_timestamp": true, "current_date": true, "current_time": true,
	"localtimestamp": true, "localtime": true,
}

func (p *parser) parsePrimary() ast.Expr {
	p.enter()
	defer p.leave()
	t := p.tok()
	switch t.kind {
	case tokNumber:
		p.advance()
		return &ast.NumberLit{Pos: t.pos, Text: t.val}
	case tokString:
		p.advance()
		return &ast.StringLit{Pos: t.pos, Value: t.val}
	case tokIdent:
		return p.parseNameExpr()
	case tokOp:
		if t.val == "(" {
			p.advance()
			if p.isWord(0, "select") {
				p.failAt(p.tok(), nearText(p.tok())+": subqueries are not supported in expressions", "")
			}
			x := p.parseExpr()
			if !p.isOp(0, ")") {
				p.unexpected("an operator", `")"`)
			}
			p.advance()
			return x
		}
	case tokWord:
		switch {
		case t.val == "true" || t.val == "false":
			p.advance()
			return &ast.BoolLit{Pos: t.pos, Value: t.val == "true"}
		case t.val == "null":
			p.advance()
			return &ast.NullLit{Pos: t.pos}
		case t.val == "case":
			return p.parseCase()
		case t.val == "cast":
			p.advance()
			return p.parseCastCall(t, false)
		case niladic[t.val]:
			p.advance()
			return &ast.Func{Pos: t.pos, Name: ast.Ident(t.val)}
		case (t.val == "left" || t.val == "right") && p.isOp(1, "("):
			p.advance()
			return p.parseCall(t)
		case ast.IsReserved(t.val):
		default:
			if lit := p.parseTypedLiteral(); lit != nil {
				return lit
			}
			return p.parseNameExpr()
		}
	}
	p.unexpected("an expression")
	return nil
}

// parseNameExpr parses a column reference or a function call starting
// with a name.
func (p *parser) parseNameExpr() ast.Expr {
	t := p.advance()
	if p.isOp(0, "(") {
		return p.parseCall(t)
	}
	if !p.acceptOp(".") {
		return &ast.ColumnRef{Pos: t.pos, Name: ast.Ident(t.val)}
	}
	if p.isOp(0, "*") {
		p.failAt(p.tok(), nearText(p.tok()), string(t.val)+".* is only allowed as a select item")
	}
	c := &ast.ColumnRef{Pos: t.pos, Table: ast.Ident(t.val), Name: p.parseLabel("a column name")}
	if p.isOp(0, ".") || p.isOp(0, "(") {
		p.failAt(p.tok(), nearText(p.tok())+": qualified names have at most two parts (table.column)", "")
	}
	return c
}

// parseExprList parses expr {, expr}.
func (p *parser) parseExprList() []ast.Expr {
	list := []ast.Expr{p.parseExpr()}
	for p.acceptOp(",") {
		list = append(list, p.parseExpr())
	}
	return list
}

func (p *parser) parseCase() ast.Expr {
	t := p.advance()
	c := &ast.Case{Pos: t.pos}
	if !p.isWord(0, "when") {
		c.Operand = p.parseExpr()
	}
	for p.isWord(0, "when") {
		w := p.advance()
		cond := p.parseExpr()
		p.expectWord("then")
		c.Whens = append(c.Whens, ast.When{Pos: w.pos, Cond: cond, Result: p.parseExpr()})
	}
	if len(c.Whens) == 0 {
		p.unexpected("WHEN")
	}
	if p.acceptWord("else") {
		c.Else = p.parseExpr()
		p.expectWord("end")
		return c
	}
	p.expectWord("end", "WHEN", "ELSE")
	return c
}

// typedLiteralTypes are the type names that prefix a string literal to
// make a typed literal, with their canonical names.
var typedLiteralTypes = map[string]string{
	"timestamp": "timestamp", "timestamptz": "timestamptz", "date": "date",
	"time": "time", "interval": "interval", "json": "json", "jsonb": "jsonb",
}

// parseTypedLiteral parses TIMESTAMP '...' and its kin, or returns nil
// (consuming nothing) if the current word is not followed by a string and
// so is an ordinary name: timestamp is a fine column name.
func (p *parser) parseTypedLiteral() ast.Expr {
	t := p.tok()
	name, ok := typedLiteralTypes[t.val]
	if !ok {
		return nil
	}
	n := 1
	if (t.val == "timestamp" || t.val == "time") && (p.isWord(1, "with") || p.isWord(1, "without")) &&
		p.isWord(2, "time") && p.isWord(3, "zone") && p.peek(4).kind == tokString {
		if p.isWord(1, "with") {
			name += "tz"
		}
		n = 4
	}
	if p.peek(n).kind != tokString {
		return nil
	}
	for range n {
		p.advance()
	}
	s := p.advance()
	lit := &ast.TypedLit{Pos: t.pos, Type: ast.TypeName{Pos: t.pos, Name: name}, Value: s.val}
	if name == "interval" {
		lit.Qualifier = p.parseIntervalQualifier()
	}
	return lit
}

var intervalFields = map[string]int{"year": 1, "month": 2, "day": 3, "hour": 4, "minute": 5, "second": 6}

// parseIntervalQualifier parses an optional interval field qualifier:
// YEAR, DAY TO SECOND, ...
func (p *parser) parseIntervalQualifier() string {
	t := p.tok()
	from, ok := intervalFields[t.val]
	if t.kind != tokWord || !ok {
		return ""
	}
	p.advance()
	if !p.isWord(0, "to") {
		return t.val
	}
	to := p.peek(1)
	if rank, ok := intervalFields[to.val]; !ok || to.kind != tokWord || rank <= from || from <= 2 && rank > 2 || from > 2 && rank <= 2 {
		p.advance()
		p.unexpected("a later interval field")
	}
	p.advance()
	p.advance()
	return t.val + " to " + to.val
}
