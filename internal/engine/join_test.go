package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/tide-data/tide/internal/transport"
)

const (
	joinOrders = `CREATE SOURCE orders (id bigint, customer int, amount bigint)
		WITH (connector = 'topic', topic = 'orders', topic.partitions = '3')`
	joinCustomers = `CREATE SOURCE customers (id bigint, name text, tier text)
		WITH (connector = 'topic', topic = 'customers', 'primary-key' = 'id')`
)

// joinNode opens a node and an engine with the orders and customers
// sources declared and the customers topic made (two partitions); both
// close when the test ends.
func joinNode(t *testing.T) (*node, *Engine) {
	t.Helper()
	n := openNode(t, t.TempDir())
	t.Cleanup(func() { n.close(t) })
	e := openEngine(t, n)
	t.Cleanup(func() { closeEngine(t, e) })
	mustExec(t, e, joinOrders)
	mustExec(t, e, joinCustomers)
	if err := n.tr.CreateTopic(context.Background(), transport.TopicSpec{Name: "customers", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	return n, e
}

// produceCustomers writes the table's rows, keyed by id; a "" row is a
// tombstone deleting the id.
func produceCustomers(t *testing.T, tr transport.Transport, rows map[int]string) {
	t.Helper()
	var recs []*transport.Record
	for id, row := range rows {
		r := &transport.Record{Topic: "customers", Partition: int32(id % 2), Key: fmt.Appendf(nil, "%d", id)}
		if row != "" {
			r.Value = []byte(row)
		}
		recs = append(recs, r)
	}
	if err := tr.Produce(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
}

func produceJoinOrders(t *testing.T, tr transport.Transport, from, to int, customerOf func(int) int) {
	t.Helper()
	var recs []*transport.Record
	for i := from; i < to; i++ {
		recs = append(recs, &transport.Record{Topic: "orders", Partition: int32(i % 3),
			Value: fmt.Appendf(nil, `{"id":%d,"customer":%d,"amount":%d}`, i, customerOf(i), i%9+1)})
	}
	if err := tr.Produce(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
}

// readJoined reads a topic of JSON rows to its end: id -> the row.
func readJoined(t *testing.T, tr transport.Transport, topic string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range readSoFar(t, tr, topic) {
		var row map[string]any
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatalf("row %s: %v", r.Value, err)
		}
		out[fmt.Sprint(row["id"])] = string(r.Value)
	}
	return out
}

// Stream-to-table joins against a brute-force evaluation: each order
// gets its customer's latest row (updates and deletions of the table
// applied before the orders arrive); an inner join drops the orders of
// unknown or deleted customers, a left join keeps them with NULLs; a
// GROUP BY over the joined rows sums per tier; a table change after
// that is what later orders see.
func TestStreamTableJoin(t *testing.T) {
	n, e := joinNode(t)
	customers := map[int][2]string{}
	rows := map[int]string{}
	for id := range 20 {
		tier := []string{"gold", "silver", "standard"}[id%3]
		rows[id] = fmt.Sprintf(`{"id":%d,"name":"c%d","tier":%q}`, id, id, tier)
		customers[id] = [2]string{fmt.Sprintf("c%d", id), tier}
	}
	produceCustomers(t, n.tr, rows)
	// An update and a deletion, in the table's order.
	produceCustomers(t, n.tr, map[int]string{4: `{"id":4,"name":"c4-renamed","tier":"gold"}`, 7: ""})
	customers[4] = [2]string{"c4-renamed", "gold"}
	delete(customers, 7)

	mustExec(t, e, `CREATE SINK enriched WITH (connector = 'topic', topic = 'enriched') AS
		SELECT o.id, o.amount, c.name, c.tier FROM orders o JOIN customers c ON o.customer = c.id WHERE o.amount > 1`)
	mustExec(t, e, `CREATE SINK everything WITH (connector = 'topic', topic = 'everything') AS
		SELECT o.id, c.name FROM orders AS o LEFT JOIN customers AS c ON c.id = o.customer`)
	mustExec(t, e, `CREATE SINK per_tier WITH (connector = 'topic', topic = 'per_tier') AS
		SELECT c.tier, sum(o.amount) AS total FROM orders o JOIN customers c ON o.customer = c.id GROUP BY c.tier`)
	customerOf := func(i int) int { return i % 25 } // 20 to 24 are nobody; 7 was deleted
	produceJoinOrders(t, n.tr, 0, 600, customerOf)

	wantInner, wantLeft, wantTier := map[string]string{}, map[string]string{}, map[string]int64{}
	for i := range 600 {
		amount := i%9 + 1
		c, ok := customers[customerOf(i)]
		if ok {
			wantTier[c[1]] += int64(amount)
			if amount > 1 {
				wantInner[fmt.Sprint(i)] = fmt.Sprintf(`{"id":%d,"amount":%d,"name":%q,"tier":%q}`, i, amount, c[0], c[1])
			}
			wantLeft[fmt.Sprint(i)] = fmt.Sprintf(`{"id":%d,"name":%q}`, i, c[0])
		} else {
			wantLeft[fmt.Sprint(i)] = fmt.Sprintf(`{"id":%d,"name":null}`, i)
		}
	}
	waitFor(t, "the inner join's rows", func() bool { return maps.Equal(readJoined(t, n.tr, "enriched"), wantInner) })
	waitFor(t, "the left join's rows", func() bool { return maps.Equal(readJoined(t, n.tr, "everything"), wantLeft) })
	waitFor(t, "the totals per tier", func() bool {
		last := map[string]int64{}
		for _, v := range latestRows(t, n.tr, "per_tier") {
			var row struct {
				Tier  string      `json:"tier"`
				Total json.Number `json:"total"`
			}
			if err := json.Unmarshal([]byte(v), &row); err != nil {
				t.Fatal(err)
			}
			last[row.Tier], _ = row.Total.Int64()
		}
		return maps.Equal(last, wantTier)
	})

	// The table changes; later orders see it.
	produceCustomers(t, n.tr, map[int]string{30: `{"id":30,"name":"newcomer","tier":"gold"}`})
	waitFor(t, "the new customer in the table", func() bool {
		e.mu.Lock()
		p := e.mu.pipelines["enriched"]
		e.mu.Unlock()
		return p.joinTables[p.plan.Join].Len() == 20 // 20 customers, one deleted, one new
	})
	produceJoinOrders(t, n.tr, 600, 601, func(int) int { return 30 })
	waitFor(t, "the newcomer's order", func() bool {
		return strings.Contains(readJoined(t, n.tr, "enriched")["600"], `"name":"newcomer"`)
	})
}

// latestRows reads a keyed topic to its end: the last value per key.
func latestRows(t *testing.T, tr transport.Transport, topic string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range readSoFar(t, tr, topic) {
		out[string(r.Key)] = string(r.Value)
	}
	return out
}

func TestJoinErrors(t *testing.T) {
	_, e := joinNode(t)
	mustExec(t, e, `CREATE SOURCE plain (id bigint) WITH (connector = 'topic', topic = 'plain')`)
	for sql, want := range map[string]string{
		"CREATE SINK s WITH (connector = 'blackhole') AS SELECT o.id FROM orders o LEFT JOIN plain p ON o.id = p.id":           "it needs KEY BY",
		"CREATE SINK s WITH (connector = 'blackhole') AS SELECT o.id FROM orders o JOIN customers c ON o.id = c.name":          "needs ON <expression over the stream> = c.id",
		"CREATE SINK s WITH (connector = 'blackhole') AS SELECT o.id FROM orders o JOIN customers c ON o.id > c.id":            "needs ON",
		"CREATE SINK s WITH (connector = 'blackhole') AS SELECT o.id FROM orders o FULL JOIN customers c ON o.customer = c.id": "FULL JOIN of a stream with a table is not supported yet",
		"CREATE SINK s WITH (connector = 'blackhole') AS SELECT o.id FROM orders o JOIN customers c ON c.tier = c.id":          "the join's key must be an expression over o's columns",
		"CREATE SOURCE t2 (id bigint) WITH (connector = 'topic', topic = 't2', 'primary-key' = 'nope')":                        `primary key "nope" is not a column of t2`,
		"CREATE SINK s WITH (connector = 'blackhole') AS SELECT x.id FROM orders o JOIN customers c ON o.customer = c.id":      "x",
	} {
		if _, err := e.Execute(context.Background(), sql, ExecOptions{}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error containing %q", sql, err, want)
		}
	}
}

// A table a sink joins cannot be dropped under it.
func TestDropJoinedTable(t *testing.T) {
	_, e := joinNode(t)
	mustExec(t, e, `CREATE SINK enriched WITH (connector = 'blackhole') AS SELECT o.id, c.name FROM orders o JOIN customers c ON o.customer = c.id`)
	if _, err := e.Execute(context.Background(), "DROP SOURCE customers", ExecOptions{}); err == nil || !strings.Contains(err.Error(), "sink enriched reads it") {
		t.Fatalf("DROP SOURCE of a joined table: %v", err)
	}
	mustExec(t, e, "DROP SINK enriched")
	mustExec(t, e, "DROP SOURCE customers")
}
