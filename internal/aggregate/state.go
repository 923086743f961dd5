package aggregate

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/tide-data/tide/internal/eventtime"
	"github.com/tide-data/tide/internal/sql/expr"
)

// ErrCorruptState is Load's answer for an entry it cannot decode, or one
// that does not fit the operator's spec (another query's state).
var ErrCorruptState = errors.New("aggregate: corrupt state entry")

// State entry keys (see the package doc for the layout).
const (
	tagMeta     byte = 0x00 // operator-wide entries
	tagWindowV1 byte = 0x01 // windows in the first layout (by group): refused
	tagWindow   byte = 0x03 // one per (group, window), by end
	// tagSessionIndex marks one entry per group with sessions: their
	// bounds (session.go).
	tagSessionIndex byte = 0x04

	// stateVersion is the first byte of every window entry's value: 3
	// since session indexes (version 2 stored sessions without them, so
	// their keys' sessions could not be found once evicted: refused).
	stateVersion byte = 3
	indexVersion byte = 1 // the first byte of every session index's value
)

// firedKey holds the watermark of the last Fire.
var firedKey = []byte{tagMeta, 'f', 'i', 'r', 'e', 'd'}

// Changes calls fn with every state entry that changed since the last
// call: a window's entry with its value, a nil value for one whose window
// fired or merged into another since it was last given, and the
// operator's watermark entry when it moved. Deletions come first, so a
// key deleted and written again (a session that grew from the same
// start) ends written when the changes are applied in order. key and
// value are valid only until fn returns: fn copies what it keeps.
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
	if !o.tracking {
		return o.snapshot(fn)
	}
	var key, val []byte
	for _, w := range o.dirty {
		if w.dropped && w.stored {
			key = appendWindowKey(key[:0], w.key, w.w)
			if err := fn(key, nil); err != nil {
				return err
			}
		}
	}
	sizes := make([]int64, len(o.dirty))
	for i, w := range o.dirty {
		if !w.dropped {
			key = appendWindowKey(key[:0], w.key, w.w)
			val = appendWindowValue(val[:0], w)
			if err := fn(key, val); err != nil {
				return err
			}
			sizes[i] = entrySize(len(key), len(val), w.accs)
		}
	}
	if o.firedDirty {
		if err := fn(firedKey, binary.AppendVarint(val[:0], o.fired)); err != nil {
			return err
		}
	}
	if err := o.appendIndexChanges(fn); err != nil {
		return err
	}
	o.forgetEmptySessions()
	clear(o.indexDirty)
	for i, w := range o.dirty {
		w.dirty, w.stored = false, !w.dropped
		if w.dropped {
			if id := o.idOf(w.key, w.w); o.windows[id] == w {
				delete(o.windows, id) // its entry is gone: nothing left to mask
			}
		} else {
			o.memory += sizes[i] - w.size
			w.size = sizes[i]
		}
		o.dirty[i] = nil
	}
	o.dirty, o.firedDirty = o.dirty[:0], false
	return nil
}

// entrySize estimates what a window takes in memory from its entry's
// size: the key and the accumulators' state, plus the structures
// around them (map slot, window, accumulators).
func entrySize(key, value int, accs []*expr.Accumulator) int64 {
	n := int64(key + value + 160 + 64*len(accs))
	for _, a := range accs {
		n += a.Held() // a retracting min's, max's or DISTINCT's values, in memory
	}
	return n
}

// snapshot gives every entry and starts tracking.
func (o *Operator) snapshot(fn func(key, value []byte) error) error {
	var key, val []byte
	var err error
	sizes := map[*window]int64{}
	o.each(func(w *window) bool {
		key = appendWindowKey(key[:0], w.key, w.w)
		val = appendWindowValue(val[:0], w)
		sizes[w] = entrySize(len(key), len(val), w.accs)
		err = fn(key, val)
		return err == nil
	})
	if err != nil {
		return err
	}
	if o.fired != eventtime.NoWatermark {
		if err := fn(firedKey, binary.AppendVarint(val[:0], o.fired)); err != nil {
			return err
		}
	}
	for k, sessions := range o.sessions {
		key = appendIndexKey(key[:0], k)
		if err := fn(key, appendIndexValue(val[:0], sessions)); err != nil {
			return err
		}
	}
	o.each(func(w *window) bool {
		w.stored = true
		o.memory += sizes[w] - w.size
		w.size = sizes[w]
		return true
	})
	o.tracking, o.firedDirty = true, false
	return nil
}

