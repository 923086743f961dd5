package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A late row of a final top-N over a UNION ALL, written to the late.topic
// (the first query's source's, as for a GROUP BY over a union): like a
// GROUP BY's late row (aggregate_stage.go lateRecord, inputOf), its
// origin_partition is the partition in its own source (payments: 0) and
// its tide.origin.topic header names that source.
func TestTopNOverUnionLateRow(t *testing.T) {
	n, e := sjEngine(t, nil, true)
	mustExec(t, e, "DROP SOURCE orders")
	mustExec(t, e, strings.Replace(strings.Replace(sjOrders, "topic.partitions = '3'", "topic.partitions = '1'", 1),
		"WITH (", "WITH (late.topic = 'late_orders', ", 1))
	mustExec(t, e, `CREATE SINK top WITH (connector = 'topic', topic = 'out') AS
		SELECT window_start, amount, id, rn FROM (
		  SELECT window_start, amount, id, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY amount DESC, id) AS rn
		  FROM TUMBLE(TABLE (SELECT id, amount, placed_at AS at FROM orders UNION ALL SELECT order_id, amount, paid_at FROM payments),
		              DESCRIPTOR(at), INTERVAL '10' SECOND)) AS r
		WHERE rn <= 3`)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	ts := func(s int) string { return base.Add(time.Duration(s) * time.Second).Format("2006-01-02 15:04:05") }
	produce := func(topic, value string) { t.Helper(); produceValue(t, n.tr, topic, value) }
	produce("orders", fmt.Sprintf(`{"id":2,"amount":5,"placed_at":"%s"}`, ts(100)))
	produce("payments", fmt.Sprintf(`{"order_id":2,"amount":8,"paid_at":"%s"}`, ts(100)))
	p := e.mu.pipelines["top"]
	waitFor(t, "the watermark past 90 s", func() bool { return p.stats.watermark.Load() >= base.Add(90*time.Second).UnixMicro() })
	produce("payments", fmt.Sprintf(`{"order_id":1,"amount":9,"paid_at":"%s"}`, ts(7))) // late
	waitFor(t, "the late row counted", func() bool { return p.stats.late.Load() == 1 })
	recs := readAll(t, n.tr, "late_orders", 1)
	t.Logf("late row %s", recs[0].Value)
	if !strings.Contains(string(recs[0].Value), `"origin_partition":0,`) {
		t.Errorf("late row %s: origin_partition is not payments' partition 0", recs[0].Value)
	}
	for _, h := range recs[0].Headers {
		if h.Key == HeaderTopic && string(h.Value) != "payments" {
			t.Errorf("late row header %s = %q, want payments", h.Key, h.Value)
		}
	}
}
