package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"testing"

	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/transport/embedded"
)

// A stateless pipeline reading the embedded log with small
// fetches (each poll's memory is reused once its batches are
// acknowledged), with tracing on (spans end after Ack), keys and headers
// passed through and a share of the records dead-lettered. Every output
// and every dead letter must be what its input was.
func TestStatelessOutputsSurviveMemoryReuse(t *testing.T) {
	n := openNode(t, t.TempDir(), embedded.WithFetchBytes(4096))
	defer n.close(t)
	ctx := context.Background()
	if err := n.tr.CreateTopic(ctx, transport.TopicSpec{Name: "orders", Partitions: 4}); err != nil {
		t.Fatal(err)
	}
	tracer, _ := newTestTracer(t, 1)
	e := openEngineWith(t, n, func(c *Config) { c.Tracer = tracer })
	defer closeEngine(t, e)
	mustExec(t, e, `CREATE SOURCE orders (id bigint, amount integer, note text, pad text) WITH (connector = 'topic', topic = 'orders');
		CREATE SINK out WITH (connector = 'topic', topic = 'out') AS SELECT id, amount FROM orders WHERE amount >= 0;`)
	const total = 8000
	for i := 0; i < total; i += 100 {
		var recs []*transport.Record
		for j := i; j < i+100; j++ {
			v := fmt.Appendf(nil, `{"id":%d,"amount":%d,"note":"n%d","pad":"%0100d"}`, j, j%50, j, j)
			if j%10 == 0 {
				v = fmt.Appendf(nil, `{"id":%d,"amount":"bad","note":"n%d"}`, j, j) // dead-lettered
			}
			recs = append(recs, &transport.Record{Topic: "orders", Partition: int32(j % 4), Key: fmt.Appendf(nil, "k%d", j), Value: v,
				Headers: []transport.Header{{Key: "h", Value: fmt.Appendf(nil, "h%d", j)}}})
		}
		if err := n.tr.Produce(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	outs := readAll(t, n.tr, "out", total-total/10)
	for _, r := range outs {
		var v struct{ ID, Amount int64 }
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("output %q: %v", r.Value, err)
		}
		h := ""
		for _, hd := range r.Headers {
			if hd.Key == "h" {
				h = string(hd.Value)
			}
		}
		if string(r.Key) != fmt.Sprintf("k%d", v.ID) || v.Amount != v.ID%50 || h != fmt.Sprintf("h%d", v.ID) {
			t.Fatalf("output key %q value %s header %q: not its input's", r.Key, r.Value, h)
		}
	}
	dead := readAll(t, n.tr, "out.dlq", total/10)
	for _, r := range dead {
		var v struct{ ID int64 }
		if err := json.Unmarshal(r.Value, &v); err != nil || string(r.Key) != fmt.Sprintf("k%d", v.ID) || string(r.Value) != fmt.Sprintf(`{"id":%d,"amount":"bad","note":"n%d"}`, v.ID, v.ID) {
			t.Fatalf("dead letter key %q value %q: not its input", r.Key, r.Value)
		}
	}
}

// Projection (task.project) with the columns a stateless task
// reads outside its outputs: a merged subquery's WHERE before a table
// lookup (Join.StreamFilter), the join key, a UNION ALL distributed over
// the join, and KEY BY. Every output must be the brute-force answer.
func TestProjectionKeepsColumnsReadOutsideOutputs(t *testing.T) {
	n, e := joinNode(t)
	rows := map[int]string{}
	for id := range 10 {
		rows[id] = fmt.Sprintf(`{"id":%d,"name":"c%d","tier":"t%d"}`, id, id, id%3)
	}
	produceCustomers(t, n.tr, rows)
	mustExec(t, e, `CREATE SINK sub WITH (connector = 'topic', topic = 'sub') AS
		SELECT s.id, c.name FROM (SELECT id, customer FROM orders WHERE amount > 5) s JOIN customers c ON s.customer = c.id`)
	mustExec(t, e, `CREATE SINK uni WITH (connector = 'topic', topic = 'uni') AS
		SELECT u.id, c.name FROM (SELECT id, customer FROM orders WHERE amount > 5 UNION ALL SELECT id + 1000 AS id, customer FROM orders WHERE amount <= 2) u JOIN customers c ON u.customer = c.id`)
	mustExec(t, e, `CREATE SINK keyed WITH (connector = 'topic', topic = 'keyed') AS
		SELECT id FROM orders WHERE customer < 5 KEY BY amount`)
	produceJoinOrders(t, n.tr, 0, 300, func(i int) int { return i % 12 })
	wantSub, wantUni, wantKeyed := map[string]string{}, map[string]string{}, map[string]string{}
	for i := range 300 {
		amount, cust := i%9+1, i%12
		if cust < 10 && amount > 5 {
			wantSub[fmt.Sprint(i)] = fmt.Sprintf(`{"id":%d,"name":"c%d"}`, i, cust)
			wantUni[fmt.Sprint(i)] = wantSub[fmt.Sprint(i)]
		}
		if cust < 10 && amount <= 2 {
			wantUni[fmt.Sprint(i+1000)] = fmt.Sprintf(`{"id":%d,"name":"c%d"}`, i+1000, cust)
		}
		if cust < 5 {
			wantKeyed[fmt.Sprint(i)] = fmt.Sprint(amount)
		}
	}
	t.Logf("want %d, %d, %d rows", len(wantSub), len(wantUni), len(wantKeyed))
	waitFor(t, "the subquery join's rows", func() bool { return maps.Equal(readJoined(t, n.tr, "sub"), wantSub) })
	waitFor(t, "the union join's rows", func() bool { return maps.Equal(readJoined(t, n.tr, "uni"), wantUni) })
	waitFor(t, "the keyed rows", func() bool {
		got := map[string]string{}
		for _, r := range readSoFar(t, n.tr, "keyed") {
			var row struct{ ID int64 }
			if err := json.Unmarshal(r.Value, &row); err != nil {
				t.Fatal(err)
			}
			got[fmt.Sprint(row.ID)] = string(r.Key)
		}
		return maps.Equal(got, wantKeyed)
	})
}
