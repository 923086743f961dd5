package join

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The interval condition of the tests: R.ts BETWEEN L.ts - 5 AND L.ts + 10,
// so Keep is 10 for the left side and 5 for the right (see the package doc).
var intervalSpec = Spec{Keep: [2]int64{Left: 10, Right: 5}}

func inInterval(l, r *Row) bool { return r.TS >= l.TS-5 && r.TS <= l.TS+10 }

func idOf(r *Row) rowID { return rowID{r.Side, r.Partition, r.Offset, r.Key} }

func (id rowID) String() string { return fmt.Sprintf("%v:%d/%d", id.side, id.partition, id.offset) }

type pair struct{ left, right rowID }

// genRows returns n rows of random sides and keys, with event times that
// grow by 0 to 3 a row, arriving out of order by less than disorder: each
// row's time is above the highest time before it minus disorder.
func genRows(rng *rand.Rand, n, keys int, disorder int64) []Row {
	rows := make([]Row, n)
	arrival := make([]int64, n)
	ts := int64(-50) // some negative times too
	for i := range rows {
		ts += rng.Int64N(4)
		rows[i] = Row{
			Side:      Side(rng.IntN(2)),
			Key:       fmt.Sprintf("k%d", rng.IntN(keys)),
			TS:        ts,
			Partition: int32(rng.IntN(3)),
			Offset:    int64(i),
			Values:    fmt.Appendf(nil, "row %d", i),
		}
		arrival[i] = ts
		if disorder > 0 {
			arrival[i] += rng.Int64N(disorder)
		}
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(arrival[a], arrival[b]) })
	out := make([]Row, n)
	for i, j := range order {
		out[i] = rows[j]
	}
	return out
}

// bruteForce is the oracle: every pair of rows with the same key that
// satisfies the condition, and the rows in none.
func bruteForce(rows []Row) (pairs map[pair]bool, lonely map[rowID]bool) {
	pairs, lonely = map[pair]bool{}, map[rowID]bool{}
	for i := range rows {
		lonely[idOf(&rows[i])] = true
	}
	for i := range rows {
		for j := range rows {
			l, r := &rows[i], &rows[j]
			if l.Side == Left && r.Side == Right && l.Key == r.Key && inInterval(l, r) {
				pairs[pair{idOf(l), idOf(r)}] = true
				delete(lonely, idOf(l))
				delete(lonely, idOf(r))
			}
		}
	}
	return pairs, lonely
}

// driver feeds rows to an operator as a task would: the watermark trails
// the highest event time seen by disorder, and moves every few rows.
type driver struct {
	t        *testing.T
	op       *Operator
	disorder int64
	every    int
	maxTS    int64
	n        int
	pairs    map[pair]int
	lonely   map[rowID]int
	log      []string // what each Add and Expire did, in an order a restore keeps
}

func newDriver(t *testing.T, op *Operator, disorder int64, every int) *driver {
	return &driver{t: t, op: op, disorder: disorder, every: every, maxTS: math.MinInt64,
		pairs: map[pair]int{}, lonely: map[rowID]int{}}
}

func (d *driver) add(r Row) {
	d.t.Helper()
	var partners []string
	err := d.op.Add(r, func(other *Row) (bool, error) {
		if other.Side == r.Side || other.Key != r.Key {
			d.t.Fatalf("%v offered %v", idOf(&r), idOf(other))
		}
		l, rr := &r, other
		if r.Side == Right {
			l, rr = other, &r
		}
		if !inInterval(l, rr) {
			return false, nil
		}
		d.pairs[pair{idOf(l), idOf(rr)}]++
		partners = append(partners, idOf(other).String())
		return true, nil
	})
	if err != nil {
		d.t.Fatalf("Add %v (ts %d, watermark %d): %v", idOf(&r), r.TS, d.op.Watermark(), err)
	}
	slices.Sort(partners)
	d.log = append(d.log, fmt.Sprintf("add %v: %v", idOf(&r), partners))
	d.maxTS = max(d.maxTS, r.TS)
	if d.n++; d.n%d.every == 0 {
		d.expire(d.maxTS - d.disorder)
	}
}

