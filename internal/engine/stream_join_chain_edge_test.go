package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// Edge cases of joins of more than two streams (chain.go): single
// records placed in event time to reach each corner.

const edgeShipments = `CREATE SOURCE shipments (order_id bigint, carrier text, shipped_at timestamp,
		WATERMARK FOR shipped_at AS shipped_at - INTERVAL '2' SECOND)
		WITH (connector = 'topic', topic = 'shipments', topic.partitions = '1'%s)`

var edgeBase = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func edgeTS(d time.Duration) string { return edgeBase.Add(d).Format("2006-01-02 15:04:05.999") }

func edgeOrder(t *testing.T, tr transport.Transport, id int64, at time.Duration) {
	t.Helper()
	produceValue(t, tr, "orders", fmt.Sprintf(`{"id":%d,"customer":"c","amount":50,"placed_at":"%s"}`, id, edgeTS(at)))
}

func edgePayment(t *testing.T, tr transport.Transport, order int64, at time.Duration) {
	t.Helper()
	produceValue(t, tr, "payments", fmt.Sprintf(`{"order_id":%d,"amount":7,"paid_at":"%s"}`, order, edgeTS(at)))
}

func edgeShipment(t *testing.T, tr transport.Transport, order int64, carrier string, at time.Duration) {
	t.Helper()
	produceValue(t, tr, "shipments", fmt.Sprintf(`{"order_id":%d,"carrier":%q,"shipped_at":"%s"}`, order, carrier, edgeTS(at)))
}

// edgeReadAvailable reads what topic holds after wait without new records.
func edgeReadAvailable(t *testing.T, tr transport.Transport, topic string, wait time.Duration) []map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := tr.NewConsumer(ctx, transport.ConsumerOptions{Group: "rv-reader-" + topic + "-" + time.Now().Format("150405.000000000"), Topics: []string{topic}, Start: transport.StartEarliest})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close(context.Background()) }()
	var out []map[string]any
	for {
		recs, err := c.Poll(ctx)
		if err != nil {
			return out
		}
		for _, r := range recs {
			var row map[string]any
			if err := json.Unmarshal(r.Value, &row); err != nil {
				t.Fatalf("row %s: %v", r.Value, err)
			}
			out = append(out, row)
		}
	}
}

// edgeWaitWatermark waits until the pipeline's (last stage's) watermark
// reaches at.
func edgeWaitWatermark(t *testing.T, e *Engine, sink string, at time.Duration) {
	t.Helper()
	e.mu.Lock()
	p := e.mu.pipelines[sink]
	e.mu.Unlock()
	want := edgeBase.Add(at).UnixMicro()
	waitFor(t, fmt.Sprintf("the watermark at %s", edgeTS(at)), func() bool { return p.stats.watermark.Load() >= want })
}

// In a join of four streams, the middle join reads the first join's
// pairs by p.paid_at. A payment waits up to 20 s in the first join (the
// bound's lower end), so a pair made when its order comes may be 20 s
// behind the first join's watermark: the first join passes its
// watermark on 20 s behind (the middle join's LeftLag), so the pair is
// on time in the middle join and meets its shipment, as it does when
// the middle join is the last of three.
func TestFourStreamMiddleJoinHoldsItsWatermark(t *testing.T) {
	const (
		first = `SELECT o.id, s.carrier%s FROM orders o JOIN payments p
	  ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at - INTERVAL '20' SECOND AND o.placed_at + INTERVAL '10' SECOND
	JOIN shipments s ON s.order_id = p.order_id AND s.shipped_at BETWEEN p.paid_at AND p.paid_at + INTERVAL '30' SECOND`
		fourth = `
	JOIN shipments s2 ON s2.order_id = s.order_id AND s2.shipped_at BETWEEN s.shipped_at AND s.shipped_at + INTERVAL '10' SECOND`
	)
	for _, c := range []struct {
		name, query string
		want        int
	}{
		{"three streams", fmt.Sprintf(first, ""), 1},
		{"four streams", fmt.Sprintf(first, ", s2.carrier AS c2") + fourth, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			n, e := sjEngine(t, nil, true)
			mustExec(t, e, fmt.Sprintf(edgeShipments, ""))
			mustExec(t, e, "CREATE SINK chained WITH (connector = 'topic', topic = 'out', checkpoint.interval = '50ms') AS "+c.query)
			// The payment and the shipment of order 1.
			edgePayment(t, n.tr, 1, 0)
			edgeShipment(t, n.tr, 1, "ups", time.Second)
			// Every stream's watermark to 10 s.
			edgeOrder(t, n.tr, 1000, 12*time.Second)
			edgePayment(t, n.tr, 2000, 12*time.Second)
			edgeShipment(t, n.tr, 3000, "x", 12*time.Second)
			edgeWaitWatermark(t, e, "chained", -10*time.Second)
			time.Sleep(time.Second)
			// The order comes, on time: 15 s, after the first join's
			// watermark (10 s); its payment (0 s) is within its bound.
			edgeOrder(t, n.tr, 1, 15*time.Second)
			time.Sleep(time.Second)
			edgeOrder(t, n.tr, -1, 300*time.Second)
			edgePayment(t, n.tr, -2, 300*time.Second)
			edgeShipment(t, n.tr, -3, "x", 300*time.Second)
			edgeWaitWatermark(t, e, "chained", 200*time.Second)
			rows := edgeReadAvailable(t, n.tr, "out", 2*time.Second)
			late := e.mu.pipelines["chained"].stats.late.Load()
			if len(rows) != c.want || late != 0 {
				t.Fatalf("%d rows %v, %d late; want %d row (order 1, shipped by ups), none late", len(rows), rows, late, c.want)
			}
		})
	}
}

