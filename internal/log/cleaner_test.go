package log

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

func TestRetentionByTime(t *testing.T) {
	now := time.UnixMilli(10_000_000)
	l := mustOpen(t, t.TempDir(), WithClock(func() time.Time { return now }))
	defer l.Close()
	p, _ := mustTopic(t, l, "t", 1, map[string]string{ConfigSegmentBytes: "1024", ConfigRetentionMs: "60000"}).Partition(0)
	for i := range 100 {
		mustAppend(t, p, kv{value: seqValues(i, i+1)[0], ts: now.UnixMilli() - 120_000 + int64(i*1000)})
	}
	if err := l.Clean(context.Background()); err != nil {
		t.Fatal(err)
	}
	o := p.Offsets()
	// Records older than 60s (the first ~60) live in segments that must go,
	// but a segment holding any younger record stays.
	if o.LogStart < 40 || o.LogStart > 61 {
		t.Fatalf("log start %d after time retention", o.LogStart)
	}
	got := readAll(t, p, o.LogStart)
	if int64(len(got)) != 100-o.LogStart {
		t.Fatalf("%d records from %d", len(got), o.LogStart)
	}
	for _, r := range readAll(t, p, o.LogStart)[:1] {
		if r.Offset != o.LogStart {
			t.Fatalf("first readable offset %d", r.Offset)
		}
	}
}

func TestCompaction(t *testing.T) {
	now := time.UnixMilli(50_000_000)
	dir := t.TempDir()
	l := mustOpen(t, dir, WithClock(func() time.Time { return now }))
	p, _ := mustTopic(t, l, "kv", 1, map[string]string{
		ConfigCleanupPolicy: "compact", ConfigSegmentBytes: "2048", ConfigDeleteRetentionMs: "1000",
	}).Partition(0)

	rng := rand.New(rand.NewPCG(5, 6))
	latest := map[string]int64{}
	latestValue := map[string]string{}
	var offset int64
	for i := range 600 {
		key := fmt.Sprintf("k%d", rng.IntN(20))
		rec := kv{key: key, value: fmt.Sprintf("%s=%d", key, i), ts: now.UnixMilli() - 10_000}
		if i%50 == 0 {
			rec.nullValue = true // tombstone
		}
		res := mustAppend(t, p, rec)
		if res.BaseOffset != offset {
			t.Fatalf("append at %d", res.BaseOffset)
		}
		latest[key] = offset
		latestValue[key] = rec.value
		if rec.nullValue {
			latestValue[key] = ""
		}
		offset++
	}
	sizeBefore := p.Offsets().Size
	p.mu.Lock()
	sealedEnd := p.active().base // what this pass may compact
	p.mu.Unlock()
	// The latest offset of each key among the sealed segments.
	latestSealed := map[string]int64{}
	for _, r := range readAll(t, p, 0) {
		if r.Offset < sealedEnd {
			latestSealed[string(r.Key)] = r.Offset
		}
	}

	// Appends and reads go on while the cleaner runs.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			mustAppend(t, p, kv{key: "live", value: fmt.Sprint(i), ts: now.UnixMilli()})
			_ = readAll(t, p, 0)
		}
	})
	if err := l.Clean(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()

	o := p.Offsets()
	if o.Size >= sizeBefore {
		t.Fatalf("compaction did not shrink the log: %d -> %d", sizeBefore, o.Size)
	}
	var prev int64 = -1
	for _, r := range readAll(t, p, 0) {
		if r.Offset <= prev {
			t.Fatalf("offsets out of order: %d after %d", r.Offset, prev)
		}
		prev = r.Offset
		k := string(r.Key)
		if k == "live" {
			continue
		}
		if r.Offset < sealedEnd && r.Offset != latestSealed[k] {
			t.Fatalf("key %s: superseded offset %d survives in a sealed segment", k, r.Offset)
		}
		if r.Value == nil && r.Offset < sealedEnd {
			// Tombstones older than delete.retention.ms must be gone.
			t.Fatalf("expired tombstone for %s at %d survived", k, r.Offset)
		}
	}
	// Every key's latest record survives with its original offset, unless
	// it is an expired tombstone.
	for k, off := range latest {
		if latestValue[k] == "" {
			continue
		}
		res, err := p.Read(off, 1)
		if err != nil || len(res.Batches) == 0 {
			t.Fatalf("latest of %s at %d unreadable: %v", k, off, err)
		}
	}
	recs := readAll(t, p, 0)
	byOffset := map[int64]string{}
	for _, r := range recs {
		byOffset[r.Offset] = string(r.Value)
	}
	for k, off := range latest {
		if v := latestValue[k]; v != "" && byOffset[off] != v {
			t.Fatalf("key %s: offset %d holds %q, want %q", k, off, byOffset[off], v)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// The compacted files recover as they are.
	l = mustOpen(t, dir)
	defer l.Close()
	if got := len(readAll(t, partitionOf(t, l, "kv", 0), 0)); got != len(recs) {
		t.Fatalf("after reopen %d records, before %d", got, len(recs))
	}
}
