package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tide-data/tide/internal/aggregate"
	"github.com/tide-data/tide/internal/eventtime"
	"github.com/tide-data/tide/internal/sql/expr"
	"github.com/tide-data/tide/internal/sql/plan"
	"github.com/tide-data/tide/internal/sql/types"
	"github.com/tide-data/tide/internal/transport"
)

// Four shapes of query run as chained stateful stages of one pipeline,
// each stage fed by the one before through a repartition topic of its
// own: a top-N over an aggregation (plan.TopN.Over: its windows' rows,
// or its updating groups' with retractions: chainRanked) or over a join
// of two streams (chainRankedJoined), an aggregation of a join of two
// streams, and an aggregation of an aggregation's groups (plan.Outer,
// fed with retractions: chainUpdate) or of its windows' rows (fed as
// the windows close, then the watermark: chainClosed).
// For the first:
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
// The aggregation over a join goes the same way: the join tasks send each
// checkpoint's joined rows, WHERE applied, keyed by the group key, with
// the aggregates' arguments (chainJoined), and an updating (regular
// outer) join's NULL-padded rows taken back. The aggregation has no
// window (its rows update), so its watermark plays no part. Grouped by
// the join key, the join's tasks aggregate the rows themselves
// (aggregateJoined): no stage in between.
//
// A row's event time is its window's end; its identity (the top-N's
// origin partition and offset) is the aggregate task and a hash of the
// group key and window, the same when a replay fires the window again
// (at-least-once), so the top-N stores it once.

// The names of a next stage's internal topics, group and state, after
// the one before's: a top-N's, an aggregation's, an outer aggregation's.
const (
	rankStage       = "rank"
	windowRankStage = "window-rank" // a final top-N over an inner window join's rows, by window_end
	groupStage      = "group"
	windowStage     = "window" // an inner window join's pairs aggregated by their windows
	outerStage      = "outer"
	// joinStage, numbered from 2, runs a later join of a join of more
	// than two streams (chainStreamJoins).
	joinStage = "join"
)

// newNextStage makes the next stage of a pipeline from the one before:
// the top-N over its windows (name rankStage), the aggregation of its
// joined rows (groupStage), or of its groups' rows (outerStage).
func newNextStage(first *stateful, name string) *stateful {
	st := *first
	st.agg, st.join, st.topn, st.next, st.stage, st.retract = nil, nil, nil, nil, nil, false
	switch name {
	case rankStage, windowRankStage:
		// Over a GROUP BY without a window, a group's new row replaces
		// its old one, taken back.
		st.topn, st.retract = first.query.TopN, first.query.TopN.Retracting
	case groupStage, windowStage:
		// An updating join takes back the NULL-padded rows it replaces.
		st.agg, st.retract = first.query.Aggregation, first.query.StreamJoin.Updates()
	case outerStage:
		// Over a GROUP BY without a window, a group's new row replaces
		// its old one, taken back; a window's row is final.
		st.agg, st.retract = first.query.Outer.Aggregation, first.query.Aggregation.Window == nil
	}
	st.early = 0                        // emit.early is the first stage's (and refused before a next one)
	st.joinIndex, st.leftOrigins = 0, 0 // a later join's: chainStreamJoins
	st.repartition = strings.TrimSuffix(first.repartition, ".repartition") + "." + name + ".repartition"
	st.changelog = strings.TrimSuffix(first.changelog, ".changelog") + "." + name + ".changelog"
	st.group = first.group + "." + name
	st.stateDir = filepath.Join(first.stateDir, name)
	st.origins = first.partitions // each task of the first stage is an origin
	st.lateTopic, st.wmExpr, st.joinLateTopics, st.ttl = "", false, [2]string{}, 0
	// The first stage's tasks are never idle: each punctuates as its
	// watermark moves, and one that is quiet while event time stands
	// still has not fallen behind. Taking it for idle would let the
	// others' watermark complete windows it still has rows for.
	st.idle = 0
	return &st
}

