package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

const windowJoinPerWindow = `SELECT o.window_start, o.window_end, count(*) AS pairs
	FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '10' SECOND) o
	JOIN TUMBLE(TABLE payments, DESCRIPTOR(paid_at), INTERVAL '10' SECOND) p
	  ON o.id = p.order_id AND o.window_start = p.window_start
	GROUP BY o.window_start, o.window_end`

// emit.early is refused for an aggregation of a window join's pairs: it
// would land on the join's stage, whose tasks aggregate nothing (it
// crashed the worker), and the windows' rows are final anyway.
func TestWindowJoinAggregateRefusesEmitEarly(t *testing.T) {
	n, e := sjEngine(t, func(cfg *Config) { cfg.StateDir = t.TempDir() }, true)
	_, err := e.Execute(context.Background(), `CREATE SINK early WITH (connector = 'topic', topic = 'early', emit.early = '100ms') AS `+windowJoinPerWindow, ExecOptions{})
	if err != nil {
		t.Logf("refused (fine): %v", err)
		return
	}
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	ts := func(t time.Time) string { return t.Format("2006-01-02 15:04:05.999") }
	produceValue(t, n.tr, "orders", fmt.Sprintf(`{"id":1,"customer":"c1","amount":5,"placed_at":"%s"}`, ts(base.Add(time.Second))))
	produceValue(t, n.tr, "payments", fmt.Sprintf(`{"order_id":1,"amount":5,"paid_at":"%s"}`, ts(base.Add(2*time.Second))))
	produceValue(t, n.tr, "orders", fmt.Sprintf(`{"id":-1,"customer":"c1","amount":5,"placed_at":"%s"}`, ts(base.Add(time.Minute))))
	produceValue(t, n.tr, "payments", fmt.Sprintf(`{"order_id":-1,"amount":5,"paid_at":"%s"}`, ts(base.Add(time.Minute))))
	waitFor(t, "the window's row", func() bool { return len(readSoFar(t, n.tr, "early")) > 0 })
}

// The aggregation of an inner window join's pairs by their windows emits
// each window's row once: an append-only sink takes it.
func TestWindowJoinAggregateToAppendOnlySink(t *testing.T) {
	_, e := sjEngine(t, func(cfg *Config) { cfg.StateDir = t.TempDir() }, true)
	path := filepath.Join(t.TempDir(), "out.jsonl")
	if _, err := e.Execute(context.Background(), `CREATE SINK to_file WITH (connector = 'file', path = '`+path+`') AS `+windowJoinPerWindow, ExecOptions{}); err != nil {
		t.Fatalf("a window aggregation's final rows refused for an append-only sink: %v", err)
	}
}

// A window join may equate window_end rather than window_start
// (StreamJoin.windowBounds). The pairs are stamped with the left side's
// window_start (chainJoined reads row[next.agg.Time]), which no
// join-stage expression references: the shuffle keeps it all the same
// (it sent it as NULL, every pair in the window of 1970).
func TestWindowJoinOnWindowEndAggregatedByWindow(t *testing.T) {
	orders, payments := genOrdersPayments(29, 300)
	n, e := sjEngine(t, func(cfg *Config) { cfg.StateDir = t.TempDir() }, false)
	mustExec(t, e, `CREATE SINK per_customer WITH (connector = 'topic', topic = 'per_customer') AS
		SELECT o.window_start, p.window_end, o.customer, count(*) AS pairs, sum(p.amount) AS paid
		FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '5' SECOND) o
		JOIN TUMBLE(TABLE payments, DESCRIPTOR(paid_at), INTERVAL '5' SECOND) p
		  ON o.id = p.order_id AND p.window_end = o.window_end
		WHERE o.amount > 10
		GROUP BY o.window_start, o.window_end, o.customer`)
	if st := e.mu.pipelines["per_customer"].stateful; st.next == nil || st.next.agg.Window == nil {
		t.Fatal("not aggregated by window")
	}
	produceOrdersPayments(t, n.tr, orders, payments, 31)
	want, _ := windowJoinAggregates(orders, payments)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && len(readSoFar(t, n.tr, "per_customer")) < len(want) {
		time.Sleep(100 * time.Millisecond)
	}
	got := rowsOnce(t, readSoFar(t, n.tr, "per_customer"))
	late := e.mu.pipelines["per_customer"].stats.late.Load()
	if late != 0 || len(got) != len(want) {
		for i := range min(3, len(got)) {
			t.Logf("got %s", got[i])
		}
		t.Fatalf("%d rows (want %d), %d pairs late", len(got), len(want), late)
	}
	compareRows(t, got, want)
}

