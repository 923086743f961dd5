package engine

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/tide-data/tide/internal/aggregate"
	"github.com/tide-data/tide/internal/connector"
	"github.com/tide-data/tide/internal/sql/plan"
	"github.com/tide-data/tide/internal/sql/types"
	"github.com/tide-data/tide/internal/transport"
)

// resultWriter turns an aggregate stage's results into the sink's
// outputs: the aggregated row (group keys, window bounds, aggregate
// values; plan.Aggregation.RowColumns), HAVING, the SELECT list, the key,
// the format. A row that leaves an updating result becomes a deletion
// (Output.Delete): a record with no value on a topic, the row's values
// for a row sink, which deletes by its own key columns.
type resultWriter struct {
	p       *pipeline
	topic   string // the sink's topic when it is one (written in transactions)
	outputs []connector.Output
	rows    []types.Row // per output, for a row sink
	dead    []connector.Output
	buf     []byte
	// origin stamps every output: the repartition partition and the last
	// offset the checkpoint covers. A sink that skips what it applied
	// before a crash (postgres) compares it: a replay recomputes the same
	// results up to that offset.
	origin connector.Origin
}

func newResultWriter(p *pipeline, origin connector.Origin) *resultWriter {
	w := &resultWriter{p: p, origin: origin}
	if ts, ok := p.sink.(*connector.TopicSink); ok {
		w.topic = ts.Topic()
	}
	return w
}

// add evaluates one result into an output, or a dead letter when an
// expression fails.
func (w *resultWriter) add(r *aggregate.Result) {
	pl := w.p.plan
	agg := w.p.resultAggregation()
	gone := r.Values == nil // an outer group whose last row was taken back
	if gone {
		r = &aggregate.Result{Key: r.Key, Values: make([]types.Value, len(agg.Aggs))} // the keys and NULLs, for KEY BY
		if len(agg.Keys) == 0 {
			// Without GROUP BY there is one row, over no rows too: a
			// count of 0, NULL sums (Postgres').
			gone = false
			for i := range agg.Aggs {
				var err error
				if r.Values[i], err = agg.Aggs[i].Agg.NewAccumulator().Result(); err != nil {
					w.deadResult(r, stageAggregate, err)
					return
				}
			}
		}
	}
	row, keys, err := aggregatedRow(agg, r)
	if err != nil {
		w.deadResult(r, stageAggregate, err)
		return
	}
	ts := time.Now()
	if agg.Window != nil {
		ts = time.UnixMicro(r.Window.End)
	}
	if agg.Having != nil || gone {
		var v types.Value
		if !gone {
			if v, err = agg.Having.Eval(row); err != nil {
				w.deadResult(r, stageHaving, err)
				return
			}
		}
		if gone || v.IsNull() || !v.Bool() {
			// The group left an updating result: delete its row (a gone
			// group's aggregates are NULL, its keys are all there is).
			if w.p.updatingResult() {
				key, err := w.key(row, keys)
				if err != nil {
					w.deadResult(r, stageKey, err)
					return
				}
				w.deletion(key, row, ts)
			}
			return
		}
	}
	out := make(types.Row, len(pl.Outputs))
	for i, o := range pl.Outputs {
		v, err := o.Expr.Eval(row)
		if err != nil {
			w.deadResult(r, stageProject, err)
			return
		}
		out[i] = v
	}
	key, err := w.key(row, keys)
	if err != nil {
		w.deadResult(r, stageKey, err)
		return
	}
	if err := w.emit(out, key, ts); err != nil {
		w.deadResult(r, stageEncode, err)
	}
}

// resultAggregation is the aggregation whose rows the sink gets: the
// outer one over an aggregating subquery, else the query's.
func (p *pipeline) resultAggregation() *plan.Aggregation {
	if o := p.plan.Outer; o != nil {
		return o.Aggregation
	}
	return p.plan.Aggregation
}

// rowSink reports whether the sink takes typed rows (connector.RowSink).
func (w *resultWriter) rowSink() bool {
	_, ok := w.p.sink.(connector.RowSink)
	return ok
}