// hasGroupStage reports whether a pipeline whose join is grouped by its
// key (which a join's tasks aggregate themselves) was created when such
// a join still sent its rows to a stage of their own: that stage's
// state (its directory, or its changelog on another worker) holds the
// groups, so the pipeline keeps running in two stages rather than
// start its groups afresh. Only what is seen counts: a join task's store
// holding aggregate entries cannot be read by a join alone.
func (e *Engine) hasGroupStage(ctx context.Context, first *stateful) bool {
	return e.hasStageState(ctx, first, groupStage)
}

// hasStageState reports whether the stage named name after first (""
// for first itself) has state: its directory, or its changelog on
// another worker.
func (e *Engine) hasStageState(ctx context.Context, first *stateful, name string) bool {
	dir, changelog := first.stateDir, first.changelog
	if name != "" {
		dir = filepath.Join(dir, name)
		changelog = strings.TrimSuffix(changelog, ".changelog") + "." + name + ".changelog"
	}
	if _, err := os.Stat(dir); err == nil {
		return true
	}
	_, err := e.cfg.Transport.Topic(ctx, changelog)
	return err == nil
}

// errOlderLayout refuses to run a pipeline whose state an earlier plan
// of the same query wrote in stages this plan does not have: an inner
// window join aggregated by its windows, or ranked by window_end, used
// to update its groups or partitions (in the join's tasks, or a stage of
// its own), whose entries a window aggregation or a final top-N cannot
// read as theirs.
var errOlderLayout = errors.New("its state was written by an earlier plan of its query (a window join's pairs aggregated or ranked as an updating result); DROP the sink and CREATE it again to rebuild it")

// chainJoined adds a joined row to the checkpoint's records for the
// aggregation of the next stage: WHERE, then the group key and the
// aggregates' arguments, as a shuffle task evaluates them over a source's
// rows; or a dead letter when an expression fails on it.
func (s *aggStage) chainJoined(t *aggTask, out *resultWriter, row types.Row, ts int64, retract bool) {
	next := s.st.next
	args := make(types.Row, len(next.agg.Aggs))
	key, ok := s.groupJoined(out, next.agg, row, args)
	if !ok {
		return
	}
	if next.agg.Window != nil { // aggregated by the window join's windows: the pair's window start
		ts = row[next.agg.Time].Micros()
	}
	value := binary.AppendVarint(nil, ts)
	value = binary.AppendVarint(value, int64(t.partition))
	value = binary.AppendVarint(value, t.next-1) // the pair's origin: the record that completed it
	for _, v := range args {
		value = types.AppendBinary(value, v)
	}
	var headers []transport.Header
	if retract {
		headers = []transport.Header{{Key: headerRetract}}
	}
	t.chained = append(t.chained, &transport.Record{Topic: next.repartition, Partition: groupPartition(key, next.partitions),
		Key: key, Value: value, Timestamp: time.Now(), Headers: headers})
}

// chainRankedJoined adds a joined row to the checkpoint's records for a
// top-N over the join: WHERE, then the top-N's PARTITION BY (the key),
// ORDER BY and columns, after the row's identity (the task, pairID); a
// NULL-padded row taken back goes with the header tide.retract. An
// expression that fails dead-letters the row (one taken back failed, and
// was dead-lettered, when it came).
func (s *aggStage) chainRankedJoined(t *aggTask, out *resultWriter, r *joinedRow) {
	tn := s.st.next.topn
	dead := out
	if r.retract {
		dead = nil
	}
	fail := func(stage string, err error) {
		if dead != nil {
			dead.deadRow(nil, r.row, stage, err)
		}
	}
	if f := s.p.plan.Filter; f != nil {
		v, err := f.Eval(r.row)
		if err != nil {
			fail(stageFilter, err)
			return
		}
		if v.IsNull() || !v.Bool() {
			if !r.retract {
				s.p.stats.filtered.Add(1)
			}
			return
		}
	}
	var key []byte
	ts := r.ts
	for i, e := range tn.Partition {
		v, err := e.Eval(r.row)
		if err != nil {
			fail(stageGroup, err)
			return
		}
		if i == tn.Time { // a final top-N's partition time: an inner window join's window_end
			ts = v.Micros()
		}
		key = types.AppendGroupKey(key, v)
	}
	value := binary.AppendVarint(nil, ts)
	value = binary.AppendVarint(value, int64(t.partition))
	value = binary.AppendVarint(value, r.id)
	for _, e := range topnShuffleArgs(tn) {
		v, err := e.Eval(r.row)
		if err != nil {
			fail(stageGroup, err)
			return
		}
		value = types.AppendBinary(value, v)
	}
	var headers []transport.Header
	if r.retract {
		headers = []transport.Header{{Key: headerRetract}}
	}
	t.chained = append(t.chained, &transport.Record{Topic: s.st.next.repartition, Partition: groupPartition(key, s.st.next.partitions),
		Key: key, Value: value, Timestamp: time.Now(), Headers: headers})
}

