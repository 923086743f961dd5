package expr

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tide-data/tide/internal/sql/types"
)

// retracting is an aggregate as aggregate.New makes it for an operator
// that takes rows back.
func retracting(t testing.TB, name string, distinct bool, k types.Kind) *Aggregate {
	t.Helper()
	a, err := NewAggregate(name, false, distinct, k)
	if err != nil {
		t.Fatal(err)
	}
	a.Retracting = true
	return &a
}

func parse(t testing.TB, k types.Kind, s string) types.Value {
	t.Helper()
	v, err := types.ParseText(k, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Random adds and retractions of values that compare equal but print
// apart (numerics of other scales, intervals of other units, -0 and 0):
// after each step a retracting min, max or DISTINCT aggregate equals, by
// Postgres' comparison, a plain accumulator over the rows still held, and
// a min or max prints as one of those rows does — never as a form whose
// rows were all taken back. Every step goes through AppendState and
// LoadState.
func TestCountedAgainstHeldRows(t *testing.T) {
	forms := map[types.Kind][]string{
		types.KindNumeric:  {"1.0", "1.00", "1", "2.50", "2.5", "-0.0", "0"},
		types.KindInterval: {"1 day", "24 hours", "2 days", "48:00:00", "1 hour"},
		types.KindFloat8:   {"0", "-0", "1.5", "2"},
	}
	for kind, texts := range forms {
		for _, c := range []struct {
			name     string
			distinct bool
		}{{"min", false}, {"max", false}, {"count", true}, {"sum", true}, {"avg", true}} {
			if kind == types.KindInterval && c.name == "sum" {
				continue
			}
			a := retracting(t, c.name, c.distinct, kind)
			plain := *a
			plain.Retracting = false
			r := rand.New(rand.NewPCG(uint64(len(texts)), 3))
			acc := a.NewAccumulator()
			var held []types.Value
			for step := range 400 {
				if len(held) > 0 && r.IntN(5) < 2 {
					i := r.IntN(len(held))
					if err := acc.Retract(held[i]); err != nil {
						t.Fatalf("%s(%v) of %s, step %d: retract %s: %v", c.name, c.distinct, kind, step, held[i], err)
					}
					held = slices.Delete(held, i, i+1)
				} else {
					v := parse(t, kind, texts[r.IntN(len(texts))])
					if err := acc.Add(v); err != nil {
						t.Fatal(err)
					}
					held = append(held, v)
				}
				loaded := a.NewAccumulator()
				if err := loaded.LoadState(acc.AppendState(nil)); err != nil {
					t.Fatalf("%s(%v) of %s, step %d: state does not load: %v", c.name, c.distinct, kind, step, err)
				}
				acc = loaded
				got, err := acc.Result()
				if err != nil {
					t.Fatal(err)
				}
				want := plain.NewAccumulator()
				for _, v := range held {
					if err := want.Add(v); err != nil {
						t.Fatal(err)
					}
				}
				w, err := want.Result()
				if err != nil {
					t.Fatal(err)
				}
				if got.IsNull() != w.IsNull() {
					t.Fatalf("%s(%v) of %s, step %d: %s, want %s over %v", a.Func, a.Distinct, kind, step, got, w, held)
				}
				if c, err := types.Compare(got, w); !got.IsNull() && (err != nil || c != 0) {
					t.Fatalf("%s(%v) of %s, step %d: %s, want %s over %v", a.Func, a.Distinct, kind, step, got, w, held)
				}
				if !a.Distinct && !got.IsNull() && !slices.ContainsFunc(held, func(v types.Value) bool { return v.String() == got.String() }) {
					t.Fatalf("%s of %s, step %d: %s, a form no row held has (%v)", a.Func, kind, step, got, held)
				}
			}
		}
	}
}

// countedState writes a counted aggregate's state by hand: a row count,
// values and counts as given.
func countedState(count int64, values []types.Value, counts []int64) []byte {
	var b []byte
	for _, n := range []int64{count, 0, 0, 0} {
		b = binary.AppendVarint(b, n)
	}
	b = binary.LittleEndian.AppendUint64(b, 0)
	b = appendString(b, "0")
	b = appendValue(append(b, 1), types.Null(types.KindInt8))
	b = binary.AppendUvarint(b, uint64(len(values)))
	for _, v := range values {
		b = appendValue(b, v)
	}
	if counts != nil {
		b = append(b, stateCounts)
		for _, n := range counts {
			b = binary.AppendVarint(b, n)
		}
	}
	return b
}

// A counted state that contradicts itself is refused rather than loaded
// to panic or mislead later: rows without values (a plain max's state),
// values out of order or twice, counts that do not add up to the rows,
// a count of zero.
func TestCountedStateChecked(t *testing.T) {
	one, nine := types.NewInt8(1), types.NewInt8(9)
	good := countedState(3, []types.Value{one, nine}, []int64{1, 2})
	mx := retracting(t, "max", false, types.KindInt8)
	if err := mx.NewAccumulator().LoadState(good); err != nil {
		t.Fatalf("a good state: %v", err)
	}
	for name, state := range map[string][]byte{
		"rows without values":   countedState(1, nil, nil),
		"values without counts": countedState(2, []types.Value{one, nine}, nil),
		"values out of order":   countedState(2, []types.Value{nine, one}, []int64{1, 1}),
		"a value twice":         countedState(2, []types.Value{one, one}, []int64{1, 1}),
		"counts not adding up":  countedState(0, []types.Value{one}, []int64{1}),
		"a count of zero":       countedState(1, []types.Value{one, nine}, []int64{1, 0}),
		"a plain max's (old) state": func() []byte {
			p := *mx
			p.Retracting = false
			acc := p.NewAccumulator()
			_ = acc.Add(one)
			return acc.AppendState(nil)
		}(),
	} {
		if err := mx.NewAccumulator().LoadState(state); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
}

// Merging counted accumulators adds their counts (session windows merge
// accumulators; a retracting operator has none today, but Merge holds).
func TestCountedMerge(t *testing.T) {
	mx := retracting(t, "max", false, types.KindInt8)
	left, right := mx.NewAccumulator(), mx.NewAccumulator()
	_ = left.Add(types.NewInt8(1))
	_ = right.Add(types.NewInt8(5))
	_ = right.Add(types.NewInt8(5))
	if err := left.Merge(right); err != nil {
		t.Fatal(err)
	}
	_ = left.Retract(types.NewInt8(5))
	if got, err := left.Result(); err != nil || got.String() != "5" {
		t.Errorf("max of {1} merged with {5, 5}, one 5 taken back: %v (%v), want 5", got, err)
	}
	cd := retracting(t, "count", true, types.KindInt8)
	l, r := cd.NewAccumulator(), cd.NewAccumulator()
	_ = r.Add(types.NewInt8(3))
	_ = r.Add(types.NewInt8(3))
	if err := l.Merge(r); err != nil {
		t.Fatal(err)
	}
	_ = l.Retract(types.NewInt8(3))
	if got, err := l.Result(); err != nil || got.String() != "1" {
		t.Errorf("count(DISTINCT) of {3, 3} merged, one 3 taken back: %v (%v), want 1", got, err)
	}
}

// FuzzCountedState: a counted state that loads gives a result, survives a
// retraction and writes a state that loads again.
func FuzzCountedState(f *testing.F) {
	for _, name := range []string{"min", "max", "count", "sum"} {
		a := retracting(f, name, name == "count" || name == "sum", types.KindInt8)
		acc := a.NewAccumulator()
		for _, v := range []int64{3, 1, 3, 7} {
			_ = acc.Add(types.NewInt8(v))
		}
		f.Add(acc.AppendState(nil), uint8(a.Func), a.Distinct, int64(3))
	}
	f.Fuzz(func(t *testing.T, state []byte, fn uint8, distinct bool, v int64) {
		a := retracting(t, []string{"count", "sum", "avg", "min", "max"}[fn%5], distinct, types.KindInt8)
		acc := a.NewAccumulator()
		if acc.LoadState(state) != nil {
			return
		}
		_, _ = acc.Result()
		_ = acc.Retract(types.NewInt8(v))
		_, _ = acc.Result()
		if err := a.NewAccumulator().LoadState(acc.AppendState(nil)); err != nil {
			t.Fatalf("a state written after a retraction does not load: %v", err)
		}
	})
}

// BenchmarkCountedUpdate: an outer max over many groups' rows takes back
// one value and adds another per update; its cost grows with the
// logarithm of the distinct values, not with them.
func BenchmarkCountedUpdate(b *testing.B) {
	for _, n := range []int{20_000, 640_000} {
		b.Run(types.NewInt8(int64(n)).String(), func(b *testing.B) {
			a := retracting(b, "max", false, types.KindInt8)
			acc := a.NewAccumulator()
			for i := range n {
				_ = acc.Add(types.NewInt8(int64(i) * 2))
			}
			i := 0
			for b.Loop() {
				old := types.NewInt8(int64(i%n) * 2)
				if err := acc.Retract(old); err != nil {
					b.Fatal(err)
				}
				_ = acc.Add(types.NewInt8(int64(i%n)*2 + 1))
				_ = acc.Retract(types.NewInt8(int64(i%n)*2 + 1))
				_ = acc.Add(old)
				i++
			}
		})
	}
}
