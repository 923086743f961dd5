package log

import (
	"context"
	"errors"
	"github.com/tide-data/tide/internal/record"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestAppendReadReopen(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir)
	tp := mustTopic(t, l, "orders", 3, map[string]string{ConfigSegmentBytes: "2048"})
	p, _ := tp.Partition(1)
	for i := range 100 {
		res := mustAppend(t, p, kv{key: "k", value: seqValues(i, i+1)[0], ts: int64(1000 + i)})
		if res.BaseOffset != int64(i) || res.LastOffset != int64(i) {
			t.Fatalf("append %d landed at %+v", i, res)
		}
	}
	if got := values(readAll(t, p, 0)); !slices.Equal(got, seqValues(0, 100)) {
		t.Fatalf("read back %v", got)
	}
	if o := p.Offsets(); o.Segments < 2 || o.HighWatermark != 100 {
		t.Fatalf("offsets %+v: want several segments and hw 100", o)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l = mustOpen(t, dir)
	defer l.Close()
	if !l.CleanStart() {
		t.Error("reopen after Close was not seen as clean")
	}
	p = partitionOf(t, l, "orders", 1)
	if got := values(readAll(t, p, 37)); !slices.Equal(got, seqValues(37, 100)) {
		t.Fatalf("after reopen read back %v", got)
	}
	if res := mustAppend(t, p, kv{value: "v100"}); res.BaseOffset != 100 {
		t.Fatalf("append after reopen at %d, want 100", res.BaseOffset)
	}
	if tp2, _ := l.Topic("orders"); tp2.Config().SegmentBytes != 2048 {
		t.Errorf("override lost on reopen: %+v", tp2.Config())
	}
}

func TestMultiBatchAppendAndOffsets(t *testing.T) {
	l := mustOpen(t, t.TempDir())
	defer l.Close()
	p, _ := mustTopic(t, l, "t", 1, nil).Partition(0)
	b := append(batchOf(t, kv{value: "a"}, kv{value: "b"}), batchOf(t, kv{value: "c"})...)
	res, err := p.Append(b)
	if err != nil {
		t.Fatal(err)
	}
	if res.BaseOffset != 0 || res.LastOffset != 2 {
		t.Fatalf("got %+v", res)
	}
	// A read at offset 1 returns the batch holding it, starting at 0.
	r, err := p.Read(1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Batches) == 0 || r.HighWatermark != 3 {
		t.Fatalf("read at 1: %d bytes, hw %d", len(r.Batches), r.HighWatermark)
	}
	if _, err := p.Read(4, 100); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read past end: %v", err)
	}
	if r, err := p.Read(3, 100); err != nil || len(r.Batches) != 0 {
		t.Fatalf("read at end: %v, %d bytes", err, len(r.Batches))
	}
}

