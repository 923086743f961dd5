package schema

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/group"
	"github.com/tide-data/tide/internal/kafka"
	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/transport/kafkatransport"
)

// startKafka serves Tide's Kafka listener over a fresh log: a one-node
// Kafka cluster that several workers, each with its own client, share.
func startKafka(t *testing.T) string {
	t.Helper()
	l, err := log.Open(t.TempDir(), log.WithCleanerInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	g, err := group.NewCoordinator(l, group.Options{MinSessionTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := kafka.DefaultConfig()
	cfg.AdvertisedHost = "127.0.0.1"
	cfg.AdvertisedPort = int32(ln.Addr().(*net.TCPAddr).Port)
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
		if err := errors.Join(g.Close(), l.Close()); err != nil {
			t.Error(err)
		}
	})
	return ln.Addr().String()
}

func kafkaTransport(t *testing.T, addr, worker string) transport.Transport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := kafkatransport.New(ctx, kafkatransport.Config{
		Brokers: []string{addr}, ClientID: "tide-" + worker,
		SessionTimeout: 6 * time.Second, RebalanceTimeout: 10 * time.Second, HeartbeatInterval: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestWorkersOnKafka: two workers, each with its own Kafka client, register
// concurrently through franz-go and agree; a worker started later reads
// the same registry.
func TestWorkersOnKafka(t *testing.T) {
	t.Parallel()
	addr := startKafka(t)
	var regs []*Registry
	for _, w := range []string{"a", "b"} {
		tr := kafkaTransport(t, addr, w)
		r := openRegistry(t, tr, w)
		regs = append(regs, r)
		t.Cleanup(func() {
			closeRegistry(t, r)
			if err := tr.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	ctx := ctxT(t)
	if err := regs[0].SetConfig(ctx, "", None); err != nil {
		t.Fatal(err)
	}
	catchUp(t, regs[1])

	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := regs[g%2]
			for i := range 6 {
				subject := fmt.Sprintf("s%d", (g+i)%2)
				if _, _, err := r.Register(ctx, subject, in(fmt.Sprintf("f%d", (g*6+i)%9)), RegisterOptions{}); err != nil {
					t.Errorf("register: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if _, err := regs[1].DeleteVersion(ctx, "s0", 1, false); err != nil {
		t.Fatal(err)
	}
	for _, r := range regs {
		catchUp(t, r)
	}
	want := snapshot(regs[0])
	if got := snapshot(regs[1]); got != want {
		t.Fatalf("workers disagree:\n%s\nvs\n%s", got, want)
	}
	tr := kafkaTransport(t, addr, "c")
	defer func() {
		if err := tr.Close(); err != nil {
			t.Error(err)
		}
	}()
	c := openRegistry(t, tr, "c")
	defer closeRegistry(t, c)
	if got := snapshot(c); got != want {
		t.Errorf("a later worker reads:\n%s\nwant\n%s", got, want)
	}
	t.Logf("%d claims lost", losses(readAll(t, tr)))
}
