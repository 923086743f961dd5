package topn

import (
	"cmp"
	"container/heap"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/google/btree"

	"github.com/tide-data/tide/internal/sql/types"
)

// ErrLate is Add's answer for a row behind the watermark of a final
// top-N: its partition may already have been emitted.
var ErrLate = errors.New("topn: row is behind the watermark")

// Func is the ranking function.
type Func uint8

// The ranking functions.
const (
	RowNumber Func = iota // 1, 2, 3, 4
	Rank                  // 1, 1, 3, 4
	DenseRank             // 1, 1, 2, 3
)

// Order is one sort value's direction.
type Order struct {
	Desc       bool
	NullsFirst bool
}

// Spec is what the operator keeps.
type Spec struct {
	Func  Func
	Limit int64 // rows ranked 1 to Limit are kept
	// Order has an entry per sort value at the start of a row's Values.
	Order []Order
	// Final: partitions are complete once the watermark passes their
	// event time (Fire); otherwise the result updates (Updates).
	Final bool
	// Retract: rows change (retract.go). A row is identified by its
	// origin; an Add of one in state replaces it, Retract takes it back,
	// and every row is kept. Not with Final.
	Retract bool
}

// Row is one input row.
type Row struct {
	// Key is the partition key, opaque bytes.
	Key string
	// TS is the row's event time: its partition's, for a final top-N.
	TS int64
	// Partition and Offset are the row's origin, its identity.
	Partition int32
	Offset    int64
	// Values are the sort values, then the row's columns, each
	// types.AppendBinary-encoded.
	Values []byte
}

// Operator is one task's top-N state.
type Operator struct {
	spec    Spec
	parts   map[string]*part
	byTime  partHeap // a final top-N's partitions, earliest first
	changed []*part  // partitions changed since the last Updates
	wm      int64
	wmDirty bool
	rows    int
	memory  int64
	scratch types.Row         // a row's sort values, decoded
	ids     map[origin]*entry // a retracting top-N's rows by identity
	// Checkpoint bookkeeping (state.go).
	tracking bool
	dirty    []*entry
	key, val []byte
}

type part struct {
	key  string
	time int64
	rows []*entry              // in rank order; a retracting top-N's: those last handed over
	all  *btree.BTreeG[*entry] // a retracting top-N's rows, in rank order
	// from is the first position changed since the last Updates, and
	// shown how many positions the last Updates left filled.
	from, shown int
	changed     bool
	loaded      bool // a retracting top-N's partition loaded, rows not yet taken from all (settle)
	index       int  // in byTime
}

type entry struct {
	row  Row
	sort types.Row
	// dirty while in Operator.dirty; stored once a checkpoint wrote it;
	// dropped once pushed out or emitted, so its entry must be deleted
	// if it was stored.
	dirty, stored, dropped bool
}

// Rough sizes of what a row and a partition cost beyond their bytes.
const (
	rowOverhead  = 160
	partOverhead = 120
)

// New returns an empty operator.
func New(spec Spec) *Operator {
	o := &Operator{spec: spec, parts: map[string]*part{}, wm: math.MinInt64, scratch: make(types.Row, len(spec.Order))}
	if spec.Retract {
		o.ids = map[origin]*entry{}
	}
	return o
}

// Watermark returns the watermark of the last Fire (math.MinInt64
// before one), restored by Load.
func (o *Operator) Watermark() int64 { return o.wm }

// Len returns the number of rows in state.
func (o *Operator) Len() int { return o.rows }

// Memory returns an estimate of the bytes the state holds, and how many
// rows are evicted to disk: none, all of it is in memory.
func (o *Operator) Memory() (bytes int64, evicted int) { return o.memory, 0 }

