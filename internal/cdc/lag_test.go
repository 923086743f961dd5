package cdc

import (
	"sync/atomic"
	"testing"
	"time"
)

// The lag is the age of the oldest change received and not yet durable,
// whatever the batches the transactions are cut into; 0 once everything
// received is durable; and, while not streaming, the time since the
// capture was last caught up.
func TestLagTracker(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	var tr lagTracker
	check := func(now int, want int) {
		t.Helper()
		if got := tr.lag(at(now)); got != time.Duration(want)*time.Second {
			t.Errorf("lag at %ds = %v, want %ds", now, got, want)
		}
	}
	check(0, 0) // never ran
	tr.running(at(0))
	check(5, 5) // connecting, copying a snapshot
	var durable atomic.Uint64
	durable.Store(100)
	tr.streaming(&durable)
	check(6, 0)

	// T1 (committed at 10) and T2 (at 11) in one batch, durable at 200.
	tr.begin(at(10))
	tr.begin(at(11))
	check(12, 2)
	tr.submitted(200, false, time.Time{})
	check(13, 3)
	durable.Store(200)
	check(14, 0)

	// T3 (at 20) is cut across batches: the first completes nothing; the
	// second completes T3 and begins T4 (at 21), left open; the third
	// completes T4.
	tr.begin(at(20))
	tr.submitted(0, true, at(20))
	check(22, 2)
	tr.begin(at(21))
	tr.submitted(300, true, at(21))
	check(23, 3)
	durable.Store(300)
	check(24, 3) // T3 durable: T4's age now
	tr.submitted(400, false, time.Time{})
	check(25, 4)
	durable.Store(400)
	check(25, 0)

	// A transaction open across a flush that completes an earlier one.
	tr.begin(at(30))
	tr.submitted(450, false, time.Time{}) // T5 complete
	tr.begin(at(31))                      // T6 begins
	tr.submitted(0, true, at(31))         // cut inside T6
	durable.Store(450)
	check(33, 2)
	tr.submitted(500, false, time.Time{})
	durable.Store(500)
	check(34, 0)

	// A heartbeat alone moves the position without pending anything.
	tr.submitted(550, false, time.Time{})
	check(35, 0)

	// The stream ends with T7 (at 40) pending: behind since its commit.
	tr.begin(at(40))
	tr.stopped(at(42))
	check(45, 5)
	// Caught up when it stopped: behind from then.
	tr.streaming(&durable)
	tr.stopped(at(50))
	check(53, 3)
	// A database clock ahead of ours is no lag.
	tr.streaming(&durable)
	tr.begin(at(70))
	check(60, 0)
}

// Settled entries are dropped as batches are submitted, not only when the
// lag is read: a node nobody scrapes must not keep one entry per batch it
// ever wrote.
func TestLagTrackerBoundedWithoutReads(t *testing.T) {
	var tr lagTracker
	var durable atomic.Uint64
	tr.streaming(&durable)
	t0 := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	for i := range uint64(10_000) {
		tr.begin(t0.Add(time.Duration(i) * time.Millisecond))
		tr.submitted(i+1, false, time.Time{})
		durable.Store(i + 1) // the writer makes each batch durable
	}
	tr.mu.Lock()
	n := len(tr.pending)
	tr.mu.Unlock()
	if n > 2 {
		t.Errorf("%d entries pending after 10000 durable batches, none read", n)
	}
	if got := tr.lag(t0.Add(time.Hour)); got != 0 {
		t.Errorf("lag %v, want 0", got)
	}
}
