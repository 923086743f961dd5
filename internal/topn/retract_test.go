package topn

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tide-data/tide/internal/sql/types"
)

// TestRetractingAgainstOracle drives a retracting top-N with random
// groups that change their score and partition, leave and come back,
// replays of rows already in state and retractions of rows not there,
// with checkpoints and restores from the store along the way. After each
// step the positions Updates handed over, applied as upserts and
// deletions keyed by partition and position, are the oracle's first N
// of every partition.
func TestRetractingAgainstOracle(t *testing.T) {
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 7))
		spec := Spec{Func: RowNumber, Limit: int64(1 + rng.IntN(4)), Order: []Order{{Desc: rng.IntN(2) == 0}}, Retract: true}
		o := New(spec)
		store := map[string][]byte{}
		checkpoint := func() {
			if err := o.Changes(func(k, v []byte) error {
				if v == nil {
					if _, ok := store[string(k)]; !ok {
						return fmt.Errorf("delete of %x never stored", k)
					}
					delete(store, string(k))
					return nil
				}
				store[string(k)] = slices.Clone(v)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		type group struct {
			part  string
			score int64
		}
		groups := map[int64]group{} // by identity (the offset)
		shown := map[string]string{}
		for step := range 400 {
			id := int64(rng.IntN(12))
			g, in := groups[id]
			switch r := rng.IntN(10); {
			case r < 6: // a new row for the group: replaces the one it had
				if in {
					o.Retract(g.part, 0, id, scoreValues(g.score))
				}
				g = group{part: fmt.Sprintf("p%d", rng.IntN(3)), score: int64(rng.IntN(8))}
				groups[id] = g
				mustAdd(t, o, g.part, id, g.score)
			case r < 8: // the group leaves
				if in {
					o.Retract(g.part, 0, id, scoreValues(g.score))
					delete(groups, id)
				}
			case r < 9 && in: // a replay of what it has, and of a retraction already applied
				mustAdd(t, o, g.part, id, g.score)
				o.Retract(g.part, 0, 99, scoreValues(g.score))
			default: // a checkpoint, and now and then a restore from it
				if err := o.Updates(func(key string, pos int, _ int64, r *Row) error {
					apply(shown, key, pos, r)
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				checkpoint()
				if rng.IntN(3) == 0 {
					o = New(spec)
					for k, v := range store {
						if err := o.Load([]byte(k), v); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			if err := o.Updates(func(key string, pos int, _ int64, r *Row) error {
				apply(shown, key, pos, r)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{}
			byPart := map[string][]int64{}
			for id, g := range groups {
				byPart[g.part] = append(byPart[g.part], id)
			}
			for part, ids := range byPart {
				slices.SortFunc(ids, func(a, b int64) int {
					c := cmp.Compare(groups[a].score, groups[b].score)
					if spec.Order[0].Desc {
						c = -c
					}
					return cmp.Or(c, cmp.Compare(a, b))
				})
				for pos, id := range ids[:min(int64(len(ids)), spec.Limit)] {
					want[fmt.Sprintf("%s/%d", part, pos)] = fmt.Sprintf("%d:%d", id, groups[id].score)
				}
			}
			if !maps.Equal(shown, want) {
				t.Fatalf("seed %d, step %d (limit %d): shown %v, want %v", seed, step, spec.Limit, shown, want)
			}
			if o.Len() != len(groups) {
				t.Fatalf("seed %d, step %d: %d rows in state, want %d", seed, step, o.Len(), len(groups))
			}
		}
	}
}

func scoreValues(score int64) []byte {
	return types.AppendBinary(nil, types.NewInt8(score))
}

func mustAdd(t *testing.T, o *Operator, part string, id, score int64) {
	t.Helper()
	if err := o.Add(Row{Key: part, Partition: 0, Offset: id, Values: scoreValues(score)}); err != nil {
		t.Fatal(err)
	}
}

// apply is what a sink keyed by partition and position does with an
// update: the row, or its deletion.
func apply(shown map[string]string, key string, pos int, r *Row) {
	k := fmt.Sprintf("%s/%d", key, pos)
	if r == nil {
		delete(shown, k)
		return
	}
	score := make(types.Row, 1)
	if _, err := types.ReadBinaryRow(r.Values, score); err != nil {
		panic(err)
	}
	shown[k] = fmt.Sprintf("%d:%d", r.Offset, score[0].Int())
}

// A retraction read again after its group's next row came (the
// repartition topic is read at least once) takes nothing back: it names
// the values of a row no longer there.
func TestRetractingReplayedRetractionKeepsNewerRow(t *testing.T) {
	o := New(Spec{Func: RowNumber, Limit: 3, Order: []Order{{Desc: true}}, Retract: true})
	shown := map[string]string{}
	updates := func() {
		t.Helper()
		if err := o.Updates(func(key string, pos int, _ int64, r *Row) error {
			apply(shown, key, pos, r)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	mustAdd(t, o, "p", 1, 10)
	updates()
	o.Retract("p", 0, 1, scoreValues(10)) // a checkpoint of the stage before: the old row back, the new one
	mustAdd(t, o, "p", 1, 20)
	updates()
	o.Retract("p", 0, 1, scoreValues(10)) // the same retraction, read again
	updates()
	if got, want := shown["p/0"], "1:20"; got != want {
		t.Fatalf("after a replayed retraction, position 0 shows %q, want %q", got, want)
	}
	if o.Len() != 1 {
		t.Fatalf("%d rows in state, want 1", o.Len())
	}
}

// BenchmarkRetractingLoad restores 20,000 rows of one partition of a
// top-10,000: loading costs the B-tree's inserts, not a scan of the first
// N per row.
func BenchmarkRetractingLoad(b *testing.B) {
	spec := Spec{Func: RowNumber, Limit: 10_000, Order: []Order{{Desc: true}}, Retract: true}
	o := New(spec)
	rng := rand.New(rand.NewPCG(1, 2))
	for id := range int64(20_000) {
		if err := o.Add(Row{Key: "p", Offset: id, Values: scoreValues(rng.Int64N(1e9))}); err != nil {
			b.Fatal(err)
		}
	}
	var keys, vals [][]byte
	if err := o.Changes(func(k, v []byte) error {
		keys, vals = append(keys, slices.Clone(k)), append(vals, slices.Clone(v))
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		restored := New(spec)
		for i := range keys {
			if err := restored.Load(keys[i], vals[i]); err != nil {
				b.Fatal(err)
			}
		}
		if err := restored.Updates(func(string, int, int64, *Row) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
