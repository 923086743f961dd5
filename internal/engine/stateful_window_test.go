package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/big"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tide-data/tide/internal/transport"
)

// The tests of this file check the stateful runtime's window functions,
// aggregates and sinks against brute-force oracles over seeded events
// (genClicks: three partitions, out of order by less than the source's
// watermark lateness, so no event is late unless a test makes it so).

// lastTime is the latest event time of events.
func lastTime(events []clickEvent) time.Time {
	last := events[0].ts
	for _, ev := range events {
		if ev.ts.After(last) {
			last = ev.ts
		}
	}
	return last
}

// runWindowed creates clicksSource and sink, produces events and then one
// flush event per partition a minute after the last, and returns the
// sink's rows once it holds want of them, with the watermark the flush
// moved every partition to.
func runWindowed(t *testing.T, sink string, events []clickEvent, want func(wm time.Time) int) ([]*transport.Record, *Engine, *node) {
	t.Helper()
	n := openNode(t, t.TempDir())
	t.Cleanup(func() { n.close(t) })
	e := openEngine(t, n)
	t.Cleanup(func() { closeEngine(t, e) })
	mustExec(t, e, clicksSource)
	mustExec(t, e, sink)
	produceClicks(t, n.tr, "clicks", events)
	flush := lastTime(events).Add(time.Minute)
	produceClicks(t, n.tr, "clicks", flushEvents(3, flush))
	return readAll(t, n.tr, "out", want(flush.Add(-2*time.Second))), e, n
}

// hopOracle counts and sums by user and HOP window (slide, size) the
// events whose windows end at or before wm.
func hopOracle(events []clickEvent, slide, size time.Duration, wm time.Time) map[windowKey]windowAgg {
	out := map[windowKey]windowAgg{}
	for _, ev := range events {
		for start := ev.ts.Truncate(slide); start.After(ev.ts.Add(-size)); start = start.Add(-slide) {
			if start.Add(size).After(wm) {
				continue
			}
			k := windowKey{ev.user, start}
			a := out[k]
			a.count++
			a.sum += ev.amount
			out[k] = a
		}
	}
	return out
}

func TestHopWindowAgainstOracle(t *testing.T) {
	events := genClicks(31, 2000, 3, 15, 1500*time.Millisecond)
	var want map[windowKey]windowAgg
	// A small state.memory: windows move between memory and disk.
	recs, _, _ := runWindowed(t, `CREATE SINK hops WITH (connector = 'topic', topic = 'out', state.memory = '2KiB') AS
		SELECT user_id, window_start, window_end, count(*) AS n, sum(amount) AS total
		FROM HOP(TABLE clicks, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '15' SECOND)
		WHERE user_id >= 0
		GROUP BY user_id, window_start, window_end`, events, func(wm time.Time) int {
		want = hopOracle(events, 5*time.Second, 15*time.Second, wm)
		return len(want)
	})
	got := decodeWindowRows(t, recs)
	compareWindows(t, got, want)
	for _, r := range recs { // the default key: the group keys and the window's bounds
		var key []any
		if err := json.Unmarshal(r.Key, &key); err != nil || len(key) != 3 {
			t.Fatalf("key %s: want a JSON array of user_id, window_start, window_end (%v)", r.Key, err)
		}
	}
}

// session is one oracle session: its bounds, count and sum.
type session struct {
	end        time.Time
	count, sum int64
}

