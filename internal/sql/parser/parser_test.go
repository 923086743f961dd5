package parser

import (
	"errors"
	"strings"
	"testing"

	"github.com/tide-data/tide/internal/sql/ast"
)

func TestErrorText(t *testing.T) {
	e := &Error{Pos: ast.Pos{Line: 3, Col: 10}, Msg: "unterminated quoted string"}
	if got, want := e.Error(), "line 3:10: unterminated quoted string"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	e.Hint = "close it"
	if got, want := e.Error(), "line 3:10: unterminated quoted string\nHINT: close it"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	_, err := Parse("SELECT 1 +")
	var pe *Error
	if !errors.As(err, &pe) || pe.Pos.Line != 1 || pe.Pos.Col != 11 || pe.Pos.Offset != 10 {
		t.Fatalf("Parse error = %#v", err)
	}
}

func TestPositionsCountRunes(t *testing.T) {
	cases := []struct {
		src        string
		line, col  int
		offset     int
		wantPrefix string
	}{
		{"SELECT 'ü', 'é' FORM t", 1, 17, 18, `syntax error at or near "FORM"`},
		{"SELECT\ta\r\nFROM t WHER x = 1", 2, 8, 17, `syntax error at or near "WHER"`},
		{"SELECT 1;\n\n  SELECT 2 +", 3, 13, 23, "syntax error at end of input"},
		{"SELECT '😀' || E'\\q\\u00zz'", 1, 19, 21, "invalid Unicode escape"},
	}
	for _, c := range cases {
		_, err := Parse(c.src)
		var pe *Error
		if !errors.As(err, &pe) {
			t.Errorf("%q: error %v", c.src, err)
			continue
		}
		if pe.Pos != (ast.Pos{Line: c.line, Col: c.col, Offset: c.offset}) || !strings.HasPrefix(pe.Msg, c.wantPrefix) {
			t.Errorf("%q: got %v (offset %d) %q, want %d:%d (offset %d) %q", c.src, pe.Pos, pe.Pos.Offset, pe.Msg, c.line, c.col, c.offset, c.wantPrefix)
		}
	}
}

func TestParseEmpty(t *testing.T) {
	for _, src := range []string{"", "  ", ";", " ; ;; ", "-- only a comment", "/* x */"} {
		stmts, err := Parse(src)
		if stmts != nil || err != nil {
			t.Errorf("Parse(%q) = %v, %v; want nil, nil", src, stmts, err)
		}
	}
}

func TestParseOne(t *testing.T) {
	if _, err := ParseOne("SHOW SOURCES;"); err != nil {
		t.Errorf("trailing ';': %v", err)
	}
	if _, err := ParseOne(""); err == nil || !strings.Contains(err.Error(), "expected a statement") {
		t.Errorf("empty input: %v", err)
	}
	_, err := ParseOne("SHOW SOURCES; SHOW SINKS")
	if err == nil || !strings.Contains(err.Error(), "line 1:15:") || !strings.Contains(err.Error(), "only one statement") {
		t.Errorf("two statements: %v", err)
	}
}

func TestParseExpr(t *testing.T) {
	e, err := ParseExpr("a + 1 > 2")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.(*ast.Binary); !ok {
		t.Errorf("got %T", e)
	}
	if _, err := ParseExpr("a b"); err == nil || !strings.Contains(err.Error(), `at or near "b": expected an operator or end of input`) {
		t.Errorf("trailing word: %v", err)
	}
	if _, err := ParseExpr(""); err == nil {
		t.Error("empty expression parsed")
	}
}

