package vfs

import (
	"errors"
	"io"
	"io/fs"
	"sync"
	"syscall"
)

// ErrInjected is the error FaultFS returns for an injected fsync failure.
var ErrInjected = errors.New("vfs: injected fault")

// FaultFS wraps an FS and injects faults into file writes and syncs.
type FaultFS struct {
	FS
	mu struct {
		sync.Mutex
		// writeBudget is how many more bytes writes may store before they
		// fail with ENOSPC; negative means unlimited.
		writeBudget int64
		syncErr     error
	}
}

// NewFaultFS returns a FaultFS over base with no faults armed.
func NewFaultFS(base FS) *FaultFS {
	f := &FaultFS{FS: base}
	f.mu.writeBudget = -1
	return f
}

// SetDiskFull makes writes fail with ENOSPC once budget more bytes have been
// written; a write that crosses the budget stores only its first part, as a
// real full disk does. A negative budget clears the fault.
func (f *FaultFS) SetDiskFull(budget int64) {
	f.mu.Lock()
	f.mu.writeBudget = budget
	f.mu.Unlock()
}

// SetSyncError makes every Sync and SyncDir fail with err; nil clears it.
func (f *FaultFS) SetSyncError(err error) {
	f.mu.Lock()
	f.mu.syncErr = err
	f.mu.Unlock()
}

// Clear removes every armed fault.
func (f *FaultFS) Clear() {
	f.SetDiskFull(-1)
	f.SetSyncError(nil)
}

func (f *FaultFS) syncError() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.syncErr
}

// allow reports how many of n bytes may be written now.
func (f *FaultFS) allow(n int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.writeBudget < 0 {
		return n
	}
	if int64(n) > f.mu.writeBudget {
		n = int(f.mu.writeBudget)
	}
	f.mu.writeBudget -= int64(n)
	return n
}

// OpenFile implements FS.
func (f *FaultFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f}, nil
}

// SyncDir implements FS.
func (f *FaultFS) SyncDir(dir string) error {
	if err := f.syncError(); err != nil {
		return err
	}
	return f.FS.SyncDir(dir)
}

// Lock implements FS.
func (f *FaultFS) Lock(name string) (io.Closer, error) { return f.FS.Lock(name) }

type faultFile struct {
	File
	fs *FaultFS
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	allowed := f.fs.allow(len(p))
	n, err := f.File.WriteAt(p[:allowed], off)
	if err == nil && allowed < len(p) {
		err = &fs.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	return n, err
}

func (f *faultFile) Sync() error {
	if err := f.fs.syncError(); err != nil {
		return err
	}
	return f.File.Sync()
}
