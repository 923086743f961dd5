//go:build linux && (amd64 || arm64)

package vfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// Sync goes through AIO where the kernel has it (this one does: the CI
// machines run Linux 6.x), concurrently for many files, each caller
// getting its own file's result; an fsync of a file opened read-only
// succeeds as fsync(2) does; one of a closed file fails with the path.
func TestSyncThroughAIO(t *testing.T) {
	if aioSyncerOnce() == nil {
		t.Skip("no Linux AIO here (io_setup refused): Sync is the plain fsync")
	}
	dir := t.TempDir()
	before := aioSyncs.Load()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Go(func() {
			f, err := Default.OpenFile(filepath.Join(dir, fmt.Sprint(i)), os.O_RDWR|os.O_CREATE, 0o644)
			if err != nil {
				errs <- err
				return
			}
			defer f.Close()
			for j := range 5 {
				if _, err := f.WriteAt([]byte("record\n"), int64(j*7)); err != nil {
					errs <- err
					return
				}
				if err := f.Sync(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := aioSyncs.Load() - before; got != 64*5 {
		t.Errorf("%d of %d fsyncs went through AIO", got, 64*5)
	}
	ro, err := Default.OpenFile(filepath.Join(dir, "0"), os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := ro.Sync(); err != nil {
		t.Errorf("fsync of a read-only file: %v", err)
	}
	_ = ro.Close()
	if err := ro.Sync(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("fsync of a closed file: %v, want os.ErrClosed", err)
	}
}
