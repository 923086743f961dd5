package plan

import "testing"

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