// A join of three streams without time bounds, its state bounded by
// state.ttl = '1h': an order, its payment 10 minutes later and its
// shipment 10 s after that all meet within the hour. The first join's
// pair is timed by the order's time, 10 minutes behind its watermark;
// its rows are kept for the TTL, so it passes its watermark on an hour
// behind (chainLag), and the second join, whose rows the TTL bounds too,
// takes the pair in on time. Without state.ttl nothing is ever late.
func TestUnboundedChainWithTTL(t *testing.T) {
	for _, c := range []struct{ name, opts string }{
		{"without state.ttl", ""},
		{"state.ttl 1h", ", state.ttl = '1h'"},
	} {
		t.Run(c.name, func(t *testing.T) {
			n, e := sjEngine(t, nil, true)
			mustExec(t, e, fmt.Sprintf(edgeShipments, ""))
			mustExec(t, e, `CREATE SINK chained WITH (connector = 'topic', topic = 'out', checkpoint.interval = '50ms'`+c.opts+`) AS
	SELECT o.id, s.carrier FROM orders o JOIN payments p ON o.id = p.order_id
	JOIN shipments s ON s.order_id = p.order_id`)
			edgeOrder(t, n.tr, 1, 0)
			edgeOrder(t, n.tr, 1000, 10*time.Minute)
			edgePayment(t, n.tr, 2000, 10*time.Minute)
			edgeShipment(t, n.tr, 3000, "x", 10*time.Minute)
			// The first join's watermark moves to 10 minutes less 2 s
			// once it has the orders and the payment (the second join's
			// stays an hour behind with state.ttl).
			p := e.mu.pipelines["chained"]
			waitFor(t, "the first two streams' records and the shipment in the joins", func() bool { return p.stats.aggregated.Load() >= 4 })
			time.Sleep(500 * time.Millisecond)
			edgePayment(t, n.tr, 1, 10*time.Minute+5*time.Second)
			time.Sleep(500 * time.Millisecond)
			edgeShipment(t, n.tr, 1, "ups", 10*time.Minute+10*time.Second)
			rows := edgeReadAvailable(t, n.tr, "out", 3*time.Second)
			late := e.mu.pipelines["chained"].stats.late.Load()
			if len(rows) != 1 || late != 0 {
				t.Fatalf("%d rows %v, %d late; want 1 row (order 1, shipped by ups), none late", len(rows), rows, late)
			}
		})
	}
}

// edgeIdleEngine opens an engine with orders, payments and shipments on one
// partition each, all with watermark.idle_timeout = '1s'.
func edgeIdleEngine(t *testing.T) (*node, *Engine) {
	t.Helper()
	n := openNode(t, t.TempDir())
	t.Cleanup(func() { n.close(t) })
	e := openEngineWith(t, n, nil)
	t.Cleanup(func() { closeEngine(t, e) })
	idle := ", watermark.idle_timeout = '1s')"
	orders := strings.Replace(sjOrders, "topic.partitions = '3')", "topic.partitions = '1'"+idle, 1)
	payments := strings.Replace(sjPayments, "topic.partitions = '2')", "topic.partitions = '1'"+idle, 1)
	mustExec(t, e, orders)
	mustExec(t, e, payments)
	mustExec(t, e, fmt.Sprintf(edgeShipments, ", watermark.idle_timeout = '1s'"))
	for _, topic := range []string{"orders", "payments", "shipments"} {
		_ = e.cfg.Transport.CreateTopic(context.Background(), transport.TopicSpec{Name: topic, Partitions: 1})
	}
	return n, e
}

