package parser

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tide-data/tide/internal/sql/ast"
)

// tokenKind classifies a token.
type tokenKind uint8

const (
	tokEOF    tokenKind = iota
	tokError            // a lexical error; val is the message
	tokWord             // an unquoted identifier or keyword; val is folded to lower case
	tokIdent            // a "quoted" identifier; val is its exact text
	tokString           // a string literal of any form; val has escapes resolved
	tokNumber           // a numeric literal; val is its text
	tokOp               // an operator or punctuation; val is its text
)

// token is one lexical token. raw is the token's source text (for error
// messages); end is the byte offset just past it.
type token struct {
	kind tokenKind
	val  string
	raw  string
	pos  ast.Pos
	end  int
}

// opChars are the characters operators are made of, as in Postgres.
const opChars = "~!@#^&|`?+-*/%<>="

// knownOps are the operators the parser understands. An operator the lexer
// scans greedily that is not here, but starts with one that is followed
// only by signs ("*-", "^-", "||-"), is split so that x^-1 means x ^ (-1).
var knownOps = map[string]bool{
	"+": true, "-": true, "*": true, "/": true, "%": true, "^": true,
	"<": true, ">": true, "=": true, "<=": true, ">=": true, "<>": true, "!=": true,
	"=>": true, "||": true, "->": true, "->>": true, "#>": true, "#>>": true, "#-": true,
	"~": true, "~*": true, "!~": true, "!~*": true, "@>": true, "<@": true,
	"&": true, "|": true, "#": true, "<<": true, ">>": true,
}

// lexer turns SQL text into tokens. It tracks the line and column (in
// runes) of its cursor so that every token carries its position.
type lexer struct {
	src  string
	off  int
	line int
	col  int
}

func newLexer(src string) *lexer {
	return &lexer{src: src, line: 1, col: 1}
}

// lexAll returns the tokens of src up to and including the first error
// token or the EOF token.
func lexAll(src string) []token {
	lx := newLexer(src)
	toks := make([]token, 0, len(src)/5+1) // roughly one token per five bytes
	for {
		t := lx.next()
		toks = append(toks, t)
		if t.kind == tokEOF || t.kind == tokError {
			return toks
		}
	}
}

func (lx *lexer) pos() ast.Pos {
	return ast.Pos{Line: lx.line, Col: lx.col, Offset: lx.off}
}

// advanceTo moves the cursor to byte offset end, counting lines and runes.
func (lx *lexer) advanceTo(end int) {
	for lx.off < end {
		c := lx.src[lx.off]
		if c == '\n' {
			lx.line++
			lx.col = 1
			lx.off++
			continue
		}
		if c < utf8.RuneSelf {
			lx.col++
			lx.off++
			continue
		}
		_, n := utf8.DecodeRuneInString(lx.src[lx.off:end])
		lx.col++
		lx.off += n
	}
}

