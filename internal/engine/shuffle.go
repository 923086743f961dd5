package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"slices"

	"github.com/tide-data/tide/internal/connector"
	"github.com/tide-data/tide/internal/eventtime"
	"github.com/tide-data/tide/internal/sql/expr"
	"github.com/tide-data/tide/internal/sql/types"
	"github.com/tide-data/tide/internal/transport"
)

// Stages of a stateful pipeline's records, for dead-letter headers.
const (
	stageGroup     = "group"     // evaluating a GROUP BY key or an aggregate's argument
	stageEventTime = "eventtime" // the window's time column or the watermark
	stageAggregate = "aggregate" // folding into a group, computing a result
	stageHaving    = "having"
)

var errNullEventTime = &types.Error{Code: "22004", Message: "the window's time column is NULL: the event has no event time"}

// shuffleState is a shuffle task's part of a stateful pipeline: it turns
// each input record into a repartition record (see stateful.go).
type shuffleState struct {
	st   *stateful
	keys []*expr.Expr
	args []*expr.Expr // nil for count(*)
	// wm is this source partition's watermark; sent the one last sent.
	wm, sent int64

	key     []byte // the current record's group key
	buf     []byte // keys and values of the current batch's records
	recs    []transport.Record
	records []*transport.Record
	txn     transport.TxnProducer // exactly-once: made on first use
}

func newShuffleState(st *stateful) *shuffleState {
	sh := &shuffleState{st: st, wm: eventtime.NoWatermark, sent: eventtime.NoWatermark}
	for _, k := range st.agg.Keys {
		sh.keys = append(sh.keys, k.Expr)
	}
	for _, a := range st.agg.Aggs {
		sh.args = append(sh.args, a.Arg)
	}
	return sh
}

// shuffleExprs are the expressions a shuffle task evaluates over the
// input row (for working out which metadata columns to fill).
func shuffleExprs(st *stateful) []*expr.Expr {
	var out []*expr.Expr
	for _, k := range st.agg.Keys {
		out = append(out, k.Expr)
	}
	for _, a := range st.agg.Aggs {
		out = append(out, a.Arg)
	}
	return out
}

// handleShuffle turns a batch into repartition records and writes them
// (with the batch's offsets, in one transaction, for exactly-once), then
// acknowledges it; if ctx ends first, b is released unacknowledged.
func (t *task) handleShuffle(ctx context.Context, b connector.Batch) {
	sh := t.shuffle
	sh.buf, sh.recs, sh.records = sh.buf[:0], sh.recs[:0], sh.records[:0]
	t.dead, t.filtered = t.dead[:0], 0
	clear(t.errs)
	t.p.stats.in.Add(int64(len(b.Messages)))
	for i := range b.Messages {
		m := &b.Messages[i]
		if stage, err := t.shuffleOne(m); err != nil {
			t.dead = append(t.dead, t.deadLetter(m, stage, err, 1, ""))
		}
	}
	if t.filtered > 0 {
		t.p.stats.filtered.Add(t.filtered)
	}
	if sh.st.agg.Window != nil && sh.wm > sh.sent {
		for part := range sh.st.partitions {
			start := len(sh.buf)
			sh.buf = appendPunctuation(sh.buf, t.partition, sh.wm)
			sh.recs = append(sh.recs, transport.Record{Topic: sh.st.repartition, Partition: part,
				Headers: []transport.Header{{Key: headerWatermark, Value: sh.buf[start:len(sh.buf):len(sh.buf)]}}})
		}
	}
	for i := range sh.recs {
		sh.records = append(sh.records, &sh.recs[i])
	}
	ok := false
	if sh.st.exactlyOnce {
		ok = t.writeShuffleTxn(ctx, b)
	} else {
		ok = t.writeShuffle(ctx)
	}
	if !ok {
		clear(t.errs)
		release(b)
		return
	}
	if sh.st.agg.Window != nil {
		sh.sent = max(sh.sent, sh.wm)
	}
	t.p.stats.dead.Add(int64(len(t.dead)))
	if len(t.errs) > 0 {
		t.p.errors.addAll(t.errs)
	}
	b.Ack()
}

// shuffleOne evaluates one message into a repartition record.
func (t *task) shuffleOne(m *connector.Message) (stage string, err error) {
	if ok, stage, err := t.decode(m); !ok {
		return stage, err
	}
	sh := t.shuffle
	agg := sh.st.agg
	// Event time and the watermark come before WHERE: a filtered event
	// still moves time forward (Flink assigns watermarks at the source).
	var ts int64
	if agg.Window != nil {
		v := t.row[agg.Time]
		if v.IsNull() {
			return stageEventTime, errNullEventTime
		}
		ts = v.Micros()
		candidate := ts
		if sh.st.wmExpr {
			w, err := t.p.plan.Source.Watermark.Expr.Eval(t.row)
			if err != nil {
				return stageEventTime, err
			}
			if !w.IsNull() {
				candidate = w.Micros()
			}
		}
		sh.wm = max(sh.wm, candidate)
	}
	if pass, stage, err := t.filter(); !pass {
		return stage, err
	}
	sh.key = sh.key[:0]
	for _, k := range sh.keys {
		v, err := k.Eval(t.row)
		if err != nil {
			return stageGroup, err
		}
		sh.key = types.AppendGroupKey(sh.key, v)
	}
	start := len(sh.buf)
	sh.buf = binary.AppendVarint(sh.buf, ts)
	sh.buf = binary.AppendVarint(sh.buf, int64(m.Origin.Partition))
	sh.buf = binary.AppendVarint(sh.buf, m.Origin.Offset)
	for _, a := range sh.args {
		if a == nil { // count(*)
			sh.buf = types.AppendBinary(sh.buf, types.Value{})
			continue
		}
		v, err := a.Eval(t.row)
		if err != nil {
			sh.buf = sh.buf[:start]
			return stageGroup, err
		}
		sh.buf = types.AppendBinary(sh.buf, v)
	}
	value := sh.buf[start:len(sh.buf):len(sh.buf)]
	start = len(sh.buf)
	sh.buf = append(sh.buf, sh.key...)
	key := sh.buf[start:len(sh.buf):len(sh.buf)]
	sh.recs = append(sh.recs, transport.Record{Topic: sh.st.repartition, Partition: groupPartition(key, sh.st.partitions),
		Key: key, Value: value, Timestamp: m.Timestamp})
	return "", nil
}

