package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// The tests of this file check joins of three streams (orders, their
// payments, their shipments) against a brute-force oracle: the first
// two joined as in stream_join_test.go, their pairs joined with the
// shipments in a second join stage.

const sjShipments = `CREATE SOURCE shipments (order_id bigint, carrier text, shipped_at timestamp,
		WATERMARK FOR shipped_at AS shipped_at - INTERVAL '2' SECOND)
		WITH (connector = 'topic', topic = 'shipments', topic.partitions = '2')`

type sjShipment struct {
	part    int32
	orderID int64
	carrier string
	ts      time.Time
}

// genShipments ships about 0.8 of the payments' orders, from 5 s before
// the payment to 40 s after it (so some fall outside the queries'
// bounds), and a few orders that do not exist.
func genShipments(seed uint64, payments []sjPayment, orders int) []sjShipment {
	r := rand.New(rand.NewPCG(seed, 4))
	var out []sjShipment
	for _, p := range payments {
		if r.IntN(5) == 0 {
			continue
		}
		s := sjShipment{part: int32(r.IntN(2)), orderID: p.orderID, carrier: []string{"ups", "dhl", "post"}[r.IntN(3)],
			ts: p.ts.Add(time.Duration(r.IntN(45000)-5000) * time.Millisecond).Truncate(time.Millisecond)}
		if r.IntN(12) == 0 {
			s.orderID = int64(orders + r.IntN(orders))
		}
		out = append(out, s)
	}
	return out
}

// produceThree writes orders, payments and shipments (if any)
// interleaved in event-time order, each shifted by up to 1.5 s (less
// than the 2 s lateness), then with flush a row per partition a minute
// after the last, which moves every watermark past every bound.
func produceThree(t *testing.T, tr transport.Transport, orders []sjOrder, payments []sjPayment, shipments []sjShipment, seed uint64, flush bool) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 5))
	type rec struct {
		at  time.Time
		rec *transport.Record
	}
	var recs []rec
	last := time.Time{}
	ts := func(t time.Time) string { return t.Format("2006-01-02 15:04:05.999") }
	add := func(at time.Time, topic string, part int32, value []byte) {
		recs = append(recs, rec{at.Add(time.Duration(r.IntN(1500)) * time.Millisecond), &transport.Record{Topic: topic, Partition: part, Value: value}})
		last = later(last, at)
	}
	for _, o := range orders {
		add(o.ts, "orders", o.part, fmt.Appendf(nil, `{"id":%d,"customer":"c%d","amount":%d,"placed_at":"%s"}`, o.id, o.id%7, o.amount, ts(o.ts)))
	}
	for _, p := range payments {
		add(p.ts, "payments", p.part, fmt.Appendf(nil, `{"order_id":%d,"amount":%d,"paid_at":"%s"}`, p.orderID, p.amount, ts(p.ts)))
	}
	for _, s := range shipments {
		add(s.ts, "shipments", s.part, fmt.Appendf(nil, `{"order_id":%d,"carrier":"%s","shipped_at":"%s"}`, s.orderID, s.carrier, ts(s.ts)))
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].at.Before(recs[j].at) })
	end := ts(last.Add(time.Minute))
	for part := range int32(3) {
		if flush {
			recs = append(recs, rec{rec: &transport.Record{Topic: "orders", Partition: part, Value: fmt.Appendf(nil, `{"id":-1,"amount":0,"placed_at":"%s"}`, end)}})
		}
	}
	for part := range int32(2) {
		if flush {
			recs = append(recs, rec{rec: &transport.Record{Topic: "payments", Partition: part, Value: fmt.Appendf(nil, `{"order_id":-1,"amount":0,"paid_at":"%s"}`, end)}})
		}
		if flush && shipments != nil {
			recs = append(recs, rec{rec: &transport.Record{Topic: "shipments", Partition: part, Value: fmt.Appendf(nil, `{"order_id":-1,"carrier":"","shipped_at":"%s"}`, end)}})
		}
	}
	out := make([]*transport.Record, len(recs))
	for i, r := range recs {
		out[i] = r.rec
	}
	produceBatches(t, tr, out)
}

