package expr

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/types"
)

func text(s string) (types.Value, error) { return types.NewText(s), nil }

func errSubstrLength() error {
	return &types.Error{Code: "22011", Message: "negative substring length not allowed"}
}

// substrRunes is Postgres' substring(s from start for n) on characters.
func substrRunes(s string, start int64, n int64, hasLen bool) (types.Value, error) {
	if hasLen && n < 0 {
		return types.Value{}, errSubstrLength()
	}
	end := int64(1) << 62
	if hasLen {
		end = start + n
		if n > 0 && end < start {
			end = int64(1) << 62
		}
	}
	if start < 1 {
		start = 1
	}
	if end <= start {
		return text("")
	}
	var b strings.Builder
	pos := int64(1)
	for _, r := range s {
		if pos >= end {
			break
		}
		if pos >= start {
			b.WriteRune(r)
		}
		pos++
	}
	return text(b.String())
}

// trimOverloads are btrim/ltrim/rtrim(s) and (s, characters).
func trimOverloads(left, right bool) []overload {
	trim := func(s, set string) (types.Value, error) {
		in := func(r rune) bool { return strings.ContainsRune(set, r) }
		if left {
			s = strings.TrimLeftFunc(s, in)
		}
		if right {
			s = strings.TrimRightFunc(s, in)
		}
		return text(s)
	}
	return []overload{
		{args: k(tText), ret: tText, fn1: func(a types.Value) (types.Value, error) { return trim(a.Text(), " ") }},
		{args: k(tText, tText), ret: tText, fn2: func(a, b types.Value) (types.Value, error) { return trim(a.Text(), b.Text()) }},
	}
}

// padOverloads are lpad/rpad(s, n) and (s, n, fill).
func padOverloads(left bool) []overload {
	return []overload{
		{args: k(tText, tInt4), ret: tText, fn2: func(a, b types.Value) (types.Value, error) { return pad(left, a.Text(), b.Int(), " ") }},
		{args: k(tText, tInt4, tText), ret: tText, fn3: func(a, b, c types.Value) (types.Value, error) {
			return pad(left, a.Text(), b.Int(), c.Text())
		}},
	}
}

func pad(left bool, s string, n int64, fill string) (types.Value, error) {
	if n <= 0 {
		return text("")
	}
	if n > 10_000_000 {
		return types.Value{}, &types.Error{Code: "54000", Message: "requested length too large"}
	}
	rs := []rune(s)
	if int64(len(rs)) >= n {
		return text(string(rs[:n]))
	}
	fr := []rune(fill)
	if len(fr) == 0 {
		return text(s)
	}
	padding := make([]rune, 0, n-int64(len(rs)))
	for i := 0; int64(len(padding)) < n-int64(len(rs)); i++ {
		padding = append(padding, fr[i%len(fr)])
	}
	if left {
		return text(string(padding) + s)
	}
	return text(s + string(padding))
}

func initcap(s string) string {
	var b strings.Builder
	inWord := false
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if inWord {
				b.WriteRune(unicode.ToLower(r))
			} else {
				b.WriteRune(unicode.ToUpper(r))
			}
			inWord = true
		} else {
			b.WriteRune(r)
			inWord = false
		}
	}
	return b.String()
}

func toHex(bits uint) func(a types.Value) (types.Value, error) {
	return func(a types.Value) (types.Value, error) {
		n := uint64(a.Int())
		if bits == 32 {
			n &= 0xffffffff
		}
		return text(strconv.FormatUint(n, 16))
	}
}

