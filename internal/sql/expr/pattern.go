package expr

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/types"
)

func (c *compiler) like(x *ast.Like) (*node, error) {
	if x.Similar {
		return nil, errorf(x.Pos, codeFeature, "SIMILAR TO is not supported; use a regular expression (~)")
	}
	l, err := c.compile(x.X)
	if err != nil {
		return nil, err
	}
	p, err := c.compile(x.Pattern)
	if err != nil {
		return nil, err
	}
	var esc *node
	if x.Escape != nil {
		if esc, err = c.compile(x.Escape); err != nil {
			return nil, err
		}
	}
	return c.likeNodes(x.Pos, l, p, esc, x.Not, x.CaseInsensitive)
}

func (c *compiler) likeNodes(pos ast.Pos, l, p, esc *node, not, fold bool) (*node, error) {
	var err error
	if l, err = c.coerceText(l, "~~"); err != nil {
		return nil, err
	}
	if p, err = c.coerceText(p, "~~"); err != nil {
		return nil, err
	}
	escape := "\\"
	if esc != nil {
		if esc, err = c.coerceText(esc, "ESCAPE"); err != nil {
			return nil, err
		}
		if !esc.folded {
			return nil, errorf(esc.pos, codeFeature, "ESCAPE must be a constant")
		}
		if esc.val.IsNull() {
			return nullNode(types.KindBool, pos), nil
		}
		escape = esc.val.Text()
		if utf8.RuneCountInString(escape) > 1 {
			return nil, errorf(esc.pos, types.CodeInvalidEscapeSequence, "invalid escape string")
		}
	}
	lf, pf := l.fn, p.fn
	return c.newNode(types.KindBool, pos, func(row types.Row) (types.Value, error) {
		a, b, null, err := eval2(lf, pf, row)
		if null || err != nil {
			return nullBool, err
		}
		s, pat := a.Text(), b.Text()
		if fold {
			s, pat = strings.ToLower(s), strings.ToLower(pat)
		}
		m, err := likeMatch(s, pat, escape)
		if err != nil {
			return nullBool, err
		}
		return boolVal(m != not), nil
	}, l, p), nil
}

// coerceText makes n text (unknown literals read as text) or fails.
func (c *compiler) coerceText(n *node, op string) (*node, error) {
	if n.unknown || n.typ == types.KindNull {
		return c.coerce(n, types.KindText)
	}
	if n.typ != types.KindText {
		return nil, errorf(n.pos, codeUndefinedFunction, "operator does not exist: %s %s text", n.typ, op)
	}
	return n, nil
}

// likeMatch matches s against a LIKE pattern: % any run, _ one
// character, escape quoting the next character ("" disables escaping).
func likeMatch(s, pat, escape string) (bool, error) {
	var esc rune = -1
	if escape != "" {
		esc, _ = utf8.DecodeRuneInString(escape)
	}
	// Iterative matching with one backtrack point for the last %.
	si, pi := 0, 0
	starP, starS := -1, 0
	for {
		if pi < len(pat) {
			pr, pw := utf8.DecodeRuneInString(pat[pi:])
			switch {
			case pr == '%':
				starP, starS = pi+pw, si
				pi += pw
				continue
			case pr == esc:
				if pi+pw >= len(pat) {
					return false, &types.Error{Code: types.CodeInvalidEscapeSequence, Message: "LIKE pattern must not end with escape character"}
				}
				lr, lw := utf8.DecodeRuneInString(pat[pi+pw:])
				if si < len(s) {
					sr, sw := utf8.DecodeRuneInString(s[si:])
					if sr == lr {
						si += sw
						pi += pw + lw
						continue
					}
				}
			case si < len(s):
				sr, sw := utf8.DecodeRuneInString(s[si:])
				if pr == '_' || pr == sr {
					si += sw
					pi += pw
					continue
				}
			}
		} else if si == len(s) {
			return true, nil
		}
		if starP < 0 || starS >= len(s) {
			// validate the rest of the pattern for a trailing escape
			if strings.HasSuffix(pat, string(esc)) && esc >= 0 && !escapedEnd(pat, esc) {
				return false, &types.Error{Code: types.CodeInvalidEscapeSequence, Message: "LIKE pattern must not end with escape character"}
			}
			return false, nil
		}
		_, sw := utf8.DecodeRuneInString(s[starS:])
		starS += sw
		si, pi = starS, starP
	}
}

