package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// The tests of this file check top-N pipelines against brute-force
// oracles over seeded inputs on three partitions.

const topnScores = `CREATE SOURCE scores (id bigint, game text, player text, points int, at timestamp,
	WATERMARK FOR at AS at - INTERVAL '2' SECOND)
	WITH (connector = 'topic', topic = 'scores', topic.partitions = '3')`

type topnScore struct {
	part   int32
	id     int64
	game   string
	points *int // NULL sometimes
	at     time.Time
}

// genScores makes n scores over a few games, with many tied points and
// some NULL ones; at is one of a few 10-second windows, in order.
func genScores(seed uint64, n int) []topnScore {
	r := rand.New(rand.NewPCG(seed, 5))
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	out := make([]topnScore, n)
	for i := range out {
		s := topnScore{part: int32(r.IntN(3)), id: int64(i), game: fmt.Sprintf("g%d", r.IntN(6)),
			at: base.Add(time.Duration(i*8/n) * 10 * time.Second)}
		if r.IntN(12) > 0 {
			p := r.IntN(40) - 3 // some negative: the subquery's WHERE drops them
			s.points = &p
		}
		out[i] = s
	}
	return out
}

func produceScores(t *testing.T, tr transport.Transport, scores []topnScore) {
	t.Helper()
	var recs []*transport.Record
	for _, s := range scores {
		points := "null"
		if s.points != nil {
			points = fmt.Sprint(*s.points)
		}
		recs = append(recs, &transport.Record{Topic: "scores", Partition: s.part,
			Value: fmt.Appendf(nil, `{"id":%d,"game":"%s","player":"p%d","points":%s,"at":"%s"}`, s.id, s.game, s.id%13, points, s.at.Format("2006-01-02 15:04:05"))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(recs) > 0 {
		n := min(200, len(recs))
		if err := tr.Produce(ctx, recs[:n]); err != nil {
			t.Fatal(err)
		}
		recs = recs[n:]
	}
}

// rankScores ranks the scores of each partition (by partOf) by points
// descending, NULLs last, then id; keeps ranks up to limit; rank is
// "row_number", "rank" or "dense_rank". The rows are "partition|rank|id".
func rankScores(scores []topnScore, partOf func(topnScore) string, rank string, limit int) []string {
	parts := map[string][]topnScore{}
	for _, s := range scores {
		if s.points == nil || *s.points >= 0 {
			parts[partOf(s)] = append(parts[partOf(s)], s)
		}
	}
	byPoints := func(a, b topnScore) int {
		switch {
		case a.points == nil && b.points == nil:
			return 0
		case a.points == nil:
			return 1
		case b.points == nil:
			return -1
		}
		return cmp.Compare(*b.points, *a.points)
	}
	var out []string
	for part, ss := range parts {
		slices.SortFunc(ss, func(a, b topnScore) int { return cmp.Or(byPoints(a, b), cmp.Compare(a.id, b.id)) })
		r, dense := 0, 0
		for i, s := range ss {
			if i == 0 || byPoints(ss[i-1], s) != 0 {
				r, dense = i+1, dense+1
			}
			k := map[string]int{"row_number": i + 1, "rank": r, "dense_rank": dense}[rank]
			if k > limit {
				break
			}
			out = append(out, fmt.Sprintf("%s|%d|%d", part, k, s.id))
		}
	}
	slices.Sort(out)
	return out
}

// topnRow is a sink row of these tests.
type topnRow struct {
	Game      string  `json:"game"`
	WindowEnd *string `json:"at"`
	ID        int64   `json:"id"`
	Rank      int     `json:"rn"`
}

// TestUpdatingTopNAgainstOracle: a ROW_NUMBER top-N without event time
// writes upserts keyed by partition and row number; the compacted topic
// holds the oracle's top N of each game at the end — also across a
// restart halfway, exactly-once.
func TestUpdatingTopNAgainstOracle(t *testing.T) {
	for _, c := range []struct {
		name    string
		opts    string
		restart bool
	}{
		{"at-least-once", "", false},
		{"exactly-once across a restart", ", delivery.guarantee = 'exactly_once'", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			scores := genScores(3, 1500)
			want := rankScores(scores, func(s topnScore) string { return s.game }, "row_number", 3)
			n := openNode(t, t.TempDir())
			stateDir := t.TempDir()
			configure := func(cfg *Config) { cfg.StateDir = stateDir }
			e := openEngineWith(t, n, configure)
			mustExec(t, e, topnScores)
			mustExec(t, e, `CREATE SINK top WITH (connector = 'topic', topic = 'out'`+c.opts+`) AS
				SELECT game, id, rn FROM (
				  SELECT id, game, points, ROW_NUMBER() OVER (PARTITION BY game ORDER BY points DESC NULLS LAST, id) AS rn
				  FROM scores WHERE points IS NULL OR points >= 0)
				WHERE rn <= 3`)
			half := len(scores) / 2
			produceScores(t, n.tr, scores[:half])
			if c.restart {
				waitFor(t, "the first half ranked", func() bool { return e.mu.pipelines["top"].stats.aggregated.Load() > 0 })
				time.Sleep(300 * time.Millisecond)
				closeEngine(t, e)
				e = openEngineWith(t, n, configure)
			}
			t.Cleanup(func() { closeEngine(t, e); n.close(t) })
			produceScores(t, n.tr, scores[half:])
			// The latest row of each key is the current top N.
			var got []string
			waitFor(t, "the top N of every game", func() bool {
				latest := map[string]topnRow{}
				for _, r := range readAll(t, n.tr, "out", 1) {
					var row topnRow
					if err := json.Unmarshal(r.Value, &row); err != nil {
						t.Fatalf("row %s: %v", r.Value, err)
					}
					if want := fmt.Sprintf(`["%s",%d]`, row.Game, row.Rank); string(r.Key) != want {
						t.Fatalf("row %s has key %s, want %s", r.Value, r.Key, want)
					}
					latest[string(r.Key)] = row
				}
				got = got[:0]
				for _, row := range latest {
					got = append(got, fmt.Sprintf("%s|%d|%d", row.Game, row.Rank, row.ID))
				}
				slices.Sort(got)
				return slices.Equal(got, want)
			})
			compareRows(t, got, want)
		})
	}
}

// TestFinalTopNAgainstOracle: partitioned by the event-time column, a
// top-N emits each window's rows once, ranked, when the watermark passes
// it; RANK and DENSE_RANK keep ties. A row for a window already emitted
// is late: counted, not in the result, written to the late topic.
func TestFinalTopNAgainstOracle(t *testing.T) {
	for _, c := range []struct {
		rank  string
		order string // ties, but ROW_NUMBER's numbers the oracle's way
		opts  string
	}{
		{"row_number", "points DESC NULLS LAST, id", ""},
		{"rank", "points DESC NULLS LAST", ", delivery.guarantee = 'exactly_once'"},
		{"dense_rank", "-points NULLS LAST", ""},
	} {
		t.Run(c.rank, func(t *testing.T) {
			scores := genScores(9, 1200)
			want := rankScores(scores, func(s topnScore) string { return s.at.Format("2006-01-02T15:04:05") }, c.rank, 2)
			n := openNode(t, t.TempDir())
			t.Cleanup(func() { n.close(t) })
			e := openEngine(t, n)
			t.Cleanup(func() { closeEngine(t, e) })
			mustExec(t, e, strings.Replace(topnScores, "topic.partitions = '3'", "topic.partitions = '3', late.topic = 'late'", 1))
			mustExec(t, e, fmt.Sprintf(`CREATE SINK top WITH (connector = 'topic', topic = 'out'%s) AS
				SELECT at, id, r AS rn FROM (
				  SELECT id, points, at, %s() OVER (PARTITION BY at ORDER BY %s) AS r
				  FROM scores WHERE points IS NULL OR points >= 0) AS s
				WHERE s.r <= 2`, c.opts, strings.ToUpper(c.rank), c.order))
			produceScores(t, n.tr, scores)
			// A flush row far ahead closes every window; then a row for
			// the first window, which is late.
			flushScores(t, n.tr, scores)
			readAll(t, n.tr, "out", len(want)) // every window emitted
			produceScores(t, n.tr, []topnScore{{part: 1, id: 7, game: "late", at: scores[0].at}})
			waitFor(t, "the late row counted", func() bool { return e.mu.pipelines["top"].stats.late.Load() == 1 })
			got := timedRankRows(t, n.tr, len(want))
			compareRows(t, got, want)
			late := readAll(t, n.tr, "late", 1)
			if !strings.Contains(string(late[0].Value), `"id":7`) {
				t.Errorf("late row %s, want the score with id 7", late[0].Value)
			}
		})
	}
}

// TestTopNView: a materialized view over an updating top-N holds the
// current top N of each partition, keyed by partition and row number; a
// top-N without PARTITION BY ranks the whole stream.
func TestTopNView(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, topnScores)
	mustExec(t, e, `CREATE MATERIALIZED VIEW leaders AS
		SELECT game, id, rn FROM (
		  SELECT id, game, points, ROW_NUMBER() OVER (PARTITION BY game ORDER BY points DESC NULLS LAST, id) AS rn
		  FROM scores WHERE points IS NULL OR points >= 0)
		WHERE rn <= 2`)
	mustExec(t, e, `CREATE MATERIALIZED VIEW overall AS
		SELECT id, points, rn FROM (
		  SELECT id, points, ROW_NUMBER() OVER (ORDER BY points DESC NULLS LAST, id) AS rn FROM scores WHERE points >= 0)
		WHERE rn <= 5`)
	scores := genScores(17, 900)
	produceScores(t, n.tr, scores)
	check := func(name string, want []string, row func(key string, value []byte) string) {
		t.Helper()
		v, ok := e.View(name)
		if !ok {
			t.Fatalf("no view %s", name)
		}
		var got []string
		waitFor(t, "the view "+name, func() bool {
			got = got[:0]
			for _, r := range v.Table.Rows(nil, 0) {
				got = append(got, row(r.Key, r.Value))
			}
			slices.Sort(got)
			return slices.Equal(got, want)
		})
	}
	check("leaders", rankScores(scores, func(s topnScore) string { return s.game }, "row_number", 2), func(key string, value []byte) string {
		var row topnRow
		if err := json.Unmarshal(value, &row); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf(`["%s",%d]`, row.Game, row.Rank); key != want {
			t.Fatalf("row %s has key %s, want %s", value, key, want)
		}
		return fmt.Sprintf("%s|%d|%d", row.Game, row.Rank, row.ID)
	})
	var positive []topnScore
	for _, s := range scores {
		if s.points != nil {
			positive = append(positive, s)
		}
	}
	check("overall", rankScores(positive, func(topnScore) string { return "all" }, "row_number", 5), func(key string, value []byte) string {
		var row topnRow
		if err := json.Unmarshal(value, &row); err != nil {
			t.Fatal(err)
		}
		if key != fmt.Sprint(row.Rank) {
			t.Fatalf("row %s has key %s, want its row number", value, key)
		}
		return fmt.Sprintf("all|%d|%d", row.Rank, row.ID)
	})
}

// TestWindowTopNAgainstOracle: a top-N over HOP windows ranks each row in
// each of its windows and emits a window's rows once the watermark
// passes its end.
func TestWindowTopNAgainstOracle(t *testing.T) {
	scores := genScores(13, 1200)
	// HOP of 20 s every 10 s: a score at t is in the windows starting at
	// t and t - 10 s (t is on the 10 s grid).
	var inWindows []topnScore
	for _, s := range scores {
		for _, start := range []time.Time{s.at, s.at.Add(-10 * time.Second)} {
			w := s
			w.at = start
			inWindows = append(inWindows, w)
		}
	}
	want := rankScores(inWindows, func(s topnScore) string { return s.at.Format("2006-01-02T15:04:05") }, "rank", 2)
	n := openNode(t, t.TempDir())
	t.Cleanup(func() { n.close(t) })
	e := openEngine(t, n)
	t.Cleanup(func() { closeEngine(t, e) })
	mustExec(t, e, topnScores)
	mustExec(t, e, `CREATE SINK top WITH (connector = 'topic', topic = 'out', delivery.guarantee = 'exactly_once') AS
		SELECT window_start AS at, id, r AS rn FROM (
		  SELECT *, RANK() OVER (PARTITION BY window_start, window_end ORDER BY points DESC NULLS LAST) AS r
		  FROM HOP(TABLE scores, DESCRIPTOR(at), INTERVAL '10' SECOND, INTERVAL '20' SECOND)
		  WHERE points IS NULL OR points >= 0)
		WHERE r <= 2`)
	produceScores(t, n.tr, scores)
	flushScores(t, n.tr, scores)
	got := timedRankRows(t, n.tr, len(want))
	compareRows(t, got, want)
	if late := e.mu.pipelines["top"].stats.late.Load(); late != 0 {
		t.Errorf("%d rows late; the input was in order", late)
	}
}

// TestTopNOverWindowAggregation: a top-N over a window aggregation in one
// pipeline (Nexmark q5's shape) runs in two stateful stages and gives the
// oracle's rows: per 20-second window sliding every 10 seconds, the
// games with the most scores, ties kept — with both guarantees, and the
// exactly-once one across a restart.
func TestTopNOverWindowAggregation(t *testing.T) {
	for _, c := range []struct {
		name    string
		opts    string
		restart bool
	}{
		{"at-least-once", "", false},
		{"exactly-once across a restart", ", delivery.guarantee = 'exactly_once'", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			scores := spreadScores(23, 3000)
			want := hotGamesOracle(scores)
			n := openNode(t, t.TempDir())
			stateDir := t.TempDir()
			configure := func(cfg *Config) { cfg.StateDir = stateDir }
			e := openEngineWith(t, n, configure)
			mustExec(t, e, topnScores)
			mustExec(t, e, fmt.Sprintf(hotGamesQuery, c.opts))
			half := len(scores) / 2
			produceScores(t, n.tr, scores[:half])
			if c.restart {
				waitFor(t, "the first windows ranked", func() bool { return e.mu.pipelines["hot"].stats.aggregated.Load() > int64(half) })
				closeEngine(t, e)
				e = openEngineWith(t, n, configure)
			}
			t.Cleanup(func() { closeEngine(t, e); n.close(t) })
			produceScores(t, n.tr, scores[half:])
			flushScores(t, n.tr, scores)
			got := hotGamesRows(t, n.tr, len(want))
			compareRows(t, got, want)
			if st := e.mu.pipelines["hot"].stateful; st.next == nil || st.next.topn == nil {
				t.Error("the pipeline does not run in two stages")
			}
		})
	}
}

