package join

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Beyond memory. A join without a time bound (a regular join) keeps its
// rows for ever, so its state grows with its input. With a Spill, the
// operator keeps what fits in MaxMemory and leaves the rest in the store
// it mirrors its state to anyway: Evict drops cold join keys — every row
// of a key, both sides, so that a key's rows are wholly in memory or
// wholly in the store — right after a checkpoint, when the store holds
// every row as it is in memory. A row that comes with an evicted key, or
// the watermark passing the first expiry among an evicted key's rows,
// reads the key's rows back (one prefix scan per side) before going on
// as if they had never left. An evicted key costs a record in memory
// (its row count and first expiry), not its rows.

// coldKey is an evicted join key.
type coldKey struct {
	key    string
	rows   int
	sides  [2]int // rows per side: a side without any is not read back
	expiry int64  // the first expiry among its rows; math.MaxInt64: none
}

// Evict drops join keys from memory, least recently added to or matched
// first, until the state is within three quarters of MaxMemory (so that
// the next checkpoints need not evict again at once). Call it right after
// a checkpoint's changes reached the store, and only then: it does
// nothing while changes are pending (a dropped row still in the store
// would come back with its key), without a Spill, or under MaxMemory.
func (o *Operator) Evict() {
	if o.spec.Spill == nil || !o.tracking || len(o.dirty) > 0 || o.memory <= o.spec.MaxMemory {
		return
	}
	o.evict()
}

// evict drops keys until the state is within three quarters of
// MaxMemory: first the keys no row reached since the last pass (clearing
// the mark of the others), then any.
func (o *Operator) evict() {
	target := o.spec.MaxMemory / 4 * 3
	for pass := range 2 {
		for side := range o.keys {
			for key, k := range o.keys[side] {
				if o.memory <= target {
					return
				}
				other := o.keys[1-side][key]
				if side == int(Right) && other != nil {
					continue // a key on both sides is visited once, with its left rows
				}
				if pass == 0 && (k.ref || other != nil && other.ref) {
					k.ref = false
					if other != nil {
						other.ref = false
					}
					continue
				}
				o.evictKey(key)
			}
		}
	}
}

// evictKey drops every row of key from memory, both sides, and records
// the key as cold.
func (o *Operator) evictKey(key string) {
	c := &coldKey{key: key, expiry: math.MaxInt64}
	for side := range o.keys {
		k := o.keys[side][key]
		if k == nil {
			continue
		}
		for _, e := range k.rows {
			if e == nil {
				continue
			}
			delete(o.ids, rowID{e.row.Side, e.row.Partition, e.row.Offset, e.row.Key})
			if e.expiry != math.MaxInt64 {
				o.expiry.remove(int(e.heap))
			}
			c.expiry = min(c.expiry, e.expiry)
			c.rows++
			c.sides[side]++
			o.count[side]--
			o.memory -= rowOverhead + int64(len(e.row.Values))
		}
		delete(o.keys[side], key)
		o.memory -= keyOverhead + int64(len(key))
	}
	o.setCold(c)
	o.memory += coldOverhead + int64(len(key))
}

// setCold records c as its key's evicted rows, in the heap by expiry
// when one of them expires (an earlier record of the key left in the
// heap is skipped when it comes up: it is no longer o.cold's).
func (o *Operator) setCold(c *coldKey) {
	if old := o.cold[c.key]; old != nil {
		o.coldRows -= old.rows
	}
	o.cold[c.key] = c
	o.coldRows += c.rows
	if c.expiry != math.MaxInt64 {
		o.coldByExpiry.push(c)
	}
}

// warm reads an evicted key's rows back from the spill store, all of
// them or none: a failed read (an ErrSpill) leaves the key evicted and
// the operator as it was.
func (o *Operator) warm(key string) error {
	c := o.cold[key]
	o.warming = o.warming[:0]
	for side := Left; side <= Right; side++ {
		if c.sides[side] == 0 {
			continue
		}
		o.prefix = append(o.prefix[:0], tagJoin, byte(side))
		o.prefix = binary.AppendUvarint(o.prefix, uint64(len(key)))
		o.prefix = append(o.prefix, key...)
		err := o.spec.Spill.ScanPrefix(o.prefix, func(k, v []byte) error {
			r, err := o.parseRowKey(k)
			if err != nil {
				return err
			}
			if err := parseRowValue(&r, v); err != nil {
				return fmt.Errorf("%w (key %x)", err, k)
			}
			if _, dup := o.ids[rowID{r.Side, r.Partition, r.Offset, r.Key}]; dup {
				return fmt.Errorf("%w: %v row %d/%d in memory and evicted", ErrCorruptState, r.Side, r.Partition, r.Offset)
			}
			o.warming = append(o.warming, r)
			return nil
		})
		if err != nil {
			clear(o.warming)
			return fmt.Errorf("%w: join key %x: %w", ErrSpill, key, err)
		}
	}
	delete(o.cold, key)
	o.coldRows -= c.rows
	o.memory -= coldOverhead + int64(len(key))
	for i := range o.warming {
		o.insert(o.warming[i]).stored = true
	}
	clear(o.warming)
	return nil
}

// loadCold records a row Load reads as left in the store when the state
// is past MaxMemory already and none of its key's rows is in memory (a
// key is wholly in memory or wholly evicted), or its key is evicted. It
// reports whether it did.
func (o *Operator) loadCold(r *Row) bool {
	c := o.cold[r.Key]
	if c == nil {
		if o.spec.Spill == nil || o.memory <= o.spec.MaxMemory || o.keys[Left][r.Key] != nil || o.keys[Right][r.Key] != nil {
			return false
		}
		c = &coldKey{key: r.Key, expiry: math.MaxInt64}
		o.cold[r.Key] = c
		o.memory += coldOverhead + int64(len(r.Key))
	}
	c.rows++
	c.sides[r.Side]++
	o.coldRows++
	c.expiry = min(c.expiry, expiryTime(r.TS, o.spec.Keep[r.Side]))
	o.coldStale = true // the heap is built once loading is over
	return true
}

// sortCold rebuilds the heap of evicted keys from the records Load made.
func (o *Operator) sortCold() {
	o.coldByExpiry = o.coldByExpiry[:0]
	for _, c := range o.cold {
		if c.expiry != math.MaxInt64 {
			o.coldByExpiry.push(c)
		}
	}
	o.coldStale = false
}

// coldHeap is a min-heap of evicted keys by their first expiry.
type coldHeap []*coldKey

func (h *coldHeap) push(c *coldKey) {
	*h = append(*h, c)
	s := *h
	for i := len(s) - 1; i > 0; {
		parent := (i - 1) / 2
		if s[parent].expiry <= s[i].expiry {
			break
		}
		s[i], s[parent] = s[parent], s[i]
		i = parent
	}
}

func (h *coldHeap) pop() *coldKey {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s[last] = nil
	s = s[:last]
	for i := 0; ; {
		least, l, r := i, 2*i+1, 2*i+2
		if l < len(s) && s[l].expiry < s[least].expiry {
			least = l
		}
		if r < len(s) && s[r].expiry < s[least].expiry {
			least = r
		}
		if least == i {
			break
		}
		s[i], s[least] = s[least], s[i]
		i = least
	}
	*h = s
	return top
}
