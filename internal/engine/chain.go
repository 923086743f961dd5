package engine

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"time"

	"github.com/tide-data/tide/internal/aggregate"
	"github.com/tide-data/tide/internal/eventtime"
	"github.com/tide-data/tide/internal/sql/plan"
	"github.com/tide-data/tide/internal/sql/types"
	"github.com/tide-data/tide/internal/transport"
)

// A top-N over a window aggregation (plan.TopN.Over) runs as two
// stateful stages of one pipeline, the second fed by the first through
// a repartition topic of its own:
//
//	shuffle ──► .repartition ──► aggregate tasks ──► .rank.repartition ──► top-N tasks ──► sink
//
// At each checkpoint an aggregate task turns the windows it fired into
// the subquery's rows (TopN.Over), evaluates the top-N's PARTITION BY
// (the record key), ORDER BY and columns over them — what a shuffle task
// does for a top-N over a source — and writes them with the checkpoint
// (in its transaction, with exactly-once). After them it punctuates every
// partition of the second topic with its watermark, as its origin: the
// top-N stage's watermark is then the aggregate stage's exactly, with no
// lateness to declare, and the end of a bounded input, which fires every
// window, reaches the top-N too.
//
// A row's event time is its window's end; its identity (the top-N's
// origin partition and offset) is the aggregate task and a hash of the
// group key and window, the same when a replay fires the window again
// (at-least-once), so the top-N stores it once.

// rankStage names the second stage's internal topics, group and state.
const rankStage = "rank"

// newRankStage makes the second stage of a top-N over an aggregation.
func newRankStage(first *stateful) *stateful {
	st := *first
	st.agg, st.topn, st.next, st.stage = nil, first.query.TopN, nil, nil
	st.repartition = first.repartition[:len(first.repartition)-len(".repartition")] + "." + rankStage + ".repartition"
	st.changelog = first.changelog[:len(first.changelog)-len(".changelog")] + "." + rankStage + ".changelog"
	st.group = first.group + "." + rankStage
	st.stateDir = first.stateDir + "/" + rankStage
	st.origins = first.partitions // each aggregate task is an origin
	st.lateTopic, st.wmExpr = "", false
	return &st
}

// chainWindow adds a fired window's row to the checkpoint's records for
// the next stage, or a dead letter when an expression fails on it.
func (s *aggStage) chainWindow(t *aggTask, out *resultWriter, r *aggregate.Result) {
	next, tn := s.st.next, s.st.next.topn
	row, _, err := aggregatedRow(s.st.agg, r)
	if err != nil {
		out.deadResult(r, stageAggregate, err)
		return
	}
	if h := s.st.agg.Having; h != nil {
		v, err := h.Eval(row)
		if err != nil {
			out.deadResult(r, stageHaving, err)
			return
		}
		if v.IsNull() || !v.Bool() {
			return
		}
	}
	over := make(types.Row, len(tn.Over))
	for i, o := range tn.Over {
		if over[i], err = o.Expr.Eval(row); err != nil {
			out.deadRow([]byte(r.Key), row, stageProject, err)
			return
		}
	}
	var key []byte
	for _, e := range tn.Partition {
		v, err := e.Eval(over)
		if err != nil {
			out.deadRow([]byte(r.Key), over, stageGroup, err)
			return
		}
		key = types.AppendGroupKey(key, v)
	}
	h := fnv.New64a()
	h.Write([]byte(r.Key))
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(r.Window.Start)))
	value := binary.AppendVarint(nil, r.Window.End)
	value = binary.AppendVarint(value, int64(t.partition))
	value = binary.AppendVarint(value, int64(h.Sum64()))
	for _, e := range topnShuffleArgs(tn) {
		v, err := e.Eval(over)
		if err != nil {
			out.deadRow([]byte(r.Key), over, stageGroup, err)
			return
		}
		value = types.AppendBinary(value, v)
	}
	t.chained = append(t.chained, &transport.Record{Topic: next.repartition, Partition: groupPartition(key, next.partitions),
		Key: key, Value: value, Timestamp: time.Now()})
}

// chainWatermark adds, when the task's watermark moved since the last
// one it sent, a punctuation of every partition of the next stage's
// topic: the windows ending at or before it are all in the records
// before. The top-N completes a partition when the watermark is past its
// time (a window's end), hence one more microsecond.
func (s *aggStage) chainWatermark(t *aggTask) {
	wm := t.firedWM
	if wm == eventtime.NoWatermark || wm <= t.chainedWM {
		return
	}
	next := wm
	if wm != endOfInput && wm != math.MaxInt64-1 {
		next = wm + 1
	}
	for part := range s.st.next.partitions {
		t.chained = append(t.chained, &transport.Record{Topic: s.st.next.repartition, Partition: part, Timestamp: time.Now(),
			Headers: []transport.Header{{Key: headerWatermark, Value: appendPunctuation(nil, t.partition, next)}}})
	}
	t.pendingWM = wm
}

// aggregatedRow is a result's aggregated row: its group keys, window
// bounds and aggregate values (plan.Aggregation.RowColumns); and the keys
// alone.
func aggregatedRow(agg *plan.Aggregation, r *aggregate.Result) (row, keys types.Row, err error) {
	keys = make(types.Row, len(agg.Keys))
	if _, err := types.ReadBinaryRow([]byte(r.Key), keys); err != nil {
		return nil, nil, err
	}
	row = make(types.Row, 0, len(agg.Keys)+2+len(r.Values))
	row = append(row, keys...)
	if agg.Window != nil {
		row = append(row, windowBound(agg, r.Window.Start), windowBound(agg, r.Window.End))
	}
	return append(row, r.Values...), keys, nil
}
