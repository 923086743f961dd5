package transporttest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// fenceAbortLimit bounds the wait for a fenced or closed producer's open
// transaction to be aborted. It is well below the transaction timeouts the
// transports are tested with (Kafka aborts a timed-out transaction only
// after transaction.abort.timed.out.transaction.cleanup.interval.ms, 10s,
// at the earliest), so that a transaction left to time out fails the test
// rather than passing late.
const fenceAbortLimit = 5 * time.Second

// txnHandle is a transactional producer that the test closes, or its
// cleanup does (once).
type txnHandle struct {
	transport.TxnProducer
	name   string
	closed bool
}

func (h *txnHandle) Close(ctx context.Context) error {
	h.closed = true
	return h.TxnProducer.Close(ctx)
}

// txnProducer returns a new transactional producer for id, closed when
// the test ends if the test did not close it.
func (e *env) txnProducer(name, id string) *txnHandle {
	e.t.Helper()
	p, err := e.tr.NewTxnProducer(e.ctx, id)
	if err != nil {
		e.t.Fatalf("%s: new transactional producer %s: %v", name, id, err)
	}
	h := &txnHandle{TxnProducer: p, name: name}
	e.t.Cleanup(func() {
		if h.closed {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = h.Close(ctx)
	})
	return h
}

// must fails the test when err is not nil.
func (e *env) must(what string, err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("%s: %v", what, err)
	}
}

// wantFenced fails the test unless err is transport.ErrFenced.
func (e *env) wantFenced(what string, err error) {
	e.t.Helper()
	if !errors.Is(err, transport.ErrFenced) {
		e.t.Errorf("%s: got %v, want ErrFenced", what, err)
		return
	}
	e.t.Logf("%s: %v", what, err)
}

// txnCommit runs one whole transaction: Begin, Produce (when there are
// records), Commit.
func (e *env) txnCommit(p *txnHandle, group string, offsets []transport.PartitionOffset, recs ...*transport.Record) {
	e.t.Helper()
	e.must(p.name+": begin", p.Begin(e.ctx))
	if len(recs) > 0 {
		e.must(p.name+": produce", p.Produce(e.ctx, recs))
	}
	e.must(p.name+": commit", p.Commit(e.ctx, group, offsets))
}

// valued returns records for partition p of topic with the given values
// (and keys).
func valued(topic string, p int32, values ...string) []*transport.Record {
	recs := make([]*transport.Record, len(values))
	for i, v := range values {
		recs[i] = &transport.Record{Topic: topic, Partition: p, Key: []byte("k-" + v), Value: []byte(v)}
	}
	return recs
}

// describe lists records as "value@partition/offset", in the order given.
func describe(recs []*transport.Record) string {
	parts := make([]string, len(recs))
	for i, r := range recs {
		parts[i] = fmt.Sprintf("%s@%d/%d", r.Value, r.Partition, r.Offset)
	}
	return strings.Join(parts, " ")
}

// readAll reads partition tp from offset 0 with ReadAt until it returns
// nothing: the records read_committed readers see now.
func (e *env) readAll(tp transport.TopicPartition) []*transport.Record {
	e.t.Helper()
	var all []*transport.Record
	for offset := int64(0); ; {
		recs := e.readAt(tp, offset, 1<<20)
		if len(recs) == 0 {
			return all
		}
		for _, r := range recs {
			if r.Offset < offset {
				e.t.Fatalf("ReadAt(%s[%d], %d) returned offset %d", tp.Topic, tp.Partition, offset, r.Offset)
			}
			offset = r.Offset + 1
		}
		all = append(all, recs...)
	}
}

