package engine

import (
	"fmt"
	"slices"
	"testing"

	"github.com/tide-data/tide/internal/transport"
)

// A join's state beyond its memory budget (state.memory): the join keys
// past it leave memory after each checkpoint and are read back from the
// task's store when a row with the key comes or one of their rows
// expires. With budgets of a few KiB — almost every key evicted, and
// read back, many times — a regular FULL join (rows kept for ever) and an
// interval LEFT join give the brute-force evaluation's rows, at-least-once
// and exactly-once across a restart on an empty state directory (the
// restored state loaded up to the budget, the rest left in the store).
func TestJoinStateBeyondMemory(t *testing.T) {
	orders, payments := genOrdersPayments(29, 500)
	regular := regularOracle(orders, payments, [2]bool{true, true})
	interval := intervalOracle(orders, payments, [2]bool{true, false})
	ordersPaymentsInRuns(t, orders, payments, 31, "regular",
		func(t *testing.T, e *Engine, opts string) {
			mustExec(t, e, `CREATE SINK regular WITH (connector = 'topic', topic = 'regular', state.memory = '16KiB', checkpoint.interval = '50ms'`+opts+`) AS
				SELECT o.id, p.amount AS paid, p.paid_at FROM orders o FULL JOIN payments p ON o.id = p.order_id
				WHERE (o.id IS NULL AND p.order_id >= 0) OR (o.id >= 0 AND o.amount > 10)
				KEY BY concat(o.id, '|', p.order_id, '|', p.amount, '|', p.paid_at)`)
			mustExec(t, e, fmt.Sprintf(`CREATE SINK bounded WITH (connector = 'topic', topic = 'bounded', state.memory = '4KiB', checkpoint.interval = '50ms'`+opts+`) AS `+sjQuery, "LEFT"))
		},
		func(t *testing.T, n *node, e *Engine) {
			compareRows(t, joinedRows(t, readExactly(t, n.tr, "bounded", len(interval))), interval)
			waitFor(t, "the regular join's rows by key to be the oracle's", func() bool {
				var recs []*transport.Record
				for _, v := range currentRows(t, n, "regular") {
					recs = append(recs, &transport.Record{Value: []byte(v)})
				}
				return slices.Equal(joinedRows(t, recs), regular)
			})
			p := e.mu.pipelines["regular"]
			if evicted := p.stats.stateEvicted.Load(); evicted == 0 {
				t.Errorf("no row of the regular join evicted (%d bytes in memory): the test exercised nothing", p.stats.stateMemory.Load())
			} else {
				t.Logf("regular join: %d rows evicted, %d bytes in memory", evicted, p.stats.stateMemory.Load())
			}
		})
}
