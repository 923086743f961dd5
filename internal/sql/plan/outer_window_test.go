package plan

import (
	"testing"

	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/parser"
)

func analyzeSinkSQL(t *testing.T, sql string) (*Pipeline, error) {
	t.Helper()
	stmt, err := parser.ParseOne(sql)
	if err != nil {
		t.Fatal(err)
	}
	return AnalyzeSink(stmt.(*ast.CreateSink), catalogOf(t, testSources), sinkConnectors, testOptions)
}

// An outer GROUP BY that holds neither bound is an updating aggregation
// over the windows' rows, where window_start is one of the subquery's
// columns: grouping by an expression of it (10-second windows rolled up
// into minutes) plans as it does with the column renamed.
func TestGroupByExpressionOfSubqueryWindowColumn(t *testing.T) {
	const sub = `(SELECT sensor, window_start, window_end, count(*) AS n FROM TUMBLE(TABLE readings, DESCRIPTOR(ts), INTERVAL '10' SECOND)
		GROUP BY sensor, window_start, window_end)`
	if _, err := analyzeSinkSQL(t, `CREATE SINK per_minute WITH (connector = 'topic', topic = 'x') AS
		SELECT date_trunc('minute', ws) AS minute, sum(n) FROM (SELECT sensor, window_start AS ws, window_end, count(*) AS n
		  FROM TUMBLE(TABLE readings, DESCRIPTOR(ts), INTERVAL '10' SECOND) GROUP BY sensor, window_start, window_end)
		GROUP BY date_trunc('minute', ws)`); err != nil {
		t.Fatalf("control (renamed column): %v", err)
	}
	p, err := analyzeSinkSQL(t, `CREATE SINK per_minute WITH (connector = 'topic', topic = 'x') AS
		SELECT date_trunc('minute', window_start) AS minute, sum(n) FROM `+sub+`
		GROUP BY date_trunc('minute', window_start)`)
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	if p.Outer == nil || p.Outer.Aggregation.Window != nil || !p.Updating() {
		t.Fatalf("want an updating outer aggregation without a window")
	}
}

// SELECT * over a windowed subquery whose window the outer query groups
// by expands window_start and window_end once: they are among the
// subquery's columns.
func TestStarOverAttachedWindows(t *testing.T) {
	_, err := analyzeSinkSQL(t, `CREATE SINK star WITH (connector = 'topic', topic = 'x') AS
		SELECT * FROM (SELECT sensor, window_start, window_end, count(*) AS n FROM TUMBLE(TABLE readings, DESCRIPTOR(ts), INTERVAL '10' SECOND)
		  GROUP BY sensor, window_start, window_end) AS s
		GROUP BY sensor, window_start, window_end, n`)
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
}
