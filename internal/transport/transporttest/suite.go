package transporttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/record"
	"github.com/tide-data/tide/internal/transport"
)

// Run runs the conformance suite against the transports newTransport
// returns. It calls newTransport once per subtest, from that subtest, which
// may use t.Cleanup to release what it made; subtests run in parallel and
// use topic and group names unique to the run, so one shared broker (a
// real Kafka cluster) serves them all.
func Run(t *testing.T, newTransport func(t *testing.T) transport.Transport) {
	for _, tc := range []struct {
		name string
		fn   func(*env)
	}{
		{"Topics", testTopics},
		{"ProduceExplicitPartition", testProduceExplicitPartition},
		{"ProduceKeyed", testProduceKeyed},
		{"ProduceUnkeyed", testProduceUnkeyed},
		{"HeadersAndTimestamps", testHeadersAndTimestamps},
		{"EndOffsets", testEndOffsets},
		{"ConsumeEarliest", testConsumeEarliest},
		{"ConsumeLatest", testConsumeLatest},
		{"CommitAndResume", testCommitAndResume},
		{"GroupSplitAndTakeover", testGroupSplitAndTakeover},
		{"PollCancelAndClose", testPollCancelAndClose},
		{"LargeBatch", testLargeBatch},
		{"ConcurrentProduce", testConcurrentProduce},
		{"ReadAt", testReadAt},
		{"ReadAtLogStart", testReadAtLogStart},
		{"TxnCommit", testTxnCommit},
		{"TxnAbort", testTxnAbort},
		{"TxnOpenStalls", testTxnOpenStalls},
		{"TxnFence", testTxnFence},
		{"TxnClose", testTxnClose},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, newTransport)
			tc.fn(e)
		})
	}
}

func testTopics(e *env) {
	t := e.t
	a, b, internal := e.name("a"), e.name("b"), "__"+e.name("internal")
	if err := e.tr.CreateTopic(e.ctx, transport.TopicSpec{Name: internal, Partitions: 2}); err != nil {
		t.Fatalf("create %s: %v", internal, err)
	}
	t.Cleanup(func() { _ = e.tr.DeleteTopic(context.Background(), internal) })
	// Topics leaves internal topics out; Topic finds them by name.
	if info, err := e.tr.Topic(e.ctx, internal); err != nil || info.Partitions != 2 {
		t.Errorf("topic %s: %+v, %v; want 2 partitions", internal, info, err)
	}
	if err := e.tr.CreateTopic(e.ctx, transport.TopicSpec{Name: b, Partitions: 3, Configs: map[string]string{"retention.ms": "3600000"}}); err != nil {
		t.Fatalf("create %s: %v", b, err)
	}
	if err := e.tr.CreateTopic(e.ctx, transport.TopicSpec{Name: a}); err != nil {
		t.Fatalf("create %s with the default partition count: %v", a, err)
	}
	t.Cleanup(func() {
		for _, n := range []string{a, b} {
			_ = e.tr.DeleteTopic(context.Background(), n)
		}
	})
	err := e.tr.CreateTopic(e.ctx, transport.TopicSpec{Name: b, Partitions: 3})
	if !errors.Is(err, transport.ErrTopicExists) {
		t.Errorf("creating %s again: got %v, want ErrTopicExists", b, err)
	}

	info, err := e.tr.Topic(e.ctx, b)
	if err != nil {
		t.Fatalf("topic %s: %v", b, err)
	}
	if info.Name != b || info.Partitions != 3 {
		t.Errorf("topic %s: got %+v, want 3 partitions", b, info)
	}
	if got := info.Configs["retention.ms"]; got != "3600000" {
		t.Errorf("topic %s: retention.ms = %q, want 3600000 (configs %v)", b, got, info.Configs)
	}
	if info, err := e.tr.Topic(e.ctx, a); err != nil || info.Partitions < 1 {
		t.Errorf("topic %s: %+v, %v; want >= 1 partition", a, info, err)
	}
	if _, err := e.tr.Topic(e.ctx, e.name("missing")); !errors.Is(err, transport.ErrTopicNotFound) {
		t.Errorf("missing topic: got %v, want ErrTopicNotFound", err)
	}

	topics, err := e.tr.Topics(e.ctx)
	if err != nil {
		t.Fatalf("topics: %v", err)
	}
	var names []string
	for _, ti := range topics {
		if strings.HasPrefix(ti.Name, "__") {
			t.Errorf("topics lists internal topic %s", ti.Name)
		}
		if ti.Name == b && ti.Partitions != 3 {
			t.Errorf("topics: %s has %d partitions, want 3", b, ti.Partitions)
		}
		names = append(names, ti.Name)
	}
	if !slices.IsSorted(names) {
		t.Errorf("topics not sorted: %v", names)
	}
	if !slices.Contains(names, a) || !slices.Contains(names, b) {
		t.Errorf("topics %v lack %s or %s", names, a, b)
	}

	if err := e.tr.DeleteTopic(e.ctx, a); err != nil {
		t.Fatalf("delete %s: %v", a, err)
	}
	// Kafka deletes asynchronously; the topic goes away soon after.
	waitFor(t, "deleted topic to disappear", func() bool {
		_, err := e.tr.Topic(e.ctx, a)
		return errors.Is(err, transport.ErrTopicNotFound)
	})
	if err := e.tr.DeleteTopic(e.ctx, e.name("missing")); !errors.Is(err, transport.ErrTopicNotFound) {
		t.Errorf("deleting a missing topic: got %v, want ErrTopicNotFound", err)
	}
}

