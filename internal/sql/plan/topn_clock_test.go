package plan

import (
	"strings"
	"testing"
)

// A top-N over a regular (updating) outer join takes a NULL-padded row
// back by evaluating the join's WHERE over it again: a clock in WHERE's
// residue (a conjunct over both sides, which cannot run before the join)
// would give another answer the second time, the retraction dropped and
// the padded row ranked for ever next to its pairs. Refused, as for a
// projection or aggregation of the same join.
func TestTopNOverUpdatingJoinRefusesClockInWhere(t *testing.T) {
	t.Parallel()
	const sql = "CREATE SINK k WITH (connector = 'stdout') AS " +
		"SELECT * FROM (SELECT o.id, p.amount AS paid, ROW_NUMBER() OVER (PARTITION BY o.customer ORDER BY o.amount DESC, p.amount) AS rn " +
		"FROM orders o LEFT JOIN payments p ON o.id = p.order_id " +
		"WHERE o.placed_at > now() - INTERVAL '10' MINUTE OR p.amount > 0) WHERE rn <= 3"
	p, err := analyzeSink(t, sql)
	if err == nil {
		t.Fatalf("accepted (retracting top-N: %v, WHERE %s); want now() refused as in the select list", p.TopN.Retracting, p.FilterText)
	}
	if !strings.Contains(err.Error(), "now()") {
		t.Errorf("refused for another reason: %v", err)
	}
	// The same WHERE over the join, projected with KEY BY, is refused.
	const projected = "CREATE SINK k WITH (connector = 'stdout') AS " +
		"SELECT o.id, p.amount FROM orders o LEFT JOIN payments p ON o.id = p.order_id " +
		"WHERE o.placed_at > now() - INTERVAL '10' MINUTE OR p.amount > 0 KEY BY o.id"
	if _, err := analyzeSink(t, projected); err == nil || !strings.Contains(err.Error(), "now()") {
		t.Errorf("the projection over the join: %v; want now() refused", err)
	}
}
