package gctune

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live, minHeap uint64
		want          int
	}{
		{0, 128 * mib, 3100},              // not measured yet: the runtime's 4 MiB
		{4 * mib, 128 * mib, 3100},        // 4 MiB × 32 = 128 MiB
		{16 * mib, 128 * mib, 700},        // 16 MiB × 8
		{63 * mib, 128 * mib, 103},        // just under half: a little above GOGC=100
		{64 * mib, 128 * mib, 100},        // half: GOGC=100 reaches the floor itself
		{900 * mib, 128 * mib, 100},       // a large live heap keeps Go's 2× bound
		{2 * mib, 4 * mib, 100},           // a floor under the runtime's minimum
		{10 * mib, 1 << 40, 10485660},     // a huge floor: a huge percentage, no overflow
		{4 * mib, 1 << 47, math.MaxInt32}, // past the runtime's int32: clamped, not wrapped (negative: GC off)
		{4 * mib, 1 << 62, math.MaxInt32},
	} {
		if got := Percent(c.live, c.minHeap); got != c.want {
			t.Errorf("Percent(%d MiB, %d MiB) = %d, want %d", c.live/mib, c.minHeap/mib, got, c.want)
		}
	}
}

// The user's GOGC wins, and a floor of 0 turns the tuner off: neither
// touches the collector.
func TestStartLeavesTheCollectorAlone(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	t.Setenv("GOGC", "150")
	if tu := Start(128 << 20); tu != nil {
		t.Fatal("started although GOGC is set")
	}
	t.Setenv("GOGC", "")
	if tu := Start(0); tu != nil {
		t.Fatal("started with a floor of 0")
	}
	if p := debug.SetGCPercent(100); p != 100 {
		t.Fatalf("GC percent changed to %d", p)
	}
}

// Started, the tuner sets the percentage that lets this small heap grow
// to the floor, follows every collection, and Stop restores GOGC=100.
func TestTunerFollowsCollections(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	t.Setenv("GOGC", "")
	const floor = 256 << 20
	tu := Start(floor)
	if tu == nil {
		t.Fatal("not started")
	}
	if p := tu.Percent(); p <= 100 {
		t.Fatalf("percent %d with a test's small heap and a 256 MiB floor", p)
	}
	// Cleanups run on their own goroutine after the collection.
	collect(t, tu, 3)
	// A live heap past half the floor brings GOGC=100 pacing back.
	ballast := make([]byte, floor/2+(16<<20))
	for i := range ballast {
		ballast[i] = 1 // live and touched, as a real heap would be
	}
	collect(t, tu, 2)
	if p := tu.Percent(); p != 100 {
		t.Errorf("percent %d with %d MiB live and a %d MiB floor, want 100", p, len(ballast)>>20, floor>>20)
	}
	runtime.KeepAlive(ballast)
	tu.Stop()
	if p := debug.SetGCPercent(100); p != 100 {
		t.Errorf("after Stop the percent is %d", p)
	}
}

// One tuner per process: a second Start shares the running one, its Stop
// leaves it running (and setting the percentage after each collection),
// and the last Stop restores GOGC=100.
func TestTunerShared(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	t.Setenv("GOGC", "")
	a := Start(128 << 20)
	b := Start(256 << 20)
	if a == nil || b != a {
		t.Fatalf("two tuners: %p and %p", a, b)
	}
	a.Stop()
	debug.SetGCPercent(100) // as anything else in the process might
	collect(t, b, 2)        // the shared tuner still follows collections
	if p := debug.SetGCPercent(100); p != b.Percent() || p <= 100 {
		t.Errorf("after one Stop of two the collector's percent is %d, the tuner's %d", p, b.Percent())
	}
	b.Stop()
	b.Stop() // once more: nothing
	if p := debug.SetGCPercent(100); p != 100 {
		t.Errorf("after the last Stop the percent is %d", p)
	}
	if c := Start(128 << 20); c == a {
		t.Error("a stopped tuner started again")
	} else {
		c.Stop()
	}
}

// While the percentage is above GOGC's default, a memory limit of twice
// the floor guards the window before the tuner notices a collection;
// Stop lifts it; a GOMEMLIMIT of the user's is left alone.
func TestTunerGuardLimit(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	limitBefore := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(limitBefore)
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	// Far above any heap a test before this one left live (a ballast of
	// over 128 MiB in TestTunerFollowsCollections): the percent is raised.
	const floor = 16 << 30
	tu := Start(floor)
	if tu.Percent() <= 100 {
		t.Fatalf("percent %d with a test's small heap", tu.Percent())
	}
	if l := debug.SetMemoryLimit(-1); l != 2*floor {
		t.Errorf("memory limit %d, want %d", l, 2*floor)
	}
	tu.Stop()
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		t.Errorf("after Stop the memory limit is %d", l)
	}
	debug.SetMemoryLimit(1 << 40)
	t.Setenv("GOMEMLIMIT", "1TiB")
	tu = Start(floor)
	defer tu.Stop()
	if l := debug.SetMemoryLimit(-1); l != 1<<40 {
		t.Errorf("the user's limit became %d", l)
	}
}

// collect runs collections until the tuner has seen n more end (its
// cleanups run on their own goroutine after each), failing after 500.
func collect(t *testing.T, tu *Tuner, n uint64) {
	t.Helper()
	seen := tu.Cycles()
	for i := 0; tu.Cycles() < seen+n; i++ {
		if i == 500 {
			t.Fatalf("the tuner saw %d of %d collections", tu.Cycles()-seen, n)
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}
