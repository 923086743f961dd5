package topn

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestRestoreMidway runs random Adds, Fires, checkpoints and restores
// against an operator that never restarts: the same results.
func TestRestoreMidway(t *testing.T) {
	for seed := range uint64(40) {
		for _, fn := range []Func{RowNumber, Rank, DenseRank} {
			for _, final := range []bool{false, true} {
				if !final && fn != RowNumber {
					continue
				}
				rng := rand.New(rand.NewPCG(seed, uint64(fn)))
				spec := Spec{Func: fn, Limit: int64(1 + rng.IntN(3)), Order: []Order{{Desc: rng.IntN(2) == 0, NullsFirst: rng.IntN(2) == 0}}, Final: final}
				ref, o := New(spec), New(spec)
				store := map[string][]byte{}
				var refOut, gotOut []string
				ckpt := func() {
					if err := o.Changes(func(k, v []byte) error {
						if v == nil {
							if _, ok := store[string(k)]; !ok {
								return fmt.Errorf("delete of %x never stored", k)
							}
							delete(store, string(k))
						} else {
							store[string(k)] = slices.Clone(v)
						}
						return nil
					}); err != nil {
						t.Fatal(err)
					}
				}
				wm := int64(0)
				var added []testRow
				for i := range 400 {
					var r testRow
					if len(added) > 0 && rng.IntN(6) == 0 {
						r = added[rng.IntN(len(added))] // a replayed record
					} else {
						s := int64(rng.IntN(5))
						r = testRow{part: fmt.Sprint(rng.IntN(3)), origin: int32(rng.IntN(2)), offset: int64(i)}
						if rng.IntN(6) > 0 {
							r.score = &s
						}
						added = append(added, r)
					}
					row := r.row(0)
					if final {
						if r.offset == int64(i) { // new: a partition at or after the watermark
							r.part = fmt.Sprintf("%s@%d", r.part, wm+int64(rng.IntN(3)))
							added[len(added)-1] = r
						}
						var ts int64
						fmt.Sscanf(r.part[strings.Index(r.part, "@")+1:], "%d", &ts)
						row = r.row(ts)
					}
					e1, e2 := ref.Add(row), o.Add(row)
					if (e1 == nil) != (e2 == nil) {
						t.Fatalf("Add: %v vs %v", e1, e2)
					}
					switch rng.IntN(10) {
					case 0:
						ckpt()
						o = New(spec)
						for k, v := range store {
							if err := o.Load([]byte(k), v); err != nil {
								t.Fatal(err)
							}
						}
						// the reference forgets what was not checkpointed? No: ckpt was just taken.
					case 1:
						ckpt()
					case 2:
						if final {
							wm++
							ref.Fire(wm, func(k string, rank int64, r *Row) {
								refOut = append(refOut, fmt.Sprint(k, rank, r.Partition, r.Offset))
							})
							o.Fire(wm, func(k string, rank int64, r *Row) {
								gotOut = append(gotOut, fmt.Sprint(k, rank, r.Partition, r.Offset))
							})
						}
					}
				}
				if g, w := state(o), state(ref); !equal(g, w) {
					t.Fatalf("seed %d fn %d final %v: state %v\nwant %v", seed, fn, final, g, w)
				}
				slices.Sort(refOut)
				slices.Sort(gotOut)
				if !slices.Equal(refOut, gotOut) {
					t.Fatalf("fired %v want %v", gotOut, refOut)
				}
			}
		}
	}
}
