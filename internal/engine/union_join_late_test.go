package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A late row of the RIGHT side of a join whose left side is a UNION ALL
// goes to the right source's late.topic as it does without a union: its
// origin_partition is its partition in the right source's topic (0 here),
// and its tide.topic header names the right source.
func TestUnionJoinRightLateRow(t *testing.T) {
	n, e := sjEngine(t, nil, true)
	mustExec(t, e, `CREATE SOURCE settles (order_id int, amount int, paid_at timestamp,
		WATERMARK FOR paid_at AS paid_at - INTERVAL '2' SECOND)
		WITH (late.topic = 'late_settles', connector = 'topic', topic = 'settles', topic.partitions = '1')`)
	mustExec(t, e, `CREATE SINK paid WITH (connector = 'topic', topic = 'out') AS
		SELECT u.id, s.amount AS paid, s.paid_at
		FROM (SELECT id, placed_at AS at FROM orders UNION ALL SELECT order_id, paid_at FROM payments) u
		JOIN settles s ON u.id = s.order_id AND s.paid_at BETWEEN u.at AND u.at + INTERVAL '10' SECOND`)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	ts := func(s int) string { return base.Add(time.Duration(s) * time.Second).Format("2006-01-02 15:04:05") }
	produce := func(topic, value string) { t.Helper(); produceValue(t, n.tr, topic, value) }
	produce("orders", fmt.Sprintf(`{"id":1,"amount":5,"placed_at":"%s"}`, ts(5)))
	produce("settles", fmt.Sprintf(`{"order_id":1,"amount":7,"paid_at":"%s"}`, ts(6)))
	produce("orders", fmt.Sprintf(`{"id":2,"amount":5,"placed_at":"%s"}`, ts(100)))
	produce("payments", fmt.Sprintf(`{"order_id":2,"amount":8,"paid_at":"%s"}`, ts(100)))
	produce("settles", fmt.Sprintf(`{"order_id":2,"amount":8,"paid_at":"%s"}`, ts(100)))
	p := e.mu.pipelines["paid"]
	waitFor(t, "the join's watermark past 90 s", func() bool { return p.stats.watermark.Load() >= base.Add(90*time.Second).UnixMicro() })
	produce("settles", fmt.Sprintf(`{"order_id":1,"amount":9,"paid_at":"%s"}`, ts(7))) // late
	waitFor(t, "the late row counted", func() bool { return p.stats.late.Load() == 1 })
	recs := readAll(t, n.tr, "late_settles", 1)
	const want = `{"order_id":1,"amount":9,"paid_at":"2026-03-01T00:00:07","event_time":"2026-03-01T00:00:07+00:00","origin_partition":0,"origin_offset":2}`
	if got := string(recs[0].Value); got != want {
		t.Errorf("late row:\n got %s\nwant %s", got, want)
	}
	for _, h := range recs[0].Headers {
		if strings.HasSuffix(h.Key, "topic") && string(h.Value) != "settles" {
			t.Errorf("late row header %s = %s, want settles", h.Key, h.Value)
		}
	}
}

// A late row of the UNION ALL side: the union's first query's source has
// a late.topic (documented: late.topic is the first query's source's).
// The late order is written there, as the union's row.
func TestUnionJoinLeftLateRow(t *testing.T) {
	n, e := sjEngine(t, nil, true)
	mustExec(t, e, "DROP SOURCE orders")
	mustExec(t, e, strings.Replace(strings.Replace(sjOrders, "topic.partitions = '3'", "topic.partitions = '1'", 1),
		"WITH (", "WITH (late.topic = 'late_orders', ", 1))
	mustExec(t, e, `CREATE SOURCE settles (order_id int, amount int, paid_at timestamp,
		WATERMARK FOR paid_at AS paid_at - INTERVAL '2' SECOND)
		WITH (connector = 'topic', topic = 'settles', topic.partitions = '1')`)
	mustExec(t, e, `CREATE SINK paid WITH (connector = 'topic', topic = 'out') AS
		SELECT u.id, s.amount AS paid, s.paid_at
		FROM (SELECT id, placed_at AS at FROM orders UNION ALL SELECT order_id, paid_at FROM payments) u
		JOIN settles s ON u.id = s.order_id AND s.paid_at BETWEEN u.at AND u.at + INTERVAL '10' SECOND`)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	ts := func(s int) string { return base.Add(time.Duration(s) * time.Second).Format("2006-01-02 15:04:05") }
	produce := func(topic, value string) { t.Helper(); produceValue(t, n.tr, topic, value) }
	produce("orders", fmt.Sprintf(`{"id":2,"amount":5,"placed_at":"%s"}`, ts(100)))
	produce("payments", fmt.Sprintf(`{"order_id":2,"amount":8,"paid_at":"%s"}`, ts(100)))
	produce("settles", fmt.Sprintf(`{"order_id":2,"amount":8,"paid_at":"%s"}`, ts(100)))
	p := e.mu.pipelines["paid"]
	waitFor(t, "the join's watermark past 90 s", func() bool { return p.stats.watermark.Load() >= base.Add(90*time.Second).UnixMicro() })
	produce("orders", fmt.Sprintf(`{"id":1,"amount":9,"placed_at":"%s"}`, ts(7))) // late
	waitFor(t, "the late row counted", func() bool { return p.stats.late.Load() == 1 })
	recs := readAll(t, n.tr, "late_orders", 1)
	const want = `{"id":1,"at":"2026-03-01T00:00:07","event_time":"2026-03-01T00:00:07+00:00","origin_partition":0,"origin_offset":1}`
	if got := string(recs[0].Value); got != want {
		t.Errorf("late row:\n got %s\nwant %s", got, want)
	}
}
