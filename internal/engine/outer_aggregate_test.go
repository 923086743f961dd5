package engine

import (
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"testing"
	"time"
)

// currentRows reads a keyed topic to its end: the last value per key,
// a tombstone deleting it.
func currentRows(t *testing.T, n *node, topic string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range readSoFar(t, n.tr, topic) {
		if r.Value == nil {
			delete(out, string(r.Key))
			continue
		}
		out[string(r.Key)] = string(r.Value)
	}
	return out
}

// A GROUP BY over a GROUP BY without a window (plan.Outer) runs as two
// stateful stages: every change of an inner group reaches the outer one
// as its old row taken back and its new row added. Two queries, checked
// against a brute-force evaluation of the final input:
//
//   - a histogram of the users' click counts: as a user's count grows it
//     moves from one bucket to the next, so buckets empty and must be
//     deleted (tombstones), not left with a count of zero;
//   - per bucket of users (user_id % 4), the average, sum and number of
//     the users' largest amounts, users with one click left out by the
//     inner HAVING — a row enters the outer aggregation only once it
//     passes — and the outer WHERE.
//
// With exactly-once the engine is stopped halfway and started again on
// an empty state directory (the state comes back from the changelogs);
// with state.memory = '0' every group is read back from the stores.
func TestOuterAggregationAgainstOracle(t *testing.T) {
	events := genClicks(21, 3000, 3, 40, time.Second)
	clicksInBatches(t, []clicksRun{atLeastOnce, noMemory, exactlyOnceRestarted}, events, 500,
		func(t *testing.T, e *Engine, opts string) {
			mustExec(t, e, `CREATE SINK histogram WITH (connector = 'topic', topic = 'histogram'`+opts+`) AS
				SELECT clicks AS n, count(*) AS users FROM (SELECT user_id, count(*) AS clicks FROM clicks GROUP BY user_id) GROUP BY clicks`)
			mustExec(t, e, `CREATE SINK buckets WITH (connector = 'topic', topic = 'buckets'`+opts+`) AS
				SELECT m.bucket, avg(m.top) AS avg_top, sum(m.top) AS sum_top, count(*) AS users FROM (
				  SELECT user_id % 4 AS bucket, max(amount) AS top FROM clicks GROUP BY user_id HAVING count(*) > 1) AS m
				WHERE m.top > 20 GROUP BY m.bucket`)
			if st := e.mu.pipelines["buckets"].stateful; st.next == nil || !st.next.retract {
				t.Fatal("the pipeline does not run in two stages, the second taking rows back")
			}
		},
		func(t *testing.T, n *node, e *Engine, upTo int) {
			wantHist, wantBuckets := outerOracle(events[:upTo])
			waitFor(t, fmt.Sprintf("every group's row after %d events", upTo), func() bool {
				return maps.Equal(currentRows(t, n, "histogram"), wantHist) && sameBuckets(currentRows(t, n, "buckets"), wantBuckets)
			})
			if dead := showRow(t, e, "SINKS", "buckets")["dead_lettered"]; dead != "0" {
				t.Errorf("%s rows dead-lettered", dead)
			}
		})
}

// clicksRun is one way to run a test over the clicks source: the sinks'
// extra options, and whether the engine restarts halfway on an empty
// state directory (its state then comes back from the changelogs).
type clicksRun struct {
	name, opts string
	restart    bool
}

var (
	atLeastOnce          = clicksRun{"at-least-once", "", false}
	noMemory             = clicksRun{"no memory", ", state.memory = '0'", false}
	exactlyOnceRestarted = clicksRun{"exactly-once restarted", ", delivery.guarantee = 'exactly_once'", true}
)

