package ast

import "testing"

// The parser's golden tests cover Format on parsed trees, including the
// round trip; these cover hand-built trees and the quoting helpers.

func TestFormatIdent(t *testing.T) {
	cases := map[Ident]string{
		"a":         "a",
		"user_id":   "user_id",
		"x$1":       "x$1",
		"café":      "café",
		"key":       "key",
		"timestamp": "timestamp",
		"Upper":     `"Upper"`,
		"1abc":      `"1abc"`,
		"$x":        `"$x"`,
		"two words": `"two words"`,
		`a"b`:       `"a""b"`,
		"select":    `"select"`,
		"":          `""`,
	}
	for id, want := range cases {
		if got := FormatIdent(id); got != want {
			t.Errorf("FormatIdent(%q) = %s, want %s", id, got, want)
		}
	}
}

func TestQuoteString(t *testing.T) {
	cases := map[string]string{
		"":           "''",
		"it's":       "'it''s'",
		`back\slash`: `'back\slash'`,
		"line\nfeed": `E'line\nfeed'`,
		"tab\t'\\":   `E'tab\t''\\'`,
		"\x01\x7f":   `E'\x01\x7f'`,
	}
	for s, want := range cases {
		if got := QuoteString(s); got != want {
			t.Errorf("QuoteString(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestFormatHandBuilt(t *testing.T) {
	yes := true
	cases := []struct {
		n    Node
		want string
	}{
		{nil, ""},
		{(*Select)(nil), ""},
		{&Explain{}, "EXPLAIN "},
		{&Binary{Op: "and", L: &ColumnRef{Name: "a"}, R: &Unary{Op: "not", X: &BoolLit{Value: true}}}, "a AND (NOT TRUE)"},
		{&Binary{Op: "!=", L: &NumberLit{Text: "1"}, R: &Unary{Op: "-", X: &NumberLit{Text: "2"}}}, "1 <> -2"},
		{&Unary{Op: "-", X: &Unary{Op: "-", X: &NumberLit{Text: "1"}}}, "-(-1)"},
		{&Binary{Op: "-", L: &NumberLit{Text: "-1"}, R: &NumberLit{Text: "1"}}, "(-1) - 1"},
		{&IsBool{X: &ColumnRef{Table: "T", Name: "c"}, Not: true, Value: &yes}, `"T".c IS NOT TRUE`},
		{&TypedLit{Type: TypeName{Name: "numeric"}, Value: "1.5"}, "CAST('1.5' AS numeric)"},
		{&Func{Name: "current_timestamp"}, "CURRENT_TIMESTAMP"},
		{&Func{Name: "current_timestamp", Args: []Expr{&NumberLit{Text: "3"}}}, `"current_timestamp"(3)`},
		{&Func{Name: "position", Args: []Expr{&ColumnRef{Name: "a"}}}, `"position"(a)`},
		{&Func{Name: "overlay", Args: []Expr{&ColumnRef{Name: "a"}}}, `"overlay"(a)`},
		{&Cast{X: &ColumnRef{Name: "x"}, Type: TypeName{Name: "int"}}, `CAST(x AS "int")`},
		{&Cast{X: &ColumnRef{Name: "x"}, Type: TypeName{Name: "numeric", Args: []int{10, 2}, Array: true}}, "CAST(x AS numeric(10,2)[])"},
		{&Drop{Kind: KindSink, IfExists: true, Name: "Out"}, `DROP SINK IF EXISTS "Out"`},
		{&Show{What: "SOURCES"}, "SHOW SOURCES"},
		{&CreateSource{Name: "s", Columns: []ColumnDef{{Name: "a", Type: TypeName{Name: "text"}}},
			With: []Option{{Key: "a.b", Value: "x"}, {Key: "Weird-Key", Value: "-1.5"}, {Key: "on", Value: "true"}}},
			"CREATE SOURCE s (a text) WITH (a.b = 'x', 'Weird-Key' = -1.5, on = TRUE)"},
		{&Join{Kind: "LEFT", Left: &TableName{Name: "a"}, Right: &Join{Kind: "CROSS", Left: &TableName{Name: "b"}, Right: &TableName{Name: "c"}}, On: &BoolLit{Value: true}},
			"a LEFT JOIN (b CROSS JOIN c) ON TRUE"},
	}
	for _, c := range cases {
		if got := Format(c.n); got != c.want {
			t.Errorf("Format(%#v) = %s, want %s", c.n, got, c.want)
		}
	}
}
