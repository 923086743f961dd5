package join

import (
	"errors"
	"fmt"
	"math"
)

// ErrLate is Add's answer for a row behind the watermark: a partner it
// should have met may already be dropped, so the row is not joined.
var ErrLate = errors.New("join: row is behind the watermark")

// ErrSpill wraps a failure to read evicted rows back from the spill store
// (an I/O error, a corrupt entry): the operator can no longer be trusted
// and must be rebuilt from the store.
var ErrSpill = errors.New("join: reading spilled state")

// ErrDuplicate is Add's answer for a row already in state (a repartition
// record written twice): it was joined when it first came.
var ErrDuplicate = errors.New("join: row is already in state")

// Side is one of the join's two inputs.
type Side uint8

// The two sides, in the order of the query's FROM.
const (
	Left  Side = 0
	Right Side = 1
)

// Other returns the side a row of s is matched against.
func (s Side) Other() Side { return 1 - s }

// String names the side, for errors.
func (s Side) String() string {
	switch s {
	case Left:
		return "left"
	case Right:
		return "right"
	}
	return fmt.Sprintf("Side(%d)", uint8(s))
}

// Forever is a Keep for a side with no time bound: its rows stay until
// the job is dropped.
const Forever = math.MaxInt64

// Spec is what the operator keeps and what it hands back.
type Spec struct {
	// Keep is, per side, how long in event time (µs) a row stays in
	// state after its own event time: it is dropped once the watermark
	// passes TS + Keep[side] (saturating add; Forever: never). A
	// negative Keep counts as 0: a row must stay at least until it is
	// late itself, or a pair of rows that are both on time could miss
	// each other.
	Keep [2]int64
	// Outer[s]: a row of side s dropped without ever having matched is
	// handed to Expire's callback (LEFT JOIN: Outer[Left]; FULL: both).
	Outer [2]bool
	// Matched[s]: side s's rows record whether they found a partner (Row.Matched)
	// although the side is not Outer, for a caller that emits a side's
	// lonely rows itself. A side that is neither never sets Matched, so
	// that a row's first partner does not write it to the store again.
	Matched [2]bool

	// Spill, when set, lets the operator hold more state than memory:
	// Evict drops join keys from memory beyond MaxMemory bytes — all of a
	// key's rows, both sides — and they are read back from Spill when a
	// row with that key comes, or when the first of them is to expire.
	// Spill must be the store Changes feeds, holding every change as of
	// the last Evict.
	Spill     Spill
	MaxMemory int64
}

// Spill is the store evicted rows are read back from: a task's state
// store (internal/state).
type Spill interface {
	// ScanPrefix calls fn with every entry whose key starts with
	// prefix, in key order, until fn returns an error.
	ScanPrefix(prefix []byte, fn func(key, value []byte) error) error
}

// Row is one side's row.
type Row struct {
	Side Side
	// Key is the join key, opaque bytes. The operator keeps the first
	// Key string it sees for a key (strings are immutable) and points
	// later rows with that key at it.
	Key       string
	TS        int64 // event time, µs
	Partition int32 // the source partition the row came from and
	Offset    int64 // its offset there: with Side and Key, the row's identity
	// Values holds the row's columns, opaque to the operator. Add
	// copies them; a *Row the operator passes to a callback is its own.
	Values []byte
	// Matched is set once the row has found a partner (for outer
	// joins). Add ignores it: a new row starts unmatched.
	Matched bool
}