func TestBadInput(t *testing.T) {
	l := mustOpen(t, t.TempDir())
	defer l.Close()
	for _, name := range []string{"", ".", "..", "a/b", "sp ace", string(make([]byte, 250))} {
		if _, err := l.CreateTopic(name, 1, nil); !errors.Is(err, ErrInvalidTopic) {
			t.Errorf("topic %q: %v", name, err)
		}
	}
	if _, err := l.CreateTopic("t", 0, nil); !errors.Is(err, ErrInvalidPartitions) {
		t.Errorf("0 partitions: %v", err)
	}
	if _, err := l.CreateTopic("t", 1, map[string]string{"retention.ms": "soon"}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("bad config: %v", err)
	}
	if _, err := l.CreateTopic("t", 1, map[string]string{"no.such.key": "1"}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("unknown key: %v", err)
	}
	tp := mustTopic(t, l, "t", 1, map[string]string{ConfigMaxMessageBytes: "200"})
	if _, err := l.CreateTopic("t", 1, nil); !errors.Is(err, ErrTopicExists) {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := tp.Partition(1); !errors.Is(err, ErrUnknownPartition) {
		t.Errorf("partition 1: %v", err)
	}
	if _, err := l.Topic("nope"); !errors.Is(err, ErrUnknownTopic) {
		t.Errorf("unknown topic: %v", err)
	}
	p, _ := tp.Partition(0)
	big := batchOf(t, kv{value: string(make([]byte, 300))})
	if _, err := p.Append(big); !errors.Is(err, ErrMessageTooLarge) {
		t.Errorf("oversize batch: %v", err)
	}
	bad := batchOf(t, kv{value: "hello"})
	bad[len(bad)-1] ^= 0xff
	if _, err := p.Append(bad); !IsCorrupt(err) {
		t.Errorf("bad crc: %v", err)
	}
	if _, err := p.Append(bad[:30]); !IsCorrupt(err) {
		t.Errorf("short batch: %v", err)
	}
	// Nothing above was appended.
	if o := p.Offsets(); o.HighWatermark != 0 {
		t.Errorf("rejected appends moved hw to %d", o.HighWatermark)
	}
	mustAppend(t, p, kv{value: "fine"})
}

func TestDataDirLock(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir)
	if _, err := Open(dir); !errors.Is(err, ErrDataDirInUse) {
		t.Fatalf("second open: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := mustOpen(t, dir)
	_ = l2.Close()
}

func TestDeleteTopic(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir)
	p, _ := mustTopic(t, l, "gone", 2, nil).Partition(0)
	mustAppend(t, p, kv{value: "x"})
	if err := l.DeleteTopic("gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Append(batchOf(t, kv{value: "y"})); !errors.Is(err, ErrClosed) {
		t.Fatalf("append to deleted topic: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, topicsDir, "gone")); !os.IsNotExist(err) {
		t.Fatalf("directory still there: %v", err)
	}
	// The name is free again, with fresh offsets.
	p, _ = mustTopic(t, l, "gone", 1, nil).Partition(0)
	if res := mustAppend(t, p, kv{value: "z"}); res.BaseOffset != 0 {
		t.Fatalf("recreated topic starts at %d", res.BaseOffset)
	}
	_ = l.Close()
}

func TestWaitForData(t *testing.T) {
	l := mustOpen(t, t.TempDir())
	defer l.Close()
	p, _ := mustTopic(t, l, "t", 1, nil).Partition(0)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := p.Wait(ctx, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait on empty partition: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Wait(context.Background(), 2) }()
	mustAppend(t, p, kv{value: "a"}, kv{value: "b"})
	select {
	case err := <-done:
		t.Fatalf("woke before offset 2 existed: %v", err)
	case <-time.After(10 * time.Millisecond):
	}
	mustAppend(t, p, kv{value: "c"})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestOffsetForTime(t *testing.T) {
	l := mustOpen(t, t.TempDir())
	defer l.Close()
	p, _ := mustTopic(t, l, "t", 1, map[string]string{ConfigSegmentBytes: "1024"}).Partition(0)
	// Timestamps rise with gaps; batch 2 holds an out-of-order record.
	for i := range 50 {
		mustAppend(t, p, kv{value: "x", ts: int64(i * 10)}, kv{value: "y", ts: int64(i*10 + 5)})
	}
	cases := []struct{ ts, offset, found int64 }{
		{0, 0, 0}, {1, 1, 5}, {5, 1, 5}, {6, 2, 10}, {245, 49, 245}, {490, 98, 490}, {496, -1, -1},
	}
	for _, c := range cases {
		off, ts, err := p.OffsetForTime(c.ts)
		if err != nil || off != c.offset || ts != c.found {
			t.Errorf("OffsetForTime(%d) = %d, %d, %v; want %d, %d", c.ts, off, ts, err, c.offset, c.found)
		}
	}
}

func TestGroupCommitSharesFsyncs(t *testing.T) {
	fsys := newCountingFS()
	l := mustOpen(t, t.TempDir(), WithFS(fsys))
	defer l.Close()
	p, _ := mustTopic(t, l, "t", 1, nil).Partition(0)
	const writers, each = 64, 50
	before := fsys.syncs.Load()
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			b := batchOf(t, kv{value: "0123456789"})
			for range each {
				if _, err := p.Append(b); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	syncs := fsys.syncs.Load() - before
	if p.Offsets().HighWatermark != writers*each {
		t.Fatalf("hw %d", p.Offsets().HighWatermark)
	}
	t.Logf("%d appends took %d fsyncs", writers*each, syncs)
	if syncs > writers*each/4 {
		t.Fatalf("%d appends took %d fsyncs: group commit is not sharing them", writers*each, syncs)
	}
}

func TestFsyncModes(t *testing.T) {
	for _, mode := range []FsyncMode{FsyncInterval, FsyncNever} {
		t.Run(string(mode), func(t *testing.T) {
			fsys := newCountingFS()
			dir := t.TempDir()
			l := mustOpen(t, dir, WithFS(fsys))
			p, _ := mustTopic(t, l, "t", 1, map[string]string{ConfigFsync: string(mode), ConfigFsyncIntervalMs: "5"}).Partition(0)
			before := fsys.syncs.Load()
			for i := range 200 {
				mustAppend(t, p, kv{value: seqValues(i, i+1)[0]})
			}
			// Written data is visible at once in these modes.
			if got := len(readAll(t, p, 0)); got != 200 {
				t.Fatalf("read %d records", got)
			}
			if mode == FsyncInterval {
				deadline := time.Now().Add(2 * time.Second)
				for fsys.syncs.Load() == before && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond)
				}
				if fsys.syncs.Load() == before {
					t.Fatal("interval flusher never synced")
				}
			}
			if mode == FsyncNever && fsys.syncs.Load() != before {
				t.Fatalf("fsync=never synced %d times", fsys.syncs.Load()-before)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = mustOpen(t, dir)
			defer l.Close()
			if got := values(readAll(t, partitionOf(t, l, "t", 0), 0)); !slices.Equal(got, seqValues(0, 200)) {
				t.Fatalf("after reopen: %d records", len(got))
			}
		})
	}
}

func TestLeaderEpochsDetectTruncation(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir)
	p, _ := mustTopic(t, l, "t", 1, map[string]string{ConfigFsync: "never"}).Partition(0)
	for i := range 10 {
		mustAppend(t, p, kv{value: seqValues(i, i+1)[0]})
	}
	if e := p.LeaderEpoch(); e != 0 {
		t.Fatalf("epoch %d on a new partition", e)
	}
	_ = l.Close()

	// A clean restart keeps the epoch.
	l = mustOpen(t, dir)
	p = partitionOf(t, l, "t", 0)
	if e := p.LeaderEpoch(); e != 0 {
		t.Fatalf("epoch %d after clean restart", e)
	}
	for i := 10; i < 20; i++ {
		mustAppend(t, p, kv{value: seqValues(i, i+1)[0]})
	}
	seg := func() string { p.mu.Lock(); defer p.mu.Unlock(); return p.active().logPath }()
	abandon(t, l)

	// A reader saw offsets up to 20 in epoch 0; the crash cuts the tail.
	info, _ := os.Stat(seg)
	if err := os.Truncate(seg, info.Size()-5); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, dir)
	defer l.Close()
	p = partitionOf(t, l, "t", 0)
	if e := p.LeaderEpoch(); e != 1 {
		t.Fatalf("epoch %d after unclean restart, want 1", e)
	}
	epoch, end := p.EpochEndOffset(0)
	if epoch != 0 || end != 19 {
		t.Fatalf("EpochEndOffset(0) = %d, %d; want 0, 19: the reader at 20 must see the cut", epoch, end)
	}
	res, err := p.Append(batchOf(t, kv{value: "new"}))
	if err != nil || res.BaseOffset != 19 {
		t.Fatalf("append: %+v %v", res, err)
	}
	if epoch, end := p.EpochEndOffset(1); epoch != 1 || end != 20 {
		t.Fatalf("EpochEndOffset(1) = %d, %d", epoch, end)
	}
	if epoch, _ := p.EpochEndOffset(-1); epoch != -1 {
		t.Fatalf("EpochEndOffset(-1) = %d", epoch)
	}
	r, _ := p.Read(19, 1000)
	if h, _ := record.ParseHeader(r.Batches); h.PartitionLeaderEpoch != 1 {
		t.Fatalf("new batch stamped with epoch %d", h.PartitionLeaderEpoch)
	}
}
