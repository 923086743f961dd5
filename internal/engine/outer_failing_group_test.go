package engine

import (
	"testing"
	"time"
)

// A subquery group whose row cannot be computed (its sum(DISTINCT)
// overflows when Result folds it, after Add took the value) has nothing
// to take back at its next change: the partition's other groups go on
// (the row's failure is the group's, dead-lettered; not the stage's,
// which would restart on the same record for ever).
func TestOuterAggregationSurvivesAFailingGroup(t *testing.T) {
	n, e := clicksEngine(t)
	mustExec(t, e, `CREATE SINK poison WITH (connector = 'topic', topic = 'poison') AS
		SELECT count(*) AS users, sum(c) AS clicks FROM (
		  SELECT user_id, count(*) AS c, sum(DISTINCT INTERVAL '1 month' * (1000000000 + amount)) AS s FROM clicks GROUP BY user_id)`)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ev := func(user int, amount int64, i int) clickEvent {
		return clickEvent{partition: 0, user: user, amount: amount, ts: base.Add(time.Duration(i) * time.Second)}
	}
	// user 1: three distinct amounts (the third overflows the DISTINCT sum's months at Result)
	produceClicks(t, n.tr, "clicks", []clickEvent{ev(1, 1, 0), ev(1, 2, 1), ev(1, 3, 2), ev(2, 1, 3)})
	waitFor(t, "the first rows", func() bool {
		return currentRows(t, n, "poison")[""] == `{"users":2,"clicks":3}`
	})
	t.Logf("after the first batch: %v, sink %v", currentRows(t, n, "poison"), showRow(t, e, "SINKS", "poison"))
	time.Sleep(500 * time.Millisecond) // a checkpoint or two
	// One more event of user 1, and of user 2: user 2's must count.
	produceClicks(t, n.tr, "clicks", []clickEvent{ev(1, 1, 3), ev(2, 1, 4)})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if currentRows(t, n, "poison")[""] == `{"users":2,"clicks":4}` {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("user 2's event never counted: rows %v, sink %v", currentRows(t, n, "poison"), showRow(t, e, "SINKS", "poison"))
}
