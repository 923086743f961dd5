package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// produceRows writes JSON values to partition 0 of topic, keyed by their
// index when keyed.
func produceRows(t *testing.T, tr transport.Transport, topic string, keyed bool, values ...string) {
	t.Helper()
	if err := tr.CreateTopic(context.Background(), transport.TopicSpec{Name: topic, Partitions: 1}); err != nil && !errors.Is(err, transport.ErrTopicExists) {
		t.Fatal(err)
	}
	var recs []*transport.Record
	for i, v := range values {
		r := &transport.Record{Topic: topic, Partition: 0, Value: []byte(v)}
		if keyed {
			r.Key = fmt.Appendf(nil, "%s-%d", topic, i)
		}
		recs = append(recs, r)
	}
	if err := tr.Produce(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
}

// waitJoined waits for topic's rows (readJoined) to be want, and says
// what they are if they do not become it.
func waitJoined(t *testing.T, tr transport.Transport, topic string, want map[string]string) {
	t.Helper()
	var got map[string]string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got = readJoined(t, tr, topic); maps.Equal(got, want) {
			return
		}
	}
	t.Fatalf("%s: %v, want %v", topic, got, want)
}

// A join key over a metadata column (ON o._partition = c.id) reads the
// metadata of the event: the task fills in the metadata columns the
// join's key reads, as it does for WHERE and the select list — in the
// stateless and the stateful pipeline alike.
func TestJoinKeyOnMetadata(t *testing.T) {
	n, e := joinNode(t)
	rows := map[int]string{}
	for id := range 3 {
		rows[id] = fmt.Sprintf(`{"id":%d,"name":"c%d","tier":"t%d"}`, id, id, id%2)
	}
	produceCustomers(t, n.tr, rows)
	mustExec(t, e, `CREATE SINK by_partition WITH (connector = 'topic', topic = 'by_partition') AS
		SELECT o.id, c.name FROM orders o JOIN customers c ON o._partition = c.id`)
	mustExec(t, e, `CREATE SINK per_name WITH (connector = 'topic', topic = 'per_name') AS
		SELECT c.name, count(*) AS n FROM orders o JOIN customers c ON o._partition = c.id GROUP BY c.name`)
	produceJoinOrders(t, n.tr, 0, 30, func(int) int { return 99 })
	want := map[string]string{}
	for i := range 30 {
		want[fmt.Sprint(i)] = fmt.Sprintf(`{"id":%d,"name":"c%d"}`, i, i%3) // order i is in partition i % 3
	}
	waitJoined(t, n.tr, "by_partition", want)
	waitFor(t, "counts per name", func() bool {
		got := latestRows(t, n.tr, "per_name")
		return maps.Equal(got, map[string]string{"c0": `{"name":"c0","n":10}`, "c1": `{"name":"c1","n":10}`, "c2": `{"name":"c2","n":10}`})
	})
}

// The event's key is compared with the primary key as Postgres' =
// compares them, in their common type: 1.5 is no key of an integer
// table (not 2, as a cast to the key's type rounds it), and a bigint
// beyond an integer key's range finds no row rather than failing.
func TestJoinKeyComparedExactly(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, `CREATE SOURCE pay (id bigint, who numeric, big bigint, f float8) WITH (connector = 'topic', topic = 'pay')`)
	mustExec(t, e, `CREATE SOURCE people (id int, name text) WITH (connector = 'topic', topic = 'people', 'primary-key' = 'id')`)
	produceRows(t, n.tr, "people", true, `{"id":1,"name":"one"}`, `{"id":2,"name":"two"}`)
	mustExec(t, e, `CREATE SINK by_numeric WITH (connector = 'topic', topic = 'by_numeric') AS
		SELECT p.id, x.name FROM pay p LEFT JOIN people x ON p.who = x.id`)
	mustExec(t, e, `CREATE SINK by_big WITH (connector = 'topic', topic = 'by_big') AS
		SELECT p.id, x.name FROM pay p LEFT JOIN people x ON p.big = x.id`)
	mustExec(t, e, `CREATE SINK by_float WITH (connector = 'topic', topic = 'by_float') AS
		SELECT p.id, x.name FROM pay p LEFT JOIN people x ON x.id = p.f`)
	produceRows(t, n.tr, "pay", false,
		`{"id":1,"who":1.5,"big":3000000000,"f":1.5}`,
		`{"id":2,"who":2.0,"big":2,"f":2}`,
		`{"id":3,"who":1,"big":1,"f":0.99999}`)
	for _, sink := range []string{"by_numeric", "by_big", "by_float"} {
		want := map[string]string{"1": `{"id":1,"name":null}`, "2": `{"id":2,"name":"two"}`, "3": `{"id":3,"name":"one"}`}
		if sink == "by_float" {
			want["3"] = `{"id":3,"name":null}`
		}
		waitJoined(t, n.tr, sink, want)
	}
}

// A table's column with a type modifier is coerced as the source's own
// columns are (numeric(10, 2) rounds to two places), including its
// primary key; a row that breaks NOT NULL is skipped, as a row that does
// not decode is.
func TestJoinTableColumnsCoerced(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, `CREATE SOURCE buys (id bigint, item numeric) WITH (connector = 'topic', topic = 'buys')`)
	mustExec(t, e, `CREATE SOURCE items (code numeric(4, 1), price numeric(10, 2), name text NOT NULL)
		WITH (connector = 'topic', topic = 'items', 'primary-key' = 'code')`)
	produceRows(t, n.tr, "items", true,
		`{"code":1.04,"price":1.005,"name":"a"}`,
		`{"code":2,"price":2,"name":null}`)
	mustExec(t, e, `CREATE SINK priced WITH (connector = 'topic', topic = 'priced') AS
		SELECT b.id, i.price, i.name FROM buys b LEFT JOIN items i ON b.item = i.code`)
	produceRows(t, n.tr, "buys", false, `{"id":1,"item":1}`, `{"id":2,"item":2}`)
	want := map[string]string{"1": `{"id":1,"price":1.01,"name":"a"}`, "2": `{"id":2,"price":null,"name":null}`}
	waitJoined(t, n.tr, "priced", want)
}
