package kafkatransport_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tide-data/tide/internal/group"
	"github.com/tide-data/tide/internal/kafka"
	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/transport/kafkatransport"
	"github.com/tide-data/tide/internal/transport/transporttest"
)

// envKafkaBootstrap names a running Apache Kafka broker, as in test/interop.
const envKafkaBootstrap = "TIDE_TEST_KAFKA_BOOTSTRAP"

// TestConformanceTide runs the suite over Tide's own Kafka listener,
// started in process on a loopback port over a log in a temp dir.
func TestConformanceTide(t *testing.T) {
	transporttest.Run(t, func(t *testing.T) transport.Transport {
		return newTransport(t, startTide(t))
	})
}

// TestConformanceKafka runs the suite against a real Apache Kafka broker.
func TestConformanceKafka(t *testing.T) {
	addr := kafkaPeer(t)
	transporttest.Run(t, func(t *testing.T) transport.Transport { return newTransport(t, addr) })
}

// kafkaPeer returns the address of the Apache Kafka broker to test
// against, skipping the test when there is none (failing it in CI).
func kafkaPeer(t *testing.T) string {
	t.Helper()
	addr := os.Getenv(envKafkaBootstrap)
	if addr == "" {
		msg := fmt.Sprintf("%s is not set: no Apache Kafka to run the conformance suite against (eval \"$(scripts/peers/up.sh)\")", envKafkaBootstrap)
		if os.Getenv("CI") == "true" {
			t.Fatalf("kafkatransport: %s (CI=true: a missing peer is a failure)", msg)
		}
		t.Skipf("!!! KAFKA PEER MISSING: %s — SKIPPED", msg)
	}
	conn, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		t.Fatalf("%s=%s, but nothing answers there: %v (restart it with scripts/peers/up.sh)", envKafkaBootstrap, addr, err)
	}
	conn.Close()
	return addr
}

// Transaction markers are not records: ReadAt skips them, and returns
// nothing when only a marker is left. Apache Kafka only, with a franz-go
// transactional client of its own (the suite's Txn cases cover Tide).
func TestReadAtSkipsTransactionMarkers(t *testing.T) {
	addr := kafkaPeer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr := newTransport(t, addr)
	topic := fmt.Sprintf("tt-txn-%d", time.Now().UnixNano())
	if err := tr.CreateTopic(ctx, transport.TopicSpec{Name: topic, Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.DeleteTopic(context.Background(), topic) })

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID(topic), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, v := range []string{"a", "b"} {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
	}
	// a@0, its marker @1, b@2, its marker @3.
	tp := transport.TopicPartition{Topic: topic, Partition: 0}
	waitCtx, waitCancel := context.WithTimeout(ctx, 10*time.Second)
	defer waitCancel()
	for { // the high watermark passes a marker once the broker has written it
		ends, err := tr.EndOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		if ends[0] == 4 {
			break
		}
		select {
		case <-waitCtx.Done():
			t.Fatalf("end offset %d, want 4 (two records, two markers)", ends[0])
		case <-time.After(20 * time.Millisecond):
		}
	}
	for _, tc := range []struct {
		offset   int64
		maxBytes int
		want     string
	}{
		{0, 1 << 20, "a@0 b@2"},
		{1, 1 << 20, "b@2"},
		{1, 1, "b@2"}, // the first fetch holds the marker only
		{3, 1 << 20, ""},
	} {
		recs, err := tr.ReadAt(ctx, tp, tc.offset, tc.maxBytes)
		if err != nil {
			t.Fatalf("ReadAt(%d, %d): %v", tc.offset, tc.maxBytes, err)
		}
		var got []string
		for _, r := range recs {
			got = append(got, fmt.Sprintf("%s@%d", r.Value, r.Offset))
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("ReadAt(%d, %d) = %q, want %q", tc.offset, tc.maxBytes, g, tc.want)
		}
	}
}

// Transport.Close aborts the open transaction of a producer its owner did
// not close, and later calls of the producer return ErrClosed.
func TestCloseAbortsTransactions(t *testing.T) {
	addr := kafkaPeer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reader := newTransport(t, addr)
	topic := fmt.Sprintf("tt-close-txn-%d", time.Now().UnixNano())
	if err := reader.CreateTopic(ctx, transport.TopicSpec{Name: topic, Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reader.DeleteTopic(context.Background(), topic) })

	tr, err := kafkatransport.New(ctx, kafkatransport.Config{Brokers: []string{addr}, TransactionTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	p, err := tr.NewTxnProducer(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Begin(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Produce(ctx, []*transport.Record{{Topic: topic, Partition: 0, Value: []byte("open")}}); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Commit(ctx, "", nil); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("commit after Transport.Close: %v, want ErrClosed", err)
	}
	if err := reader.Produce(ctx, []*transport.Record{{Topic: topic, Partition: 0, Value: []byte("plain")}}); err != nil {
		t.Fatal(err)
	}
	// Aborted at once, not after the transaction timeout.
	deadline := time.Now().Add(5 * time.Second)
	for {
		recs, err := reader.ReadAt(ctx, transport.TopicPartition{Topic: topic, Partition: 0}, 0, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 1 && string(recs[0].Value) == "plain" {
			return
		}
		if len(recs) > 0 && string(recs[0].Value) == "open" {
			t.Fatalf("ReadAt returned the record of the transaction Transport.Close aborted")
		}
		if time.Now().After(deadline) {
			t.Fatalf("the open transaction was not aborted within 5s of Transport.Close (ReadAt: %d records)", len(recs))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newTransport(t *testing.T, addr string) transport.Transport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := kafkatransport.New(ctx, kafkatransport.Config{
		Brokers:  []string{addr},
		ClientID: "tide-transporttest",
		// Kafka's group.min.session.timeout.ms is 6s; heartbeats
		// this often notice a rebalance at once.
		SessionTimeout:    6 * time.Second,
		RebalanceTimeout:  10 * time.Second,
		HeartbeatInterval: 100 * time.Millisecond,
		// Short, so that a transaction a failing test leaves open holds
		// its topic back briefly; longer than the suite's
		// fenceAbortLimit, so that the suite tells an abort by a fence
		// or Close from one by the timeout.
		TransactionTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tr.Close(); err != nil {
			t.Errorf("transport close: %v", err)
		}
	})
	return tr
}

// startTide serves Tide's Kafka listener over a fresh log and returns its
// address; it stops when the test ends.
func startTide(t *testing.T) string {
	t.Helper()
	l, err := log.Open(t.TempDir(), log.WithCleanerInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	g, err := group.NewCoordinator(l, group.Options{MinSessionTimeout: 100 * time.Millisecond})
	if err != nil {
		_ = l.Close()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := kafka.DefaultConfig()
	cfg.AdvertisedHost = "127.0.0.1"
	cfg.AdvertisedPort = int32(ln.Addr().(*net.TCPAddr).Port)
	cfg.DefaultPartitions = 2
	srv, err := kafka.New(l, g, cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, kafka.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
		if err := g.Close(); err != nil {
			t.Errorf("coordinator close: %v", err)
		}
		if err := l.Close(); err != nil {
			t.Errorf("log close: %v", err)
		}
	})
	return ln.Addr().String()
}
