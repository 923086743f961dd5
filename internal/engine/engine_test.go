package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tide-data/tide/internal/transport"
)

const ordersSource = `CREATE SOURCE orders (id bigint, amount integer) WITH (connector = 'topic', topic = 'orders');`

func produceOrders(t *testing.T, tr transport.Transport, from, to int) {
	t.Helper()
	var recs []*transport.Record
	for i := from; i < to; i++ {
		recs = append(recs, &transport.Record{Topic: "orders", Partition: -1, Key: fmt.Appendf(nil, "k%d", i%7),
			Value: fmt.Appendf(nil, `{"id":%d,"amount":%d}`, i, i%100)})
	}
	if err := tr.Produce(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
}

func outputIDs(t *testing.T, recs []*transport.Record) map[int64]int {
	t.Helper()
	ids := map[int64]int{}
	for _, r := range recs {
		var v struct{ ID int64 }
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("output %s: %v", r.Value, err)
		}
		ids[v.ID]++
	}
	return ids
}

// A clean restart resumes every pipeline from its committed offsets: no
// input is lost and, since the engine drained and committed on close,
// none is repeated.
func TestRestartResumesFromCommittedOffsets(t *testing.T) {
	dir := t.TempDir()
	n := openNode(t, dir)
	ctx := context.Background()
	if err := n.tr.CreateTopic(ctx, transport.TopicSpec{Name: "orders", Partitions: 4}); err != nil {
		t.Fatal(err)
	}
	e := openEngine(t, n)
	mustExec(t, e, ordersSource+`
		CREATE SINK evens WITH (connector = 'topic', topic = 'evens') AS SELECT id, amount FROM orders WHERE id % 2 = 0;`)
	produceOrders(t, n.tr, 0, 500)
	readAll(t, n.tr, "evens", 250)
	closeEngine(t, e)
	n.close(t)

	n = openNode(t, dir)
	defer n.close(t)
	e = openEngine(t, n)
	defer closeEngine(t, e)
	res := mustExec(t, e, "SHOW SINKS")
	if len(res[0].Rows) != 1 || res[0].Rows[0][0] != "evens" {
		t.Fatalf("after restart SHOW SINKS = %v", res[0].Rows)
	}
	produceOrders(t, n.tr, 500, 1000)
	ids := outputIDs(t, readAll(t, n.tr, "evens", 500))
	for i := int64(0); i < 1000; i += 2 {
		if ids[i] != 1 {
			t.Fatalf("id %d appears %d times in the output, want once", i, ids[i])
		}
	}
	if len(ids) != 500 {
		t.Fatalf("output has %d distinct ids, want 500", len(ids))
	}
}

