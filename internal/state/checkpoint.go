package state

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/tide-data/tide/internal/transport"
)

// ErrNotProduced is Commit's answer for a checkpoint whose changelog
// records were not all produced (Produce sets their offsets).
var ErrNotProduced = errors.New("state: checkpoint's changelog records not produced")

// Checkpoint is one checkpoint's changes in both their forms: a pending
// pebble batch for the store, and changelog records for the transport.
// Nothing is visible in the store until Commit. A Checkpoint belongs to
// the store's goroutine.
type Checkpoint struct {
	store     *Store
	changelog transport.TopicPartition
	batch     *pebble.Batch
	records   []*transport.Record
	bytes     int

	// Keys and values are copied into arena chunks and records come from
	// slabs, neither ever grown in place, so what was handed out stays
	// valid. arena and slab are the chunks being filled; chunks lists
	// every one taken, which a commit gives back to the store.
	arena  []byte
	slab   []transport.Record
	chunks checkpointMemory
}

// Chunk sizes of a checkpoint's memory, and how much of it a store keeps
// for the next checkpoint. A task checkpoints every few hundred
// milliseconds; taking the last one's memory again spares the collector
// most of what checkpoints would allocate, and a store idle after a burst
// holds at most spareArenas*arenaChunk + spareSlabs*slabChunk records.
const (
	arenaChunk  = 64 << 10
	slabChunk   = 256
	spareArenas = 64 // 4 MiB
	spareSlabs  = 64 // 16,384 records of ~130 bytes: 2 MiB
	// spareRecords bounds the record list kept (8 bytes a record).
	spareRecords = 1 << 16
)

// checkpointMemory is memory of checkpoints: the chunks one took, or the
// free ones a store keeps.
type checkpointMemory struct {
	arenas  [][]byte
	slabs   [][]transport.Record
	records []*transport.Record
}

// NewCheckpoint starts a checkpoint whose changelog is the partition
// changelog (the task's partition of the operator's changelog topic).
func (s *Store) NewCheckpoint(changelog transport.TopicPartition) *Checkpoint {
	c := &Checkpoint{store: s, changelog: changelog, records: s.spare.records[:0]}
	s.spare.records = nil // c's now
	return c
}

// recycle keeps what memory of c the store's next checkpoints can take
// again. Only a committed checkpoint's: its records were produced, so no
// client holds them any more (a failed produce may leave some in flight).
func (s *Store) recycle(c *Checkpoint) {
	for _, a := range c.chunks.arenas {
		if cap(a) == arenaChunk && len(s.spare.arenas) < spareArenas {
			s.spare.arenas = append(s.spare.arenas, a[:0])
		}
	}
	for _, sl := range c.chunks.slabs {
		if len(s.spare.slabs) < spareSlabs {
			clear(sl[:cap(sl)]) // no stale keys, values or headers, for the collector and newRecord
			s.spare.slabs = append(s.spare.slabs, sl[:0])
		}
	}
	if cap(c.records) <= spareRecords {
		clear(c.records)
		s.spare.records = c.records[:0]
	}
}

// Put records one change: key set to value, or deleted when value is nil
// (a tombstone in the changelog). It copies both, and fits
// aggregate.Operator.Changes. Changes apply in the order they are put.
func (c *Checkpoint) Put(key, value []byte) error {
	if value == nil {
		return c.put(key, nil, pebble.InternalKeyKindDelete)
	}
	return c.put(key, value, pebble.InternalKeyKindSet)
}

// SingleDelete records the deletion of a key that the store holds one Set
// of since it was last absent: a key Put with a value once, never again,
// before this. The caller vouches for that — a key set twice may come back
// after a SingleDelete. What it buys: the set and its deletion vanish
// together where they meet, in a flush or a compaction, while a plain
// deletion's tombstone is carried down to the last level. State whose
// rows come and go (a join's rows, dropped once the watermark passes them)
// writes far less that way. In the changelog it is a tombstone like any.
func (c *Checkpoint) SingleDelete(key []byte) error {
	return c.put(key, nil, pebble.InternalKeyKindSingleDelete)
}

