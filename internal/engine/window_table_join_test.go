package engine

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// A window aggregation over a stream joined with a table: orders per
// region and 10-second window, the region their customer's row gives
// (customer c6 has none: the inner join drops its orders). Checked
// against a brute-force count, each window's row once.
func TestWindowOverTableJoin(t *testing.T) {
	n, e := sjEngine(t, nil, false)
	mustExec(t, e, `CREATE SOURCE regions (customer text, region text) WITH (connector = 'topic', topic = 'regions', 'primary-key' = 'customer')`)
	for _, topic := range []transport.TopicSpec{{Name: "regions", Partitions: 1}, {Name: "payments", Partitions: 2}} {
		if err := n.tr.CreateTopic(context.Background(), topic); err != nil {
			t.Fatal(err)
		}
	}
	var recs []*transport.Record
	for c := range 6 {
		recs = append(recs, &transport.Record{Topic: "regions", Partition: 0, Key: fmt.Appendf(nil, "c%d", c), Value: fmt.Appendf(nil, `{"customer":"c%d","region":"r%d"}`, c, c%2)})
	}
	if err := n.tr.Produce(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	mustExec(t, e, `CREATE SINK per_region WITH (connector = 'topic', topic = 'per_region') AS
		SELECT r.region, window_start, count(*) AS n, sum(o.amount) AS total
		FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '10' SECOND) o JOIN regions r ON o.customer = r.customer
		WHERE o.id >= 0
		GROUP BY r.region, window_start, window_end`)
	orders, payments := genOrdersPayments(61, 400)
	produceOrdersPayments(t, n.tr, orders, payments, 67)

	type agg struct{ n, total int }
	counts := map[string]agg{}
	for _, o := range orders {
		if c := o.id % 7; c < 6 {
			k := fmt.Sprintf(`"region":"r%d","window_start":"%s"`, c%2, o.ts.Truncate(10*time.Second).Format("2006-01-02T15:04:05"))
			a := counts[k]
			counts[k] = agg{a.n + 1, a.total + o.amount}
		}
	}
	var want []string
	for k, a := range counts {
		want = append(want, fmt.Sprintf(`{%s,"n":%d,"total":%d}`, k, a.n, a.total))
	}
	slices.Sort(want)
	checkWindowRows(t, n, e, map[string][]string{"per_region": want})
}
