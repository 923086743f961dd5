package plan

import (
	"strings"
	"testing"

	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/parser"
)

// An aggregate's argument over a window join's pairs may read the
// windows' bounds, also when the pairs are aggregated by their windows:
// they are columns of the joined row.
func TestWindowJoinAggregateArgumentReadsWindow(t *testing.T) {
	_, err := analyzeSinkSQL(t, `CREATE SINK early_payers WITH (connector = 'topic', topic = 'x') AS
		SELECT o.window_start, o.window_end, count(CASE WHEN p.paid_at < o.window_start + INTERVAL '30' SECOND THEN 1 END) AS early
		FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE) o
		JOIN TUMBLE(TABLE payments, DESCRIPTOR(paid_at), INTERVAL '1' MINUTE) p ON o.id = p.order_id AND o.window_start = p.window_start
		GROUP BY o.window_start, o.window_end`)
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
}

// EXPLAIN of a GROUP BY over an aggregated window join's windows' rows
// names the join's windows once.
func TestExplainWindowsOfTheJoinOnce(t *testing.T) {
	p, err := analyzeSinkSQL(t, `CREATE SINK s WITH (connector = 'topic', topic = 'x') AS
		SELECT window_start, window_end, max(n) FROM (SELECT o.window_start, o.window_end, o.customer, count(*) AS n
		FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE) o
		JOIN TUMBLE(TABLE payments, DESCRIPTOR(paid_at), INTERVAL '1' MINUTE) p ON o.id = p.order_id AND o.window_start = p.window_start
		GROUP BY o.window_start, o.window_end, o.customer) GROUP BY window_start, window_end`)
	if err != nil {
		t.Fatal(err)
	}
	if w := p.Outer.Aggregation.WindowText; w == "the windows of the windows of the join (TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE))" {
		t.Errorf("EXPLAIN: window: %s", w)
	}
}

// The join's tasks hold their watermark back by the windowed side's
// Keep whatever stages follow the windows: a top-N, a cascade, an
// updating GROUP BY over the windows' rows.
func TestWindowLagThroughStages(t *testing.T) {
	const rows = `TUMBLE(TABLE (SELECT o.customer, p.paid_at FROM orders o JOIN payments p ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at - INTERVAL '2' SECOND AND o.placed_at + INTERVAL '10' SECOND), DESCRIPTOR(paid_at), INTERVAL '1' MINUTE)`
	for _, sql := range []string{
		`SELECT * FROM (SELECT customer, window_start, n, ROW_NUMBER() OVER (PARTITION BY window_start ORDER BY n DESC) AS rk FROM (SELECT customer, window_start, window_end, count(*) AS n FROM ` + rows + ` GROUP BY customer, window_start, window_end)) WHERE rk <= 3`,
		`SELECT window_start, sum(n) FROM (SELECT customer, window_start, window_end, count(*) AS n FROM ` + rows + ` GROUP BY customer, window_start, window_end) GROUP BY window_start, window_end`,
		`SELECT ws, sum(n) FROM (SELECT window_start AS ws, window_end, count(*) AS n FROM ` + rows + ` GROUP BY window_start, window_end) GROUP BY ws`,
	} {
		p, err := analyzeSinkSQL(t, `CREATE SINK s WITH (connector = 'stdout') AS `+sql)
		if err != nil {
			t.Fatal(err)
		}
		if p.StreamJoin == nil || p.StreamJoin.WindowLag != 2_000_000 {
			t.Errorf("%s: WindowLag %v", sql, p.StreamJoin)
		}
	}
}

// EXPLAIN of the windows of a join's rows with quoted names still says
// the join's rows, by the side's column.
func TestWindowJoinRowsQuotedNames(t *testing.T) {
	lookup := catalogOf(t, testSources+`
CREATE SOURCE "Pay" (order_id integer, "Paid At" timestamptz, WATERMARK FOR "Paid At" AS "Paid At" - INTERVAL '2' SECOND) WITH (connector = 'topic', topic = 'pay');`)
	stmt, err := parser.ParseOne(`CREATE SINK s WITH (connector = 'stdout') AS SELECT window_start, count(*) FROM TUMBLE(TABLE (SELECT p."Paid At" AS t FROM orders o JOIN "Pay" p ON o.id = p.order_id AND p."Paid At" BETWEEN o.placed_at AND o.placed_at + INTERVAL '10' SECOND), DESCRIPTOR(t), INTERVAL '1' MINUTE) GROUP BY window_start, window_end`)
	if err != nil {
		t.Fatal(err)
	}
	p, err := AnalyzeSink(stmt.(*ast.CreateSink), lookup, sinkConnectors, testOptions)
	if err != nil {
		t.Fatal(err)
	}
	if x := p.Explain(); !strings.Contains(x, "TABLE (the join's rows)") || !strings.Contains(x, "DESCRIPTOR(p.") {
		t.Errorf("EXPLAIN names the source's window, not the join's rows':\n%s", x)
	}
}

// A bound that keeps the windowed side's rows for a negative time: the
// join operator clamps Keep to 0 (join.New), and so does WindowLag.
func TestWindowLagNegativeBound(t *testing.T) {
	for _, sql := range []string{
		`SELECT window_start, count(*) FROM TUMBLE(TABLE (SELECT o.placed_at FROM orders o JOIN payments p ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at - INTERVAL '10' SECOND AND o.placed_at - INTERVAL '2' SECOND), DESCRIPTOR(placed_at), INTERVAL '1' MINUTE) GROUP BY window_start, window_end`,
		`SELECT window_start, count(*) FROM TUMBLE(TABLE (SELECT p.paid_at FROM orders o JOIN payments p ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at + INTERVAL '2' SECOND AND o.placed_at + INTERVAL '10' SECOND), DESCRIPTOR(paid_at), INTERVAL '1' MINUTE) GROUP BY window_start, window_end`,
	} {
		p, err := analyzeSinkSQL(t, `CREATE SINK s WITH (connector = 'stdout') AS `+sql)
		if err != nil {
			t.Fatal(err)
		}
		if lag := p.StreamJoin.WindowLag; lag < 0 {
			t.Errorf("WindowLag %d < 0 for %s", lag, sql)
		}
	}
}
