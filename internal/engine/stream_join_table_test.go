package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// A table joined to the rows of a join of two streams: each pair, and
// each row a bounded outer join emits with NULLs, is looked up in the
// join's tasks before WHERE, the projection or an aggregation. Checked
// against the interval join's brute-force evaluation with the table
// applied: an inner lookup with a WHERE over the table's column, a LEFT
// lookup keyed by the right side (NULL for the padded rows), a count per
// table column (in a stage of its own), one per join key (in the join's
// tasks) and the pairs of a window join per window; at-least-once, and
// exactly-once across a restart.
func TestTableJoinedToStreamJoin(t *testing.T) {
	orders, payments := genOrdersPayments(53, 400)
	// Orders with id % 4 == 0 have no label.
	label := func(id int64) (string, bool) { return "l" + strconv.Itoa(int(id%5)), id%4 != 0 }
	const bound = `ON o.id = p.order_id AND p.order_id >= 0
		AND p.paid_at BETWEEN o.placed_at - INTERVAL '2' SECOND AND o.placed_at + INTERVAL '10' SECOND`
	const where = `(o.id IS NULL OR (o.id >= 0 AND o.amount > 10))`
	ordersPaymentsInRuns(t, orders, payments, 59, "labelled",
		func(t *testing.T, e *Engine, opts string) {
			mustExec(t, e, `CREATE SOURCE labels (id bigint, label text) WITH (connector = 'topic', topic = 'labels', 'primary-key' = 'id')`)
			var recs []*transport.Record
			for id := range int64(len(orders) * 2) {
				if l, ok := label(id); ok {
					recs = append(recs, &transport.Record{Topic: "labels", Key: []byte(strconv.FormatInt(id, 10)),
						Value: fmt.Appendf(nil, `{"id":%d,"label":%q}`, id, l)})
				}
			}
			if err := e.cfg.Transport.CreateTopic(context.Background(), transport.TopicSpec{Name: "labels", Partitions: 1}); err != nil {
				t.Fatal(err)
			}
			if err := e.cfg.Transport.Produce(context.Background(), recs); err != nil {
				t.Fatal(err)
			}
			mustExec(t, e, `CREATE SINK labelled WITH (connector = 'topic', topic = 'labelled'`+opts+`) AS
				SELECT o.id, p.amount AS paid, p.paid_at, l.label FROM orders o JOIN payments p `+bound+`
				JOIN labels l ON o.id = l.id WHERE `+where+` AND l.label <> 'l1'`)
			mustExec(t, e, `CREATE SINK labelled_left WITH (connector = 'topic', topic = 'labelled_left'`+opts+`) AS
				SELECT o.id, p.amount AS paid, p.paid_at, l.label FROM orders o LEFT JOIN payments p `+bound+`
				LEFT JOIN labels AS l ON p.order_id = l.id WHERE `+where)
			mustExec(t, e, `CREATE SINK per_label WITH (connector = 'topic', topic = 'per_label'`+opts+`) AS
				SELECT l.label, count(*) AS pairs FROM orders o JOIN payments p `+bound+`
				JOIN labels l ON o.id = l.id WHERE `+where+` GROUP BY l.label`)
			mustExec(t, e, `CREATE SINK per_order WITH (connector = 'topic', topic = 'per_order'`+opts+`) AS
				SELECT o.id, count(*) AS pairs, max(l.label) AS label FROM orders o JOIN payments p `+bound+`
				JOIN labels l ON o.id = l.id WHERE `+where+` GROUP BY o.id`)
			mustExec(t, e, `CREATE SINK labelled_windows WITH (connector = 'topic', topic = 'labelled_windows'`+opts+`) AS
				SELECT o.window_start, count(*) AS pairs
				FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '5' SECOND) o
				JOIN TUMBLE(TABLE payments, DESCRIPTOR(paid_at), INTERVAL '5' SECOND) p
				  ON o.id = p.order_id AND p.window_start = o.window_start
				JOIN labels l ON o.id = l.id
				GROUP BY o.window_start, o.window_end`)
			if !e.mu.pipelines["per_order"].plan.StreamJoin.Grouped {
				t.Error("per_order is not aggregated in the join's tasks")
			}
		},
		func(t *testing.T, n *node, e *Engine) {
			inner := intervalOracle(orders, payments, [2]bool{})
			var labelled, left []string
			perLabel, perOrder := map[string]int{}, map[string]int{}
			for _, r := range inner {
				id, _ := strconv.ParseInt(strings.SplitN(r, "|", 2)[0], 10, 64)
				l, ok := label(id)
				if !ok {
					continue
				}
				perLabel[l]++
				perOrder[fmt.Sprintf("%d|%s", id, l)]++
				if l != "l1" {
					labelled = append(labelled, r+"|"+l)
				}
			}
			for _, r := range intervalOracle(orders, payments, [2]bool{true, false}) {
				l := "<nil>"
				if !strings.Contains(r, "|<nil>|") {
					id, _ := strconv.ParseInt(strings.SplitN(r, "|", 2)[0], 10, 64)
					if v, ok := label(id); ok {
						l = v
					}
				}
				left = append(left, r+"|"+l)
			}
			slices.Sort(labelled)
			slices.Sort(left)
			compareRows(t, labelledRows(t, readExactly(t, n.tr, "labelled", len(labelled))), labelled)
			compareRows(t, labelledRows(t, readExactly(t, n.tr, "labelled_left", len(left))), left)
			checkLatestCounts(t, n, "per_label", perLabel, func(row map[string]any) string { return fmt.Sprint(row["label"]) })
			checkLatestCounts(t, n, "per_order", perOrder, func(row map[string]any) string { return fmt.Sprintf("%v|%v", row["id"], row["label"]) })
			var withLabel []sjOrder
			for _, o := range orders {
				if _, ok := label(o.id); ok {
					withLabel = append(withLabel, o)
				}
			}
			sameWindow := func(o sjOrder, p sjPayment) bool {
				return o.ts.Truncate(5 * time.Second).Equal(p.ts.Truncate(5 * time.Second))
			}
			checkWindowRows(t, n, e, map[string][]string{"labelled_windows": pairsPerWindow(withLabel, payments, 5*time.Second, true, sameWindow)})
			if f := e.mu.pipelines["labelled"].stats.filtered.Load(); f == 0 {
				t.Error("no pair counted as filtered, though orders without a label have pairs")
			}
		})
}

// labelledRows decodes rows as the oracle writes them, the label last.
func labelledRows(t *testing.T, recs []*transport.Record) []string {
	t.Helper()
	out := make([]string, len(recs))
	for i, r := range recs {
		var row struct {
			Label *string `json:"label"`
		}
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatal(err)
		}
		l := "<nil>"
		if row.Label != nil {
			l = *row.Label
		}
		out[i] = joinedRows(t, recs[i:i+1])[0] + "|" + l
	}
	slices.Sort(out)
	return out
}

// checkLatestCounts waits until the latest row of each group of an
// updating count (pairs, keyed by the group) equals want, the group named
// by name.
func checkLatestCounts(t *testing.T, n *node, topic string, want map[string]int, name func(map[string]any) string) {
	t.Helper()
	var got map[string]int
	waitFor(t, topic+"'s counts", func() bool {
		got = map[string]int{}
		for _, v := range currentRows(t, n, topic) {
			var row map[string]any
			if err := json.Unmarshal([]byte(v), &row); err != nil {
				t.Fatalf("%s: %s: %v", topic, v, err)
			}
			got[name(row)] = int(row["pairs"].(float64))
		}
		return maps.Equal(got, want)
	})
}