func (d *driver) expire(wm int64) {
	var dropped []string
	d.op.Expire(wm, func(r *Row) {
		if r.Matched {
			d.t.Errorf("matched row %v handed to Expire's callback", idOf(r))
		}
		if want := fmt.Sprintf("row %d", r.Offset); string(r.Values) != want {
			d.t.Errorf("row %v has values %q, want %q", idOf(r), r.Values, want)
		}
		d.lonely[idOf(r)]++
		dropped = append(dropped, idOf(r).String())
	})
	slices.Sort(dropped)
	d.log = append(d.log, fmt.Sprintf("expire %d: %v", wm, dropped))
	// Gaps left by dropped rows never outnumber a key's rows.
	for _, side := range d.op.keys {
		for _, k := range side {
			if len(k.rows) > 2*k.live {
				d.t.Fatalf("key %q holds %d rows in a list of %d", k.key, k.live, len(k.rows))
			}
		}
	}
}

func (d *driver) check(rows []Row, outer [2]bool) {
	d.t.Helper()
	want, lonely := bruteForce(rows)
	for p, n := range d.pairs {
		if !want[p] {
			d.t.Errorf("pair %v-%v does not satisfy the condition", p.left, p.right)
		} else if n != 1 {
			d.t.Errorf("pair %v-%v found %d times", p.left, p.right, n)
		}
	}
	for p := range want {
		if d.pairs[p] == 0 {
			d.t.Errorf("pair %v-%v missed", p.left, p.right)
		}
	}
	for id, n := range d.lonely {
		if !lonely[id] || !outer[id.side] || n != 1 {
			d.t.Errorf("row %v handed to Expire's callback %d times (unmatched %v, outer %v)", id, n, lonely[id], outer[id.side])
		}
	}
	for id := range lonely {
		if outer[id.side] && d.lonely[id] == 0 {
			d.t.Errorf("unmatched row %v of an outer side never handed to Expire's callback", id)
		}
	}
	if len(want) == 0 {
		d.t.Error("no pairs at all: the test proves nothing")
	}
}

func TestIntervalJoin(t *testing.T) {
	for _, tc := range []struct {
		name     string
		disorder int64
		keys     int
		every    int
		outer    [2]bool
	}{
		{"in order", 0, 20, 7, [2]bool{}},
		{"in order, left outer", 0, 50, 1, [2]bool{Left: true}},
		{"out of order", 30, 20, 5, [2]bool{true, true}},
		{"far out of order", 200, 10, 50, [2]bool{Right: true}},
		{"one key", 15, 1, 3, [2]bool{true, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := range uint64(5) {
				rng := rand.New(rand.NewPCG(seed, 1))
				rows := genRows(rng, 2000, tc.keys, tc.disorder)
				spec := intervalSpec
				spec.Outer = tc.outer
				d := newDriver(t, New(spec), tc.disorder, tc.every)
				for _, r := range rows {
					d.add(r)
				}
				d.expire(math.MaxInt64)
				d.check(rows, tc.outer)
				if n := d.op.Len(); n != [2]int{} {
					t.Errorf("Len after the last Expire = %v", n)
				}
				if m, _ := d.op.Memory(); m != 0 {
					t.Errorf("Memory of an empty operator = %d", m)
				}
			}
		})
	}
}

func TestLate(t *testing.T) {
	op := New(intervalSpec)
	if wm := op.Watermark(); wm != math.MinInt64 {
		t.Fatalf("Watermark before any Expire = %d", wm)
	}
	mustAdd(t, op, Row{Side: Left, Key: "a", TS: 100, Offset: 1})
	op.Expire(100, nil)
	op.Expire(50, nil) // never goes back
	if wm := op.Watermark(); wm != 100 {
		t.Fatalf("Watermark = %d, want 100", wm)
	}
	late := Row{Side: Right, Key: "a", TS: 99, Offset: 2}
	err := op.Add(late, func(*Row) (bool, error) {
		t.Error("match called for a late row")
		return true, nil
	})
	if !errors.Is(err, ErrLate) {
		t.Fatalf("Add of a row behind the watermark: %v, want ErrLate", err)
	}
	// At the watermark is not late; and the late row was never stored.
	var partners []rowID
	err = op.Add(Row{Side: Left, Key: "a", TS: 100, Offset: 3}, func(other *Row) (bool, error) {
		partners = append(partners, idOf(other))
		return true, nil
	})
	if err != nil || len(partners) != 0 {
		t.Fatalf("Add at the watermark: %v, partners %v", err, partners)
	}
	if n := op.Len(); n != [2]int{2, 0} {
		t.Fatalf("Len = %v, want [2 0]", n)
	}
}

