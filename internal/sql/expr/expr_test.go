package expr

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/parser"
	"github.com/tide-data/tide/internal/sql/types"
)

var testCols = []Column{
	{Table: "o", Name: "amount", Type: types.KindInt8},
	{Table: "o", Name: "status", Type: types.KindText},
	{Table: "o", Name: "price", Type: types.KindFloat8},
	{Table: "o", Name: "qty", Type: types.KindInt4},
	{Table: "o", Name: "flag", Type: types.KindBool},
}

func mustCompile(t testing.TB, src string) *Expr {
	t.Helper()
	x, err := parser.ParseExpr(src)
	if err != nil {
		t.Fatalf("parse %q: %v", src, err)
	}
	e, err := Compile(x, testCols)
	if err != nil {
		t.Fatalf("compile %q: %v", src, err)
	}
	return e
}

// TestThreeValuedLogic checks AND, OR and NOT over {TRUE, FALSE, NULL}
// with hand-built trees (independent of the parser).
func TestThreeValuedLogic(t *testing.T) {
	lit := func(s string) ast.Expr {
		switch s {
		case "T":
			return &ast.BoolLit{Value: true}
		case "F":
			return &ast.BoolLit{Value: false}
		}
		return &ast.NullLit{}
	}
	and := map[string]string{"TT": "T", "TF": "F", "TN": "N", "FT": "F", "FF": "F", "FN": "F", "NT": "N", "NF": "F", "NN": "N"}
	or := map[string]string{"TT": "T", "TF": "T", "TN": "T", "FT": "T", "FF": "F", "FN": "N", "NT": "T", "NF": "N", "NN": "N"}
	show := func(v types.Value) string {
		if v.IsNull() {
			return "N"
		}
		if v.Bool() {
			return "T"
		}
		return "F"
	}
	for _, table := range []struct {
		op   string
		want map[string]string
	}{{"AND", and}, {"OR", or}} {
		for in, want := range table.want {
			x := &ast.Binary{Op: table.op, L: lit(in[:1]), R: lit(in[1:])}
			e, err := Compile(x, nil)
			if err != nil {
				t.Fatal(err)
			}
			v, err := e.Eval(nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := show(v); got != want {
				t.Errorf("%s %s %s = %s, want %s", in[:1], table.op, in[1:], got, want)
			}
		}
	}
	for in, want := range map[string]string{"T": "F", "F": "T", "N": "N"} {
		e, err := Compile(&ast.Unary{Op: "NOT", X: lit(in)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := e.Eval(nil)
		if got := show(v); got != want {
			t.Errorf("NOT %s = %s, want %s", in, got, want)
		}
	}
}

func TestTryCastAndErrors(t *testing.T) {
	row := types.Row{types.NewInt8(5), types.NewText("x"), types.NewFloat8(1), types.NewInt4(1), types.NewBool(true)}
	for src, want := range map[string]string{
		"TRY_CAST('abc' AS integer)":  "NULL",
		"TRY_CAST('42' AS integer)":   "42",
		"TRY_CAST(status AS integer)": "NULL",
		"TRY_CAST(amount AS text)":    "5",
	} {
		v, err := mustCompile(t, src).Eval(row)
		if err != nil || v.String() != want {
			t.Errorf("%s = %v, %v; want %s", src, v, err, want)
		}
	}
	for src, want := range map[string]string{
		"amuont + 1":  `line 1:1: column "amuont" does not exist` + "\nHINT: Perhaps you meant to reference the column \"o.amount\".",
		"status + 1":  "line 1:1: operator does not exist: text + integer\nHINT: No operator matches the given name and argument types. You might need to add explicit type casts.",
		"nosuch(1)":   "line 1:1: function nosuch(integer) does not exist",
		"length(1,2)": "line 1:1: function length(integer, integer) does not exist",
	} {
		x, err := parser.ParseExpr(src)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Compile(x, testCols)
		var ce *Error
		if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: error %q, want prefix %q", src, err, want)
		}
	}
	x, _ := parser.ParseExpr("qty + 1")
	if _, err := CompilePredicate(x, testCols); err == nil || !strings.Contains(err.Error(), "argument of WHERE must be type boolean, not type integer") {
		t.Errorf("CompilePredicate(qty + 1): %v", err)
	}
	// Overflow is an evaluation error with SQLSTATE 22003.
	e := mustCompile(t, "qty * 2147483647")
	_, err := e.Eval(types.Row{{}, {}, {}, types.NewInt4(2), {}})
	if Code(err) != "22003" {
		t.Errorf("overflow: %v", err)
	}
}

func TestNowIsInjected(t *testing.T) {
	x, _ := parser.ParseExpr("now()")
	e, err := CompileWith(x, nil, CompileOptions{Now: func() time.Time { return time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := e.Eval(nil)
	if v.String() != "2024-01-02 03:04:05+00" {
		t.Errorf("now() = %s", v)
	}
}

// BenchmarkEvalFilterProject is the usual pipeline step: a filter and a
// few projections over one row.
func BenchmarkEvalFilterProject(b *testing.B) {
	where := mustCompile(b, "amount > 100 AND status = 'ok'")
	projs := []*Expr{mustCompile(b, "amount * 2"), mustCompile(b, "price * 1.5"), mustCompile(b, "qty + 1"), mustCompile(b, "status")}
	row := types.Row{types.NewInt8(150), types.NewText("ok"), types.NewFloat8(9.99), types.NewInt4(3), types.NewBool(true)}
	out := make(types.Row, len(projs))
	b.ReportAllocs()
	for b.Loop() {
		v, err := where.Eval(row)
		if err != nil || !v.Bool() {
			b.Fatal("filter", v, err)
		}
		for i, p := range projs {
			if out[i], err = p.Eval(row); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
