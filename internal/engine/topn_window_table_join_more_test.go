package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// produceLabelTiers declares the tables labels (an order's label, for
// the ids label gives one) and tiers (l0 is gold), and writes their rows.
func produceLabelTiers(t *testing.T, n *node, e *Engine, orders []sjOrder, label func(int64) (string, bool)) {
	t.Helper()
	mustExec(t, e, `CREATE SOURCE labels (id bigint, label text) WITH (connector = 'topic', topic = 'labels', 'primary-key' = 'id')`)
	mustExec(t, e, `CREATE SOURCE tiers (label text, tier text) WITH (connector = 'topic', topic = 'tiers', 'primary-key' = 'label')`)
	var recs []*transport.Record
	for _, o := range orders {
		if l, ok := label(o.id); ok {
			recs = append(recs, &transport.Record{Topic: "labels", Key: []byte(strconv.FormatInt(o.id, 10)),
				Value: fmt.Appendf(nil, `{"id":%d,"label":%q}`, o.id, l)})
		}
	}
	recs = append(recs, &transport.Record{Topic: "tiers", Key: []byte("l0"), Value: []byte(`{"label":"l0","tier":"gold"}`)})
	for topic, parts := range map[string]int32{"labels": 1, "tiers": 1, "payments": 2} {
		if err := n.tr.CreateTopic(context.Background(), transport.TopicSpec{Name: topic, Partitions: parts}); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.tr.Produce(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
}

// HOP windows, LEFT JOINs of two chained tables (NULL columns), RANK
// partitioned by window_end only, WHERE over a table column and
// window_start: checked against a brute-force ranking.
func TestWindowTopNOverChainedLeftTableJoins(t *testing.T) {
	orders, payments := genOrdersPayments(61, 400)
	label := func(id int64) (string, bool) { return "l" + strconv.Itoa(int(id%3)), id%4 != 0 }
	n, e := sjEngine(t, nil, false)
	produceLabelTiers(t, n, e, orders, label)
	mustExec(t, e, `CREATE SINK top_hop WITH (connector = 'topic', topic = 'top_hop', delivery.guarantee = 'exactly_once') AS
		SELECT window_end, label, tier, id, rk FROM (
		  SELECT o.window_end, l.label, t.tier, o.id, RANK() OVER (PARTITION BY o.window_end ORDER BY o.amount DESC) AS rk
		  FROM HOP(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '5' SECOND, INTERVAL '10' SECOND) o
		    LEFT JOIN labels l ON o.id = l.id LEFT JOIN tiers t ON l.label = t.label
		  WHERE (l.label IS NULL OR l.label <> 'l2') AND o.window_start >= CAST('2026-03-01 00:00:10' AS timestamp) AND o.id >= 0) r
		WHERE rk <= 3`)
	produceOrdersPayments(t, n.tr, orders, payments, 67)

	const layout = "2006-01-02T15:04:05"
	type row struct {
		o    sjOrder
		l, c string
	}
	groups := map[time.Time][]row{}
	min10 := time.Date(2026, 3, 1, 0, 0, 10, 0, time.UTC)
	for _, o := range orders {
		l, ok := label(o.id)
		if ok && l == "l2" {
			continue
		}
		lab, tier := "<nil>", "<nil>"
		if ok {
			lab = l
			if l == "l0" {
				tier = "gold"
			}
		}
		last := o.ts.Truncate(5 * time.Second)
		for _, start := range []time.Time{last.Add(-5 * time.Second), last} {
			if start.Before(min10) {
				continue
			}
			end := start.Add(10 * time.Second)
			groups[end] = append(groups[end], row{o, lab, tier})
		}
	}
	var want []string
	for end, rs := range groups {
		for _, r := range rs {
			rk := 1
			for _, s := range rs {
				if s.o.amount > r.o.amount {
					rk++
				}
			}
			if rk <= 3 {
				want = append(want, fmt.Sprintf("%s|%s|%s|%d|%d", end.Format(layout), r.l, r.c, r.o.id, rk))
			}
		}
	}
	slices.Sort(want)
	var got []string
	for _, r := range readExactly(t, n.tr, "top_hop", len(want)) {
		var v struct {
			WindowEnd string  `json:"window_end"`
			Label     *string `json:"label"`
			Tier      *string `json:"tier"`
			ID        int64   `json:"id"`
			RK        int     `json:"rk"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatal(err)
		}
		ts, err := time.Parse("2006-01-02T15:04:05.999999", v.WindowEnd)
		if err != nil {
			t.Fatal(err)
		}
		l, c := "<nil>", "<nil>"
		if v.Label != nil {
			l = *v.Label
		}
		if v.Tier != nil {
			c = *v.Tier
		}
		got = append(got, fmt.Sprintf("%s|%s|%s|%d|%d", ts.Format(layout), l, c, v.ID, v.RK))
	}
	slices.Sort(got)
	compareRows(t, got, want)
}

// A table key that fails to evaluate dead-letters the event; the task
// goes on.
func TestWindowTopNTableKeyFails(t *testing.T) {
	orders, payments := genOrdersPayments(61, 200)
	label := func(id int64) (string, bool) { return "l" + strconv.Itoa(int(id%3)), true }
	n, e := sjEngine(t, nil, false)
	produceLabelTiers(t, n, e, orders, label)
	mustExec(t, e, `CREATE SINK top_err WITH (connector = 'topic', topic = 'top_err') AS
		SELECT window_start, id, rn FROM (
		  SELECT o.window_start, o.id, ROW_NUMBER() OVER (PARTITION BY o.window_start, o.window_end ORDER BY o.amount DESC, o.id) AS rn
		  FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '5' SECOND) o JOIN labels l ON o.id / (o.id % 5) = l.id) r
		WHERE rn <= 1`)
	produceOrdersPayments(t, n.tr, orders, payments, 67)
	readExactly(t, n.tr, "top_err", 1)
	if p := e.mu.pipelines["top_err"]; p.stats.dead.Load() == 0 {
		t.Errorf("no dead letters for keys dividing by zero")
	}
}
