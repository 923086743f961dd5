package join

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// mapSpill is a store over the map checkpoint writes: what a task's
// state store is to the operator.
type mapSpill struct {
	store map[string][]byte
	scans int
	fail  error
}

func (m *mapSpill) ScanPrefix(prefix []byte, fn func(key, value []byte) error) error {
	if m.fail != nil {
		return m.fail
	}
	m.scans++
	var keys []string
	for k := range m.store {
		if strings.HasPrefix(k, string(prefix)) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := fn([]byte(k), m.store[k]); err != nil {
			return err
		}
	}
	return nil
}

// An operator that evicts keys beyond a small MaxMemory after each
// checkpoint, and is restored from its store now and then (loading past
// MaxMemory leaves keys in the store), matches and expires exactly what
// one that keeps everything in memory does — interval and regular joins
// (rows kept for ever), outer sides included — and its store ends the
// same.
func TestSpillMatchesMemory(t *testing.T) {
	for _, tc := range []struct {
		name   string
		keep   [2]int64
		budget int64
	}{
		{"interval", intervalSpec.Keep, 2 << 10},
		{"regular", [2]int64{Forever, Forever}, 24 << 10},
		{"one side for ever", [2]int64{Forever, 10}, 24 << 10},
	} {
		for seed := range uint64(3) {
			t.Run(fmt.Sprintf("%s/%d", tc.name, seed), func(t *testing.T) {
				spec := Spec{Keep: tc.keep, Outer: [2]bool{true, seed%2 == 0}}
				rng := rand.New(rand.NewPCG(seed, 9))
				const disorder = 20
				rows := genRows(rng, 3000, 200, disorder)
				storeA, storeB := map[string][]byte{}, map[string][]byte{}
				spill := &mapSpill{store: storeB}
				spilling := spec
				spilling.Spill, spilling.MaxMemory = spill, tc.budget
				a := newDriver(t, New(spec), disorder, 4)
				b := newDriver(t, New(spilling), disorder, 4)
				evicted, restores := 0, 0
				for i, r := range rows {
					a.add(r)
					b.add(r)
					if i%50 == 49 {
						checkpoint(t, a.op, storeA)
						checkpoint(t, b.op, storeB)
						b.op.Evict()
						// Within budget, unless the evicted keys' records
						// alone are past it (then no row is left).
						if m, cold := b.op.Memory(); m > spilling.MaxMemory && b.op.Len() != [2]int{} {
							t.Fatalf("after Evict: %d bytes in memory (budget %d), %d rows evicted", m, spilling.MaxMemory, cold)
						} else {
							evicted = max(evicted, cold)
						}
						checkKeysWhole(t, b.op)
					}
					if i%700 == 699 { // a restart: the state comes back from the store
						restores++
						maxTS, n := b.maxTS, b.n
						b.op = restore(t, spilling, storeB)
						b.op.Evict()
						b.maxTS, b.n = maxTS, n
						checkKeysWhole(t, b.op)
					}
				}
				a.expire(math.MaxInt64 - 1)
				b.expire(math.MaxInt64 - 1)
				checkpoint(t, a.op, storeA)
				checkpoint(t, b.op, storeB)
				if !slices.Equal(a.log, b.log) {
					for i := range min(len(a.log), len(b.log)) {
						if a.log[i] != b.log[i] {
							t.Fatalf("first difference (step %d):\nin memory: %s\nspilling:  %s", i, a.log[i], b.log[i])
						}
					}
					t.Fatalf("logs of %d and %d steps", len(a.log), len(b.log))
				}
				if !maps.EqualFunc(storeA, storeB, bytes.Equal) {
					t.Error("the stores differ")
				}
				if tc.keep[Left] != Forever && tc.keep[Right] != Forever {
					a.check(rows, spec.Outer) // rows kept for ever are never handed over
				}
				if evicted == 0 || spill.scans == 0 || restores == 0 {
					t.Errorf("evicted at most %d rows, %d scans, %d restores: the test proves nothing", evicted, spill.scans, restores)
				}
				t.Logf("evicted up to %d rows, %d keys read back", evicted, spill.scans/2)
			})
		}
	}
}

// checkKeysWhole checks that a key's rows are all in memory or all
// evicted, and the counts add up.
func checkKeysWhole(t *testing.T, op *Operator) {
	t.Helper()
	rows := 0
	for key, c := range op.cold {
		if op.keys[Left][key] != nil || op.keys[Right][key] != nil {
			t.Fatalf("key %q both in memory and evicted", key)
		}
		rows += c.rows
	}
	if _, cold := op.Memory(); cold != rows {
		t.Fatalf("Memory reports %d rows evicted, the keys hold %d", cold, rows)
	}
}

// A failure to read evicted rows back is an ErrSpill, from Add and from
// Expire.
func TestSpillReadError(t *testing.T) {
	store := map[string][]byte{}
	spill := &mapSpill{store: store}
	op := New(Spec{Keep: [2]int64{10, 10}, Spill: spill, MaxMemory: 1})
	mustAdd(t, op, Row{Side: Left, Key: "a", TS: 1, Offset: 1, Values: []byte("x")})
	checkpoint(t, op, store)
	op.Evict()
	if _, cold := op.Memory(); cold != 1 {
		t.Fatalf("%d rows evicted, want 1", cold)
	}
	spill.fail = errors.New("disk on fire")
	err := op.Add(Row{Side: Right, Key: "a", TS: 2, Offset: 2}, func(*Row) (bool, error) { return true, nil })
	if !errors.Is(err, ErrSpill) || !errors.Is(err, spill.fail) {
		t.Errorf("Add: %v, want an ErrSpill wrapping the store's error", err)
	}
	op = New(Spec{Keep: [2]int64{10, 10}, Spill: spill, MaxMemory: 1})
	spill.fail = nil
	mustAdd(t, op, Row{Side: Left, Key: "b", TS: 1, Offset: 3, Values: []byte("y")})
	checkpoint(t, op, store)
	op.Evict()
	spill.fail = errors.New("disk on fire")
	if err := op.Expire(100, nil); !errors.Is(err, ErrSpill) {
		t.Errorf("Expire: %v, want an ErrSpill", err)
	}
}

// Evict waits for pending changes: a dropped row still in the store
// would come back with its key.
func TestEvictWaitsForChanges(t *testing.T) {
	store := map[string][]byte{}
	op := New(Spec{Keep: [2]int64{10, 10}, Spill: &mapSpill{store: store}, MaxMemory: 1})
	mustAdd(t, op, Row{Side: Left, Key: "a", TS: 1, Offset: 1})
	mustAdd(t, op, Row{Side: Left, Key: "a", TS: 50, Offset: 2})
	checkpoint(t, op, store)
	if err := op.Expire(30, nil); err != nil { // drops offset 1: its deletion pending
		t.Fatal(err)
	}
	op.Evict()
	if _, cold := op.Memory(); cold != 0 {
		t.Fatalf("evicted with a change pending")
	}
	checkpoint(t, op, store)
	op.Evict()
	if _, cold := op.Memory(); cold != 1 {
		t.Fatalf("%d rows evicted after the checkpoint, want the one left", cold)
	}
}