// posAt is the position of byte offset off, at or after the cursor; it is
// used for errors inside a token.
func (lx *lexer) posAt(off int) ast.Pos {
	c := *lx
	c.advanceTo(off)
	return c.pos()
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func isIdentChar(c byte) bool { return isIdentStart(c) || isDigit(c) || c == '$' }

// foldIdent lower-cases ASCII letters only, as Postgres does for
// multi-byte encodings.
func foldIdent(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// skipSpace skips whitespace and comments. It returns an error token for
// an unterminated block comment.
func (lx *lexer) skipSpace() (token, bool) {
	for lx.off < len(lx.src) {
		c := lx.src[lx.off]
		switch {
		case isSpace(c):
			lx.advanceTo(lx.off + 1)
		case strings.HasPrefix(lx.src[lx.off:], "--"):
			end := strings.IndexByte(lx.src[lx.off:], '\n')
			if end < 0 {
				lx.advanceTo(len(lx.src))
			} else {
				lx.advanceTo(lx.off + end + 1)
			}
		case strings.HasPrefix(lx.src[lx.off:], "/*"):
			start := lx.pos()
			end, ok := blockCommentEnd(lx.src, lx.off)
			lx.advanceTo(end)
			if !ok {
				return token{kind: tokError, val: "unterminated /* comment", raw: lx.src[start.Offset:end], pos: start, end: end}, false
			}
		default:
			return token{}, true
		}
	}
	return token{}, true
}

// blockCommentEnd returns the offset just past the block comment starting
// at off; comments nest, as in Postgres.
func blockCommentEnd(src string, off int) (int, bool) {
	depth := 0
	for i := off; i+1 < len(src); {
		switch {
		case src[i] == '/' && src[i+1] == '*':
			depth++
			i += 2
		case src[i] == '*' && src[i+1] == '/':
			depth--
			i += 2
			if depth == 0 {
				return i, true
			}
		default:
			i++
		}
	}
	return len(src), false
}

// next returns the next token. After an error token the lexer continues
// past the offending text, which Split relies on.
func (lx *lexer) next() token {
	if t, ok := lx.skipSpace(); !ok {
		return t
	}
	start := lx.pos()
	if lx.off >= len(lx.src) {
		return token{kind: tokEOF, pos: start, end: lx.off}
	}
	s := lx.src[lx.off:]
	c := s[0]
	switch {
	case (c == 'e' || c == 'E') && len(s) > 1 && s[1] == '\'':
		return lx.lexString(start, true)
	case c == '\'':
		return lx.lexString(start, false)
	case c == '"':
		return lx.lexQuotedIdent(start)
	case c == '$' && dollarTag(s) != "":
		return lx.lexDollarString(start, dollarTag(s))
	case isIdentStart(c):
		n := 1
		for n < len(s) && isIdentChar(s[n]) {
			n++
		}
		lx.advanceTo(lx.off + n)
		return token{kind: tokWord, val: foldIdent(s[:n]), raw: s[:n], pos: start, end: lx.off}
	case isDigit(c) || c == '.' && len(s) > 1 && isDigit(s[1]):
		return lx.lexNumber(start)
	case c == ':' && len(s) > 1 && s[1] == ':':
		lx.advanceTo(lx.off + 2)
		return token{kind: tokOp, val: "::", raw: "::", pos: start, end: lx.off}
	case strings.IndexByte("(),;.[]", c) >= 0:
		lx.advanceTo(lx.off + 1)
		return token{kind: tokOp, val: s[:1], raw: s[:1], pos: start, end: lx.off}
	case strings.IndexByte(opChars, c) >= 0:
		op := scanOp(s)
		lx.advanceTo(lx.off + len(op))
		return token{kind: tokOp, val: op, raw: op, pos: start, end: lx.off}
	}
	_, n := utf8.DecodeRuneInString(s)
	lx.advanceTo(lx.off + n)
	t := token{kind: tokError, raw: s[:n], pos: start, end: lx.off}
	t.val = "syntax error at or near " + quoteRaw(t.raw)
	return t
}

// scanOp returns the operator at the start of s, following Postgres's
// rules: the longest run of operator characters, cut before a comment
// start, with trailing + and - dropped unless the operator holds one of
// ~!@#^&|`?% (so that a=-1 is a = -1).
func scanOp(s string) string {
	n := 0
	for n < len(s) && strings.IndexByte(opChars, s[n]) >= 0 {
		if n > 0 && (strings.HasPrefix(s[n:], "--") || strings.HasPrefix(s[n:], "/*")) {
			break
		}
		n++
	}
	op := s[:n]
	if len(op) > 1 && (op[len(op)-1] == '+' || op[len(op)-1] == '-') && !strings.ContainsAny(op, "~!@#^&|`?%") {
		op = strings.TrimRight(op, "+-")
		if op == "" {
			op = s[:1]
		}
	}
	if knownOps[op] {
		return op
	}
	for i := len(op) - 1; i > 0; i-- {
		if knownOps[op[:i]] && strings.Trim(op[i:], "+-") == "" {
			return op[:i]
		}
	}
	return op
}

func (lx *lexer) lexNumber(start ast.Pos) token {
	s := lx.src[lx.off:]
	n := 0
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	if n < len(s) && s[n] == '.' && (n+1 >= len(s) || s[n+1] != '.') {
		n++
		for n < len(s) && isDigit(s[n]) {
			n++
		}
	}
	if n < len(s) && (s[n] == 'e' || s[n] == 'E') {
		m := n + 1
		if m < len(s) && (s[m] == '+' || s[m] == '-') {
			m++
		}
		if m < len(s) && isDigit(s[m]) {
			for m < len(s) && isDigit(s[m]) {
				m++
			}
			n = m
		}
	}
	if n < len(s) && isIdentChar(s[n]) {
		m := n
		for m < len(s) && isIdentChar(s[m]) {
			m++
		}
		lx.advanceTo(lx.off + m)
		return token{kind: tokError, val: "trailing junk after numeric literal at or near " + quoteRaw(s[:m]), raw: s[:m], pos: start, end: lx.off}
	}
	lx.advanceTo(lx.off + n)
	return token{kind: tokNumber, val: s[:n], raw: s[:n], pos: start, end: lx.off}
}

// lexString scans '...' or E'...', including continuations: literals
// separated only by whitespace holding a newline are one literal, as in
// Postgres. A bad escape makes the whole literal an error token, placed at
// the escape.
func (lx *lexer) lexString(start ast.Pos, escapes bool) token {
	i := lx.off
	if escapes {
		i++
	}
	var b strings.Builder
	badAt, badMsg := -1, ""
	for {
		end, at, msg, ok := scanQuoted(lx.src, i, escapes, &b)
		if !ok {
			lx.advanceTo(len(lx.src))
			return token{kind: tokError, val: "unterminated quoted string", raw: lx.src[start.Offset:], pos: start, end: len(lx.src)}
		}
		if badAt < 0 && at >= 0 {
			badAt, badMsg = at, msg
		}
		i = end
		next, ok := continuation(lx.src, i)
		if !ok {
			break
		}
		i = next
	}
	raw := lx.src[lx.off:i]
	if badAt >= 0 {
		pos := lx.posAt(badAt)
		lx.advanceTo(i)
		return token{kind: tokError, val: badMsg, raw: raw, pos: pos, end: i}
	}
	lx.advanceTo(i)
	return token{kind: tokString, val: b.String(), raw: raw, pos: start, end: lx.off}
}

// continuation reports whether a string literal ending at off continues
// with another quote after whitespace (and -- comments) holding a newline,
// and returns the offset of that quote.
func continuation(src string, off int) (int, bool) {
	newline := false
	i := off
	for i < len(src) {
		switch c := src[i]; {
		case c == '\n':
			newline = true
			i++
		case isSpace(c):
			i++
		case strings.HasPrefix(src[i:], "--"):
			end := strings.IndexByte(src[i:], '\n')
			if end < 0 {
				return 0, false
			}
			i += end
		default:
			return i, newline && c == '\''
		}
	}
	return 0, false
}

// scanQuoted scans one quoted segment starting at the quote at offset i,
// appending its value to b. It returns the offset past the closing quote,
// and the offset and message of the first bad escape (at is -1 if none);
// ok is false if the segment is not terminated.
func scanQuoted(src string, i int, escapes bool, b *strings.Builder) (end, at int, msg string, ok bool) {
	at = -1
	i++ // opening quote
	for i < len(src) {
		c := src[i]
		switch {
		case c == '\'':
			if i+1 < len(src) && src[i+1] == '\'' {
				b.WriteByte('\'')
				i += 2
				continue
			}
			return i + 1, at, msg, true
		case c == '\\' && escapes:
			n, m := unescape(src[i:], b)
			if m != "" && at < 0 {
				at, msg = i, m
			}
			i += n
		default:
			b.WriteByte(c)
			i++
		}
	}
	return 0, at, msg, false
}

// unescape decodes the backslash escape at the start of s (as in Postgres
// E-strings), appending it to b. It returns the bytes consumed, or an
// error message.
func unescape(s string, b *strings.Builder) (int, string) {
	if len(s) < 2 {
		return len(s), "unterminated quoted string"
	}
	switch c := s[1]; c {
	case 'b':
		b.WriteByte('\b')
	case 'f':
		b.WriteByte('\f')
	case 'n':
		b.WriteByte('\n')
	case 'r':
		b.WriteByte('\r')
	case 't':
		b.WriteByte('\t')
	case '0', '1', '2', '3', '4', '5', '6', '7':
		v, n := 0, 1
		for n < 4 && n < len(s) && s[n] >= '0' && s[n] <= '7' {
			v = v*8 + int(s[n]-'0')
			n++
		}
		b.WriteByte(byte(v))
		return n, ""
	case 'x':
		v, n := 0, 2
		for n < 4 && n < len(s) && hexVal(s[n]) >= 0 {
			v = v*16 + hexVal(s[n])
			n++
		}
		if n == 2 {
			b.WriteByte('x') // \x without digits is a plain x, as in Postgres
			return 2, ""
		}
		b.WriteByte(byte(v))
		return n, ""
	case 'u', 'U':
		digits := 4
		if c == 'U' {
			digits = 8
		}
		if len(s) < 2+digits {
			return 2, "invalid Unicode escape: \\" + string(c) + " must be followed by " + strconv.Itoa(digits) + " hexadecimal digits"
		}
		v := 0
		for _, h := range []byte(s[2 : 2+digits]) {
			if hexVal(h) < 0 {
				return 2, "invalid Unicode escape: \\" + string(c) + " must be followed by " + strconv.Itoa(digits) + " hexadecimal digits"
			}
			v = v*16 + hexVal(h)
		}
		if v == 0 || v > utf8.MaxRune || v >= 0xD800 && v <= 0xDFFF {
			return 2 + digits, "invalid Unicode escape value"
		}
		b.WriteRune(rune(v))
		return 2 + digits, ""
	default:
		_, n := utf8.DecodeRuneInString(s[1:])
		b.WriteString(s[1 : 1+n])
		return 1 + n, ""
	}
	return 2, ""
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func (lx *lexer) lexQuotedIdent(start ast.Pos) token {
	src := lx.src
	var b strings.Builder
	for i := lx.off + 1; i < len(src); i++ {
		if src[i] != '"' {
			b.WriteByte(src[i])
			continue
		}
		if i+1 < len(src) && src[i+1] == '"' {
			b.WriteByte('"')
			i++
			continue
		}
		raw := src[lx.off : i+1]
		lx.advanceTo(i + 1)
		if b.Len() == 0 {
			return token{kind: tokError, val: "zero-length delimited identifier at or near " + quoteRaw(raw), raw: raw, pos: start, end: lx.off}
		}
		return token{kind: tokIdent, val: b.String(), raw: raw, pos: start, end: lx.off}
	}
	lx.advanceTo(len(src))
	return token{kind: tokError, val: "unterminated quoted identifier", raw: src[start.Offset:], pos: start, end: len(src)}
}

// dollarTag returns the opening $tag$ at the start of s, or "".
func dollarTag(s string) string {
	if len(s) < 2 {
		return ""
	}
	if s[1] == '$' {
		return "$$"
	}
	if !isIdentStart(s[1]) {
		return ""
	}
	for i := 2; i < len(s); i++ {
		switch {
		case s[i] == '$':
			return s[:i+1]
		case !isIdentStart(s[i]) && !isDigit(s[i]):
			return ""
		}
	}
	return ""
}

func (lx *lexer) lexDollarString(start ast.Pos, tag string) token {
	body := lx.src[lx.off+len(tag):]
	end := strings.Index(body, tag)
	if end < 0 {
		lx.advanceTo(len(lx.src))
		return token{kind: tokError, val: "unterminated dollar-quoted string", raw: lx.src[start.Offset:], pos: start, end: len(lx.src)}
	}
	stop := lx.off + len(tag) + end + len(tag)
	raw := lx.src[lx.off:stop]
	lx.advanceTo(stop)
	return token{kind: tokString, val: body[:end], raw: raw, pos: start, end: lx.off}
}
