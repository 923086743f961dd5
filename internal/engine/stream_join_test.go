package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tide-data/tide/internal/transport"
)

// The tests of this file check joins of two streams against brute-force
// oracles over seeded inputs: orders on three partitions, payments on
// two, each partition out of order by less than its source's watermark
// lateness (so no row is late), produced interleaved in event-time order
// as a live system would see them.

const (
	sjOrders = `CREATE SOURCE orders (id bigint, customer text, amount int, placed_at timestamp,
		WATERMARK FOR placed_at AS placed_at - INTERVAL '2' SECOND)
		WITH (connector = 'topic', topic = 'orders', topic.partitions = '3')`
	sjPayments = `CREATE SOURCE payments (order_id int, amount int, paid_at timestamp,
		WATERMARK FOR paid_at AS paid_at - INTERVAL '2' SECOND)
		WITH (connector = 'topic', topic = 'payments', topic.partitions = '2')`
)

type sjOrder struct {
	part   int32
	id     int64
	amount int
	ts     time.Time
}

type sjPayment struct {
	part    int32
	orderID int64
	amount  int
	ts      time.Time
}

// genOrdersPayments makes n orders and about 1.2 n payments: most pay an
// order within [-3 s, +15 s] of it (so some fall outside the query's
// bound of [-2 s, +10 s]), some pay orders that do not exist.
func genOrdersPayments(seed uint64, n int) ([]sjOrder, []sjPayment) {
	r := rand.New(rand.NewPCG(seed, 2))
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	orders := make([]sjOrder, n)
	for i := range orders {
		ts := base.Add(time.Duration(i)*100*time.Millisecond + time.Duration(r.IntN(1500))*time.Millisecond)
		orders[i] = sjOrder{part: int32(r.IntN(3)), id: int64(i), amount: r.IntN(100), ts: ts.Truncate(time.Millisecond)}
	}
	var payments []sjPayment
	for range n * 6 / 5 {
		p := sjPayment{part: int32(r.IntN(2)), amount: r.IntN(100)}
		if r.IntN(10) == 0 {
			p.orderID = int64(n + r.IntN(n))
			p.ts = base.Add(time.Duration(r.IntN(n)) * 100 * time.Millisecond)
		} else {
			o := orders[r.IntN(n)]
			p.orderID = o.id
			p.ts = o.ts.Add(time.Duration(r.IntN(18000)-3000) * time.Millisecond)
		}
		p.ts = p.ts.Truncate(time.Millisecond)
		payments = append(payments, p)
	}
	return orders, payments
}

// produceOrdersPayments writes the rows in event-time order, each
// shifted by up to 1.5 s (less than the 2 s lateness) so partitions are
// a little out of order, then a flush row per partition a minute after
// the last, which moves every watermark past every bound.
func produceOrdersPayments(t *testing.T, tr transport.Transport, orders []sjOrder, payments []sjPayment, seed uint64) {
	t.Helper()
	produceThree(t, tr, orders, payments, nil, seed, true)
}

// produceBatches writes recs in order, 200 at a time.
func produceBatches(t *testing.T, tr transport.Transport, recs []*transport.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(recs) > 0 {
		n := min(200, len(recs))
		if err := tr.Produce(ctx, recs[:n]); err != nil {
			t.Fatal(err)
		}
		recs = recs[n:]
	}
}

// joinOracle evaluates the tests' join by brute force, as SQL defines
// it: every order with every payment of it for which meets holds; with
// outer[0], every order without one, with a NULL payment; with outer[1],
// every payment (of an order id >= 0) without one, with a NULL order;
// then WHERE: the order's id >= 0 and amount > 10, or no order.
func joinOracle(orders []sjOrder, payments []sjPayment, outer [2]bool, meets func(o sjOrder, p sjPayment) bool) []string {
	var out []string
	where := func(o *sjOrder) bool { return o == nil || o.id >= 0 && o.amount > 10 }
	paid := func(p sjPayment) string {
		return fmt.Sprintf("%d|%s", p.amount, p.ts.Format("2006-01-02T15:04:05.999"))
	}
	matched := make([]bool, len(payments))
	for _, o := range orders {
		found := false
		for i, p := range payments {
			if p.orderID >= 0 && p.orderID == o.id && meets(o, p) {
				found, matched[i] = true, true
				if where(&o) {
					out = append(out, fmt.Sprintf("%d|%s", o.id, paid(p)))
				}
			}
		}
		if outer[0] && !found && where(&o) {
			out = append(out, fmt.Sprintf("%d|<nil>|<nil>", o.id))
		}
	}
	for i, p := range payments {
		if outer[1] && !matched[i] && p.orderID >= 0 && where(nil) {
			out = append(out, "<nil>|"+paid(p))
		}
	}
	slices.Sort(out)
	return out
}

