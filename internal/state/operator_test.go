package state_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tide-data/tide/internal/aggregate"
	"github.com/tide-data/tide/internal/eventtime"
	"github.com/tide-data/tide/internal/sql/expr"
	"github.com/tide-data/tide/internal/sql/types"
	"github.com/tide-data/tide/internal/state"
	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/transport/embedded/embeddedtest"
)

// The task's loop end to end: a GROUP BY operator checkpointed through a
// store and its changelog on the embedded log, its task moved at random
// checkpoints — to a new worker (a new store restored from the
// changelog) or back to one that has an old copy (reopened, replaying
// what it lacks) — emits exactly the rows of an operator that never
// moved.
func TestOperatorMovesBetweenWorkers(t *testing.T) {
	ctx := context.Background()
	tr := embeddedtest.New(t)
	changelog := transport.TopicPartition{Topic: "sessions-changelog", Partition: 0}
	if err := tr.CreateTopic(ctx, transport.TopicSpec{Name: changelog.Topic, Partitions: 1, Configs: map[string]string{"cleanup.policy": "compact"}}); err != nil {
		t.Fatal(err)
	}
	count, _ := expr.NewAggregate("count", true, false, types.KindNull)
	sum, _ := expr.NewAggregate("sum", false, false, types.KindInt8)
	maxAgg, _ := expr.NewAggregate("max", false, false, types.KindInt8)
	spec := aggregate.Spec{Window: &eventtime.Spec{Kind: eventtime.Session, Gap: 30}, Aggs: []expr.Aggregate{count, sum, maxAgg}}
	newOp := func() *aggregate.Operator {
		op, err := aggregate.New(spec)
		if err != nil {
			t.Fatal(err)
		}
		return op
	}
	ref, op := newOp(), newOp()
	workers := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	store, err := state.Open(workers[0])
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(41, 42))
	var got, want []string
	fire := func(wm int64) {
		rows, err := op.Fire(wm)
		if err != nil {
			t.Fatal(err)
		}
		refRows, err := ref.Fire(wm)
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range rows {
			got = append(got, fmt.Sprint(row.Key, row.Window, row.Values))
		}
		for _, row := range refRows {
			want = append(want, fmt.Sprint(row.Key, row.Window, row.Values))
		}
	}
	ts, moves := int64(0), 0
	for i := range 3000 {
		ts += r.Int64N(10)
		key, v := fmt.Sprint("user-", r.IntN(50)), types.NewInt8(r.Int64N(100))
		evTS := ts - r.Int64N(20)
		_, err1 := op.Add(key, evTS, []types.Value{v, v, v})
		_, err2 := ref.Add(key, evTS, []types.Value{v, v, v})
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("event %d: %v, uninterrupted %v", i, err1, err2)
		}
		if i%10 == 0 {
			fire(ts - 25)
		}
		if r.IntN(50) != 0 {
			continue
		}
		// Checkpoint: the changes, produced, then committed.
		cp := store.NewCheckpoint(changelog)
		if err := op.Changes(cp.Put); err != nil {
			t.Fatal(err)
		}
		if err := tr.Produce(ctx, cp.Records()); err != nil {
			t.Fatal(err)
		}
		if err := store.Commit(cp); err != nil {
			t.Fatal(err)
		}
		if r.IntN(3) != 0 {
			continue
		}
		// The task moves to a worker, whatever copy it has.
		if err := store.Close(); err != nil {
			t.Fatal(err)
		}
		if store, err = state.Open(workers[r.IntN(len(workers))]); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Restore(ctx, tr, changelog); err != nil {
			t.Fatal(err)
		}
		op = newOp()
		if err := store.Scan(op.Load); err != nil {
			t.Fatal(err)
		}
		moves++
	}
	fire(1 << 62)
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	if moves < 5 || len(want) < 100 {
		t.Fatalf("%d moves, %d rows: the test tests little", moves, len(want))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%d rows, uninterrupted %d; first difference at %d", len(got), len(want), firstDiff(got, want))
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
