package plan

import (
	"strings"
	"testing"
)

// A top-N plans its ranked query, and an aggregating query below it, one
// SELECT each: a UNION ALL of either must be refused, not dropped (the
// sink would silently miss every row of the other queries).
func TestTopNOverAggregationKeepsUnionAll(t *testing.T) {
	for _, c := range []struct{ name, sql string }{
		{"group by without a window", `CREATE SINK s WITH (connector = 'topic', topic = 'x') AS
			SELECT * FROM (SELECT sensor, n, ROW_NUMBER() OVER (ORDER BY n DESC) AS rn
			  FROM (SELECT sensor, count(*) AS n FROM readings GROUP BY sensor
			        UNION ALL SELECT customer, count(*) AS n FROM orders GROUP BY customer)) WHERE rn <= 3`},
		{"windows (before this change too)", `CREATE SINK s WITH (connector = 'topic', topic = 'x') AS
			SELECT * FROM (SELECT sensor, n, window_start, ROW_NUMBER() OVER (PARTITION BY window_start ORDER BY n DESC) AS rn
			  FROM (SELECT sensor, window_start, count(*) AS n FROM TUMBLE(TABLE readings, DESCRIPTOR(ts), INTERVAL '1' MINUTE) GROUP BY sensor, window_start, window_end
			        UNION ALL SELECT sensor, window_start, count(*) AS n FROM TUMBLE(TABLE readings, DESCRIPTOR(at), INTERVAL '1' MINUTE) GROUP BY sensor, window_start, window_end)) WHERE rn <= 3`},
		{"UNION ALL on the ranked query itself", `CREATE SINK s WITH (connector = 'topic', topic = 'x') AS
			SELECT * FROM (SELECT sensor, n, ROW_NUMBER() OVER (ORDER BY n DESC) AS rn
			  FROM (SELECT sensor, count(*) AS n FROM readings GROUP BY sensor)
			  UNION ALL SELECT customer, 1, 1 FROM orders) WHERE rn <= 3`},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := analyzeSink(t, c.sql)
			if err != nil {
				return // refused: fine
			}
			if len(p.Union) == 0 && !strings.Contains(p.Explain(), "orders") && !strings.Contains(p.Explain(), "DESCRIPTOR(at)") {
				t.Fatalf("the UNION ALL below the top-N was accepted and dropped; the plan ranks one query's groups:\n%s", p.Explain())
			}
		})
	}
}
