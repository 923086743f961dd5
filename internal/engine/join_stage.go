package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/tide-data/tide/internal/eventtime"
	"github.com/tide-data/tide/internal/format"
	"github.com/tide-data/tide/internal/join"
	"github.com/tide-data/tide/internal/sql/expr"
	"github.com/tide-data/tide/internal/sql/plan"
	"github.com/tide-data/tide/internal/sql/types"
	"github.com/tide-data/tide/internal/transport"
)

// A join of two streams (plan.StreamJoin) runs on the machinery of
// GROUP BY (stateful.go): both inputs' shuffle tasks send their rows,
// keyed by the join's equality keys, to the one repartition topic — a
// right-side row's origin partition numbered after the left's
// partitions, which tells the sides apart — and the stage's tasks keep
// them in a join.Operator, mirrored to the store and the changelog.
// Each arriving row is evaluated against the other side's rows of its
// key in the joined row (ON); the pairs that match, and an outer side's
// rows that expire unmatched, are the task's results, written at
// the next checkpoint like an aggregation's fired windows — exactly once
// with delivery.guarantee = 'exactly_once'.
//
// Late rows (behind the stage's watermark when they arrive) take no part
// in the join — a partner they should have met may be gone — and are
// counted, and written to their source's late.topic if it has one (the
// side's columns, the event time and the origin, as JSON). A row on
// which ON fails to evaluate against a partner is dead-lettered and
// takes no part in the join.

// joinTask is a stage task's join: the operator and the rows it
// evaluates pairs in.
type joinTask struct {
	op *join.Operator
	// late encodes a side's late rows for its source's late.topic; nil
	// without one.
	late   [2]format.Encoder
	sides  [2]types.Row // each side's row, decoded
	kinds  [2][]types.Kind
	joined types.Row // the left row, then the right: what ON, WHERE and SELECT read
	// out holds the joined rows not yet checkpointed.
	out []joinedRow
	// tables look the joined rows up in the tables joined to them
	// (plan.StreamJoin.Tables); none without.
	tables []*joinState
	// partners are, for a join that aggregates its own rows, the stored
	// rows the row being added matched, aggregated once Add succeeds;
	// lastMatched says whether the last one is still decoded in joined.
	partners    [][]byte
	lastMatched bool
	// firsts are the partners of an updating outer side that matched for
	// the first time: their NULL-padded rows are taken back.
	firsts []join.Row
	keys   types.Row // a record's join key, decoded
}

// joinedRow is one result of a join: a pair, stamped with the later of
// its event times, or an outer side's unmatched row with NULLs for the
// other side, stamped with its own.
type joinedRow struct {
	row types.Row
	ts  int64
	// retract takes back a row emitted before: the NULL-padded row of
	// an updating outer side's row, at its first match.
	retract bool
	// id identifies the row for a top-N over the join (pairID): the
	// same for a NULL-padded row and its taking back, and on a replay.
	id int64
}

// pairID is a joined row's identity: a hash of its join key (which holds
// a window join's window: a pair meets once per window) and the origins
// of its rows, the left's then the right's (a NULL-padded row has one,
// the other side's origin -1).
func pairID(key string, left, right rowOrigin) int64 {
	var b [24]byte
	binary.BigEndian.PutUint32(b[0:], uint32(left.partition))
	binary.BigEndian.PutUint64(b[4:], uint64(left.offset))
	binary.BigEndian.PutUint32(b[12:], uint32(right.partition))
	binary.BigEndian.PutUint64(b[16:], uint64(right.offset))
	h := fnv.New64a()
	h.Write(b[:])
	h.Write([]byte(key))
	return int64(h.Sum64())
}

// rowOrigin is where a join side's row came from: its identity.
type rowOrigin struct {
	partition int32
	offset    int64
}

// noOrigin stands for the missing side of a NULL-padded row.
var noOrigin = rowOrigin{-1, -1}

// pairOf orders two rows' origins as left and right.
func pairOf(side join.Side, own, other rowOrigin) (left, right rowOrigin) {
	if side == join.Left {
		return own, other
	}
	return other, own
}