// threeWayOracle joins by brute force: every order (amount > 10) with
// every payment of it within [-2 s, +10 s] of it, each pair with every
// shipment of its order that ship accepts; with left, a pair without
// one once, with NULLs.
func threeWayOracle(orders []sjOrder, payments []sjPayment, shipments []sjShipment, left bool, ship func(o sjOrder, p sjPayment, s sjShipment) bool) []string {
	var out []string
	stamp := func(t time.Time) string { return t.Format("2006-01-02T15:04:05.999") }
	for _, pr := range paidOrders(orders, payments) {
		pair := fmt.Sprintf("%d|%d|%s", pr.o.id, pr.p.amount, stamp(pr.p.ts))
		found := false
		for _, s := range shipments {
			if s.orderID == pr.o.id && ship(pr.o, pr.p, s) {
				found = true
				out = append(out, pair+"|"+s.carrier+"|"+stamp(s.ts))
			}
		}
		if left && !found {
			out = append(out, pair+"|<nil>|<nil>")
		}
	}
	slices.Sort(out)
	return out
}

type threeWayRow struct {
	o sjOrder
	p sjPayment
	s sjShipment
}

// paidOrders are the pairs of the first join: every order (amount > 10)
// with every payment of it within [-2 s, +10 s] of it.
func paidOrders(orders []sjOrder, payments []sjPayment) []threeWayRow {
	var out []threeWayRow
	for _, o := range orders {
		if o.id < 0 || o.amount <= 10 {
			continue
		}
		for _, p := range payments {
			if p.orderID == o.id && !p.ts.Before(o.ts.Add(-2*time.Second)) && !p.ts.After(o.ts.Add(10*time.Second)) {
				out = append(out, threeWayRow{o: o, p: p})
			}
		}
	}
	return out
}

// threeWayRows decodes the sink's rows as threeWayOracle writes them.
func threeWayRows(t *testing.T, recs []*transport.Record) []string {
	t.Helper()
	var out []string
	for _, r := range recs {
		var row map[string]any
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatalf("row %s: %v", r.Value, err)
		}
		var parts []string
		for _, k := range []string{"id", "paid", "paid_at", "carrier", "shipped_at"} {
			v, ok := row[k]
			switch {
			case !ok || v == nil:
				parts = append(parts, "<nil>")
			case k == "paid_at" || k == "shipped_at":
				ts, err := time.Parse("2006-01-02T15:04:05.999999", v.(string))
				if err != nil {
					t.Fatalf("%s %q: %v", k, v, err)
				}
				parts = append(parts, ts.Format("2006-01-02T15:04:05.999"))
			default:
				parts = append(parts, fmt.Sprint(v))
			}
		}
		out = append(out, fmt.Sprintf("%s|%s|%s|%s|%s", parts[0], parts[1], parts[2], parts[3], parts[4]))
	}
	slices.Sort(out)
	return out
}

const threeWayQuery = `SELECT o.id, p.amount AS paid, p.paid_at, s.carrier, s.shipped_at
	FROM orders o JOIN payments p
	  ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at - INTERVAL '2' SECOND AND o.placed_at + INTERVAL '10' SECOND
	%s JOIN shipments s ON s.order_id = p.order_id AND %s
	WHERE o.id >= 0 AND o.amount > 10`

func TestThreeStreamJoinAgainstOracle(t *testing.T) {
	byPayment := func(o sjOrder, p sjPayment, s sjShipment) bool {
		return !s.ts.Before(p.ts) && !s.ts.After(p.ts.Add(30*time.Second))
	}
	byOrder := func(o sjOrder, p sjPayment, s sjShipment) bool {
		return !s.ts.Before(o.ts.Add(5*time.Second)) && !s.ts.After(o.ts.Add(25*time.Second))
	}
	for _, c := range []struct {
		name, kind, bound, opts string
		left                    bool
		ship                    func(o sjOrder, p sjPayment, s sjShipment) bool
	}{
		{"by the payment's time", "", "s.shipped_at BETWEEN p.paid_at AND p.paid_at + INTERVAL '30' SECOND", "", false, byPayment},
		{"left, by the order's time, exactly-once", "LEFT", "s.shipped_at BETWEEN o.placed_at + INTERVAL '5' SECOND AND o.placed_at + INTERVAL '25' SECOND",
			", delivery.guarantee = 'exactly_once'", true, byOrder},
		{"without a time bound", "", "s.carrier <> ''", "", false, func(sjOrder, sjPayment, sjShipment) bool { return true }},
	} {
		t.Run(c.name, func(t *testing.T) {
			orders, payments := genOrdersPayments(17, 500)
			shipments := genShipments(19, payments, len(orders))
			want := threeWayOracle(orders, payments, shipments, c.left, c.ship)
			t.Logf("%d rows expected", len(want))
			n, e := sjEngine(t, nil, false)
			mustExec(t, e, sjShipments)
			mustExec(t, e, fmt.Sprintf("CREATE SINK shipped WITH (connector = 'topic', topic = 'out'%s) AS "+threeWayQuery, c.opts, c.kind, c.bound))
			produceThree(t, n.tr, orders, payments, shipments, 23, true)
			compareRows(t, threeWayRows(t, readExactly(t, n.tr, "out", len(want))), want)
			if late := e.mu.pipelines["shipped"].stats.late.Load(); late != 0 {
				t.Errorf("%d rows late; the inputs were within the lateness", late)
			}
		})
	}
}

