package plan

import (
	"strings"
	"testing"
)

// A table's column named bare in GROUP BY is the same group key as the
// column qualified by the table's alias (Postgres resolves both to it),
// and an ungrouped table column is named with its own qualifier.
func TestJoinGroupByTableColumn(t *testing.T) {
	for _, sql := range []string{
		sink + "SELECT c.tier, count(*) FROM orders o JOIN customers c ON o.customer = c.name GROUP BY tier",
		sink + "SELECT tier, count(*) FROM orders o JOIN customers c ON o.customer = c.name GROUP BY c.tier",
		sink + "SELECT upper(c.tier) AS t, count(*) FROM orders o JOIN customers c ON o.customer = c.name GROUP BY upper(tier)",
	} {
		p := mustAnalyze(t, sql)
		if len(p.Aggregation.Keys) != 1 {
			t.Errorf("%s: keys %+v", sql, p.Aggregation.Keys)
		}
	}
	_, err := analyzeSink(t, sink+"SELECT c.since, count(*) FROM orders o JOIN customers c ON o.customer = c.name GROUP BY c.tier")
	if err == nil || !strings.Contains(err.Error(), `column "c.since" must appear in the GROUP BY clause`) {
		t.Errorf("ungrouped table column: %v", err)
	}
}
