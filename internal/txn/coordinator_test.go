package txn

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/group"
)

// A commit writes markers to every partition and settles the group's
// offsets, atomically; an abort drops both.
func TestCommitAndAbort(t *testing.T) {
	n := newNode(t, Options{})
	p := n.initProducer("tx", time.Minute)
	if p.pe.Epoch != 0 {
		t.Fatalf("first epoch %d, want 0", p.pe.Epoch)
	}
	must(t, "produce", p.produce(out0, "a", "b"))
	must(t, "produce", p.produce(out1, "c"))
	must(t, "offsets", p.commitOffset("g", 7))
	if got := n.committed(out0); len(got) != 0 {
		t.Fatalf("open transaction visible: %v", got)
	}
	if o := n.offset("g"); o != -1 {
		t.Fatalf("pending offset visible as committed: %d", o)
	}
	if got := n.partition("out", 0).LastStableOffset(); got != 0 {
		t.Fatalf("LSO %d with a transaction open from 0", got)
	}
	must(t, "commit", p.end(true))
	if got := n.committed(out0); values(got...) != values("a", "b") {
		t.Fatalf("out-0 after commit: %v", got)
	}
	if got := n.committed(out1); values(got...) != values("c") {
		t.Fatalf("out-1 after commit: %v", got)
	}
	if o := n.offset("g"); o != 7 {
		t.Fatalf("group offset after commit: %d, want 7", o)
	}
	if st := n.state("tx"); st.State != CompleteCommit || len(st.Partitions) != 0 {
		t.Fatalf("state after commit: %+v", st)
	}
	must(t, "commit again (a retry)", p.end(true))
	wantErr(t, "abort after commit", p.end(false), ErrInvalidTxnState)

	// An aborted transaction: neither its records nor its offsets.
	must(t, "produce", p.produce(out0, "x"))
	must(t, "offsets", p.commitOffset("g", 9))
	must(t, "abort", p.end(false))
	n.plain(out0, "plain")
	if got := n.committed(out0); values(got...) != values("a", "b", "plain") {
		t.Fatalf("out-0 after abort: %v", got)
	}
	if o := n.offset("g"); o != 7 {
		t.Fatalf("group offset after abort: %d, want 7", o)
	}
	if pending := n.groups.PendingTransactions(); len(pending) != 0 {
		t.Fatalf("pending offsets left: %v", pending)
	}
	// The same epoch goes on with the next transaction.
	must(t, "produce", p.produce(out0, "d"))
	must(t, "commit", p.end(true))
	if got := n.committed(out0); values(got...) != values("a", "b", "plain", "d") {
		t.Fatalf("out-0 after the third transaction: %v", got)
	}
}

// Requests are checked as Kafka checks them.
func TestRequestChecks(t *testing.T) {
	n := newNode(t, Options{MaxTimeout: time.Minute})
	ctx := context.Background()
	_, err := n.c.InitProducerID(ctx, "", time.Second, nil)
	wantErr(t, "empty id", err, ErrInvalidRequest)
	_, err = n.c.InitProducerID(ctx, "tx", 2*time.Minute, nil)
	wantErr(t, "timeout above the maximum", err, ErrInvalidTimeout)
	_, err = n.c.InitProducerID(ctx, "tx", 0, nil)
	wantErr(t, "zero timeout", err, ErrInvalidTimeout)

	p := n.initProducer("tx", time.Minute)
	wantErr(t, "end before begin", p.end(true), ErrInvalidTxnState)
	wantErr(t, "unknown id", n.c.AddPartitions(ctx, "nope", p.pe.ProducerID, 0, []TopicPartition{out0}), ErrInvalidProducerIDMapping)
	wantErr(t, "other producer id", n.c.AddPartitions(ctx, "tx", p.pe.ProducerID+1, p.pe.Epoch, []TopicPartition{out0}), ErrInvalidProducerIDMapping)
	wantErr(t, "other epoch", n.c.AddPartitions(ctx, "tx", p.pe.ProducerID, p.pe.Epoch+1, []TopicPartition{out0}), ErrProducerFenced)

	// A write to a partition not added, or offsets of a group not added.
	must(t, "produce", p.produce(out0, "a"))
	wantErr(t, "append to a partition not added", p.append(out1, "b"), ErrNotInTransaction)
	wantErr(t, "offsets of a group not added", p.offsetCommit("g", 3), ErrNotInTransaction)
	must(t, "abort", p.end(false))
	wantErr(t, "append after the end", p.append(out0, "c"), ErrNotInTransaction)

	// KIP-360: an InitProducerId naming the current id and epoch bumps
	// it; a retry of it (the previous epoch) gets the same answer; a stale
	// one is fenced.
	cur := p.pe
	next, err := n.c.InitProducerID(ctx, "tx", time.Minute, &cur)
	must(t, "init with the current epoch", err)
	if next.ProducerID != cur.ProducerID || next.Epoch != cur.Epoch+1 {
		t.Fatalf("init with the current epoch: %+v from %+v", next, cur)
	}
	again, err := n.c.InitProducerID(ctx, "tx", time.Minute, &cur)
	must(t, "retried init", err)
	if again != next {
		t.Fatalf("retried init: %+v, want %+v", again, next)
	}
	stale := ProducerIDEpoch{ProducerID: cur.ProducerID, Epoch: cur.Epoch - 1}
	_, err = n.c.InitProducerID(ctx, "tx", time.Minute, &stale)
	wantErr(t, "init with a stale epoch", err, ErrProducerFenced)
	other := ProducerIDEpoch{ProducerID: cur.ProducerID + 100, Epoch: 0}
	_, err = n.c.InitProducerID(ctx, "tx", time.Minute, &other)
	wantErr(t, "init with another producer id", err, ErrProducerFenced)
}

