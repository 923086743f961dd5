package engine

import (
	"fmt"
	"maps"
	"os"
	"strings"
	"testing"
	"time"
)

const chainFirstJoin = ` FROM orders o JOIN payments p
	  ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at - INTERVAL '20' SECOND AND o.placed_at + INTERVAL '10' SECOND `

// chainWaitRows waits until the keyed topic's current rows are want.
func chainWaitRows(t *testing.T, n *node, topic string, want map[string]string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	got := currentRows(t, n, topic)
	for !maps.Equal(got, want) {
		if time.Now().After(deadline) {
			t.Fatalf("rows of %s:\n got %v\nwant %v", topic, got, want)
		}
		time.Sleep(100 * time.Millisecond)
		got = currentRows(t, n, topic)
	}
}

// An updating last join (LEFT JOIN without a bound) of a chain,
// aggregated: each pair first comes NULL-padded, then is taken back when
// its shipment comes. Grouped by o.id (the last join's left key: the
// join's tasks aggregate) and by o.id + 0 (a stage of its own), the same
// groups; with HAVING too.
func TestUpdatingChainAggregated(t *testing.T) {
	for _, c := range []struct {
		name, group, having string
		fused               bool
		want                map[string]string
	}{
		{"fused", "o.id", "", true, map[string]string{"1": `{"id":1,"n":2,"shipped":2}`, "2": `{"id":2,"n":1,"shipped":0}`}},
		{"group stage", "o.id + 0", "", false, map[string]string{"1": `{"id":1,"n":2,"shipped":2}`, "2": `{"id":2,"n":1,"shipped":0}`}},
		{"fused having", "o.id", " HAVING count(s.carrier) > 0", true, map[string]string{"1": `{"id":1,"n":2,"shipped":2}`}},
		{"group stage having", "o.id + 0", " HAVING count(s.carrier) > 0", false, map[string]string{"1": `{"id":1,"n":2,"shipped":2}`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			n, e := sjEngine(t, nil, true)
			mustExec(t, e, fmt.Sprintf(edgeShipments, ""))
			mustExec(t, e, `CREATE SINK agg WITH (connector = 'topic', topic = 'out', checkpoint.interval = '50ms') AS
	SELECT `+c.group+` AS id, count(*) AS n, count(s.carrier) AS shipped`+chainFirstJoin+`
	LEFT JOIN shipments s ON s.order_id = o.id GROUP BY `+c.group+c.having)
			joined := e.mu.pipelines["agg"].stateful.next
			if joined == nil || joined.join == nil || joined.fused() != c.fused {
				t.Fatalf("stages: fused %v, want %v", joined != nil && joined.fused(), c.fused)
			}
			edgeOrder(t, n.tr, 1, 0)
			edgeOrder(t, n.tr, 2, 0)
			edgePayment(t, n.tr, 1, time.Second)
			edgePayment(t, n.tr, 2, time.Second)
			chainWaitRows(t, n, "out", func() map[string]string {
				if c.having != "" {
					return map[string]string{}
				}
				return map[string]string{"1": `{"id":1,"n":1,"shipped":0}`, "2": `{"id":2,"n":1,"shipped":0}`}
			}())
			edgeShipment(t, n.tr, 1, "ups", 2*time.Second)
			edgeShipment(t, n.tr, 1, "dhl", 3*time.Second)
			chainWaitRows(t, n, "out", c.want)
		})
	}
}