// Operator holds the rows of both sides that may still meet a partner.
type Operator struct {
	spec Spec
	// keys holds each side's rows by join key, in arrival order.
	keys [2]map[string]*keyRows
	// ids finds a row by identity, to ignore duplicates.
	ids map[rowID]*entry
	// expiry orders the rows that will be dropped one day (not those
	// kept Forever) by expiry time, then arrival.
	expiry expiryHeap
	seq    uint64 // the next row's arrival number
	wm     int64  // the watermark of the last Expire
	count  [2]int
	memory int64

	// cold holds the join keys whose rows are only in the spill store
	// (Evict), and coldByExpiry them by their rows' first expiry
	// (entries of keys read back since are skipped when they come up).
	cold         map[string]*coldKey
	coldByExpiry coldHeap
	coldRows     int
	prefix       []byte // scratch for a key's prefix in the spill store
	warming      []Row  // scratch: the rows warm reads back
	coldStale    bool   // Load made cold records the heap does not hold yet

	hits []*entry // scratch: rows Add's callback matched for the first time
	out  Row      // scratch: the row handed to Expire's callback

	// The changes since the last checkpoint (state.go): tracked once the
	// operator is checkpointed or loaded, so one that never is keeps
	// nothing for a checkpoint.
	tracking bool
	dirty    []*entry // each at most once (entry.dirty)
	wmDirty  bool     // wm moved since the last Changes
	key, val []byte   // scratch for entries
	keyArena []byte   // scratch: the keys of a checkpoint's changes
	sorted   []change // scratch: a checkpoint's changes in key order
}

// rowID is a row's identity: its side, origin and join key. The key
// tells apart the copies of one input row in several hopping windows
// (the window is part of the key); the store's keys hold all four.
type rowID struct {
	side      Side
	partition int32
	offset    int64
	key       string
}

// keyRows is one side's rows with one join key.
type keyRows struct {
	key string
	ref bool // a row of the key was added or matched since the last Evict
	// rows is in arrival order, with nil where a row was dropped until
	// compact closes the gaps: a row expires from anywhere in the list
	// when the rows come out of event-time order.
	rows []*entry
	live int
}

type entry struct {
	row    Row
	expiry int64    // TS + Keep, saturated; math.MaxInt64: never
	seq    uint64   // arrival, to break ties in expiry
	list   *keyRows // its key's rows, without hashing the key again
	slot   int32    // in list.rows (int32 keeps entry in a 112-byte size class)
	heap   int32    // in Operator.expiry, when it expires one day
	// Checkpoint bookkeeping (state.go): dirty while in Operator.dirty;
	// stored once a checkpoint wrote it; dropped once expired, so its
	// entry must be deleted if it was stored; setOnce while the store
	// holds the one Set of it the operator wrote since tracking began
	// (SingleDelete may delete it).
	dirty, stored, dropped, setOnce bool
}

// Rough sizes of what a row and a join key cost beyond their bytes: the
// entry, its slots in the identity map, its key's list and the heap; a
// key's map slot and list.
const (
	rowOverhead  = 200
	keyOverhead  = 120
	coldOverhead = 100 // an evicted key's record and its heap entry
)

// New returns an empty operator.
func New(spec Spec) *Operator {
	for s := range spec.Keep {
		spec.Keep[s] = max(spec.Keep[s], 0)
	}
	return &Operator{
		spec: spec,
		keys: [2]map[string]*keyRows{{}, {}},
		ids:  map[rowID]*entry{},
		cold: map[string]*coldKey{},
		wm:   math.MinInt64,
	}
}

// Watermark returns the watermark of the last Expire (math.MinInt64
// before one), restored by Load.
func (o *Operator) Watermark() int64 { return o.wm }

// Len returns the number of rows in memory, per side (evicted ones are
// counted by Memory).
func (o *Operator) Len() [2]int { return o.count }

// Memory returns an estimate of the bytes the state holds in memory, and
// how many rows are evicted to the spill store.
func (o *Operator) Memory() (bytes int64, evicted int) { return o.memory, o.coldRows }