// A new producer of an id aborts the transaction its predecessor left
// open, with a bumped epoch, which fences the predecessor everywhere: at
// the coordinator and in the partitions.
func TestNewProducerFencesOld(t *testing.T) {
	n := newNode(t, Options{})
	old := n.initProducer("tx", time.Minute)
	must(t, "produce", old.produce(out0, "zombie"))
	must(t, "offsets", old.commitOffset("g", 3))

	_, err := n.c.InitProducerID(context.Background(), "tx", time.Minute, nil)
	wantErr(t, "init while a transaction is open", err, ErrConcurrentTransactions)
	cur := n.initProducer("tx", time.Minute)
	if cur.pe.ProducerID != old.pe.ProducerID || cur.pe.Epoch != old.pe.Epoch+2 {
		t.Fatalf("new producer %+v, old %+v: want the same id, epoch +2 (fence, then init)", cur.pe, old.pe)
	}
	n.plain(out0, "plain")
	if got := n.committed(out0); values(got...) != values("plain") {
		t.Fatalf("after the fence: %v", got)
	}
	if o := n.offset("g"); o != -1 {
		t.Fatalf("the fenced transaction's offset was committed: %d", o)
	}
	wantErr(t, "old: add partitions", n.c.AddPartitions(context.Background(), "tx", old.pe.ProducerID, old.pe.Epoch, []TopicPartition{out1}), ErrProducerFenced)
	wantErr(t, "old: append", old.append(out0, "late"), ErrProducerFenced)
	wantErr(t, "old: end", old.end(true), ErrProducerFenced)

	// The partition itself refuses the old epoch, whatever the coordinator.
	_, err = n.partition("out", 0).AppendMarker(old.pe.ProducerID, old.pe.Epoch, true, 0)
	if err == nil {
		t.Fatal("marker of the fenced epoch accepted")
	}
	must(t, "new: produce", cur.produce(out0, "won"))
	must(t, "new: commit", cur.end(true))
	if got := n.committed(out0); values(got...) != values("plain", "won") {
		t.Fatalf("after the new producer's commit: %v", got)
	}
}

// A transaction open longer than its timeout is aborted with the epoch
// bumped: the producer is fenced.
func TestTimeoutAborts(t *testing.T) {
	n := newNode(t, Options{})
	p := n.initProducer("tx", 200*time.Millisecond)
	must(t, "produce", p.produce(out0, "slow"))
	must(t, "offsets", p.commitOffset("g", 5))
	eventually(t, "the transaction to time out", func() bool { return n.state("tx").State == CompleteAbort })
	if st := n.state("tx"); st.Epoch != p.pe.Epoch+1 {
		t.Fatalf("epoch after the timeout %d, want %d", st.Epoch, p.pe.Epoch+1)
	}
	wantErr(t, "commit after the timeout", p.end(true), ErrProducerFenced)
	if got := n.committed(out0); len(got) != 0 {
		t.Fatalf("timed-out records visible: %v", got)
	}
	if lso, hw := n.partition("out", 0).LastStableOffset(), n.partition("out", 0).Offsets().HighWatermark; lso != hw {
		t.Fatalf("LSO %d, high watermark %d after the abort", lso, hw)
	}
	if o := n.offset("g"); o != -1 {
		t.Fatalf("timed-out offset committed: %d", o)
	}
	// The id is usable again.
	q := n.initProducer("tx", time.Minute)
	must(t, "produce", q.produce(out0, "next"))
	must(t, "commit", q.end(true))
	if got := n.committed(out0); values(got...) != values("next") {
		t.Fatalf("after the next producer: %v", got)
	}
}