func init() {
	length := func(a types.Value) (types.Value, error) {
		return types.NewInt4(int32(utf8.RuneCountInString(a.Text()))), nil
	}
	register("length", overload{args: k(tText), ret: tInt4, fn1: length},
		overload{args: k(tBytea), ret: tInt4, fn1: func(a types.Value) (types.Value, error) { return types.NewInt4(int32(len(a.Bytes()))), nil }})
	register("char_length", overload{args: k(tText), ret: tInt4, fn1: length})
	register("character_length", overload{args: k(tText), ret: tInt4, fn1: length})
	octet := func(a types.Value) (types.Value, error) { return types.NewInt4(int32(len(a.Text()))), nil }
	register("octet_length", overload{args: k(tText), ret: tInt4, fn1: octet}, overload{args: k(tBytea), ret: tInt4, fn1: octet})
	register("lower", overload{args: k(tText), ret: tText, fn1: func(a types.Value) (types.Value, error) { return text(toLower(a.Text())) }})
	register("upper", overload{args: k(tText), ret: tText, fn1: func(a types.Value) (types.Value, error) { return text(toUpper(a.Text())) }})
	register("initcap", overload{args: k(tText), ret: tText, fn1: func(a types.Value) (types.Value, error) { return text(initcap(a.Text())) }})
	substr := []overload{
		{args: k(tText, tInt4), ret: tText, fn2: func(a, b types.Value) (types.Value, error) { return substrRunes(a.Text(), b.Int(), 0, false) }},
		{args: k(tText, tInt4, tInt4), ret: tText, fn3: func(a, b, c types.Value) (types.Value, error) {
			return substrRunes(a.Text(), b.Int(), c.Int(), true)
		}},
	}
	register("substring", substr...)
	register("substr", substr...)
	strpos := func(s, sub string) (types.Value, error) {
		i := strings.Index(s, sub)
		if i < 0 {
			return types.NewInt4(0), nil
		}
		return types.NewInt4(int32(utf8.RuneCountInString(s[:i]) + 1)), nil
	}
	register("strpos", overload{args: k(tText, tText), ret: tInt4, fn2: func(a, b types.Value) (types.Value, error) { return strpos(a.Text(), b.Text()) }})
	// POSITION(sub IN s) arrives as position(sub, s).
	register("position", overload{args: k(tText, tText), ret: tInt4, fn2: func(a, b types.Value) (types.Value, error) { return strpos(b.Text(), a.Text()) }})
	register("btrim", trimOverloads(true, true)...)
	register("trim", trimOverloads(true, true)...)
	register("ltrim", trimOverloads(true, false)...)
	register("rtrim", trimOverloads(false, true)...)
	register("replace", overload{args: k(tText, tText, tText), ret: tText, fn3: func(a, b, c types.Value) (types.Value, error) {
		if b.Text() == "" {
			return a, nil
		}
		return text(strings.ReplaceAll(a.Text(), b.Text(), c.Text()))
	}})
	register("left", overload{args: k(tText, tInt4), ret: tText, fn2: func(a, b types.Value) (types.Value, error) {
		rs := []rune(a.Text())
		n := b.Int()
		if n < 0 {
			n = max(int64(len(rs))+n, 0)
		}
		return text(string(rs[:min(n, int64(len(rs)))]))
	}})
	register("right", overload{args: k(tText, tInt4), ret: tText, fn2: func(a, b types.Value) (types.Value, error) {
		rs := []rune(a.Text())
		n := b.Int()
		if n < 0 {
			n = max(int64(len(rs))+n, 0)
		}
		n = min(n, int64(len(rs)))
		return text(string(rs[int64(len(rs))-n:]))
	}})
	register("lpad", padOverloads(true)...)
	register("rpad", padOverloads(false)...)
	register("repeat", overload{args: k(tText, tInt4), ret: tText, fn2: func(a, b types.Value) (types.Value, error) {
		n := b.Int()
		if n <= 0 {
			return text("")
		}
		if int64(len(a.Text()))*n > 1<<28 {
			return types.Value{}, &types.Error{Code: "54000", Message: "requested length too large"}
		}
		return text(strings.Repeat(a.Text(), int(n)))
	}})
	register("reverse", overload{args: k(tText), ret: tText, fn1: func(a types.Value) (types.Value, error) {
		rs := []rune(a.Text())
		for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
			rs[i], rs[j] = rs[j], rs[i]
		}
		return text(string(rs))
	}})
	register("split_part", overload{args: k(tText, tText, tInt4), ret: tText, fn3: func(a, b, c types.Value) (types.Value, error) {
		s, d, n := a.Text(), b.Text(), c.Int()
		if n == 0 {
			return types.Value{}, &types.Error{Code: types.CodeInvalidParameterValue, Message: "field position must not be zero"}
		}
		var parts []string
		if d == "" {
			parts = []string{s}
		} else {
			parts = strings.Split(s, d)
		}
		if n < 0 {
			n = int64(len(parts)) + n + 1
		}
		if n < 1 || n > int64(len(parts)) {
			return text("")
		}
		return text(parts[n-1])
	}})
	register("starts_with", overload{args: k(tText, tText), ret: tBool, fn2: func(a, b types.Value) (types.Value, error) {
		return types.NewBool(strings.HasPrefix(a.Text(), b.Text())), nil
	}})
	register("to_hex", overload{args: k(tInt4), ret: tText, fn1: toHex(32)}, overload{args: k(tInt8), ret: tText, fn1: toHex(64)})
	md5fn := func(a types.Value) (types.Value, error) {
		sum := md5.Sum([]byte(a.Text()))
		return text(hex.EncodeToString(sum[:]))
	}
	register("md5", overload{args: k(tText), ret: tText, fn1: md5fn}, overload{args: k(tBytea), ret: tText, fn1: md5fn})
	register("sha256", overload{args: k(tBytea), ret: tBytea, fn1: func(a types.Value) (types.Value, error) {
		sum := sha256.Sum256([]byte(a.Bytes()))
		return types.NewBytea(sum[:]), nil
	}})
	register("ascii", overload{args: k(tText), ret: tInt4, fn1: func(a types.Value) (types.Value, error) {
		r, _ := utf8.DecodeRuneInString(a.Text())
		if a.Text() == "" {
			r = 0
		}
		return types.NewInt4(r), nil
	}})
	register("chr", overload{args: k(tInt4), ret: tText, fn1: func(a types.Value) (types.Value, error) {
		n := a.Int()
		if n == 0 {
			return types.Value{}, &types.Error{Code: "54000", Message: "null character not permitted"}
		}
		if n < 0 || n > unicode.MaxRune || (n >= 0xD800 && n <= 0xDFFF) {
			return types.Value{}, &types.Error{Code: "54000", Message: "requested character too large for encoding: " + strconv.FormatInt(n, 10)}
		}
		return text(string(rune(n)))
	}})
	specials["concat"] = func(c *compiler, f *ast.Func, args []*node) (*node, error) { return c.concatFunc(f, args, false) }
	specials["concat_ws"] = func(c *compiler, f *ast.Func, args []*node) (*node, error) { return c.concatFunc(f, args, true) }
	specials["regexp_replace"] = (*compiler).regexpReplaceFunc
	specials["substring"] = (*compiler).substringRegexFunc
}

