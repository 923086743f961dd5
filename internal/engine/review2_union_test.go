package engine

import (
	"context"
	"strings"
	"testing"
)

// An ad-hoc query is one SELECT over one view: a UNION ALL over two
// views must either read both or be refused, never evaluate the first
// view's compiled query over the second view's rows.
func TestReview2QueryUnionOverViews(t *testing.T) {
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
func TestReview2ViewUnionBranchWithoutKey(t *testing.T) {
	_, e := sjEngine(t, nil, true)
	_, err := execError(t, e, `CREATE MATERIALIZED VIEW uv AS
		SELECT id FROM orders KEY BY id
		UNION ALL
		SELECT order_id FROM payments`, ExecOptions{})
	if err == nil {
		t.Errorf("a view whose second UNION ALL query has no key was created")
	}
}