// chainLag is how far behind a join's watermark the next join's left
// rows, its pairs, may be timed (plan.StreamJoin.LeftLag): as long as the
// side whose time the next join reads is kept here, state.ttl bounding a
// side kept for ever as the join's operator applies it (newJoinTask) —
// with both sides bounded the operator drops what is behind its
// watermark as late, so a pair is made only of rows still kept. With a
// side kept for ever, pairs may be timed at any time before; the plan
// then gave the next join no time bound, and without state.ttl its
// operator drops nothing as late: the lag plays no part.
func chainLag(st *stateful) int64 {
	j, next := st.join, st.next.join
	keep := [2]int64{}
	keep[0], keep[1] = j.Keep()
	for i := range keep {
		if keep[i] == plan.Forever && st.ttl > 0 {
			keep[i] = st.ttl.Microseconds()
		}
	}
	if keep[0] == plan.Forever || keep[1] == plan.Forever {
		return 0
	}
	switch {
	case next.LeftTime == j.LeftTime && !j.Outer[1]:
		return max(keep[0], 0)
	case next.LeftTime == j.Offset+j.RightTime && !j.Outer[0]:
		return max(keep[1], 0)
	}
	// A time the join may pad with NULLs (a FULL join's): a row without
	// it is timed by its own side's time (chainPairs), and leaves the
	// join once the watermark passes that plus its side's keep.
	return max(keep[0], keep[1], 0)
}

// chainPairs adds a pair of this join to the checkpoint's records for
// the next join of a join of more than two streams, as its left side:
// the next join's conditions on its left side (plan.StreamJoin.LeftFilter)
// first, then its row keyed by the next join's left keys, timed by the
// side's event time the next join reads (LeftTime), its identity the
// task and pairID (the same on a replay, so the next join stores it
// once). Never a row taken back: the plan refuses an updating join
// before another.
func (s *aggStage) chainPairs(t *aggTask, out *resultWriter, r *joinedRow) {
	next := s.st.next.join
	if f := next.LeftFilter; f != nil {
		v, err := f.Eval(r.row)
		if err != nil {
			out.deadRow(nil, r.row, stageFilter, err)
			return
		}
		if v.IsNull() || !v.Bool() {
			s.p.stats.filtered.Add(1)
			return
		}
	}
	var key []byte
	for _, k := range next.LeftKeys {
		v, err := k.Eval(r.row)
		if err != nil {
			out.deadRow(nil, r.row, stageGroup, err)
			return
		}
		if v.IsNull() && !next.Outer[0] {
			s.p.stats.filtered.Add(1) // NULL = anything is not true: it cannot match
			return
		}
		key = types.AppendGroupKey(key, v)
	}
	ts := r.ts
	if v := r.row[next.LeftTime]; !v.IsNull() { // NULL only on a padded side, which no time bound reads (the plan)
		ts = v.Micros()
	}
	value := binary.AppendVarint(nil, ts)
	value = binary.AppendVarint(value, int64(t.partition))
	value = binary.AppendVarint(value, r.id)
	for _, v := range r.row[:next.Offset] {
		value = types.AppendBinary(value, v)
	}
	t.chained = append(t.chained, &transport.Record{Topic: s.st.next.repartition, Partition: groupPartition(key, s.st.next.partitions),
		Key: key, Value: value, Timestamp: time.Now()})
}

