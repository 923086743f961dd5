package embedded

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/record"
	"github.com/tide-data/tide/internal/transport"
)

// maxDecompressed caps one compressed batch's records, decompressed.
const maxDecompressed = 256 << 20

// fetchResult is one read of one partition, decoded.
type fetchResult struct {
	tp      transport.TopicPartition
	records []*transport.Record
	mem     *fetchMemory // what records live in
	bytes   int          // taken from the budget until Poll returns the records
	epoch   int32        // leader epoch of the last batch
}

// fetcherSet is the fetchers of one assignment.
type fetcherSet struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// stop cancels the fetchers and waits for them. A nil set is stopped.
func (s *fetcherSet) stop() {
	if s == nil {
		return
	}
	s.cancel()
	s.wg.Wait()
}

// startFetchers starts one fetcher per partition, at the group's committed
// offset or, without one, where opts.Start says.
func (c *Consumer) startFetchers(parts []transport.TopicPartition) error {
	if len(parts) == 0 {
		c.unstarted = false
		return nil
	}
	topics := make([]string, 0, len(parts))
	for _, tp := range parts {
		if len(topics) == 0 || topics[len(topics)-1] != tp.Topic {
			topics = append(topics, tp.Topic)
		}
	}
	committed, err := c.fetchCommitted(c.ctx, topics)
	if err != nil {
		if c.ctx.Err() != nil {
			return transport.ErrClosed
		}
		return err
	}
	ctx, cancel := context.WithCancel(c.ctx)
	set := &fetcherSet{cancel: cancel}
	c.fetchers, c.unstarted = set, false
	for _, tp := range parts {
		topic, err := c.t.log.Topic(tp.Topic)
		if err != nil {
			c.t.opts.logger.Warn("assigned partition of a missing topic", "group", c.group, "topic", tp.Topic, "err", err)
			continue
		}
		p, err := topic.Partition(tp.Partition)
		if err != nil {
			c.t.opts.logger.Warn("assigned a missing partition", "group", c.group, "topic", tp.Topic, "partition", tp.Partition, "err", err)
			continue
		}
		offset := int64(-1)
		if o, ok := committed[tp]; ok {
			offset = o.offset
		}
		set.wg.Add(1)
		if !c.workers.spawn(func() {
			defer set.wg.Done()
			c.fetch(ctx, tp, p, offset)
		}) {
			set.wg.Done()
		}
	}
	return nil
}

// fetch reads p from offset (-1: where opts.Start says) and sends what it
// reads to Poll until ctx ends. It holds at most one read at a time, and
// only within the consumer's byte budget.
func (c *Consumer) fetch(ctx context.Context, tp transport.TopicPartition, p *log.Partition, offset int64) {
	if offset < 0 {
		offset = c.resetOffset(p)
	}
	limit := c.t.opts.fetchBytes
	for {
		if err := c.budget.acquire(ctx, limit); err != nil {
			return
		}
		// Committed records only (read_committed): up to the last stable
		// offset, without markers and aborted transactions.
		mem := c.takeMemory(limit)
		// Batches is in mem.buf unless one batch was larger than it.
		res, err := p.ReadCommitted(mem.buf[:0], offset, limit)
		if errors.Is(err, log.ErrOffsetOutOfRange) {
			c.budget.release(limit)
			c.giveBack(mem)
			// auto.offset.reset: the committed offset is gone (retention)
			// or beyond the end (a recreated topic).
			reset := c.resetOffset(p)
			c.t.opts.logger.Warn("offset out of range, resetting", "group", c.group, "partition", p.String(), "offset", offset, "reset", reset)
			if reset == offset {
				if !sleep(ctx, 100*time.Millisecond) {
					return
				}
			}
			offset = reset
			continue
		}
		if err != nil {
			c.budget.release(limit)
			// The partition closed (topic deleted, log closing): nothing
			// more will come from it.
			c.t.opts.logger.Warn("fetch stopped", "group", c.group, "partition", p.String(), "err", err)
			return
		}
		n := len(res.Batches)
		if n > limit {
			c.budget.add(n - limit) // one batch larger than the limit is read whole
		} else {
			c.budget.release(limit - n)
		}
		if n == 0 {
			// At the last stable offset (past any aborted transaction the
			// read skipped): wait for it to move.
			c.giveBack(mem)
			offset = max(offset, res.NextOffset)
			if err := p.WaitStable(ctx, offset); err != nil {
				return
			}
			continue
		}
		recs, _, epoch, err := mem.decode(res.Batches, offset, tp)
		if err != nil {
			c.budget.release(n)
			c.t.opts.logger.Error("fetch stopped: undecodable batch", "group", c.group, "partition", p.String(), "offset", offset, "err", err)
			return
		}
		offset = res.NextOffset
		if len(recs) == 0 { // only records before the offset
			c.budget.release(n)
			c.giveBack(mem)
			continue
		}
		select {
		case c.results <- fetchResult{tp: tp, records: recs, mem: mem, bytes: n, epoch: epoch}:
		case <-ctx.Done():
			c.budget.release(n)
			return
		}
	}
}

