package plan

import (
	"strings"
	"testing"
)

// A union column named like a metadata column (here _timestamp, which one
// query computes) would hide the metadata column of the rows' sources: it
// is refused.
func TestUnionColumnNamedLikeMetadataRefused(t *testing.T) {
	p, err := analyzeSinkSQL(t, `CREATE SINK s WITH (connector = 'topic', topic = 'x') AS
		SELECT window_start, window_end, count(*) AS n
		FROM TUMBLE(TABLE (SELECT id, placed_at + INTERVAL '1' SECOND AS _timestamp FROM orders UNION ALL SELECT order_id, paid_at FROM payments),
		            DESCRIPTOR(_timestamp), INTERVAL '1' MINUTE)
		GROUP BY window_start, window_end`)
	if err == nil {
		c, ok := p.Feeds[0].Outputs[p.Aggregation.Time].Expr.Column()
		t.Fatalf("accepted: window time is union column %d, which orders' query computes (Column() = %d, %v)", p.Aggregation.Time, c, ok)
	}
}

// Errors say why: both sources declare a WATERMARK on the column the
// union windows by, but their types differ (timestamptz, timestamp), so
// the union casts one and has no event time — the error names the cast,
// not a WATERMARK to declare; and a query around the union's aggregation
// is told that the aggregation must be the sink's own query.
func TestUnionAllErrorsSayWhy(t *testing.T) {
	_, err := analyzeSinkSQL(t, `CREATE SINK s WITH (connector = 'topic', topic = 'x') AS
		SELECT window_start, window_end, count(*) AS n
		FROM TUMBLE(TABLE (SELECT placed_at AS at FROM orders UNION ALL SELECT ts FROM readings), DESCRIPTOR(at), INTERVAL '1' MINUTE)
		GROUP BY window_start, window_end`)
	if err == nil || strings.Contains(err.Error(), "in the source") || !strings.Contains(strings.ToLower(err.Error()), "union") {
		t.Errorf("windows over a union whose queries' WATERMARK columns differ in type: %v", err)
	}
	_, err = analyzeSinkSQL(t, `CREATE SINK s WITH (connector = 'topic', topic = 'x') AS
		SELECT who, n FROM (SELECT who, count(*) AS n FROM (SELECT customer AS who FROM orders UNION ALL SELECT url FROM clicks) u GROUP BY who) WHERE n > 1`)
	if err == nil || strings.Contains(err.Error(), "supported only as the FROM of a GROUP BY") {
		t.Errorf("a filter over a GROUP BY of a union: %v", err)
	}
}
