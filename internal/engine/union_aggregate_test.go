package engine

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// A GROUP BY over a UNION ALL in FROM aggregates the rows of both
// queries together — each query over its own source, with its own WHERE,
// its rows cast to the union's types — windowed by the union's time
// column (each query's WATERMARK column, each source's rows keeping their
// source's watermark) or not (an updating result). Checked against a
// brute-force evaluation, at-least-once and exactly-once across a
// restart on an empty state directory; each window's row comes once.
func TestGroupByOverUnionAll(t *testing.T) {
	orders, payments := genOrdersPayments(43, 700)
	ordersPaymentsInRuns(t, orders, payments, 47, "union_windows",
		func(t *testing.T, e *Engine, opts string) {
			mustExec(t, e, `CREATE SINK union_windows WITH (connector = 'topic', topic = 'union_windows'`+opts+`) AS
				SELECT window_start, window_end, count(*) AS events, sum(amount) AS amount
				FROM TUMBLE(TABLE (SELECT id, amount, placed_at AS at FROM orders WHERE amount > 10
				                   UNION ALL SELECT order_id, amount, paid_at FROM payments WHERE order_id >= 0),
				            DESCRIPTOR(at), INTERVAL '2' SECOND)
				GROUP BY window_start, window_end`)
			mustExec(t, e, `CREATE SINK union_totals WITH (connector = 'topic', topic = 'union_totals'`+opts+`) AS
				SELECT who, count(*) AS events, sum(amount) AS amount
				FROM (SELECT customer AS who, amount FROM orders WHERE id >= 0
				      UNION ALL SELECT 'c' || CAST(order_id % 7 AS text), amount FROM payments) AS u
				WHERE who <> 'c-1'
				GROUP BY who`)
			for _, sink := range []string{"union_windows", "union_totals"} {
				if p := e.mu.pipelines[sink]; len(p.inputs) != 2 || p.inputs[1].feed == nil {
					t.Fatalf("%s: %d inputs, not one per query", sink, len(p.inputs))
				}
			}
		},
		func(t *testing.T, n *node, e *Engine) {
			windows, totals := unionAggregates(orders, payments)
			checkWindowRows(t, n, e, map[string][]string{"union_windows": windows})
			var got []string
			waitFor(t, "the union's totals", func() bool {
				got = slices.Sorted(maps.Values(latestRows(t, n.tr, "union_totals")))
				return slices.Equal(got, totals)
			})
		})
}

// unionAggregates evaluates the two queries by brute force: the windows
// are all closed by the flush records produceOrdersPayments ends with
// (which both queries' WHERE drop); the totals are each group's latest
// row.
func unionAggregates(orders []sjOrder, payments []sjPayment) (windows, totals []string) {
	const layout = "2006-01-02T15:04:05"
	type sums struct{ events, amount int64 }
	perWindow := map[time.Time]sums{}
	perWho := map[string]sums{}
	add := func(m map[time.Time]sums, ts time.Time, amount int) {
		s := m[ts.Truncate(2*time.Second)]
		m[ts.Truncate(2*time.Second)] = sums{s.events + 1, s.amount + int64(amount)}
	}
	for _, o := range orders {
		if o.amount > 10 {
			add(perWindow, o.ts, o.amount)
		}
		who := fmt.Sprintf("c%d", o.id%7)
		perWho[who] = sums{perWho[who].events + 1, perWho[who].amount + int64(o.amount)}
	}
	for _, p := range payments {
		if p.orderID >= 0 {
			add(perWindow, p.ts, p.amount)
			who := fmt.Sprintf("c%d", p.orderID%7)
			perWho[who] = sums{perWho[who].events + 1, perWho[who].amount + int64(p.amount)}
		}
	}
	for start, s := range perWindow {
		windows = append(windows, fmt.Sprintf(`{"window_start":"%s","window_end":"%s","events":%d,"amount":%d}`,
			start.Format(layout), start.Add(2*time.Second).Format(layout), s.events, s.amount))
	}
	slices.Sort(windows)
	for who, s := range perWho {
		totals = append(totals, fmt.Sprintf(`{"who":"%s","events":%d,"amount":%d}`, who, s.events, s.amount))
	}
	slices.Sort(totals)
	return windows, totals
}

// A UNION ALL's rows feed an aggregation or a query that filters and
// projects them: a query around an aggregation of them, a KEY BY in its
// queries under an aggregation and an alias taking a source's name are
// refused with a hint, and EXPLAIN shows each query under the aggregation.
func TestUnionAllInFromErrors(t *testing.T) {
	_, e := sjEngine(t, nil, false)
	for sql, want := range map[string]string{
		`SELECT * FROM (SELECT who, count(*) AS n FROM (SELECT customer AS who FROM orders UNION ALL SELECT 'x' FROM payments) u GROUP BY who) s WHERE n > 1`: "supported only",
		`SELECT who, count(*) FROM (SELECT customer AS who FROM orders KEY BY id UNION ALL SELECT 'x' FROM payments) u GROUP BY who`:                          "KEY BY",
		`SELECT who, count(*) FROM (SELECT customer AS who FROM orders UNION ALL SELECT 'x' FROM payments) AS orders GROUP BY who`:                            "name of a source",
	} {
		if _, err := e.Execute(t.Context(), "CREATE SINK s WITH (connector = 'topic', topic = 's') AS "+sql, ExecOptions{}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", sql, err, want)
		}
	}
	res := mustExec(t, e, `EXPLAIN CREATE SINK s WITH (connector = 'topic', topic = 's') AS
		SELECT who, count(*) FROM (SELECT customer AS who FROM orders UNION ALL SELECT 'x' FROM payments) u GROUP BY who`)
	if text := fmt.Sprint(res[0].Rows); !strings.Contains(text, "Union all u (2 queries") || !strings.Contains(text, "Source payments") {
		t.Errorf("EXPLAIN: %s", text)
	}
}