// resetOffset is where a partition without a usable committed offset
// starts: the log start, or the end a read_committed consumer sees (the
// last stable offset, as Kafka's ListOffsets answers it).
func (c *Consumer) resetOffset(p *log.Partition) int64 {
	o := p.Offsets()
	if c.opts.Start == transport.StartLatest {
		return o.LastStable
	}
	return o.LogStart
}

// decode turns the batches of one read into records at or after from,
// skipping control batches (transaction markers). The records' keys and
// values alias b, which the caller gives up: they own it now. It returns
// the offset to read next and the leader epoch of the last batch.
func decode(b []byte, from int64, tp transport.TopicPartition) (recs []*transport.Record, next int64, epoch int32, err error) {
	return new(fetchMemory).decode(b, from, tp)
}

// fetchMemory is what a fetch's records live in: the bytes read, the
// records, their pointers and headers. A Poll's caller may give it back
// (PollRecycle) for later fetches to reuse.
type fetchMemory struct {
	buf  []byte
	slab []transport.Record
	recs []*transport.Record
	hdrs []transport.Header
	// foreign is set when the records alias bytes outside buf: a batch
	// larger than buf was read into memory of its own, or a compressed
	// batch was decompressed into a buffer of its own.
	foreign bool
}

// freeFetchMemory bounds the fetches' memory a consumer keeps for reuse
// (each about fetch.max.bytes).
const freeFetchMemory = 8

// takeMemory returns memory given back by an earlier poll, or new memory:
// for a consumer whose memory comes back, a buffer for reads of up to
// limit bytes; for one whose never does (Poll), none, so that each read
// allocates what it reads — a consumer tailing a topic reads a few KiB at
// a time, and a fresh buffer of limit bytes for each was churn.
func (c *Consumer) takeMemory(limit int) *fetchMemory {
	select {
	case m := <-c.free:
		return m
	default:
		if c.recycling.Load() {
			return &fetchMemory{buf: make([]byte, 0, limit)}
		}
		return new(fetchMemory)
	}
}

// giveBack keeps m for later fetches if there is room: m's records and
// bytes must be unreferenced.
func (c *Consumer) giveBack(m *fetchMemory) {
	// Records pointing into buf (and their slab) keep nothing alive that m
	// does not: they are overwritten by the next decode, not cleared — on
	// 200-byte events, clearing the slabs was 2% of a pipeline's CPU.
	// Records of a foreign read would keep its bytes, and headers their
	// keys' strings, so those are cleared; so is recs beyond its length,
	// where a poll appends other fetches' records (collect), which would
	// keep their memory alive.
	if m.foreign {
		clear(m.slab[:cap(m.slab)])
		clear(m.recs[:cap(m.recs)])
		m.foreign = false
	} else {
		clear(m.recs[len(m.recs):cap(m.recs)])
	}
	clear(m.hdrs[:cap(m.hdrs)])
	select {
	case c.free <- m:
	default:
	}
}

