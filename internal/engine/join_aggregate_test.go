package engine

import (
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"testing"
)

// TestAggregatedJoinAgainstOracle: a GROUP BY over a join of two streams
// runs in one pipeline, the joined rows feeding a second stateful stage;
// each group's latest row is the brute-force evaluation's — inner, and
// LEFT with exactly-once.
func TestAggregatedJoinAgainstOracle(t *testing.T) {
	for _, c := range []struct {
		name, kind, opts string
		outer            [2]bool
	}{
		{"inner", "", "", [2]bool{}},
		{"left exactly-once", "LEFT", ", delivery.guarantee = 'exactly_once'", [2]bool{true, false}},
	} {
		t.Run(c.name, func(t *testing.T) {
			orders, payments := genOrdersPayments(13, 700)
			// The oracle's pairs ("id|paid|paid_at", WHERE applied), grouped
			// by the order's customer (c<id % 7>).
			type group struct{ n, paidN, paid int64 }
			want := map[string]group{}
			for _, row := range intervalOracle(orders, payments, c.outer) {
				parts := strings.Split(row, "|")
				id, _ := strconv.ParseInt(parts[0], 10, 64)
				g := want[fmt.Sprintf("c%d", id%7)]
				g.n++
				if parts[1] != "<nil>" {
					paid, _ := strconv.ParseInt(parts[1], 10, 64)
					g.paidN, g.paid = g.paidN+1, g.paid+paid
				}
				want[fmt.Sprintf("c%d", id%7)] = g
			}
			n, e := sjEngine(t, nil, false)
			mustExec(t, e, fmt.Sprintf(`CREATE SINK spend WITH (connector = 'topic', topic = 'out'%s) AS
				SELECT o.customer, count(*) AS n, count(p.amount) AS paid_n, sum(p.amount) AS paid
				FROM orders o %s JOIN payments p
				  ON o.id = p.order_id AND p.order_id >= 0
				 AND p.paid_at BETWEEN o.placed_at - INTERVAL '2' SECOND AND o.placed_at + INTERVAL '10' SECOND
				WHERE o.id >= 0 AND o.amount > 10
				GROUP BY o.customer`, c.opts, c.kind))
			produceOrdersPayments(t, n.tr, orders, payments, 17)
			got := map[string]group{}
			waitFor(t, "every group's final row", func() bool {
				for _, r := range readAll(t, n.tr, "out", 1) {
					var row struct {
						Customer string `json:"customer"`
						N        int64  `json:"n"`
						PaidN    int64  `json:"paid_n"`
						Paid     *int64 `json:"paid"`
					}
					if err := json.Unmarshal(r.Value, &row); err != nil {
						t.Fatalf("row %s: %v", r.Value, err)
					}
					if string(r.Key) != row.Customer {
						t.Fatalf("row %s has key %s, want its customer", r.Value, r.Key)
					}
					g := group{n: row.N, paidN: row.PaidN}
					if row.Paid != nil {
						g.paid = *row.Paid
					}
					got[row.Customer] = g
				}
				return maps.Equal(got, want)
			})
			if st := e.mu.pipelines["spend"].stateful; st.next == nil || st.next.agg == nil {
				t.Error("the pipeline does not run in two stages")
			}
		})
	}
}
