package engine

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"
)

// shippedWithin is the tests' bound of a shipment: within 30 s after
// the payment.
func shippedWithin(_ sjOrder, p sjPayment, s sjShipment) bool {
	return !s.ts.Before(p.ts) && !s.ts.After(p.ts.Add(30*time.Second))
}

// The rows of a join of three streams aggregated in the same pipeline:
// per carrier in a stage after the last join's, and per order (the last
// join's key) in the last join's own tasks; each group's final row
// against a brute-force evaluation.
func TestAggregatedThreeStreamJoin(t *testing.T) {
	for _, c := range []struct {
		name, group, opts string
		fused             bool
	}{
		{"per carrier, exactly-once", "s.carrier", ", delivery.guarantee = 'exactly_once'", false},
		{"per order, in the join's tasks", "s.order_id", "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			orders, payments := genOrdersPayments(73, 400)
			shipments := genShipments(79, payments, len(orders))
			type sums struct{ n, paid int }
			groups := map[string]sums{} // by the sink's key: the group's value
			for _, r := range threeWayOracleRows(orders, payments, shipments, shippedWithin) {
				k := r.s.carrier
				if c.fused {
					k = fmt.Sprint(r.s.orderID)
				}
				g := groups[k]
				groups[k] = sums{g.n + 1, g.paid + r.p.amount}
			}
			want := map[string]string{}
			for k, g := range groups {
				grp := fmt.Sprintf("%q", k)
				if c.fused {
					grp = k
				}
				want[k] = fmt.Sprintf(`{"grp":%s,"n":%d,"paid":%d}`, grp, g.n, g.paid)
			}
			n, e := sjEngine(t, nil, false)
			mustExec(t, e, sjShipments)
			mustExec(t, e, fmt.Sprintf(`CREATE SINK per_group WITH (connector = 'topic', topic = 'out'%s) AS
				SELECT %[2]s AS grp, count(*) AS n, sum(p.amount) AS paid
				FROM orders o JOIN payments p
				  ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at - INTERVAL '2' SECOND AND o.placed_at + INTERVAL '10' SECOND
				JOIN shipments s ON s.order_id = p.order_id AND s.shipped_at BETWEEN p.paid_at AND p.paid_at + INTERVAL '30' SECOND
				WHERE o.id >= 0 AND o.amount > 10
				GROUP BY %[2]s`, c.opts, c.group))
			joined := e.mu.pipelines["per_group"].stateful.next
			if joined == nil || joined.join == nil || joined.fused() != c.fused || !c.fused && (joined.next == nil || joined.next.agg == nil) {
				t.Fatalf("the stages are not a join, a join %s", map[bool]string{true: "aggregating itself", false: "then an aggregation"}[c.fused])
			}
			produceThree(t, n.tr, orders, payments, shipments, 83, true)
			deadline := time.Now().Add(20 * time.Second)
			for got := currentRows(t, n, "out"); !maps.Equal(got, want); got = currentRows(t, n, "out") {
				if time.Now().After(deadline) {
					t.Fatalf("groups:\n got %v\nwant %v", got, want)
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}

// A top-N ranks the rows of a join of three streams: per carrier, the
// two largest payments shipped, kept up to date (an updating top-N in a
// stage after the last join's).
func TestTopNOverThreeStreamJoin(t *testing.T) {
	orders, payments := genOrdersPayments(89, 400)
	shipments := genShipments(97, payments, len(orders))
	byCarrier := map[string][]threeWayRow{}
	for _, r := range threeWayOracleRows(orders, payments, shipments, shippedWithin) {
		byCarrier[r.s.carrier] = append(byCarrier[r.s.carrier], r)
	}
	want := map[string]string{}
	for carrier, rows := range byCarrier {
		slices.SortFunc(rows, func(a, b threeWayRow) int {
			return cmp.Or(cmp.Compare(b.p.amount, a.p.amount), cmp.Compare(b.o.id, a.o.id))
		})
		for i, r := range rows[:min(2, len(rows))] {
			want[fmt.Sprintf(`[%q,%d]`, carrier, i+1)] = fmt.Sprintf(`{"carrier":%q,"paid":%d,"id":%d,"rn":%d}`, carrier, r.p.amount, r.o.id, i+1)
		}
	}
	n, e := sjEngine(t, nil, false)
	mustExec(t, e, sjShipments)
	mustExec(t, e, `CREATE SINK top_shipped WITH (connector = 'topic', topic = 'out') AS
		SELECT carrier, paid, id, rn FROM (
		  SELECT s.carrier, p.amount AS paid, o.id,
		         ROW_NUMBER() OVER (PARTITION BY s.carrier ORDER BY p.amount DESC, o.id DESC) AS rn
		  FROM orders o JOIN payments p
		    ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at - INTERVAL '2' SECOND AND o.placed_at + INTERVAL '10' SECOND
		  JOIN shipments s ON s.order_id = p.order_id AND s.shipped_at BETWEEN p.paid_at AND p.paid_at + INTERVAL '30' SECOND
		  WHERE o.id >= 0 AND o.amount > 10) WHERE rn <= 2`)
	produceThree(t, n.tr, orders, payments, shipments, 101, true)
	waitFor(t, "every carrier's top two", func() bool { return maps.Equal(currentRows(t, n, "out"), want) })
}