// sessionOracle merges each user's events into sessions (an event at ts
// covers [ts, ts+gap); sessions that overlap or touch merge) and keeps
// those that end at or before wm, by user and start.
func sessionOracle(events []clickEvent, gap time.Duration, wm time.Time) map[windowKey]session {
	byUser := map[int][]clickEvent{}
	for _, ev := range events {
		ev.ts = ev.ts.Truncate(time.Microsecond) // as produceClicks writes it
		byUser[ev.user] = append(byUser[ev.user], ev)
	}
	out := map[windowKey]session{}
	for user, evs := range byUser {
		slices.SortStableFunc(evs, func(a, b clickEvent) int { return a.ts.Compare(b.ts) })
		var start time.Time
		var cur session
		flush := func() {
			if cur.count > 0 && !cur.end.After(wm) {
				out[windowKey{user, start}] = cur
			}
		}
		for _, ev := range evs {
			if cur.count > 0 && !ev.ts.After(cur.end) {
				cur.end = maxTime(cur.end, ev.ts.Add(gap))
				cur.count++
				cur.sum += ev.amount
				continue
			}
			flush()
			start, cur = ev.ts, session{end: ev.ts.Add(gap), count: 1, sum: ev.amount}
		}
		flush()
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// parseRowTime reads a timestamp as the JSON format writes it.
func parseRowTime(t *testing.T, s string) time.Time {
	t.Helper()
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", time.RFC3339Nano} {
		if ts, err := time.Parse(layout, s); err == nil {
			return ts
		}
	}
	t.Fatalf("timestamp %q", s)
	return time.Time{}
}

func TestSessionWindowAgainstOracle(t *testing.T) {
	// 60 users over about 100 s: a user's events are about 2 s apart,
	// so a 2 s gap makes sessions of one event and sessions of many.
	events := genClicks(32, 3000, 3, 60, 1500*time.Millisecond)
	const gap = 2 * time.Second
	var want map[windowKey]session
	// No memory: every key's sessions leave at each checkpoint and come
	// back through their index entry.
	recs, _, _ := runWindowed(t, `CREATE SINK sessions WITH (connector = 'topic', topic = 'out', delivery.guarantee = 'exactly_once', state.memory = '0') AS
		SELECT user_id, window_start, window_end, count(*) AS n, sum(amount) AS total
		FROM SESSION(TABLE clicks, DESCRIPTOR(ts), INTERVAL '2' SECOND)
		WHERE user_id >= 0
		GROUP BY user_id, window_start, window_end`, events, func(wm time.Time) int {
		want = sessionOracle(events, gap, wm)
		return len(want)
	})
	got := map[windowKey]session{}
	for _, r := range recs {
		var row windowRow
		dec := json.NewDecoder(strings.NewReader(string(r.Value)))
		dec.UseNumber()
		if err := dec.Decode(&row); err != nil {
			t.Fatal(err)
		}
		k := windowKey{row.UserID, parseRowTime(t, row.WindowStart)}
		if _, dup := got[k]; dup {
			t.Errorf("session %v emitted twice", k)
		}
		sum, _ := row.Total.Int64()
		got[k] = session{end: parseRowTime(t, row.WindowEnd), count: row.N, sum: sum}
	}
	bad := 0
	for k, w := range want {
		if g, ok := got[k]; !ok || !g.end.Equal(w.end) || g.count != w.count || g.sum != w.sum {
			if bad++; bad <= 5 {
				t.Errorf("session of user %d from %s: got %+v (present %v), want %+v", k.user, k.start.Format(time.TimeOnly), g, ok, w)
			}
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d sessions, want %d", len(got), len(want))
	}
	if bad > 0 {
		t.Fatalf("%d sessions differ (of %d)", bad, len(want))
	}
}

// statsRow is a row of TestWindowAggregatesAgainstOracle.
type statsRow struct {
	UserID      int         `json:"user_id"`
	WindowStart string      `json:"window_start"`
	Lo          int64       `json:"lo"`
	Hi          int64       `json:"hi"`
	Mean        json.Number `json:"mean"`
	Kinds       int64       `json:"kinds"`
	SumDistinct json.Number `json:"sum_distinct"`
}

// TestWindowAggregatesAgainstOracle checks min, max, avg, count(DISTINCT)
// and sum(DISTINCT) per window, HAVING on the window's aggregates, and a
// KEY BY, against a brute-force computation.
func TestWindowAggregatesAgainstOracle(t *testing.T) {
	events := genClicks(33, 2000, 3, 10, 1500*time.Millisecond)
	type acc struct {
		lo, hi, n, sum int64
		kinds          map[int64]bool
		distinct       map[int64]bool
	}
	var want map[windowKey]*acc
	recs, _, _ := runWindowed(t, `CREATE SINK stats WITH (connector = 'topic', topic = 'out') AS
		SELECT user_id, window_start, min(amount) AS lo, max(amount) AS hi, avg(amount) AS mean,
			count(DISTINCT amount % 7) AS kinds, sum(DISTINCT amount) AS sum_distinct
		FROM TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND)
		WHERE user_id >= 0
		GROUP BY user_id, window_start, window_end
		HAVING count(*) >= 3 AND max(amount) - min(amount) > 20
		KEY BY 'user-' || user_id`, events, func(wm time.Time) int {
		all := map[windowKey]*acc{}
		for _, ev := range events {
			start := ev.ts.Truncate(10 * time.Second)
			if start.Add(10 * time.Second).After(wm) {
				continue
			}
			k := windowKey{ev.user, start}
			a := all[k]
			if a == nil {
				a = &acc{lo: math.MaxInt64, hi: math.MinInt64, kinds: map[int64]bool{}, distinct: map[int64]bool{}}
				all[k] = a
			}
			a.lo, a.hi = min(a.lo, ev.amount), max(a.hi, ev.amount)
			a.n++
			a.sum += ev.amount
			a.kinds[ev.amount%7] = true
			a.distinct[ev.amount] = true
		}
		want = map[windowKey]*acc{}
		for k, a := range all {
			if a.n >= 3 && a.hi-a.lo > 20 {
				want[k] = a
			}
		}
		return len(want)
	})
	if len(recs) != len(want) {
		t.Fatalf("%d rows, want %d", len(recs), len(want))
	}
	for _, r := range recs {
		var row statsRow
		dec := json.NewDecoder(strings.NewReader(string(r.Value)))
		dec.UseNumber()
		if err := dec.Decode(&row); err != nil {
			t.Fatal(err)
		}
		k := windowKey{row.UserID, parseRowTime(t, row.WindowStart)}
		w := want[k]
		if w == nil {
			t.Fatalf("unexpected row %s (HAVING should have dropped it, or no such window)", r.Value)
		}
		delete(want, k)
		if string(r.Key) != fmt.Sprintf("user-%d", row.UserID) {
			t.Errorf("key %q, want user-%d (KEY BY)", r.Key, row.UserID)
		}
		sumDistinct := int64(0)
		for v := range w.distinct {
			sumDistinct += v
		}
		mean, ok := new(big.Rat).SetString(row.Mean.String())
		exact := big.NewRat(w.sum, w.n)
		diff, _ := new(big.Rat).Sub(mean, exact).Float64()
		if row.Lo != w.lo || row.Hi != w.hi || row.Kinds != int64(len(w.kinds)) || row.SumDistinct.String() != fmt.Sprint(sumDistinct) ||
			!ok || math.Abs(diff) > 1e-12 {
			t.Errorf("%s: want lo %d hi %d mean %s kinds %d sum_distinct %d", r.Value, w.lo, w.hi, exact.FloatString(6), len(w.kinds), sumDistinct)
		}
	}
}

// TestGlobalAggregates checks aggregations without group keys: an
// updating one over the whole stream, and one per window.
func TestGlobalAggregates(t *testing.T) {
	events := genClicks(34, 1500, 3, 10, 1500*time.Millisecond)
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, clicksSource)
	mustExec(t, e, `CREATE SINK everything WITH (connector = 'topic', topic = 'everything') AS
		SELECT count(*) AS n, sum(amount) AS total, min(amount) AS lo, max(amount) AS hi FROM clicks`)
	mustExec(t, e, `CREATE SINK per_window WITH (connector = 'topic', topic = 'per_window', delivery.guarantee = 'exactly_once') AS
		SELECT window_start, count(*) AS n, sum(amount) AS total
		FROM TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND)
		WHERE user_id >= 0 GROUP BY window_start, window_end`)
	produceClicks(t, n.tr, "clicks", events)
	flush := lastTime(events).Add(time.Minute)
	produceClicks(t, n.tr, "clicks", flushEvents(3, flush))

	var want windowAgg
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for _, ev := range append(slices.Clone(events), flushEvents(3, flush)...) {
		want.count++
		want.sum += ev.amount
		lo, hi = min(lo, ev.amount), max(hi, ev.amount)
	}
	waitFor(t, "the whole stream's row", func() bool {
		last := latestPerKey(t, n.tr, "everything")
		return last[""] == want
	})
	recs := readToEnd(t, n.tr, "everything")
	var row struct{ Lo, Hi int64 }
	if err := json.Unmarshal(recs[len(recs)-1].Value, &row); err != nil {
		t.Fatal(err)
	}
	if row.Lo != lo || row.Hi != hi {
		t.Errorf("last row %s, want lo %d and hi %d", recs[len(recs)-1].Value, lo, hi)
	}
	for _, r := range recs {
		if r.Key != nil {
			t.Fatalf("key %q: an aggregation without group keys has none", r.Key)
		}
	}

	perWindow := map[time.Time]windowAgg{}
	for k, a := range tumbleOracle(events, 10*time.Second, flush.Add(-2*time.Second)) {
		w := perWindow[k.start]
		w.count += a.count
		w.sum += a.sum
		perWindow[k.start] = w
	}
	got := map[time.Time]windowAgg{}
	for _, r := range readAll(t, n.tr, "per_window", len(perWindow)) {
		var row windowRow
		dec := json.NewDecoder(strings.NewReader(string(r.Value)))
		dec.UseNumber()
		if err := dec.Decode(&row); err != nil {
			t.Fatal(err)
		}
		start := parseRowTime(t, row.WindowStart)
		if _, dup := got[start]; dup {
			t.Errorf("window %s emitted twice", start)
		}
		sum, _ := row.Total.Int64()
		got[start] = windowAgg{row.N, sum}
	}
	for start, w := range perWindow {
		if got[start] != w {
			t.Errorf("window %s: got %+v, want %+v", start.Format(time.TimeOnly), got[start], w)
		}
	}
	if len(got) != len(perWindow) {
		t.Errorf("%d windows, want %d", len(got), len(perWindow))
	}
}

// TestUpdatingHavingTombstones checks an updating GROUP BY whose HAVING
// a group leaves (min only goes down): its key gets a tombstone, and the
// topic's latest row per key is the oracle's.
func TestUpdatingHavingTombstones(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, clicksSource)
	mustExec(t, e, `CREATE SINK keepers WITH (connector = 'topic', topic = 'keepers', delivery.guarantee = 'exactly_once') AS
		SELECT user_id, count(*) AS n, sum(amount) AS total FROM clicks GROUP BY user_id HAVING min(amount) > 3`)
	events := genClicks(35, 1000, 3, 40, time.Second)
	produceClicks(t, n.tr, "clicks", events)
	all := userTotals(events)
	lows := map[string]int64{}
	for _, ev := range events {
		k := fmt.Sprint(ev.user)
		if l, ok := lows[k]; !ok || ev.amount < l {
			lows[k] = ev.amount
		}
	}
	want := map[string]windowAgg{}
	for k, a := range all {
		if lows[k] > 3 {
			want[k] = a
		}
	}
	if len(want) == len(all) || len(want) == 0 {
		t.Fatalf("the seed makes %d of %d groups pass HAVING: pick one where some leave", len(want), len(all))
	}
	waitFor(t, "every group's final row or tombstone", func() bool {
		last := latestPerKey(t, n.tr, "keepers")
		if len(last) != len(want) {
			return false
		}
		for k, w := range want {
			if last[k] != w {
				return false
			}
		}
		return true
	})
}

