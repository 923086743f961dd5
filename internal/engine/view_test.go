package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/view"
)

const totalsView = `CREATE MATERIALIZED VIEW totals AS
	SELECT user_id, count(*) AS n, sum(amount) AS total FROM clicks GROUP BY user_id`

// viewRows reads a view's table as user -> (n, total).
func viewRows(t *testing.T, rows []view.Row) map[string]windowAgg {
	t.Helper()
	out := map[string]windowAgg{}
	for _, r := range rows {
		var row struct {
			N     int64       `json:"n"`
			Total json.Number `json:"total"`
		}
		dec := json.NewDecoder(strings.NewReader(string(r.Value)))
		dec.UseNumber()
		if err := dec.Decode(&row); err != nil {
			t.Fatalf("row %s: %v", r.Value, err)
		}
		sum, _ := row.Total.Int64()
		out[r.Key] = windowAgg{row.N, sum}
	}
	return out
}

// A materialized view holds the GROUP BY's current rows, one per group;
// a subscriber that starts midway ends, applying the snapshot and then
// the changes in order, with the same rows; after a restart (the table
// rebuilt from the view's topic, the pipeline from its checkpoint) the
// view goes on exact; a query filters and projects its rows.
func TestMaterializedView(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	stateDir := t.TempDir()
	configure := func(c *Config) { c.StateDir = stateDir }
	e := openEngineWith(t, n, configure)
	mustExec(t, e, clicksSource)
	mustExec(t, e, totalsView)
	events := genClicks(21, 3000, 3, 40, time.Second)
	third := len(events) / 3
	produceClicks(t, n.tr, "clicks", events[:third])
	v, ok := e.View("totals")
	if !ok {
		t.Fatal("no view totals")
	}
	want := userTotals(events[:third])
	waitFor(t, "the view's first rows", func() bool { return maps.Equal(viewRows(t, v.Table.Rows(nil, 0)), want) })

	// A subscriber from here on.
	snapshot, sub := v.Table.Subscribe(100_000)
	state := map[string][]byte{}
	for _, r := range snapshot {
		state[r.Key] = r.Value
	}
	produceClicks(t, n.tr, "clicks", events[third:2*third])
	want = userTotals(events[:2*third])
	applied := func() map[string]windowAgg {
		var rows []view.Row
		for _, k := range slices.Sorted(maps.Keys(state)) {
			rows = append(rows, view.Row{Key: k, Value: state[k]})
		}
		return viewRows(t, rows)
	}
	deadline := time.After(30 * time.Second)
	lastOffset := int64(-1)
	for !maps.Equal(applied(), want) {
		select {
		case ch := <-sub.Changes():
			if ch.Offset <= lastOffset {
				t.Fatalf("change at offset %d after %d", ch.Offset, lastOffset)
			}
			lastOffset = ch.Offset
			if ch.Value == nil {
				delete(state, ch.Key)
			} else {
				state[ch.Key] = ch.Value
			}
		case <-deadline:
			t.Fatal("the subscriber's snapshot and changes never added up to the view")
		}
	}
	sub.Close()

	// Query: filter and project over the rows.
	res, err := e.Query(context.Background(), "SELECT user_id, n * 2 AS twice FROM totals WHERE n >= 30", 0)
	if err != nil {
		t.Fatal(err)
	}
	wantRows := 0
	for _, a := range want {
		if a.count >= 30 {
			wantRows++
		}
	}
	if fmt.Sprint(res.Columns) != "[user_id twice]" || len(res.Rows) != wantRows || res.Scanned != len(want) {
		t.Fatalf("query: columns %v, %d rows (want %d), scanned %d", res.Columns, len(res.Rows), wantRows, res.Scanned)
	}
	for _, r := range res.Rows {
		var row struct {
			UserID int64 `json:"user_id"`
			Twice  int64 `json:"twice"`
		}
		if err := json.Unmarshal(r, &row); err != nil {
			t.Fatal(err)
		}
		if a := want[fmt.Sprint(row.UserID)]; row.Twice != 2*a.count {
			t.Fatalf("query row %s: want twice = %d", r, 2*a.count)
		}
	}
	if res, err := e.Query(context.Background(), "SELECT * FROM totals", 5); err != nil || len(res.Rows) != 5 {
		t.Fatalf("query with limit 5: %d rows, %v", len(res.Rows), err)
	}

	// Restart: the table comes back from the view's topic.
	closeEngine(t, e)
	e = openEngineWith(t, n, configure)
	defer closeEngine(t, e)
	if v, ok = e.View("totals"); !ok {
		t.Fatal("no view totals after the restart")
	}
	if got := viewRows(t, v.Table.Rows(nil, 0)); !maps.Equal(got, want) {
		t.Fatalf("after the restart the view has %d rows; want the %d it had", len(got), len(want))
	}
	produceClicks(t, n.tr, "clicks", events[2*third:])
	want = userTotals(events)
	waitFor(t, "the view's final rows", func() bool { return maps.Equal(viewRows(t, v.Table.Rows(nil, 0)), want) })
	key := "7"
	if rows := v.Table.Rows(&key, 0); len(rows) != 1 || viewRows(t, rows)["7"] != want["7"] {
		t.Fatalf("point lookup of user 7: %v", rows)
	}
	res2, err := e.Execute(context.Background(), "SHOW VIEWS", ExecOptions{})
	if err != nil || len(res2[0].Rows) != 1 || res2[0].Rows[0][0] != "totals" || res2[0].Rows[0][3] != fmt.Sprint(len(want)) {
		t.Fatalf("SHOW VIEWS: %+v %v", res2, err)
	}
	if res2, _ := e.Execute(context.Background(), "SHOW SINKS", ExecOptions{}); len(res2[0].Rows) != 0 {
		t.Fatalf("SHOW SINKS lists the view: %v", res2[0].Rows)
	}

	// DROP: the view, its pipeline and its topic go.
	topic := viewTopic("totals", e.mu.pipelines["totals"].entry.ID)
	if _, err := e.Execute(context.Background(), "DROP SINK totals", ExecOptions{}); err == nil || !strings.Contains(err.Error(), "DROP MATERIALIZED VIEW") {
		t.Fatalf("DROP SINK of a view: %v", err)
	}
	mustExec(t, e, "DROP MATERIALIZED VIEW totals")
	if _, ok := e.View("totals"); ok {
		t.Fatal("the view is still served after DROP")
	}
	if _, err := n.tr.Topic(context.Background(), topic); err == nil {
		t.Fatalf("the view's topic %s is still there after DROP", topic)
	}
}

