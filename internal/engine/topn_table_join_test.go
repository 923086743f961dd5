package engine

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"testing"
)

// A top-N over a stream joined with a table: the three largest orders of
// each customer tier, the tier the customer's row gives (looked up as
// the shuffle tasks decode each order), updating. Checked against a
// brute-force ranking; customers 20 to 24 do not exist (inner join). And
// the same over a UNION ALL of two queries of orders joined with the
// table (the union fed, each query's rows looked up before the shuffle).
func TestTopNOverTableJoin(t *testing.T) {
	n, e := joinNode(t)
	rows := map[int]string{}
	for id := range 20 {
		rows[id] = fmt.Sprintf(`{"id":%d,"name":"c%d","tier":"t%d"}`, id, id, id%3)
	}
	produceCustomers(t, n.tr, rows)
	mustExec(t, e, `CREATE SINK top_tier WITH (connector = 'topic', topic = 'top_tier') AS
		SELECT tier, id, amount, rn FROM (
		  SELECT c.tier, o.id, o.amount, ROW_NUMBER() OVER (PARTITION BY c.tier ORDER BY o.amount DESC, o.id) AS rn
		  FROM orders o JOIN customers c ON o.customer = c.id WHERE o.id % 5 <> 0) r
		WHERE rn <= 3`)
	mustExec(t, e, `CREATE SINK top_union WITH (connector = 'topic', topic = 'top_union') AS
		SELECT tier, id, amount, rn FROM (
		  SELECT c.tier, u.id, u.amount, ROW_NUMBER() OVER (PARTITION BY c.tier ORDER BY u.amount DESC, u.id) AS rn
		  FROM (SELECT id, customer, amount FROM orders WHERE id % 5 <> 0
		        UNION ALL SELECT id + 1000, customer, amount - 5 FROM orders WHERE id % 5 = 0) u
		  JOIN customers c ON u.customer = c.id) r
		WHERE rn <= 3`)
	produceJoinOrders(t, n.tr, 0, 300, func(i int) int { return i % 25 })

	type ranked struct {
		id, amount int
	}
	byTier, unionByTier := map[string][]ranked{}, map[string][]ranked{}
	for i := range 300 {
		c := i % 25
		if c >= 20 {
			continue
		}
		tier := fmt.Sprintf("t%d", c%3)
		if i%5 != 0 {
			byTier[tier] = append(byTier[tier], ranked{i, i%9 + 1})
			unionByTier[tier] = append(unionByTier[tier], ranked{i, i%9 + 1})
		} else {
			unionByTier[tier] = append(unionByTier[tier], ranked{i + 1000, i%9 + 1 - 5})
		}
	}
	top3 := func(byTier map[string][]ranked) map[string]string {
		want := map[string]string{}
		for tier, rs := range byTier {
			slices.SortFunc(rs, func(a, b ranked) int {
				if a.amount != b.amount {
					return b.amount - a.amount
				}
				return a.id - b.id
			})
			for k, r := range rs[:3] {
				want[fmt.Sprintf("%s/%d", tier, k+1)] = fmt.Sprintf("%d/%d", r.id, r.amount)
			}
		}
		return want
	}
	for sink, want := range map[string]map[string]string{"top_tier": top3(byTier), "top_union": top3(unionByTier)} {
		checkTopPerTier(t, n, sink, want)
	}
}

// checkTopPerTier waits for a top-N sink's latest rows by key to be want's
// tier/rank -> id/amount.
func checkTopPerTier(t *testing.T, n *node, sink string, want map[string]string) {
	t.Helper()
	waitFor(t, sink+": the top three per tier", func() bool {
		got := map[string]string{}
		for _, v := range latestRows(t, n.tr, sink) {
			if v == "" {
				continue
			}
			var row struct {
				Tier           string
				ID, Amount, Rn int
			}
			if err := json.Unmarshal([]byte(v), &row); err != nil {
				t.Fatal(err)
			}
			got[fmt.Sprintf("%s/%d", row.Tier, row.Rn)] = fmt.Sprintf("%d/%d", row.ID, row.Amount)
		}
		return maps.Equal(got, want)
	})
}