// emit adds an output row with its key: the row itself for a row sink,
// else its encoding.
func (w *resultWriter) emit(out types.Row, key []byte, ts time.Time) error {
	if w.rowSink() {
		w.outputs = append(w.outputs, connector.Output{Key: key, Timestamp: ts, Origin: w.origin})
		w.rows = append(w.rows, out)
		return nil
	}
	start := len(w.buf)
	var err error
	w.buf, err = w.p.enc.Encode(w.buf, out)
	if err != nil {
		w.buf = w.buf[:start]
		return err
	}
	w.outputs = append(w.outputs, connector.Output{Key: key, Value: w.buf[start:len(w.buf):len(w.buf)], Timestamp: ts, Origin: w.origin})
	w.rows = append(w.rows, nil)
	return nil
}

// deletion adds the deletion of a row written before, given the row the
// SELECT list reads (an aggregated, joined or ranked row): for a sink of
// records a tombstone of key; for a row sink, which deletes by its own
// key columns, the output row too.
func (w *resultWriter) deletion(key []byte, row types.Row, ts time.Time) {
	var out types.Row
	if w.rowSink() {
		out = w.deletedRow(row)
	}
	w.outputs = append(w.outputs, connector.Output{Key: key, Timestamp: ts, Origin: w.origin, Delete: true})
	w.rows = append(w.rows, out)
}

// deletedRow evaluates the SELECT list over a deleted row. An expression
// that fails is NULL rather than a dead letter: the sink reads its key
// columns only, and what now rejects the row may be what guarded the
// expression (HAVING count(*) > 1 before sum(x) / (count(*) - 1)).
func (w *resultWriter) deletedRow(row types.Row) types.Row {
	out := make(types.Row, len(w.p.plan.Outputs))
	for i, o := range w.p.plan.Outputs {
		v, err := o.Expr.Eval(row)
		if err != nil {
			v = types.Null(o.Expr.Type())
		}
		out[i] = v
	}
	return out
}

// addJoined evaluates one joined row (plan.StreamJoin) into an output —
// WHERE, the SELECT list, KEY BY (no key without one) — or a dead
// letter when an expression fails; ts is its event time.
func (w *resultWriter) addJoined(row types.Row, ts int64, retract bool) {
	pl := w.p.plan
	if pl.Filter != nil {
		v, err := pl.Filter.Eval(row)
		if err != nil {
			if !retract { // a retracted row failed when it came, and was dead-lettered then
				w.deadRow(nil, row, stageFilter, err)
			}
			return
		}
		if v.IsNull() || !v.Bool() {
			if !retract {
				w.p.stats.filtered.Add(1)
			}
			return
		}
	}
	if retract {
		// An updating join's NULL-padded row, replaced by its first
		// pair, which follows: deleted by its KEY BY value on a topic
		// (a tombstone; none without a key), by the table's key columns
		// in a row sink. A key that fails was dead-lettered, and the row
		// not written, when the row came.
		var key []byte
		keyed := false
		if pl.Key != nil {
			v, err := pl.Key.Eval(row)
			if err != nil {
				return
			}
			key, keyed = keyBytes(v), !v.IsNull()
		}
		if keyed || w.rowSink() {
			w.deletion(key, row, time.UnixMicro(ts))
		}
		return
	}
	out := make(types.Row, len(pl.Outputs))
	for i, o := range pl.Outputs {
		v, err := o.Expr.Eval(row)
		if err != nil {
			w.deadRow(nil, row, stageProject, err)
			return
		}
		out[i] = v
	}
	var key []byte
	if pl.Key != nil {
		v, err := pl.Key.Eval(row)
		if err != nil {
			w.deadRow(nil, row, stageKey, err)
			return
		}
		key = keyBytes(v)
	}
	if err := w.emit(out, key, time.UnixMicro(ts)); err != nil {
		w.deadRow(key, row, stageEncode, err)
	}
}