func TestViewErrors(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, clicksSource)
	for sql, want := range map[string]string{
		"CREATE MATERIALIZED VIEW v AS SELECT user_id, amount FROM clicks":                                                "a view keeps one row per key",
		"CREATE MATERIALIZED VIEW v WITH (topic = 'x') AS SELECT user_id, count(*) FROM clicks GROUP BY user_id":          "sets option 'topic' itself",
		"CREATE MATERIALIZED VIEW v WITH (connector = 'stdout') AS SELECT user_id, count(*) FROM clicks GROUP BY user_id": "sets option 'connector' itself",
		"CREATE MATERIALIZED VIEW v WITH (\"topic.partitions\" = '3') AS SELECT user_id, count(*) FROM clicks GROUP BY 1": "sets option 'topic.partitions' itself",
	} {
		if _, err := e.Execute(context.Background(), sql, ExecOptions{}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error containing %q", sql, err, want)
		}
	}
	// A view keyed by KEY BY keeps the latest row per key.
	mustExec(t, e, "CREATE MATERIALIZED VIEW last_click AS SELECT user_id, amount FROM clicks KEY BY user_id")
	produceClicks(t, n.tr, "clicks", []clickEvent{{user: 1, amount: 5, ts: time.Now()}, {user: 1, amount: 6, ts: time.Now()}, {user: 2, amount: 1, ts: time.Now()}})
	v, _ := e.View("last_click")
	waitFor(t, "the latest click per user", func() bool {
		rows := v.Table.Rows(nil, 0)
		return len(rows) == 2 && rows[0].Key == "1" && strings.Contains(string(rows[0].Value), `"amount":6`)
	})
	for q, want := range map[string]string{
		"SELECT user_id, count(*) FROM last_click GROUP BY user_id": "GROUP BY and windows are not supported in queries",
		"SELECT * FROM nowhere": "nowhere",
		"DROP SINK x":           "one SELECT over a materialized view",
	} {
		if _, err := e.Query(context.Background(), q, 0); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("query %s: %v, want an error containing %q", q, err, want)
		}
	}
}
