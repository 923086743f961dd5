package engine

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"testing"
	"time"
)

// Updating aggregations over unions: a source in both queries, metadata
// columns of the union's row (grouped by, in the outer WHERE), types
// widened between the queries, NULL literals, count(DISTINCT), HAVING.
func TestGroupByOverUnionAllShapes(t *testing.T) {
	n, e := sjEngine(t, nil, false)
	orders, payments := genOrdersPayments(9, 200)
	mustExec(t, e, `CREATE SINK twice WITH (connector = 'topic', topic = 'twice') AS
		SELECT who, count(*) AS n FROM (SELECT customer AS who FROM orders WHERE id >= 0
		UNION ALL SELECT customer FROM orders WHERE id >= 0) u GROUP BY who`)
	mustExec(t, e, `CREATE SINK meta WITH (connector = 'topic', topic = 'meta') AS
		SELECT _topic AS tp, _partition AS part, count(*) AS n FROM (SELECT id FROM orders WHERE id >= 0
		UNION ALL SELECT order_id FROM payments WHERE order_id >= 0) u WHERE _offset >= 0 AND _topic <> 'x' GROUP BY _topic, _partition`)
	mustExec(t, e, `CREATE SINK widened WITH (connector = 'topic', topic = 'widened') AS
		SELECT k, count(DISTINCT a) AS d, sum(a) AS s FROM (SELECT order_id % 5 AS k, amount AS a FROM payments WHERE order_id >= 0
		UNION ALL SELECT id % 5, CAST(amount AS bigint) FROM orders WHERE id >= 0) u GROUP BY k HAVING count(*) > 0`)
	mustExec(t, e, `CREATE SINK nulls WITH (connector = 'topic', topic = 'nulls') AS
		SELECT who, count(*) AS n, sum(x) AS s FROM (SELECT customer AS who, NULL AS x FROM orders WHERE id >= 0
		UNION ALL SELECT NULL, amount FROM payments WHERE order_id >= 0) u GROUP BY who`)
	produceOrdersPayments(t, n.tr, orders, payments, 9)

	twice, meta := map[string]int{}, map[string]int{}
	type ds struct {
		distinct map[int]bool
		sum      int
	}
	widened := map[int64]*ds{}
	add := func(k int64, a int) {
		if widened[k] == nil {
			widened[k] = &ds{distinct: map[int]bool{}}
		}
		widened[k].distinct[a] = true
		widened[k].sum += a
	}
	nullN, nullS := 0, 0
	for _, o := range orders {
		twice[fmt.Sprintf("c%d", o.id%7)] += 2
		meta[fmt.Sprintf(`{"tp":"orders","part":%d`, o.part)]++
		add(o.id%5, o.amount)
	}
	for _, p := range payments {
		if p.orderID >= 0 {
			meta[fmt.Sprintf(`{"tp":"payments","part":%d`, p.part)]++
			add(p.orderID%5, p.amount)
			nullN++
			nullS += p.amount
		}
	}
	var wantTwice, wantMeta, wantWidened, wantNulls []string
	for who, c := range twice {
		wantTwice = append(wantTwice, fmt.Sprintf(`{"who":"%s","n":%d}`, who, c))
	}
	for k, c := range meta {
		wantMeta = append(wantMeta, fmt.Sprintf(`%s,"n":%d}`, k, c))
	}
	for k, v := range widened {
		wantWidened = append(wantWidened, fmt.Sprintf(`{"k":%d,"d":%d,"s":%d}`, k, len(v.distinct), v.sum))
	}
	perWho := map[string]int{}
	for _, o := range orders {
		perWho[fmt.Sprintf("c%d", o.id%7)]++
	}
	for who, c := range perWho {
		wantNulls = append(wantNulls, fmt.Sprintf(`{"who":"%s","n":%d,"s":null}`, who, c))
	}
	wantNulls = append(wantNulls, fmt.Sprintf(`{"who":null,"n":%d,"s":%d}`, nullN, nullS))
	for sink, want := range map[string][]string{"twice": wantTwice, "meta": wantMeta, "widened": wantWidened, "nulls": wantNulls} {
		slices.Sort(want)
		var got []string
		deadline := time.Now().Add(30 * time.Second)
		for {
			got = slices.Sorted(maps.Values(latestRows(t, n.tr, sink)))
			if slices.Equal(got, want) || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s:\n got  %v\n want %v", sink, got, want)
		}
	}
}

// HOP and SESSION windows over a union, by each source's WATERMARK column.
func TestHopAndSessionOverUnionAll(t *testing.T) {
	n, e := sjEngine(t, nil, false)
	orders, payments := genOrdersPayments(11, 300)
	mustExec(t, e, `CREATE SINK hops WITH (connector = 'topic', topic = 'hops') AS
		SELECT window_start, window_end, count(*) AS events
		FROM HOP(TABLE (SELECT id, placed_at AS at FROM orders WHERE id >= 0
		                UNION ALL SELECT order_id, paid_at FROM payments WHERE order_id >= 0),
		         DESCRIPTOR(at), INTERVAL '2' SECOND, INTERVAL '4' SECOND)
		GROUP BY window_start, window_end`)
	mustExec(t, e, `CREATE SINK sessions WITH (connector = 'topic', topic = 'sessions') AS
		SELECT window_start, window_end, count(*) AS events
		FROM SESSION(TABLE (SELECT id, placed_at AS at FROM orders WHERE id >= 0 AND id % 10 = 0
		                    UNION ALL SELECT order_id, paid_at FROM payments WHERE order_id >= 0 AND order_id % 10 = 0),
		             DESCRIPTOR(at), INTERVAL '1' SECOND)
		GROUP BY window_start, window_end`)
	produceOrdersPayments(t, n.tr, orders, payments, 11)
	const layout = "2006-01-02T15:04:05.999999"
	hop := map[time.Time]int{}
	var times []time.Time
	addHop := func(ts time.Time) {
		for s := ts.Truncate(2 * time.Second); s.After(ts.Add(-4 * time.Second)); s = s.Add(-2 * time.Second) {
			hop[s]++
		}
	}
	for _, o := range orders {
		addHop(o.ts)
		if o.id%10 == 0 {
			times = append(times, o.ts)
		}
	}
	for _, p := range payments {
		if p.orderID >= 0 {
			addHop(p.ts)
			if p.orderID%10 == 0 {
				times = append(times, p.ts)
			}
		}
	}
	var wantHops, wantSessions []string
	for s, c := range hop {
		wantHops = append(wantHops, fmt.Sprintf(`{"window_start":"%s","window_end":"%s","events":%d}`, s.Format(layout), s.Add(4*time.Second).Format(layout), c))
	}
	slices.Sort(wantHops)
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	for i := 0; i < len(times); {
		start, end, c := times[i], times[i].Add(time.Second), 0
		for ; i < len(times) && !times[i].After(end); i++ {
			end, c = later(end, times[i].Add(time.Second)), c+1
		}
		wantSessions = append(wantSessions, fmt.Sprintf(`{"window_start":"%s","window_end":"%s","events":%d}`, start.Format(layout), end.Format(layout), c))
	}
	slices.Sort(wantSessions)
	checkWindowRows(t, n, e, map[string][]string{"hops": wantHops, "sessions": wantSessions})
}
