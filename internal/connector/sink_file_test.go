package connector

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func newTestFileSink(t *testing.T, opts map[string]string) *fileSink {
	t.Helper()
	s, err := NewFile(opts, Env{Pipeline: "orders_out"})
	if err != nil {
		t.Fatal(err)
	}
	return s.(*fileSink)
}

// dirFiles returns the names in dir, sorted, split into finished and
// in-progress files.
func dirFiles(t *testing.T, dir string) (finished, inProgress []string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), inProgressSuffix) {
			inProgress = append(inProgress, e.Name())
		} else {
			finished = append(finished, e.Name())
		}
	}
	return finished, inProgress
}

// fileLines returns the lines of the named files in dir, in order.
func fileLines(t *testing.T, dir string, names []string) []string {
	t.Helper()
	var lines []string
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 0 && b[len(b)-1] != '\n' {
			t.Fatalf("%s ends in a torn line: %q", n, b)
		}
		lines = append(lines, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
	}
	return lines
}

func TestFileSinkRotatesBySize(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	s := newTestFileSink(t, map[string]string{"path": dir, "rotation.bytes": "20"})
	ctx := context.Background()
	for i := range 6 {
		if err := s.Write(ctx, outputs(fmt.Sprintf(`{"n":%d}`, i), fmt.Sprintf(`{"m":%d}`, i))); err != nil { // 16 bytes a batch
			t.Fatal(err)
		}
	}
	finished, inProgress := dirFiles(t, dir)
	if len(finished) != 5 || len(inProgress) != 1 {
		t.Fatalf("finished %v, in progress %v: want 5 and 1 (one batch per file)", finished, inProgress)
	}
	if !strings.HasPrefix(finished[0], "orders_out-") || !strings.HasSuffix(finished[0], ".ndjson") {
		t.Errorf("file name %s", finished[0])
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	finished, inProgress = dirFiles(t, dir)
	if len(finished) != 6 || len(inProgress) != 0 {
		t.Fatalf("after close: finished %v, in progress %v", finished, inProgress)
	}
	lines := fileLines(t, dir, finished)
	if len(lines) != 12 || lines[0] != `{"n":0}` || lines[11] != `{"m":5}` {
		t.Fatalf("lines %q", lines)
	}
	if err := s.Write(ctx, outputs("x")); err == nil {
		t.Fatal("write after close succeeded")
	}
}

func TestFileSinkRotatesByTime(t *testing.T) {
	dir := t.TempDir()
	s := newTestFileSink(t, map[string]string{"path": dir, "rotation.interval": "150ms"})
	ctx := context.Background()
	if err := s.Write(ctx, outputs("1")); err != nil {
		t.Fatal(err)
	}
	// An idle file is finished by its timer, without another write.
	eventually(t, "the idle file to be finished", func() bool {
		finished, inProgress := dirFiles(t, dir)
		return len(finished) == 1 && len(inProgress) == 0
	})
	// A write into an old file rotates it first.
	if err := s.Write(ctx, outputs("2")); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.mu.cur.opened = time.Now().Add(-time.Hour)
	s.mu.Unlock()
	if err := s.Write(ctx, outputs("3")); err != nil {
		t.Fatal(err)
	}
	finished, inProgress := dirFiles(t, dir)
	if len(finished) != 2 || len(inProgress) != 1 {
		t.Fatalf("finished %v, in progress %v", finished, inProgress)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	finished, _ = dirFiles(t, dir)
	if got := fileLines(t, dir, finished); !slices.Equal(got, []string{"1", "2", "3"}) {
		t.Fatalf("lines %q", got)
	}
}

func TestFileSinkRecoversAfterCrash(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := newTestFileSink(t, map[string]string{"path": dir})
	if err := s.Write(ctx, outputs("a", "b")); err != nil {
		t.Fatal(err)
	}
	// A crash: the sink is never closed, and the batch being written when
	// it happened left a torn line.
	_, inProgress := dirFiles(t, dir)
	if len(inProgress) != 1 {
		t.Fatalf("in progress %v", inProgress)
	}
	crashed := filepath.Join(dir, inProgress[0])
	f, err := os.OpenFile(crashed, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("c\n{\"torn"); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	// Another sink's leftovers are not ours to touch.
	other := filepath.Join(dir, "other-20260101T000000.000Z-000001.ndjson"+inProgressSuffix)
	if err := os.WriteFile(other, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.mu.cur.timer.Stop()
	s.mu.cur.f.Close()
	s.mu.cur = nil
	s.mu.Unlock()

	s2 := newTestFileSink(t, map[string]string{"path": dir})
	if _, inProgress := dirFiles(t, dir); len(inProgress) != 2 {
		t.Fatalf("the constructor touched files: %v", inProgress)
	}
	if err := s2.Write(ctx, outputs("d")); err != nil {
		t.Fatal(err)
	}
	if err := s2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	finished, inProgress := dirFiles(t, dir)
	if !slices.Equal(inProgress, []string{filepath.Base(other)}) || len(finished) != 2 {
		t.Fatalf("finished %v, in progress %v", finished, inProgress)
	}
	// The crashed file keeps its whole lines, the torn one is cut; the new
	// run wrote a file of its own.
	if got := fileLines(t, dir, finished); !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Fatalf("lines %q", got)
	}
	if finished[0] != strings.TrimSuffix(filepath.Base(crashed), inProgressSuffix) {
		t.Fatalf("recovered file %s, want %s", finished[0], crashed)
	}
}

func TestFileSinkConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	s := newTestFileSink(t, map[string]string{"path": dir, "rotation.bytes": "4096"})
	ctx := context.Background()
	const writers, batches, perBatch = 4, 25, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				vals := make([]string, perBatch)
				for i := range vals {
					vals[i] = fmt.Sprintf(`{"w":%d,"b":%d,"i":%d}`, w, b, i)
				}
				if err := s.Write(ctx, outputs(vals...)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	finished, inProgress := dirFiles(t, dir)
	if len(inProgress) != 0 || len(finished) < 2 {
		t.Fatalf("finished %v, in progress %v", finished, inProgress)
	}
	lines := fileLines(t, dir, finished)
	if len(lines) != writers*batches*perBatch {
		t.Fatalf("%d lines, want %d", len(lines), writers*batches*perBatch)
	}
	// Each batch is contiguous, and each writer's batches are in order.
	last := map[int]int{}
	for i := 0; i < len(lines); i += perBatch {
		var w, b, n int
		if _, err := fmt.Sscanf(lines[i], `{"w":%d,"b":%d,"i":%d}`, &w, &b, &n); err != nil || n != 0 {
			t.Fatalf("line %d = %s: not the start of a batch", i, lines[i])
		}
		for j := 1; j < perBatch; j++ {
			if want := fmt.Sprintf(`{"w":%d,"b":%d,"i":%d}`, w, b, j); lines[i+j] != want {
				t.Fatalf("line %d = %s, want %s", i+j, lines[i+j], want)
			}
		}
		if prev, ok := last[w]; ok && b != prev+1 {
			t.Fatalf("writer %d: batch %d after %d", w, b, prev)
		}
		last[w] = b
	}
}

func TestFileSinkRejectsNewlines(t *testing.T) {
	dir := t.TempDir()
	s := newTestFileSink(t, map[string]string{"path": dir})
	rej := rejections(t, s.Write(context.Background(), outputs("ok", "two\nlines", "fine")))
	if len(rej) != 1 || rej[0].Index != 1 || rej[0].Code != "file_newline" {
		t.Fatalf("rejections %+v", rej)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	finished, _ := dirFiles(t, dir)
	if got := fileLines(t, dir, finished); !slices.Equal(got, []string{"ok", "fine"}) {
		t.Fatalf("lines %q", got)
	}
}

func TestFileSinkOptions(t *testing.T) {
	for _, tc := range []struct {
		opts map[string]string
		want string
	}{
		{map[string]string{}, "option 'path' is required"},
		{map[string]string{"path": "/tmp/x", "rotation.bytes": "0"}, "rotation.bytes"},
		{map[string]string{"path": "/tmp/x", "rotation.interval": "soon"}, "rotation.interval"},
		{map[string]string{"path": "/tmp/x", "prefix": "a/b"}, "prefix"},
		{map[string]string{"path": "/tmp/x", "roll": "1"}, "unknown option 'roll'"},
	} {
		_, err := NewFile(tc.opts, Env{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.opts, err, tc.want)
		}
	}
	dir := filepath.Join(t.TempDir(), "never")
	if err := CheckSink("file", map[string]string{"path": dir}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("CheckSink created the directory: %v", err)
	}
}
