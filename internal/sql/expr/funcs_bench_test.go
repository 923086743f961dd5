package expr

import (
	"testing"

	"github.com/tide-data/tide/internal/sql/types"
)

// callCases are function calls of each fixed arity and one of the general
// path, with the allocations a call may make: fixed-arity calls make none
// beyond their result's (upper of an already upper-case ASCII string
// returns it as it is: the one allocation of upper(upper(status)) is the
// inner call's); make_timestamp, with six arguments, takes the slice path
// and allocates it.
var callCases = []struct {
	name, src string
	allocs    float64
}{
	{"upper_already_upper", "upper(upper(status))", 1},
	{"upper", "upper(status)", 1},
	{"abs", "abs(qty)", 0},
	{"length", "length(status)", 0},
	{"power", "power(price, 2)", 0},
	{"strpos", "strpos(status, 'i')", 0},
	{"split_part", "split_part(status, 'i', 1)", 1},
	{"make_timestamp", "make_timestamp(2026, 1, qty, 1, 2, price)", 1},
}

func callRow() types.Row {
	return types.Row{types.NewInt8(42), types.NewText("shipped"), types.NewFloat8(3.5), types.NewInt4(7), types.NewBool(true)}
}

// TestCallAllocs pins the allocations per call: a strict function with one
// to three arguments passes them by value and must not allocate for them.
func TestCallAllocs(t *testing.T) {
	row := callRow()
	for _, tc := range callCases {
		e := mustCompile(t, tc.src)
		got := testing.AllocsPerRun(100, func() {
			if _, err := e.Eval(row); err != nil {
				t.Fatal(err)
			}
		})
		if got > tc.allocs {
			t.Errorf("%s: %v allocations per call, want at most %v", tc.src, got, tc.allocs)
		}
	}
}

func BenchmarkCall(b *testing.B) {
	row := callRow()
	for _, tc := range callCases {
		b.Run(tc.name, func(b *testing.B) {
			e := mustCompile(b, tc.src)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Eval(row); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
