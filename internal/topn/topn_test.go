package topn

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tide-data/tide/internal/sql/types"
)

// testRow is a row of the tests: a partition, a score that may be NULL
// (the sort value), an origin.
type testRow struct {
	part   string
	score  *int64
	origin int32
	offset int64
}

func (r testRow) values() []byte {
	v := types.Null(types.KindInt8)
	if r.score != nil {
		v = types.NewInt8(*r.score)
	}
	return types.AppendBinary(types.AppendBinary(nil, v), types.NewText(fmt.Sprintf("%d/%d", r.origin, r.offset)))
}

func (r testRow) row(ts int64) Row {
	return Row{Key: r.part, TS: ts, Partition: r.origin, Offset: r.offset, Values: r.values()}
}

// ranked is what the oracle and the operator give for a partition: the
// origins of its kept rows, in order, with their ranks.
type ranked struct {
	origin string
	rank   int64
}

// oracle ranks every row of each partition by brute force: sort by
// score in ord (then origin), rank, keep ranks up to limit.
func oracle(rows []testRow, fn Func, limit int64, ord Order) map[string][]ranked {
	byPart := map[string][]testRow{}
	for _, r := range rows {
		byPart[r.part] = append(byPart[r.part], r)
	}
	cmpScore := func(a, b *int64) int {
		switch {
		case a == nil && b == nil:
			return 0
		case a == nil:
			if ord.NullsFirst {
				return -1
			}
			return 1
		case b == nil:
			if ord.NullsFirst {
				return 1
			}
			return -1
		}
		if ord.Desc {
			return cmp.Compare(*b, *a)
		}
		return cmp.Compare(*a, *b)
	}
	out := map[string][]ranked{}
	for part, rs := range byPart {
		slices.SortFunc(rs, func(a, b testRow) int {
			return cmp.Or(cmpScore(a.score, b.score), cmp.Compare(a.origin, b.origin), cmp.Compare(a.offset, b.offset))
		})
		rank, dense := int64(0), int64(0)
		for i, r := range rs {
			tied := i > 0 && cmpScore(rs[i-1].score, r.score) == 0
			if !tied {
				rank, dense = int64(i)+1, dense+1
			}
			k := map[Func]int64{RowNumber: int64(i) + 1, Rank: rank, DenseRank: dense}[fn]
			if k > limit {
				break
			}
			out[part] = append(out[part], ranked{fmt.Sprintf("%d/%d", r.origin, r.offset), k})
		}
	}
	return out
}

func randomRows(rng *rand.Rand, n, parts int) []testRow {
	rows := make([]testRow, n)
	for i := range rows {
		r := testRow{part: fmt.Sprintf("p%d", rng.IntN(parts)), origin: int32(rng.IntN(3)), offset: int64(i)}
		if rng.IntN(10) > 0 {
			s := int64(rng.IntN(20)) // many ties
			r.score = &s
		}
		rows[i] = r
	}
	return rows
}

// state reads the operator's partitions the way Fire and Updates would.
func state(o *Operator) map[string][]ranked {
	out := map[string][]ranked{}
	for key, p := range o.parts {
		_ = o.ranks(p.rows, func(_ int, rank int64, r *Row) error {
			vals := make(types.Row, 2)
			_, _ = types.ReadBinaryRow(r.Values, vals)
			out[key] = append(out[key], ranked{vals[1].String(), rank})
			return nil
		})
	}
	return out
}

func TestAgainstOracle(t *testing.T) {
	t.Parallel()
	for _, fn := range []Func{RowNumber, Rank, DenseRank} {
		for _, limit := range []int64{1, 3} {
			for _, ord := range []Order{{}, {Desc: true}, {NullsFirst: true}, {Desc: true, NullsFirst: false}} {
				t.Run(fmt.Sprintf("f%d/n%d/%+v", fn, limit, ord), func(t *testing.T) {
					rng := rand.New(rand.NewPCG(uint64(fn)*7+uint64(limit), 1))
					rows := randomRows(rng, 600, 7)
					o := New(Spec{Func: fn, Limit: limit, Order: []Order{ord}})
					for _, r := range rows {
						if err := o.Add(r.row(0)); err != nil {
							t.Fatal(err)
						}
						// A repartition record read twice changes nothing.
						if rng.IntN(5) == 0 {
							if err := o.Add(r.row(0)); err != nil {
								t.Fatal(err)
							}
						}
					}
					want := oracle(rows, fn, limit, ord)
					if got := state(o); !equal(got, want) {
						t.Fatalf("got %v\nwant %v", got, want)
					}
					// Through a store and back: the same state.
					store := map[string][]byte{}
					if err := o.Changes(func(k, v []byte) error { store[string(k)] = slices.Clone(v); return nil }); err != nil {
						t.Fatal(err)
					}
					back := New(Spec{Func: fn, Limit: limit, Order: []Order{ord}})
					for k, v := range store {
						if err := back.Load([]byte(k), v); err != nil {
							t.Fatal(err)
						}
					}
					if got := state(back); !equal(got, want) {
						t.Fatalf("after Load: got %v\nwant %v", got, want)
					}
				})
			}
		}
	}
}

