package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// A UNION ALL without a column that is every source's WATERMARK column has
// no event time but _timestamp (docs/SQL.md). Joined by _timestamp, its
// rows' watermark must follow _timestamp, as a window over it does
// (wmExpr false) — not the source's WATERMARK over another column. Here
// the records' payload times (placed_at, paid_at) are an hour behind
// their _timestamp: a LEFT join's lonely union row must come out once
// every input's _timestamp has passed its bound.
func TestUnionJoinTimestampWatermark(t *testing.T) {
	n, e := sjEngine(t, nil, true)
	mustExec(t, e, `CREATE SOURCE settles (order_id int, amount int)
		WITH (connector = 'topic', topic = 'settles', topic.partitions = '1')`)
	mustExec(t, e, `CREATE SINK paid WITH (connector = 'topic', topic = 'out') AS
		SELECT u.id, s.amount AS paid
		FROM (SELECT id FROM orders UNION ALL SELECT order_id FROM payments) u
		LEFT JOIN settles s ON u.id = s.order_id AND s._timestamp BETWEEN u._timestamp AND u._timestamp + INTERVAL '10' SECOND`)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	payload := base.Add(-time.Hour).Format("2006-01-02 15:04:05")
	produce := func(topic, value string, at time.Time) {
		t.Helper()
		if err := n.tr.Produce(context.Background(), []*transport.Record{{Topic: topic, Partition: 0, Value: []byte(value), Timestamp: at}}); err != nil {
			t.Fatal(err)
		}
	}
	produce("orders", fmt.Sprintf(`{"id":1,"amount":5,"placed_at":"%s"}`, payload), base)
	later := base.Add(time.Minute)
	produce("orders", fmt.Sprintf(`{"id":2,"amount":5,"placed_at":"%s"}`, payload), later)
	produce("payments", fmt.Sprintf(`{"order_id":3,"amount":8,"paid_at":"%s"}`, payload), later)
	produce("settles", `{"order_id":99,"amount":8}`, later)
	p := e.mu.pipelines["paid"]
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && p.stats.watermark.Load() < base.Add(30*time.Second).UnixMicro() {
		time.Sleep(20 * time.Millisecond)
	}
	if wm := p.stats.watermark.Load(); wm < base.Add(30*time.Second).UnixMicro() {
		t.Errorf("the join's watermark is %s; every input's _timestamp is at %s (the union's rows' event time)", time.UnixMicro(wm).UTC(), later)
	}
	waitFor(t, "the lonely row of id 1", func() bool { return len(readSoFar(t, n.tr, "out")) >= 1 })
	if recs := readSoFar(t, n.tr, "out"); len(recs) != 1 {
		t.Errorf("%d rows out, want the lonely row of id 1", len(recs))
	}
}