// joinStageExprs are the expressions the join stage evaluates over the
// joined row.
func joinStageExprs(st *stateful) []*expr.Expr {
	pl := st.query
	exprs := []*expr.Expr{st.join.Condition}
	if next := st.next; next != nil && next.join != nil {
		// The next join of a join of more than two streams reads this
		// one's pairs: its keys and conditions on them, then whatever
		// it and the joins after it read (their rows start with these).
		exprs = append(exprs, next.join.LeftKeys...)
		if next.join.LeftFilter != nil {
			exprs = append(exprs, next.join.LeftFilter)
		}
		return append(exprs, joinStageExprs(next)...)
	}
	for t := range st.join.Tables.Joins() { // looked up in the join's tasks
		exprs = append(exprs, t.Key)
	}
	if pl.Filter != nil {
		exprs = append(exprs, pl.Filter)
	}
	if agg := pl.Aggregation; agg != nil { // the next stage's keys and arguments (chain.go)
		for _, k := range agg.Keys {
			exprs = append(exprs, k.Expr)
		}
		for _, a := range agg.Aggs {
			if a.Arg != nil {
				exprs = append(exprs, a.Arg)
			}
		}
		return exprs
	}
	if tn := pl.TopN; tn != nil { // the next stage's partition, order and columns (chain.go)
		return append(append(exprs, tn.Partition...), topnShuffleArgs(tn)...)
	}
	if pl.Key != nil {
		exprs = append(exprs, pl.Key)
	}
	for _, o := range pl.Outputs {
		exprs = append(exprs, o.Expr)
	}
	return exprs
}

// newJoinTask makes a task's join operator: what fits in the stage's
// state.memory held in memory, the rest of its rows left in the task's
// store (spill), read back by join key when needed.
func newJoinTask(st *stateful, spill join.Spill) *joinTask {
	j := st.join
	left, right := j.Keep()
	if st.ttl > 0 { // bounds the sides without a time bound
		if left == plan.Forever {
			left = st.ttl.Microseconds()
		}
		if right == plan.Forever {
			right = st.ttl.Microseconds()
		}
	}
	// An updating outer side emits its lonely rows itself, at once
	// (foldJoin): the operator hands none over when they expire.
	outer := [2]bool{j.Outer[0] && !j.Updating[0], j.Outer[1] && !j.Updating[1]}
	jt := &joinTask{op: join.New(join.Spec{Keep: [2]int64{left, right}, Outer: outer, Matched: j.Updating, Spill: spill, MaxMemory: st.stateMemory})}
	for side, row := range [][]plan.Column{j.LeftRow, j.RightRow} {
		for _, c := range row {
			jt.kinds[side] = append(jt.kinds[side], c.Type)
		}
		jt.sides[side] = make(types.Row, len(jt.kinds[side]))
	}
	// The tables joined to the pairs fill the columns after the sides'.
	jt.joined = make(types.Row, len(jt.kinds[0])+len(jt.kinds[1])+j.Tables.Width())
	jt.keys = make(types.Row, len(j.LeftKeys))
	rows := [2][]plan.Column{j.LeftRow, j.RightRow}
	for side, src := range []*plan.Source{st.query.Source, j.Right} {
		if st.joinLateTopics[side] != "" {
			// JSON of declared, typed columns: it cannot fail.
			jt.late[side], _ = format.NewEncoder("json", joinLateColumns(src, rows[side]), nil, format.Env{})
		}
	}
	return jt
}

// isLateColumn reports whether column i of a side's row goes into its
// late rows: not the metadata columns.
func isLateColumn(src *plan.Source, i int) bool {
	return i < len(src.Columns) || i >= len(src.Columns)+plan.NumMetadata
}

// joinLateColumns are the columns of a join's late row: the side's row
// without its metadata columns, then its event time and origin.
func joinLateColumns(src *plan.Source, row []plan.Column) []format.Column {
	var cols []format.Column
	for i, c := range row {
		if isLateColumn(src, i) {
			cols = append(cols, format.Column{Name: c.Name, Type: c.Type})
		}
	}
	return append(cols,
		format.Column{Name: "event_time", Type: types.KindTimestampTZ},
		format.Column{Name: "origin_partition", Type: types.KindInt4},
		format.Column{Name: "origin_offset", Type: types.KindInt8})
}

