package join

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// ErrCorruptState is Load's answer for an entry it cannot decode, or one
// that contradicts the entries loaded before it.
var ErrCorruptState = errors.New("join: corrupt state")

// Owns reports whether a store entry's key is one of the join's: a store
// other operators share tells them apart by it.
func Owns(key []byte) bool { return len(key) > 0 && key[0] == tagJoin }

// State entry keys (see the package doc for the layout).
const (
	tagJoin byte = 0x05 // every entry of the join's
	// metaWatermark follows the tag in the watermark's key: any byte but
	// a side's would do.
	metaWatermark byte = 'w'
	originLen          = 4 + 8 // partition, offset

	flagMatched byte = 1 << 0
)

var watermarkKey = []byte{tagJoin, metaWatermark}

// Changes calls fn with every state entry that changed since the last
// call: a row's entry with its value when it was added or first matched,
// a nil value when it was dropped, and the watermark's entry when it
// moved. A key is both deleted and written in one call only when a row
// was dropped and the same record added again (a repartition record
// written twice, not late because the other side keeps its rows
// Forever): the deletion comes first. key and value are valid only
// until fn returns: fn copies what it keeps.
//
// The first call on an operator that was neither loaded nor checkpointed
// gives its whole state: tracking starts there, so an operator that is
// never checkpointed keeps no record of its changes.
//
// When fn fails, Changes returns its error and forgets nothing: the next
// call gives the same changes again (and any newer). Once Changes has
// returned nil its changes are handed over; if they then fail to reach
// the store (the checkpoint failed), the operator no longer matches it
// and must be discarded and rebuilt from the store.
func (o *Operator) Changes(fn func(key, value []byte) error) error {
	return o.ChangesTo(putFunc(fn))
}

// Writer takes the changes of a checkpoint (a state.Checkpoint does).
type Writer interface {
	// Put sets key to value, or deletes it when value is nil.
	Put(key, value []byte) error
	// SingleDelete deletes a key the store holds exactly one Set of.
	SingleDelete(key []byte) error
}

// putFunc is a Writer whose single deletions are plain ones.
type putFunc func(key, value []byte) error

func (f putFunc) Put(key, value []byte) error   { return f(key, value) }
func (f putFunc) SingleDelete(key []byte) error { return f(key, nil) }

// ChangesTo is Changes into a Writer: a dropped row that the operator
// itself wrote to the store once, and never since, is deleted with
// SingleDelete. Most rows of a join with a time bound are written once,
// when they come, and deleted once, when the watermark passes them (a
// side that does not record Matched is not written again on its first
// partner): the store then drops both where they meet instead of carrying a
// tombstone down its levels. A row loaded from the store, or written
// by the first call's snapshot, has a history the operator does not know:
// its deletion is a plain one.
func (o *Operator) ChangesTo(w Writer) error {
	if !o.tracking {
		return o.snapshot(w.Put)
	}
	// In key order: a store's memtable takes a batch of sorted keys far
	// faster than the same keys in arrival order (each insertion starts
	// its search where the last one ended), and sorting costs less than
	// the searches it saves.
	o.keyArena, o.sorted = o.keyArena[:0], o.sorted[:0]
	for _, e := range o.dirty {
		if e.dropped && !e.stored {
			continue // came and went between two checkpoints
		}
		start := len(o.keyArena)
		o.keyArena = appendRowKey(o.keyArena, &e.row)
		o.sorted = append(o.sorted, change{start: start, end: len(o.keyArena), e: e})
	}
	slices.SortFunc(o.sorted, func(a, b change) int {
		if c := bytes.Compare(o.keyArena[a.start:a.end], o.keyArena[b.start:b.end]); c != 0 {
			return c
		}
		// A row dropped, then the same record added again: its
		// deletion first, or it would delete the new Set.
		switch {
		case a.e.dropped && !b.e.dropped:
			return -1
		case b.e.dropped && !a.e.dropped:
			return 1
		}
		return 0
	})
	for i := range o.sorted {
		c := &o.sorted[i]
		key, e := o.keyArena[c.start:c.end], c.e
		c.e = nil
		var err error
		switch {
		case !e.dropped:
			o.val = appendRowValue(o.val[:0], &e.row)
			err = w.Put(key, o.val)
		case e.setOnce:
			err = w.SingleDelete(key)
		default:
			err = w.Put(key, nil)
		}
		if err != nil {
			clear(o.sorted)
			return err
		}
	}
	if o.wmDirty {
		if err := w.Put(watermarkKey, binary.AppendVarint(o.val[:0], o.wm)); err != nil {
			return err
		}
	}
	for i, e := range o.dirty {
		if !e.dropped {
			e.setOnce = !e.stored // its first Set, or one more
		}
		e.dirty, e.stored = false, !e.dropped
		o.dirty[i] = nil
	}
	o.dirty, o.wmDirty = o.dirty[:0], false
	return nil
}

// change is a row's change waiting for its turn in key order: its key in
// Operator.keyArena.
type change struct {
	start, end int
	e          *entry
}

