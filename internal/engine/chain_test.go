package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// TestChainedStageIsNeverIdle: with a short watermark.idle_timeout on
// the source and pauses longer than it between windows, the top-N stage
// must not take the aggregate tasks for idle — it did, and when event
// time moved again the first task's punctuation ranked a window before
// the other tasks' rows of it arrived (then late, dropped).
func TestChainedStageIsNeverIdle(t *testing.T) {
	for _, idle := range []string{"300ms"} {
		t.Run("idle="+idle, func(t *testing.T) {
			n := openNode(t, t.TempDir())
			e := openEngineWith(t, n, func(cfg *Config) { cfg.StateDir = t.TempDir() })
			t.Cleanup(func() { closeEngine(t, e); n.close(t) })
			mustExec(t, e, `CREATE SOURCE scores (id bigint, game text, player text, points int, at timestamp,
				WATERMARK FOR at AS at - INTERVAL '2' SECOND)
				WITH (connector = 'topic', topic = 'scores', topic.partitions = '3', watermark.idle_timeout = '`+idle+`', late.topic = 'late')`)
			mustExec(t, e, `CREATE SINK hot WITH (connector = 'topic', topic = 'out') AS
				SELECT game, num, starttime FROM (
				  SELECT game, num, starttime, ROW_NUMBER() OVER (PARTITION BY starttime ORDER BY num DESC, game) AS r
				  FROM (SELECT game, count(*) AS num, window_start AS starttime
				        FROM TUMBLE(TABLE scores, DESCRIPTOR(at), INTERVAL '10' SECOND)
				        GROUP BY game, window_start, window_end) AS c)
				WHERE r <= 1`)
			t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
			const rounds = 8
			var want []string
			id := int64(0)
			for k := range rounds + 1 {
				var batch []topnScore
				counts := map[string]int{}
				for g := range 12 {
					game := fmt.Sprintf("g%02d", g)
					m := 1 + (g*7+k*5)%12 // a different winner per window
					for i := range m {
						id++
						batch = append(batch, topnScore{part: int32(i % 3), id: id, game: game,
							at: t0.Add(time.Duration(k)*10*time.Second + time.Duration(i%7)*time.Second)})
					}
					counts[game] = m
				}
				if k < rounds {
					best := ""
					for g, c := range counts {
						if best == "" || c > counts[best] || (c == counts[best] && g < best) {
							best = g
						}
					}
					want = append(want, fmt.Sprintf("%s|%s|%d", t0.Add(time.Duration(k)*10*time.Second).Format(time.TimeOnly), best, counts[best]))
				}
				produceScores(t, n.tr, batch)
				time.Sleep(450 * time.Millisecond)
			}
			time.Sleep(time.Second)
			var got []string
			for _, r := range readExactly(t, n.tr, "out", 1) {
				var row struct {
					Game      string `json:"game"`
					Num       int    `json:"num"`
					StartTime string `json:"starttime"`
				}
				if err := json.Unmarshal(r.Value, &row); err != nil {
					t.Fatal(err)
				}
				at, err := time.Parse("2006-01-02T15:04:05.999999", row.StartTime)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, fmt.Sprintf("%s|%s|%d", at.Format(time.TimeOnly), row.Game, row.Num))
			}
			slices.Sort(got)
			slices.Sort(want)
			ends, err := n.tr.EndOffsets(t.Context(), "late")
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("late (both stages): %d; in the source's late.topic (the aggregation's): %v", e.mu.pipelines["hot"].stats.late.Load(), ends)
			compareRows(t, got, want)
		})
	}
}