func testProduceExplicitPartition(e *env) {
	t := e.t
	topic := e.topic(3)
	recs := keyed(topic, "p", 20)
	for _, r := range recs {
		r.Partition = 2 // the key would send most elsewhere
	}
	e.produce(recs...)
	for i, r := range recs {
		if r.Partition != 2 || r.Offset != int64(i) {
			t.Errorf("record %d: partition %d offset %d, want 2 and %d", i, r.Partition, r.Offset, i)
		}
	}
	bad := &transport.Record{Topic: topic, Partition: 3, Value: []byte("x")}
	if err := e.tr.Produce(e.ctx, []*transport.Record{bad}); err == nil {
		t.Errorf("produce to partition 3 of 3: no error")
	}
	missing := &transport.Record{Topic: e.name("missing"), Partition: 0, Value: []byte("x")}
	if err := e.tr.Produce(e.ctx, []*transport.Record{missing}); err == nil {
		t.Errorf("produce to a missing topic: no error")
	}
}

func testProduceKeyed(e *env) {
	t := e.t
	const partitions = 7
	topic := e.topic(partitions)
	recs := keyed(topic, "key", 300)
	recs = append(recs, &transport.Record{Topic: topic, Partition: -1, Key: []byte{}, Value: []byte("empty key")})
	e.produce(recs...)
	next := map[int32]int64{}
	for _, r := range recs {
		// Kafka's default partitioner: murmur2, sign bit cleared, mod n.
		if want := record.PartitionForKey(r.Key, partitions); r.Partition != want {
			t.Errorf("key %q: partition %d, want %d", r.Key, r.Partition, want)
		}
		if r.Offset != next[r.Partition] {
			t.Errorf("key %q: offset %d, want %d (records keep their order in a partition)", r.Key, r.Offset, next[r.Partition])
		}
		next[r.Partition] = r.Offset + 1
	}
	// The same key goes to the same partition in a later call.
	again := keyed(topic, "key", 10)
	e.produce(again...)
	for i, r := range again {
		if r.Partition != recs[i].Partition {
			t.Errorf("key %q: partition %d, then %d", r.Key, recs[i].Partition, r.Partition)
		}
	}
}