// The first join's tasks are origins of the second join's stage, which
// never takes them for idle, however long their watermark stands still
// (the first two streams keep sending events at one event time): the
// second join's watermark waits for the first join's rather than run
// ahead with the shipments alone, so a pair the first join makes on time
// is on time in the second, as in a join of the two streams alone.
func TestChainNeverTakesTheJoinBeforeForIdle(t *testing.T) {
	for _, c := range []struct{ name, query string }{
		// The control: payments and shipments in a join of two streams.
		{"two streams", `SELECT p.order_id AS id, s.carrier FROM payments p
	JOIN shipments s ON s.order_id = p.order_id AND s.shipped_at BETWEEN p.paid_at AND p.paid_at + INTERVAL '30' SECOND`},
		{"three streams", `SELECT o.id, s.carrier FROM orders o JOIN payments p
	  ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at - INTERVAL '2' SECOND AND o.placed_at + INTERVAL '10' SECOND
	JOIN shipments s ON s.order_id = p.order_id AND s.shipped_at BETWEEN p.paid_at AND p.paid_at + INTERVAL '30' SECOND`},
	} {
		t.Run(c.name, func(t *testing.T) { edgeIdleCase(t, c.query) })
	}
}

func edgeIdleCase(t *testing.T, query string) {
	n, e := edgeIdleEngine(t)
	mustExec(t, e, `CREATE SINK chained WITH (connector = 'topic', topic = 'out', checkpoint.interval = '50ms') AS `+query)
	edgeShipment(t, n.tr, 1, "ups", time.Second)
	// Orders and payments keep coming (all at 0 s: their watermark
	// stands at -2 s); shipments move on to 100 s.
	steady := func(d time.Duration) {
		for i := int64(0); time.Duration(i)*200*time.Millisecond < d; i++ {
			edgeOrder(t, n.tr, 1000+i, 0)
			edgePayment(t, n.tr, 5000+i, 0)
			edgeShipment(t, n.tr, 9000+i, "x", 100*time.Second)
			time.Sleep(200 * time.Millisecond)
		}
	}
	steady(3 * time.Second)
	// Order 1 and its payment, on time in the first join.
	edgeOrder(t, n.tr, 1, 0)
	edgePayment(t, n.tr, 1, time.Second)
	steady(time.Second)
	rows := edgeReadAvailable(t, n.tr, "out", 3*time.Second)
	late := e.mu.pipelines["chained"].stats.late.Load()
	if len(rows) != 1 || late != 0 {
		t.Fatalf("%d rows %v, %d late; want 1 row (order 1, shipped by ups), none late", len(rows), rows, late)
	}
}

// The sources of a join share one watermark, so a join of two streams
// whose idle timeouts differ is refused. In a join of three streams the
// first join is the same join of orders and payments in a stage of its
// own, refused the same way (the third stream's timeout is its stage's).
func TestChainFirstJoinIdleTimeoutsChecked(t *testing.T) {
	n := openNode(t, t.TempDir())
	t.Cleanup(func() { n.close(t) })
	e := openEngineWith(t, n, nil)
	t.Cleanup(func() { closeEngine(t, e) })
	mustExec(t, e, sjOrders)
	mustExec(t, e, strings.Replace(sjPayments, "topic.partitions = '2')", "topic.partitions = '2', watermark.idle_timeout = '5s')", 1))
	mustExec(t, e, fmt.Sprintf(edgeShipments, ""))
	_, err := e.Execute(context.Background(), `CREATE SINK two WITH (connector = 'topic', topic = 'out2') AS
	SELECT o.id FROM orders o JOIN payments p ON o.id = p.order_id`, ExecOptions{})
	if err == nil || !strings.Contains(err.Error(), "same 'watermark.idle_timeout'") {
		t.Fatalf("two streams: %v, want the idle timeouts refused", err)
	}
	_, err = e.Execute(context.Background(), `CREATE SINK three WITH (connector = 'topic', topic = 'out3') AS
	SELECT o.id FROM orders o JOIN payments p ON o.id = p.order_id
	JOIN shipments s ON s.order_id = p.order_id`, ExecOptions{})
	if err == nil {
		t.Fatal("three streams: payments' idle timeout (5s) differs from orders' (60s) in the first join, and the sink was created")
	}
	if !strings.Contains(err.Error(), "same 'watermark.idle_timeout'") {
		t.Fatalf("three streams: %v, want the idle timeouts refused", err)
	}
}

