package state

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/tide-data/tide/internal/transport"
)

var testChangelog = transport.TopicPartition{Topic: "app-agg-changelog", Partition: 3}

func open(t testing.TB, dir string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// contents is the store's committed state.
func contents(t testing.TB, s *Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	if err := s.Scan(func(key, value []byte) error {
		out[string(key)] = string(value)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// change is one Put: a nil value deletes.
type change struct {
	key   string
	value []byte
}

// randomChanges returns n changes over a few dozen keys, a fifth of them
// deletions, and applies them to model.
func randomChanges(r *rand.Rand, n int, model map[string]string) []change {
	out := make([]change, n)
	for i := range out {
		key := fmt.Sprintf("key-%02d", r.IntN(40))
		if r.IntN(5) == 0 {
			out[i] = change{key, nil}
			delete(model, key)
			continue
		}
		v := fmt.Appendf(nil, "value-%d-%d", i, r.Int())
		out[i] = change{key, v}
		model[key] = string(v)
	}
	return out
}

// fakeProduce sets offsets on a checkpoint's records as Produce would,
// from the store's offset on.
func fakeProduce(s *Store, cp *Checkpoint) {
	next := max(s.Offset(), 0)
	for _, r := range cp.Records() {
		r.Offset = next
		next++
	}
}

func checkpoint(t testing.TB, s *Store, changes []change) *Checkpoint {
	t.Helper()
	cp := s.NewCheckpoint(testChangelog)
	for _, c := range changes {
		if err := cp.Put([]byte(c.key), c.value); err != nil {
			t.Fatal(err)
		}
	}
	return cp
}

// Commits survive a reopen: the state and the changelog offset after the
// last record of the last checkpoint, nothing of a checkpoint discarded.
func TestCommitSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	if s.Offset() != -1 {
		t.Fatalf("new store at offset %d", s.Offset())
	}
	r := rand.New(rand.NewPCG(1, 2))
	model := map[string]string{}
	records := 0
	for range 20 {
		cp := checkpoint(t, s, randomChanges(r, 50, model))
		fakeProduce(s, cp)
		records += cp.Len()
		if err := s.Commit(cp); err != nil {
			t.Fatal(err)
		}
	}
	discarded := checkpoint(t, s, []change{{"key-00", []byte("never")}, {"zzz", []byte("never")}})
	discarded.Discard()
	if got := contents(t, s); !maps.Equal(got, model) {
		t.Fatalf("before reopen: %d entries, want %d", len(got), len(model))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second close: %v", err)
	}
	s = open(t, dir)
	defer s.Close()
	if s.Offset() != int64(records) || s.Changelog() != testChangelog {
		t.Fatalf("reopened at %v offset %d, want %v %d", s.Changelog(), s.Offset(), testChangelog, records)
	}
	if got := contents(t, s); !maps.Equal(got, model) {
		t.Fatalf("after reopen: %d entries, want %d", len(got), len(model))
	}
	for k, v := range model {
		got, found, err := s.Get([]byte(k))
		if err != nil || !found || string(got) != v {
			t.Fatalf("get %s: %q %v %v, want %q", k, got, found, err, v)
		}
	}
	if _, found, err := s.Get([]byte("zzz")); found || err != nil {
		t.Fatalf("get of a discarded key: %v %v", found, err)
	}
	// A prefix scan gives exactly the entries under the prefix, in order.
	for _, k := range sortedKeys(model)[:1] {
		for _, prefix := range []string{"key-1", "key-3", k, k + "\x00", ""} {
			var got []string
			if err := s.ScanPrefix([]byte(prefix), func(key, _ []byte) error {
				got = append(got, string(key))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, m := range sortedKeys(model) {
				if strings.HasPrefix(m, prefix) {
					want = append(want, m)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("scan of prefix %q: %q, want %q", prefix, got, want)
			}
		}
	}
	if got := prefixEnd([]byte{1, 0xff, 0xff}); !bytes.Equal(got, []byte{2}) {
		t.Fatalf("prefixEnd: %x", got)
	}
}

// Commit refuses a checkpoint whose records were not produced, or not in
// changelog order, or of another changelog, and leaves the store as it
// was; a checkpoint without changes commits nothing.
func TestCommitRefuses(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	cp := checkpoint(t, s, []change{{"a", []byte("1")}})
	fakeProduce(s, cp)
	if err := s.Commit(cp); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(cp); err == nil {
		t.Fatal("a checkpoint committed twice")
	}
	if err := cp.Put([]byte("b"), nil); err == nil {
		t.Fatal("put into a committed checkpoint")
	}

	cp = checkpoint(t, s, []change{{"a", []byte("2")}, {"b", []byte("2")}})
	cp.Records()[0].Offset = 5 // the second was not produced
	if err := s.Commit(cp); !errors.Is(err, ErrNotProduced) {
		t.Fatalf("commit of a checkpoint half produced: %v", err)
	}
	cp = checkpoint(t, s, []change{{"a", []byte("3")}})
	cp.Records()[0].Offset = 0 // before the store's offset (1)
	if err := s.Commit(cp); !errors.Is(err, ErrNotProduced) {
		t.Fatalf("commit behind the store: %v", err)
	}
	cp = s.NewCheckpoint(transport.TopicPartition{Topic: "other", Partition: 0})
	if err := cp.Put([]byte("a"), []byte("4")); err != nil {
		t.Fatal(err)
	}
	cp.Records()[0].Offset = 7
	if err := s.Commit(cp); err == nil {
		t.Fatal("commit to another changelog")
	}
	if err := s.Commit(s.NewCheckpoint(testChangelog)); err != nil {
		t.Fatalf("empty checkpoint: %v", err)
	}
	if got := contents(t, s); !maps.Equal(got, map[string]string{"a": "1"}) || s.Offset() != 1 {
		t.Fatalf("after refused commits: %v at %d", got, s.Offset())
	}
}

// Changelog records are the keys and values as put, a tombstone (nil
// value) for a deletion, an empty value kept apart from it, in order.
func TestCheckpointRecords(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	cp := s.NewCheckpoint(testChangelog)
	key, value := []byte("k"), []byte("v")
	for _, c := range []change{{"k", value}, {"gone", nil}, {"empty", []byte{}}} {
		if err := cp.Put([]byte(c.key), c.value); err != nil {
			t.Fatal(err)
		}
	}
	key[0], value[0] = 'x', 'x' // Put copied them
	recs := cp.Records()
	if len(recs) != 3 || cp.Len() != 3 || cp.Bytes() != len("kvgoneempty") {
		t.Fatalf("%d records, %d bytes", len(recs), cp.Bytes())
	}
	for i, want := range []change{{"k", []byte("v")}, {"gone", nil}, {"empty", []byte{}}} {
		r := recs[i]
		if r.Topic != testChangelog.Topic || r.Partition != testChangelog.Partition || r.Offset != -1 ||
			string(r.Key) != want.key || !bytes.Equal(r.Value, want.value) || (r.Value == nil) != (want.value == nil) {
			t.Errorf("record %d: %+v, want %q=%q", i, r, want.key, want.value)
		}
	}
	fakeProduce(s, cp)
	if err := s.Commit(cp); err != nil {
		t.Fatal(err)
	}
	if got := contents(t, s); !maps.Equal(got, map[string]string{"k": "v", "empty": ""}) {
		t.Fatalf("committed %v", got)
	}
}

// A commit that returned survives a power loss: on a filesystem that
// keeps only what was synced (pebble's crashable MemFS), a crash at any
// point after a Commit returned finds that commit, its offset and its
// data in agreement — and a crash with part of the unsynced writes kept
// finds a consistent state at least as new.
func TestCommitSurvivesPowerLoss(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	fs := vfs.NewCrashableMem()
	const dir = "/state"
	s := open(t, dir, withFS(fs))
	defer s.Close()
	model := map[string]string{}
	for i := range 30 {
		cp := checkpoint(t, s, randomChanges(r, 1+r.IntN(200), model))
		fakeProduce(s, cp)
		if err := s.Commit(cp); err != nil {
			t.Fatal(err)
		}
		if i%3 != 0 {
			continue
		}
		cfg := vfs.CrashCloneCfg{}
		if i%2 == 1 {
			cfg = vfs.CrashCloneCfg{UnsyncedDataPercent: 50, RNG: rand.New(rand.NewPCG(uint64(i), 0))}
		}
		crashed := open(t, dir, withFS(fs.CrashClone(cfg)))
		if crashed.Offset() != s.Offset() {
			t.Fatalf("checkpoint %d: offset %d after a crash, committed %d", i, crashed.Offset(), s.Offset())
		}
		if got := contents(t, crashed); !maps.Equal(got, model) {
			t.Fatalf("checkpoint %d: the state after a crash differs from the committed one", i)
		}
		if err := crashed.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// Destroy removes the directory; a store opened there again is new.
func TestDestroy(t *testing.T) {
	dir := t.TempDir() + "/task"
	s := open(t, dir)
	cp := checkpoint(t, s, []change{{"a", []byte("1")}})
	fakeProduce(s, cp)
	if err := s.Commit(cp); err != nil {
		t.Fatal(err)
	}
	if err := s.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get([]byte("a")); !errors.Is(err, ErrClosed) {
		t.Fatalf("get after destroy: %v", err)
	}
	s = open(t, dir)
	defer s.Close()
	if s.Offset() != -1 || len(contents(t, s)) != 0 {
		t.Fatalf("reopened after destroy: offset %d, %d entries", s.Offset(), len(contents(t, s)))
	}
}

// sortedKeys is for messages.
func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// The checkpoint record decodes what it encodes, and refuses, without a
// panic, what it did not.
func FuzzDecodeCheckpoint(f *testing.F) {
	f.Add(encodeCheckpoint(testChangelog, 42))
	f.Add(encodeCheckpoint(transport.TopicPartition{}, 0))
	f.Add([]byte{checkpointVersion, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		tp, next, err := decodeCheckpoint(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%x: %v", b, err)
			}
			return
		}
		if tp2, next2, err := decodeCheckpoint(encodeCheckpoint(tp, next)); err != nil || tp2 != tp || next2 != next {
			t.Fatalf("%x: %v %d does not round-trip: %v %d %v", b, tp, next, tp2, next2, err)
		}
	})
}

// Keys set once and deleted with SingleDelete are gone, whether the
// deletion meets its Set in the memtable, in a flush or in a
// compaction, and stay gone after a reopen; other keys are untouched;
// the changelog carries a tombstone for each.
func TestSingleDelete(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	commit := func(cp *Checkpoint) {
		t.Helper()
		fakeProduce(s, cp)
		if err := s.Commit(cp); err != nil {
			t.Fatal(err)
		}
	}
	model := map[string]string{}
	for round := range 3 {
		cp := s.NewCheckpoint(testChangelog)
		for i := range 1000 {
			k, v := fmt.Sprintf("r%d-%04d", round, i), fmt.Sprintf("v%d", i)
			if err := cp.Put([]byte(k), []byte(v)); err != nil {
				t.Fatal(err)
			}
			model[k] = v
		}
		commit(cp)
		switch round {
		case 1:
			if err := s.db.Flush(); err != nil { // the Sets in a table, the deletions in the memtable
				t.Fatal(err)
			}
		case 2:
			if err := s.db.Compact(t.Context(), []byte{0}, []byte{0xff}, true); err != nil {
				t.Fatal(err)
			}
		}
		cp = s.NewCheckpoint(testChangelog)
		for i := 0; i < 1000; i += 2 {
			k := fmt.Sprintf("r%d-%04d", round, i)
			if err := cp.SingleDelete([]byte(k)); err != nil {
				t.Fatal(err)
			}
			delete(model, k)
		}
		for _, r := range cp.Records() {
			if r.Value != nil {
				t.Fatalf("changelog record of a single deletion has value %q", r.Value)
			}
		}
		commit(cp)
	}
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Compact(t.Context(), []byte{0}, []byte{0xff}, true); err != nil {
		t.Fatal(err)
	}
	if got := contents(t, s); !maps.Equal(got, model) {
		t.Fatalf("store holds %d keys, want %d", len(got), len(model))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir)
	defer s.Close()
	if got := contents(t, s); !maps.Equal(got, model) {
		t.Fatalf("after a reopen the store holds %d keys, want %d", len(got), len(model))
	}
}