// Add ranks r in its partition: it is kept if it ranks within Limit,
// and rows it pushes beyond Limit are dropped. A row already in state
// (same origin) is ignored. A final top-N refuses a row behind the
// watermark of the last Fire with ErrLate. Add copies r.Values; an error
// decoding them leaves the state as it was.
func (o *Operator) Add(r Row) error {
	if o.spec.Retract {
		return o.replace(r)
	}
	if o.spec.Final && r.TS < o.wm {
		return ErrLate
	}
	// Decoded into scratch: most rows of a busy partition rank beyond N
	// and are not kept.
	if err := o.decodeSort(o.scratch, r.Values); err != nil {
		return err
	}
	p := o.parts[r.Key]
	e := &entry{row: r, sort: o.scratch}
	at := 0
	if p != nil {
		at = sort.Search(len(p.rows), func(i int) bool { return o.less(e, p.rows[i]) })
		// A row read twice has the same sort values and origin: it sorts
		// right after its first copy.
		if at > 0 && !o.less(p.rows[at-1], e) {
			return nil
		}
		if o.rankBefore(p.rows, at, e) > o.spec.Limit {
			return nil // ranks beyond N: it would be pushed out at once
		}
	} else {
		p = &part{key: r.Key, time: r.TS, from: -1}
		o.parts[r.Key] = p
		o.memory += partOverhead + int64(len(r.Key))
		if o.spec.Final {
			heap.Push(&o.byTime, p)
		}
	}
	e.row.Key = p.key
	e.sort = slices.Clone(o.scratch)
	e.row.Values = append([]byte(nil), r.Values...)
	p.rows = append(p.rows, nil)
	copy(p.rows[at+1:], p.rows[at:])
	p.rows[at] = e
	o.rows++
	o.memory += rowOverhead + int64(len(e.row.Values))
	o.touch(e)
	keep := o.kept(p.rows)
	for i := keep; i < len(p.rows); i++ {
		o.drop(p.rows[i])
		p.rows[i] = nil
	}
	p.rows = p.rows[:keep]
	if !o.spec.Final {
		if !p.changed {
			p.changed, p.from = true, at
			o.changed = append(o.changed, p)
		}
		p.from = min(p.from, at)
	}
	return nil
}

// rankBefore is the rank a row e would take inserted at position at.
func (o *Operator) rankBefore(rows []*entry, at int, e *entry) int64 {
	switch o.spec.Func {
	case Rank:
		i := at
		for i > 0 && o.compareSort(rows[i-1].sort, e.sort) == 0 {
			i--
		}
		return int64(i) + 1
	case DenseRank:
		groups := int64(0)
		for i := range at {
			if i == 0 || o.compareSort(rows[i-1].sort, rows[i].sort) != 0 {
				groups++
			}
		}
		if at > 0 && o.compareSort(rows[at-1].sort, e.sort) == 0 {
			return groups
		}
		return groups + 1
	}
	return int64(at) + 1
}

// kept is how many of rows, in order, rank within Limit.
func (o *Operator) kept(rows []*entry) int {
	limit := int(min(o.spec.Limit, int64(len(rows))))
	if limit == 0 {
		return 0
	}
	switch o.spec.Func {
	case Rank: // and the rows tied with the last of them
		n := limit
		for n < len(rows) && o.compareSort(rows[n].sort, rows[limit-1].sort) == 0 {
			n++
		}
		return n
	case DenseRank:
		groups := int64(0)
		for i := range rows {
			if i == 0 || o.compareSort(rows[i-1].sort, rows[i].sort) != 0 {
				if groups++; groups > o.spec.Limit {
					return i
				}
			}
		}
		return len(rows)
	}
	return limit
}

// ranks calls fn with each row of rows and its rank, in order.
func (o *Operator) ranks(rows []*entry, fn func(pos int, rank int64, r *Row) error) error {
	rank := int64(0)
	for i, e := range rows {
		switch {
		case o.spec.Func == RowNumber || i == 0:
			rank = int64(i) + 1
		case o.compareSort(rows[i-1].sort, e.sort) == 0:
		case o.spec.Func == Rank:
			rank = int64(i) + 1
		default:
			rank++
		}
		if err := fn(i, rank, &e.row); err != nil {
			return err
		}
	}
	return nil
}

