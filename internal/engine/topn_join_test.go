package engine

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"
)

// A top-N over a join of two streams runs in two stateful stages: the
// join's tasks send each checkpoint's joined rows, WHERE applied, keyed
// by the top-N's PARTITION BY, to the top-N's tasks, each row under the
// identity of the rows it joins. Per customer, the three largest payments
// within the interval join's bound, against a brute-force ranking of
// every pair; with exactly-once the engine is closed halfway and opened
// again on an empty state directory.
func TestTopNOverIntervalJoinAgainstOracle(t *testing.T) {
	for _, c := range []struct {
		name, opts string
		restart    bool
	}{
		{"at-least-once", "", false},
		{"exactly-once restarted", ", delivery.guarantee = 'exactly_once'", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			orders, payments := genOrdersPayments(12, 500)
			n := openNode(t, t.TempDir())
			defer n.close(t)
			withState := func(dir string) func(*Config) { return func(cfg *Config) { cfg.StateDir = dir } }
			e := openEngineWith(t, n, withState(t.TempDir()))
			mustExec(t, e, sjOrders)
			mustExec(t, e, sjPayments)
			mustExec(t, e, `CREATE SINK top_paid WITH (connector = 'topic', topic = 'top_paid'`+c.opts+`) AS
				SELECT customer, id, paid, rn FROM (
				  SELECT o.customer, o.id, p.amount AS paid,
				         ROW_NUMBER() OVER (PARTITION BY o.customer ORDER BY p.amount DESC, o.id, p.paid_at) AS rn
				  FROM orders o JOIN payments p
				    ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at - INTERVAL '2' SECOND AND o.placed_at + INTERVAL '10' SECOND
				  WHERE o.amount > 10) WHERE rn <= 3`)
			if st := e.mu.pipelines["top_paid"].stateful; st.join == nil || st.next == nil || st.next.topn == nil || st.next.retract {
				t.Fatal("the pipeline does not run a join, then a top-N that takes nothing back")
			}
			if c.restart {
				half := len(orders) / 2
				first, rest := splitPayments(payments, orders[half].ts)
				produceHalf(t, n.tr, orders[:half], first)
				waitFor(t, "some top rows", func() bool { return len(currentRows(t, n, "top_paid")) > 5 })
				closeEngine(t, e)
				e = openEngineWith(t, n, withState(t.TempDir()))
				produceOrdersPayments(t, n.tr, orders[half:], rest, 5)
			} else {
				produceOrdersPayments(t, n.tr, orders, payments, 5)
			}
			defer closeEngine(t, e)
			want := rankedPairs(orders, payments, true, 3)
			waitFor(t, "every customer's top three payments", func() bool {
				return maps.Equal(currentRows(t, n, "top_paid"), want)
			})
			if dead := showRow(t, e, "SINKS", "top_paid")["dead_lettered"]; dead != "0" {
				t.Errorf("%s rows dead-lettered", dead)
			}
		})
	}
}

// Over a regular LEFT join an order ranks NULL-padded until its first
// payment takes that row back (a retraction the top-N applies by the
// row's identity) and its pairs replace it: per customer, the three
// largest orders, each with its payments, against a brute-force ranking
// of the join's final rows.
func TestTopNOverUpdatingJoinAgainstOracle(t *testing.T) {
	orders, payments := genOrdersPayments(13, 400)
	n, e := sjEngine(t, func(cfg *Config) { cfg.StateDir = t.TempDir() }, false)
	mustExec(t, e, `CREATE SINK top_orders WITH (connector = 'topic', topic = 'top_orders') AS
		SELECT customer, id, paid, rn FROM (
		  SELECT o.customer, o.id, p.amount AS paid,
		         ROW_NUMBER() OVER (PARTITION BY o.customer ORDER BY o.amount DESC, o.id, p.amount) AS rn
		  FROM orders o LEFT JOIN payments p ON o.id = p.order_id
		  WHERE o.amount > 10) WHERE rn <= 3`)
	if st := e.mu.pipelines["top_orders"].stateful; st.next == nil || st.next.topn == nil || !st.next.retract {
		t.Fatal("the pipeline does not run a top-N that takes the padded rows back")
	}
	// Orders first, then payments, so that most orders rank padded
	// before their pairs come.
	produceHalf(t, n.tr, orders, nil)
	waitFor(t, "the padded orders ranked", func() bool { return len(currentRows(t, n, "top_orders")) > 5 })
	produceHalf(t, n.tr, nil, payments)
	want := rankedPairs(orders, payments, false, 3)
	waitFor(t, "every customer's top three orders with their payments", func() bool {
		return maps.Equal(currentRows(t, n, "top_orders"), want)
	})
}

