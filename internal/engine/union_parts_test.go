package engine

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// A UNION ALL of aggregating queries: the orders per 5-second window and
// the payments of more than 10 per window, each query a pipeline of its
// own (its inputs, stage, internal topics and state) writing one sink;
// at-least-once, with a stateless query over orders in the union too,
// and exactly-once across a restart on an empty state directory. Checked
// against a brute-force count; DROP SINK removes every part's internal
// topics.
func TestUnionAllOfAggregations(t *testing.T) {
	orders, payments := genOrdersPayments(53, 500)
	const layout = "2006-01-02T15:04:05"
	counts := map[string]int{}
	for _, o := range orders {
		counts[`"kind":"o","window_start":"`+o.ts.Truncate(5*time.Second).Format(layout)+`"`]++
	}
	for _, p := range payments {
		if p.amount > 10 {
			counts[`"kind":"p","window_start":"`+p.ts.Truncate(5*time.Second).Format(layout)+`"`]++
		}
	}
	var windows, mixed []string
	for k, n := range counts {
		windows = append(windows, fmt.Sprintf(`{%s,"n":%d}`, k, n))
		if strings.Contains(k, `"kind":"o"`) {
			mixed = append(mixed, fmt.Sprintf(`{%s,"n":%d}`, strings.Replace(k, `"o"`, `"w"`, 1), n))
		}
	}
	for _, o := range orders {
		if o.amount > 95 {
			mixed = append(mixed, fmt.Sprintf(`{"kind":"big","window_start":"%s","n":%d}`, o.ts.Format("2006-01-02T15:04:05.999"), o.amount))
		}
	}
	slices.Sort(windows)
	slices.Sort(mixed)
	const perOrders = `SELECT 'o' AS kind, window_start, count(*) AS n FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '5' SECOND)
		GROUP BY window_start, window_end`
	ordersPaymentsInRuns(t, orders, payments, 59, "per_window",
		func(t *testing.T, e *Engine, opts string) {
			mustExec(t, e, `CREATE SINK per_window WITH (connector = 'topic', topic = 'per_window'`+opts+`) AS `+perOrders+`
				UNION ALL SELECT 'p', window_start, count(*) FROM TUMBLE(TABLE payments, DESCRIPTOR(paid_at), INTERVAL '5' SECOND)
				WHERE amount > 10 GROUP BY window_start, window_end`)
			if p := e.mu.pipelines["per_window"]; len(p.parts) != 1 || p.parts[0].stateful == nil || p.stateful == nil {
				t.Fatalf("%d parts, not one pipeline per query", len(p.parts))
			}
			if opts == "" { // a stateless query is at-least-once
				mustExec(t, e, `CREATE SINK mixed WITH (connector = 'topic', topic = 'mixed') AS
					SELECT 'big' AS kind, placed_at AS window_start, amount AS n FROM orders WHERE amount > 95
					UNION ALL `+strings.Replace(perOrders, "'o'", "'w'", 1))
			}
		},
		func(t *testing.T, n *node, e *Engine) {
			want := map[string][]string{"per_window": windows}
			if _, ok := e.mu.pipelines["mixed"]; ok {
				want["mixed"] = mixed
			}
			for sink, rows := range want {
				var got []string
				for _, r := range readExactly(t, n.tr, sink, len(rows)) {
					var row map[string]any
					if err := json.Unmarshal(r.Value, &row); err != nil {
						t.Fatal(err)
					}
					got = append(got, string(r.Value))
				}
				slices.Sort(got)
				compareRows(t, got, rows)
			}
			p := e.mu.pipelines["per_window"]
			// Without a restart; and a flush row per partition
			// (produceOrdersPayments): 3 + 2.
			if st := p.status(); want["mixed"] != nil && st.In != int64(len(orders)+len(payments)+5) {
				t.Errorf("status: %d in, want %d (the parts' added up)", st.In, len(orders)+len(payments)+5)
			}
			part := p.parts[0].stateful
			mustExec(t, e, `DROP SINK per_window`)
			for _, topic := range []string{part.repartition, part.changelog} {
				if _, err := n.tr.Topic(t.Context(), topic); err == nil {
					t.Errorf("topic %s left after DROP", topic)
				}
			}
		})
}
