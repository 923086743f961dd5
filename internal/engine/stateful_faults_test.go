package engine

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/sql/types"
	"github.com/tide-data/tide/internal/transport"
)

// userTotals is the oracle of an updating count and sum by user.
func userTotals(events []clickEvent) map[string]windowAgg {
	want := map[string]windowAgg{}
	for _, ev := range events {
		k := fmt.Sprint(ev.user)
		a := want[k]
		a.count++
		a.sum += ev.amount
		want[k] = a
	}
	return want
}

// waitTotals waits until the updating result's rows count at least the
// oracle's events, then checks every group is exact: a duplicate shows
// as a count too high, a loss as one never reached.
func waitTotals(t *testing.T, tr transport.Transport, topic string, want map[string]windowAgg) {
	t.Helper()
	total := int64(0)
	for _, w := range want {
		total += w.count
	}
	var last map[string]windowAgg
	deadline := time.Now().Add(15 * time.Second)
	for {
		last = latestPerKey(t, tr, topic)
		n := int64(0)
		for _, g := range last {
			n += g.count
		}
		if n >= total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the groups count %d events of %d: events lost", n, total)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // let any duplicate land too
	last = latestPerKey(t, tr, topic)
	bad := 0
	for k, w := range want {
		if g := last[k]; g != w {
			if bad++; bad <= 5 {
				t.Errorf("group %s: got %+v, want %+v", k, g, w)
			}
		}
	}
	if len(last) != len(want) {
		t.Errorf("%d groups, want %d", len(last), len(want))
	}
}

const totalsSinkEO = `CREATE SINK totals WITH (connector = 'topic', topic = 'totals', delivery.guarantee = 'exactly_once') AS
	SELECT user_id, count(*) AS n, sum(amount) AS total FROM clicks GROUP BY user_id`

// TestShuffleCommitUnknownOutcome fails a shuffle task's first commit
// with an unknown outcome while the transaction in fact commits (the
// coordinator completes it when the id's next producer starts): the
// retry must find it committed, not write the batch a second time.
func TestShuffleCommitUnknownOutcome(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	ft := newFaultTransport(n.tr, "tide-sink-")
	var injected atomic.Bool
	ft.setCommitFault(func(string) commitFault {
		if injected.CompareAndSwap(false, true) {
			return faultUnknownCommitted
		}
		return faultNone
	})
	e := openEngineWith(t, n, func(c *Config) { c.Transport = ft })
	defer closeEngine(t, e)
	mustExec(t, e, clicksSource)
	mustExec(t, e, totalsSinkEO)
	events := genClicks(21, 600, 3, 10, time.Second)
	produceClicks(t, n.tr, "clicks", events)
	waitTotals(t, n.tr, "totals", userTotals(events))
	if !injected.Load() {
		t.Fatal("no fault was injected")
	}
}

// TestShuffleFencedBatchNotSkipped fences a shuffle task's transaction:
// the batch is not written, and a later batch of the partition must not
// commit offsets past it (its events would be lost).
func TestShuffleFencedBatchNotSkipped(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	ft := newFaultTransport(n.tr, "tide-sink-")
	fenced := make(chan struct{})
	var injected atomic.Bool
	ft.setCommitFault(func(string) commitFault {
		if injected.CompareAndSwap(false, true) {
			close(fenced)
			return faultFenced
		}
		return faultNone
	})
	e := openEngineWith(t, n, func(c *Config) { c.Transport = ft })
	defer closeEngine(t, e)
	mustExec(t, e, `CREATE SOURCE clicks (user_id int, amount bigint, ts timestamp)
		WITH (connector = 'topic', topic = 'clicks', topic.partitions = '1')`)
	mustExec(t, e, totalsSinkEO)
	events := genClicks(22, 400, 1, 10, time.Second)
	produceClicks(t, n.tr, "clicks", events[:200])
	select {
	case <-fenced:
	case <-time.After(10 * time.Second):
		t.Fatal("the first batch was never committed")
	}
	time.Sleep(100 * time.Millisecond)
	produceClicks(t, n.tr, "clicks", events[200:])
	waitTotals(t, n.tr, "totals", userTotals(events))
}

// TestMalformedRepartitionRecords writes records to a pipeline's
// repartition topic that Tide did not make: undecodable, with an
// argument of the wrong type (which would panic a numeric sum) and with
// an event time no window can hold. Each is dead-lettered and skipped;
// the pipeline goes on with good events and does not crash.
func TestMalformedRepartitionRecords(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, `CREATE SOURCE pay (user_id int, amount numeric, ts timestamp, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
		WITH (connector = 'topic', topic = 'pay', topic.partitions = '1')`)
	mustExec(t, e, `CREATE SINK sums WITH (connector = 'topic', topic = 'sums') AS
		SELECT user_id, window_start, window_end, count(*) AS n, sum(amount) AS total
		FROM TUMBLE(TABLE pay, DESCRIPTOR(ts), INTERVAL '10' SECOND) GROUP BY user_id, window_start, window_end`)
	p := e.mu.pipelines["sums"]
	repartition := p.stateful.repartition
	key := types.AppendGroupKey(nil, types.NewInt4(1))
	value := func(ts int64, arg types.Value) []byte {
		b := binary.AppendVarint(nil, ts)
		b = binary.AppendVarint(b, 0)
		b = binary.AppendVarint(b, 99)
		b = types.AppendBinary(b, types.Value{}) // count(*)
		return types.AppendBinary(b, arg)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	bad := []*transport.Record{
		{Topic: repartition, Partition: 0, Key: key, Value: []byte{0x01}},
		{Topic: repartition, Partition: 0, Key: key, Value: value(base, types.NewText("12"))},
		{Topic: repartition, Partition: 0, Key: key, Value: value(types.TimestampInfinity-5, types.Null(types.KindNumeric))},
		{Topic: repartition, Partition: 0, Key: []byte{0xff}, Value: value(base, types.Null(types.KindNumeric))},
		{Topic: repartition, Partition: 0, Headers: []transport.Header{{Key: headerWatermark, Value: []byte{0x80}}}},
	}
	ctx := context.Background()
	if err := n.tr.Produce(ctx, bad); err != nil {
		t.Fatal(err)
	}
	if err := n.tr.Produce(ctx, []*transport.Record{
		{Topic: "pay", Partition: 0, Value: []byte(`{"user_id":1,"amount":2.5,"ts":"2026-01-01 00:00:01"}`)},
		{Topic: "pay", Partition: 0, Value: []byte(`{"user_id":1,"amount":4,"ts":"2026-01-01 00:00:03"}`)},
		{Topic: "pay", Partition: 0, Value: []byte(`{"user_id":1,"amount":0,"ts":"2026-01-01 00:01:00"}`)},
	}); err != nil {
		t.Fatal(err)
	}
	out := readAll(t, n.tr, "sums", 1)
	if got := string(out[0].Value); !strings.Contains(got, `"n":2`) || !strings.Contains(got, `"total":6.5`) {
		t.Errorf("window row %s, want n 2 and total 6.5", got)
	}
	dead := readAll(t, n.tr, "sums.dlq", len(bad))
	for _, d := range dead {
		if header(d, HeaderStage) != stageRepartition || header(d, HeaderError) == "" || header(d, HeaderTopic) != repartition {
			t.Errorf("dead letter headers %v: want stage %s, an error, origin topic %s", d.Headers, stageRepartition, repartition)
		}
	}
	waitFor(t, "the dead letters counted", func() bool { return p.stats.dead.Load() == int64(len(bad)) })
}

// TestInfiniteEventTime sends an event whose time is 'infinity': it is
// dead-lettered at the shuffle, and neither moves the watermark to the
// end of time (every later event would be late) nor leaves a window the
// state cannot hold (a restart would fail on it for ever).
func TestInfiniteEventTime(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	stateDir := t.TempDir()
	withState := func(c *Config) { c.StateDir = stateDir }
	e := openEngineWith(t, n, withState)
	mustExec(t, e, `CREATE SOURCE clicks (user_id int, amount bigint, ts timestamp, WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
		WITH (connector = 'topic', topic = 'clicks', topic.partitions = '1')`)
	mustExec(t, e, `CREATE SINK per_user WITH (connector = 'topic', topic = 'per_user') AS
		SELECT user_id, window_start, window_end, count(*) AS n, sum(amount) AS total
		FROM TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND)
		GROUP BY user_id, window_start, window_end`)
	events := genClicks(5, 200, 1, 5, time.Second)
	produceClicks(t, n.tr, "clicks", events[:100])
	if err := n.tr.Produce(context.Background(), []*transport.Record{
		{Topic: "clicks", Partition: 0, Value: []byte(`{"user_id":7,"amount":1,"ts":"infinity"}`)},
		{Topic: "clicks", Partition: 0, Value: []byte(`{"user_id":7,"amount":1,"ts":"-infinity"}`)},
	}); err != nil {
		t.Fatal(err)
	}
	dead := readAll(t, n.tr, "per_user.dlq", 2)
	for _, d := range dead {
		if h := header(d, HeaderStage); h != stageEventTime {
			t.Errorf("dead letter stage %q, want %q", h, stageEventTime)
		}
	}
	time.Sleep(2 * defaultCheckpointInterval)
	closeEngine(t, e)
	e = openEngineWith(t, n, withState)
	defer closeEngine(t, e)
	produceClicks(t, n.tr, "clicks", events[100:])
	flush := events[len(events)-1].ts.Add(time.Minute)
	produceClicks(t, n.tr, "clicks", flushEvents(1, flush))
	want := tumbleOracle(events, 10*time.Second, flush.Add(-2*time.Second))
	got := decodeWindowRows(t, readAll(t, n.tr, "per_user", len(want)))
	compareWindows(t, got, want)
}

func header(r *transport.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// TestRemoteDropRemovesState drops a stateful sink on one worker: the
// other worker, which ran the pipeline too, removes its local state.
func TestRemoteDropRemovesState(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	dir1, dir2 := t.TempDir(), t.TempDir()
	e1 := openEngineWith(t, n, func(c *Config) { c.WorkerID, c.StateDir = "w1", dir1 })
	defer closeEngine(t, e1)
	e2 := openEngineWith(t, n, func(c *Config) { c.WorkerID, c.StateDir = "w2", dir2 })
	defer closeEngine(t, e2)
	mustExec(t, e1, clicksSource)
	mustExec(t, e1, `CREATE SINK totals WITH (connector = 'topic', topic = 'totals') AS
		SELECT user_id, count(*) AS n FROM clicks GROUP BY user_id`)
	var state2 string
	waitFor(t, "the sink on the second worker", func() bool {
		e2.mu.Lock()
		defer e2.mu.Unlock()
		if p := e2.mu.pipelines["totals"]; p != nil {
			state2 = p.stateful.stateDir
			return true
		}
		return false
	})
	if !strings.HasPrefix(state2, dir2) {
		t.Fatalf("the second worker's state is in %s, not under %s", state2, dir2)
	}
	if _, err := os.Stat(state2); err != nil {
		t.Fatal(err)
	}
	mustExec(t, e1, `DROP SINK totals`)
	waitFor(t, "the second worker's state removed", func() bool {
		_, err := os.Stat(state2)
		return os.IsNotExist(err)
	})
	if entries, _ := os.ReadDir(dir1); len(entries) != 0 {
		t.Errorf("the first worker's state directory holds %v", entries)
	}
}

// TestShuffleAlignsWithCommittedOffset has another producer take a
// shuffle task's transactional id (another worker that had the
// partition) and commit the partition's offsets elsewhere: the task's
// next transaction is fenced, and it realigns its batch with the
// committed offset — skipping the inputs committed past it, or reading
// again those between the offset and its batch.
func TestShuffleAlignsWithCommittedOffset(t *testing.T) {
	for _, tc := range []struct {
		name      string
		committed int64 // set by the other producer after 100 inputs
	}{{"ahead", 150}, {"behind", 80}} {
		t.Run(tc.name, func(t *testing.T) {
			n := openNode(t, t.TempDir())
			defer n.close(t)
			e := openEngine(t, n)
			defer closeEngine(t, e)
			mustExec(t, e, `CREATE SOURCE clicks (user_id int, amount bigint, ts timestamp)
				WITH (connector = 'topic', topic = 'clicks', topic.partitions = '1')`)
			mustExec(t, e, totalsSinkEO)
			events := genClicks(23, 200, 1, 10, time.Second)
			produceClicks(t, n.tr, "clicks", events[:100])
			waitTotals(t, n.tr, "totals", userTotals(events[:100]))

			group := e.mu.pipelines["totals"].group
			ctx := context.Background()
			other, err := n.tr.NewTxnProducer(ctx, group+"-clicks-0")
			if err != nil {
				t.Fatal(err)
			}
			if err := other.Begin(ctx); err != nil {
				t.Fatal(err)
			}
			tp := transport.TopicPartition{Topic: "clicks", Partition: 0}
			if err := other.Commit(ctx, group, []transport.PartitionOffset{{TopicPartition: tp, Offset: tc.committed}}); err != nil {
				t.Fatal(err)
			}
			if err := other.Close(ctx); err != nil {
				t.Fatal(err)
			}
			produceClicks(t, n.tr, "clicks", events[100:])
			// Ahead, [100, committed) is someone else's; behind,
			// [committed, 100) is counted twice (nobody's, says the offset).
			want := append(slices.Clone(events[:100]), events[tc.committed:]...)
			waitTotals(t, n.tr, "totals", userTotals(want))
		})
	}
}

// TestActivePartitionHoldsWatermark has one source partition send events
// that do not move its watermark (old ones, within the lateness) while
// another runs ahead: the first is not idle — it sends — so it keeps
// holding the watermark, and its events are not late.
func TestActivePartitionHoldsWatermark(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, `CREATE SOURCE clicks (user_id int, amount bigint, ts timestamp, WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
		WITH (connector = 'topic', topic = 'clicks', topic.partitions = '2', watermark.idle_timeout = '400ms')`)
	mustExec(t, e, `CREATE SINK per_user WITH (connector = 'topic', topic = 'per_user') AS
		SELECT user_id, window_start, window_end, count(*) AS n, sum(amount) AS total
		FROM TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND)
		GROUP BY user_id, window_start, window_end`)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var ahead []clickEvent
	for i := range 60 {
		ahead = append(ahead, clickEvent{partition: 1, user: 1, amount: 1, ts: base.Add(time.Duration(i) * time.Second)})
	}
	produceClicks(t, n.tr, "clicks", []clickEvent{{partition: 0, user: 0, amount: 1, ts: base.Add(5 * time.Second)}})
	produceClicks(t, n.tr, "clicks", ahead)
	for i := range 12 {
		time.Sleep(100 * time.Millisecond)
		produceClicks(t, n.tr, "clicks", []clickEvent{
			{partition: 0, user: 0, amount: 1, ts: base.Add(4 * time.Second)},
			{partition: 1, user: 1, amount: 1, ts: base.Add(time.Duration(60+i) * time.Second)},
		})
	}
	p := e.mu.pipelines["per_user"]
	if late := p.stats.late.Load(); late != 0 {
		t.Fatalf("%d events of the partition that kept sending were late", late)
	}
	if wm := p.stats.watermark.Load(); wm != base.Add(3*time.Second).UnixMicro() {
		t.Errorf("watermark %s, want %s (held by partition 0)", time.UnixMicro(wm).UTC(), base.Add(3*time.Second))
	}
}

// TestAggregateCommitUnknownOutcome fails an aggregate task's checkpoint
// with an unknown outcome while its transaction in fact commits: the
// stage restarts from what committed — results, state and offsets
// together — so every group is exact, and the sink runs again.
func TestAggregateCommitUnknownOutcome(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	ft := newFaultTransport(n.tr, "tide-agg-")
	var injected atomic.Bool
	ft.setCommitFault(func(string) commitFault {
		if injected.CompareAndSwap(false, true) {
			return faultUnknownCommitted
		}
		return faultNone
	})
	e := openEngineWith(t, n, func(c *Config) { c.Transport = ft })
	defer closeEngine(t, e)
	mustExec(t, e, clicksSource)
	mustExec(t, e, totalsSinkEO)
	events := genClicks(24, 600, 3, 10, time.Second)
	produceClicks(t, n.tr, "clicks", events)
	waitTotals(t, n.tr, "totals", userTotals(events))
	if !injected.Load() {
		t.Fatal("no fault was injected")
	}
	waitFor(t, "the sink running again", func() bool { return showRow(t, e, "SINKS", "totals")["state"] == stateRunning })
}
