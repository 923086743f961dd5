package plan

import (
	"strings"
	"testing"
)

// Aliases and names across a join of three streams and a table after
// it: each is refused or resolved as Postgres does.
func TestChainNames(t *testing.T) {
	const first = ` FROM orders o JOIN payments p ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '1' MINUTE `
	for _, c := range []struct {
		name, sql, err string
	}{
		{"ambiguous across the chain", `SELECT order_id` + first + `JOIN shipments s ON s.order_id = o.id`, "ambiguous"},
		{"unaliased names", `SELECT orders.id, shipments.carrier FROM orders JOIN payments ON orders.id = payments.order_id AND payments.paid_at BETWEEN orders.placed_at AND orders.placed_at + INTERVAL '1' MINUTE
JOIN shipments ON shipments.order_id = orders.id`, ""},
		{"a stream's alias again", `SELECT o.id` + first + `JOIN shipments p ON p.order_id = o.id`, "more than once"},
		{"the first stream's alias again", `SELECT o.id` + first + `JOIN shipments o ON o.order_id = 1`, "more than once"},
		{"a table's alias is a stream's", `SELECT o.id, p.tier` + first + `JOIN shipments s ON s.order_id = o.id JOIN customers p ON p.name = o.customer`, "more than once"},
		{"a table's alias is the first stream's", `SELECT o.id` + first + `JOIN shipments s ON s.order_id = o.id JOIN customers o ON o.name = s.carrier`, "more than once"},
		{"self join later", `SELECT o.id, o2.id AS id2` + first + `JOIN orders o2 ON o2.id = p.order_id`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := analyzeStreams(t, c.sql)
			switch {
			case c.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.err != "" && err == nil:
				t.Fatalf("accepted; want an error containing %q", c.err)
			case c.err != "" && !strings.Contains(err.Error(), c.err):
				t.Fatalf("error %v; want one containing %q", err, c.err)
			}
		})
	}
}
