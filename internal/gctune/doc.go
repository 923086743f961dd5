// Package gctune paces Go's garbage collector for a server whose live heap
// is small beside the rate it allocates at.
//
// With the default GOGC=100 the collector runs whenever the heap has grown
// by its live size. A Tide node streaming a million events a second keeps
// a few tens of MiB live and allocates ~500 bytes an event (read buffers,
// record and message slabs, decoded strings), so it collected many times a
// second, and each cycle's fixed work, mark assists and write barriers
// cost a tenth of a pipeline's CPU (docs/BENCHMARKS.md, issue 4).
//
// A Tuner gives the heap a floor: after every collection it sets the GC
// percentage so that the next one starts at max(MinHeap, 2 × live heap).
// Below the floor the collector waits; above it GOGC=100 pacing is
// unchanged, so a node with a large live heap (join or aggregation state)
// keeps Go's usual bound of twice its live heap. This is the pattern of
// Uber's and TiDB's GC tuners; a memory limit (GOMEMLIMIT) alone would do
// the opposite of what is wanted for a large live heap (collect
// continuously once the live heap neared it).
//
// The percentage is set after each collection ends, for the next: the
// collection that finds a live heap grown past half the floor sets its
// goal from the percentage meant for the old one, many times the floor
// after a burst, until the tuner notices (its sentinel swept and its
// cleanup run: under load, a while later). While the percentage is above
// GOGC's default the tuner therefore also sets a memory limit of twice
// the floor, which the runtime enforces at once: in that window the heap
// stays near the limit (collected more often), and the cleanup then sets
// GOGC=100 and lifts the limit. Measured with the backpressure test's
// bursts (docs/BENCHMARKS.md): without that limit a burst's peak RSS rose
// from 500 to 742 MiB.
//
// The user's own GOGC in the environment always wins: the tuner does not
// start then. A GOMEMLIMIT in the environment is left as it is (the tuner
// sets no limit of its own then).
package gctune
