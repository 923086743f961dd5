package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// An aggregation of an inner window join's pairs grouped by their window
// is a window aggregation: the join's tasks send the pairs and then their
// watermark to the aggregation's stage, which emits each window's rows
// once, when the watermark passes its end. Two queries over the seeded
// orders and payments, each row checked against a brute-force evaluation
// (every pair of the same window), exactly once:
//
//   - per 5-second TUMBLE window and customer, the pairs and the amount
//     paid, orders of 10 or less left out by WHERE;
//   - per HOP window (6 seconds every 2), the pairs, grouped by the bare
//     window_start and window_end.
//
// With exactly-once the engine is closed after half the input and opened
// again on an empty state directory: the state comes back from the
// changelogs.
func TestWindowJoinAggregatedByWindow(t *testing.T) {
	orders, payments := genOrdersPayments(29, 700)
	ordersPaymentsInRuns(t, orders, payments, 31, "per_customer",
		func(t *testing.T, e *Engine, opts string) {
			mustExec(t, e, `CREATE SINK per_customer WITH (connector = 'topic', topic = 'per_customer'`+opts+`) AS
				SELECT o.window_start, p.window_end, o.customer, count(*) AS pairs, sum(p.amount) AS paid
				FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '5' SECOND) o
				JOIN TUMBLE(TABLE payments, DESCRIPTOR(paid_at), INTERVAL '5' SECOND) p
				  ON o.id = p.order_id AND p.window_start = o.window_start
				WHERE o.amount > 10
				GROUP BY o.window_start, o.window_end, o.customer`)
			mustExec(t, e, `CREATE SINK per_hop WITH (connector = 'topic', topic = 'per_hop'`+opts+`) AS
				SELECT window_start, count(*) AS pairs
				FROM HOP(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '2' SECOND, INTERVAL '6' SECOND) o
				JOIN HOP(TABLE payments, DESCRIPTOR(paid_at), INTERVAL '2' SECOND, INTERVAL '6' SECOND) p
				  ON o.id = p.order_id AND p.window_start = o.window_start
				GROUP BY window_start, window_end`)
			for _, sink := range []string{"per_customer", "per_hop"} {
				if st := e.mu.pipelines[sink].stateful; st.next == nil || st.next.agg.Window == nil {
					t.Fatalf("%s: the join's pairs are not aggregated by window in a stage of their own", sink)
				}
			}
		},
		func(t *testing.T, n *node, e *Engine) {
			perCustomer, perHop := windowJoinAggregates(orders, payments)
			checkWindowRows(t, n, e, map[string][]string{"per_customer": perCustomer, "per_hop": perHop})
		})
}

// checkWindowRows reads each sink's rows, each key once, and compares
// them with the oracle's; no row may have been late.
func checkWindowRows(t *testing.T, n *node, e *Engine, want map[string][]string) {
	t.Helper()
	for sink, rows := range want {
		got := rowsOnce(t, readExactly(t, n.tr, sink, len(rows)))
		compareRows(t, got, rows)
		if late := e.mu.pipelines[sink].stats.late.Load(); late != 0 {
			t.Errorf("%s: %d rows late", sink, late)
		}
	}
}

// joinRun is one way to run a test over the orders and payments: the
// sinks' extra options, and whether the engine is closed after half the
// input and opened again on an empty state directory (its state then
// comes back from the changelogs).
type joinRun struct {
	name, opts string
	restart    bool
}

var joinRuns = []joinRun{{"at-least-once", "", false}, {"exactly-once restarted", ", delivery.guarantee = 'exactly_once'", true}}

