package embedded

import (
	"bytes"
	"runtime"
	"testing"
	"unsafe"
	"weak"

	"github.com/tide-data/tide/internal/record"
	"github.com/tide-data/tide/internal/transport"
)

var retentionTP = transport.TopicPartition{Topic: "t", Partition: 0}

// inBuf reports whether p points into buf's backing array.
func inBuf(p *byte, buf []byte) bool {
	if cap(buf) == 0 || p == nil {
		return false
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(buf[:1])))
	hi := lo + uintptr(cap(buf))
	a := uintptr(unsafe.Pointer(p))
	return a >= lo && a < hi
}

func retentionBatch(t *testing.T, dst []byte, n, size int, codec record.Codec) []byte {
	t.Helper()
	recs := make([]record.Record, n)
	for i := range recs {
		recs[i] = record.Record{Value: bytes.Repeat([]byte{'a' + byte(i)}, size), Timestamp: 1}
	}
	b, err := record.AppendBatch(dst, recs, record.BatchOptions{Codec: codec})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A compressed batch is read into the memory's own buf, but its records
// alias the buffer it was decompressed into: the memory is foreign, and
// giveBack must not leave that buffer referenced from the slab.
func TestFetchMemoryForgetsDecompressedBuffers(t *testing.T) {
	c := &Consumer{free: make(chan *fetchMemory, freeFetchMemory)}
	mem := &fetchMemory{buf: make([]byte, 0, 1<<20)}

	wp := func() weak.Pointer[byte] {
		// fetch: ReadCommitted appends the batches into mem.buf[:0].
		b := append(mem.buf[:0], retentionBatch(t, nil, 4, 1<<20, record.CodecZstd)...) // 4 MiB decompressed, tiny compressed
		recs, _, _, err := mem.decode(b, 0, retentionTP)
		if err != nil {
			t.Fatal(err)
		}
		if !sameMemory(b, mem.buf) {
			t.Fatalf("test premise: batch not read into buf")
		}
		for _, r := range recs {
			if !inBuf(unsafe.SliceData(r.Value), mem.buf) {
				if !mem.foreign {
					t.Errorf("record %d aliases memory outside buf, yet foreign = false", r.Offset)
				}
				break
			}
		}
		return weak.Make(unsafe.SliceData(recs[len(recs)-1].Value))
	}()
	c.giveBack(mem) // PollRecycle's done
	mem = <-c.free

	// The next fetch reads one small uncompressed record: slab[1:] stays.
	b := retentionBatch(t, mem.buf[:0], 1, 10, record.CodecNone)
	if _, _, _, err := mem.decode(b, 0, retentionTP); err != nil {
		t.Fatal(err)
	}
	c.giveBack(mem)
	for range 3 {
		runtime.GC()
	}
	if wp.Value() != nil {
		t.Errorf("the 4 MiB decompressed buffer of an earlier fetch is still reachable from a recycled fetchMemory (stale slab entries)")
	}
	runtime.KeepAlive(c)
}

// PollRecycle's collect appends a second fetch's record pointers into
// the first fetch's recs array (past its length): giveBack must clear
// them, or the first memory keeps the second's slab, and through it its
// buf, alive after the second is dropped (free list full).
func TestFetchMemoryForgetsOtherFetchesRecords(t *testing.T) {
	c := &Consumer{free: make(chan *fetchMemory, 1)} // room for one
	a := &fetchMemory{buf: make([]byte, 0, 64<<10)}
	// An earlier, larger read gave a's recs spare capacity.
	big := retentionBatch(t, a.buf[:0], 64, 10, record.CodecNone)
	if _, _, _, err := a.decode(big, 0, retentionTP); err != nil {
		t.Fatal(err)
	}
	wp := func() weak.Pointer[byte] {
		bm := &fetchMemory{buf: make([]byte, 0, 4<<20)} // a big buffer
		ba := retentionBatch(t, a.buf[:0], 1, 10, record.CodecNone)
		ra, _, _, err := a.decode(ba, 0, retentionTP)
		if err != nil {
			t.Fatal(err)
		}
		bb := retentionBatch(t, bm.buf[:0], 2, 10, record.CodecNone)
		rb, _, _, err := bm.decode(bb, 0, retentionTP)
		if err != nil {
			t.Fatal(err)
		}
		out := append(ra, rb...) // collect
		if &out[0] != &ra[0] {
			t.Fatalf("test premise: append reallocated")
		}
		c.giveBack(a)  // kept
		c.giveBack(bm) // dropped: the free list is full
		return weak.Make(unsafe.SliceData(bm.buf[:1]))
	}()
	for range 3 {
		runtime.GC()
	}
	if wp.Value() != nil {
		t.Errorf("a dropped fetchMemory's 4 MiB buf is still reachable through the kept memory's recs array")
	}
	runtime.KeepAlive(c)
}
