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

// A top-N over a TUMBLE window joined with a table: each order looked up
// in the table (inner: orders without a label dropped), then ranked in
// its window by label, each window's rows final once the watermark passes
// its end. Checked against a brute-force ranking, exactly-once.
func TestWindowTopNOverTableJoin(t *testing.T) {
	orders, payments := genOrdersPayments(61, 500)
	label := func(id int64) (string, bool) { return "l" + strconv.Itoa(int(id%3)), id%4 != 0 }
	n, e := sjEngine(t, nil, false)
	mustExec(t, e, `CREATE SOURCE labels (id bigint, label text) WITH (connector = 'topic', topic = 'labels', 'primary-key' = 'id')`)
	var recs []*transport.Record
	for _, o := range orders {
		if l, ok := label(o.id); ok {
			recs = append(recs, &transport.Record{Topic: "labels", Key: []byte(strconv.FormatInt(o.id, 10)),
				Value: fmt.Appendf(nil, `{"id":%d,"label":%q}`, o.id, l)})
		}
	}
	for topic, parts := range map[string]int32{"labels": 1, "payments": 2} { // payments: only the input's flush rows
		if err := n.tr.CreateTopic(context.Background(), transport.TopicSpec{Name: topic, Partitions: parts}); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.tr.Produce(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	mustExec(t, e, `CREATE SINK top_labelled WITH (connector = 'topic', topic = 'top_labelled', delivery.guarantee = 'exactly_once') AS
		SELECT window_start, label, id, rn FROM (
		  SELECT o.window_start, l.label, o.id, ROW_NUMBER() OVER (PARTITION BY o.window_start, o.window_end, l.label ORDER BY o.amount DESC, o.id) AS rn
		  FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '5' SECOND) o JOIN labels l ON o.id = l.id
		  WHERE l.label <> 'l2' AND o.amount > 10) r
		WHERE rn <= 2`)
	produceOrdersPayments(t, n.tr, orders, payments, 67)

	const layout = "2006-01-02T15:04:05"
	groups := map[string][]sjOrder{}
	for _, o := range orders {
		l, ok := label(o.id)
		if !ok || l == "l2" || o.amount <= 10 {
			continue
		}
		k := o.ts.Truncate(5*time.Second).Format(layout) + "|" + l
		groups[k] = append(groups[k], o)
	}
	var want []string
	for k, os := range groups {
		slices.SortFunc(os, func(a, b sjOrder) int {
			if a.amount != b.amount {
				return b.amount - a.amount
			}
			return int(a.id - b.id)
		})
		for i, o := range os[:min(2, len(os))] {
			want = append(want, fmt.Sprintf("%s|%d|%d", k, o.id, i+1))
		}
	}
	slices.Sort(want)
	var got []string
	for _, r := range readExactly(t, n.tr, "top_labelled", len(want)) {
		var row struct {
			WindowStart string `json:"window_start"`
			Label       string `json:"label"`
			ID          int64  `json:"id"`
			RN          int    `json:"rn"`
		}
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatal(err)
		}
		ts, err := time.Parse("2006-01-02T15:04:05.999999", row.WindowStart)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s|%s|%d|%d", ts.Format(layout), row.Label, row.ID, row.RN))
	}
	slices.Sort(got)
	compareRows(t, got, want)
	if late := e.mu.pipelines["top_labelled"].stats.late.Load(); late != 0 {
		t.Errorf("%d rows late; the input was within the lateness", late)
	}
}
