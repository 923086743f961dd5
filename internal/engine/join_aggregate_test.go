package engine

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAggregatedJoinAgainstOracle: a GROUP BY over a join of two streams
// runs in one pipeline, the joined rows feeding a second stateful stage,
// or, grouped by the join key (the order's id), aggregated in the join's
// own tasks; each group's latest row is the brute-force evaluation's —
// inner, and LEFT with exactly-once.
func TestAggregatedJoinAgainstOracle(t *testing.T) {
	for _, c := range []struct {
		name, kind, opts string
		outer            [2]bool
		byID             bool
	}{
		{"inner", "", "", [2]bool{}, false},
		{"left exactly-once", "LEFT", ", delivery.guarantee = 'exactly_once'", [2]bool{true, false}, false},
		{"inner by the join key", "", "", [2]bool{}, true},
		{"left exactly-once by the join key", "LEFT", ", delivery.guarantee = 'exactly_once'", [2]bool{true, false}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			orders, payments := genOrdersPayments(13, 700)
			want := groupSums(intervalOracle(orders, payments, c.outer), c.byID)
			column := "o.customer"
			if c.byID {
				column = "o.id"
			}
			n, e := sjEngine(t, nil, false)
			mustExec(t, e, fmt.Sprintf(`CREATE SINK spend WITH (connector = 'topic', topic = 'out'%s) AS
				SELECT %s AS grp, count(*) AS n, count(p.amount) AS paid_n, sum(p.amount) AS paid
				FROM orders o %s JOIN payments p
				  ON o.id = p.order_id AND p.order_id >= 0
				 AND p.paid_at BETWEEN o.placed_at - INTERVAL '2' SECOND AND o.placed_at + INTERVAL '10' SECOND
				WHERE o.id >= 0 AND o.amount > 10
				GROUP BY %s`, c.opts, column, c.kind, column))
			produceOrdersPayments(t, n.tr, orders, payments, 17)
			got := map[string]paymentSums{}
			start, logged := time.Now(), false
			waitFor(t, "every group's final row", func() bool {
				for _, r := range readAll(t, n.tr, "out", 1) {
					group, g := decodeSums(t, r.Value)
					if string(r.Key) != group {
						t.Fatalf("row %s has key %s, want its group", r.Value, r.Key)
					}
					got[group] = g
				}
				if !maps.Equal(got, want) && time.Since(start) > 3*time.Second && !logged {
					logged = true
					for k, w := range want {
						if got[k] != w {
							t.Logf("%s: got %+v, want %+v", k, got[k], w)
						}
					}
					t.Logf("%d groups, want %d", len(got), len(want))
				}
				return maps.Equal(got, want)
			})
			for k, w := range want {
				if got[k] != w {
					t.Logf("%s: got %+v, want %+v", k, got[k], w)
				}
			}
			st := e.mu.pipelines["spend"].stateful
			if c.byID && (st.next != nil || !st.fused()) {
				t.Error("the join's tasks do not aggregate the rows themselves")
			}
			if !c.byID && (st.next == nil || st.next.agg == nil) {
				t.Error("the pipeline does not run in two stages")
			}
		})
	}
}

// A join that aggregates its rows itself (grouped by the join key) keeps
// both states in one store per task: closed halfway and opened again on
// an empty state directory, it rebuilds the join's rows and the groups
// from the changelog, and every group's final row is still exact
// (exactly-once: nothing counted twice).
func TestGroupedJoinSurvivesRestart(t *testing.T) {
	orders, payments := genOrdersPayments(23, 600)
	want := map[string]string{}
	paid := map[string]int64{}
	for _, row := range intervalOracle(orders, payments, [2]bool{}) {
		parts := strings.Split(row, "|")
		amount, _ := strconv.ParseInt(parts[1], 10, 64)
		paid[parts[0]] += amount
		want[parts[0]] = fmt.Sprintf(`{"id":%s,"paid":%d}`, parts[0], paid[parts[0]])
	}
	n := openNode(t, t.TempDir())
	e := openEngineWith(t, n, func(c *Config) { c.StateDir = t.TempDir() })
	mustExec(t, e, sjOrders)
	mustExec(t, e, sjPayments)
	mustExec(t, e, `CREATE SINK paid WITH (connector = 'topic', topic = 'out', delivery.guarantee = 'exactly_once') AS
		SELECT o.id, sum(p.amount) AS paid FROM orders o JOIN payments p
		  ON o.id = p.order_id AND p.order_id >= 0
		 AND p.paid_at BETWEEN o.placed_at - INTERVAL '2' SECOND AND o.placed_at + INTERVAL '10' SECOND
		WHERE o.id >= 0 AND o.amount > 10 GROUP BY o.id`)
	if !e.mu.pipelines["paid"].stateful.fused() {
		t.Fatal("the join's tasks do not aggregate the rows themselves")
	}
	half := len(orders) / 2
	firstPayments, restPayments := splitPayments(payments, orders[half].ts)
	produceHalf(t, n.tr, orders[:half], firstPayments)
	waitFor(t, "some groups", func() bool { return len(currentRows(t, n, "out")) > 10 })
	closeEngine(t, e)
	e = openEngineWith(t, n, func(c *Config) { c.StateDir = t.TempDir() })
	t.Cleanup(func() { closeEngine(t, e); n.close(t) })
	produceOrdersPayments(t, n.tr, orders[half:], restPayments, 5)
	waitFor(t, "every group's final row", func() bool { return maps.Equal(currentRows(t, n, "out"), want) })
}