// rankedPairs ranks the joined rows of orders over 10 with their
// payments per customer — the interval join's pairs ordered by payment,
// or the regular LEFT join's rows (an order without payment NULL-padded)
// ordered by order — and gives the first n of each, by key.
func rankedPairs(orders []sjOrder, payments []sjPayment, interval bool, n int) map[string]string {
	type row struct {
		customer   string
		id, amount int64
		paid       *int64
		paidAt     time.Time
	}
	byCustomer := map[string][]row{}
	for _, o := range orders {
		if o.amount <= 10 {
			continue
		}
		customer := fmt.Sprintf("c%d", o.id%7)
		found := false
		for _, p := range payments {
			if p.orderID != o.id || interval && (p.ts.Before(o.ts.Add(-2*time.Second)) || p.ts.After(o.ts.Add(10*time.Second))) {
				continue
			}
			found = true
			paid := int64(p.amount)
			byCustomer[customer] = append(byCustomer[customer], row{customer, o.id, int64(o.amount), &paid, p.ts})
		}
		if !found && !interval {
			byCustomer[customer] = append(byCustomer[customer], row{customer: customer, id: o.id, amount: int64(o.amount)})
		}
	}
	nullsLast := func(a, b *int64) int {
		switch {
		case a == nil && b == nil:
			return 0
		case a == nil:
			return 1
		case b == nil:
			return -1
		}
		return cmp.Compare(*a, *b)
	}
	out := map[string]string{}
	for customer, rows := range byCustomer {
		slices.SortFunc(rows, func(a, b row) int {
			if interval {
				return cmp.Or(cmp.Compare(*b.paid, *a.paid), cmp.Compare(a.id, b.id), a.paidAt.Compare(b.paidAt))
			}
			return cmp.Or(cmp.Compare(b.amount, a.amount), cmp.Compare(a.id, b.id), nullsLast(a.paid, b.paid))
		})
		for i, r := range rows[:min(n, len(rows))] {
			paid := "null"
			if r.paid != nil {
				paid = fmt.Sprint(*r.paid)
			}
			out[fmt.Sprintf(`["%s",%d]`, customer, i+1)] = fmt.Sprintf(`{"customer":"%s","id":%d,"paid":%s,"rn":%d}`, customer, r.id, paid, i+1)
		}
	}
	return out
}