func TestDuplicate(t *testing.T) {
	op := New(Spec{Keep: [2]int64{100, 100}})
	r := Row{Side: Left, Key: "a", TS: 10, Partition: 2, Offset: 7, Values: []byte("x")}
	mustAdd(t, op, r)
	for _, dup := range []Row{
		r,
		{Side: Left, Key: "a", TS: 20, Partition: 2, Offset: 7}, // identity is origin and key, not content
	} {
		if err := op.Add(dup, func(*Row) (bool, error) {
			t.Error("match called for a duplicate")
			return true, nil
		}); !errors.Is(err, ErrDuplicate) {
			t.Fatalf("duplicate: %v, want ErrDuplicate", err)
		}
	}
	// The same origin on the other side, in another partition, or under
	// another key (a row's copy in another hopping window) is another row.
	mustAdd(t, op, Row{Side: Right, Key: "a", TS: 10, Partition: 2, Offset: 7})
	mustAdd(t, op, Row{Side: Left, Key: "a", TS: 10, Partition: 3, Offset: 7})
	mustAdd(t, op, Row{Side: Left, Key: "b", TS: 10, Partition: 2, Offset: 7})
	if n := op.Len(); n != [2]int{3, 1} {
		t.Fatalf("Len = %v, want [3 1]", n)
	}
	// Behind the watermark but still in state: a duplicate, not late.
	op.Expire(50, nil)
	if err := op.Add(r, nil); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("duplicate behind the watermark: %v, want ErrDuplicate", err)
	}
	// Once dropped it is late, like any row that old.
	op.Expire(200, nil)
	if err := op.Add(r, nil); !errors.Is(err, ErrLate) {
		t.Fatalf("duplicate of a dropped row: %v, want ErrLate", err)
	}
}

func TestOuter(t *testing.T) {
	for _, tc := range []struct {
		name  string
		outer [2]bool
		want  []string // offsets handed to Expire's callback, in order
	}{
		{"inner", [2]bool{}, nil},
		{"left", [2]bool{Left: true}, []string{"left:0/2", "left:0/4"}},
		{"right", [2]bool{Right: true}, []string{"right:0/5"}},
		{"full", [2]bool{true, true}, []string{"left:0/2", "right:0/5", "left:0/4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op := New(Spec{Keep: [2]int64{10, 10}, Outer: tc.outer})
			add := func(r Row, ok bool) {
				t.Helper()
				if err := op.Add(r, func(*Row) (bool, error) { return ok, nil }); err != nil {
					t.Fatal(err)
				}
			}
			add(Row{Side: Left, Key: "a", TS: 0, Offset: 1}, true)
			add(Row{Side: Left, Key: "b", TS: 1, Offset: 2}, true) // no partner ever
			add(Row{Side: Right, Key: "a", TS: 2, Offset: 3}, true)
			add(Row{Side: Left, Key: "c", TS: 5, Offset: 4}, true)
			add(Row{Side: Right, Key: "c", TS: 3, Offset: 5}, false) // a partner, but not a match
			var got []string
			collect := func(r *Row) { got = append(got, idOf(r).String()) }
			op.Expire(5, collect)
			if len(got) != 0 {
				t.Fatalf("dropped before its time: %v", got)
			}
			for _, wm := range []int64{12, 12, 14, 16, math.MaxInt64, math.MaxInt64} {
				op.Expire(wm, collect)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Expire's callback got %v, want %v", got, tc.want)
			}
			op.Expire(math.MaxInt64, nil) // nil callback
		})
	}
}