// The pipeline's consumer group commits what it processed: the offsets
// any Kafka tool would show reach the end of the input.
func TestPipelineCommitsAsConsumerGroup(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	ctx := context.Background()
	if err := n.tr.CreateTopic(ctx, transport.TopicSpec{Name: "orders", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, ordersSource+`CREATE SINK copy WITH (connector = 'blackhole') AS SELECT * FROM orders;`)
	produceOrders(t, n.tr, 0, 300)
	ends, err := n.tr.EndOffsets(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	group := e.mu.pipelines["copy"].group
	e.mu.Unlock()
	waitFor(t, "the pipeline's group to commit the end offsets", func() bool {
		committed := n.groups.CommittedOffsets(group)["orders"]
		for p, end := range ends {
			if committed[p] != end {
				return false
			}
		}
		return true
	})
}

func TestStatementErrors(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, ordersSource+`CREATE SINK copy WITH (connector = 'blackhole') AS SELECT id FROM orders;`)
	cases := []struct {
		sql, code, contains string
		statement           int
	}{
		{"SELEC 1", CodeSyntax, "line 1:1", 0},
		{"SHOW SINKS;\nCREATE SOURCE x (a int) WITH (connector = 'topic', topic = 'x';", CodeSyntax, "line 2:", 1},
		{"CREATE SINK s2 WITH (connector = 'blackhole') AS SELECT idd FROM orders", CodeInvalid, "idd", 0},
		{"CREATE SINK s2 WITH (connector = 'blackhole') AS SELECT id FROM nowhere", CodeInvalid, "nowhere", 0},
		{"CREATE SINK s2 WITH (connector = 'nope') AS SELECT id FROM orders", CodeInvalid, "nope", 0},
		{"CREATE SINK s2 WITH (connector = 'file', path = 'x') AS SELECT id, count(*) FROM orders GROUP BY id", CodeInvalid, "updating result", 0},
		{"CREATE SINK s2 WITH (connector = 'file', path = 'x', emit.early = '5s') AS SELECT id, window_start, count(*) FROM TUMBLE(TABLE orders, DESCRIPTOR(_timestamp), INTERVAL '1' MINUTE) GROUP BY id, window_start, window_end", CodeInvalid, "can only append", 0},
		{"CREATE SINK s2 WITH (connector = 'blackhole', emit.early = '5s') AS SELECT id, count(*) FROM orders GROUP BY id", CodeInvalid, "TUMBLE or HOP", 0},
		{"CREATE SINK s2 WITH (connector = 'blackhole', emit.early = '5s') AS SELECT id, window_start, count(*) FROM SESSION(TABLE orders, DESCRIPTOR(_timestamp), INTERVAL '1' MINUTE) GROUP BY id, window_start, window_end", CodeInvalid, "SESSION", 0},
		{"CREATE SINK s2 WITH (connector = 'blackhole', emit.early = 'soon') AS SELECT id, window_start, count(*) FROM TUMBLE(TABLE orders, DESCRIPTOR(_timestamp), INTERVAL '1' MINUTE) GROUP BY id, window_start, window_end", CodeInvalid, "'5s'", 0},
		{"CREATE SINK s2 WITH (connector = 'blackhole', state.memory = 'lots') AS SELECT id, count(*) FROM orders GROUP BY id", CodeInvalid, "'64MiB'", 0},
		{"CREATE SINK s2 WITH (connector = 'blackhole', state.memory = '1MiB') AS SELECT id FROM orders", CodeInvalid, "GROUP BY", 0},
		{"SHOW SINKS;\nCREATE SINK s2 WITH (connector = 'blackhole') AS SELECT DISTINCT id FROM orders", CodeNotSupported, "line 2:50: SELECT DISTINCT is not supported yet", 1},
		{"CREATE SINK s2 WITH (connector = 'blackhole') AS SELECT o.id FROM orders o JOIN orders p ON o.id < p.id", CodeInvalid, "needs an equality between them", 0},
		{"CREATE SINK s2 WITH (connector = 'blackhole') AS SELECT id, amount FROM orders GROUP BY id", CodeInvalid, `column "orders.amount" must appear in the GROUP BY clause`, 0},
		{"CREATE SOURCE arr (tags text[]) WITH (connector = 'topic', topic = 'x')", CodeNotSupported, "array types are not supported yet", 0},
		{"EXPLAIN SELECT DISTINCT id FROM orders", CodeNotSupported, "SELECT DISTINCT", 0},
		{"EXPLAIN SELECT id FROM nowhere", CodeInvalid, `source "nowhere" does not exist`, 0},
		{"CREATE SOURCE x (a int) WITH (connector = 'topic', topic = 'x', bogus = '1')", CodeInvalid, "bogus", 0},
		{"CREATE SINK s2 WITH (connector = 'blackhole', bogus = '1') AS SELECT id FROM orders", CodeInvalid, "bogus", 0},
		{"SHOW TABLES", CodeSyntax, "", 0},
		{ordersSource, CodeExists, "already exists", 0},
		{"DROP SOURCE orders", CodeDependent, "copy", 0},
		{"DROP SINK nothing", CodeNotFound, "does not exist", 0},
		{"DESCRIBE nothing", CodeNotFound, "does not exist", 0},
		{"SELECT 1", CodeNotSupported, "CREATE SINK", 0},
	}
	for _, c := range cases {
		_, err := e.Execute(context.Background(), c.sql, ExecOptions{})
		var ee *Error
		if !errors.As(err, &ee) {
			t.Errorf("%q: error %v, want an *Error", c.sql, err)
			continue
		}
		if ee.Code != c.code || !strings.Contains(ee.Error(), c.contains) || ee.Statement != c.statement {
			t.Errorf("%q: got [%s] statement %d %q, want [%s] statement %d containing %q", c.sql, ee.Code, ee.Statement, ee.Error(), c.code, c.statement, c.contains)
		}
	}
	// IF EXISTS / IF NOT EXISTS and idempotent application are not errors.
	mustExec(t, e, "DROP SINK IF EXISTS nothing; CREATE SOURCE IF NOT EXISTS orders (x int) WITH (connector = 'topic', topic = 'o')")
	if _, err := e.Execute(context.Background(), ordersSource, ExecOptions{Idempotent: true}); err != nil {
		t.Fatalf("idempotent re-apply: %v", err)
	}
	_, err := e.Execute(context.Background(), "CREATE SOURCE orders (id bigint) WITH (connector = 'topic', topic = 'orders')", ExecOptions{Idempotent: true})
	if ee := (*Error)(nil); !errors.As(err, &ee) || ee.Code != CodeExists {
		t.Fatalf("idempotent apply of a different definition: %v, want %s", err, CodeExists)
	}
	mustExec(t, e, "DROP SINK copy; DROP SOURCE orders")
	if res := mustExec(t, e, "SHOW SOURCES"); len(res[0].Rows) != 0 {
		t.Fatalf("after DROP, SHOW SOURCES = %v", res[0].Rows)
	}
}
