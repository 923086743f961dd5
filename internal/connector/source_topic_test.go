package connector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/transport/embedded"
)

// produce writes n outputs with keys k0..k{n-1} through a topic sink.
func produce(t *testing.T, env Env, topic string, from, n int) {
	t.Helper()
	sink, err := NewSink("topic", map[string]string{"topic": topic}, env)
	if err != nil {
		t.Fatal(err)
	}
	outs := make([]Output, n)
	for i := range outs {
		outs[i] = Output{Key: fmt.Appendf(nil, "k%d", from+i), Value: fmt.Appendf(nil, `{"i":%d}`, from+i)}
	}
	if err := sink.Write(testContext(t), outs); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(testContext(t)); err != nil {
		t.Fatal(err)
	}
}

// committed returns the group's commits, through the live source's
// consumer (a consumer of its own would join the group and rebalance it)
// or, with src nil, a short-lived consumer.
func committed(t *testing.T, tr transport.Transport, groupName, topic string, src Source) map[int32]int64 {
	t.Helper()
	ctx := testContext(t)
	var c transport.Consumer
	if src != nil {
		c = src.(*TopicSource).consumer
	} else {
		var err error
		if c, err = tr.NewConsumer(ctx, transport.ConsumerOptions{Group: groupName, Topics: []string{topic}}); err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
	}
	m, err := c.Committed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	for tp, off := range m {
		out[tp.Partition] = off
	}
	return out
}

