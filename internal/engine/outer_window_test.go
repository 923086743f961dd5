package engine

import (
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// A GROUP BY over a windowed subquery's rows (plan.Outer over windows):
// grouped by the subquery's window_start and window_end it aggregates the
// rows of each window once more (a cascading window aggregation: its
// windows close with the subquery's, each row emitted once); grouped
// otherwise it is an updating aggregation the windows' rows only ever
// add to. Three queries, checked after every batch against a brute-force
// evaluation of the windows the watermark has closed, the last batch
// closing them all:
//
//   - per 10-second window, the busiest user's clicks, the users with more
//     than one click, and their clicks' total (the outer WHERE drops the
//     others);
//   - per HOP window (10 seconds every 5), the clicks of three user
//     buckets added up: every click in the window, once;
//   - per user, the windows they clicked in, their busiest window's count
//     and their clicks in closed windows, updated as windows close.
//
// Each run's windows must come exactly once; with exactly-once the engine
// restarts halfway on an empty state directory.
func TestCascadingWindowsAgainstOracle(t *testing.T) {
	events := genClicks(41, 3000, 3, 30, 1500*time.Millisecond)
	last := events[0].ts
	for _, ev := range events {
		if ev.ts.After(last) {
			last = ev.ts
		}
	}
	events = append(events, flushEvents(3, last.Add(time.Minute))...)
	clicksInBatches(t, []clicksRun{atLeastOnce, noMemory, exactlyOnceRestarted}, events, 500,
		func(t *testing.T, e *Engine, opts string) {
			mustExec(t, e, `CREATE SINK busiest WITH (connector = 'topic', topic = 'busiest'`+opts+`) AS
				SELECT window_start, max(n) AS busiest, count(*) AS users, sum(total) AS total FROM (
				  SELECT user_id, window_start, window_end, count(*) AS n, sum(amount) AS total
				  FROM TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND) GROUP BY user_id, window_start, window_end) AS w
				WHERE w.n > 1 GROUP BY window_start, window_end`)
			mustExec(t, e, `CREATE SINK hopping WITH (connector = 'topic', topic = 'hopping'`+opts+`) AS
				SELECT window_start, sum(n) AS clicks FROM (
				  SELECT user_id % 3 AS bucket, window_start, window_end, count(*) AS n
				  FROM HOP(TABLE clicks, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND) GROUP BY user_id % 3, window_start, window_end)
				GROUP BY window_start, window_end`)
			mustExec(t, e, `CREATE SINK per_user WITH (connector = 'topic', topic = 'per_user'`+opts+`) AS
				SELECT user_id, count(*) AS windows, max(n) AS busiest, sum(n) AS clicks FROM (
				  SELECT user_id, window_start, window_end, count(*) AS n
				  FROM TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND) GROUP BY user_id, window_start, window_end)
				GROUP BY user_id`)
			for _, sink := range []string{"busiest", "hopping", "per_user"} {
				if st := e.mu.pipelines[sink].stateful; st.next == nil || st.next.retract {
					t.Fatalf("%s does not run in two stages, the second only adding rows", sink)
				}
			}
		},
		func(t *testing.T, n *node, e *Engine, upTo int) {
			want := cascadeOracle(events[:upTo])
			waitFor(t, fmt.Sprintf("every closed window's rows after %d events", upTo), func() bool {
				return maps.Equal(windowRowsOnce(t, n, "busiest"), want.busiest) &&
					maps.Equal(windowRowsOnce(t, n, "hopping"), want.hopping) &&
					maps.Equal(currentRows(t, n, "per_user"), want.perUser)
			})
			for _, sink := range []string{"busiest", "hopping", "per_user"} {
				if dead := showRow(t, e, "SINKS", sink)["dead_lettered"]; dead != "0" {
					t.Errorf("%s: %s rows dead-lettered", sink, dead)
				}
			}
		})
}

// windowRowsOnce reads a windowed sink's rows by window_start, failing
// the test when a window comes twice.
func windowRowsOnce(t *testing.T, n *node, topic string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range readSoFar(t, n.tr, topic) {
		var row struct {
			Start string `json:"window_start"`
		}
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatalf("%s: %s: %v", topic, r.Value, err)
		}
		if prev, dup := out[row.Start]; dup {
			t.Fatalf("%s: window %s emitted twice: %s, then %s", topic, row.Start, prev, r.Value)
		}
		out[row.Start] = string(r.Value)
	}
	return out
}

