package engine

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/tide-data/tide/internal/transport"
)

// regularOracle is the join without a time bound: every order with
// every payment of it, whenever they came; with outer[0] an order never
// paid with NULLs, with outer[1] a payment of no order.
func regularOracle(orders []sjOrder, payments []sjPayment, outer [2]bool) []string {
	rows := joinOracle(orders, payments, outer, func(sjOrder, sjPayment) bool { return true })
	return slices.Compact(rows) // a payment repeated exactly is one row under its key
}

// An outer join without a time bound (Flink's regular outer join) emits
// a row of an outer side that has no partner yet at once, NULL-padded,
// and when its first partner comes takes that row back (a tombstone of
// its KEY BY key) before the pairs: the topic's rows by key end as every
// pair and every row never matched. Rows come before and after their
// partners, so both ways of meeting are exercised.
func TestUpdatingOuterJoinAgainstOracle(t *testing.T) {
	for _, c := range []struct {
		kind  string
		outer [2]bool
	}{{"LEFT", [2]bool{true, false}}, {"RIGHT", [2]bool{false, true}}, {"FULL", [2]bool{true, true}}} {
		t.Run(c.kind, func(t *testing.T) {
			orders, payments := genOrdersPayments(5, 600)
			want := regularOracle(orders, payments, c.outer)
			n, e := sjEngine(t, nil, false)
			mustExec(t, e, `CREATE SINK paid WITH (connector = 'topic', topic = 'out') AS
				SELECT o.id, p.amount AS paid, p.paid_at FROM orders o `+c.kind+` JOIN payments p ON o.id = p.order_id
				WHERE (o.id IS NULL AND p.order_id >= 0) OR (o.id >= 0 AND o.amount > 10)
				KEY BY concat(o.id, '|', p.order_id, '|', p.amount, '|', p.paid_at)`)
			if st := e.mu.pipelines["paid"].plan.StreamJoin; st.Updating != c.outer {
				t.Fatalf("the join's updating sides are %v, want %v", st.Updating, c.outer)
			}
			produceOrdersPayments(t, n.tr, orders, payments, 11)
			waitFor(t, "the rows by key to be the oracle's", func() bool {
				var recs []*transport.Record
				for _, v := range currentRows(t, n, "out") {
					recs = append(recs, &transport.Record{Value: []byte(v)})
				}
				return slices.Equal(joinedRows(t, recs), want)
			})
			// Some rows were emitted alone first and replaced: tombstones.
			tombstones := 0
			for _, r := range readSoFar(t, n.tr, "out") {
				if r.Value == nil {
					tombstones++
				}
			}
			if tombstones == 0 {
				t.Error("no NULL-padded row was ever taken back; the test exercised nothing")
			}
			t.Logf("%d rows, %d NULL-padded rows taken back", len(want), tombstones)
		})
	}
}

// The same join aggregated: count(*) counts an order's NULL-padded row
// until its first payment takes it back. Per customer in a second stage
// (the retractions travel with the pairs), per order in the join's own
// tasks; with exactly-once, the engine is closed halfway and opened on
// an empty state directory.
func TestUpdatingLeftJoinAggregated(t *testing.T) {
	for _, c := range []struct {
		name, column string
		fused        bool
	}{
		{"per customer", "o.customer", false},
		{"per order", "o.id", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			orders, payments := genOrdersPayments(8, 600)
			want := groupSums(regularOracle(orders, payments, [2]bool{true, false}), c.fused)
			n := openNode(t, t.TempDir())
			e := openEngineWith(t, n, func(cfg *Config) { cfg.StateDir = t.TempDir() })
			mustExec(t, e, sjOrders)
			mustExec(t, e, sjPayments)
			mustExec(t, e, fmt.Sprintf(`CREATE SINK spend WITH (connector = 'topic', topic = 'out', delivery.guarantee = 'exactly_once') AS
				SELECT %[1]s AS grp, count(*) AS n, count(p.amount) AS paid_n, sum(p.amount) AS paid
				FROM orders o LEFT JOIN payments p ON o.id = p.order_id
				WHERE o.id >= 0 AND o.amount > 10 GROUP BY %[1]s`, c.column))
			if st := e.mu.pipelines["spend"].stateful; st.fused() != c.fused {
				t.Fatalf("fused: %v, want %v", st.fused(), c.fused)
			}
			half := len(orders) / 2
			first, rest := splitPayments(payments, orders[half].ts)
			produceHalf(t, n.tr, orders[:half], first)
			waitFor(t, "some groups", func() bool { return len(currentRows(t, n, "out")) > 5 })
			closeEngine(t, e)
			e = openEngineWith(t, n, func(cfg *Config) { cfg.StateDir = t.TempDir() })
			t.Cleanup(func() { closeEngine(t, e); n.close(t) })
			produceOrdersPayments(t, n.tr, orders[half:], rest, 5)
			got := map[string]paymentSums{}
			waitFor(t, "every group's final row", func() bool {
				clear(got)
				for key, v := range currentRows(t, n, "out") {
					_, got[key] = decodeSums(t, []byte(v))
				}
				return maps.Equal(got, want)
			})
		})
	}
}

// An aggregation of an aggregation of a regular LEFT join whose inner
// group key is on the NULL-padded side: the padded rows' group (NULL)
// empties when its only row is taken back, and the outer stage takes
// that group's row back (a group gone has no new row to send).
func TestOuterOverUpdatingJoinGroupEmpties(t *testing.T) {
	n, e := sjEngine(t, nil, true)
	mustExec(t, e, `CREATE SINK s WITH (connector = 'topic', topic = 'out') AS
		SELECT count(*) AS groups, sum(n) AS total FROM (
			SELECT p.order_id AS k, count(*) AS n FROM orders o LEFT JOIN payments p ON o.id = p.order_id GROUP BY p.order_id)`)
	produceValue(t, n.tr, "orders", `{"id":1,"customer":"c1","amount":20,"placed_at":"2026-03-01 00:00:00"}`)
	waitFor(t, "the padded row counted", func() bool {
		return currentRows(t, n, "out")[""] == `{"groups":1,"total":1}`
	})
	// Two payments of the order: its padded row (group NULL) is taken
	// back, which empties that group; the pairs make group 1 of two rows.
	produceValue(t, n.tr, "payments", `{"order_id":1,"amount":5,"paid_at":"2026-03-01 00:00:01"}`)
	produceValue(t, n.tr, "payments", `{"order_id":1,"amount":6,"paid_at":"2026-03-01 00:00:02"}`)
	waitFor(t, "the pairs counted, the padded row gone", func() bool {
		return currentRows(t, n, "out")[""] == `{"groups":1,"total":2}`
	})
}
