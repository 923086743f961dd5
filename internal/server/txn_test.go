package server

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tide-data/tide/internal/transport"
)

// The Kafka listener and the embedded transport share one transaction
// coordinator: a transactional id is one id whichever side uses it.
func TestTransactionsShared(t *testing.T) {
	ts := startServer(t, "", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tr := ts.srv.transport
	if err := tr.CreateTopic(ctx, transport.TopicSpec{Name: "shared", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(ts.srv.KafkaAddr().String()), kgo.TransactionalID("shared-id"),
		kgo.DefaultProduceTopic("shared"), kgo.RetryTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("kafka")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// The embedded producer of the same id fences the Kafka client's.
	p, err := tr.NewTxnProducer(ctx, "shared-id")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Close(ctx) }()
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err == nil {
		t.Fatal("the fenced Kafka producer committed")
	}
	if err := p.Begin(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Produce(ctx, []*transport.Record{{Topic: "shared", Partition: 0, Value: []byte("embedded")}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Commit(ctx, "", nil); err != nil {
		t.Fatal(err)
	}
	recs, err := tr.ReadAt(ctx, transport.TopicPartition{Topic: "shared", Partition: 0}, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || string(recs[0].Value) != "embedded" {
		t.Fatalf("committed records %v, want only the embedded producer's", recs)
	}
}