func equal(a, b map[string][]ranked) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// TestUpdatesTrackRowNumbers replays an updating top-N's Updates into a
// table keyed by partition and position, checkpointing into a store at
// random, and checks the table against the oracle at the end, and the
// store against the operator.
func TestUpdatesTrackRowNumbers(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	rows := randomRows(rng, 2000, 11)
	spec := Spec{Func: RowNumber, Limit: 4, Order: []Order{{Desc: true}}}
	o := New(spec)
	table := map[string]string{}
	store := map[string][]byte{}
	flush := func() {
		if err := o.Updates(func(key string, pos int, rank int64, r *Row) error {
			k := fmt.Sprintf("%s#%d", key, pos+1)
			if r == nil {
				delete(table, k)
				return nil
			}
			if rank != int64(pos)+1 {
				t.Fatalf("row number %d at position %d", rank, pos)
			}
			vals := make(types.Row, 2)
			if _, err := types.ReadBinaryRow(r.Values, vals); err != nil {
				t.Fatal(err)
			}
			table[k] = vals[1].String()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := o.Changes(func(k, v []byte) error {
			if v == nil {
				delete(store, string(k))
			} else {
				store[string(k)] = slices.Clone(v)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range rows {
		if err := o.Add(r.row(0)); err != nil {
			t.Fatal(err)
		}
		if rng.IntN(50) == 0 {
			flush()
		}
	}
	flush()
	want := map[string]string{}
	for part, rs := range oracle(rows, RowNumber, 4, spec.Order[0]) {
		for _, r := range rs {
			want[fmt.Sprintf("%s#%d", part, r.rank)] = r.origin
		}
	}
	if fmt.Sprint(table) != fmt.Sprint(want) {
		t.Fatalf("table %v\nwant %v", table, want)
	}
	if n := len(store); n != o.Len() {
		t.Fatalf("store holds %d rows, the operator %d", n, o.Len())
	}
}

// TestFireCompletesPartitions: a final top-N emits a partition once the
// watermark passes its time, and refuses rows behind it.
func TestFireCompletesPartitions(t *testing.T) {
	t.Parallel()
	o := New(Spec{Func: Rank, Limit: 1, Order: []Order{{Desc: true}}, Final: true})
	five, seven := int64(5), int64(7)
	rows := []struct {
		r  testRow
		ts int64
	}{
		{testRow{part: "t10", score: &five, offset: 1}, 10},
		{testRow{part: "t10", score: &seven, offset: 2}, 10},
		{testRow{part: "t10", score: &seven, offset: 3}, 10},
		{testRow{part: "t20", score: &five, offset: 4}, 20},
	}
	for _, x := range rows {
		if err := o.Add(x.r.row(x.ts)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	fire := func(wm int64) {
		o.Fire(wm, func(key string, rank int64, r *Row) {
			got = append(got, fmt.Sprintf("%s:%d@%d", key, rank, r.Offset))
		})
	}
	fire(10)
	if len(got) != 0 {
		t.Fatalf("fired %v at the partition's own time", got)
	}
	fire(11)
	if want := []string{"t10:1@2", "t10:1@3"}; !slices.Equal(got, want) {
		t.Fatalf("fired %v, want %v", got, want)
	}
	if err := o.Add(testRow{part: "t10", score: &seven, offset: 9}.row(10)); !errors.Is(err, ErrLate) {
		t.Fatalf("a row behind the watermark: %v, want ErrLate", err)
	}
	if o.Len() != 1 {
		t.Fatalf("%d rows left, want 1", o.Len())
	}
}

func TestLoadRefusesCorruptEntries(t *testing.T) {
	t.Parallel()
	o := New(Spec{Limit: 1, Order: []Order{{}}})
	for _, kv := range [][2][]byte{
		{{0x05, 'r'}, nil},
		{{tagTopN, 'x'}, nil},
		{{tagTopN, metaRow, 0x80}, nil},
		{{tagTopN, metaWatermark}, {0x80}},
	} {
		if err := o.Load(kv[0], kv[1]); !errors.Is(err, ErrCorruptState) {
			t.Errorf("Load(%x, %x) = %v, want ErrCorruptState", kv[0], kv[1], err)
		}
	}
}
