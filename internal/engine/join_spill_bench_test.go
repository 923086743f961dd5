package engine

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/tide-data/tide/internal/join"
	"github.com/tide-data/tide/internal/state"
	"github.com/tide-data/tide/internal/transport"
)

// BenchmarkJoinBeyondMemory measures a regular join's operator (rows kept
// for ever) over a task's real pebble store, its state mirrored there
// every 5,000 rows as a checkpoint does, with the whole state in memory
// and with budgets that hold a part of it: 64-byte rows on 50,000 join
// keys drawn uniformly (the worst case for a cache: every key as likely
// as any other), so that past the budget most rows find their key
// evicted and read it back.
//
//	go test -run '^$' -bench JoinBeyondMemory -benchtime 200000x ./internal/engine
func BenchmarkJoinBeyondMemory(b *testing.B) {
	for _, c := range []struct {
		name   string
		budget int64
	}{{"in memory", 1 << 40}, {"budget 32MiB", 32 << 20}, {"budget 16MiB", 16 << 20}, {"budget 0", 0}} {
		b.Run(c.name, func(b *testing.B) {
			store, err := state.Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = store.Close() }()
			op := join.New(join.Spec{Keep: [2]int64{join.Forever, join.Forever}, Spill: store, MaxMemory: c.budget})
			const keyspace = 50_000
			keys := make([]string, keyspace)
			for i := range keys {
				keys[i] = fmt.Sprintf("customer-%d", i)
			}
			values := bytes.Repeat([]byte{'x'}, 64)
			rng := rand.New(rand.NewPCG(1, 1))
			changelog := transport.TopicPartition{Topic: "bench.changelog"}
			var next int64
			checkpoint := func() {
				ckpt := store.NewCheckpoint(changelog)
				if err := op.Changes(ckpt.Put); err != nil {
					b.Fatal(err)
				}
				for _, r := range ckpt.Records() { // as if produced
					r.Offset, next = next, next+1
				}
				if err := store.Commit(ckpt); err != nil {
					b.Fatal(err)
				}
				op.Evict()
			}
			matches := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				r := join.Row{Side: join.Side(i & 1), Key: keys[rng.IntN(keyspace)], TS: int64(i), Offset: int64(i), Values: values}
				if err := op.Add(r, func(*join.Row) (bool, error) { matches++; return true, nil }); err != nil {
					b.Fatal(err)
				}
				if i%5000 == 4999 {
					checkpoint()
				}
			}
			b.StopTimer()
			mem, evicted := op.Memory()
			b.ReportMetric(float64(mem)/(1<<20), "MiB-in-memory")
			b.ReportMetric(float64(evicted), "rows-evicted")
			if matches == 0 && b.N > 10*keyspace {
				b.Fatal("no matches")
			}
		})
	}
}
