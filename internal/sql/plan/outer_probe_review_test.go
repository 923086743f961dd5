package plan

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/parser"
)

func TestOuterProbeReview(t *testing.T) {
	lookup := catalogOf(t, testSources)
	for _, q := range []string{
		// nested: a projection over an aggregating subquery
		`SELECT region, sum(n) FROM (SELECT * FROM (SELECT sensor, region, count(*) AS n FROM readings GROUP BY sensor, region) a) b GROUP BY region`,
		// aggregate over aggregate over aggregate
		`SELECT sum(m) FROM (SELECT region, sum(n) AS m FROM (SELECT sensor, region, count(*) AS n FROM readings GROUP BY sensor, region) a GROUP BY region) b`,
		// outer KEY BY
		`SELECT region, sum(n) AS s FROM (SELECT sensor, region, count(*) AS n FROM readings GROUP BY sensor, region) a GROUP BY region KEY BY region`,
		// count distinct outer
		`SELECT region, count(DISTINCT n) FROM (SELECT sensor, region, count(*) AS n FROM readings GROUP BY sensor, region) a GROUP BY region`,
		// outer window TVF over subquery?
		`SELECT region, count(*) FROM (SELECT sensor, region, count(*) AS n FROM readings GROUP BY sensor, region) a GROUP BY region HAVING sum(n) > 2`,
		// inner with no GROUP BY (global)
		`SELECT count(*) FROM (SELECT count(*) AS n FROM readings) a`,
		// outer no aggregation but having
		`SELECT region FROM (SELECT sensor, region, count(*) AS n FROM readings GROUP BY sensor, region) a GROUP BY region`,
		// inner window columns referenced? inner windowed refused
		// outer over aggregating subquery with join of table
		`SELECT tier, sum(n) FROM (SELECT c.tier, o.customer, count(*) AS n FROM orders o JOIN customers c ON o.customer = c.name GROUP BY c.tier, o.customer) x GROUP BY tier`,
		// outer referencing _partition or hidden columns
		`SELECT region, sum(n) FROM (SELECT sensor, region, count(*) AS n FROM readings GROUP BY sensor, region) a WHERE sensor IS NOT NULL GROUP BY region`,
		// outer count(*) only without group by
		`SELECT avg(n) FROM (SELECT sensor, count(*) AS n FROM readings GROUP BY sensor)`,
		// outer: an aggregating subquery with a ranked query inside
		`SELECT avg(n) FROM (SELECT sensor, count(*) AS n FROM readings WHERE sensor IN (SELECT 1) GROUP BY sensor)`,
		// union inside the subquery
		`SELECT sensor, sum(n) FROM (SELECT sensor, count(*) AS n FROM readings GROUP BY sensor UNION ALL SELECT sensor, count(*) AS n FROM readings GROUP BY sensor) a GROUP BY sensor`,
		// non-aggregating outer with GROUP BY over the outer (distinct-ish)
		`SELECT n, count(*) FROM (SELECT sensor, count(*) AS n FROM readings GROUP BY sensor) a GROUP BY n`,
		// outer sum of double
		`SELECT region, sum(value) FROM (SELECT region, sensor, sum(value) AS value FROM readings GROUP BY region, sensor) a GROUP BY region`,
		// outer referencing the subquery alias with a star and other
		`SELECT a.*, 1 FROM (SELECT sensor, count(*) AS n FROM readings GROUP BY sensor) a GROUP BY sensor, n`,
	} {
		sql := "CREATE SINK s WITH (connector = 'topic', topic = 'x') AS " + q
		stmt, err := parser.ParseOne(sql)
		if err != nil {
			fmt.Printf("=== %s\nparse: %v\n", q, err)
			continue
		}
		p, err := AnalyzeSink(stmt.(*ast.CreateSink), lookup, sinkConnectors, testOptions)
		if err != nil {
			fmt.Printf("=== %s\nerr (unsupported=%v): %v\n", q, errors.Is(err, ErrNotSupported), err)
			continue
		}
		fmt.Printf("=== %s\n%s", q, p.Explain())
	}
}
