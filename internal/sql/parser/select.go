package parser

import (
	"github.com/tide-data/tide/internal/sql/ast"
)

// queryEnd says what may follow a query, for the "expected ..." of
// errors.
type queryEnd uint8

const (
	endOfStatement queryEnd = iota
	endOfSinkQuery          // a query after CREATE SINK ... AS, where a misplaced WITH may follow
	endOfSubquery           // a query in parentheses
)

func (e queryEnd) String() string {
	if e == endOfSubquery {
		return `")"`
	}
	return "end of statement"
}

func (p *parser) atQueryEnd(end queryEnd) bool {
	t := p.tok()
	switch end {
	case endOfSubquery:
		return t.kind == tokOp && t.val == ")"
	case endOfSinkQuery:
		if p.isWord(0, "with") {
			return true
		}
	}
	return t.kind == tokEOF || t.kind == tokOp && t.val == ";"
}

// The clauses of a SELECT, in the order they must appear.
const (
	stageItems = iota
	stageFrom
	stageWhere
	stageGroupBy
	stageHaving
	stageKeyBy
)

var stageNames = []string{"the select list", "FROM", "WHERE", "GROUP BY", "HAVING", "KEY BY"}

// clauseStage maps the first word of a clause to its stage.
var clauseStage = map[string]int{"from": stageFrom, "where": stageWhere, "group": stageGroupBy, "having": stageHaving, "key": stageKeyBy}

// clausesAfter lists what may follow a query whose last clause is stage.
func clausesAfter(stage int, end queryEnd) []string {
	var out []string
	switch stage {
	case stageItems:
		out = []string{"FROM", "WHERE", "GROUP BY", "KEY BY"}
	case stageFrom:
		out = []string{"WHERE", "GROUP BY", "KEY BY", "JOIN"}
	case stageWhere:
		out = []string{"GROUP BY", "KEY BY"}
	case stageGroupBy:
		out = []string{"HAVING", "KEY BY"}
	case stageHaving:
		out = []string{"KEY BY"}
	}
	return append(out, end.String())
}

// parseSelect parses SELECT ... up to what end allows to follow it.
func (p *parser) parseSelect(end queryEnd) *ast.Select {
	p.enter()
	defer p.leave()
	t := p.expectWord("select")
	s := &ast.Select{Pos: t.pos}
	if p.acceptWord("distinct") {
		if p.isWord(0, "on") {
			p.failAt(p.tok(), nearText(p.tok())+": DISTINCT ON is not supported", "")
		}
		s.Distinct = true
	} else {
		p.acceptWord("all")
	}
	for {
		s.Items = append(s.Items, p.parseSelectItem(clausesAfter(stageItems, end)))
		if !p.acceptOp(",") {
			break
		}
		if t := p.tok(); t.kind == tokWord && clauseStage[t.val] != 0 && ast.IsReserved(t.val) {
			p.unexpectedHint(t, "remove the trailing comma before "+upper(t.val), "an expression")
		}
	}
	stage := stageItems
	if p.acceptWord("from") {
		s.From = p.parseFrom(end)
		stage = stageFrom
	}
	if p.acceptWord("where") {
		s.Where = p.parseExpr()
		stage = stageWhere
	}
	if p.isWord(0, "group") {
		p.advance()
		p.expectWord("by")
		for {
			s.GroupBy = append(s.GroupBy, p.parseExpr())
			if !p.acceptOp(",") {
				break
			}
		}
		stage = stageGroupBy
	}
	if p.acceptWord("having") {
		s.Having = p.parseExpr()
		stage = stageHaving
	}
	if p.isWord(0, "key") {
		p.advance()
		p.expectWord("by")
		s.Key = p.parseExpr()
		stage = stageKeyBy
	}
	if p.isWord(0, "union") {
		t := p.advance()
		if !p.acceptWord("all") {
			p.failAt(t, nearText(t)+": UNION without ALL (removing duplicate rows) is not supported on streams", "write UNION ALL, which keeps every row")
		}
		s.UnionAll = p.parseSelect(end)
		return s
	}
	if !p.atQueryEnd(end) {
		p.clauseError(stage, end)
	}
	return s
}