// aggregateJoined folds a joined row into the task's own aggregation (a
// join grouped by its key, plan.StreamJoin.Grouped), as the stage of an
// aggregation folds a repartition record. Only a failure of the state
// store is returned.
func (s *aggStage) aggregateJoined(t *aggTask, out *resultWriter, row types.Row, retract bool) error {
	if !s.lookupJoined(t, out, row) {
		return nil
	}
	key, ok := s.groupJoined(out, s.st.agg, row, t.args[:len(s.st.agg.Aggs)])
	if !ok {
		return nil
	}
	s.p.stats.aggregated.Add(1)
	if t.before != nil {
		if err := t.keepBefore(string(key)); err != nil {
			return fmt.Errorf("partition %d: %w", t.partition, err)
		}
	}
	var res *aggregate.Result
	var err error
	if retract {
		res, err = t.op.Retract(string(key), t.args)
	} else {
		res, err = t.op.Add(string(key), 0, t.args)
	}
	switch {
	case errors.Is(err, aggregate.ErrSpill):
		return fmt.Errorf("partition %d: %w", t.partition, err)
	case err != nil: // an aggregate that cannot fold the value (a sum out of range)
		out.deadRow(key, row, stageAggregate, err)
	case res != nil:
		t.updates[res.Key] = res
	}
	return nil
}

