package state

import (
	"bytes"
	"fmt"
	"testing"
)

// A committed checkpoint's memory serves the next checkpoints, which see
// none of its keys or values; a discarded one's is never reused, since a
// failed produce may have left its records with a client.
func TestCheckpointMemoryReuse(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	changes := func(round, n int) []change {
		out := make([]change, n)
		for i := range out {
			out[i].key = fmt.Sprintf("key-%d", i)
			if i%3 != 0 { // every third a deletion: no stale value may show
				out[i].value = fmt.Appendf(nil, "value-%d-%d", round, i)
			}
		}
		return out
	}
	keys := map[string][]byte{}
	putChanges := func(cp *Checkpoint, changes []change) {
		t.Helper()
		for _, c := range changes {
			key := keys[c.key]
			if key == nil {
				key = []byte(c.key)
				keys[c.key] = key
			}
			if err := cp.Put(key, c.value); err != nil {
				t.Fatal(err)
			}
		}
	}
	put := func(cp *Checkpoint, round, n int) { t.Helper(); putChanges(cp, changes(round, n)) }
	check := func(cp *Checkpoint, round, n int) {
		t.Helper()
		recs := cp.Records()
		if len(recs) != n {
			t.Fatalf("round %d: %d records, want %d", round, len(recs), n)
		}
		for i, r := range recs {
			want := fmt.Appendf(nil, "value-%d-%d", round, i)
			if i%3 == 0 {
				want = nil
			}
			if string(r.Key) != fmt.Sprintf("key-%d", i) || !bytes.Equal(r.Value, want) || (r.Value == nil) != (want == nil) ||
				r.Headers != nil || !r.Timestamp.IsZero() {
				t.Fatalf("round %d, record %d: %+v, want key-%d=%q", round, i, r, i, want)
			}
		}
	}
	const n = 3000 // several slabs and arena chunks
	for round := range 3 {
		cp := s.NewCheckpoint(testChangelog)
		put(cp, round, n)
		check(cp, round, n)
		// A record's fields as a producer leaves them must not reach the
		// next checkpoint's records.
		for _, r := range cp.Records() {
			r.Timestamp = r.Timestamp.AddDate(1, 0, 0)
		}
		fakeProduce(s, cp)
		if err := s.Commit(cp); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.spare.arenas) == 0 || len(s.spare.slabs) == 0 || cap(s.spare.records) < n {
		t.Fatalf("after commits the store keeps %d arenas, %d slabs, room for %d records", len(s.spare.arenas), len(s.spare.slabs), cap(s.spare.records))
	}
	// Steady state: a checkpoint like the last allocates little beyond
	// pebble's batch (the chunks come back).
	steady := changes(9, n)
	putChanges(s.NewCheckpoint(testChangelog), steady) // the keys' copies, made once
	allocs := testing.AllocsPerRun(5, func() {
		cp := s.NewCheckpoint(testChangelog)
		putChanges(cp, steady)
		fakeProduce(s, cp)
		if err := s.Commit(cp); err != nil {
			t.Fatal(err)
		}
	})
	// Without reuse: ~n/256 slabs, ~n*20/64Ki arenas, the record list's
	// doublings and pebble's batch growing.
	if allocs > 20 {
		t.Errorf("a checkpoint of %d changes allocated %.0f times: its memory is not reused", n, allocs)
	}

	discarded := s.NewCheckpoint(testChangelog)
	put(discarded, 7, n)
	held := discarded.Records()
	discarded.Discard()
	next := s.NewCheckpoint(testChangelog)
	put(next, 8, n)
	for i, r := range held {
		want := fmt.Appendf(nil, "value-7-%d", i)
		if i%3 == 0 {
			want = nil
		}
		if !bytes.Equal(r.Value, want) {
			t.Fatalf("a discarded checkpoint's record %d became %q: its memory was reused", i, r.Value)
		}
	}
	next.Discard()
}

// An empty value is a value, not a tombstone, also when it is the first
// bytes a checkpoint copies (its arena has no chunk yet).
func TestCheckpointEmptyValueIsNotATombstone(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	cp := s.NewCheckpoint(testChangelog)
	defer cp.Discard()
	if err := cp.Put([]byte{}, []byte{}); err != nil {
		t.Fatal(err)
	}
	if err := cp.Put([]byte("gone"), nil); err != nil {
		t.Fatal(err)
	}
	recs := cp.Records()
	if recs[0].Value == nil {
		t.Errorf("a Put of an empty value has a nil Value: the changelog would read a tombstone")
	}
	if recs[1].Value != nil {
		t.Errorf("a Put of nil has Value %q, want nil (a tombstone)", recs[1].Value)
	}
}
