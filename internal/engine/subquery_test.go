package engine

import (
	"fmt"
	"maps"
	"testing"
)

// Subqueries in FROM, nested and over a join, give what the same query
// written flat gives: checked against a brute-force evaluation.
func TestSubqueriesInFrom(t *testing.T) {
	n, e := joinNode(t)
	rows := map[int]string{}
	for id := range 10 {
		rows[id] = fmt.Sprintf(`{"id":%d,"name":"c%d","tier":%q}`, id, id, []string{"gold", "basic"}[id%2])
	}
	produceCustomers(t, n.tr, rows)
	mustExec(t, e, `CREATE SINK nested WITH (connector = 'topic', topic = 'nested') AS
		SELECT id, doubled + 1 AS plus_one FROM (
			SELECT id, amount * 2 AS doubled FROM (SELECT * FROM orders WHERE customer < 5) inner_q WHERE amount > 3
		) q WHERE q.doubled < 16`)
	mustExec(t, e, `CREATE SINK golden WITH (connector = 'topic', topic = 'golden') AS
		SELECT id, who FROM (SELECT o.id, c.name AS who, c.tier FROM orders o JOIN customers c ON o.customer = c.id) q
		WHERE tier = 'gold'`)
	produceJoinOrders(t, n.tr, 0, 300, func(i int) int { return i % 12 })
	wantNested, wantGolden := map[string]string{}, map[string]string{}
	for i := range 300 {
		customer, amount := i%12, i%9+1
		if customer < 5 && amount > 3 && amount*2 < 16 {
			wantNested[fmt.Sprint(i)] = fmt.Sprintf(`{"id":%d,"plus_one":%d}`, i, amount*2+1)
		}
		if customer < 10 && customer%2 == 0 {
			wantGolden[fmt.Sprint(i)] = fmt.Sprintf(`{"id":%d,"who":"c%d"}`, i, customer)
		}
	}
	waitFor(t, "the nested subqueries' rows", func() bool { return maps.Equal(readJoined(t, n.tr, "nested"), wantNested) })
	waitFor(t, "the rows of the subquery over a join", func() bool { return maps.Equal(readJoined(t, n.tr, "golden"), wantGolden) })
}