// A join of a bounded source with an unbounded one: the bounded side's
// partitions end with the end of time (endInput, endOfInput = MaxInt64)
// as their watermark, which Watermarks.Current skips once they idle.
// When the unbounded side pauses for the idle timeout too, the watermark
// stays where it was: it must not flush to the highest input's, the end
// of time, which would make every later row of the unbounded side late.
func TestBoundedJoinSideDoesNotEndTheOther(t *testing.T) {
	boundedOrdersPausedPayments(t, windowJoinPerWindow)
}

// boundedOrdersPausedPayments runs query as a sink over a bounded orders
// source (ten orders, one per 10-second window, already there) joined
// with payments that come one a second, pause past the idle timeout and
// go on: each of the ten windows' rows must come, none late.
func boundedOrdersPausedPayments(t *testing.T, query string) {
	t.Helper()
	n := openNode(t, t.TempDir())
	t.Cleanup(func() { n.close(t) })
	e := openEngineWith(t, n, func(cfg *Config) { cfg.StateDir = t.TempDir() })
	t.Cleanup(func() { closeEngine(t, e) })
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	ts := func(t time.Time) string { return t.Format("2006-01-02 15:04:05.999") }
	order := func(k int) *transport.Record {
		return &transport.Record{Topic: "orders", Partition: 0,
			Value: fmt.Appendf(nil, `{"id":%d,"customer":"c","amount":1,"placed_at":"%s"}`, k, ts(base.Add(time.Duration(k)*10*time.Second+time.Second)))}
	}
	payment := func(k int, at time.Duration) *transport.Record {
		return &transport.Record{Topic: "payments", Partition: 0,
			Value: fmt.Appendf(nil, `{"order_id":%d,"amount":1,"paid_at":"%s"}`, k, ts(base.Add(at)))}
	}
	ctx := context.Background()
	for _, topic := range []string{"orders", "payments"} {
		if err := n.tr.CreateTopic(ctx, transport.TopicSpec{Name: topic, Partitions: 1}); err != nil {
			t.Fatal(err)
		}
	}
	var recs []*transport.Record
	for k := range 10 { // the bounded side: the orders already there
		recs = append(recs, order(k))
	}
	if err := n.tr.Produce(ctx, recs); err != nil {
		t.Fatal(err)
	}
	mustExec(t, e, `CREATE SOURCE orders (id bigint, customer text, amount int, placed_at timestamp,
		WATERMARK FOR placed_at AS placed_at - INTERVAL '2' SECOND)
		WITH (connector = 'topic', topic = 'orders', scan.bounded.mode = 'latest-offset', watermark.idle_timeout = '1s')`)
	mustExec(t, e, `CREATE SOURCE payments (order_id int, amount int, paid_at timestamp,
		WATERMARK FOR paid_at AS paid_at - INTERVAL '2' SECOND)
		WITH (connector = 'topic', topic = 'payments', watermark.idle_timeout = '1s')`)
	mustExec(t, e, `CREATE SINK per_window WITH (connector = 'topic', topic = 'per_window') AS `+query)
	k := 0
	pay := func() { // a payment a second, in event time with the orders
		t.Helper()
		if err := n.tr.Produce(ctx, []*transport.Record{payment(k, time.Duration(k)*10*time.Second+2*time.Second)}); err != nil {
			t.Fatal(err)
		}
		k++
	}
	for range 3 {
		pay()
		time.Sleep(300 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // the payments pause, past the idle timeout
	for k < 10 {
		pay()
		time.Sleep(100 * time.Millisecond)
	}
	if err := n.tr.Produce(ctx, []*transport.Record{payment(-1, 5*time.Minute)}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) && len(currentRows(t, n, "per_window")) < 10 {
		time.Sleep(100 * time.Millisecond)
	}
	got := len(currentRows(t, n, "per_window"))
	if late := e.mu.pipelines["per_window"].stats.late.Load(); got != 10 || late != 0 {
		t.Fatalf("%d of 10 windows' rows, %d rows late", got, late)
	}
}
