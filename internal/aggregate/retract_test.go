package aggregate

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cockroachdb/apd/v3"

	"github.com/tide-data/tide/internal/sql/expr"
	"github.com/tide-data/tide/internal/sql/types"
)

// retractSpecs are the aggregates over the event's value (the fourth over
// it as an integer), then count(*) as the row count Spec.Retract wants
// last.
func retractSpecs(t *testing.T) []expr.Aggregate {
	t.Helper()
	var out []expr.Aggregate
	for _, c := range []struct {
		name           string
		star, distinct bool
		arg            types.Kind
	}{{"count", false, false, types.KindInt8}, {"sum", false, false, types.KindInt8}, {"avg", false, false, types.KindInt8},
		{"sum", false, false, types.KindInt4}, {"min", false, false, types.KindInt8}, {"max", false, false, types.KindInt8},
		{"count", false, true, types.KindInt8}, {"sum", false, true, types.KindInt8}, {"avg", false, true, types.KindInt8},
		{"count", true, false, types.KindNull}} {
		a, err := expr.NewAggregate(c.name, c.star, c.distinct, c.arg)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

// Rows added and taken back at random (each retraction one of the
// group's current rows, as an updating input takes back a row it gave),
// with checkpoints, restores and eviction to a small budget in between:
// every row Add and Retract return is what a brute-force evaluation of
// the group's current rows gives; a group whose last row goes is
// reported gone and holds nothing; Current agrees; and retracting a row
// a group does not hold is ErrNoRow, with nothing changed.
func TestRetractAgainstOracle(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 7))
			aggs := retractSpecs(t)
			store := mapSpill{}
			spec := Spec{Aggs: aggs, Retract: true, Spill: store, MaxMemory: r.Int64N(400)}
			op, err := New(spec)
			if err != nil {
				t.Fatal(err)
			}
			checkpoint(t, op, store) // start tracking
			rows := map[string][]types.Value{}
			args := func(v types.Value) []types.Value {
				i4 := types.Null(types.KindInt4)
				if !v.IsNull() {
					i4 = types.NewInt4(int32(v.Int()))
				}
				return []types.Value{v, v, v, i4, v, v, v, v, v, {}}
			}
			want := func(key string) string {
				vals := oracle(t, aggs[:len(aggs)-1], eventsOf(rows[key]))
				return rowString(Result{Key: key, Values: vals})
			}
			for step := range 3000 {
				key := fmt.Sprintf("k%d", r.IntN(6))
				switch {
				case r.IntN(10) == 0:
					checkpoint(t, op, store)
					op.Evict()
					if r.IntN(3) == 0 {
						op = restore(t, spec, store, r, true)
					}
				case len(rows[key]) > 0 && r.IntN(5) < 2:
					i := r.IntN(len(rows[key]))
					v := rows[key][i]
					rows[key] = slices.Delete(rows[key], i, i+1)
					res, err := op.Retract(key, args(v))
					if err != nil {
						t.Fatalf("step %d: retract %s from %s: %v", step, v, key, err)
					}
					if len(rows[key]) == 0 {
						if res.Values != nil {
							t.Fatalf("step %d: %s emptied but Retract gave %s", step, key, rowString(*res))
						}
						delete(rows, key)
						continue
					}
					if got := rowString(*res); got != want(key) {
						t.Fatalf("step %d: after retracting %s: %s, want %s", step, v, got, want(key))
					}
				default:
					v := types.Null(types.KindInt8)
					if r.IntN(5) > 0 {
						v = types.NewInt8(r.Int64N(100) - 30)
					}
					rows[key] = append(rows[key], v)
					res, err := op.Add(key, 0, args(v))
					if err != nil {
						t.Fatal(err)
					}
					if got := rowString(*res); got != want(key) {
						t.Fatalf("step %d: after adding %s: %s, want %s", step, v, got, want(key))
					}
				}
			}
			for i := range 6 {
				key := fmt.Sprintf("k%d", i)
				cur, err := op.Current(key)
				if err != nil {
					t.Fatal(err)
				}
				if _, held := rows[key]; !held {
					if cur != nil {
						t.Errorf("%s: gone, but Current gives %s", key, rowString(*cur))
					}
					if _, err := op.Retract(key, args(types.NewInt8(1))); !errors.Is(err, ErrNoRow) {
						t.Errorf("%s: retracting from a gone group: %v, want ErrNoRow", key, err)
					}
					continue
				}
				if cur == nil || rowString(*cur) != want(key) {
					t.Errorf("%s: Current %v, want %s", key, cur, want(key))
				}
			}
			if op.Open() != len(rows) {
				t.Errorf("%d groups open, want %d", op.Open(), len(rows))
			}
			checkpoint(t, op, store)
			if got := restore(t, spec, store, r, false); got.Open() != len(rows) {
				t.Errorf("restored: %d groups, want %d (a gone group's entry left behind?)", got.Open(), len(rows))
			}
		})
	}
}

func eventsOf(vals []types.Value) []event {
	out := make([]event, len(vals))
	for i, v := range vals {
		out[i] = event{v: v}
	}
	return out
}

func TestRetractSpecChecked(t *testing.T) {
	aggs := retractSpecs(t)
	if _, err := New(Spec{Aggs: aggs[:len(aggs)-1], Retract: true}); err == nil {
		t.Error("Retract without a trailing count(*) was accepted")
	}
}

// Infinities and NaN stay out of a sum's running total: one taken back
// leaves the finite rows' sum, not inf - inf = NaN; while one is there
// the sum is what Postgres gives (NaN with a NaN or both infinities).
// The counts survive a checkpoint and a restore.
func TestRetractSpecialValues(t *testing.T) {
	for _, arg := range []types.Kind{types.KindFloat8, types.KindNumeric} {
		t.Run(arg.String(), func(t *testing.T) {
			sum, _ := expr.NewAggregate("sum", false, false, arg)
			avg, _ := expr.NewAggregate("avg", false, false, arg)
			star, _ := expr.NewAggregate("count", true, false, types.KindNull)
			spec := Spec{Aggs: []expr.Aggregate{sum, avg, star}, Retract: true}
			op, err := New(spec)
			if err != nil {
				t.Fatal(err)
			}
			store := mapSpill{}
			checkpoint(t, op, store)
			val := func(f float64) types.Value {
				if arg == types.KindFloat8 {
					return types.NewFloat8(f)
				}
				switch {
				case math.IsNaN(f):
					return types.NewNumeric(&apd.Decimal{Form: apd.NaN})
				case math.IsInf(f, 0):
					return types.NewNumeric(&apd.Decimal{Form: apd.Infinite, Negative: f < 0})
				}
				return types.NewNumeric(apd.New(int64(f), 0))
			}
			step := func(retract bool, f float64, want string) {
				t.Helper()
				args := []types.Value{val(f), val(f), {}}
				var res *Result
				var err error
				if retract {
					res, err = op.Retract("k", args)
				} else {
					res, err = op.Add("k", 0, args)
				}
				if err != nil {
					t.Fatal(err)
				}
				if got := res.Values[0].String(); got != want {
					t.Fatalf("after %v %v: sum %s, want %s", retract, f, got, want)
				}
				checkpoint(t, op, store)
				op = restore(t, spec, store, nil, false)
			}
			inf, nan := math.Inf(1), math.NaN()
			step(false, 1, "1")
			step(false, inf, "Infinity")
			step(false, 2, "Infinity")
			step(false, -inf, "NaN")
			step(true, inf, "-Infinity")
			step(false, nan, "NaN")
			step(true, -inf, "NaN")
			step(true, nan, "3")
		})
	}
}
