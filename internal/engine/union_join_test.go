package engine

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// A UNION ALL as the left side of a join of two streams: orders and
// payments together (each query with its own WHERE, its rows keeping
// their source's watermark) joined with the payments within [-2 s, +10 s]
// of each row's time — inner, and LEFT (a union row that never met a
// payment comes out NULL-padded once the watermark passes it) — the
// outer WHERE over the union's side applied before the join. Checked
// against a brute-force evaluation, at-least-once and exactly-once across
// a restart on an empty state directory.
func TestJoinOfUnionAll(t *testing.T) {
	orders, payments := genOrdersPayments(37, 400)
	const union = `(SELECT id, 'o' AS kind, placed_at AS at FROM orders WHERE id >= 0
		UNION ALL SELECT order_id, 'p', paid_at FROM payments WHERE order_id >= 0) AS u`
	const on = `ON u.id = p.order_id AND p.paid_at BETWEEN u.at - INTERVAL '2' SECOND AND u.at + INTERVAL '10' SECOND`
	ordersPaymentsInRuns(t, orders, payments, 41, "union_join",
		func(t *testing.T, e *Engine, opts string) {
			mustExec(t, e, `CREATE SINK union_join WITH (connector = 'topic', topic = 'union_join'`+opts+`) AS
				SELECT u.id, u.kind, p.amount AS paid, p.paid_at FROM `+union+` JOIN payments p `+on+` WHERE u.id % 3 <> 0`)
			mustExec(t, e, `CREATE SINK union_left WITH (connector = 'topic', topic = 'union_left'`+opts+`) AS
				SELECT u.id, u.kind, p.amount AS paid, p.paid_at FROM `+union+` LEFT JOIN payments p `+on+` WHERE u.id % 3 <> 0`)
			// Without a time bound: a regular LEFT join, its lonely rows
			// emitted at once and taken back at their first match.
			mustExec(t, e, `CREATE SINK union_regular WITH (connector = 'topic', topic = 'union_regular'`+opts+`) AS
				SELECT u.id, u.kind, p.amount AS paid, p.paid_at FROM `+union+` LEFT JOIN payments p ON u.id = p.order_id
				WHERE u.id % 3 <> 0
				KEY BY concat(u.id, '|', u.kind, '|', u.at, '|', p.amount, '|', p.paid_at)`)
			for _, sink := range []string{"union_join", "union_left", "union_regular"} {
				if p := e.mu.pipelines[sink]; len(p.inputs) != 3 || p.inputs[1].feed == nil {
					t.Fatalf("%s: %d inputs, not one per query and the right side", sink, len(p.inputs))
				}
			}
		},
		func(t *testing.T, n *node, e *Engine) {
			inner, left, regular := unionJoinOracle(orders, payments)
			waitFor(t, "the regular join's rows by key to be the oracle's", func() bool {
				var recs []*transport.Record
				for _, v := range currentRows(t, n, "union_regular") {
					recs = append(recs, &transport.Record{Value: []byte(v)})
				}
				got := unionJoinRows(t, recs)
				slices.Sort(got)
				return slices.Equal(slices.Compact(got), regular)
			})
			for sink, want := range map[string][]string{"union_join": inner, "union_left": left} {
				got := unionJoinRows(t, readExactly(t, n.tr, sink, len(want)))
				slices.Sort(got)
				compareRows(t, got, want)
				if late := e.mu.pipelines[sink].stats.late.Load(); late != 0 {
					t.Errorf("%s: %d rows late", sink, late)
				}
			}
		})
}

// unionJoinRows reads the joins' rows as id|kind|paid|paid_at.
func unionJoinRows(t *testing.T, recs []*transport.Record) []string {
	t.Helper()
	var got []string
	for _, r := range recs {
		var row struct {
			ID     int64
			Kind   string
			Paid   *int
			PaidAt *string `json:"paid_at"`
		}
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatalf("%s: %v", r.Value, err)
		}
		paid := "<nil>|<nil>"
		if row.Paid != nil {
			at, err := time.Parse("2006-01-02T15:04:05.999999", *row.PaidAt)
			if err != nil {
				t.Fatal(err)
			}
			paid = fmt.Sprintf("%d|%s", *row.Paid, at.Format("2006-01-02T15:04:05.999"))
		}
		got = append(got, fmt.Sprintf("%d|%s|%s", row.ID, row.Kind, paid))
	}
	return got
}

// unionJoinOracle joins the union's rows (orders, and payments of an
// order id >= 0) with every payment of the same order id within [-2 s,
// +10 s] of the row's time; left adds the rows that met none; regular is
// the LEFT join without a time bound, rows that are equal once (as under
// one key).
func unionJoinOracle(orders []sjOrder, payments []sjPayment) (inner, left, regular []string) {
	type row struct {
		id   int64
		kind string
		at   time.Time
	}
	var rows []row
	for _, o := range orders {
		if o.id >= 0 {
			rows = append(rows, row{o.id, "o", o.ts})
		}
	}
	for _, p := range payments {
		if p.orderID >= 0 {
			rows = append(rows, row{p.orderID, "p", p.ts})
		}
	}
	for _, r := range rows {
		if r.id%3 == 0 { // the outer WHERE over the union's side
			continue
		}
		met, paid := false, false
		for _, p := range payments {
			if p.orderID != r.id {
				continue
			}
			pair := fmt.Sprintf("%d|%s|%d|%s", r.id, r.kind, p.amount, p.ts.Format("2006-01-02T15:04:05.999"))
			regular, paid = append(regular, pair), true
			if !p.ts.Before(r.at.Add(-2*time.Second)) && !p.ts.After(r.at.Add(10*time.Second)) {
				met = true
				inner = append(inner, pair)
				left = append(left, pair)
			}
		}
		lonely := fmt.Sprintf("%d|%s|<nil>|<nil>", r.id, r.kind)
		if !met {
			left = append(left, lonely)
		}
		if !paid {
			regular = append(regular, lonely)
		}
	}
	slices.Sort(inner)
	slices.Sort(left)
	slices.Sort(regular)
	return inner, left, slices.Compact(regular)
}