// TestLateEvents sends events after the watermark passed their window:
// they are counted as late, not aggregated, and written to the source's
// late.topic when it has one.
func TestLateEvents(t *testing.T) {
	for _, tc := range []struct {
		name, guarantee, lateTopic string
	}{
		{"dropped", guaranteeAtLeastOnce, ""},
		{"late.topic", guaranteeExactlyOnce, "clicks.late"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := openNode(t, t.TempDir())
			defer n.close(t)
			reg := prometheus.NewRegistry()
			e := openEngineWith(t, n, func(c *Config) { c.Metrics = reg })
			defer closeEngine(t, e)
			late := ""
			if tc.lateTopic != "" {
				late = ", late.topic = '" + tc.lateTopic + "'"
			}
			mustExec(t, e, `CREATE SOURCE clicks (user_id int, amount bigint, ts timestamp, WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
				WITH (connector = 'topic', topic = 'clicks', topic.partitions = '1'`+late+`)`)
			mustExec(t, e, `CREATE SINK per_user WITH (connector = 'topic', topic = 'per_user', delivery.guarantee = '`+tc.guarantee+`') AS
				SELECT user_id, window_start, window_end, count(*) AS n, sum(amount) AS total
				FROM TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND)
				GROUP BY user_id, window_start, window_end`)
			base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			at := func(s float64) time.Time { return base.Add(time.Duration(s * float64(time.Second))) }
			produceClicks(t, n.tr, "clicks", []clickEvent{
				{user: 1, amount: 1, ts: at(1)}, {user: 1, amount: 2, ts: at(9)}, {user: 2, amount: 4, ts: at(3)},
				{user: 1, amount: 8, ts: at(13)}, // the watermark passes 10: [0, 10) fires
			})
			first := readAll(t, n.tr, "per_user", 2)
			// Beyond the lateness: [0, 10) has fired.
			produceClicks(t, n.tr, "clicks", []clickEvent{{user: 1, amount: 100, ts: at(8)}, {user: 3, amount: 200, ts: at(2)}})
			// Within it: 11 is after the watermark (11), not late.
			produceClicks(t, n.tr, "clicks", []clickEvent{{user: 1, amount: 16, ts: at(11)}, {user: 1, amount: 0, ts: at(30)}})
			if len(first) != 2 {
				t.Fatalf("%d windows before the late events, want 2", len(first))
			}
			rows := decodeWindowRows(t, readAll(t, n.tr, "per_user", 3))
			want := map[windowKey]windowAgg{
				{1, base}: {2, 3}, {2, base}: {1, 4}, {1, at(10)}: {2, 24},
			}
			compareWindows(t, rows, want)
			p := e.mu.pipelines["per_user"]
			waitFor(t, "two late events counted", func() bool { return p.stats.late.Load() == 2 })
			if m := gather(t, reg, "tide_pipeline_late_records_total", "per_user")[""]; m.GetCounter().GetValue() != 2 {
				t.Errorf("tide_pipeline_late_records_total = %v, want 2", m.GetCounter().GetValue())
			}
			if tc.lateTopic == "" {
				return
			}
			recs := readAll(t, n.tr, tc.lateTopic, 2)
			var got []string
			for _, r := range recs {
				var row struct {
					UserID          int    `json:"user_id"`
					EventTime       string `json:"event_time"`
					Arg1            int64  `json:"arg1"`
					OriginPartition int32  `json:"origin_partition"`
					OriginOffset    int64  `json:"origin_offset"`
				}
				if err := json.Unmarshal(r.Value, &row); err != nil {
					t.Fatalf("late record %s: %v", r.Value, err)
				}
				if header(r, HeaderPipeline) != "per_user" || header(r, HeaderOffset) != fmt.Sprint(row.OriginOffset) {
					t.Errorf("late record headers %v", r.Headers)
				}
				got = append(got, fmt.Sprintf("%d %d @%d", row.UserID, row.Arg1, row.OriginOffset))
			}
			slices.Sort(got)
			if want := []string{"1 100 @4", "3 200 @5"}; !slices.Equal(got, want) {
				t.Errorf("late records %v, want %v (user, amount @ origin offset)", got, want)
			}
		})
	}
}

