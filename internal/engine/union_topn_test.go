package engine

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"
)

// A top-N of a UNION ALL's rows ranks the rows of both queries together —
// each query over its own source with its own WHERE, the ranked query's
// WHERE over the union's rows — updating (the current top 2 per who) or
// final per TUMBLE window of the union's time column (each source's rows
// keeping their source's watermark: each window's top 3 once). Checked
// against a brute-force evaluation, at-least-once and exactly-once across
// a restart on an empty state directory.
func TestTopNOverUnionAll(t *testing.T) {
	orders, payments := genOrdersPayments(67, 600)
	const union = `(SELECT id, customer AS who, amount, placed_at AS at, 'o' AS src FROM orders WHERE id >= 0 AND id % 5 <> 0
		UNION ALL SELECT order_id, 'c' || CAST(order_id % 7 AS text), amount, paid_at, 'p' FROM payments WHERE order_id >= 0)`
	ordersPaymentsInRuns(t, orders, payments, 71, "union_watch",
		func(t *testing.T, e *Engine, opts string) {
			mustExec(t, e, `CREATE SINK union_top WITH (connector = 'topic', topic = 'union_top'`+opts+`) AS
				SELECT who, amount, src, rn FROM (
				  SELECT who, amount, src, ROW_NUMBER() OVER (PARTITION BY who ORDER BY amount DESC, id, src) AS rn
				  FROM `+union+` AS u WHERE amount > 5) AS r
				WHERE rn <= 2`)
			mustExec(t, e, `CREATE SINK union_window_top WITH (connector = 'topic', topic = 'union_window_top'`+opts+`) AS
				SELECT window_start, amount, id, src, rn FROM (
				  SELECT window_start, amount, id, src, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY amount DESC, id, src) AS rn
				  FROM TUMBLE(TABLE `+union+`, DESCRIPTOR(at), INTERVAL '2' SECOND)) AS r
				WHERE rn <= 3`)
			// The restart waits for this one's aggregated rows.
			mustExec(t, e, `CREATE SINK union_watch WITH (connector = 'topic', topic = 'union_watch'`+opts+`) AS
				SELECT who, count(*) AS n FROM `+union+` AS u GROUP BY who`)
			for _, sink := range []string{"union_top", "union_window_top"} {
				if p := e.mu.pipelines[sink]; len(p.inputs) != 2 || p.inputs[1].feed == nil {
					t.Fatalf("%s: %d inputs, not one per query", sink, len(p.inputs))
				}
			}
		},
		func(t *testing.T, n *node, e *Engine) {
			top, windows := unionTopN(orders, payments)
			checkWindowRows(t, n, e, map[string][]string{"union_window_top": windows})
			var got []string
			waitFor(t, "the union's top 2 per who", func() bool {
				got = nil
				for v := range maps.Values(latestRows(t, n.tr, "union_top")) {
					if v != "" {
						got = append(got, v)
					}
				}
				slices.Sort(got)
				return slices.Equal(got, top)
			})
		})
}

// unionTopN ranks the union's rows by brute force: the top 2 amounts per
// who (of amounts over 5), and the top 3 of each 2-second window.
func unionTopN(orders []sjOrder, payments []sjPayment) (top, windows []string) {
	type row struct {
		id     int64
		who    string
		amount int
		at     time.Time
		src    string
	}
	var rows []row
	for _, o := range orders {
		if o.id >= 0 && o.id%5 != 0 {
			rows = append(rows, row{o.id, fmt.Sprintf("c%d", o.id%7), o.amount, o.ts, "o"})
		}
	}
	for _, p := range payments {
		if p.orderID >= 0 {
			rows = append(rows, row{p.orderID, fmt.Sprintf("c%d", p.orderID%7), p.amount, p.ts, "p"})
		}
	}
	slices.SortFunc(rows, func(a, b row) int {
		return cmp.Or(-cmp.Compare(a.amount, b.amount), cmp.Compare(a.id, b.id), cmp.Compare(a.src, b.src))
	})
	perWho := map[string]int{}
	perWindow := map[time.Time]int{}
	for _, r := range rows {
		if r.amount > 5 && perWho[r.who] < 2 {
			perWho[r.who]++
			top = append(top, fmt.Sprintf(`{"who":"%s","amount":%d,"src":"%s","rn":%d}`, r.who, r.amount, r.src, perWho[r.who]))
		}
		start := r.at.Truncate(2 * time.Second)
		if perWindow[start] < 3 {
			perWindow[start]++
			windows = append(windows, fmt.Sprintf(`{"window_start":"%s","amount":%d,"id":%d,"src":"%s","rn":%d}`,
				start.Format("2006-01-02T15:04:05"), r.amount, r.id, r.src, perWindow[start]))
		}
	}
	slices.Sort(top)
	slices.Sort(windows)
	return top, windows
}