// clicksInBatches runs a test over the clicks source once per run: create
// makes the sinks (with the run's options), the events go in batches of
// step — each checked once through, so that groups change across
// checkpoints — and check waits for the oracle's rows over the first
// upTo events after each batch. It returns nothing: check fails the test.
func clicksInBatches(t *testing.T, runs []clicksRun, events []clickEvent, step int,
	create func(t *testing.T, e *Engine, opts string), check func(t *testing.T, n *node, e *Engine, upTo int)) {
	t.Helper()
	for _, c := range runs {
		t.Run(c.name, func(t *testing.T) {
			n := openNode(t, t.TempDir())
			defer n.close(t)
			withState := func(dir string) func(*Config) { return func(cfg *Config) { cfg.StateDir = dir } }
			e := openEngineWith(t, n, withState(t.TempDir()))
			mustExec(t, e, clicksSource)
			create(t, e, c.opts)
			for i := 0; i < len(events); i += step {
				if c.restart && i == len(events)/step/2*step {
					closeEngine(t, e)
					e = openEngineWith(t, n, withState(t.TempDir()))
				}
				produceClicks(t, n.tr, "clicks", events[i:min(i+step, len(events))])
				check(t, n, e, min(i+step, len(events)))
			}
			closeEngine(t, e)
		})
	}
}

// outerOracle is the two queries' rows over events, by key.
func outerOracle(events []clickEvent) (hist, buckets map[string]string) {
	counts, tops := map[int]int64{}, map[int]int64{}
	for _, ev := range events {
		counts[ev.user]++
		tops[ev.user] = max(tops[ev.user], ev.amount)
	}
	hist = map[string]string{}
	users := map[int64]int64{}
	for _, k := range counts {
		users[k]++
	}
	for k, u := range users {
		hist[strconv.FormatInt(k, 10)] = fmt.Sprintf(`{"n":%d,"users":%d}`, k, u)
	}
	type bucket struct{ sum, users int64 }
	bs := map[int]bucket{}
	for u, k := range counts {
		if k > 1 && tops[u] > 20 {
			b := bs[u%4]
			bs[u%4] = bucket{b.sum + tops[u], b.users + 1}
		}
	}
	buckets = map[string]string{}
	for b, v := range bs {
		buckets[strconv.Itoa(b)] = fmt.Sprintf(`{"bucket":%d,"avg_top":%g,"sum_top":%d,"users":%d}`, b, float64(v.sum)/float64(v.users), v.sum, v.users)
	}
	return hist, buckets
}

// sameBuckets compares the bucket rows, the average as a number (numeric
// division's digits are Postgres', not Go's).
func sameBuckets(got, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for k, w := range want {
		var g, x map[string]float64
		if json.Unmarshal([]byte(got[k]), &g) != nil || json.Unmarshal([]byte(w), &x) != nil {
			return false
		}
		for col, v := range x {
			d := g[col] - v
			if d > 1e-9 || d < -1e-9 {
				return false
			}
		}
		if len(g) != len(x) {
			return false
		}
	}
	return true
}

// Without GROUP BY the outer query has one row, over no rows too: when
// the last row leaves it (here through the outer WHERE), its row reads a
// count of 0 and a NULL sum, as Postgres', rather than being deleted.
func TestOuterAggregationWithoutGroupBy(t *testing.T) {
	n, e := clicksEngine(t)
	mustExec(t, e, `CREATE SINK light WITH (connector = 'topic', topic = 'light') AS
		SELECT count(*) AS users, sum(c) AS clicks FROM (SELECT user_id, count(*) AS c FROM clicks GROUP BY user_id) WHERE c < 3`)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	click := func(i int) []clickEvent {
		return []clickEvent{{user: 1, amount: 1, ts: base.Add(time.Duration(i) * time.Second)}}
	}
	produceClicks(t, n.tr, "clicks", click(0))
	waitFor(t, "one light user", func() bool { return currentRows(t, n, "light")[""] == `{"users":1,"clicks":1}` })
	produceClicks(t, n.tr, "clicks", click(1))
	waitFor(t, "two clicks", func() bool { return currentRows(t, n, "light")[""] == `{"users":1,"clicks":2}` })
	produceClicks(t, n.tr, "clicks", click(2))
	waitFor(t, "no light user", func() bool { return currentRows(t, n, "light")[""] == `{"users":0,"clicks":null}` })
}

