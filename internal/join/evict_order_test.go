package join

import (
	"bytes"
	"testing"
)

// Evict drops the keys no row reached since the last Evict first: a key
// with rows on both sides is visited once (a visit of each side would
// clear its mark with the first and evict it with the second). With the
// unreferenced key enough to bring memory within the target, the key just
// added to on both sides stays, whatever the maps' iteration order.
func TestEvictSparesReferencedKeys(t *testing.T) {
	hotEvicted := 0
	const trials = 40
	for range trials {
		store := map[string][]byte{}
		op := New(Spec{Keep: [2]int64{Forever, Forever}, Spill: &mapSpill{store: store}, MaxMemory: 2000})
		big := bytes.Repeat([]byte("v"), 1000)
		mustAdd(t, op, Row{Side: Right, Key: "a", Offset: 1, Values: big})
		mustAdd(t, op, Row{Side: Right, Key: "b", Offset: 2, Values: big})
		checkpoint(t, op, store)
		op.Evict() // the first pass clears both marks, the second evicts one of them
		var cold string
		switch {
		case op.keys[Right]["a"] != nil && op.keys[Right]["b"] == nil:
			cold = "a"
		case op.keys[Right]["b"] != nil && op.keys[Right]["a"] == nil:
			cold = "b"
		default:
			t.Fatalf("setup: memory %d, keys %v", op.memory, op.keys)
		}
		// cold: in memory, no row reached it since the last Evict.
		mustAdd(t, op, Row{Side: Left, Key: "hot", Offset: 3, Values: []byte("x")})
		mustAdd(t, op, Row{Side: Right, Key: "hot", Offset: 4, Values: []byte("x")})
		checkpoint(t, op, store)
		before := op.memory
		op.Evict()
		if op.cold[cold] == nil {
			t.Fatalf("the unreferenced key %q was not evicted (memory %d -> %d)", cold, before, op.memory)
		}
		if op.cold["hot"] != nil {
			hotEvicted++
		}
	}
	if hotEvicted > 0 {
		t.Errorf("in %d of %d runs the key reached since the last Evict (rows on both sides) was evicted although evicting the unreferenced key alone brought memory within the target", hotEvicted, trials)
	}
}