// hotGamesQuery is a top-N over window counts (Nexmark q5's shape): per
// 20-second window sliding every 10 seconds, the games with the most
// scores, ties kept; %s takes extra sink options.
const hotGamesQuery = `CREATE SINK hot WITH (connector = 'topic', topic = 'out'%s) AS
	SELECT game, num, starttime FROM (
	  SELECT game, num, starttime, RANK() OVER (PARTITION BY starttime ORDER BY num DESC) AS r
	  FROM (SELECT game, count(*) AS num, window_start AS starttime
	        FROM HOP(TABLE scores, DESCRIPTOR(at), INTERVAL '10' SECOND, INTERVAL '20' SECOND)
	        GROUP BY game, window_start, window_end) AS counts)
	WHERE r <= 1`

// spreadScores makes seeded scores over 40 windows' worth of event time.
func spreadScores(seed uint64, n int) []topnScore {
	scores := genScores(seed, n)
	base := scores[0].at
	for i := range scores {
		scores[i].at = base.Add(time.Duration(i*40/len(scores)) * 10 * time.Second)
	}
	return scores
}

// hotGamesOracle is hotGamesQuery by brute force: "starttime|game|num".
func hotGamesOracle(scores []topnScore) []string {
	counts := map[[2]string]int{}
	for _, s := range scores {
		for _, start := range []time.Time{s.at, s.at.Add(-10 * time.Second)} {
			counts[[2]string{start.Format("2006-01-02T15:04:05"), s.game}]++
		}
	}
	most := map[string]int{}
	for k, n := range counts {
		most[k[0]] = max(most[k[0]], n)
	}
	var want []string
	for k, n := range counts {
		if n == most[k[0]] {
			want = append(want, fmt.Sprintf("%s|%s|%d", k[0], k[1], n))
		}
	}
	slices.Sort(want)
	return want
}