// snapshot gives every entry and starts tracking.
func (o *Operator) snapshot(fn func(key, value []byte) error) error {
	for _, side := range o.keys {
		for _, k := range side {
			for _, e := range k.rows {
				if e == nil {
					continue
				}
				o.key = appendRowKey(o.key[:0], &e.row)
				o.val = appendRowValue(o.val[:0], &e.row)
				if err := fn(o.key, o.val); err != nil {
					return err
				}
			}
		}
	}
	if o.wmDirty {
		if err := fn(watermarkKey, binary.AppendVarint(o.val[:0], o.wm)); err != nil {
			return err
		}
	}
	for _, e := range o.ids {
		e.stored = true
	}
	o.tracking, o.wmDirty = true, false
	return nil
}

// touch marks a row changed, on the hot path: a flag and, the first time
// since the last checkpoint, an append.
func (o *Operator) touch(e *entry) {
	if o.tracking && !e.dirty {
		e.dirty = true
		o.dirty = append(o.dirty, e)
	}
}

// Load restores one entry Changes gave, at restore: into an operator
// fresh from New, before any Add or Expire, with every entry of its
// store once, in key order (any order works, but the order of a key's
// rows for match callbacks is the order they are loaded). Restored rows
// are registered for expiry again. With a Spill, once the rows loaded
// pass MaxMemory, the rows of keys not in memory yet stay in the store,
// their keys evicted (spill.go); Evict after loading brings the rest
// within the budget. The operator starts tracking changes
// from there. Load returns ErrCorruptState (wrapped, with what is wrong)
// for an entry that does not decode or repeats a row's identity. It does
// not retain key or value.
func (o *Operator) Load(key, value []byte) error {
	o.tracking = true
	if len(key) < 2 || key[0] != tagJoin {
		return fmt.Errorf("%w: key %x is not a join entry's", ErrCorruptState, key)
	}
	if key[1] == metaWatermark {
		if len(key) != len(watermarkKey) {
			return fmt.Errorf("%w: key %x", ErrCorruptState, key)
		}
		wm, n := binary.Varint(value)
		if n <= 0 || n != len(value) {
			return fmt.Errorf("%w: watermark %x", ErrCorruptState, value)
		}
		// The end of a bounded input (the end of time) ended that run,
		// not the job: a later run over new input starts without it.
		if wm != math.MaxInt64 {
			o.wm = wm
		}
		return nil
	}
	r, err := o.parseRowKey(key)
	if err != nil {
		return err
	}
	if err := parseRowValue(&r, value); err != nil {
		return fmt.Errorf("%w (key %x)", err, key)
	}
	if o.loadCold(&r) {
		return nil // beyond MaxMemory: it stays in the store (spill.go)
	}
	if _, dup := o.ids[rowID{r.Side, r.Partition, r.Offset, r.Key}]; dup {
		return fmt.Errorf("%w: %v row %d/%d stored twice (key %x)", ErrCorruptState, r.Side, r.Partition, r.Offset, key)
	}
	o.insert(r).stored = true
	return nil
}

// appendRowKey appends a row's key: the tag, its side, its join key
// with its length before it (so that it ends unambiguously and keys sort
// by join key within a length), then its origin.
func appendRowKey(dst []byte, r *Row) []byte {
	dst = append(dst, tagJoin, byte(r.Side))
	dst = binary.AppendUvarint(dst, uint64(len(r.Key)))
	dst = append(dst, r.Key...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(r.Partition))
	return binary.BigEndian.AppendUint64(dst, uint64(r.Offset))
}

// parseRowKey reads what appendRowKey wrote, refusing any other
// encoding of the same row: Changes would write a row loaded from one
// under a second key, and never delete the first.
func (o *Operator) parseRowKey(key []byte) (Row, error) {
	var r Row
	if side := Side(key[1]); side <= Right {
		r.Side = side
	} else {
		return r, fmt.Errorf("%w: key %x: no side %d", ErrCorruptState, key, key[1])
	}
	n, l := binary.Uvarint(key[2:])
	rest := key[2+max(l, 0):]
	if l <= 0 || len(rest) < originLen || n != uint64(len(rest)-originLen) {
		return r, fmt.Errorf("%w: key %x: bad join key length", ErrCorruptState, key)
	}
	r.Key = string(rest[:n])
	r.Partition = int32(binary.BigEndian.Uint32(rest[n:]))
	r.Offset = int64(binary.BigEndian.Uint64(rest[n+4:]))
	o.key = appendRowKey(o.key[:0], &r)
	if !bytes.Equal(o.key, key) {
		return r, fmt.Errorf("%w: key %x: join key length not in its shortest form", ErrCorruptState, key)
	}
	return r, nil
}

// appendRowValue appends a row's value: its event time, its flags, then
// its columns.
func appendRowValue(dst []byte, r *Row) []byte {
	dst = binary.AppendVarint(dst, r.TS)
	var flags byte
	if r.Matched {
		flags |= flagMatched
	}
	dst = append(dst, flags)
	return append(dst, r.Values...)
}

// parseRowValue reads what appendRowValue wrote into r, copying the
// columns.
func parseRowValue(r *Row, value []byte) error {
	ts, n := binary.Varint(value)
	if n <= 0 || n >= len(value) {
		return fmt.Errorf("%w: value %x: no event time and flags", ErrCorruptState, value)
	}
	flags := value[n]
	if flags&^flagMatched != 0 {
		return fmt.Errorf("%w: value %x: unknown flags %#x", ErrCorruptState, value, flags)
	}
	r.TS = ts
	r.Matched = flags&flagMatched != 0
	r.Values = append([]byte(nil), value[n+1:]...)
	return nil
}