// TestKeywordsAsColumnNames checks that the dialect's unreserved keywords
// work as column names in every position.
func TestKeywordsAsColumnNames(t *testing.T) {
	words := []string{"key", "source", "sink", "topic", "format", "value", "timestamp", "date", "time",
		"interval", "json", "watermark", "filter", "descriptor", "tumble", "hop", "session", "if",
		"exists", "show", "drop", "describe", "explain", "escape", "to", "by", "sources", "year", "minute",
		"coalesce", "extract", "position", "substring", "trim", "overlay", "try_cast", "precision", "zone",
		"varying", "symmetric_x", "unknown", "outer_x", "over_x"}
	for _, w := range words {
		src := "SELECT " + w + ", t." + w + ", " + w + " + 1 AS " + w + " FROM t AS " + w +
			" WHERE " + w + " IS NOT NULL GROUP BY " + w + " KEY BY " + w
		s, err := ParseOne(src)
		if err != nil {
			t.Errorf("%s: %v", w, err)
			continue
		}
		want := "SELECT " + w + ", t." + w + ", " + w + " + 1 AS " + w + " FROM t AS " + w +
			" WHERE " + w + " IS NOT NULL GROUP BY " + w + " KEY BY " + w
		if got := ast.Format(s); got != want {
			t.Errorf("%s:\n got %s\nwant %s", w, got, want)
		}
		src = "CREATE SOURCE s (" + w + " text, WATERMARK FOR " + w + " AS " + w + ") WITH (" + w + " = " + w + ")"
		if _, err := ParseOne(src); err != nil {
			t.Errorf("%s in CREATE SOURCE: %v", w, err)
		}
	}
}

func TestReservedNeedQuotes(t *testing.T) {
	for _, w := range []string{"select", "from", "where", "group", "order", "join", "on", "left", "table", "with", "and", "not", "case", "then"} {
		if _, err := ParseOne("SELECT x FROM t WHERE " + w + " = 1"); err == nil {
			t.Errorf("%s accepted as a column name", w)
		}
		s, err := ParseOne(`SELECT "` + w + `" FROM t`)
		if err != nil {
			t.Errorf("quoted %s: %v", w, err)
			continue
		}
		if got, want := ast.Format(s), `SELECT "`+w+`" FROM t`; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}

func TestIdentifierFolding(t *testing.T) {
	s, err := ParseOne(`SELECT UserId, "UserId", "user""s" FROM Clicks`)
	if err != nil {
		t.Fatal(err)
	}
	sel := s.(*ast.Select)
	var got []ast.Ident
	for _, item := range sel.Items {
		got = append(got, item.Expr.(*ast.ColumnRef).Name)
	}
	want := []ast.Ident{"userid", "UserId", `user"s`}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("item %d: got %q, want %q", i, got[i], want[i])
		}
	}
	if name := sel.From.(*ast.TableName).Name; name != "clicks" {
		t.Errorf("table: got %q", name)
	}
}

// TestTypeNamesRoundTrip checks that a type literally named like one of
// the parser's aliases survives Format (it must be quoted).
func TestTypeNamesRoundTrip(t *testing.T) {
	names := []string{"double", "char", "float", "character", "timestamp", "time", "foo", "Foo", "select"}
	for k := range typeAliases {
		names = append(names, k)
	}
	for _, name := range names {
		e := &ast.Cast{X: &ast.ColumnRef{Name: "x"}, Type: ast.TypeName{Name: name}}
		text := ast.Format(e)
		back, err := ParseExpr(text)
		if err != nil {
			t.Errorf("%s: %q does not parse: %v", name, text, err)
			continue
		}
		if got := back.(*ast.Cast).Type.Name; got != name {
			t.Errorf("%s: %q parses to type %q", name, text, got)
		}
	}
}