// escapedEnd reports whether pat's final escape character is itself
// escaped.
func escapedEnd(pat string, esc rune) bool {
	n := 0
	for i := len(pat); i > 0; {
		r, w := utf8.DecodeLastRuneInString(pat[:i])
		if r != esc {
			break
		}
		n++
		i -= w
	}
	return n%2 == 0
}

// Regular expressions use Go's RE2, not Postgres' ARE: no
// backreferences, lookaround or \m \M \y word boundaries. '.' matches a
// newline, as in Postgres.
func compileRegex(pat string, fold bool) (*regexp.Regexp, error) {
	prefix := "(?s)"
	if fold {
		prefix = "(?si)"
	}
	re, err := regexp.Compile(prefix + pat)
	if err != nil {
		return nil, &types.Error{Code: types.CodeInvalidRegularExpression, Message: "invalid regular expression: " + strings.TrimPrefix(err.Error(), "error parsing regexp: ")}
	}
	return re, nil
}

// regexSource gives the regexp for a row: compiled once when the pattern
// is constant, per row otherwise.
func (c *compiler) regexSource(p *node, fold bool) (func(row types.Row) (*regexp.Regexp, bool, error), error) {
	if p.folded {
		if p.val.IsNull() {
			return func(types.Row) (*regexp.Regexp, bool, error) { return nil, true, nil }, nil
		}
		re, err := compileRegex(p.val.Text(), fold)
		if err != nil {
			return nil, wrapValueError(p.pos, err)
		}
		return func(types.Row) (*regexp.Regexp, bool, error) { return re, false, nil }, nil
	}
	pf := p.fn
	return func(row types.Row) (*regexp.Regexp, bool, error) {
		v, err := pf(row)
		if err != nil || v.IsNull() {
			return nil, true, err
		}
		re, err := compileRegex(v.Text(), fold)
		return re, false, err
	}, nil
}

func (c *compiler) regexOp(pos ast.Pos, op string, l, p *node) (*node, error) {
	var err error
	if l, err = c.coerceText(l, op); err != nil {
		return nil, err
	}
	if p, err = c.coerceText(p, op); err != nil {
		return nil, err
	}
	not := strings.HasPrefix(op, "!")
	src, err := c.regexSource(p, strings.HasSuffix(op, "*"))
	if err != nil {
		return nil, err
	}
	lf := l.fn
	return c.newNode(types.KindBool, pos, func(row types.Row) (types.Value, error) {
		v, err := lf(row)
		if err != nil || v.IsNull() {
			return nullBool, err
		}
		re, null, err := src(row)
		if err != nil || null {
			return nullBool, err
		}
		return boolVal(re.MatchString(v.Text()) != not), nil
	}, l, p), nil
}

// pgReplacement converts a Postgres replacement string (\1..\9, \& the
// whole match, \\ a backslash) to Go's Expand template.
func pgReplacement(rep string) string {
	var b strings.Builder
	for i := 0; i < len(rep); i++ {
		ch := rep[i]
		switch {
		case ch == '$':
			b.WriteString("$$")
		case ch == '\\' && i+1 < len(rep):
			n := rep[i+1]
			switch {
			case n >= '1' && n <= '9':
				b.WriteString("${" + string(n) + "}")
				i++
			case n == '&':
				b.WriteString("${0}")
				i++
			case n == '\\':
				b.WriteByte('\\')
				i++
			default:
				b.WriteByte('\\')
			}
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}

func regexpReplace(re *regexp.Regexp, s, rep string, global bool) string {
	tmpl := pgReplacement(rep)
	if global {
		return re.ReplaceAllString(s, tmpl)
	}
	loc := re.FindStringSubmatchIndex(s)
	if loc == nil {
		return s
	}
	var dst []byte
	dst = append(dst, s[:loc[0]]...)
	dst = re.ExpandString(dst, tmpl, s, loc)
	dst = append(dst, s[loc[1]:]...)
	return string(dst)
}