// concatFunc is concat(any...) and concat_ws(sep, any...): NULL
// arguments are skipped; concat_ws with a NULL separator is NULL.
func (c *compiler) concatFunc(f *ast.Func, args []*node, ws bool) (*node, error) {
	if len(args) == 0 || (ws && len(args) < 1) {
		return nil, c.noFunction(f, string(f.Name), args)
	}
	for i, a := range args {
		if a.unknown || a.typ == types.KindNull {
			args[i], _ = c.coerce(a, tText)
		}
	}
	fns := fnsOf(args)
	return c.newNode(tText, f.Pos, func(row types.Row) (types.Value, error) {
		var b strings.Builder
		sep := ""
		start := 0
		if ws {
			v, err := fns[0](row)
			if err != nil || v.IsNull() {
				return types.Null(tText), err
			}
			sep, start = v.Text(), 1
		}
		first := true
		for _, g := range fns[start:] {
			v, err := g(row)
			if err != nil {
				return v, err
			}
			if v.IsNull() {
				continue
			}
			if ws && !first {
				b.WriteString(sep)
			}
			first = false
			// concat uses each type's output function (true is 't').
			if v.Kind() == tText {
				b.WriteString(v.Text())
			} else {
				b.WriteString(v.String())
			}
		}
		return types.NewText(b.String()), nil
	}, args...), nil
}

