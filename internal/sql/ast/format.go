package ast

import (
	"strconv"
	"strings"
)

// Format prints n as canonical SQL text: keywords in upper case,
// identifiers quoted only when they must be, every compound operand in
// parentheses so that precedence is explicit, aliases with AS, option
// values as literals, and on one line. The text parses back to a tree
// that formats identically, which is what makes it fit for EXPLAIN output
// and for persisting statements. Format(nil) is "".
func Format(n Node) string {
	var f formatter
	f.node(n)
	return f.String()
}

type formatter struct {
	strings.Builder
}

func (f *formatter) node(n Node) {
	switch n := n.(type) {
	case nil:
	case Statement:
		f.statement(n)
	case TableExpr:
		f.table(n)
	case Expr:
		f.expr(n)
	default:
		f.WriteString("<unknown node>")
	}
}

func (f *formatter) statement(s Statement) {
	switch s := s.(type) {
	case *CreateSource:
		if s == nil {
			return
		}
		f.WriteString("CREATE SOURCE ")
		if s.IfNotExists {
			f.WriteString("IF NOT EXISTS ")
		}
		f.ident(s.Name)
		f.WriteByte(' ')
		if len(s.Columns) > 0 || s.Watermark != nil {
			f.WriteByte('(')
			for i, c := range s.Columns {
				if i > 0 {
					f.WriteString(", ")
				}
				f.ident(c.Name)
				f.WriteByte(' ')
				f.WriteString(FormatType(c.Type))
				if c.NotNull {
					f.WriteString(" NOT NULL")
				}
			}
			if w := s.Watermark; w != nil {
				if len(s.Columns) > 0 {
					f.WriteString(", ")
				}
				f.WriteString("WATERMARK FOR ")
				f.ident(w.Column)
				f.WriteString(" AS ")
				f.expr(w.Expr)
			}
			f.WriteString(") ")
		}
		f.with(s.With)
	case *CreateSink:
		if s == nil {
			return
		}
		if s.View {
			f.WriteString("CREATE MATERIALIZED VIEW ")
		} else {
			f.WriteString("CREATE SINK ")
		}
		if s.IfNotExists {
			f.WriteString("IF NOT EXISTS ")
		}
		f.ident(s.Name)
		if len(s.Columns) > 0 {
			f.WriteString(" (")
			f.identList(s.Columns)
			f.WriteByte(')')
		}
		if !s.View || len(s.With) > 0 {
			f.WriteByte(' ')
			f.with(s.With)
		}
		f.WriteString(" AS ")
		f.selectStmt(s.Query)
	case *Drop:
		if s == nil {
			return
		}
		f.WriteString("DROP " + string(s.Kind) + " ")
		if s.IfExists {
			f.WriteString("IF EXISTS ")
		}
		f.ident(s.Name)
	case *Show:
		if s == nil {
			return
		}
		f.WriteString("SHOW " + s.What)
	case *Describe:
		if s == nil {
			return
		}
		f.WriteString("DESCRIBE ")
		f.ident(s.Name)
	case *Explain:
		if s == nil {
			return
		}
		f.WriteString("EXPLAIN ")
		if s.Statement != nil {
			f.statement(s.Statement)
		}
	case *Select:
		f.selectStmt(s)
	default:
		f.WriteString("<unknown statement>")
	}
}

func (f *formatter) with(opts []Option) {
	f.WriteString("WITH (")
	for i, o := range opts {
		if i > 0 {
			f.WriteString(", ")
		}
		f.WriteString(formatOptionKey(o.Key))
		f.WriteString(" = ")
		f.WriteString(formatOptionValue(o.Value))
	}
	f.WriteByte(')')
}

// formatOptionKey prints a key as a dotted name when every part is a
// plain word, else as a string literal.
func formatOptionKey(key string) string {
	for part := range strings.SplitSeq(key, ".") {
		if !isBareWord(part) {
			return QuoteString(key)
		}
	}
	return key
}

// formatOptionValue prints numbers and booleans bare, everything else as
// a string literal: the parser keeps all of them as the same text.
func formatOptionValue(v string) string {
	if v == "true" || v == "false" {
		return strings.ToUpper(v)
	}
	if isNumber(strings.TrimPrefix(v, "-")) {
		return v
	}
	return QuoteString(v)
}

func (f *formatter) selectStmt(s *Select) {
	if s == nil {
		return
	}
	f.WriteString("SELECT ")
	if s.Distinct {
		f.WriteString("DISTINCT ")
	}
	for i, item := range s.Items {
		if i > 0 {
			f.WriteString(", ")
		}
		switch {
		case item.Star && item.StarTable != "":
			f.ident(item.StarTable)
			f.WriteString(".*")
		case item.Star:
			f.WriteByte('*')
		default:
			f.expr(item.Expr)
			if item.Alias != "" {
				f.WriteString(" AS ")
				f.ident(item.Alias)
			}
		}
	}
	if s.From != nil {
		f.WriteString(" FROM ")
		f.table(s.From)
	}
	if s.Where != nil {
		f.WriteString(" WHERE ")
		f.expr(s.Where)
	}
	if len(s.GroupBy) > 0 {
		f.WriteString(" GROUP BY ")
		f.exprList(s.GroupBy)
	}
	if s.Having != nil {
		f.WriteString(" HAVING ")
		f.expr(s.Having)
	}
	if s.Key != nil {
		f.WriteString(" KEY BY ")
		f.expr(s.Key)
	}
	if s.UnionAll != nil {
		f.WriteString(" UNION ALL ")
		f.selectStmt(s.UnionAll)
	}
}

