package embedded

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/group"
	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/record"
	"github.com/tide-data/tide/internal/transport"
)

func open(t *testing.T, opts ...Option) (*Transport, *log.Log, *group.Coordinator) {
	t.Helper()
	l, err := log.Open(t.TempDir(), log.WithCleanerInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	g, err := group.NewCoordinator(l, group.Options{MinSessionTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	opts = append([]Option{WithSessionTimeout(3 * time.Second), WithHeartbeatInterval(20 * time.Millisecond)}, opts...)
	tr := New(l, g, opts...)
	t.Cleanup(func() {
		_ = tr.Close()
		_ = g.Close()
		_ = l.Close()
	})
	return tr, l, g
}

// Records beyond max.message.bytes are split into several batches; a
// record too large for any batch fails with the log's error.
func TestProduceSplitsBatches(t *testing.T) {
	tr, l, _ := open(t)
	ctx := context.Background()
	if err := tr.CreateTopic(ctx, transport.TopicSpec{Name: "small", Partitions: 1, Configs: map[string]string{"max.message.bytes": "2000"}}); err != nil {
		t.Fatal(err)
	}
	recs := make([]*transport.Record, 100)
	for i := range recs {
		recs[i] = &transport.Record{Topic: "small", Partition: 0, Value: bytes.Repeat([]byte{'v'}, 100)}
	}
	if err := tr.Produce(ctx, recs); err != nil {
		t.Fatal(err)
	}
	topic, _ := l.Topic("small")
	p, _ := topic.Partition(0)
	res, err := p.Read(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	batches, records := 0, 0
	for b := res.Batches; len(b) > 0; {
		h, err := record.ParseHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		if h.Size() > 2000 {
			t.Errorf("batch of %d bytes, limit 2000", h.Size())
		}
		batches++
		records += int(h.NumRecords)
		b = b[h.Size():]
	}
	if records != 100 || batches < 6 {
		t.Errorf("%d records in %d batches; want 100 in at least 6", records, batches)
	}
	huge := &transport.Record{Topic: "small", Partition: 0, Value: make([]byte, 5000)}
	if err := tr.Produce(ctx, []*transport.Record{huge}); !errors.Is(err, log.ErrMessageTooLarge) {
		t.Errorf("oversized record: %v, want log.ErrMessageTooLarge", err)
	}
}

// The group looks to the coordinator (and so to `tide group describe` and
// Kafka tools) like a Kafka consumer group.
func TestGroupLooksLikeKafkaConsumers(t *testing.T) {
	tr, _, g := open(t, WithClientID("pipeline-7"))
	ctx := context.Background()
	if err := tr.CreateTopic(ctx, transport.TopicSpec{Name: "orders", Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	c, err := tr.NewConsumer(ctx, transport.ConsumerOptions{Group: "g", Topics: []string{"orders"}})
	if err != nil {
		t.Fatal(err)
	}
	pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	_, _ = c.Poll(pctx) // takes the assignment
	cancel()
	var sum group.Summary
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, s := range g.Groups() {
			if s.Group == "g" {
				sum = s
			}
		}
		if sum.State == "Stable" || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if sum.State != "Stable" || sum.ProtocolType != "consumer" || sum.Protocol != "range" || len(sum.Members) != 1 {
		t.Fatalf("group summary %+v", sum)
	}
	m := sum.Members[0]
	if m.ClientID != "pipeline-7" || !slices.Equal(m.Assigned["orders"], []int32{0, 1, 2}) {
		t.Errorf("member %+v", m)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range g.Groups() {
		if s.Group == "g" && len(s.Members) != 0 {
			t.Errorf("members after close: %+v", s.Members)
		}
	}
}

// A consumer with a small buffer budget still reads everything, in order.
func TestSmallBudget(t *testing.T) {
	tr, _, _ := open(t, WithFetchBytes(1000), WithBufferedBytes(3000))
	ctx := context.Background()
	if err := tr.CreateTopic(ctx, transport.TopicSpec{Name: "t", Partitions: 4}); err != nil {
		t.Fatal(err)
	}
	const n = 2000
	recs := make([]*transport.Record, n)
	for i := range recs {
		recs[i] = &transport.Record{Topic: "t", Partition: int32(i % 4), Value: fmt.Appendf(nil, "%06d", i)}
	}
	for i := 0; i < n; i += 10 { // many small batches
		if err := tr.Produce(ctx, recs[i:i+10]); err != nil {
			t.Fatal(err)
		}
	}
	c, err := tr.NewConsumer(ctx, transport.ConsumerOptions{Group: "g", Topics: []string{"t"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	got := 0
	last := map[int32]int64{0: -1, 1: -1, 2: -1, 3: -1}
	cons := c.(*Consumer)
	for got < n {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		rs, err := c.Poll(pctx)
		cancel()
		if err != nil {
			t.Fatalf("after %d records: %v", got, err)
		}
		for _, r := range rs {
			if r.Offset != last[r.Partition]+1 {
				t.Fatalf("partition %d: offset %d after %d", r.Partition, r.Offset, last[r.Partition])
			}
			last[r.Partition] = r.Offset
		}
		got += len(rs)
		cons.budget.mu.Lock()
		used := cons.budget.used
		cons.budget.mu.Unlock()
		if used > 3000+1000 {
			t.Fatalf("%d bytes buffered, budget 3000", used)
		}
	}
}

// The range assignment matches Kafka's RangeAssignor.
func TestRangeAssignment(t *testing.T) {
	tr, _, _ := open(t)
	ctx := context.Background()
	for name, n := range map[string]int32{"a": 5, "b": 2} {
		if err := tr.CreateTopic(ctx, transport.TopicSpec{Name: name, Partitions: n}); err != nil {
			t.Fatal(err)
		}
	}
	meta := func(topics ...string) []byte {
		m := kmsg.NewConsumerMemberMetadata()
		m.Topics = topics
		return m.AppendTo(nil)
	}
	c := &Consumer{t: tr, group: "g"}
	out, counts := c.assign([]kmsg.JoinGroupResponseMember{
		{MemberID: "m2", ProtocolMetadata: meta("a", "b")},
		{MemberID: "m1", ProtocolMetadata: meta("a", "b")},
		{MemberID: "m3", ProtocolMetadata: meta("a")},
	})
	got := map[string]map[string][]int32{}
	for _, ga := range out {
		var a kmsg.ConsumerMemberAssignment
		if err := a.ReadFrom(ga.MemberAssignment); err != nil {
			t.Fatal(err)
		}
		got[ga.MemberID] = map[string][]int32{}
		for _, at := range a.Topics {
			got[ga.MemberID][at.Topic] = at.Partitions
		}
	}
	want := map[string]map[string][]int32{
		"m1": {"a": {0, 1}, "b": {0}},
		"m2": {"a": {2, 3}, "b": {1}},
		"m3": {"a": {4}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("assignment %v, want %v", got, want)
	}
	if counts["a"] != 5 || counts["b"] != 2 {
		t.Errorf("counts %v", counts)
	}
}