// intervalOracle is the join within [-2 s, +10 s] of the order.
func intervalOracle(orders []sjOrder, payments []sjPayment, outer [2]bool) []string {
	return joinOracle(orders, payments, outer, func(o sjOrder, p sjPayment) bool {
		return !p.ts.Before(o.ts.Add(-2*time.Second)) && !p.ts.After(o.ts.Add(10*time.Second))
	})
}

// sjEngine opens an engine on a new node with the orders and payments
// sources declared, each on one partition if single.
func sjEngine(t *testing.T, configure func(*Config), single bool) (*node, *Engine) {
	t.Helper()
	n := openNode(t, t.TempDir())
	t.Cleanup(func() { n.close(t) })
	e := openEngineWith(t, n, configure)
	t.Cleanup(func() { closeEngine(t, e) })
	orders, payments := sjOrders, sjPayments
	if single {
		orders = strings.Replace(orders, "topic.partitions = '3'", "topic.partitions = '1'", 1)
		payments = strings.Replace(payments, "topic.partitions = '2'", "topic.partitions = '1'", 1)
	}
	mustExec(t, e, orders)
	mustExec(t, e, payments)
	return n, e
}

// produceValue writes one record to partition 0 of topic.
func produceValue(t *testing.T, tr transport.Transport, topic, value string) {
	t.Helper()
	if err := tr.Produce(context.Background(), []*transport.Record{{Topic: topic, Partition: 0, Value: []byte(value)}}); err != nil {
		t.Fatal(err)
	}
}

// joinedRows decodes the sink's rows as the oracle writes them.
func joinedRows(t *testing.T, recs []*transport.Record) []string {
	t.Helper()
	var out []string
	for _, r := range recs {
		var row struct {
			ID     *int64  `json:"id"`
			Paid   *int    `json:"paid"`
			PaidAt *string `json:"paid_at"`
		}
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatalf("row %s: %v", r.Value, err)
		}
		id, paid, at := "<nil>", "<nil>", "<nil>"
		if row.ID != nil {
			id = fmt.Sprint(*row.ID)
		}
		if row.Paid != nil {
			paid = fmt.Sprint(*row.Paid)
		}
		if row.PaidAt != nil {
			ts, err := time.Parse("2006-01-02T15:04:05.999999", *row.PaidAt)
			if err != nil {
				t.Fatalf("paid_at %q: %v", *row.PaidAt, err)
			}
			at = ts.Format("2006-01-02T15:04:05.999")
		}
		out = append(out, id+"|"+paid+"|"+at)
	}
	slices.Sort(out)
	return out
}

// readExactly reads want records of topic, then keeps reading for a
// moment to catch any beyond them.
func readExactly(t *testing.T, tr transport.Transport, topic string, want int) []*transport.Record {
	t.Helper()
	recs := readAll(t, tr, topic, want)
	time.Sleep(500 * time.Millisecond)
	return readAll(t, tr, topic, len(recs))
}

func compareRows(t *testing.T, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	gm, wm := map[string]int{}, map[string]int{}
	for _, g := range got {
		gm[g]++
	}
	for _, w := range want {
		wm[w]++
	}
	shown := 0
	for k, n := range wm {
		if gm[k] != n && shown < 10 {
			t.Errorf("row %s: got %d, want %d", k, gm[k], n)
			shown++
		}
	}
	for k, n := range gm {
		if wm[k] == 0 && shown < 20 {
			t.Errorf("unexpected row %s (×%d)", k, n)
			shown++
		}
	}
	t.Fatalf("got %d rows, want %d", len(got), len(want))
}

