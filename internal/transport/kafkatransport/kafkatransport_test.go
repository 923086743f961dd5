package kafkatransport_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

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
	transporttest.Run(t, func(t *testing.T) transport.Transport { return newTransport(t, addr) })
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