func (c *Checkpoint) put(key, value []byte, kind pebble.InternalKeyKind) error {
	if c.store == nil {
		return errors.New("state: put into a checkpoint committed or discarded")
	}
	if key == nil {
		return errors.New("state: put with a nil key")
	}
	if c.batch == nil {
		if c.store.db == nil {
			return ErrClosed
		}
		c.batch = c.store.db.NewBatch()
	}
	var op *pebble.DeferredBatchOp
	switch kind {
	case pebble.InternalKeyKindSet:
		op = c.batch.SetDeferred(1+len(key), len(value))
		copy(op.Value, value)
	case pebble.InternalKeyKindSingleDelete:
		op = c.batch.SingleDeleteDeferred(1 + len(key))
	default:
		op = c.batch.DeleteDeferred(1 + len(key))
	}
	op.Key[0] = tagData
	copy(op.Key[1:], key)
	if err := op.Finish(); err != nil {
		return fmt.Errorf("state: put: %w", err)
	}
	r := c.newRecord()
	r.Topic, r.Partition, r.Offset = c.changelog.Topic, c.changelog.Partition, -1
	r.Key = c.copyBytes(key)
	if value != nil {
		r.Value = c.copyBytes(value)
	}
	c.records = append(c.records, r)
	c.bytes += len(key) + len(value)
	return nil
}

// newRecord returns a zero record from the slab.
func (c *Checkpoint) newRecord() *transport.Record {
	if len(c.slab) == cap(c.slab) {
		spare := &c.store.spare.slabs
		if n := len(*spare); n > 0 {
			c.slab, *spare = (*spare)[n-1], (*spare)[:n-1]
		} else {
			c.slab = make([]transport.Record, 0, slabChunk)
		}
		c.chunks.slabs = append(c.chunks.slabs, c.slab)
	}
	c.slab = c.slab[:len(c.slab)+1]
	return &c.slab[len(c.slab)-1]
}

// copyBytes copies b into the arena; the copy is never nil.
func (c *Checkpoint) copyBytes(b []byte) []byte {
	if len(b) == 0 {
		// Not from the arena: appending nothing to a checkpoint's first,
		// still nil, chunk gives nil, which the changelog reads as a
		// tombstone. A zero-length allocation costs nothing.
		return []byte{}
	}
	if len(b) > arenaChunk {
		return append(make([]byte, 0, len(b)), b...)
	}
	if len(b) > cap(c.arena)-len(c.arena) {
		spare := &c.store.spare.arenas
		if n := len(*spare); n > 0 {
			c.arena, *spare = (*spare)[n-1], (*spare)[:n-1]
		} else {
			c.arena = make([]byte, 0, arenaChunk)
		}
		c.chunks.arenas = append(c.chunks.arenas, c.arena)
	}
	at := len(c.arena)
	c.arena = append(c.arena, b...)
	return c.arena[at:len(c.arena):len(c.arena)]
}

// Records returns the changelog records of the changes, in order, for the
// caller to produce (Produce and TxnProducer.Produce set their offsets,
// which Commit reads). The checkpoint owns them: they are not to be
// changed but by Produce.
func (c *Checkpoint) Records() []*transport.Record { return c.records }

// Len returns the number of changes.
func (c *Checkpoint) Len() int { return len(c.records) }

// Bytes returns the size of the changes' keys and values.
func (c *Checkpoint) Bytes() int { return c.bytes }

// Discard drops the checkpoint without applying it (its produce failed).
func (c *Checkpoint) Discard() {
	if c.batch != nil {
		_ = c.batch.Close()
	}
	*c = Checkpoint{}
}

// Commit applies a checkpoint whose records were produced — and, with
// transactions, committed: the changes and the changelog offset after
// its last record, in one synced pebble batch. A checkpoint without
// changes commits nothing. Checkpoints commit in changelog order; one
// whose records are not all produced is ErrNotProduced, and the store is
// left as it was. Either way the checkpoint is spent.
//
// An error from pebble is sticky: the store no longer knows what it
// holds, and every later Commit returns that error; the task closes the
// store and restores it.
func (s *Store) Commit(c *Checkpoint) error {
	if c.store != s {
		return errors.New("state: commit of a checkpoint of another store, or spent")
	}
	defer c.Discard()
	if s.db == nil {
		return ErrClosed
	}
	if len(c.records) == 0 {
		s.recycle(c)
		return nil
	}
	prev := s.offset
	if s.changelog != c.changelog {
		if s.offset >= 0 {
			return fmt.Errorf("state: commit to changelog %s[%d], the store follows %s[%d]", c.changelog.Topic, c.changelog.Partition, s.changelog.Topic, s.changelog.Partition)
		}
		prev = -1
	}
	for _, r := range c.records {
		if r.Offset < 0 || r.Partition != c.changelog.Partition || r.Offset < prev {
			return fmt.Errorf("%w: record at offset %d of %s[%d] after %d", ErrNotProduced, r.Offset, r.Topic, r.Partition, prev)
		}
		prev = r.Offset + 1
	}
	if err := s.apply(c.batch, c.changelog, prev, true); err != nil {
		return err
	}
	s.recycle(c)
	return nil
}
