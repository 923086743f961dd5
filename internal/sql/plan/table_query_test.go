package plan

import (
	"errors"
	"strings"
	"testing"

	"github.com/tide-data/tide/internal/sql/ast"
)

// A query inside TABLE (...) reads its source's columns: window_start is
// not one of them (it would mean the window's bound once the query is
// over the window), as in a plain subquery.
func TestTableQueryReadsNoWindowColumn(t *testing.T) {
	_, err := analyzeSinkSQL(t, `CREATE SINK s WITH (connector = 'stdout') AS
		SELECT ws, count(*) FROM TUMBLE(TABLE (SELECT ts, window_start AS ws FROM readings), DESCRIPTOR(ts), INTERVAL '10' SECOND)
		GROUP BY window_start, window_end, ws`)
	if err == nil || !strings.Contains(err.Error(), `column "window_start" does not exist`) {
		t.Fatalf("want column \"window_start\" does not exist, got %v", err)
	}
}

// Nor in the query's WHERE: the column does not exist there.
func TestTableQueryWhereReadsNoWindowColumn(t *testing.T) {
	_, err := analyzeSinkSQL(t, `CREATE SINK s WITH (connector = 'stdout') AS
		SELECT count(*) FROM TUMBLE(TABLE (SELECT ts FROM readings WHERE window_start > TIMESTAMP '2020-01-01'), DESCRIPTOR(ts), INTERVAL '10' SECOND)
		GROUP BY window_start, window_end`)
	if err == nil || !strings.Contains(err.Error(), `column "window_start" does not exist`) {
		t.Fatalf("want column \"window_start\" does not exist, got %v", err)
	}
}

// DESCRIPTOR(t) over a query that selects two columns named t is
// ambiguous, as any reference to t would be.
func TestTableQueryAmbiguousDescriptor(t *testing.T) {
	_, err := analyzeSinkSQL(t, `CREATE SINK s WITH (connector = 'stdout') AS
		SELECT window_start, count(*) FROM TUMBLE(TABLE (SELECT ts AS t, at AS t FROM readings), DESCRIPTOR(t), INTERVAL '1' MINUTE)
		GROUP BY window_start, window_end`)
	if err == nil || !strings.Contains(err.Error(), "ambiguous") {
		t.Fatalf("want an ambiguous-column error, got %v", err)
	}
}

// DESCRIPTOR(ts) where the query selects another column as ts (at AS ts)
// and the time column under another name: the error speaks of the
// query's columns, and of the one the watermark follows.
func TestTableQueryDescriptorErrorSpeaksOfQueryColumns(t *testing.T) {
	_, err := analyzeSinkSQL(t, `CREATE SINK s WITH (connector = 'stdout') AS
		SELECT window_start, count(*) FROM TUMBLE(TABLE (SELECT ts AS t, at AS ts FROM readings), DESCRIPTOR(ts), INTERVAL '1' MINUTE)
		GROUP BY window_start, window_end`)
	if err == nil {
		t.Fatal("accepted")
	}
	var e *Error
	ok := errors.As(err, &e)
	if !ok {
		t.Fatalf("%T %v", err, err)
	}
	if strings.Contains(e.Hint, "DESCRIPTOR(ts)") {
		t.Errorf("hint tells to write what was written: %s / HINT: %s", e.Msg, e.Hint)
	}
}

// A window join's side over a query is fed by it: its rows windowed by
// the source's WATERMARK column it keeps.
func TestJoinSideOverQuery(t *testing.T) {
	p, err := analyzeSinkSQL(t, `CREATE SINK s WITH (connector = 'stdout') AS
		SELECT o.window_start, count(*) FROM TUMBLE(TABLE (SELECT id, placed_at FROM orders WHERE id > 0), DESCRIPTOR(placed_at), INTERVAL '1' MINUTE) o
		JOIN TUMBLE(TABLE payments, DESCRIPTOR(paid_at), INTERVAL '1' MINUTE) p ON o.id = p.order_id AND o.window_start = p.window_start
		GROUP BY o.window_start, o.window_end`)
	if err != nil {
		t.Fatal(err)
	}
	if j := p.StreamJoin; j == nil || j.LeftWindow == nil || j.RightWindow == nil || len(p.Feeds) != 1 || p.Feeds[0].Filter == nil {
		t.Fatalf("join %+v, %d feeds", p.StreamJoin, len(p.Feeds))
	}
	// Windowed by a column the query computes, there is no event time.
	_, err = analyzeSinkSQL(t, `CREATE SINK s WITH (connector = 'stdout') AS
		SELECT o.window_start, count(*) FROM TUMBLE(TABLE (SELECT id, placed_at + INTERVAL '1' SECOND AS at FROM orders), DESCRIPTOR(at), INTERVAL '1' MINUTE) o
		JOIN TUMBLE(TABLE payments, DESCRIPTOR(paid_at), INTERVAL '1' MINUTE) p ON o.id = p.order_id AND o.window_start = p.window_start
		GROUP BY o.window_start, o.window_end`)
	if err == nil || !strings.Contains(err.Error(), "has no event time") {
		t.Errorf("a computed time column: %v", err)
	}
}

