package log

import (
	"sync/atomic"
	"testing"
	"time"
)

// Stats counts what producers appended, not the retries answered from an
// idempotent producer's history, and agrees with the partition's bounds;
// the counters start again at 0 when the log is reopened.
func TestPartitionStats(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir)
	p, _ := mustTopic(t, l, "t", 2, map[string]string{ConfigSegmentBytes: "1024"}).Partition(1)
	if st := p.Stats(); st != (Stats{Offsets: Offsets{Segments: 1}}) {
		t.Fatalf("stats of an empty partition: %+v", st)
	}
	var bytes int64
	for i := range 20 {
		b := batchOf(t, kv{value: seqValues(i, i+1)[0]}, kv{value: "x"}, kv{value: "y"})
		bytes += int64(len(b))
		if _, err := p.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	retried := idempotentBatch(t, 9, 0, 0, 4)
	if _, err := p.Append(retried); err != nil {
		t.Fatal(err)
	}
	bytes += int64(len(retried))
	if res, err := p.Append(idempotentBatch(t, 9, 0, 0, 4)); err != nil || !res.Duplicate {
		t.Fatalf("retry: %+v %v", res, err)
	}
	st := p.Stats()
	if st.AppendedRecords != 64 || st.AppendedBytes != bytes {
		t.Errorf("appended %d records, %d bytes; want 64, %d", st.AppendedRecords, st.AppendedBytes, bytes)
	}
	if st.Offsets != p.Offsets() || st.HighWatermark != 64 || st.LogStart != 0 || st.Size != bytes || st.Segments < 2 {
		t.Errorf("stats %+v against offsets %+v: want hw 64, %d bytes in several segments", st, p.Offsets(), bytes)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, dir)
	defer l.Close()
	st = partitionOf(t, l, "t", 1).Stats()
	if st.AppendedRecords != 0 || st.AppendedBytes != 0 || st.HighWatermark != 64 || st.Size != bytes {
		t.Errorf("after reopen: %+v, want counters at 0 and the bounds kept", st)
	}
}

// The fsync observer sees every fsync of a segment file: one per append
// with fsync=always when appends do not overlap, none with fsync=never
// until the flush at close.
func TestFsyncObserver(t *testing.T) {
	var fsyncs atomic.Int64
	var total atomic.Int64
	l := mustOpen(t, t.TempDir(), WithFsyncObserver(func(d time.Duration) {
		if d < 0 {
			t.Errorf("negative fsync duration %v", d)
		}
		fsyncs.Add(1)
		total.Add(int64(d))
	}))
	always, _ := mustTopic(t, l, "always", 1, map[string]string{ConfigFsync: string(FsyncAlways)}).Partition(0)
	never, _ := mustTopic(t, l, "never", 1, map[string]string{ConfigFsync: string(FsyncNever)}).Partition(0)
	for range 5 {
		mustAppend(t, never, kv{value: "v"})
	}
	if n := fsyncs.Load(); n != 0 {
		t.Errorf("%d fsyncs after appends with fsync=never, want 0", n)
	}
	for range 7 {
		mustAppend(t, always, kv{value: "v"})
	}
	if n := fsyncs.Load(); n != 7 {
		t.Errorf("%d fsyncs after 7 appends with fsync=always, want 7", n)
	}
	if total.Load() <= 0 {
		t.Error("fsyncs took no time at all")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if n := fsyncs.Load(); n != 9 {
		t.Errorf("%d fsyncs after close, want 9 (one more per partition)", n)
	}
}