// groupJoined evaluates a joined row for an aggregation of the join:
// WHERE, then the group key, returned, and the aggregates' arguments,
// into args. ok is false for a row WHERE drops, or one an expression
// fails on (dead-lettered).
func (s *aggStage) groupJoined(out *resultWriter, agg *plan.Aggregation, row, args types.Row) (key []byte, ok bool) {
	if f := s.p.plan.Filter; f != nil {
		v, err := f.Eval(row)
		if err != nil {
			out.deadRow(nil, row, stageFilter, err)
			return nil, false
		}
		if v.IsNull() || !v.Bool() {
			s.p.stats.filtered.Add(1)
			return nil, false
		}
	}
	for _, k := range agg.Keys {
		v, err := k.Expr.Eval(row)
		if err != nil {
			out.deadRow(nil, row, stageGroup, err)
			return nil, false
		}
		key = types.AppendGroupKey(key, v)
	}
	for i, a := range agg.Aggs {
		args[i] = types.Value{} // count(*)
		if a.Arg != nil {
			var err error
			if args[i], err = a.Arg.Eval(row); err != nil {
				out.deadRow(nil, row, stageGroup, err)
				return nil, false
			}
		}
	}
	return key, true
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
// time (a window's end), hence one more microsecond; an aggregation of
// the windows' rows fires its windows ending at or before the
// watermark, as this stage did: the same watermark.
func (s *aggStage) chainWatermark(t *aggTask) {
	wm := t.firedWM
	if wm == eventtime.NoWatermark || wm <= t.chainedWM {
		return
	}
	next := wm
	switch final := wm == endOfInput || wm == math.MaxInt64-1; {
	case final:
	case s.st.next.topn != nil:
		next = wm + 1
	case s.st.next.join != nil:
		lag := chainLag(s.st)
		next = max(wm, eventtime.NoWatermark+1+lag) - lag
	case s.st.join != nil:
		// A pair may be as far behind the join's watermark as its side's
		// rows are kept (windows of a join's rows): the windows wait.
		lag := max(s.st.query.StreamJoin.WindowLag, 0)
		next = max(wm, eventtime.NoWatermark+1+lag) - lag
	}
	for part := range s.st.next.partitions {
		t.chained = append(t.chained, &transport.Record{Topic: s.st.next.repartition, Partition: part, Timestamp: time.Now(),
			Headers: []transport.Header{{Key: headerWatermark, Value: appendPunctuation(nil, t.partition, next)}}})
	}
	t.pendingWM = wm
}

// headerRetract marks a record of an outer aggregation's (or a top-N's)
// repartition topic that takes a row back (the row a group of the stage
// before had, now replaced).
const headerRetract = "tide.retract"

// isRetraction reports whether a repartition record takes a row back.
func isRetraction(r *transport.Record) bool {
	return len(r.Headers) > 0 && r.Headers[0].Key == headerRetract
}

// rowCount is the count(*) a retracting stage's operator keeps last in
// each group: its rows, the group gone when they fall to zero.
var rowCount = expr.Aggregate{Func: expr.AggCount, Star: true, Arg: types.KindNull, Result: types.KindInt8}

// chainUpdate adds a changed group's rows to the checkpoint's records for
// the aggregation of the groups' rows (plan.Outer): its new row, then the
// one it replaces, taken back (header tide.retract) — in that order, so
// that an outer group holding only this row never looks empty in
// between. HAVING and the outer WHERE leave either out; a change the
// outer aggregation cannot see (the same keys and arguments) sends
// nothing.
func (s *aggStage) chainUpdate(t *aggTask, out *resultWriter, before, after *aggregate.Result) {
	if s.st.next.topn != nil {
		s.chainRanked(t, out, before, after)
		return
	}
	newKey, newArgs, okNew := s.outerRow(out, after)
	var oldKey, oldArgs []byte
	okOld := false
	if before != nil {
		// Its errors were dead-lettered when it was new.
		oldKey, oldArgs, okOld = s.outerRow(nil, before)
	}
	if okNew && okOld && bytes.Equal(newKey, oldKey) && bytes.Equal(newArgs, oldArgs) {
		return
	}
	// No event time: over updating groups the outer aggregation has no
	// window.
	if okNew {
		s.chainOuter(t, newKey, newArgs, 0, nil)
	}
	if okOld {
		s.chainOuter(t, oldKey, oldArgs, 0, []transport.Header{{Key: headerRetract}})
	}
}

// chainClosed adds a fired window's row to the checkpoint's records for
// the aggregation of the windows' rows (plan.Outer), which only come: it
// aggregates them by their window (eventtime.Attached, the row's event
// time its window's start; eventtime.Given, its end in a header) or
// without one.
func (s *aggStage) chainClosed(t *aggTask, out *resultWriter, r *aggregate.Result) {
	key, args, ok := s.outerRow(out, r)
	if !ok {
		return
	}
	var ts int64
	var headers []transport.Header
	if w := s.st.next.agg.Window; w != nil {
		ts = r.Window.Start
		if w.Kind == eventtime.Given { // a session's row: its end too
			headers = []transport.Header{{Key: headerWindowEnd, Value: binary.AppendVarint(nil, r.Window.End)}}
		}
	}
	s.chainOuter(t, key, args, ts, headers)
}

// headerWindowEnd carries the end of the window a chained row of a
// SESSION window has (eventtime.Given): its start is the record's event
// time.
const headerWindowEnd = "tide.window_end"

// givenWindow reads the window of a chained session row.
func givenWindow(r *transport.Record, start int64) (eventtime.Window, error) {
	for _, h := range r.Headers {
		if h.Key != headerWindowEnd {
			continue
		}
		end, n := binary.Varint(h.Value)
		if n <= 0 || n != len(h.Value) || end <= start {
			break
		}
		return eventtime.Window{Start: start, End: end}, nil
	}
	return eventtime.Window{}, fmt.Errorf("%w: a session's row without a valid %s header", errMalformedRepartition, headerWindowEnd)
}

// chainOuter adds a record of the outer aggregation's group key and
// arguments, as outerRow evaluates them, to the checkpoint's records.
func (s *aggStage) chainOuter(t *aggTask, key, args []byte, ts int64, headers []transport.Header) {
	next := s.st.next
	value := binary.AppendVarint(nil, ts)
	value = binary.AppendVarint(value, int64(t.partition))
	value = binary.AppendVarint(value, t.next-1)
	t.chained = append(t.chained, &transport.Record{Topic: next.repartition, Partition: groupPartition(key, next.partitions),
		Key: key, Value: append(value, args...), Timestamp: time.Now(), Headers: headers})
}

// chainRanked adds a changed group's rows to the checkpoint's records for
// a top-N over the groups (plan.TopN.Retracting): the row it replaces,
// taken back (header tide.retract), then its new row — both with the
// group's identity (the task, a hash of the group key), so the top-N
// replaces one with the other. HAVING leaves either out; an unchanged row
// sends nothing.
func (s *aggStage) chainRanked(t *aggTask, out *resultWriter, before, after *aggregate.Result) {
	newKey, newValue, okNew := s.rankedRecord(out, t, after)
	var oldKey, oldValue []byte
	okOld := false
	if before != nil {
		// Its errors were dead-lettered when it was new.
		oldKey, oldValue, okOld = s.rankedRecord(nil, t, before)
	}
	if okNew && okOld && bytes.Equal(newKey, oldKey) && bytes.Equal(newValue, oldValue) {
		return
	}
	next := s.st.next
	send := func(key, value []byte, headers []transport.Header) {
		t.chained = append(t.chained, &transport.Record{Topic: next.repartition, Partition: groupPartition(key, next.partitions),
			Key: key, Value: value, Timestamp: time.Now(), Headers: headers})
	}
	if okOld {
		send(oldKey, oldValue, []transport.Header{{Key: headerRetract}})
	}
	if okNew {
		send(newKey, newValue, nil)
	}
}

// rankedRecord evaluates a group's row for a top-N over the groups:
// HAVING, the subquery's select list, then the top-N's PARTITION BY (the
// key), ORDER BY and columns, after the group's identity. ok is false
// for a gone group, a row HAVING drops, or one an expression fails on
// (dead-lettered to out, unless out is nil).
func (s *aggStage) rankedRecord(out *resultWriter, t *aggTask, r *aggregate.Result) (key, value []byte, ok bool) {
	tn := s.st.next.topn
	over, fail, ok := s.subqueryRow(out, r, tn.Over)
	if !ok {
		return nil, nil, false
	}
	for _, e := range tn.Partition {
		v, err := e.Eval(over)
		if err != nil {
			return fail([]byte(r.Key), over, stageGroup, err)
		}
		key = types.AppendGroupKey(key, v)
	}
	h := fnv.New64a()
	h.Write([]byte(r.Key))
	value = binary.AppendVarint(nil, 0) // no event time: the groups have no window
	value = binary.AppendVarint(value, int64(t.partition))
	value = binary.AppendVarint(value, int64(h.Sum64()))
	for _, e := range topnShuffleArgs(tn) {
		v, err := e.Eval(over)
		if err != nil {
			return fail([]byte(r.Key), over, stageGroup, err)
		}
		value = types.AppendBinary(value, v)
	}
	return key, value, true
}

// chainFail dead-letters a group's row an expression of the next stage's
// failed on, unless out is nil (an old row, dead-lettered when it was
// new); it returns what the evaluation gives for a row not sent.
type chainFail func(key []byte, row types.Row, stage string, err error) ([]byte, []byte, bool)

// subqueryRow is a group's row as the query over the aggregating subquery
// reads it: HAVING, then the subquery's select list (over). ok is false
// for a gone group (its last row taken back), a row HAVING drops, or one
// an expression fails on (dead-lettered to out, unless out is nil); fail
// dead-letters the same way for what the caller evaluates next.
func (s *aggStage) subqueryRow(out *resultWriter, r *aggregate.Result, over []plan.Output) (types.Row, chainFail, bool) {
	fail := func(key []byte, row types.Row, stage string, err error) ([]byte, []byte, bool) {
		if out != nil {
			out.deadRow(key, row, stage, err)
		}
		return nil, nil, false
	}
	if r.Values == nil {
		return nil, fail, false
	}
	row, _, err := aggregatedRow(s.st.agg, r)
	if err != nil {
		if out != nil {
			out.deadResult(r, stageAggregate, err)
		}
		return nil, fail, false
	}
	if h := s.st.agg.Having; h != nil {
		v, err := h.Eval(row)
		if err != nil {
			fail([]byte(r.Key), row, stageHaving, err)
			return nil, fail, false
		}
		if v.IsNull() || !v.Bool() {
			return nil, fail, false
		}
	}
	vals := make(types.Row, len(over))
	for i, o := range over {
		if vals[i], err = o.Expr.Eval(row); err != nil {
			fail([]byte(r.Key), row, stageProject, err)
			return nil, fail, false
		}
	}
	return vals, fail, true
}

// outerRow evaluates a group's row for the outer aggregation: HAVING,
// the subquery's select list, the outer WHERE, then the outer group key
// and the aggregates' arguments. ok is false for a row HAVING or WHERE
// drop, or one an expression fails on (dead-lettered to out, unless out
// is nil).
func (s *aggStage) outerRow(out *resultWriter, r *aggregate.Result) (key, args []byte, ok bool) {
	outer := s.p.plan.Outer
	over, fail, ok := s.subqueryRow(out, r, outer.Over)
	if !ok {
		return nil, nil, false
	}
	var err error
	if f := outer.Filter; f != nil {
		v, err := f.Eval(over)
		if err != nil {
			return fail([]byte(r.Key), over, stageFilter, err)
		}
		if v.IsNull() || !v.Bool() {
			return nil, nil, false
		}
	}
	for _, k := range outer.Aggregation.Keys {
		v, err := k.Expr.Eval(over)
		if err != nil {
			return fail([]byte(r.Key), over, stageGroup, err)
		}
		key = types.AppendGroupKey(key, v)
	}
	for _, a := range outer.Aggregation.Aggs {
		v := types.Value{} // count(*)
		if a.Arg != nil {
			if v, err = a.Arg.Eval(over); err != nil {
				return fail([]byte(r.Key), over, stageGroup, err)
			}
		}
		args = types.AppendBinary(args, v)
	}
	return key, args, true
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

// chainStreamJoins makes a join of more than two streams a chain of
// join stages (plan.StreamJoin.Before): first, the first join of two,
// gets chain[0]; each later stage joins the pairs of the one before,
// sent at its checkpoints (chainPairs) with its watermark held back by
// how late they may be (plan.StreamJoin.LeftLag), with its own stream,
// read by its inputs of that stage. A later stage's origins are the
// tasks of the stage before (its left side), then its stream's
// partitions.
//
//	a, b ──► .repartition ──► join tasks ──► .join2.repartition ◄── c
//	                                              │
//	                                        join2 tasks ──► sink
func (p *pipeline) chainStreamJoins(first *stateful, chain []*plan.StreamJoin, ttl time.Duration) (last *stateful) {
	first.join, first.agg = chain[0], nil
	prev := first
	for i, j := range chain[1:] {
		st := newNextStage(prev, joinStage+itoa(int64(i+2)))
		st.join, st.joinIndex, st.ttl = j, i+1, ttl
		st.leftOrigins, st.origins = prev.partitions, prev.partitions
		for _, in := range p.inputs {
			if in.stage != st.joinIndex {
				continue
			}
			if st.origins == st.leftOrigins { // its stream's first input stands for its options
				// The idle timeout of the stream's partitions; the tasks
				// of the join before never idle (aggStage.openTask).
				st.joinLateTopics[1], st.idle = in.lateTopic, in.idle
			}
			in.firstOrigin = st.origins
			st.origins += in.partitions
		}
		st.partitions = st.origins
		prev.next, prev = st, st
	}
	return prev
}
