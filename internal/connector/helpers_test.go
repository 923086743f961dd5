package connector

import (
	"context"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/group"
	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/transport/embedded"
)

// newEmbedded opens a log, its group coordinator and the embedded
// transport over them in a temporary directory, closed when t ends; opts
// add to (or override) the transport's test defaults.
func newEmbedded(t *testing.T, opts ...embedded.Option) transport.Transport {
	t.Helper()
	l, err := log.Open(t.TempDir(), log.WithCleanerInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	c, err := group.NewCoordinator(l, group.Options{MinSessionTimeout: 50 * time.Millisecond, MaxSessionTimeout: time.Minute})
	if err != nil {
		_ = l.Close()
		t.Fatal(err)
	}
	opts = append([]embedded.Option{embedded.WithSessionTimeout(10 * time.Second), embedded.WithHeartbeatInterval(50 * time.Millisecond)}, opts...)
	tr := embedded.New(l, c, opts...)
	t.Cleanup(func() {
		if err := tr.Close(); err != nil {
			t.Errorf("transport close: %v", err)
		}
		if err := c.Close(); err != nil {
			t.Errorf("coordinator close: %v", err)
		}
		if err := l.Close(); err != nil {
			t.Errorf("log close: %v", err)
		}
	})
	return tr
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds or the test's patience ends.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