// lateJoinRow is a late row's record for its source's late.topic.
func (s *aggStage) lateJoinRow(t *aggTask, side join.Side, r *transport.Record, ts int64, origin int32, offset int64) (*transport.Record, error) {
	jt := t.join
	// The side's row is its source's, or its UNION ALL's (or subquery's):
	// the columns the late row's encoder was made for (newJoinTask). The
	// origin names the source the row was read from.
	side0 := s.st.query.Source
	if side == join.Right {
		side0 = s.st.join.Right
	}
	var row types.Row
	for i, v := range jt.sides[side] {
		if isLateColumn(side0, i) {
			row = append(row, v)
		}
	}
	in, partition := s.p.stageInputOf(s.st, origin) // a right side's: the left of a later join has no late.topic
	src := in.def
	row = append(row, types.NewTimestampTZ(ts), types.NewInt4(partition), types.NewInt8(offset))
	value, err := jt.late[side].Encode(nil, row)
	if err != nil {
		return nil, err
	}
	return &transport.Record{Topic: s.st.joinLateTopics[side], Partition: -1, Key: r.Key, Value: value, Timestamp: time.UnixMicro(ts),
		Headers: []transport.Header{{Key: HeaderPipeline, Value: []byte(s.p.plan.Name)},
			{Key: HeaderTopic, Value: []byte(src.Name)},
			{Key: HeaderPartition, Value: strconv.AppendInt(nil, int64(partition), 10)},
			{Key: HeaderOffset, Value: strconv.AppendInt(nil, offset, 10)}}}, nil
}

// foldJoin adds one repartition record to its task's join. Only a
// failure of the state store is returned.
func (s *aggStage) foldJoin(t *aggTask, r *transport.Record) error {
	jt := t.join
	ts, origin, offset, values, err := readJoinRecord(r.Value)
	if err == nil && (origin < 0 || origin >= s.st.origins) {
		err = fmt.Errorf("%w: origin %d; the sources have %d partitions", errMalformedRepartition, origin, s.st.origins)
	}
	side := join.Left
	if in, _ := s.p.stageInputOf(s.st, origin); in != nil && in.side == 1 {
		// The right side's input is the last; the left's, one or, for a
		// UNION ALL on the left, one per query (side 0 each).
		side = join.Right
	}
	if err == nil {
		err = readTypedRow(values, jt.sides[side], jt.kinds[side])
	}
	if err != nil {
		s.refuse(t, r, stageRepartition, err)
		return nil
	}
	base := [2]int{0, s.st.join.Offset}
	copy(jt.joined[base[side]:], jt.sides[side])
	other := side.Other()
	width := len(jt.kinds[other])
	pairs := len(jt.out)
	into := jt.joined[base[other] : base[other]+width]
	grouped := t.op != nil
	updating := s.st.join.Updating
	if updating[side] && jt.nullKey(r.Key) {
		// It can never match: out at once, and not kept.
		err := s.emitPadded(t, side, string(r.Key), rowOrigin{origin, offset}, values, ts, false, len(jt.out))
		s.collectFoldDead(t)
		return err
	}
	jt.partners, jt.firsts = jt.partners[:0], jt.firsts[:0]
	err = jt.op.Add(join.Row{Side: side, Key: string(r.Key), TS: ts, Partition: origin, Offset: offset, Values: values},
		func(o *join.Row) (bool, error) {
			if rest, err := types.ReadBinaryRow(o.Values, into); err != nil || len(rest) != 0 {
				return false, fmt.Errorf("%w: a stored row does not decode", join.ErrCorruptState)
			}
			v, err := s.st.join.Condition.Eval(jt.joined)
			if err != nil {
				return false, err
			}
			jt.lastMatched = !v.IsNull() && v.Bool()
			if !jt.lastMatched {
				return false, nil
			}
			if updating[other] && !o.Matched {
				jt.firsts = append(jt.firsts, *o)
			}
			if grouped {
				jt.partners = append(jt.partners, o.Values)
			} else {
				left, right := pairOf(side, rowOrigin{origin, offset}, rowOrigin{o.Partition, o.Offset})
				jt.out = append(jt.out, joinedRow{row: slices.Clone(jt.joined), ts: max(ts, o.TS), id: pairID(o.Key, left, right)})
			}
			return true, nil
		})
	switch {
	case errors.Is(err, join.ErrDuplicate): // joined when it first came
	case errors.Is(err, join.ErrLate):
		s.p.stats.late.Add(1)
		if jt.late[side] != nil {
			if rec, err := s.lateJoinRow(t, side, r, ts, origin, offset); err == nil {
				t.late = append(t.late, rec)
			}
		}
	case errors.Is(err, join.ErrSpill):
		// Evicted rows could not be read back: the operator no longer
		// matches its store. The task fails; the stage is rebuilt from
		// the store, which still holds them.
		clear(jt.out[pairs:])
		jt.out = jt.out[:pairs]
		return err
	case err != nil:
		// ON failed on a pair (or the state is corrupt): Add stored
		// nothing, so the row takes no part in the join; neither do the
		// pairs it had made.
		clear(jt.out[pairs:])
		jt.out = jt.out[:pairs]
		s.refuse(t, r, stageJoin, err)
	default:
		s.p.stats.aggregated.Add(1)
		matched := len(jt.partners) > 0 || len(jt.out) > pairs
		if grouped {
			if err := s.aggregatePairs(t, into); err != nil {
				return err
			}
		}
		// An updating outer side: the partners' NULL-padded rows are
		// taken back, and a row of its own without a partner is
		// emitted at once.
		for i := range jt.firsts {
			o := &jt.firsts[i]
			// Before the pairs on their way to the sink, where they may
			// replace it under the same key; after them on their way to
			// an aggregation, whose group then never looks empty.
			at := pairs + i
			if s.st.next != nil {
				at = len(jt.out)
			}
			if err := s.emitPadded(t, o.Side, o.Key, rowOrigin{o.Partition, o.Offset}, o.Values, o.TS, true, at); err != nil {
				return err
			}
		}
		if !matched && updating[side] {
			if err := s.emitPadded(t, side, string(r.Key), rowOrigin{origin, offset}, values, ts, false, len(jt.out)); err != nil {
				return err
			}
		}
		clear(jt.firsts)
		s.collectFoldDead(t)
	}
	return nil
}