// Add stores r, unless it is late or a duplicate, and calls match for
// each stored row of the other side with the same Key, in the order they
// were added (in origin order for rows restored by Load). match reports
// whether the pair satisfies the rest of the join condition; a true sets
// Matched on both rows, on the sides that record it (Spec.Outer,
// Spec.Matched; other.Matched is still false in the call that finds its
// first partner). match must not modify other or its Values,
// which are the operator's; it may hold other.Values until its caller's
// next call of an Operator method (the operator never changes a stored
// row's Values).
//
// r is late when r.TS is behind the watermark of the last Expire and
// the other side does not keep its rows Forever: Add returns ErrLate,
// stores nothing and does not call match. A row whose
// identity (Side, Partition, Offset, Key) is already in state is a duplicate
// (a repartition record written twice): Add does nothing and returns
// ErrDuplicate, even if it is now behind the watermark, since the first
// copy was joined.
//
// An error from match stops Add, which returns it and leaves the state
// as it was: r is not stored and no row's Matched changes, so the pairs
// the caller took from earlier calls of this Add should be dropped too.
// Add copies r.Values; it does not retain them.
func (o *Operator) Add(r Row, match func(other *Row) (bool, error)) error {
	if r.Side > Right {
		return fmt.Errorf("join: a row of no side (%v)", r.Side)
	}
	if len(o.cold) > 0 { // no hashing on the hot path of a join within its budget
		if _, cold := o.cold[r.Key]; cold {
			if err := o.warm(r.Key); err != nil {
				return err
			}
		}
	}
	id := rowID{r.Side, r.Partition, r.Offset, r.Key}
	if _, dup := o.ids[id]; dup {
		return ErrDuplicate
	}
	// Behind the watermark, partners of r may have been dropped, unless
	// the other side keeps its rows for ever (a join without a time
	// bound): then r meets every one of them, and is not late.
	if r.TS < o.wm && o.spec.Keep[r.Side.Other()] != Forever {
		return ErrLate
	}
	matched := false
	if others := o.keys[r.Side.Other()][r.Key]; others != nil {
		others.ref = true
		o.hits = o.hits[:0]
		for _, e := range others.rows {
			if e == nil {
				continue
			}
			ok, err := match(&e.row)
			if err != nil {
				clear(o.hits)
				return err
			}
			if ok {
				matched = true
				if !e.row.Matched && o.tracksMatch(e.row.Side) {
					o.hits = append(o.hits, e)
				}
			}
		}
		// Only now that every call succeeded, so that an error changes
		// nothing.
		for i, e := range o.hits {
			e.row.Matched = true
			o.touch(e)
			o.hits[i] = nil
		}
	}
	r.Values = append([]byte(nil), r.Values...)
	r.Matched = matched && o.tracksMatch(r.Side)
	o.touch(o.insert(r))
	return nil
}

// insert stores a row that is not in state yet.
func (o *Operator) insert(r Row) *entry {
	e := &entry{row: r, expiry: expiryTime(r.TS, o.spec.Keep[r.Side]), seq: o.seq}
	o.seq++
	side := o.keys[r.Side]
	k := side[r.Key]
	if k == nil {
		k = &keyRows{key: r.Key}
		side[r.Key] = k
		o.memory += keyOverhead + int64(len(r.Key))
	}
	e.row.Key = k.key // one copy of the key's bytes per side, however many rows
	k.ref = true
	e.list, e.slot = k, int32(len(k.rows))
	k.rows = append(k.rows, e)
	k.live++
	o.ids[rowID{r.Side, r.Partition, r.Offset, e.row.Key}] = e
	if e.expiry != math.MaxInt64 {
		o.expiry.push(e)
	}
	o.count[r.Side]++
	o.memory += rowOverhead + int64(len(r.Values))
	return e
}

// tracksMatch reports whether side's rows record Matched.
func (o *Operator) tracksMatch(side Side) bool { return o.spec.Outer[side] || o.spec.Matched[side] }