// clauseError fails at a token that cannot follow a query whose last
// clause is stage, guessing at the mistake.
func (p *parser) clauseError(stage int, end queryEnd) {
	t := p.tok()
	hint := ""
	switch {
	case t.kind == tokWord && clauseStage[t.val] != 0 && clauseStage[t.val] <= stage:
		hint = stageNames[clauseStage[t.val]] + " must come before " + stageNames[stage]
		if clauseStage[t.val] == stage {
			hint = "a query has only one " + stageNames[stage] + " clause"
		}
	case stage == stageItems && p.startsExpr(0):
		hint = "missing comma between select items?"
	case t.kind == tokWord && statementStart[t.val] && end != endOfSubquery:
		hint = "missing ';' between statements?"
	}
	p.unexpectedHint(t, hint, clausesAfter(stage, end)...)
}

// startsExpr reports whether the token n ahead can start an expression
// (roughly: enough to suggest a missing comma).
func (p *parser) startsExpr(n int) bool {
	switch t := p.peek(n); t.kind {
	case tokIdent, tokString, tokNumber:
		return true
	case tokWord:
		return !ast.IsReserved(t.val) || t.val == "case" || t.val == "cast" || t.val == "null" || t.val == "true" || t.val == "false"
	}
	return false
}

func (p *parser) parseSelectItem(expected []string) ast.SelectItem {
	t := p.tok()
	if p.acceptOp("*") {
		return ast.SelectItem{Pos: t.pos, Star: true}
	}
	if p.isName(0) && p.isOp(1, ".") && p.isOp(2, "*") {
		p.advance()
		p.advance()
		p.advance()
		return ast.SelectItem{Pos: t.pos, Star: true, StarTable: ast.Ident(t.val)}
	}
	item := ast.SelectItem{Pos: t.pos, Expr: p.parseExpr()}
	item.Alias = p.parseAlias(expected)
	return item
}

// noImplicitAlias are unreserved words that are not taken as an alias
// without AS, because they start a clause (KEY BY) or a construct Tide
// rejects with a better message (OVER).
var noImplicitAlias = map[string]bool{"key": true, "over": true}

// parseAlias parses [AS] alias. A bare word that is a likely misspelling
// of an expected keyword ("FORM") and is not followed by something an
// alias could be is reported as the syntax error it probably is.
func (p *parser) parseAlias(expected []string) ast.Ident {
	if p.acceptWord("as") {
		return p.parseLabel("an alias")
	}
	t := p.tok()
	switch {
	case t.kind == tokIdent:
	case t.kind == tokWord && !ast.IsReserved(t.val) && !noImplicitAlias[t.val]:
		if !p.canFollowAlias(1) && closestKeyword(t.val, expected) != "" {
			p.unexpected(expected...)
		}
	default:
		return ""
	}
	p.advance()
	return ast.Ident(t.val)
}

// canFollowAlias reports whether the token n ahead may follow an alias.
func (p *parser) canFollowAlias(n int) bool {
	t := p.peek(n)
	switch t.kind {
	case tokEOF:
		return true
	case tokOp:
		return t.val == "," || t.val == ";" || t.val == ")"
	case tokWord:
		return ast.IsReserved(t.val) || t.val == "key"
	}
	return false
}

// parseFrom parses a FROM list: join trees separated by commas, each
// comma a CROSS JOIN.
func (p *parser) parseFrom(end queryEnd) ast.TableExpr {
	left := p.parseJoinTree(end)
	for p.acceptOp(",") {
		right := p.parseJoinTree(end)
		left = &ast.Join{Pos: left.Position(), Kind: "CROSS", Left: left, Right: right}
	}
	return left
}