// addRanked evaluates one top-N result (topn_stage.go) into an output:
// the outer WHERE, the SELECT list, the key (KEY BY, else the partition
// and the row's position in it). In an updating top-N, a position that
// emptied, or whose row the outer WHERE now rejects, becomes a deletion
// of its key (a tombstone on a topic; a row sink deletes by the
// partition columns and row number).
func (w *resultWriter) addRanked(r *rankedRow, partition types.Row) {
	pl := w.p.plan
	ts := time.UnixMicro(r.ts)
	deleteKey := func(row types.Row) {
		if !pl.TopN.Updating() {
			return
		}
		key, err := w.rankedKey(r, row, partition)
		if err != nil {
			w.deadRow(nil, row, stageKey, err)
			return
		}
		w.deletion(key, row, ts)
	}
	if r.gone {
		if pl.Key == nil { // KEY BY reads the row, which is gone
			deleteKey(vacatedRow(pl.TopN, partition, r.pos))
		}
		return
	}
	if f := pl.TopN.Filter; f != nil {
		v, err := f.Eval(r.row)
		if err != nil {
			w.deadRow(nil, r.row, stageFilter, err)
			return
		}
		if v.IsNull() || !v.Bool() {
			deleteKey(r.row)
			return
		}
	}
	out := make(types.Row, len(pl.Outputs))
	for i, o := range pl.Outputs {
		v, err := o.Expr.Eval(r.row)
		if err != nil {
			w.deadRow(nil, r.row, stageProject, err)
			return
		}
		out[i] = v
	}
	key, err := w.rankedKey(r, r.row, partition)
	if err != nil {
		w.deadRow(nil, r.row, stageKey, err)
		return
	}
	if err := w.emit(out, key, ts); err != nil {
		w.deadRow(key, r.row, stageEncode, err)
	}
}

// vacatedRow is the ranked row of a position that emptied, as far as it
// is known: the position as the row number, the partition's values in
// the columns that are PARTITION BY's columns, NULL elsewhere.
func vacatedRow(t *plan.TopN, partition types.Row, pos int64) types.Row {
	row := make(types.Row, len(t.Columns))
	for i, c := range t.Columns {
		row[i] = types.Null(c.Type)
		if i == t.RankColumn {
			row[i] = types.NewInt8(pos)
			continue
		}
		col, ok := t.Exprs[i].Column()
		if !ok {
			continue
		}
		for j, p := range t.Partition {
			if pc, ok := p.Column(); ok && pc == col {
				row[i] = partition[j]
				break
			}
		}
	}
	return row
}

// rankedKey is a top-N output's record key: KEY BY's value, else the
// partition's values and the position, like a group key.
func (w *resultWriter) rankedKey(r *rankedRow, row, partition types.Row) ([]byte, error) {
	if k := w.p.plan.Key; k != nil {
		v, err := k.Eval(row)
		if err != nil {
			return nil, err
		}
		return keyBytes(v), nil
	}
	return groupKeyBytes(append(partition, types.NewInt8(r.pos))), nil
}

// key is an output's record key: the KEY clause's value, else the group
// (its keys, and the window's bounds with one): one value's text, or a
// JSON array of the values.
func (w *resultWriter) key(row, keys types.Row) ([]byte, error) {
	if k := w.p.plan.Key; k != nil {
		v, err := k.Eval(row)
		if err != nil {
			return nil, err
		}
		return keyBytes(v), nil
	}
	group := row[:len(keys)]
	if w.p.resultAggregation().Window != nil {
		group = row[:len(keys)+2]
	}
	return groupKeyBytes(group), nil
}

// groupKeyBytes is the record key of a group of values: one value's
// text, or a JSON array of the values.
func groupKeyBytes(group types.Row) []byte {
	switch len(group) {
	case 0:
		return nil
	case 1:
		return keyBytes(group[0])
	}
	b := []byte{'['}
	for i, v := range group {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONValue(b, v)
	}
	return append(b, ']')
}

func keyBytes(v types.Value) []byte {
	switch {
	case v.IsNull():
		return nil
	case v.Kind() == types.KindBytea:
		return []byte(v.Bytes())
	}
	return v.AppendText(nil)
}

// appendJSONValue renders a key value in a JSON array: numbers and
// booleans bare, everything else as a string of its text.
func appendJSONValue(b []byte, v types.Value) []byte {
	switch {
	case v.IsNull():
		return append(b, "null"...)
	case v.Kind().IsNumeric() && v.Kind() != types.KindFloat8, v.Kind() == types.KindBool:
		return v.AppendText(b)
	}
	return types.AppendJSONString(b, v.String())
}

func windowBound(agg *plan.Aggregation, micros int64) types.Value {
	if agg.TimeType == types.KindTimestamp {
		return types.NewTimestamp(micros)
	}
	return types.NewTimestampTZ(micros)
}

// deadResult dead-letters a result that failed after aggregation: its
// value is the aggregated row's text, headers say what failed.
func (w *resultWriter) deadResult(r *aggregate.Result, stage string, err error) {
	w.deadRow([]byte(r.Key), r.Values, stage, err)
}