// Expire moves the watermark to wm (it never goes back: an older wm
// changes nothing) and drops every row whose TS + Keep[side] is behind
// it. It calls unmatched (may be nil) for each dropped row of an Outer
// side that never matched, in order of expiry time then arrival (origin
// for rows restored by Load), each once. The Row is valid only during
// the call, but its Values are handed over: the callback may keep them.
//
// Expire first reads back the evicted keys whose rows the watermark has
// passed, so that they are dropped (and handed over) as any other: an
// error reading them is an ErrSpill, and nothing is dropped then.
func (o *Operator) Expire(wm int64, unmatched func(*Row)) error {
	if wm > o.wm {
		o.wm, o.wmDirty = wm, true
	}
	if o.coldStale {
		o.sortCold()
	}
	for len(o.coldByExpiry) > 0 && o.coldByExpiry[0].expiry < o.wm {
		c := o.coldByExpiry.pop()
		if ck := o.cold[c.key]; ck == c {
			if err := o.warm(c.key); err != nil {
				return err
			}
		}
	}
	// Against o.wm, not wm: rows loaded already behind the restored
	// watermark go at the next call, whatever its wm.
	for len(o.expiry) > 0 && o.expiry[0].expiry < o.wm {
		e := o.expiry.pop()
		o.drop(e)
		if unmatched != nil && o.spec.Outer[e.row.Side] && !e.row.Matched {
			o.out = e.row
			unmatched(&o.out)
			o.out = Row{}
		}
		// The entry may wait for the next checkpoint, to delete its
		// store entry: that needs only the key, and the callback may
		// hold the Values.
		e.row.Values = nil
	}
	return nil
}

// drop takes an expired row out of state; its entry is deleted at the
// next checkpoint if one was written.
func (o *Operator) drop(e *entry) {
	k := e.list
	k.rows[e.slot] = nil
	k.live--
	switch {
	case k.live == 0:
		delete(o.keys[e.row.Side], k.key)
		o.memory -= keyOverhead + int64(len(k.key))
	case k.live < len(k.rows)-k.live:
		k.compact()
	}
	delete(o.ids, rowID{e.row.Side, e.row.Partition, e.row.Offset, e.row.Key})
	o.count[e.row.Side]--
	o.memory -= rowOverhead + int64(len(e.row.Values))
	e.dropped = true
	if e.stored {
		o.touch(e)
	}
}

// compact closes the gaps dropped rows left, once they outnumber the
// rows: a compaction's cost is then paid by the drops that made it
// needed.
func (k *keyRows) compact() {
	n := 0
	for _, e := range k.rows {
		if e != nil {
			e.slot = int32(n)
			k.rows[n] = e
			n++
		}
	}
	clear(k.rows[n:])
	k.rows = k.rows[:n]
	if cap(k.rows) > 4*n+8 {
		// A key that was hot and cooled gives its array back.
		k.rows = append(make([]*entry, 0, 2*n), k.rows...)
	}
}

// expiryTime returns when a row of time ts is dropped: math.MaxInt64,
// never, for Forever (which a negative ts would otherwise bring back into
// range) and for times so late the sum would overflow.
func expiryTime(ts, keep int64) int64 {
	if keep == Forever || ts > math.MaxInt64-keep {
		return math.MaxInt64
	}
	return ts + keep
}

// expiryHeap is a min-heap of rows by expiry time, then arrival: typed
// rather than container/heap, which boxes every push and pop.
type expiryHeap []*entry

func (h expiryHeap) less(i, j int) bool {
	a, b := h[i], h[j]
	return a.expiry < b.expiry || a.expiry == b.expiry && a.seq < b.seq
}

func (h expiryHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heap, h[j].heap = int32(i), int32(j)
}

func (h expiryHeap) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			break
		}
		h.swap(i, parent)
		i = parent
	}
}

func (h expiryHeap) down(i int) {
	for {
		least, l, r := i, 2*i+1, 2*i+2
		if l < len(h) && h.less(l, least) {
			least = l
		}
		if r < len(h) && h.less(r, least) {
			least = r
		}
		if least == i {
			return
		}
		h.swap(i, least)
		i = least
	}
}

func (h *expiryHeap) push(e *entry) {
	e.heap = int32(len(*h))
	*h = append(*h, e)
	h.up(len(*h) - 1)
}

func (h *expiryHeap) pop() *entry {
	return h.remove(0)
}

// remove takes out the entry at i (an evicted row's).
func (h *expiryHeap) remove(i int) *entry {
	s := *h
	e := s[i]
	last := len(s) - 1
	if i != last {
		s.swap(i, last)
	}
	s[last] = nil
	s = s[:last]
	*h = s
	if i < len(s) {
		s.down(i)
		s.up(i)
	}
	e.heap = -1
	return e
}