type cascadeRows struct{ busiest, hopping, perUser map[string]string }

// cascadeOracle is the three queries' rows over events: the windows the
// watermark (the least of the partitions' latest event times, less the
// source's 2 seconds) has closed.
func cascadeOracle(events []clickEvent) cascadeRows {
	latest := map[int32]time.Time{}
	for _, ev := range events {
		if ev.ts.After(latest[ev.partition]) {
			latest[ev.partition] = ev.ts
		}
	}
	var wm time.Time
	for _, ts := range latest {
		if wm.IsZero() || ts.Before(wm) {
			wm = ts
		}
	}
	wm = wm.Add(-2 * time.Second)
	const layout = "2006-01-02T15:04:05"

	type agg struct{ n, total int64 }
	tumbling := map[time.Time]map[int]agg{}
	hopping := map[time.Time]int64{}
	for _, ev := range events {
		start := ev.ts.Truncate(10 * time.Second)
		if !start.Add(10 * time.Second).After(wm) {
			if tumbling[start] == nil {
				tumbling[start] = map[int]agg{}
			}
			a := tumbling[start][ev.user]
			tumbling[start][ev.user] = agg{a.n + 1, a.total + ev.amount}
		}
		for start := ev.ts.Truncate(5 * time.Second); start.After(ev.ts.Add(-10 * time.Second)); start = start.Add(-5 * time.Second) {
			if !start.Add(10 * time.Second).After(wm) {
				hopping[start]++
			}
		}
	}
	rows := cascadeRows{busiest: map[string]string{}, hopping: map[string]string{}, perUser: map[string]string{}}
	type user struct{ windows, busiest, clicks int64 }
	users := map[int]user{}
	for start, byUser := range tumbling {
		var busiest, n, total int64
		for id, a := range byUser {
			u := users[id]
			users[id] = user{u.windows + 1, max(u.busiest, a.n), u.clicks + a.n}
			if a.n > 1 {
				busiest, n, total = max(busiest, a.n), n+1, total+a.total
			}
		}
		if n > 0 {
			s := start.Format(layout)
			rows.busiest[s] = fmt.Sprintf(`{"window_start":"%s","busiest":%d,"users":%d,"total":%d}`, s, busiest, n, total)
		}
	}
	for start, n := range hopping {
		s := start.Format(layout)
		rows.hopping[s] = fmt.Sprintf(`{"window_start":"%s","clicks":%d}`, s, n)
	}
	for id, u := range users {
		rows.perUser[strconv.Itoa(id)] = fmt.Sprintf(`{"user_id":%d,"windows":%d,"busiest":%d,"clicks":%d}`, id, u.windows, u.busiest, u.clicks)
	}
	return rows
}

