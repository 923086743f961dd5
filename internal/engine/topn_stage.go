package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/tide-data/tide/internal/format"
	"github.com/tide-data/tide/internal/sql/expr"
	"github.com/tide-data/tide/internal/sql/plan"
	"github.com/tide-data/tide/internal/sql/types"
	"github.com/tide-data/tide/internal/topn"
	"github.com/tide-data/tide/internal/transport"
)

// A top-N (plan.TopN) runs on the machinery of GROUP BY (stateful.go):
// the shuffle tasks evaluate each row's PARTITION BY (the repartition
// key), its ORDER BY values and the subquery's columns (the arguments),
// and the stage's tasks keep each partition's first N rows in a
// topn.Operator, mirrored to the store and the changelog.
//
// An updating top-N's results are, at each checkpoint, the rows of the
// positions that changed since the one before, keyed by the partition
// and the row number: a compacted topic or a table keyed the same way
// holds the current top N. A final one (PARTITION BY holds the event
// time) emits each partition's rows once, when the watermark passes it;
// rows that arrive behind the watermark are late: counted, and written
// to the source's late.topic if it has one.

// topnTask is a stage task's top-N.
type topnTask struct {
	op    *topn.Operator
	kinds []types.Kind // the repartition values: sort values, then columns
	vals  types.Row    // decoded repartition values
	keys  types.Row    // a decoded partition key
	late  format.Encoder
	out   []rankedRow // results not yet checkpointed
}

// rankedRow is one result of a top-N: a row at a position of its
// partition (from 1), or the deletion of the position (row nil).
type rankedRow struct {
	key  string // the partition key
	pos  int64
	row  types.Row // the ranked row: the subquery's columns with the rank
	ts   int64
	gone bool
}

// newTopNTask makes a task's top-N operator.
func newTopNTask(st *stateful) *topnTask {
	t := st.topn
	spec := topn.Spec{Func: topn.Func(t.Func), Limit: t.Limit, Final: !t.Updating(), Retract: t.Retracting}
	tt := &topnTask{keys: make(types.Row, len(t.Partition))}
	for _, o := range t.Order {
		spec.Order = append(spec.Order, topn.Order{Desc: o.Desc, NullsFirst: o.NullsFirst})
		tt.kinds = append(tt.kinds, o.Expr.Type())
	}
	for i, c := range t.Columns {
		if i != t.RankColumn {
			tt.kinds = append(tt.kinds, c.Type)
		}
	}
	tt.op = topn.New(spec)
	tt.vals = make(types.Row, len(tt.kinds))
	if st.lateTopic != "" {
		// JSON of declared, typed columns: it cannot fail.
		tt.late, _ = format.NewEncoder("json", topnLateColumns(t), nil, format.Env{})
	}
	return tt
}

// topnLateColumns are the columns of a top-N's late row: the subquery's
// columns without the rank, then its event time and origin.
func topnLateColumns(t *plan.TopN) []format.Column {
	var cols []format.Column
	for i, c := range t.Columns {
		if i != t.RankColumn {
			cols = append(cols, format.Column{Name: c.Name, Type: c.Type})
		}
	}
	return append(cols,
		format.Column{Name: "event_time", Type: types.KindTimestampTZ},
		format.Column{Name: "origin_partition", Type: types.KindInt4},
		format.Column{Name: "origin_offset", Type: types.KindInt8})
}

// topnShuffleArgs are what a top-N's shuffle sends per row: its ORDER BY
// values, then the subquery's columns but the rank.
func topnShuffleArgs(t *plan.TopN) []*expr.Expr {
	var args []*expr.Expr
	for _, o := range t.Order {
		args = append(args, o.Expr)
	}
	for _, e := range t.Exprs {
		if e != nil {
			args = append(args, e)
		}
	}
	return args
}

// foldTopN adds one repartition record to its task's top-N.
func (s *aggStage) foldTopN(t *aggTask, r *transport.Record) {
	tt := t.topn
	ts, origin, offset, values, err := readJoinRecord(r.Value)
	if err == nil && (origin < 0 || origin >= s.st.origins) {
		err = fmt.Errorf("%w: origin %d; the source has %d partitions", errMalformedRepartition, origin, s.st.origins)
	}
	if err == nil {
		err = readTypedRow(values, tt.vals, tt.kinds)
	}
	if err == nil {
		err = readTypedRow(r.Key, tt.keys, partitionKinds(s.st.topn))
	}
	if err == nil && !s.st.topn.Updating() {
		err = checkTopNTime(s.st.topn, tt.keys, ts)
	}
	if err != nil {
		s.refuse(t, r, stageRepartition, err)
		return
	}
	if isRetraction(r) {
		if !s.st.retract {
			s.refuse(t, r, stageRepartition, fmt.Errorf("%w: a retraction for a top-N whose input takes nothing back", errMalformedRepartition))
			return
		}
		tt.op.Retract(string(r.Key), origin, offset, values)
		return
	}
	err = tt.op.Add(topn.Row{Key: string(r.Key), TS: ts, Partition: origin, Offset: offset, Values: values})
	switch {
	case errors.Is(err, topn.ErrLate):
		s.p.stats.late.Add(1)
		if tt.late != nil {
			if rec, err := s.lateTopNRow(tt, r, ts, origin, offset); err == nil {
				t.late = append(t.late, rec)
			}
		}
	case err != nil:
		s.refuse(t, r, stageRepartition, err)
	default:
		s.p.stats.aggregated.Add(1)
	}
}

