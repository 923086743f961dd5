//go:build linux && (amd64 || arm64)

package vfs

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Thousands of concurrent Syncs over many files, on the test's disk and on
// tmpfs, with files closed at random while others sync them. Every call must return (watchdog), every error
// must be os.ErrClosed for its own file's path, and the AIO path must have
// been taken, including batches larger than the reaper's 64-event buffer.
func TestAIOSyncStress(t *testing.T) {
	if aioSyncerOnce() == nil {
		t.Skip("no Linux AIO")
	}
	dirs := []string{t.TempDir()}
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "aiosync-review")
		if err == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			dirs = append(dirs, d)
		}
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			const files, workers, rounds = 256, 2048, 8
			before := aioSyncs.Load()
			fs := make([]File, files)
			names := make([]string, files)
			for i := range fs {
				names[i] = filepath.Join(dir, fmt.Sprint(i))
				f, err := Default.OpenFile(names[i], os.O_RDWR|os.O_CREATE, 0o644)
				if err != nil {
					t.Fatal(err)
				}
				fs[i] = f
			}
			var closed [files]atomic.Bool
			var calls, nils, closedErrs atomic.Int64
			done := make(chan struct{})
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					r := rand.New(rand.NewPCG(uint64(w), 1))
					for range rounds {
						i := r.IntN(files)
						f := fs[i]
						if r.IntN(200) == 0 {
							closed[i].Store(true)
							_ = f.Close()
							continue
						}
						_, _ = f.WriteAt([]byte("x"), int64(r.IntN(4096)))
						wasClosed := closed[i].Load()
						err := f.Sync()
						calls.Add(1)
						switch {
						case err == nil:
							nils.Add(1)
						case errors.Is(err, os.ErrClosed):
							closedErrs.Add(1)
							var pe *os.PathError
							if !errors.As(err, &pe) || pe.Path != names[i] || pe.Op != "sync" {
								t.Errorf("file %d: %v", i, err)
							}
							if !closed[i].Load() {
								t.Errorf("file %d: ErrClosed for an open file", i)
							}
						default:
							t.Errorf("file %d (closed before: %v): %v", i, wasClosed, err)
						}
					}
				})
			}
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(240 * time.Second):
				t.Fatalf("Syncs still waiting after 240s: %d of %d returned", calls.Load(), workers*rounds)
			}
			for _, f := range fs {
				_ = f.Close()
			}
			t.Logf("%d syncs: %d nil, %d ErrClosed, %d through AIO", calls.Load(), nils.Load(), closedErrs.Load(), aioSyncs.Load()-before)
			if aioSyncs.Load() == before {
				t.Error("no fsync went through AIO")
			}
		})
	}
}
