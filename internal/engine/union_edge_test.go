package engine

import (
	"context"
	"strings"
	"testing"
)

// An ad-hoc query is one SELECT over one view: a UNION ALL over two
// views must either read both or be refused, never evaluate the first
// view's compiled query over the second view's rows.
func TestQueryUnionOverViews(t *testing.T) {
	n, e := sjEngine(t, nil, true)
	mustExec(t, e, `CREATE MATERIALIZED VIEW ov AS SELECT id, customer FROM orders KEY BY id`)
	mustExec(t, e, `CREATE MATERIALIZED VIEW pv AS SELECT order_id, paid_at FROM payments KEY BY order_id`)
	produceValue(t, n.tr, "orders", `{"id":1,"customer":"alice","amount":5,"placed_at":"2026-03-01 00:00:00"}`)
	produceValue(t, n.tr, "orders", `{"id":2,"customer":"bob","amount":5,"placed_at":"2026-03-01 00:00:01"}`)
	produceValue(t, n.tr, "payments", `{"order_id":7,"amount":5,"paid_at":"2026-03-01 00:00:02"}`)
	waitFor(t, "both views' rows", func() bool {
		ov, ok1 := e.View("ov")
		pv, ok2 := e.View("pv")
		return ok1 && ok2 && ov.Table.Len() == 2 && pv.Table.Len() == 1
	})
	res, err := e.Query(context.Background(), "SELECT id, customer FROM ov UNION ALL SELECT order_id, 'payment' FROM pv", 0)
	if err != nil {
		t.Logf("refused (acceptable): %v", err)
		return
	}
	var rows []string
	for _, r := range res.Rows {
		rows = append(rows, string(r))
	}
	if len(res.Rows) != 3 {
		t.Errorf("UNION ALL over views ov (2 rows) and pv (1 row) returned %d rows, scanned %d: %s", len(res.Rows), res.Scanned, strings.Join(rows, " "))
	}
}

// A view keeps one row per key: every query of a UNION ALL view must
// have one, not only the first.
func TestViewUnionBranchWithoutKey(t *testing.T) {
	_, e := sjEngine(t, nil, true)
	_, err := execError(t, e, `CREATE MATERIALIZED VIEW uv AS
		SELECT id FROM orders KEY BY id
		UNION ALL
		SELECT order_id FROM payments`, ExecOptions{})
	if err == nil {
		t.Errorf("a view whose second UNION ALL query has no key was created")
	}
}

// An ad-hoc query joining two views: refused (joins are for pipelines),
// not evaluated over one view's rows.
func TestQueryJoinOfViews(t *testing.T) {
	n, e := sjEngine(t, nil, true)
	mustExec(t, e, `CREATE MATERIALIZED VIEW ov AS SELECT id, customer FROM orders KEY BY id`)
	mustExec(t, e, `CREATE MATERIALIZED VIEW pv AS SELECT order_id, paid_at FROM payments KEY BY order_id`)
	produceValue(t, n.tr, "orders", `{"id":1,"customer":"alice","amount":5,"placed_at":"2026-03-01 00:00:00"}`)
	produceValue(t, n.tr, "payments", `{"order_id":1,"amount":5,"paid_at":"2026-03-01 00:00:02"}`)
	waitFor(t, "both views' rows", func() bool {
		ov, ok1 := e.View("ov")
		pv, ok2 := e.View("pv")
		return ok1 && ok2 && ov.Table.Len() == 1 && pv.Table.Len() == 1
	})
	res, err := e.Query(context.Background(), "SELECT o.customer, p.paid_at FROM ov o JOIN pv p ON o.id = p.order_id", 0)
	if err == nil {
		var rows []string
		for _, r := range res.Rows {
			rows = append(rows, string(r))
		}
		t.Errorf("a join of two views ran as a query: %s", strings.Join(rows, " "))
	}
}
