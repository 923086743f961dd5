package state

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/transport/embedded/embeddedtest"
)

// changelogNode is an embedded log with the test changelog topic
// (compacted, partition testChangelog.Partition among others).
func changelogNode(t testing.TB) *embeddedtest.Node {
	t.Helper()
	n := embeddedtest.Open(t, t.TempDir())
	t.Cleanup(func() { n.Close(t) })
	createChangelog(t, n.Transport)
	return n
}

func createChangelog(t testing.TB, tr transport.Transport) {
	t.Helper()
	err := tr.CreateTopic(context.Background(), transport.TopicSpec{
		Name: testChangelog.Topic, Partitions: testChangelog.Partition + 1,
		Configs: map[string]string{"cleanup.policy": "compact"},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// produce runs checkpoints as the task's loop does: changes into a
// checkpoint, its records produced, then committed to the store.
func produce(t testing.TB, tr transport.Transport, s *Store, checkpoints, perCheckpoint int, r *rand.Rand, model map[string]string) {
	t.Helper()
	for range checkpoints {
		cp := checkpoint(t, s, randomChanges(r, perCheckpoint, model))
		if err := tr.Produce(context.Background(), cp.Records()); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(cp); err != nil {
			t.Fatal(err)
		}
	}
}

func endOffset(t testing.TB, tr transport.Transport) int64 {
	t.Helper()
	ends, err := tr.EndOffsets(context.Background(), testChangelog.Topic)
	if err != nil {
		t.Fatal(err)
	}
	return ends[testChangelog.Partition]
}

func restore(t testing.TB, s *Store, tr transport.Transport) RestoreStats {
	t.Helper()
	stats, err := s.Restore(context.Background(), tr, testChangelog)
	if err != nil {
		t.Fatal(err)
	}
	return stats
}

// A task's state moves to another worker: a store there, new, restores
// the whole changelog; the original store, reopened later, replays only
// what the other worker added meanwhile — including changes it produced
// but crashed before committing to its store.
func TestRestoreFromChangelog(t *testing.T) {
	n := changelogNode(t)
	tr := n.Transport
	r := rand.New(rand.NewPCG(11, 12))
	model := map[string]string{}

	dirA := t.TempDir()
	a := open(t, dirA)
	produce(t, tr, a, 30, 40, r, model)
	offsetA := a.Offset()
	if offsetA != endOffset(t, tr) {
		t.Fatalf("store at %d, changelog end %d", offsetA, endOffset(t, tr))
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	b := open(t, t.TempDir())
	stats := restore(t, b, tr)
	if stats.Wiped || stats.From != 0 || stats.To != offsetA || stats.Records != offsetA {
		t.Fatalf("restore of a new store: %+v, want [0, %d) %d records", stats, offsetA, offsetA)
	}
	if got := contents(t, b); !maps.Equal(got, model) {
		t.Fatalf("restored %d entries, want %d", len(got), len(model))
	}
	if b.Offset() != offsetA || b.Changelog() != testChangelog {
		t.Fatalf("restored store at %v %d", b.Changelog(), b.Offset())
	}
	// B runs on; its last checkpoint reaches the changelog but not its
	// store (a crash between the produce and Commit).
	produce(t, tr, b, 10, 40, r, model)
	lost := checkpoint(t, b, randomChanges(r, 40, model))
	if err := tr.Produce(context.Background(), lost.Records()); err != nil {
		t.Fatal(err)
	}
	lost.Discard()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	a = open(t, dirA)
	defer a.Close()
	stats = restore(t, a, tr)
	end := endOffset(t, tr)
	if stats.Wiped || stats.From != offsetA || stats.To != end || stats.Records != end-offsetA {
		t.Fatalf("restore of the old store: %+v, want [%d, %d)", stats, offsetA, end)
	}
	if got := contents(t, a); !maps.Equal(got, model) {
		t.Fatalf("restored %d entries, want %d", len(got), len(model))
	}
	// At the end already: nothing to do.
	if stats := restore(t, a, tr); stats.Records != 0 || stats.Wiped || stats.To != end {
		t.Fatalf("second restore: %+v", stats)
	}
}

// A store whose offset the changelog cannot continue starts over from the
// changelog's start: beyond its end (the topic was recreated), before its
// start (records deleted), of another partition — its local state wiped,
// keys the changelog never had gone.
func TestRestoreWipes(t *testing.T) {
	ctx := context.Background()
	for _, c := range []string{"beyond end", "before start", "other partition"} {
		t.Run(c, func(t *testing.T) {
			n := changelogNode(t)
			tr := n.Transport
			r := rand.New(rand.NewPCG(21, 22))
			old := map[string]string{}
			s := open(t, t.TempDir())
			defer s.Close()
			produce(t, tr, s, 20, 30, r, old)
			model := map[string]string{}
			switch c {
			case "beyond end":
				cp := checkpoint(t, s, []change{{"local-only", []byte("x")}})
				fakeProduce(s, cp) // as if produced elsewhere: the store alone has it
				if err := s.Commit(cp); err != nil {
					t.Fatal(err)
				}
				if err := tr.DeleteTopic(ctx, testChangelog.Topic); err != nil {
					t.Fatal(err)
				}
				createChangelog(t, tr)
				other := open(t, t.TempDir())
				produce(t, tr, other, 2, 10, r, model)
				_ = other.Close()
			case "before start":
				topic, err := n.Log.Topic(testChangelog.Topic)
				if err != nil {
					t.Fatal(err)
				}
				p, err := topic.Partition(testChangelog.Partition)
				if err != nil {
					t.Fatal(err)
				}
				// Another worker goes on; then the records up to past where
				// the store got are deleted.
				other := open(t, t.TempDir())
				cp := checkpoint(t, other, randomChanges(r, 10, map[string]string{}))
				if err := tr.Produce(ctx, cp.Records()); err != nil {
					t.Fatal(err)
				}
				for _, rec := range cp.Records()[5:] {
					if rec.Value == nil {
						delete(model, string(rec.Key))
					} else {
						model[string(rec.Key)] = string(rec.Value)
					}
				}
				if _, err := p.DeleteRecordsBefore(cp.Records()[5].Offset); err != nil {
					t.Fatal(err)
				}
				cp.Discard()
				_ = other.Close()
			case "other partition":
				cp := s.NewCheckpoint(transport.TopicPartition{Topic: testChangelog.Topic, Partition: 0})
				if err := cp.Put([]byte("p0"), []byte("v")); err != nil {
					t.Fatal(err)
				}
				if err := tr.Produce(ctx, cp.Records()); err != nil {
					t.Fatal(err)
				}
				cp.Discard()
				// The store follows partition 3; restore it from partition 0.
				stats, err := s.Restore(ctx, tr, transport.TopicPartition{Topic: testChangelog.Topic, Partition: 0})
				if err != nil {
					t.Fatal(err)
				}
				if !stats.Wiped || stats.Records != 1 {
					t.Fatalf("restore from another partition: %+v", stats)
				}
				if got := contents(t, s); !maps.Equal(got, map[string]string{"p0": "v"}) {
					t.Fatalf("restored %v", got)
				}
				return
			}
			start, end, err := bounds(ctx, tr, testChangelog)
			if err != nil {
				t.Fatal(err)
			}
			stats := restore(t, s, tr)
			if !stats.Wiped || stats.From != start || stats.To != end {
				t.Fatalf("restore: %+v, want a wipe and [%d, %d)", stats, start, end)
			}
			if got := contents(t, s); !maps.Equal(got, model) {
				t.Fatalf("restored %v, want %v", sortedKeys(got), sortedKeys(model))
			}
		})
	}
}

// failingReads fails ReadAt after a number of calls.
type failingReads struct {
	transport.Transport
	left int
}

var errReadFailed = errors.New("read failed")

func (f *failingReads) ReadAt(ctx context.Context, tp transport.TopicPartition, offset int64, maxBytes int) ([]*transport.Record, error) {
	if f.left == 0 {
		return nil, errReadFailed
	}
	f.left--
	return f.Transport.ReadAt(ctx, tp, offset, maxBytes)
}

// A restore interrupted (a read fails) keeps what it applied, its store
// consistent at the offset reached, and the next one resumes there.
func TestRestoreResumes(t *testing.T) {
	n := changelogNode(t)
	tr := n.Transport
	r := rand.New(rand.NewPCG(31, 32))
	model := map[string]string{}
	src := open(t, t.TempDir())
	produce(t, tr, src, 50, 20, r, model)
	_ = src.Close()
	end := endOffset(t, tr)

	dir := t.TempDir()
	s := open(t, dir, withRestoreSizes(512, 2048))
	stats, err := s.Restore(context.Background(), &failingReads{Transport: tr, left: 5}, testChangelog)
	if !errors.Is(err, errReadFailed) {
		t.Fatalf("restore: %v", err)
	}
	if stats.To <= 0 || stats.To >= end || s.Offset() != stats.To {
		t.Fatalf("interrupted restore: %+v, store at %d, end %d", stats, s.Offset(), end)
	}
	reached := stats.To
	if err := s.Close(); err != nil { // as a crash would, after the commit
		t.Fatal(err)
	}
	s = open(t, dir, withRestoreSizes(512, 2048))
	defer s.Close()
	if s.Offset() != reached {
		t.Fatalf("reopened at %d, the restore reached %d", s.Offset(), reached)
	}
	stats = restore(t, s, tr)
	if stats.Wiped || stats.From != reached || stats.To != end {
		t.Fatalf("resumed restore: %+v, want [%d, %d)", stats, reached, end)
	}
	if got := contents(t, s); !maps.Equal(got, model) {
		t.Fatalf("restored %d entries, want %d", len(got), len(model))
	}
}

// A changelog record without a key is corruption, not something to skip.
func TestRestoreRefusesKeylessRecord(t *testing.T) {
	n := changelogNode(t)
	err := n.Transport.Produce(context.Background(), []*transport.Record{{Topic: testChangelog.Topic, Partition: testChangelog.Partition, Value: []byte("v")}})
	if err != nil {
		t.Fatal(err)
	}
	s := open(t, t.TempDir())
	defer s.Close()
	if _, err := s.Restore(context.Background(), n.Transport, testChangelog); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("restore: %v", err)
	}
}

// With transactions (exactly-once), a checkpoint whose transaction
// aborted never reaches a store restored from the changelog, and the
// checkpoints after it do. Skipped while the transport has no
// transactions.
func TestRestoreSkipsAbortedCheckpoints(t *testing.T) {
	ctx := context.Background()
	n := changelogNode(t)
	tr := n.Transport
	if err := tr.CreateTopic(ctx, transport.TopicSpec{Name: "input", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	p, err := tr.NewTxnProducer(ctx, "app-task-3")
	if err != nil {
		t.Skipf("no transactions: %v", err)
	}
	defer p.Close(ctx)
	r := rand.New(rand.NewPCG(51, 52))
	model := map[string]string{}
	s := open(t, t.TempDir())
	defer s.Close()
	for i := range 12 {
		abort := i%3 == 1
		changes := randomChanges(r, 20, map[string]string{})
		cp := checkpoint(t, s, changes)
		if err := p.Begin(ctx); err != nil {
			t.Fatal(err)
		}
		if err := p.Produce(ctx, cp.Records()); err != nil {
			t.Fatal(err)
		}
		if abort {
			if err := p.Abort(ctx); err != nil {
				t.Fatal(err)
			}
			cp.Discard()
			continue
		}
		input := []transport.PartitionOffset{{TopicPartition: transport.TopicPartition{Topic: "input", Partition: 0}, Offset: int64(i)}}
		if err := p.Commit(ctx, "app", input); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(cp); err != nil {
			t.Fatal(err)
		}
		for _, c := range changes {
			if c.value == nil {
				delete(model, c.key)
			} else {
				model[c.key] = string(c.value)
			}
		}
	}
	if got := contents(t, s); !maps.Equal(got, model) {
		t.Fatalf("the store holds %d entries, want %d", len(got), len(model))
	}
	fresh := open(t, t.TempDir())
	defer fresh.Close()
	restore(t, fresh, tr)
	if got := contents(t, fresh); !maps.Equal(got, model) {
		t.Fatalf("restored %v\nwant %v", sortedKeys(got), sortedKeys(model))
	}
	// The task's own store is at its last commit, the commit marker
	// after it: there is nothing to replay.
	if stats := restore(t, s, tr); stats.Wiped || stats.Records != 0 {
		t.Fatalf("restore of the task's own store: %+v", stats)
	}
	if got := contents(t, s); !maps.Equal(got, model) {
		t.Fatalf("the store holds %v\nwant %v", sortedKeys(got), sortedKeys(model))
	}
}
