package cdc

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// lagTracker follows how far the capture is behind the database, in time:
// the commit timestamps of the changes it has received but not yet made
// durable in its topics.
//
// pending holds, per batch handed to the writer, the position that
// becomes durable with it (ack) and the commit time of the oldest change
// it leaves pending until then; the last entry may be open (ack 0), for
// the changes of the batch being built and of a transaction still being
// received. A transaction cut across batches keeps its commit time in the
// entries until the batch that completes it is durable. Entries are
// dropped once the writer's durable position reaches their ack: when the
// lag is read, and when a batch is submitted, so that they stay as few as
// the batches in flight on a node whose lag nobody reads.
type lagTracker struct {
	mu sync.Mutex
	// durable is the writer's durable position while streaming, nil
	// otherwise.
	durable *atomic.Uint64
	pending []pendingCommits
	// behindSince is, while not streaming, when the capture was last
	// caught up or started running.
	behindSince time.Time
}

type pendingCommits struct {
	ack    uint64    // durable position that settles them; 0 while open
	oldest time.Time // commit time of the oldest change
}

// running marks the start of a capture run (connecting, snapshot): what
// happened before it, perhaps on another worker, is not this run's lag.
func (t *lagTracker) running(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.durable == nil {
		t.behindSince = now
	}
}

// streaming starts following a stream whose writer makes durable.
func (t *lagTracker) streaming(durable *atomic.Uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.durable, t.pending, t.behindSince = durable, nil, time.Time{}
}

// stopped ends the stream: the capture is behind from its oldest change
// still pending, or from now.
func (t *lagTracker) stopped(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.behindSince = now.Add(-t.lagLocked(now))
	t.durable, t.pending = nil, nil
}

// begin notes a transaction committed at commit being received.
func (t *lagTracker) begin(commit time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := len(t.pending); n == 0 || t.pending[n-1].ack != 0 {
		t.pending = append(t.pending, pendingCommits{oldest: commit})
	}
}

// submitted notes a batch handed to the writer that makes ack durable
// (0: it completes no transaction). open says a transaction, committed at
// openCommit, is still being received past it.
func (t *lagTracker) submitted(ack uint64, open bool, openCommit time.Time) {
	if ack == 0 {
		return // what it holds stays pending in the open entry
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.settleLocked()
	if n := len(t.pending); n > 0 && t.pending[n-1].ack == 0 {
		t.pending[n-1].ack = ack
	}
	if open {
		t.pending = append(t.pending, pendingCommits{oldest: openCommit})
	}
}

// lag is how far behind the capture is at now.
func (t *lagTracker) lag(now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lagLocked(now)
}

func (t *lagTracker) lagLocked(now time.Time) time.Duration {
	if t.durable == nil {
		if t.behindSince.IsZero() {
			return 0
		}
		return max(now.Sub(t.behindSince), 0)
	}
	t.settleLocked()
	if len(t.pending) == 0 {
		return 0
	}
	// Commit times are the database's clock: a clock ahead of ours reads
	// as no lag rather than a negative one.
	return max(now.Sub(t.pending[0].oldest), 0)
}

// settleLocked drops the entries the writer has made durable.
func (t *lagTracker) settleLocked() {
	if t.durable == nil {
		return
	}
	durable := t.durable.Load()
	settled := 0
	for settled < len(t.pending) && t.pending[settled].ack != 0 && t.pending[settled].ack <= durable {
		settled++
	}
	t.pending = t.pending[settled:]
}

// Lag is how far the capture is behind the database at now: the age, by
// the database's commit timestamps, of the oldest change it has received
// and not yet made durable in its topics; 0 when it has none (caught up).
// While it is not streaming (connecting, copying a snapshot, retrying
// after an error) it is the time since it was last caught up or started
// running, which grows until it streams again. Changes the server has not
// sent yet are not seen: Slot's RetainedBytes measures those. Safe for
// concurrent use.
func (c *Capture) Lag(now time.Time) time.Duration { return c.lag.lag(now) }

// Slot looks up the capture's replication slot in the database, with a
// connection of its own; ok is false when the slot does not exist (yet).
// Each call queries the database: callers that poll cache it.
func (c *Capture) Slot(ctx context.Context) (slot Slot, ok bool, err error) {
	conn, err := connect(ctx, c.cfg.DSN)
	if err != nil {
		return Slot{}, false, err
	}
	defer conn.Close(context.Background())
	return lookupSlot(ctx, conn, c.cfg.Slot)
}

// SlotName is the name of the capture's replication slot.
func (c *Capture) SlotName() string { return c.cfg.Slot }