func testProduceUnkeyed(e *env) {
	t := e.t
	topic := e.topic(3)
	recs := make([]*transport.Record, 60)
	for i := range recs {
		recs[i] = &transport.Record{Topic: topic, Partition: -1, Value: fmt.Appendf(nil, "v%d", i)}
	}
	e.produce(recs...)
	seen := map[transport.TopicPartition]map[int64]bool{}
	for _, r := range recs {
		if r.Partition < 0 || r.Partition >= 3 || r.Offset < 0 {
			t.Fatalf("record %q: partition %d offset %d", r.Value, r.Partition, r.Offset)
		}
		tp := transport.TopicPartition{Topic: topic, Partition: r.Partition}
		if seen[tp] == nil {
			seen[tp] = map[int64]bool{}
		}
		if seen[tp][r.Offset] {
			t.Errorf("offset %d of partition %d given twice", r.Offset, r.Partition)
		}
		seen[tp][r.Offset] = true
	}
	ends, err := e.tr.EndOffsets(e.ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, end := range ends {
		total += end
	}
	if total != int64(len(recs)) {
		t.Errorf("end offsets %v sum to %d, want %d", ends, total, len(recs))
	}
}

func testHeadersAndTimestamps(e *env) {
	t := e.t
	topic := e.topic(1)
	ts := time.UnixMilli(time.Now().Add(-time.Hour).UnixMilli()) // ms precision, as Kafka keeps
	sent := []*transport.Record{
		{Topic: topic, Partition: 0, Key: []byte("k1"), Value: []byte("with headers"), Timestamp: ts,
			Headers: []transport.Header{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("")}, {Key: "a", Value: []byte("2")}}},
		{Topic: topic, Partition: 0, Value: []byte("no key, no headers"), Timestamp: ts.Add(5 * time.Millisecond)},
		{Topic: topic, Partition: 0, Key: []byte("k3"), Value: []byte("now")},
	}
	before := time.Now().Add(-time.Second)
	e.produce(sent...)
	after := time.Now().Add(time.Second)

	m := e.startMember("m", transport.ConsumerOptions{Group: e.name("g"), Topics: []string{topic}}, nil)
	waitFor(t, "3 records", func() bool { return m.count() >= 3 })
	got := m.received()
	m.close(e.ctx)
	if len(got) != 3 {
		t.Fatalf("got %d records, want 3", len(got))
	}
	for i, r := range got {
		if r.Topic != topic || r.Partition != 0 || r.Offset != int64(i) {
			t.Errorf("record %d: %s[%d]@%d", i, r.Topic, r.Partition, r.Offset)
		}
		if !bytes.Equal(r.Value, sent[i].Value) || !bytes.Equal(r.Key, sent[i].Key) {
			t.Errorf("record %d: key %q value %q, want %q %q", i, r.Key, r.Value, sent[i].Key, sent[i].Value)
		}
	}
	if got[1].Key != nil {
		t.Errorf("null key came back as %q", got[1].Key)
	}
	h := got[0].Headers
	if len(h) != 3 || h[0].Key != "a" || string(h[0].Value) != "1" || h[1].Key != "b" || len(h[1].Value) != 0 || h[2].Key != "a" || string(h[2].Value) != "2" {
		t.Errorf("headers: got %+v, want a=1 b= a=2 in order", h)
	}
	if len(got[1].Headers) != 0 {
		t.Errorf("record without headers came back with %+v", got[1].Headers)
	}
	if !got[0].Timestamp.Equal(ts) || !got[1].Timestamp.Equal(ts.Add(5*time.Millisecond)) {
		t.Errorf("timestamps: got %v and %v, want %v and +5ms", got[0].Timestamp, got[1].Timestamp, ts)
	}
	if now := got[2].Timestamp; now.Before(before) || now.After(after) {
		t.Errorf("zero timestamp came back as %v, want about now", now)
	}
}

