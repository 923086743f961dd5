package parser

import (
	"strings"
	"unicode/utf8"

	"github.com/tide-data/tide/internal/sql/ast"
)

// Error is a syntax error: where it is, what was found and expected, and
// optionally a hint for the likely mistake. Every error Parse, ParseOne and
// ParseExpr return is an *Error; use errors.As to get at the position.
type Error struct {
	Pos  ast.Pos
	Msg  string
	Hint string
}

// Error renders "line L:C: msg", plus "\nHINT: hint" when there is a hint.
func (e *Error) Error() string {
	s := "line " + e.Pos.String() + ": " + e.Msg
	if e.Hint != "" {
		s += "\nHINT: " + e.Hint
	}
	return s
}

// bailout carries an *Error up the recursive descent; the entry points
// recover it. Any other panic is a bug and is re-raised.
type bailout struct{ err *Error }

// fail aborts parsing with err.
func (p *parser) fail(err *Error) {
	panic(bailout{err})
}

// failAt aborts with a message at the position of t (or with t's own
// message if t is a lexical error).
func (p *parser) failAt(t token, msg, hint string) {
	if t.kind == tokError {
		p.fail(&Error{Pos: t.pos, Msg: t.val})
	}
	p.fail(&Error{Pos: t.pos, Msg: msg, Hint: hint})
}

// unexpected aborts with "syntax error at or near X: expected ...", at the
// current token.
func (p *parser) unexpected(expected ...string) {
	p.unexpectedHint(p.tok(), "", expected...)
}

// unexpectedHint is unexpected at token t with a caller-supplied hint,
// used when no more specific hint (a likely misspelling) applies.
func (p *parser) unexpectedHint(t token, hint string, expected ...string) {
	msg := nearText(t)
	if len(expected) > 0 {
		msg += ": expected " + joinOr(expected)
	}
	if h := guessHint(t, expected); h != "" {
		hint = h
	}
	p.failAt(t, msg, hint)
}

// nearText is "syntax error at or near X" or "syntax error at end of input".
func nearText(t token) string {
	if t.kind == tokEOF {
		return "syntax error at end of input"
	}
	return "syntax error at or near " + quoteRaw(t.raw)
}

// quoteRaw quotes source text for a message, shortening long tokens.
func quoteRaw(s string) string {
	if utf8.RuneCountInString(s) > 40 {
		r := []rune(s)
		s = string(r[:37]) + "..."
	}
	return `"` + s + `"`
}

// joinOr joins items as "A, B or C".
func joinOr(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// unsupportedHints explain words that start clauses Tide does not have.
var unsupportedHints = map[string]string{
	"order":     "ORDER BY is not supported on unbounded streams; to keep the first N rows of each group, filter on ROW_NUMBER() OVER (PARTITION BY ... ORDER BY ...) <= N in an outer query",
	"limit":     "LIMIT is not supported on unbounded streams",
	"offset":    "OFFSET is not supported on unbounded streams",
	"fetch":     "FETCH is not supported on unbounded streams",
	"intersect": "INTERSECT is not supported yet",
	"except":    "EXCEPT is not supported yet",
	"window":    "named windows are not supported; use TUMBLE, HOP or SESSION in FROM",
	"using":     "JOIN ... USING is not supported; use ON",
	"natural":   "NATURAL JOIN is not supported; use JOIN ... ON",
	"lateral":   "LATERAL is not supported",
}

// guessHint looks for a likely mistake behind an unexpected token t.
func guessHint(t token, expected []string) string {
	switch t.kind {
	case tokWord:
		if kw := closestKeyword(t.val, expected); kw != "" {
			return "did you mean " + kw + "?"
		}
		if h, ok := unsupportedHints[t.val]; ok {
			return h
		}
		if ast.IsReserved(t.val) && expectsName(expected) {
			return strings.ToUpper(t.val) + ` is a reserved keyword; to use it as a name, quote it: "` + t.val + `"`
		}
	case tokOp:
		switch t.val {
		case "==":
			return "use = to compare values"
		case "&&":
			return "use AND"
		case "!":
			return "use NOT"
		case "`":
			return `quote identifiers with double quotes: "name"`
		}
	}
	return ""
}

// expectsName reports whether an identifier was among the expected items.
func expectsName(expected []string) bool {
	for _, e := range expected {
		if strings.HasSuffix(e, "name") || e == "an identifier" || e == "an alias" {
			return true
		}
	}
	return false
}

// closestKeyword returns the expected keyword word is a likely misspelling
// of (optimal string alignment distance ≤ 1 for short words, ≤ 2 for
// longer ones), or "".
func closestKeyword(word string, expected []string) string {
	w := strings.ToUpper(word)
	if len(w) < 3 || len(w) > 20 {
		return ""
	}
	best, bestDist := "", 3
	for _, e := range expected {
		kw, _, _ := strings.Cut(e, " ")
		if kw == "" || strings.ToUpper(kw) != kw || !isKeywordText(kw) || kw == w {
			continue
		}
		limit := 2
		if len(w) <= 4 || len(kw) <= 4 {
			limit = 1
		}
		if d := osaDistance(w, kw); d <= limit && d < bestDist {
			best, bestDist = e, d
		}
	}
	return best
}

func isKeywordText(s string) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < 'A' || s[i] > 'Z') && s[i] != '_' {
			return false
		}
	}
	return true
}

// osaDistance is the optimal string alignment distance: edits are
// insertions, deletions, substitutions and swaps of adjacent characters.
func osaDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