// ordersPaymentsInRuns runs a test over orders and payments once per
// joinRun: create makes the sinks (with the run's options), the input
// goes in whole or in two halves around a restart (once watch's pipeline
// has aggregated more rows than half the orders), and check reads the
// results.
func ordersPaymentsInRuns(t *testing.T, orders []sjOrder, payments []sjPayment, seed uint64, watch string,
	create func(t *testing.T, e *Engine, opts string), check func(t *testing.T, n *node, e *Engine)) {
	t.Helper()
	for _, c := range joinRuns {
		t.Run(c.name, func(t *testing.T) {
			n := openNode(t, t.TempDir())
			defer n.close(t)
			withState := func(dir string) func(*Config) { return func(cfg *Config) { cfg.StateDir = dir } }
			e := openEngineWith(t, n, withState(t.TempDir()))
			mustExec(t, e, sjOrders)
			mustExec(t, e, sjPayments)
			create(t, e, c.opts)
			if c.restart {
				half := len(orders) / 2
				first, rest := splitPayments(payments, orders[half].ts)
				produceHalf(t, n.tr, orders[:half], first)
				waitFor(t, "the first half joined", func() bool {
					p := e.mu.pipelines[watch]
					n := p.stats.aggregated.Load()
					for _, part := range p.parts { // a UNION ALL's
						n += part.stats.aggregated.Load()
					}
					return n > int64(half)
				})
				closeEngine(t, e)
				e = openEngineWith(t, n, withState(t.TempDir()))
				produceOrdersPayments(t, n.tr, orders[half:], rest, seed)
			} else {
				produceOrdersPayments(t, n.tr, orders, payments, seed)
			}
			defer closeEngine(t, e)
			check(t, n, e)
		})
	}
}

// rowsOnce is the rows' values, sorted, failing the test on a key that
// comes twice: a window's row is emitted once.
func rowsOnce(t *testing.T, recs []*transport.Record) []string {
	t.Helper()
	seen := map[string]bool{}
	var out []string
	for _, r := range recs {
		if seen[string(r.Key)] {
			t.Fatalf("key %x emitted twice (%s)", r.Key, r.Value)
		}
		seen[string(r.Key)] = true
		var row map[string]any
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatalf("%s: %v", r.Value, err)
		}
		out = append(out, string(r.Value))
	}
	slices.Sort(out)
	return out
}

// windowJoinAggregates evaluates the two queries by brute force.
func windowJoinAggregates(orders []sjOrder, payments []sjPayment) (perCustomer, perHop []string) {
	const layout = "2006-01-02T15:04:05"
	type group struct {
		start    time.Time
		customer int64
	}
	type sums struct{ pairs, paid int64 }
	tumbling := map[group]sums{}
	hops := map[time.Time]int64{}
	hopStarts := func(ts time.Time) []time.Time {
		var out []time.Time
		for s := ts.Truncate(2 * time.Second); s.After(ts.Add(-6 * time.Second)); s = s.Add(-2 * time.Second) {
			out = append(out, s)
		}
		return out
	}
	for _, o := range orders {
		for _, p := range payments {
			if p.orderID != o.id {
				continue
			}
			if start := o.ts.Truncate(5 * time.Second); o.amount > 10 && p.ts.Truncate(5*time.Second).Equal(start) {
				g := group{start, o.id % 7}
				s := tumbling[g]
				tumbling[g] = sums{s.pairs + 1, s.paid + int64(p.amount)}
			}
			for _, s := range hopStarts(o.ts) {
				if slices.ContainsFunc(hopStarts(p.ts), s.Equal) {
					hops[s]++
				}
			}
		}
	}
	for g, s := range tumbling {
		perCustomer = append(perCustomer, fmt.Sprintf(`{"window_start":"%s","window_end":"%s","customer":"c%d","pairs":%d,"paid":%d}`,
			g.start.Format(layout), g.start.Add(5*time.Second).Format(layout), g.customer, s.pairs, s.paid))
	}
	for start, n := range hops {
		perHop = append(perHop, fmt.Sprintf(`{"window_start":"%s","pairs":%d}`, start.Format(layout), n))
	}
	slices.Sort(perCustomer)
	slices.Sort(perHop)
	return perCustomer, perHop
}