// A subquery as the right side of the last join (its own tasks, shuffled
// to the second join's stage), checked against the oracle.
func TestThreeStreamFedRightSide(t *testing.T) {
	orders, payments := genOrdersPayments(17, 200)
	shipments := genShipments(19, payments, len(orders))
	ship := func(o sjOrder, p sjPayment, s sjShipment) bool {
		return s.carrier != "dhl" && !s.ts.Before(p.ts) && !s.ts.After(p.ts.Add(30*time.Second))
	}
	want := threeWayOracle(orders, payments, shipments, true, ship)
	n, e := sjEngine(t, nil, false)
	mustExec(t, e, sjShipments)
	mustExec(t, e, `CREATE SINK shipped WITH (connector = 'topic', topic = 'out') AS
	SELECT o.id, p.amount AS paid, p.paid_at, s.carrier, s.shipped_at
	FROM orders o JOIN payments p
	  ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at - INTERVAL '2' SECOND AND o.placed_at + INTERVAL '10' SECOND
	LEFT JOIN (SELECT order_id, carrier, shipped_at FROM shipments WHERE carrier <> 'dhl') s
	  ON s.order_id = p.order_id AND s.shipped_at BETWEEN p.paid_at AND p.paid_at + INTERVAL '30' SECOND
	WHERE o.id >= 0 AND o.amount > 10`)
	produceThree(t, n.tr, orders, payments, shipments, 23, true)
	compareRows(t, threeWayRows(t, readExactly(t, n.tr, "out", len(want))), want)
	if late := e.mu.pipelines["shipped"].stats.late.Load(); late != 0 {
		t.Errorf("%d rows late", late)
	}
}

// edgePair is a pair of the first join; o nil for a payment a RIGHT join
// pads.
type edgePair struct {
	o *sjOrder
	p sjPayment
}

// edgeOracle joins by brute force: orders (id >= 0, amount > 10) with
// payments within [-2 s, +10 s], payments alone too with right; each
// pair with the shipments of p.order_id within [0, +30 s] of the
// payment, alone too with leftOuter; shipments without a pair too with
// rightOuter.
func edgeOracle(orders []sjOrder, payments []sjPayment, shipments []sjShipment, right, leftOuter, rightOuter bool) []string {
	stamp := func(t time.Time) string { return t.Format("2006-01-02T15:04:05.999") }
	var pairs []edgePair
	for _, p := range payments {
		if p.orderID < 0 {
			continue
		}
		found := false
		for i := range orders {
			o := &orders[i]
			if o.id >= 0 && o.amount > 10 && p.orderID == o.id && !p.ts.Before(o.ts.Add(-2*time.Second)) && !p.ts.After(o.ts.Add(10*time.Second)) {
				pairs = append(pairs, edgePair{o, p})
				found = true
			}
		}
		if right && !found {
			pairs = append(pairs, edgePair{nil, p})
		}
	}
	var out []string
	shipped := make([]bool, len(shipments))
	for _, pr := range pairs {
		id := "<nil>"
		if pr.o != nil {
			id = fmt.Sprint(pr.o.id)
		}
		pair := fmt.Sprintf("%s|%d|%s", id, pr.p.amount, stamp(pr.p.ts))
		found := false
		for i, s := range shipments {
			if s.orderID == pr.p.orderID && !s.ts.Before(pr.p.ts) && !s.ts.After(pr.p.ts.Add(30*time.Second)) {
				found, shipped[i] = true, true
				out = append(out, pair+"|"+s.carrier+"|"+stamp(s.ts))
			}
		}
		if leftOuter && !found {
			out = append(out, pair+"|<nil>|<nil>")
		}
	}
	for i, s := range shipments {
		if rightOuter && !shipped[i] {
			out = append(out, "<nil>|<nil>|<nil>|"+s.carrier+"|"+stamp(s.ts))
		}
	}
	slices.Sort(out)
	return out
}

