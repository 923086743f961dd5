package parser

import (
	"github.com/tide-data/tide/internal/sql/ast"
)

// statementStart are the words that begin a statement.
var statementStart = map[string]bool{
	"create": true, "drop": true, "show": true, "describe": true, "desc": true,
	"explain": true, "select": true,
}

var statementKeywords = []string{"CREATE", "DROP", "SHOW", "DESCRIBE", "EXPLAIN", "SELECT"}

func (p *parser) parseStatement() ast.Statement {
	t := p.tok()
	if t.kind == tokWord {
		switch t.val {
		case "create":
			return p.parseCreate()
		case "drop":
			return p.parseDrop()
		case "show":
			return p.parseShow()
		case "describe", "desc":
			p.advance()
			name, _ := p.parseName("a source or sink name")
			return &ast.Describe{Pos: t.pos, Name: name}
		case "explain":
			return p.parseExplain()
		case "select":
			return p.parseSelect(endOfStatement)
		}
	}
	p.unexpected(statementKeywords...)
	return nil
}

func (p *parser) parseCreate() ast.Statement {
	t := p.advance()
	switch {
	case p.acceptWord("source"):
		return p.parseCreateSource(t.pos)
	case p.acceptWord("sink"):
		return p.parseCreateSink(t.pos)
	case p.isWord(0, "materialized") && p.isWord(1, "view"):
		p.advance()
		p.advance()
		return p.parseCreateView(t.pos)
	}
	hint := ""
	if p.isWord(0, "table") || p.isWord(0, "view") {
		hint = "Tide pipelines are built from CREATE SOURCE, CREATE SINK ... AS SELECT and CREATE MATERIALIZED VIEW ... AS SELECT"
	}
	p.unexpectedHint(p.tok(), hint, "SOURCE", "SINK", "MATERIALIZED VIEW")
	return nil
}

// parseCreateView parses CREATE MATERIALIZED VIEW after its keywords:
// a sink whose WITH is optional (Tide writes the view's topic itself).
func (p *parser) parseCreateView(pos ast.Pos) *ast.CreateSink {
	s := &ast.CreateSink{Pos: pos, View: true, IfNotExists: p.parseIfNotExists()}
	s.Name, _ = p.parseName("a view name")
	if p.acceptOp("(") {
		for {
			name, _ := p.parseName("a column name")
			s.Columns = append(s.Columns, name)
			if p.acceptOp(")") {
				break
			}
			p.expectOp(",")
		}
	}
	if p.isWord(0, "with") {
		s.With = p.parseWith(true)
	}
	p.expectWord("as")
	if !p.isWord(0, "select") {
		p.unexpected("SELECT")
	}
	s.Query = p.parseSelect(endOfStatement)
	return s
}

// parseIfNotExists consumes IF NOT EXISTS. IF is not reserved: a source
// may be called "if", so IF counts only when NOT follows.
func (p *parser) parseIfNotExists() bool {
	if !p.isWord(0, "if") || !p.isWord(1, "not") {
		return false
	}
	p.advance()
	p.advance()
	p.expectWord("exists")
	return true
}

func (p *parser) parseIfExists() bool {
	if !p.isWord(0, "if") || !p.isWord(1, "exists") {
		return false
	}
	p.advance()
	p.advance()
	return true
}

func (p *parser) parseCreateSource(pos ast.Pos) *ast.CreateSource {
	s := &ast.CreateSource{Pos: pos, IfNotExists: p.parseIfNotExists()}
	s.Name, _ = p.parseName("a source name")
	// The column list may be left out by a source that only captures
	// (postgres-cdc writes its own topics): CREATE SOURCE s WITH (...).
	if !p.isWord(0, "with") {
		p.expectOp("(")
		p.parseSourceColumns(s)
	}
	if !p.isWord(0, "with") {
		p.unexpectedHint(p.tok(), "a source needs its connector options: CREATE SOURCE name (...) WITH (connector = '...')", "WITH")
	}
	s.With = p.parseWith(true)
	return s
}