// lookupJoined fills the columns of the tables joined to the join's rows
// (plan.StreamJoin.Tables) in row, in order, as each table stands now.
// It is false for a row an inner join's table has no row for (counted as
// filtered) and for one whose key fails to evaluate (dead-lettered).
// Never called on a row taken back: the plan refuses tables joined to an
// updating join, whose retractions would be looked up again.
func (s *aggStage) lookupJoined(t *aggTask, out *resultWriter, row types.Row) bool {
	for _, js := range t.join.tables {
		found, err := js.join(row)
		if err != nil {
			out.deadRow(nil, row, stageJoin, err)
			return false
		}
		if !found {
			s.p.stats.filtered.Add(1)
			return false
		}
	}
	return true
}

// collectFoldDead moves the dead letters of rows aggregated as they were
// folded to their task's checkpoint.
func (s *aggStage) collectFoldDead(t *aggTask) {
	if len(s.foldOut.dead) > 0 {
		t.dead = append(t.dead, s.foldOut.dead...)
		clear(s.foldOut.dead)
		s.foldOut.dead = s.foldOut.dead[:0]
	}
}

// nullKey reports whether a join key holds a NULL, which no row equals.
func (jt *joinTask) nullKey(key []byte) bool {
	if rest, err := types.ReadBinaryRow(key, jt.keys); err != nil || len(rest) != 0 {
		return false // the operator's concern: it is only bytes to it
	}
	for _, v := range jt.keys {
		if v.IsNull() {
			return true
		}
	}
	return false
}

// aggregatePairs aggregates the pairs the row just added made (a join
// that aggregates its own rows): the last one's partner first, still
// decoded unless a later candidate failed ON; the others decoded again.
func (s *aggStage) aggregatePairs(t *aggTask, into types.Row) error {
	jt := t.join
	partners := jt.partners
	if n := len(partners); n > 0 && jt.lastMatched {
		if err := s.aggregateJoined(t, &s.foldOut, jt.joined, false); err != nil {
			return err
		}
		partners = partners[:n-1]
	}
	for _, values := range partners {
		if _, err := types.ReadBinaryRow(values, into); err != nil {
			return fmt.Errorf("%w: a stored row does not decode", join.ErrCorruptState)
		}
		if err := s.aggregateJoined(t, &s.foldOut, jt.joined, false); err != nil {
			return err
		}
	}
	return nil
}

