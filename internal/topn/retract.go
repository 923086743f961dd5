package topn

import (
	"bytes"
	"slices"

	"github.com/google/btree"
)

// A retracting top-N (Spec.Retract) ranks rows that change: each row has
// an identity (its origin), an Add of a row whose identity is in state
// replaces it, and Retract takes one back. Any row may then rise into
// the first N when one before it falls or leaves, so every row is kept,
// per partition in a B-tree in rank order (a sorted slice would move a
// large partition's rows on each change); Updates hands over what
// changed in the first N positions since the last call, found by
// comparing them with the rows it handed over then (part.rows).

// origin is a row's identity.
type origin struct {
	partition int32
	offset    int64
}

// btreeDegree is the B-trees' node width: wide nodes, few pointers.
const btreeDegree = 32

// newTree is an empty partition's rows in rank order.
func (o *Operator) newTree() *btree.BTreeG[*entry] {
	return btree.NewG(btreeDegree, o.less)
}

// replace is Add for a retracting top-N.
func (o *Operator) replace(r Row) error {
	if err := o.decodeSort(o.scratch, r.Values); err != nil {
		return err
	}
	id := origin{r.Partition, r.Offset}
	if old := o.ids[id]; old != nil {
		if old.row.Key == r.Key && bytes.Equal(old.row.Values, r.Values) {
			return nil // read twice (the repartition topic is written at least once)
		}
		o.remove(old)
	}
	p := o.parts[r.Key]
	if p == nil {
		p = &part{key: r.Key, from: -1, all: o.newTree()}
		o.parts[r.Key] = p
		o.memory += partOverhead + int64(len(r.Key))
	}
	o.settle(p)
	e := &entry{row: r, sort: slices.Clone(o.scratch)}
	e.row.Key = p.key
	e.row.Values = append([]byte(nil), r.Values...)
	p.all.ReplaceOrInsert(e)
	o.ids[id] = e
	o.rows++
	o.memory += rowOverhead + int64(len(e.row.Values))
	o.touch(e)
	o.markChanged(p)
	return nil
}

// Retract takes back the row of origin (partition, offset) from the
// partition key if it is there with these values: a retraction read
// twice after its group's next row came, or one a later Add already
// moved to another partition, takes nothing back.
func (o *Operator) Retract(key string, partition int32, offset int64, values []byte) {
	if e := o.ids[origin{partition, offset}]; e != nil && e.row.Key == key && bytes.Equal(e.row.Values, values) {
		o.remove(e)
	}
}

// remove takes a retracting top-N's row out of its partition.
func (o *Operator) remove(e *entry) {
	p := o.parts[e.row.Key]
	o.settle(p)
	p.all.Delete(e)
	delete(o.ids, origin{e.row.Partition, e.row.Offset})
	o.drop(e)
	o.markChanged(p)
}

func (o *Operator) markChanged(p *part) {
	if !p.changed {
		p.changed = true
		o.changed = append(o.changed, p)
	}
}

// updatesRetracting is Updates for a retracting top-N: per changed
// partition, its first N rows from the first that differs from what the
// last call handed over, then the positions that emptied. A partition
// left with no rows is dropped once handed over.
func (o *Operator) updatesRetracting(fn func(key string, pos int, rank int64, r *Row) error) error {
	for len(o.changed) > 0 {
		p := o.changed[0]
		top := o.first(p)
		from := 0
		for from < len(top) && from < len(p.rows) && sameRow(top[from], p.rows[from]) {
			from++
		}
		if err := o.ranks(top, func(pos int, rank int64, r *Row) error {
			if pos < from {
				return nil
			}
			return fn(p.key, pos, rank, r)
		}); err != nil {
			return err
		}
		for pos := len(top); pos < len(p.rows); pos++ {
			if err := fn(p.key, pos, 0, nil); err != nil {
				return err
			}
		}
		p.rows, p.shown, p.changed = top, len(top), false
		if p.all.Len() == 0 {
			delete(o.parts, p.key)
			o.memory -= partOverhead + int64(len(p.key))
		}
		o.changed[0] = nil
		o.changed = o.changed[1:]
	}
	o.changed = nil
	return nil
}

// sameRow reports whether two entries hold the same row: the one handed
// over at a position is still there.
func sameRow(a, b *entry) bool {
	return a == b || (a.row.Partition == b.row.Partition && a.row.Offset == b.row.Offset && bytes.Equal(a.row.Values, b.row.Values))
}

// first is a partition's first N rows.
func (o *Operator) first(p *part) []*entry {
	top := make([]*entry, 0, min(int64(p.all.Len()), o.spec.Limit))
	p.all.Ascend(func(e *entry) bool {
		top = append(top, e)
		return int64(len(top)) < o.spec.Limit
	})
	return top
}

// loadRetracting adds a loaded entry to a retracting top-N's partition.
// The partition's first N count as handed over (the checkpoint's results
// were its rows then); they are taken from the tree once loading is done,
// before the partition's first change (settle), rather than kept in order
// as each row comes: rows load in key order, not rank order.
func (o *Operator) loadRetracting(p *part, e *entry) bool {
	id := origin{e.row.Partition, e.row.Offset}
	if o.ids[id] != nil {
		return false
	}
	o.ids[id] = e
	p.all.ReplaceOrInsert(e)
	p.loaded = true
	return true
}

// settle takes a loaded partition's first N as those handed over, before
// it changes.
func (o *Operator) settle(p *part) {
	if p.loaded {
		p.rows, p.loaded = o.first(p), false
		p.shown = len(p.rows)
	}
}

// stateRows are a partition's rows in state: every row of a retracting
// top-N's, else those it ranks.
func (o *Operator) stateRows(p *part) []*entry {
	if p.all == nil {
		return p.rows
	}
	rows := make([]*entry, 0, p.all.Len())
	p.all.Ascend(func(e *entry) bool {
		rows = append(rows, e)
		return true
	})
	return rows
}
