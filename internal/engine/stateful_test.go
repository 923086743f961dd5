package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tide-data/tide/internal/transport"
)

// clickEvent is one generated input of the aggregation tests.
type clickEvent struct {
	partition int32
	user      int
	amount    int64
	ts        time.Time
}

// genClicks makes n events over parts partitions, seeded: per partition
// the event time advances by about 100 ms per event with up to jitter of
// disorder (never more than the watermark's lateness, so no event is
// late and the oracle needs no watermark).
func genClicks(seed uint64, n, parts, users int, jitter time.Duration) []clickEvent {
	r := rand.New(rand.NewPCG(seed, 1))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := make([]time.Time, parts)
	for i := range clock {
		clock[i] = base
	}
	out := make([]clickEvent, n)
	for i := range out {
		p := int32(r.IntN(parts))
		clock[p] = clock[p].Add(time.Duration(50+r.IntN(100)) * time.Millisecond)
		ts := clock[p].Add(-time.Duration(r.Int64N(int64(jitter) + 1)))
		out[i] = clickEvent{partition: p, user: r.IntN(users), amount: 1 + r.Int64N(100), ts: ts}
	}
	return out
}

func produceClicks(t *testing.T, tr transport.Transport, topic string, events []clickEvent) {
	t.Helper()
	recs := make([]*transport.Record, len(events))
	for i, ev := range events {
		recs[i] = &transport.Record{Topic: topic, Partition: ev.partition, Key: fmt.Appendf(nil, "u%d", ev.user),
			Value: fmt.Appendf(nil, `{"user_id":%d,"amount":%d,"ts":"%s"}`, ev.user, ev.amount, ev.ts.Format("2006-01-02 15:04:05.999999"))}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(recs) > 0 {
		n := min(500, len(recs))
		if err := tr.Produce(ctx, recs[:n]); err != nil {
			t.Fatal(err)
		}
		recs = recs[n:]
	}
}

type windowKey struct {
	user  int
	start time.Time
}

type windowAgg struct {
	count, sum int64
}

// tumbleOracle counts and sums by user and tumbling window the events
// whose windows end at or before wm.
func tumbleOracle(events []clickEvent, size time.Duration, wm time.Time) map[windowKey]windowAgg {
	out := map[windowKey]windowAgg{}
	for _, ev := range events {
		start := ev.ts.Truncate(size)
		if start.Add(size).After(wm) {
			continue
		}
		k := windowKey{ev.user, start}
		a := out[k]
		a.count++
		a.sum += ev.amount
		out[k] = a
	}
	return out
}

// flushEvents are one event per partition far past the others, to move
// every partition's watermark past the last window; their user is -1.
func flushEvents(parts int, at time.Time) []clickEvent {
	out := make([]clickEvent, parts)
	for p := range out {
		out[p] = clickEvent{partition: int32(p), user: -1, amount: 0, ts: at}
	}
	return out
}

type windowRow struct {
	UserID      int         `json:"user_id"`
	WindowStart string      `json:"window_start"`
	WindowEnd   string      `json:"window_end"`
	N           int64       `json:"n"`
	Total       json.Number `json:"total"`
}

func decodeWindowRows(t *testing.T, recs []*transport.Record) map[windowKey]windowAgg {
	t.Helper()
	got := map[windowKey]windowAgg{}
	at := map[windowKey]int64{}
	for _, r := range recs {
		k, agg := decodeWindowRow(t, r)
		if _, dup := got[k]; dup {
			t.Errorf("window %v emitted twice (at %d and %d: %s)", k, at[k], r.Offset, r.Value)
		}
		at[k] = r.Offset
		got[k] = agg
	}
	return got
}

func decodeWindowRow(t *testing.T, r *transport.Record) (windowKey, windowAgg) {
	t.Helper()
	var row windowRow
	dec := json.NewDecoder(strings.NewReader(string(r.Value)))
	dec.UseNumber()
	if err := dec.Decode(&row); err != nil {
		t.Fatalf("output %s: %v", r.Value, err)
	}
	start, err := time.Parse("2006-01-02T15:04:05", row.WindowStart)
	if err != nil {
		t.Fatalf("window_start %q: %v", row.WindowStart, err)
	}
	sum, _ := row.Total.Int64()
	return windowKey{row.UserID, start}, windowAgg{row.N, sum}
}

func compareWindows(t *testing.T, got, want map[windowKey]windowAgg) {
	t.Helper()
	bad := 0
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			if bad++; bad <= 5 {
				t.Errorf("window user %d at %s: got %+v (present %v), want %+v", k.user, k.start.Format(time.TimeOnly), g, ok, w)
			}
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			if bad++; bad <= 10 {
				t.Errorf("unexpected window user %d at %s: %+v", k.user, k.start.Format(time.TimeOnly), g)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d windows differ (of %d expected)", bad, len(want))
	}
}

const clicksSource = `CREATE SOURCE clicks (user_id int, amount bigint, ts timestamp, WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
	WITH (connector = 'topic', topic = 'clicks', topic.partitions = '3')`

// TestTumblingWindowAgainstOracle runs a windowed count and sum by key
// over three input partitions (so through the repartition topic) and
// checks every window against a brute-force count.
// With state.memory = '0' every window goes to the task's store at each
// checkpoint and is read back from there.
func TestTumblingWindowAgainstOracle(t *testing.T) {
	for _, c := range []struct{ guarantee, memory string }{
		{guaranteeAtLeastOnce, "64MiB"}, {guaranteeExactlyOnce, "64MiB"}, {guaranteeExactlyOnce, "0"},
	} {
		t.Run(c.guarantee+"/state.memory="+c.memory, func(t *testing.T) {
			n := openNode(t, t.TempDir())
			defer n.close(t)
			e := openEngine(t, n)
			defer closeEngine(t, e)
			mustExec(t, e, clicksSource)
			mustExec(t, e, `CREATE SINK per_user WITH (connector = 'topic', topic = 'per_user', delivery.guarantee = '`+c.guarantee+`',
				state.memory = '`+c.memory+`') AS
				SELECT user_id, window_start, window_end, count(*) AS n, sum(amount) AS total
				FROM TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND)
				WHERE user_id >= 0
				GROUP BY user_id, window_start, window_end`)
			events := genClicks(7, 3000, 3, 20, 1500*time.Millisecond)
			want := tumbleOracle(events, 10*time.Second, produceClicksFlushed(t, n, events))
			got := decodeWindowRows(t, readAll(t, n.tr, "per_user", len(want)))
			compareWindows(t, got, want)
		})
	}
}

// TestUpdatingGroupBy checks a GROUP BY without a window: the last row
// of each key is the group's total, with its state in memory and on
// disk.
func TestUpdatingGroupBy(t *testing.T) {
	for _, memory := range []string{"64MiB", "0"} {
		t.Run("state.memory="+memory, func(t *testing.T) { testUpdatingGroupBy(t, memory) })
	}
}

func testUpdatingGroupBy(t *testing.T, memory string) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	reg := prometheus.NewRegistry()
	e := openEngineWith(t, n, func(c *Config) { c.Metrics = reg })
	defer closeEngine(t, e)
	mustExec(t, e, clicksSource)
	mustExec(t, e, `CREATE SINK totals WITH (connector = 'topic', topic = 'totals', state.memory = '`+memory+`') AS
		SELECT user_id, count(*) AS n, sum(amount) AS total FROM clicks GROUP BY user_id HAVING count(*) > 1`)
	events := genClicks(11, 2000, 3, 30, time.Second)
	produceClicks(t, n.tr, "clicks", events)
	want := userTotals(events)
	waitFor(t, "every group's final row", func() bool {
		last := latestPerKey(t, n.tr, "totals")
		for k, w := range want {
			g, ok := last[k]
			if !ok || g != w {
				return false
			}
		}
		return len(last) == len(want)
	})
	// Every group lives in its task's store; with no memory, only there.
	waitFor(t, "the state metrics", func() bool {
		mem := gather(t, reg, "tide_pipeline_state_memory_bytes", "totals")[""].GetGauge().GetValue()
		evicted := gather(t, reg, "tide_pipeline_state_evicted_entries", "totals")[""].GetGauge().GetValue()
		if memory == "0" {
			return mem == 0 && int(evicted) == len(want)
		}
		return mem > 0 && evicted == 0
	})
}