// A restart keeps an open transaction open (its producer may still end
// it) until its timeout aborts it.
func TestRestartKeepsOngoing(t *testing.T) {
	n := newNode(t, Options{})
	p := n.initProducer("kept", time.Minute)
	must(t, "produce", p.produce(out0, "kept"))
	q := n.initProducer("dropped", 300*time.Millisecond)
	must(t, "produce", q.produce(out1, "dropped"))
	must(t, "offsets", q.commitOffset("g", 4))
	n.restart()

	if st := n.state("kept"); st.State != Ongoing || st.ProducerID != p.pe.ProducerID || st.Epoch != p.pe.Epoch || fmt.Sprint(st.Partitions) != fmt.Sprint([]TopicPartition{out0}) {
		t.Fatalf("after the restart: %+v", st)
	}
	must(t, "commit after the restart", p.end(true))
	if got := n.committed(out0); values(got...) != values("kept") {
		t.Fatalf("out-0: %v", got)
	}
	eventually(t, "the other transaction to time out", func() bool { return n.state("dropped").State == CompleteAbort })
	n.plain(out1, "plain")
	if got := n.committed(out1); values(got...) != values("plain") {
		t.Fatalf("out-1: %v", got)
	}
	if o := n.offset("g"); o != -1 {
		t.Fatalf("timed-out offset committed: %d", o)
	}
}

// Producer ids are unique: idempotent and transactional producers draw
// from one allocator, which never hands out an id again after a restart.
func TestProducerIDsUnique(t *testing.T) {
	n := newNode(t, Options{})
	seen := map[int64]bool{}
	take := func(id int64) {
		t.Helper()
		if seen[id] {
			t.Fatalf("producer id %d handed out twice", id)
		}
		seen[id] = true
	}
	for i := range 3 {
		id, err := n.c.NextProducerID()
		must(t, "next", err)
		take(id)
		take(n.initProducer(fmt.Sprintf("tx%d", i), time.Minute).pe.ProducerID)
	}
	n.restart()
	for i := range 3 {
		id, err := n.c.NextProducerID()
		must(t, "next", err)
		take(id)
		take(n.initProducer(fmt.Sprintf("ty%d", i), time.Minute).pe.ProducerID)
	}
	// A transactional id keeps its producer id across restarts.
	before := n.initProducer("tx0", time.Minute).pe
	n.restart()
	after := n.initProducer("tx0", time.Minute).pe
	if after.ProducerID != before.ProducerID || after.Epoch != before.Epoch+1 {
		t.Fatalf("tx0 after a restart: %+v, before %+v", after, before)
	}
}

// An id whose epochs run out gets a new producer id.
func TestEpochExhaustionRotatesProducerID(t *testing.T) {
	n := newNode(t, Options{})
	p := n.initProducer("tx", time.Minute)
	e := n.c.mu.txns["tx"]
	e.mu.Lock()
	next := e.cur.with(func(s *txnState) { s.epoch = 32766 })
	must(t, "set epoch", n.c.transitionLocked(e, next))
	e.mu.Unlock()
	q := n.initProducer("tx", time.Minute)
	if q.pe.ProducerID == p.pe.ProducerID || q.pe.Epoch != 0 {
		t.Fatalf("after the last epoch: %+v, was %+v", q.pe, p.pe)
	}
}

// Offsets a transaction left pending in a group that the coordinator does
// not know as open (its state lost) are aborted when it opens.
func TestOrphanedOffsetsAborted(t *testing.T) {
	n := newNode(t, Options{})
	p := n.initProducer("tx", time.Minute)
	must(t, "offsets", p.commitOffset("g", 5))
	n.close()
	// Open the log and group coordinator without the transaction state.
	n.open()
	must(t, "close txn", n.c.Close())
	must(t, "delete state", n.log.DeleteTopic(DefaultStateTopic))
	if got := n.groups.PendingTransactions(); len(got) != 1 {
		t.Fatalf("pending before: %v", got)
	}
	c, err := Open(n.log, n.groups, Options{})
	must(t, "open", err)
	n.c = c
	if got := n.groups.PendingTransactions(); len(got) != 0 {
		t.Fatalf("pending after the coordinator opened: %v", got)
	}
	if o := n.offset("g"); o != -1 {
		t.Fatalf("orphaned offset committed: %d", o)
	}
}

// Open shares the coordinator of a log; the last Close closes it.
func TestOpenShares(t *testing.T) {
	n := newNode(t, Options{})
	c2, err := Open(n.log, n.groups, Options{})
	must(t, "second open", err)
	if c2 != n.c {
		t.Fatal("a second Open on the log opened another coordinator")
	}
	other, err := group.NewCoordinator(n.log, group.Options{OffsetsTopic: "__other_offsets"})
	must(t, "other groups", err)
	defer func() { _ = other.Close() }()
	if _, err := Open(n.log, other, Options{}); err == nil {
		t.Fatal("Open with another group coordinator succeeded")
	}
	must(t, "first close", c2.Close())
	if _, err := n.c.NextProducerID(); err != nil {
		t.Fatalf("coordinator closed by the first of two Close calls: %v", err)
	}
}