// A join of three streams resumes from its stages' checkpoints: the
// engine closed halfway through the input and opened again on the same
// data directory gives each row once (exactly-once), as a run without a
// restart does.
func TestThreeStreamJoinSurvivesRestart(t *testing.T) {
	orders, payments := genOrdersPayments(29, 500)
	shipments := genShipments(31, payments, len(orders))
	ship := func(o sjOrder, p sjPayment, s sjShipment) bool {
		return !s.ts.Before(p.ts) && !s.ts.After(p.ts.Add(30*time.Second))
	}
	want := threeWayOracle(orders, payments, shipments, true, ship)
	n := openNode(t, t.TempDir())
	stateDir := t.TempDir()
	open := func() *Engine {
		return openEngineWith(t, n, func(c *Config) { c.StateDir = stateDir })
	}
	e := open()
	for _, src := range []string{sjOrders, sjPayments, sjShipments} {
		mustExec(t, e, src)
	}
	mustExec(t, e, fmt.Sprintf("CREATE SINK shipped WITH (connector = 'topic', topic = 'out', delivery.guarantee = 'exactly_once') AS "+threeWayQuery,
		"LEFT", "s.shipped_at BETWEEN p.paid_at AND p.paid_at + INTERVAL '30' SECOND"))
	half := len(orders) / 2
	cut := orders[half].ts
	firstPayments, restPayments := splitPayments(payments, cut)
	var firstShipments, restShipments []sjShipment
	for _, s := range shipments {
		if s.ts.Before(cut) {
			firstShipments = append(firstShipments, s)
		} else {
			restShipments = append(restShipments, s)
		}
	}
	produceThree(t, n.tr, orders[:half], firstPayments, firstShipments, 37, false)
	p := e.mu.pipelines["shipped"]
	waitFor(t, "the first half joined in both stages", func() bool {
		return p.stateful.next.stage != nil && p.stats.aggregated.Load() > int64(half+len(firstShipments)/2)
	})
	closeEngine(t, e)
	e = open()
	t.Cleanup(func() { closeEngine(t, e); n.close(t) })
	produceThree(t, n.tr, orders[half:], restPayments, restShipments, 41, true)
	compareRows(t, threeWayRows(t, readExactly(t, n.tr, "out", len(want))), want)
}