func TestMatchOrderAndError(t *testing.T) {
	op := New(Spec{Keep: [2]int64{100, 100}, Outer: [2]bool{true, true}})
	for _, off := range []int64{3, 1, 2} {
		mustAdd(t, op, Row{Side: Left, Key: "a", TS: 10, Offset: off})
	}
	boom := errors.New("boom")
	var seen []int64
	err := op.Add(Row{Side: Right, Key: "a", TS: 10, Offset: 9}, func(other *Row) (bool, error) {
		seen = append(seen, other.Offset)
		if other.Offset == 2 {
			return false, boom
		}
		return true, nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Add: %v, want the callback's error", err)
	}
	if !slices.Equal(seen, []int64{3, 1, 2}) {
		t.Fatalf("match saw %v, want arrival order [3 1 2]", seen)
	}
	if n := op.Len(); n != [2]int{3, 0} {
		t.Fatalf("Len after a failed Add = %v, want [3 0]", n)
	}
	// Nothing matched: every left row is handed back at expiry.
	var lonely int
	op.Expire(math.MaxInt64, func(*Row) { lonely++ })
	if lonely != 3 {
		t.Fatalf("%d unmatched rows after a failed Add, want 3", lonely)
	}
}

func TestForever(t *testing.T) {
	op := New(Spec{Keep: [2]int64{Left: Forever, Right: 10}, Outer: [2]bool{true, true}})
	mustAdd(t, op, Row{Side: Left, Key: "a", TS: -1000, Offset: 1})
	mustAdd(t, op, Row{Side: Right, Key: "b", TS: 5, Offset: 2})
	// A bounded Keep that saturates: never dropped either.
	mustAdd(t, op, Row{Side: Right, Key: "b", TS: math.MaxInt64 - 1, Offset: 3})
	var dropped []rowID
	op.Expire(math.MaxInt64, func(r *Row) { dropped = append(dropped, idOf(r)) })
	if want := []rowID{{Right, 0, 2, "b"}}; !slices.Equal(dropped, want) {
		t.Fatalf("dropped %v, want %v", dropped, want)
	}
	if n := op.Len(); n != [2]int{1, 1} {
		t.Fatalf("Len = %v, want [1 1]", n)
	}
	var matched int
	if err := op.Add(Row{Side: Right, Key: "a", TS: math.MaxInt64, Offset: 4}, func(*Row) (bool, error) {
		matched++
		return true, nil
	}); err != nil || matched != 1 {
		t.Fatalf("Add against a row kept forever: %v, %d matches", err, matched)
	}
}

// A row behind the watermark is late only when the other side drops
// rows: against a side kept Forever it misses no partner.
func TestLateAgainstForever(t *testing.T) {
	op := New(Spec{Keep: [2]int64{Left: 10, Right: Forever}})
	mustAdd(t, op, Row{Side: Right, Key: "k", TS: 0, Offset: 1})
	op.Expire(100, nil)
	var matched int
	if err := op.Add(Row{Side: Left, Key: "k", TS: 50, Offset: 2}, func(*Row) (bool, error) {
		matched++
		return true, nil
	}); err != nil || matched != 1 {
		t.Fatalf("a left row behind the watermark against a Forever right side: %v, %d matches; want nil, 1", err, matched)
	}
	if err := op.Add(Row{Side: Right, Key: "k", TS: 50, Offset: 3}, func(*Row) (bool, error) { return true, nil }); !errors.Is(err, ErrLate) {
		t.Fatalf("a right row behind the watermark against a bounded left side: %v, want ErrLate", err)
	}
}

func mustAdd(t *testing.T, op *Operator, r Row) {
	t.Helper()
	if err := op.Add(r, func(*Row) (bool, error) { return true, nil }); err != nil {
		t.Fatal(err)
	}
}

// checkpoint applies op's changes to store, as a state store and its
// changelog would, checking that each change makes sense there — a
// SingleDelete only of a key set exactly once since it was last absent,
// over the store's whole history (storeWriter.sets outlives operators
// restored from the same store).
func checkpoint(t *testing.T, op *Operator, store map[string][]byte) {
	t.Helper()
	id := reflect.ValueOf(store).Pointer()
	if storeSets[id] == nil {
		storeSets[id] = map[string]int{}
		// A map of a later test may reuse this one's address.
		t.Cleanup(func() { delete(storeSets, id) })
	}
	w := &storeWriter{t: t, store: store, sets: storeSets[id], seen: map[string]bool{}}
	if err := op.ChangesTo(w); err != nil {
		t.Fatal(err)
	}
}

// storeSets counts, per test store (by its map's identity) and key, the
// Sets since the key was last deleted, as pebble's SingleDelete contract
// reads them.
var storeSets = map[uintptr]map[string]int{}

type storeWriter struct {
	t     *testing.T
	store map[string][]byte
	sets  map[string]int
	seen  map[string]bool
	// deleted says a key seen in this checkpoint was deleted.
	deleted map[string]bool

	singles, plain int // deletions
}

// change checks that a key changes once in a checkpoint, or is deleted
// then set again (a row dropped, then the same record added again).
func (w *storeWriter) change(key []byte, set bool) string {
	w.t.Helper()
	k := string(key)
	if w.seen[k] && (set != w.deleted[k] || !set) {
		w.t.Fatalf("key %x changed twice in one checkpoint, not deleted then set", key)
	}
	w.seen[k] = true
	if w.deleted == nil {
		w.deleted = map[string]bool{}
	}
	w.deleted[k] = !set
	return k
}

func (w *storeWriter) Put(key, value []byte) error {
	w.t.Helper()
	k := w.change(key, value != nil)
	if value == nil {
		if _, ok := w.store[k]; !ok {
			w.t.Fatalf("tombstone for %x, which the store does not have", key)
		}
		delete(w.store, k)
		delete(w.sets, k)
		w.plain++
		return nil
	}
	if _, ok := w.store[k]; !ok {
		w.sets[k] = 0 // counted since the key was last absent
	}
	w.store[k] = bytes.Clone(value)
	w.sets[k]++
	return nil
}

func (w *storeWriter) SingleDelete(key []byte) error {
	w.t.Helper()
	k := w.change(key, false)
	if _, ok := w.store[k]; !ok {
		w.t.Fatalf("single deletion of %x, which the store does not have", key)
	}
	if n := w.sets[k]; n != 1 {
		w.t.Fatalf("single deletion of %x, set %d times since it was last deleted", key, n)
	}
	w.singles++
	delete(w.store, k)
	delete(w.sets, k)
	return nil
}

// restore loads a new operator from store, in key order as a scan gives.
func restore(t *testing.T, spec Spec, store map[string][]byte) *Operator {
	t.Helper()
	op := New(spec)
	for _, k := range slices.Sorted(maps.Keys(store)) {
		if err := op.Load([]byte(k), store[k]); err != nil {
			t.Fatal(err)
		}
	}
	return op
}

// dump lists an operator's state, in an order that does not depend on
// arrival.
func dump(op *Operator) []string {
	out := []string{fmt.Sprintf("watermark %d, len %v", op.wm, op.count)}
	for _, e := range op.ids {
		r := &e.row
		out = append(out, fmt.Sprintf("%v %q ts=%d matched=%v values=%q expiry=%d", idOf(r), r.Key, r.TS, r.Matched, r.Values, e.expiry))
	}
	slices.Sort(out[1:])
	return out
}

func TestChangesLoad(t *testing.T) {
	spec := intervalSpec
	spec.Outer = [2]bool{true, true}
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 2))
			const disorder = 25
			rows := genRows(rng, 3000, 30, disorder)
			a := newDriver(t, New(spec), disorder, 4)
			store := map[string][]byte{}
			half := len(rows) / 2
			for i, r := range rows[:half] {
				a.add(r)
				// Sparse checkpoints: rows come and go between two.
				if i == 10 || i%97 == 0 {
					checkpoint(t, a.op, store)
					got, want := dump(restore(t, spec, store)), dump(a.op)
					if !slices.Equal(got, want) {
						t.Fatalf("after row %d, restored state:\n%s\nwant:\n%s", i, strings.Join(got, "\n"), strings.Join(want, "\n"))
					}
					n, wm := a.op.Len(), 0
					if a.op.Watermark() != math.MinInt64 {
						wm = 1
					}
					if len(store) != n[0]+n[1]+wm {
						t.Fatalf("store holds %d entries, the operator %v rows and a watermark", len(store), n)
					}
				}
			}
			checkpoint(t, a.op, store)

			// A restored copy goes on as the original does.
			b := newDriver(t, restore(t, spec, store), disorder, 4)
			b.maxTS, b.n = a.maxTS, a.n
			logFrom := len(a.log)
			storeB := maps.Clone(store)
			for i, r := range rows[half:] {
				a.add(r)
				b.add(r)
				if i%89 == 0 {
					checkpoint(t, a.op, store)
					checkpoint(t, b.op, storeB)
				}
			}
			a.expire(math.MaxInt64 - 1)
			b.expire(math.MaxInt64 - 1)
			checkpoint(t, a.op, store)
			checkpoint(t, b.op, storeB)
			if !slices.Equal(a.log[logFrom:], b.log) {
				t.Error("the restored operator matched or expired other rows")
				for i := range min(len(b.log), len(a.log)-logFrom) {
					if a.log[logFrom+i] != b.log[i] {
						t.Fatalf("first difference:\n%s\nrestored:\n%s", a.log[logFrom+i], b.log[i])
					}
				}
			}
			if !maps.EqualFunc(store, storeB, bytes.Equal) {
				t.Error("the restored operator's store differs")
			}
			wm := binary.AppendVarint(nil, math.MaxInt64-1)
			if len(store) != 1 || !bytes.Equal(store[string(watermarkKey)], wm) {
				t.Errorf("store after the last expiry holds %d entries", len(store))
			}
			a.check(rows, spec.Outer)
		})
	}
}