// TestChainBoundedFinish: a bounded input finishes both stages and
// the top-N has every window's rows.
func TestChainBoundedFinish(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, `CREATE SOURCE gen (k int, v bigint) WITH (connector = 'datagen', "number-of-rows" = '1000', "rows-per-second" = '0',
		partitions = '2', seed = '5', fields.k.min = '0', fields.k.max = '4', fields.v.min = '1', fields.v.max = '10')`)
	mustExec(t, e, `CREATE SINK top_k WITH (connector = 'topic', topic = 'top_k') AS
		SELECT k, n, ws FROM (SELECT k, n, ws, ROW_NUMBER() OVER (PARTITION BY ws ORDER BY n DESC, k) AS r
		  FROM (SELECT k, count(*) AS n, window_start AS ws FROM TUMBLE(TABLE gen, DESCRIPTOR(_timestamp), INTERVAL '1' MINUTE)
		GROUP BY k, window_start, window_end) AS c) WHERE r <= 5`)
	waitFor(t, "the pipeline to finish", func() bool { return showRow(t, e, "SINKS", "top_k")["state"] == stateFinished })
	ends, err := n.tr.EndOffsets(t.Context(), "top_k")
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, end := range ends {
		rows += int(end)
	}
	if rows < 5 {
		t.Fatalf("finished with %d rows; want 5 per window", rows)
	}
	total := int64(0)
	for _, r := range readAll(t, n.tr, "top_k", rows) {
		var row struct{ N int64 }
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatal(err)
		}
		total += row.N
	}
	if total != 1000 {
		t.Fatalf("rows count %d events, want 1000", total)
	}
}

// TestChainDrop: DROP removes both stages' topics and state.
func TestChainDrop(t *testing.T) {
	n := openNode(t, t.TempDir())
	stateDir := t.TempDir()
	e := openEngineWith(t, n, func(cfg *Config) { cfg.StateDir = stateDir })
	t.Cleanup(func() { closeEngine(t, e); n.close(t) })
	mustExec(t, e, topnScores)
	mustExec(t, e, `CREATE SINK hot WITH (connector = 'topic', topic = 'out', delivery.guarantee = 'exactly_once') AS
		SELECT game, num, starttime FROM (
		  SELECT game, num, starttime, RANK() OVER (PARTITION BY starttime ORDER BY num DESC) AS r
		  FROM (SELECT game, count(*) AS num, window_start AS starttime
		        FROM TUMBLE(TABLE scores, DESCRIPTOR(at), INTERVAL '10' SECOND)
		        GROUP BY game, window_start, window_end) AS c)
		WHERE r <= 1`)
	produceScores(t, n.tr, genScores(3, 300))
	p := e.mu.pipelines["hot"]
	st := p.stateful
	waitFor(t, "rows ranked", func() bool { return p.stats.aggregated.Load() > 300 })
	time.Sleep(500 * time.Millisecond)
	t.Logf("state memory %d (stage 1 %d, stage 2 %d)", p.stats.stateMemory.Load(), st.stage.memory.Load(), st.next.stage.memory.Load())
	mustExec(t, e, `DROP SINK hot`)
	for _, s := range []*stateful{st, st.next} {
		for _, topic := range []string{s.repartition, s.changelog} {
			if _, err := n.tr.Topic(t.Context(), topic); err == nil {
				t.Errorf("topic %s left after DROP", topic)
			}
		}
	}
	if ents, _ := os.ReadDir(stateDir); len(ents) > 0 {
		t.Errorf("state left: %v", ents)
	}
}

// TestChainCommitFaults: exactly-once top-N over window counts with
// failed commits (fenced, and unknown outcome that in fact commits) in
// both stages: the result is still the oracle's.
func TestChainCommitFaults(t *testing.T) {
	scores := spreadScores(29, 3000)
	want := hotGamesOracle(scores)
	n := openNode(t, t.TempDir())
	ft := newFaultTransport(n.tr, "tide-agg-")
	var calls, injected atomic.Int64
	ft.setCommitFault(func(id string) commitFault {
		c := calls.Add(1)
		if c%7 == 3 && injected.Load() < 12 {
			injected.Add(1)
			if c%2 == 0 {
				return faultFenced
			}
			return faultUnknownCommitted
		}
		return faultNone
	})
	e := openEngineWith(t, n, func(cfg *Config) { cfg.StateDir = t.TempDir(); cfg.Transport = ft })
	t.Cleanup(func() { closeEngine(t, e); n.close(t) })
	mustExec(t, e, topnScores)
	mustExec(t, e, fmt.Sprintf(hotGamesQuery, ", delivery.guarantee = 'exactly_once'"))
	for i := 0; i < len(scores); i += 300 {
		produceScores(t, n.tr, scores[i:min(i+300, len(scores))])
		time.Sleep(150 * time.Millisecond)
	}
	flushScores(t, n.tr, scores)
	got := hotGamesRows(t, n.tr, len(want))
	t.Logf("%d faults injected, late %d", injected.Load(), e.mu.pipelines["hot"].stats.late.Load())
	compareRows(t, got, want)
}