// each calls fn with every open window in memory (or updating group's
// state), in no particular order, until fn returns false.
func (o *Operator) each(fn func(w *window) bool) {
	for _, b := range o.byEnd {
		for _, w := range b.windows {
			if !fn(w) {
				return
			}
		}
	}
}

// touch marks a window changed, on the hot path: a flag and, the first
// time since the last checkpoint, an append.
func (o *Operator) touch(w *window) {
	if o.tracking && !w.dirty {
		w.dirty = true
		o.dirty = append(o.dirty, w)
	}
}

// drop marks a window gone (fired, or merged into another session): its
// entry is deleted at the next checkpoint if one was written. The caller
// takes it out of its bucket.
func (o *Operator) drop(w *window) {
	w.dropped = true
	o.memory -= w.size
	w.size = 0
	switch {
	case w.stored:
		o.touch(w)
	case !o.session:
		if id := o.idOf(w.key, w.w); o.windows[id] == w {
			delete(o.windows, id)
		}
	}
}

// Load rebuilds one entry Changes gave, at restore: into an operator
// fresh from New, before any Add or Fire, with every entry of its store
// once, in any order. The operator starts tracking changes from there. Once
// the windows loaded take Spec.MaxMemory, further ones (not sessions)
// are checked and counted, and left in the spill store. Load returns
// ErrCorruptState (wrapped) for an entry that does not decode or does
// not fit the operator's spec. It does not retain key or value.
func (o *Operator) Load(key, value []byte) error {
	o.tracking = true
	if bytes.Equal(key, firedKey) {
		fired, n := binary.Varint(value)
		if n <= 0 || n != len(value) {
			return fmt.Errorf("%w: watermark %x", ErrCorruptState, value)
		}
		// The end of a bounded input (the end of time) ended that run,
		// not the job: a later run over new input starts without it.
		if fired != math.MaxInt64 {
			o.fired = fired
		}
		return nil
	}
	if len(key) > 0 && key[0] == tagSessionIndex {
		// Read when a key's sessions come back (loadSessions); here only
		// checked.
		if !o.session {
			return fmt.Errorf("%w: a session index without SESSION windows (key %x)", ErrCorruptState, key)
		}
		if _, err := parseIndexValue(value); err != nil {
			return fmt.Errorf("%w (key %x)", err, key)
		}
		return nil
	}
	if len(key) > 0 && key[0] == tagWindowV1 {
		return fmt.Errorf("%w: an entry of an older Tide's layout (key %x): drop the sink and create it again to start its state afresh", ErrCorruptState, key)
	}
	groupKey, span, err := parseWindowKey(key)
	if err != nil {
		return err
	}
	switch {
	case o.spec.Window == nil && span != (eventtime.Window{}):
		return fmt.Errorf("%w: a window %v in an updating GROUP BY (key %x)", ErrCorruptState, span, key)
	case o.spec.Window != nil && span.End <= span.Start:
		return fmt.Errorf("%w: empty window %v (key %x)", ErrCorruptState, span, key)
	}
	w, err := o.parseWindowValue(groupKey, span, value)
	if err != nil {
		return fmt.Errorf("%w (key %x)", err, key)
	}
	b := o.bucket(span.End)
	if o.session && o.spec.Spill != nil {
		// Sessions come back a key at a time, when needed.
		b.spilled++
		o.spilled++
		o.open++
		return nil
	}
	if o.session {
		sessions := o.sessions[groupKey]
		i, found := slices.BinarySearchFunc(sessions, span.Start, func(x *window, start int64) int { return cmp.Compare(x.w.Start, start) })
		if found {
			o.unplace(sessions[i])
			o.memory -= sessions[i].size
			sessions[i] = w
		} else {
			o.sessions[groupKey] = slices.Insert(sessions, i, w)
			o.open++
		}
	} else if old := o.windows[o.idOf(groupKey, span)]; old != nil {
		o.unplace(old)
		o.memory -= old.size
	} else {
		if o.spec.Spill != nil && o.memory >= o.spec.MaxMemory {
			b.spilled++
			o.spilled++
			o.open++
			return nil
		}
		o.open++
	}
	w.stored, w.size = true, entrySize(len(key), len(value), w.accs)
	o.place(w, b)
	return nil
}

// appendWindowKey appends the key of a group's window: the tag, the
// window's end as big-endian with its sign bit flipped (so that ends
// sort as numbers and Fire reads a bucket's evicted windows with one
// prefix scan), the group key escaped so that keys sort as the group
// keys do (0x00 becomes 0x00 0xff, and 0x00 0x01 ends it), then the
// start as the end is.
func appendWindowKey(dst []byte, groupKey string, span eventtime.Window) []byte {
	dst = appendEscaped(appendEndPrefix(dst, span.End), groupKey)
	return binary.BigEndian.AppendUint64(dst, uint64(span.Start)^(1<<63))
}