// A top-N over an aggregated join: per customer bucket, the orders with
// the most paid (GROUP BY o.id: the join's tasks aggregate, then the
// top-N's), and the customers who paid most (GROUP BY o.customer: the
// join's tasks, the aggregation's, then the top-N's — three stages), each
// against a brute-force ranking of the interval join's sums.
func TestTopNOverAggregatedJoinAgainstOracle(t *testing.T) {
	orders, payments := genOrdersPayments(14, 400)
	n, e := sjEngine(t, func(cfg *Config) { cfg.StateDir = t.TempDir() }, false)
	const join = `FROM orders o JOIN payments p
		ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at - INTERVAL '2' SECOND AND o.placed_at + INTERVAL '10' SECOND
		WHERE o.id >= 0` // not the flush rows that move the watermarks
	mustExec(t, e, `CREATE SINK top_orders WITH (connector = 'topic', topic = 'top_orders') AS
		SELECT bucket, id, paid, rn FROM (
		  SELECT *, ROW_NUMBER() OVER (PARTITION BY bucket ORDER BY paid DESC, id) AS rn
		  FROM (SELECT o.id, o.id % 3 AS bucket, sum(p.amount) AS paid `+join+` GROUP BY o.id) AS sums)
		WHERE rn <= 2`)
	mustExec(t, e, `CREATE SINK top_customers WITH (connector = 'topic', topic = 'top_customers') AS
		SELECT customer, paid, rn FROM (
		  SELECT *, ROW_NUMBER() OVER (ORDER BY paid DESC, customer) AS rn
		  FROM (SELECT o.customer, sum(p.amount) AS paid `+join+` GROUP BY o.customer) AS sums)
		WHERE rn <= 3`)
	if st := e.mu.pipelines["top_orders"].stateful; !st.fused() || st.next == nil || st.next.topn == nil || st.next.next != nil {
		t.Fatal("top_orders does not run as the join's tasks aggregating, then the top-N")
	}
	if st := e.mu.pipelines["top_customers"].stateful; st.next == nil || st.next.agg == nil || st.next.next == nil || st.next.next.topn == nil {
		t.Fatal("top_customers does not run as the join, the aggregation, then the top-N")
	}
	produceOrdersPayments(t, n.tr, orders, payments, 7)
	byOrder, byCustomer := map[int64]int64{}, map[string]int64{}
	for _, row := range intervalOracleAll(orders, payments) {
		byOrder[row.id] += row.amount
		byCustomer[fmt.Sprintf("c%d", row.id%7)] += row.amount
	}
	wantOrders := map[string]string{}
	for bucket := range int64(3) {
		var ids []int64
		for id := range byOrder {
			if id%3 == bucket {
				ids = append(ids, id)
			}
		}
		slices.SortFunc(ids, func(a, b int64) int { return cmp.Or(cmp.Compare(byOrder[b], byOrder[a]), cmp.Compare(a, b)) })
		for i, id := range ids[:min(2, len(ids))] {
			wantOrders[fmt.Sprintf("[%d,%d]", bucket, i+1)] = fmt.Sprintf(`{"bucket":%d,"id":%d,"paid":%d,"rn":%d}`, bucket, id, byOrder[id], i+1)
		}
	}
	customers := slices.Collect(maps.Keys(byCustomer))
	slices.SortFunc(customers, func(a, b string) int { return cmp.Or(cmp.Compare(byCustomer[b], byCustomer[a]), cmp.Compare(a, b)) })
	wantCustomers := map[string]string{}
	for i, c := range customers[:min(3, len(customers))] {
		wantCustomers[fmt.Sprint(i+1)] = fmt.Sprintf(`{"customer":"%s","paid":%d,"rn":%d}`, c, byCustomer[c], i+1)
	}
	ok := false
	for deadline := time.Now().Add(20 * time.Second); !ok && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		ok = maps.Equal(currentRows(t, n, "top_orders"), wantOrders) && maps.Equal(currentRows(t, n, "top_customers"), wantCustomers)
	}
	if !ok {
		t.Fatalf("top_orders %v\nwant %v\ntop_customers %v\nwant %v\n%v\n%v", currentRows(t, n, "top_orders"), wantOrders,
			currentRows(t, n, "top_customers"), wantCustomers, showRow(t, e, "SINKS", "top_orders"), showRow(t, e, "SINKS", "top_customers"))
	}
}

// joinedPayment is one pair of the interval join.
type joinedPayment struct{ id, amount int64 }

// intervalOracleAll is every pair of the interval join of orders and
// payments ([-2 s, +10 s] of the order), with no other condition.
func intervalOracleAll(orders []sjOrder, payments []sjPayment) []joinedPayment {
	var out []joinedPayment
	for _, o := range orders {
		for _, p := range payments {
			if p.orderID == o.id && !p.ts.Before(o.ts.Add(-2*time.Second)) && !p.ts.After(o.ts.Add(10*time.Second)) {
				out = append(out, joinedPayment{o.id, int64(p.amount)})
			}
		}
	}
	return out
}
