package vfs

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestLockIsExclusive(t *testing.T) {
	name := filepath.Join(t.TempDir(), "LOCK")
	first, err := Default.Lock(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Default.Lock(name); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Default.Lock(name)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	_ = again.Close()
}

func TestFaultFSDiskFullWritesAPrefix(t *testing.T) {
	fsys := NewFaultFS(Default)
	name := filepath.Join(t.TempDir(), "f")
	f, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fsys.SetDiskFull(3)
	n, err := f.WriteAt([]byte("hello"), 0)
	if n != 3 || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write on a full disk: %d, %v", n, err)
	}
	fsys.SetSyncError(ErrInjected)
	if err := f.Sync(); !errors.Is(err, ErrInjected) {
		t.Fatalf("sync: %v", err)
	}
	fsys.Clear()
	if _, err := f.WriteAt([]byte("lo"), 3); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(name); string(b) != "hello" {
		t.Fatalf("file holds %q", b)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	name := filepath.Join(t.TempDir(), "meta.json")
	for _, content := range []string{"one", "two"} {
		if err := WriteFileAtomic(Default, name, []byte(content)); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(name); string(b) != content {
			t.Fatalf("holds %q, want %q", b, content)
		}
	}
	if _, err := os.Stat(name + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temporary file left: %v", err)
	}
}