// substringRegexFunc is substring(s FROM pattern) of two texts, Postgres'
// textregexsubstr: the text matched by the pattern's first parenthesised
// subexpression, or by the whole pattern without one; NULL for no match.
// Other arguments take substring's overloads.
func (c *compiler) substringRegexFunc(f *ast.Func, args []*node) (*node, error) {
	isText := func(n *node) bool { return n.unknown || n.typ == tText }
	if len(args) != 2 || !isText(args[0]) || !isText(args[1]) {
		return nil, nil //nolint:nilnil // substring's overloads apply
	}
	s, err := c.coerceText(args[0], "substring")
	if err != nil {
		return nil, err
	}
	p, err := c.coerceText(args[1], "substring")
	if err != nil {
		return nil, err
	}
	src, err := c.regexSource(p, false)
	if err != nil {
		return nil, err
	}
	sf := s.fn
	return c.newNode(tText, f.Pos, func(row types.Row) (types.Value, error) {
		v, err := sf(row)
		if err != nil || v.IsNull() {
			return types.Null(tText), err
		}
		re, null, err := src(row)
		if null || err != nil {
			return types.Null(tText), err
		}
		loc := re.FindStringSubmatchIndex(v.Text())
		if re.NumSubexp() > 0 && loc != nil {
			loc = loc[2:4]
		}
		if loc == nil || loc[0] < 0 {
			return types.Null(tText), nil
		}
		return types.NewText(v.Text()[loc[0]:loc[1]]), nil
	}, s, p), nil
}

// regexpReplaceFunc is regexp_replace(s, pattern, replacement [, flags])
// with flags g (all matches) and i (case-insensitive).
func (c *compiler) regexpReplaceFunc(f *ast.Func, args []*node) (*node, error) {
	if len(args) < 3 || len(args) > 4 {
		return nil, c.noFunction(f, "regexp_replace", args)
	}
	for i, a := range args {
		n, err := c.coerceText(a, "regexp_replace")
		if err != nil {
			return nil, c.noFunction(f, "regexp_replace", args)
		}
		args[i] = n
	}
	global, fold := false, false
	if len(args) == 4 {
		if !args[3].folded {
			return nil, errorf(args[3].pos, codeFeature, "regexp_replace flags must be a constant")
		}
		if args[3].val.IsNull() {
			return nullNode(tText, f.Pos), nil
		}
		for _, ch := range args[3].val.Text() {
			switch ch {
			case 'g':
				global = true
			case 'i':
				fold = true
			case 'c':
				fold = false
			default:
				return nil, errorf(args[3].pos, types.CodeInvalidParameterValue, "invalid regular expression option: %q", string(ch))
			}
		}
	}
	src, err := c.regexSource(args[1], fold)
	if err != nil {
		return nil, err
	}
	sf, rf := args[0].fn, args[2].fn
	return c.newNode(tText, f.Pos, func(row types.Row) (types.Value, error) {
		s, rep, null, err := eval2(sf, rf, row)
		if null || err != nil {
			return types.Null(tText), err
		}
		re, null, err := src(row)
		if null || err != nil {
			return types.Null(tText), err
		}
		return types.NewText(regexpReplace(re, s.Text(), rep.Text(), global)), nil
	}, args...), nil
}

// toUpper is strings.ToUpper with a faster path for ASCII text, the
// usual case of upper() over codes and statuses: one scan, and one
// allocation only if a letter changes.
func toUpper(s string) string { return asciiCase(s, 'a', strings.ToUpper) }

// toLower is toUpper's counterpart for lower().
func toLower(s string) string { return asciiCase(s, 'A', strings.ToLower) }

// asciiCase maps the 26 letters from first (a or A) to the other case,
// or, if s is not ASCII, returns general(s).
func asciiCase(s string, first byte, general func(string) string) string {
	change := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return general(s)
		}
		if change < 0 && c-first < 26 {
			change = i
		}
	}
	if change < 0 {
		return s
	}
	b := make([]byte, len(s))
	copy(b, s[:change])
	for i := change; i < len(s); i++ {
		c := s[i]
		if c-first < 26 {
			c ^= 0x20
		}
		b[i] = c
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
