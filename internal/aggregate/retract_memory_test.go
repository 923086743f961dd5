package aggregate

import (
	"runtime"
	"testing"

	"github.com/tide-data/tide/internal/sql/expr"
	"github.com/tide-data/tide/internal/sql/types"
)

// liveHeap is the heap in use after two collections.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// The operator's memory budget (state.memory) is kept by Memory(), which
// estimates a group from its checkpoint entry plus what its accumulators
// hold in memory beyond it: a retracting min or max keeps every distinct
// value (expr.Accumulator.Held). Over 200,000 distinct values the heap
// the group takes is within twice what Memory reports.
func TestRetractingGroupMemoryEstimated(t *testing.T) {
	for _, c := range []struct {
		name     string
		distinct bool
		kind     types.Kind
		val      func(i int) types.Value
	}{
		{"max", false, types.KindInt8, func(i int) types.Value { return types.NewInt8(int64(i)) }},
		{"max", false, types.KindNumeric, func(i int) types.Value {
			v, err := types.ParseText(types.KindNumeric, types.NewInt8(int64(i)).String()+".5")
			if err != nil {
				t.Fatal(err)
			}
			return v
		}},
	} {
		agg, err := expr.NewAggregate(c.name, false, c.distinct, c.kind)
		if err != nil {
			t.Fatal(err)
		}
		star, err := expr.NewAggregate("count", true, false, types.KindNull)
		if err != nil {
			t.Fatal(err)
		}
		const n = 200_000
		vals := make([]types.Value, n)
		for i := range vals {
			vals[i] = c.val(i)
		}
		before := liveHeap()
		op, err := New(Spec{Aggs: []expr.Aggregate{agg, star}, Retract: true, Spill: mapSpill{}, MaxMemory: 1 << 40})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			if _, err := op.Add("g", 0, []types.Value{v, {}}); err != nil {
				t.Fatal(err)
			}
		}
		// A checkpoint measures the group (its entry is not kept here).
		if err := op.Changes(func(key, value []byte) error { return nil }); err != nil {
			t.Fatal(err)
		}
		held := int64(liveHeap() - before)
		reported, _ := op.Memory()
		runtime.KeepAlive(op)
		runtime.KeepAlive(vals)
		t.Logf("%s(distinct %v) of %s over %d distinct values: Memory %d bytes, heap %d bytes (%.1fx)",
			c.name, c.distinct, c.kind, n, reported, held, float64(held)/float64(reported))
		if held > 2*reported {
			t.Errorf("%s(distinct %v) of %s: the group takes %d bytes of heap, Memory reports %d (%.1fx under)",
				c.name, c.distinct, c.kind, held, reported, float64(held)/float64(reported))
		}
	}
}
