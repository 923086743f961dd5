package engine

import (
	"context"
	"testing"
)

// The sources of a join of two streams must have one
// watermark.idle_timeout (checkStateful): a join whose right side has
// another than its left's is refused. With a UNION ALL on the left, the
// right side's is compared with the first query's source's.
func TestUnionJoinIdleTimeout(t *testing.T) {
	_, e := sjEngine(t, nil, true)
	mustExec(t, e, `CREATE SOURCE settles (order_id int, amount int, paid_at timestamp,
		WATERMARK FOR paid_at AS paid_at - INTERVAL '2' SECOND)
		WITH (connector = 'topic', topic = 'settles', topic.partitions = '1', watermark.idle_timeout = '5s')`)
	// Without a union: refused.
	_, err := e.Execute(context.Background(), `CREATE SINK plain WITH (connector = 'topic', topic = 'plain') AS
		SELECT o.id, s.amount FROM orders o JOIN settles s ON o.id = s.order_id AND s.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '10' SECOND`, ExecOptions{})
	if err == nil {
		t.Fatal("control: a join of sources with different idle timeouts was accepted")
	}
	t.Logf("control: %v", err)
	// With a union on the left (orders and payments: 60s; settles: 5s).
	_, err = e.Execute(context.Background(), `CREATE SINK viaunion WITH (connector = 'topic', topic = 'viaunion') AS
		SELECT u.id, s.amount FROM (SELECT id, placed_at AS at FROM orders UNION ALL SELECT order_id, paid_at FROM payments) u
		JOIN settles s ON u.id = s.order_id AND s.paid_at BETWEEN u.at AND u.at + INTERVAL '10' SECOND`, ExecOptions{})
	if err == nil {
		t.Errorf("a join of a union (idle 60s) with settles (idle 5s) was accepted; the right side's idle timeout is ignored")
	}
}

// The union's second query's source has another idle timeout than the
// first's (allowed under GROUP BY: the first query's applies); the right
// side has the first's. A refusal would name the first query's source
// and the right side, each with its own timeout.
func TestUnionJoinIdleTimeoutMessage(t *testing.T) {
	_, e := sjEngine(t, nil, true)
	mustExec(t, e, `CREATE SOURCE refunds (order_id int, amount int, paid_at timestamp,
		WATERMARK FOR paid_at AS paid_at - INTERVAL '2' SECOND)
		WITH (connector = 'topic', topic = 'refunds', topic.partitions = '1', watermark.idle_timeout = '5s')`)
	_, err := e.Execute(context.Background(), `CREATE SINK viaunion WITH (connector = 'topic', topic = 'viaunion') AS
		SELECT u.id, p.amount FROM (SELECT id, placed_at AS at FROM orders UNION ALL SELECT order_id, paid_at FROM refunds) u
		JOIN payments p ON u.id = p.order_id AND p.paid_at BETWEEN u.at AND u.at + INTERVAL '10' SECOND`, ExecOptions{})
	if err != nil {
		t.Errorf("orders and payments (the join's sides' first and right sources) both have 60s; refused: %v", err)
	}
}