// A query that filters an aggregating subquery merges into it (its WHERE
// becomes part of HAVING): over an updating GROUP BY, a group enters and
// leaves the result as its row passes and fails the condition (here as
// a user's click count turns even and odd), a tombstone each time it
// leaves; after every batch the rows are the oracle's.
func TestFilterOverAggregatingSubquery(t *testing.T) {
	n, e := clicksEngine(t)
	mustExec(t, e, `CREATE SINK even WITH (connector = 'topic', topic = 'even') AS
		SELECT user_id, clicks FROM (SELECT user_id, count(*) AS clicks FROM clicks GROUP BY user_id) AS per_user WHERE clicks % 2 = 0`)
	events := genClicks(17, 1200, 3, 30, time.Second)
	for i := 0; i < len(events); i += 300 {
		produceClicks(t, n.tr, "clicks", events[i:i+300])
		counts := map[int]int64{}
		for _, ev := range events[:i+300] {
			counts[ev.user]++
		}
		want := map[string]string{}
		for u, c := range counts {
			if c%2 == 0 {
				want[strconv.Itoa(u)] = fmt.Sprintf(`{"user_id":%d,"clicks":%d}`, u, c)
			}
		}
		waitFor(t, fmt.Sprintf("the even users after %d events", i+300), func() bool {
			return maps.Equal(currentRows(t, n, "even"), want)
		})
	}
}

// clicksEngine opens an engine on a new node, with a state directory of
// its own and the clicks source declared; both close when the test ends.
func clicksEngine(t *testing.T) (*node, *Engine) {
	t.Helper()
	n := openNode(t, t.TempDir())
	t.Cleanup(func() { n.close(t) })
	e := openEngineWith(t, n, func(cfg *Config) { cfg.StateDir = t.TempDir() })
	t.Cleanup(func() { closeEngine(t, e) })
	mustExec(t, e, clicksSource)
	return n, e
}

// min, max and DISTINCT over a subquery's updating groups: each outer
// group keeps its values with their counts, so taking back the extreme
// (a user's old click count, as it grows) leaves the next one, and a
// distinct count drops a value when its last user leaves it. Checked
// against the oracle after every batch, with every group read back from
// the store (state.memory = '0') and across an exactly-once restart on
// an empty state directory.
func TestOuterMinMaxDistinctAgainstOracle(t *testing.T) {
	events := genClicks(31, 2400, 3, 40, time.Second)
	clicksInBatches(t, []clicksRun{noMemory, exactlyOnceRestarted}, events, 400,
		func(t *testing.T, e *Engine, opts string) {
			mustExec(t, e, `CREATE SINK spread WITH (connector = 'topic', topic = 'spread'`+opts+`) AS
				SELECT bucket, min(clicks) AS least, max(clicks) AS most, count(DISTINCT clicks) AS levels, sum(DISTINCT clicks) AS level_sum
				FROM (SELECT user_id % 4 AS bucket, count(*) AS clicks FROM clicks GROUP BY user_id) GROUP BY bucket`)
		},
		func(t *testing.T, n *node, _ *Engine, upTo int) {
			want := spreadOracle(events[:upTo])
			waitFor(t, fmt.Sprintf("every bucket's spread after %d events", upTo), func() bool {
				return maps.Equal(currentRows(t, n, "spread"), want)
			})
		})
}

// spreadOracle is the spread query's rows over events, by bucket.
func spreadOracle(events []clickEvent) map[string]string {
	counts := map[int]int64{}
	for _, ev := range events {
		counts[ev.user]++
	}
	type spread struct {
		least, most int64
		levels      map[int64]bool
	}
	buckets := map[int]*spread{}
	for u, c := range counts {
		s := buckets[u%4]
		if s == nil {
			s = &spread{least: c, most: c, levels: map[int64]bool{}}
			buckets[u%4] = s
		}
		s.least, s.most, s.levels[c] = min(s.least, c), max(s.most, c), true
	}
	out := map[string]string{}
	for b, s := range buckets {
		sum := int64(0)
		for l := range s.levels {
			sum += l
		}
		out[strconv.Itoa(b)] = fmt.Sprintf(`{"bucket":%d,"least":%d,"most":%d,"levels":%d,"level_sum":%d}`, b, s.least, s.most, len(s.levels), sum)
	}
	return out
}
