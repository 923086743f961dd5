package parser

import (
	"github.com/tide-data/tide/internal/sql/ast"
)

// parser is a recursive-descent parser over the tokens of one input. It
// aborts on the first error by panicking with a bailout, which the entry
// points recover (as go/parser and text/template do): the grammar code
// stays free of error plumbing, and no other panic is swallowed.
type parser struct {
	toks  []token
	i     int
	depth int
}

func newParser(src string) *parser {
	return &parser{toks: lexAll(src)}
}

// Parse parses one or more statements separated by ';'. A trailing ';' is
// fine, and so are empty statements; input holding no statement returns
// nil, nil. Positions are relative to the start of sql. On error no
// statements are returned; the error is an *Error.
func Parse(sql string) (stmts []ast.Statement, err error) {
	p := newParser(sql)
	defer func() {
		if err != nil {
			stmts = nil // runs after recover: no partial results
		}
	}()
	defer p.recover(&err)
	for {
		for p.acceptOp(";") {
		}
		if p.tok().kind == tokEOF {
			return stmts, nil
		}
		stmt := p.parseStatement()
		p.endStatement()
		p.checkNesting(stmt)
		stmts = append(stmts, stmt)
	}
}

// ParseOne parses exactly one statement, with an optional trailing ';'.
func ParseOne(sql string) (stmt ast.Statement, err error) {
	p := newParser(sql)
	defer p.recover(&err)
	if p.tok().kind == tokEOF {
		p.unexpected("a statement")
	}
	stmt = p.parseStatement()
	p.endStatement()
	p.checkNesting(stmt)
	for p.acceptOp(";") {
	}
	if t := p.tok(); t.kind != tokEOF {
		p.failAt(t, nearText(t)+": expected end of input", "only one statement is allowed here")
	}
	return stmt, nil
}

// ParseExpr parses a single scalar expression, such as a filter given on
// the command line.
func ParseExpr(sql string) (e ast.Expr, err error) {
	p := newParser(sql)
	defer p.recover(&err)
	e = p.parseExpr()
	if p.tok().kind != tokEOF {
		p.unexpected("an operator", "end of input")
	}
	p.checkNesting(e)
	return e, nil
}

// recover turns a bailout into the error result of an entry point.
func (p *parser) recover(err *error) {
	r := recover()
	if r == nil {
		return
	}
	b, ok := r.(bailout)
	if !ok {
		panic(r)
	}
	*err = b.err
}

// endStatement requires the end of a statement: ';' or the end of input.
func (p *parser) endStatement() {
	t := p.tok()
	if t.kind == tokEOF || t.kind == tokOp && t.val == ";" {
		return
	}
	hint := ""
	if t.kind == tokWord && statementStart[t.val] {
		hint = "missing ';' between statements?"
	}
	p.unexpectedHint(t, hint, "end of statement")
}

// tok is the current token.
func (p *parser) tok() token { return p.peek(0) }

// peek is the token n ahead of the current one; past the end it is the
// last token (EOF or the lexical error).
func (p *parser) peek(n int) token {
	if i := p.i + n; i < len(p.toks) {
		return p.toks[i]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) advance() token {
	t := p.tok()
	if p.i < len(p.toks)-1 {
		p.i++
	}
	return t
}

// isWord reports whether the token n ahead is the unquoted word w (lower
// case).
func (p *parser) isWord(n int, w string) bool {
	t := p.peek(n)
	return t.kind == tokWord && t.val == w
}

func (p *parser) isOp(n int, op string) bool {
	t := p.peek(n)
	return t.kind == tokOp && t.val == op
}

func (p *parser) acceptWord(w string) bool {
	if p.isWord(0, w) {
		p.advance()
		return true
	}
	return false
}

func (p *parser) acceptOp(op string) bool {
	if p.isOp(0, op) {
		p.advance()
		return true
	}
	return false
}

// expectWord consumes the keyword w (lower case) or fails, naming it (and
// any alternatives) as expected.
func (p *parser) expectWord(w string, alternatives ...string) token {
	if !p.isWord(0, w) {
		p.unexpected(append([]string{upper(w)}, alternatives...)...)
	}
	return p.advance()
}

func (p *parser) expectOp(op string) token {
	if !p.isOp(0, op) {
		p.unexpected(`"` + op + `"`)
	}
	return p.advance()
}

// enter and leave bound the recursion depth.
func (p *parser) enter() {
	p.depth++
	if p.depth > maxDepth {
		p.failAt(p.tok(), "statement too deeply nested", "")
	}
}

func (p *parser) leave() { p.depth-- }

// isName reports whether the token n ahead can be a name: a quoted
// identifier or an unreserved word.
func (p *parser) isName(n int) bool {
	t := p.peek(n)
	return t.kind == tokIdent || t.kind == tokWord && !ast.IsReserved(t.val)
}

// parseName consumes a name, describing it as what in errors ("a column
// name").
func (p *parser) parseName(what string) (ast.Ident, ast.Pos) {
	if !p.isName(0) {
		p.unexpected(what)
	}
	t := p.advance()
	return ast.Ident(t.val), t.pos
}

// parseLabel consumes a name after AS or a dot, where even reserved words
// are accepted, as Postgres does for column labels.
func (p *parser) parseLabel(what string) ast.Ident {
	t := p.tok()
	if t.kind != tokIdent && t.kind != tokWord {
		p.unexpected(what)
	}
	p.advance()
	return ast.Ident(t.val)
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
