package plan

import (
	"strings"
	"testing"

	"github.com/tide-data/tide/internal/sql/ast"
)

// shipmentsSource is a third stream for joins of more than two.
const shipmentsSource = `
CREATE SOURCE shipments (
    order_id bigint, carrier text, shipped_at timestamptz,
    WATERMARK FOR shipped_at AS shipped_at - INTERVAL '1' SECOND
) WITH (connector = 'topic', topic = 'shipments');
`

func analyzeStreams(t *testing.T, sql string) (*Pipeline, error) {
	t.Helper()
	stmt := parseOne(t, sink+sql).(*ast.CreateSink)
	return AnalyzeSink(stmt, catalogOf(t, testSources+shipmentsSource+returnsSource), sinkConnectors, testOptions)
}

const threeWay = `SELECT o.*, p.paid_at, s.carrier, s.shipped_at FROM orders o JOIN payments p ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '1' MINUTE
JOIN shipments s ON s.order_id = p.order_id AND `

// A third stream joins the pairs of the first two: the join before is
// its left side, timed by the side ON bounds it against, which lags
// the first join's watermark by as long as that side's rows are kept.
func TestChainedStreamJoin(t *testing.T) {
	const sec = int64(1_000_000)
	cases := []struct {
		bound     string
		leftTime  string
		lag       int64
		keepLeft  int64
		keepRight int64
	}{
		// By the payment's time: payments wait in the first join for no time
		// (a payment is never before its order), orders one minute.
		{"s.shipped_at BETWEEN p.paid_at AND p.paid_at + INTERVAL '1' HOUR", "paid_at", 0, 3600 * sec, 0},
		{"s.shipped_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '2' HOUR", "placed_at", 60 * sec, 7200 * sec, 0},
		// No bound: a regular join; the pairs are timed by the left's.
		{"s.carrier <> ''", "placed_at", 60 * sec, Forever, Forever},
	}
	for _, c := range cases {
		p, err := analyzeStreams(t, threeWay+c.bound)
		if err != nil {
			t.Fatalf("%s: %v", c.bound, err)
		}
		j := p.StreamJoin
		if j.Before == nil || j.Before.Right.Name != "payments" || j.Right.Name != "shipments" || p.Source.Name != "orders" {
			t.Fatalf("%s: not a chain of orders, payments, shipments: %+v", c.bound, j)
		}
		if got := j.LeftRow[j.LeftTime].Name; got != c.leftTime {
			t.Errorf("%s: left time %s, want %s", c.bound, got, c.leftTime)
		}
		if j.LeftLag != c.lag {
			t.Errorf("%s: lag %d, want %d", c.bound, j.LeftLag, c.lag)
		}
		if l, r := j.Keep(); l != c.keepLeft || r != c.keepRight {
			t.Errorf("%s: keep %d, %d; want %d, %d", c.bound, l, r, c.keepLeft, c.keepRight)
		}
		if len(j.LeftRow) != len(j.Before.LeftRow)+len(j.Before.RightRow) {
			t.Errorf("%s: the left row is not the pairs' row", c.bound)
		}
		var names []string
		for _, o := range p.Outputs {
			names = append(names, o.Name)
		}
		if got, want := strings.Join(names, ","), "id,customer,amount,tags,payload,placed_at,paid_at,carrier,shipped_at"; got != want {
			t.Errorf("%s: * is %s, want %s", c.bound, got, want)
		}
		if srcs := p.Sources(); len(srcs) != 3 {
			t.Errorf("%s: sources %d, want 3", c.bound, len(srcs))
		}
	}
}

