package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// Edge cases of joins of two streams and bounded sources, each once a
// bug a review found.

// A bounded join that finished must not keep the end of time as its
// origins' watermarks or its operator's: a later run over records
// appended since would find every new row late.
func TestBoundedJoinRerunJoinsNewRows(t *testing.T) {
	n, e := boundedRerun(t, `SELECT o.id, p.amount AS paid, p.paid_at FROM orders o JOIN payments p
		ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '10' SECOND`)
	time.Sleep(300 * time.Millisecond)
	ends, err := n.tr.EndOffsets(context.Background(), "out")
	if err != nil {
		t.Fatal(err)
	}
	late := e.mu.pipelines["paid"].stats.late.Load()
	if ends[0] < 2 {
		t.Fatalf("the second run wrote no pair for order 2 (out holds %d records; %d rows counted late)", ends[0], late)
	}
}

// boundedRerun runs query as the sink paid (topic out) over bounded
// orders and payments twice on one state directory: a first run over an
// order and its payment at 5 s, then, after records later in event time
// (at 100 s) were appended, a second. It returns once the second run has
// finished; the engine closes with the test.
func boundedRerun(t *testing.T, query string) (*node, *Engine) {
	t.Helper()
	n := openNode(t, t.TempDir())
	t.Cleanup(func() { n.close(t) })
	stateDir := t.TempDir()
	withState := func(c *Config) { c.StateDir = stateDir }
	e := openEngineWith(t, n, withState)
	mustExec(t, e, `CREATE SOURCE orders (id bigint, amount int, placed_at timestamp,
		WATERMARK FOR placed_at AS placed_at - INTERVAL '2' SECOND)
		WITH (connector = 'topic', topic = 'orders', topic.partitions = '1', scan.bounded.mode = 'latest-offset')`)
	mustExec(t, e, `CREATE SOURCE payments (order_id int, amount int, paid_at timestamp,
		WATERMARK FOR paid_at AS paid_at - INTERVAL '2' SECOND)
		WITH (connector = 'topic', topic = 'payments', topic.partitions = '1', scan.bounded.mode = 'latest-offset')`)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	ts := func(s int) string { return base.Add(time.Duration(s) * time.Second).Format("2006-01-02 15:04:05") }
	produce := func(id, s int) {
		t.Helper()
		if err := n.tr.Produce(context.Background(), []*transport.Record{
			{Topic: "orders", Partition: 0, Value: fmt.Appendf(nil, `{"id":%d,"amount":5,"placed_at":"%s"}`, id, ts(s))},
			{Topic: "payments", Partition: 0, Value: fmt.Appendf(nil, `{"order_id":%d,"amount":7,"paid_at":"%s"}`, id, ts(s+1))},
		}); err != nil {
			t.Fatal(err)
		}
	}
	for _, topic := range []string{"orders", "payments"} {
		if err := n.tr.CreateTopic(context.Background(), transport.TopicSpec{Name: topic, Partitions: 1}); err != nil {
			t.Fatal(err)
		}
	}
	produce(1, 5)
	mustExec(t, e, `CREATE SINK paid WITH (connector = 'topic', topic = 'out') AS `+query)
	waitFor(t, "the first run to finish", func() bool { return showRow(t, e, "SINKS", "paid")["state"] == stateFinished })
	readAll(t, n.tr, "out", 1)
	closeEngine(t, e)

	// New rows, later in event time, for a second run.
	produce(2, 100)
	e = openEngineWith(t, n, withState)
	t.Cleanup(func() { closeEngine(t, e) })
	waitFor(t, "the second run to finish", func() bool {
		r := showRow(t, e, "SINKS", "paid")
		return r != nil && r["state"] == stateFinished
	})
	return n, e
}