func TestSplit(t *testing.T) {
	src := "-- setup\nCREATE SOURCE s (a text) WITH (x = 'a;b');\n" +
		"SELECT $$;$$, \"x;y\" /* ; */ FROM s -- ;\n;;\n" +
		"  SELECT 'ü' ;SELECT 1"
	frags := Split(src)
	want := []Fragment{
		{"CREATE SOURCE s (a text) WITH (x = 'a;b')", ast.Pos{Line: 2, Col: 1, Offset: 9}},
		{"SELECT $$;$$, \"x;y\" /* ; */ FROM s", ast.Pos{Line: 3, Col: 1, Offset: 52}},
		{"SELECT 'ü'", ast.Pos{Line: 5, Col: 3, Offset: strings.Index(src, "SELECT 'ü'")}},
		{"SELECT 1", ast.Pos{Line: 5, Col: 15, Offset: strings.Index(src, "SELECT 1")}},
	}
	if len(frags) != len(want) {
		t.Fatalf("got %d fragments: %q", len(frags), frags)
	}
	for i := range want {
		if frags[i] != want[i] {
			t.Errorf("fragment %d: got %q at %v (offset %d), want %q at %v (offset %d)", i, frags[i].Text, frags[i].Pos, frags[i].Pos.Offset, want[i].Text, want[i].Pos, want[i].Pos.Offset)
		}
	}
	if got := Split(" -- nothing\n ; "); len(got) != 0 {
		t.Errorf("got %q", got)
	}
	// An unterminated string keeps the rest in one fragment for the
	// parser to report.
	got := Split("SELECT 1; SELECT 'abc; SELECT 2")
	if len(got) != 2 || got[1].Text != "SELECT 'abc; SELECT 2" {
		t.Errorf("got %q", got)
	}
	// A bad character does not stop the split.
	got = Split("SELECT \\; SELECT 2")
	if len(got) != 2 || got[1].Text != "SELECT 2" {
		t.Errorf("got %q", got)
	}
}

func TestSuggestions(t *testing.T) {
	expected := []string{"FROM", "WHERE", "GROUP BY", "KEY BY", "end of statement"}
	cases := map[string]string{
		"form": "FROM", "frm": "FROM", "fromm": "FROM", "whre": "WHERE", "wehre": "WHERE",
		"gruop": "GROUP BY", "grop": "GROUP BY", "ky": "", "x": "", "banana": "", "where": "",
	}
	for word, want := range cases {
		if got := closestKeyword(word, expected); got != want {
			t.Errorf("closestKeyword(%q) = %q, want %q", word, got, want)
		}
	}
}

func TestDeepNesting(t *testing.T) {
	for _, src := range []string{
		"SELECT " + strings.Repeat("(", 100000) + "1" + strings.Repeat(")", 100000),
		"SELECT " + strings.Repeat("- ", 100000) + "1",
		"SELECT " + strings.Repeat("NOT ", 100000) + "1",
		"SELECT " + strings.Repeat("f(", 100000) + "1" + strings.Repeat(")", 100000),
		"SELECT * FROM " + strings.Repeat("(SELECT * FROM ", 100000) + "t",
	} {
		if _, err := Parse(src); err == nil || !strings.Contains(err.Error(), "too deeply nested") {
			t.Errorf("%.30q...: %v", src, err)
		}
	}
	// Long flat chains are not nesting.
	src := "SELECT " + strings.Repeat("a OR ", 20000) + "a"
	s, err := ParseOne(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseOne(ast.Format(s)); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkParse(b *testing.B) {
	src := `CREATE SINK clicks_per_minute WITH (connector = 'kafka', topic = 'cpm') AS
SELECT window_start, url, count(*) AS n, sum(CASE WHEN status >= 500 THEN 1 ELSE 0 END) AS errors
FROM TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE)
WHERE url LIKE '/api/%' AND payload ->> 'user' IS NOT NULL
GROUP BY window_start, url
KEY BY url;
`
	script := strings.Repeat(src, 100)
	b.SetBytes(int64(len(script)))
	for b.Loop() {
		if _, err := Parse(script); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFormat(b *testing.B) {
	s, err := ParseOne("SELECT " + strings.Repeat("a + b * c OR ", 100) + "d FROM t")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		_ = ast.Format(s)
	}
}