// An aggregation of an aggregation over a chain: per number of
// shipments, how many orders; the inner groups move from one outer group
// to the next as shipments come (retractions through every stage).
func TestOuterAggregateOverChain(t *testing.T) {
	for _, c := range []struct{ name, group string }{{"fused", "o.id"}, {"group stage", "o.id + 0"}} {
		t.Run(c.name, func(t *testing.T) {
			n, e := sjEngine(t, nil, true)
			mustExec(t, e, fmt.Sprintf(edgeShipments, ""))
			mustExec(t, e, `CREATE SINK hist WITH (connector = 'topic', topic = 'out', checkpoint.interval = '50ms') AS
	SELECT shipped, count(*) AS orders FROM (
	  SELECT `+c.group+` AS id, count(s.carrier) AS shipped`+chainFirstJoin+`
	  LEFT JOIN shipments s ON s.order_id = o.id GROUP BY `+c.group+`) GROUP BY shipped`)
			edgeOrder(t, n.tr, 1, 0)
			edgeOrder(t, n.tr, 2, 0)
			edgePayment(t, n.tr, 1, time.Second)
			edgePayment(t, n.tr, 2, time.Second)
			chainWaitRows(t, n, "out", map[string]string{"0": `{"shipped":0,"orders":2}`})
			edgeShipment(t, n.tr, 1, "ups", 2*time.Second)
			chainWaitRows(t, n, "out", map[string]string{"0": `{"shipped":0,"orders":1}`, "1": `{"shipped":1,"orders":1}`})
			edgeShipment(t, n.tr, 2, "ups", 2*time.Second)
			chainWaitRows(t, n, "out", map[string]string{"1": `{"shipped":1,"orders":2}`})
		})
	}
}

// A top-N over an aggregation of a chain (fused and not).
func TestTopNOverAggregatedChain(t *testing.T) {
	for _, c := range []struct{ name, group string }{{"fused", "o.id"}, {"group stage", "o.id + 0"}} {
		t.Run(c.name, func(t *testing.T) {
			n, e := sjEngine(t, nil, true)
			mustExec(t, e, fmt.Sprintf(edgeShipments, ""))
			mustExec(t, e, `CREATE SINK top WITH (connector = 'topic', topic = 'out', checkpoint.interval = '50ms') AS
	SELECT id, shipped, rn FROM (
	  SELECT id, shipped, ROW_NUMBER() OVER (ORDER BY shipped DESC, id) AS rn FROM (
	    SELECT `+c.group+` AS id, count(s.carrier) AS shipped`+chainFirstJoin+`
	    LEFT JOIN shipments s ON s.order_id = o.id GROUP BY `+c.group+`)) WHERE rn <= 1`)
			edgeOrder(t, n.tr, 1, 0)
			edgeOrder(t, n.tr, 2, 0)
			edgePayment(t, n.tr, 1, time.Second)
			edgePayment(t, n.tr, 2, time.Second)
			chainWaitRows(t, n, "out", map[string]string{"1": `{"id":1,"shipped":0,"rn":1}`})
			edgeShipment(t, n.tr, 2, "ups", 2*time.Second)
			chainWaitRows(t, n, "out", map[string]string{"1": `{"id":2,"shipped":1,"rn":1}`})
		})
	}
}

// chainInternalTopics lists the internal topics naming the sink.
func chainInternalTopics(t *testing.T, n *node, sink string) []string {
	t.Helper()
	var out []string
	for _, tp := range n.log.Topics() {
		if strings.HasPrefix(tp.Name(), internalTopicPrefix+sink+"-") {
			out = append(out, tp.Name())
		}
	}
	return out
}

// A chain aggregated (fused, and in a group stage) survives a restart of
// the engine with the same stages, then DROP removes every stage's
// topics and state.
func TestChainAggregateRestartAndDrop(t *testing.T) {
	for _, c := range []struct{ name, group string }{{"fused", "o.id"}, {"group stage", "o.id + 0"}} {
		t.Run(c.name, func(t *testing.T) {
			n := openNode(t, t.TempDir())
			t.Cleanup(func() { n.close(t) })
			stateDir := t.TempDir()
			open := func() *Engine { return openEngineWith(t, n, func(cfg *Config) { cfg.StateDir = stateDir }) }
			e := open()
			for _, src := range []string{strings.Replace(sjOrders, "'3'", "'1'", 1), strings.Replace(sjPayments, "'2'", "'1'", 1), fmt.Sprintf(edgeShipments, "")} {
				mustExec(t, e, src)
			}
			mustExec(t, e, `CREATE SINK agg WITH (connector = 'topic', topic = 'out', checkpoint.interval = '50ms', delivery.guarantee = 'exactly_once') AS
	SELECT `+c.group+` AS id, count(*) AS n`+chainFirstJoin+`
	JOIN shipments s ON s.order_id = o.id GROUP BY `+c.group)
			edgeOrder(t, n.tr, 1, 0)
			edgePayment(t, n.tr, 1, time.Second)
			edgeShipment(t, n.tr, 1, "ups", 2*time.Second)
			chainWaitRows(t, n, "out", map[string]string{"1": `{"id":1,"n":1}`})
			var stages []string
			for st := range e.mu.pipelines["agg"].stages() {
				stages = append(stages, st.stateDir)
			}
			closeEngine(t, e)
			e = open()
			var again []string
			for st := range e.mu.pipelines["agg"].stages() {
				again = append(again, st.stateDir)
			}
			if strings.Join(stages, ",") != strings.Join(again, ",") {
				t.Fatalf("stages after a restart %v, before %v", again, stages)
			}
			edgeShipment(t, n.tr, 1, "dhl", 3*time.Second)
			chainWaitRows(t, n, "out", map[string]string{"1": `{"id":1,"n":2}`})
			before := chainInternalTopics(t, n, "agg")
			t.Logf("topics: %v", before)
			mustExec(t, e, "DROP SINK agg")
			if left := chainInternalTopics(t, n, "agg"); len(left) > 0 {
				t.Errorf("after DROP, topics left: %v", left)
			}
			entries, _ := os.ReadDir(stateDir)
			for _, en := range entries {
				if strings.HasPrefix(en.Name(), "agg-") {
					t.Errorf("after DROP, state left: %s", en.Name())
				}
			}
			closeEngine(t, e)
		})
	}
}