// A bounded topic source whose partition ends in transaction markers
// ends even while the topic is being written: a record past the bound
// tells the partition is done.
func TestBoundedSourceEndsOnABusyTopic(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	ctx := context.Background()
	if err := n.tr.CreateTopic(ctx, transport.TopicSpec{Name: "hist", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	txn, err := n.tr.NewTxnProducer(ctx, "hist-writer")
	if err != nil {
		t.Fatal(err)
	}
	if err := txn.Begin(ctx); err != nil {
		t.Fatal(err)
	}
	if err := txn.Produce(ctx, []*transport.Record{{Topic: "hist", Partition: 0, Value: []byte(`{"i":1}`)}}); err != nil {
		t.Fatal(err)
	}
	if err := txn.Commit(ctx, "", nil); err != nil {
		t.Fatal(err)
	}
	_ = txn.Close(ctx)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // a live topic: a record every 20 ms
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			_ = n.tr.Produce(ctx, []*transport.Record{{Topic: "hist", Partition: 0, Value: []byte(`{"i":2}`)}})
		}
	}()
	defer func() {
		close(stop)
		<-done
	}()
	mustExec(t, e, `CREATE SOURCE hist (i int) WITH (connector = 'topic', topic = 'hist', scan.bounded.mode = 'latest-offset')`)
	mustExec(t, e, `CREATE SINK copy WITH (connector = 'topic', topic = 'copy') AS SELECT i FROM hist`)
	deadline := time.Now().Add(5 * time.Second)
	for showRow(t, e, "SINKS", "copy")["state"] != stateFinished {
		if time.Now().After(deadline) {
			t.Fatalf("the bounded source did not end in 5 s (state %s)", showRow(t, e, "SINKS", "copy")["state"])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A join refuses an event time of 'infinity' (dead-lettered), as an
// aggregation does: taken, it would move its partition's watermark to the
// end of time for good, and that side would stop holding the join's
// watermark back.
func TestJoinRefusesInfiniteEventTime(t *testing.T) {
	n, e := sjEngine(t, nil, true)
	mustExec(t, e, `CREATE SINK paid WITH (connector = 'topic', topic = 'out') AS
		SELECT o.id, p.amount AS paid, p.paid_at FROM orders o JOIN payments p
		ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '10' SECOND`)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	ts := func(s int) string { return base.Add(time.Duration(s) * time.Second).Format("2006-01-02 15:04:05") }
	produce := func(topic, value string) { t.Helper(); produceValue(t, n.tr, topic, value) }
	produce("orders", fmt.Sprintf(`{"id":0,"amount":1,"placed_at":"%s"}`, ts(90)))
	produce("orders", `{"id":9,"amount":1,"placed_at":"infinity"}`)
	produce("payments", fmt.Sprintf(`{"order_id":1,"amount":7,"paid_at":"%s"}`, ts(100)))
	time.Sleep(1500 * time.Millisecond) // the stage expires at the watermark it has
	produce("orders", fmt.Sprintf(`{"id":1,"amount":5,"placed_at":"%s"}`, ts(95)))
	time.Sleep(1500 * time.Millisecond)
	p := e.mu.pipelines["paid"]
	if late := p.stats.late.Load(); late != 0 {
		t.Fatalf("order 1 (95 s, its payment at 100 s, orders' watermark at 88 s) counted late: %d", late)
	}
	if dead := p.stats.dead.Load(); dead != 1 {
		t.Fatalf("%d rows dead-lettered, want the infinite one", dead)
	}
}

// Metadata columns of both sides, read only after the join (the SELECT
// list, WHERE over both sides, ON), reach the stage.
func TestJoinMetadataColumns(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, `CREATE SOURCE a (k int) WITH (connector = 'topic', topic = 'a', topic.partitions = '1')`)
	mustExec(t, e, `CREATE SOURCE b (k int) WITH (connector = 'topic', topic = 'b', topic.partitions = '1')`)
	mustExec(t, e, `CREATE SINK j WITH (connector = 'topic', topic = 'out') AS
		SELECT a.k, a._offset AS ao, b._key AS bk, b._topic AS bt, b._timestamp AS bts FROM a JOIN b
		ON a.k = b.k AND b._timestamp BETWEEN a._timestamp - INTERVAL '1' MINUTE AND a._timestamp + INTERVAL '1' MINUTE
		WHERE a._partition = b._partition`)
	now := time.Now()
	if err := n.tr.Produce(context.Background(), []*transport.Record{
		{Topic: "a", Partition: 0, Value: []byte(`{"k":1}`), Timestamp: now},
		{Topic: "b", Partition: 0, Key: []byte("kb"), Value: []byte(`{"k":1}`), Timestamp: now.Add(time.Second)},
	}); err != nil {
		t.Fatal(err)
	}
	recs := readAll(t, n.tr, "out", 1)
	v := string(recs[0].Value)
	if strings.Contains(v, "null") {
		t.Fatalf("a metadata column is NULL: %s", v)
	}
}

// One watermark follows both sources of a join: different idle timeouts
// are refused.
func TestJoinSourceTimeOptions(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, `CREATE SOURCE a (k int, ts timestamp, WATERMARK FOR ts AS ts) WITH (connector = 'topic', topic = 'a', watermark.idle_timeout = '5s')`)
	mustExec(t, e, `CREATE SOURCE b (k int, ts timestamp, WATERMARK FOR ts AS ts) WITH (connector = 'topic', topic = 'b')`)
	_, err := execError(t, e, "CREATE SINK s WITH (connector = 'blackhole') AS SELECT a.k FROM a JOIN b ON a.k = b.k", ExecOptions{})
	if err == nil || !strings.Contains(err.Message, "the same 'watermark.idle_timeout'") {
		t.Errorf("sources with different idle timeouts: %v", err)
	}
}
