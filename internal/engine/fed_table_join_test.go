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
// WHERE before the join); and a UNION ALL joined with the table under a
// GROUP BY (each query's rows looked up as they are made). Checked against a brute-force evaluation;
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
	mustExec(t, e, `CREATE SINK union_tiers WITH (connector = 'topic', topic = 'union_tiers') AS
		SELECT c.tier, count(*) AS n FROM (SELECT customer AS who, amount FROM orders WHERE amount > 3
		  UNION ALL SELECT customer + 1, amount FROM orders) u
		JOIN customers c ON u.who = c.id GROUP BY c.tier`)
	produceJoinOrders(t, n.tr, 0, 200, func(i int) int { return i % 25 })

	want := map[string]int64{"all": 200}
	unionWant := map[string]int64{}
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
			if c < 20 {
				unionWant[fmt.Sprintf("t%d", c%2)]++
			}
		}
		if c+1 < 20 { // the second query's customer + 1
			unionWant[fmt.Sprintf("t%d", (c+1)%2)]++
		}
	}
	for sink, want := range map[string]map[string]int64{"tiers": want, "union_tiers": unionWant} {
		waitFor(t, sink+": the counts per tier", func() bool {
			got := map[string]int64{}
			for _, v := range latestRows(t, n.tr, sink) {
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
	}
	slices.Sort(pairs)
	var got []string
	for _, r := range readExactly(t, n.tr, "pairs", len(pairs)) {
		got = append(got, string(r.Value))
	}
	slices.Sort(got)
	compareRows(t, got, pairs)
}