// emitPadded emits, or with retract takes back, the NULL-padded row of
// a row of an updating outer side: its values, NULLs for the other
// side's columns; key is its join key, from its origin. A join that aggregates its
// own rows folds it in at once; otherwise it waits for the checkpoint
// with the pairs, at index at of the task's joined rows.
func (s *aggStage) emitPadded(t *aggTask, side join.Side, key string, from rowOrigin, values []byte, ts int64, retract bool, at int) error {
	jt := t.join
	base := [2]int{0, s.st.join.Offset}
	row := make(types.Row, len(jt.joined))
	own := row[base[side] : base[side]+len(jt.kinds[side])]
	if rest, err := types.ReadBinaryRow(values, own); err != nil || len(rest) != 0 {
		return fmt.Errorf("%w: a stored row does not decode", join.ErrCorruptState)
	}
	other := side.Other()
	for i, k := range jt.kinds[other] {
		row[base[other]+i] = types.Null(k)
	}
	if t.op != nil {
		return s.aggregateJoined(t, &s.foldOut, row, retract)
	}
	left, right := pairOf(side, from, noOrigin)
	jt.out = slices.Insert(jt.out, at, joinedRow{row: row, ts: ts, retract: retract, id: pairID(key, left, right)})
	return nil
}

// expireJoin drops the rows the watermark has passed; an outer side's
// rows that never matched become results, with NULL columns for the
// other side.
func (t *aggTask) expireJoin(j *plan.StreamJoin, wm int64) error {
	jt := t.join
	base := [2]int{0, j.Offset}
	return jt.op.Expire(wm, func(r *join.Row) {
		row := make(types.Row, len(jt.joined))
		own := row[base[r.Side] : base[r.Side]+len(jt.kinds[r.Side])]
		if rest, err := types.ReadBinaryRow(r.Values, own); err != nil || len(rest) != 0 {
			return // cannot be: the row was checked when it arrived
		}
		other := r.Side.Other()
		for i, k := range jt.kinds[other] {
			row[base[other]+i] = types.Null(k)
		}
		left, right := pairOf(r.Side, rowOrigin{r.Partition, r.Offset}, noOrigin)
		jt.out = append(jt.out, joinedRow{row: row, ts: r.TS, id: pairID(r.Key, left, right)})
	})
}

// joinTimeMargin is how near the ends of int64 a join's event time may
// not come: its longest finite retention, plus its windows' spans.
func joinTimeMargin(st *stateful) int64 {
	margin := int64(0)
	left, right := st.join.Keep()
	for _, keep := range []int64{left, right, st.ttl.Microseconds()} {
		if keep != plan.Forever {
			margin = max(margin, keep)
		}
	}
	for _, w := range []*eventtime.Spec{st.join.LeftWindow, st.join.RightWindow} {
		if w != nil {
			margin = saturatingAdd(margin, saturatingAdd(w.Size, max(w.Offset, -w.Offset)))
		}
	}
	return margin
}

// checkJoinTime refuses an event time a join cannot hold ('infinity',
// '-infinity' and times within margin of them): its expiry and window
// bounds would wrap around, and as a watermark it would take its
// partition out of the join's for good.
func checkJoinTime(margin, ts int64) error {
	if ts > math.MinInt64+margin && ts < math.MaxInt64-margin {
		return nil
	}
	return &types.Error{Code: "22008", Message: "the join's time column is out of range (infinity?): the row has no place in event time"}
}

// readJoinRecord splits a repartition value of a join: the event time,
// the origin, and the row's encoded columns.
func readJoinRecord(b []byte) (ts int64, origin int32, offset int64, values []byte, err error) {
	var n int
	var o int64
	if ts, n = binary.Varint(b); n <= 0 {
		return 0, 0, 0, nil, errMalformedRepartition
	}
	b = b[n:]
	if o, n = binary.Varint(b); n <= 0 || o != int64(int32(o)) {
		return 0, 0, 0, nil, errMalformedRepartition
	}
	b = b[n:]
	if offset, n = binary.Varint(b); n <= 0 {
		return 0, 0, 0, nil, errMalformedRepartition
	}
	return ts, int32(o), offset, b[n:], nil
}

// readTypedRow decodes values into row and checks each is NULL or of
// its column's kind: expressions trust their inputs' types, and the
// repartition topic is open to any producer.
func readTypedRow(values []byte, row types.Row, kinds []types.Kind) error {
	rest, err := types.ReadBinaryRow(values, row)
	if err != nil || len(rest) != 0 {
		return fmt.Errorf("%w: the row does not decode", errMalformedRepartition)
	}
	for i, v := range row {
		if !v.IsNull() && v.Kind() != kinds[i] {
			return fmt.Errorf("%w: column %d is %s, not %s", errMalformedRepartition, i, v.Kind(), kinds[i])
		}
	}
	return nil
}