// The rewrite plans exactly as the query written flat over the window:
// same EXPLAIN but for the window's text (filters neither lost nor
// doubled, the time column the source's).
func TestTableQueryEqualsFlat(t *testing.T) {
	for _, c := range []struct{ over, flat string }{
		{`SELECT window_start, window_end, kind, count(*) AS n, max(v) AS top
		  FROM TUMBLE(TABLE (SELECT upper(sensor) AS kind, value AS v, ts AS at FROM readings r WHERE r.ok), DESCRIPTOR(at), INTERVAL '10' SECOND) AS w
		  WHERE w.v > 0 GROUP BY window_start, window_end, kind HAVING min(w.v) < 100`,
			`SELECT window_start, window_end, upper(sensor) AS kind, count(*) AS n, max(value) AS top
		  FROM TUMBLE(TABLE readings, DESCRIPTOR(ts), INTERVAL '10' SECOND) AS r
		  WHERE (r.ok IS TRUE) AND (value > 0) GROUP BY window_start, window_end, upper(sensor) HAVING min(value) < 100`},
		{`SELECT sensor, window_start, window_end, count(*) AS count FROM SESSION(gap => INTERVAL '1' MINUTE, data => TABLE (SELECT * FROM (SELECT * FROM readings WHERE ok) a WHERE value > 1), timecol => DESCRIPTOR(ts))
		  GROUP BY sensor, window_start, window_end`,
			`SELECT readings.sensor AS sensor, window_start, window_end, count(*) AS count FROM SESSION(TABLE readings, DESCRIPTOR(ts), INTERVAL '1' MINUTE)
		  WHERE (ok IS TRUE) AND (readings.value > 1) GROUP BY readings.sensor, window_start, window_end`},
	} {
		p1, err := analyzeSinkSQL(t, "CREATE SINK s WITH (connector = 'stdout') AS "+c.over)
		if err != nil {
			t.Fatal(err)
		}
		p2, err := analyzeSinkSQL(t, "CREATE SINK s WITH (connector = 'stdout') AS "+c.flat)
		if err != nil {
			t.Fatal(err)
		}
		strip := func(s string) string {
			var out []string
			for _, l := range strings.Split(s, "\n") {
				if i := strings.Index(l, "window: "); i >= 0 {
					l = l[:i]
				}
				out = append(out, l)
			}
			return strings.Join(out, "\n")
		}
		if a, b := strip(p1.Explain()), strip(p2.Explain()); a != b {
			t.Errorf("over a query:\n%s\nflat:\n%s", p1.Explain(), p2.Explain())
		}
	}
}

// Analysis leaves the statement as it was (it is analyzed again, e.g.
// for a UNION ALL branch's casts, and formatted for display).
func TestTableQueryStatementUnchanged(t *testing.T) {
	sql := `CREATE SINK s WITH (connector = 'stdout') AS
		SELECT * FROM (SELECT kind, window_start, window_end, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY v DESC) AS rn
		FROM TUMBLE(data => TABLE (SELECT upper(sensor) AS kind, value AS v, ts AS at FROM (SELECT * FROM readings r WHERE r.ok) q), timecol => DESCRIPTOR(at), size => INTERVAL '10' SECOND) AS w) WHERE rn <= 3`
	stmt := parseOne(t, sql)
	before := ast.Format(stmt)
	for range 2 {
		if _, err := AnalyzeSink(stmt.(*ast.CreateSink), catalogOf(t, testSources), sinkConnectors, testOptions); err != nil {
			t.Fatal(err)
		}
	}
	if after := ast.Format(stmt); after != before {
		t.Errorf("statement changed:\n%s\n%s", before, after)
	}
}
