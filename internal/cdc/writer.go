package cdc

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/tide-data/tide/internal/transport"
)

// batch is records to write together and the WAL position that becomes
// acknowledgeable once they are durable (0: none).
type batch struct {
	recs  []*transport.Record
	bytes int
	ack   uint64
}

func (b *batch) add(r *transport.Record) {
	b.recs = append(b.recs, r)
	b.bytes += len(r.Key) + len(r.Value) + 32
}

// writer writes batches to the log in order on its own goroutine, so the
// capture reads the next changes while the last ones are fsynced. At most
// two batches wait: a slow log slows the capture, which slows reading the
// slot, which Postgres absorbs in its WAL.
type writer struct {
	t       transport.Transport
	in      chan *batch
	done    chan struct{}
	mu      sync.Mutex
	err     error
	durable atomic.Uint64 // the highest ack whose batch is durable
	records atomic.Int64  // records written
}

func newWriter(ctx context.Context, t transport.Transport, durable uint64) *writer {
	w := &writer{t: t, in: make(chan *batch, 2), done: make(chan struct{})}
	w.durable.Store(durable)
	go w.run(ctx)
	return w
}

func (w *writer) run(ctx context.Context) {
	defer close(w.done)
	for b := range w.in {
		if w.failed() != nil {
			continue // drain: nothing after a failed batch may be written
		}
		if len(b.recs) > 0 {
			if err := w.t.Produce(ctx, b.recs); err != nil {
				w.mu.Lock()
				w.err = err
				w.mu.Unlock()
				continue
			}
			w.records.Add(int64(len(b.recs)))
		}
		w.advance(b.ack)
	}
}

// advance raises the durable position to lsn if it is below it.
func (w *writer) advance(lsn uint64) {
	for {
		cur := w.durable.Load()
		if lsn <= cur || w.durable.CompareAndSwap(cur, lsn) {
			return
		}
	}
}

func (w *writer) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// submit queues b, waiting while two batches are queued; it returns the
// error of an earlier batch, after which nothing more is written.
func (w *writer) submit(ctx context.Context, b *batch) error {
	if err := w.failed(); err != nil {
		return err
	}
	select {
	case w.in <- b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close waits for the queued batches and returns the first error.
func (w *writer) close() error {
	close(w.in)
	<-w.done
	return w.failed()
}
