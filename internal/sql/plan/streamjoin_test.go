package plan

import (
	"testing"
)

// The time bound of an interval join is read from ON however it is
// written: BETWEEN, comparisons either way round, constants on either
// side; the tightest of several wins, and each side keeps its rows for
// as long as the other side's can still match them.
func TestStreamJoinBounds(t *testing.T) {
	const sec = int64(1_000_000)
	const from = "SELECT o.id FROM orders o JOIN payments p ON o.id = p.order_id AND "
	cases := []struct {
		on                  string
		keepLeft, keepRight int64
	}{
		{"p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '10' SECOND", 10 * sec, 0},
		{"p.paid_at BETWEEN o.placed_at - INTERVAL '3' SECOND AND o.placed_at + INTERVAL '10' SECOND", 10 * sec, 3 * sec},
		{"o.placed_at BETWEEN p.paid_at - INTERVAL '10' SECOND AND p.paid_at", 10 * sec, 0},
		{"p.paid_at >= o.placed_at AND p.paid_at < o.placed_at + INTERVAL '1' MINUTE", 60 * sec, 0},
		{"o.placed_at + INTERVAL '1' MINUTE > p.paid_at AND o.placed_at <= p.paid_at", 60 * sec, 0},
		{"INTERVAL '5' SECOND + o.placed_at >= p.paid_at", 5 * sec, Forever},
		{"p.paid_at > o.placed_at + INTERVAL '2' SECOND", Forever, -2 * sec},
		{"p.paid_at = o.placed_at", 0, 0},
		{"p.paid_at <= o.placed_at + INTERVAL '1' HOUR AND p.paid_at <= o.placed_at + INTERVAL '1' MINUTE", 60 * sec, Forever},
		{"p.amount > 0", Forever, Forever},
		{"p.paid_at < now()", Forever, Forever},
	}
	for _, c := range cases {
		p := mustAnalyze(t, sink+from+c.on)
		j := p.StreamJoin
		if j == nil {
			t.Fatalf("%s: no stream join", c.on)
		}
		if l, r := j.Keep(); l != c.keepLeft || r != c.keepRight {
			t.Errorf("%s: keep %d, %d; want %d, %d", c.on, l, r, c.keepLeft, c.keepRight)
		}
	}
}

// One-sided conditions are applied before the shuffle where that keeps
// the result: those of ON on a side that is not outer, those of WHERE on
// a side whose other side is not outer.
func TestStreamJoinPushdown(t *testing.T) {
	cases := []struct {
		sql, left, right, filter string
	}{
		{"SELECT o.id FROM orders o JOIN payments p ON o.id = p.order_id AND o.amount > 1 AND p.amount > 2 WHERE o.customer = 'x' AND p.amount < o.amount",
			"(o.amount > 1) AND (o.customer = 'x')", "p.amount > 2", "p.amount < o.amount"},
		{"SELECT o.id FROM orders o LEFT JOIN payments p ON o.id = p.order_id AND o.amount > 1 AND p.amount > 2 AND p.paid_at < o.placed_at + INTERVAL '1' SECOND WHERE o.customer = 'x' AND p.amount IS NULL",
			"o.customer = 'x'", "p.amount > 2", "p.amount IS NULL"},
		{"SELECT o.id FROM orders o RIGHT JOIN payments p ON o.id = p.order_id AND o.amount > 1 AND p.amount > 2 AND p.paid_at > o.placed_at - INTERVAL '1' SECOND WHERE o.customer = 'x' AND p.amount < 5",
			"o.amount > 1", "p.amount < 5", "o.customer = 'x'"},
		{"SELECT o.id FROM orders o FULL JOIN payments p ON o.id = p.order_id AND o.amount > 1 AND p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '1' SECOND WHERE o.customer = 'x'",
			"", "", "o.customer = 'x'"},
	}
	for _, c := range cases {
		j := mustAnalyze(t, sink+c.sql)
		if got := j.StreamJoin.LeftFilterText; got != c.left {
			t.Errorf("%s: left filter %q, want %q", c.sql, got, c.left)
		}
		if got := j.StreamJoin.RightFilterText; got != c.right {
			t.Errorf("%s: right filter %q, want %q", c.sql, got, c.right)
		}
		if got := j.FilterText; got != c.filter {
			t.Errorf("%s: filter %q, want %q", c.sql, got, c.filter)
		}
	}
}
