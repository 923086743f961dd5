package plan

import (
	"testing"
)

func TestProbeReview(t *testing.T) {
	qs := []string{
		// unqualified column the subquery does not select
		"SELECT amount FROM (SELECT id, customer FROM orders) o JOIN customers c ON o.customer = c.name",
		"SELECT _offset FROM (SELECT id, customer FROM orders) o JOIN customers c ON o.customer = c.name",
		"SELECT o._offset FROM (SELECT id, customer FROM orders) o JOIN customers c ON o.customer = c.name",
		"SELECT o.off FROM (SELECT id, customer, _offset AS off FROM orders) o JOIN customers c ON o.customer = c.name",
		"SELECT * FROM (SELECT id, customer FROM orders) o JOIN customers c ON o.customer = c.name",
		"SELECT o.*, c.tier FROM (SELECT id, customer FROM orders) o JOIN customers c ON o.customer = c.name",
		"SELECT orders.amount FROM (SELECT id, customer FROM orders) o JOIN customers c ON o.customer = c.name",
		"SELECT x.id FROM (SELECT id, customer FROM orders) x JOIN customers c ON x.customer = c.name",
		"SELECT id FROM (SELECT id, customer FROM orders) JOIN customers c ON customer = c.name",
		"SELECT orders.id FROM (SELECT id, customer FROM orders) JOIN customers c ON customer = c.name",
		"SELECT orders.amount FROM (SELECT id, customer FROM orders) JOIN customers c ON customer = c.name",
		// table on the left, subquery on the right
		"SELECT c.tier FROM customers c JOIN (SELECT id, customer FROM orders) o ON o.customer = c.name",
		"SELECT c.tier FROM customers c JOIN orders o ON o.customer = c.name",
		// subquery over a table on the stream side
		"SELECT o.tier FROM (SELECT name, tier FROM customers) o JOIN customers c ON o.name = c.name",
		// RIGHT JOIN with table
		"SELECT c.tier FROM (SELECT id, customer FROM orders) o RIGHT JOIN customers c ON o.customer = c.name",
		// subquery alias equals table alias
		"SELECT c.tier FROM (SELECT id, customer FROM orders) c JOIN customers c ON c.customer = c.name",
		// nested subquery
		"SELECT o.id FROM (SELECT id, who FROM (SELECT id, upper(customer) AS who FROM orders WHERE id > 1) s WHERE id < 10) o JOIN customers c ON o.who = c.name",
		// subquery with KEY BY
		"SELECT o.id FROM (SELECT id, customer FROM orders KEY BY id) o JOIN customers c ON o.customer = c.name",
		// window over subquery joined with table
		"SELECT o.id FROM (SELECT id, customer FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE)) o JOIN customers c ON o.customer = c.name",
		// outer group by
		"SELECT c.tier, count(*) FROM (SELECT id, customer FROM orders WHERE id > 0) o JOIN customers c ON o.customer = c.name GROUP BY c.tier",
		// top-n
		"SELECT * FROM (SELECT o.id, c.tier, ROW_NUMBER() OVER (PARTITION BY c.tier ORDER BY o.id) AS rn FROM (SELECT id, customer FROM orders WHERE id > 0) o JOIN customers c ON o.customer = c.name) WHERE rn <= 3",
		// stream-stream fed right side with table? join of stream with subquery over stream plus
		"SELECT p.amount FROM payments p JOIN (SELECT id, placed_at FROM orders WHERE id > 0) o ON o.id = p.order_id",
		"SELECT p.amount FROM (SELECT * FROM payments) p JOIN (SELECT id, placed_at FROM orders WHERE id > 0) o ON o.id = p.order_id",
		"SELECT * FROM (SELECT order_id, amount, paid_at FROM payments) p JOIN (SELECT id, placed_at FROM orders WHERE id > 0) o ON o.id = p.order_id",
		"SELECT p._offset, o._offset FROM (SELECT order_id, amount, paid_at FROM payments) p JOIN (SELECT id, placed_at FROM orders WHERE id > 0) o ON o.id = p.order_id",
		"SELECT amount FROM (SELECT order_id, amount, paid_at FROM payments) p JOIN (SELECT id, amount AS amt, placed_at FROM orders WHERE id > 0) o ON o.id = p.order_id",
		"SELECT order_id FROM payments p JOIN (SELECT id AS order_id, placed_at FROM orders WHERE id > 0) o ON o.order_id = p.order_id",
		// no alias
		"SELECT p.amount FROM payments p JOIN (SELECT id, placed_at FROM orders WHERE id > 0) ON id = p.order_id",
		"SELECT p.amount FROM payments p JOIN (SELECT id, placed_at FROM orders WHERE id > 0) ON orders.id = p.order_id",
		// both sides no alias
		"SELECT amount FROM (SELECT order_id, amount FROM payments) JOIN (SELECT id, placed_at FROM orders) ON id = order_id",
		// subquery reading a UNION ALL nested
		"SELECT p.amount FROM payments p JOIN (SELECT id FROM (SELECT id, placed_at FROM orders UNION ALL SELECT order_id, paid_at FROM payments) x) o ON o.id = p.order_id",
		// subquery on right of TUMBLE join
		"SELECT o.window_start, count(*) FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE) o JOIN TUMBLE(TABLE (SELECT order_id, paid_at FROM payments WHERE amount > 0), DESCRIPTOR(paid_at), INTERVAL '1' MINUTE) p ON o.id = p.order_id AND o.window_start = p.window_start GROUP BY o.window_start, o.window_end",
		// both tumble queries
		"SELECT o.window_start, count(*) FROM TUMBLE(TABLE (SELECT id, placed_at FROM orders), DESCRIPTOR(placed_at), INTERVAL '1' MINUTE) o JOIN TUMBLE(TABLE (SELECT order_id, paid_at FROM payments WHERE amount > 0), DESCRIPTOR(paid_at), INTERVAL '1' MINUTE) p ON o.id = p.order_id AND o.window_start = p.window_start GROUP BY o.window_start, o.window_end",
		// tumble not a join, over plain subquery (previously flattened via windowOverQuery)
		"SELECT window_start, count(*) FROM TUMBLE(TABLE (SELECT id, placed_at FROM orders WHERE id > 0), DESCRIPTOR(placed_at), INTERVAL '1' MINUTE) GROUP BY window_start, window_end",
		// top-n over a window join with subquery
		"SELECT * FROM (SELECT p.amount, o.id, ROW_NUMBER() OVER (PARTITION BY o.id ORDER BY p.amount) AS rn FROM (SELECT id, placed_at FROM orders) o JOIN payments p ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '1' MINUTE) WHERE rn <= 2",
		// subquery with time column renamed
		"SELECT p.amount FROM payments p JOIN (SELECT id, placed_at AS t FROM orders) o ON o.id = p.order_id AND p.paid_at BETWEEN o.t AND o.t + INTERVAL '1' MINUTE",
		// subquery without the watermark column: interval join on _timestamp?
		"SELECT p.amount FROM payments p LEFT JOIN (SELECT id FROM orders) o ON o.id = p.order_id AND p._timestamp BETWEEN o._timestamp AND o._timestamp + INTERVAL '1' MINUTE",
		// subquery over a clicks (no watermark)
		"SELECT c.url FROM (SELECT user_id, url FROM clicks WHERE user_id > 0) c JOIN clicks d ON c.user_id = d.user_id",
	}
	for _, q := range qs {
		p, err := analyzeSink(t, sink+q)
		if err != nil {
			t.Logf("ERR %s\n    -> %v", q, err)
			continue
		}
		var names []string
		for _, o := range p.Outputs {
			names = append(names, o.Name+"="+o.Text)
		}
		t.Logf("OK  %s\n    -> outputs %v filter %q join %v sjoin %v feeds %d", q, names, p.FilterText, p.Join != nil, p.StreamJoin != nil, len(p.Feeds))
	}
}
