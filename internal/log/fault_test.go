package log

import (
	"errors"
	"slices"
	"syscall"
	"testing"

	"github.com/tide-data/tide/internal/vfs"
)

func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	fsys := vfs.NewFaultFS(vfs.Default)
	l := mustOpen(t, dir, WithFS(fsys))
	p, _ := mustTopic(t, l, "t", 1, nil).Partition(0)
	for i := range 10 {
		mustAppend(t, p, kv{value: seqValues(i, i+1)[0]})
	}
	fsys.SetDiskFull(20) // the next batch is written only in part
	_, err := p.Append(batchOf(t, kv{value: "lost"}))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("append on a full disk: %v", err)
	}
	fsys.Clear()
	// Sticky: even with space back, this partition refuses until reopened.
	if _, err := p.Append(batchOf(t, kv{value: "refused"})); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("append after a failed write: %v", err)
	}
	if got := values(readAll(t, p, 0)); !slices.Equal(got, seqValues(0, 10)) {
		t.Fatalf("readers see %v", got)
	}
	if err := l.Close(); err == nil {
		t.Fatal("Close of a failed log reported success")
	}

	l = mustOpen(t, dir, WithFS(fsys))
	defer l.Close()
	if l.CleanStart() {
		t.Fatal("a log that failed must not leave a clean-shutdown marker")
	}
	p = partitionOf(t, l, "t", 0)
	if got := values(readAll(t, p, 0)); !slices.Equal(got, seqValues(0, 10)) {
		t.Fatalf("after reopen: %v", got)
	}
	if res := mustAppend(t, p, kv{value: "v10"}); res.BaseOffset != 10 {
		t.Fatalf("append after recovery at %d", res.BaseOffset)
	}
}

func TestFsyncFailure(t *testing.T) {
	dir := t.TempDir()
	fsys := vfs.NewFaultFS(vfs.Default)
	l := mustOpen(t, dir, WithFS(fsys))
	p, _ := mustTopic(t, l, "t", 1, nil).Partition(0)
	for i := range 5 {
		mustAppend(t, p, kv{value: seqValues(i, i+1)[0]})
	}
	fsys.SetSyncError(vfs.ErrInjected)
	if _, err := p.Append(batchOf(t, kv{value: "unsure"})); !errors.Is(err, vfs.ErrInjected) {
		t.Fatalf("append with failing fsync: %v", err)
	}
	// The record that failed to sync is not visible: it was never promised.
	if hw := p.Offsets().HighWatermark; hw != 5 {
		t.Fatalf("hw %d after failed fsync", hw)
	}
	fsys.Clear()
	if _, err := p.Append(batchOf(t, kv{value: "refused"})); !errors.Is(err, vfs.ErrInjected) {
		t.Fatalf("append after failed fsync: %v", err)
	}
	_ = l.Close()

	l = mustOpen(t, dir, WithFS(fsys))
	defer l.Close()
	p = partitionOf(t, l, "t", 0)
	got := values(readAll(t, p, 0))
	// The unsynced record may or may not have reached the disk; everything
	// acknowledged must be there, in order.
	if len(got) < 5 || !slices.Equal(got[:5], seqValues(0, 5)) {
		t.Fatalf("after reopen: %v", got)
	}
	mustAppend(t, p, kv{value: "works"})
}