// parseSourceColumns parses a source's column definitions and watermark,
// after the opening parenthesis, up to and including the closing one.
func (p *parser) parseSourceColumns(s *ast.CreateSource) {
	for {
		if p.isWord(0, "watermark") && p.isWord(1, "for") {
			if s.Watermark != nil {
				p.failAt(p.tok(), "a source has at most one WATERMARK clause", "")
			}
			s.Watermark = p.parseWatermark()
		} else {
			if s.Watermark != nil {
				p.unexpectedHint(p.tok(), "the WATERMARK clause comes after the columns", `")"`)
			}
			s.Columns = append(s.Columns, p.parseColumnDef())
		}
		if p.acceptOp(")") {
			break
		}
		if !p.isOp(0, ",") {
			hint := ""
			if p.isName(0) {
				hint = "missing comma between column definitions?"
			}
			expected := []string{`","`, `")"`}
			if s.Watermark == nil {
				expected = []string{"NOT NULL", `","`, `")"`}
			}
			p.unexpectedHint(p.tok(), hint, expected...)
		}
		p.advance()
		if p.isOp(0, ")") {
			p.unexpectedHint(p.tok(), "remove the trailing comma", "a column definition")
		}
	}
}

func (p *parser) parseColumnDef() ast.ColumnDef {
	name, pos := p.parseName("a column name")
	if p.isOp(0, ",") || p.isOp(0, ")") {
		p.unexpectedHint(p.tok(), "every column needs a type: "+string(name)+" text", "a type name for column "+string(name))
	}
	c := ast.ColumnDef{Pos: pos, Name: name, Type: p.parseType()}
	switch {
	case p.isWord(0, "not") && p.isWord(1, "null"):
		p.advance()
		p.advance()
		c.NotNull = true
	case p.acceptWord("null"):
		// Explicitly nullable: the default.
	}
	return c
}

func (p *parser) parseWatermark() *ast.Watermark {
	t := p.advance() // WATERMARK
	p.advance()      // FOR
	w := &ast.Watermark{Pos: t.pos}
	w.Column, _ = p.parseName("a column name")
	p.expectWord("as")
	w.Expr = p.parseExpr()
	return w
}

// parseWith parses WITH (key = value, ...). required says whether the
// clause must be there.
func (p *parser) parseWith(required bool) []ast.Option {
	if !p.isWord(0, "with") {
		if required {
			p.unexpected("WITH")
		}
		return nil
	}
	p.advance()
	p.expectOp("(")
	var opts []ast.Option
	for {
		opts = append(opts, p.parseOption())
		if p.acceptOp(")") {
			return opts
		}
		if !p.isOp(0, ",") {
			hint := ""
			if t := p.tok(); t.kind == tokWord || t.kind == tokString {
				hint = "missing comma between options?"
			}
			p.unexpectedHint(p.tok(), hint, `","`, `")"`)
		}
		p.advance()
	}
}

// parseOption parses key = value. Keys are dotted names (any word, even a
// reserved one, may be a part) or string literals; values are literals or
// bare names, kept as text.
func (p *parser) parseOption() ast.Option {
	t := p.tok()
	o := ast.Option{Pos: t.pos}
	switch t.kind {
	case tokString:
		p.advance()
		o.Key = t.val
	case tokWord, tokIdent:
		o.Key = p.parseDotted()
	default:
		p.unexpected("an option name")
	}
	if !p.isOp(0, "=") {
		hint := ""
		if p.tok().kind == tokString || p.tok().kind == tokNumber {
			hint = "options are written key = 'value'"
		}
		p.unexpectedHint(p.tok(), hint, `"="`)
	}
	p.advance()
	v := p.tok()
	o.ValuePos = v.pos
	switch {
	case v.kind == tokString || v.kind == tokNumber:
		p.advance()
		o.Value = v.val
	case v.kind == tokOp && (v.val == "-" || v.val == "+") && p.peek(1).kind == tokNumber:
		p.advance()
		n := p.advance()
		o.Value = n.val
		if v.val == "-" {
			o.Value = "-" + n.val
		}
	case v.kind == tokWord:
		o.Value = p.parseDotted()
	case v.kind == tokIdent:
		p.failAt(v, nearText(v)+": expected a string literal", "string literals use single quotes: '"+v.val+"'")
	default:
		p.unexpected("a string literal", "a number", "TRUE", "FALSE")
	}
	return o
}