const sjQuery = `SELECT o.id, p.amount AS paid, p.paid_at
	FROM orders o %s JOIN payments p
	  ON o.id = p.order_id AND p.order_id >= 0
	 AND p.paid_at BETWEEN o.placed_at - INTERVAL '2' SECOND AND o.placed_at + INTERVAL '10' SECOND
	WHERE o.id IS NULL OR (o.id >= 0 AND o.amount > 10)`

func TestIntervalJoinAgainstOracle(t *testing.T) {
	for _, c := range []struct {
		name, kind, opts string
		outer            [2]bool
	}{
		{"inner", "", "", [2]bool{}},
		{"left exactly-once", "LEFT", ", delivery.guarantee = 'exactly_once'", [2]bool{true, false}},
		{"right", "RIGHT", "", [2]bool{false, true}},
		{"full", "FULL", "", [2]bool{true, true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			orders, payments := genOrdersPayments(7, 800)
			want := intervalOracle(orders, payments, c.outer)
			t.Logf("%d rows expected", len(want))
			n, e := sjEngine(t, nil, false)
			mustExec(t, e, fmt.Sprintf("CREATE SINK paid WITH (connector = 'topic', topic = 'out'%s) AS "+sjQuery, c.opts, c.kind))
			produceOrdersPayments(t, n.tr, orders, payments, 11)
			got := joinedRows(t, readExactly(t, n.tr, "out", len(want)))
			compareRows(t, got, want)
			if late := e.mu.pipelines["paid"].stats.late.Load(); late != 0 {
				t.Errorf("%d rows late; the inputs were within the lateness", late)
			}
		})
	}
}

// An inner join's time bound written in WHERE bounds the join's state as
// one in ON does, and gives the same pairs.
func TestInnerJoinBoundInWhere(t *testing.T) {
	orders, payments := genOrdersPayments(9, 800)
	want := intervalOracle(orders, payments, [2]bool{})
	n, e := sjEngine(t, nil, false)
	mustExec(t, e, `CREATE SINK paid WITH (connector = 'topic', topic = 'out') AS
		SELECT o.id, p.amount AS paid, p.paid_at FROM orders o JOIN payments p ON o.id = p.order_id
		WHERE p.order_id >= 0 AND p.paid_at BETWEEN o.placed_at - INTERVAL '2' SECOND AND o.placed_at + INTERVAL '10' SECOND
		  AND o.id >= 0 AND o.amount > 10`)
	if left, right := e.mu.pipelines["paid"].plan.StreamJoin.Keep(); left != 10e6 || right != 2e6 {
		t.Errorf("rows kept %d µs (orders) and %d µs (payments), want 10 s and 2 s", left, right)
	}
	produceOrdersPayments(t, n.tr, orders, payments, 11)
	compareRows(t, joinedRows(t, readExactly(t, n.tr, "out", len(want))), want)
}

// A join's state survives a restart: the engine closed halfway through
// the input and opened again on the same data directory gives the same
// rows as a run without one (each pair once: the stage resumes from its
// checkpoint, exactly-once).
func TestIntervalJoinSurvivesRestart(t *testing.T) {
	orders, payments := genOrdersPayments(21, 600)
	want := intervalOracle(orders, payments, [2]bool{true, false})
	n := openNode(t, t.TempDir())
	stateDir := t.TempDir()
	e := openEngineWith(t, n, func(c *Config) { c.StateDir = stateDir })
	mustExec(t, e, sjOrders)
	mustExec(t, e, sjPayments)
	mustExec(t, e, fmt.Sprintf("CREATE SINK paid WITH (connector = 'topic', topic = 'out', delivery.guarantee = 'exactly_once') AS "+sjQuery, "LEFT"))
	half := len(orders) / 2
	cut := orders[half].ts
	firstPayments, restPayments := splitPayments(payments, cut)
	produceHalf(t, n.tr, orders[:half], firstPayments)
	waitFor(t, "the first half joined", func() bool { return e.mu.pipelines["paid"].stats.aggregated.Load() > int64(half) })
	closeEngine(t, e)
	e = openEngineWith(t, n, func(c *Config) { c.StateDir = stateDir })
	t.Cleanup(func() { closeEngine(t, e); n.close(t) })
	produceOrdersPayments(t, n.tr, orders[half:], restPayments, 5)
	got := joinedRows(t, readExactly(t, n.tr, "out", len(want)))
	compareRows(t, got, want)
}