// latestPerKey reads a topic to its end and returns each key's last row
// as (n, total).
func latestPerKey(t *testing.T, tr transport.Transport, topic string) map[string]windowAgg {
	t.Helper()
	out := map[string]windowAgg{}
	for _, r := range readSoFar(t, tr, topic) {
		if r.Value == nil {
			delete(out, string(r.Key))
			continue
		}
		var row windowRow
		dec := json.NewDecoder(strings.NewReader(string(r.Value)))
		dec.UseNumber()
		if err := dec.Decode(&row); err != nil {
			t.Fatalf("output %s: %v", r.Value, err)
		}
		sum, _ := row.Total.Int64()
		out[string(r.Key)] = windowAgg{row.N, sum}
	}
	return out
}

// TestWindowStateSurvivesRestart stops the engine halfway through the
// input and starts it again, once on the same state directory (the
// store holds the state) and once on an empty one (the state comes back
// from the changelog topic, as on another worker); every window is still
// exact and emitted once.
//
// With a small state.memory, most of the state stays on disk at restart.
func TestWindowStateSurvivesRestart(t *testing.T) {
	for _, c := range []struct {
		wipe   bool
		memory string
	}{{false, "64MiB"}, {true, "64MiB"}, {false, "4KiB"}} {
		wipe := c.wipe
		t.Run(fmt.Sprintf("wipe=%v/state.memory=%s", wipe, c.memory), func(t *testing.T) {
			n := openNode(t, t.TempDir())
			defer n.close(t)
			stateDir := t.TempDir()
			withState := func(dir string) func(*Config) { return func(c *Config) { c.StateDir = dir } }
			e := openEngineWith(t, n, withState(stateDir))
			mustExec(t, e, clicksSource)
			mustExec(t, e, `CREATE SINK per_user WITH (connector = 'topic', topic = 'per_user', state.memory = '`+c.memory+`') AS
				SELECT user_id, window_start, window_end, count(*) AS n, sum(amount) AS total
				FROM TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND)
				GROUP BY user_id, window_start, window_end`)
			events := genClicks(3, 4000, 3, 20, 1500*time.Millisecond)
			half := len(events) / 2
			produceClicks(t, n.tr, "clicks", events[:half])
			waitFor(t, "some windows", func() bool {
				ends, _ := n.tr.EndOffsets(context.Background(), "per_user")
				total := int64(0)
				for _, o := range ends {
					total += o
				}
				return total > 20
			})
			closeEngine(t, e)
			if wipe {
				stateDir = t.TempDir()
			}
			e = openEngineWith(t, n, withState(stateDir))
			defer closeEngine(t, e)
			produceClicks(t, n.tr, "clicks", events[half:])
			last := events[0].ts
			for _, ev := range events {
				if ev.ts.After(last) {
					last = ev.ts
				}
			}
			flush := last.Add(time.Minute)
			produceClicks(t, n.tr, "clicks", flushEvents(3, flush))
			want := tumbleOracle(events, 10*time.Second, flush.Add(-2*time.Second))
			// The flush events' user (-1) has windows of its own.
			for k := range want {
				if k.user < 0 {
					delete(want, k)
				}
			}
			got := decodeWindowRows(t, readAll(t, n.tr, "per_user", len(want)))
			compareWindows(t, got, want)
		})
	}
}

