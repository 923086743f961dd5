package engine

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// unionSettleJoin joins (orders ∪ payments) with settles within 10 s,
// every source on one partition, late.topic = 'late_<source>' on the
// sources named in late, and brings the join's watermark past 90 s. It
// returns the engine's node, the pipeline, and a function that produces a
// value whose time field is at the given second.
func unionSettleJoin(t *testing.T, late ...string) (*node, *pipeline, func(topic, format string, second int)) {
	t.Helper()
	n, e := sjEngine(t, nil, true)
	withLate := func(name, stmt string) string {
		if !slices.Contains(late, name) {
			return stmt
		}
		return strings.Replace(stmt, "WITH (", "WITH (late.topic = 'late_"+name+"', ", 1)
	}
	mustExec(t, e, "DROP SOURCE orders")
	mustExec(t, e, "DROP SOURCE payments")
	mustExec(t, e, withLate("orders", strings.Replace(sjOrders, "topic.partitions = '3'", "topic.partitions = '1'", 1)))
	mustExec(t, e, withLate("payments", strings.Replace(sjPayments, "topic.partitions = '2'", "topic.partitions = '1'", 1)))
	mustExec(t, e, withLate("settles", `CREATE SOURCE settles (order_id int, amount int, paid_at timestamp,
		WATERMARK FOR paid_at AS paid_at - INTERVAL '2' SECOND)
		WITH (connector = 'topic', topic = 'settles', topic.partitions = '1')`))
	mustExec(t, e, `CREATE SINK paid WITH (connector = 'topic', topic = 'out') AS
		SELECT u.id, s.amount AS paid, s.paid_at
		FROM (SELECT id, placed_at AS at FROM orders UNION ALL SELECT order_id, paid_at FROM payments) u
		JOIN settles s ON u.id = s.order_id AND s.paid_at BETWEEN u.at AND u.at + INTERVAL '10' SECOND`)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	produce := func(topic, format string, second int) {
		t.Helper()
		produceValue(t, n.tr, topic, fmt.Sprintf(format, base.Add(time.Duration(second)*time.Second).Format("2006-01-02 15:04:05")))
	}
	produce("orders", `{"id":1,"amount":5,"placed_at":"%s"}`, 5)
	produce("settles", `{"order_id":1,"amount":7,"paid_at":"%s"}`, 6)
	produce("orders", `{"id":2,"amount":5,"placed_at":"%s"}`, 100)
	produce("payments", `{"order_id":2,"amount":8,"paid_at":"%s"}`, 100)
	produce("settles", `{"order_id":2,"amount":8,"paid_at":"%s"}`, 100)
	p := e.mu.pipelines["paid"]
	waitFor(t, "the join's watermark past 90 s", func() bool { return p.stats.watermark.Load() >= base.Add(90*time.Second).UnixMicro() })
	return n, p, produce
}

// checkLateRow reads the one late row of topic and checks its value and
// that its topic header names source.
func checkLateRow(t *testing.T, n *node, p *pipeline, topic, want, source string) {
	t.Helper()
	waitFor(t, "the late row counted", func() bool { return p.stats.late.Load() == 1 })
	recs := readAll(t, n.tr, topic, 1)
	if got := string(recs[0].Value); got != want {
		t.Errorf("late row:\n got %s\nwant %s", got, want)
	}
	for _, h := range recs[0].Headers {
		if strings.HasSuffix(h.Key, "topic") && string(h.Value) != source {
			t.Errorf("late row header %s = %s, want %s", h.Key, h.Value, source)
		}
	}
}

// A late row of the right side of a join whose left side is a UNION ALL
// goes to the right source's late.topic as it does without a union: its
// origin_partition is its partition in the right source's topic, and its
// topic header names the right source.
func TestUnionJoinRightLateRow(t *testing.T) {
	n, p, produce := unionSettleJoin(t, "settles")
	produce("settles", `{"order_id":1,"amount":9,"paid_at":"%s"}`, 7) // late
	checkLateRow(t, n, p, "late_settles",
		`{"order_id":1,"amount":9,"paid_at":"2026-03-01T00:00:07","event_time":"2026-03-01T00:00:07+00:00","origin_partition":0,"origin_offset":2}`, "settles")
}

// A late row of the UNION ALL side goes to the union's first query's
// source's late.topic (as for a GROUP BY over a union), as the union's row
// with its own source's origin — also when every query's source has one.
func TestUnionJoinLeftLateRow(t *testing.T) {
	for _, late := range [][]string{{"orders"}, {"orders", "payments"}} {
		t.Run(strings.Join(late, ","), func(t *testing.T) {
			n, p, produce := unionSettleJoin(t, late...)
			produce("orders", `{"id":3,"amount":9,"placed_at":"%s"}`, 7) // late
			checkLateRow(t, n, p, "late_orders",
				`{"id":3,"at":"2026-03-01T00:00:07","event_time":"2026-03-01T00:00:07+00:00","origin_partition":0,"origin_offset":2}`, "orders")
			if len(late) > 1 {
				if recs := readSoFar(t, n.tr, "late_payments"); len(recs) != 0 {
					t.Errorf("%d late rows in the second query's late.topic", len(recs))
				}
			}
		})
	}
}
