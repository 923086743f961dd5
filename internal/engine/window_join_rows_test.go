package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/sql/plan"
)

// pairsPerWindow counts the pairs meets accepts per TUMBLE window (size)
// of the order's time (byOrder) or the payment's.
func pairsPerWindow(orders []sjOrder, payments []sjPayment, size time.Duration, byOrder bool, meets func(o sjOrder, p sjPayment) bool) []string {
	const layout = "2006-01-02T15:04:05"
	counts := map[time.Time]int{}
	for _, o := range orders {
		for _, p := range payments {
			if p.orderID == o.id && meets(o, p) {
				ts := p.ts
				if byOrder {
					ts = o.ts
				}
				counts[ts.Truncate(size)]++
			}
		}
	}
	var out []string
	for s, n := range counts {
		out = append(out, fmt.Sprintf(`{"window_start":"%s","pairs":%d}`, s.Format(layout), n))
	}
	slices.Sort(out)
	return out
}

// A bound that keeps the windowed side's rows for a negative time (the
// payment comes 2 to 10 seconds BEFORE its order, windowed by the order's
// time): Keep() is -2 s, which the join operator clamps to 0, and so does
// WindowLag — negative, the held-back watermark overflowed and no window
// ever closed.
func TestWindowOverJoinNegativeBound(t *testing.T) {
	for _, c := range []struct {
		name, sql string
		byOrder   bool
		meets     func(o sjOrder, p sjPayment) bool
	}{
		{"negative upper, by order", `CREATE SINK neg WITH (connector = 'topic', topic = 'neg') AS
			SELECT window_start, count(*) AS pairs
			FROM TUMBLE(TABLE (SELECT o.placed_at FROM orders o JOIN payments p ON o.id = p.order_id
			  AND p.paid_at BETWEEN o.placed_at - INTERVAL '3' SECOND AND o.placed_at - INTERVAL '1' SECOND),
			  DESCRIPTOR(placed_at), INTERVAL '5' SECOND)
			GROUP BY window_start, window_end`, true,
			func(o sjOrder, p sjPayment) bool {
				return !p.ts.Before(o.ts.Add(-3*time.Second)) && !p.ts.After(o.ts.Add(-1*time.Second))
			}},
		{"positive lower, by payment", `CREATE SINK neg WITH (connector = 'topic', topic = 'neg') AS
			SELECT window_start, count(*) AS pairs
			FROM TUMBLE(TABLE (SELECT p.paid_at FROM orders o JOIN payments p ON o.id = p.order_id
			  AND p.paid_at BETWEEN o.placed_at + INTERVAL '1' SECOND AND o.placed_at + INTERVAL '10' SECOND),
			  DESCRIPTOR(paid_at), INTERVAL '5' SECOND)
			GROUP BY window_start, window_end`, false,
			func(o sjOrder, p sjPayment) bool {
				return !p.ts.Before(o.ts.Add(1*time.Second)) && !p.ts.After(o.ts.Add(10*time.Second))
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			orders, payments := genOrdersPayments(71, 300)
			n, e := sjEngine(t, nil, false)
			mustExec(t, e, c.sql)
			produceOrdersPayments(t, n.tr, orders, payments, 73)
			want := pairsPerWindow(orders, payments, 5*time.Second, c.byOrder, c.meets)
			checkWindowRows(t, n, e, map[string][]string{"neg": want})
		})
	}
}

// customerCountsPerWindow is, per 5-second window of the payment time, the
// pairs of the [-2 s, +10 s] inner join per customer.
func customerCountsPerWindow(orders []sjOrder, payments []sjPayment) map[time.Time]map[string]int {
	out := map[time.Time]map[string]int{}
	for _, o := range orders {
		for _, p := range payments {
			if p.orderID == o.id && !p.ts.Before(o.ts.Add(-2*time.Second)) && !p.ts.After(o.ts.Add(10*time.Second)) {
				w := p.ts.Truncate(5 * time.Second)
				if out[w] == nil {
					out[w] = map[string]int{}
				}
				out[w][fmt.Sprintf("c%d", o.id%7)]++
			}
		}
	}
	return out
}

const joinRowsWindowed = `TUMBLE(TABLE (SELECT o.customer, p.amount AS paid, p.paid_at FROM orders o JOIN payments p ON o.id = p.order_id
	  AND p.paid_at BETWEEN o.placed_at - INTERVAL '2' SECOND AND o.placed_at + INTERVAL '10' SECOND), DESCRIPTOR(paid_at), INTERVAL '5' SECOND)`

