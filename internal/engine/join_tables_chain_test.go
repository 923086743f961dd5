package engine

import (
	"context"
	"fmt"
	"testing"

	"github.com/tide-data/tide/internal/transport"
)

// Two tables joined to a stream one after the other: each order with its
// customer, then the customer's tier's discount (the second key reads the
// first table's column) — inner then LEFT, and a second query with both
// inner, t.* and bare names, and a third over a subquery of orders —
// against a brute-force evaluation; tier "none" has no
// row, customers 20 to 24 do not exist.
func TestChainedTableJoins(t *testing.T) {
	n, e := joinNode(t)
	mustExec(t, e, `CREATE SOURCE tiers (tier text, discount int) WITH (connector = 'topic', topic = 'tiers', 'primary-key' = 'tier')`)
	tiers := map[string]int{"gold": 20, "silver": 10}
	var recs []*transport.Record
	for tier, d := range tiers {
		recs = append(recs, &transport.Record{Topic: "tiers", Partition: 0, Key: []byte(tier), Value: fmt.Appendf(nil, `{"tier":%q,"discount":%d}`, tier, d)})
	}
	if err := n.tr.CreateTopic(context.Background(), transport.TopicSpec{Name: "tiers", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	if err := n.tr.Produce(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	tierOf := func(id int) string { return []string{"gold", "silver", "none"}[id%3] }
	rows := map[int]string{}
	for id := range 20 {
		rows[id] = fmt.Sprintf(`{"id":%d,"name":"c%d","tier":%q}`, id, id, tierOf(id))
	}
	produceCustomers(t, n.tr, rows)
	mustExec(t, e, `CREATE SINK discounted WITH (connector = 'topic', topic = 'discounted') AS
		SELECT o.id, c.name, t.discount FROM orders o JOIN customers c ON o.customer = c.id
		LEFT JOIN tiers t ON c.tier = t.tier`)
	mustExec(t, e, `CREATE SINK known_tiers WITH (connector = 'topic', topic = 'known_tiers') AS
		SELECT o.*, name, t.* FROM orders o JOIN customers c ON o.customer = c.id JOIN tiers t ON c.tier = t.tier WHERE discount > 10`)
	mustExec(t, e, `CREATE SINK sub_chain WITH (connector = 'topic', topic = 'sub_chain') AS
		SELECT o.oid, t.discount FROM (SELECT id AS oid, customer FROM orders WHERE amount > 1) o
		JOIN customers c ON o.customer = c.id LEFT JOIN tiers t ON c.tier = t.tier`)
	produceJoinOrders(t, n.tr, 0, 300, func(i int) int { return i % 25 })

	var left, inner, sub []string
	for i := range 300 {
		c := i % 25
		if c >= 20 {
			continue
		}
		d, ok := tiers[tierOf(c)]
		discount := "null"
		if ok {
			discount = fmt.Sprint(d)
			if d > 10 {
				inner = append(inner, fmt.Sprintf(`{"id":%d,"customer":%d,"amount":%d,"name":"c%d","tier":%q,"discount":%d}`,
					i, c, i%9+1, c, tierOf(c), d))
			}
		}
		left = append(left, fmt.Sprintf(`{"id":%d,"name":"c%d","discount":%s}`, i, c, discount))
		if i%9+1 > 1 {
			sub = append(sub, fmt.Sprintf(`{"oid":%d,"discount":%s}`, i, discount))
		}
	}
	checkSinkValues(t, n, map[string][]string{"discounted": left, "known_tiers": inner, "sub_chain": sub})
	if p := e.mu.pipelines["discounted"]; len(p.joinTables) != 2 {
		t.Errorf("%d tables, want one per join", len(p.joinTables))
	}
}