// Four streams: each shipment of a pair also meets the same order's
// shipments by another carrier within 10 s after it (the shipments
// topic read a second time), in a third join stage.
func TestFourStreamJoinAgainstOracle(t *testing.T) {
	orders, payments := genOrdersPayments(43, 400)
	shipments := genShipments(47, payments, len(orders))
	ship := func(o sjOrder, p sjPayment, s sjShipment) bool {
		return !s.ts.Before(p.ts) && !s.ts.After(p.ts.Add(30*time.Second))
	}
	var want []string
	stamp := func(t time.Time) string { return t.Format("2006-01-02T15:04:05.999") }
	for _, row := range threeWayOracleRows(orders, payments, shipments, ship) {
		for _, s2 := range shipments {
			if s2.orderID == row.s.orderID && s2.carrier != row.s.carrier && !s2.ts.Before(row.s.ts) && !s2.ts.After(row.s.ts.Add(10*time.Second)) {
				want = append(want, fmt.Sprintf("%d|%s|%s|%s|%s", row.o.id, row.s.carrier, stamp(row.s.ts), s2.carrier, stamp(s2.ts)))
			}
		}
	}
	slices.Sort(want)
	t.Logf("%d rows expected", len(want))
	n, e := sjEngine(t, nil, false)
	mustExec(t, e, sjShipments)
	mustExec(t, e, `CREATE SINK twice WITH (connector = 'topic', topic = 'out') AS
	SELECT o.id, s.carrier, s.shipped_at, s2.carrier AS paid, s2.shipped_at AS paid_at
	FROM orders o JOIN payments p
	  ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at - INTERVAL '2' SECOND AND o.placed_at + INTERVAL '10' SECOND
	JOIN shipments s ON s.order_id = p.order_id AND s.shipped_at BETWEEN p.paid_at AND p.paid_at + INTERVAL '30' SECOND
	JOIN shipments s2 ON s2.order_id = s.order_id AND s2.shipped_at BETWEEN s.shipped_at AND s.shipped_at + INTERVAL '10' SECOND AND s2.carrier <> s.carrier
	WHERE o.id >= 0 AND o.amount > 10`)
	if st := e.mu.pipelines["twice"].stateful; st.next == nil || st.next.next == nil || st.next.next.join == nil {
		t.Fatal("not three join stages")
	}
	produceThree(t, n.tr, orders, payments, shipments, 53, true)
	got := readExactly(t, n.tr, "out", len(want))
	var rows []string
	for _, r := range got {
		var raw map[string]any
		if err := json.Unmarshal(r.Value, &raw); err != nil {
			t.Fatal(err)
		}
		at := func(k string) string {
			ts, err := time.Parse("2006-01-02T15:04:05.999999", raw[k].(string))
			if err != nil {
				t.Fatal(err)
			}
			return ts.Format("2006-01-02T15:04:05.999")
		}
		rows = append(rows, fmt.Sprintf("%v|%v|%s|%v|%s", raw["id"], raw["carrier"], at("shipped_at"), raw["paid"], at("paid_at")))
	}
	slices.Sort(rows)
	compareRows(t, rows, want)
}

// threeWayOracleRows are threeWayOracle's inner rows, as values.
func threeWayOracleRows(orders []sjOrder, payments []sjPayment, shipments []sjShipment, ship func(o sjOrder, p sjPayment, s sjShipment) bool) []threeWayRow {
	var out []threeWayRow
	for _, pr := range paidOrders(orders, payments) {
		for _, s := range shipments {
			if s.orderID == pr.o.id && ship(pr.o, pr.p, s) {
				out = append(out, threeWayRow{pr.o, pr.p, s})
			}
		}
	}
	return out
}

// A table joins the rows of a join of three streams in the last join's
// tasks, and WHERE over its columns filters them after the lookup.
func TestTableJoinedToThreeStreams(t *testing.T) {
	orders, payments := genOrdersPayments(61, 400)
	shipments := genShipments(67, payments, len(orders))
	carriers := map[string]string{"ups": "fast", "dhl": "slow"} // no row for "post"
	ship := func(o sjOrder, p sjPayment, s sjShipment) bool {
		return !s.ts.Before(p.ts) && !s.ts.After(p.ts.Add(30*time.Second)) && carriers[s.carrier] == "fast"
	}
	want := threeWayOracle(orders, payments, shipments, false, ship)
	t.Logf("%d rows expected", len(want))
	n, e := sjEngine(t, nil, false)
	mustExec(t, e, sjShipments)
	mustExec(t, e, `CREATE SOURCE carriers (name text, speed text) WITH (connector = 'topic', topic = 'carriers', 'primary-key' = 'name')`)
	if err := e.cfg.Transport.CreateTopic(context.Background(), transport.TopicSpec{Name: "carriers", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	for name, speed := range carriers {
		produceValue(t, n.tr, "carriers", fmt.Sprintf(`{"name":%q,"speed":%q}`, name, speed))
	}
	mustExec(t, e, `CREATE SINK shipped WITH (connector = 'topic', topic = 'out') AS
	SELECT o.id, p.amount AS paid, p.paid_at, s.carrier, s.shipped_at
	FROM orders o JOIN payments p
	  ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at - INTERVAL '2' SECOND AND o.placed_at + INTERVAL '10' SECOND
	JOIN shipments s ON s.order_id = p.order_id AND s.shipped_at BETWEEN p.paid_at AND p.paid_at + INTERVAL '30' SECOND
	JOIN carriers c ON s.carrier = c.name
	WHERE o.id >= 0 AND o.amount > 10 AND c.speed = 'fast'`)
	waitFor(t, "the carriers table loaded", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, tbl := range e.mu.pipelines["shipped"].joinTables {
			return tbl.Len() == len(carriers)
		}
		return false
	})
	produceThree(t, n.tr, orders, payments, shipments, 71, true)
	compareRows(t, threeWayRows(t, readExactly(t, n.tr, "out", len(want))), want)
}
