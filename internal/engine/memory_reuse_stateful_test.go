package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/transport/embedded"
)

// Stateful pipelines (shuffle tasks, at-least-once and
// exactly-once) read with small fetches, so that each poll's memory is
// reused once its batches are acknowledged; a share of the records fails
// at the shuffle (dead letters that carry the input's key, value and
// headers). Every dead letter must be what its input was, and every
// group's count the brute-force one.
func TestStatefulOutputsSurviveMemoryReuse(t *testing.T) {
	for _, guarantee := range []string{"at_least_once", "exactly_once"} {
		t.Run(guarantee, func(t *testing.T) {
			n := openNode(t, t.TempDir(), embedded.WithFetchBytes(2048))
			defer n.close(t)
			ctx := context.Background()
			if err := n.tr.CreateTopic(ctx, transport.TopicSpec{Name: "orders", Partitions: 4}); err != nil {
				t.Fatal(err)
			}
			stateDir := t.TempDir()
			e := openEngineWith(t, n, func(c *Config) { c.StateDir = stateDir })
			defer closeEngine(t, e)
			mustExec(t, e, `CREATE SOURCE orders (id bigint, cust integer, note text, pad text) WITH (connector = 'topic', topic = 'orders');`)
			mustExec(t, e, fmt.Sprintf(`CREATE SINK out WITH (connector = 'topic', topic = 'out', delivery.guarantee = '%s', checkpoint.interval = '100ms') AS
				SELECT cust, count(*) AS n FROM orders GROUP BY cust;`, guarantee))
			const total = 6000
			want := map[int64]int64{}
			for i := 0; i < total; i += 100 {
				var recs []*transport.Record
				for j := i; j < i+100; j++ {
					v := fmt.Appendf(nil, `{"id":%d,"cust":%d,"note":"n%d","pad":"%0100d"}`, j, j%17, j, j)
					if j%10 == 0 {
						v = fmt.Appendf(nil, `{"id":%d,"cust":"bad","note":"n%d"}`, j, j) // dead-lettered
					} else {
						want[int64(j%17)]++
					}
					recs = append(recs, &transport.Record{Topic: "orders", Partition: int32(j % 4), Key: fmt.Appendf(nil, "k%d", j), Value: v,
						Headers: []transport.Header{{Key: "h", Value: fmt.Appendf(nil, "h%d", j)}}})
				}
				if err := n.tr.Produce(ctx, recs); err != nil {
					t.Fatal(err)
				}
			}
			dead := readAll(t, n.tr, "out.dlq", total/10)
			for _, r := range dead {
				var v struct{ ID int64 }
				h := ""
				for _, hd := range r.Headers {
					if hd.Key == "h" {
						h = string(hd.Value)
					}
				}
				if err := json.Unmarshal(r.Value, &v); err != nil || string(r.Key) != fmt.Sprintf("k%d", v.ID) ||
					string(r.Value) != fmt.Sprintf(`{"id":%d,"cust":"bad","note":"n%d"}`, v.ID, v.ID) || h != fmt.Sprintf("h%d", v.ID) {
					t.Fatalf("dead letter key %q value %q header %q: not its input", r.Key, r.Value, h)
				}
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				got := map[int64]int64{}
				for _, r := range readSoFar(t, n.tr, "out") {
					var row struct{ Cust, N int64 }
					if err := json.Unmarshal(r.Value, &row); err != nil {
						t.Fatalf("output %q: %v", r.Value, err)
					}
					got[row.Cust] = row.N
				}
				ok := len(got) == len(want)
				for k, w := range want {
					ok = ok && got[k] == w
				}
				if ok {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("counts %v, want %v", got, want)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}