// Updates calls fn, for each partition changed since the last call, with
// its rows from the first position that changed (pos counts from 0),
// and for positions that emptied with a nil row. An updating top-N's
// callers emit these as upserts and deletions keyed by partition and
// position. When fn fails, Updates returns its error; the partitions not
// yet handed over stay changed.
func (o *Operator) Updates(fn func(key string, pos int, rank int64, r *Row) error) error {
	if o.spec.Retract {
		return o.updatesRetracting(fn)
	}
	for len(o.changed) > 0 {
		p := o.changed[0]
		if err := o.ranks(p.rows, func(pos int, rank int64, r *Row) error {
			if pos < p.from {
				return nil
			}
			return fn(p.key, pos, rank, r)
		}); err != nil {
			return err
		}
		for pos := len(p.rows); pos < p.shown; pos++ {
			if err := fn(p.key, pos, 0, nil); err != nil {
				return err
			}
		}
		p.shown, p.from, p.changed = len(p.rows), -1, false
		o.changed[0] = nil
		o.changed = o.changed[1:]
	}
	o.changed = nil
	return nil
}

// Fire completes the partitions of a final top-N whose event time the
// watermark wm has passed (time < wm), earliest first: fn gets each of
// their rows with its rank, in rank order, and the partitions are
// dropped. Rows behind wm are late from then on.
func (o *Operator) Fire(wm int64, fn func(key string, rank int64, r *Row)) {
	if wm <= o.wm {
		return
	}
	o.wm, o.wmDirty = wm, true
	for len(o.byTime) > 0 && o.byTime[0].time < wm {
		p := heap.Pop(&o.byTime).(*part)
		_ = o.ranks(p.rows, func(_ int, rank int64, r *Row) error {
			fn(p.key, rank, r)
			return nil
		})
		for _, e := range p.rows {
			o.drop(e)
		}
		delete(o.parts, p.key)
		o.memory -= partOverhead + int64(len(p.key))
	}
}

// drop takes e out of the state's counts and marks its entry deleted.
func (o *Operator) drop(e *entry) {
	e.dropped = true
	o.rows--
	o.memory -= rowOverhead + int64(len(e.row.Values))
	o.touch(e)
}

// touch marks an entry changed for the next checkpoint.
func (o *Operator) touch(e *entry) {
	if o.tracking && !e.dirty {
		e.dirty = true
		o.dirty = append(o.dirty, e)
	}
}

// decodeSort decodes the sort values at the start of a row's Values
// into row, of len(Spec.Order).
func (o *Operator) decodeSort(row types.Row, values []byte) error {
	if _, err := types.ReadBinaryRow(values, row); err != nil {
		return fmt.Errorf("topn: sort values do not decode: %w", err)
	}
	return nil
}

// less orders rows: by their sort values, then by origin.
func (o *Operator) less(a, b *entry) bool {
	if c := o.compareSort(a.sort, b.sort); c != 0 {
		return c < 0
	}
	if c := cmp.Compare(a.row.Partition, b.row.Partition); c != 0 {
		return c < 0
	}
	return a.row.Offset < b.row.Offset
}

// compareSort compares sort values in the spec's order.
func (o *Operator) compareSort(a, b types.Row) int {
	for i, ord := range o.spec.Order {
		x, y := a[i], b[i]
		var c int
		switch {
		case x.IsNull() && y.IsNull():
		case x.IsNull() || y.IsNull():
			c = 1 // x goes after y
			if x.IsNull() == ord.NullsFirst {
				c = -1
			}
		default:
			// Values of one column share a type: Compare fails only on
			// kinds the plan refuses to sort by.
			c, _ = types.Compare(x, y)
			if ord.Desc {
				c = -c
			}
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// partHeap orders a final top-N's partitions by event time.
type partHeap []*part

func (h partHeap) Len() int           { return len(h) }
func (h partHeap) Less(i, j int) bool { return h[i].time < h[j].time }
func (h partHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *partHeap) Push(x any) {
	p := x.(*part)
	p.index = len(*h)
	*h = append(*h, p)
}
func (h *partHeap) Pop() any {
	old := *h
	p := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return p
}