// TestDropStatefulSink drops a stateful sink: its repartition and
// changelog topics and its state directory go with it.
func TestDropStatefulSink(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, clicksSource)
	mustExec(t, e, `CREATE SINK totals WITH (connector = 'topic', topic = 'totals') AS
		SELECT user_id, count(*) AS n FROM clicks GROUP BY user_id`)
	st := e.mu.pipelines["totals"].stateful
	produceClicks(t, n.tr, "clicks", genClicks(36, 100, 3, 5, time.Second))
	readAll(t, n.tr, "totals", 5)
	ctx := context.Background()
	for _, topic := range []string{st.repartition, st.changelog} {
		if _, err := n.tr.Topic(ctx, topic); err != nil {
			t.Fatalf("internal topic %s: %v", topic, err)
		}
	}
	if entries, err := os.ReadDir(st.stateDir); err != nil || len(entries) == 0 {
		t.Fatalf("state directory %s: %v, %d entries", st.stateDir, err, len(entries))
	}
	mustExec(t, e, `DROP SINK totals`)
	for _, topic := range []string{st.repartition, st.changelog} {
		if _, err := n.tr.Topic(ctx, topic); !errors.Is(err, transport.ErrTopicNotFound) {
			t.Errorf("internal topic %s after DROP: %v, want not found", topic, err)
		}
	}
	if _, err := os.Stat(st.stateDir); !os.IsNotExist(err) {
		t.Errorf("state directory %s after DROP: %v", st.stateDir, err)
	}
	// The same name again starts from nothing.
	mustExec(t, e, `CREATE SINK totals WITH (connector = 'topic', topic = 'totals2') AS
		SELECT user_id, count(*) AS n FROM clicks GROUP BY user_id`)
	readAll(t, n.tr, "totals2", 5)
}