// A top-N over an inner window join aggregated by its windows runs as
// three stages — the join, the window aggregation, the ranking — and
// emits each window's two customers who paid the most once, when the
// watermark passes the window's end. Checked against the brute-force
// per-window sums, exactly-once.
func TestTopNOverWindowJoinAggregate(t *testing.T) {
	orders, payments := genOrdersPayments(37, 700)
	n, e := sjEngine(t, nil, false)
	mustExec(t, e, `CREATE SINK top_customers WITH (connector = 'topic', topic = 'top', delivery.guarantee = 'exactly_once') AS
		SELECT * FROM (
		  SELECT window_start, customer, paid, ROW_NUMBER() OVER (PARTITION BY window_start ORDER BY paid DESC, customer) AS rn
		  FROM (SELECT o.window_start, o.window_end, o.customer, sum(p.amount) AS paid
		        FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '5' SECOND) o
		        JOIN TUMBLE(TABLE payments, DESCRIPTOR(paid_at), INTERVAL '5' SECOND) p
		          ON o.id = p.order_id AND o.window_start = p.window_start
		        GROUP BY o.window_start, o.window_end, o.customer) AS w) WHERE rn <= 2`)
	st := e.mu.pipelines["top_customers"].stateful
	if st.join == nil || st.next == nil || st.next.agg == nil || st.next.agg.Window == nil || st.next.next == nil || st.next.next.topn == nil {
		t.Fatal("not three stages: join, window aggregation, top-N")
	}
	produceOrdersPayments(t, n.tr, orders, payments, 41)

	const layout = "2006-01-02T15:04:05"
	type paid struct {
		customer string
		sum      int64
	}
	windows := map[time.Time]map[string]int64{}
	for _, o := range orders {
		for _, p := range payments {
			if start := o.ts.Truncate(5 * time.Second); p.orderID == o.id && p.ts.Truncate(5*time.Second).Equal(start) {
				if windows[start] == nil {
					windows[start] = map[string]int64{}
				}
				windows[start][fmt.Sprintf("c%d", o.id%7)] += int64(p.amount)
			}
		}
	}
	var want []string
	for start, sums := range windows {
		var ranked []paid
		for c, s := range sums {
			ranked = append(ranked, paid{c, s})
		}
		slices.SortFunc(ranked, func(a, b paid) int {
			if a.sum != b.sum {
				return int(b.sum - a.sum)
			}
			return strings.Compare(a.customer, b.customer)
		})
		for i, r := range ranked[:min(2, len(ranked))] {
			want = append(want, fmt.Sprintf(`{"window_start":"%s","customer":"%s","paid":%d,"rn":%d}`, start.Format(layout), r.customer, r.sum, i+1))
		}
	}
	slices.Sort(want)
	got := rowsOnce(t, readExactly(t, n.tr, "top", len(want)))
	compareRows(t, got, want)
}

// A sink whose state an earlier plan wrote — when an inner window join's
// pairs aggregated by their windows were an updating GROUP BY (in the
// join's tasks or a stage of its own), or its rows ranked by window_end
// an updating top-N — cannot read it as a window aggregation's or a
// final top-N's: the engine refuses to run it, saying to drop and create
// it again, rather than restart its stage for ever on state it cannot
// load (or emit every past window's ranking again). The earlier layout is
// made by removing the second stage's state (its directory and
// changelog) from a sink that ran.
func TestWindowJoinRefusesAnOlderLayout(t *testing.T) {
	for name, query := range map[string]string{
		"aggregated by window": `SELECT o.window_start, o.window_end, count(*) AS pairs
			FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '5' SECOND) o
			JOIN TUMBLE(TABLE payments, DESCRIPTOR(paid_at), INTERVAL '5' SECOND) p
			  ON o.id = p.order_id AND p.window_start = o.window_start
			GROUP BY o.window_start, o.window_end`,
		"ranked by window_end": `SELECT * FROM (SELECT o.window_end AS we, o.id, p.amount,
			  ROW_NUMBER() OVER (PARTITION BY o.window_end ORDER BY p.amount DESC) AS rn
			FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '5' SECOND) o
			JOIN TUMBLE(TABLE payments, DESCRIPTOR(paid_at), INTERVAL '5' SECOND) p
			  ON o.id = p.order_id AND p.window_start = o.window_start) WHERE rn <= 2`,
	} {
		t.Run(name, func(t *testing.T) { testRefusesAnOlderLayout(t, query) })
	}
}

