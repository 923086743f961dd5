package aggregate

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/tide-data/tide/internal/eventtime"
	"github.com/tide-data/tide/internal/sql/types"
)

// Sessions merge by key: an event needs every session of its key, which
// window keys (by end) cannot find. So each key with sessions has an
// index entry listing their bounds, written whenever the set changes,
// and a key's sessions are in memory all together or not at all: Evict
// takes a key's when every one is clean, and an event or Fire brings
// them all back with the index entry and one lookup per session.

// addSession merges the event's session into the key's open ones.
func (o *Operator) addSession(key string, span eventtime.Window, args []types.Value) error {
	if eventtime.Late(span, o.fired) {
		return ErrLate
	}
	sessions, ok := o.sessions[key]
	if !ok && o.spilled > 0 {
		var err error
		if sessions, err = o.loadSessions(key); err != nil {
			return err
		}
	}
	spans := make([]eventtime.Window, len(sessions))
	for i, s := range sessions {
		spans[i] = s.w
	}
	merged, absorbed := eventtime.MergeSession(spans, span)
	target := o.newWindow(key, merged)
	for _, i := range absorbed {
		for j, acc := range sessions[i].accs {
			if err := target.accs[j].Merge(acc); err != nil {
				return err
			}
		}
	}
	if err := addAll(target.accs, args); err != nil {
		return err
	}
	o.open += 1 - len(absorbed)
	for i := len(absorbed) - 1; i >= 0; i-- {
		old := sessions[absorbed[i]]
		if old.w == merged {
			// The same key (an event inside the session): the merged
			// session's entry overwrites this one's rather than
			// deleting it first.
			target.stored, old.stored = old.stored, false
		}
		o.unplace(old)
		o.drop(old)
		sessions = slices.Delete(sessions, absorbed[i], absorbed[i]+1)
	}
	i, _ := slices.BinarySearchFunc(sessions, merged.Start, func(x *window, start int64) int { return cmp.Compare(x.w.Start, start) })
	o.sessions[key] = slices.Insert(sessions, i, target)
	o.place(target, o.bucket(merged.End))
	target.ref = true
	o.touch(target)
	if len(absorbed) != 1 || !target.stored {
		o.indexChanged(key) // the key's sessions' bounds changed
	}
	return nil
}

// indexChanged marks key's index entry for the next checkpoint.
func (o *Operator) indexChanged(key string) {
	if o.tracking {
		o.indexDirty[key] = true
	}
}

// forgetSession takes a fired session out of its key's list.
func (o *Operator) forgetSession(w *window) {
	sessions := o.sessions[w.key]
	i, found := slices.BinarySearchFunc(sessions, w.w.Start, func(x *window, start int64) int { return cmp.Compare(x.w.Start, start) })
	if found {
		sessions = slices.Delete(sessions, i, i+1)
	}
	if len(sessions) == 0 && !o.tracking {
		delete(o.sessions, w.key)
	} else {
		// Until the next checkpoint deletes its index entry, an empty
		// list says the key has no session: the store's stale index
		// must not be read back.
		o.sessions[w.key] = sessions
	}
	o.indexChanged(w.key)
}

// loadSessions reads key's evicted sessions back into memory (none when
// it has no index entry) and returns them, sorted by start.
func (o *Operator) loadSessions(key string) ([]*window, error) {
	o.key = appendIndexKey(o.key[:0], key)
	v, found, err := o.spec.Spill.Get(o.key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSpill, err)
	}
	if !found {
		return nil, nil
	}
	spans, err := parseIndexValue(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %w (key %x)", ErrSpill, err, o.key)
	}
	sessions := make([]*window, 0, len(spans))
	for _, span := range spans {
		o.key = appendWindowKey(o.key[:0], key, span)
		v, found, err := o.spec.Spill.Get(o.key)
		if err == nil && !found {
			err = fmt.Errorf("%w: session %v of the index is missing", ErrCorruptState, span)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w (key %x)", ErrSpill, err, o.key)
		}
		w, err := o.parseWindowValue(key, span, v)
		if err != nil {
			return nil, fmt.Errorf("%w: %w (key %x)", ErrSpill, err, o.key)
		}
		b := o.byEnd[span.End]
		if b == nil || b.spilled == 0 {
			return nil, fmt.Errorf("%w: %w: session %v of key %x is not counted as evicted", ErrSpill, ErrCorruptState, span, key)
		}
		w.stored, w.size = true, entrySize(len(o.key), len(v), w.accs)
		b.spilled--
		o.spilled--
		o.place(w, b)
		sessions = append(sessions, w)
	}
	if len(sessions) > 0 {
		o.sessions[key] = sessions
	}
	return sessions, nil
}