// The aggregation of windows' rows closes a window at the very watermark
// its subquery closed its own at, not a microsecond later: an event at
// 00:00:11.999999 moves the watermark to 00:00:09.999999, which leaves
// [00:00:00, 00:00:10) open in both stages. Were the second stage told
// 00:00:10, it would close the window before the subquery's row for it
// came, and drop that row as late.
func TestCascadingWindowAtTheWatermark(t *testing.T) {
	n, e := clicksEngine(t)
	mustExec(t, e, `CREATE SINK per_window WITH (connector = 'topic', topic = 'per_window') AS
		SELECT window_start, count(*) AS users, sum(n) AS clicks FROM (
		  SELECT user_id, window_start, window_end, count(*) AS n
		  FROM TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND) GROUP BY user_id, window_start, window_end)
		GROUP BY window_start, window_end`)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration, user int) []clickEvent {
		out := make([]clickEvent, 3)
		for p := range out {
			out[p] = clickEvent{partition: int32(p), user: user, amount: 1, ts: base.Add(d)}
		}
		return out
	}
	produceClicks(t, n.tr, "clicks", append(at(5*time.Second, 1), at(6*time.Second, 2)...))
	produceClicks(t, n.tr, "clicks", at(12*time.Second-time.Microsecond, 3))
	waitFor(t, "the watermark at 00:00:09.999999 in both stages", func() bool {
		return e.mu.pipelines["per_window"].stats.aggregated.Load() >= 9
	})
	time.Sleep(300 * time.Millisecond) // a few checkpoints: a premature close would happen now
	produceClicks(t, n.tr, "clicks", at(30*time.Second, 4))
	waitFor(t, "the first window's row", func() bool {
		return maps.Equal(windowRowsOnce(t, n, "per_window"), map[string]string{
			"2026-01-01T00:00:00": `{"window_start":"2026-01-01T00:00:00","users":2,"clicks":6}`,
			"2026-01-01T00:00:10": `{"window_start":"2026-01-01T00:00:10","users":1,"clicks":3}`,
		})
	})
	if late := e.mu.pipelines["per_window"].stats.late.Load(); late != 0 {
		t.Errorf("%d rows late", late)
	}
}

// A pipeline's watermark lag is its last stage's that waits for the
// watermark: an updating GROUP BY over windows' rows reports the
// windows' (its first stage's), as the cascading one reports its own.
func TestWatermarkLagOfAggregationsOverWindows(t *testing.T) {
	n := openNode(t, t.TempDir())
	t.Cleanup(func() { n.close(t) })
	reg := prometheus.NewRegistry()
	e := openEngineWith(t, n, func(cfg *Config) { cfg.StateDir = t.TempDir(); cfg.Metrics = reg })
	t.Cleanup(func() { closeEngine(t, e) })
	mustExec(t, e, clicksSource)
	mustExec(t, e, `CREATE SINK per_user WITH (connector = 'topic', topic = 'per_user') AS
		SELECT user_id, count(*) AS windows, sum(n) AS clicks FROM (
		  SELECT user_id, window_start, window_end, count(*) AS n
		  FROM TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND) GROUP BY user_id, window_start, window_end)
		GROUP BY user_id`)
	mustExec(t, e, `CREATE SINK per_window WITH (connector = 'topic', topic = 'per_window') AS
		SELECT window_start, sum(n) AS clicks FROM (
		  SELECT user_id, window_start, window_end, count(*) AS n
		  FROM TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND) GROUP BY user_id, window_start, window_end)
		GROUP BY window_start, window_end`)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var evs []clickEvent
	for p := range int32(3) {
		evs = append(evs, clickEvent{partition: p, user: 1, amount: 1, ts: base.Add(time.Second)},
			clickEvent{partition: p, user: 1, amount: 1, ts: base.Add(30 * time.Second)})
	}
	produceClicks(t, n.tr, "clicks", evs)
	waitFor(t, "both sinks' rows for [0, 10)", func() bool {
		return currentRows(t, n, "per_user")["1"] == `{"user_id":1,"windows":1,"clicks":3}` && len(readSoFar(t, n.tr, "per_window")) == 1
	})
	time.Sleep(500 * time.Millisecond) // a few more checkpoints
	if m := gather(t, reg, "tide_pipeline_watermark_lag_seconds", "per_window")[""]; m == nil {
		t.Fatal("control: the cascading sink reports no watermark lag")
	}
	if m := gather(t, reg, "tide_pipeline_watermark_lag_seconds", "per_user")[""]; m == nil {
		t.Errorf("per_user (windows in its first stage) reports no watermark lag; stats.watermark = %d", e.mu.pipelines["per_user"].stats.watermark.Load())
	}
}

