package engine

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/tide-data/tide/internal/transport"
)

// Joins with a table whose stream side is a query: a subquery that
// filters and projects orders (merged into the join, its WHERE over the
// kept side), a UNION ALL of orders and refunds (the join run over each
// of its queries), and a UNION ALL of two queries that each join the
// table — the refunds' numeric key looking the table up in its own type,
// so that query's table is indexed apart. Checked against a brute-force
// evaluation; 3.5 finds no customer, 3.0 finds 3.
func TestTableJoinOfSubqueries(t *testing.T) {
	n, e := joinNode(t)
	mustExec(t, e, `CREATE SOURCE refunds (order_id bigint, who numeric, amount bigint)
		WITH (connector = 'topic', topic = 'refunds', topic.partitions = '2')`)
	customers := map[int]string{}
	rows := map[int]string{}
	for id := range 20 {
		rows[id] = fmt.Sprintf(`{"id":%d,"name":"c%d","tier":"t"}`, id, id)
		customers[id] = fmt.Sprintf("c%d", id)
	}
	produceCustomers(t, n.tr, rows)

	mustExec(t, e, `CREATE SINK sub_enriched WITH (connector = 'topic', topic = 'sub_enriched') AS
		SELECT o.oid, o.amount, c.name FROM (SELECT id AS oid, customer, amount FROM orders WHERE amount > 1) o
		JOIN customers c ON o.customer = c.id`)
	mustExec(t, e, `CREATE SINK union_enriched WITH (connector = 'topic', topic = 'union_enriched') AS
		SELECT u.id, u.kind, c.name FROM (SELECT id, 'o' AS kind, customer AS who FROM orders
		  UNION ALL SELECT order_id, 'r', who FROM refunds WHERE amount > 0) u
		LEFT JOIN customers c ON u.who = c.id
		WHERE u.id % 4 <> 0`)
	mustExec(t, e, `CREATE SINK union_of_joins WITH (connector = 'topic', topic = 'union_of_joins') AS
		SELECT o.id, c.name FROM orders o JOIN customers c ON o.customer = c.id
		UNION ALL SELECT r.order_id, c.name FROM refunds r JOIN customers c ON r.who = c.id`)
	if p := e.mu.pipelines["union_of_joins"]; len(p.joinTables) != 2 {
		t.Fatalf("%d tables, want one per query", len(p.joinTables))
	}

	customerOf := func(i int) int { return i % 25 } // 20 to 24 are nobody
	produceJoinOrders(t, n.tr, 0, 300, customerOf)
	whoOf := func(i int) string {
		if i%5 == 0 {
			return fmt.Sprintf("%d.5", i%20)
		}
		return fmt.Sprintf("%d.0", i%23)
	}
	var refunds []*transport.Record
	for i := range 120 {
		refunds = append(refunds, &transport.Record{Topic: "refunds", Partition: int32(i % 2),
			Value: fmt.Appendf(nil, `{"order_id":%d,"who":%s,"amount":%d}`, 1000+i, whoOf(i), i%3)})
	}
	if err := n.tr.Produce(context.Background(), refunds); err != nil {
		t.Fatal(err)
	}

	var subWant, unionWant, joinsWant []string
	for i := range 300 {
		amount := i%9 + 1
		name, ok := customers[customerOf(i)]
		if ok && amount > 1 {
			subWant = append(subWant, fmt.Sprintf(`{"oid":%d,"amount":%d,"name":%q}`, i, amount, name))
		}
		if ok {
			joinsWant = append(joinsWant, fmt.Sprintf(`{"id":%d,"name":%q}`, i, name))
		}
		if i%4 != 0 {
			unionWant = append(unionWant, fmt.Sprintf(`{"id":%d,"kind":"o","name":%s}`, i, nameOrNull(name, ok)))
		}
	}
	for i := range 120 {
		id := 1000 + i
		var name string
		ok := false
		if i%5 != 0 { // x.5 finds nobody
			name, ok = customers[i%23]
		}
		if ok {
			joinsWant = append(joinsWant, fmt.Sprintf(`{"id":%d,"name":%q}`, id, name))
		}
		if i%3 > 0 && id%4 != 0 {
			unionWant = append(unionWant, fmt.Sprintf(`{"id":%d,"kind":"r","name":%s}`, id, nameOrNull(name, ok)))
		}
	}
	checkSinkValues(t, n, map[string][]string{"sub_enriched": subWant, "union_enriched": unionWant, "union_of_joins": joinsWant})
}

// checkSinkValues reads each sink's records (as many as its want has, and
// no more) and compares their values, sorted, with want's.
func checkSinkValues(t *testing.T, n *node, want map[string][]string) {
	t.Helper()
	for sink, rows := range want {
		rows = slices.Sorted(slices.Values(rows))
		var got []string
		for _, r := range readExactly(t, n.tr, sink, len(rows)) {
			got = append(got, string(r.Value))
		}
		slices.Sort(got)
		compareRows(t, got, rows)
	}
}

func nameOrNull(name string, ok bool) string {
	if !ok {
		return "null"
	}
	return fmt.Sprintf("%q", name)
}