// A top-N over the windows of a join's rows (three chained stages:
// join, window, top-N) and a cascading window aggregation of them, against
// brute force, each window once and nothing late.
func TestWindowOverJoinTopNAndCascade(t *testing.T) {
	orders, payments := genOrdersPayments(83, 400)
	n, e := sjEngine(t, nil, false)
	mustExec(t, e, `CREATE SINK top WITH (connector = 'topic', topic = 'top') AS
		SELECT customer, window_start, n, rk FROM (
		  SELECT customer, window_start, n, ROW_NUMBER() OVER (PARTITION BY window_start ORDER BY n DESC, customer) AS rk
		  FROM (SELECT customer, window_start, window_end, count(*) AS n FROM `+joinRowsWindowed+` GROUP BY customer, window_start, window_end))
		WHERE rk <= 2`)
	mustExec(t, e, `CREATE SINK cascade WITH (connector = 'topic', topic = 'cascade') AS
		SELECT window_start, count(*) AS customers, sum(n) AS pairs FROM (
		  SELECT customer, window_start, window_end, count(*) AS n FROM `+joinRowsWindowed+` GROUP BY customer, window_start, window_end)
		GROUP BY window_start, window_end`)
	produceOrdersPayments(t, n.tr, orders, payments, 89)

	const layout = "2006-01-02T15:04:05"
	counts := customerCountsPerWindow(orders, payments)
	var top, cascade []string
	for w, per := range counts {
		cs := slices.Sorted(maps.Keys(per))
		slices.SortStableFunc(cs, func(a, b string) int { return per[b] - per[a] })
		for i, c := range cs[:min(2, len(cs))] {
			top = append(top, fmt.Sprintf(`{"customer":"%s","window_start":"%s","n":%d,"rk":%d}`, c, w.Format(layout), per[c], i+1))
		}
		sum := 0
		for _, v := range per {
			sum += v
		}
		cascade = append(cascade, fmt.Sprintf(`{"window_start":"%s","customers":%d,"pairs":%d}`, w.Format(layout), len(per), sum))
	}
	slices.Sort(top)
	slices.Sort(cascade)
	compareRows(t, rowsOnce(t, readExactly(t, n.tr, "top", len(top))), top)
	compareRows(t, rowsOnce(t, readExactly(t, n.tr, "cascade", len(cascade))), cascade)
	for _, s := range []string{"top", "cascade"} {
		if late := e.mu.pipelines[s].stats.late.Load(); late != 0 {
			t.Errorf("%s: %d rows late", s, late)
		}
	}
}

// The same windows as a materialized view.
func TestWindowOverJoinView(t *testing.T) {
	orders, payments := genOrdersPayments(97, 300)
	n, e := sjEngine(t, nil, false)
	mustExec(t, e, `CREATE MATERIALIZED VIEW per_window AS
		SELECT window_start, count(*) AS pairs FROM `+joinRowsWindowed+` GROUP BY window_start, window_end`)
	produceOrdersPayments(t, n.tr, orders, payments, 101)
	v, ok := e.View("per_window")
	if !ok {
		t.Fatal("no view")
	}
	want := map[string]int{}
	for w, per := range customerCountsPerWindow(orders, payments) {
		for _, c := range per {
			want[w.Format("2006-01-02T15:04:05")] += c
		}
	}
	got := map[string]int{}
	waitFor(t, "the view's rows", func() bool {
		got = map[string]int{}
		for _, r := range v.Table.Rows(nil, 0) {
			var row struct {
				WS    string `json:"window_start"`
				Pairs int    `json:"pairs"`
			}
			if err := json.Unmarshal(r.Value, &row); err != nil {
				t.Fatal(err)
			}
			got[row.WS] = row.Pairs
		}
		return maps.Equal(got, want)
	})
}

// As TestBoundedJoinSideDoesNotEndTheOther, for windows of a join's rows
// (held back by WindowLag): a bounded orders side that ends, payments
// that pause past the idle timeout, then go on.
func TestWindowOverJoinBoundedSideIdleOther(t *testing.T) {
	boundedOrdersPausedPayments(t, `SELECT window_start, count(*) AS pairs FROM TUMBLE(TABLE (SELECT o.placed_at FROM orders o JOIN payments p ON o.id = p.order_id
		  AND p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '5' SECOND), DESCRIPTOR(placed_at), INTERVAL '10' SECOND)
		GROUP BY window_start, window_end`)
}

// Two runs of a bounded pipeline (scan.bounded.mode) on one state dir:
// the second run's windows come too.
func TestWindowOverJoinBoundedRerun(t *testing.T) {
	n, _ := boundedRerun(t, `SELECT window_start, count(*) AS pairs FROM TUMBLE(TABLE (SELECT o.placed_at FROM orders o LEFT JOIN payments p ON o.id = p.order_id
		  AND p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '10' SECOND), DESCRIPTOR(placed_at), INTERVAL '10' SECOND)
		GROUP BY window_start, window_end`)
	got := rowsOnce(t, readExactly(t, n.tr, "out", 2))
	want := []string{`{"window_start":"2026-03-01T00:00:00","pairs":1}`, `{"window_start":"2026-03-01T00:01:40","pairs":1}`}
	compareRows(t, got, want)
}