// loadSessionsEnding reads back every key with an evicted session that
// ends at end, so that Fire finds them in end's bucket.
func (o *Operator) loadSessionsEnding(end int64) error {
	var keys []string
	o.key = appendEndPrefix(o.key[:0], end)
	err := o.spec.Spill.ScanPrefix(o.key, func(k, _ []byte) error {
		key, _, err := parseWindowKey(k)
		if err != nil {
			return err
		}
		if _, inMemory := o.sessions[key]; !inMemory {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSpill, err)
	}
	for _, key := range keys {
		if _, err := o.loadSessions(key); err != nil {
			return err
		}
	}
	return nil
}

// evictSessions is one pass of Evict's clock over the keys' sessions.
func (o *Operator) evictSessions() {
	for key, sessions := range o.sessions {
		if o.memory <= o.spec.MaxMemory {
			return
		}
		if o.indexDirty[key] {
			continue
		}
		clean, used := true, false
		for _, w := range sessions {
			clean = clean && !w.dirty && !w.dropped && w.stored
			used = used || w.ref
			w.ref = false
		}
		if !clean || used {
			continue
		}
		for _, w := range sessions {
			o.unplace(w)
			o.memory -= w.size
			o.byEnd[w.w.End].spilled++
			o.spilled++
		}
		delete(o.sessions, key)
	}
}

// appendIndexChanges gives fn the index entry of every key whose
// sessions changed: their bounds, or a deletion when none is left.
func (o *Operator) appendIndexChanges(fn func(key, value []byte) error) error {
	var key, val []byte
	for k := range o.indexDirty {
		key = appendIndexKey(key[:0], k)
		sessions := o.sessions[k]
		if len(sessions) == 0 {
			if err := fn(key, nil); err != nil {
				return err
			}
			continue
		}
		if err := fn(key, appendIndexValue(val[:0], sessions)); err != nil {
			return err
		}
	}
	return nil
}

// forgetEmptySessions drops the empty lists forgetSession left, once
// their index entries' deletions are handed over.
func (o *Operator) forgetEmptySessions() {
	for k := range o.indexDirty {
		if s, ok := o.sessions[k]; ok && len(s) == 0 {
			delete(o.sessions, k)
		}
	}
}

// appendIndexKey appends the key of a group's session index: the tag,
// then the group key escaped as in window keys.
func appendIndexKey(dst []byte, groupKey string) []byte {
	return appendEscaped(append(dst, tagSessionIndex), groupKey)
}

// appendIndexValue appends the bounds of sessions: the format version,
// their count, then each one's start and end.
func appendIndexValue(dst []byte, sessions []*window) []byte {
	dst = append(dst, indexVersion)
	dst = binary.AppendUvarint(dst, uint64(len(sessions)))
	for _, w := range sessions {
		dst = binary.AppendVarint(dst, w.w.Start)
		dst = binary.AppendVarint(dst, w.w.End)
	}
	return dst
}

// parseIndexValue reads what appendIndexValue wrote.
func parseIndexValue(v []byte) ([]eventtime.Window, error) {
	if len(v) == 0 || v[0] != indexVersion {
		return nil, fmt.Errorf("%w: session index of unknown format", ErrCorruptState)
	}
	rest := v[1:]
	n, l := binary.Uvarint(rest)
	if l <= 0 || n > uint64(len(rest)) {
		return nil, fmt.Errorf("%w: session index %x", ErrCorruptState, v)
	}
	rest = rest[l:]
	spans := make([]eventtime.Window, n)
	for i := range spans {
		start, l1 := binary.Varint(rest)
		if l1 <= 0 {
			return nil, fmt.Errorf("%w: session index %x", ErrCorruptState, v)
		}
		end, l2 := binary.Varint(rest[l1:])
		if l2 <= 0 || end <= start || (i > 0 && start < spans[i-1].End) {
			return nil, fmt.Errorf("%w: session index %x", ErrCorruptState, v)
		}
		spans[i] = eventtime.Window{Start: start, End: end}
		rest = rest[l1+l2:]
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the session index", ErrCorruptState, len(rest))
	}
	return spans, nil
}
