package engine

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"testing"
)

// Queries fed to a stateful stage may join tables, looked up as their
// tasks decode each row: a GROUP BY over a UNION ALL whose first query
// enriches orders with their customer's tier, and a regular join of two
// streams whose left side is orders enriched the same way (its subquery's
// WHERE before the join). Checked against a brute-force evaluation;
// customers 20 to 24 do not exist.
func TestFedQueriesJoinTables(t *testing.T) {
	n, e := joinNode(t)
	rows := map[int]string{}
	for id := range 20 {
		rows[id] = fmt.Sprintf(`{"id":%d,"name":"c%d","tier":"t%d"}`, id, id, id%2)
	}
	produceCustomers(t, n.tr, rows)
	mustExec(t, e, `CREATE SINK tiers WITH (connector = 'topic', topic = 'tiers') AS
		SELECT tier, count(*) AS n FROM (SELECT c.tier FROM orders o JOIN customers c ON o.customer = c.id
		  UNION ALL SELECT 'all' FROM orders) u GROUP BY tier`)
	mustExec(t, e, `CREATE SINK pairs WITH (connector = 'topic', topic = 'pairs') AS
		SELECT oc.id, oc.tier, o2.amount FROM (SELECT o.id, c.tier FROM orders o LEFT JOIN customers c ON o.customer = c.id WHERE o.amount > 3) oc
		JOIN orders o2 ON oc.id = o2.id`)
	produceJoinOrders(t, n.tr, 0, 200, func(i int) int { return i % 25 })

	want := map[string]int64{"all": 200}
	var pairs []string
	for i := range 200 {
		c, amount := i%25, i%9+1
		tier := "null"
		if c < 20 {
			want[fmt.Sprintf("t%d", c%2)]++
			tier = fmt.Sprintf(`"t%d"`, c%2)
		}
		if amount > 3 {
			pairs = append(pairs, fmt.Sprintf(`{"id":%d,"tier":%s,"amount":%d}`, i, tier, amount))
		}
	}
	waitFor(t, "the counts per tier", func() bool {
		got := map[string]int64{}
		for _, v := range latestRows(t, n.tr, "tiers") {
			var row struct {
				Tier string
				N    int64
			}
			if err := json.Unmarshal([]byte(v), &row); err != nil {
				t.Fatal(err)
			}
			got[row.Tier] = row.N
		}
		return maps.Equal(got, want)
	})
	slices.Sort(pairs)
	var got []string
	for _, r := range readExactly(t, n.tr, "pairs", len(pairs)) {
		got = append(got, string(r.Value))
	}
	slices.Sort(got)
	compareRows(t, got, pairs)
}