// A top-N over the rows of an updating chain (the last join LEFT without
// a bound): a NULL-padded row, ranked, is taken back when its shipment
// comes.
func TestTopNOverUpdatingChain(t *testing.T) {
	n, e := sjEngine(t, nil, true)
	mustExec(t, e, fmt.Sprintf(edgeShipments, ""))
	mustExec(t, e, `CREATE SINK top WITH (connector = 'topic', topic = 'out', checkpoint.interval = '50ms') AS
	SELECT id, carrier, rn FROM (
	  SELECT o.id, s.carrier, ROW_NUMBER() OVER (PARTITION BY o.id ORDER BY s.carrier NULLS FIRST) AS rn`+chainFirstJoin+`
	  LEFT JOIN shipments s ON s.order_id = o.id) WHERE rn <= 2`)
	edgeOrder(t, n.tr, 1, 0)
	edgePayment(t, n.tr, 1, time.Second)
	chainWaitRows(t, n, "out", map[string]string{"[1,1]": `{"id":1,"carrier":null,"rn":1}`})
	edgeShipment(t, n.tr, 1, "ups", 2*time.Second)
	chainWaitRows(t, n, "out", map[string]string{"[1,1]": `{"id":1,"carrier":"ups","rn":1}`})
	edgeShipment(t, n.tr, 1, "dhl", 3*time.Second)
	chainWaitRows(t, n, "out", map[string]string{"[1,1]": `{"id":1,"carrier":"dhl","rn":1}`, "[1,2]": `{"id":1,"carrier":"ups","rn":2}`})
}

// UNION ALL of two chains: each a part of its own, reading the same
// three streams.
func TestUnionOfChains(t *testing.T) {
	n, e := sjEngine(t, nil, true)
	mustExec(t, e, fmt.Sprintf(edgeShipments, ""))
	q := func(carrier string) string {
		return `SELECT o.id, s.carrier` + chainFirstJoin + `
	  JOIN shipments s ON s.order_id = p.order_id AND s.shipped_at BETWEEN p.paid_at AND p.paid_at + INTERVAL '30' SECOND
	  WHERE s.carrier = '` + carrier + `'`
	}
	mustExec(t, e, `CREATE SINK unioned WITH (connector = 'topic', topic = 'out', checkpoint.interval = '50ms') AS `+q("ups")+" UNION ALL "+q("dhl"))
	edgeOrder(t, n.tr, 1, 0)
	edgePayment(t, n.tr, 1, time.Second)
	edgeShipment(t, n.tr, 1, "ups", 2*time.Second)
	edgeShipment(t, n.tr, 1, "dhl", 3*time.Second)
	edgeShipment(t, n.tr, 1, "post", 3*time.Second)
	rows := edgeReadAvailable(t, n.tr, "out", 3*time.Second)
	if len(rows) != 2 {
		t.Fatalf("%d rows %v; want 2 (ups, dhl)", len(rows), rows)
	}
	mustExec(t, e, "DROP SINK unioned")
	if left := chainInternalTopics(t, n, "unioned"); len(left) > 0 {
		t.Errorf("after DROP, topics left: %v", left)
	}
}

