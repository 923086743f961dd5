package topn

import (
	"bytes"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/tide-data/tide/internal/sql/types"
)

// ErrCorruptState is Load's answer for an entry it cannot decode, or one
// that contradicts the entries loaded before it.
var ErrCorruptState = errors.New("topn: corrupt state")

const (
	tagTopN       byte = 0x06
	metaRow       byte = 'r'
	metaWatermark byte = 'w'
	originLen          = 4 + 8 // partition, offset
)

var watermarkKey = []byte{tagTopN, metaWatermark}

// Changes calls fn with every state entry that changed since the last
// call: a row's entry with its value when it was added, a nil value when
// it was dropped, and the watermark's entry when it moved. key and value
// are valid only until fn returns.
//
// The first call on an operator that was neither loaded nor
// checkpointed gives its whole state. When fn fails, Changes returns its
// error and forgets nothing; once it has returned nil, its changes are
// handed over (a checkpoint that then fails must rebuild the operator
// from the store).
func (o *Operator) Changes(fn func(key, value []byte) error) error {
	if !o.tracking {
		return o.snapshot(fn)
	}
	for _, e := range o.dirty {
		if e.dropped && !e.stored {
			continue // came and went between two checkpoints
		}
		o.key = appendRowKey(o.key[:0], &e.row)
		var val []byte
		if !e.dropped {
			o.val = appendRowValue(o.val[:0], &e.row)
			val = o.val
		}
		if err := fn(o.key, val); err != nil {
			return err
		}
	}
	if o.wmDirty {
		if err := fn(watermarkKey, binary.AppendVarint(o.val[:0], o.wm)); err != nil {
			return err
		}
	}
	for i, e := range o.dirty {
		e.dirty, e.stored = false, !e.dropped
		o.dirty[i] = nil
	}
	o.dirty, o.wmDirty = o.dirty[:0], false
	return nil
}

// snapshot gives every entry and starts tracking.
func (o *Operator) snapshot(fn func(key, value []byte) error) error {
	for _, p := range o.parts {
		for _, e := range o.stateRows(p) {
			o.key = appendRowKey(o.key[:0], &e.row)
			o.val = appendRowValue(o.val[:0], &e.row)
			if err := fn(o.key, o.val); err != nil {
				return err
			}
		}
	}
	if o.wmDirty {
		if err := fn(watermarkKey, binary.AppendVarint(o.val[:0], o.wm)); err != nil {
			return err
		}
	}
	for _, p := range o.parts {
		for _, e := range o.stateRows(p) {
			e.stored = true
		}
	}
	o.tracking, o.wmDirty = true, false
	return nil
}

// Load restores one entry Changes gave, at restore: into an operator
// fresh from New, before any Add, Updates or Fire, with every entry of
// its store once, in any order. The rows loaded count as already shown
// by Updates. It does not retain key or value.
func (o *Operator) Load(key, value []byte) error {
	o.tracking = true
	if len(key) < 2 || key[0] != tagTopN {
		return fmt.Errorf("%w: key %x is not a top-N entry's", ErrCorruptState, key)
	}
	if key[1] == metaWatermark {
		wm, n := binary.Varint(value)
		if len(key) != len(watermarkKey) || n <= 0 || n != len(value) {
			return fmt.Errorf("%w: watermark entry %x = %x", ErrCorruptState, key, value)
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
	ts, n := binary.Varint(value)
	if n <= 0 {
		return fmt.Errorf("%w: value %x: no event time", ErrCorruptState, value)
	}
	r.TS, r.Values = ts, append([]byte(nil), value[n:]...)
	sortVals := make(types.Row, len(o.spec.Order))
	if err := o.decodeSort(sortVals, r.Values); err != nil {
		return fmt.Errorf("%w: key %x: %w", ErrCorruptState, key, err)
	}
	p := o.parts[r.Key]
	if p == nil {
		p = &part{key: r.Key, time: r.TS, from: -1}
		if o.spec.Retract {
			p.all = o.newTree()
		}
		o.parts[r.Key] = p
		o.memory += partOverhead + int64(len(r.Key))
		if o.spec.Final {
			heap.Push(&o.byTime, p)
		}
	}
	e := &entry{row: r, sort: sortVals, stored: true}
	e.row.Key = p.key
	if o.spec.Retract {
		if !o.loadRetracting(p, e) {
			return fmt.Errorf("%w: row %d/%d stored twice (key %x)", ErrCorruptState, r.Partition, r.Offset, key)
		}
		o.rows++
		o.memory += rowOverhead + int64(len(r.Values))
		return nil
	}
	at := sort.Search(len(p.rows), func(i int) bool { return o.less(e, p.rows[i]) })
	if at > 0 && !o.less(p.rows[at-1], e) {
		return fmt.Errorf("%w: row %d/%d stored twice (key %x)", ErrCorruptState, r.Partition, r.Offset, key)
	}
	p.rows = append(p.rows, nil)
	copy(p.rows[at+1:], p.rows[at:])
	p.rows[at] = e
	p.shown = len(p.rows)
	o.rows++
	o.memory += rowOverhead + int64(len(r.Values))
	return nil
}

// appendRowKey appends a row's key: the tag, its partition key with its
// length before it, then its origin.
func appendRowKey(dst []byte, r *Row) []byte {
	dst = append(dst, tagTopN, metaRow)
	dst = binary.AppendUvarint(dst, uint64(len(r.Key)))
	dst = append(dst, r.Key...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(r.Partition))
	return binary.BigEndian.AppendUint64(dst, uint64(r.Offset))
}

// parseRowKey reads what appendRowKey wrote, refusing any other encoding
// of the same row (Changes would write it under a second key, and never
// delete the first).
func (o *Operator) parseRowKey(key []byte) (Row, error) {
	var r Row
	if key[1] != metaRow {
		return r, fmt.Errorf("%w: key %x", ErrCorruptState, key)
	}
	n, l := binary.Uvarint(key[2:])
	rest := key[2+max(l, 0):]
	if l <= 0 || len(rest) < originLen || n != uint64(len(rest)-originLen) {
		return r, fmt.Errorf("%w: key %x: bad partition key length", ErrCorruptState, key)
	}
	r.Key = string(rest[:n])
	r.Partition = int32(binary.BigEndian.Uint32(rest[n:]))
	r.Offset = int64(binary.BigEndian.Uint64(rest[n+4:]))
	o.key = appendRowKey(o.key[:0], &r)
	if !bytes.Equal(o.key, key) {
		return r, fmt.Errorf("%w: key %x: length not in its shortest form", ErrCorruptState, key)
	}
	return r, nil
}

// appendRowValue appends a row's value: its event time, then Values.
func appendRowValue(dst []byte, r *Row) []byte {
	return append(binary.AppendVarint(dst, r.TS), r.Values...)
}
