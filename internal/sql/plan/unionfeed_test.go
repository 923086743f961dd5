package plan

import (
	"errors"
	"strings"
	"testing"
)

// A GROUP BY over a UNION ALL in FROM aggregates the union's rows: the
// plan's source is the union's columns, fed by each query over its own
// source.
func TestGroupByOverUnionAll(t *testing.T) {
	p, err := analyzeSinkSQL(t, `CREATE SINK per_customer WITH (connector = 'topic', topic = 'x') AS
		SELECT who, count(*) AS n, sum(amount) AS total
		FROM (SELECT customer AS who, amount FROM orders WHERE amount > 0
		      UNION ALL SELECT CAST(order_id AS text), amount FROM payments) AS u
		GROUP BY who`)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Feeds) != 2 || p.Aggregation == nil || p.Source.Connector != "" || p.Source.Name != "u" {
		t.Fatalf("feeds %d, aggregation %v, source %+v", len(p.Feeds), p.Aggregation != nil, p.Source)
	}
	if got := p.Sources(); len(got) != 2 || got[0].Name != "orders" || got[1].Name != "payments" {
		t.Fatalf("sources %v", got)
	}
	if p.Feeds[0].Filter == nil || p.Feeds[1].Filter != nil {
		t.Error("each query keeps its own WHERE")
	}
	if p.Source.Columns[1].Type != p.Feeds[1].Outputs[1].Type {
		t.Errorf("amount: %s over the union, %s from payments", p.Source.Columns[1].Type, p.Feeds[1].Outputs[1].Type)
	}
	if p.Updating() == false {
		t.Error("a GROUP BY without a window updates")
	}
}

// Windows over a union need a column that is each query's WATERMARK
// column as it is.
func TestWindowOverUnionAll(t *testing.T) {
	p, err := analyzeSinkSQL(t, `CREATE SINK per_minute WITH (connector = 'topic', topic = 'x') AS
		SELECT window_start, window_end, count(*) AS n
		FROM TUMBLE(TABLE (SELECT id, placed_at AS at FROM orders UNION ALL SELECT order_id, paid_at FROM payments),
		            DESCRIPTOR(at), INTERVAL '1' MINUTE)
		GROUP BY window_start, window_end`)
	if err != nil {
		t.Fatal(err)
	}
	if p.Aggregation.Window == nil || p.Source.Watermark == nil || p.Source.Watermark.Column != 1 || len(p.Feeds) != 2 {
		t.Fatalf("window %v, watermark %+v, feeds %d", p.Aggregation.Window, p.Source.Watermark, len(p.Feeds))
	}
	if p.Updating() {
		t.Error("a window's rows are final")
	}
	_, err = analyzeSinkSQL(t, `CREATE SINK per_minute WITH (connector = 'topic', topic = 'x') AS
		SELECT window_start, window_end, count(*) AS n
		FROM TUMBLE(TABLE (SELECT id, placed_at + INTERVAL '1' SECOND AS at FROM orders UNION ALL SELECT order_id, paid_at FROM payments),
		            DESCRIPTOR(at), INTERVAL '1' MINUTE)
		GROUP BY window_start, window_end`)
	if err == nil || !strings.Contains(err.Error(), "WATERMARK") {
		t.Fatalf("a computed time column: %v", err)
	}
}

func TestUnionAllInFromRefusals(t *testing.T) {
	for _, c := range []struct{ sql, want string }{
		{`SELECT * FROM (SELECT who, count(*) AS n FROM (SELECT customer AS who FROM orders UNION ALL SELECT url FROM clicks) u GROUP BY who) s WHERE n > 1`, "supported only"},
		{`SELECT who, count(*) FROM (SELECT customer AS who FROM orders KEY BY customer UNION ALL SELECT url FROM clicks) u GROUP BY who`, "KEY BY"},
		{`SELECT who, count(*) FROM (SELECT customer AS who FROM orders UNION ALL SELECT url FROM clicks) AS orders GROUP BY who`, "name of a source"},
		{`SELECT who, count(*) FROM (SELECT customer AS who, count(*) FROM orders GROUP BY customer UNION ALL SELECT url, 1 FROM clicks) u GROUP BY who`, "not supported"},
	} {
		_, err := analyzeSinkSQL(t, `CREATE SINK s WITH (connector = 'topic', topic = 'x') AS `+c.sql)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.sql, err, c.want)
		}
		if err != nil && c.want != "name of a source" && !errors.Is(err, ErrNotSupported) {
			t.Errorf("%s: not marked unsupported: %v", c.sql, err)
		}
	}
}

