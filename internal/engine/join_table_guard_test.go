package engine

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// A subquery on a table join's stream side whose WHERE guards its key (a
// cast that fails on what it drops, or a text key looked up in a bigint
// table) filters before the lookup: of four signups, the two numeric ones
// join, the others are filtered, not dead-lettered.
func TestTableJoinSubqueryWhereGuardsKey(t *testing.T) {
	n, e := joinNode(t)
	mustExec(t, e, `CREATE SOURCE signups (id bigint, who text) WITH (connector = 'topic', topic = 'signups', topic.partitions = '1')`)
	produceCustomers(t, n.tr, map[int]string{1: `{"id":1,"name":"c1","tier":"t"}`, 2: `{"id":2,"name":"c2","tier":"t"}`})
	mustExec(t, e, `CREATE SINK cast_key WITH (connector = 'topic', topic = 'cast_key') AS
		SELECT s.id, c.name FROM (SELECT id, CAST(who AS bigint) AS cid FROM signups WHERE who ~ '^[0-9]+$') s
		JOIN customers c ON s.cid = c.id`)
	mustExec(t, e, `CREATE SINK text_key WITH (connector = 'topic', topic = 'text_key') AS
		SELECT s.id, c.name FROM (SELECT id, who FROM signups WHERE who ~ '^[0-9]+$') s
		LEFT JOIN customers c ON s.who = c.id`)
	time.Sleep(time.Second)
	var recs []*transport.Record
	for i, who := range []string{"1", "abc", "2", "x-9"} {
		recs = append(recs, &transport.Record{Topic: "signups", Partition: 0, Value: fmt.Appendf(nil, `{"id":%d,"who":%q}`, i, who)})
	}
	if err := n.tr.Produce(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	want := []string{`{"id":0,"name":"c1"}`, `{"id":2,"name":"c2"}`}
	for _, sink := range []string{"cast_key", "text_key"} {
		var got []string
		for _, r := range readExactly(t, n.tr, sink, len(want)) {
			got = append(got, string(r.Value))
		}
		slices.Sort(got)
		compareRows(t, got, want)
		var st pipelineStatus
		waitFor(t, sink+" to count all four signups", func() bool {
			st = e.mu.pipelines[sink].status()
			return st.Out+st.Filtered+st.DeadLettered >= 4
		})
		if st.DeadLettered != 0 || st.Filtered != 2 {
			dlq := readSoFar(t, n.tr, sink+".dlq")
			var why []string
			for _, d := range dlq {
				for _, h := range d.Headers {
					if h.Key == "tide.error" || h.Key == "tide.stage" {
						why = append(why, h.Key+"="+string(h.Value))
					}
				}
			}
			t.Errorf("%s: %d dead-lettered, %d filtered; want 0 and 2 (the subquery's WHERE drops them): %v", sink, st.DeadLettered, st.Filtered, why)
		}
	}
}
