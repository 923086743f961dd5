package engine

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// Final top-Ns over an inner window join's own rows, partitioned by a
// window_end: every pair of a window has come once the join's watermark
// passes its end, so each partition's rows are emitted once and the
// partition is forgotten. Checked against the brute-force pairs with
// both guarantees, exactly-once restarted halfway.

// A TUMBLE window join, by the left side's window_end: each window's
// three largest payments.
func TestFinalTopNOverWindowJoinRows(t *testing.T) {
	orders, payments := genOrdersPayments(71, 600)
	ordersPaymentsInRuns(t, orders, payments, 73, "top",
		func(t *testing.T, e *Engine, opts string) {
			mustExec(t, e, `CREATE SINK top WITH (connector = 'topic', topic = 'top'`+opts+`) AS
				SELECT we, id, paid, rn FROM (
				  SELECT o.window_end AS we, o.id, p.amount AS paid,
				         ROW_NUMBER() OVER (PARTITION BY o.window_end ORDER BY p.amount DESC, o.id, p.paid_at) AS rn
				  FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '5' SECOND) o
				  JOIN TUMBLE(TABLE payments, DESCRIPTOR(paid_at), INTERVAL '5' SECOND) p
				    ON o.id = p.order_id AND p.window_start = o.window_start) WHERE rn <= 3`)
			if tn := e.mu.pipelines["top"].plan.TopN; tn == nil || tn.Updating() {
				t.Fatal("the top-N over the window join's rows by window_end updates")
			}
		},
		func(t *testing.T, n *node, e *Engine) {
			windows := map[string][]rankedPair{}
			for _, o := range orders {
				for _, p := range payments {
					if start := o.ts.Truncate(5 * time.Second); p.orderID == o.id && p.ts.Truncate(5*time.Second).Equal(start) {
						end := start.Add(5 * time.Second).Format(rankedLayout)
						windows[end] = append(windows[end], rankedPair{o.id, int64(p.amount), p.ts})
					}
				}
			}
			var want []string
			for end, pairs := range windows {
				for i, p := range topPairs(pairs, 3) {
					want = append(want, fmt.Sprintf(`{"we":"%s","id":%d,"paid":%d,"rn":%d}`, end, p.id, p.paid, i+1))
				}
			}
			checkFinalRows(t, n, e, "top", want)
		})
}

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
			hopStarts := func(ts time.Time) []time.Time {
				var out []time.Time
				for s := ts.Truncate(2 * time.Second); s.After(ts.Add(-6 * time.Second)); s = s.Add(-2 * time.Second) {
					out = append(out, s)
				}
				return out
			}
			type part struct {
				cust string
				end  time.Time
			}
			windows := map[part][]rankedPair{}
			for _, o := range orders {
				for _, p := range payments {
					if p.orderID != o.id {
						continue
					}
					for _, s := range hopStarts(o.ts) {
						if slices.ContainsFunc(hopStarts(p.ts), s.Equal) {
							k := part{fmt.Sprintf("c%d", o.id%7), s.Add(6 * time.Second)}
							windows[k] = append(windows[k], rankedPair{o.id, int64(p.amount), p.ts})
						}
					}
				}
			}
			var want []string
			for k, pairs := range windows {
				for i, p := range topPairs(pairs, 2) {
					want = append(want, fmt.Sprintf(`{"we":"%s","customer":"%s","id":%d,"paid":%d,"rn":%d}`, k.end.Format(rankedLayout), k.cust, p.id, p.paid, i+1))
				}
			}
			checkFinalRows(t, n, e, "top", want)
		})
}

const rankedLayout = "2006-01-02T15:04:05"

// rankedPair is an order and one of its payments, as the tests rank them.
type rankedPair struct {
	id, paid int64
	at       time.Time
}

// topPairs is the first n of pairs by the tests' ORDER BY: amount paid
// descending, then order id, then payment time.
func topPairs(pairs []rankedPair, n int) []rankedPair {
	slices.SortFunc(pairs, func(a, b rankedPair) int {
		if a.paid != b.paid {
			return int(b.paid - a.paid)
		}
		if a.id != b.id {
			return int(a.id - b.id)
		}
		return a.at.Compare(b.at)
	})
	return pairs[:min(n, len(pairs))]
}

// checkFinalRows reads a final top-N's rows: no deletion, each key once,
// the oracle's rows, none late.
func checkFinalRows(t *testing.T, n *node, e *Engine, topic string, want []string) {
	t.Helper()
	slices.Sort(want)
	recs := readExactly(t, n.tr, topic, len(want))
	for _, r := range recs {
		if r.Value == nil {
			t.Fatalf("a final top-N deleted a row (key %x)", r.Key)
		}
	}
	compareRows(t, rowsOnce(t, recs), want)
	if late := e.mu.pipelines[topic].stats.late.Load(); late != 0 {
		t.Errorf("%d late", late)
	}
}
