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

// arenaBlock is the size of an arena's blocks.
const arenaBlock = 1 << 20

// arena carves record keys and values out of large blocks, so a snapshot
// or a stream does not allocate per record. Blocks are never reused: the
// records of a batch keep their block alive until the batch is written,
// and then the garbage collector takes it.
type arena struct {
	buf  []byte
	mark int
}

// start returns where to append a value of about hint bytes.
func (a *arena) start(hint int) []byte {
	if cap(a.buf)-len(a.buf) < hint {
		a.buf = make([]byte, 0, max(arenaBlock, hint))
	}
	a.mark = len(a.buf)
	return a.buf
}

// finish takes what was appended since start (out is the result of the
// append, perhaps in a new array if it outgrew the block) as a slice of
// its own.
func (a *arena) finish(out []byte) []byte {
	a.buf = out
	return out[a.mark:len(out):len(out)]
}