// A side that neither pads nor asked for Matched does not record its
// rows' partners: a stored row that finds one is not written again, and
// rows added in one checkpoint and dropped before the next never reach
// the store.
func TestMatchRecordedOnlyWhereNeeded(t *testing.T) {
	for _, tc := range []struct {
		name     string
		spec     Spec
		rewrites bool
	}{
		{"inner", Spec{Keep: [2]int64{10, 10}}, false},
		{"left outer", Spec{Keep: [2]int64{10, 10}, Outer: [2]bool{true, false}}, true},
		{"left updating", Spec{Keep: [2]int64{10, 10}, Matched: [2]bool{true, false}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op := New(tc.spec)
			mustAdd(t, op, Row{Side: Left, Key: "a", TS: 1, Offset: 1})
			store := map[string][]byte{}
			checkpoint(t, op, store)
			var partner Row
			if err := op.Add(Row{Side: Right, Key: "a", TS: 2, Offset: 2}, func(o *Row) (bool, error) {
				partner = *o
				return true, nil
			}); err != nil {
				t.Fatal(err)
			}
			if partner.Matched {
				t.Error("the partner's Matched was set before its first match's call returned")
			}
			var keys []string
			if err := op.Changes(func(key, value []byte) error {
				keys = append(keys, fmt.Sprintf("%x", key))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			want := 1 // the right row
			if tc.rewrites {
				want = 2 // and the left one, matched
			}
			if len(keys) != want {
				t.Errorf("Changes gave %v, want %d entries", keys, want)
			}
			// Only the left side records partners, in the cases that do.
			if got := op.keys[Left]["a"].rows[0].row.Matched; got != tc.rewrites {
				t.Errorf("left row Matched = %v, want %v", got, tc.rewrites)
			}
			if op.keys[Right]["a"].rows[0].row.Matched {
				t.Error("right row Matched, on a side that does not record it")
			}
		})
	}
}

func TestChangesRetry(t *testing.T) {
	op := New(Spec{Keep: [2]int64{10, 10}, Outer: [2]bool{true, false}})
	mustAdd(t, op, Row{Side: Left, Key: "a", TS: 1, Offset: 1})
	store := map[string][]byte{}
	checkpoint(t, op, store) // the first gives everything
	mustAdd(t, op, Row{Side: Right, Key: "a", TS: 2, Offset: 2})
	op.Expire(5, nil)
	fail := errors.New("store down")
	calls := 0
	if err := op.Changes(func(key, value []byte) error {
		if calls++; calls == 2 {
			return fail
		}
		return nil
	}); !errors.Is(err, fail) {
		t.Fatalf("Changes: %v, want fn's error", err)
	}
	var keys []string
	if err := op.Changes(func(key, value []byte) error {
		keys = append(keys, fmt.Sprintf("%x=%x", key, value))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Left row matched (written again), right row added, watermark moved.
	if len(keys) != 3 {
		t.Fatalf("after a failed Changes, the next gave %v, want 3 entries", keys)
	}
	if err := op.Changes(func(key, value []byte) error {
		t.Errorf("nothing changed, yet Changes gave %x", key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestLoadCorrupt(t *testing.T) {
	good := appendRowKey(nil, &Row{Side: Right, Key: "key", Partition: 1, Offset: 2})
	goodValue := appendRowValue(nil, &Row{TS: 5, Values: []byte("v")})
	for _, tc := range []struct {
		name       string
		key, value []byte
	}{
		{"empty key", nil, goodValue},
		{"tag only", []byte{tagJoin}, goodValue},
		{"another operator's tag", append([]byte{0x03}, good[1:]...), goodValue},
		{"no such side", append([]byte{tagJoin, 2}, good[2:]...), goodValue},
		{"no key length", []byte{tagJoin, 0}, goodValue},
		{"key length overflows", append([]byte{tagJoin, 0}, bytes.Repeat([]byte{0xff}, 11)...), goodValue},
		{"key length too long", append([]byte{tagJoin, 0, 50}, good[3:]...), goodValue},
		{"key length too short", append([]byte{tagJoin, 0, 2}, good[3:]...), goodValue},
		{"key length not shortest", append([]byte{tagJoin, 1, 0x83, 0x00}, good[3:]...), goodValue},
		{"origin cut", good[:len(good)-1], goodValue},
		{"origin too long", append(slices.Clip(good), 0), goodValue},
		{"no value", good, nil},
		{"no flags", good, binary.AppendVarint(nil, 5)},
		{"bad time", good, bytes.Repeat([]byte{0x80}, 11)},
		{"unknown flag", good, append(binary.AppendVarint(nil, 5), 2)},
		{"watermark key too long", []byte{tagJoin, metaWatermark, 0}, binary.AppendVarint(nil, 5)},
		{"watermark empty", watermarkKey, nil},
		{"watermark trailing bytes", watermarkKey, append(binary.AppendVarint(nil, 5), 0)},
		{"watermark cut", watermarkKey, []byte{0x80}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op := New(intervalSpec)
			if err := op.Load(tc.key, tc.value); !errors.Is(err, ErrCorruptState) {
				t.Fatalf("Load(%x, %x) = %v, want ErrCorruptState", tc.key, tc.value, err)
			}
		})
	}
	t.Run("good", func(t *testing.T) {
		op := New(intervalSpec)
		if err := op.Load(good, goodValue); err != nil {
			t.Fatal(err)
		}
		if err := op.Load(watermarkKey, binary.AppendVarint(nil, -3)); err != nil || op.Watermark() != -3 {
			t.Fatalf("Load of the watermark: %v, watermark %d", err, op.Watermark())
		}
		if err := op.Load(good, goodValue); !errors.Is(err, ErrCorruptState) {
			t.Fatalf("Load of the same row twice: %v, want ErrCorruptState", err)
		}
		// One origin under another key: a row's copy in another hopping
		// window.
		other := appendRowKey(nil, &Row{Side: Right, Key: "other", Partition: 1, Offset: 2})
		if err := op.Load(other, goodValue); err != nil {
			t.Fatalf("Load of a row with the same origin under another key: %v", err)
		}
	})
}

func FuzzLoad(f *testing.F) {
	f.Add(appendRowKey(nil, &Row{Side: Left, Key: "k", Partition: 3, Offset: -1}), appendRowValue(nil, &Row{TS: -9, Matched: true, Values: []byte("v")}))
	f.Add(appendRowKey(nil, &Row{Side: Right, Partition: math.MaxInt32, Offset: math.MaxInt64}), appendRowValue(nil, &Row{TS: math.MinInt64}))
	f.Add(slices.Clone(watermarkKey), binary.AppendVarint(nil, 42))
	f.Add([]byte{tagJoin, 0, 0xff}, []byte{})
	f.Fuzz(func(t *testing.T, key, value []byte) {
		op := New(intervalSpec)
		if err := op.Load(key, value); err != nil {
			if !errors.Is(err, ErrCorruptState) {
				t.Fatalf("Load: %v, not ErrCorruptState", err)
			}
			return
		}
		if bytes.Equal(key, watermarkKey) {
			return
		}
		// A row Load took is written back under the same key, and its
		// value reads back the same.
		if n := op.Len(); n[0]+n[1] != 1 {
			t.Fatalf("Len after loading one row = %v", n)
		}
		for _, e := range op.ids {
			if got := appendRowKey(nil, &e.row); !bytes.Equal(got, key) {
				t.Fatalf("row loaded from key %x is written back under %x", key, got)
			}
			var r Row
			if err := parseRowValue(&r, appendRowValue(nil, &e.row)); err != nil || r.TS != e.row.TS || r.Matched != e.row.Matched || !bytes.Equal(r.Values, e.row.Values) {
				t.Fatalf("row loaded from value %x does not read back: %v", value, err)
			}
		}
		op.Expire(math.MaxInt64, func(*Row) {})
	})
}

func BenchmarkAdd(b *testing.B) {
	const keyspace = 10_000
	keys := make([]string, keyspace)
	for i := range keys {
		keys[i] = fmt.Sprintf("customer-%d", i)
	}
	values := bytes.Repeat([]byte{'x'}, 64)
	rng := rand.New(rand.NewPCG(1, 1))
	op := New(Spec{Keep: [2]int64{Left: 10_000, Right: 5_000}, Outer: [2]bool{Left: true}})
	var ts int64
	var matches int
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		ts += rng.Int64N(10) // a few thousand rows in state, most keys holding none
		r := Row{Side: Side(i & 1), Key: keys[rng.IntN(keyspace)], TS: ts, Offset: int64(i), Values: values}
		err := op.Add(r, func(other *Row) (bool, error) {
			l, rr := other, &r
			if r.Side == Left {
				l, rr = &r, other
			}
			ok := rr.TS >= l.TS-5_000 && rr.TS <= l.TS+10_000
			if ok {
				matches++
			}
			return ok, nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			op.Expire(ts-100, func(*Row) {})
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(matches)/float64(b.N), "matches/row")
}

// A row the operator wrote once is deleted with SingleDelete; a row
// written by the first snapshot, written again (an outer row's first
// partner) or loaded from the store is deleted plainly.
func TestSingleDeleteOfRowsSetOnce(t *testing.T) {
	spec := Spec{Keep: [2]int64{0, 0}, Outer: [2]bool{true, false}}
	op := New(spec)
	store := map[string][]byte{}
	sets := map[string]int{}
	deletions := func(op *Operator) (singles, plain int) {
		t.Helper()
		w := &storeWriter{t: t, store: store, sets: sets, seen: map[string]bool{}}
		if err := op.ChangesTo(w); err != nil {
			t.Fatal(err)
		}
		return w.singles, w.plain
	}
	mustAdd(t, op, Row{Side: Left, Key: "snap", TS: 1, Offset: 1})
	deletions(op)                                                  // the snapshot
	mustAdd(t, op, Row{Side: Left, Key: "once", TS: 2, Offset: 2}) // set once
	mustAdd(t, op, Row{Side: Left, Key: "twice", TS: 2, Offset: 3})
	deletions(op)
	mustAdd(t, op, Row{Side: Right, Key: "twice", TS: 3, Offset: 4}) // right: set once, left "twice" again
	deletions(op)
	if err := op.Expire(10, nil); err != nil {
		t.Fatal(err)
	}
	if singles, plain := deletions(op); singles != 2 || plain != 2 {
		t.Errorf("deleted %d rows singly and %d plainly, want 2 (once, the right row) and 2 (snap, twice)", singles, plain)
	}

	// Restored: every row's history is the store's, not the operator's.
	op = New(spec)
	mustAdd(t, op, Row{Side: Left, Key: "x", TS: 20, Offset: 5})
	deletions(op)
	mustAdd(t, op, Row{Side: Left, Key: "y", TS: 20, Offset: 6})
	deletions(op)
	op = restore(t, spec, store)
	if err := op.Expire(30, nil); err != nil {
		t.Fatal(err)
	}
	if singles, plain := deletions(op); singles != 0 || plain != 2 {
		t.Errorf("after a restore, deleted %d rows singly and %d plainly, want 0 and 2", singles, plain)
	}
}

// A row of a side bounded in time, against a side kept Forever, comes
// again after the watermark dropped it (a repartition record written
// twice, replayed: not late against Forever, and its identity gone with
// it). The old row's deletion and the new row's Set share a key in one
// checkpoint: the deletion must come first, or the SingleDelete would
// take the new Set and leave the old one, set twice.
func TestRowBackAfterItsDeletion(t *testing.T) {
	op := New(Spec{Keep: [2]int64{Left: 0, Right: Forever}})
	store := map[string][]byte{}
	checkpoint(t, op, store) // the snapshot: tracking starts
	const n = 64
	rows := make([]Row, n)
	for i := range rows {
		rows[i] = Row{Side: Left, Key: "k", TS: 1, Offset: int64(i), Values: []byte{byte(i)}}
		mustAdd(t, op, rows[i])
	}
	checkpoint(t, op, store) // each set once
	if err := op.Expire(100, nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		mustAdd(t, op, r)
	}
	checkpoint(t, op, store)             // storeWriter fails a SingleDelete of a key set twice
	if got := len(store) - 1; got != n { // less the watermark's entry
		t.Errorf("the store holds %d rows after the checkpoint, want %d", got, n)
	}
	if err := op.Expire(200, nil); err != nil {
		t.Fatal(err)
	}
	checkpoint(t, op, store) // the rows set once since their deletion: single-deleted
	if len(store) != 1 {
		t.Errorf("the store holds %d entries after the last expiry, want the watermark's", len(store))
	}
}