// testPostgres is a throw-away database for the stateful sink tests.
func testPostgres(t *testing.T) (*pgx.Conn, string) {
	t.Helper()
	return testDatabase(t, "engine_agg", "the stateful postgres-sink engine test", "")
}

// TestUpdatingGroupByIntoPostgres upserts an updating GROUP BY into a
// Postgres table, exactly once: the table ends with each group's totals.
func TestUpdatingGroupByIntoPostgres(t *testing.T) {
	db, dsn := testPostgres(t)
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, clicksSource)
	mustExec(t, e, `CREATE SINK pg_totals WITH (connector = 'postgres', url = '`+dsn+`', table = 'totals', 'primary-key' = 'user_id',
		'table.create' = 'true', delivery.guarantee = 'exactly_once') AS
		SELECT user_id, count(*) AS n, sum(amount) AS total FROM clicks GROUP BY user_id`)
	events := genClicks(37, 1500, 3, 25, time.Second)
	produceClicks(t, n.tr, "clicks", events)
	want := userTotals(events)
	var got map[string]windowAgg
	deadline := time.Now().Add(15 * time.Second)
	for {
		got = pgTotals(t, db, "SELECT user_id::text, n, total::bigint FROM totals")
		if mapsEqual(got, want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !mapsEqual(got, want) {
		t.Fatalf("table totals holds %v, want %v", got, want)
	}
}

// TestIdleWindowsIntoPostgres fires windows into Postgres because a
// source partition went idle, with no new input since the checkpoint
// before (which wrote rows too): their rows must land, not be skipped as
// already applied.
func TestIdleWindowsIntoPostgres(t *testing.T) {
	db, dsn := testPostgres(t)
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, `CREATE SOURCE clicks (user_id int, amount bigint, ts timestamp, WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
		WITH (connector = 'topic', topic = 'clicks', topic.partitions = '2', watermark.idle_timeout = '1s')`)
	mustExec(t, e, `CREATE SINK pg_windows WITH (connector = 'postgres', url = '`+dsn+`', table = 'windows', 'primary-key' = 'user_id,window_start',
		'table.create' = 'true', delivery.guarantee = 'exactly_once') AS
		SELECT user_id, window_start, count(*) AS n, sum(amount) AS total
		FROM TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND) GROUP BY user_id, window_start, window_end`)
	// Partition 1 runs to 59 s and stops; partition 0 to 29.5 s, then,
	// a little later, to an hour: that closes the windows to 50 s (the
	// watermark is partition 1's, 57 s), writing rows, and the last ones
	// close when partition 1 has been idle for a second — while
	// partition 0 is not, and with nothing new to read.
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var events []clickEvent
	for i := range 60 {
		events = append(events,
			clickEvent{partition: 1, user: i % 4, amount: int64(i), ts: base.Add(time.Duration(i) * time.Second)},
			clickEvent{partition: 0, user: i % 3, amount: int64(2 * i), ts: base.Add(time.Duration(i) * 500 * time.Millisecond)})
	}
	produceClicks(t, n.tr, "clicks", events)
	p := e.mu.pipelines["pg_windows"]
	waitFor(t, "partition 1's watermark", func() bool { return p.stats.watermark.Load() >= base.Add(27*time.Second).UnixMicro() })
	time.Sleep(300 * time.Millisecond)
	produceClicks(t, n.tr, "clicks", []clickEvent{{partition: 0, user: 9, amount: 1, ts: base.Add(time.Hour)}})
	want := map[string]windowAgg{}
	for k, a := range tumbleOracle(events, 10*time.Second, base.Add(time.Hour)) {
		want[fmt.Sprintf("%d %s", k.user, k.start.Format(time.TimeOnly))] = a
	}
	var got map[string]windowAgg
	deadline := time.Now().Add(4 * time.Second)
	for {
		got = pgTotals(t, db, "SELECT user_id || ' ' || to_char(window_start, 'HH24:MI:SS'), n, total::bigint FROM windows")
		if mapsEqual(got, want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("window %s: got %+v, want %+v", k, got[k], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d windows in the table, want %d", len(got), len(want))
	}
}

func pgTotals(t *testing.T, db *pgx.Conn, query string) map[string]windowAgg {
	t.Helper()
	rows, err := db.Query(context.Background(), query)
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return nil // not created yet
		}
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]windowAgg{}
	for rows.Next() {
		var k string
		var a windowAgg
		if err := rows.Scan(&k, &a.count, &a.sum); err != nil {
			t.Fatal(err)
		}
		out[k] = a
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func mapsEqual[K, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// readSoFar reads every partition of topic from its start to its end,
// each in offset order; nothing when the topic is not there yet.
func readSoFar(t *testing.T, tr transport.Transport, topic string) []*transport.Record {
	t.Helper()
	out, _ := readTopic(tr, topic)
	return out
}

// readToEnd reads every partition of topic from its start to its end,
// sorted, failing the test if it cannot.
func readToEnd(t *testing.T, tr transport.Transport, topic string) []*transport.Record {
	t.Helper()
	out, err := readTopic(tr, topic)
	if err != nil {
		t.Fatal(err)
	}
	sortRecords(out)
	return out
}

// readTopic reads every partition of topic from its start to its end,
// each in offset order, and the first error it met.
func readTopic(tr transport.Transport, topic string) ([]*transport.Record, error) {
	ctx := context.Background()
	ends, err := tr.EndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	var out []*transport.Record
	for p, end := range ends {
		for off := int64(0); off < end; {
			recs, err := tr.ReadAt(ctx, transport.TopicPartition{Topic: topic, Partition: p}, off, 1<<20)
			if err != nil {
				return out, err
			}
			if len(recs) == 0 {
				break
			}
			out = append(out, recs...)
			off = recs[len(recs)-1].Offset + 1
		}
	}
	return out, nil
}

// TestEarlyWindowResults runs a tumbling window with emit.early: while
// the window is open its rows appear, and are replaced, as events
// arrive (upserts keyed by the group and window); when the watermark
// closes it, its final row is the oracle's. Exactly-once, with the state
// on disk between checkpoints, so early rows come from windows read back.
func TestEarlyWindowResults(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, clicksSource)
	mustExec(t, e, `CREATE SINK per_user WITH (connector = 'topic', topic = 'per_user', delivery.guarantee = 'exactly_once',
			emit.early = '100ms', checkpoint.interval = '50ms', state.memory = '0') AS
		SELECT user_id, window_start, window_end, count(*) AS n, sum(amount) AS total
		FROM TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE)
		GROUP BY user_id, window_start, window_end`)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var sent []clickEvent
	send := func(batch int) {
		var evs []clickEvent
		for i := range 30 {
			evs = append(evs, clickEvent{partition: int32(i % 3), user: i % 5, amount: int64(batch*100 + i),
				ts: base.Add(time.Duration(batch*10+i%10) * time.Second)})
		}
		produceClicks(t, n.tr, "clicks", evs)
		sent = append(sent, evs...)
	}
	// Each batch's rows while the window is still open: the oracle over
	// every event so far (the watermark stays inside the window).
	for batch := range 3 {
		send(batch)
		want := tumbleOracle(sent, time.Minute, base.Add(time.Hour))
		waitFor(t, fmt.Sprintf("the early rows after batch %d", batch), func() bool {
			got, _ := latestWindows(t, n.tr, "per_user")
			return maps.Equal(got, want)
		})
	}
	want := tumbleOracle(sent, time.Minute, base.Add(time.Hour))
	_, before := latestWindows(t, n.tr, "per_user")
	// The flush closes the window: one final row per window follows.
	produceClicks(t, n.tr, "clicks", flushEvents(3, base.Add(10*time.Minute)))
	p := e.mu.pipelines["per_user"]
	waitFor(t, "the watermark past the window", func() bool { return p.stats.watermark.Load() >= base.Add(time.Minute).UnixMicro() })
	final := func() bool {
		got, rows := latestWindows(t, n.tr, "per_user")
		return rows == before+len(want) && maps.Equal(got, want)
	}
	waitFor(t, "the final rows", final)
	// Events for the closed window are late: no row changes.
	send(3)
	waitFor(t, "the late events counted", func() bool { return p.stats.late.Load() == 30 })
	time.Sleep(200 * time.Millisecond) // a few checkpoints and early intervals
	if !final() {
		got, rows := latestWindows(t, n.tr, "per_user")
		t.Fatalf("rows changed after the window closed: %d rows (%d before the flush, %d windows): %v", rows, before, len(want), got)
	}
	if before < 2*len(want) {
		t.Errorf("%d early rows for %d windows over three batches", before, len(want))
	}
}

// latestWindows reads a topic of window rows to its end: each window's
// last row, and how many rows there were, leaving out the flush events'
// (user -1).
func latestWindows(t *testing.T, tr transport.Transport, topic string) (map[windowKey]windowAgg, int) {
	t.Helper()
	out, rows := map[windowKey]windowAgg{}, 0
	for _, r := range readSoFar(t, tr, topic) {
		if k, agg := decodeWindowRow(t, r); k.user >= 0 {
			out[k] = agg
			rows++
		}
	}
	return out, rows
}
