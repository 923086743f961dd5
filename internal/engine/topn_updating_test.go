package engine

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"
)

// A top-N over a GROUP BY without a window (plan.TopN.Retracting): each
// changed group reaches the top-N's tasks at a checkpoint as its old row
// taken back and its new one, and every group is kept, so one rises into
// the first N when another falls or leaves. Two queries, checked after
// every batch against a brute-force ranking of the input so far (the sink
// topic read to its end, the last row per key, tombstones deleting):
//
//   - the three users with the largest total per bucket (user_id % 4):
//     totals only grow, so users overtake each other;
//   - the five users with the most clicks, of those with an odd count
//     (HAVING): a user leaves and comes back with each click, so
//     positions empty (tombstones) and rows rise from below the first
//     five.
//
// With exactly-once the engine is stopped halfway and started again on an
// empty state directory (the state comes back from the changelogs).
func TestTopNOverGroupByAgainstOracle(t *testing.T) {
	events := genClicks(29, 3000, 3, 40, time.Second)
	clicksInBatches(t, []clicksRun{atLeastOnce, exactlyOnceRestarted}, events, 300,
		func(t *testing.T, e *Engine, opts string) {
			mustExec(t, e, `CREATE SINK leaders WITH (connector = 'topic', topic = 'leaders'`+opts+`) AS
				SELECT bucket, user_id, total, rn FROM (
				  SELECT *, ROW_NUMBER() OVER (PARTITION BY bucket ORDER BY total DESC, user_id) AS rn
				  FROM (SELECT user_id % 4 AS bucket, user_id, sum(amount) AS total FROM clicks GROUP BY user_id) AS totals)
				WHERE rn <= 3`)
			mustExec(t, e, `CREATE SINK odd WITH (connector = 'topic', topic = 'odd'`+opts+`) AS
				SELECT user_id, clicks, rn FROM (
				  SELECT user_id, clicks, ROW_NUMBER() OVER (ORDER BY clicks DESC, user_id DESC) AS rn
				  FROM (SELECT user_id, count(*) AS clicks FROM clicks GROUP BY user_id HAVING count(*) % 2 = 1) AS c)
				WHERE rn <= 5`)
			if st := e.mu.pipelines["odd"].stateful; st.next == nil || st.next.topn == nil || !st.next.retract {
				t.Fatal("the pipeline does not run a retracting top-N in a second stage")
			}
		},
		func(t *testing.T, n *node, e *Engine, upTo int) {
			wantLeaders, wantOdd := topNOverGroupsOracle(events[:upTo])
			waitFor(t, fmt.Sprintf("the top rows after %d events", upTo), func() bool {
				return maps.Equal(currentRows(t, n, "leaders"), wantLeaders) && maps.Equal(currentRows(t, n, "odd"), wantOdd)
			})
			for _, sink := range []string{"leaders", "odd"} {
				if dead := showRow(t, e, "SINKS", sink)["dead_lettered"]; dead != "0" {
					t.Errorf("%s: %s rows dead-lettered", sink, dead)
				}
			}
		})
}

// topNOverGroupsOracle is the two queries' rows over events, by key (the
// partition's values and the row number as a JSON array, the row number
// alone without PARTITION BY).
func topNOverGroupsOracle(events []clickEvent) (leaders, odd map[string]string) {
	totals, clicks := map[int]int64{}, map[int]int64{}
	for _, ev := range events {
		totals[ev.user] += ev.amount
		clicks[ev.user]++
	}
	users := slices.Sorted(maps.Keys(totals))
	leaders = map[string]string{}
	for bucket := range 4 {
		var in []int
		for _, u := range users {
			if u%4 == bucket {
				in = append(in, u)
			}
		}
		slices.SortFunc(in, func(a, b int) int {
			return cmp.Or(cmp.Compare(totals[b], totals[a]), cmp.Compare(a, b))
		})
		for i, u := range in[:min(3, len(in))] {
			leaders[fmt.Sprintf("[%d,%d]", bucket, i+1)] = fmt.Sprintf(`{"bucket":%d,"user_id":%d,"total":%d,"rn":%d}`, bucket, u, totals[u], i+1)
		}
	}
	var oddUsers []int
	for _, u := range users {
		if clicks[u]%2 == 1 {
			oddUsers = append(oddUsers, u)
		}
	}
	slices.SortFunc(oddUsers, func(a, b int) int {
		return cmp.Or(cmp.Compare(clicks[b], clicks[a]), cmp.Compare(b, a))
	})
	odd = map[string]string{}
	for i, u := range oddUsers[:min(5, len(oddUsers))] {
		odd[strconv.Itoa(i+1)] = fmt.Sprintf(`{"user_id":%d,"clicks":%d,"rn":%d}`, u, clicks[u], i+1)
	}
	return leaders, odd
}

// A group whose row moves to another partition of the top-N (here as its
// click count's parity flips) is taken back from the old one: the
// positions it leaves empty are deleted (tombstones), and a partition
// left with no group holds no row.
func TestTopNOverGroupByMovesBetweenPartitions(t *testing.T) {
	n, e := clicksEngine(t)
	mustExec(t, e, `CREATE SINK parity WITH (connector = 'topic', topic = 'parity') AS
		SELECT parity, user_id, clicks, rn FROM (
		  SELECT *, ROW_NUMBER() OVER (PARTITION BY parity ORDER BY clicks DESC, user_id) AS rn
		  FROM (SELECT user_id, count(*) % 2 AS parity, count(*) AS clicks FROM clicks GROUP BY user_id) AS c)
		WHERE rn <= 2`)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clicks := 0
	click := func(user int) {
		clicks++
		produceClicks(t, n.tr, "clicks", []clickEvent{{user: user, amount: 1, ts: base.Add(time.Duration(clicks) * time.Second)}})
	}
	row := func(parity, user, clicks, rn int) string {
		return fmt.Sprintf(`{"parity":%d,"user_id":%d,"clicks":%d,"rn":%d}`, parity, user, clicks, rn)
	}
	steps := []struct {
		user int
		want map[string]string
	}{
		{1, map[string]string{"[1,1]": row(1, 1, 1, 1)}},
		{2, map[string]string{"[1,1]": row(1, 1, 1, 1), "[1,2]": row(1, 2, 1, 2)}},
		{1, map[string]string{"[0,1]": row(0, 1, 2, 1), "[1,1]": row(1, 2, 1, 1)}},
		{2, map[string]string{"[0,1]": row(0, 1, 2, 1), "[0,2]": row(0, 2, 2, 2)}},
		{2, map[string]string{"[0,1]": row(0, 1, 2, 1), "[1,1]": row(1, 2, 3, 1)}},
		{1, map[string]string{"[1,1]": row(1, 1, 3, 1), "[1,2]": row(1, 2, 3, 2)}},
	}
	for i, s := range steps {
		click(s.user)
		waitFor(t, fmt.Sprintf("the rows after click %d", i+1), func() bool {
			return maps.Equal(currentRows(t, n, "parity"), s.want)
		})
	}
}
