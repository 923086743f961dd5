package parser

import (
	"github.com/tide-data/tide/internal/sql/ast"
)

// Fragment is the text of one statement of a script and the position of
// its first token in the script.
type Fragment struct {
	Text string
	Pos  ast.Pos
}

// Split splits a script into statement texts at the ';' that end them,
// respecting quotes, comments and dollar-quoted strings. Each fragment
// runs from the statement's first token to the end of its last, so
// comments before a statement and the ';' are not part of it; stretches
// holding no token yield no fragment. Split never fails: text it cannot
// lex (an unterminated string, say) stays in a fragment for the parser to
// report. Parse a fragment with ParseOne; an error's position is then
// relative to Fragment.Pos.
func Split(sql string) []Fragment {
	lx := newLexer(sql)
	var out []Fragment
	start, end := -1, 0
	var startPos ast.Pos
	flush := func() {
		if start >= 0 {
			out = append(out, Fragment{Text: sql[start:end], Pos: startPos})
		}
		start = -1
	}
	for {
		t := lx.next()
		switch {
		case t.kind == tokEOF:
			flush()
			return out
		case t.kind == tokOp && t.val == ";":
			flush()
		default:
			if start < 0 {
				start, startPos = t.pos.Offset, t.pos
			}
			end = t.end
		}
	}
}
