package cdc

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// gatedTransport holds the writes of streamed changes while its gate is
// shut: the log stalls, and the capture falls behind.
type gatedTransport struct {
	transport.Transport
	mu   sync.Mutex
	gate chan struct{} // nil: open
}

func (g *gatedTransport) Produce(ctx context.Context, recs []*transport.Record) error {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate != nil && len(recs) > 0 && !snapshotted(recs) {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return g.Transport.Produce(ctx, recs)
}

func (g *gatedTransport) shut() {
	g.mu.Lock()
	g.gate = make(chan struct{})
	g.mu.Unlock()
}

func (g *gatedTransport) open() {
	g.mu.Lock()
	close(g.gate)
	g.gate = nil
	g.mu.Unlock()
}

// A capture's lag is 0 once it has written what it received, grows with
// the age of a change it cannot write yet (the log stalled), and returns
// to 0 when the change is written; its slot is found with the WAL it
// retains.
func TestCaptureLag(t *testing.T) {
	db := newTestDB(t)
	tr := &gatedTransport{Transport: newEmbedded(t)}
	db.exec(`CREATE TABLE orders (id bigint PRIMARY KEY, customer text, qty int)`)
	db.exec(`INSERT INTO orders VALUES (1, 'a', 1)`)
	cfg := testConfig(db, tr, orders)
	cfg.Heartbeat = 0
	c, _ := startCapture(t, cfg)
	eventually(t, "streaming", func() bool { return c.Status().State == "streaming" })
	eventually(t, "no lag once streaming", func() bool { return c.Lag(time.Now()) == 0 })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	slot, ok, err := c.Slot(ctx)
	if err != nil || !ok {
		t.Fatalf("slot %s: found %v, %v", c.SlotName(), ok, err)
	}
	if slot.Name != cfg.Slot || slot.RetainedBytes < 0 {
		t.Errorf("slot %+v: want %s retaining >= 0 bytes", slot, cfg.Slot)
	}

	tr.shut()
	committed := time.Now()
	db.exec(`INSERT INTO orders VALUES (2, 'b', 2)`)
	eventually(t, "the lag to pass 1 s while the log is stalled", func() bool { return c.Lag(time.Now()) >= time.Second })
	if lag, most := c.Lag(time.Now()), time.Since(committed)+time.Second; lag > most {
		t.Errorf("lag %v while the stalled change was committed %v ago", lag, most)
	}
	tr.open()
	eventually(t, "the change written", func() bool { return len(readChanges(t, tr, "shop.public.orders")) == 2 })
	eventually(t, "the lag back to 0", func() bool { return c.Lag(time.Now()) == 0 })
}
