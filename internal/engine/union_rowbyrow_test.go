package engine

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// A query that filters and projects the rows of a UNION ALL in FROM runs
// over each of the union's queries (selection and projection distribute
// over a union): its rows are the brute-force evaluation's, each once,
// typed as the union types them — payments' int order_id is the union's
// bigint before the outer query multiplies it (as an int the product
// overflows and would go to the dead-letter topic) — and keyed by the
// outer KEY BY. A stateless query between the two distributes the same
// way.
func TestRowByRowOverUnionAll(t *testing.T) {
	n, e := sjEngine(t, nil, false)
	orders, payments := genOrdersPayments(59, 400)
	const union = `(SELECT id, customer AS who, amount, 'order' AS kind FROM orders WHERE amount > 10
		UNION ALL SELECT order_id, 'c' || CAST(order_id % 7 AS text), amount, 'payment' FROM payments) AS u`
	mustExec(t, e, `CREATE SINK picked WITH (connector = 'topic', topic = 'picked') AS
		SELECT id, kind, upper(who) AS shout, id * 1000000000 AS big FROM `+union+`
		WHERE id >= 0 AND amount > 20 KEY BY who`)
	mustExec(t, e, `CREATE SINK nested WITH (connector = 'topic', topic = 'nested') AS
		SELECT shout || '!' AS loud, kind FROM (SELECT upper(who) AS shout, kind, amount FROM `+union+` WHERE id >= 0) AS v
		WHERE amount > 20`)
	if p := e.mu.pipelines["picked"]; len(p.inputs) != 2 {
		t.Fatalf("picked: %d inputs, not one per query of the union", len(p.inputs))
	}
	produceOrdersPayments(t, n.tr, orders, payments, 61)

	var want, wantNested []string
	add := func(id int64, who string, amount int, kind string) {
		if id < 0 || amount <= 20 {
			return
		}
		shout := strings.ToUpper(who)
		want = append(want, fmt.Sprintf("%s|%d|%s|%s|%d", who, id, kind, shout, id*1_000_000_000))
		wantNested = append(wantNested, shout+"!|"+kind)
	}
	for _, o := range orders {
		if o.amount > 10 {
			add(o.id, fmt.Sprintf("c%d", o.id%7), o.amount, "order")
		}
	}
	for _, p := range payments {
		add(p.orderID, fmt.Sprintf("c%d", p.orderID%7), p.amount, "payment")
	}
	slices.Sort(want)
	slices.Sort(wantNested)

	var got []string
	for _, r := range readAll(t, n.tr, "picked", len(want)) {
		var row struct {
			ID    int64
			Kind  string
			Shout string
			Big   int64
		}
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatalf("%s: %v", r.Value, err)
		}
		got = append(got, fmt.Sprintf("%s|%d|%s|%s|%d", r.Key, row.ID, row.Kind, row.Shout, row.Big))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("picked: %d rows, want %d; first differences:\n%s", len(got), len(want), firstDiff(got, want))
	}
	got = nil
	for _, r := range readAll(t, n.tr, "nested", len(wantNested)) {
		var row struct{ Loud, Kind string }
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatalf("%s: %v", r.Value, err)
		}
		got = append(got, row.Loud+"|"+row.Kind)
	}
	slices.Sort(got)
	if !slices.Equal(got, wantNested) {
		t.Errorf("nested: %d rows, want %d; first differences:\n%s", len(got), len(wantNested), firstDiff(got, wantNested))
	}
	for _, sink := range []string{"picked", "nested"} {
		if dead := e.mu.pipelines[sink].stats.dead.Load(); dead != 0 {
			t.Errorf("%s: %d rows dead-lettered", sink, dead)
		}
	}
}

// firstDiff shows the first rows where got and want differ.
func firstDiff(got, want []string) string {
	var b strings.Builder
	for i := 0; i < max(len(got), len(want)) && b.Len() < 600; i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			fmt.Fprintf(&b, "  got %q want %q\n", g, w)
		}
	}
	return b.String()
}

// A top-level UNION ALL whose first query reads a UNION ALL in FROM runs
// every query of both: orders twice, payments once, each row once.
func TestNestedUnionAllRows(t *testing.T) {
	n, e := sjEngine(t, nil, false)
	orders, payments := genOrdersPayments(59, 200)
	mustExec(t, e, `CREATE SINK nested WITH (connector = 'topic', topic = 'nested') AS
		SELECT id FROM (SELECT id FROM orders UNION ALL SELECT order_id FROM payments) u WHERE id >= 0
		UNION ALL SELECT id FROM orders WHERE id >= 0`)
	if p := e.mu.pipelines["nested"]; len(p.inputs) != 3 {
		t.Fatalf("nested: %d inputs, want 3 (orders, payments, orders)", len(p.inputs))
	}
	produceOrdersPayments(t, n.tr, orders, payments, 61)
	var want []string
	for _, o := range orders {
		want = append(want, fmt.Sprint(o.id), fmt.Sprint(o.id))
	}
	for _, p := range payments {
		if p.orderID >= 0 {
			want = append(want, fmt.Sprint(p.orderID))
		}
	}
	slices.Sort(want)
	var got []string
	for _, r := range readExactly(t, n.tr, "nested", len(want)) {
		var row struct{ ID int64 }
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatalf("%s: %v", r.Value, err)
		}
		got = append(got, fmt.Sprint(row.ID))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("nested: %d rows, want %d:\n%s", len(got), len(want), firstDiff(got, want))
	}
}