// parseDotted parses word[.word...] and returns it as text.
func (p *parser) parseDotted() string {
	s := string(p.parseLabel("a name"))
	for p.acceptOp(".") {
		s += "." + string(p.parseLabel("a name"))
	}
	return s
}

func (p *parser) parseCreateSink(pos ast.Pos) *ast.CreateSink {
	s := &ast.CreateSink{Pos: pos, IfNotExists: p.parseIfNotExists()}
	s.Name, _ = p.parseName("a sink name")
	if p.acceptOp("(") {
		for {
			name, _ := p.parseName("a column name")
			s.Columns = append(s.Columns, name)
			if p.acceptOp(")") {
				break
			}
			if !p.isOp(0, ",") {
				hint := ""
				if p.isName(0) {
					hint = "missing comma between column names?"
				}
				p.unexpectedHint(p.tok(), hint, `","`, `")"`)
			}
			p.advance()
		}
	}
	if p.isWord(0, "as") {
		p.sinkWithAfterAs()
	}
	s.With = p.parseWith(true)
	p.expectWord("as")
	if !p.isWord(0, "select") {
		p.unexpected("SELECT")
	}
	s.Query = p.parseSelect(endOfStatement)
	return s
}

// sinkWithAfterAs reports the common mistake of writing CREATE SINK ...
// AS SELECT ... WITH (...): it parses the query to find the misplaced
// WITH, and fails with a hint either way.
func (p *parser) sinkWithAfterAs() {
	as := p.advance()
	if p.isWord(0, "select") {
		p.parseSelect(endOfSinkQuery)
		if t := p.tok(); p.isWord(0, "with") {
			p.failAt(t, nearText(t)+": expected end of statement",
				"WITH (...) comes before AS in CREATE SINK: CREATE SINK name WITH (connector = '...') AS SELECT ...")
		}
	}
	p.failAt(as, nearText(as)+": expected WITH", "a sink needs its options first: CREATE SINK name WITH (connector = '...') AS SELECT ...")
}

func (p *parser) parseDrop() *ast.Drop {
	t := p.advance()
	d := &ast.Drop{Pos: t.pos}
	switch {
	case p.acceptWord("source"):
		d.Kind = ast.KindSource
	case p.acceptWord("sink"):
		d.Kind = ast.KindSink
	case p.isWord(0, "materialized") && p.isWord(1, "view"):
		p.advance()
		p.advance()
		d.Kind = ast.KindView
	default:
		p.unexpected("SOURCE", "SINK", "MATERIALIZED VIEW")
	}
	d.IfExists = p.parseIfExists()
	d.Name, _ = p.parseName("a " + lowerKind(d.Kind) + " name")
	return d
}

func lowerKind(k ast.ObjectKind) string {
	if k == ast.KindSink {
		return "sink"
	}
	return "source"
}

var showTargets = []string{"SOURCES", "SINKS", "TOPICS", "PIPELINES", "VIEWS"}

func (p *parser) parseShow() *ast.Show {
	t := p.advance()
	w := p.tok()
	if w.kind == tokWord {
		for _, target := range showTargets {
			if upper(w.val) == target {
				p.advance()
				return &ast.Show{Pos: t.pos, What: target}
			}
		}
	}
	p.unexpected(showTargets...)
	return nil
}

func (p *parser) parseExplain() *ast.Explain {
	t := p.advance()
	e := &ast.Explain{Pos: t.pos}
	switch {
	case p.isWord(0, "select"):
		e.Statement = p.parseSelect(endOfStatement)
	case p.isWord(0, "create") && p.isWord(1, "sink"):
		c := p.advance()
		p.advance()
		e.Statement = p.parseCreateSink(c.pos)
	case p.isWord(0, "create"):
		p.advance()
		p.unexpectedHint(p.tok(), "EXPLAIN shows the plan of a query: EXPLAIN SELECT ... or EXPLAIN CREATE SINK ...", "SINK")
	default:
		p.unexpected("SELECT", "CREATE SINK")
	}
	return e
}