// TestBoundedInputFiresEveryWindow runs a window over a bounded datagen
// source: when the input ends every window closes, and the pipeline is
// finished only once their rows are written.
func TestBoundedInputFiresEveryWindow(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, `CREATE SOURCE gen (k int, v bigint) WITH (connector = 'datagen', "number-of-rows" = '1000', "rows-per-second" = '0',
		partitions = '2', seed = '5', fields.k.min = '0', fields.k.max = '4', fields.v.min = '1', fields.v.max = '10')`)
	mustExec(t, e, `CREATE SINK per_k WITH (connector = 'topic', topic = 'per_k') AS
		SELECT k, count(*) AS n, sum(v) AS total FROM TUMBLE(TABLE gen, DESCRIPTOR(_timestamp), INTERVAL '1' MINUTE)
		GROUP BY k, window_start, window_end`)
	waitFor(t, "the pipeline to finish", func() bool { return showRow(t, e, "SINKS", "per_k")["state"] == stateFinished })
	ends, err := n.tr.EndOffsets(context.Background(), "per_k")
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, end := range ends {
		rows += int(end)
	}
	recs := readAll(t, n.tr, "per_k", rows)
	total := int64(0)
	for _, r := range recs {
		var row struct{ N int64 }
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatal(err)
		}
		total += row.N
	}
	if rows != 5 || total != 1000 {
		t.Fatalf("finished with %d rows counting %d events; want 5 rows (k = 0..4) counting 1000", rows, total)
	}
}

// TestRepartitionPurged checks that the aggregate stage deletes the
// repartition records its committed offsets have passed, and that a
// restart after a purge still resumes exactly (it starts from the
// committed offsets, never below the new log start).
func TestRepartitionPurged(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	stateDir := t.TempDir()
	configure := func(c *Config) { c.StateDir, c.RepartitionPurgeInterval = stateDir, 50*time.Millisecond }
	e := openEngineWith(t, n, configure)
	mustExec(t, e, clicksSource)
	mustExec(t, e, `CREATE SINK totals WITH (connector = 'topic', topic = 'totals', delivery.guarantee = 'exactly_once') AS
		SELECT user_id, count(*) AS n, sum(amount) AS total FROM clicks GROUP BY user_id`)
	events := genClicks(5, 3000, 3, 30, time.Second)
	half := len(events) / 2
	produceClicks(t, n.tr, "clicks", events[:half])
	repartition := e.mu.pipelines["totals"].stateful.repartition
	purged := func() bool {
		starts, err := n.tr.StartOffsets(context.Background(), repartition)
		if err != nil {
			return false
		}
		ends, _ := n.tr.EndOffsets(context.Background(), repartition)
		var start, end int64
		for p := range ends {
			start, end = start+starts[p], end+ends[p]
		}
		return start > 0 && end-start < end/2
	}
	waitFor(t, "the repartition topic purged", purged)
	closeEngine(t, e)
	e = openEngineWith(t, n, configure)
	defer closeEngine(t, e)
	produceClicks(t, n.tr, "clicks", events[half:])
	want := userTotals(events)
	waitFor(t, "every group's final row", func() bool {
		last := latestPerKey(t, n.tr, "totals")
		return maps.Equal(last, want)
	})
	waitFor(t, "the repartition topic purged again", purged)
}
