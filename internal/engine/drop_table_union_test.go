package engine

import (
	"context"
	"strings"
	"testing"
)

// A table joined only inside a later UNION ALL query's fed subquery is
// read by the sink: DROP SOURCE refuses it, as it refuses a table the
// sink's first query (or that query's feeds) joins.
func TestDropTableJoinedInLaterUnionFeed(t *testing.T) {
	_, e := joinNode(t)
	mustExec(t, e, `CREATE SOURCE regions (region text, label text) WITH (connector = 'topic', topic = 'regions', 'primary-key' = 'region')`)
	// A GROUP BY over a UNION ALL, as the second query of the sink's UNION ALL.
	mustExec(t, e, `CREATE SINK per_label WITH (connector = 'blackhole') AS
		SELECT CAST(customer AS text) AS label, count(*) AS n FROM orders GROUP BY customer
		UNION ALL
		SELECT label, count(*) AS n FROM (SELECT r.label FROM orders o JOIN regions r ON CAST(o.customer AS text) = r.region
		  UNION ALL SELECT 'all' FROM orders) u GROUP BY label`)
	// A join of two streams whose side enriches orders, as the second query.
	mustExec(t, e, `CREATE SINK pairs WITH (connector = 'blackhole') AS
		SELECT o.id, o.amount FROM orders o
		UNION ALL
		SELECT x.id, o2.amount FROM (SELECT o.id, r.label FROM orders o JOIN regions r ON CAST(o.customer AS text) = r.region) x
		  JOIN orders o2 ON x.id = o2.id`)
	if _, err := e.Execute(context.Background(), "DROP SOURCE regions", ExecOptions{}); err == nil || !strings.Contains(err.Error(), "sink pairs, per_label reads it") {
		t.Fatalf("DROP SOURCE of a table two sinks' later UNION ALL queries join in a subquery: %v, want it refused naming both", err)
	}
}