// sameMemory reports whether b starts in buf's memory.
func sameMemory(b, buf []byte) bool {
	return len(b) > 0 && cap(buf) > 0 && &b[0] == &buf[:1][0]
}

// decode decodes the records of b at or after from into m, reusing its
// slabs.
func (m *fetchMemory) decode(b []byte, from int64, tp transport.TopicPartition) (recs []*transport.Record, next int64, epoch int32, err error) {
	next, epoch = from, -1
	m.foreign = !sameMemory(b, m.buf) // a batch larger than buf was read into memory of its own
	// One slab of records per read, not one per record: sized from the
	// batch headers first (NumRecords, bounded by the bytes), then filled
	// straight from each batch's records.
	count := 0
	for rest := b; len(rest) > 0; {
		h, err := record.ParseHeader(rest)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("embedded: %s[%d] at %d: %w", tp.Topic, tp.Partition, next, err)
		}
		if h.Size() > len(rest) {
			return nil, 0, 0, fmt.Errorf("embedded: %s[%d] at %d: %w", tp.Topic, tp.Partition, h.BaseOffset, record.ErrShortBatch)
		}
		if !h.Control() {
			count += min(int(max(h.NumRecords, 0)), h.Size())
		}
		rest = rest[h.Size():]
	}
	slab := slices.Grow(m.slab[:0], count)
	recs = slices.Grow(m.recs[:0], count)
	var headers []record.Header
	hslab := m.hdrs[:0]
	for rest := b; len(rest) > 0; {
		h, _ := record.ParseHeader(rest) // parsed above
		batch := rest[:h.Size()]
		rest = rest[h.Size():]
		next, epoch = h.LastOffset()+1, h.PartitionLeaderEpoch
		if h.Control() {
			continue
		}
		it, err := record.NewIter(batch, maxDecompressed)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("embedded: %s[%d] at %d: %w", tp.Topic, tp.Partition, h.BaseOffset, err)
		}
		if h.Codec() != record.CodecNone { // the records alias a decompressed buffer
			m.foreign = true
		}
		var r record.Record
		for {
			var ok bool
			headers, ok, err = it.Next(&r, headers[:0])
			if err != nil {
				return nil, 0, 0, fmt.Errorf("embedded: %s[%d] at %d: %w", tp.Topic, tp.Partition, h.BaseOffset, err)
			}
			if !ok {
				break
			}
			if r.Offset < from {
				continue
			}
			slab = append(slab, transport.Record{
				Topic: tp.Topic, Partition: tp.Partition, Offset: r.Offset,
				Key: r.Key, Value: r.Value, Timestamp: time.UnixMilli(r.Timestamp),
			})
			if len(r.Headers) > 0 {
				start := len(hslab)
				for _, h := range r.Headers {
					hslab = append(hslab, transport.Header{Key: h.Key, Value: h.Value})
				}
				slab[len(slab)-1].Headers = hslab[start:len(hslab):len(hslab)]
			}
		}
	}
	for i := range slab {
		recs = append(recs, &slab[i])
	}
	m.slab, m.recs, m.hdrs = slab, recs, hslab
	return recs, next, epoch, nil
}

// budget bounds the bytes a consumer holds read but not yet returned.
type budget struct {
	mu    sync.Mutex
	used  int
	limit int
	freed chan struct{} // closed and replaced whenever bytes are released
}

func newBudget(limit int) *budget {
	return &budget{limit: limit, freed: make(chan struct{})}
}

// acquire takes n bytes, waiting while that would pass the limit (unless
// nothing is taken, so one read larger than the limit still proceeds).
func (b *budget) acquire(ctx context.Context, n int) error {
	for {
		b.mu.Lock()
		if b.used == 0 || b.used+n <= b.limit {
			b.used += n
			b.mu.Unlock()
			return nil
		}
		freed := b.freed
		b.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// add takes n bytes without waiting.
func (b *budget) add(n int) {
	b.mu.Lock()
	b.used += n
	b.mu.Unlock()
}

// release gives n bytes back.
func (b *budget) release(n int) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	close(b.freed)
	b.freed = make(chan struct{})
	b.mu.Unlock()
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
