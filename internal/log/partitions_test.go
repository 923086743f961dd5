package log

import (
	"fmt"
	"sync"
	"testing"
)

// TestTenThousandPartitions: open file handles stay bounded however many
// partitions are written and read.
func TestTenThousandPartitions(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 10,000 partitions")
	}
	dir := t.TempDir()
	const n, maxOpen = 10_000, 256
	l := mustOpen(t, dir, WithMaxOpenFiles(maxOpen))
	tp := mustTopic(t, l, "wide", n, nil)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for id := int32(w); id < n; id += 8 {
				p, _ := tp.Partition(id)
				mustAppend(t, p, kv{value: fmt.Sprint(id)})
			}
		})
	}
	wg.Wait()
	if open := l.OpenFiles(); open > maxOpen {
		t.Fatalf("%d files open, cap %d", open, maxOpen)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, dir, WithMaxOpenFiles(maxOpen))
	defer l.Close()
	tp, _ = l.Topic("wide")
	for id := int32(0); id < n; id += 37 {
		p, _ := tp.Partition(id)
		if got := values(readAll(t, p, 0)); len(got) != 1 || got[0] != fmt.Sprint(id) {
			t.Fatalf("partition %d holds %v", id, got)
		}
	}
	if open := l.OpenFiles(); open > maxOpen {
		t.Fatalf("%d files open after reads, cap %d", open, maxOpen)
	}
}

// TestConcurrentAppendAndRead runs appenders and followers on the same
// partitions; under -race this checks the locking.
func TestConcurrentAppendAndRead(t *testing.T) {
	l := mustOpen(t, t.TempDir())
	defer l.Close()
	tp := mustTopic(t, l, "c", 4, map[string]string{ConfigSegmentBytes: "4096"})
	const per = 300
	var wg sync.WaitGroup
	for _, p := range tp.Partitions() {
		wg.Go(func() {
			for i := range per {
				mustAppend(t, p, kv{value: seqValues(i, i+1)[0]})
			}
		})
		wg.Go(func() {
			var next int64
			for next < per {
				if err := p.Wait(t.Context(), next); err != nil {
					t.Error(err)
					return
				}
				recs := readAll(t, p, next)
				for _, r := range recs {
					if r.Offset != next || string(r.Value) != fmt.Sprintf("v%d", next) {
						t.Errorf("%s: got %d %q at %d", p, r.Offset, r.Value, next)
						return
					}
					next++
				}
			}
		})
	}
	wg.Wait()
}