func testRefusesAnOlderLayout(t *testing.T, query string) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	stateDir := t.TempDir()
	var logs syncBuffer
	withState := func(cfg *Config) {
		cfg.StateDir = stateDir
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	e := openEngineWith(t, n, withState)
	mustExec(t, e, sjOrders)
	mustExec(t, e, sjPayments)
	mustExec(t, e, `CREATE SINK out WITH (connector = 'topic', topic = 'out') AS `+query)
	second := e.mu.pipelines["out"].stateful.next
	orders, payments := genOrdersPayments(3, 200)
	produceOrdersPayments(t, n.tr, orders, payments, 4)
	waitFor(t, "windows' rows", func() bool { return len(readSoFar(t, n.tr, "out")) >= 3 })
	closeEngine(t, e)
	if err := os.RemoveAll(second.stateDir); err != nil {
		t.Fatal(err)
	}
	if err := n.tr.DeleteTopic(context.Background(), second.changelog); err != nil {
		t.Fatal(err)
	}
	e = openEngineWith(t, n, withState)
	defer closeEngine(t, e)
	e.mu.Lock()
	_, running := e.mu.pipelines["out"]
	e.mu.Unlock()
	if running || !strings.Contains(logs.String(), "DROP the sink and CREATE it again") {
		t.Fatalf("a sink over an older layout runs (%v), or the log does not say why:\n%s", running, logs.String())
	}
	// Dropped and created again, it runs.
	mustExec(t, e, `DROP SINK out`)
	mustExec(t, e, `CREATE SINK out WITH (connector = 'topic', topic = 'out2') AS `+query)
	waitFor(t, "the recreated sink's rows", func() bool { return len(readSoFar(t, n.tr, "out2")) >= 3 })
}

// A window table function over a query of an interval join aggregates
// its pairs by windows of either side's time. The join's tasks pass their
// watermark on behind by as long as that side's rows stay in the join (a
// stored row meets a newer one), so no pair comes after its window has
// closed. Two queries against brute-force evaluations, each window once,
// nothing late, at-least-once and exactly-once restarted:
//
//   - per 5-second window of the payment time, the pairs of an inner join
//     (payments from 2 s before to 10 s after their order) and their sum,
//     orders of 10 or less left out;
//   - per HOP window (6 s every 2) of the order time, a LEFT join's rows
//     and the payments among them: an order without one counts once, when
//     its 10 seconds have passed.
func TestWindowOverIntervalJoin(t *testing.T) {
	orders, payments := genOrdersPayments(53, 600)
	ordersPaymentsInRuns(t, orders, payments, 59, "by_order",
		func(t *testing.T, e *Engine, opts string) {
			mustExec(t, e, `CREATE SINK by_payment WITH (connector = 'topic', topic = 'by_payment'`+opts+`) AS
				SELECT window_start, count(*) AS pairs, sum(paid) AS paid
				FROM TUMBLE(TABLE (SELECT o.id, p.amount AS paid, p.paid_at FROM orders o JOIN payments p ON o.id = p.order_id
				  AND p.paid_at BETWEEN o.placed_at - INTERVAL '2' SECOND AND o.placed_at + INTERVAL '10' SECOND WHERE o.amount > 10),
				  DESCRIPTOR(paid_at), INTERVAL '5' SECOND)
				GROUP BY window_start, window_end`)
			mustExec(t, e, `CREATE SINK by_order WITH (connector = 'topic', topic = 'by_order'`+opts+`) AS
				SELECT window_start, count(*) AS rows, count(paid) AS paid
				FROM HOP(TABLE (SELECT o.placed_at AS t, p.amount AS paid FROM orders o LEFT JOIN payments p ON o.id = p.order_id
				  AND p.paid_at BETWEEN o.placed_at - INTERVAL '2' SECOND AND o.placed_at + INTERVAL '10' SECOND WHERE o.id >= 0),
				  DESCRIPTOR(t), INTERVAL '2' SECOND, INTERVAL '6' SECOND)
				GROUP BY window_start, window_end`)
		},
		func(t *testing.T, n *node, e *Engine) {
			byPayment, byOrder := intervalJoinWindows(orders, payments)
			checkWindowRows(t, n, e, map[string][]string{"by_payment": byPayment, "by_order": byOrder})
		})
}

