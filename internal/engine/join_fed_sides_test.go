package engine

import (
	"slices"
	"testing"
	"time"
)

// Subqueries on either side of a join of two streams: a UNION ALL on the
// right side (inner, and RIGHT — the union's rows kept, the outer WHERE
// over them applied before the join), a query that filters and projects
// payments on the right of a union (LEFT), and a window join whose left
// side windows a query over orders. Each checked against a brute-force
// evaluation, at-least-once and exactly-once across a restart on an empty
// state directory.
func TestJoinWithSubquerySides(t *testing.T) {
	orders, payments := genOrdersPayments(43, 400)
	const union = `(SELECT id, 'o' AS kind, placed_at AS at FROM orders WHERE id >= 0
		UNION ALL SELECT order_id, 'p', paid_at FROM payments WHERE order_id >= 0) AS u`
	const on = `ON u.id = p.order_id AND p.paid_at BETWEEN u.at - INTERVAL '2' SECOND AND u.at + INTERVAL '10' SECOND`
	const cols = `SELECT u.id, u.kind, p.amount AS paid, p.paid_at`
	ordersPaymentsInRuns(t, orders, payments, 47, "right_union",
		func(t *testing.T, e *Engine, opts string) {
			mustExec(t, e, `CREATE SINK right_union WITH (connector = 'topic', topic = 'right_union'`+opts+`) AS
				`+cols+` FROM payments p JOIN `+union+` `+on+` WHERE u.id % 3 <> 0`)
			mustExec(t, e, `CREATE SINK right_outer WITH (connector = 'topic', topic = 'right_outer'`+opts+`) AS
				`+cols+` FROM payments p RIGHT JOIN `+union+` `+on+` WHERE u.id % 3 <> 0`)
			mustExec(t, e, `CREATE SINK both_fed WITH (connector = 'topic', topic = 'both_fed'`+opts+`) AS
				`+cols+` FROM `+union+` LEFT JOIN (SELECT order_id, amount, paid_at FROM payments WHERE order_id >= 0) p `+on+`
				WHERE u.id % 3 <> 0`)
			mustExec(t, e, `CREATE SINK fed_window WITH (connector = 'topic', topic = 'fed_window'`+opts+`) AS
				SELECT o.window_start, count(*) AS pairs
				FROM TUMBLE(TABLE (SELECT id AS oid, placed_at FROM orders WHERE id % 2 = 0), DESCRIPTOR(placed_at), INTERVAL '5' SECOND) o
				JOIN TUMBLE(TABLE payments, DESCRIPTOR(paid_at), INTERVAL '5' SECOND) p
				  ON o.oid = p.order_id AND p.window_start = o.window_start
				GROUP BY o.window_start, o.window_end`)
			for sink, want := range map[string][2]int{"right_union": {1, 2}, "right_outer": {1, 2}, "both_fed": {2, 1}, "fed_window": {1, 1}} {
				var sides [2]int
				for _, in := range e.mu.pipelines[sink].inputs {
					sides[in.side]++
					if sink != "fed_window" && in.def.Name == "payments" && in.side == 1 && in.feed == nil {
						t.Errorf("%s: the right side's input is not fed by its subquery", sink)
					}
				}
				if sides != want {
					t.Fatalf("%s: %v inputs per side, want %v", sink, sides, want)
				}
			}
		},
		func(t *testing.T, n *node, e *Engine) {
			inner, left, _ := unionJoinOracle(orders, payments)
			for sink, want := range map[string][]string{"right_union": inner, "right_outer": left, "both_fed": left} {
				got := unionJoinRows(t, readExactly(t, n.tr, sink, len(want)))
				slices.Sort(got)
				compareRows(t, got, want)
				if late := e.mu.pipelines[sink].stats.late.Load(); late != 0 {
					t.Errorf("%s: %d rows late", sink, late)
				}
			}
			var even []sjOrder
			for _, o := range orders {
				if o.id%2 == 0 {
					even = append(even, o)
				}
			}
			sameWindow := func(o sjOrder, p sjPayment) bool {
				return o.ts.Truncate(5 * time.Second).Equal(p.ts.Truncate(5 * time.Second))
			}
			checkWindowRows(t, n, e, map[string][]string{"fed_window": pairsPerWindow(even, payments, 5*time.Second, true, sameWindow)})
		})
}