// RIGHT and FULL joins in the chain, bounded: checked against the oracle.
func TestThreeStreamOuterKinds(t *testing.T) {
	for _, c := range []struct {
		name, first, last    string
		right, leftO, rightO bool
	}{
		{"right join first", "RIGHT", "", true, false, false},
		{"full join last", "", "FULL", false, true, true},
		{"right join last", "", "RIGHT", false, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			orders, payments := genOrdersPayments(71, 200)
			shipments := genShipments(73, payments, len(orders))
			want := edgeOracle(orders, payments, shipments, c.right, c.leftO, c.rightO)
			t.Logf("%d rows expected", len(want))
			n, e := sjEngine(t, nil, false)
			mustExec(t, e, sjShipments)
			mustExec(t, e, fmt.Sprintf(`CREATE SINK shipped WITH (connector = 'topic', topic = 'out') AS
	SELECT o.id, p.amount AS paid, p.paid_at, s.carrier, s.shipped_at
	FROM orders o %s JOIN payments p
	  ON o.id = p.order_id AND o.id >= 0 AND o.amount > 10 AND p.order_id >= 0
	  AND p.paid_at BETWEEN o.placed_at - INTERVAL '2' SECOND AND o.placed_at + INTERVAL '10' SECOND
	%s JOIN shipments s ON s.order_id = p.order_id AND s.order_id >= 0 AND s.shipped_at BETWEEN p.paid_at AND p.paid_at + INTERVAL '30' SECOND`, c.first, c.last))
			produceThree(t, n.tr, orders, payments, shipments, 79, true)
			compareRows(t, threeWayRows(t, readExactly(t, n.tr, "out", len(want))), want)
			if late := e.mu.pipelines["shipped"].stats.late.Load(); late != 0 {
				t.Errorf("%d rows late", late)
			}
		})
	}
}

// An updating last join (LEFT, without a time bound) over the pairs of a
// bounded join, KEY BY each row: the topic's rows by key end as the
// oracle's.
func TestThreeStreamUpdatingLastJoinKeyBy(t *testing.T) {
	for _, kind := range []string{"LEFT", "FULL"} {
		t.Run(kind, func(t *testing.T) {
			orders, payments := genOrdersPayments(83, 200)
			shipments := genShipments(89, payments, len(orders))
			rightO := kind == "FULL"
			var all []string
			if rightO {
				// Every shipment: the regular join meets all of them.
				stamp := func(t time.Time) string { return t.Format("2006-01-02T15:04:05.999") }
				var pairs []edgePair
				for _, p := range payments {
					for i := range orders {
						o := &orders[i]
						if o.amount > 10 && p.orderID == o.id && !p.ts.Before(o.ts.Add(-2*time.Second)) && !p.ts.After(o.ts.Add(10*time.Second)) {
							pairs = append(pairs, edgePair{o, p})
						}
					}
				}
				all = nil
				met := make([]bool, len(shipments))
				for _, pr := range pairs {
					pair := fmt.Sprintf("%d|%d|%s", pr.o.id, pr.p.amount, stamp(pr.p.ts))
					found := false
					for i, s := range shipments {
						if s.orderID == pr.p.orderID {
							found, met[i] = true, true
							all = append(all, pair+"|"+s.carrier+"|"+stamp(s.ts))
						}
					}
					if !found {
						all = append(all, pair+"|<nil>|<nil>")
					}
				}
				for i, s := range shipments {
					if !met[i] && s.orderID >= 0 {
						all = append(all, "<nil>|<nil>|<nil>|"+s.carrier+"|"+stamp(s.ts))
					}
				}
			} else {
				all = threeWayOracle(orders, payments, shipments, true, func(sjOrder, sjPayment, sjShipment) bool { return true })
			}
			slices.Sort(all)
			want := slices.Compact(all)
			n, e := sjEngine(t, nil, false)
			mustExec(t, e, sjShipments)
			mustExec(t, e, `CREATE SINK shipped WITH (connector = 'topic', topic = 'out') AS
	SELECT o.id, p.amount AS paid, p.paid_at, s.carrier, s.shipped_at
	FROM orders o JOIN payments p
	  ON o.id = p.order_id AND o.id >= 0 AND o.amount > 10
	  AND p.paid_at BETWEEN o.placed_at - INTERVAL '2' SECOND AND o.placed_at + INTERVAL '10' SECOND
	`+kind+` JOIN shipments s ON s.order_id = p.order_id AND s.order_id >= 0
	KEY BY concat(o.id, '|', p.amount, '|', p.paid_at, '|', s.carrier, '|', s.shipped_at)`)
			produceThree(t, n.tr, orders, payments, shipments, 97, true)
			var got []string
			deadline := time.Now().Add(20 * time.Second)
			for time.Now().Before(deadline) {
				var recs []*transport.Record
				for _, v := range currentRows(t, n, "out") {
					recs = append(recs, &transport.Record{Value: []byte(v)})
				}
				// The flush rows' shipments (order -1): a FULL join emits them.
				got = slices.DeleteFunc(threeWayRows(t, recs), func(r string) bool { return strings.HasPrefix(r, "<nil>|<nil>|<nil>||") })
				if slices.Equal(got, want) {
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
			compareRows(t, got, want)
		})
	}
}
