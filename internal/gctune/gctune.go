package gctune

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// DefaultMinHeap is the heap floor tide serve and tide bench use: about a
// quarter of the 512 MiB a node is promised to stay under in a burst
// (issue 5), where ingestion's in-flight limit and the consumers' budgets
// already hold their share.
const DefaultMinHeap = 128 << 20

// basePercent is GOGC's default: above the floor, the collector paces as
// Go's default does.
const basePercent = 100

// liveMetric is the heap the last collection marked live.
const liveMetric = "/gc/heap/live:bytes"

// Tuner keeps the collector from starting before the heap reaches a floor.
// There is one per process (the GC percentage is the process's): Start
// while one runs shares it, and it stops with the last Stop.
type Tuner struct {
	minHeap uint64
	stopped atomic.Bool
	cycles  atomic.Uint64

	mu        sync.Mutex // serializes retune (Start's call and the cleanups')
	percent   int
	userLimit bool // GOMEMLIMIT is set: the tuner leaves the limit alone
	sample    []metrics.Sample
}

var (
	activeMu sync.Mutex
	active   *Tuner // the running tuner, if any
	users    int    // Starts not yet stopped
)

// sentinel is allocated once per collection cycle; its cleanup running
// means a cycle has ended. It holds a pointer and is larger than 16
// bytes so that the tiny allocator, whose blocks can outlive any one of
// their objects, never hands it out.
type sentinel struct {
	_ *Tuner
	_ [3]uint64
}

// Start makes the collector wait until the heap reaches minHeap bytes
// (0: do nothing). It returns nil, leaving the collector alone, when
// GOGC is set in the environment. While a tuner runs, Start returns it
// (with its floor: the first Start's) and counts one more Stop to come.
func Start(minHeap uint64) *Tuner {
	if minHeap == 0 || os.Getenv("GOGC") != "" {
		return nil
	}
	activeMu.Lock()
	defer activeMu.Unlock()
	if active != nil {
		users++
		return active
	}
	t := &Tuner{minHeap: minHeap, userLimit: os.Getenv("GOMEMLIMIT") != "", sample: []metrics.Sample{{Name: liveMetric}}}
	t.retune()
	t.arm()
	active, users = t, 1
	return t
}

// Stop gives the tuner up; the last Stop restores GOGC=100 pacing (the
// tuner's cleanup then stops at the next collection). Stop on a nil Tuner
// does nothing.
func (t *Tuner) Stop() {
	if t == nil {
		return
	}
	activeMu.Lock()
	defer activeMu.Unlock()
	if active != t {
		return // stopped already
	}
	if users--; users > 0 {
		return
	}
	active = nil
	t.stopped.Store(true)
	t.mu.Lock()
	defer t.mu.Unlock()
	debug.SetGCPercent(basePercent)
	t.setLimit(math.MaxInt64)
	t.percent = basePercent
}

// Percent is the GC percentage the tuner last set (0 for a nil Tuner).
func (t *Tuner) Percent() int {
	if t == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.percent
}

// Cycles is how many collections the tuner has seen end (0 for a nil
// Tuner).
func (t *Tuner) Cycles() uint64 {
	if t == nil {
		return 0
	}
	return t.cycles.Load()
}

// arm allocates this cycle's sentinel and drops it: the cleanup runs
// after the collection that finds it unreachable.
func (t *Tuner) arm() {
	s := new(sentinel)
	runtime.AddCleanup(s, (*Tuner).collected, t)
}

func (t *Tuner) collected() {
	if t.stopped.Load() {
		return
	}
	t.cycles.Add(1)
	t.retune()
	t.arm()
}

// retune sets the percentage that starts the next collection at
// max(minHeap, 2 × live).
func (t *Tuner) retune() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped.Load() {
		return
	}
	metrics.Read(t.sample)
	var live uint64
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		live = t.sample[0].Value.Uint64()
	}
	// Set every time, not only on a change: it is cheap once a cycle,
	// and undoes anything else in the process that set it meanwhile.
	t.percent = Percent(live, t.minHeap)
	if t.percent > basePercent {
		t.setLimit(guardLimit(t.minHeap))
		debug.SetGCPercent(t.percent)
	} else {
		debug.SetGCPercent(t.percent)
		t.setLimit(math.MaxInt64)
	}
}

// guardLimit is the memory limit that holds while the percentage is above
// GOGC's default: a collection ends by setting the next one's goal from
// the percentage the tuner set for the heap it found live the time before,
// and the tuner learns of the collection only when its sentinel is swept
// and the cleanup runs — under load, a while later. A live heap that grew
// many times over in between (a burst) would get a goal that many times
// the floor. The runtime enforces the limit itself, at once: the heap then
// stays near it, collected as often as needed, until the cleanup sets
// GOGC=100 pacing again and lifts it.
func guardLimit(minHeap uint64) int64 {
	return int64(min(2*minHeap, math.MaxInt64/2))
}

// setLimit sets the runtime's memory limit, unless GOMEMLIMIT is the
// user's.
func (t *Tuner) setLimit(bytes int64) {
	if t.userLimit {
		return
	}
	debug.SetMemoryLimit(bytes)
}

// Percent is the GC percentage under which a heap of live bytes grows to
// minHeap before the next collection, and never below GOGC's default. A
// live heap not yet measured (0, before the first collection) counts as
// the runtime's own 4 MiB minimum.
func Percent(live, minHeap uint64) int {
	live = max(live, 4<<20)
	if live >= minHeap/2 {
		return basePercent
	}
	// live × (1 + p/100) = minHeap, within the int32 the runtime keeps
	// it in (a larger one would wrap, negative turning collection off).
	return int(min((minHeap-live)/live*100+(minHeap-live)%live*100/live, math.MaxInt32))
}