func testEndOffsets(e *env) {
	t := e.t
	topic := e.topic(3)
	ends, err := e.tr.EndOffsets(e.ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[int32]int64{0: 0, 1: 0, 2: 0}; !mapsEqual(ends, want) {
		t.Errorf("empty topic: end offsets %v, want %v", ends, want)
	}
	recs := keyed(topic, "e", 5)
	for _, r := range recs {
		r.Partition = 1
	}
	e.produce(recs...)
	e.produce(&transport.Record{Topic: topic, Partition: 2, Value: []byte("x")})
	ends, err = e.tr.EndOffsets(e.ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[int32]int64{0: 0, 1: 5, 2: 1}; !mapsEqual(ends, want) {
		t.Errorf("end offsets %v, want %v", ends, want)
	}
	if _, err := e.tr.EndOffsets(e.ctx, e.name("missing")); !errors.Is(err, transport.ErrTopicNotFound) {
		t.Errorf("end offsets of a missing topic: got %v, want ErrTopicNotFound", err)
	}
	starts, err := e.tr.StartOffsets(e.ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[int32]int64{0: 0, 1: 0, 2: 0}; !mapsEqual(starts, want) {
		t.Errorf("start offsets %v, want %v", starts, want)
	}
	if _, err := e.tr.StartOffsets(e.ctx, e.name("missing")); !errors.Is(err, transport.ErrTopicNotFound) {
		t.Errorf("start offsets of a missing topic: got %v, want ErrTopicNotFound", err)
	}
}

func mapsEqual(a, b map[int32]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func testConsumeEarliest(e *env) {
	t := e.t
	topic := e.topic(3)
	recs := keyed(topic, "r", 90)
	e.produce(recs...)
	m := e.startMember("m", transport.ConsumerOptions{Group: e.name("g"), Topics: []string{topic}, Start: transport.StartEarliest}, nil)
	waitFor(t, "90 records", func() bool { return m.count() >= len(recs) })
	time.Sleep(100 * time.Millisecond) // nothing more may come
	got := m.received()
	if len(got) != len(recs) {
		t.Errorf("got %d records, want %d", len(got), len(recs))
	}
	byVal := byValue(t, got)
	for _, r := range recs {
		g, ok := byVal[string(r.Value)]
		if !ok {
			t.Errorf("record %q missing", r.Value)
			continue
		}
		if g.Partition != r.Partition || g.Offset != r.Offset || !bytes.Equal(g.Key, r.Key) {
			t.Errorf("record %q: got %s[%d]@%d, produced at [%d]@%d", r.Value, g.Topic, g.Partition, g.Offset, r.Partition, r.Offset)
		}
	}
	if a := m.assignment(); !slices.Equal(a, allPartitions(topic, 3)) {
		t.Errorf("sole member holds %v, want every partition", a)
	}
	m.close(e.ctx)
}

func testConsumeLatest(e *env) {
	t := e.t
	topic := e.topic(2)
	e.produce(keyed(topic, "old", 20)...)
	m := e.startMember("m", transport.ConsumerOptions{Group: e.name("g"), Topics: []string{topic}, Start: transport.StartLatest}, nil)
	waitFor(t, "assignment", func() bool { return len(m.assignment()) == 2 })
	// The consumer resolves "latest" some time after OnAssigned: produce
	// until something arrives; only new records may.
	for i := 0; m.count() == 0; i++ {
		if i > int(waitLimit/(50*time.Millisecond)) {
			t.Fatal("nothing consumed")
		}
		e.produce(&transport.Record{Topic: topic, Partition: int32(i % 2), Value: fmt.Appendf(nil, "new-%d", i)})
		time.Sleep(50 * time.Millisecond)
	}
	m.close(e.ctx)
	for _, r := range m.received() {
		if !bytes.HasPrefix(r.Value, []byte("new-")) {
			t.Errorf("StartLatest returned %q from before the consumer started", r.Value)
		}
	}
}

func testCommitAndResume(e *env) {
	t := e.t
	topic := e.topic(3)
	group := e.name("g")
	recs := keyed(topic, "c", 60)
	e.produce(recs...)
	perPartition := map[int32]int64{}
	for _, r := range recs {
		perPartition[r.Partition]++
	}

	m := e.startMember("first", transport.ConsumerOptions{Group: group, Topics: []string{topic}}, nil)
	committed, err := m.c.Committed(e.ctx)
	if err != nil {
		t.Fatalf("committed before any commit: %v", err)
	}
	if len(committed) != 0 {
		t.Errorf("new group has committed offsets %v", committed)
	}
	waitFor(t, "60 records", func() bool { return m.count() >= len(recs) })
	// Commit half of each partition: the next offset to read.
	var offsets []transport.PartitionOffset
	want := map[transport.TopicPartition]int64{}
	for p, n := range perPartition {
		tp := transport.TopicPartition{Topic: topic, Partition: p}
		offsets = append(offsets, transport.PartitionOffset{TopicPartition: tp, Offset: n / 2})
		want[tp] = n / 2
	}
	if err := m.c.Commit(e.ctx, offsets); err != nil {
		t.Fatalf("commit: %v", err)
	}
	committed, err = m.c.Committed(e.ctx)
	if err != nil {
		t.Fatalf("committed: %v", err)
	}
	if !tpMapsEqual(committed, want) {
		t.Errorf("committed %v, want %v", committed, want)
	}
	// Groups lists the group, a live member in it, with the same offsets.
	groups, err := e.tr.Groups(e.ctx)
	if err != nil {
		t.Fatalf("groups: %v", err)
	}
	found := false
	for i, g := range groups {
		if i > 0 && groups[i-1].Group >= g.Group {
			t.Errorf("groups not sorted: %s before %s", groups[i-1].Group, g.Group)
		}
		if g.Group != group {
			continue
		}
		found = true
		if g.Members != 1 || !tpMapsEqual(g.Offsets, want) {
			t.Errorf("group %s listed with %d members, offsets %v; want 1, %v", group, g.Members, g.Offsets, want)
		}
	}
	if !found {
		t.Errorf("groups %v lack %s", groups, group)
	}
	m.close(e.ctx)

	// A new member of the group resumes from the commits.
	var rest int
	for _, r := range recs {
		if r.Offset >= want[transport.TopicPartition{Topic: topic, Partition: r.Partition}] {
			rest++
		}
	}
	m2 := e.startMember("second", transport.ConsumerOptions{Group: group, Topics: []string{topic}}, nil)
	waitFor(t, fmt.Sprintf("%d records after the commits", rest), func() bool { return m2.count() >= rest })
	time.Sleep(100 * time.Millisecond)
	got := m2.received()
	if len(got) != rest {
		t.Errorf("resumed member got %d records, want %d", len(got), rest)
	}
	first := map[int32]int64{}
	for _, r := range got {
		if _, ok := first[r.Partition]; !ok {
			first[r.Partition] = r.Offset
		}
	}
	for tp, o := range want {
		if f, ok := first[tp.Partition]; ok && f != o {
			t.Errorf("partition %d resumed at %d, committed %d", tp.Partition, f, o)
		}
	}
	committed, err = m2.c.Committed(e.ctx)
	if err != nil || !tpMapsEqual(committed, want) {
		t.Errorf("committed seen by the new member: %v, %v; want %v", committed, err, want)
	}
	m2.close(e.ctx)
}

func tpMapsEqual(a, b map[transport.TopicPartition]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func testGroupSplitAndTakeover(e *env) {
	t := e.t
	const partitions = 4
	topic := e.topic(partitions)
	group := e.name("g")
	opts := transport.ConsumerOptions{Group: group, Topics: []string{topic}}

	// Both commit in OnRevoked what they have read, as an owner should,
	// so a partition changing hands is not read again.
	var commitMu sync.Mutex
	commitErrs := 0
	commitRead := func(m **member) func(context.Context, transport.Consumer, []transport.TopicPartition) {
		return func(ctx context.Context, c transport.Consumer, parts []transport.TopicPartition) {
			next := map[transport.TopicPartition]int64{}
			for _, r := range (*m).received() {
				tp := transport.TopicPartition{Topic: r.Topic, Partition: r.Partition}
				if slices.Contains(parts, tp) {
					next[tp] = max(next[tp], r.Offset+1)
				}
			}
			var offsets []transport.PartitionOffset
			for tp, o := range next {
				offsets = append(offsets, transport.PartitionOffset{TopicPartition: tp, Offset: o})
			}
			if err := c.Commit(ctx, offsets); err != nil {
				commitMu.Lock()
				commitErrs++
				commitMu.Unlock()
				t.Logf("commit in OnRevoked: %v", err)
			}
		}
	}
	var a, b *member
	a = e.startMember("a", opts, commitRead(&a))
	waitFor(t, "a to hold every partition", func() bool { return len(a.assignment()) == partitions })
	b = e.startMember("b", opts, commitRead(&b))
	waitFor(t, "a and b to split the partitions", func() bool {
		aa, bb := a.assignment(), b.assignment()
		if len(aa) == 0 || len(bb) == 0 || len(aa)+len(bb) != partitions {
			return false
		}
		all := append(aa, bb...)
		sortTPs(all)
		return slices.Equal(all, allPartitions(topic, partitions))
	})
	owner := map[int32]string{}
	for _, tp := range a.assignment() {
		owner[tp.Partition] = "a"
	}
	for _, tp := range b.assignment() {
		owner[tp.Partition] = "b"
	}

	recs := keyed(topic, "split", 80)
	e.produce(recs...)
	waitFor(t, "80 records between a and b", func() bool { return a.count()+b.count() >= len(recs) })
	time.Sleep(100 * time.Millisecond)
	got := map[string]string{}
	for name, m := range map[string]*member{"a": a, "b": b} {
		for _, r := range m.received() {
			if prev, ok := got[string(r.Value)]; ok {
				t.Errorf("%q read by %s and %s", r.Value, prev, name)
			}
			got[string(r.Value)] = name
			if owner[r.Partition] != name {
				t.Errorf("%q of partition %d read by %s, which does not own it", r.Value, r.Partition, name)
			}
		}
	}
	if len(got) != len(recs) {
		t.Errorf("a and b read %d distinct records, want %d", len(got), len(recs))
	}

	// b leaves: OnRevoked for what it held, and a takes everything over.
	bHeld := b.assignment()
	b.close(e.ctx)
	b.mu.Lock()
	lastRevoked := b.mu.revoked[len(b.mu.revoked)-1]
	b.mu.Unlock()
	if !slices.Equal(lastRevoked, bHeld) {
		t.Errorf("b's Close revoked %v, want %v", lastRevoked, bHeld)
	}
	waitFor(t, "a to take every partition over", func() bool { return len(a.assignment()) == partitions })
	a.mu.Lock()
	if a.mu.assignCalls < 2 {
		t.Errorf("a: OnAssigned called %d times, want at least 2", a.mu.assignCalls)
	}
	a.mu.Unlock()

	before := a.count()
	more := keyed(topic, "after", 40)
	e.produce(more...)
	waitFor(t, "a to read the records of every partition", func() bool {
		n := 0
		for _, r := range a.received()[before:] {
			if bytes.HasPrefix(r.Value, []byte("after-")) {
				n++
			}
		}
		return n >= len(more)
	})
	commitMu.Lock()
	if commitErrs > 0 {
		t.Errorf("%d commits in OnRevoked failed", commitErrs)
	}
	commitMu.Unlock()
	a.close(e.ctx)
}

func testPollCancelAndClose(e *env) {
	t := e.t
	topic := e.topic(1)
	var revoked atomic.Int32
	c, err := e.tr.NewConsumer(e.ctx, transport.ConsumerOptions{
		Group: e.name("g"), Topics: []string{topic},
		OnRevoked: func(context.Context, []transport.TopicPartition) { revoked.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	recs, err := c.Poll(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("poll of an empty topic until a deadline: %d records, %v; want DeadlineExceeded", len(recs), err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("poll returned %v after its deadline", d)
	}
	canceled, cancel2 := context.WithCancel(e.ctx)
	cancel2()
	if _, err := c.Poll(canceled); !errors.Is(err, context.Canceled) {
		t.Errorf("poll with a canceled context: %v, want context.Canceled", err)
	}

	// A record arrives while Poll waits.
	go func() {
		time.Sleep(200 * time.Millisecond)
		_ = e.tr.Produce(e.ctx, []*transport.Record{{Topic: topic, Partition: 0, Value: []byte("wake")}})
	}()
	var got []*transport.Record
	for len(got) == 0 {
		pctx, pcancel := context.WithTimeout(e.ctx, waitLimit)
		recs, err := c.Poll(pctx)
		pcancel()
		if err != nil {
			t.Fatalf("poll: %v", err)
		}
		got = append(got, recs...)
	}
	if string(got[0].Value) != "wake" {
		t.Errorf("got %q, want wake", got[0].Value)
	}

	if err := c.Close(e.ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	if n := revoked.Load(); n != 1 {
		t.Errorf("OnRevoked called %d times by Close, want 1", n)
	}
	if _, err := c.Poll(e.ctx); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("poll after close: %v, want ErrClosed", err)
	}
}

func testLargeBatch(e *env) {
	t := e.t
	topic := e.topic(3)
	const n = 10000
	recs := make([]*transport.Record, n)
	for i := range recs {
		recs[i] = &transport.Record{
			Topic: topic, Partition: -1,
			Key:   fmt.Appendf(nil, "key-%d", i%500),
			Value: fmt.Appendf(nil, "%08d-%s", i, bytes.Repeat([]byte{'x'}, 90)),
		}
	}
	start := time.Now()
	e.produce(recs...)
	t.Logf("produced %d records in %v", n, time.Since(start))
	next := map[int32]int64{}
	for i, r := range recs {
		if r.Offset != next[r.Partition] {
			t.Fatalf("record %d: offset %d in partition %d, want %d", i, r.Offset, r.Partition, next[r.Partition])
		}
		next[r.Partition]++
	}

	start = time.Now()
	m := e.startMember("m", transport.ConsumerOptions{Group: e.name("g"), Topics: []string{topic}}, nil)
	waitFor(t, "10k records", func() bool { return m.count() >= n })
	t.Logf("consumed %d records in %v", n, time.Since(start))
	got := m.received()
	m.close(e.ctx)
	if len(got) != n {
		t.Fatalf("got %d records, want %d", len(got), n)
	}
	// Per key, values arrive in the order produced.
	lastByKey := map[string]string{}
	for _, r := range got {
		k := string(r.Key)
		if prev, ok := lastByKey[k]; ok && string(r.Value) <= prev {
			t.Fatalf("key %s: %q after %q", k, r.Value, prev)
		}
		lastByKey[k] = string(r.Value)
	}
}

func testConcurrentProduce(e *env) {
	t := e.t
	topic := e.topic(3)
	const writers, calls, per = 8, 20, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*calls)
	results := make([][]*transport.Record, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range calls {
				batch := make([]*transport.Record, per)
				for i := range batch {
					batch[i] = &transport.Record{Topic: topic, Partition: -1,
						Key: fmt.Appendf(nil, "w%d", w), Value: fmt.Appendf(nil, "w%d-%04d", w, c*per+i)}
				}
				if err := e.tr.Produce(e.ctx, batch); err != nil {
					errs <- err
					return
				}
				results[w] = append(results[w], batch...)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent produce: %v", err)
	}
	seen := map[transport.TopicPartition]map[int64]string{}
	for w, recs := range results {
		var last int64 = -1
		for _, r := range recs {
			tp := transport.TopicPartition{Topic: topic, Partition: r.Partition}
			if seen[tp] == nil {
				seen[tp] = map[int64]string{}
			}
			if prev, ok := seen[tp][r.Offset]; ok {
				t.Errorf("%s and %s both got offset %d of partition %d", prev, r.Value, r.Offset, r.Partition)
			}
			seen[tp][r.Offset] = string(r.Value)
			// One writer, one key, one partition: its offsets rise.
			if r.Offset <= last {
				t.Errorf("writer %d: offset %d after %d", w, r.Offset, last)
			}
			last = r.Offset
		}
	}
	ends, err := e.tr.EndOffsets(e.ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, end := range ends {
		total += end
	}
	if total != writers*calls*per {
		t.Errorf("end offsets sum to %d, want %d", total, writers*calls*per)
	}
}