func (p *parser) parseJoinTree(end queryEnd) ast.TableExpr {
	left := p.parseTablePrimary(end)
	for {
		kind, ok := p.parseJoinKind()
		if !ok {
			return left
		}
		j := &ast.Join{Pos: left.Position(), Kind: kind, Left: left, Right: p.parseTablePrimary(end)}
		if kind != "CROSS" {
			p.expectWord("on")
			j.On = p.parseExpr()
		}
		left = j
	}
}

// parseJoinKind consumes [INNER|LEFT [OUTER]|RIGHT [OUTER]|FULL
// [OUTER]|CROSS] JOIN.
func (p *parser) parseJoinKind() (string, bool) {
	t := p.tok()
	if t.kind != tokWord {
		return "", false
	}
	kind := ""
	switch t.val {
	case "join":
		p.advance()
		return "INNER", true
	case "inner", "cross":
		kind = upper(t.val)
		p.advance()
	case "left", "right", "full":
		kind = upper(t.val)
		p.advance()
		if !p.acceptWord("outer") && !p.isWord(0, "join") {
			p.unexpected("OUTER", "JOIN")
		}
	default:
		return "", false
	}
	p.expectWord("join")
	return kind, true
}

func (p *parser) parseTablePrimary(end queryEnd) ast.TableExpr {
	p.enter()
	defer p.leave()
	t := p.tok()
	after := clausesAfter(stageFrom, end)
	switch {
	case p.isOp(0, "(") && p.isWord(1, "select"):
		p.advance()
		q := &ast.Subquery{Pos: t.pos, Query: p.parseSelect(endOfSubquery)}
		p.expectOp(")")
		q.Alias = p.parseAlias(after)
		return q
	case p.isOp(0, "("):
		p.advance()
		te := p.parseFrom(endOfSubquery)
		if !p.isOp(0, ")") {
			p.unexpected("JOIN", `","`, `")"`)
		}
		p.advance()
		return te
	case p.isName(0):
		name, pos := p.parseName("a source name")
		if p.isOp(0, ".") {
			p.failAt(p.tok(), nearText(p.tok())+": qualified names are not supported", "")
		}
		if p.isOp(0, "(") {
			f := &ast.TableFunc{Pos: pos, Name: name, Args: p.parseTableFuncArgs()}
			f.Alias = p.parseAlias(after)
			return f
		}
		return &ast.TableName{Pos: pos, Name: name, Alias: p.parseAlias(after)}
	}
	p.unexpected("a source name", "a table function", `"("`)
	return nil
}

func (p *parser) parseTableFuncArgs() []ast.TableFuncArg {
	p.advance() // (
	var args []ast.TableFuncArg
	if p.acceptOp(")") {
		return nil
	}
	for {
		args = append(args, p.parseTableFuncArg())
		if p.acceptOp(")") {
			return args
		}
		if !p.isOp(0, ",") {
			p.unexpected(`","`, `")"`)
		}
		p.advance()
	}
}

// parseTableFuncArg parses [name =>] (TABLE name | TABLE (query) |
// DESCRIPTOR(col, ...) | expr).
func (p *parser) parseTableFuncArg() ast.TableFuncArg {
	t := p.tok()
	arg := ast.TableFuncArg{Pos: t.pos}
	if p.isName(0) && p.isOp(1, "=>") {
		arg.Name = ast.Ident(t.val)
		p.advance()
		p.advance()
	}
	switch {
	case p.acceptWord("table"):
		if p.isOp(0, "(") && p.isWord(1, "select") {
			p.advance()
			arg.Query = p.parseSelect(endOfSubquery)
			p.expectOp(")")
			break
		}
		name, pos := p.parseName("a source name")
		arg.Table = &ast.TableName{Pos: pos, Name: name}
	case p.isWord(0, "descriptor") && p.isOp(1, "("):
		p.advance()
		p.advance()
		for {
			name, _ := p.parseName("a column name")
			arg.Descriptor = append(arg.Descriptor, name)
			if p.acceptOp(")") {
				break
			}
			if !p.isOp(0, ",") {
				p.unexpected(`","`, `")"`)
			}
			p.advance()
		}
	default:
		arg.Expr = p.parseExpr()
	}
	return arg
}
