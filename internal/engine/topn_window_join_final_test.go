package engine

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// HOP windows, the right side's window_end, and a partition by another
// column before window_end: each (customer, window) top 2 once.
func TestFinalTopNHopRightEnd(t *testing.T) {
	orders, payments := genOrdersPayments(91, 500)
	ordersPaymentsInRuns(t, orders, payments, 93, "top",
		func(t *testing.T, e *Engine, opts string) {
			mustExec(t, e, `CREATE SINK top WITH (connector = 'topic', topic = 'top'`+opts+`) AS
				SELECT we, customer, id, paid, rn FROM (
				  SELECT p.window_end AS we, o.customer, o.id, p.amount AS paid,
				         ROW_NUMBER() OVER (PARTITION BY o.customer, p.window_end ORDER BY p.amount DESC, o.id, p.paid_at) AS rn
				  FROM HOP(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '2' SECOND, INTERVAL '6' SECOND) o
				  JOIN HOP(TABLE payments, DESCRIPTOR(paid_at), INTERVAL '2' SECOND, INTERVAL '6' SECOND) p
				    ON o.id = p.order_id AND p.window_end = o.window_end) WHERE rn <= 2`)
			if tn := e.mu.pipelines["top"].plan.TopN; tn == nil || tn.Updating() || tn.Time != 1 {
				t.Fatalf("plan: %+v", tn)
			}
		},
		func(t *testing.T, n *node, e *Engine) {
			const layout = "2006-01-02T15:04:05"
			hopStarts := func(ts time.Time) []time.Time {
				var out []time.Time
				for s := ts.Truncate(2 * time.Second); s.After(ts.Add(-6 * time.Second)); s = s.Add(-2 * time.Second) {
					out = append(out, s)
				}
				return out
			}
			type pair struct {
				id, paid int64
				at       time.Time
			}
			type part struct {
				cust string
				end  time.Time
			}
			windows := map[part][]pair{}
			for _, o := range orders {
				for _, p := range payments {
					if p.orderID != o.id {
						continue
					}
					for _, s := range hopStarts(o.ts) {
						if slices.ContainsFunc(hopStarts(p.ts), s.Equal) {
							k := part{fmt.Sprintf("c%d", o.id%7), s.Add(6 * time.Second)}
							windows[k] = append(windows[k], pair{o.id, int64(p.amount), p.ts})
						}
					}
				}
			}
			var want []string
			for k, pairs := range windows {
				slices.SortFunc(pairs, func(a, b pair) int {
					if a.paid != b.paid {
						return int(b.paid - a.paid)
					}
					if a.id != b.id {
						return int(a.id - b.id)
					}
					return a.at.Compare(b.at)
				})
				for i, p := range pairs[:min(2, len(pairs))] {
					want = append(want, fmt.Sprintf(`{"we":"%s","customer":"%s","id":%d,"paid":%d,"rn":%d}`, k.end.Format(layout), k.cust, p.id, p.paid, i+1))
				}
			}
			slices.Sort(want)
			recs := readExactly(t, n.tr, "top", len(want))
			for _, r := range recs {
				if r.Value == nil {
					t.Fatalf("a final top-N deleted a row (key %x)", r.Key)
				}
			}
			compareRows(t, rowsOnce(t, recs), want)
			if late := e.mu.pipelines["top"].stats.late.Load(); late != 0 {
				t.Errorf("%d late", late)
			}
		})
}