// hotGamesRows reads want rows of hotGamesQuery's output as the oracle
// writes them.
func hotGamesRows(t *testing.T, tr transport.Transport, want int) []string {
	t.Helper()
	var got []string
	for _, r := range readExactly(t, tr, "out", want) {
		var row struct {
			Game      string `json:"game"`
			Num       int    `json:"num"`
			StartTime string `json:"starttime"`
		}
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatalf("row %s: %v", r.Value, err)
		}
		at, err := time.Parse("2006-01-02T15:04:05.999999", row.StartTime)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s|%s|%d", at.Format("2006-01-02T15:04:05"), row.Game, row.Num))
	}
	slices.Sort(got)
	return got
}

// flushScores writes a score per partition an hour past the last one:
// every window before it closes.
func flushScores(t *testing.T, tr transport.Transport, scores []topnScore) {
	t.Helper()
	last := scores[len(scores)-1].at
	var flush []topnScore
	for part := range int32(3) {
		flush = append(flush, topnScore{part: part, id: 1<<40 + int64(part), game: "x", at: last.Add(time.Hour)})
	}
	produceScores(t, tr, flush)
}

// timedRankRows reads want rows of a top-N partitioned by time ("at",
// "id", "rn") as "at|rank|id", sorted.
func timedRankRows(t *testing.T, tr transport.Transport, want int) []string {
	t.Helper()
	var got []string
	for _, r := range readExactly(t, tr, "out", want) {
		var row topnRow
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatalf("row %s: %v", r.Value, err)
		}
		at, err := time.Parse("2006-01-02T15:04:05.999999", *row.WindowEnd)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s|%d|%d", at.Format("2006-01-02T15:04:05"), row.Rank, row.ID))
	}
	slices.Sort(got)
	return got
}
