package log

import (
	"strings"
	"testing"
)

// A read ends where a batch starts: three batches of 400 KiB read with a
// 1 MiB limit give the first two, and a buffer of exactly their size —
// not 1 MiB of which the tail, part of the third batch, would be read
// (and zeroed, and copied) for nothing and read again by the next read.
func TestReadEndsAtABatchBoundary(t *testing.T) {
	l := mustOpen(t, t.TempDir())
	defer l.Close()
	p, _ := mustTopic(t, l, "t", 1, nil).Partition(0)
	value := strings.Repeat("x", 400<<10)
	var sizes []int
	for range 3 {
		sizes = append(sizes, len(batchOf(t, kv{value: value})))
		mustAppend(t, p, kv{value: value})
	}
	res, err := p.ReadCommitted(nil, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if want := sizes[0] + sizes[1]; len(res.Batches) != want || cap(res.Batches) != want || res.NextOffset != 2 {
		t.Fatalf("read %d bytes in a buffer of %d, next offset %d; want the first two batches, %d bytes, next offset 2",
			len(res.Batches), cap(res.Batches), res.NextOffset, want)
	}
	if res, err = p.ReadCommitted(nil, 2, 1<<20); err != nil || len(res.Batches) != sizes[2] || res.NextOffset != 3 {
		t.Fatalf("the third batch: %d bytes, next %d, %v", len(res.Batches), res.NextOffset, err)
	}
	// A batch larger than the limit is read whole, and alone.
	if res, err = p.ReadCommitted(nil, 0, 100); err != nil || len(res.Batches) != sizes[0] || res.NextOffset != 1 {
		t.Fatalf("a limit below one batch: %d bytes, next %d, %v", len(res.Batches), res.NextOffset, err)
	}
}
