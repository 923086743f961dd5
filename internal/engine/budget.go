package engine

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/tide-data/tide/internal/connector"
)

// DefaultPipelineBufferBytes is Config.PipelineBufferBytes when unset: the
// bytes of input one pipeline may hold in its task queues and tasks.
const DefaultPipelineBufferBytes = 64 << 20

// budget bounds the bytes of input batches a pipeline holds between its
// dispatcher and their acknowledgement, across all its partitions' tasks:
// the per-partition queues bound the batches, this bounds the bytes, so a
// stalled pipeline's memory no longer grows with its partition count.
//
// The dispatcher (one goroutine) acquires; tasks release, from any
// goroutine, as they acknowledge or release batches. A batch larger than
// the whole budget is admitted when nothing else is held, so it passes
// alone instead of waiting for ever.
type budget struct {
	limit int64
	mu    struct {
		sync.Mutex
		held int64
		peak int64 // the most ever held, for tests and diagnostics
		// wake, when not nil, is closed by the next release: a waiter
		// is in acquire.
		wake chan struct{}
	}
}

func newBudget(limit int64) *budget {
	return &budget{limit: limit}
}

// acquire takes n bytes, waiting while that would pass the limit (unless
// nothing is held). It returns ctx.Err() if ctx ends first, having taken
// nothing.
func (b *budget) acquire(ctx context.Context, n int64) error {
	for {
		b.mu.Lock()
		if b.mu.held == 0 || b.mu.held+n <= b.limit {
			b.mu.held += n
			b.mu.peak = max(b.mu.peak, b.mu.held)
			b.mu.Unlock()
			return nil
		}
		if b.mu.wake == nil {
			b.mu.wake = make(chan struct{})
		}
		wake := b.mu.wake
		b.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// tryAcquire takes n bytes if that needs no waiting.
func (b *budget) tryAcquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mu.held == 0 || b.mu.held+n <= b.limit {
		b.mu.held += n
		b.mu.peak = max(b.mu.peak, b.mu.held)
		return true
	}
	return false
}

// release gives back n bytes taken by acquire.
func (b *budget) release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mu.held -= n
	if b.mu.wake != nil {
		close(b.mu.wake)
		b.mu.wake = nil
	}
}

// budgetStats is a snapshot of a budget.
type budgetStats struct {
	Held, Peak, Limit int64
	Waiting           bool // the dispatcher waits for bytes to be released
}

func (b *budget) stats() budgetStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return budgetStats{Held: b.mu.held, Peak: b.mu.peak, Limit: b.limit, Waiting: b.mu.wake != nil}
}

// batchBytes is what a batch counts against the budget: its messages'
// keys, values and headers (the payload the source holds for it; the
// structs around them add about 250 bytes per record, see ARCHITECTURE.md).
func batchBytes(b connector.Batch) int64 {
	var n int
	for i := range b.Messages {
		m := &b.Messages[i]
		n += len(m.Key) + len(m.Value)
		for _, h := range m.Headers {
			n += len(h.Key) + len(h.Value)
		}
	}
	return int64(n)
}

// hold returns batch with Ack and Release wrapped to give its n bytes
// back to the budget, once, whichever is called (and however often).
// Release is set even when the batch had none, so that a task abandoning
// it returns its bytes too.
func (b *budget) hold(batch connector.Batch, n int64) connector.Batch {
	ack, rel := batch.Ack, batch.Release
	var returned atomic.Bool
	giveBack := func() {
		if !returned.Swap(true) {
			b.release(n)
		}
	}
	batch.Ack = func() {
		if ack != nil {
			ack()
		}
		giveBack()
	}
	batch.Release = func() {
		if rel != nil {
			rel()
		}
		giveBack()
	}
	return batch
}