// writeShuffle writes the batch's records, then its dead letters, retrying
// until they are durable (at-least-once).
func (t *task) writeShuffle(ctx context.Context) bool {
	backoff := newBackoff()
	for len(t.shuffle.records) > 0 {
		err := t.p.engine.cfg.Transport.Produce(ctx, t.shuffle.records)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return false
		}
		t.p.errors.add(errorCodeSinkWrite, 1)
		t.p.setState(stateRetrying, err)
		t.p.logger.Warn("writing to the repartition topic failed; retrying", "partition", t.partition, "err", err)
		if !backoff.wait(ctx) {
			return false
		}
	}
	return t.writeDead(ctx)
}

// writeShuffleTxn writes the batch's records and dead letters and commits
// its offsets in one transaction, retrying until it commits. False when
// ctx ends or another worker took the partition (fenced).
func (t *task) writeShuffleTxn(ctx context.Context, b connector.Batch) bool {
	sh := t.shuffle
	last := b.Messages[len(b.Messages)-1].Origin
	offsets := []transport.PartitionOffset{{TopicPartition: transport.TopicPartition{Topic: last.Topic, Partition: last.Partition}, Offset: last.Offset + 1}}
	records := slices.Clip(sh.records)
	for i := range t.dead {
		d := &t.dead[i]
		records = append(records, &transport.Record{Topic: t.p.dlqTopic, Partition: -1, Key: d.Key, Value: d.Value, Headers: d.Headers, Timestamp: d.Timestamp})
	}
	w := txnWriter{p: t.p, id: t.p.group + "-" + last.Topic + "-" + itoa(int64(last.Partition)), txn: &sh.txn}
	return w.commit(ctx, records, t.p.group, offsets)
}

// txnWriter commits a set of records and offsets in one transaction,
// retrying transient failures. It owns the producer in *txn.
type txnWriter struct {
	p   *pipeline
	id  string
	txn *transport.TxnProducer
}

// commit writes records and commits offsets for group atomically; false
// when ctx ended or the producer was fenced.
func (w txnWriter) commit(ctx context.Context, records []*transport.Record, group string, offsets []transport.PartitionOffset) bool {
	tr := w.p.engine.cfg.Transport
	backoff := newBackoff()
	for {
		err := w.try(ctx, records, group, offsets)
		if err == nil {
			if w.p.status().State == stateRetrying {
				w.p.setState(stateRunning, nil)
			}
			return true
		}
		if errors.Is(err, transport.ErrFenced) {
			w.p.logger.Warn("transaction fenced: another worker owns the partition now", "transactional_id", w.id)
			w.close(ctx)
			return false
		}
		if ctx.Err() != nil {
			return false
		}
		// The outcome is unknown: a new producer completes or aborts the
		// transaction; the group's offsets then say which.
		w.close(ctx)
		if done, cerr := committedPast(ctx, tr, group, offsets); cerr == nil && done {
			return true
		}
		w.p.errors.add(errorCodeSinkWrite, 1)
		w.p.setState(stateRetrying, err)
		w.p.logger.Warn("transaction failed; retrying", "transactional_id", w.id, "err", err)
		if !backoff.wait(ctx) {
			return false
		}
	}
}

func (w txnWriter) try(ctx context.Context, records []*transport.Record, group string, offsets []transport.PartitionOffset) error {
	if *w.txn == nil {
		txn, err := w.p.engine.cfg.Transport.NewTxnProducer(ctx, w.id)
		if err != nil {
			return err
		}
		*w.txn = txn
	}
	txn := *w.txn
	if err := txn.Begin(ctx); err != nil {
		return err
	}
	if len(records) > 0 {
		if err := txn.Produce(ctx, records); err != nil {
			return errors.Join(err, txn.Abort(ctx))
		}
	}
	return txn.Commit(ctx, group, offsets)
}

func (w txnWriter) close(ctx context.Context) {
	if *w.txn != nil {
		_ = (*w.txn).Close(ctx)
		*w.txn = nil
	}
}

// committedPast reports whether group's committed offsets reached every
// one of offsets (a transaction of unknown outcome committed).
func committedPast(ctx context.Context, tr transport.Transport, group string, offsets []transport.PartitionOffset) (bool, error) {
	groups, err := tr.Groups(ctx)
	if err != nil {
		return false, err
	}
	for _, g := range groups {
		if g.Group != group {
			continue
		}
		for _, o := range offsets {
			if g.Offsets[o.TopicPartition] < o.Offset {
				return false, nil
			}
		}
		return true, nil
	}
	return false, nil
}