// produceHalf writes rows without the flush: the first part of an input.
func produceHalf(t *testing.T, tr transport.Transport, orders []sjOrder, payments []sjPayment) {
	t.Helper()
	var recs []*transport.Record
	ts := func(t time.Time) string { return t.Format("2006-01-02 15:04:05.999") }
	for _, o := range orders {
		recs = append(recs, &transport.Record{Topic: "orders", Partition: o.part,
			Value: fmt.Appendf(nil, `{"id":%d,"customer":"c%d","amount":%d,"placed_at":"%s"}`, o.id, o.id%7, o.amount, ts(o.ts))})
	}
	payments = slices.Clone(payments)
	slices.SortStableFunc(payments, func(a, b sjPayment) int { return a.ts.Compare(b.ts) })
	for _, p := range payments {
		recs = append(recs, &transport.Record{Topic: "payments", Partition: p.part,
			Value: fmt.Appendf(nil, `{"order_id":%d,"amount":%d,"paid_at":"%s"}`, p.orderID, p.amount, ts(p.ts))})
	}
	if err := tr.Produce(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// windowOracle is the join within the order's 5-second tumbling window.
func windowOracle(orders []sjOrder, payments []sjPayment, outer [2]bool) []string {
	return joinOracle(orders, payments, outer, func(o sjOrder, p sjPayment) bool {
		return p.ts.Truncate(5 * time.Second).Equal(o.ts.Truncate(5 * time.Second))
	})
}

// A window join: both sides TUMBLE, equal window starts; pairs meet
// within their window only, and a LEFT JOIN's lonely orders come out when
// their window has passed.
func TestWindowJoinAgainstOracle(t *testing.T) {
	for _, c := range []struct {
		name, kind string
		outer      [2]bool
	}{{"inner", "", [2]bool{}}, {"left", "LEFT", [2]bool{true, false}}, {"full", "FULL", [2]bool{true, true}}} {
		t.Run(c.name, func(t *testing.T) {
			orders, payments := genOrdersPayments(13, 800)
			want := windowOracle(orders, payments, c.outer)
			t.Logf("%d rows expected", len(want))
			n, e := sjEngine(t, nil, false)
			mustExec(t, e, fmt.Sprintf(`CREATE SINK paid WITH (connector = 'topic', topic = 'out') AS
				SELECT o.id, p.amount AS paid, p.paid_at
				FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '5' SECOND) o
				%s JOIN TUMBLE(TABLE payments, DESCRIPTOR(paid_at), INTERVAL '5' SECOND) p
				  ON o.id = p.order_id AND p.order_id >= 0 AND p.window_start = o.window_start
				WHERE o.id IS NULL OR (o.id >= 0 AND o.amount > 10)`, c.kind))
			produceOrdersPayments(t, n.tr, orders, payments, 17)
			got := joinedRows(t, readExactly(t, n.tr, "out", len(want)))
			compareRows(t, got, want)
		})
	}
}

// Late rows: once the join's watermark has passed a row's time, an
// interval join drops it (a partner it should meet may be gone) and
// counts it, while a regular join (the other side kept for ever) still
// joins it. The state and lateness metrics of a join are scraped.
func TestJoinLateRows(t *testing.T) {
	for _, c := range []struct {
		name, on string
		joined   bool // whether the late payment joins
	}{
		{"interval", "AND p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '10' SECOND", false},
		{"regular", "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			n, e := sjEngine(t, func(cfg *Config) { cfg.Metrics = reg }, true)
			// Late payments go to a topic of their own.
			mustExec(t, e, "DROP SOURCE payments")
			mustExec(t, e, strings.Replace(strings.Replace(sjPayments, "topic.partitions = '2'", "topic.partitions = '1'", 1),
				"WITH (", "WITH (late.topic = 'late_payments', ", 1))
			mustExec(t, e, `CREATE SINK paid WITH (connector = 'topic', topic = 'out') AS
				SELECT o.id, p.amount AS paid, p.paid_at FROM orders o JOIN payments p ON o.id = p.order_id `+c.on)
			base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
			ts := func(s int) string { return base.Add(time.Duration(s) * time.Second).Format("2006-01-02 15:04:05") }
			produce := func(topic, value string) { t.Helper(); produceValue(t, n.tr, topic, value) }
			produce("orders", fmt.Sprintf(`{"id":1,"amount":5,"placed_at":"%s"}`, ts(5)))
			produce("payments", fmt.Sprintf(`{"order_id":1,"amount":7,"paid_at":"%s"}`, ts(6))) // on time: joins
			// Both sides far ahead: the watermark passes 90 s.
			produce("orders", fmt.Sprintf(`{"id":2,"amount":5,"placed_at":"%s"}`, ts(100)))
			produce("payments", fmt.Sprintf(`{"order_id":2,"amount":8,"paid_at":"%s"}`, ts(100)))
			p := e.mu.pipelines["paid"]
			waitFor(t, "the join's watermark past 90 s", func() bool { return p.stats.watermark.Load() >= base.Add(90*time.Second).UnixMicro() })
			produce("payments", fmt.Sprintf(`{"order_id":1,"amount":9,"paid_at":"%s"}`, ts(7))) // late
			want := []string{"1|7|2026-03-01T00:00:06", "2|8|2026-03-01T00:01:40"}
			late := int64(1)
			if c.joined {
				want, late = append(want, "1|9|2026-03-01T00:00:07"), 0
			}
			slices.Sort(want)
			waitFor(t, "the late row handled", func() bool { return p.stats.aggregated.Load()+p.stats.late.Load() == 5 })
			got := joinedRows(t, readExactly(t, n.tr, "out", len(want)))
			compareRows(t, got, want)
			if got := p.stats.late.Load(); got != late {
				t.Errorf("%d late rows counted, want %d", got, late)
			}
			if v := gather(t, reg, "tide_pipeline_late_records_total", "paid")[""].GetCounter().GetValue(); int64(v) != late {
				t.Errorf("tide_pipeline_late_records_total = %v, want %d", v, late)
			}
			if late > 0 {
				recs := readAll(t, n.tr, "late_payments", 1)
				const wantLate = `{"order_id":1,"amount":9,"paid_at":"2026-03-01T00:00:07","event_time":"2026-03-01T00:00:07+00:00","origin_partition":0,"origin_offset":2}`
				if got := string(recs[0].Value); len(recs) != 1 || got != wantLate {
					t.Errorf("late topic: %d records, first %s; want %s", len(recs), got, wantLate)
				}
			}
			waitFor(t, "the join's state in the metrics", func() bool {
				return gather(t, reg, "tide_pipeline_state_memory_bytes", "paid")[""].GetGauge().GetValue() > 0
			})
		})
	}
}

// A join of HOP windows: a pair meets once per window that holds both of
// its rows.
func TestHopWindowJoinAgainstOracle(t *testing.T) {
	orders, payments := genOrdersPayments(19, 600)
	starts := func(ts time.Time) map[time.Time]bool {
		out := map[time.Time]bool{}
		for s := ts.Truncate(2 * time.Second); s.After(ts.Add(-6 * time.Second)); s = s.Add(-2 * time.Second) {
			out[s] = true
		}
		return out
	}
	var want []string
	for _, o := range orders {
		if o.amount <= 10 {
			continue
		}
		ow := starts(o.ts)
		for _, p := range payments {
			if p.orderID != o.id {
				continue
			}
			for s := range starts(p.ts) {
				if ow[s] {
					want = append(want, fmt.Sprintf("%d|%d|%s", o.id, p.amount, p.ts.Format("2006-01-02T15:04:05.999")))
				}
			}
		}
	}
	slices.Sort(want)
	t.Logf("%d rows expected", len(want))
	n, e := sjEngine(t, nil, false)
	mustExec(t, e, `CREATE SINK paid WITH (connector = 'topic', topic = 'out') AS
		SELECT o.id, p.amount AS paid, p.paid_at
		FROM HOP(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '2' SECOND, INTERVAL '6' SECOND) o
		JOIN HOP(TABLE payments, DESCRIPTOR(paid_at), INTERVAL '2' SECOND, INTERVAL '6' SECOND) p
		  ON o.id = p.order_id AND p.window_start = o.window_start
		WHERE o.id >= 0 AND o.amount > 10`)
	produceOrdersPayments(t, n.tr, orders, payments, 23)
	got := joinedRows(t, readExactly(t, n.tr, "out", len(want)))
	compareRows(t, got, want)
}
