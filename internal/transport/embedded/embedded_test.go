package embedded_test

import (
	"testing"
	"time"

	"github.com/tide-data/tide/internal/group"
	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/transport/embedded"
	"github.com/tide-data/tide/internal/transport/transporttest"
)

func TestConformance(t *testing.T) {
	transporttest.Run(t, newTransport)
}

// newTransport is the embedded transport over a fresh log and coordinator
// in a temporary directory, with timeouts short enough for tests.
func newTransport(t *testing.T) transport.Transport {
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
	tr := embedded.New(l, g,
		embedded.WithSessionTimeout(3*time.Second),
		embedded.WithRebalanceTimeout(5*time.Second),
		embedded.WithHeartbeatInterval(20*time.Millisecond),
		embedded.WithDefaultPartitions(2),
	)
	t.Cleanup(func() {
		if err := tr.Close(); err != nil {
			t.Errorf("transport close: %v", err)
		}
		if err := g.Close(); err != nil {
			t.Errorf("coordinator close: %v", err)
		}
		if err := l.Close(); err != nil {
			t.Errorf("log close: %v", err)
		}
	})
	return tr
}