// A top-N ranks a UNION ALL's rows as a GROUP BY aggregates them: over a
// source of the union's columns fed by its queries — updating, final per
// window of the union's time column, or final per partition by it.
func TestTopNOverUnionAll(t *testing.T) {
	const union = `(SELECT customer AS who, placed_at AS at FROM orders UNION ALL SELECT 'p', paid_at FROM payments)`
	for _, c := range []struct {
		sql      string
		updating bool
		window   bool
	}{
		{`SELECT * FROM (SELECT who, ROW_NUMBER() OVER (PARTITION BY who ORDER BY at DESC) AS rn FROM ` + union + ` u) r WHERE rn <= 3`, true, false},
		{`SELECT * FROM (SELECT who, at, RANK() OVER (PARTITION BY at ORDER BY who) AS rn FROM ` + union + ` u) r WHERE rn <= 3`, false, false},
		{`SELECT * FROM (SELECT window_end, who, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY who) AS rn
			FROM TUMBLE(TABLE ` + union + `, DESCRIPTOR(at), INTERVAL '1' MINUTE)) r WHERE rn <= 3`, false, true},
	} {
		p, err := analyzeSinkSQL(t, `CREATE SINK s WITH (connector = 'topic', topic = 'x') AS `+c.sql)
		if err != nil {
			t.Errorf("%s: %v", c.sql, err)
			continue
		}
		if p.TopN == nil || len(p.Feeds) != 2 || p.TopN.Updating() != c.updating || (p.TopN.Window != nil) != c.window {
			t.Errorf("%s: top-N %+v, %d feeds", c.sql, p.TopN, len(p.Feeds))
		}
	}
	// Ranking the groups of an aggregated union is another stage still.
	_, err := analyzeSinkSQL(t, `CREATE SINK s WITH (connector = 'topic', topic = 'x') AS
		SELECT * FROM (SELECT who, n, ROW_NUMBER() OVER (PARTITION BY who ORDER BY n DESC) AS rn
		FROM (SELECT who, count(*) AS n FROM `+union+` u GROUP BY who) g) r WHERE rn <= 3`)
	if !errors.Is(err, ErrNotSupported) {
		t.Errorf("a top-N of an aggregated union: %v", err)
	}
}

// A UNION ALL is a side of a join of two streams as it feeds a GROUP BY:
// over a source of its columns fed by its queries; Sources lists each
// side's sources, left first. Joined with a table, the join runs over
// each of its queries, or, under an aggregation, over the fed union's
// rows.
func TestJoinOfUnionAllPlan(t *testing.T) {
	const union = `(SELECT id, customer, placed_at AS at FROM orders UNION ALL SELECT order_id, 'p', paid_at FROM payments)`
	p, err := analyzeSinkSQL(t, `CREATE SINK s WITH (connector = 'topic', topic = 'x') AS
		SELECT u.id, p.amount FROM `+union+` u JOIN payments p ON u.id = p.order_id AND p.paid_at BETWEEN u.at AND u.at + INTERVAL '10' SECOND`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range p.Sources() {
		names = append(names, s.Name)
	}
	if p.StreamJoin == nil || len(p.Feeds) != 2 || strings.Join(names, ",") != "orders,payments,payments" {
		t.Fatalf("join %v, %d feeds, sources %v", p.StreamJoin != nil, len(p.Feeds), names)
	}
	p, err = analyzeSinkSQL(t, `CREATE SINK s WITH (connector = 'topic', topic = 'x') AS
		SELECT p.amount, u.customer FROM payments p RIGHT JOIN `+union+` u ON u.id = p.order_id AND p.paid_at BETWEEN u.at - INTERVAL '10' SECOND AND u.at`)
	if err != nil {
		t.Fatal(err)
	}
	names = nil
	for _, s := range p.Sources() {
		names = append(names, s.Name)
	}
	if j := p.StreamJoin; j == nil || len(p.Feeds) != 0 || len(j.RightFeeds) != 2 || !j.Outer[1] || strings.Join(names, ",") != "payments,orders,payments" {
		t.Fatalf("join %+v, %d feeds, sources %v", p.StreamJoin, len(p.Feeds), names)
	}
	p, err = analyzeSinkSQL(t, `CREATE SINK s WITH (connector = 'topic', topic = 'x') AS
		SELECT u.id, c.tier FROM `+union+` u JOIN customers c ON u.customer = c.name`)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Union) != 1 || p.Join == nil || p.Union[0].Join == nil || p.Feeds != nil {
		t.Fatalf("%d later queries, join %v", len(p.Union), p.Join != nil)
	}
	// Aggregated, the union is fed and its rows looked up in the table.
	p, err = analyzeSinkSQL(t, `CREATE SINK s WITH (connector = 'topic', topic = 'x') AS
		SELECT c.tier, count(*) FROM `+union+` u JOIN customers c ON u.customer = c.name GROUP BY c.tier`)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Feeds) != 2 || p.Join == nil || p.Aggregation == nil || p.Join.Offset != len(p.Source.RowColumns()) {
		t.Fatalf("%d feeds, join %+v", len(p.Feeds), p.Join)
	}
	// A union joined with a table, then with a stream, is not fed.
	_, err = analyzeSinkSQL(t, `CREATE SINK s WITH (connector = 'topic', topic = 'x') AS
		SELECT p.amount FROM `+union+` u JOIN customers c ON u.customer = c.name JOIN payments p ON u.id = p.order_id`)
	if err == nil {
		t.Error("a union joined with a table, then with a stream: planned")
	}
}
