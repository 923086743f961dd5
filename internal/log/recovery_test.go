package log

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// crashCopy leaves dir as an unclean shutdown would: the log is abandoned
// without Close (its lock released as the process exit would release it).
func abandon(t *testing.T, l *Log) {
	t.Helper()
	l.mu.Lock()
	l.mu.closed = true
	l.mu.Unlock()
	close(l.stop)
	l.wg.Wait()
	_ = l.lock.Close()
}

// fillPartition writes n single-record batches and returns the active
// segment's path.
func fillPartition(t *testing.T, dir string, n int) string {
	t.Helper()
	l := mustOpen(t, dir)
	p, _ := mustTopic(t, l, "t", 1, map[string]string{ConfigSegmentBytes: "4096"}).Partition(0)
	for i := range n {
		mustAppend(t, p, kv{value: seqValues(i, i+1)[0], ts: int64(i)})
	}
	p.mu.Lock()
	path := p.active().logPath
	p.mu.Unlock()
	abandon(t, l)
	return path
}

func TestTornTailIsCut(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			dir := t.TempDir()
			seg := fillPartition(t, dir, 150)
			data, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			cut := rng.IntN(len(data) + 1)
			if err := os.Truncate(seg, int64(cut)); err != nil {
				t.Fatal(err)
			}
			l := mustOpen(t, dir)
			defer l.Close()
			if l.CleanStart() {
				t.Fatal("abandoned log seen as clean")
			}
			p := partitionOf(t, l, "t", 0)
			got := values(readAll(t, p, 0))
			hw := p.Offsets().HighWatermark
			if !slices.Equal(got, seqValues(0, int(hw))) {
				t.Fatalf("after cut at %d/%d: %d records, not a prefix", cut, len(data), len(got))
			}
			if hw == 150 && cut < len(data) {
				t.Fatalf("cut at %d/%d lost nothing", cut, len(data))
			}
			if res := mustAppend(t, p, kv{value: "after"}); res.BaseOffset != hw {
				t.Fatalf("append after recovery at %d, want %d", res.BaseOffset, hw)
			}
		})
	}
}

func TestGarbageTailIsCut(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 10 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			dir := t.TempDir()
			seg := fillPartition(t, dir, 100)
			// Garbage appended to a sealed segment and to the active one.
			segs, _ := filepath.Glob(filepath.Join(filepath.Dir(seg), "*.log"))
			for _, s := range []string{segs[0], seg} {
				garbage := make([]byte, 1+rng.IntN(300))
				for j := range garbage {
					garbage[j] = byte(rng.IntN(256))
				}
				if i%2 == 1 {
					// A plausible header: right magic, a length that fits.
					copy(garbage, batchOf(t, kv{value: "forged"}))
					garbage[len(garbage)-1] ^= 1
				}
				f, err := os.OpenFile(s, os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = f.Write(garbage)
				_ = f.Close()
			}
			l := mustOpen(t, dir)
			defer l.Close()
			p := partitionOf(t, l, "t", 0)
			if got := values(readAll(t, p, 0)); !slices.Equal(got, seqValues(0, 100)) {
				t.Fatalf("read %d records after garbage", len(got))
			}
			if res := mustAppend(t, p, kv{value: "after"}); res.BaseOffset != 100 {
				t.Fatalf("append at %d", res.BaseOffset)
			}
		})
	}
}

func TestBadIndexesAreRebuilt(t *testing.T) {
	dir := t.TempDir()
	seg := fillPartition(t, dir, 200)
	l := mustOpen(t, dir) // recover and close cleanly, so every index is written
	_ = l.Close()
	indexes, _ := filepath.Glob(filepath.Join(filepath.Dir(seg), "*.index"))
	if len(indexes) < 3 {
		t.Fatalf("only %d index files", len(indexes))
	}
	_ = os.Remove(indexes[0])                               // missing
	_ = os.WriteFile(indexes[1], []byte("garbage!"), 0o644) // wrong size
	b, _ := os.ReadFile(indexes[2])
	for i := range b { // right size, wrong content
		b[i] = byte(i * 7)
	}
	_ = os.WriteFile(indexes[2], b, 0o644)

	l = mustOpen(t, dir)
	defer l.Close()
	p := partitionOf(t, l, "t", 0)
	for _, from := range []int64{0, 17, 99, 150, 199} {
		if got := values(readAll(t, p, from)); !slices.Equal(got, seqValues(int(from), 200)) {
			t.Fatalf("read from %d: %d records", from, len(got))
		}
	}
	if off, _, _ := p.OffsetForTime(120); off != 120 {
		t.Fatalf("timestamp search after index rebuild: %d", off)
	}
}

func TestInterruptedTopicCreateAndDelete(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir)
	mustTopic(t, l, "keep", 1, nil)
	_ = l.Close()
	for _, leftover := range []string{creatingPrefix + "half", deletingPrefix + "old-123"} {
		if err := os.MkdirAll(filepath.Join(dir, topicsDir, leftover, "0"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	l = mustOpen(t, dir)
	defer l.Close()
	if n := len(l.Topics()); n != 1 {
		t.Fatalf("%d topics", n)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, topicsDir))
	if len(entries) != 1 {
		t.Fatalf("leftovers not removed: %v", entries)
	}
}