// intervalJoinWindows evaluates TestWindowOverIntervalJoin's queries by
// brute force.
func intervalJoinWindows(orders []sjOrder, payments []sjPayment) (byPayment, byOrder []string) {
	const layout = "2006-01-02T15:04:05"
	meets := func(o sjOrder, p sjPayment) bool {
		return p.orderID == o.id && !p.ts.Before(o.ts.Add(-2*time.Second)) && !p.ts.After(o.ts.Add(10*time.Second))
	}
	type sums struct{ pairs, paid int64 }
	tumbling := map[time.Time]sums{}
	type counts struct{ rows, paid int64 }
	hops := map[time.Time]counts{}
	for _, o := range orders {
		var mine []sjPayment
		for _, p := range payments {
			if meets(o, p) {
				mine = append(mine, p)
			}
		}
		if o.amount > 10 {
			for _, p := range mine {
				s := tumbling[p.ts.Truncate(5*time.Second)]
				tumbling[p.ts.Truncate(5*time.Second)] = sums{s.pairs + 1, s.paid + int64(p.amount)}
			}
		}
		rows, paid := int64(len(mine)), int64(len(mine))
		if rows == 0 {
			rows = 1 // the order, NULL-padded
		}
		for s := o.ts.Truncate(2 * time.Second); s.After(o.ts.Add(-6 * time.Second)); s = s.Add(-2 * time.Second) {
			c := hops[s]
			hops[s] = counts{c.rows + rows, c.paid + paid}
		}
	}
	for start, s := range tumbling {
		byPayment = append(byPayment, fmt.Sprintf(`{"window_start":"%s","pairs":%d,"paid":%d}`, start.Format(layout), s.pairs, s.paid))
	}
	for start, c := range hops {
		byOrder = append(byOrder, fmt.Sprintf(`{"window_start":"%s","rows":%d,"paid":%d}`, start.Format(layout), c.rows, c.paid))
	}
	slices.Sort(byPayment)
	slices.Sort(byOrder)
	return byPayment, byOrder
}

// SESSION windows of a join's rows: per customer, the sessions of its
// payments (a gap of 3 seconds) made within their order's bound, each
// emitted once when the watermark — the join's, held back by how long a
// payment waits in the join for its order — passes its end.
func TestSessionsOverIntervalJoin(t *testing.T) {
	orders, payments := genOrdersPayments(61, 500)
	n, e := sjEngine(t, nil, false)
	mustExec(t, e, `CREATE SINK sessions WITH (connector = 'topic', topic = 'sessions', delivery.guarantee = 'exactly_once') AS
		SELECT customer, window_start, window_end, count(*) AS payments
		FROM SESSION(TABLE (SELECT o.customer, p.paid_at FROM orders o JOIN payments p ON o.id = p.order_id
		  AND p.paid_at BETWEEN o.placed_at - INTERVAL '2' SECOND AND o.placed_at + INTERVAL '10' SECOND), DESCRIPTOR(paid_at), INTERVAL '3' SECOND)
		GROUP BY customer, window_start, window_end`)
	produceOrdersPayments(t, n.tr, orders, payments, 67)

	const layout = "2006-01-02T15:04:05.999"
	times := map[string][]time.Time{}
	for _, o := range orders {
		for _, p := range payments {
			if p.orderID == o.id && !p.ts.Before(o.ts.Add(-2*time.Second)) && !p.ts.After(o.ts.Add(10*time.Second)) {
				c := fmt.Sprintf("c%d", o.id%7)
				times[c] = append(times[c], p.ts)
			}
		}
	}
	var want []string
	for c, ts := range times {
		slices.SortFunc(ts, time.Time.Compare)
		start, end, count := ts[0], ts[0].Add(3*time.Second), 1
		emit := func() {
			want = append(want, fmt.Sprintf(`{"customer":"%s","window_start":"%s","window_end":"%s","payments":%d}`,
				c, start.Format(layout), end.Format(layout), count))
		}
		for _, x := range ts[1:] {
			if x.After(end) { // sessions that touch merge
				emit()
				start, count = x, 0
			}
			end, count = later(end, x.Add(3*time.Second)), count+1
		}
		emit()
	}
	slices.Sort(want)
	got := rowsOnce(t, readExactly(t, n.tr, "sessions", len(want)))
	compareRows(t, got, want)
	if late := e.mu.pipelines["sessions"].stats.late.Load(); late != 0 {
		t.Errorf("%d rows late", late)
	}
}