// checkTopNTime refuses a final top-N's event time that no watermark
// can pass ('infinity', or near enough that a window's bounds wrap), or
// that is not its partition's (the repartition topic is open to any
// producer): its partition would never be emitted.
func checkTopNTime(t *plan.TopN, keys types.Row, ts int64) error {
	margin := int64(0)
	if w := t.Window; w != nil {
		margin = saturatingAdd(w.Size, max(w.Offset, -w.Offset))
	}
	if err := checkJoinTime(margin, ts); err != nil {
		return err
	}
	if t.Window == nil && t.Over == nil { // the partition's own time column
		if v := keys[t.Time]; v.IsNull() || v.Micros() != ts {
			return fmt.Errorf("%w: event time %d is not the partition's (%s)", errMalformedRepartition, ts, v)
		}
	}
	return nil
}

func partitionKinds(t *plan.TopN) []types.Kind {
	kinds := make([]types.Kind, len(t.Partition))
	for i, e := range t.Partition {
		kinds[i] = e.Type()
	}
	return kinds
}

// lateTopNRow is a late row's record for the source's late.topic.
func (s *aggStage) lateTopNRow(tt *topnTask, r *transport.Record, ts int64, origin int32, offset int64) (*transport.Record, error) {
	row := append(types.Row(nil), tt.vals[len(s.st.topn.Order):]...)
	in, partition := s.p.inputOf(origin) // a UNION ALL's queries number their partitions one after another
	row = append(row, types.NewTimestampTZ(ts), types.NewInt4(partition), types.NewInt8(offset))
	value, err := tt.late.Encode(nil, row)
	if err != nil {
		return nil, err
	}
	return &transport.Record{Topic: s.st.lateTopic, Partition: -1, Key: r.Key, Value: value, Timestamp: time.UnixMicro(ts),
		Headers: []transport.Header{{Key: HeaderPipeline, Value: []byte(s.p.plan.Name)},
			{Key: HeaderTopic, Value: []byte(in.def.Name)},
			{Key: HeaderPartition, Value: strconv.AppendInt(nil, int64(partition), 10)},
			{Key: HeaderOffset, Value: strconv.AppendInt(nil, offset, 10)}}}, nil
}

// rankedRowOf decodes a kept row into the ranked row the outer query
// reads: the subquery's columns, the rank at its place.
func rankedRowOf(t *plan.TopN, r *topn.Row, rank int64) (types.Row, error) {
	vals := make(types.Row, len(t.Order)+len(t.Columns)-1)
	if rest, err := types.ReadBinaryRow(r.Values, vals); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("%w: a stored row does not decode", topn.ErrCorruptState)
	}
	row := make(types.Row, 0, len(t.Columns))
	row = append(row, vals[len(t.Order):len(t.Order)+t.RankColumn]...)
	row = append(row, types.NewInt8(rank))
	return append(row, vals[len(t.Order)+t.RankColumn:]...), nil
}

// fireTopN emits the partitions of a final top-N the watermark passed.
func (t *aggTask) fireTopN(st *stateful, wm int64, logger *slog.Logger) {
	tt := t.topn
	tt.op.Fire(wm, func(key string, rank int64, r *topn.Row) {
		row, err := rankedRowOf(st.topn, r, rank)
		if err != nil {
			logger.Warn("a top-N row could not be read back; it is dropped", "err", err)
			return
		}
		pos := int64(1)
		if n := len(tt.out); n > 0 && tt.out[n-1].key == key {
			pos = tt.out[n-1].pos + 1
		}
		tt.out = append(tt.out, rankedRow{key: key, pos: pos, row: row, ts: r.TS})
	})
}

// updatesTopN takes an updating top-N's changes since the last
// checkpoint into its results.
func (t *aggTask) updatesTopN(st *stateful) error {
	tt := t.topn
	now := time.Now().UnixMicro()
	return tt.op.Updates(func(key string, pos int, rank int64, r *topn.Row) error {
		if r == nil {
			tt.out = append(tt.out, rankedRow{key: key, pos: int64(pos) + 1, ts: now, gone: true})
			return nil
		}
		row, err := rankedRowOf(st.topn, r, rank)
		if err != nil {
			return err
		}
		tt.out = append(tt.out, rankedRow{key: key, pos: int64(pos) + 1, row: row, ts: now})
		return nil
	})
}
