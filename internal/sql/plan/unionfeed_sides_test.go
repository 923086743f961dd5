package plan

import (
	"errors"
	"strings"
	"testing"
)

// A fed query (of a UNION ALL read by a GROUP BY, a top-N or a join, or
// a join side's subquery one level down) may join tables: its tasks look
// its rows up as they decode them.
func TestFedQueryJoiningTable(t *testing.T) {
	for _, q := range []string{
		"SELECT tier, count(*) FROM (SELECT c.tier FROM orders o JOIN customers c ON o.customer = c.name UNION ALL SELECT url FROM clicks) u GROUP BY tier",
		"SELECT u.tier, p.amount FROM (SELECT o.id, c.tier, o.placed_at FROM orders o JOIN customers c ON o.customer = c.name UNION ALL SELECT order_id, 'x', paid_at FROM payments) u JOIN payments p ON u.id = p.order_id AND p.paid_at BETWEEN u.placed_at AND u.placed_at + INTERVAL '1' MINUTE",
		"SELECT p.amount FROM payments p JOIN (SELECT z.id, z.placed_at FROM (SELECT o.id, o.placed_at FROM orders o JOIN customers c ON o.customer = c.name) z) o ON o.id = p.order_id AND o.placed_at BETWEEN p.paid_at AND p.paid_at + INTERVAL '1' MINUTE",
		"SELECT * FROM (SELECT tier, id, ROW_NUMBER() OVER (PARTITION BY tier ORDER BY id) AS rn FROM (SELECT o.id, c.tier FROM orders o JOIN customers c ON o.customer = c.name UNION ALL SELECT user_id, url FROM clicks) u) WHERE rn <= 3",
	} {
		p, err := analyzeSink(t, sink+q)
		if err != nil {
			t.Errorf("%s\n  -> %v", q, err)
			continue
		}
		joined := 0
		for _, f := range p.Queries()[1:] {
			if f.Join != nil {
				joined++
			}
		}
		if joined != 1 {
			t.Errorf("%s\n  -> %d fed queries join a table, want 1", q, joined)
		}
	}
	// Two streams joined in a fed query are not fed.
	_, err := analyzeSink(t, sink+"SELECT id, count(*) FROM (SELECT o.id FROM orders o JOIN payments p ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '1' MINUTE UNION ALL SELECT user_id FROM clicks) u GROUP BY id")
	if !errors.Is(err, ErrNotSupported) {
		t.Errorf("a join of two streams in a fed query: %v", err)
	}
}

// One side's subquery cannot read the other side's (a sibling in FROM,
// which SQL reads only with LATERAL); each side's subquery needs an alias.
func TestSideQueriesScope(t *testing.T) {
	for _, q := range []string{
		"SELECT o.id FROM (SELECT id, placed_at FROM orders) o JOIN (SELECT id, placed_at FROM o) p ON o.id = p.id",
		"SELECT o.id FROM (SELECT id, placed_at FROM orders UNION ALL SELECT order_id, paid_at FROM payments) o JOIN (SELECT id, placed_at FROM o WHERE id > 0) p ON o.id = p.id",
		"SELECT o.id FROM (SELECT id, placed_at FROM orders) o JOIN TUMBLE(TABLE (SELECT id, placed_at FROM o), DESCRIPTOR(placed_at), INTERVAL '1' MINUTE) p ON o.id = p.id",
	} {
		if _, err := analyzeSink(t, sink+q); err == nil || !strings.Contains(err.Error(), `"o" does not exist`) {
			t.Errorf("%s\n  -> %v, want o unknown on the right side", q, err)
		}
	}
	for _, q := range []string{
		"SELECT amount FROM (SELECT order_id, amount, paid_at FROM payments) JOIN (SELECT id, placed_at FROM orders) o ON id = order_id",
		"SELECT o.id FROM orders o JOIN TUMBLE(TABLE (SELECT order_id, paid_at FROM payments), DESCRIPTOR(paid_at), INTERVAL '1' MINUTE) ON o.id = order_id",
	} {
		if _, err := analyzeSink(t, sink+q); err == nil || !strings.Contains(err.Error(), "needs an alias") {
			t.Errorf("%s\n  -> %v, want an alias asked for", q, err)
		}
	}
}
