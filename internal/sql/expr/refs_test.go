package expr

import (
	"testing"

	"github.com/tide-data/tide/internal/sql/parser"
	"github.com/tide-data/tide/internal/sql/types"
)

func TestColumnAndReferences(t *testing.T) {
	cols := []Column{{Name: "a", Type: types.KindInt8}, {Name: "b", Type: types.KindText}, {Name: "c", Type: types.KindFloat8}}
	for _, tc := range []struct {
		sql  string
		col  int // -1: not a plain column reference
		refs []bool
	}{
		{"b", 1, []bool{false, true, false}},
		{"a + 1", -1, []bool{true, false, false}},
		{"upper(b) || c::text", -1, []bool{false, true, true}},
		{"CASE WHEN a > 0 THEN 'x' ELSE b END", -1, []bool{true, true, false}},
		{"1 + 2", -1, []bool{false, false, false}},
		{"'lit'", -1, []bool{false, false, false}},
	} {
		x, err := parser.ParseExpr(tc.sql)
		if err != nil {
			t.Fatal(err)
		}
		e, err := Compile(x, cols)
		if err != nil {
			t.Fatalf("%s: %v", tc.sql, err)
		}
		col, ok := e.Column()
		if ok != (tc.col >= 0) || (ok && col != tc.col) {
			t.Errorf("%s: Column() = %d, %v; want %d", tc.sql, col, ok, tc.col)
		}
		for i, want := range tc.refs {
			if got := e.References(i); got != want {
				t.Errorf("%s: References(%d) = %v, want %v", tc.sql, i, got, want)
			}
		}
		if e.References(-1) || e.References(len(cols)) {
			t.Errorf("%s: References out of range is true", tc.sql)
		}
	}
}
