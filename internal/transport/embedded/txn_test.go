package embedded

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/txn"
)

func readValues(t *testing.T, tr *Transport, tp transport.TopicPartition) string {
	t.Helper()
	var out []string
	for offset := int64(0); ; {
		recs, err := tr.ReadAt(context.Background(), tp, offset, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			return fmt.Sprint(out)
		}
		for _, r := range recs {
			out = append(out, fmt.Sprintf("%s@%d", r.Value, r.Offset))
			offset = r.Offset + 1
		}
	}
}

// A transaction's records, split over several batches and partitions, and
// its offsets become visible together at Commit, at the offsets Produce
// set; the offsets are the group's committed offsets, settled through the
// group coordinator.
func TestTxnProducerCommitsRecordsAndOffsets(t *testing.T) {
	tr, _, g := open(t)
	ctx := context.Background()
	for name, cfg := range map[string]map[string]string{"in": nil, "out": {"max.message.bytes": "400"}} {
		if err := tr.CreateTopic(ctx, transport.TopicSpec{Name: name, Partitions: 2, Configs: cfg}); err != nil {
			t.Fatal(err)
		}
	}
	p, err := tr.NewTxnProducer(ctx, "etl")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Close(ctx) }()
	var recs []*transport.Record
	for i := range 12 {
		recs = append(recs, &transport.Record{Topic: "out", Partition: int32(i % 2), Value: append([]byte(fmt.Sprintf("v%02d-", i)), bytes.Repeat([]byte{'x'}, 60)...)})
	}
	// A plain record in between, to see that offsets are per batch.
	if err := p.Begin(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Produce(ctx, recs[:6]); err != nil {
		t.Fatal(err)
	}
	if err := tr.Produce(ctx, []*transport.Record{{Topic: "out", Partition: 0, Value: []byte("plain")}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Produce(ctx, recs[6:]); err != nil {
		t.Fatal(err)
	}
	tp0 := transport.TopicPartition{Topic: "out", Partition: 0}
	if got := readValues(t, tr, tp0); got != "[]" {
		t.Fatalf("open transaction visible: %s", got)
	}
	offsets := []transport.PartitionOffset{{TopicPartition: transport.TopicPartition{Topic: "in", Partition: 1}, Offset: 17}}
	if err := p.Commit(ctx, "grp", offsets); err != nil {
		t.Fatal(err)
	}
	got := readValues(t, tr, tp0)
	want := ""
	for i, r := range recs {
		if i == 6 {
			want += fmt.Sprintf("plain@%d ", recs[4].Offset+1)
		}
		if r.Partition == 0 {
			want += fmt.Sprintf("%s@%d ", r.Value, r.Offset)
		}
	}
	if got != "["+want[:len(want)-1]+"]" {
		t.Fatalf("out[0] after commit:\n%s\nwant\n[%s]", got, want[:len(want)-1])
	}
	if o := g.CommittedOffsets("grp")["in"][1]; o != 17 {
		t.Fatalf("committed offset %d, want 17", o)
	}

	// Abort: neither records nor offsets.
	if err := p.Begin(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Produce(ctx, []*transport.Record{{Topic: "out", Partition: 1, Value: []byte("aborted")}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	tp1 := transport.TopicPartition{Topic: "out", Partition: 1}
	before := readValues(t, tr, tp1)
	if err := p.Begin(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Commit(ctx, "grp", []transport.PartitionOffset{{TopicPartition: offsets[0].TopicPartition, Offset: 20}}); err != nil {
		t.Fatal(err)
	}
	if after := readValues(t, tr, tp1); after != before {
		t.Fatalf("aborted record visible: %s, was %s", after, before)
	}
	if o := g.CommittedOffsets("grp")["in"][1]; o != 20 {
		t.Fatalf("offsets-only commit: %d, want 20", o)
	}
}

// A failed Commit leaves the transaction to the next Begin, which aborts
// it; a transaction that outlives the timeout is aborted and its producer
// fenced.
func TestTxnProducerFailedCommitAndTimeout(t *testing.T) {
	tr, _, g := open(t, WithTransactionTimeout(300*time.Millisecond))
	ctx := context.Background()
	if err := tr.CreateTopic(ctx, transport.TopicSpec{Name: "out", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	p, err := tr.NewTxnProducer(ctx, "tx")
	if err != nil {
		t.Fatal(err)
	}
	tp := transport.TopicPartition{Topic: "out", Partition: 0}
	if err := p.Begin(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Produce(ctx, []*transport.Record{{Topic: "out", Partition: 0, Value: []byte("lost")}}); err != nil {
		t.Fatal(err)
	}
	bad := []transport.PartitionOffset{{TopicPartition: transport.TopicPartition{Topic: "nope", Partition: 0}, Offset: 1}}
	if err := p.Commit(ctx, "grp", bad); err == nil {
		t.Fatal("commit of an offset of a missing topic succeeded")
	}
	if err := p.Begin(ctx); err != nil {
		t.Fatalf("begin after a failed commit: %v", err)
	}
	if st, _ := tr.txns.Describe("tx"); st.State != txn.CompleteAbort {
		t.Fatalf("state after Begin: %v, want the failed transaction aborted", st.State)
	}
	if err := p.Produce(ctx, []*transport.Record{{Topic: "out", Partition: 0, Value: []byte("kept")}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Commit(ctx, "", nil); err != nil {
		t.Fatal(err)
	}
	if got := readValues(t, tr, tp); got != "[kept@2]" {
		t.Fatalf("after the retry: %s", got)
	}
	if len(g.CommittedOffsets("grp")) != 0 {
		t.Fatal("the failed transaction committed offsets")
	}

	// Timed out: aborted, fenced.
	if err := p.Begin(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Produce(ctx, []*transport.Record{{Topic: "out", Partition: 0, Value: []byte("slow")}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for st, _ := tr.txns.Describe("tx"); st.State != txn.CompleteAbort; st, _ = tr.txns.Describe("tx") {
		if time.Now().After(deadline) {
			t.Fatalf("not aborted after the timeout: %v", st.State)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := p.Commit(ctx, "", nil); !errors.Is(err, transport.ErrFenced) {
		t.Fatalf("commit after the timeout: %v, want ErrFenced", err)
	}
	if err := p.Begin(ctx); !errors.Is(err, transport.ErrFenced) {
		t.Fatalf("begin after the timeout: %v, want ErrFenced", err)
	}
	if got := readValues(t, tr, tp); got != "[kept@2]" {
		t.Fatalf("after the timeout: %s", got)
	}
	if err := p.Close(ctx); err != nil && !errors.Is(err, transport.ErrFenced) {
		t.Fatal(err)
	}
}

// The transport shares the log's coordinator with anyone else opening it
// (the Kafka listener): a producer of one fences the other's.
func TestTxnCoordinatorShared(t *testing.T) {
	tr, l, g := open(t)
	other := New(l, g)
	defer func() { _ = other.Close() }()
	if other.txns != tr.txns {
		t.Fatal("two transports on one log opened two coordinators")
	}
	ctx := context.Background()
	if err := tr.CreateTopic(ctx, transport.TopicSpec{Name: "out", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	a, err := tr.NewTxnProducer(ctx, "shared")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Begin(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := other.NewTxnProducer(ctx, "shared"); err != nil {
		t.Fatal(err)
	}
	if err := a.Produce(ctx, []*transport.Record{{Topic: "out", Partition: 0, Value: []byte("zombie")}}); !errors.Is(err, transport.ErrFenced) {
		t.Fatalf("fenced producer's Produce: %v", err)
	}
}