// A materialized view over an aggregated chain.
func TestViewOfChain(t *testing.T) {
	n, e := sjEngine(t, nil, true)
	mustExec(t, e, fmt.Sprintf(edgeShipments, ""))
	mustExec(t, e, `CREATE MATERIALIZED VIEW shipped WITH (checkpoint.interval = '50ms') AS
	SELECT s.carrier, count(*) AS n`+chainFirstJoin+`
	JOIN shipments s ON s.order_id = o.id GROUP BY s.carrier`)
	edgeOrder(t, n.tr, 1, 0)
	edgeOrder(t, n.tr, 2, 0)
	edgePayment(t, n.tr, 1, time.Second)
	edgePayment(t, n.tr, 2, time.Second)
	edgeShipment(t, n.tr, 1, "ups", 2*time.Second)
	edgeShipment(t, n.tr, 2, "ups", 2*time.Second)
	edgeShipment(t, n.tr, 2, "dhl", 2*time.Second)
	v, ok := e.View("shipped")
	if !ok {
		t.Fatal("no view")
	}
	want := map[string]string{`dhl`: `{"carrier":"dhl","n":1}`, `ups`: `{"carrier":"ups","n":2}`}
	waitFor(t, "the view's rows", func() bool {
		got := map[string]string{}
		for _, r := range v.Table.Rows(nil, 0) {
			got[r.Key] = string(r.Value)
		}
		if !maps.Equal(got, want) {
			t.Logf("view %v", got)
			return false
		}
		return true
	})
}

// A bounded FULL JOIN before a regular join with state.ttl: a payment
// without an order comes out of the first join NULL-padded when the
// watermark passes its time plus how long payments wait (20 s), timed
// by its own time (the order's is NULL). The first join passes its
// watermark on held back by the longer of its sides' waits (chainLag),
// so the padded row is on time in the second join (its rows bounded by
// the TTL, which drops what is late) and meets its shipment.
func TestFullJoinBeforeAnotherWithTTL(t *testing.T) {
	for _, c := range []struct{ name, opts string }{
		{"without state.ttl", ""},
		{"state.ttl 1h", ", state.ttl = '1h'"},
	} {
		t.Run(c.name, func(t *testing.T) {
			n, e := sjEngine(t, nil, true)
			mustExec(t, e, fmt.Sprintf(edgeShipments, ""))
			mustExec(t, e, `CREATE SINK chained WITH (connector = 'topic', topic = 'out', checkpoint.interval = '50ms'`+c.opts+`) AS
	SELECT p.order_id AS id, s.carrier FROM orders o FULL JOIN payments p
	  ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at - INTERVAL '20' SECOND AND o.placed_at + INTERVAL '1' SECOND
	JOIN shipments s ON s.order_id = p.order_id`)
			edgePayment(t, n.tr, 1, 0)
			edgeShipment(t, n.tr, 1, "ups", time.Second)
			// Every watermark to 15 s: payment 1 still waits for its order.
			edgeOrder(t, n.tr, 1000, 17*time.Second)
			edgePayment(t, n.tr, 2000, 17*time.Second)
			edgeShipment(t, n.tr, 3000, "x", 17*time.Second)
			// (The last join's watermark stays 20 s behind the first's:
			// a padded payment leaves it 20 s after its time.)
			p := e.mu.pipelines["chained"]
			waitFor(t, "the records in the joins", func() bool { return p.stats.aggregated.Load() >= 5 })
			time.Sleep(500 * time.Millisecond)
			// Then to 28 s: payment 1 leaves the first join, alone.
			edgeOrder(t, n.tr, 1001, 30*time.Second)
			edgePayment(t, n.tr, 2001, 30*time.Second)
			edgeShipment(t, n.tr, 3001, "x", 30*time.Second)
			rows := edgeReadAvailable(t, n.tr, "out", 3*time.Second)
			late := e.mu.pipelines["chained"].stats.late.Load()
			if len(rows) != 1 || late != 0 {
				t.Fatalf("%d rows %v, %d late; want 1 row (payment 1 without its order, shipped by ups), none late", len(rows), rows, late)
			}
		})
	}
}