// A bounded input ends both stages of a cascade: the end-of-input
// watermark reaches the second stage and fires every window.
func TestCascadeOverBoundedInputFiresEveryWindow(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, `CREATE SOURCE gen (k int, v bigint) WITH (connector = 'datagen', "number-of-rows" = '1000', "rows-per-second" = '0',
		partitions = '2', seed = '5', fields.k.min = '0', fields.k.max = '4', fields.v.min = '1', fields.v.max = '10')`)
	mustExec(t, e, `CREATE SINK per_window WITH (connector = 'topic', topic = 'per_window') AS
		SELECT window_start, count(*) AS keys, sum(n) AS n FROM (
		  SELECT k, window_start, window_end, count(*) AS n FROM TUMBLE(TABLE gen, DESCRIPTOR(_timestamp), INTERVAL '1' MINUTE)
		  GROUP BY k, window_start, window_end) GROUP BY window_start, window_end`)
	waitFor(t, "the pipeline to finish", func() bool { return showRow(t, e, "SINKS", "per_window")["state"] == stateFinished })
	total := int64(0)
	for _, r := range readToEnd(t, n.tr, "per_window") {
		var row struct{ N int64 }
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatal(err)
		}
		total += row.N
	}
	if total != 1000 {
		t.Fatalf("finished counting %d events, want 1000", total)
	}
}

// Without GROUP BY the outer query over windows' rows has one row,
// updated as windows close.
func TestGlobalRowOverWindowsRows(t *testing.T) {
	n, e := clicksEngine(t)
	mustExec(t, e, `CREATE SINK totals WITH (connector = 'topic', topic = 'totals') AS
		SELECT count(*) AS windows, sum(n) AS clicks, max(n) AS busiest FROM (
		  SELECT user_id, window_start, window_end, count(*) AS n
		  FROM HOP(TABLE clicks, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND) GROUP BY user_id, window_start, window_end)
		WHERE n > 0`)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var evs []clickEvent
	for p := range int32(3) {
		evs = append(evs, clickEvent{partition: p, user: int(p), amount: 1, ts: base.Add(7 * time.Second)})
	}
	produceClicks(t, n.tr, "clicks", evs)
	produceClicks(t, n.tr, "clicks", flushEvents(3, base.Add(time.Minute)))
	// each click is in [0,10) and [5,15): 6 window rows of 1
	waitFor(t, "the global row", func() bool {
		return currentRows(t, n, "totals")[""] == `{"windows":6,"clicks":6,"busiest":1}`
	})
}

// With two of three source partitions idle, the first stage's watermark
// follows the third alone and the cascade's windows close: the second
// stage hears the first stage's every task, none of which is idle.
func TestCascadeWithIdlePartitions(t *testing.T) {
	n := openNode(t, t.TempDir())
	t.Cleanup(func() { n.close(t) })
	e := openEngineWith(t, n, func(cfg *Config) { cfg.StateDir = t.TempDir() })
	t.Cleanup(func() { closeEngine(t, e) })
	mustExec(t, e, `CREATE SOURCE clicks (user_id int, amount bigint, ts timestamp, WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
		WITH (connector = 'topic', topic = 'clicks', topic.partitions = '3', watermark.idle_timeout = '500ms')`)
	mustExec(t, e, `CREATE SINK per_window WITH (connector = 'topic', topic = 'per_window', delivery.guarantee = 'exactly_once') AS
		SELECT window_start, count(*) AS users, sum(n) AS clicks FROM (
		  SELECT user_id, window_start, window_end, count(*) AS n
		  FROM TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND) GROUP BY user_id, window_start, window_end)
		GROUP BY window_start, window_end`)
	mustExec(t, e, `CREATE SINK plain WITH (connector = 'topic', topic = 'plain', delivery.guarantee = 'exactly_once') AS
		SELECT window_start, count(*) AS clicks FROM TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND) GROUP BY window_start, window_end`)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	produceClicks(t, n.tr, "clicks", []clickEvent{{partition: 1, user: 2, amount: 1, ts: base.Add(2 * time.Second)},
		{partition: 2, user: 3, amount: 1, ts: base.Add(3 * time.Second)}})
	waitFor(t, "the two clicks aggregated", func() bool { return e.mu.pipelines["per_window"].stats.aggregated.Load() >= 2 })
	time.Sleep(time.Second) // partitions 1 and 2 fall idle
	produceClicks(t, n.tr, "clicks", []clickEvent{{user: 1, amount: 1, ts: base.Add(time.Second)}, {user: 1, amount: 1, ts: base.Add(30 * time.Second)}})
	waitFor(t, "control: the plain window", func() bool { return len(readSoFar(t, n.tr, "plain")) == 1 })
	waitFor(t, "the first window", func() bool {
		return windowRowsOnce(t, n, "per_window")["2026-01-01T00:00:00"] == `{"window_start":"2026-01-01T00:00:00","users":3,"clicks":3}`
	})
}