// windowFuncs are the table functions printed in upper case, as the
// dialect's keywords they are.
var windowFuncs = map[Ident]bool{"tumble": true, "hop": true, "session": true}

func (f *formatter) table(t TableExpr) {
	switch t := t.(type) {
	case *TableName:
		if t == nil {
			return
		}
		f.ident(t.Name)
		f.alias(t.Alias)
	case *TableFunc:
		if t == nil {
			return
		}
		if windowFuncs[t.Name] {
			f.WriteString(strings.ToUpper(string(t.Name)))
		} else {
			f.ident(t.Name)
		}
		f.WriteByte('(')
		for i, a := range t.Args {
			if i > 0 {
				f.WriteString(", ")
			}
			f.tableFuncArg(a)
		}
		f.WriteByte(')')
		f.alias(t.Alias)
	case *Join:
		if t == nil {
			return
		}
		f.table(t.Left)
		switch t.Kind {
		case "INNER", "":
			f.WriteString(" JOIN ")
		default:
			f.WriteString(" " + t.Kind + " JOIN ")
		}
		if _, ok := t.Right.(*Join); ok {
			f.WriteByte('(')
			f.table(t.Right)
			f.WriteByte(')')
		} else {
			f.table(t.Right)
		}
		if t.On != nil {
			f.WriteString(" ON ")
			f.expr(t.On)
		}
	case *Subquery:
		if t == nil {
			return
		}
		f.WriteByte('(')
		f.selectStmt(t.Query)
		f.WriteByte(')')
		f.alias(t.Alias)
	default:
		f.WriteString("<unknown table expression>")
	}
}

func (f *formatter) tableFuncArg(a TableFuncArg) {
	if a.Name != "" {
		f.ident(a.Name)
		f.WriteString(" => ")
	}
	switch {
	case a.Table != nil:
		f.WriteString("TABLE ")
		f.ident(a.Table.Name)
	case a.Query != nil:
		f.WriteString("TABLE (")
		f.selectStmt(a.Query)
		f.WriteByte(')')
	case a.Descriptor != nil:
		f.WriteString("DESCRIPTOR(")
		f.identList(a.Descriptor)
		f.WriteByte(')')
	default:
		f.expr(a.Expr)
	}
}

func (f *formatter) alias(a Ident) {
	if a != "" {
		f.WriteString(" AS ")
		f.ident(a)
	}
}

func (f *formatter) ident(id Ident) { f.WriteString(FormatIdent(id)) }

func (f *formatter) identList(ids []Ident) {
	for i, id := range ids {
		if i > 0 {
			f.WriteString(", ")
		}
		f.ident(id)
	}
}

// FormatIdent prints an identifier, double-quoted if it is not a plain
// lower-case word or is a reserved keyword.
func FormatIdent(id Ident) string {
	if isBareWord(string(id)) && !IsReserved(string(id)) {
		return string(id)
	}
	return QuoteIdent(string(id))
}

// QuoteIdent double-quotes s, doubling any double quote in it.
func QuoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// isBareWord reports whether s lexes as one unquoted word that folds to
// itself.
func isBareWord(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c == '_', c >= 0x80:
		case i > 0 && (c >= '0' && c <= '9' || c == '$'):
		default:
			return false
		}
	}
	return true
}

// isNumber reports whether s is a numeric literal as the lexer reads it.
func isNumber(s string) bool {
	i, digits := 0, 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

// QuoteString prints s as a string literal: '...' with quotes doubled, or
// E'...' with backslash escapes when s holds control characters.
func QuoteString(s string) string {
	plain := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			plain = false
			break
		}
	}
	if plain {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	var b strings.Builder
	b.WriteString("E'")
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'':
			b.WriteString("''")
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if c < 0x20 || c == 0x7f {
				b.WriteString(`\x`)
				if c < 0x10 {
					b.WriteByte('0')
				}
				b.WriteString(strconv.FormatUint(uint64(c), 16))
				continue
			}
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// canonicalTypes are the names the parser gives the types it knows
// (see TypeName); they print bare.
var canonicalTypes = map[string]bool{
	"integer": true, "smallint": true, "bigint": true, "double precision": true,
	"real": true, "numeric": true, "text": true, "character varying": true,
	"character": true, "boolean": true, "bytea": true, "timestamp": true,
	"timestamptz": true, "date": true, "time": true, "timetz": true,
	"interval": true, "json": true, "jsonb": true,
}

// typeKeywords are the words the parser rewrites into a canonical type
// name; a type that is literally called one of them must be quoted.
var typeKeywords = map[string]bool{
	"int": true, "int2": true, "int4": true, "int8": true, "float": true,
	"float4": true, "float8": true, "double": true, "dec": true, "decimal": true,
	"varchar": true, "char": true, "bool": true,
}

// FormatType prints a type name with its modifiers and array marker.
func FormatType(t TypeName) string {
	var b strings.Builder
	switch {
	case canonicalTypes[t.Name]:
		b.WriteString(t.Name)
	case typeKeywords[t.Name]:
		b.WriteString(QuoteIdent(t.Name))
	default:
		b.WriteString(FormatIdent(Ident(t.Name)))
	}
	if len(t.Args) > 0 {
		b.WriteByte('(')
		for i, a := range t.Args {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(a))
		}
		b.WriteByte(')')
	}
	if t.Array {
		b.WriteString("[]")
	}
	return b.String()
}