// deadRow dead-letters a row that failed after the stateful stage: its
// value is the row's values as text, comma-separated.
func (w *resultWriter) deadRow(key []byte, values types.Row, stage string, err error) {
	w.addDead(key, rowText(values), stage, err, "", 1)
}

// deadRejected dead-letters the outputs the sink will never write (a
// row or a deletion the database refused): a row sink's row as text,
// else the encoded value.
func (w *resultWriter) deadRejected(rejected *connector.RejectedError) {
	for _, r := range rejected.Rejected {
		if r.Index < 0 || r.Index >= len(w.outputs) {
			continue
		}
		o := &w.outputs[r.Index]
		value := o.Value
		if row := w.rows[r.Index]; row != nil {
			value = rowText(row)
		}
		w.addDead(o.Key, value, stageSink, r.Err, r.Code, max(r.Attempts, 1))
	}
}

// addDead adds a dead letter with headers saying what failed; code is
// the error's code for tide.error.code (a SQLSTATE from the sink), or ""
// for err's own or the stage's.
func (w *resultWriter) addDead(key, value []byte, stage string, err error, code string, attempts int) {
	headers := []transport.Header{
		{Key: HeaderError, Value: []byte(err.Error())},
		{Key: HeaderStage, Value: []byte(stage)},
		{Key: HeaderPipeline, Value: []byte(w.p.plan.Name)},
		{Key: HeaderAttempts, Value: strconv.AppendInt(nil, int64(attempts), 10)},
	}
	if code == "" {
		code = stageErrorCode(stage)
		if te := (*types.Error)(nil); errors.As(err, &te) && te.Code != "" {
			code = te.Code
		}
	}
	headers = append(headers, transport.Header{Key: HeaderErrorCode, Value: []byte(code)})
	w.p.errors.add(code, 1)
	w.dead = append(w.dead, connector.Output{Key: key, Value: value, Headers: headers, Timestamp: time.Now()})
}

// rowText is a row's values as text, comma-separated.
func rowText(values types.Row) []byte {
	var text []byte
	for i, v := range values {
		if i > 0 {
			text = append(text, ',')
		}
		text = v.AppendText(text)
	}
	return text
}

// write writes the outputs to the sink (writeSink) and the dead letters
// to the dead-letter topic, each durable on return.
func (w *resultWriter) write(ctx context.Context) error {
	if err := w.writeSink(ctx); err != nil {
		return err
	}
	if len(w.dead) > 0 {
		if err := w.p.dlq.Write(ctx, w.dead); err != nil {
			return err
		}
		w.p.stats.dead.Add(int64(len(w.dead)))
	}
	return nil
}

// writeSink writes the outputs to the sink; those it rejects for good (a
// row or a deletion the database refuses) join the dead letters, and the
// others are written. A replay is rejected again by a sink that
// remembers (postgres), and dead-lettered again with it.
func (w *resultWriter) writeSink(ctx context.Context) error {
	if len(w.outputs) == 0 {
		return nil
	}
	sink := w.p.sink
	if rs, ok := sink.(connector.RowSink); ok {
		sink = rowWriter{rs, w.rows}
	}
	err := sink.Write(ctx, w.outputs)
	if rejected := (*connector.RejectedError)(nil); errors.As(err, &rejected) {
		w.deadRejected(rejected)
		return nil
	}
	return err
}

// records are the outputs as records of the sink's topic.
func (w *resultWriter) records() []*transport.Record {
	return outputRecords(w.topic, w.outputs)
}

// deadRecords are the dead letters as records of the dead-letter topic
// (counted once the transaction commits).
func (w *resultWriter) deadRecords() []*transport.Record {
	return outputRecords(w.p.dlqTopic, w.dead)
}

func outputRecords(topic string, outputs []connector.Output) []*transport.Record {
	recs := make([]transport.Record, len(outputs))
	ptrs := make([]*transport.Record, len(outputs))
	for i := range outputs {
		o := &outputs[i]
		recs[i] = transport.Record{Topic: topic, Partition: -1, Key: o.Key, Value: o.Value, Headers: o.Headers, Timestamp: o.Timestamp}
		ptrs[i] = &recs[i]
	}
	return ptrs
}
