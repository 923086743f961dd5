package engine

import (
	"context"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// A sink that keeps failing while its partitions are being revoked must
// not hang DROP SINK (and with it every later statement and shutdown): the
// stop gives up the batches it holds after its deadline, the revocation
// stops waiting for them, and they are read again by whoever owns the
// partition next.
func TestDropWhileSinkFailsDuringRebalance(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	ctx := context.Background()
	if err := n.tr.CreateTopic(ctx, transport.TopicSpec{Name: "orders", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, ordersSource+`CREATE SINK copy WITH (connector = 'topic', topic = 'copy') AS SELECT * FROM orders;`)
	// The sink topic goes away: every write fails and is retried.
	if err := n.tr.DeleteTopic(ctx, "copy"); err != nil {
		t.Fatal(err)
	}
	produceOrders(t, n.tr, 0, 50)
	e.mu.Lock()
	p := e.mu.pipelines["copy"]
	e.mu.Unlock()
	waitFor(t, "the sink to fail", func() bool { return p.status().State == stateRetrying })

	// A second member joins the pipeline's group: the pipeline's
	// partitions are revoked while its tasks hold unwritten batches.
	other, err := n.tr.NewConsumer(ctx, transport.ConsumerOptions{Group: p.group, Topics: []string{"orders"}})
	if err != nil {
		t.Fatal(err)
	}
	// Poll and Close are one goroutine's at a time: Close after the
	// poller has returned.
	pollCtx, cancelPoll := context.WithCancel(ctx)
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		_, _ = other.Poll(pollCtx)
	}()
	defer func() {
		cancelPoll()
		<-polled
		_ = other.Close(context.Background())
	}()
	time.Sleep(500 * time.Millisecond)

	dropCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	start := time.Now()
	if _, err := e.Execute(dropCtx, "DROP SINK copy", ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("DROP SINK took %v with a failing sink during a rebalance", took)
	}
	// Later statements are not blocked.
	mustExec(t, e, "SHOW SINKS")
}