func TestTopicSinkAndSourceEmbedded(t *testing.T) {
	tr := newEmbedded(t)
	ctx := testContext(t)
	env := Env{Transport: tr, Group: "pipeline-a"}

	// The sink creates its topic with the partitions asked for.
	if _, err := NewSink("topic", map[string]string{"topic": "events", "topic.partitions": "3"}, env); err != nil {
		t.Fatal(err)
	}
	if _, err := NewSink("topic", map[string]string{"topic": "absent", "topic.create": "false"}, env); !errors.Is(err, transport.ErrTopicNotFound) {
		t.Errorf("topic.create=false on a missing topic: %v", err)
	}
	produce(t, env, "events", 0, 300)
	ends, err := tr.EndOffsets(ctx, "events")
	if err != nil {
		t.Fatal(err)
	}

	src, err := NewSource("topic", nil, map[string]string{"topic": "events", "commit.interval": "20ms"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if n := src.(PartitionedSource).Partitions(); n != 3 {
		t.Fatalf("Partitions() = %d", n)
	}
	seen := map[string]bool{}
	lastOffset := map[int32]int64{}
	var batches []Batch
	for len(seen) < 300 {
		b, err := src.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Messages) == 0 {
			t.Fatal("empty batch")
		}
		for _, m := range b.Messages {
			if m.Origin.Partition != b.Partition || m.Origin.Topic != "events" {
				t.Fatalf("message of %s/%d in a batch of partition %d", m.Origin.Topic, m.Origin.Partition, b.Partition)
			}
			if last, ok := lastOffset[b.Partition]; ok && m.Origin.Offset != last+1 {
				t.Fatalf("partition %d: offset %d after %d", b.Partition, m.Origin.Offset, last)
			}
			lastOffset[b.Partition] = m.Origin.Offset
			seen[string(m.Key)] = true
		}
		batches = append(batches, b)
	}

	// Nothing is committed before the acks; everything after them.
	time.Sleep(100 * time.Millisecond)
	if got := committed(t, tr, "pipeline-a", "events", src); len(got) != 0 {
		t.Fatalf("committed %v before any Ack", got)
	}
	for _, b := range batches {
		b.Ack()
		b.Ack() // a second Ack is harmless
	}
	eventually(t, "commits after Ack", func() bool {
		got := committed(t, tr, "pipeline-a", "events", src)
		for p, end := range ends {
			if got[p] != end {
				return false
			}
		}
		return true
	})
	if err := src.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// A new source of the same group resumes after the commits.
	produce(t, env, "events", 300, 1)
	src2, err := NewSource("topic", nil, map[string]string{"topic": "events"}, env)
	if err != nil {
		t.Fatal(err)
	}
	b, err := src2.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Messages) != 1 || string(b.Messages[0].Key) != "k300" {
		t.Fatalf("resumed with %d messages, first %q", len(b.Messages), b.Messages[0].Key)
	}
	b.Ack()
	if err := src2.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestTopicSourceCloseCommitsAcked(t *testing.T) {
	tr := newEmbedded(t)
	ctx := testContext(t)
	env := Env{Transport: tr, Group: "g-close"}
	produce(t, env, "t", 0, 10)
	// A commit interval long enough that only Close commits.
	src, err := NewSource("topic", nil, map[string]string{"topic": "t", "commit.interval": "1h"}, env)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for n < 10 {
		b, err := src.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(b.Messages)
		b.Ack()
	}
	if got := committed(t, tr, "g-close", "t", src); len(got) != 0 {
		t.Fatalf("committed %v before Close", got)
	}
	if err := src.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := committed(t, tr, "g-close", "t", nil); got[0] != 10 {
		t.Fatalf("after Close committed %v, want partition 0 at 10", got)
	}
}

// TestTopicSourceRevokeWaitsForAcks: OnRevoked returns only once the
// revoked partition's batches are acknowledged, and commits them.
func TestTopicSourceRevokeWaitsForAcks(t *testing.T) {
	tr := newEmbedded(t)
	ctx := testContext(t)
	env := Env{Transport: tr, Group: "g-revoke"}
	produce(t, env, "t", 0, 5)
	source, err := NewSource("topic", nil, map[string]string{"topic": "t", "commit.interval": "1h"}, env)
	if err != nil {
		t.Fatal(err)
	}
	src := source.(*TopicSource)
	var batches []Batch
	for n := 0; n < 5; {
		b, err := src.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(b.Messages)
		batches = append(batches, b)
	}

	revoked := make(chan struct{})
	go func() {
		defer close(revoked)
		src.onRevoked(ctx, []transport.TopicPartition{{Topic: "t", Partition: 0}})
	}()
	select {
	case <-revoked:
		t.Fatal("OnRevoked returned with a batch outstanding")
	case <-time.After(100 * time.Millisecond):
	}
	for _, b := range batches {
		b.Ack() // from another goroutine than the revoke, as the runtime's tasks do
	}
	select {
	case <-revoked:
	case <-time.After(10 * time.Second):
		t.Fatal("OnRevoked still waiting after the acks")
	}
	if got := committed(t, tr, "g-revoke", "t", src); got[0] != 5 {
		t.Fatalf("after revoke committed %v, want 5", got)
	}

	// A revoke whose context ends gives up waiting; the late Ack of a
	// revoked partition commits nothing.
	produce(t, env, "t", 5, 1)
	src.onAssigned(ctx, []transport.TopicPartition{{Topic: "t", Partition: 0}})
	b, err := src.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	src.onRevoked(short, []transport.TopicPartition{{Topic: "t", Partition: 0}})
	b.Ack()
	if err := src.commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := committed(t, tr, "g-revoke", "t", src); got[0] != 5 {
		t.Fatalf("a late Ack moved the offset: %v", got)
	}
	if err := src.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestTopicSourceOptions(t *testing.T) {
	tr := newEmbedded(t)
	env := Env{Transport: tr, Group: "g"}
	if _, err := NewSource("topic", nil, map[string]string{}, env); err == nil || !strings.Contains(err.Error(), "'topic' is required") {
		t.Errorf("missing topic: %v", err)
	}
	if _, err := NewSource("topic", nil, map[string]string{"topic": "nope", "topic.create": "false"}, env); !errors.Is(err, transport.ErrTopicNotFound) {
		t.Errorf("missing topic without topic.create: %v", err)
	}
	// By default a missing topic is created, as Kafka's auto-creation does.
	src, err := NewSource("topic", nil, map[string]string{"topic": "created", "topic.partitions": "3"}, env)
	if err != nil {
		t.Fatalf("missing topic with topic.create: %v", err)
	}
	if info, err := tr.Topic(context.Background(), "created"); err != nil || info.Partitions != 3 {
		t.Errorf("created topic: %+v, %v", info, err)
	}
	if err := src.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	produce(t, env, "t", 0, 3)
	_, err = NewSource("topic", nil, map[string]string{"topic": "t", "scan.startup.mode": "earliest-offset"}, env)
	if err == nil || !strings.Contains(err.Error(), "'earliest', 'latest', 'group-offsets'") {
		t.Errorf("bad mode: %v", err)
	}
	_, err = NewSource("topic", nil, map[string]string{"topic": "t", "startup.mode": "latest"}, env)
	if err == nil || !strings.Contains(err.Error(), "unknown option 'startup.mode'") || !strings.Contains(err.Error(), "'scan.startup.mode'") {
		t.Errorf("unknown option: %v", err)
	}

	// 'latest' skips what is there for a group without commits.
	ctx := testContext(t)
	src, err = NewSource("topic", nil, map[string]string{"topic": "t", "scan.startup.mode": "latest"}, Env{Transport: tr, Group: "g-latest"})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan Batch, 1)
	go func() {
		b, err := src.Read(ctx)
		if err == nil {
			got <- b
		}
	}()
	time.Sleep(300 * time.Millisecond) // let the consumer join and start at the end
	produce(t, env, "t", 3, 1)
	select {
	case b := <-got:
		if string(b.Messages[0].Key) != "k3" {
			t.Errorf("latest read %q first", b.Messages[0].Key)
		}
		b.Ack()
	case <-time.After(15 * time.Second):
		t.Fatal("no record read")
	}
	if err := src.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// A bounded source reads each partition up to its end when the source is
// opened, whatever is written after, then ends; a partition that is empty
// or read to its bound by an earlier run (its commits) is done at once,
// and a partition whose last offsets are transaction markers ends too.
func TestTopicSourceBounded(t *testing.T) {
	tr := newEmbedded(t)
	ctx := testContext(t)
	env := Env{Transport: tr, Group: "backfill"}
	if err := tr.CreateTopic(ctx, transport.TopicSpec{Name: "history", Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	var recs []*transport.Record
	for i := range 40 {
		recs = append(recs, &transport.Record{Topic: "history", Partition: int32(i % 2), Value: fmt.Appendf(nil, `{"i":%d}`, i)}) // partition 2 stays empty
	}
	if err := tr.Produce(ctx, recs); err != nil {
		t.Fatal(err)
	}
	// A transaction's markers after partition 1's last record.
	txn, err := tr.NewTxnProducer(ctx, "history-writer")
	if err != nil {
		t.Fatal(err)
	}
	if err := txn.Begin(ctx); err != nil {
		t.Fatal(err)
	}
	if err := txn.Produce(ctx, []*transport.Record{{Topic: "history", Partition: 1, Value: []byte(`{"i":40}`)}}); err != nil {
		t.Fatal(err)
	}
	if err := txn.Commit(ctx, "", nil); err != nil {
		t.Fatal(err)
	}
	_ = txn.Close(ctx)

	readAll := func() int {
		src, err := NewSource("topic", nil, map[string]string{"topic": "history", "scan.bounded.mode": "latest-offset", "commit.interval": "10ms"}, env)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := src.Close(ctx); err != nil {
				t.Error(err)
			}
		}()
		n := 0
		for {
			b, err := src.Read(ctx)
			if errors.Is(err, io.EOF) {
				return n
			}
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 { // written after the source opened: past its bound
				if err := tr.Produce(ctx, []*transport.Record{{Topic: "history", Partition: 0, Value: []byte(`{"i":-1}`)}}); err != nil {
					t.Fatal(err)
				}
			}
			n += len(b.Messages)
			b.Ack()
		}
	}
	if n := readAll(); n != 41 {
		t.Fatalf("read %d records, want the 41 written before the source opened", n)
	}
	if n := readAll(); n != 1 {
		t.Fatalf("a second run read %d records, want the one written during the first", n)
	}
	if _, err := NewSource("topic", nil, map[string]string{"topic": "history", "scan.bounded.mode": "earliest"}, env); err == nil || !strings.Contains(err.Error(), "scan.bounded.mode") {
		t.Errorf("a bad scan.bounded.mode: %v", err)
	}
}

// The topic source gives a poll's memory back to the consumer once every
// batch of it is acknowledged: batches still held keep their bytes while
// later polls read into reused memory, and a released batch's memory is
// never reused.
func TestTopicSourceReusesOnlyAcknowledgedMemory(t *testing.T) {
	// Small fetches: many polls, memory reused many times over.
	tr := newEmbedded(t, embedded.WithFetchBytes(4096))
	ctx := testContext(t)
	env := Env{Transport: tr, Group: "g-reuse"}
	const n = 6000
	for i := 0; i < n; i += 50 {
		produce(t, env, "t", i, 50)
	}
	src, err := NewSource("topic", nil, map[string]string{"topic": "t"}, env)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close(ctx)
	check := func(b Batch, what string) {
		t.Helper()
		for _, m := range b.Messages {
			if want := fmt.Sprintf(`{"i":%d}`, m.Origin.Offset); string(m.Value) != want {
				t.Fatalf("%s: offset %d holds %s, want %s", what, m.Origin.Offset, m.Value, want)
			}
		}
	}
	var held []Batch // acknowledged in order, up to 12 behind
	var released []Batch
	read := 0
	for read < n {
		b, err := src.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		check(b, "as read")
		read += len(b.Messages)
		if len(released) < 3 && read > n/2 {
			// Given up: the task may still look at it; acknowledging
			// stops for the partition, reading goes on.
			b.Release()
			released = append(released, b)
			continue
		}
		held = append(held, b)
		if len(held) > 12 {
			check(held[0], "held while later polls read")
			held[0].Ack()
			held = held[1:]
		}
	}
	for _, b := range held {
		check(b, "held to the end")
		b.Ack()
	}
	for _, b := range released {
		check(b, "released")
	}
}
