package engine

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// UNION ALL: each query reads its own source into the one sink, with the
// first query's column names and the wider of each column's types
// (orders.id is bigint, payments.order_id integer); a source a query
// reads cannot be dropped under it.
func TestUnionAll(t *testing.T) {
	orders, payments := genOrdersPayments(5, 300)
	var want []string
	for _, o := range orders {
		if o.amount > 50 {
			want = append(want, fmt.Sprintf("%d|order|%d", o.id, o.amount))
		}
	}
	for _, p := range payments {
		if p.amount < 10 {
			want = append(want, fmt.Sprintf("%d|payment|%d", p.orderID, p.amount))
		}
	}
	slices.Sort(want)
	n, e := sjEngine(t, nil, false)
	mustExec(t, e, `CREATE SINK both_kinds WITH (connector = 'topic', topic = 'out') AS
		SELECT id, 'order' AS kind, amount FROM orders WHERE amount > 50
		UNION ALL
		SELECT order_id, 'payment', amount FROM payments WHERE amount < 10 AND order_id >= 0`)
	produceOrdersPayments(t, n.tr, orders, payments, 1)
	var got []string
	for _, r := range readExactly(t, n.tr, "out", len(want)) {
		var row struct {
			ID     int64  `json:"id"`
			Kind   string `json:"kind"`
			Amount int    `json:"amount"`
		}
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatalf("row %s: %v", r.Value, err)
		}
		got = append(got, fmt.Sprintf("%d|%s|%d", row.ID, row.Kind, row.Amount))
	}
	slices.Sort(got)
	compareRows(t, got, want)
	if _, err := execError(t, e, "DROP SOURCE payments", ExecOptions{}); err == nil || !strings.Contains(err.Message, "both_kinds") {
		t.Errorf("dropping a source a UNION ALL query reads: %v", err)
	}
}