// WHERE of an inner join may hold the bound, and the conditions on the
// pairs of the first two streams filter them before they reach the
// third's join.
func TestChainedStreamJoinWhere(t *testing.T) {
	p, err := analyzeStreams(t, `SELECT o.id, s.carrier FROM orders o JOIN payments p ON o.id = p.order_id AND p.amount > 0
JOIN shipments s ON s.order_id = o.id
WHERE p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '1' MINUTE AND s.shipped_at BETWEEN p.paid_at AND p.paid_at + INTERVAL '1' HOUR
  AND o.amount > p.amount - 1 AND s.carrier = 'ups' AND o.customer = 'x'`)
	if err != nil {
		t.Fatal(err)
	}
	j := p.StreamJoin
	if got := j.LeftRow[j.LeftTime].Name; got != "paid_at" {
		t.Errorf("left time %s, want paid_at (bounded in WHERE)", got)
	}
	if l, r := j.Keep(); l != 3600*1_000_000 || r != 0 {
		t.Errorf("keep %d, %d", l, r)
	}
	if j.RightFilterText != "s.carrier = 'ups'" {
		t.Errorf("right filter %q", j.RightFilterText)
	}
	if j.LeftFilterText != "(p.paid_at BETWEEN o.placed_at AND (o.placed_at + INTERVAL '1' MINUTE)) AND (o.amount > (p.amount - 1))" {
		t.Errorf("the pairs' filter %q", j.LeftFilterText)
	}
	if j.Before.RightFilterText != "p.amount > 0" || j.Before.LeftFilterText != "o.customer = 'x'" {
		t.Errorf("the first join's filters %q, %q", j.Before.LeftFilterText, j.Before.RightFilterText)
	}
	// The first join's bound was in WHERE too: it bounds the first join.
	if l, r := j.Before.Keep(); l != 60*1_000_000 || r != 0 {
		t.Errorf("the first join keeps %d, %d", l, r)
	}
	t.Log(p.Explain())
}

// A side the join before pads with NULLs gives no event time: ON's
// bound on it is a condition of a join without a time bound.
func TestChainedStreamJoinPaddedTime(t *testing.T) {
	p, err := analyzeStreams(t, `SELECT o.id, s.carrier FROM orders o LEFT JOIN payments p ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '1' MINUTE
JOIN shipments s ON s.order_id = o.id AND s.shipped_at BETWEEN p.paid_at AND p.paid_at + INTERVAL '1' HOUR`)
	if err != nil {
		t.Fatal(err)
	}
	j := p.StreamJoin
	if got := j.LeftRow[j.LeftTime].Name; got != "placed_at" {
		t.Errorf("left time %s, want placed_at", got)
	}
	if l, r := j.Keep(); l != Forever || r != Forever {
		t.Errorf("keep %d, %d; want no bound", l, r)
	}
	star, err := analyzeStreams(t, `SELECT o.id, s.* FROM orders o JOIN payments p ON o.id = p.order_id JOIN shipments s ON s.order_id = o.id`)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(star.Outputs); n != 4 || star.Outputs[3].Name != "shipped_at" {
		t.Errorf("s.* gives %d outputs", n)
	}
}

func TestChainedStreamJoinErrors(t *testing.T) {
	cases := []errorCase{
		{name: "unbounded first join", sql: `SELECT o.id FROM orders o JOIN payments p ON o.id = p.order_id
JOIN shipments s ON s.order_id = o.id AND s.shipped_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '1' HOUR`,
			msg: "not bounded on both sides", unsupported: true},
		{name: "updating first join", sql: `SELECT o.id FROM orders o LEFT JOIN payments p ON o.id = p.order_id
JOIN shipments s ON s.order_id = o.id KEY BY o.id`,
			msg: "LEFT JOIN without a time bound", unsupported: true},
		{name: "windowed", sql: `SELECT window_start, count(*) AS n FROM TUMBLE(TABLE (` + threeWay + `s.shipped_at BETWEEN p.paid_at AND p.paid_at + INTERVAL '1' HOUR),
DESCRIPTOR(paid_at), INTERVAL '1' MINUTE) GROUP BY window_start, window_end`,
			msg: "TUMBLE over a join of more than two streams", unsupported: true},
		{name: "alias twice", sql: `SELECT o.id FROM orders o JOIN payments p ON o.id = p.order_id JOIN shipments p ON p.order_id = o.id`,
			msg: `table name "p" specified more than once`},
		{name: "stream after a table", sql: `SELECT o.id FROM orders o JOIN customers c ON o.customer = c.name JOIN payments p ON p.order_id = o.id`,
			msg: "a stream joined after a table", unsupported: true},
	}
	for _, c := range cases {
		c.sql = strings.ReplaceAll(c.sql, "SELECT *", "SELECT o.id")
		_, err := analyzeStreams(t, c.sql)
		c.sql = sink + c.sql
		checkError(t, c, err)
	}
}