// appendEscaped appends a group key so that keys sort as the group keys
// do and where it ends is clear: 0x00 becomes 0x00 0xff, and 0x00 0x01
// ends it.
func appendEscaped(dst []byte, groupKey string) []byte {
	for {
		i := strings.IndexByte(groupKey, 0)
		if i < 0 {
			break
		}
		dst = append(dst, groupKey[:i+1]...)
		dst = append(dst, 0xff)
		groupKey = groupKey[i+1:]
	}
	dst = append(dst, groupKey...)
	return append(dst, 0x00, 0x01)
}

// appendEndPrefix appends what the keys of the windows ending at end
// start with.
func appendEndPrefix(dst []byte, end int64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, tagWindow), uint64(end)^(1<<63))
}

// parseWindowKey reads what appendWindowKey wrote.
func parseWindowKey(key []byte) (groupKey string, span eventtime.Window, err error) {
	if len(key) < 1+8+2+8 || key[0] != tagWindow {
		return "", span, fmt.Errorf("%w: key %x", ErrCorruptState, key)
	}
	var g []byte
	rest := key[1+8 : len(key)-8]
	for {
		i := bytes.IndexByte(rest, 0)
		if i < 0 || i+1 >= len(rest) {
			return "", span, fmt.Errorf("%w: key %x", ErrCorruptState, key)
		}
		g = append(g, rest[:i]...)
		switch rest[i+1] {
		case 0xff:
			g = append(g, 0)
			rest = rest[i+2:]
			continue
		case 0x01:
			if i+2 != len(rest) {
				return "", span, fmt.Errorf("%w: key %x", ErrCorruptState, key)
			}
		default:
			return "", span, fmt.Errorf("%w: key %x", ErrCorruptState, key)
		}
		break
	}
	span.End = int64(binary.BigEndian.Uint64(key[1:9]) ^ (1 << 63))
	span.Start = int64(binary.BigEndian.Uint64(key[len(key)-8:]) ^ (1 << 63))
	return string(g), span, nil
}

// appendWindowValue appends a window's value: the format version, then
// each accumulator's state with its length.
func appendWindowValue(dst []byte, w *window) []byte {
	dst = append(dst, stateVersion)
	dst = binary.AppendUvarint(dst, uint64(len(w.accs)))
	for _, acc := range w.accs {
		// The state's length goes before it: reserve the most a uvarint
		// takes, then close the gap (a copy of the state, no allocation).
		at := len(dst)
		dst = append(dst, make([]byte, binary.MaxVarintLen64)...)
		dst = acc.AppendState(dst)
		n := len(dst) - at - binary.MaxVarintLen64
		var lenBuf [binary.MaxVarintLen64]byte
		l := binary.PutUvarint(lenBuf[:], uint64(n))
		copy(dst[at:], lenBuf[:l])
		copy(dst[at+l:], dst[at+binary.MaxVarintLen64:])
		dst = dst[:at+l+n]
	}
	return dst
}

// parseWindowValue rebuilds a window from its value.
func (o *Operator) parseWindowValue(groupKey string, span eventtime.Window, value []byte) (*window, error) {
	if len(value) > 0 && value[0] < stateVersion {
		return nil, fmt.Errorf("%w: a window of an older Tide's format (version %d): drop the sink and create it again to start its state afresh", ErrCorruptState, value[0])
	}
	if len(value) == 0 || value[0] != stateVersion {
		return nil, fmt.Errorf("%w: unknown format", ErrCorruptState)
	}
	rest := value[1:]
	count, n := binary.Uvarint(rest)
	if n <= 0 {
		return nil, ErrCorruptState
	}
	rest = rest[n:]
	if count != uint64(len(o.spec.Aggs)) {
		return nil, fmt.Errorf("%w: %d aggregates, the query has %d", ErrCorruptState, count, len(o.spec.Aggs))
	}
	w := o.newWindow(groupKey, span)
	for _, acc := range w.accs {
		size, n := binary.Uvarint(rest)
		if n <= 0 || size > uint64(len(rest)-n) {
			return nil, ErrCorruptState
		}
		rest = rest[n:]
		if err := acc.LoadState(rest[:size]); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCorruptState, err)
		}
		rest = rest[size:]
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the aggregates", ErrCorruptState, len(rest))
	}
	return w, nil
}