// A pipeline made when a join grouped by its key still sent its rows to a
// stage of their own keeps that layout: its second stage's state holds
// the groups, which the join's tasks would otherwise start afresh.
func TestGroupedJoinKeepsAnEarlierSecondStage(t *testing.T) {
	n := openNode(t, t.TempDir())
	stateDir := t.TempDir()
	e := openEngineWith(t, n, func(c *Config) { c.StateDir = stateDir })
	mustExec(t, e, sjOrders)
	mustExec(t, e, sjPayments)
	mustExec(t, e, `CREATE SINK paid WITH (connector = 'topic', topic = 'out') AS
		SELECT o.id, sum(p.amount) AS paid FROM orders o JOIN payments p ON o.id = p.order_id GROUP BY o.id`)
	st := e.mu.pipelines["paid"].stateful
	if !st.fused() {
		t.Fatal("a new pipeline does not aggregate in the join's tasks")
	}
	dir := st.stateDir
	closeEngine(t, e)
	if err := os.MkdirAll(filepath.Join(dir, groupStage), 0o755); err != nil { // as the earlier layout left it
		t.Fatal(err)
	}
	e = openEngineWith(t, n, func(c *Config) { c.StateDir = stateDir })
	t.Cleanup(func() { closeEngine(t, e); n.close(t) })
	if st := e.mu.pipelines["paid"].stateful; st.fused() || st.next == nil || st.next.agg == nil {
		t.Error("a pipeline with an earlier second stage's state does not run in two stages")
	}
}

// paymentSums is a group's row of the aggregated joins: count(*),
// count(p.amount), sum(p.amount).
type paymentSums struct{ n, paidN, paid int64 }

// groupSums groups a join oracle's rows ("id|paid|paid_at") by the
// order's customer (c<id % 7>), or by its id.
func groupSums(rows []string, byID bool) map[string]paymentSums {
	want := map[string]paymentSums{}
	for _, row := range rows {
		parts := strings.Split(row, "|")
		id, _ := strconv.ParseInt(parts[0], 10, 64)
		group := fmt.Sprintf("c%d", id%7)
		if byID {
			group = parts[0]
		}
		g := want[group]
		g.n++
		if parts[1] != "<nil>" {
			paid, _ := strconv.ParseInt(parts[1], 10, 64)
			g.paidN, g.paid = g.paidN+1, g.paid+paid
		}
		want[group] = g
	}
	return want
}

// decodeSums reads an aggregated join's row: its group (grp) and sums.
func decodeSums(t *testing.T, value []byte) (string, paymentSums) {
	t.Helper()
	var row struct {
		Group json.RawMessage `json:"grp"`
		N     int64           `json:"n"`
		PaidN int64           `json:"paid_n"`
		Paid  *int64          `json:"paid"`
	}
	if err := json.Unmarshal(value, &row); err != nil {
		t.Fatalf("row %s: %v", value, err)
	}
	g := paymentSums{n: row.N, paidN: row.PaidN}
	if row.Paid != nil {
		g.paid = *row.Paid
	}
	return strings.Trim(string(row.Group), `"`), g
}

// splitPayments splits payments at a time: those before it, the rest.
func splitPayments(payments []sjPayment, cut time.Time) (first, rest []sjPayment) {
	for _, p := range payments {
		if p.ts.Before(cut) {
			first = append(first, p)
		} else {
			rest = append(rest, p)
		}
	}
	return first, rest
}