// waitRead waits, within limit, until ReadAt from 0 returns exactly want
// (by value, partition and offset), and fails the test with what it last
// returned otherwise.
func (e *env) waitRead(tp transport.TopicPartition, limit time.Duration, want []*transport.Record) {
	e.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		got := describe(e.readAll(tp))
		if got == describe(want) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("ReadAt(%s[%d]) from 0: %q after %v, want %q", tp.Topic, tp.Partition, got, limit, describe(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// groupOffsets returns group's committed offsets as Groups lists them
// (empty if it does not list the group).
func (e *env) groupOffsets(group string) map[transport.TopicPartition]int64 {
	e.t.Helper()
	groups, err := e.tr.Groups(e.ctx)
	if err != nil {
		e.t.Fatalf("groups: %v", err)
	}
	for _, g := range groups {
		if g.Group == group {
			return g.Offsets
		}
	}
	return map[transport.TopicPartition]int64{}
}

// waitGroupOffsets waits until group's committed offsets are exactly want.
// On Kafka a transaction's offsets, like its records, become visible
// shortly after Commit returns, once the coordinator has written the
// markers.
func (e *env) waitGroupOffsets(group string, want map[transport.TopicPartition]int64) {
	e.t.Helper()
	var got map[transport.TopicPartition]int64
	deadline := time.Now().Add(waitLimit)
	for {
		got = e.groupOffsets(group)
		if tpMapsEqual(got, want) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("group %s: committed offsets %v after %v, want %v", group, got, waitLimit, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// consumeExactly starts a member of a new group on topic, waits until it
// has polled len(want) records and a little more, and checks that it got
// exactly want (value, partition and offset; in order per partition).
func (e *env) consumeExactly(name, topic string, want []*transport.Record) {
	e.t.Helper()
	m := e.startMember(name, transport.ConsumerOptions{Group: e.name("g"), Topics: []string{topic}}, nil)
	waitFor(e.t, fmt.Sprintf("%s to poll %d records", name, len(want)), func() bool { return m.count() >= len(want) })
	time.Sleep(300 * time.Millisecond) // nothing more may come
	got := m.received()
	m.close(e.ctx)
	if g, w := describe(sortedByPartition(got)), describe(sortedByPartition(want)); g != w {
		e.t.Errorf("%s polled %q, want %q", name, g, w)
	}
}

// sortedByPartition orders records by partition, keeping each partition's
// order.
func sortedByPartition(recs []*transport.Record) []*transport.Record {
	out := slices.Clone(recs)
	slices.SortStableFunc(out, func(a, b *transport.Record) int { return int(a.Partition - b.Partition) })
	return out
}

func partitionOffset(topic string, p int32, offset int64) transport.PartitionOffset {
	return transport.PartitionOffset{TopicPartition: transport.TopicPartition{Topic: topic, Partition: p}, Offset: offset}
}

// A committed transaction's records become visible to consumers and
// ReadAt at the offsets Produce gave them, and its offsets become the
// group's committed offsets, from which a member of the group resumes;
// a transaction may commit offsets without records and records without
// offsets.
func testTxnCommit(e *env) {
	t := e.t
	in, out := e.topic(2), e.topic(2)
	group := e.name("g")
	var input []*transport.Record
	for p := range int32(2) {
		input = append(input, valued(in, p, "i0", "i1", "i2", "i3", "i4", "i5", "i6", "i7", "i8", "i9")...)
	}
	e.produce(input...)
	p := e.txnProducer("producer", e.name("x"))

	first := append(valued(out, 0, "a0", "a1"), valued(out, 1, "a2")...)
	first = append(first, &transport.Record{Topic: out, Partition: -1, Key: []byte("keyed"), Value: []byte("a3")})
	e.txnCommit(p, group, []transport.PartitionOffset{partitionOffset(in, 0, 5), partitionOffset(in, 1, 3)}, first...)
	next := map[int32]int64{}
	for _, r := range first {
		if r.Partition < 0 || r.Partition > 1 || r.Offset < next[r.Partition] {
			t.Fatalf("produced %s: partition and offset not set, or offsets not rising", describe(first))
		}
		next[r.Partition] = r.Offset + 1
	}
	e.waitGroupOffsets(group, map[transport.TopicPartition]int64{{Topic: in, Partition: 0}: 5, {Topic: in, Partition: 1}: 3})
	e.consumeExactly("reader", out, first)
	var want0 []*transport.Record
	for _, r := range first {
		if r.Partition == 0 {
			want0 = append(want0, r)
		}
	}
	e.waitRead(transport.TopicPartition{Topic: out, Partition: 0}, waitLimit, want0)

	// A member of the group is polling while the next transaction commits
	// the group's offsets, as Tide's consumers are: the transactional
	// commit needs no membership. It started from the committed offsets.
	live := e.startMember("live", transport.ConsumerOptions{Group: group, Topics: []string{in}}, nil)
	waitFor(t, "the live member to read the input after the committed offsets", func() bool { return live.count() >= (10-5)+(10-3) })

	// Offsets alone, then records alone.
	e.txnCommit(p, group, []transport.PartitionOffset{partitionOffset(in, 0, 8)})
	e.waitGroupOffsets(group, map[transport.TopicPartition]int64{{Topic: in, Partition: 0}: 8, {Topic: in, Partition: 1}: 3})
	alone := valued(out, 0, "b0")
	e.txnCommit(p, "", nil, alone...)
	e.waitRead(transport.TopicPartition{Topic: out, Partition: 0}, waitLimit, append(slices.Clone(want0), alone...))
	if got := e.groupOffsets(group); !tpMapsEqual(got, map[transport.TopicPartition]int64{{Topic: in, Partition: 0}: 8, {Topic: in, Partition: 1}: 3}) {
		t.Errorf("a transaction without offsets changed the group's: %v", got)
	}
	live.close(e.ctx) // without committing
	var fromCommitted []*transport.Record
	for _, r := range input {
		if (r.Partition == 0 && r.Offset >= 5) || (r.Partition == 1 && r.Offset >= 3) {
			fromCommitted = append(fromCommitted, r)
		}
	}
	if g, w := describe(sortedByPartition(live.received())), describe(fromCommitted); g != w {
		t.Errorf("member of %s started with %q, want %q", group, g, w)
	}

	// A member of the group resumes where the transactions committed.
	m := e.startMember("resumer", transport.ConsumerOptions{Group: group, Topics: []string{in}}, nil)
	const rest = (10 - 8) + (10 - 3)
	waitFor(t, "the input after the committed offsets", func() bool { return m.count() >= rest })
	time.Sleep(200 * time.Millisecond)
	got := m.received()
	m.close(e.ctx)
	var wantRest []*transport.Record
	for _, r := range input {
		if (r.Partition == 0 && r.Offset >= 8) || (r.Partition == 1 && r.Offset >= 3) {
			wantRest = append(wantRest, r)
		}
	}
	if g, w := describe(sortedByPartition(got)), describe(wantRest); g != w {
		t.Errorf("member of %s resumed with %q, want %q", group, g, w)
	}
}

// An aborted transaction's records are never returned, by consumers nor
// ReadAt, and the group's offsets stay as they were.
func testTxnAbort(e *env) {
	t := e.t
	in, out := e.topic(1), e.topic(1)
	tp := transport.TopicPartition{Topic: out, Partition: 0}
	group := e.name("g")
	e.produce(valued(in, 0, "i0", "i1", "i2", "i3", "i4")...)
	p := e.txnProducer("producer", e.name("x"))

	c1 := valued(out, 0, "c1")
	e.txnCommit(p, group, []transport.PartitionOffset{partitionOffset(in, 0, 2)}, c1...)
	e.must("begin", p.Begin(e.ctx))
	aborted := valued(out, 0, "x1", "x2", "x3")
	e.must("produce", p.Produce(e.ctx, aborted))
	e.must("abort", p.Abort(e.ctx))
	e.must("begin", p.Begin(e.ctx))
	aborted2 := valued(out, 0, "x4")
	e.must("produce", p.Produce(e.ctx, aborted2))
	e.must("abort", p.Abort(e.ctx))
	c2 := valued(out, 0, "c2", "c3")
	e.txnCommit(p, group, []transport.PartitionOffset{partitionOffset(in, 0, 4)}, c2...)
	committed := append(slices.Clone(c1), c2...)
	e.waitRead(tp, waitLimit, committed)
	e.waitGroupOffsets(group, map[transport.TopicPartition]int64{{Topic: in, Partition: 0}: 4})
	e.consumeExactly("reader", out, committed)

	// Reads starting on or inside the aborted records skip them, also one
	// batch at a time.
	for _, from := range []int64{aborted[0].Offset, aborted[1].Offset, aborted2[0].Offset} {
		if got := e.readAt(tp, from, 1<<20); describe(got) != describe(c2) {
			t.Errorf("ReadAt(%d), an aborted record's offset: %q, want %q", from, describe(got), describe(c2))
		}
		one := e.readAt(tp, from, 1)
		if len(one) == 0 || string(one[0].Value) != "c2" || one[0].Offset != c2[0].Offset {
			t.Errorf("ReadAt(%d, maxBytes 1) = %q, want c2@0/%d first", from, describe(one), c2[0].Offset)
		}
	}
	if got := e.readAt(tp, 0, 1); describe(got) != describe(c1) {
		t.Errorf("ReadAt(0, maxBytes 1) = %q, want %q", describe(got), describe(c1))
	}

	// Offsets of a transaction that is aborted stay uncommitted.
	e.must("begin", p.Begin(e.ctx))
	e.must("produce", p.Produce(e.ctx, valued(out, 0, "x5")))
	e.must("abort", p.Abort(e.ctx))
	e.txnCommit(p, "", nil, valued(out, 0, "c4")...)
	if got := e.groupOffsets(group); !tpMapsEqual(got, map[transport.TopicPartition]int64{{Topic: in, Partition: 0}: 4}) {
		t.Errorf("group offsets after an aborted transaction: %v, want %s[0]=4", got, in)
	}
}

// An open transaction holds back consumers and ReadAt at its first record:
// what follows it, transactional or not, waits for it to end.
func testTxnOpenStalls(e *env) {
	t := e.t
	out := e.topic(1)
	tp := transport.TopicPartition{Topic: out, Partition: 0}
	before := valued(out, 0, "before")
	e.produce(before...)
	p := e.txnProducer("producer", e.name("x"))
	e.must("begin", p.Begin(e.ctx))
	inTxn := valued(out, 0, "in-txn")
	e.must("produce", p.Produce(e.ctx, inTxn))
	after := valued(out, 0, "after") // not transactional
	e.produce(after...)
	if after[0].Offset <= inTxn[0].Offset {
		t.Fatalf("offsets: in-txn %d, after %d", inTxn[0].Offset, after[0].Offset)
	}

	m := e.startMember("reader", transport.ConsumerOptions{Group: e.name("g"), Topics: []string{out}}, nil)
	waitFor(t, "the record before the transaction", func() bool { return m.count() >= 1 })
	time.Sleep(time.Second) // the rest must not come while the transaction is open
	if got := describe(m.received()); got != describe(before) {
		t.Errorf("polled %q while a transaction was open, want only %q", got, describe(before))
	}
	if got := describe(e.readAll(tp)); got != describe(before) {
		t.Errorf("ReadAt while a transaction was open: %q, want only %q", got, describe(before))
	}
	if got := e.readAt(tp, inTxn[0].Offset, 1<<20); len(got) != 0 {
		t.Errorf("ReadAt(%d), the open transaction's first offset: %q, want nothing", inTxn[0].Offset, describe(got))
	}
	ends, err := e.tr.EndOffsets(e.ctx, out)
	e.must("end offsets", err)
	if ends[0] <= after[0].Offset {
		t.Errorf("end offset %d while a transaction is open, want the high watermark, past %d", ends[0], after[0].Offset)
	}

	e.must("commit", p.Commit(e.ctx, "", nil))
	all := append(append(slices.Clone(before), inTxn...), after...)
	waitFor(t, "the records after the transaction", func() bool { return m.count() >= len(all) })
	time.Sleep(200 * time.Millisecond)
	if got := describe(m.received()); got != describe(all) {
		t.Errorf("polled %q after the commit, want %q", got, describe(all))
	}
	m.close(e.ctx)
	e.waitRead(tp, waitLimit, all)
}

// A new producer of a transactional id fences the earlier ones: their open
// transaction is aborted at once, and their Produce, Commit and Begin fail
// with ErrFenced; the new producer goes on.
func testTxnFence(e *env) {
	t := e.t
	in, out := e.topic(1), e.topic(2)
	tp0 := transport.TopicPartition{Topic: out, Partition: 0}
	group := e.name("g")
	e.produce(valued(in, 0, "i0", "i1", "i2")...)
	id := e.name("x")

	old := e.txnProducer("old", id)
	e.must("old: begin", old.Begin(e.ctx))
	e.must("old: produce", old.Produce(e.ctx, valued(out, 0, "zombie1")))
	cur := e.txnProducer("new", id)
	// The old producer's transaction is aborted: a record after it is
	// readable at once (not after the transaction timeout), the old one
	// never.
	plain := valued(out, 0, "plain")
	e.produce(plain...)
	e.waitRead(tp0, fenceAbortLimit, plain)

	e.wantFenced("old: produce after the fence", old.Produce(e.ctx, valued(out, 0, "zombie2")))
	e.wantFenced("old: produce to another partition after the fence", old.Produce(e.ctx, valued(out, 1, "zombie3")))
	e.wantFenced("old: commit after the fence", old.Commit(e.ctx, group, []transport.PartitionOffset{partitionOffset(in, 0, 1)}))
	e.wantFenced("old: begin after the fence", old.Begin(e.ctx))
	if err := old.Close(e.ctx); err != nil && !errors.Is(err, transport.ErrFenced) {
		t.Errorf("old: close after the fence: %v", err)
	}

	// Fenced at Commit, with records in the transaction, and without.
	for _, records := range []bool{true, false} {
		id := e.name("x")
		zombie := e.txnProducer("zombie", id)
		e.must("zombie: begin", zombie.Begin(e.ctx))
		if records {
			e.must("zombie: produce", zombie.Produce(e.ctx, valued(out, 1, "zombie4")))
		}
		e.txnProducer("fencer", id)
		e.wantFenced(fmt.Sprintf("zombie (records: %v): commit after the fence", records),
			zombie.Commit(e.ctx, group, []transport.PartitionOffset{partitionOffset(in, 0, 2)}))
	}

	won := valued(out, 0, "won")
	e.txnCommit(cur, group, []transport.PartitionOffset{partitionOffset(in, 0, 3)}, won...)
	e.waitRead(tp0, waitLimit, append(slices.Clone(plain), won...))
	e.waitRead(transport.TopicPartition{Topic: out, Partition: 1}, waitLimit, nil)
	e.waitGroupOffsets(group, map[transport.TopicPartition]int64{{Topic: in, Partition: 0}: 3})
}

// Close aborts the open transaction, and the id can be used again.
func testTxnClose(e *env) {
	t := e.t
	out := e.topic(1)
	tp := transport.TopicPartition{Topic: out, Partition: 0}
	id := e.name("x")
	p := e.txnProducer("first", id)
	e.must("begin", p.Begin(e.ctx))
	e.must("produce", p.Produce(e.ctx, valued(out, 0, "closed")))
	e.must("close", p.Close(e.ctx))
	if err := p.Begin(e.ctx); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("begin after close: %v, want ErrClosed", err)
	}
	plain := valued(out, 0, "plain")
	e.produce(plain...)
	e.waitRead(tp, fenceAbortLimit, plain)

	again := e.txnProducer("second", id)
	later := valued(out, 0, "later")
	e.txnCommit(again, "", nil, later...)
	e.waitRead(tp, waitLimit, append(plain, later...))
}
