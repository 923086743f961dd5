package plan

import (
	"testing"
)

// A top-N over a window join's rows is final when it is partitioned by a
// side's window_end of an inner window join (by the left or the right
// side's, with other columns, over HOP windows, a join equating
// window_end, a subquery renaming the column); it updates over outer
// joins and joins whose windows the ON does not equate.
func TestTopNWindowJoinVariants(t *testing.T) {
	const o = `TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE) o`
	const p = `TUMBLE(TABLE payments, DESCRIPTOR(paid_at), INTERVAL '1' MINUTE) p`
	const ho = `HOP(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '10' SECOND, INTERVAL '1' MINUTE) o`
	const hp = `HOP(TABLE payments, DESCRIPTOR(paid_at), INTERVAL '10' SECOND, INTERVAL '1' MINUTE) p`
	const on = ` ON o.id = p.order_id AND o.window_start = p.window_start`
	cases := map[string]string{
		"left_we":       `SELECT * FROM (SELECT o.id, p.amount, ROW_NUMBER() OVER (PARTITION BY o.window_end ORDER BY p.amount DESC) AS rn FROM ` + o + ` JOIN ` + p + on + `) WHERE rn <= 3`,
		"right_we":      `SELECT * FROM (SELECT o.id, p.amount, ROW_NUMBER() OVER (PARTITION BY p.window_end ORDER BY p.amount DESC) AS rn FROM ` + o + ` JOIN ` + p + on + `) WHERE rn <= 3`,
		"cust_we":       `SELECT * FROM (SELECT o.id, p.amount, ROW_NUMBER() OVER (PARTITION BY o.customer, o.window_end ORDER BY p.amount DESC) AS rn FROM ` + o + ` JOIN ` + p + on + `) WHERE rn <= 3`,
		"ws_we":         `SELECT * FROM (SELECT o.id, p.amount, ROW_NUMBER() OVER (PARTITION BY o.window_start, p.window_end ORDER BY p.amount DESC) AS rn FROM ` + o + ` JOIN ` + p + on + `) WHERE rn <= 3`,
		"hop":           `SELECT * FROM (SELECT o.id, p.amount, ROW_NUMBER() OVER (PARTITION BY o.window_end ORDER BY p.amount DESC) AS rn FROM ` + ho + ` JOIN ` + hp + on + `) WHERE rn <= 3`,
		"left_join":     `SELECT * FROM (SELECT o.id, p.amount, ROW_NUMBER() OVER (PARTITION BY o.window_end ORDER BY p.amount DESC) AS rn FROM ` + o + ` LEFT JOIN ` + p + on + `) WHERE rn <= 3`,
		"right_join":    `SELECT * FROM (SELECT o.id, p.amount, ROW_NUMBER() OVER (PARTITION BY o.window_end ORDER BY p.amount DESC) AS rn FROM ` + o + ` RIGHT JOIN ` + p + on + `) WHERE rn <= 3`,
		"on_we":         `SELECT * FROM (SELECT o.id, p.amount, ROW_NUMBER() OVER (PARTITION BY o.window_end ORDER BY p.amount DESC) AS rn FROM ` + o + ` JOIN ` + p + ` ON o.id = p.order_id AND o.window_end = p.window_end) WHERE rn <= 3`,
		"no_win_eq":     `SELECT * FROM (SELECT o.id, p.amount, ROW_NUMBER() OVER (PARTITION BY o.window_end ORDER BY p.amount DESC) AS rn FROM ` + o + ` JOIN ` + p + ` ON o.id = p.order_id) WHERE rn <= 3`,
		"where_win_eq":  `SELECT * FROM (SELECT o.id, p.amount, ROW_NUMBER() OVER (PARTITION BY o.window_end ORDER BY p.amount DESC) AS rn FROM ` + o + ` JOIN ` + p + ` ON o.id = p.order_id WHERE o.window_start = p.window_start) WHERE rn <= 3`,
		"renamed_sub":   `SELECT * FROM (SELECT id, amount, ROW_NUMBER() OVER (PARTITION BY we ORDER BY amount DESC) AS rn FROM (SELECT o.id, p.amount, o.window_end AS we FROM ` + o + ` JOIN ` + p + on + `)) WHERE rn <= 3`,
		"renamed_side":  `SELECT * FROM (SELECT o.id, p.amount, ROW_NUMBER() OVER (PARTITION BY o.we ORDER BY p.amount DESC) AS rn FROM (SELECT id, customer, window_start AS ws, window_end AS we FROM ` + o + `) o JOIN ` + p + ` ON o.id = p.order_id AND o.ws = p.window_start) WHERE rn <= 3`,
		"swapped_side":  `SELECT * FROM (SELECT o.id, p.amount, ROW_NUMBER() OVER (PARTITION BY o.we ORDER BY p.amount DESC) AS rn FROM (SELECT id, customer, window_end AS ws, window_start AS we FROM ` + o + `) o JOIN ` + p + ` ON o.id = p.order_id AND o.ws = p.window_end) WHERE rn <= 3`,
		"now_select":    `SELECT * FROM (SELECT o.id, p.amount, now() AS t, ROW_NUMBER() OVER (PARTITION BY o.window_end ORDER BY p.amount DESC) AS rn FROM ` + o + ` JOIN ` + p + on + `) WHERE rn <= 3`,
		"rank":          `SELECT * FROM (SELECT o.id, p.amount, RANK() OVER (PARTITION BY o.window_end ORDER BY p.amount DESC) AS rn FROM ` + o + ` JOIN ` + p + on + `) WHERE rn <= 3`,
		"rank_ws":       `SELECT * FROM (SELECT o.id, p.amount, RANK() OVER (PARTITION BY o.window_start ORDER BY p.amount DESC) AS rn FROM ` + o + ` JOIN ` + p + on + `) WHERE rn <= 3`,
		"keyby":         `SELECT * FROM (SELECT o.id, p.amount, ROW_NUMBER() OVER (PARTITION BY o.window_end ORDER BY p.amount DESC) AS rn FROM ` + o + ` JOIN ` + p + on + `) WHERE rn <= 3 KEY BY id`,
		"win_over_join": `SELECT * FROM (SELECT customer, paid_at, ROW_NUMBER() OVER (PARTITION BY window_end ORDER BY paid_at DESC) AS rn FROM TUMBLE(TABLE (SELECT o.customer, p.paid_at FROM orders o JOIN payments p ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '10' SECOND), DESCRIPTOR(paid_at), INTERVAL '1' MINUTE)) WHERE rn <= 3`,
		"interval_join": `SELECT * FROM (SELECT o.id, p.amount, ROW_NUMBER() OVER (PARTITION BY o.placed_at ORDER BY p.amount DESC) AS rn FROM orders o JOIN payments p ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '10' SECOND) WHERE rn <= 3`,
		"onewin_join":   `SELECT * FROM (SELECT o.id, p.amount, ROW_NUMBER() OVER (PARTITION BY o.window_end ORDER BY p.amount DESC) AS rn FROM ` + o + ` JOIN payments p ON o.id = p.order_id AND p.paid_at BETWEEN o.window_start AND o.window_end) WHERE rn <= 3`,
	}
	final := map[string]bool{"left_we": true, "right_we": true, "cust_we": true, "hop": true, "on_we": true, "renamed_sub": true,
		"left_join": false, "right_join": false, "no_win_eq": false, "where_win_eq": false, "interval_join": false}
	for name, want := range final {
		pl, err := analyzeSinkSQL(t, `CREATE SINK s WITH (connector = 'topic', topic = 'x') AS `+cases[name])
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := !pl.TopN.Updating(); got != want {
			t.Errorf("%s: final %v, want %v\n%s", name, got, want, pl.Explain())
		}
	}
}