// A RIGHT join windowed (HOP) by the right side's time: its lonely
// payments come when they expire, before their windows close.
func TestWindowOverRightJoinHop(t *testing.T) {
	orders, payments := genOrdersPayments(103, 400)
	n, e := sjEngine(t, func(cfg *Config) { cfg.StateDir = t.TempDir() }, false)
	mustExec(t, e, `CREATE SINK by_pay WITH (connector = 'topic', topic = 'by_pay', delivery.guarantee = 'exactly_once') AS
		SELECT window_start, count(*) AS rows, count(oid) AS matched
		FROM HOP(TABLE (SELECT o.id AS oid, p.paid_at AS t FROM orders o RIGHT JOIN payments p ON o.id = p.order_id
		  AND p.paid_at BETWEEN o.placed_at - INTERVAL '2' SECOND AND o.placed_at + INTERVAL '10' SECOND),
		  DESCRIPTOR(t), INTERVAL '2' SECOND, INTERVAL '6' SECOND)
		GROUP BY window_start, window_end`)
	produceOrdersPayments(t, n.tr, orders, payments, 107)
	type c struct{ rows, matched int }
	hops := map[time.Time]c{}
	for _, p := range payments {
		m := 0
		for _, o := range orders {
			if p.orderID == o.id && !p.ts.Before(o.ts.Add(-2*time.Second)) && !p.ts.After(o.ts.Add(10*time.Second)) {
				m++
			}
		}
		rows := max(m, 1)
		for s := p.ts.Truncate(2 * time.Second); s.After(p.ts.Add(-6 * time.Second)); s = s.Add(-2 * time.Second) {
			x := hops[s]
			hops[s] = c{x.rows + rows, x.matched + m}
		}
	}
	var want []string
	for s, x := range hops {
		want = append(want, fmt.Sprintf(`{"window_start":"%s","rows":%d,"matched":%d}`, s.Format("2006-01-02T15:04:05"), x.rows, x.matched))
	}
	slices.Sort(want)
	compareRows(t, rowsOnce(t, readExactly(t, n.tr, "by_pay", len(want))), want)
	if late := e.mu.pipelines["by_pay"].stats.late.Load(); late != 0 {
		t.Errorf("%d rows late", late)
	}
}

// A bound in WHERE rather than ON, against brute force.
func TestWindowOverJoinBoundShapes(t *testing.T) {
	for _, c := range []struct {
		name, sql string
		byOrder   bool
		meets     func(o sjOrder, p sjPayment) bool
	}{
		{"WHERE bound, by order", `CREATE SINK x WITH (connector = 'topic', topic = 'x') AS
			SELECT window_start, count(*) AS pairs
			FROM TUMBLE(TABLE (SELECT o.placed_at FROM orders o JOIN payments p ON o.id = p.order_id
			  WHERE p.paid_at BETWEEN o.placed_at - INTERVAL '2' SECOND AND o.placed_at + INTERVAL '10' SECOND AND o.id >= 0),
			  DESCRIPTOR(placed_at), INTERVAL '5' SECOND)
			GROUP BY window_start, window_end`, true,
			func(o sjOrder, p sjPayment) bool {
				return !p.ts.Before(o.ts.Add(-2*time.Second)) && !p.ts.After(o.ts.Add(10*time.Second))
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			orders, payments := genOrdersPayments(109, 300)
			n, e := sjEngine(t, nil, false)
			mustExec(t, e, c.sql)
			produceOrdersPayments(t, n.tr, orders, payments, 113)
			want := pairsPerWindow(orders, payments, 5*time.Second, c.byOrder, c.meets)
			checkWindowRows(t, n, e, map[string][]string{"x": want})
		})
	}
}

// A regular join's state.ttl bounds its state, not when a pair may come:
// windows of its rows are refused, as of any join without a bound on
// both sides.
func TestWindowOverRegularJoinWithTTLRefused(t *testing.T) {
	_, e := sjEngine(t, nil, true)
	_, err := e.Execute(context.Background(), `CREATE SINK ttl WITH (connector = 'topic', topic = 'ttl', state.ttl = '1m') AS
		SELECT window_start, count(*) AS pairs FROM TUMBLE(TABLE (SELECT p.paid_at FROM orders o JOIN payments p ON o.id = p.order_id),
		  DESCRIPTOR(paid_at), INTERVAL '10' SECOND) GROUP BY window_start, window_end`, ExecOptions{})
	if !errors.Is(err, plan.ErrNotSupported) || !strings.Contains(err.Error(), "without a time bound on both sides") {
		t.Fatalf("windows of a regular join's rows with state.ttl: %v", err)
	}
}
