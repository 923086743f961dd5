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

// recordOverhead bounds the bytes a record adds to a batch beyond its key,
// value and headers: length, attributes, timestamp and offset deltas, key
// and value lengths and header count, each at their largest varint.
const (
	recordOverhead = 5 + 1 + 10 + 5 + 5 + 5 + 5
	headerOverhead = 5 + 5
)

// destination is one partition's share of a Produce call.
type destination struct {
	p    *log.Partition
	recs []*transport.Record
}

// Produce writes records grouped by partition, one append per partition
// (a partition's records in as few batches as max.message.bytes allows),
// all partitions written before any is waited for, so their fsyncs run in
// parallel; it returns once all are durable. Records keep their order
// within a partition. Produce sets Partition, Offset and, where zero,
// Timestamp on every record it wrote.
func (t *Transport) Produce(ctx context.Context, records []*transport.Record) error {
	if err := t.checkOpen(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dests, err := t.route(records)
	if err != nil {
		return err
	}
	now := time.Now()
	var (
		sc     = getScratch()
		waits  = make([]func() error, 0, len(dests))
		errs   []error
		firsts = make([]int64, len(dests))
	)
	defer sc.put()
	for i, d := range dests {
		maxBatch := int(d.p.Topic().Config().MaxMessageBytes)
		buf, err := sc.encode(d.recs, maxBatch, now)
		if err != nil {
			errs = append(errs, err)
			break
		}
		res, wait, err := d.p.AppendDeferred(buf)
		if err != nil {
			errs = append(errs, mapLogError(fmt.Errorf("embedded: produce to %s: %w", d.p, err)))
			break
		}
		firsts[i] = res.BaseOffset
		waits = append(waits, wait)
		// The log does not retain buf once AppendDeferred returns.
	}
	// Wait for everything written, even after a failure: an append is only
	// settled once its wait returns.
	for i, wait := range waits {
		if err := wait(); err != nil {
			errs = append(errs, mapLogError(fmt.Errorf("embedded: produce to %s: %w", dests[i].p, err)))
			continue
		}
		for j, r := range dests[i].recs {
			r.Partition, r.Offset = dests[i].p.ID(), firsts[i]+int64(j)
		}
	}
	return errors.Join(errs...)
}

// route groups records by partition, in order of first appearance.
func (t *Transport) route(records []*transport.Record) ([]destination, error) {
	if len(records) > 0 && onePartition(records) {
		// The common case (a changelog's or a task's records) needs no
		// grouping.
		r := records[0]
		topic, err := t.log.Topic(r.Topic)
		if err != nil {
			return nil, mapLogError(fmt.Errorf("embedded: produce to %q: %w", r.Topic, err))
		}
		p, err := topic.Partition(r.Partition)
		if err != nil {
			return nil, fmt.Errorf("embedded: produce to %q: partition %d of %d: %w", r.Topic, r.Partition, topic.NumPartitions(), log.ErrUnknownPartition)
		}
		return []destination{{p: p, recs: records}}, nil
	}
	type key struct {
		topic     string
		partition int32
	}
	var (
		dests  []destination
		index  = map[key]int{}
		topics = map[string]*log.Topic{}
	)
	for _, r := range records {
		topic := topics[r.Topic]
		if topic == nil {
			var err error
			if topic, err = t.log.Topic(r.Topic); err != nil {
				return nil, mapLogError(fmt.Errorf("embedded: produce to %q: %w", r.Topic, err))
			}
			topics[r.Topic] = topic
		}
		n := topic.NumPartitions()
		id := r.Partition
		switch {
		case id >= n:
			return nil, fmt.Errorf("embedded: produce to %q: partition %d of %d: %w", r.Topic, id, n, log.ErrUnknownPartition)
		case id >= 0:
		case r.Key != nil:
			id = record.PartitionForKey(r.Key, n)
		default:
			id = int32((t.unkeyed.Add(1) - 1) % uint32(n))
		}
		k := key{r.Topic, id}
		i, ok := index[k]
		if !ok {
			p, err := topic.Partition(id)
			if err != nil {
				return nil, fmt.Errorf("embedded: produce to %q: %w", r.Topic, err)
			}
			i = len(dests)
			index[k] = i
			dests = append(dests, destination{p: p})
		}
		dests[i].recs = append(dests[i].recs, r)
	}
	return dests, nil
}

// scratch is the memory a Produce call encodes its batches in, reused
// by later calls: encoding is the bulk of what a produce allocates, and
// the log copies what it appends.
type scratch struct {
	buf  []byte
	hdrs []record.Header
	recs []record.Record
}

// maxPooledBuffer is the largest encoding buffer kept for reuse: a rare
// huge produce should not pin its memory.
const maxPooledBuffer = 8 << 20

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

// put gives sc back to the pool, dropping its references to the callers'
// keys, values and headers.
func (sc *scratch) put() {
	if cap(sc.buf) > maxPooledBuffer {
		sc.buf = nil
	}
	clear(sc.hdrs[:cap(sc.hdrs)])
	clear(sc.recs[:cap(sc.recs)])
	sc.buf, sc.hdrs, sc.recs = sc.buf[:0], sc.hdrs[:0], sc.recs[:0]
	scratchPool.Put(sc)
}

// encode encodes recs as batches of at most maxBatch bytes each (a record
// too large for any batch gets one of its own, which the log refuses with
// log.ErrMessageTooLarge) into sc's buffer, which it returns: valid until
// the next encode. Zero timestamps become now, and are set on the
// records. Keys, values and header values are not copied but encoded
// straight from the caller's slices.
func (sc *scratch) encode(recs []*transport.Record, maxBatch int, now time.Time) ([]byte, error) {
	nh, total := 0, record.BatchHeaderSize
	for _, r := range recs {
		nh += len(r.Headers)
		total += recordOverhead + len(r.Key) + len(r.Value)
		for _, h := range r.Headers {
			total += headerOverhead + len(h.Key) + len(h.Value)
		}
	}
	// Room for every batch at once: growing while appending would copy the
	// batches already encoded again and again (a 4 MiB produce of 1 MiB
	// batches copied ~7 MiB more).
	if maxBatch > 0 {
		total += total / maxBatch * record.BatchHeaderSize
	}
	buf := slices.Grow(sc.buf[:0], total)
	// One slab for every record's headers: never grown, so the records'
	// header slices stay valid.
	hdrs := slices.Grow(sc.hdrs[:0], nh)
	batch := sc.recs[:0]
	size := record.BatchHeaderSize
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		var err error
		buf, err = record.AppendBatch(buf, batch, record.BatchOptions{})
		batch, size = batch[:0], record.BatchHeaderSize
		return err
	}
	defer func() { sc.buf, sc.hdrs, sc.recs = buf, hdrs, batch }()
	for _, r := range recs {
		if r.Timestamp.IsZero() {
			r.Timestamp = now
		}
		n := recordOverhead + len(r.Key) + len(r.Value)
		start := len(hdrs)
		for _, h := range r.Headers {
			hdrs = append(hdrs, record.Header{Key: h.Key, Value: h.Value})
			n += headerOverhead + len(h.Key) + len(h.Value)
		}
		if len(batch) > 0 && size+n > maxBatch {
			if err := flush(); err != nil {
				return buf, err
			}
		}
		rec := record.Record{Timestamp: r.Timestamp.UnixMilli(), Key: r.Key, Value: r.Value}
		if len(r.Headers) > 0 {
			rec.Headers = hdrs[start:len(hdrs):len(hdrs)]
		}
		batch = append(batch, rec)
		size += n
	}
	return buf, flush()
}

// onePartition says every record names the same topic and partition.
func onePartition(records []*transport.Record) bool {
	first := records[0]
	if first.Partition < 0 {
		return false
	}
	for _, r := range records[1:] {
		if r.Partition != first.Partition || r.Topic != first.Topic {
			return false
		}
	}
	return true
}