// A subquery over a window table function merges into the query that
// groups its rows by the window: the same windows as written flat.
func TestWindowedSubqueryMerged(t *testing.T) {
	n, e := clicksEngine(t)
	mustExec(t, e, `CREATE SINK per_user WITH (connector = 'topic', topic = 'per_user') AS
		SELECT user_id, ws AS window_start, we AS window_end, count(*) AS n, sum(amount) AS total FROM (
		  SELECT user_id, amount, window_start AS ws, window_end AS we FROM TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND)
		  WHERE user_id >= 0) AS c
		GROUP BY user_id, ws, we`)
	events := genClicks(43, 2000, 3, 20, 1500*time.Millisecond)
	wm := produceClicksFlushed(t, n, events)
	want := tumbleOracle(events, 10*time.Second, wm)
	compareWindows(t, decodeWindowRows(t, readAll(t, n.tr, "per_user", len(want))), want)
}

// produceClicksFlushed writes events, then a flush event per partition a
// minute after the last: the watermark it returns (the clicks source's,
// 2 seconds behind) closes every window of the events.
func produceClicksFlushed(t *testing.T, n *node, events []clickEvent) (wm time.Time) {
	t.Helper()
	produceClicks(t, n.tr, "clicks", events)
	last := events[0].ts
	for _, ev := range events {
		if ev.ts.After(last) {
			last = ev.ts
		}
	}
	flush := last.Add(time.Minute)
	produceClicks(t, n.tr, "clicks", flushEvents(3, flush))
	return flush.Add(-2 * time.Second)
}

// A window table function over a query (TUMBLE(TABLE (SELECT ...))) runs
// as the windows of the query's source, its WHERE and select list
// applied: the same windows as the oracle's over the events it keeps.
func TestWindowOverQuery(t *testing.T) {
	n, e := clicksEngine(t)
	mustExec(t, e, `CREATE SINK per_user WITH (connector = 'topic', topic = 'per_user') AS
		SELECT user_id, window_start, window_end, count(*) AS n, sum(paid) AS total
		FROM TUMBLE(TABLE (SELECT user_id, amount AS paid, ts AS at FROM clicks c WHERE c.amount > 30), DESCRIPTOR(at), INTERVAL '10' SECOND)
		GROUP BY user_id, window_start, window_end`)
	events := genClicks(47, 2000, 3, 20, 1500*time.Millisecond)
	wm := produceClicksFlushed(t, n, events)
	var kept []clickEvent
	for _, ev := range events {
		if ev.amount > 30 {
			kept = append(kept, ev)
		}
	}
	want := tumbleOracle(kept, 10*time.Second, wm)
	compareWindows(t, decodeWindowRows(t, readAll(t, n.tr, "per_user", len(want))), want)
}
